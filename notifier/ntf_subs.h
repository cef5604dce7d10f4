/*
 * ntf_subs: the subscription index. Who listens to what, and whether an
 * event matches; no I/O, no Redis, no sockets (ntf_hub drives it).
 *
 *   collection (struct ntf_coll, one per collection any client watches)
 *     └─ feeds (struct ntf_feed, one per connection watching it, plus
 *        one per filtered subscription of that connection)
 *          └─ filters (struct ntf_filter, one per subscription: the whole
 *             collection, or one document id)
 *
 * A connection gets each event of a collection through its one plain
 * feed, so an event matched by several of its unfiltered subscriptions is
 * sent once, and the feed's high-water mark `sent` keeps its events in
 * seq order. A filtered subscription (SPEC 8, "where" + "sid") is a feed
 * of its own with exactly one whole-collection filter: its own stream,
 * its own replay, the same ordering rules; ntf_deliver turns each event
 * into that subscription's view of it (entered, left...).
 *
 * Ownership: the index owns colls; a coll owns nothing but its list
 * heads; the hub allocates and frees feeds and filters through the
 * functions here. Collections are looked up in a chained hash table.
 * Single-threaded (the loop thread).
 */
#ifndef NTF_SUBS_H
#define NTF_SUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntf_msg.h"
#include "ntf_queue.h"
#include "tnd_seq.h"
#include "tnd_valid.h"

struct ntf_conn;
struct ntf_query;
struct tnd_filter;

#define NTF_FEED_SID_MAX 64

enum ntf_filter_state {
	NTF_FILTER_WAIT,   /* not acknowledged yet: waits for the collection or a replay slot */
	NTF_FILTER_REPLAY, /* its log replay runs (the feed's one replay) */
	NTF_FILTER_LIVE,   /* receives every matching event with seq > floor */
};

struct ntf_filter {
	struct ntf_filter *next;   /* in feed->filters, or feed->waiting */
	enum ntf_filter_state state;
	/*
	 * Every matching event with seq > floor reaches the client once this
	 * filter is live: the ack's seq for a plain subscription, `since` for
	 * one that replayed (its replay covered since..end).
	 */
	struct tnd_seq floor;
	bool has_since;
	struct tnd_seq since;
	bool coalesce;             /* subscribed with "coalesce": true (SPEC 5, ntf_coalesce.h) */
	/* Replay progress (state REPLAY, or WAIT after a Redis loss). */
	bool acked;                /* "subscribed" was sent; end is known */
	struct tnd_seq end;        /* log tail when the replay began: the ack's seq */
	struct tnd_seq cursor;     /* last log entry replayed */
	uint8_t id_len;            /* 0: the whole collection */
	char id[TND_DOC_ID_MAX + 1];
};

struct ntf_feed {
	struct ntf_conn *conn;
	struct ntf_coll *coll;
	struct ntf_feed *coll_prev, *coll_next; /* in coll->feeds */
	struct ntf_feed *conn_next;             /* in the connection's list */
	struct ntf_filter *filters;             /* LIVE and the REPLAY one */
	struct ntf_filter *waiting;             /* WAIT, oldest first */
	struct ntf_filter *replaying;           /* in filters, or NULL */
	struct ntf_query *query;                /* this feed's read in flight, or NULL */
	bool replay_paused;                     /* waits for the client to drain its queue */
	bool own_only;                          /* the own claim: only the holder's documents */
	bool coalesce;                          /* a subscription of it asked to coalesce (sticky) */
	bool sent_any;
	struct tnd_seq sent;                    /* highest seq delivered on this feed */
	struct ntf_queue pending;               /* live events held while replaying */
	struct tnd_filter *where;               /* a filtered feed's filter (owned), or NULL */
	char sid[NTF_FEED_SID_MAX + 1];         /* a filtered feed's name; "" for the plain feed */
};

