/*
 * ntf_hub: the notifier's core. It keeps the connections, their bounded
 * outbound queues and subscriptions (ntf_subs), turns events from Redis
 * into frames for every matching connection, and runs the two kinds of
 * log reads that make delivery gap-free:
 *
 *  - a collection sync: after a collection gets its first local client,
 *    and after every Redis reconnect, the collection's log is read from
 *    the last event fanned out (or just its tail) while live events are
 *    held; then the held events follow, and duplicates (seq <= head) are
 *    dropped. So nothing written while the link was down is missed.
 *  - a feed replay: a subscription with `since` reads the log from since
 *    to the tail T (the ack's seq), page by page at the client's pace,
 *    while the connection's live events for that collection are held;
 *    then the held events with seq > what was sent follow.
 *
 * The hub does no I/O itself: the WebSocket side and the Redis side plug
 * in through struct ntf_hub_ops, so it can be tested with fakes. Its
 * structs are private (ntf_hub_internal.h); the code is in ntf_hub.c
 * (connections, requests, events in), ntf_deliver.c (delivery and replay)
 * and ntf_sync.c (log syncs and the Redis link state).
 *
 * Fan-out work per loop turn is bounded (NTF_FANOUT_BUDGET deliveries,
 * finishing the event in hand): events read from Redis wait in an inbound
 * queue that ntf_hub_pump() drains, and reading from Redis pauses while
 * that queue is long. Runs on the loop thread only.
 *
 * Overload degrades, it does not disconnect (SPEC 5, 4008). When the
 * notifier cannot write as fast as events arrive, it slows its intake
 * instead of overrunning its clients' queues:
 *
 *  - a connection whose outbound queue passes the high watermark (half
 *    the caps) is "backed up" until it drains to the low one (a quarter);
 *  - the pump stops at an event while one of its subscribers is backed
 *    up (it "holds" the intake) and resumes when the last holder drains;
 *    the inbound queue grows meanwhile, Redis input pauses, and if Redis
 *    then cuts the subscriber at its output-buffer limit, the reconnect's
 *    log sync (paced by the same inbound queue) fills the gap, exactly
 *    once and in seq order;
 *  - the intake does not wait for a connection that does not drain while
 *    others do. ntf_hub_tick(), every NTF_TICK_MS, marks "lagging" a
 *    backed-up connection that took no bytes for a whole tick while frames
 *    waited, or that stayed backed up for a whole tick and is one of at
 *    most a quarter of the connections so stuck; at most a quarter of the connections (at least one) lag at a
 *    time, so the intake keeps waiting for most of them when they are all
 *    behind. A lagging connection is fed past the watermark; at the caps it
 *    is closed with 4008; draining to the low watermark clears the mark;
 *  - a connection whose socket took no bytes for limits.stall_ticks
 *    ticks while frames waited is closed with 4008 by the tick.
 *
 * So a client that keeps reading is never closed because the notifier is
 * slow: when every client is behind, none of them is lagging, the caps
 * are never reached, and the intake waits.
 */
#ifndef NTF_HUB_H
#define NTF_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntf_metrics.h"
#include "ntf_msg.h"
#include "ntf_proto.h"
#include "ntf_queue.h"
#include "ntf_subs.h"

#define NTF_FANOUT_BUDGET 20000    /* deliveries per pump, give or take one event */
#define NTF_INBOUND_HIGH 20000     /* pause reading Redis above this many queued events */
#define NTF_INBOUND_LOW 5000       /* ... and resume below this */
#define NTF_INBOUND_HIGH_BYTES (64u << 20) /* ... or above this many payload bytes */
#define NTF_INBOUND_LOW_BYTES (16u << 20)  /* ... resuming below this too */
#define NTF_TICK_MS 500            /* the hub's clock: ntf_hub_tick() this often */
#define NTF_LAG_SHARE 4            /* at most 1 in this many connections lag (ntf_hub_tick) */
#define NTF_REPLAY_PAGE 200        /* log entries per replay read */
#define NTF_SYNC_PAGE 1000         /* log entries per sync read */
#define NTF_COLL_PENDING_MAX 100000 /* live events held per collection during a sync */

/* Close codes of SPEC section 5. */
enum {
	NTF_CLOSE_GOING_AWAY = 1001,
	NTF_CLOSE_INVALID_PAYLOAD = 1007, /* a text message that is not UTF-8 */
	NTF_CLOSE_POLICY = 1008,
	NTF_CLOSE_TOO_BIG = 1009,
	NTF_CLOSE_INTERNAL = 1011,
	NTF_CLOSE_TOKEN_EXPIRED = 4001,
	NTF_CLOSE_SLOW_CONSUMER = 4008,
};

