/*
 * Unit tests of the subscription index (ntf_subs) and the hub's ordering
 * rules (ntf_hub) with fake transports: no sockets, no Redis. The fake
 * Redis side records the log reads; each test answers them by hand, so
 * the races (live events arriving while a read is in flight) are exact.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* White-box: the hub's private structs are checked directly. */
#include "ntf_hub_internal.h"

/* ---- the index -------------------------------------------------------------- */

static struct ntf_msg *event(const char *id, uint64_t ms)
{
	char seq[32];
	struct ntf_msg *m;

	snprintf(seq, sizeof(seq), "%llu-0", (unsigned long long)ms);
	char body[256];
	bool malformed;

	snprintf(body, sizeof(body), "{\"type\":\"updated\",\"collection\":\"c\",\"id\":\"%s\","
		 "\"version\":2,\"doc\":{}}", id);
	m = ntf_proto_event(seq, strlen(seq), body, strlen(body), NULL, &malformed);
	cr_assert_not_null(m);
	return m;
}

Test(subs, finds_collections_across_rehashes)
{
	struct ntf_subs s;
	char name[16];

	cr_assert_eq(ntf_subs_init(&s), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "col%d", i);
		cr_assert_not_null(ntf_subs_get(&s, name, strlen(name)));
	}
	cr_assert_eq(s.n_colls, 500);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "col%d", i);
		struct ntf_coll *c = ntf_subs_find(&s, name, strlen(name));
		cr_assert_not_null(c);
		cr_assert_str_eq(c->name, name);
		cr_assert_eq(ntf_subs_get(&s, name, strlen(name)), c, "get finds, not creates");
	}
	cr_assert_null(ntf_subs_find(&s, "col5000", 7));
	ntf_subs_remove(&s, ntf_subs_find(&s, "col7", 4));
	cr_assert_null(ntf_subs_find(&s, "col7", 4));
	cr_assert_eq(s.n_colls, 499);
	ntf_subs_destroy(&s);
}

Test(subs, filters_select_by_document_and_floor)
{
	struct ntf_subs s;
	struct ntf_coll *c;
	struct ntf_feed *f;
	struct ntf_filter *all, *doc;
	struct ntf_msg *ea = event("a", 10), *eb = event("b", 11), *old = event("b", 3);

	ntf_subs_init(&s);
	c = ntf_subs_get(&s, "c", 1);
	f = ntf_feed_new(c, NULL);
	doc = ntf_filter_new("b");
	doc->state = NTF_FILTER_LIVE;
	doc->floor = (struct tnd_seq){5, 0};
	f->filters = doc;
	cr_assert(ntf_filter_selects(doc, eb));
	cr_assert_not(ntf_filter_selects(doc, ea));
	cr_assert(ntf_feed_live_match(f, NULL, eb));
	cr_assert_not(ntf_feed_live_match(f, NULL, ea));
	cr_assert_not(ntf_feed_live_match(f, NULL, old), "at or before the floor");
	cr_assert_not(ntf_feed_live_match(f, doc, eb), "the excepted filter does not count");
	all = ntf_filter_new(NULL);
	all->next = f->filters;
	f->filters = all;
	cr_assert_not(ntf_feed_live_match(f, NULL, ea), "a waiting filter matches nothing");
	all->state = NTF_FILTER_LIVE;
	cr_assert(ntf_feed_live_match(f, NULL, ea));
	cr_assert_eq(ntf_filter_find(f->filters, "b"), doc);
	cr_assert_eq(ntf_filter_find(f->filters, NULL), all);
	cr_assert(ntf_filter_unlink(&f->filters, doc));
	cr_assert_not(ntf_filter_unlink(&f->filters, doc));
	free(doc);
	cr_assert_eq(c->n_feeds, 1);
	ntf_feed_free(f);
	cr_assert(ntf_coll_unused(c));
	ntf_subs_destroy(&s);
	ntf_msg_unref(ea);
	ntf_msg_unref(eb);
	ntf_msg_unref(old);
}

/* ---- the hub, with fakes ------------------------------------------------------ */

struct fake {
	struct ntf_query *queries[16];
	int n_queries;
	int wakes, closes, schedules;
	bool refuse_reads;
};

static struct fake fk;
static struct ntf_hub hub;

static void fake_wake(void *data, void *handle, bool closing)
{
	(void)data;
	(void)handle;
	fk.wakes++;
	if (closing)
		fk.closes++;
}

static int fake_read(void *data, struct ntf_query *q)
{
	(void)data;
	if (fk.refuse_reads)
		return -1;
	cr_assert_lt(fk.n_queries, 16);
	fk.queries[fk.n_queries++] = q;
	return 0;
}

static void fake_pause(void *data, bool pause)
{
	(void)data;
	(void)pause;
}

static void fake_schedule(void *data)
{
	(void)data;
	fk.schedules++;
}

static void setup(void)
{
	struct ntf_hub_limits limits = {.max_subs = 3, .queue = {.max_msgs = 64, .max_bytes = 1 << 20}};
	struct ntf_hub_ops ops = {.ws = {.wake = fake_wake},
				  .redis = {.read_log = fake_read, .pause_input = fake_pause},
				  .loop = {.schedule = fake_schedule}};

	memset(&fk, 0, sizeof(fk));
	cr_assert_eq(ntf_hub_init(&hub, &limits, &ops), 0);
	ntf_hub_link_up(&hub);
}

static void teardown(void)
{
	/* Answer what is still in flight, as hiredis does when it goes away. */
	struct ntf_log_result fail = {.ok = false};

	while (fk.n_queries)
		ntf_hub_query_done(fk.queries[--fk.n_queries], &fail);
	ntf_hub_destroy(&hub);
}

TestSuite(hub, .init = setup, .fini = teardown);

/* Takes the oldest query; the test answers it. */
static struct ntf_query *take_query(void)
{
	struct ntf_query *q;

	cr_assert_gt(fk.n_queries, 0, "no log read was issued");
	q = fk.queries[0];
	memmove(fk.queries, fk.queries + 1, sizeof(fk.queries[0]) * (size_t)--fk.n_queries);
	return q;
}

