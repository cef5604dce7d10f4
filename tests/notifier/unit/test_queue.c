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
