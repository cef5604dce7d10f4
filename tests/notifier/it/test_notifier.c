/*
 * Integration tests of tandem-notifier against the real stack
 * (redis-server, spawn-fcgi + tandem-rest, nginx, tandem-notifier),
 * started once by main() for the run with small limits so the limits can
 * be reached (see STACK_ENV). Criterion forks each test from main; they
 * run one at a time (--jobs 1) because some restart Redis or the
 * notifier. Each test uses collections of its own.
 *
 * make test-integration runs the suite once more with TANDEM_STACK_REDIS=cluster
 * (the stack on a 3-master Redis Cluster): Redis is reached through the
 * stack fixture (the owner of a collection's slot), and only the single
 * server's restart is skipped there.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "it_support.h"
#include "tnd_seq.h"
#include "stack.h"
#include "stack_suite.h"

static struct stack g_stack;

static const char *const STACK_ENV[] = {
	"TANDEM_LOG_LEN=50",             /* the reset test trims the log quickly */
	"TANDEM_MAX_SUBSCRIPTIONS=5",
	"TANDEM_WS_QUEUE_MESSAGES=256",
	"TANDEM_WS_QUEUE_BYTES=262144",
	"TANDEM_PING_INTERVAL=2",
	"TANDEM_ALLOWED_ORIGINS=http://allowed.example, http://also.example",
	NULL,
};

static void import_stack(void)
{
	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
}

TestSuite(events, .init = import_stack, .timeout = 60);
TestSuite(resume, .init = import_stack, .timeout = 90);
TestSuite(limits, .init = import_stack, .timeout = 60);
TestSuite(redis, .init = import_stack, .timeout = 90);
TestSuite(process, .init = import_stack, .timeout = 60);

/* Reads the next event and checks type and id; returns it (caller puts). */
static struct json_object *expect_event(struct wsc *c, const char *type, const char *id)
{
	struct json_object *o = it_expect_op(c, "event", IT_WAIT_MS);

	cr_assert_not_null(o, "no event %s %s", type, id);
	cr_assert_str_eq(it_str(o, "type"), type);
	cr_assert_str_eq(it_str(o, "id"), id);
	return o;
}

static void open_ws(struct wsc *c, bool via_nginx)
{
	cr_assert_eq(it_ws(c, &g_stack, via_nginx), 0, "WebSocket upgrade failed (status %d)",
		     c->http_status);
}

static void subscribe_ok(struct wsc *c, const char *col, const char *id, const char *since)
{
	struct json_object *o = it_subscribe(c, col, id, since);

	cr_assert_not_null(o, "no answer to subscribe");
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "got %s", json_object_to_json_string(o));
	cr_assert_str_eq(it_str(o, "collection"), col);
	if (id)
		cr_assert_str_eq(it_str(o, "id"), id);
	cr_assert_neq(it_str(o, "seq")[0], '\0', "ack without seq");
	json_object_put(o);
}

/* ---- events ---------------------------------------------------------------- */

Test(events, create_update_delete_reach_a_client_through_nginx)
{
	struct wsc c;
	struct json_object *o, *doc, *v;

	open_ws(&c, true);
	subscribe_ok(&c, "ev-crud", NULL, NULL);
	cr_assert_eq(it_rest(&g_stack, "PUT", "ev-crud", "a", "{\"title\":\"one\"}"), 201);
	o = expect_event(&c, "created", "a");
	cr_assert_str_eq(it_str(o, "collection"), "ev-crud");
	cr_assert(json_object_object_get_ex(o, "doc", &doc));
	cr_assert(json_object_object_get_ex(doc, "title", &v));
	cr_assert_str_eq(json_object_get_string(v), "one");
	cr_assert(json_object_object_get_ex(o, "version", &v));
	cr_assert_eq(json_object_get_int(v), 1);
	json_object_put(o);

	cr_assert_eq(it_rest(&g_stack, "PATCH", "ev-crud", "a", "{\"title\":\"two\"}"), 200);
	o = expect_event(&c, "updated", "a");
	json_object_put(o);

	cr_assert_eq(it_rest(&g_stack, "DELETE", "ev-crud", "a", NULL), 204);
	o = expect_event(&c, "deleted", "a");
	cr_assert_not(json_object_object_get_ex(o, "doc", &doc), "deleted events carry no doc");
	cr_assert(json_object_object_get_ex(o, "version", &v));
	cr_assert_eq(json_object_get_int(v), 3);
	json_object_put(o);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(events, a_document_subscription_gets_only_that_document)
{
	struct wsc c;
	struct json_object *o;

	open_ws(&c, true);
	subscribe_ok(&c, "ev-doc", "x", NULL);
	cr_assert_eq(it_rest(&g_stack, "PUT", "ev-doc", "y", "{}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PUT", "ev-doc", "x", "{}"), 201);
	o = expect_event(&c, "created", "x");
	json_object_put(o);
	cr_assert(it_quiet(&c), "the event of y was delivered");
	wsc_close(&c, 1000);
}

Test(events, overlapping_subscriptions_deliver_each_event_once)
{
	struct wsc c;
	struct json_object *o;

	open_ws(&c, true);
	subscribe_ok(&c, "ev-once", NULL, NULL);
	subscribe_ok(&c, "ev-once", "x", NULL);
	subscribe_ok(&c, "ev-once", NULL, NULL); /* twice: acknowledged again, not doubled */
	cr_assert_eq(it_rest(&g_stack, "PUT", "ev-once", "x", "{}"), 201);
	o = expect_event(&c, "created", "x");
	json_object_put(o);
	cr_assert(it_quiet(&c), "an event came twice");
	wsc_close(&c, 1000);
}

Test(events, unsubscribe_stops_the_events)
{
	struct wsc c;
	struct json_object *o;

	open_ws(&c, true);
	subscribe_ok(&c, "ev-unsub", NULL, NULL);
	cr_assert_eq(it_send(&c, "{\"op\":\"unsubscribe\",\"collection\":\"ev-unsub\"}"), 0);
	o = it_expect_op(&c, "unsubscribed", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "collection"), "ev-unsub");
	json_object_put(o);
	cr_assert_eq(it_rest(&g_stack, "PUT", "ev-unsub", "a", "{}"), 201);
	it_sleep_ms(200);
	cr_assert(it_quiet(&c), "an event came after unsubscribe");
	wsc_close(&c, 1000);
}