/* Answers q with the log tail at tail_ms and entries (ids, ms) given as "id@ms" pairs. */
static void answer(struct ntf_query *q, uint64_t tail_ms, bool trimmed, uint64_t first_ms,
		   const char *const *entries)
{
	struct ntf_msg *evs[32];
	struct ntf_log_result res = {.ok = true, .tail = {tail_ms, 0}, .trimmed = trimmed,
				     .first = {first_ms, 0}, .events = evs};

	for (; entries && entries[res.n_events]; res.n_events++) {
		char id[16];
		unsigned long long ms;

		cr_assert_eq(sscanf(entries[res.n_events], "%15[^@]@%llu", id, &ms), 2);
		evs[res.n_events] = event(id, ms);
		res.last_entry = evs[res.n_events]->seq;
	}
	res.n_entries = res.n_events;
	ntf_hub_query_done(q, &res);
	while (ntf_hub_pump(&hub)) /* a sync queues its events for the fan-out */
		;
	for (size_t i = 0; i < res.n_events; i++)
		ntf_msg_unref(evs[i]);
}

static void publish(const char *id, uint64_t ms)
{
	char buf[256];

	snprintf(buf, sizeof(buf),
		 "%llu-0 {\"type\":\"updated\",\"collection\":\"c\",\"id\":\"%s\",\"version\":2,"
		 "\"doc\":{\"id\":\"%s\"}}",
		 (unsigned long long)ms, id, id);
	ntf_hub_publish(&hub, buf, strlen(buf));
	while (ntf_hub_pump(&hub))
		;
}

static void send_msg(struct ntf_conn *conn, const char *text)
{
	cr_assert_eq(ntf_hub_conn_message(conn, text, strlen(text)), 0);
}

/*
 * Everything queued on conn, one short token per frame: "ack@5" for
 * subscribed (seq ms), "a@7" for an event, "reset", "err:code", "unsub", "pong".
 */
static void drain(struct ntf_conn *conn, char *out, size_t size)
{
	struct ntf_msg *m;
	size_t o = 0;

	out[0] = '\0';
	while ((m = ntf_hub_conn_next(conn)) != NULL) {
		const char *p = ntf_msg_payload(m), *s;
		char tok[256];

		if (m->is_event)
			snprintf(tok, sizeof(tok), "%s@%llu", m->doc_id, (unsigned long long)m->seq.ms);
		else if ((s = strstr(p, "\"op\":\"subscribed\"")) != NULL)
			snprintf(tok, sizeof(tok), "ack@%llu", strtoull(strstr(p, "\"seq\":\"") + 7, NULL, 10));
		else if (strstr(p, "\"op\":\"error\""))
			snprintf(tok, sizeof(tok), "err:%.*s", (int)strcspn(strstr(p, "\"code\":\"") + 8, "\""),
				 strstr(p, "\"code\":\"") + 8);
		else if (strstr(p, "\"op\":\"reset\""))
			snprintf(tok, sizeof(tok), "reset");
		else if (strstr(p, "\"op\":\"unsubscribed\""))
			snprintf(tok, sizeof(tok), "unsub");
		else
			snprintf(tok, sizeof(tok), "?");
		o += (size_t)snprintf(out + o, size - o, "%s%s", o ? " " : "", tok);
		ntf_hub_conn_sent(conn);
	}
}

#define EXPECT(conn, want)                                                                  \
	do {                                                                                \
		char got_[1024];                                                            \
		drain(conn, got_, sizeof(got_));                                            \
		cr_assert_str_eq(got_, want);                                               \
	} while (0)

/* A connection subscribed to "c" (collection synced at tail 5). */
static struct ntf_conn *subscribed_conn(void)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\"}");
	answer(take_query(), 5, false, 1, NULL);
	EXPECT(conn, "ack@5");
	return conn;
}

Test(hub, a_plain_subscription_acks_the_head_then_gets_later_events)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\"}");
	cr_assert_eq(fk.n_queries, 1, "the first client of a collection reads its tail");
	publish("a", 6); /* arrives while the tail read is in flight: held */
	EXPECT(conn, "");
	answer(take_query(), 5, false, 1, NULL);
	EXPECT(conn, "ack@5 a@6");
	publish("a", 6); /* a duplicate */
	publish("b", 7);
	EXPECT(conn, "b@7");
	ntf_hub_conn_free(conn);
}

Test(hub, events_of_other_collections_are_ignored)
{
	struct ntf_conn *conn = subscribed_conn();
	const char *other = "9-0 {\"type\":\"created\",\"collection\":\"d\",\"id\":\"x\",\"version\":1,"
			    "\"doc\":{}}";

	ntf_hub_publish(&hub, other, strlen(other));
	cr_assert_eq(hub.in_count, 0);
	cr_assert_eq(hub.metrics.events_ignored, 1);
	EXPECT(conn, "");
	ntf_hub_conn_free(conn);
}

Test(hub, overlapping_subscriptions_deliver_each_event_once)
{
	struct ntf_conn *conn = subscribed_conn();

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"a\"}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\"}");
	EXPECT(conn, "ack@5 ack@5");
	cr_assert_eq(conn->n_subs, 2, "a repeated subscription is not counted twice");
	publish("a", 6);
	publish("b", 7);
	EXPECT(conn, "a@6 b@7");
	ntf_hub_conn_free(conn);
}

Test(hub, a_document_subscription_filters)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"a\"}");
	answer(take_query(), 5, false, 1, NULL);
	publish("b", 6);
	publish("a", 7);
	EXPECT(conn, "ack@5 a@7");
	send_msg(conn, "{\"op\":\"unsubscribe\",\"collection\":\"c\",\"id\":\"a\"}");
	publish("a", 8);
	EXPECT(conn, "unsub");
	cr_assert_eq(conn->n_subs, 0);
	cr_assert_null(conn->feeds, "the empty feed is gone");
	ntf_hub_conn_free(conn);
}

Test(hub, a_replay_is_followed_by_held_live_events_without_gap_or_duplicate)
{
	struct ntf_conn *conn = subscribed_conn();
	struct ntf_conn *other = ntf_hub_conn_new(&hub, NULL);
	struct ntf_query *q;

	send_msg(other, "{\"op\":\"subscribe\",\"collection\":\"c\",\"since\":\"2-0\"}");
	q = take_query();
	cr_assert(q->has_since);
	cr_assert_eq(q->since.ms, 2);
	publish("x", 6); /* live while the replay reads: held for `other` */
	publish("y", 7);
	EXPECT(conn, "x@6 y@7");
	EXPECT(other, "");
	/* The log read saw the tail at 6: 6 comes from the log, 7 from the held events. */
	answer(q, 6, false, 1, (const char *const[]){"p@3", "q@4", "x@6", NULL});
	EXPECT(other, "ack@6 p@3 q@4 x@6 y@7");
	publish("z", 8);
	EXPECT(other, "z@8");
	ntf_hub_conn_free(conn);
	ntf_hub_conn_free(other);
}

