/*
 * Unit tests of ntf_queue: FIFO order, both caps exactly at and one past
 * the limit, references held and released, the ring given back when idle.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ntf_queue.h"

static struct ntf_msg *msg(size_t len)
{
	struct ntf_msg *m = ntf_msg_new(len);

	cr_assert_not_null(m);
	memset(ntf_msg_payload(m), 'a', len);
	return m;
}

Test(queue, keeps_fifo_order_across_growth_and_wraparound)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {100, 1 << 20};
	struct ntf_msg *ms[40];

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 40; i++) {
			ms[i] = msg((size_t)i + 1);
			cr_assert_eq(ntf_queue_push(&q, ms[i], &caps), 0);
			if (i % 3 == 2) { /* interleave pops so the ring wraps */
				struct ntf_msg *m = ntf_queue_take(&q);
				cr_assert_not_null(m);
				ntf_msg_unref(m);
			}
		}
		while (ntf_queue_peek(&q))
			ntf_queue_pop(&q);
		for (int i = 0; i < 40; i++)
			ntf_msg_unref(ms[i]);
	}
	cr_assert_eq(q.count, 0);
	cr_assert_eq(q.bytes, 0);
	cr_assert_null(q.ring, "a drained big ring is released");
}

Test(queue, returns_messages_in_push_order)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {10, 1000};
	struct ntf_msg *a = msg(1), *b = msg(2), *c = msg(3);

	ntf_queue_push(&q, a, &caps);
	ntf_queue_push(&q, b, &caps);
	ntf_queue_push(&q, c, &caps);
	cr_assert_eq(ntf_queue_peek(&q), a);
	ntf_queue_pop(&q);
	cr_assert_eq(ntf_queue_peek(&q), b);
	ntf_queue_pop(&q);
	cr_assert_eq(ntf_queue_peek(&q), c);
	ntf_queue_clear(&q);
	cr_assert_eq(a->refs, 1);
	cr_assert_eq(c->refs, 1);
	ntf_msg_unref(a);
	ntf_msg_unref(b);
	ntf_msg_unref(c);
}

Test(queue, message_cap_is_exact)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {5, 1 << 20};
	struct ntf_msg *m = msg(10);

	for (int i = 0; i < 5; i++)
		cr_assert_eq(ntf_queue_push(&q, m, &caps), 0);
	cr_assert_eq(ntf_queue_push(&q, m, &caps), NTF_QUEUE_FULL);
	cr_assert_eq(q.count, 5);
	cr_assert_eq(m->refs, 6);
	ntf_queue_clear(&q);
	cr_assert_eq(m->refs, 1);
	ntf_msg_unref(m);
}

Test(queue, byte_cap_is_exact)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {100, 100};
	struct ntf_msg *m60 = msg(60), *m40 = msg(40), *m1 = msg(1), *big = msg(101);

	cr_assert_eq(ntf_queue_push(&q, big, &caps), NTF_QUEUE_FULL, "bigger than the cap alone");
	cr_assert_eq(ntf_queue_push(&q, m60, &caps), 0);
	cr_assert_eq(ntf_queue_push(&q, m40, &caps), 0);
	cr_assert_eq(q.bytes, 100);
	cr_assert_eq(ntf_queue_push(&q, m1, &caps), NTF_QUEUE_FULL);
	ntf_queue_pop(&q);
	cr_assert_eq(q.bytes, 40);
	cr_assert_eq(ntf_queue_push(&q, m1, &caps), 0);
	ntf_queue_clear(&q);
	ntf_msg_unref(m60);
	ntf_msg_unref(m40);
	ntf_msg_unref(m1);
	ntf_msg_unref(big);
}

Test(queue, an_empty_queue_costs_no_ring)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {1000, 1 << 20};
	struct ntf_msg *m = msg(1);

	for (int i = 0; i < NTF_QUEUE_KEEP; i++)
		ntf_queue_push(&q, m, &caps);
	while (q.count)
		ntf_queue_pop(&q);
	cr_assert_not_null(q.ring, "a small ring is kept for the next burst");
	cr_assert_leq(q.cap, NTF_QUEUE_KEEP);
	ntf_queue_clear(&q);
	cr_assert_null(q.ring);
	ntf_msg_unref(m);
}

