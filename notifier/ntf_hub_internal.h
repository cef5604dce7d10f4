/*
 * ntf_hub_internal: the hub's structs and the functions its three files
 * (ntf_hub.c, ntf_deliver.c, ntf_sync.c) share. Nothing outside the hub
 * includes this but its white-box unit tests; the rest of the daemon uses
 * ntf_hub.h and its accessors.
 */
#ifndef NTF_HUB_INTERNAL_H
#define NTF_HUB_INTERNAL_H

#include <string.h>

#include "ntf_coalesce.h"
#include "ntf_hub.h"
#include "tnd_auth.h"

/*
 * What the notifier keeps of a verified token: one malloc of exact size,
 * on authenticated connections only (a struct tnd_claims is 6 KB; an idle
 * connection should cost far less). The lists are tnd_claim_set's
 * ",a,b," form; all three strings live in text[].
 */
struct ntf_conn_auth {
	long long exp;               /* the token's exp (unix s) */
	bool read_all, own_all;
	const char *read, *own;      /* into text; "" = none */
	char sub[];                  /* sub, NUL, read list, NUL, own list, NUL */
};

struct ntf_conn {
	struct ntf_hub *hub;
	struct ntf_conn_auth *auth;   /* NULL: no valid token yet (or auth off) */
	void *handle;                 /* the transport's (an lws wsi); opaque here */
	uint64_t id;                  /* for log lines */
	struct ntf_conn *prev, *next; /* in hub->conns */
	struct ntf_queue out;
	struct ntf_feed *feeds;
	uint32_t n_subs;              /* distinct subscriptions */
	uint32_t n_paused;            /* feeds whose replay waits for out to drain */
	uint16_t close_code;          /* nonzero: closing, nothing more is queued */
	bool wake_pending;
	/* Overload (ntf_hub.h): ticks are hub->tick values. */
	bool backed;                  /* out passed the high watermark, not yet down to the low one */
	bool lagging;                 /* backed and not draining: the intake does not wait for it */
	bool holding;                 /* counted in hub->n_holding: the pump waits for it */
	uint32_t backed_tick;         /* when it became backed up */
	uint32_t progress_tick;       /* its last write, or when frames began to wait */
	uint32_t sent_in_tick;        /* frames written since the last tick */
};

struct ntf_inbound_item {
	struct ntf_coll *coll;
	struct ntf_msg *ev;
};

struct ntf_hub {
	struct ntf_hub_limits limits;
	struct ntf_hub_ops ops;
	struct ntf_subs subs;
	struct ntf_metrics metrics;
	struct ntf_conn *conns;
	uint64_t next_conn_id;
	bool link_up;
	uint64_t link_gen;
	bool input_paused;
	bool pump_scheduled;
	bool shutting_down;
	const struct tnd_auth *auth;  /* NULL or mode OFF: open mode */
	struct tnd_auth_cache *auth_cache; /* the loop's one cache of verified tokens */
	struct tnd_claims *claims;    /* scratch for one verification */
	struct ntf_inbound_item *in; /* ring of events to fan out */
	uint32_t in_cap, in_head, in_count;
	size_t in_bytes;              /* payload bytes in the ring */
	uint32_t tick;                /* ntf_hub_tick() calls so far: the hub's clock, in NTF_TICK_MS */
	uint32_t n_holding;           /* connections the pump waits for; nonzero: the intake is held */
	uint32_t n_backed;            /* connections backed up: hub_hold() looks at feeds only when nonzero */
	uint64_t n_lagging;           /* connections marked lagging */
};

static inline bool ntf_seq_gt(const struct tnd_seq *a, const struct tnd_seq *b)
{
	return tnd_seq_cmp(a, b) > 0;
}

/* Sets up / tears down a hub in place (ntf_hub_new and ntf_hub_free wrap them). */
int ntf_hub_init(struct ntf_hub *hub, const struct ntf_hub_limits *limits,
		 const struct ntf_hub_ops *ops);
void ntf_hub_destroy(struct ntf_hub *hub);

/* --- ntf_hub.c: queues and answers ---------------------------------------- */

/*
 * Queues msg on the connection (msg stays the caller's) under caps. A
 * full queue is a slow consumer: the connection closes with 4008. NULL
 * msg (out of memory) closes it with 1011. Returns 0 or -1.
 */