Test(hub, a_replay_reads_page_by_page_up_to_the_ack)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);
	struct ntf_query *q;
	const char *page[NTF_REPLAY_PAGE + 1];
	char ids[NTF_REPLAY_PAGE][16];
	uint32_t count;

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"since\":\"0-0\"}");
	answer(take_query(), 1000, false, 1, NULL); /* the collection's tail */
	q = take_query();
	count = q->count;
	cr_assert_lt(count, NTF_REPLAY_PAGE + 1);
	for (uint32_t i = 0; i < count; i++) {
		snprintf(ids[i], sizeof(ids[i]), "e@%u", i + 1);
		page[i] = ids[i];
	}
	page[count] = NULL;
	answer(q, 1000, false, 1, page);
	{
		char got[8192];
		drain(conn, got, sizeof(got));
		cr_assert(!strncmp(got, "ack@1000 e@1 e@2", 16), "got %.40s", got);
	}
	q = take_query();
	cr_assert(q->has_end, "later pages stop at the ack's seq");
	cr_assert_eq(q->end.ms, 1000);
	cr_assert_eq(q->since.ms, count);
	answer(q, 1200, false, 1, (const char *const[]){"e@999", "e@1000", NULL});
	EXPECT(conn, "e@999 e@1000");
	cr_assert_eq(fk.n_queries, 0, "done: a short page ends the replay");
	publish("e", 1001);
	EXPECT(conn, "e@1001");
	ntf_hub_conn_free(conn);
}

Test(hub, a_document_replay_on_a_live_feed_sends_only_what_was_not_sent)
{
	struct ntf_conn *conn = subscribed_conn();
	struct ntf_query *q;

	publish("a", 6);
	publish("b", 7);
	EXPECT(conn, "a@6 b@7");
	/* A document subscription asking for history that the collection one partly sent. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"b\",\"since\":\"2-0\"}");
	q = take_query();
	answer(q, 7, false, 1, (const char *const[]){"b@4", "a@6", "b@7", NULL});
	EXPECT(conn, "ack@7 b@4");
	ntf_hub_conn_free(conn);
}

Test(hub, since_older_than_the_log_gives_reset_and_no_subscription)
{
	struct ntf_conn *conn = subscribed_conn();

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"x\",\"since\":\"2-0\"}");
	answer(take_query(), 50, true, 10, NULL);
	EXPECT(conn, "reset");
	cr_assert_eq(conn->n_subs, 1);
	/* The first id kept is 10; since 9 is then the newest event that can be trimmed: reset. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"x\",\"since\":\"9-0\"}");
	answer(take_query(), 50, true, 10, NULL);
	EXPECT(conn, "reset");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"x\",\"since\":\"10-0\"}");
	answer(take_query(), 50, true, 10, NULL);
	EXPECT(conn, "ack@50");
	/* Never trimmed: since 0-0 replays from the start. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"y\",\"since\":\"0-0\"}");
	answer(take_query(), 50, false, 1, (const char *const[]){"y@1", NULL});
	EXPECT(conn, "ack@50 y@1");
	ntf_hub_conn_free(conn);
}

/* As answer(), for a first replay read whose since the log does not know. */
static void answer_since_unknown(struct ntf_query *q, uint64_t tail_ms)
{
	struct ntf_log_result res = {.ok = true, .tail = {tail_ms, 0}, .first = {1, 0},
				     .since_unknown = true};

	cr_assert(q->check_since, "the first read of a replay must check since");
	ntf_hub_query_done(q, &res);
}

Test(hub, a_since_the_log_does_not_know_gives_reset_and_no_subscription)
{
	struct ntf_conn *conn = subscribed_conn();
	struct ntf_query *q;

	/* A seq from the future, or inside the log's range but never an entry. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"since\":\"9999-0\"}");
	answer_since_unknown(take_query(), 50);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"x\",\"since\":\"20-1\"}");
	answer_since_unknown(take_query(), 50);
	EXPECT(conn, "reset reset");
	cr_assert_eq(conn->n_subs, 1, "only the plain subscription is left");
	cr_assert_eq(hub.metrics.resets, 2);
	publish("x", 60);
	EXPECT(conn, "x@60");
	/* A since the log knows: acked at the tail, and later pages are not checked again. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"y\",\"since\":\"20-0\"}");
	q = take_query();
	cr_assert(q->check_since);
	cr_assert_eq(q->since.ms, 20);
	{
		const char *page[NTF_REPLAY_PAGE + 1];
		char ids[NTF_REPLAY_PAGE][16];
		uint32_t count = q->count;

		for (uint32_t i = 0; i < count; i++) {
			snprintf(ids[i], sizeof(ids[i]), "y@%u", 21 + i);
			page[i] = ids[i];
		}
		page[count] = NULL;
		answer(q, 21 + count + 5, false, 1, page);
		q = take_query();
		cr_assert_not(q->check_since, "a later page starts from an entry just read");
		answer(q, 21 + count + 5, false, 1, NULL);
	}
	ntf_hub_conn_free(conn);
}

Test(hub, a_text_message_that_is_not_utf8_closes_with_1007)
{
	static const char *const bad[] = {
		"{\"op\":\"ping\",\"x\":\"\xc0\xaf\"}",
		"{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}",
		"{\"op\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}",
		"{\"op\":\"ping\",\"x\":\"\xe2\x82\"}",
		"{\"op\":\"ping\",\"x\":\"\x80\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

		cr_assert_eq(ntf_hub_conn_message(conn, bad[i], strlen(bad[i])),
			     NTF_CLOSE_INVALID_PAYLOAD, "case %zu", i);
		EXPECT(conn, "");
		ntf_hub_conn_free(conn);
	}
	{
		struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

		send_msg(conn, "{\"op\":\"ping\",\"x\":\"\xc3\xa9\xf0\x9f\x98\x80\"}");
		send_msg(conn, "{\"op\":NaN}");
		EXPECT(conn, "? err:invalid_json");
		ntf_hub_conn_free(conn);
	}
}

Test(hub, a_redis_loss_is_filled_from_the_log_once)
{
	struct ntf_conn *conn = subscribed_conn();
	struct ntf_query *q;

	publish("a", 6);
	EXPECT(conn, "a@6");
	ntf_hub_link_down(&hub);
	ntf_hub_link_up(&hub);
	q = take_query();
	cr_assert(q->is_sync);
	cr_assert_eq(q->since.ms, 6, "the gap is read from the last event fanned out");
	publish("d", 9); /* live again while the gap is read: held */
	publish("c", 8);
	answer(q, 8, false, 1, (const char *const[]){"b@7", "c@8", NULL});
	EXPECT(conn, "b@7 c@8 d@9");
	ntf_hub_conn_free(conn);
}

Test(hub, a_gap_the_log_no_longer_holds_resets_the_subscribers)
{
	struct ntf_conn *conn = subscribed_conn();

	publish("a", 6);
	EXPECT(conn, "a@6");
	ntf_hub_link_down(&hub);
	ntf_hub_link_up(&hub);
	answer(take_query(), 500, true, 100, NULL);
	EXPECT(conn, "reset");
	cr_assert_eq(conn->n_subs, 0);
	ntf_hub_conn_free(conn);
}

Test(hub, too_many_subscriptions_is_an_error)
{
	struct ntf_conn *conn = subscribed_conn();

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"a\"}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"b\"}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"d\"}");
	EXPECT(conn, "ack@5 ack@5 err:too_many_subscriptions");
	cr_assert_eq(conn->n_subs, 3);
	ntf_hub_conn_free(conn);
}

