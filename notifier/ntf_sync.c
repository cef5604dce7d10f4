/*
 * ntf_sync: log reads and the Redis link's state, for the hub.
 *
 * A collection sync reads a collection's log after it gets its first
 * local client and after every Redis reconnect, from the last event fanned
 * out (or just its tail), while its live events are held; then the held
 * events follow and duplicates (seq <= head) are dropped, so nothing
 * written while the link was down is missed. Events to fan out wait in the
 * hub's inbound ring (ntf_sync_push), drained by ntf_hub_pump(); reading
 * from Redis pauses while that ring is long. Loop thread only.
 *
 * A sync reads on from c->heard, the last log position already queued
 * (or read), not from the last one fanned out: while the intake is held
 * (ntf_hub.h) the ring may hold thousands of c's events, which the sync
 * must neither read twice nor take for a gap the log no longer holds.
 * And a sync is paced like live input: while the ring is long, its next
 * page waits (c->sync_deferred) until the pump drains it, so a reconnect
 * after Redis cut a paused subscriber cannot pull the whole log into
 * memory. Live events meanwhile wait in c->pending, as during any sync.
 *
 * Why not drop live events and read the log whenever the ring is long:
 * the pause already bounds memory, Redis's own output-buffer limit turns
 * a long pause into exactly that (a cut, then a log read from heard), and
 * the log sync is the one path that reads the log for a collection.
 */
#include "ntf_hub_internal.h"

#include <stdlib.h>
#include <string.h>

#include "tnd_log.h"

static void coll_sync(struct ntf_hub *hub, struct ntf_coll *c);

struct ntf_query *ntf_query_new(struct ntf_hub *hub, struct ntf_coll *c, struct ntf_feed *f)
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
int ntf_query_start(struct ntf_hub *hub, struct ntf_query *q)
{
	if (hub->ops.redis.read_log(hub->ops.redis.data, q) == 0)
		return 0;
	q->coll->refs--;
	free(q);
	return -1;
}

/* A read answer tells that events after `after` were trimmed away unread. */
bool ntf_log_lost_after(const struct ntf_log_result *res, const struct tnd_seq *after)
{
	return res->trimmed && tnd_seq_cmp(after, &res->first) < 0;
}

/* The log is known up to seq (a queued event, or an entry read). */
static void coll_heard(struct ntf_coll *c, const struct tnd_seq *seq)
{
	if (!c->heard_known || ntf_seq_gt(seq, &c->heard)) {
		c->heard = *seq;
		c->heard_known = true;
	}
}

/* Reads c's log after c->heard (or just its tail), unless the ring is long: then later. */
static void coll_sync(struct ntf_hub *hub, struct ntf_coll *c)
{
	struct ntf_query *q;

	if (!hub->link_up || c->query)
		return;
	c->state = NTF_COLL_SYNCING; /* live events are held from now on */
	if (hub->input_paused) {
		c->sync_deferred = true; /* ntf_sync_resume() */
		return;
	}
	c->sync_deferred = false;
	q = ntf_query_new(hub, c, NULL);
	if (!q) {
		tnd_log_error("collection %s: out of memory for a log read", c->name);
		c->state = NTF_COLL_STALE;
		return;
	}
	q->has_since = c->heard_known;
	if (c->heard_known)
		q->since = c->heard;
	q->count = NTF_SYNC_PAGE;
	c->query = q;
	if (ntf_query_start(hub, q) < 0) {
		c->query = NULL;
		c->state = NTF_COLL_STALE;
	}
}

void ntf_sync_start(struct ntf_hub *hub, struct ntf_coll *c)
{
	coll_sync(hub, c);
}

static bool inbound_long(const struct ntf_hub *hub)
{
	return hub->in_count > NTF_INBOUND_HIGH || hub->in_bytes > NTF_INBOUND_HIGH_BYTES;
}

