/*
 * ntf_deliver: how events reach a connection, live and replayed, in the
 * order and at most once. The ordering rules, in one place:
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
 *     (On a Redis Cluster, per collection: ntf_cluster.h says how.)
 */
#include "ntf_hub_internal.h"

#include <stdlib.h>
#include <string.h>

#include "tnd_filter.h"
#include "tnd_log.h"

/*
 * How a filtered feed sees ev (SPEC 8), from whether the document matches
 * after the write (doc) and before it (prev). The event's doc and prev
 * are parsed once, by the first filtered feed that asks (ntf_msg_docs);
 * each feed then only evaluates its compiled filter. An update or delete
 * written without prev (by a tandem-rest older than filters) is taken as
 * having matched before: the client gets "updated" / "left" / "deleted",
 * which a view applies safely whatever it held.
 */
enum ntf_view ntf_deliver_view(const struct ntf_feed *f, struct ntf_msg *ev)
{
	const char *type = ntf_msg_payload(ev) + ev->type_off + strlen("\"type\":\"");
	struct json_object *doc, *prev;
	bool now, before;

	if (!f->where)
		return NTF_VIEW_SAME;
	ntf_msg_docs(ev, &doc, &prev);
	before = type[0] != 'c' && (!ev->prev || tnd_filter_match(f->where, prev));
	now = type[0] != 'd' && tnd_filter_match(f->where, doc);
	if (type[0] == 'c')
		return now ? NTF_VIEW_SAME : NTF_VIEW_NONE;
	if (type[0] == 'd')
		return before ? NTF_VIEW_SAME : NTF_VIEW_NONE;
	if (now)
		return before ? NTF_VIEW_SAME : NTF_VIEW_ENTERED;
	return before ? NTF_VIEW_LEFT : NTF_VIEW_NONE;
}

/*
 * Queues f's frame for ev under caps: ev itself on a plain feed, the
 * subscription's view of it on a filtered one. 1 queued, 0 nothing for
 * this feed, -1 refused (the connection is closing).
 */
static int feed_push(struct ntf_feed *f, struct ntf_msg *ev, const struct ntf_queue_caps *caps)
{
	enum ntf_view view = ntf_deliver_view(f, ev);
	struct ntf_msg *m;
	int rc;

	if (view == NTF_VIEW_NONE)
		return 0;
	if (!f->where && !f->coalesce)
		return ntf_conn_push(f->conn, ev, caps) == 0 ? 1 : -1;
	m = f->where ? ntf_proto_event_view(ev, f->sid, view) : ntf_msg_ref(ev);
	if (f->coalesce)
		rc = ntf_coalesce_push(f, m, caps); /* SPEC 5 "coalesce": see ntf_coalesce.h */
	else
		rc = ntf_conn_push(f->conn, m, caps) == 0 ? 1 : -1;
	ntf_msg_unref(m);
	return rc;
}

/* Rule 2: live (or held) event to a feed that is not replaying. */
static void feed_deliver(struct ntf_feed *f, struct ntf_msg *ev)
{
	if (f->sent_any && !ntf_seq_gt(&ev->seq, &f->sent))
		return;
	if (!ntf_feed_live_match(f, NULL, ev) || !ntf_access_may_see(f, ev))
		return;
	if (feed_push(f, ev, &f->conn->hub->limits.queue) > 0) {
		f->sent = ev->seq;
		f->sent_any = true;
	}
}

void ntf_deliver_offer(struct ntf_feed *f, struct ntf_msg *ev)
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
	struct ntf_queue_caps caps = {hub->limits.queue.max_msgs + ntf_hub_replay_page(hub),
				      hub->limits.queue.max_bytes * 2};

	/* SPEC 6: another owner's document does not exist for an own token, in the log either. */
	if (!ntf_access_may_see(f, ev))
		return;

	if (!f->sent_any || ntf_seq_gt(&ev->seq, &f->sent)) {
		/* Ahead of the feed: also the other subscriptions' due events, or rule 2 would drop them. */
		if (!ntf_filter_selects(r, ev) && !ntf_feed_live_match(f, r, ev))
			return;
		if (feed_push(f, ev, &caps) > 0) {
			f->sent = ev->seq;
			f->sent_any = true;
			hub->metrics.replayed_events++;
		}
		return;
	}
	/* Behind the feed: only what no live subscription of this connection sent already. */
	if (ntf_filter_selects(r, ev) && !ntf_feed_live_match(f, r, ev) && feed_push(f, ev, &caps) > 0)
		hub->metrics.replayed_events++;
}

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

void ntf_deliver_issue_replay(struct ntf_feed *f)
{
	struct ntf_hub *hub = f->conn->hub;
	struct ntf_filter *r = f->replaying;
	struct ntf_query *q;

	if (!hub->link_up || f->coll->state != NTF_COLL_LIVE || f->query || f->conn->close_code)
		return;
	if (!ntf_conn_has_room(f->conn)) {
		if (!f->replay_paused) {
			f->replay_paused = true;
			f->conn->n_paused++;
		}
		return;
	}
	q = ntf_query_new(hub, f->coll, f);
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
	q->count = ntf_hub_replay_page(hub);
	f->query = q;
	if (ntf_query_start(hub, q) < 0)
		f->query = NULL; /* link down: ntf_deliver_kick() resumes it after link_up */
}

/* Removes filter filt from f (a reset or an unsubscribe). Frees it. */
void ntf_deliver_drop_filter(struct ntf_feed *f, struct ntf_filter *filt, bool dup)
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

struct ntf_feed *ntf_deliver_conn_feed(struct ntf_conn *conn, const struct ntf_coll *c)
{
	for (struct ntf_feed *f = conn->feeds; f; f = f->conn_next)
		if (f->coll == c && !f->where)
			return f;
	return NULL;
}