/* ---- overload: the intake waits for backed-up connections (ntf_hub.h) ------------ */

/* Queues an event without fanning it out. */
static void publish_only(const char *id, uint64_t ms)
{
	char buf[256];

	snprintf(buf, sizeof(buf),
		 "%llu-0 {\"type\":\"updated\",\"collection\":\"c\",\"id\":\"%s\",\"version\":2,"
		 "\"doc\":{\"id\":\"%s\"}}",
		 (unsigned long long)ms, id, id);
	ntf_hub_publish(&hub, buf, strlen(buf));
}

/*
 * Writes up to max frames of conn (all: max 0) and checks that its events
 * come in strictly rising seq order after *last (updated). Returns how
 * many events were written.
 */
static uint32_t write_events(struct ntf_conn *conn, uint32_t max, uint64_t *last)
{
	struct ntf_msg *m;
	uint32_t n = 0;

	while ((!max || n < max) && (m = ntf_hub_conn_next(conn)) != NULL) {
		cr_assert(m->is_event);
		cr_assert_gt(m->seq.ms, *last, "event %llu after %llu", (unsigned long long)m->seq.ms,
			     (unsigned long long)*last);
		*last = m->seq.ms;
		n++;
		ntf_hub_conn_sent(conn);
	}
	return n;
}

/* One more subscriber of "c" once the collection is live. */
static struct ntf_conn *another_conn(void)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\"}");
	EXPECT(conn, "ack@5");
	return conn;
}

static void pump_all(void)
{
	for (int i = 0; i < 100000 && ntf_hub_pump(&hub); i++)
		;
}

Test(hub, a_backed_up_connection_holds_the_intake_instead_of_passing_the_caps)
{
	struct ntf_conn *a = subscribed_conn(), *b = another_conn();
	uint64_t last_a = 5, last_b = 5;
	uint32_t got_a = 0, got_b = 0;

	for (uint64_t i = 0; i < 300; i++)
		publish_only("a", 10 + i);
	pump_all();
	/* The caps are 64 frames: the pump stopped at the high watermark, 32. */
	cr_assert_eq(a->out.count, 32);
	cr_assert_eq(b->out.count, 32);
	cr_assert(a->backed && a->holding && b->holding);
	cr_assert_eq(hub.n_holding, 2);
	cr_assert_eq(hub.metrics.intake_pauses, 1);
	cr_assert_eq(hub.in_count, 300 - 32, "the rest waits in the inbound queue");
	/* Draining one is not enough; both down to the low watermark (16) resume it. */
	got_a += write_events(a, 0, &last_a);
	cr_assert_eq(hub.n_holding, 1);
	int before = fk.schedules;
	got_b += write_events(b, 15, &last_b);
	cr_assert_eq(hub.n_holding, 1, "17 frames left: still above the low watermark");
	got_b += write_events(b, 1, &last_b);
	cr_assert_eq(hub.n_holding, 0);
	cr_assert_eq(fk.schedules, before + 1, "the last holder to drain restarts the pump");
	for (int round = 0; round < 100 && (hub.in_count || a->out.count || b->out.count); round++) {
		pump_all();
		got_a += write_events(a, 0, &last_a);
		got_b += write_events(b, 0, &last_b);
	}
	cr_assert_eq(got_a, 300, "every event once, in order");
	cr_assert_eq(got_b, 300);
	cr_assert_eq(a->close_code + b->close_code, 0, "nobody was closed");
	cr_assert_eq(hub.metrics.slow_consumer_closes, 0);
	cr_assert_eq(hub.metrics.lagging_marks, 0);
	ntf_hub_conn_free(a);
	ntf_hub_conn_free(b);
}

Test(hub, a_connection_that_takes_nothing_lags_after_a_tick_and_is_closed_at_the_caps)
{
	struct ntf_conn *slow = subscribed_conn(), *fast = another_conn();
	uint64_t last = 5;
	uint32_t got = 0;

	for (uint64_t i = 0; i < 100; i++)
		publish_only("a", 10 + i);
	pump_all();
	got += write_events(fast, 0, &last);
	pump_all();
	cr_assert(slow->holding, "the intake waits for the slow one too, at first");
	cr_assert_eq(got, 32);
	ntf_hub_tick(&hub); /* backed up less than a whole tick: nothing yet */
	cr_assert_not(slow->lagging);
	got += write_events(fast, 0, &last);
	ntf_hub_tick(&hub); /* a whole tick without a byte written, while the other one read */
	cr_assert(slow->lagging);
	cr_assert_eq(hub.metrics.lagging_marks, 1);
	cr_assert_eq(hub.n_holding, 0);
	for (int round = 0; round < 100 && hub.in_count; round++) {
		pump_all();
		got += write_events(fast, 0, &last);
	}
	got += write_events(fast, 0, &last);
	cr_assert_eq(got, 100, "the reader got everything");
	cr_assert_eq(slow->close_code, NTF_CLOSE_SLOW_CONSUMER, "fed past the watermark up to the caps");
	cr_assert_eq(slow->out.count, 0, "the backlog is released at once");
	cr_assert_eq(fast->close_code, 0);
	cr_assert_eq(hub.metrics.slow_consumer_closes, 1);
	cr_assert_eq(fk.closes, 1);
	ntf_hub_conn_free(slow);
	ntf_hub_conn_free(fast);
}