/* ---- holes and the coalescing index ---------------------------------------- */

/* A message for document id (len 8 payload); the tests tell messages apart by pointer. */
static struct ntf_msg *doc_msg(const char *id)
{
	struct ntf_msg *m = msg(8);

	m->is_event = true;
	m->doc_id_len = (uint8_t)strlen(id);
	memcpy(m->doc_id, id, m->doc_id_len + 1);
	return m;
}

static int feed_a, feed_b; /* two streams: only their addresses matter */

Test(queue, the_index_finds_the_newest_message_of_a_key_until_it_leaves)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {100, 1 << 20};
	struct ntf_msg *a1 = doc_msg("a"), *a2 = doc_msg("a"), *b1 = doc_msg("b"), *ab = doc_msg("a");

	cr_assert_eq(ntf_queue_push(&q, a1, &caps), 0);
	cr_assert_eq(ntf_queue_index_last(&q, &feed_a), 0);
	cr_assert_eq(ntf_queue_push(&q, b1, &caps), 0);
	cr_assert_eq(ntf_queue_index_last(&q, &feed_a), 0);
	cr_assert_eq(ntf_queue_push(&q, ab, &caps), 0);
	cr_assert_eq(ntf_queue_index_last(&q, &feed_b), 0, "another stream, the same id");
	cr_assert_eq(ntf_queue_indexed(&q, &feed_a, "a", 1), a1);
	cr_assert_eq(ntf_queue_indexed(&q, &feed_b, "a", 1), ab);
	cr_assert_eq(ntf_queue_indexed(&q, &feed_a, "b", 1), b1);
	cr_assert_null(ntf_queue_indexed(&q, &feed_b, "b", 1));
	cr_assert_eq(ntf_queue_push(&q, a2, &caps), 0);
	cr_assert_eq(ntf_queue_index_last(&q, &feed_a), 0);
	cr_assert_eq(ntf_queue_indexed(&q, &feed_a, "a", 1), a2, "the newest of the key");
	/* Taken from the head: a1 was no longer indexed, b1 was. */
	ntf_queue_pop(&q);
	ntf_queue_pop(&q);
	cr_assert_null(ntf_queue_indexed(&q, &feed_a, "b", 1));
	cr_assert_eq(ntf_queue_indexed(&q, &feed_a, "a", 1), a2);
	ntf_queue_unindex(&q, &feed_a, "a", 1);
	cr_assert_null(ntf_queue_indexed(&q, &feed_a, "a", 1));
	cr_assert_eq(q.count, 2, "unindexing leaves the message queued");
	ntf_queue_unindex_stream(&q, &feed_b);
	cr_assert_null(ntf_queue_indexed(&q, &feed_b, "a", 1));
	ntf_queue_clear(&q);
	cr_assert_null(q.ix);
	ntf_msg_unref(a1);
	ntf_msg_unref(a2);
	ntf_msg_unref(b1);
	ntf_msg_unref(ab);
}

Test(queue, removing_from_the_middle_leaves_a_hole_that_peek_and_take_skip)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {100, 1 << 20};
	struct ntf_msg *m[4] = {doc_msg("a"), doc_msg("b"), doc_msg("c"), doc_msg("d")};

	for (int i = 0; i < 4; i++) {
		cr_assert_eq(ntf_queue_push(&q, m[i], &caps), 0);
		cr_assert_eq(ntf_queue_index_last(&q, &feed_a), 0);
	}
	ntf_queue_remove_indexed(&q, &feed_a, "b", 1);
	ntf_queue_remove_indexed(&q, &feed_a, "a", 1); /* the head: the hole after it goes too */
	cr_assert_eq(q.count, 2);
	cr_assert_eq(q.bytes, 16);
	cr_assert_eq(m[0]->refs, 1, "the queue's reference is released");
	cr_assert_eq(ntf_queue_peek(&q), m[2]);
	ntf_queue_remove_indexed(&q, &feed_a, "d", 1); /* the tail */
	cr_assert_eq(q.span, 1);
	cr_assert_eq(ntf_queue_take(&q), m[2]);
	ntf_msg_unref(m[2]);
	cr_assert_eq(q.count, 0);
	cr_assert_null(ntf_queue_peek(&q));
	cr_assert_null(q.ix, "a drained queue gives its index back");
	ntf_queue_clear(&q);
	for (int i = 0; i < 4; i++)
		ntf_msg_unref(m[i]);
}

