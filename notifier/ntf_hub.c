/*
 * ntf_hub: connections, client requests and events from Redis; see
 * ntf_hub.h. Delivery and replay are in ntf_deliver.c, the log syncs and
 * the Redis link state in ntf_sync.c; the structs all three share are in
 * ntf_hub_internal.h. Loop thread only.
 */
#include "ntf_hub_internal.h"

#include <stdlib.h>
#include <string.h>

#include "tnd_filter.h"
#include "tnd_log.h"
#include "tnd_utf8.h"

_Static_assert(NTF_FEED_SID_MAX == NTF_SID_MAX, "a feed holds any sid the protocol takes");

/* --- connections: queues and answers ------------------------------------- */

static void wake(struct ntf_conn *conn)
{
	if (conn->wake_pending)
		return;
	conn->wake_pending = true;
	conn->hub->ops.ws.wake(conn->hub->ops.ws.data, conn->handle, conn->close_code != 0);
}

/* Wants ntf_hub_pump() on a coming turn (once until it runs). */
static void hub_schedule(struct ntf_hub *hub)
{
	if (hub->pump_scheduled || !hub->in_count)
		return;
	hub->pump_scheduled = true;
	hub->ops.loop.schedule(hub->ops.loop.data);
}

/*
 * The watermarks of the intake (ntf_hub.h): half the caps and a quarter.
 * Between the two a connection stays what it was, so the pump fills a
 * queue by a quarter of the caps between two stops, not by one event.
 */
static bool conn_above_high(const struct ntf_conn *conn)
{
	const struct ntf_queue_caps *caps = &conn->hub->limits.queue;

	return conn->out.count >= caps->max_msgs / 2 || conn->out.bytes >= caps->max_bytes / 2;
}

static bool conn_below_low(const struct ntf_conn *conn)
{
	const struct ntf_queue_caps *caps = &conn->hub->limits.queue;

	return conn->out.count <= caps->max_msgs / 4 && conn->out.bytes <= caps->max_bytes / 4;
}

/* Clears conn's lagging mark (drained, or going). */
static void conn_unlag(struct ntf_conn *conn)
{
	if (conn->lagging) {
		conn->lagging = false;
		conn->hub->n_lagging--;
	}
}

/* The pump no longer waits for conn; the last holder gone, it runs again. */
static void conn_release(struct ntf_conn *conn)
{
	struct ntf_hub *hub = conn->hub;

	if (!conn->holding)
		return;
	conn->holding = false;
	if (--hub->n_holding == 0)
		hub_schedule(hub);
}

static void drop_pending(struct ntf_conn *conn)
{
	for (struct ntf_feed *f = conn->feeds; f; f = f->conn_next)
		ntf_queue_clear(&f->pending);
}

void ntf_hub_conn_fail(struct ntf_conn *conn, uint16_t code, const char *why)
{
	struct ntf_hub *hub = conn->hub;

	if (conn->close_code)
		return;
	conn->close_code = code;
	/* Nothing queued will be sent: free it now, so the close frame goes out first. */
	ntf_queue_clear(&conn->out);
	drop_pending(conn);
	conn_release(conn);
	conn_unlag(conn);
	if (code == NTF_CLOSE_SLOW_CONSUMER)
		hub->metrics.slow_consumer_closes++;
	if (code != NTF_CLOSE_GOING_AWAY)
		tnd_log_warn("conn %llu: closing with %u: %s", (unsigned long long)conn->id, code, why);
	conn->wake_pending = false; /* the close needs its own wake, even if a write one is pending */
	wake(conn);
}

/*
 * Queues msg on the connection (msg stays the caller's). A full queue is
 * a slow consumer: the connection closes with 4008. The pump stops before
 * a connection it waits for gets there (ntf_hub.h), so only a lagging one,
 * or one that keeps asking without reading, reaches the caps. Returns 0 or -1.
 */