Test(hub, a_lagging_connection_that_catches_up_holds_the_intake_again)
{
	struct ntf_conn *conn = subscribed_conn(), *other = another_conn();
	uint64_t last = 5, last_other = 5;

	for (uint64_t i = 0; i < 40; i++)
		publish_only("a", 10 + i);
	pump_all();
	ntf_hub_tick(&hub);
	write_events(other, 0, &last_other);
	ntf_hub_tick(&hub);
	cr_assert(conn->lagging);
	pump_all();
	cr_assert_eq(conn->out.count, 40);
	cr_assert_eq(write_events(conn, 0, &last), 40);
	cr_assert_not(conn->lagging, "down to the low watermark: a reader again");
	cr_assert_not(conn->backed);
	ntf_hub_conn_free(conn);
	ntf_hub_conn_free(other);
}

Test(hub, at_most_a_quarter_of_the_connections_lag_at_a_time)
{
	struct ntf_conn *c[8];

	c[0] = subscribed_conn();
	for (int i = 1; i < 8; i++)
		c[i] = another_conn();
	for (uint64_t i = 0; i < 40; i++)
		publish_only("a", 10 + i);
	pump_all();
	ntf_hub_tick(&hub);
	ntf_hub_tick(&hub); /* all stuck, none took anything: the notifier may be the one stalled */
	int lagging = 0;
	for (int i = 0; i < 8; i++)
		lagging += c[i]->lagging;
	cr_assert_eq(lagging, 2);
	cr_assert_eq(hub.n_holding, 6, "the intake still waits for the others");
	for (int i = 0; i < 8; i++)
		ntf_hub_conn_free(c[i]);
	cr_assert_eq(hub.n_holding, 0, "holders that go release the intake");
	cr_assert_eq(hub.n_lagging, 0);
}

Test(hub, when_every_connection_is_stuck_the_notifier_is_the_bottleneck_and_nobody_lags)
{
	struct ntf_conn *c[5];
	uint64_t last[5] = {5, 5, 5, 5, 5};

	c[0] = subscribed_conn();
	for (int i = 1; i < 5; i++)
		c[i] = another_conn();
	for (uint64_t i = 0; i < 100; i++)
		publish_only("a", 10 + i);
	pump_all();
	/* Each takes a frame a tick: progress, but never down to the low watermark. */
	for (int t = 0; t < 5; t++) {
		for (int i = 0; i < 5; i++)
			cr_assert_eq(write_events(c[i], 1, &last[i]), 1);
		ntf_hub_tick(&hub);
	}
	for (int i = 0; i < 5; i++)
		cr_assert_not(c[i]->lagging, "conn %d", i);
	cr_assert_eq(hub.n_holding, 5);
	/* Now four drain and one still crawls: it lags, being 1 stuck in 5. */
	for (int i = 0; i < 4; i++)
		write_events(c[i], 0, &last[i]);
	write_events(c[4], 1, &last[4]);
	ntf_hub_tick(&hub);
	cr_assert(c[4]->lagging);
	cr_assert_eq(hub.n_holding, 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(c[i]->close_code, 0);
		ntf_hub_conn_free(c[i]);
	}
}

Test(hub, a_socket_that_takes_nothing_for_the_stall_time_is_closed_with_4008)
{
	struct ntf_conn *conn = subscribed_conn();
	uint64_t last = 5;

	hub.limits.stall_ticks = 3;
	publish("a", 10);
	for (int t = 0; t < 3; t++) {
		ntf_hub_tick(&hub);
		cr_assert_eq(conn->close_code, 0, "tick %d", t);
	}
	/* Progress restarts the count. */
	cr_assert_eq(write_events(conn, 0, &last), 1);
	publish("a", 11);
	for (int t = 0; t < 3; t++)
		ntf_hub_tick(&hub);
	cr_assert_eq(conn->close_code, 0);
	ntf_hub_tick(&hub); /* 3 whole ticks without a byte while a frame waited */
	cr_assert_eq(conn->close_code, NTF_CLOSE_SLOW_CONSUMER);
	cr_assert_eq(hub.metrics.stall_closes, 1);
	cr_assert_eq(hub.metrics.slow_consumer_closes, 1);
	ntf_hub_conn_free(conn);
}

Test(hub, an_idle_connection_never_stalls)
{
	struct ntf_conn *conn = subscribed_conn();

	hub.limits.stall_ticks = 1;
	for (int t = 0; t < 5; t++)
		ntf_hub_tick(&hub);
	cr_assert_eq(conn->close_code, 0);
	ntf_hub_conn_free(conn);
}

Test(hub, a_redis_loss_while_events_wait_is_read_from_the_last_queued_event)
{
	struct ntf_conn *conn = subscribed_conn();
	struct ntf_query *q;

	publish_only("a", 6); /* queued, not fanned out yet */
	publish_only("b", 7);
	ntf_hub_link_down(&hub);
	ntf_hub_link_up(&hub);
	q = take_query();
	cr_assert(q->is_sync);
	cr_assert_eq(q->since.ms, 7, "not from the head (5): 6 and 7 are queued already");
	answer(q, 8, true, 7, (const char *const[]){"c@8", NULL});
	EXPECT(conn, "a@6 b@7 c@8");
	ntf_hub_conn_free(conn);
}

Test(hub, a_sync_waits_for_room_in_the_inbound_queue)
{
	struct ntf_conn *conn = subscribed_conn();
	const uint64_t n = NTF_INBOUND_HIGH + 1;
	uint64_t last = 5, got = 0;
	struct ntf_query *q;

	for (uint64_t i = 0; i < n; i++)
		publish_only("a", 10 + i);
	cr_assert(hub.input_paused);
	cr_assert_eq(hub.metrics.input_pauses, 1);
	ntf_hub_link_down(&hub); /* Redis cut the paused subscriber */
	ntf_hub_link_up(&hub);
	cr_assert_eq(fk.n_queries, 0, "no log read while the queue is long");
	cr_assert(hub.subs.n_colls == 1);
	for (int round = 0; round < 10000 && !fk.n_queries; round++) {
		pump_all();
		got += write_events(conn, 0, &last);
	}
	cr_assert_eq(fk.n_queries, 1, "the sync resumed once the queue was short");
	cr_assert_not(hub.input_paused);
	q = take_query();
	cr_assert_eq(q->since.ms, 10 + n - 1, "from the last queued event");
	publish_only("z", 10 + n + 1); /* live during the read: held */
	answer(q, 10 + n, false, 1, (const char *const[]){"y@20011", NULL});
	for (int round = 0; round < 10000 && (hub.in_count || conn->out.count); round++) {
		pump_all();
		got += write_events(conn, 0, &last);
	}
	cr_assert_eq(got, n + 2, "every event once, in order");
	cr_assert_eq(last, 10 + n + 1);
	cr_assert_eq(conn->close_code, 0);
	ntf_hub_conn_free(conn);
}

