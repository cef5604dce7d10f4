/*
 * Integration tests of SPEC sections 5 and 6 on tandem-notifier, and of
 * the Redis ACL users of scripts/run-stack.sh, on a real stack started by
 * main() with auth on: an HS256 secret from a file. Tokens are signed here
 * with libjwt; documents are written over REST through nginx with tokens
 * too. Each test uses collections of its own. Run with --jobs 1.
 *
 * make test-integration runs it once more on a Redis Cluster stack
 * (TANDEM_STACK_REDIS=cluster), which has no per-program ACL users: the
 * tests of those users are skipped there.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "http.h"
#include "it_support.h"
#include "stack.h"
#include "stack_suite.h"

#define SECRET "notifier-auth-secret-0123456789abcdef"

static struct stack g_stack;

static void import_stack(void)
{
	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
}

TestSuite(ws_auth, .init = import_stack, .timeout = 60);
TestSuite(ws_own, .init = import_stack, .timeout = 60);
TestSuite(ws_expiry, .init = import_stack, .timeout = 60);
TestSuite(redis_acl, .init = import_stack, .timeout = 30);

/* ---- tokens and REST ------------------------------------------------------ */

static char *sign(jwt_alg_t alg, const char *key, const char *json)
{
	jwt_t *jwt = NULL;
	char *out;

	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, json), 0, "%s", json);
	cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
	out = jwt_encode_str(jwt);
	jwt_free(jwt);
	cr_assert_not_null(out);
	return out;
}

/* An HS256 token valid for ttl seconds from now (negative: expired); grants after exp. */
static char *token_ttl(long long ttl, const char *grants)
{
	char json[2048];

	snprintf(json, sizeof(json), "{\"exp\":%lld%s}", (long long)time(NULL) + ttl, grants);
	return sign(JWT_ALG_HS256, SECRET, json);
}

static char *token(const char *grants)
{
	return token_ttl(600, grants);
}

static long rest_as(const char *tok, const char *method, const char *col, const char *id,
		    const char *body)
{
	char url[512], auth[4096];
	const char *headers[3] = {"Content-Type: application/json", auth, NULL};
	struct http_response res;
	long status;

	snprintf(url, sizeof(url), "%s/api/v1/%s%s%s", g_stack.base_url, col, id ? "/" : "",
		 id ? id : "");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	cr_assert_eq(http_request(method, url, headers, body, body ? strlen(body) : 0, &res), 0);
	status = res.status;
	http_response_free(&res);
	return status;
}

/* ---- sockets ---------------------------------------------------------------- */

static void open_ws(struct wsc *c)
{
	cr_assert_eq(it_ws(c, &g_stack, true), 0, "upgrade failed (%d)", c->http_status);
}

/* Opens /ws?access_token=tok through nginx; returns wsc_connect's result. */
static int open_ws_token(struct wsc *c, const char *tok)
{
	char path[4096];
	struct wsc_options opt = {.host = "127.0.0.1", .port = g_stack.http_port, .path = path,
				  .timeout_ms = IT_WAIT_MS};

	snprintf(path, sizeof(path), "/ws?access_token=%s", tok);
	return wsc_connect(c, &opt);
}

/* Sends the auth op and returns the answer (caller puts). */
static struct json_object *auth_op(struct wsc *c, const char *tok)
{
	struct json_object *o;

	cr_assert_eq(it_send(c, "{\"op\":\"auth\",\"token\":\"%s\"}", tok), 0);
	o = it_recv(c, IT_WAIT_MS);
	cr_assert_not_null(o, "no answer to auth");
	return o;
}

static void expect_authenticated(struct wsc *c, const char *tok)
{
	struct json_object *o = auth_op(c, tok), *exp;

	cr_assert_str_eq(it_str(o, "op"), "authenticated", "%s", json_object_to_json_string(o));
	cr_assert(json_object_object_get_ex(o, "exp", &exp) && json_object_is_type(exp, json_type_int),
		  "%s", json_object_to_json_string(o));
	cr_assert_gt(json_object_get_int64(exp), 1700000000LL);
	json_object_put(o);
}

