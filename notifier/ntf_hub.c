/*
 * ntf_hub: see ntf_hub.h. Ordering rules, in one place:
 *
 *  1. Per collection, events are fanned out in seq order and at most
 *     once: coll->head is the last seq fanned out, anything <= head (a
 *     live copy of an event a sync already read, or the reverse) is
 *     dropped.
 *  2. Per feed (one connection, one collection), events are sent in seq
 *     order: feed->sent is the highest seq sent, live events <= sent are
 *     dropped. The one exception is a replay reaching below sent: it may
 *     send an older event that no live subscription of this connection
 *     delivered (a new document subscription asking for its history).
 *  3. While a feed replays, its live events wait in feed->pending and
 *     follow the replay, so the client sees the log part, then the live
 *     part, with the duplicate overlap removed by rule 2.
 *  4. The log reads for a collection and for a replay are issued only
 *     while the pattern subscription is active (link up), so every event
 *     written after a read is also heard live: no gap between the two.
 */
#include "ntf_hub.h"

#include <stdlib.h>
#include <string.h>

#include "tnd_log.h"
#include "tnd_utf8.h"

/* --- small helpers ------------------------------------------------------ */

static bool seq_gt(const struct tnd_seq *a, const struct tnd_seq *b)
{
	return tnd_seq_cmp(a, b) > 0;
}

static void wake(struct ntf_conn *conn)
{
	if (conn->wake_pending)
		return;
	conn->wake_pending = true;
	conn->hub->ops.wake(conn->hub->ops.data, conn->handle, conn->close_code != 0);
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
	if (code == NTF_CLOSE_SLOW_CONSUMER)
		hub->metrics.slow_consumer_closes++;
	if (code != NTF_CLOSE_GOING_AWAY)
		tnd_log_warn("conn %llu: closing with %u: %s", (unsigned long long)conn->id, code, why);
	conn->wake_pending = false; /* the close needs its own wake, even if a write one is pending */
	wake(conn);
}

/*
 * Queues msg on the connection (msg stays the caller's). A full queue is
 * a slow consumer: the connection closes with 4008. Returns 0 or -1.
 */
static int conn_push(struct ntf_conn *conn, struct ntf_msg *msg, const struct ntf_queue_caps *caps)
{
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
	wake(conn);
	return 0;
}

static int conn_send(struct ntf_conn *conn, struct ntf_msg *msg)
{
	return conn_push(conn, msg, &conn->hub->limits.queue);
}

/* Sends a freshly built control message and drops the builder's reference. */
static void conn_reply(struct ntf_conn *conn, struct ntf_msg *msg)
{
	conn_send(conn, msg);
	ntf_msg_unref(msg);
}

static void conn_error(struct ntf_conn *conn, enum tnd_err err, const char *why)
{
	conn->hub->metrics.client_errors++;
	conn_reply(conn, ntf_proto_error(err, why));
}

/* Replay pages may overshoot the caps once: the next page waits for room. */
static uint32_t replay_page(const struct ntf_hub *hub)
{
	uint32_t page = hub->limits.queue.max_msgs / 4;

	if (page > NTF_REPLAY_PAGE)
		page = NTF_REPLAY_PAGE;
	return page ? page : 1;
}

static bool conn_has_room(const struct ntf_conn *conn)
{
	const struct ntf_queue_caps *caps = &conn->hub->limits.queue;

	return conn->out.count + replay_page(conn->hub) <= caps->max_msgs &&
	       conn->out.bytes <= caps->max_bytes / 2;
}

static void coll_maybe_free(struct ntf_hub *hub, struct ntf_coll *c)
{
	if (ntf_coll_unused(c)) {
		ntf_subs_remove(&hub->subs, c);
		hub->metrics.collections = hub->subs.n_colls;
	}
}

/* --- queries -------------------------------------------------------------- */

static struct ntf_query *query_new(struct ntf_hub *hub, struct ntf_coll *c, struct ntf_feed *f)
{
	struct ntf_query *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->hub = hub;
	q->coll = c;
	q->feed = f;
	q->is_sync = !f;
	q->link_gen = hub->link_gen;
	c->refs++;
	return q;
}

/* Hands q to the Redis side; on refusal frees it. Returns 0 or -1. */
static int query_start(struct ntf_hub *hub, struct ntf_query *q)
{
	if (hub->ops.read_log(hub->ops.data, q) == 0)
		return 0;
	q->coll->refs--;
	free(q);
	return -1;
}

