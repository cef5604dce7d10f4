/*
 * ntf_coalesce: subscribe's "coalesce": true (SPEC 5). While a
 * connection has frames queued, a new event of a coalescing subscription
 * merges with the frame queued for the same document (same collection and
 * id, and the same sid for a filtered subscription) instead of queueing
 * behind it: a slow client catches up with the current state rather than
 * every intermediate update.
 *
 * The merged frame takes the later event's place in seq order and its
 * seq, version and doc; its type comes from the table below
 * (ntf_coalesce_rule). The queue keeps an index from (feed, document id)
 * to the newest frame queued for it (ntf_queue.h), so a merge costs
 * O(1), not a scan of the queue. Connections that never asked for
 * coalescing never get here (one flag test in ntf_deliver.c's feed_push).
 *
 * Rules where SPEC 5 is silent, decided here:
 *  - A plain feed delivers an event once even when several of its
 *    subscriptions select it (a whole collection and one of its
 *    documents). The event merges only when every one of them asked for
 *    coalescing: a subscription that did not ask sees every event of its
 *    documents, and a frame that did not merge is never merged into later.
 *  - A frame merges only with a frame of the same subscription stream (a
 *    feed): a filtered subscription replaced by a repeated sid, or a feed
 *    that ends, stops merging what it queued.
 *  - Only a newer event merges into an older frame (a replay of a new
 *    document subscription may queue history behind live frames).
 *  - Events held while a replay runs (feed->pending) are not merged
 *    there; they merge as they reach the outbound queue.
 *
 * Loop thread only; part of the hub (it includes ntf_hub_internal.h).
 */
#ifndef NTF_COALESCE_H
#define NTF_COALESCE_H

#include <stdbool.h>

#include "ntf_msg.h"
#include "ntf_queue.h"

struct ntf_feed;

enum ntf_merge {
	NTF_MERGE_KEEP,   /* no merge: the later frame queues behind the earlier one */
	NTF_MERGE_LATER,  /* the later frame replaces the earlier one, as it is */
	NTF_MERGE_RETYPE, /* the later frame replaces the earlier one with the type *merged */
	NTF_MERGE_DROP,   /* the two cancel out: neither is sent */
};

/*
 * The merge table of SPEC 5, for an earlier queued frame of a document
 * and a later event of it, by their types as the client reads them:
 *
 *   updated + updated -> updated      created + updated -> created
 *   updated + deleted -> deleted      created + deleted -> (both dropped)
 *   deleted + created -> (both kept)
 *   entered + updated -> entered      updated + left    -> left
 *   entered + left    -> (dropped)    left    + entered -> updated
 *
 * plus, by the same reasoning (what the client held before the first and
 * after the second): created + left and entered + deleted drop both (the
 * client never saw the document), and every other pair is kept as it is
 * (left + created, like deleted + created, starts a document's new life:
 * its version starts again). *merged is set for LATER (the later type) and
 * RETYPE (the type the later frame must carry).
 */
enum ntf_merge ntf_coalesce_rule(enum ntf_ev_type earlier, enum ntf_ev_type later,
				 enum ntf_ev_type *merged);

/*
 * Queues m, feed f's frame for one event, on f's connection, merged with
 * the document's queued frame when the rule above allows it (m stays the
 * caller's). Returns 1 when the event is reflected (queued, merged, or
 * dropped with the frame it cancels), -1 when the connection is closing
 * (a full queue closes it with 4008, out of memory with 1011, as
 * ntf_conn_push does). m NULL (out of memory) closes it too.
 */
int ntf_coalesce_push(struct ntf_feed *f, struct ntf_msg *m, const struct ntf_queue_caps *caps);

/* f ends: its queued frames stay but merge no more (called before f is freed). */
void ntf_coalesce_forget(struct ntf_feed *f);

#endif
