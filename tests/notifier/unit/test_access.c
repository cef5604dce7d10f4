/*
 * Unit tests of the hub's auth (ntf_access.c) with fake transports and a
 * real HS256 key: the token cache, the compact claims, `own` on live and
 * replayed events, the expiry timer and a refresh that drops a claim.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

/* White-box: the hub's private structs are checked directly. */
#include "ntf_hub_internal.h"

#define SECRET "unit-access-secret-0123456789abcdef"

static struct {
	struct ntf_query *queries[8];
	int n_queries;
	int closes;
	long long timer_usecs;
	int timers;
} fk;
static struct ntf_hub hub;
static struct tnd_auth auth;

static void fake_wake(void *data, void *handle, bool closing)
{
	(void)data;
	(void)handle;
	if (closing)
		fk.closes++;
}

static void fake_timer(void *data, void *handle, long long usecs)
{
	(void)data;
	(void)handle;
	fk.timer_usecs = usecs;
	fk.timers++;
}

static int fake_read(void *data, struct ntf_query *q)
{
	(void)data;
	cr_assert_lt(fk.n_queries, 8);
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
}

static void setup(void)
{
	struct ntf_hub_limits limits = {.max_subs = 8, .queue = {.max_msgs = 64, .max_bytes = 1 << 20}};
	struct ntf_hub_ops ops = {.ws = {.wake = fake_wake, .set_timer = fake_timer},
				  .redis = {.read_log = fake_read, .pause_input = fake_pause},
				  .loop = {.schedule = fake_schedule}};
	char err[200];

	memset(&fk, 0, sizeof(fk));
	cr_assert_eq(tnd_auth_init(&auth, &(struct tnd_auth_settings){.secret = SECRET}, err,
				   sizeof(err)), 0, "%s", err);
	cr_assert_eq(ntf_hub_init(&hub, &limits, &ops), 0);
	cr_assert_eq(ntf_hub_set_auth(&hub, &auth), 0);
	ntf_hub_link_up(&hub);
}

static void teardown(void)
{
	struct ntf_log_result fail = {.ok = false};

	while (fk.n_queries)
		ntf_hub_query_done(fk.queries[--fk.n_queries], &fail);
	ntf_hub_destroy(&hub);
	tnd_auth_free(&auth);
}

TestSuite(access, .init = setup, .fini = teardown);

static char *token_ttl(long long ttl, const char *grants)
{
	char json[1024];
	jwt_t *jwt = NULL;
	char *out;

	snprintf(json, sizeof(json), "{\"exp\":%lld%s}", (long long)time(NULL) + ttl, grants);
	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, json), 0);
	cr_assert_eq(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
	out = jwt_encode_str(jwt);
	jwt_free(jwt);
	return out;
}

static void send_msg(struct ntf_conn *conn, const char *fmt, const char *arg)
{
	char text[4096];

	snprintf(text, sizeof(text), fmt, arg);
	cr_assert_eq(ntf_hub_conn_message(conn, text, strlen(text)), 0);
}

static void auth_with(struct ntf_conn *conn, const char *tok)
{
	send_msg(conn, "{\"op\":\"auth\",\"token\":\"%s\"}", tok);
}

