/*
 * Unit tests of the hub's hooks for a Redis side that subscribes per
 * collection (ntf_cluster): the watch op on a collection's first and last
 * local client, ntf_hub_coll_resync() for one collection that lost its
 * channel, and the is_up op behind ntf_hub_link_is_up(). Fake transports,
 * reads answered by hand.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ntf_hub_internal.h"

struct cfake {
	struct ntf_query *queries[16];
	int n_queries;
	int watch_on, watch_off;
	char last_watch[64];
	bool up;
};

static struct cfake cf;
static struct ntf_hub chub;

static void cf_wake(void *data, void *handle, bool closing)
{
	(void)data;
	(void)handle;
	(void)closing;
}

static int cf_read(void *data, struct ntf_query *q)
{
	(void)data;
	cr_assert_lt(cf.n_queries, 16);
	cf.queries[cf.n_queries++] = q;
	return 0;
}

static void cf_pause(void *data, bool pause)
{
	(void)data;
	(void)pause;
}

static void cf_watch(void *data, const char *col, size_t len, bool on)
{
	cr_assert_eq(data, &cf);
	snprintf(cf.last_watch, sizeof(cf.last_watch), "%.*s", (int)len, col);
	if (on)
		cf.watch_on++;
	else
		cf.watch_off++;
}

static bool cf_is_up(void *data)
{
	return ((struct cfake *)data)->up;
}

static void cf_schedule(void *data)
{
	(void)data;
}

static void cf_setup(void)
{
	struct ntf_hub_limits limits = {.max_subs = 5, .queue = {.max_msgs = 64, .max_bytes = 1 << 20}};
	struct ntf_hub_ops ops = {.ws = {.wake = cf_wake},
				  .redis = {.data = &cf, .read_log = cf_read, .pause_input = cf_pause,
					    .watch = cf_watch, .is_up = cf_is_up},
				  .loop = {.schedule = cf_schedule}};

	memset(&cf, 0, sizeof(cf));
	cf.up = true;
	cr_assert_eq(ntf_hub_init(&chub, &limits, &ops), 0);
	ntf_hub_link_up(&chub);
}

static void cf_teardown(void)
{
	struct ntf_log_result fail = {.ok = false};

	while (cf.n_queries)
		ntf_hub_query_done(cf.queries[--cf.n_queries], &fail);
	ntf_hub_destroy(&chub);
}

TestSuite(hub_cluster, .init = cf_setup, .fini = cf_teardown);

static struct ntf_query *cf_take(void)
{
	struct ntf_query *q;

	cr_assert_gt(cf.n_queries, 0, "no log read was issued");
	q = cf.queries[0];
	memmove(cf.queries, cf.queries + 1, sizeof(cf.queries[0]) * (size_t)--cf.n_queries);
	return q;
}

static struct ntf_msg *cf_event(uint64_t ms)
{
	char seq[32], body[256];
	bool malformed;
	struct ntf_msg *m;

	snprintf(seq, sizeof(seq), "%llu-0", (unsigned long long)ms);
	snprintf(body, sizeof(body), "{\"type\":\"updated\",\"collection\":\"c\",\"id\":\"e%llu\","
		 "\"version\":2,\"doc\":{}}", (unsigned long long)ms);
	m = ntf_proto_event(seq, strlen(seq), body, strlen(body), NULL, &malformed);
	cr_assert_not_null(m);
	return m;
}

/* Answers q: tail at tail_ms, entries at the given ms (0-terminated). */
static void cf_answer(struct ntf_query *q, uint64_t tail_ms, const uint64_t *entries)
{
	struct ntf_msg *evs[16];
	struct ntf_log_result res = {.ok = true, .tail = {tail_ms, 0}, .first = {1, 0}, .events = evs};

	for (; entries && entries[res.n_events]; res.n_events++) {
		evs[res.n_events] = cf_event(entries[res.n_events]);
		res.last_entry = evs[res.n_events]->seq;
	}
	res.n_entries = res.n_events;
	ntf_hub_query_done(q, &res);
	while (ntf_hub_pump(&chub))
		;
	for (size_t i = 0; i < res.n_events; i++)
		ntf_msg_unref(evs[i]);
}

static void cf_publish(uint64_t ms)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%llu-0 {\"type\":\"updated\",\"collection\":\"c\",\"id\":\"e%llu\","
		 "\"version\":2,\"doc\":{}}", (unsigned long long)ms, (unsigned long long)ms);
	ntf_hub_publish(&chub, buf, strlen(buf));
	while (ntf_hub_pump(&chub))
		;
}