struct ntf_hub;  /* private: ntf_hub_internal.h */
struct ntf_conn; /* one WebSocket connection, as the hub sees it */

/*
 * A log read in flight. The hub allocates it; the Redis side reads the
 * fields, runs the read and calls ntf_hub_query_done() exactly once.
 */
struct ntf_query {
	struct ntf_hub *hub;
	struct ntf_coll *coll;        /* counted in coll->refs until done */
	struct ntf_feed *feed;        /* replay: the feed; NULL for a sync or once the feed is gone */
	bool is_sync;
	uint64_t link_gen;
	bool has_since;               /* false: only the tail is wanted */
	struct tnd_seq since;         /* exclusive */
	bool check_since;             /* a client's since: report whether the log knows it */
	bool has_end;                 /* false: up to the tail */
	struct tnd_seq end;           /* inclusive */
	uint32_t count;
};

/* What a log read found. Everything is borrowed for the call. */
struct ntf_log_result {
	bool ok;                      /* false: the read failed (link lost) */
	struct tnd_seq tail;          /* last id ever added ("0-0": no log) */
	bool trimmed;                 /* entries were trimmed away (entries-added > length) */
	struct tnd_seq first;         /* first id kept (the tail when the log is empty) */
	/*
	 * check_since only: since is neither 0-0, nor the last id generated,
	 * nor an entry the log holds (a future seq, one from before a restored
	 * backup, a lost write). Decided in the same atomic read as the
	 * entries, so no write can slip in between. No entries are read then.
	 */
	bool since_unknown;
	struct ntf_msg **events;      /* the entries after since, as event frames */
	size_t n_events;
	size_t n_entries;             /* entries read, well-formed or not */
	struct tnd_seq last_entry;    /* id of the last entry read */
};

/*
 * The hub talks to the rest of the daemon through these, one table per
 * side, each with its own data pointer (as hiredis adapters set
 * ac->ev.data), so each side's functions plug in as they are.
 */
struct ntf_hub_ops {
	struct {
		void *data;
		/* Wants a writeable callback for the connection: to write, or to close it. */
		void (*wake)(void *data, void *handle, bool closing);
		/*
		 * Arms the connection's one timer (replacing the previous) to fire
		 * in usecs: then the transport calls ntf_hub_conn_timer(). Optional.
		 */
		void (*set_timer)(void *data, void *handle, long long usecs);
	} ws;
	struct {
		void *data;
		/* Starts a read; 0 = ntf_hub_query_done() will follow, -1 = link down (it will not). */
		int (*read_log)(void *data, struct ntf_query *q);
		/* Stops / resumes reading live events from Redis. */
		void (*pause_input)(void *data, bool pause);
		/*
		 * Optional (NULL: every collection is heard anyway, as with one
		 * PSUBSCRIBE): collection[0..len) got its first local client
		 * (on) or lost its last (off), so its channel is wanted or not.
		 */
		void (*watch)(void *data, const char *collection, size_t len, bool on);
		/* Optional: false while the Redis side cannot hear every watched collection. */
		bool (*is_up)(void *data);
	} redis;
	struct {
		void *data;
		/* Wants ntf_hub_pump() called on a coming loop turn. */
		void (*schedule)(void *data);
	} loop;
};

struct ntf_hub_limits {
	uint32_t max_subs;            /* per connection */
	struct ntf_queue_caps queue;  /* per connection outbound, and per held feed */
	uint32_t stall_ticks;         /* 4008 after this many ticks without a write while frames wait; 0 = never */
};

/* A new hub (the caller frees it with ntf_hub_free), or NULL when out of memory. ops are copied. */
struct ntf_hub *ntf_hub_new(const struct ntf_hub_limits *limits, const struct ntf_hub_ops *ops);
/* Frees everything; call after every connection was freed and every query done. NULL is a no-op. */
void ntf_hub_free(struct ntf_hub *hub);

/* The counters /metrics shows; the transports count their own events in it too. */
struct ntf_metrics *ntf_hub_metrics(struct ntf_hub *hub);
/* Redis is connected and subscribed. */
bool ntf_hub_link_is_up(const struct ntf_hub *hub);
/* ntf_hub_shutdown() was called. */
bool ntf_hub_is_shutting_down(const struct ntf_hub *hub);