/* The next message is an error with code (and the collection echoed when col). */
static void expect_error(struct json_object *o, const char *code, const char *col, const char *id)
{
	cr_assert_not_null(o, "no answer");
	cr_assert_str_eq(it_str(o, "op"), "error", "%s", json_object_to_json_string(o));
	cr_assert_str_eq(it_str(o, "code"), code, "%s", json_object_to_json_string(o));
	if (col)
		cr_assert_str_eq(it_str(o, "collection"), col, "%s", json_object_to_json_string(o));
	if (id)
		cr_assert_str_eq(it_str(o, "id"), id, "%s", json_object_to_json_string(o));
	json_object_put(o);
}

static void expect_refused_auth(struct wsc *c, const char *tok)
{
	expect_error(auth_op(c, tok), "unauthorized", NULL, NULL);
}

static void subscribe_ok(struct wsc *c, const char *col, const char *id, const char *since)
{
	struct json_object *o = it_subscribe(c, col, id, since);

	cr_assert_not_null(o, "no answer to subscribe");
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "%s", json_object_to_json_string(o));
	json_object_put(o);
}

/* Reads events until a pong (after a ping): their ids joined with ',' into out. */
static void drain_ids(struct wsc *c, char *out, size_t outlen)
{
	struct json_object *o;
	size_t n = 0;

	out[0] = '\0';
	cr_assert_eq(it_send(c, "{\"op\":\"ping\"}"), 0);
	while ((o = it_recv(c, IT_WAIT_MS)) != NULL) {
		if (!strcmp(it_str(o, "op"), "pong")) {
			json_object_put(o);
			return;
		}
		cr_assert_str_eq(it_str(o, "op"), "event", "%s", json_object_to_json_string(o));
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? "," : "", it_str(o, "id"));
		json_object_put(o);
	}
	cr_assert_fail("no pong");
}

Test(ws_auth, an_auth_op_with_a_valid_token_answers_its_exp_and_allows_subscribe)
{
	struct wsc c;
	char *tok = token(",\"read\":[\"wa-one\"]");

	open_ws(&c);
	expect_authenticated(&c, tok);
	subscribe_ok(&c, "wa-one", NULL, NULL);
	wsc_close(&c, 1000);
	free(tok);
}

Test(ws_auth, access_token_on_the_upgrade_authenticates_and_a_bad_one_is_refused_with_401)
{
	struct wsc c;
	char *tok = token(",\"read\":\"*\""), *expired = token_ttl(-120, ",\"read\":\"*\"");

	cr_assert_eq(open_ws_token(&c, tok), 0, "upgrade refused (%d)", c.http_status);
	subscribe_ok(&c, "wa-url", NULL, NULL);
	wsc_close(&c, 1000);
	cr_assert_eq(open_ws_token(&c, "not.a.token"), -1);
	cr_assert_eq(c.http_status, 401);
	cr_assert_eq(open_ws_token(&c, expired), -1);
	cr_assert_eq(c.http_status, 401);
	free(tok);
	free(expired);
}

Test(ws_auth, subscribe_without_a_token_is_unauthorized_and_the_connection_stays_open)
{
	struct wsc c;

	open_ws(&c);
	expect_error(it_subscribe(&c, "wa-none", "d1", NULL), "unauthorized", "wa-none", "d1");
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

Test(ws_auth, garbage_expired_wrong_key_and_alg_none_tokens_are_unauthorized)
{
	struct wsc c;
	char json[256];
	char *expired = token_ttl(-120, ",\"read\":\"*\""), *wrong, *none, *no_exp;

	snprintf(json, sizeof(json), "{\"exp\":%lld,\"read\":\"*\"}", (long long)time(NULL) + 600);
	wrong = sign(JWT_ALG_HS256, "another-secret-0123456789abcdef-xyz", json);
	none = sign(JWT_ALG_NONE, NULL, json);
	no_exp = sign(JWT_ALG_HS256, SECRET, "{\"read\":\"*\"}");
	open_ws(&c);
	expect_refused_auth(&c, "garbage");
	expect_refused_auth(&c, expired);
	expect_refused_auth(&c, wrong);
	expect_refused_auth(&c, none);
	expect_refused_auth(&c, no_exp);
	cr_assert_eq(it_send(&c, "{\"op\":\"auth\"}"), 0);
	expect_error(it_recv(&c, IT_WAIT_MS), "unauthorized", NULL, NULL);
	/* None of them counts: subscribing still needs a token. */
	expect_error(it_subscribe(&c, "wa-bad", NULL, NULL), "unauthorized", "wa-bad", NULL);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
	free(expired);
	free(wrong);
	free(none);
	free(no_exp);
}

Test(ws_auth, the_read_claim_is_per_collection_outside_it_is_forbidden)
{
	struct wsc c;
	char *tok = token(",\"read\":[\"wa-yes\"],\"write\":\"*\"");

	open_ws(&c);
	expect_authenticated(&c, tok);
	expect_error(it_subscribe(&c, "wa-no", "x", NULL), "forbidden", "wa-no", "x");
	subscribe_ok(&c, "wa-yes", NULL, NULL);
	/* write alone does not let a socket read. */
	cr_assert_eq(rest_as(tok, "PUT", "wa-no", "d", "{}"), 201);
	cr_assert_eq(rest_as(tok, "PUT", "wa-yes", "d", "{}"), 201);
	struct json_object *o = it_expect_op(&c, "event", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "collection"), "wa-yes");
	json_object_put(o);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
	free(tok);
}