static void cf_send(struct ntf_conn *conn, const char *text)
{
	cr_assert_eq(ntf_hub_conn_message(conn, text, strlen(text)), 0);
}

/* The ms of every event queued on conn, space separated; other frames as "ack". */
static void cf_drain(struct ntf_conn *conn, char *out, size_t size)
{
	struct ntf_msg *m;
	size_t o = 0;

	out[0] = '\0';
	while ((m = ntf_hub_conn_next(conn)) != NULL) {
		if (m->is_event)
			o += (size_t)snprintf(out + o, size - o, "%s%llu", o ? " " : "",
					      (unsigned long long)m->seq.ms);
		else
			o += (size_t)snprintf(out + o, size - o, "%sack", o ? " " : "");
		ntf_hub_conn_sent(conn);
	}
}

#define CF_EXPECT(conn, want)                                                               \
	do {                                                                                \
		char got_[512];                                                             \
		cf_drain(conn, got_, sizeof(got_));                                         \
		cr_assert_str_eq(got_, want);                                               \
	} while (0)

Test(hub_cluster, watch_is_told_of_the_first_and_the_last_client_of_a_collection)
{
	struct ntf_conn *a = ntf_hub_conn_new(&chub, NULL), *b = ntf_hub_conn_new(&chub, NULL);

	cf_send(a, "{\"op\":\"subscribe\",\"collection\":\"c\"}");
	cr_assert_eq(cf.watch_on, 1);
	cr_assert_str_eq(cf.last_watch, "c");
	cf_answer(cf_take(), 5, NULL);
	cf_send(b, "{\"op\":\"subscribe\",\"collection\":\"c\",\"id\":\"x\"}");
	cf_send(b, "{\"op\":\"subscribe\",\"collection\":\"c\",\"where\":{\"done\":true},\"sid\":\"v\"}");
	cr_assert_eq(cf.watch_on, 1, "a second client of c is not news");
	cf_send(a, "{\"op\":\"unsubscribe\",\"collection\":\"c\"}");
	cr_assert_eq(cf.watch_off, 0, "b still watches c");
	cf_send(b, "{\"op\":\"unsubscribe\",\"collection\":\"c\",\"id\":\"x\"}");
	cr_assert_eq(cf.watch_off, 0, "b's filtered view still watches c");
	ntf_hub_conn_free(b);
	cr_assert_eq(cf.watch_off, 1);
	cr_assert_str_eq(cf.last_watch, "c");
	cf_send(a, "{\"op\":\"subscribe\",\"collection\":\"d\"}");
	cr_assert_eq(cf.watch_on, 2);
	cr_assert_str_eq(cf.last_watch, "d");
	ntf_hub_conn_free(a);
	cr_assert_eq(cf.watch_off, 1, "d's read is in flight: d stays until it ends");
	cf_answer(cf_take(), 5, NULL);
	cr_assert_eq(cf.watch_off, 2);
	cr_assert_str_eq(cf.last_watch, "d");
}

Test(hub_cluster, a_resync_reads_the_gap_from_the_head_and_holds_live_events)
{
	struct ntf_conn *a = ntf_hub_conn_new(&chub, NULL);
	const uint64_t gap[] = {7, 8, 9, 0};

	cf_send(a, "{\"op\":\"subscribe\",\"collection\":\"c\"}");
	cf_answer(cf_take(), 5, NULL);
	cf_publish(6);
	CF_EXPECT(a, "ack 6");
	cr_assert_not(ntf_hub_coll_resync(&chub, "x", 1), "no such collection");
	/* The channel was lost while 7..9 were written; it is back: read from 6. */
	cr_assert(ntf_hub_coll_resync(&chub, "c", 1));
	cr_assert_not(ntf_hub_coll_resync(&chub, "c", 1), "a sync is in flight already");
	struct ntf_query *q = cf_take();
	cr_assert(q->is_sync);
	cr_assert(q->has_since);
	cr_assert_eq(q->since.ms, 6);
	cf_publish(9);  /* heard on the new subscription, also in the log */
	cf_publish(10); /* heard on the new subscription only */
	CF_EXPECT(a, "");
	cf_answer(q, 9, gap);
	CF_EXPECT(a, "7 8 9 10");
	cf_publish(11);
	CF_EXPECT(a, "11");
	ntf_hub_conn_free(a);
}

Test(hub_cluster, link_is_up_asks_the_redis_side)
{
	cr_assert(ntf_hub_link_is_up(&chub));
	cf.up = false;
	cr_assert_not(ntf_hub_link_is_up(&chub));
	cf.up = true;
	ntf_hub_link_down(&chub);
	cr_assert_not(ntf_hub_link_is_up(&chub));
}
