/*
 * ntf_queue: see ntf_queue.h.
 */
#include "ntf_queue.h"

#include <stdlib.h>
#include <string.h>

/* Doubles the ring (or makes the first one), keeping the order. */
static int grow(struct ntf_queue *q, uint32_t max_msgs)
{
	uint32_t ncap = q->cap ? q->cap * 2 : 4;
	struct ntf_msg **nring;

	if (ncap > max_msgs && max_msgs > q->cap)
		ncap = max_msgs; /* the last step may be a non-power of two */
	nring = malloc(sizeof(*nring) * ncap);
	if (!nring)
		return NTF_QUEUE_NOMEM;
	for (uint32_t i = 0; i < q->count; i++)
		nring[i] = q->ring[(q->head + i) % q->cap];
	free(q->ring);
	q->ring = nring;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

int ntf_queue_push(struct ntf_queue *q, struct ntf_msg *m, const struct ntf_queue_caps *caps)
{
	if (q->count >= caps->max_msgs || m->len > caps->max_bytes ||
	    q->bytes > caps->max_bytes - m->len)
		return NTF_QUEUE_FULL;
	if (q->count == q->cap) {
		int rc = grow(q, caps->max_msgs);
		if (rc < 0)
			return rc;
	}
	q->ring[(q->head + q->count) % q->cap] = ntf_msg_ref(m);
	q->count++;
	q->bytes += m->len;
	return 0;
}

struct ntf_msg *ntf_queue_peek(const struct ntf_queue *q)
{
	return q->count ? q->ring[q->head] : NULL;
}

struct ntf_msg *ntf_queue_take(struct ntf_queue *q)
{
	struct ntf_msg *m;

	if (!q->count)
		return NULL;
	m = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	q->bytes -= m->len;
	if (q->count == 0) {
		q->head = 0;
		/* A burst is over: give a big ring back instead of pinning it. */
		if (q->cap > NTF_QUEUE_KEEP) {
			free(q->ring);
			q->ring = NULL;
			q->cap = 0;
		}
	}
	return m;
}

void ntf_queue_pop(struct ntf_queue *q)
{
	ntf_msg_unref(ntf_queue_take(q));
}

void ntf_queue_clear(struct ntf_queue *q)
{
	for (uint32_t i = 0; i < q->count; i++)
		ntf_msg_unref(q->ring[(q->head + i) % q->cap]);
	free(q->ring);
	memset(q, 0, sizeof(*q));
}