/* Reads n events and checks they are ids id0..id(n-1) in strictly rising seq. */
static void expect_ordered(struct wsc *c, int n, const char *prefix)
{
	char prev[64] = "", id[64];

	for (int i = 0; i < n; i++) {
		struct json_object *o = it_expect_op(c, "event", IT_WAIT_MS);
		struct tnd_seq a, b;

		cr_assert_not_null(o, "event %d of %d missing", i, n);
		snprintf(id, sizeof(id), "%s%02d", prefix, i);
		cr_assert_str_eq(it_str(o, "id"), id, "event %d out of order", i);
		if (prev[0]) {
			tnd_seq_parse(prev, strlen(prev), &a);
			tnd_seq_parse(it_str(o, "seq"), strlen(it_str(o, "seq")), &b);
			cr_assert_lt(tnd_seq_cmp(&a, &b), 0, "seq not rising");
		}
		snprintf(prev, sizeof(prev), "%s", it_str(o, "seq"));
		json_object_put(o);
	}
}

Test(events, a_burst_of_20_writes_arrives_in_order_at_two_clients)
{
	struct wsc c1, c2;
	char id[16];

	open_ws(&c1, true);
	open_ws(&c2, false);
	subscribe_ok(&c1, "ev-burst", NULL, NULL);
	subscribe_ok(&c2, "ev-burst", NULL, NULL);
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "b%02d", i);
		cr_assert_eq(it_rest(&g_stack, "PUT", "ev-burst", id, "{\"n\":1}"), 201);
	}
	expect_ordered(&c1, 20, "b");
	expect_ordered(&c2, 20, "b");
	cr_assert(it_quiet(&c1));
	cr_assert(it_quiet(&c2));
	wsc_close(&c1, 1000);
	wsc_close(&c2, 1000);
}

/* ---- resume ---------------------------------------------------------------- */

Test(resume, since_from_a_get_yields_exactly_the_later_events)
{
	struct wsc c;
	char seq[64];

	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-since", "old1", "{}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-since", "old2", "{}"), 201);
	cr_assert_eq(it_list_seq(&g_stack, "rs-since", seq, sizeof(seq)), 0);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-since", "n00", "{}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-since", "n01", "{}"), 201);
	open_ws(&c, true);
	subscribe_ok(&c, "rs-since", NULL, seq);
	expect_ordered(&c, 2, "n");
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-since", "n02", "{}"), 201);
	{
		struct json_object *o = expect_event(&c, "created", "n02");
		json_object_put(o);
	}
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(resume, since_0_0_on_an_untrimmed_log_replays_everything)
{
	struct wsc c;
	char id[16];

	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "z%02d", i);
		cr_assert_eq(it_rest(&g_stack, "PUT", "rs-zero", id, "{}"), 201);
	}
	open_ws(&c, true);
	subscribe_ok(&c, "rs-zero", NULL, "0-0");
	expect_ordered(&c, 3, "z");
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(resume, a_document_replay_filters_by_id)
{
	struct wsc c;

	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-docr", "a", "{}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-docr", "b", "{}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PATCH", "rs-docr", "a", "{\"k\":1}"), 200);
	open_ws(&c, true);
	subscribe_ok(&c, "rs-docr", "a", "0-0");
	json_object_put(expect_event(&c, "created", "a"));
	json_object_put(expect_event(&c, "updated", "a"));
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(resume, since_older_than_the_log_gives_reset)
{
	struct wsc c;
	struct json_object *o;
	char first[64], id[16];

	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-trim", "first", "{}"), 201);
	cr_assert_eq(it_list_seq(&g_stack, "rs-trim", first, sizeof(first)), 0);
	/* TANDEM_LOG_LEN=50 with ~ trimming: whole 100-entry nodes go after a few hundred. */
	for (int i = 0; i < 320; i++) {
		snprintf(id, sizeof(id), "t%d", i % 7);
		cr_assert_eq(it_rest(&g_stack, "PUT", "rs-trim", id, "{}") / 100, 2);
	}
	open_ws(&c, true);
	o = it_subscribe(&c, "rs-trim", NULL, "0-0");
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "op"), "reset", "got %s", json_object_to_json_string(o));
	cr_assert_str_eq(it_str(o, "collection"), "rs-trim");
	json_object_put(o);
	o = it_subscribe(&c, "rs-trim", NULL, first);
	cr_assert_str_eq(it_str(o, "op"), "reset");
	json_object_put(o);
	/* Nothing is subscribed after a reset. */
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-trim", "late", "{}"), 201);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

static struct tnd_seq parse_seq(const char *text)
{
	struct tnd_seq q;

	cr_assert_eq(tnd_seq_parse(text, strlen(text), &q), 0, "not a seq: %s", text);
	return q;
}

