/*
 * ntf_queue: a bounded FIFO of message references, one per connection
 * (outbound frames) and one per feed (live events held back while a
 * replay runs). The caps are passed on every push so that a queue costs
 * 40 bytes while empty: the ring is allocated on the first push, grows by
 * doubling up to the message cap, and is released again when it drains,
 * which keeps idle connections small.
 *
 * Coalescing (SPEC 5, "coalesce": true) needs two more things, paid for
 * only by the queues that use them: taking a message out of the middle
 * (it leaves a hole, skipped by peek and take; the ring is repacked when
 * it fills up with holes, so holes cost O(1) amortized), and an index
 * from a key (a stream, which is a feed, and a document id) to the newest
 * message queued under that key, so a merge does not scan the queue. The
 * index is a small hash table made on the first ntf_queue_index_last()
 * and freed when the queue drains; a queue that never indexes keeps
 * ix NULL and never has holes.
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

struct ntf_queue_ix; /* ntf_queue.c */

struct ntf_queue {
	struct ntf_msg **ring;
	uint32_t cap;   /* slots in ring, 0 when ring is NULL */
	uint32_t head;  /* slot of the oldest message (never a hole) */
	uint32_t count; /* messages held */
	uint32_t span;  /* slots from head to the newest message: count plus holes */
	size_t bytes;   /* sum of the payload lengths held */
	struct ntf_queue_ix *ix; /* the coalescing index, or NULL */
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
/* Releases everything, index included; the queue is empty and reusable. */
void ntf_queue_clear(struct ntf_queue *q);

/*
 * The coalescing index. A key is (stream, document id): stream is an
 * opaque pointer the caller uses to tell its streams apart (the hub: a
 * feed), and the id is the message's doc_id. At most one message per key
 * is indexed: the newest one queued under it.
 */

/*
 * Indexes the newest message of q under (stream, its doc_id), replacing
 * the key's previous entry (that message stays queued, no longer
 * indexed). Returns 0, or NTF_QUEUE_NOMEM (then nothing is indexed under
 * the key: the message simply will not merge). q must not be empty.
 */
int ntf_queue_index_last(struct ntf_queue *q, const void *stream);
/* The message indexed under (stream, id[0..len)), borrowed while it is queued; NULL when none. */
struct ntf_msg *ntf_queue_indexed(const struct ntf_queue *q, const void *stream, const char *id,
				  size_t len);
/* Takes the message indexed under the key out of the queue (its reference is released). */
void ntf_queue_remove_indexed(struct ntf_queue *q, const void *stream, const char *id, size_t len);
/* Forgets the key's entry; its message stays queued. */
void ntf_queue_unindex(struct ntf_queue *q, const void *stream, const char *id, size_t len);
/* Forgets every entry of stream (it ends: its messages must not merge with a successor's). */
void ntf_queue_unindex_stream(struct ntf_queue *q, const void *stream);

#endif