/* A read answer tells that events after `after` were trimmed away unread. */
static bool log_lost_after(const struct ntf_log_result *res, const struct tnd_seq *after)
{
	return res->trimmed && tnd_seq_cmp(after, &res->first) < 0;
}

/* --- delivery ------------------------------------------------------------- */

/* Rule 2: live (or held) event to a feed that is not replaying. */
static void feed_deliver(struct ntf_feed *f, struct ntf_msg *ev)
{
	if (f->sent_any && !seq_gt(&ev->seq, &f->sent))
		return;
	if (!ntf_feed_live_match(f, NULL, ev))
		return;
	if (conn_send(f->conn, ev) == 0) {
		f->sent = ev->seq;
		f->sent_any = true;
	}
}

static void feed_offer(struct ntf_feed *f, struct ntf_msg *ev)
{
	struct ntf_conn *conn = f->conn;

	if (conn->close_code)
		return;
	if (!f->replaying) {
		feed_deliver(f, ev);
		return;
	}
	/* Rule 3: held until the replay is over, under the same caps as the queue. */
	if (ntf_queue_push(&f->pending, ev, &conn->hub->limits.queue) < 0)
		ntf_hub_conn_fail(conn, NTF_CLOSE_SLOW_CONSUMER, "slow consumer: events held during replay");
}

/* One log entry of the replay of filter r on feed f. */
static void feed_replay_entry(struct ntf_feed *f, struct ntf_filter *r, struct ntf_msg *ev)
{
	struct ntf_hub *hub = f->conn->hub;
	struct ntf_queue_caps caps = {hub->limits.queue.max_msgs + replay_page(hub),
				      hub->limits.queue.max_bytes * 2};

	if (!f->sent_any || seq_gt(&ev->seq, &f->sent)) {
		/* Ahead of the feed: also the other subscriptions' due events, or rule 2 would drop them. */
		if (!ntf_filter_selects(r, ev) && !ntf_feed_live_match(f, r, ev))
			return;
		if (conn_push(f->conn, ev, &caps) == 0) {
			f->sent = ev->seq;
			f->sent_any = true;
			hub->metrics.replayed_events++;
		}
		return;
	}
	/* Behind the feed: only what no live subscription of this connection sent already. */
	if (ntf_filter_selects(r, ev) && !ntf_feed_live_match(f, r, ev) &&
	    conn_push(f->conn, ev, &caps) == 0)
		hub->metrics.replayed_events++;
}

static void feed_kick(struct ntf_feed *f);

/* Detaches a feed's read in flight: its answer will be ignored. */
static void feed_cancel_query(struct ntf_feed *f)
{
	if (f->query) {
		f->query->feed = NULL;
		f->query = NULL;
	}
	if (f->replay_paused) {
		f->replay_paused = false;
		f->conn->n_paused--;
	}
}

/* The replay is over (done, reset or cancelled): held events follow. */
static void feed_end_replay(struct ntf_feed *f)
{
	struct ntf_msg *ev;

	feed_cancel_query(f);
	f->replaying = NULL;
	while ((ev = ntf_queue_take(&f->pending)) != NULL) {
		feed_deliver(f, ev);
		ntf_msg_unref(ev);
	}
}

static void feed_issue_replay(struct ntf_feed *f)
{
	struct ntf_hub *hub = f->conn->hub;
	struct ntf_filter *r = f->replaying;
	struct ntf_query *q;

	if (!hub->link_up || f->coll->state != NTF_COLL_LIVE || f->query || f->conn->close_code)
		return;
	if (!conn_has_room(f->conn)) {
		if (!f->replay_paused) {
			f->replay_paused = true;
			f->conn->n_paused++;
		}
		return;
	}
	q = query_new(hub, f->coll, f);
	if (!q) {
		ntf_hub_conn_fail(f->conn, NTF_CLOSE_INTERNAL, "out of memory");
		return;
	}
	q->has_since = true;
	q->since = r->acked ? r->cursor : r->since;
	/* The first read checks the client's since; later pages start from an entry read. */
	q->check_since = !r->acked;
	q->has_end = r->acked;
	q->end = r->end;
	q->count = replay_page(hub);
	f->query = q;
	if (query_start(hub, q) < 0)
		f->query = NULL; /* link down: feed_kick() resumes it after link_up */
}