/* Subscribes with since and expects a reset (nothing subscribed). */
static void expect_reset(struct wsc *c, const char *col, const char *since)
{
	struct json_object *o = it_subscribe(c, col, NULL, since);

	cr_assert_not_null(o, "no answer to since %s", since);
	cr_assert_str_eq(it_str(o, "op"), "reset", "since %s: got %s", since,
			 json_object_to_json_string(o));
	cr_assert_str_eq(it_str(o, "collection"), col);
	json_object_put(o);
}

/* Subscribes with since and expects the ack at seq. */
static void expect_ack_at(struct wsc *c, const char *col, const char *since, const char *seq)
{
	struct json_object *o = it_subscribe(c, col, NULL, since);

	cr_assert_not_null(o, "no answer to since %s", since);
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "since %s: got %s", since,
			 json_object_to_json_string(o));
	cr_assert_str_eq(it_str(o, "seq"), seq);
	json_object_put(o);
}

Test(resume, a_since_in_the_future_gives_reset)
{
	struct wsc c;
	char seq[64], future[64];
	struct tnd_seq q;

	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-future", "a", "{}"), 201);
	cr_assert_eq(it_list_seq(&g_stack, "rs-future", seq, sizeof(seq)), 0);
	q = parse_seq(seq);
	snprintf(future, sizeof(future), "%llu-0", (unsigned long long)q.ms + 3600 * 1000);
	open_ws(&c, true);
	expect_reset(&c, "rs-future", future);
	snprintf(future, sizeof(future), "%llu-%llu", (unsigned long long)q.ms,
		 (unsigned long long)q.n + 1);
	expect_reset(&c, "rs-future", future);
	/* A log that does not exist knows only 0-0. */
	expect_reset(&c, "rs-future-none", "5-0");
	expect_ack_at(&c, "rs-future-none", "0-0", "0-0");
	/* Nothing was subscribed by the resets. */
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-future", "b", "{}"), 201);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(resume, a_since_between_two_entries_that_was_never_one_gives_reset)
{
	struct wsc c;
	char s1[64], s2[64], mid[64];
	struct tnd_seq q1, q2, qm;

	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-hole", "a", "{}"), 201);
	cr_assert_eq(it_list_seq(&g_stack, "rs-hole", s1, sizeof(s1)), 0);
	it_sleep_ms(20);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-hole", "b", "{}"), 201);
	cr_assert_eq(it_list_seq(&g_stack, "rs-hole", s2, sizeof(s2)), 0);
	q1 = parse_seq(s1);
	q2 = parse_seq(s2);
	qm = (struct tnd_seq){q1.ms + 1, 0};
	cr_assert_lt(tnd_seq_cmp(&qm, &q2), 0);
	snprintf(mid, sizeof(mid), "%llu-%llu", (unsigned long long)qm.ms, (unsigned long long)qm.n);
	open_ws(&c, true);
	expect_reset(&c, "rs-hole", mid);
	/* The entry itself is a valid since: exactly the later event is replayed. */
	expect_ack_at(&c, "rs-hole", s1, s2);
	json_object_put(expect_event(&c, "created", "b"));
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

/*
 * A restored backup: the log goes back to an earlier state (COPY of the
 * stream, last generated id included), as after restoring an RDB. A
 * client that saw later events must reload, whether the restored log
 * has moved past its seq since or not.
 */
Test(resume, a_since_from_after_a_restored_backup_gives_reset)
{
	struct wsc c1, c2;
	char sb[64], sd[64], out[256];
	const char *log = "{tandem:rs-backup}:log", *saved = "{tandem:rs-backup}:saved";

	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-backup", "a", "{}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-backup", "b", "{}"), 201);
	cr_assert_eq(it_list_seq(&g_stack, "rs-backup", sb, sizeof(sb)), 0);
	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out),
				     (const char *const[]){"COPY", log, saved, NULL}), 0);
	cr_assert_str_eq(out, "1", "no log at %s", log);
	it_sleep_ms(10);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-backup", "c", "{}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-backup", "d", "{}"), 201);
	cr_assert_eq(it_list_seq(&g_stack, "rs-backup", sd, sizeof(sd)), 0);
	/* The restore. */
	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out),
				     (const char *const[]){"COPY", saved, log, "REPLACE", NULL}), 0);
	cr_assert_str_eq(out, "1");
	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out),
				     (const char *const[]){"DEL", saved, NULL}), 0);
	/* sd is now newer than anything the log generated. */
	open_ws(&c1, true);
	expect_reset(&c1, "rs-backup", sd);
	/* sb is what the log last generated: valid, nothing to replay. */
	expect_ack_at(&c1, "rs-backup", sb, sb);
	cr_assert(it_quiet(&c1));
	it_sleep_ms(10);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rs-backup", "e", "{}"), 201);
	json_object_put(expect_event(&c1, "created", "e"));
	/* Now sd lies inside the log's range, but was never one of its entries. */
	open_ws(&c2, true);
	expect_reset(&c2, "rs-backup", sd);
	{
		struct json_object *o = it_subscribe(&c2, "rs-backup", NULL, sb);

		cr_assert_not_null(o);
		cr_assert_str_eq(it_str(o, "op"), "subscribed");
		json_object_put(o);
	}
	json_object_put(expect_event(&c2, "created", "e"));
	cr_assert(it_quiet(&c2));
	cr_assert(it_quiet(&c1));
	wsc_close(&c1, 1000);
	wsc_close(&c2, 1000);
}

/* ---- limits ---------------------------------------------------------------- */