int ntf_conn_push(struct ntf_conn *conn, struct ntf_msg *msg, const struct ntf_queue_caps *caps)
{
	bool was_empty = conn->out.count == 0;
	int rc;

	if (conn->close_code)
		return -1;
	if (!msg) {
		ntf_hub_conn_fail(conn, NTF_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	rc = ntf_queue_push(&conn->out, msg, caps);
	if (rc == NTF_QUEUE_FULL) {
		ntf_hub_conn_fail(conn, NTF_CLOSE_SLOW_CONSUMER, "slow consumer: outbound queue full");
		return -1;
	}
	if (rc < 0) {
		ntf_hub_conn_fail(conn, NTF_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	if (was_empty)
		conn->progress_tick = conn->hub->tick; /* the stall timer counts from here */
	if (!conn->backed && conn_above_high(conn)) {
		conn->backed = true;
		conn->hub->n_backed++;
		conn->backed_tick = conn->hub->tick;
	}
	wake(conn);
	return 0;
}

int ntf_conn_send(struct ntf_conn *conn, struct ntf_msg *msg)
{
	return ntf_conn_push(conn, msg, &conn->hub->limits.queue);
}

/* Sends a freshly built control message and drops the builder's reference. */
void ntf_conn_reply(struct ntf_conn *conn, struct ntf_msg *msg)
{
	ntf_conn_send(conn, msg);
	ntf_msg_unref(msg);
}

void ntf_conn_error(struct ntf_conn *conn, enum tnd_err err, const char *why)
{
	conn->hub->metrics.client_errors++;
	ntf_conn_reply(conn, ntf_proto_error(err, why));
}

/* Replay pages may overshoot the caps once: the next page waits for room. */
uint32_t ntf_hub_replay_page(const struct ntf_hub *hub)
{
	uint32_t page = hub->limits.queue.max_msgs / 4;

	if (page > NTF_REPLAY_PAGE)
		page = NTF_REPLAY_PAGE;
	return page ? page : 1;
}

bool ntf_conn_has_room(const struct ntf_conn *conn)
{
	const struct ntf_queue_caps *caps = &conn->hub->limits.queue;

	return conn->out.count + ntf_hub_replay_page(conn->hub) <= caps->max_msgs &&
	       conn->out.bytes <= caps->max_bytes / 2;
}

void ntf_hub_release_coll(struct ntf_hub *hub, struct ntf_coll *c)
{
	if (ntf_coll_unused(c)) {
		if (hub->ops.redis.watch)
			hub->ops.redis.watch(hub->ops.redis.data, c->name, c->name_len, false);
		ntf_subs_remove(&hub->subs, c);
		hub->metrics.collections = hub->subs.n_colls;
	}
}

/* The collection of a new subscription; a new one is announced to the Redis side. NULL: no memory. */
static struct ntf_coll *hub_coll_get(struct ntf_hub *hub, const char *name)
{
	uint32_t before = hub->subs.n_colls;
	struct ntf_coll *c = ntf_subs_get(&hub->subs, name, strlen(name));

	hub->metrics.collections = hub->subs.n_colls;
	if (c && hub->subs.n_colls != before && hub->ops.redis.watch)
		hub->ops.redis.watch(hub->ops.redis.data, c->name, c->name_len, true);
	return c;
}

/* --- requests ------------------------------------------------------------- */

/* An error answering req: echoes its collection, id and sid (SPEC 8). */
static void request_error(struct ntf_conn *conn, const struct ntf_request *req, enum tnd_err err,
			  const char *why)
{
	conn->hub->metrics.client_errors++;
	if (!req->collection[0]) {
		ntf_conn_reply(conn, ntf_proto_error(err, why));
		return;
	}
	ntf_conn_reply(conn, ntf_proto_error_for(err, why, req->collection, req->id, req->sid));
}

/*
 * subscribe with where and sid: a feed of its own (ntf_subs.h). A repeated
 * sid replaces that subscription: the old one ends without an answer, the
 * new one is acknowledged (and replays if asked to), so it counts once.
 */
static void hub_subscribe_view(struct ntf_conn *conn, struct ntf_request *req)
{
	struct ntf_hub *hub = conn->hub;
	struct ntf_feed *f = ntf_deliver_conn_view(conn, req->sid);
	struct ntf_filter *filt;
	struct ntf_coll *c;

	if (!ntf_access_may_subscribe(conn, req))
		return;
	if (f)
		ntf_deliver_view_end(f); /* before the lookup below: it may free the collection */
	if (conn->n_subs >= hub->limits.max_subs) {
		request_error(conn, req, TND_ERR_TOO_MANY_SUBSCRIPTIONS, NULL);
		return;
	}
	c = hub_coll_get(hub, req->collection);
	if (!c)
		goto oom;
	f = ntf_feed_new(c, conn);
	filt = f ? ntf_filter_new(NULL) : NULL;
	if (!filt) {
		if (f)
			ntf_feed_free(f);
		ntf_hub_release_coll(hub, c);
		goto oom;
	}
	f->conn_next = conn->feeds;
	conn->feeds = f;
	f->where = req->where;
	req->where = NULL;
	memcpy(f->sid, req->sid, sizeof(f->sid));
	f->own_only = ntf_access_own_only(conn, c->name);
	filt->has_since = req->has_since;
	filt->since = req->since;
	filt->coalesce = f->coalesce = req->coalesce;
	f->waiting = filt;
	conn->n_subs++;
	hub->metrics.subscriptions++;
	if (c->state == NTF_COLL_STALE)
		ntf_sync_start(hub, c);
	ntf_deliver_kick(f);
	return;
oom:
	request_error(conn, req, TND_ERR_INTERNAL, "out of memory");
}

static void hub_subscribe(struct ntf_conn *conn, const struct ntf_request *req)
{
	struct ntf_hub *hub = conn->hub;
	struct ntf_coll *c;
	struct ntf_feed *f;
	struct ntf_filter *filt, **tail;

	if (!ntf_access_may_subscribe(conn, req))
		return;
	c = hub_coll_get(hub, req->collection);
	if (!c)
		goto oom;
	f = ntf_deliver_conn_feed(conn, c);
	if (!f) {
		f = ntf_feed_new(c, conn);
		if (!f) {
			ntf_hub_release_coll(hub, c);
			goto oom;
		}
		f->conn_next = conn->feeds;
		conn->feeds = f;
	}
	f->own_only = ntf_access_own_only(conn, c->name);
	filt = ntf_filter_new(req->id);
	if (!filt)
		goto oom_feed;
	filt->has_since = req->has_since;
	filt->since = req->since;
	filt->coalesce = req->coalesce;
	f->coalesce |= req->coalesce;
	for (tail = &f->waiting; *tail; tail = &(*tail)->next)
		;
	*tail = filt;
	if (!ntf_deliver_filter_is_dup(f, filt)) {
		if (conn->n_subs >= hub->limits.max_subs) {
			ntf_filter_unlink(&f->waiting, filt);
			free(filt);
			request_error(conn, req, TND_ERR_TOO_MANY_SUBSCRIPTIONS, NULL);
			goto drop_empty;
		}
		conn->n_subs++;
		hub->metrics.subscriptions++;
	}
	if (c->state == NTF_COLL_STALE)
		ntf_sync_start(hub, c);
	ntf_deliver_kick(f);
	return;
oom_feed:
	request_error(conn, req, TND_ERR_INTERNAL, "out of memory");
drop_empty:
	if (ntf_deliver_feed_is_empty(f))
		ntf_deliver_feed_destroy(f);
	return;
oom:
	request_error(conn, req, TND_ERR_INTERNAL, "out of memory");
}

static void hub_unsubscribe(struct ntf_conn *conn, const struct ntf_request *req)
{
	struct ntf_coll *c = ntf_subs_find(&conn->hub->subs, req->collection, strlen(req->collection));
	struct ntf_feed *f = c ? ntf_deliver_conn_feed(conn, c) : NULL;
	struct ntf_filter *filt;
	bool found = false;

	if (req->sid[0]) {
		/* A filtered subscription, by its name (of this collection only). */
		f = ntf_deliver_conn_view(conn, req->sid);
		if (f && !strcmp(f->coll->name, req->collection))
			ntf_deliver_view_end(f);
		ntf_conn_reply(conn, ntf_proto_unsubscribed(req->collection, NULL, req->sid));
		return;
	}
	while (f && ((filt = ntf_filter_find(f->filters, req->id)) != NULL ||
		     (filt = ntf_filter_find(f->waiting, req->id)) != NULL)) {
		/* Only the last copy of a repeated subscription is counted. */
		ntf_deliver_drop_filter(f, filt, ntf_deliver_filter_is_dup(f, filt));
		found = true;
	}
	ntf_conn_reply(conn, ntf_proto_unsubscribed(req->collection, req->id, NULL));
	if (!found || !f)
		return;
	if (ntf_deliver_feed_is_empty(f))
		ntf_deliver_feed_destroy(f);
	else
		ntf_deliver_kick(f);
}

int ntf_hub_conn_message(struct ntf_conn *conn, const char *buf, size_t len)
{
	struct ntf_request req;
	enum tnd_err err;
	const char *why;

	if (conn->close_code)
		return 0;
	if (len > NTF_CLIENT_MSG_MAX)
		return NTF_CLOSE_TOO_BIG;
	/*
	 * RFC 6455 8.1 / SPEC 5: a text message that is not UTF-8 fails the
	 * connection with 1007. Checked on the whole message, so a character
	 * split across fragments is fine (see ntf_ws.c for why not lws's own check).
	 */
	if (!tnd_utf8_valid(buf, len, NULL)) {
		tnd_log_info("conn %llu: a text message that is not UTF-8", (unsigned long long)conn->id);
		return NTF_CLOSE_INVALID_PAYLOAD;
	}
	if (ntf_proto_parse(buf, len, &req, &err, &why) < 0) {
		request_error(conn, &req, err, why);
		ntf_request_release(&req);
		return 0;
	}
	switch (req.op) {
	case NTF_OP_SUBSCRIBE:
		if (req.where)
			hub_subscribe_view(conn, &req);
		else
			hub_subscribe(conn, &req);
		break;
	case NTF_OP_UNSUBSCRIBE:
		hub_unsubscribe(conn, &req);
		break;
	case NTF_OP_AUTH:
		ntf_access_auth_op(conn, &req);
		break;
	case NTF_OP_PING:
		ntf_conn_reply(conn, ntf_proto_pong());
		break;
	default:
		break;
	}
	ntf_request_release(&req);
	return 0;
}

/* --- connections ---------------------------------------------------------- */

struct ntf_conn *ntf_hub_conn_new(struct ntf_hub *hub, void *handle)
{
	struct ntf_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return NULL;
	conn->hub = hub;
	conn->handle = handle;
	conn->id = ++hub->next_conn_id;
	conn->next = hub->conns;
	if (hub->conns)
		hub->conns->prev = conn;
	hub->conns = conn;
	hub->metrics.connections++;
	hub->metrics.connections_accepted++;
	return conn;
}

void ntf_hub_conn_free(struct ntf_conn *conn)
{
	struct ntf_hub *hub = conn->hub;

	conn_release(conn);
	conn_unlag(conn);
	if (conn->backed)
		hub->n_backed--;
	while (conn->feeds)
		ntf_deliver_feed_destroy(conn->feeds);
	hub->metrics.subscriptions -= conn->n_subs;
	ntf_queue_clear(&conn->out);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		hub->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	hub->metrics.connections--;
	free(conn->auth);
	free(conn);
}

struct ntf_msg *ntf_hub_conn_next(struct ntf_conn *conn)
{
	conn->wake_pending = false;
	return ntf_queue_peek(&conn->out);
}

bool ntf_hub_conn_sent(struct ntf_conn *conn)
{
	struct ntf_msg *m = ntf_queue_peek(&conn->out);

	if (m) {
		conn->hub->metrics.frames_out++;
		conn->hub->metrics.bytes_out += m->len;
		ntf_queue_pop(&conn->out);
		conn->progress_tick = conn->hub->tick;
		conn->sent_in_tick++;
		if (conn->backed && conn_below_low(conn)) {
			conn->backed = false;
			conn->hub->n_backed--;
			conn_unlag(conn);
			conn_release(conn);
		}
	}
	if (conn->n_paused && ntf_conn_has_room(conn)) {
		for (struct ntf_feed *f = conn->feeds; f; f = f->conn_next) {
			if (f->replay_paused) {
				f->replay_paused = false;
				conn->n_paused--;
				ntf_deliver_issue_replay(f);
			}
		}
	}
	if (conn->out.count) {
		conn->wake_pending = true;
		return true;
	}
	return false;
}

void ntf_hub_shutdown(struct ntf_hub *hub)
{
	hub->shutting_down = true;
	for (struct ntf_conn *conn = hub->conns; conn; conn = conn->next)
		ntf_hub_conn_fail(conn, NTF_CLOSE_GOING_AWAY, "server shutting down");
}

/* --- events from Redis ---------------------------------------------------- */

void ntf_hub_publish(struct ntf_hub *hub, const char *payload, size_t len)
{
	struct ntf_event_meta meta;
	struct ntf_coll *c;
	struct ntf_msg *ev = NULL;
	const char *seq, *body;
	size_t seq_len, body_len;
	bool malformed = true;

	hub->metrics.events_in++;
	if (ntf_proto_split_publish(payload, len, &seq, &seq_len, &body, &body_len) == 0)
		ev = ntf_proto_event(seq, seq_len, body, body_len, &meta, &malformed);
	if (!ev) {
		if (malformed) {
			hub->metrics.events_malformed++;
			tnd_log_warn("ignoring a published message that is not an event (%zu bytes)", len);
		} else {
			tnd_log_error("out of memory: an event was dropped");
		}
		return;
	}
	c = ntf_subs_find(&hub->subs, meta.collection, meta.collection_len);
	if (!c) {
		hub->metrics.events_ignored++;
	} else if (c->state == NTF_COLL_LIVE) {
		if (ntf_sync_push(hub, c, ev) < 0)
			tnd_log_error("collection %s: out of memory: an event was dropped", c->name);
	} else if (!c->pending_lost) {
		struct ntf_queue_caps caps = {NTF_COLL_PENDING_MAX, (size_t)-1};

		if (ntf_queue_push(&c->pending, ev, &caps) < 0)
			c->pending_lost = true; /* the log still has it: the sync reads again */
	}
	ntf_msg_unref(ev);
}

/*
 * Whether the pump must stop before fanning out an event of c: a
 * subscriber is backed up and not lagging. Such subscribers are marked
 * holding and counted in hub->n_holding; each releases the pump when it
 * drains, lags or goes (conn_release). Walks c's feeds only while some
 * connection is backed up (hub->n_backed), so an event costs one walk,
 * the fan-out's, whenever no queue is filling.
 */
static bool hub_hold(struct ntf_hub *hub, struct ntf_coll *c)
{
	if (!hub->n_backed)
		return false; /* the usual case: no walk before the fan-out's own */
	for (struct ntf_feed *f = c->feeds; f; f = f->coll_next) {
		struct ntf_conn *conn = f->conn;

		if (conn->backed && !conn->lagging && !conn->close_code && !conn->holding) {
			conn->holding = true;
			hub->n_holding++;
		}
	}
	if (!hub->n_holding)
		return false;
	hub->metrics.intake_pauses++;
	return true;
}

bool ntf_hub_pump(struct ntf_hub *hub)
{
	uint32_t done = 0;

	hub->pump_scheduled = false;
	if (hub->n_holding)
		return false; /* the last holder to drain, lag or go schedules it */
	while (hub->in_count && done < NTF_FANOUT_BUDGET) {
		struct ntf_inbound_item it = hub->in[hub->in_head];
		struct ntf_coll *c = it.coll;

		/* Rule 1: once per collection, in seq order. */
		if (!c->head_known || ntf_seq_gt(&it.ev->seq, &c->head)) {
			struct ntf_feed *f, *next;

			/* Held: the event stays first in the queue, nothing of it was sent. */
			if (hub_hold(hub, c))
				break;
			c->head = it.ev->seq;
			c->head_known = true;
			for (f = c->feeds; f; f = next) {
				next = f->coll_next;
				ntf_deliver_offer(f, it.ev);
			}
			done += c->n_feeds + 1;
		}
		hub->in_head = (hub->in_head + 1) % hub->in_cap;
		hub->in_count--;
		hub->in_bytes -= it.ev->len;
		ntf_msg_unref(it.ev);
		c->refs--;
		ntf_hub_release_coll(hub, c);
	}
	hub->metrics.inbound_queue = hub->in_count;
	hub->metrics.intake_held = hub->n_holding != 0;
	if (hub->input_paused && hub->in_count < NTF_INBOUND_LOW &&
	    hub->in_bytes < NTF_INBOUND_LOW_BYTES)
		ntf_sync_resume(hub);
	if (hub->in_count == 0) {
		free(hub->in); /* a storm is over: give the ring back */
		hub->in = NULL;
		hub->in_cap = hub->in_head = 0;
		return false;
	}
	if (hub->n_holding)
		return false;
	hub->pump_scheduled = true;
	return true;
}

/* Backed up, not marked lagging, for at least ticks whole ticks. */
static bool conn_backed_for(const struct ntf_conn *conn, uint32_t ticks)
{
	return conn->backed && !conn->lagging && !conn->close_code &&
	       conn->hub->tick - conn->backed_tick > ticks;
}

/*
 * Every NTF_TICK_MS. The stall timer: frames waited and the socket took
 * nothing for more than stall_ticks ticks: 4008.
 *
 * The lag marks. A backed-up connection that took nothing for a whole
 * tick while frames waited, or that stayed backed up for a whole tick and
 * is one of a few so stuck (at most 1 in NTF_LAG_SHARE connections) while the
 * others drain, is not held back by a notifier too slow to write: the
 * intake stops waiting for it. At most 1 in
 * NTF_LAG_SHARE connections (at least one) lag at a time, so when most
 * connections are stuck, the notifier is the bottleneck and keeps waiting
 * for most of them; a lagging connection is then fed only as fast as the
 * holders drain, which a reader keeps up with (and drains out of the mark).
 */
void ntf_hub_tick(struct ntf_hub *hub)
{
	uint64_t n_stuck = 0, max_lagging = hub->metrics.connections / NTF_LAG_SHARE;
	bool few;

	hub->tick++;
	for (struct ntf_conn *conn = hub->n_backed ? hub->conns : NULL; conn; conn = conn->next)
		n_stuck += conn_backed_for(conn, 1); /* only a backed-up connection counts */
	few = n_stuck * NTF_LAG_SHARE <= hub->metrics.connections;
	if (max_lagging == 0)
		max_lagging = 1;
	for (struct ntf_conn *conn = hub->conns; conn; conn = conn->next) {
		uint32_t sent = conn->sent_in_tick;

		conn->sent_in_tick = 0;
		if (conn->close_code)
			continue;
		if (hub->limits.stall_ticks && conn->out.count &&
		    hub->tick - conn->progress_tick > hub->limits.stall_ticks) {
			hub->metrics.stall_closes++;
			ntf_hub_conn_fail(conn, NTF_CLOSE_SLOW_CONSUMER,
					  "slow consumer: the socket took nothing while frames waited");
			continue;
		}
		if (hub->n_lagging < max_lagging && conn_backed_for(conn, 0) &&
		    (hub->tick - conn->progress_tick > 1 || (few && conn_backed_for(conn, 1)))) {
			conn->lagging = true;
			hub->n_lagging++;
			hub->metrics.lagging_marks++;
			tnd_log_info("conn %llu: lagging: %u frames queued, %u written in the last "
				     "%d ms; fed up to the caps without holding the intake",
				     (unsigned long long)conn->id, conn->out.count, sent, NTF_TICK_MS);
			conn_release(conn);
		}
	}
	hub->metrics.intake_held = hub->n_holding != 0;
}

/* --- setup and accessors -------------------------------------------------- */

int ntf_hub_init(struct ntf_hub *hub, const struct ntf_hub_limits *limits,
		 const struct ntf_hub_ops *ops)
{
	memset(hub, 0, sizeof(*hub));
	hub->limits = *limits;
	hub->ops = *ops;
	return ntf_subs_init(&hub->subs);
}

void ntf_hub_destroy(struct ntf_hub *hub)
{
	while (hub->conns)
		ntf_hub_conn_free(hub->conns);
	while (hub->in_count) {
		struct ntf_inbound_item it = hub->in[hub->in_head];

		hub->in_head = (hub->in_head + 1) % hub->in_cap;
		hub->in_count--;
		hub->in_bytes -= it.ev->len;
		ntf_msg_unref(it.ev);
		it.coll->refs--;
	}
	free(hub->in);
	ntf_subs_destroy(&hub->subs);
	free(hub->auth_cache);
	free(hub->claims);
}

struct ntf_hub *ntf_hub_new(const struct ntf_hub_limits *limits, const struct ntf_hub_ops *ops)
{
	struct ntf_hub *hub = malloc(sizeof(*hub));

	if (!hub)
		return NULL;
	if (ntf_hub_init(hub, limits, ops) < 0) {
		free(hub);
		return NULL;
	}
	return hub;
}

void ntf_hub_free(struct ntf_hub *hub)
{
	if (!hub)
		return;
	ntf_hub_destroy(hub);
	free(hub);
}

struct ntf_metrics *ntf_hub_metrics(struct ntf_hub *hub)
{
	return &hub->metrics;
}

bool ntf_hub_link_is_up(const struct ntf_hub *hub)
{
	return hub->link_up && (!hub->ops.redis.is_up || hub->ops.redis.is_up(hub->ops.redis.data));
}

bool ntf_hub_is_shutting_down(const struct ntf_hub *hub)
{
	return hub->shutting_down;
}

uint64_t ntf_conn_id(const struct ntf_conn *conn)
{
	return conn->id;
}

uint16_t ntf_conn_close_code(const struct ntf_conn *conn)
{
	return conn->close_code;
}

uint32_t ntf_conn_queued(const struct ntf_conn *conn)
{
	return conn->out.count;
}