/* Removes filter filt from f (a reset or an unsubscribe). Frees it. */
static void feed_drop_filter(struct ntf_feed *f, struct ntf_filter *filt, bool dup)
{
	if (!ntf_filter_unlink(&f->filters, filt))
		ntf_filter_unlink(&f->waiting, filt);
	if (!dup) {
		f->conn->n_subs--;
		f->conn->hub->metrics.subscriptions--;
	}
	if (f->replaying == filt)
		feed_end_replay(f);
	free(filt);
}

/* ---- feeds and connections ---------------------------------------------- */

static struct ntf_feed *conn_feed(struct ntf_conn *conn, const struct ntf_coll *c)
{
	for (struct ntf_feed *f = conn->feeds; f; f = f->conn_next)
		if (f->coll == c)
			return f;
	return NULL;
}

/* Unlinks f from its connection and frees it; the collection may go too. */
static void feed_destroy(struct ntf_feed *f)
{
	struct ntf_conn *conn = f->conn;
	struct ntf_hub *hub = conn->hub;
	struct ntf_coll *c = f->coll;
	struct ntf_feed **pp;

	feed_cancel_query(f);
	for (pp = &conn->feeds; *pp; pp = &(*pp)->conn_next) {
		if (*pp == f) {
			*pp = f->conn_next;
			break;
		}
	}
	ntf_feed_free(f);
	coll_maybe_free(hub, c);
}

static bool feed_is_empty(const struct ntf_feed *f)
{
	return !f->filters && !f->waiting;
}

/*
 * A filter is a duplicate when the same target is already subscribed on
 * the feed; it is acknowledged (and replays) but does not count twice.
 */
static bool filter_is_dup(const struct ntf_feed *f, const struct ntf_filter *filt)
{
	for (const struct ntf_filter *o = f->filters; o; o = o->next)
		if (o != filt && o->id_len == filt->id_len && !memcmp(o->id, filt->id, o->id_len))
			return true;
	for (const struct ntf_filter *o = f->waiting; o && o != filt; o = o->next)
		if (o->id_len == filt->id_len && !memcmp(o->id, filt->id, o->id_len))
			return true;
	return false;
}

static void filter_reset(struct ntf_feed *f, struct ntf_filter *filt)
{
	struct ntf_hub *hub = f->conn->hub;

	hub->metrics.resets++;
	conn_reply(f->conn, ntf_proto_reset(f->coll->name, filt->id));
	feed_drop_filter(f, filt, filter_is_dup(f, filt));
}

/* The replay of f->replaying covered since..end: it goes live. */
static void feed_finish_replay(struct ntf_feed *f)
{
	struct ntf_filter *r = f->replaying, *o;

	r->state = NTF_FILTER_LIVE;
	r->floor = r->since;
	for (o = f->filters; o; o = o->next) {
		if (o != r && o->id_len == r->id_len && !memcmp(o->id, r->id, r->id_len))
			break;
	}
	feed_end_replay(f);
	if (o) {
		/* A repeated subscription: the first one now covers the longer history. */
		if (tnd_seq_cmp(&r->since, &o->floor) < 0)
			o->floor = r->since;
		ntf_filter_unlink(&f->filters, r);
		free(r);
	}
}

/* Acknowledges waiting filters in order and starts the next replay. */
static void feed_kick(struct ntf_feed *f)
{
	struct ntf_coll *c = f->coll;
	struct ntf_filter *filt;

	if (c->state != NTF_COLL_LIVE || f->conn->close_code)
		return;
	if (f->replaying) {
		if (!f->query && !f->replay_paused)
			feed_issue_replay(f);
		return;
	}
	while ((filt = f->waiting) != NULL) {
		f->waiting = filt->next;
		filt->next = NULL;
		if (filt->has_since) {
			filt->state = NTF_FILTER_REPLAY;
			filt->next = f->filters;
			f->filters = filt;
			f->replaying = filt;
			f->conn->hub->metrics.replays++;
			feed_issue_replay(f);
			return;
		}
		/* Plain: everything after the head is still to come through fan-out. */
		conn_reply(f->conn, ntf_proto_subscribed(c->name, filt->id, &c->head));
		if (filter_is_dup(f, filt)) {
			free(filt);
			continue;
		}
		filt->state = NTF_FILTER_LIVE;
		filt->floor = c->head;
		filt->next = f->filters;
		f->filters = filt;
	}
}

static void coll_kick_feeds(struct ntf_coll *c)
{
	struct ntf_feed *f, *next;

	for (f = c->feeds; f; f = next) {
		next = f->coll_next;
		feed_kick(f);
	}
}

/* --- collection sync ------------------------------------------------------ */

static void coll_sync(struct ntf_hub *hub, struct ntf_coll *c, const struct tnd_seq *from);