Test(limits, malformed_messages_get_errors_and_others_are_undisturbed)
{
	static const struct {
		const char *msg, *code;
	} cases[] = {
		{"{not json", "invalid_json"},
		{"[1,2]", "invalid_json"},
		{"{\"op\":\"ping\"} trailing", "invalid_json"},
		{"{\"op\":\"dance\"}", "unknown_op"},
		{"{\"collection\":\"x\"}", "unknown_op"},
		{"{\"op\":\"subscribe\",\"collection\":\"Bad Name\"}", "invalid_name"},
		{"{\"op\":\"subscribe\",\"collection\":\"_sys\"}", "invalid_name"},
		{"{\"op\":\"subscribe\",\"collection\":\"ok\",\"id\":\"a/b\"}", "invalid_id"},
		{"{\"op\":\"subscribe\",\"collection\":\"ok\",\"since\":\"yesterday\"}", "invalid_query"},
		{"{\"op\":\"subscribe\",\"collection\":\"ok\",\"since\":17}", "invalid_query"},
		/* What json-c's strict mode lets through (issue 8): all invalid_json. */
		{"{\"op\":NaN}", "invalid_json"},
		{"{\"op\":Infinity}", "invalid_json"},
		{"{\"op\":-Infinity}", "invalid_json"},
		{"{\"op\":\"ping\",}", "invalid_json"},
		{"{\"op\":\"ping\",\"x\":[1,]}", "invalid_json"},
		{"{'op':'ping'}", "invalid_json"},
		{"{\"op\":\"ping\",\"x\":007}", "invalid_json"},
		{"{\"op\":\"ping\",\"x\":1.}", "invalid_json"},
		{"{\"op\":\"ping\"}}", "invalid_json"},
		{"\"ping\"", "invalid_json"},
		{"42", "invalid_json"},
	};
	struct wsc bad, good;
	struct json_object *o;

	open_ws(&bad, true);
	open_ws(&good, true);
	subscribe_ok(&good, "lm-undisturbed", NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(wsc_send_text(&bad, cases[i].msg), 0);
		o = it_expect_op(&bad, "error", IT_WAIT_MS);
		cr_assert_not_null(o, "no error for %s", cases[i].msg);
		cr_assert_str_eq(it_str(o, "code"), cases[i].code, "for %s", cases[i].msg);
		cr_assert_neq(it_str(o, "message")[0], '\0');
		json_object_put(o);
	}
	cr_assert(it_quiet(&bad), "the connection must stay usable after errors");
	cr_assert_eq(it_rest(&g_stack, "PUT", "lm-undisturbed", "a", "{}"), 201);
	json_object_put(expect_event(&good, "created", "a"));
	wsc_close(&bad, 1000);
	wsc_close(&good, 1000);
}

Test(limits, auth_in_open_mode_is_answered_with_a_null_exp)
{
	struct wsc c;
	struct json_object *o, *exp;

	open_ws(&c, true);
	cr_assert_eq(it_send(&c, "{\"op\":\"auth\",\"token\":\"whatever\"}"), 0);
	o = it_expect_op(&c, "authenticated", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert(json_object_object_get_ex(o, "exp", &exp));
	cr_assert_null(exp);
	json_object_put(o);
	wsc_close(&c, 1000);
}

/* A subscribe of exactly len bytes (len >= 64), padded with an unknown member. */
static char *padded_subscribe(const char *col, size_t len)
{
	char *msg = malloc(len + 1);
	int n;

	cr_assert_not_null(msg);
	n = snprintf(msg, len + 1, "{\"op\":\"subscribe\",\"collection\":\"%s\",\"pad\":\"", col);
	memset(msg + n, 'p', len - (size_t)n - 2);
	memcpy(msg + len - 2, "\"}", 3);
	return msg;
}

/* SPEC 5 v2: client messages up to 16 KiB (room for large tokens), 1009 beyond. */
Test(limits, a_message_of_16_KiB_is_answered_in_one_frame_or_fragments_and_one_byte_more_closes_1009)
{
	enum { KIB16 = 16 * 1024 };
	struct wsc c;
	char *msg = padded_subscribe("lm-frag", KIB16), *big = padded_subscribe("lm-frag", KIB16 + 1);
	struct json_object *o;
	struct wsc_frame f;

	open_ws(&c, false);
	/* Exactly 16 KiB in one frame. */
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_TEXT, true, msg, KIB16), 0);
	o = it_expect_op(&c, "subscribed", IT_WAIT_MS);
	cr_assert_not_null(o, "a 16 KiB message got no answer (close code %d)", c.close_code);
	json_object_put(o);
	/* Exactly 16 KiB again, as three frames. */
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_TEXT, false, msg, 1000), 0);
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_CONT, false, msg + 1000, 10000), 0);
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_CONT, true, msg + 11000, KIB16 - 11000), 0);
	o = it_expect_op(&c, "subscribed", IT_WAIT_MS);
	cr_assert_not_null(o);
	json_object_put(o);
	/* 16 KiB + 1 in one frame. */
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_TEXT, true, big, KIB16 + 1), 0);
	cr_assert_eq(wsc_recv(&c, IT_WAIT_MS, &f), WSC_OP_CLOSE);
	cr_assert_eq(c.close_code, 1009);
	wsc_abort(&c);
	/* 16 KiB + 1 in fragments, through nginx. */
	open_ws(&c, true);
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_TEXT, false, big, KIB16 - 100), 0);
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_CONT, true, big + KIB16 - 100, 101), 0);
	cr_assert_eq(wsc_recv(&c, IT_WAIT_MS, &f), WSC_OP_CLOSE);
	cr_assert_eq(c.close_code, 1009);
	wsc_abort(&c);
	free(msg);
	free(big);
}