Test(queue, endless_merges_keep_the_ring_small)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {64, 1 << 20};
	const char *ids[] = {"a", "b", "c", "d", "e"};
	struct ntf_msg *first = doc_msg("zz");

	/* A client that never reads while 5 documents change 100000 times. */
	cr_assert_eq(ntf_queue_push(&q, first, &caps), 0);
	for (int i = 0; i < 100000; i++) {
		const char *id = ids[i % 5];
		struct ntf_msg *m = doc_msg(id);

		ntf_queue_remove_indexed(&q, &feed_a, id, 1);
		cr_assert_eq(ntf_queue_push(&q, m, &caps), 0);
		cr_assert_eq(ntf_queue_index_last(&q, &feed_a), 0);
		ntf_msg_unref(m);
		cr_assert_leq(q.count, 6);
		cr_assert_leq(q.cap, 16, "holes are reclaimed, not grown into (cap %u)", q.cap);
	}
	cr_assert_eq(ntf_queue_peek(&q), first, "the unmerged head stays first");
	ntf_queue_pop(&q);
	for (int i = 0; i < 5; i++) {
		struct ntf_msg *m = ntf_queue_take(&q);

		cr_assert_str_eq(m->doc_id, ids[(100000 - 5 + i) % 5], "merged frames in their later order");
		ntf_msg_unref(m);
	}
	ntf_queue_clear(&q);
	ntf_msg_unref(first);
}

/* A model: the queue's messages in order, checked against the real one after every step. */
Test(queue, random_pushes_takes_merges_and_repacks_match_a_model)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {40, 1 << 20};
	struct ntf_msg *model[64];
	int n = 0;
	unsigned seed = 12345;

	for (int step = 0; step < 50000; step++) {
		char id[4] = {(char)('a' + (seed >> 16) % 7), 0};
		unsigned op;

		seed = seed * 1103515245u + 12345u;
		op = (seed >> 16) % 10;
		if (op < 5 && n < 40) { /* a merge-or-push, as ntf_coalesce does */
			struct ntf_msg *old = ntf_queue_indexed(&q, &feed_a, id, 1), *m = doc_msg(id);

			if (old && op < 3) {
				int k = 0;

				while (model[k] != old)
					k++;
				memmove(model + k, model + k + 1, sizeof(model[0]) * (size_t)(n - k - 1));
				n--;
				ntf_queue_remove_indexed(&q, &feed_a, id, 1);
			}
			cr_assert_eq(ntf_queue_push(&q, m, &caps), 0);
			cr_assert_eq(ntf_queue_index_last(&q, &feed_a), 0);
			model[n++] = m;
			ntf_msg_unref(m);
		} else if (op < 7 && n < 40) { /* a frame that does not merge */
			struct ntf_msg *m = doc_msg(id);

			cr_assert_eq(ntf_queue_push(&q, m, &caps), 0);
			ntf_queue_unindex(&q, &feed_a, id, 1);
			model[n++] = m;
			ntf_msg_unref(m);
		} else if (n) {
			struct ntf_msg *m = ntf_queue_take(&q);

			cr_assert_eq(m, model[0], "step %d", step);
			memmove(model, model + 1, sizeof(model[0]) * (size_t)--n);
			ntf_msg_unref(m);
		}
		cr_assert_eq(q.count, (uint32_t)n);
		cr_assert_eq(q.bytes, (size_t)n * 8);
		cr_assert_eq(ntf_queue_peek(&q), n ? model[0] : NULL);
		cr_assert_leq(q.cap, 4 * caps.max_msgs);
		/* The index names, for each id, its newest indexed message, which must be queued. */
		for (char c = 'a'; c < 'h'; c++) {
			struct ntf_msg *ix = ntf_queue_indexed(&q, &feed_a, &c, 1);
			bool found = false;

			for (int k = 0; ix && k < n; k++)
				found |= model[k] == ix;
			cr_assert(!ix || found, "step %d: the index points at a queued message", step);
			cr_assert(!ix || ix->doc_id[0] == c);
		}
	}
	ntf_queue_clear(&q);
}