Test(ws_auth, a_new_auth_op_ends_the_subscriptions_its_claims_no_longer_allow)
{
	struct wsc c;
	struct json_object *o;
	char *both = token(",\"sub\":\"u\",\"read\":[\"wr-keep\",\"wr-drop\"],\"write\":\"*\"");
	char *keep = token(",\"sub\":\"u\",\"read\":[\"wr-keep\"],\"write\":\"*\"");
	bool whole = false, doc = false;

	open_ws(&c);
	expect_authenticated(&c, both);
	subscribe_ok(&c, "wr-keep", NULL, NULL);
	subscribe_ok(&c, "wr-drop", NULL, NULL);
	subscribe_ok(&c, "wr-drop", "one", NULL);
	cr_assert_eq(it_send(&c, "{\"op\":\"auth\",\"token\":\"%s\"}", keep), 0);
	o = it_expect_op(&c, "authenticated", IT_WAIT_MS);
	cr_assert_not_null(o);
	json_object_put(o);
	for (int i = 0; i < 2; i++) {
		o = it_expect_op(&c, "unsubscribed", IT_WAIT_MS);
		cr_assert_not_null(o);
		cr_assert_str_eq(it_str(o, "collection"), "wr-drop");
		cr_assert_str_eq(it_str(o, "reason"), "forbidden");
		if (!strcmp(it_str(o, "id"), "one"))
			doc = true;
		else if (!it_str(o, "id")[0])
			whole = true;
		json_object_put(o);
	}
	cr_assert(whole && doc, "both subscriptions of wr-drop end");
	cr_assert(it_quiet(&c));
	cr_assert_eq(rest_as(both, "PUT", "wr-drop", "one", "{}"), 201);
	cr_assert_eq(rest_as(both, "PUT", "wr-keep", "k", "{}"), 201);
	o = it_expect_op(&c, "event", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "collection"), "wr-keep", "only the kept subscription delivers");
	json_object_put(o);
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
	free(both);
	free(keep);
}

/* ---- own -------------------------------------------------------------------- */

#define OWN_GRANTS(user, col) ",\"sub\":\"" user "\",\"read\":[\"" col "\"],\"write\":[\"" col "\"],\"own\":[\"" col "\"]"