/* RFC 6455 8.1, SPEC 5: a text message that is not UTF-8 fails the connection with 1007. */
Test(limits, a_text_message_that_is_not_utf8_closes_with_1007)
{
	static const struct {
		const char *bytes, *what;
	} cases[] = {
		{"{\"op\":\"ping\",\"x\":\"\xc0\xaf\"}", "overlong C0 AF"},
		{"{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}", "encoded surrogate ED A0 80"},
		{"{\"op\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}", "above U+10FFFF"},
		{"{\"op\":\"ping\",\"x\":\"\xe2\x82\"}", "truncated"},
		{"{\"op\":\"ping\",\"x\":\"\x80\"}", "stray continuation byte"},
		{"\xff\xfe{}", "not UTF-8 at all"},
	};
	struct wsc c, good;
	struct wsc_frame f;
	int rc;

	open_ws(&good, true);
	subscribe_ok(&good, "lm-utf8", NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		open_ws(&c, i % 2 == 0); /* straight and through nginx */
		cr_assert_eq(wsc_send_frame(&c, WSC_OP_TEXT, true, cases[i].bytes, strlen(cases[i].bytes)), 0);
		rc = wsc_recv(&c, IT_WAIT_MS, &f);
		cr_assert_eq(rc, WSC_OP_CLOSE, "%s: got %d, not a close frame", cases[i].what, rc);
		cr_assert_eq(c.close_code, 1007, "%s: closed with %d", cases[i].what, c.close_code);
		wsc_abort(&c);
	}
	/* Checked on the whole message: a character split between fragments is fine... */
	open_ws(&c, false);
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_TEXT, false, "{\"op\":\"ping\",\"x\":\"\xe2", 19), 0);
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_CONT, true, "\x82\xac\"}", 4), 0);
	{
		struct json_object *o = it_expect_op(&c, "pong", IT_WAIT_MS);

		cr_assert_not_null(o, "a character split between fragments was refused");
		json_object_put(o);
	}
	/* ...and one that the last fragment leaves unfinished is not. */
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_TEXT, false, "{\"op\":\"ping\",\"x\":\"\"}", 20), 0);
	cr_assert_eq(wsc_send_frame(&c, WSC_OP_CONT, true, "\xe2\x82", 2), 0);
	cr_assert_eq(wsc_recv(&c, IT_WAIT_MS, &f), WSC_OP_CLOSE);
	cr_assert_eq(c.close_code, 1007);
	wsc_abort(&c);
	/* Others are undisturbed. */
	cr_assert_eq(it_rest(&g_stack, "PUT", "lm-utf8", "a", "{}"), 201);
	json_object_put(expect_event(&good, "created", "a"));
	wsc_close(&good, 1000);
}

Test(limits, too_many_subscriptions_is_an_error)
{
	struct wsc c;
	struct json_object *o;
	char id[16];

	open_ws(&c, true);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		subscribe_ok(&c, "lm-many", id, NULL);
	}
	subscribe_ok(&c, "lm-many", "d0", NULL); /* a repeat does not count */
	o = it_subscribe(&c, "lm-many", "d5", NULL);
	cr_assert_str_eq(it_str(o, "op"), "error");
	cr_assert_str_eq(it_str(o, "code"), "too_many_subscriptions");
	json_object_put(o);
	cr_assert_eq(it_send(&c, "{\"op\":\"unsubscribe\",\"collection\":\"lm-many\",\"id\":\"d1\"}"),
		     0);
	json_object_put(it_expect_op(&c, "unsubscribed", IT_WAIT_MS));
	subscribe_ok(&c, "lm-many", "d5", NULL);
	wsc_close(&c, 1000);
}

Test(limits, a_client_that_never_reads_is_closed_with_4008_and_others_keep_receiving)
{
	struct wsc slow, fast;
	struct wsc_options opt = {.host = "127.0.0.1", .port = g_stack.ws_port, .path = "/ws",
				  .rcvbuf = 4096, .timeout_ms = IT_WAIT_MS};
	char *doc = malloc(120000), id[16];
	long long before = it_metric(&g_stack, "tandem_notifier_slow_consumer_closes_total");
	struct wsc_frame f;
	int rc, events = 0;

	cr_assert_eq(wsc_connect(&slow, &opt), 0);
	open_ws(&fast, true);
	subscribe_ok(&slow, "lm-slow", NULL, NULL);
	subscribe_ok(&fast, "lm-slow", NULL, NULL);
	memset(doc, 0, 120000);
	strcpy(doc, "{\"blob\":\"");
	memset(doc + 9, 'x', 100000);
	strcpy(doc + 100009, "\"}");
	/* 80 x 100 KB = 8 MB: past the kernel buffers (4 MB at most) and the 256 KiB cap. */
	for (int i = 0; i < 80; i++) {
		snprintf(id, sizeof(id), "s%02d", i);
		cr_assert_eq(it_rest(&g_stack, "PUT", "lm-slow", id, doc), 201);
		/* The fast client keeps up: it reads as it goes. */
		struct json_object *o = it_expect_op(&fast, "event", IT_WAIT_MS);
		cr_assert_not_null(o, "the healthy client missed event %d", i);
		cr_assert_str_eq(it_str(o, "id"), id);
		json_object_put(o);
		/*
		 * Stop writing once the notifier gave up on the slow one: it only
		 * waits NTF_CLOSE_GRACE_S for the socket to take the close frame,
		 * and the rest of 80 writes can take longer than that under ASan
		 * on a loaded machine (the close frame was then never sent: EOF).
		 */
		if (it_metric(&g_stack, "tandem_notifier_slow_consumer_closes_total") > before)
			break;
	}
	for (int i = 0; i < 50 && it_metric(&g_stack, "tandem_notifier_slow_consumer_closes_total") <= before; i++)
		it_sleep_ms(100);
	cr_assert_gt(it_metric(&g_stack, "tandem_notifier_slow_consumer_closes_total"), before);
	/* The slow one now reads: what was in flight, then the 4008 close. */
	while ((rc = wsc_recv(&slow, IT_WAIT_MS, &f)) == WSC_OP_TEXT)
		events++;
	cr_assert_eq(rc, WSC_OP_CLOSE, "expected a close frame after %d events, got %d", events, rc);
	cr_assert_eq(slow.close_code, 4008);
	cr_assert_lt(events, 80);
	wsc_abort(&slow);
	wsc_close(&fast, 1000);
	free(doc);
}

