/*
 * ntf_queue: a bounded FIFO of message references, one per connection
 * (outbound frames) and one per feed (live events held back while a
 * replay runs). The caps are passed on every push so that a queue costs
 * 24 bytes while empty: the ring is allocated on the first push, grows by
 * doubling up to the message cap, and is released again when it drains,
 * which keeps idle connections small.
 *
 * The queue owns one reference to each message it holds.
 */
#ifndef NTF_QUEUE_H
#define NTF_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "ntf_msg.h"

/* A drained ring at most this large is kept for the next burst. */
#define NTF_QUEUE_KEEP 8

struct ntf_queue {
	struct ntf_msg **ring;
	uint32_t cap;   /* slots in ring, a power of two, 0 when ring is NULL */
	uint32_t head;  /* index of the oldest message */
	uint32_t count;
	size_t bytes;   /* sum of the payload lengths held */
};

struct ntf_queue_caps {
	uint32_t max_msgs;
	size_t max_bytes;
};

enum {
	NTF_QUEUE_FULL = -1, /* the message would pass a cap: caller drops the consumer */
	NTF_QUEUE_NOMEM = -2,
};

/*
 * Appends m, taking a new reference (the caller keeps its own). Returns 0,
 * NTF_QUEUE_FULL when count or bytes would pass a cap, or NTF_QUEUE_NOMEM;
 * on error nothing changes.
 */
int ntf_queue_push(struct ntf_queue *q, struct ntf_msg *m, const struct ntf_queue_caps *caps);
/* The oldest message, borrowed until it is popped; NULL when empty. */
struct ntf_msg *ntf_queue_peek(const struct ntf_queue *q);
/* Drops the oldest message (its reference is released). No-op when empty. */
void ntf_queue_pop(struct ntf_queue *q);
/* Moves the oldest message's reference to the caller; NULL when empty. */
struct ntf_msg *ntf_queue_take(struct ntf_queue *q);
/* Releases everything; the queue is empty and reusable. */
void ntf_queue_clear(struct ntf_queue *q);

#endif