/* Every queued frame, one word each: "auth", "ack", "err:<code>", "unsub:<reason>", or "<id>". */
static void drain(struct ntf_conn *conn, char *out, size_t size)
{
	struct ntf_msg *m;
	size_t o = 0;

	out[0] = '\0';
	while ((m = ntf_hub_conn_next(conn)) != NULL) {
		const char *p = ntf_msg_payload(m), *s;
		char tok[256];

		if (m->is_event)
			snprintf(tok, sizeof(tok), "%s", m->doc_id);
		else if (strstr(p, "\"op\":\"authenticated\""))
			snprintf(tok, sizeof(tok), "auth");
		else if (strstr(p, "\"op\":\"subscribed\""))
			snprintf(tok, sizeof(tok), "ack");
		else if ((s = strstr(p, "\"code\":\"")) != NULL)
			snprintf(tok, sizeof(tok), "err:%.*s", (int)strcspn(s + 8, "\""), s + 8);
		else if ((s = strstr(p, "\"reason\":\"")) != NULL)
			snprintf(tok, sizeof(tok), "unsub:%.*s", (int)strcspn(s + 10, "\""), s + 10);
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

/* Answers the oldest read: the log's tail at tail_ms, no entries (or the given events). */
static void answer(uint64_t tail_ms, struct ntf_msg **evs, size_t n)
{
	struct ntf_query *q;
	struct ntf_log_result res = {.ok = true, .tail = {tail_ms, 0}, .first = {1, 0},
				     .events = evs, .n_events = n, .n_entries = n};

	cr_assert_gt(fk.n_queries, 0, "no log read");
	q = fk.queries[0];
	memmove(fk.queries, fk.queries + 1, sizeof(fk.queries[0]) * (size_t)--fk.n_queries);
	if (n)
		res.last_entry = evs[n - 1]->seq;
	ntf_hub_query_done(q, &res);
	while (ntf_hub_pump(&hub))
		;
}

/* An event of collection c, document id, owned by owner (NULL: none). */
static char *event_body(char *buf, size_t size, const char *id, const char *owner)
{
	int n = snprintf(buf, size, "{\"type\":\"updated\",\"collection\":\"c\",\"id\":\"%s\","
				   "\"version\":2,\"doc\":{}}", id);

	if (owner)
		snprintf(buf + n, size - (size_t)n, "\n{\"owner\":\"%s\"}", owner);
	return buf;
}

static void publish(const char *id, const char *owner, uint64_t ms)
{
	char body[512], buf[600];

	snprintf(buf, sizeof(buf), "%llu-0 %s", (unsigned long long)ms,
		 event_body(body, sizeof(body), id, owner));
	ntf_hub_publish(&hub, buf, strlen(buf));
	while (ntf_hub_pump(&hub))
		;
}

static struct ntf_msg *logged(const char *id, const char *owner, uint64_t ms)
{
	char body[512], seq[32];
	bool malformed;
	struct ntf_msg *m;

	snprintf(seq, sizeof(seq), "%llu-0", (unsigned long long)ms);
	event_body(body, sizeof(body), id, owner);
	m = ntf_proto_event(seq, strlen(seq), body, strlen(body), NULL, &malformed);
	cr_assert_not_null(m);
	return m;
}

Test(access, a_connection_without_a_token_costs_no_claims_and_may_not_subscribe)
{
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	cr_assert_null(conn->auth);
	cr_assert_lt(sizeof(struct ntf_conn), 256, "no struct tnd_claims per connection");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\",\"id\":\"d\"}", "c");
	EXPECT(conn, "err:unauthorized");
	cr_assert_eq(fk.n_queries, 0, "nothing was subscribed");
	ntf_hub_conn_free(conn);
}

Test(access, one_token_on_many_connections_is_verified_once)
{
	char *tok = token_ttl(600, ",\"sub\":\"alice\",\"read\":[\"c\",\"d\"]");
	struct ntf_conn *a = ntf_hub_conn_new(&hub, NULL), *b = ntf_hub_conn_new(&hub, NULL);

	auth_with(a, tok);
	auth_with(b, tok);
	cr_assert_eq(ntf_hub_conn_authenticate(a, tok, strlen(tok)), 0);
	cr_assert_eq(hub.auth_cache->misses, 1);
	cr_assert_eq(hub.auth_cache->hits, 2);
	EXPECT(a, "auth");
	EXPECT(b, "auth");
	cr_assert_str_eq(a->auth->sub, "alice");
	cr_assert_str_eq(a->auth->read, ",c,d,");
	cr_assert_eq(fk.timers, 3);
	/* Armed for exp + leeway (+1 s), not for exp. */
	cr_assert_geq(fk.timer_usecs, (600 + TND_AUTH_LEEWAY_S) * 1000000LL);
	cr_assert_leq(fk.timer_usecs, (600 + TND_AUTH_LEEWAY_S + 1) * 1000000LL);
	ntf_hub_conn_free(a);
	ntf_hub_conn_free(b);
	free(tok);
}

Test(access, own_delivers_only_the_holders_documents_live_and_replayed)
{
	char *tok = token_ttl(600, ",\"sub\":\"alice\",\"read\":\"*\",\"own\":[\"c\"]");
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);
	struct ntf_msg *evs[3] = {logged("mine", "alice", 2), logged("bobs", "bob", 3),
				  logged("nobodys", NULL, 4)};

	auth_with(conn, tok);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\",\"since\":\"1-0\"}", "c");
	answer(4, NULL, 0);  /* the collection's sync */
	answer(4, evs, 3);   /* the replay */
	publish("bob2", "bob", 5);
	publish("none2", NULL, 6);
	publish("mine2", "alice", 7);
	EXPECT(conn, "auth ack mine mine2");
	ntf_hub_conn_free(conn);
	for (int i = 0; i < 3; i++)
		ntf_msg_unref(evs[i]);
	free(tok);
}