enum ntf_coll_state {
	NTF_COLL_STALE,   /* Redis is down, or not read yet: live events are held */
	NTF_COLL_SYNCING, /* reading the log up to its tail; live events are held */
	NTF_COLL_LIVE,    /* events flow straight to the feeds */
};

struct ntf_coll {
	struct ntf_coll *hnext;          /* hash chain */
	char name[TND_COLLECTION_MAX + 1];
	uint8_t name_len;
	enum ntf_coll_state state;
	bool head_known;
	struct tnd_seq head;             /* last event fanned out (or the log tail read) */
	struct ntf_feed *feeds;
	uint32_t n_feeds;
	uint32_t refs;                   /* queued events and queries pointing here */
	struct ntf_query *query;         /* the sync read in flight, or NULL */
	bool pending_lost;               /* pending overflowed: read the log again */
	struct ntf_queue pending;        /* live events held while not LIVE */
	/*
	 * The log is known up to heard: every event up to it is queued for
	 * fan-out, fanned out, or was a malformed entry; a sync reads on from
	 * there (ntf_sync.c). sync_deferred: the next read waits for room in
	 * the hub's inbound queue.
	 */
	bool heard_known, sync_deferred;
	struct tnd_seq heard;
};

struct ntf_subs {
	struct ntf_coll **buckets;
	uint32_t n_buckets;              /* a power of two */
	uint32_t n_colls;
};

/* Returns 0, or -1 when out of memory. */
int ntf_subs_init(struct ntf_subs *s);
/* Frees the table and every collection left in it (their feeds must be gone). */
void ntf_subs_destroy(struct ntf_subs *s);

/* The collection, or NULL. name[0..len) need not be NUL-terminated. */
struct ntf_coll *ntf_subs_find(const struct ntf_subs *s, const char *name, size_t len);
/* Finds or creates (state STALE). NULL when out of memory. */
struct ntf_coll *ntf_subs_get(struct ntf_subs *s, const char *name, size_t len);
/* Unlinks and frees a collection with no feeds and no refs. */
void ntf_subs_remove(struct ntf_subs *s, struct ntf_coll *c);
/* True when nothing points at c any more. */
bool ntf_coll_unused(const struct ntf_coll *c);

/* A new feed of conn on c, linked into c->feeds. NULL when out of memory. */
struct ntf_feed *ntf_feed_new(struct ntf_coll *c, struct ntf_conn *conn);
/* Unlinks f from its collection and frees it with its filters and pending events. */
void ntf_feed_free(struct ntf_feed *f);

/* A new filter (state WAIT) for id (NULL or "" = the whole collection). NULL when out of memory. */
struct ntf_filter *ntf_filter_new(const char *id);
/* The filter in list for that id (NULL/"" = the whole collection), or NULL. */
struct ntf_filter *ntf_filter_find(struct ntf_filter *list, const char *id);
/* Unlinks filt from *list; returns true when it was there. Does not free. */
bool ntf_filter_unlink(struct ntf_filter **list, struct ntf_filter *filt);
/* True when the filter selects this event id. */
bool ntf_filter_selects(const struct ntf_filter *filt, const struct ntf_msg *ev);

/*
 * A repeated subscription (same target) takes the options of the latest
 * request: every filter of list for like's id gets like's coalesce.
 */
void ntf_filter_take_options(struct ntf_filter *list, const struct ntf_filter *like);

/*
 * Whether f's frame for ev may merge (SPEC 5 coalesce): some subscription
 * of f selects ev (live or replaying), and every one that does asked to
 * coalesce.
 */
bool ntf_feed_coalesces(const struct ntf_feed *f, const struct ntf_msg *ev);

/*
 * True when a LIVE filter of f other than `except` delivers ev: it selects
 * ev and ev->seq > its floor.
 */
bool ntf_feed_live_match(const struct ntf_feed *f, const struct ntf_filter *except,
			 const struct ntf_msg *ev);

#endif