Test(hub, errors_keep_the_connection_and_shutdown_closes_with_1001)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	send_msg(conn, "{oops");
	send_msg(conn, "{\"op\":\"ping\"}");
	EXPECT(conn, "err:invalid_json ?");
	cr_assert_eq(ntf_hub_conn_message(conn, "x", NTF_CLIENT_MSG_MAX + 1), NTF_CLOSE_TOO_BIG);
	ntf_hub_shutdown(&hub);
	cr_assert_eq(conn->close_code, NTF_CLOSE_GOING_AWAY);
	ntf_hub_conn_free(conn);
}

/* ---- filtered subscriptions (SPEC 8) ------------------------------------- */

/*
 * An event body of "c": kind 'c' created, 'u' updated, 'd' deleted; done
 * is the document's "done" after the write (-1: none), was before it (-1: no prev).
 */
static void body_of(char *buf, size_t size, char kind, const char *id, int done, int was)
{
	const char *type = kind == 'c' ? "created" : kind == 'u' ? "updated" : "deleted";
	size_t n;

	n = (size_t)snprintf(buf, size, "{\"type\":\"%s\",\"collection\":\"c\",\"id\":\"%s\",\"version\":3",
			     type, id);
	if (done >= 0)
		n += (size_t)snprintf(buf + n, size - n, ",\"doc\":{\"id\":\"%s\",\"done\":%s}", id,
				      done ? "true" : "false");
	n += (size_t)snprintf(buf + n, size - n, "}");
	if (was >= 0)
		snprintf(buf + n, size - n, "\n{\"prev\":{\"id\":\"%s\",\"done\":%s}}", id,
			 was ? "true" : "false");
}

static void publish_body(char kind, const char *id, int done, int was, uint64_t ms)
{
	char body[512], buf[600];

	body_of(body, sizeof(body), kind, id, done, was);
	snprintf(buf, sizeof(buf), "%llu-0 %s", (unsigned long long)ms, body);
	ntf_hub_publish(&hub, buf, strlen(buf));
	while (ntf_hub_pump(&hub))
		;
}

/* Frames as "sid:type:id@ms" for filtered events, "id@ms" for plain ones, "ack:sid@ms" ... */
static void drain_views(struct ntf_conn *conn, char *out, size_t size)
{
	struct ntf_msg *m;
	size_t o = 0;

	out[0] = '\0';
	while ((m = ntf_hub_conn_next(conn)) != NULL) {
		const char *p = ntf_msg_payload(m), *sid = strstr(p, "\"sid\":\""), *t;
		char tok[256], sidb[80] = "";

		if (sid)
			snprintf(sidb, sizeof(sidb), "%.*s:", (int)strcspn(sid + 7, "\""), sid + 7);
		if (m->is_event && sid) {
			t = strstr(p, "\"type\":\"") + 8;
			snprintf(tok, sizeof(tok), "%s%.*s:%s@%llu", sidb, (int)strcspn(t, "\""), t,
				 m->doc_id, (unsigned long long)m->seq.ms);
			cr_assert_eq(strstr(p, "\"doc\"") != NULL, *t != 'l' && *t != 'd', "%s", p);
		} else if (m->is_event) {
			snprintf(tok, sizeof(tok), "%s@%llu", m->doc_id, (unsigned long long)m->seq.ms);
		} else if (strstr(p, "\"op\":\"subscribed\"")) {
			snprintf(tok, sizeof(tok), "%sack@%llu", sidb,
				 strtoull(strstr(p, "\"seq\":\"") + 7, NULL, 10));
		} else if (strstr(p, "\"op\":\"error\"")) {
			t = strstr(p, "\"code\":\"") + 8;
			snprintf(tok, sizeof(tok), "%serr:%.*s", sidb, (int)strcspn(t, "\""), t);
		} else if (strstr(p, "\"op\":\"reset\"")) {
			snprintf(tok, sizeof(tok), "%sreset", sidb);
		} else if (strstr(p, "\"op\":\"unsubscribed\"")) {
			snprintf(tok, sizeof(tok), "%sunsub", sidb);
		} else {
			snprintf(tok, sizeof(tok), "?");
		}
		o += (size_t)snprintf(out + o, size - o, "%s%s", o ? " " : "", tok);
		ntf_hub_conn_sent(conn);
	}
}

#define EXPECT_V(conn, want)                                                                \
	do {                                                                                \
		char got_[2048];                                                            \
		drain_views(conn, got_, sizeof(got_));                                      \
		cr_assert_str_eq(got_, want);                                               \
	} while (0)

#define OPEN_VIEW "{\"op\":\"subscribe\",\"collection\":\"c\",\"sid\":\"open\",\"where\":{\"done\":false}"

Test(hub, a_filtered_subscription_tells_created_left_entered_deleted)
{
	struct ntf_conn *conn = subscribed_conn();

	send_msg(conn, OPEN_VIEW "}");
	EXPECT_V(conn, "open:ack@5");
	cr_assert_eq(conn->n_subs, 2);
	publish_body('c', "a", 0, -1, 6);  /* matches: created */
	publish_body('c', "b", 1, -1, 7);  /* does not */
	publish_body('u', "a", 1, 0, 8);   /* stops matching: left */
	publish_body('u', "b", 1, 1, 9);   /* never matched: nothing */
	publish_body('u', "a", 0, 1, 10);  /* matches again: entered */
	publish_body('u', "a", 0, 0, 11);  /* still matches: updated */
	publish_body('d', "b", -1, 1, 12); /* did not match: nothing */
	publish_body('d', "a", -1, 0, 13); /* matched before: deleted */
	/* The plain subscription gets every event once; the view its own stream. */
	EXPECT_V(conn, "open:created:a@6 a@6 b@7 open:left:a@8 a@8 b@9 open:entered:a@10 a@10 "
		       "open:updated:a@11 a@11 b@12 open:deleted:a@13 a@13");
	ntf_hub_conn_free(conn);
}