Test(ws_own, two_users_never_see_each_others_events_live_or_replayed)
{
	struct wsc a, b, all;
	char *ta = token(OWN_GRANTS("alice", "wo-todos")), *tb = token(OWN_GRANTS("bob", "wo-todos"));
	char *admin = token(",\"sub\":\"admin\",\"read\":\"*\",\"write\":\"*\"");
	char ids[512];

	cr_assert_eq(open_ws_token(&a, ta), 0);
	open_ws(&b);
	expect_authenticated(&b, tb);
	cr_assert_eq(open_ws_token(&all, admin), 0);
	subscribe_ok(&a, "wo-todos", NULL, NULL);
	subscribe_ok(&b, "wo-todos", NULL, NULL);
	subscribe_ok(&all, "wo-todos", NULL, NULL);
	cr_assert_eq(rest_as(ta, "PUT", "wo-todos", "a1", "{\"t\":1}"), 201);
	cr_assert_eq(rest_as(tb, "PUT", "wo-todos", "b1", "{\"t\":1}"), 201);
	cr_assert_eq(rest_as(admin, "PUT", "wo-todos", "n1", "{\"t\":1}"), 201); /* no owner */
	cr_assert_eq(rest_as(ta, "PATCH", "wo-todos", "a1", "{\"t\":2}"), 200);
	cr_assert_eq(rest_as(tb, "DELETE", "wo-todos", "b1", NULL), 204);
	/* The admin's socket saw all five: then every event has reached every socket. */
	for (int i = 0; i < 5; i++)
		json_object_put(it_expect_op(&all, "event", IT_WAIT_MS));
	drain_ids(&a, ids, sizeof(ids));
	cr_assert_str_eq(ids, "a1,a1");
	drain_ids(&b, ids, sizeof(ids));
	cr_assert_str_eq(ids, "b1,b1");

	/* since replays: from the start of the log, each sees only its own. */
	wsc_close(&a, 1000);
	wsc_close(&b, 1000);
	cr_assert_eq(open_ws_token(&a, ta), 0);
	cr_assert_eq(open_ws_token(&b, tb), 0);
	subscribe_ok(&a, "wo-todos", NULL, "0-0");
	subscribe_ok(&b, "wo-todos", NULL, "0-0");
	drain_ids(&a, ids, sizeof(ids));
	cr_assert_str_eq(ids, "a1,a1");
	drain_ids(&b, ids, sizeof(ids));
	cr_assert_str_eq(ids, "b1,b1");
	/* A document subscription to another user's document replays and delivers nothing. */
	subscribe_ok(&a, "wo-todos", "b1", "0-0");
	cr_assert_eq(rest_as(tb, "PUT", "wo-todos", "b1", "{\"again\":true}"), 201);
	cr_assert_eq(rest_as(ta, "PUT", "wo-todos", "a2", "{}"), 201);
	json_object_put(it_expect_op(&all, "event", IT_WAIT_MS));
	json_object_put(it_expect_op(&all, "event", IT_WAIT_MS));
	drain_ids(&a, ids, sizeof(ids));
	cr_assert_str_eq(ids, "a2");
	wsc_close(&a, 1000);
	wsc_close(&b, 1000);
	wsc_close(&all, 1000);
	free(ta);
	free(tb);
	free(admin);
}

/* Reads messages up to the pong: "type:id" of each event (all must carry sid). */
static void drain_views(struct wsc *c, const char *sid, char *out, size_t outlen)
{
	struct json_object *o;
	size_t n = 0;

	out[0] = '\0';
	cr_assert_eq(it_send(c, "{\"op\":\"ping\"}"), 0);
	while ((o = it_recv(c, IT_WAIT_MS)) != NULL) {
		if (!strcmp(it_str(o, "op"), "pong")) {
			json_object_put(o);
			return;
		}
		cr_assert_str_eq(it_str(o, "op"), "event", "%s", json_object_to_json_string(o));
		cr_assert_str_eq(it_str(o, "sid"), sid);
		n += (size_t)snprintf(out + n, outlen - n, "%s%s:%s", n ? "," : "", it_str(o, "type"),
				      it_str(o, "id"));
		json_object_put(o);
	}
	cr_assert_fail("no pong");
}

static void subscribe_view_ok(struct wsc *c, const char *col, const char *sid, const char *where,
			      const char *since)
{
	struct json_object *o;

	cr_assert_eq(it_send(c, "{\"op\":\"subscribe\",\"collection\":\"%s\",\"sid\":\"%s\",\"where\":%s%s%s%s}",
			     col, sid, where, since ? ",\"since\":\"" : "", since ? since : "", since ? "\"" : ""),
		     0);
	o = it_expect_op(c, "subscribed", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "sid"), sid);
	json_object_put(o);
}

