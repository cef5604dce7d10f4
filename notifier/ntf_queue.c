/*
 * ntf_queue: see ntf_queue.h.
 *
 * The index: entries in one array (a free list threads the unused ones),
 * chained from a power-of-two bucket array by the key's hash, and linked
 * in queue order (first = the oldest indexed message). The order list is
 * what keeps the index cheap to maintain: take() only ever has to check
 * the first entry, and a repack walks the ring and the list side by side
 * to renumber slots.
 */
#include "ntf_queue.h"

#include <stdlib.h>
#include <string.h>

#define IX_NONE UINT32_MAX
#define IX_INITIAL 8

struct ix_entry {
	const void *stream;     /* NULL: a free entry */
	uint32_t hash;
	uint32_t slot;          /* the message's ring slot */
	uint32_t hnext;         /* bucket chain, or the free list */
	uint32_t prev, next;    /* queue order */
};

struct ntf_queue_ix {
	struct ix_entry *e;
	uint32_t *buckets;      /* as many as entries */
	uint32_t cap;           /* entries (and buckets), a power of two */
	uint32_t free;
	uint32_t first, last;
};

static uint32_t key_hash(const void *stream, const char *id, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)((uintptr_t)stream >> 4); /* FNV-1a over the id */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return h ^ (h >> 15);
}

static void ix_free(struct ntf_queue *q)
{
	if (q->ix) {
		free(q->ix->e);
		free(q->ix->buckets);
		free(q->ix);
		q->ix = NULL;
	}
}

/* Entries [from, cap) go on the free list. */
static void ix_free_range(struct ntf_queue_ix *ix, uint32_t from)
{
	for (uint32_t i = ix->cap; i-- > from;) {
		ix->e[i].stream = NULL;
		ix->e[i].hnext = ix->free;
		ix->free = i;
	}
}

/* Doubles the entries (or makes the first ones) and rechains them all. */
static int ix_grow(struct ntf_queue *q)
{
	struct ntf_queue_ix *ix = q->ix;
	uint32_t ncap = ix->cap ? ix->cap * 2 : IX_INITIAL, old = ix->cap;
	struct ix_entry *ne = realloc(ix->e, sizeof(*ne) * ncap);
	uint32_t *nb;

	if (!ne)
		return NTF_QUEUE_NOMEM;
	ix->e = ne;
	nb = malloc(sizeof(*nb) * ncap);
	if (!nb)
		return NTF_QUEUE_NOMEM; /* the bigger entry array is harmless */
	free(ix->buckets);
	ix->buckets = nb;
	ix->cap = ncap;
	for (uint32_t i = 0; i < ncap; i++)
		nb[i] = IX_NONE;
	for (uint32_t i = 0; i < old; i++) {
		if (ne[i].stream) {
			uint32_t b = ne[i].hash & (ncap - 1);

			ne[i].hnext = nb[b];
			nb[b] = i;
		}
	}
	ix_free_range(ix, old);
	return 0;
}

static uint32_t ix_find(const struct ntf_queue *q, const void *stream, const char *id, size_t len,
			uint32_t hash)
{
	const struct ntf_queue_ix *ix = q->ix;

	if (!ix || !ix->cap)
		return IX_NONE;
	for (uint32_t i = ix->buckets[hash & (ix->cap - 1)]; i != IX_NONE; i = ix->e[i].hnext) {
		const struct ix_entry *e = &ix->e[i];
		const struct ntf_msg *m = q->ring[e->slot];

		if (e->hash == hash && e->stream == stream && m->doc_id_len == len &&
		    !memcmp(m->doc_id, id, len))
			return i;
	}
	return IX_NONE;
}

static void ix_del(struct ntf_queue_ix *ix, uint32_t i)
{
	struct ix_entry *e = &ix->e[i];
	uint32_t *pp = &ix->buckets[e->hash & (ix->cap - 1)];

	while (*pp != i)
		pp = &ix->e[*pp].hnext;
	*pp = e->hnext;
	if (e->prev != IX_NONE)
		ix->e[e->prev].next = e->next;
	else
		ix->first = e->next;
	if (e->next != IX_NONE)
		ix->e[e->next].prev = e->prev;
	else
		ix->last = e->prev;
	e->stream = NULL;
	e->hnext = ix->free;
	ix->free = i;
}

/* Ring slot of the i-th message from the head (holes included). */
static inline uint32_t slot_at(const struct ntf_queue *q, uint32_t i)
{
	return (q->head + i) % q->cap;
}

/*
 * A new ring for a full one: the same size when at least half of it is
 * holes (a compaction), else twice as big, capped at max_msgs unless
 * holes already hold part of it (a coalescing queue may span up to about
 * twice its cap, which keeps compactions O(1) amortized). Live messages
 * keep their order; index entries follow their messages.
 */
static int repack(struct ntf_queue *q, uint32_t max_msgs)
{
	uint32_t holes = q->span - q->count, ncap, j = 0;
	uint32_t cursor = q->ix ? q->ix->first : IX_NONE;
	struct ntf_msg **nring;

	if (holes && holes * 2 >= q->span) {
		ncap = q->cap;
	} else {
		ncap = q->cap ? q->cap * 2 : 4;
		if (ncap > max_msgs && max_msgs > q->cap)
			ncap = max_msgs; /* the last step may be a non-power of two */
	}
	nring = malloc(sizeof(*nring) * ncap);
	if (!nring)
		return NTF_QUEUE_NOMEM;
	for (uint32_t i = 0; i < q->span; i++) {
		uint32_t s = slot_at(q, i);

		if (!q->ring[s])
			continue;
		if (cursor != IX_NONE && q->ix->e[cursor].slot == s) {
			q->ix->e[cursor].slot = j;
			cursor = q->ix->e[cursor].next;
		}
		nring[j++] = q->ring[s];
	}
	free(q->ring);
	q->ring = nring;
	q->cap = ncap;
	q->head = 0;
	q->span = q->count;
	return 0;
}