Test(limits, an_origin_not_allowed_gets_403)
{
	struct wsc c;
	struct wsc_options opt = {.host = "127.0.0.1", .port = g_stack.http_port, .path = "/ws",
				  .origin = "http://evil.example", .timeout_ms = IT_WAIT_MS};

	cr_assert_eq(wsc_connect(&c, &opt), -1);
	cr_assert_eq(c.http_status, 403);
	opt.origin = "http://also.example";
	cr_assert_eq(wsc_connect(&c, &opt), 0);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(limits, a_client_that_does_not_answer_pings_is_dropped)
{
	struct wsc c;
	struct wsc_frame f;
	long long start = stack_now_ms();
	int rc;

	open_ws(&c, false);
	c.no_auto_pong = true;
	/* TANDEM_PING_INTERVAL=2: ping after 2 s of silence, hang up 2 s later. */
	do
		rc = wsc_recv(&c, 10000, &f);
	while (rc == WSC_OP_TEXT);
	cr_assert(rc == WSC_EOF || rc == WSC_OP_CLOSE, "still open (%d)", rc);
	cr_assert_lt(stack_now_ms() - start, 9000);
	wsc_abort(&c);
}

Test(limits, a_client_that_answers_pings_stays)
{
	struct wsc c;
	struct wsc_frame f;

	open_ws(&c, true);
	cr_assert_eq(wsc_recv(&c, 6000, &f), WSC_TIMEOUT);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

/* ---- Redis ----------------------------------------------------------------- */

struct writer {
	const char *col;
	int n;
	int failed;
};

/* Writes ids w00.. one after the other, retrying 503s (Redis may be away). */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char id[16];

	for (int i = 0; i < w->n; i++) {
		long st;
		int tries = 0;

		snprintf(id, sizeof(id), "w%02d", i);
		while ((st = it_rest(&g_stack, "PUT", w->col, id, "{}")) != 201 && tries++ < 100)
			it_sleep_ms(50);
		if (st != 201)
			w->failed++;
		it_sleep_ms(10);
	}
	return NULL;
}

/*
 * CLIENT KILL TYPE pubsub on the Redis that carries col's events: the
 * stack's server, or on a cluster the master of col's slot (where the
 * notifier's SSUBSCRIBE link for it is). Returns how many were killed.
 */
static long long kill_pubsub_clients(const char *col)
{
	redisContext *rc = stack_redis_connect(&g_stack, col);
	redisReply *r;
	long long n;

	cr_assert_not_null(rc, "no Redis for %s", col);
	r = redisCommand(rc, "CLIENT KILL TYPE pubsub");
	cr_assert(r && r->type == REDIS_REPLY_INTEGER, "CLIENT KILL: %s", r ? r->str : rc->errstr);
	n = r->integer;
	freeReplyObject(r);
	redisFree(rc);
	return n;
}

Test(redis, killing_the_pubsub_connection_loses_no_event)
{
	struct wsc c;
	struct writer w = {.col = "rd-kill", .n = 60};
	pthread_t th;
	long long reconnects = it_metric(&g_stack, "tandem_notifier_redis_reconnects_total");
	long long killed = 0;

	open_ws(&c, true);
	subscribe_ok(&c, "rd-kill", NULL, NULL);
	cr_assert_eq(pthread_create(&th, NULL, writer_main, &w), 0);
	for (int k = 0; k < 3; k++) {
		it_sleep_ms(150);
		killed += kill_pubsub_clients("rd-kill");
	}
	pthread_join(th, NULL);
	cr_assert_eq(w.failed, 0);
	cr_assert_gt(killed, 0, "no subscriber link was killed");
	expect_ordered(&c, 60, "w");
	cr_assert(it_quiet(&c), "an event came twice");
	cr_assert_gt(it_metric(&g_stack, "tandem_notifier_redis_reconnects_total"), reconnects);
	wsc_close(&c, 1000);
}

Test(redis, a_redis_restart_is_survived_and_healthz_recovers)
{
	struct wsc c;

	it_skip_on_cluster(&g_stack, "a single server's restart (a cluster's failover: test_notifier_cluster.c)");
	cr_assert(it_wait_health(&g_stack, 200, 5000));
	open_ws(&c, true);
	subscribe_ok(&c, "rd-restart", NULL, NULL);
	cr_assert_eq(it_rest(&g_stack, "PUT", "rd-restart", "w00", "{}"), 201);
	cr_assert_eq(stack_redis_stop(&g_stack), 0);
	cr_assert(it_wait_health(&g_stack, 503, 5000), "/healthz stayed 200 without Redis");
	cr_assert_eq(stack_redis_start(&g_stack), 0);
	cr_assert(it_wait_health(&g_stack, 200, 10000), "/healthz did not recover");
	cr_assert_eq(it_rest(&g_stack, "PUT", "rd-restart", "w01", "{}"), 201);
	expect_ordered(&c, 2, "w");
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

/* ---- process --------------------------------------------------------------- */

Test(process, healthz_and_metrics_answer_on_the_notifier_port)
{
	char *body = NULL;

	cr_assert_eq(it_notifier_get(&g_stack, "/healthz", &body), 200);
	cr_assert(strstr(body, "\"ok\""));
	free(body);
	body = NULL;
	cr_assert_eq(it_notifier_get(&g_stack, "/metrics", &body), 200);
	for (const char *const *m = (const char *const[]){
		     "tandem_notifier_connections ", "tandem_notifier_subscriptions ",
		     "tandem_notifier_events_in_total ", "tandem_notifier_frames_out_total ",
		     "tandem_notifier_bytes_out_total ", "tandem_notifier_slow_consumer_closes_total ",
		     "tandem_notifier_redis_reconnects_total ", "tandem_notifier_replays_total ",
		     NULL};
	     *m; m++)
		cr_assert(strstr(body, *m), "missing %s", *m);
	free(body);
	cr_assert_eq(it_notifier_get(&g_stack, "/nope", NULL), 404);
}

Test(process, sigterm_closes_every_socket_with_1001)
{
	struct wsc a, b;
	struct wsc_frame f;
	pid_t pid = stack_pid(&g_stack, "notifier.pid");

	open_ws(&a, true);
	open_ws(&b, false);
	subscribe_ok(&a, "pr-term", NULL, NULL);
	cr_assert_gt(pid, 0);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(wsc_recv(&a, IT_WAIT_MS, &f), WSC_OP_CLOSE);
	cr_assert_eq(a.close_code, 1001);
	cr_assert_eq(wsc_recv(&b, IT_WAIT_MS, &f), WSC_OP_CLOSE);
	cr_assert_eq(b.close_code, 1001);
	wsc_abort(&a);
	wsc_abort(&b);
	/* The stack restarts it; later tests need the new one up. */
	for (int i = 0; i < 200 && stack_pid(&g_stack, "notifier.pid") == pid; i++)
		it_sleep_ms(50);
	cr_assert_neq(stack_pid(&g_stack, "notifier.pid"), pid, "the notifier was not restarted");
	cr_assert(it_wait_health(&g_stack, 200, 10000));
}

int main(int argc, char *argv[])
{
	return stack_suite_main(&g_stack, STACK_ENV, argc, argv);
}

/* ---- filtered subscriptions (SPEC 8) --------------------------------------- */

TestSuite(views, .init = import_stack, .timeout = 60);

/* Reads n events; appends "type:id" to plain or view (by "sid"), checking seq order per stream. */
static void read_events(struct wsc *c, int n, const char *sid, char *plain, char *view, size_t size)
{
	struct tnd_seq last_plain = {0, 0}, last_view = {0, 0}, seq;

	plain[0] = view[0] = '\0';
	for (int i = 0; i < n; i++) {
		struct json_object *o = it_expect_op(c, "event", IT_WAIT_MS), *doc;
		const char *s, *type;
		char *out;
		struct tnd_seq *last;

		cr_assert_not_null(o, "event %d of %d missing", i + 1, n);
		s = it_str(o, "sid");
		type = it_str(o, "type");
		cr_assert_eq(tnd_seq_parse(it_str(o, "seq"), strlen(it_str(o, "seq")), &seq), 0);
		if (s[0]) {
			cr_assert_str_eq(s, sid);
			out = view;
			last = &last_view;
		} else {
			out = plain;
			last = &last_plain;
		}
		cr_assert_gt(tnd_seq_cmp(&seq, last), 0, "seq order");
		*last = seq;
		cr_assert_eq(json_object_object_get_ex(o, "doc", &doc),
			     strcmp(type, "left") != 0 && strcmp(type, "deleted") != 0, "doc on %s", type);
		snprintf(out + strlen(out), size - strlen(out), "%s%s:%s", out[0] ? " " : "", type,
			 it_str(o, "id"));
		json_object_put(o);
	}
}

/* The writes of a filtered view's full story on col: a enters, leaves, comes back, goes. */
static void write_story(const char *col)
{
	cr_assert_eq(it_rest(&g_stack, "PUT", col, "a", "{\"done\":false}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PATCH", col, "a", "{\"done\":true}"), 200);
	cr_assert_eq(it_rest(&g_stack, "PUT", col, "b", "{\"done\":true}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PATCH", col, "a", "{\"done\":false}"), 200);
	cr_assert_eq(it_rest(&g_stack, "PATCH", col, "a", "{\"n\":1}"), 200);
	cr_assert_eq(it_rest(&g_stack, "DELETE", col, "b", NULL), 204);
	cr_assert_eq(it_rest(&g_stack, "DELETE", col, "a", NULL), 204);
}

#define STORY_PLAIN "created:a updated:a created:b updated:a updated:a deleted:b deleted:a"
#define STORY_VIEW "created:a left:a entered:a updated:a deleted:a"

static void subscribe_view(struct wsc *c, const char *col, const char *sid, const char *where,
			   const char *since)
{
	struct json_object *o;

	cr_assert_eq(it_send(c, "{\"op\":\"subscribe\",\"collection\":\"%s\",\"sid\":\"%s\",\"where\":%s%s%s%s}",
			     col, sid, where, since ? ",\"since\":\"" : "", since ? since : "",
			     since ? "\"" : ""),
		     0);
	o = it_expect_op(c, "subscribed", IT_WAIT_MS);
	cr_assert_not_null(o, "no ack for view %s", sid);
	cr_assert_str_eq(it_str(o, "collection"), col);
	cr_assert_str_eq(it_str(o, "sid"), sid);
	json_object_put(o);
}

Test(views, a_filtered_subscription_tells_its_full_story_beside_a_plain_one)
{
	char plain[512], view[512];
	struct wsc c;

	open_ws(&c, true);
	subscribe_ok(&c, "vw-story", NULL, NULL);
	subscribe_view(&c, "vw-story", "open", "{\"done\":false}", NULL);
	write_story("vw-story");
	read_events(&c, 12, "open", plain, view, sizeof(plain));
	cr_assert_str_eq(plain, STORY_PLAIN, "the plain subscription gets every event once");
	cr_assert_str_eq(view, STORY_VIEW);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(views, the_story_replayed_with_since_reads_like_the_live_one)
{
	char plain[512], view[512], seq[64];
	struct wsc c;

	cr_assert_eq(it_list_seq(&g_stack, "vw-replay", seq, sizeof(seq)), 0);
	write_story("vw-replay");
	open_ws(&c, false);
	subscribe_view(&c, "vw-replay", "open", "{\"done\":{\"$ne\":true}}", seq);
	read_events(&c, 5, "open", plain, view, sizeof(plain));
	cr_assert_str_eq(plain, "");
	cr_assert_str_eq(view, STORY_VIEW);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

/* Sends text and expects an error with code, whose message holds part, echoing col and sid. */
static void expect_error_echo(struct wsc *c, const char *text, const char *code, const char *part,
			      const char *sid)
{
	struct json_object *o;

	cr_assert_eq(it_send(c, "%s", text), 0);
	o = it_expect_op(c, "error", IT_WAIT_MS);
	cr_assert_not_null(o, "no error for %s", text);
	cr_assert_str_eq(it_str(o, "code"), code, "%s", text);
	cr_assert(strstr(it_str(o, "message"), part), "%s: message %s", text, it_str(o, "message"));
	cr_assert_str_eq(it_str(o, "collection"), "vw-rules");
	cr_assert_str_eq(it_str(o, "sid"), sid);
	json_object_put(o);
}

Test(views, invalid_where_and_sid_rules)
{
	struct wsc c;
	struct json_object *o;
	char plain[512], view[512];

	open_ws(&c, true);
	expect_error_echo(&c, "{\"op\":\"subscribe\",\"collection\":\"vw-rules\",\"sid\":\"v\",\"where\":{\"n\":{\"$near\":1}}}",
			  "invalid_query", "$near", "v");
	expect_error_echo(&c, "{\"op\":\"subscribe\",\"collection\":\"vw-rules\",\"sid\":\"v\",\"where\":{\"n\":{\"$in\":3}}}",
			  "invalid_query", "$in", "v");
	expect_error_echo(&c, "{\"op\":\"subscribe\",\"collection\":\"vw-rules\",\"sid\":\"v\"}",
			  "invalid_query", "where", "v");
	expect_error_echo(&c, "{\"op\":\"subscribe\",\"collection\":\"vw-rules\",\"where\":{}}",
			  "invalid_query", "sid", "");
	expect_error_echo(&c, "{\"op\":\"subscribe\",\"collection\":\"vw-rules\",\"id\":\"x\",\"sid\":\"v\",\"where\":{}}",
			  "invalid_query", "id", "v");
	expect_error_echo(&c, "{\"op\":\"subscribe\",\"collection\":\"vw-rules\",\"sid\":\"no good\",\"where\":{}}",
			  "invalid_query", "sid", "");

	/* A repeated sid replaces (acked again); plain unsubscribe leaves views alone. */
	subscribe_ok(&c, "vw-rules", NULL, NULL);
	subscribe_view(&c, "vw-rules", "v", "{\"n\":1}", NULL);
	subscribe_view(&c, "vw-rules", "v", "{\"n\":2}", NULL);
	cr_assert_eq(it_send(&c, "{\"op\":\"unsubscribe\",\"collection\":\"vw-rules\"}"), 0);
	o = it_expect_op(&c, "unsubscribed", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "sid"), "");
	json_object_put(o);
	cr_assert_eq(it_rest(&g_stack, "PUT", "vw-rules", "a", "{\"n\":1}"), 201);
	cr_assert_eq(it_rest(&g_stack, "PUT", "vw-rules", "b", "{\"n\":2}"), 201);
	read_events(&c, 1, "v", plain, view, sizeof(plain));
	cr_assert_str_eq(view, "created:b", "the second where replaced the first");
	cr_assert(it_quiet(&c));

	/* unsubscribe by sid ends it, echoing the sid. */
	cr_assert_eq(it_send(&c, "{\"op\":\"unsubscribe\",\"collection\":\"vw-rules\",\"sid\":\"v\"}"), 0);
	o = it_expect_op(&c, "unsubscribed", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "sid"), "v");
	json_object_put(o);
	cr_assert_eq(it_rest(&g_stack, "PUT", "vw-rules", "c", "{\"n\":2}"), 201);
	cr_assert(it_quiet(&c));

	/* Views count toward TANDEM_MAX_SUBSCRIPTIONS (5 here). */
	for (int i = 0; i < 5; i++) {
		char sid[16];

		snprintf(sid, sizeof(sid), "s%d", i);
		subscribe_view(&c, "vw-rules", sid, "{}", NULL);
	}
	expect_error_echo(&c, "{\"op\":\"subscribe\",\"collection\":\"vw-rules\",\"sid\":\"s9\",\"where\":{}}",
			  "too_many_subscriptions", "", "s9");
	wsc_close(&c, 1000);
}