Test(ws_own, a_filtered_subscription_sees_only_its_holders_documents_live_or_replayed)
{
	struct wsc a, all;
	char *ta = token(OWN_GRANTS("alice", "wo-views")), *tb = token(OWN_GRANTS("bob", "wo-views"));
	char *admin = token(",\"sub\":\"admin\",\"read\":\"*\",\"write\":\"*\"");
	char got[512];

	cr_assert_eq(open_ws_token(&a, ta), 0);
	cr_assert_eq(open_ws_token(&all, admin), 0);
	subscribe_view_ok(&a, "wo-views", "open", "{\"done\":false}", NULL);
	subscribe_ok(&all, "wo-views", NULL, NULL);
	cr_assert_eq(rest_as(ta, "PUT", "wo-views", "a1", "{\"done\":false}"), 201);
	cr_assert_eq(rest_as(tb, "PUT", "wo-views", "b1", "{\"done\":false}"), 201);
	cr_assert_eq(rest_as(tb, "PATCH", "wo-views", "b1", "{\"done\":true}"), 200);
	cr_assert_eq(rest_as(ta, "PATCH", "wo-views", "a1", "{\"done\":true}"), 200);
	for (int i = 0; i < 4; i++)
		json_object_put(it_expect_op(&all, "event", IT_WAIT_MS));
	drain_views(&a, "open", got, sizeof(got));
	cr_assert_str_eq(got, "created:a1,left:a1");
	wsc_close(&a, 1000);
	cr_assert_eq(open_ws_token(&a, ta), 0);
	subscribe_view_ok(&a, "wo-views", "open", "{\"done\":false}", "0-0");
	drain_views(&a, "open", got, sizeof(got));
	cr_assert_str_eq(got, "created:a1,left:a1");
	wsc_close(&a, 1000);
	wsc_close(&all, 1000);
	free(ta);
	free(tb);
	free(admin);
}

Test(ws_own, a_refresh_that_adds_own_restricts_what_follows)
{
	struct wsc c;
	char *plain = token(",\"sub\":\"carol\",\"read\":[\"wo-switch\"],\"write\":[\"wo-switch\"]");
	char *own = token(OWN_GRANTS("carol", "wo-switch"));
	char *dave = token(OWN_GRANTS("dave", "wo-switch"));
	char ids[256];

	open_ws(&c);
	expect_authenticated(&c, plain);
	subscribe_ok(&c, "wo-switch", NULL, NULL);
	cr_assert_eq(rest_as(dave, "PUT", "wo-switch", "d1", "{}"), 201);
	drain_ids(&c, ids, sizeof(ids));
	if (!ids[0]) /* the event may still be on its way */
		drain_ids(&c, ids, sizeof(ids));
	cr_assert_str_eq(ids, "d1", "without own, carol sees dave's document");
	expect_authenticated(&c, own);
	cr_assert_eq(rest_as(dave, "PUT", "wo-switch", "d2", "{}"), 201);
	cr_assert_eq(rest_as(own, "PUT", "wo-switch", "c1", "{}"), 201);
	json_object_put(it_expect_op(&c, "event", IT_WAIT_MS));
	drain_ids(&c, ids, sizeof(ids));
	cr_assert_str_eq(ids, "", "with own, only carol's c1 came (read above)");
	wsc_close(&c, 1000);
	free(plain);
	free(own);
	free(dave);
}

/* ---- expiry ----------------------------------------------------------------- */

/* Waits for the close frame; returns its code (0: none within ms). */
static int wait_close(struct wsc *c, int ms)
{
	struct wsc_frame f;
	long long deadline = stack_now_ms() + ms;
	int op;

	while (stack_now_ms() < deadline) {
		op = wsc_recv(c, (int)(deadline - stack_now_ms()), &f);
		if (op == WSC_OP_CLOSE)
			return c->close_code;
		if (op < 0)
			return 0;
	}
	return 0;
}

/*
 * Tokens verify until exp + 30 s (the leeway REST applies too), so the
 * socket closes then: a token 27 s past its exp is accepted and closes
 * about 3 s later.
 */
Test(ws_expiry, a_socket_closes_with_4001_when_its_token_expires)
{
	struct wsc c;
	char *tok = token_ttl(-27, ",\"read\":\"*\"");
	long long t0 = stack_now_ms();

	open_ws(&c);
	expect_authenticated(&c, tok);
	subscribe_ok(&c, "we-close", NULL, NULL);
	cr_assert_eq(wait_close(&c, 10000), 4001);
	cr_assert_lt(stack_now_ms() - t0, 9000);
	wsc_abort(&c);
	cr_assert_eq(open_ws_token(&c, tok), -1, "now past exp + leeway: refused");
	cr_assert_eq(c.http_status, 401);
	free(tok);
	tok = token_ttl(-27, ",\"read\":\"*\"");
	cr_assert_eq(open_ws_token(&c, tok), 0, "within the leeway: accepted");
	cr_assert_eq(wait_close(&c, 10000), 4001, "an access_token expires the same way");
	wsc_abort(&c);
	free(tok);
}