int ntf_sync_push(struct ntf_hub *hub, struct ntf_coll *c, struct ntf_msg *ev)
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
	hub->in_bytes += ev->len;
	c->refs++;
	coll_heard(c, &ev->seq);
	hub->metrics.inbound_queue = hub->in_count;
	if (!hub->input_paused && inbound_long(hub)) {
		hub->input_paused = true;
		hub->metrics.input_pauses++;
		hub->ops.redis.pause_input(hub->ops.redis.data, true);
	}
	/* While the intake is held, the last holder's release schedules the pump. */
	if (!hub->pump_scheduled && !hub->n_holding) {
		hub->pump_scheduled = true;
		hub->ops.loop.schedule(hub->ops.loop.data);
	}
	return 0;
}

static void coll_resume(struct ntf_hub *hub, struct ntf_coll *c)
{
	if (c->sync_deferred && !hub->input_paused)
		coll_sync(hub, c);
}

static void for_each_coll(struct ntf_hub *hub, void (*fn)(struct ntf_hub *, struct ntf_coll *));

void ntf_sync_resume(struct ntf_hub *hub)
{
	hub->input_paused = false;
	hub->ops.redis.pause_input(hub->ops.redis.data, false);
	for_each_coll(hub, coll_resume);
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
		coll_heard(c, &res->tail);
	} else if (ntf_log_lost_after(res, &q->since)) {
		tnd_log_warn("collection %s: events after %llu-%llu were trimmed from the log before "
			     "they could be read: resetting its %u subscribers", c->name,
			     (unsigned long long)q->since.ms, (unsigned long long)q->since.n, c->n_feeds);
		ntf_deliver_reset_all(c);
		ntf_queue_clear(&c->pending);
		c->head = res->tail; /* queued events of c up to the tail go nowhere now */
		c->head_known = true;
		c->heard = res->tail;
	} else {
		for (size_t i = 0; i < res->n_events; i++)
			if (ntf_sync_push(hub, c, res->events[i]) == 0)
				hub->metrics.gap_fill_events++;
		if (res->n_entries)
			coll_heard(c, &res->last_entry); /* also past a malformed last entry */
		if (res->n_entries >= q->count) {
			coll_sync(hub, c); /* more to read, now or when the ring is short again */
			return;
		}
	}
	if (c->pending_lost) {
		/* Live events were dropped while reading: read the log again from here. */
		c->pending_lost = false;
		ntf_queue_clear(&c->pending);
		coll_sync(hub, c);
		return;
	}
	while ((ev = ntf_queue_take(&c->pending)) != NULL) {
		ntf_sync_push(hub, c, ev);
		ntf_msg_unref(ev);
	}
	c->state = NTF_COLL_LIVE;
	ntf_deliver_kick_all(c);
}

void ntf_hub_query_done(struct ntf_query *q, const struct ntf_log_result *res)
{
	struct ntf_hub *hub = q->hub;
	struct ntf_coll *c = q->coll;

	if (q->is_sync)
		coll_sync_done(hub, q, res);
	else if (q->feed)
		ntf_deliver_replay_done(hub, q, res);
	c->refs--;
	free(q);
	ntf_hub_release_coll(hub, c);
}

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
	c->sync_deferred = false; /* link_up syncs every collection */
}

bool ntf_hub_coll_resync(struct ntf_hub *hub, const char *collection, size_t len)
{
	struct ntf_coll *c = ntf_subs_find(&hub->subs, collection, len);

	if (!c || !hub->link_up || c->query)
		return false;
	ntf_sync_start(hub, c);
	return c->query != NULL;
}

void ntf_hub_link_up(struct ntf_hub *hub)
{
	hub->link_up = true;
	hub->link_gen++;
	hub->metrics.redis_up = 1;
	for_each_coll(hub, ntf_sync_start);
}

void ntf_hub_link_down(struct ntf_hub *hub)
{
	hub->link_up = false;
	hub->metrics.redis_up = 0;
	for_each_coll(hub, coll_link_down);
}