static void coll_start_sync(struct ntf_hub *hub, struct ntf_coll *c)
{
	coll_sync(hub, c, c->head_known ? &c->head : NULL);
}

static void coll_sync(struct ntf_hub *hub, struct ntf_coll *c, const struct tnd_seq *from)
{
	struct ntf_query *q;

	if (!hub->link_up || c->query)
		return;
	q = query_new(hub, c, NULL);
	if (!q) {
		tnd_log_error("collection %s: out of memory for a log read", c->name);
		return;
	}
	c->state = NTF_COLL_SYNCING;
	q->has_since = from != NULL;
	if (from)
		q->since = *from;
	q->count = NTF_SYNC_PAGE;
	c->query = q;
	if (query_start(hub, q) < 0) {
		c->query = NULL;
		c->state = NTF_COLL_STALE;
	}
}

static int inbound_push(struct ntf_hub *hub, struct ntf_coll *c, struct ntf_msg *ev)
{
	if (hub->in_count == hub->in_cap) {
		uint32_t ncap = hub->in_cap ? hub->in_cap * 2 : 256;
		struct ntf_inbound_item *n = malloc(sizeof(*n) * ncap);

		if (!n)
			return -1;
		for (uint32_t i = 0; i < hub->in_count; i++)
			n[i] = hub->in[(hub->in_head + i) % hub->in_cap];
		free(hub->in);
		hub->in = n;
		hub->in_cap = ncap;
		hub->in_head = 0;
	}
	hub->in[(hub->in_head + hub->in_count) % hub->in_cap] =
		(struct ntf_inbound_item){c, ntf_msg_ref(ev)};
	hub->in_count++;
	c->refs++;
	hub->metrics.inbound_queue = hub->in_count;
	if (!hub->input_paused && hub->in_count > NTF_INBOUND_HIGH) {
		hub->input_paused = true;
		hub->ops.pause_input(hub->ops.data, true);
	}
	if (!hub->pump_scheduled) {
		hub->pump_scheduled = true;
		hub->ops.schedule(hub->ops.data);
	}
	return 0;
}

/* Every feed loses every subscription: the log no longer holds what they missed. */
static void coll_reset_all(struct ntf_coll *c)
{
	while (c->feeds) {
		struct ntf_feed *f = c->feeds;

		while (f->filters)
			filter_reset(f, f->filters);
		while (f->waiting)
			filter_reset(f, f->waiting);
		feed_destroy(f); /* c stays: the caller holds a ref */
	}
}

static void coll_sync_done(struct ntf_hub *hub, struct ntf_query *q, const struct ntf_log_result *res)
{
	struct ntf_coll *c = q->coll;
	struct ntf_msg *ev;

	c->query = NULL;
	if (!res->ok || q->link_gen != hub->link_gen || !hub->link_up) {
		c->state = NTF_COLL_STALE; /* link_up() syncs again */
		return;
	}
	if (!q->has_since) {
		c->head = res->tail;
		c->head_known = true;
	} else if (log_lost_after(res, &q->since)) {
		tnd_log_warn("collection %s: events after %llu-%llu were trimmed from the log before "
			     "they could be read: resetting its %u subscribers", c->name,
			     (unsigned long long)q->since.ms, (unsigned long long)q->since.n, c->n_feeds);
		coll_reset_all(c);
		ntf_queue_clear(&c->pending);
		c->head = res->tail;
	} else {
		for (size_t i = 0; i < res->n_events; i++)
			if (inbound_push(hub, c, res->events[i]) == 0)
				hub->metrics.gap_fill_events++;
		if (res->n_entries >= q->count) {
			coll_sync(hub, c, &res->last_entry); /* more to read */
			return;
		}
	}
	if (c->pending_lost) {
		/* Live events were dropped while reading: read the log again from here. */
		c->pending_lost = false;
		ntf_queue_clear(&c->pending);
		coll_sync(hub, c, res->n_entries ? &res->last_entry : (q->has_since ? &q->since : &c->head));
		return;
	}
	while ((ev = ntf_queue_take(&c->pending)) != NULL) {
		inbound_push(hub, c, ev);
		ntf_msg_unref(ev);
	}
	c->state = NTF_COLL_LIVE;
	coll_kick_feeds(c);
}

/* --- replay answers ------------------------------------------------------- */