Test(ws_expiry, a_new_auth_op_before_expiry_keeps_the_socket_open)
{
	struct wsc c;
	char *old = token_ttl(-28, ",\"read\":\"*\""), *fresh = token(",\"read\":\"*\"");

	open_ws(&c);
	expect_authenticated(&c, old);
	subscribe_ok(&c, "we-refresh", NULL, NULL);
	expect_authenticated(&c, fresh);
	cr_assert_eq(wait_close(&c, 5000), 0, "refreshed: no 4001");
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
	free(old);
	free(fresh);
}

/* ---- Redis ACL users -------------------------------------------------------- */

#define NO_ACL_USERS "the cluster stack has no per-program ACL users (scripts/run-stack.sh)"

/* Runs one command as user (password from the run dir); its output in out. */
static void redis_as(const char *user, char *out, size_t outlen, const char *const *cmd)
{
	char path[400], pass[200] = "";
	const char *args[24];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/redis-%s.password", g_stack.dir, user);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	cr_assert_not_null(fgets(pass, sizeof(pass), f));
	fclose(f);
	pass[strcspn(pass, "\n")] = '\0';
	snprintf(path, sizeof(path), "tandem-%s", user);
	args[n++] = "--no-auth-warning";
	args[n++] = "--user";
	args[n++] = path;
	args[n++] = "--pass";
	args[n++] = pass;
	for (size_t i = 0; cmd[i] && n < 23; i++)
		args[n++] = cmd[i];
	args[n] = NULL;
	stack_redis_cli(&g_stack, out, outlen, args);
}

#define REFUSED(user, ...)                                                              \
	do {                                                                            \
		char out_[512];                                                         \
		const char *const cmd_[] = {__VA_ARGS__, NULL};                         \
		redis_as(user, out_, sizeof(out_), cmd_);                               \
		cr_expect(strstr(out_, "NOPERM") || strstr(out_, "can't run this command"), \
			  "%s may run %s: %s", user,                                    \
			  cmd_[0], out_);                                               \
	} while (0)

#define ALLOWED(user, ...)                                                              \
	do {                                                                            \
		char out_[512];                                                         \
		const char *const cmd_[] = {__VA_ARGS__, NULL};                         \
		redis_as(user, out_, sizeof(out_), cmd_);                               \
		cr_expect(strstr(out_, "NOPERM") == NULL && strstr(out_, "WRONGPASS") == NULL, \
			  "%s may not run %s: %s", user, cmd_[0], out_);                \
	} while (0)

Test(redis_acl, the_worker_user_runs_only_its_commands_on_its_keys_and_channels)
{
	it_skip_on_cluster(&g_stack, NO_ACL_USERS);
	ALLOWED("rest", "PING");
	ALLOWED("rest", "GET", "{tandem:acl}:d:x");
	ALLOWED("rest", "SCRIPT", "LOAD", "return 1");
	ALLOWED("rest", "PUBLISH", "{tandem:acl}", "hello");
	REFUSED("rest", "FLUSHALL");
	REFUSED("rest", "FLUSHDB");
	REFUSED("rest", "CONFIG", "GET", "maxmemory");
	REFUSED("rest", "KEYS", "*");
	REFUSED("rest", "SCAN", "0");
	REFUSED("rest", "SCRIPT", "FLUSH");
	REFUSED("rest", "EVAL", "return 1", "0");
	REFUSED("rest", "SET", "other:x", "1");
	REFUSED("rest", "GET", "{other:acl}:d:x");
	REFUSED("rest", "PUBLISH", "other", "hello");
	REFUSED("rest", "PSUBSCRIBE", "{tandem:*}");
	REFUSED("rest", "SHUTDOWN");
	REFUSED("rest", "ACL", "LIST");
	REFUSED("rest", "CLIENT", "LIST");
}