Test(access, a_refresh_ends_forbidden_subscriptions_once_each_and_applies_own)
{
	char *both = token_ttl(600, ",\"sub\":\"al\",\"read\":[\"c\",\"x\"]");
	char *only_x = token_ttl(600, ",\"sub\":\"al\",\"read\":[\"x\"]");
	char *own = token_ttl(600, ",\"sub\":\"al\",\"read\":\"*\",\"own\":\"*\"");
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	auth_with(conn, both);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\"}", "c");
	answer(1, NULL, 0);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\",\"id\":\"d\"}", "c");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\"}", "c"); /* a repeat */
	EXPECT(conn, "auth ack ack ack");
	cr_assert_eq(conn->n_subs, 2);
	publish("e1", "someone", 2);
	EXPECT(conn, "e1");
	auth_with(conn, only_x);
	EXPECT(conn, "auth unsub:forbidden unsub:forbidden");
	cr_assert_eq(conn->n_subs, 0);
	cr_assert_null(conn->feeds);
	publish("e2", "someone", 3);
	EXPECT(conn, "");
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\"}", "c");
	EXPECT(conn, "err:forbidden");
	auth_with(conn, own);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\"}", "c");
	if (fk.n_queries)
		answer(3, NULL, 0);
	publish("e3", "someone", 4);
	publish("e4", "al", 5);
	EXPECT(conn, "auth ack e4");
	ntf_hub_conn_free(conn);
	free(both);
	free(only_x);
	free(own);
}

Test(access, a_refused_token_keeps_the_current_one)
{
	char *good = token_ttl(600, ",\"read\":\"*\""), *expired = token_ttl(-100, ",\"read\":\"*\"");
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	auth_with(conn, good);
	auth_with(conn, expired);
	auth_with(conn, "x.y.z");
	send_msg(conn, "{\"op\":\"auth\",\"token\":%s}", "42");
	EXPECT(conn, "auth err:unauthorized err:unauthorized err:unauthorized");
	cr_assert_not_null(conn->auth);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\"}", "c");
	answer(1, NULL, 0);
	EXPECT(conn, "ack");
	ntf_hub_conn_free(conn);
	free(good);
	free(expired);
}

Test(access, the_timer_closes_with_4001_only_once_the_token_is_past_exp_and_leeway)
{
	char *tok = token_ttl(600, ",\"read\":\"*\"");
	struct ntf_conn *conn = ntf_hub_conn_new(&hub, NULL);

	auth_with(conn, tok);
	EXPECT(conn, "auth");
	ntf_hub_conn_timer(conn); /* early: armed again */
	cr_assert_eq(fk.timers, 2);
	cr_assert_eq(ntf_conn_close_code(conn), 0);
	conn->auth->exp = (long long)time(NULL) - TND_AUTH_LEEWAY_S + 5; /* within the leeway */
	ntf_hub_conn_timer(conn);
	cr_assert_eq(ntf_conn_close_code(conn), 0);
	conn->auth->exp = (long long)time(NULL) - TND_AUTH_LEEWAY_S - 1;
	ntf_hub_conn_timer(conn);
	cr_assert_eq(ntf_conn_close_code(conn), NTF_CLOSE_TOKEN_EXPIRED);
	cr_assert_eq(fk.closes, 1);
	cr_assert_eq(hub.metrics.token_expired_closes, 1);
	ntf_hub_conn_free(conn);
	free(tok);
}

Test(access, open_mode_answers_auth_with_a_null_exp_and_lets_everyone_subscribe)
{
	struct ntf_hub open;
	struct ntf_hub_limits limits = {.max_subs = 8, .queue = {.max_msgs = 64, .max_bytes = 1 << 20}};
	struct ntf_hub_ops ops = {.ws = {.wake = fake_wake},
				  .redis = {.read_log = fake_read, .pause_input = fake_pause},
				  .loop = {.schedule = fake_schedule}};
	struct tnd_auth off = {.mode = TND_AUTH_OFF};
	struct ntf_conn *conn;

	cr_assert_eq(ntf_hub_init(&open, &limits, &ops), 0);
	cr_assert_eq(ntf_hub_set_auth(&open, &off), 0);
	cr_assert_not(ntf_hub_auth_on(&open));
	conn = ntf_hub_conn_new(&open, NULL);
	send_msg(conn, "{\"op\":\"auth\",\"token\":\"%s\"}", "anything");
	cr_assert(strstr(ntf_msg_payload(ntf_hub_conn_next(conn)), "\"exp\":null"));
	ntf_hub_conn_sent(conn);
	send_msg(conn, "{\"op\":\"subscribe\",\"collection\":\"%s\"}", "c");
	cr_assert_eq(conn->n_subs, 1);
	ntf_hub_conn_free(conn);
	ntf_hub_destroy(&open);
}