int ntf_conn_push(struct ntf_conn *conn, struct ntf_msg *msg, const struct ntf_queue_caps *caps);
/* ntf_conn_push under the hub's per-connection caps. */
int ntf_conn_send(struct ntf_conn *conn, struct ntf_msg *msg);
/* Sends a freshly built control message and drops the builder's reference. */
void ntf_conn_reply(struct ntf_conn *conn, struct ntf_msg *msg);
void ntf_conn_error(struct ntf_conn *conn, enum tnd_err err, const char *why);
/* Log entries per replay read: a quarter of the queue cap, at most NTF_REPLAY_PAGE. */
uint32_t ntf_hub_replay_page(const struct ntf_hub *hub);
/* Room in the queue for one more replay page. */
bool ntf_conn_has_room(const struct ntf_conn *conn);
/* Frees the collection when nothing refers to it any more. */
void ntf_hub_release_coll(struct ntf_hub *hub, struct ntf_coll *c);

/* --- ntf_access.c: tokens and claims ------------------------------------- */

/* The auth op: verifies and installs the token, answers, ends what the new claims forbid. */
void ntf_access_auth_op(struct ntf_conn *conn, const struct ntf_request *req);
/*
 * May conn subscribe to req's collection? true, or false after answering
 * the error (unauthorized / forbidden, echoing collection and id).
 */
bool ntf_access_may_subscribe(struct ntf_conn *conn, const struct ntf_request *req);
/* Whether f's deliveries are restricted to the holder's own documents (the own claim). */
bool ntf_access_own_only(const struct ntf_conn *conn, const char *collection);
/* f may deliver ev: not restricted by own, or ev's document is the holder's. */
static inline bool ntf_access_may_see(const struct ntf_feed *f, const struct ntf_msg *ev)
{
	return !f->own_only ||
	       (ev->owner && f->conn->auth && !strcmp(ev->owner, f->conn->auth->sub));
}

/* --- ntf_deliver.c: delivery and replay ----------------------------------- */

/* A live event of f's collection, in seq order (rule 2; held while f replays, rule 3). */
void ntf_deliver_offer(struct ntf_feed *f, struct ntf_msg *ev);
/* Acknowledges f's waiting subscriptions in order and starts the next replay. */
void ntf_deliver_kick(struct ntf_feed *f);
void ntf_deliver_kick_all(struct ntf_coll *c);
/* Reads the next replay page of f, or pauses it while the queue is full. */
void ntf_deliver_issue_replay(struct ntf_feed *f);
/* A replay read answered. */
void ntf_deliver_replay_done(struct ntf_hub *hub, struct ntf_query *q,
			     const struct ntf_log_result *res);
/* Every feed of c loses every subscription (reset): the log no longer holds what they missed. */
void ntf_deliver_reset_all(struct ntf_coll *c);
/* Removes filt from f and frees it; dup: it was a repeat, not counted. */
void ntf_deliver_drop_filter(struct ntf_feed *f, struct ntf_filter *filt, bool dup);
/* The same target is already subscribed on f. */
bool ntf_deliver_filter_is_dup(const struct ntf_feed *f, const struct ntf_filter *filt);
/* conn's plain (unfiltered) feed of c, or NULL. */
struct ntf_feed *ntf_deliver_conn_feed(struct ntf_conn *conn, const struct ntf_coll *c);
/* conn's filtered subscription named sid (a feed of its own), or NULL. */
struct ntf_feed *ntf_deliver_conn_view(struct ntf_conn *conn, const char *sid);
/* Ends a filtered subscription: uncounts it and destroys its feed (the collection may go too). */
void ntf_deliver_view_end(struct ntf_feed *f);
/* How filtered feed f sees ev (NTF_VIEW_SAME on a plain feed). */
enum ntf_view ntf_deliver_view(const struct ntf_feed *f, struct ntf_msg *ev);
bool ntf_deliver_feed_is_empty(const struct ntf_feed *f);
/* Unlinks f from its connection and frees it; the collection may go too. */
void ntf_deliver_feed_destroy(struct ntf_feed *f);

/* --- ntf_sync.c: log reads and the link ----------------------------------- */

/* Reads c's log from its head (or its tail) while its live events are held. */
void ntf_sync_start(struct ntf_hub *hub, struct ntf_coll *c);
/* Queues ev (a reference is taken) for ntf_hub_pump(); pauses Redis input when long. Returns 0 or -1. */
int ntf_sync_push(struct ntf_hub *hub, struct ntf_coll *c, struct ntf_msg *ev);
/* The inbound queue is short again: Redis input resumes, and so do the syncs waiting for room. */
void ntf_sync_resume(struct ntf_hub *hub);
/* A log read of c for feed f (NULL: a sync); counted in c->refs. NULL when out of memory. */
struct ntf_query *ntf_query_new(struct ntf_hub *hub, struct ntf_coll *c, struct ntf_feed *f);
/* Hands q to the Redis side; on refusal frees it. Returns 0 or -1. */
int ntf_query_start(struct ntf_hub *hub, struct ntf_query *q);
/* The answer tells that events after `after` were trimmed away unread. */
bool ntf_log_lost_after(const struct ntf_log_result *res, const struct tnd_seq *after);

#endif