Test(hub, sid_rules_replace_unsubscribe_and_count)
{
	struct ntf_conn *conn = subscribed_conn();

	send_msg(conn, OPEN_VIEW "}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"sid\":\"open\",\"where\":{\"done\":true}}");
	EXPECT_V(conn, "open:ack@5 open:ack@5");
	cr_assert_eq(conn->n_subs, 2, "a repeated sid replaces");
	publish_body('c', "a", 1, -1, 6); /* the new where holds */
	EXPECT_V(conn, "open:created:a@6 a@6");
	/* Without sid, unsubscribe ends only the unfiltered subscription. */
	send_msg(conn, "{\"op\":\"unsubscribe\",\"collection\":\"c\"}");
	publish_body('u', "a", 1, 1, 7);
	EXPECT_V(conn, "unsub open:updated:a@7");
	cr_assert_eq(conn->n_subs, 1);
	/* Views count toward max_subs (3). */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"sid\":\"b\",\"where\":{}}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"d\",\"sid\":\"c\",\"where\":{}}");
	answer(take_query(), 1, false, 1, NULL);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"sid\":\"d\",\"where\":{}}");
	EXPECT_V(conn, "b:ack@7 c:ack@1 d:err:too_many_subscriptions");
	send_msg(conn, "{\"op\":\"unsubscribe\",\"collection\":\"c\",\"sid\":\"open\"}");
	publish_body('u', "a", 1, 1, 8);
	EXPECT_V(conn, "open:unsub b:updated:a@8");
	cr_assert_eq(conn->n_subs, 2);
	/* Errors echo the request's sid. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"sid\":\"e\",\"where\":{\"x\":{\"$bad\":1}}}");
	EXPECT_V(conn, "e:err:invalid_query");
	ntf_hub_conn_free(conn);
}

/* Answers q with entries given as bodies built by body_of: {kind, id, done, was, ms}. */
struct entry {
	char kind;
	const char *id;
	int done, was;
	uint64_t ms;
};

static void answer_entries(struct ntf_query *q, uint64_t tail_ms, const struct entry *e, size_t n)
{
	struct ntf_msg *evs[32];
	struct ntf_log_result res = {.ok = true, .tail = {tail_ms, 0}, .first = {1, 0}, .events = evs};

	for (size_t i = 0; i < n; i++) {
		char body[512], seq[32];
		bool malformed;

		body_of(body, sizeof(body), e[i].kind, e[i].id, e[i].done, e[i].was);
		snprintf(seq, sizeof(seq), "%llu-0", (unsigned long long)e[i].ms);
		evs[i] = ntf_proto_event(seq, strlen(seq), body, strlen(body), NULL, &malformed);
		cr_assert_not_null(evs[i]);
		res.last_entry = evs[i]->seq;
	}
	res.n_events = res.n_entries = n;
	ntf_hub_query_done(q, &res);
	while (ntf_hub_pump(&hub))
		;
	for (size_t i = 0; i < n; i++)
		ntf_msg_unref(evs[i]);
}

Test(hub, a_filtered_replay_reads_like_the_live_stream)
{
	struct ntf_conn *conn = subscribed_conn();
	const struct entry log[] = {
		{'c', "a", 0, -1, 3}, {'c', "b", 1, -1, 4}, {'u', "a", 1, 0, 5},
	};

	send_msg(conn, OPEN_VIEW ",\"since\":\"2-0\"}");
	publish_body('u', "a", 0, 1, 6); /* live while the replay reads: held */
	EXPECT_V(conn, "a@6");
	answer_entries(take_query(), 5, log, 3);
	EXPECT_V(conn, "open:ack@5 open:created:a@3 open:left:a@5 open:entered:a@6");
	publish_body('d', "a", -1, 0, 7);
	EXPECT_V(conn, "open:deleted:a@7 a@7");
	ntf_hub_conn_free(conn);
}

/* ---- coalescing subscriptions (SPEC 5) ------------------------------------ */

/*
 * Frames as "type:id@ms" for events ("sid/type:id@ms" for a view's), the
 * other frames as drain_views writes them. The fake transport writes
 * nothing until a test drains, so a connection is backlogged exactly
 * while its frames wait here.
 */
static void drain_types(struct ntf_conn *conn, char *out, size_t size)
{
	struct ntf_msg *m;
	size_t o = 0;

	out[0] = '\0';
	while ((m = ntf_hub_conn_next(conn)) != NULL) {
		const char *p = ntf_msg_payload(m), *sid = strstr(p, "\"sid\":\""), *t;
		char tok[256], sidb[80] = "";
		struct json_object *o_ = json_tokener_parse(p);

		cr_assert_not_null(o_, "every frame is JSON: %s", p);
		json_object_put(o_);
		if (sid)
			snprintf(sidb, sizeof(sidb), "%.*s/", (int)strcspn(sid + 7, "\""), sid + 7);
		if (m->is_event) {
			t = strstr(p, "\"type\":\"") + 8;
			snprintf(tok, sizeof(tok), "%s%.*s:%s@%llu", sidb, (int)strcspn(t, "\""), t,
				 m->doc_id, (unsigned long long)m->seq.ms);
			cr_assert_eq(strstr(p, "\"doc\"") != NULL, *t != 'l' && *t != 'd', "%s", p);
			cr_assert_eq(m->ev_type, *t == 'c' ? NTF_EV_CREATED : *t == 'u' ? NTF_EV_UPDATED :
				     *t == 'd' ? NTF_EV_DELETED : *t == 'e' ? NTF_EV_ENTERED : NTF_EV_LEFT);
		} else if (strstr(p, "\"op\":\"subscribed\"")) {
			snprintf(tok, sizeof(tok), "%sack@%llu", sidb,
				 strtoull(strstr(p, "\"seq\":\"") + 7, NULL, 10));
		} else if (strstr(p, "\"op\":\"error\"")) {
			t = strstr(p, "\"code\":\"") + 8;
			snprintf(tok, sizeof(tok), "%serr:%.*s", sidb, (int)strcspn(t, "\""), t);
		} else {
			snprintf(tok, sizeof(tok), "?");
		}
		o += (size_t)snprintf(out + o, size - o, "%s%s", o ? " " : "", tok);
		ntf_hub_conn_sent(conn);
	}
}

#define EXPECT_T(conn, want)                                                                \
	do {                                                                                \
		char got_[2048];                                                            \
		drain_types(conn, got_, sizeof(got_));                                      \
		cr_assert_str_eq(got_, want);                                               \
	} while (0)

/* A connection subscribed to "c" with the subscribe message's extra members. */
static struct ntf_conn *conn_with(const char *extra)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);
	char msg[256];

	snprintf(msg, sizeof(msg), "{\"op\":\"subscribe\",\"collection\":\"c\"%s}", extra);
	send_msg(conn, msg);
	if (fk.n_queries)
		answer(take_query(), 5, false, 1, NULL);
	EXPECT_T(conn, "ack@5");
	return conn;
}