Test(redis_acl, the_notifier_user_reads_and_listens_but_cannot_write)
{
	it_skip_on_cluster(&g_stack, NO_ACL_USERS);
	ALLOWED("notifier", "PING");
	ALLOWED("notifier", "EXISTS", "{tandem:acl}:log");
	ALLOWED("notifier", "XRANGE", "{tandem:acl}:log", "-", "+");
	ALLOWED("notifier", "EVAL", "return redis.call('EXISTS', KEYS[1])", "1", "{tandem:acl}:log");
	REFUSED("notifier", "EVAL", "return redis.call('SET', KEYS[1], '1')", "1", "{tandem:acl}:d:x");
	REFUSED("notifier", "EVAL", "return redis.call('EXISTS', KEYS[1])", "1", "{other:acl}:log");
	REFUSED("notifier", "SET", "{tandem:acl}:d:x", "1");
	REFUSED("notifier", "DEL", "{tandem:acl}:d:x");
	REFUSED("notifier", "XADD", "{tandem:acl}:log", "*", "e", "x");
	REFUSED("notifier", "HSET", "{tandem:acl}:m:x", "v", "1");
	REFUSED("notifier", "GET", "{tandem:acl}:d:x");
	REFUSED("notifier", "PUBLISH", "{tandem:acl}", "forged");
	REFUSED("notifier", "FLUSHALL");
	REFUSED("notifier", "CONFIG", "SET", "maxmemory", "1");
	REFUSED("notifier", "KEYS", "*");
	REFUSED("notifier", "XRANGE", "{other:acl}:log", "-", "+");
	REFUSED("notifier", "ACL", "LIST");
}

Test(redis_acl, a_wrong_password_is_refused)
{
	char out[256];
	const char *const args[] = {"AUTH", "tandem-notifier", "wrong", NULL};

	stack_redis_cli(&g_stack, out, sizeof(out), args);
	cr_assert(strstr(out, "WRONGPASS"), "%s", out);
}

/* Lines of path holding a, and (in the same read) lines holding b. */
static int count_in_file(const char *path, const char *a, const char *b, int *n_b)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(path, "r");

	*n_b = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		n += strstr(line, a) != NULL;
		*n_b += strstr(line, b) != NULL;
	}
	fclose(f);
	return n;
}

/*
 * A refused AUTH (the password changed under the notifier) drops the link
 * with one log line per attempt and retries with backoff; once the
 * password is right again the link comes back by itself.
 */
Test(redis_acl, a_refused_auth_drops_the_link_and_the_notifier_retries_until_it_passes, .timeout = 60)
{
	char out[256], log[400], path[400], pass[200], setpass[220];
	const char *const change[] = {"ACL", "SETUSER", "tandem-notifier", "resetpass", ">changed-0123", NULL};
	const char *const kill[] = {"CLIENT", "KILL", "USER", "tandem-notifier", NULL};
	FILE *f;
	int refused, lines, lines0;

	it_skip_on_cluster(&g_stack, NO_ACL_USERS);
	snprintf(path, sizeof(path), "%s/redis-notifier.password", g_stack.dir);
	snprintf(log, sizeof(log), "%s/notifier.log", g_stack.dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(pass, sizeof(pass), f));
	fclose(f);
	pass[strcspn(pass, "\n")] = '\0';
	snprintf(setpass, sizeof(setpass), ">%s", pass);
	const char *const restore[] = {"ACL", "SETUSER", "tandem-notifier", "resetpass", setpass, NULL};

	cr_assert(it_wait_health(&g_stack, 200, IT_WAIT_MS));
	cr_assert_eq(count_in_file(log, "AUTH as tandem-notifier refused", "redis:", &lines0), 0);
	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out), change), 0);
	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out), kill), 0);
	cr_assert(it_wait_health(&g_stack, 503, IT_WAIT_MS), "the link is down");
	it_sleep_ms(1500); /* a few attempts with backoff */
	refused = count_in_file(log, "AUTH as tandem-notifier refused", "redis:", &lines);
	cr_assert_geq(refused, 2, "retried");
	cr_assert_lt(refused, 20, "with backoff, not a busy loop");
	/* One line per refusal; the only other redis line is the loss of the first link. */
	cr_assert_eq(lines - lines0, refused + 1, "%d redis lines for %d refusals", lines - lines0, refused);
	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out), restore), 0);
	cr_assert(it_wait_health(&g_stack, 200, 10000), "back once the password is right");
}

/* The notifier of this stack is connected with its ACL user: it hears events. */
Test(redis_acl, both_programs_work_under_their_users)
{
	char *tok;
	struct wsc c;
	struct json_object *o;

	it_skip_on_cluster(&g_stack, NO_ACL_USERS);
	tok = token(",\"read\":\"*\",\"write\":\"*\"");
	cr_assert_eq(open_ws_token(&c, tok), 0);
	subscribe_ok(&c, "acl-live", NULL, "0-0");
	cr_assert_eq(rest_as(tok, "PUT", "acl-live", "x", "{}"), 201);
	o = it_expect_op(&c, "event", IT_WAIT_MS);
	cr_assert_not_null(o);
	json_object_put(o);
	wsc_close(&c, 1000);
	free(tok);
}