static void feed_replay_done(struct ntf_hub *hub, struct ntf_query *q,
			     const struct ntf_log_result *res)
{
	struct ntf_feed *f = q->feed;
	struct ntf_filter *r = f->replaying;
	struct ntf_coll *c = f->coll;
	bool done;

	f->query = NULL;
	if (!res->ok || q->link_gen != hub->link_gen || !hub->link_up)
		return; /* resumed by feed_kick() after the link is back */
	if (!r->acked && res->since_unknown) {
		/* SPEC 5: a since the log never held (or no longer knows) is never replayed from. */
		tnd_log_info("conn %llu: since %llu-%llu is not in the log of %s: reset",
			     (unsigned long long)f->conn->id, (unsigned long long)r->since.ms,
			     (unsigned long long)r->since.n, c->name);
		filter_reset(f, r);
		goto next;
	}
	if (log_lost_after(res, r->acked ? &r->cursor : &r->since)) {
		filter_reset(f, r);
		goto next;
	}
	if (!r->acked) {
		struct tnd_seq ack = seq_gt(&r->since, &res->tail) ? r->since : res->tail;

		r->acked = true;
		r->end = ack;
		r->cursor = r->since;
		conn_reply(f->conn, ntf_proto_subscribed(c->name, r->id, &ack));
	}
	for (size_t i = 0; i < res->n_events && !f->conn->close_code; i++)
		if (!seq_gt(&res->events[i]->seq, &r->end))
			feed_replay_entry(f, r, res->events[i]);
	if (f->conn->close_code)
		return;
	if (res->n_entries)
		r->cursor = res->last_entry;
	done = res->n_entries < q->count || !seq_gt(&r->end, &r->cursor);
	if (!done) {
		feed_issue_replay(f);
		return;
	}
	feed_finish_replay(f);
next:
	if (feed_is_empty(f))
		feed_destroy(f);
	else
		feed_kick(f);
}

void ntf_hub_query_done(struct ntf_query *q, const struct ntf_log_result *res)
{
	struct ntf_hub *hub = q->hub;
	struct ntf_coll *c = q->coll;

	if (q->is_sync)
		coll_sync_done(hub, q, res);
	else if (q->feed)
		feed_replay_done(hub, q, res);
	c->refs--;
	free(q);
	coll_maybe_free(hub, c);
}

/* --- requests ------------------------------------------------------------- */

static void hub_subscribe(struct ntf_conn *conn, const struct ntf_request *req)
{
	struct ntf_hub *hub = conn->hub;
	struct ntf_coll *c;
	struct ntf_feed *f;
	struct ntf_filter *filt, **tail;

	c = ntf_subs_get(&hub->subs, req->collection, strlen(req->collection));
	if (!c)
		goto oom;
	hub->metrics.collections = hub->subs.n_colls;
	f = conn_feed(conn, c);
	if (!f) {
		f = ntf_feed_new(c, conn);
		if (!f) {
			coll_maybe_free(hub, c);
			goto oom;
		}
		f->conn_next = conn->feeds;
		conn->feeds = f;
	}
	filt = ntf_filter_new(req->id);
	if (!filt)
		goto oom_feed;
	filt->has_since = req->has_since;
	filt->since = req->since;
	for (tail = &f->waiting; *tail; tail = &(*tail)->next)
		;
	*tail = filt;
	if (!filter_is_dup(f, filt)) {
		if (conn->n_subs >= hub->limits.max_subs) {
			ntf_filter_unlink(&f->waiting, filt);
			free(filt);
			conn_error(conn, TND_ERR_TOO_MANY_SUBSCRIPTIONS, NULL);
			goto drop_empty;
		}
		conn->n_subs++;
		hub->metrics.subscriptions++;
	}
	if (c->state == NTF_COLL_STALE)
		coll_start_sync(hub, c);
	feed_kick(f);
	return;
oom_feed:
	conn_error(conn, TND_ERR_INTERNAL, "out of memory");
drop_empty:
	if (feed_is_empty(f))
		feed_destroy(f);
	return;
oom:
	conn_error(conn, TND_ERR_INTERNAL, "out of memory");
}