/* Every plain row of the table, interleaved, published while both clients are backlogged. */
static void publish_plain_rows(void)
{
	publish_body('c', "a", 0, -1, 6);  /* created + updated -> created */
	publish_body('u', "b", 0, 0, 7);   /* updated + updated -> updated */
	publish_body('u', "a", 1, 0, 8);
	publish_body('u', "b", 1, 0, 9);
	publish_body('u', "d", 1, 0, 10);  /* updated + deleted -> deleted */
	publish_body('c', "x", 0, -1, 11); /* created + deleted -> nothing */
	publish_body('d', "e", -1, 0, 12); /* deleted + created -> both */
	publish_body('d', "d", -1, 1, 13);
	publish_body('d', "x", -1, 0, 14);
	publish_body('c', "e", 0, -1, 15);
}

Test(hub, coalescing_merges_every_plain_row_while_backlogged_and_others_see_all)
{
	struct ntf_conn *co = conn_with(",\"coalesce\":true"), *plain = conn_with("");

	publish_plain_rows();
	/* Each merged frame takes the later event's place and seq. */
	EXPECT_T(co, "created:a@8 updated:b@9 deleted:e@12 deleted:d@13 created:e@15");
	EXPECT_T(plain, "created:a@6 updated:b@7 updated:a@8 updated:b@9 updated:d@10 created:x@11 "
			"deleted:e@12 deleted:d@13 deleted:x@14 created:e@15");
	cr_assert_eq(hub.metrics.coalesced_events, 5);
	/* A merged result merges again: created + updated + updated -> one created. */
	publish_body('c', "f", 0, -1, 16);
	publish_body('u', "f", 0, 0, 17);
	publish_body('u', "f", 1, 0, 18);
	EXPECT_T(co, "created:f@18");
	/* Not backlogged: nothing is queued to merge with. */
	publish_body('u', "f", 0, 1, 19);
	EXPECT_T(co, "updated:f@19");
	publish_body('u', "f", 1, 0, 20);
	EXPECT_T(co, "updated:f@20");
	ntf_hub_conn_free(co);
	ntf_hub_conn_free(plain);
}

#define COALESCED_VIEW                                                                      \
	"{\"op\":\"subscribe\",\"collection\":\"c\",\"sid\":\"v\",\"coalesce\":true,"          \
	"\"where\":{\"done\":false}}"

Test(hub, coalescing_merges_every_filtered_row_with_its_sid)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	send_msg(conn, COALESCED_VIEW);
	answer(take_query(), 5, false, 1, NULL);
	EXPECT_T(conn, "v/ack@5");
	publish_body('u', "a", 0, 1, 6);  /* entered + updated -> entered */
	publish_body('u', "b", 0, 0, 7);  /* updated + left -> left */
	publish_body('u', "c", 0, 1, 8);  /* entered + left -> nothing */
	publish_body('u', "d", 1, 0, 9);  /* left + entered -> updated */
	publish_body('u', "a", 0, 0, 10);
	publish_body('u', "b", 1, 0, 11);
	publish_body('u', "c", 1, 0, 12);
	publish_body('u', "d", 0, 1, 13);
	publish_body('c', "g", 0, -1, 14); /* created + left -> nothing */
	publish_body('u', "g", 1, 0, 15);
	publish_body('u', "h", 0, 1, 16);  /* entered + deleted -> nothing */
	publish_body('d', "h", -1, 0, 17);
	EXPECT_T(conn, "v/entered:a@10 v/left:b@11 v/updated:d@13");
	ntf_hub_conn_free(conn);
}

Test(hub, an_event_merges_only_when_every_subscription_selecting_it_coalesces)
{
	struct ntf_conn *conn = conn_with(",\"coalesce\":true");

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"a\"}");
	EXPECT_T(conn, "ack@5");
	publish_body('u', "a", 0, 0, 6);
	publish_body('u', "b", 0, 0, 7);
	publish_body('u', "a", 1, 0, 8);
	publish_body('u', "b", 1, 0, 9);
	EXPECT_T(conn, "updated:a@6 updated:a@8 updated:b@9");
	/* A repeated subscription takes the latest request's option. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"a\",\"coalesce\":true}");
	publish_body('u', "a", 0, 0, 10);
	publish_body('u', "a", 1, 0, 11);
	EXPECT_T(conn, "ack@9 updated:a@11");
	/* A frame queued while the option was off is never merged into later. */
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"a\"}");
	publish_body('u', "a", 0, 0, 12);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"a\",\"coalesce\":true}");
	publish_body('u', "a", 1, 0, 13);
	publish_body('u', "a", 0, 0, 14);
	EXPECT_T(conn, "ack@11 updated:a@12 ack@12 updated:a@14");
	ntf_hub_conn_free(conn);
}

Test(hub, a_coalescing_replay_merges_the_log_entries_it_queues)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);
	const struct entry log[] = {
		{'c', "a", 0, -1, 3}, {'c', "b", 0, -1, 4}, {'u', "a", 1, 0, 5}, {'d', "b", -1, 0, 6},
	};

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"since\":\"2-0\",\"coalesce\":true}");
	answer(take_query(), 6, false, 1, NULL); /* the collection's tail */
	publish_body('u', "a", 0, 1, 7);          /* live during the replay: held, then merged */
	answer_entries(take_query(), 6, log, 4);
	EXPECT_T(conn, "ack@6 created:a@7");
	ntf_hub_conn_free(conn);
}

Test(hub, a_malformed_coalesce_is_invalid_query_and_views_merge_only_their_own_frames)
{
	struct ntf_conn *conn = conn_with("");

	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":1}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":\"true\"}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":null}");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":false}");
	EXPECT_T(conn, "err:invalid_query err:invalid_query err:invalid_query ack@5");
	/* A coalescing view beside a plain feed that does not coalesce. */
	send_msg(conn, COALESCED_VIEW);
	EXPECT_T(conn, "v/ack@5");
	publish_body('c', "a", 0, -1, 6);
	publish_body('u', "a", 0, 0, 7);
	/* Feeds are offered an event newest first: the view's frame, then the plain one. */
	EXPECT_T(conn, "created:a@6 v/created:a@7 updated:a@7");
	/* A view replaced by a repeated sid does not merge its predecessor's frames. */
	publish_body('u', "a", 0, 0, 8);
	send_msg(conn, COALESCED_VIEW);
	publish_body('u', "a", 0, 0, 9);
	EXPECT_T(conn, "v/updated:a@8 updated:a@8 v/ack@8 v/updated:a@9 updated:a@9");
	ntf_hub_conn_free(conn);
}