/* ---- an RSA stack ---------------------------------------------------------- */

static struct stack rsa_stack;

static void stop_rsa_stack(void)
{
	if (rsa_stack.pid > 0)
		stack_stop(&rsa_stack);
}

/* A key's PEM (private or public half) as a malloc'd string. */
static char *pem_of(EVP_PKEY *pkey, bool private_half)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	cr_assert(private_half ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
			       : PEM_write_bio_PUBKEY(bio, pkey));
	n = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)n);
	BIO_free(bio);
	return out;
}

/*
 * With TANDEM_JWT_PUBLIC_KEY (RSA) the notifier takes RS256 tokens, on the
 * auth op and on the upgrade, and refuses HS tokens, the classic one keyed
 * with the public key's PEM text included.
 */
Test(ws_auth, an_rsa_stack_takes_rs256_tokens_and_refuses_alg_confusion, .timeout = 120,
     .init = import_stack, .fini = stop_rsa_stack)
{
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	char dir[] = "/tmp/tandem-ws-rsa-XXXXXX", pub_path[300], env_key[400], json[256], *priv, *pub;
	char *rs, *hs_pem, *hs;
	struct wsc c, up;
	struct json_object *o;
	FILE *f;

	cr_assert_not_null(pkey);
	cr_assert_not_null(mkdtemp(dir));
	priv = pem_of(pkey, true);
	pub = pem_of(pkey, false);
	snprintf(pub_path, sizeof(pub_path), "%s/pub.pem", dir);
	f = fopen(pub_path, "w");
	cr_assert_not_null(f);
	fputs(pub, f);
	fclose(f);
	snprintf(env_key, sizeof(env_key), "TANDEM_JWT_PUBLIC_KEY=%s", pub_path);
	const char *const env[] = {env_key, NULL};
	cr_assert_eq(stack_start(&rsa_stack, env), 0);

	snprintf(json, sizeof(json), "{\"exp\":%lld,\"read\":\"*\"}", (long long)time(NULL) + 600);
	rs = sign(JWT_ALG_RS256, priv, json);
	hs_pem = sign(JWT_ALG_HS256, pub, json);
	hs = sign(JWT_ALG_HS256, SECRET, json);

	cr_assert_eq(it_ws(&c, &rsa_stack, true), 0, "upgrade failed (%d)", c.http_status);
	expect_refused_auth(&c, hs_pem);
	expect_refused_auth(&c, hs);
	o = auth_op(&c, rs);
	cr_assert_str_eq(it_str(o, "op"), "authenticated", "%s", json_object_to_json_string(o));
	json_object_put(o);
	o = it_subscribe(&c, "rsa", NULL, NULL);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "%s", json_object_to_json_string(o));
	json_object_put(o);
	wsc_abort(&c);

	/* The same on the upgrade: RS256 passes, the PEM-keyed HS256 gets 401. */
	char path[4096];
	struct wsc_options opt = {.host = "127.0.0.1", .port = rsa_stack.http_port, .path = path,
				  .timeout_ms = IT_WAIT_MS};
	snprintf(path, sizeof(path), "/ws?access_token=%s", rs);
	cr_assert_eq(wsc_connect(&up, &opt), 0, "RS256 access_token refused (%d)", up.http_status);
	wsc_abort(&up);
	snprintf(path, sizeof(path), "/ws?access_token=%s", hs_pem);
	cr_assert_neq(wsc_connect(&up, &opt), 0, "an HS256 token keyed with the public PEM opened a socket");

	free(rs);
	free(hs_pem);
	free(hs);
	free(priv);
	free(pub);
	unlink(pub_path);
	rmdir(dir);
	EVP_PKEY_free(pkey);
	stack_stop(&rsa_stack);
}

int main(int argc, char *argv[])
{
	char dir[] = "/tmp/tandem-nauth-XXXXXX", path[300], env_file[400];
	int result = 1;
	FILE *f;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/secret", dir);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fputs(SECRET "\n", f);
	fclose(f);
	snprintf(env_file, sizeof(env_file), "TANDEM_JWT_SECRET_FILE=%s", path);
	const char *const env[] = {env_file, NULL};
	result = stack_suite_main(&g_stack, env, argc, argv);
	unlink(path);
	rmdir(dir);
	return result;
}