static void hub_unsubscribe(struct ntf_conn *conn, const struct ntf_request *req)
{
	struct ntf_coll *c = ntf_subs_find(&conn->hub->subs, req->collection, strlen(req->collection));
	struct ntf_feed *f = c ? conn_feed(conn, c) : NULL;
	struct ntf_filter *filt;
	bool found = false;

	while (f && ((filt = ntf_filter_find(f->filters, req->id)) != NULL ||
		     (filt = ntf_filter_find(f->waiting, req->id)) != NULL)) {
		/* Only the last copy of a repeated subscription is counted. */
		feed_drop_filter(f, filt, filter_is_dup(f, filt));
		found = true;
	}
	conn_reply(conn, ntf_proto_unsubscribed(req->collection, req->id));
	if (!found || !f)
		return;
	if (feed_is_empty(f))
		feed_destroy(f);
	else
		feed_kick(f);
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
		conn_error(conn, err, why);
		return 0;
	}
	switch (req.op) {
	case NTF_OP_SUBSCRIBE:
		hub_subscribe(conn, &req);
		break;
	case NTF_OP_UNSUBSCRIBE:
		hub_unsubscribe(conn, &req);
		break;
	case NTF_OP_AUTH:
		conn_reply(conn, ntf_proto_authenticated_open());
		break;
	case NTF_OP_PING:
		conn_reply(conn, ntf_proto_pong());
		break;
	default:
		break;
	}
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

	while (conn->feeds)
		feed_destroy(conn->feeds);
	hub->metrics.subscriptions -= conn->n_subs;
	ntf_queue_clear(&conn->out);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		hub->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	hub->metrics.connections--;
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
	}
	if (conn->n_paused && conn_has_room(conn)) {
		for (struct ntf_feed *f = conn->feeds; f; f = f->conn_next) {
			if (f->replay_paused) {
				f->replay_paused = false;
				conn->n_paused--;
				feed_issue_replay(f);
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
		if (inbound_push(hub, c, ev) < 0)
			tnd_log_error("collection %s: out of memory: an event was dropped", c->name);
	} else if (!c->pending_lost) {
		struct ntf_queue_caps caps = {NTF_COLL_PENDING_MAX, (size_t)-1};

		if (ntf_queue_push(&c->pending, ev, &caps) < 0)
			c->pending_lost = true; /* the log still has it: the sync reads again */
	}
	ntf_msg_unref(ev);
}

bool ntf_hub_pump(struct ntf_hub *hub)
{
	uint32_t done = 0;

	hub->pump_scheduled = false;
	while (hub->in_count && done < NTF_FANOUT_BUDGET) {
		struct ntf_inbound_item it = hub->in[hub->in_head];
		struct ntf_coll *c = it.coll;

		hub->in_head = (hub->in_head + 1) % hub->in_cap;
		hub->in_count--;
		/* Rule 1: once per collection, in seq order. */
		if (!c->head_known || seq_gt(&it.ev->seq, &c->head)) {
			struct ntf_feed *f, *next;

			c->head = it.ev->seq;
			c->head_known = true;
			for (f = c->feeds; f; f = next) {
				next = f->coll_next;
				feed_offer(f, it.ev);
			}
			done += c->n_feeds + 1;
		}
		ntf_msg_unref(it.ev);
		c->refs--;
		coll_maybe_free(hub, c);
	}
	hub->metrics.inbound_queue = hub->in_count;
	if (hub->input_paused && hub->in_count < NTF_INBOUND_LOW) {
		hub->input_paused = false;
		hub->ops.pause_input(hub->ops.data, false);
	}
	if (hub->in_count == 0) {
		free(hub->in); /* a storm is over: give the ring back */
		hub->in = NULL;
		hub->in_cap = hub->in_head = 0;
		return false;
	}
	hub->pump_scheduled = true;
	return true;
}

/* --- the Redis link ------------------------------------------------------- */

static void for_each_coll(struct ntf_hub *hub, void (*fn)(struct ntf_hub *, struct ntf_coll *))
{
	for (uint32_t i = 0; i < hub->subs.n_buckets; i++) {
		struct ntf_coll *c = hub->subs.buckets[i], *next;

		for (; c; c = next) {
			next = c->hnext;
			fn(hub, c);
		}
	}
}

static void coll_link_down(struct ntf_hub *hub, struct ntf_coll *c)
{
	(void)hub;
	c->state = NTF_COLL_STALE;
}

void ntf_hub_link_up(struct ntf_hub *hub)
{
	hub->link_up = true;
	hub->link_gen++;
	hub->metrics.redis_up = 1;
	for_each_coll(hub, coll_start_sync);
}

void ntf_hub_link_down(struct ntf_hub *hub)
{
	hub->link_up = false;
	hub->metrics.redis_up = 0;
	for_each_coll(hub, coll_link_down);
}

/* --- setup ---------------------------------------------------------------- */

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
		ntf_msg_unref(it.ev);
		it.coll->refs--;
	}
	free(hub->in);
	ntf_subs_destroy(&hub->subs);
}