struct ntf_feed *ntf_deliver_conn_view(struct ntf_conn *conn, const char *sid)
{
	for (struct ntf_feed *f = conn->feeds; f; f = f->conn_next)
		if (f->where && !strcmp(f->sid, sid))
			return f;
	return NULL;
}

void ntf_deliver_view_end(struct ntf_feed *f)
{
	while (f->filters)
		ntf_deliver_drop_filter(f, f->filters, false);
	while (f->waiting)
		ntf_deliver_drop_filter(f, f->waiting, false);
	ntf_deliver_feed_destroy(f);
}

/* Unlinks f from its connection and frees it; the collection may go too. */
void ntf_deliver_feed_destroy(struct ntf_feed *f)
{
	struct ntf_conn *conn = f->conn;
	struct ntf_hub *hub = conn->hub;
	struct ntf_coll *c = f->coll;
	struct ntf_feed **pp;

	feed_cancel_query(f);
	ntf_coalesce_forget(f);
	for (pp = &conn->feeds; *pp; pp = &(*pp)->conn_next) {
		if (*pp == f) {
			*pp = f->conn_next;
			break;
		}
	}
	ntf_feed_free(f);
	ntf_hub_release_coll(hub, c);
}

bool ntf_deliver_feed_is_empty(const struct ntf_feed *f)
{
	return !f->filters && !f->waiting;
}

/*
 * A filter is a duplicate when the same target is already subscribed on
 * the feed; it is acknowledged (and replays) but does not count twice.
 */
bool ntf_deliver_filter_is_dup(const struct ntf_feed *f, const struct ntf_filter *filt)
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
	ntf_conn_reply(f->conn, ntf_proto_reset(f->coll->name, filt->id, f->sid));
	ntf_deliver_drop_filter(f, filt, ntf_deliver_filter_is_dup(f, filt));
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
		o->coalesce = r->coalesce;
		ntf_filter_unlink(&f->filters, r);
		free(r);
	}
}

/* Acknowledges waiting filters in order and starts the next replay. */
void ntf_deliver_kick(struct ntf_feed *f)
{
	struct ntf_coll *c = f->coll;
	struct ntf_filter *filt;

	if (c->state != NTF_COLL_LIVE || f->conn->close_code)
		return;
	if (f->replaying) {
		if (!f->query && !f->replay_paused)
			ntf_deliver_issue_replay(f);
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
			ntf_deliver_issue_replay(f);
			return;
		}
		/* Plain: everything after the head is still to come through fan-out. */
		ntf_conn_reply(f->conn, ntf_proto_subscribed(c->name, filt->id, f->sid, &c->head));
		if (ntf_deliver_filter_is_dup(f, filt)) {
			ntf_filter_take_options(f->filters, filt);
			free(filt);
			continue;
		}
		filt->state = NTF_FILTER_LIVE;
		filt->floor = c->head;
		filt->next = f->filters;
		f->filters = filt;
	}
}

void ntf_deliver_kick_all(struct ntf_coll *c)
{
	struct ntf_feed *f, *next;

	for (f = c->feeds; f; f = next) {
		next = f->coll_next;
		ntf_deliver_kick(f);
	}
}

/* Every feed loses every subscription: the log no longer holds what they missed. */
void ntf_deliver_reset_all(struct ntf_coll *c)
{
	while (c->feeds) {
		struct ntf_feed *f = c->feeds;

		while (f->filters)
			filter_reset(f, f->filters);
		while (f->waiting)
			filter_reset(f, f->waiting);
		ntf_deliver_feed_destroy(f); /* c stays: the caller holds a ref */
	}
}

void ntf_deliver_replay_done(struct ntf_hub *hub, struct ntf_query *q,
			     const struct ntf_log_result *res)
{
	struct ntf_feed *f = q->feed;
	struct ntf_filter *r = f->replaying;
	struct ntf_coll *c = f->coll;
	bool done;

	f->query = NULL;
	if (!res->ok || q->link_gen != hub->link_gen || !hub->link_up)
		return; /* resumed by ntf_deliver_kick() after the link is back */
	if (!r->acked && res->since_unknown) {
		/* SPEC 5: a since the log never held (or no longer knows) is never replayed from. */
		tnd_log_info("conn %llu: since %llu-%llu is not in the log of %s: reset",
			     (unsigned long long)f->conn->id, (unsigned long long)r->since.ms,
			     (unsigned long long)r->since.n, c->name);
		filter_reset(f, r);
		goto next;
	}
	if (ntf_log_lost_after(res, r->acked ? &r->cursor : &r->since)) {
		filter_reset(f, r);
		goto next;
	}
	if (!r->acked) {
		struct tnd_seq ack = ntf_seq_gt(&r->since, &res->tail) ? r->since : res->tail;

		r->acked = true;
		r->end = ack;
		r->cursor = r->since;
		ntf_conn_reply(f->conn, ntf_proto_subscribed(c->name, r->id, f->sid, &ack));
	}
	for (size_t i = 0; i < res->n_events && !f->conn->close_code; i++)
		if (!ntf_seq_gt(&res->events[i]->seq, &r->end))
			feed_replay_entry(f, r, res->events[i]);
	if (f->conn->close_code)
		return;
	if (res->n_entries)
		r->cursor = res->last_entry;
	done = res->n_entries < q->count || !ntf_seq_gt(&r->end, &r->cursor);
	if (!done) {
		ntf_deliver_issue_replay(f);
		return;
	}
	feed_finish_replay(f);
next:
	if (ntf_deliver_feed_is_empty(f))
		ntf_deliver_feed_destroy(f);
	else
		ntf_deliver_kick(f);
}