int ntf_queue_push(struct ntf_queue *q, struct ntf_msg *m, const struct ntf_queue_caps *caps)
{
	if (q->count >= caps->max_msgs || m->len > caps->max_bytes ||
	    q->bytes > caps->max_bytes - m->len)
		return NTF_QUEUE_FULL;
	if (q->span == q->cap) {
		int rc = repack(q, caps->max_msgs);
		if (rc < 0)
			return rc;
	}
	q->ring[slot_at(q, q->span)] = ntf_msg_ref(m);
	q->span++;
	q->count++;
	q->bytes += m->len;
	return 0;
}

struct ntf_msg *ntf_queue_peek(const struct ntf_queue *q)
{
	return q->count ? q->ring[q->head] : NULL;
}

/* After the last message went: the queue is as new, a small ring aside. */
static void drained(struct ntf_queue *q)
{
	q->head = 0;
	q->span = 0;
	ix_free(q);
	/* A burst is over: give a big ring back instead of pinning it. */
	if (q->cap > NTF_QUEUE_KEEP) {
		free(q->ring);
		q->ring = NULL;
		q->cap = 0;
	}
}

/* Holes at either end are not part of the queue any more. */
static void trim(struct ntf_queue *q)
{
	while (q->span && !q->ring[q->head]) {
		q->head = (q->head + 1) % q->cap;
		q->span--;
	}
	while (q->span && !q->ring[slot_at(q, q->span - 1)])
		q->span--;
	if (q->count == 0)
		drained(q);
}

struct ntf_msg *ntf_queue_take(struct ntf_queue *q)
{
	struct ntf_msg *m;

	if (!q->count)
		return NULL;
	m = q->ring[q->head];
	if (q->ix && q->ix->first != IX_NONE && q->ix->e[q->ix->first].slot == q->head)
		ix_del(q->ix, q->ix->first);
	q->count--;
	q->bytes -= m->len;
	if (q->span == q->count + 1) {
		/* No holes (every queue that never coalesces): the plain FIFO step. */
		q->head = (q->head + 1) % q->cap;
		q->span--;
		if (q->count == 0)
			drained(q);
		return m;
	}
	q->ring[q->head] = NULL;
	trim(q);
	return m;
}

void ntf_queue_pop(struct ntf_queue *q)
{
	ntf_msg_unref(ntf_queue_take(q));
}

void ntf_queue_clear(struct ntf_queue *q)
{
	for (uint32_t i = 0; i < q->span; i++)
		ntf_msg_unref(q->ring[slot_at(q, i)]);
	free(q->ring);
	ix_free(q);
	memset(q, 0, sizeof(*q));
}

/* --- the coalescing index -------------------------------------------------- */

int ntf_queue_index_last(struct ntf_queue *q, const void *stream)
{
	uint32_t slot, hash, i, b;
	struct ntf_queue_ix *ix;
	struct ntf_msg *m;

	if (!q->count)
		return 0;
	slot = slot_at(q, q->span - 1);
	m = q->ring[slot];
	hash = key_hash(stream, m->doc_id, m->doc_id_len);
	if (!q->ix) {
		q->ix = calloc(1, sizeof(*q->ix));
		if (!q->ix)
			return NTF_QUEUE_NOMEM;
		q->ix->free = q->ix->first = q->ix->last = IX_NONE;
	}
	ix = q->ix;
	i = ix_find(q, stream, m->doc_id, m->doc_id_len, hash);
	if (i != IX_NONE)
		ix_del(ix, i);
	if (ix->free == IX_NONE && ix_grow(q) < 0)
		return NTF_QUEUE_NOMEM;
	i = ix->free;
	ix->free = ix->e[i].hnext;
	b = hash & (ix->cap - 1);
	ix->e[i] = (struct ix_entry){stream, hash, slot, ix->buckets[b], ix->last, IX_NONE};
	ix->buckets[b] = i;
	/* The newest message: last in queue order too. */
	if (ix->last != IX_NONE)
		ix->e[ix->last].next = i;
	else
		ix->first = i;
	ix->last = i;
	return 0;
}

struct ntf_msg *ntf_queue_indexed(const struct ntf_queue *q, const void *stream, const char *id,
				  size_t len)
{
	uint32_t i = ix_find(q, stream, id, len, key_hash(stream, id, len));

	return i == IX_NONE ? NULL : q->ring[q->ix->e[i].slot];
}

void ntf_queue_remove_indexed(struct ntf_queue *q, const void *stream, const char *id, size_t len)
{
	uint32_t i = ix_find(q, stream, id, len, key_hash(stream, id, len)), slot;
	struct ntf_msg *m;

	if (i == IX_NONE)
		return;
	slot = q->ix->e[i].slot;
	ix_del(q->ix, i);
	m = q->ring[slot];
	q->ring[slot] = NULL;
	q->count--;
	q->bytes -= m->len;
	ntf_msg_unref(m);
	trim(q);
}

void ntf_queue_unindex(struct ntf_queue *q, const void *stream, const char *id, size_t len)
{
	uint32_t i = ix_find(q, stream, id, len, key_hash(stream, id, len));

	if (i != IX_NONE)
		ix_del(q->ix, i);
}

void ntf_queue_unindex_stream(struct ntf_queue *q, const void *stream)
{
	uint32_t i, next;

	if (!q->ix)
		return;
	for (i = q->ix->first; i != IX_NONE; i = next) {
		next = q->ix->e[i].next;
		if (q->ix->e[i].stream == stream)
			ix_del(q->ix, i);
	}
}