/*
 * Auth (SPEC 6): with a key configured (auth->mode != TND_AUTH_OFF) a
 * connection needs a valid token to subscribe. auth is borrowed for the
 * hub's life. Returns 0, or -1 when out of memory.
 */
struct tnd_auth;
int ntf_hub_set_auth(struct ntf_hub *hub, const struct tnd_auth *auth);
bool ntf_hub_auth_on(const struct ntf_hub *hub);
/*
 * Verifies token[0..len) (an upgrade's access_token) through the hub's
 * token cache, so the same token installed right after costs no second
 * verification. 0 (also when auth is off), or -1 with the reason in why.
 */
int ntf_hub_check_token(struct ntf_hub *hub, const char *token, size_t len, char *why,
			size_t whylen);
/*
 * Gives conn the token (the upgrade's access_token) without an answer.
 * 0 (also when auth is off), or -1 when refused (the transport refused
 * the upgrade already, so this is a race with the token's expiry).
 */
int ntf_hub_conn_authenticate(struct ntf_conn *conn, const char *token, size_t len);
/* The connection's timer fired: a token past exp + leeway closes it with 4001. */
void ntf_hub_conn_timer(struct ntf_conn *conn);

/* The connection's number, for log lines. */
uint64_t ntf_conn_id(const struct ntf_conn *conn);
/* Nonzero once the connection is closing: the close code to send. */
uint16_t ntf_conn_close_code(const struct ntf_conn *conn);
/* Frames waiting in the connection's outbound queue. */
uint32_t ntf_conn_queued(const struct ntf_conn *conn);

/* A new connection (borrowed by the transport until ntf_hub_conn_free). NULL when out of memory. */
struct ntf_conn *ntf_hub_conn_new(struct ntf_hub *hub, void *handle);
/* The transport closed it: drops its subscriptions and queue and frees it. */
void ntf_hub_conn_free(struct ntf_conn *conn);
/*
 * One complete client message (a whole text message, reassembled).
 * Answers go to the connection's queue. Returns 0, or a close code when
 * the connection must close now: NTF_CLOSE_TOO_BIG past
 * NTF_CLIENT_MSG_MAX, NTF_CLOSE_INVALID_PAYLOAD when it is not UTF-8.
 */
int ntf_hub_conn_message(struct ntf_conn *conn, const char *buf, size_t len);
/* The next frame to write (borrowed until ntf_hub_conn_sent), or NULL. */
struct ntf_msg *ntf_hub_conn_next(struct ntf_conn *conn);
/* That frame was written: pops it and resumes replays waiting for room. Returns true if more are queued. */
bool ntf_hub_conn_sent(struct ntf_conn *conn);
/* Closes the connection with code (deferred through wake); logs why. */
void ntf_hub_conn_fail(struct ntf_conn *conn, uint16_t code, const char *why);

/* A message from the pub/sub channel (the payload is copied). */
void ntf_hub_publish(struct ntf_hub *hub, const char *payload, size_t len);
/* Redis is connected and subscribed: syncs every collection. */
void ntf_hub_link_up(struct ntf_hub *hub);
/* Redis is gone: collections hold their state until the next link_up. */
void ntf_hub_link_down(struct ntf_hub *hub);
/*
 * The Redis side lost collection[0..len)'s channel and has it again (a
 * cluster slot move or failover): reads its log from the last event fanned
 * out while its live events are held, as after link_up, for that one
 * collection. Returns false when nothing started (no such collection, the
 * link is down, or a sync read of it is in flight: ask again once it ended).
 */
bool ntf_hub_coll_resync(struct ntf_hub *hub, const char *collection, size_t len);
/* A read ended; frees q. res->events are borrowed. */
void ntf_hub_query_done(struct ntf_query *q, const struct ntf_log_result *res);
/*
 * Fans out queued events, about NTF_FANOUT_BUDGET deliveries. Returns true
 * when it wants to run again on the next turn; false when the queue is
 * empty or the intake is held (a drain or the tick schedules it again).
 */
bool ntf_hub_pump(struct ntf_hub *hub);
/* Every NTF_TICK_MS: the stall timer (4008) and the lagging marks (see above). */
void ntf_hub_tick(struct ntf_hub *hub);
/* SIGTERM: every connection closes with 1001. */
void ntf_hub_shutdown(struct ntf_hub *hub);

#endif
