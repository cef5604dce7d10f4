/*
 * Integration tests of SPEC section 6 on tandem-rest, through nginx, on a
 * real stack started by main() with auth on: an HS256 secret (from a
 * file) with a configured issuer and audience. One test starts a stack of
 * its own with an RSA public key. Tokens are signed here with libjwt.
 *
 * The notifier of these stacks does not enforce auth yet; nothing here
 * touches /ws.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "http.h"
#include "stack.h"
#include "stack_suite.h"

#define SECRET "integration-secret-0123456789abcdef"
#define ISSUER "https://id.test"
#define AUDIENCE "tandem"

static struct stack g_stack;
static struct stack own_stack;

static void import_stack(void)
{
	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
}

static void stop_own_stack(void)
{
	if (own_stack.pid > 0)
		stack_stop(&own_stack);
}

TestSuite(auth, .init = import_stack);
TestSuite(own, .init = import_stack);

static long long now_s(void)
{
	return (long long)time(NULL);
}

/* A token; grants is a JSON object's inner text (",..." pairs after exp/iss/aud). */
static char *token_with(jwt_alg_t alg, const void *key, size_t key_len, const char *grants)
{
	char json[4096];
	jwt_t *jwt = NULL;
	char *out;

	snprintf(json, sizeof(json), "{\"exp\":%lld,\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\"%s}",
		 now_s() + 600, grants);
	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, json), 0, "%s", json);
	cr_assert_eq(jwt_set_alg(jwt, alg, key, (int)key_len), 0);
	out = jwt_encode_str(jwt);
	jwt_free(jwt);
	cr_assert_not_null(out);
	return out;
}

static char *hs(const char *grants)
{
	return token_with(JWT_ALG_HS256, SECRET, strlen(SECRET), grants);
}

/* A token from raw claims (no defaults added). */
static char *hs_raw(const char *json)
{
	jwt_t *jwt = NULL;
	char *out;

	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, json), 0);
	cr_assert_eq(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
	out = jwt_encode_str(jwt);
	jwt_free(jwt);
	return out;
}

static const char *base(const struct stack *s)
{
	return s->base_url;
}

/* method path with token (NULL: no Authorization) and body (NULL: none); returns the status. */
static long call(const struct stack *s, const char *method, const char *path, const char *token,
		 const char *body, struct http_response *res)
{
	char url[1024], auth[16384];
	const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
	struct http_response local;

	if (!res)
		res = &local;
	snprintf(url, sizeof(url), "%s%s", base(s), path);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		headers[1] = auth;
	}
	cr_assert_eq(http_request(method, url, headers, body, body ? strlen(body) : 0, res), 0);
	long status = res->status;
	if (res == &local)
		http_response_free(&local);
	return status;
}

static void expect_error(const struct stack *s, const char *method, const char *path, const char *token,
			 const char *body, long status, const char *code)
{
	struct http_response res;
	struct json_object *obj, *err, *c;

	call(s, method, path, token, body, &res);
	cr_assert_eq(res.status, status, "%s %s: %ld, want %ld: %s", method, path, res.status, status, res.body);
	obj = json_tokener_parse(res.body);
	cr_assert(obj && json_object_object_get_ex(obj, "error", &err) &&
		  json_object_object_get_ex(err, "code", &c), "%s", res.body);
	cr_assert_str_eq(json_object_get_string(c), code, "%s %s: %s", method, path, res.body);
	json_object_put(obj);
	http_response_free(&res);
}

/* Every route, as (method, path, body); the document a1 exists in col "authz". */
static const struct route {
	const char *method, *path, *body;
	bool write;
} routes[] = {
	{"GET", "/api/v1/authz", NULL, false},
	{"GET", "/api/v1/authz/a1", NULL, false},
	{"HEAD", "/api/v1/authz/a1", NULL, false},
	{"POST", "/api/v1/authz", "{\"x\":1}", true},
	{"PUT", "/api/v1/authz/a1", "{\"x\":2}", true},
	{"PATCH", "/api/v1/authz/a1", "{\"x\":3}", true},
	{"DELETE", "/api/v1/authz/a2", NULL, true},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static void seed(const struct stack *s)
{
	char *admin = hs(",\"read\":\"*\",\"write\":\"*\"");

	cr_assert_lt(call(s, "PUT", "/api/v1/authz/a1", admin, "{\"x\":0}", NULL), 300);
	cr_assert_lt(call(s, "PUT", "/api/v1/authz/a2", admin, "{\"x\":0}", NULL), 300);
	free(admin);
}

/* HEAD answers carry no body: only the status can be checked. */
static void expect_refused(const struct stack *s, const struct route *r, const char *token, long status,
			   const char *code)
{
	if (!strcmp(r->method, "HEAD"))
		cr_assert_eq(call(s, r->method, r->path, token, r->body, NULL), status, "HEAD with %s", code);
	else
		expect_error(s, r->method, r->path, token, r->body, status, code);
}

Test(auth, health_needs_no_token)
{
	cr_assert_eq(call(&g_stack, "GET", "/api/v1/_health", NULL, NULL, NULL), 200);
}

Test(auth, every_route_refuses_missing_and_bad_tokens_with_401, .timeout = 60)
{
	char g[512], *expired, *future, *wrong_key, *wrong_iss, *wrong_aud, *no_exp;
	const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
			   "eyJleHAiOjk5OTk5OTk5OTksInJlYWQiOiIqIiwid3JpdGUiOiIqIn0.";

	seed(&g_stack);
	snprintf(g, sizeof(g), "{\"exp\":%lld,\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\",\"read\":\"*\",\"write\":\"*\"}",
		 now_s() - 60);
	expired = hs_raw(g);
	snprintf(g, sizeof(g), "{\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE
			       "\",\"read\":\"*\",\"write\":\"*\"}", now_s() + 600, now_s() + 120);
	future = hs_raw(g);
	wrong_key = token_with(JWT_ALG_HS256, "some-other-secret-0123456789abcdef", 34, ",\"read\":\"*\",\"write\":\"*\"");
	snprintf(g, sizeof(g), "{\"exp\":%lld,\"iss\":\"https://evil.test\",\"aud\":\"" AUDIENCE "\",\"read\":\"*\",\"write\":\"*\"}",
		 now_s() + 600);
	wrong_iss = hs_raw(g);
	snprintf(g, sizeof(g), "{\"exp\":%lld,\"iss\":\"" ISSUER "\",\"aud\":\"else\",\"read\":\"*\",\"write\":\"*\"}",
		 now_s() + 600);
	wrong_aud = hs_raw(g);
	no_exp = hs_raw("{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\",\"read\":\"*\",\"write\":\"*\"}");
	const char *const bad[] = {NULL, "garbage", "a.b.c", none, expired, future, wrong_key, wrong_iss,
				   wrong_aud, no_exp};
	for (size_t r = 0; r < N_ROUTES; r++)
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
			expect_refused(&g_stack, &routes[r], bad[b], 401, "unauthorized");
	free(expired);
	free(future);
	free(wrong_key);
	free(wrong_iss);
	free(wrong_aud);
	free(no_exp);
}

Test(auth, read_and_write_claims_are_checked_per_route_with_403, .timeout = 60)
{
	char *read_only = hs(",\"read\":[\"authz\"]");
	char *write_only = hs(",\"write\":[\"authz\"]");
	char *other_col = hs(",\"read\":[\"elsewhere\"],\"write\":[\"elsewhere\"]");
	char *star = hs(",\"read\":[\"*\"],\"write\":\"*\"");
	char *nothing = hs("");

	seed(&g_stack);
	for (size_t r = 0; r < N_ROUTES; r++) {
		const struct route *rt = &routes[r];
		expect_refused(&g_stack, rt, other_col, 403, "forbidden");
		expect_refused(&g_stack, rt, nothing, 403, "forbidden");
		if (rt->write) {
			expect_refused(&g_stack, rt, read_only, 403, "forbidden");
			cr_assert_lt(call(&g_stack, rt->method, rt->path, write_only, rt->body, NULL), 300,
				     "%s %s with write", rt->method, rt->path);
		} else {
			expect_refused(&g_stack, rt, write_only, 403, "forbidden");
			cr_assert_lt(call(&g_stack, rt->method, rt->path, read_only, rt->body, NULL), 300,
				     "%s %s with read", rt->method, rt->path);
		}
		seed(&g_stack);
		cr_assert_lt(call(&g_stack, rt->method, rt->path, star, rt->body, NULL), 300, "%s %s with *",
			     rt->method, rt->path);
		seed(&g_stack);
	}
	free(read_only);
	free(write_only);
	free(other_col);
	free(star);
	free(nothing);
}

static struct json_object *json_of(struct http_response *res)
{
	struct json_object *obj = json_tokener_parse(res->body);

	cr_assert_not_null(obj, "%s", res->body);
	return obj;
}

static const char *str_field(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* Ids of a list page, as "a,b,c". */
static void page_ids(struct json_object *page, char *out, size_t size, char *next, size_t next_size)
{
	struct json_object *items, *n;

	out[0] = '\0';
	cr_assert(json_object_object_get_ex(page, "items", &items));
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		strncat(out, str_field(json_object_array_get_idx(items, i), "id"), size - strlen(out) - 2);
		strcat(out, ",");
	}
	json_object_object_get_ex(page, "next", &n);
	snprintf(next, next_size, "%s", n ? json_object_get_string(n) : "");
}

Test(own, two_users_see_and_change_only_their_own_documents, .timeout = 60)
{
	char *alice = hs(",\"sub\":\"alice\",\"read\":[\"mine\"],\"write\":[\"mine\"],\"own\":[\"mine\"]");
	char *bob = hs(",\"sub\":\"bob\",\"read\":[\"mine\"],\"write\":[\"mine\"],\"own\":[\"mine\"]");
	char *admin = hs(",\"read\":\"*\",\"write\":\"*\"");
	struct http_response res;
	struct json_object *doc;
	char ids[512], next[64], path[256];

	/* alice: a1..a5; bob: b1; the admin (no own): x1 without owner. */
	for (int i = 1; i <= 5; i++) {
		snprintf(path, sizeof(path), "/api/v1/mine/a%d", i);
		cr_assert_eq(call(&g_stack, "PUT", path, alice, "{\"t\":1,\"owner\":\"mallory\"}", &res), 201);
		doc = json_of(&res);
		cr_assert_str_eq(str_field(doc, "owner"), "alice", "owner is the token's sub, not the body's");
		json_object_put(doc);
		http_response_free(&res);
	}
	cr_assert_eq(call(&g_stack, "PUT", "/api/v1/mine/b1", bob, "{\"t\":2}", NULL), 201);
	cr_assert_eq(call(&g_stack, "PUT", "/api/v1/mine/x1", admin, "{\"t\":3}", &res), 201);
	doc = json_of(&res);
	cr_assert_null(str_field(doc, "owner"), "a token without own creates no owner");
	json_object_put(doc);
	http_response_free(&res);

	/* For bob, alice's documents (and ownerless ones) do not exist, whatever the method. */
	const char *const others[] = {"/api/v1/mine/a1", "/api/v1/mine/x1"};
	for (int i = 0; i < 2; i++) {
		expect_error(&g_stack, "GET", others[i], bob, NULL, 404, "not_found");
		expect_error(&g_stack, "PUT", others[i], bob, "{\"t\":9}", 404, "not_found");
		expect_error(&g_stack, "PATCH", others[i], bob, "{\"t\":9}", 404, "not_found");
		expect_error(&g_stack, "DELETE", others[i], bob, NULL, 404, "not_found");
	}
	cr_assert_eq(call(&g_stack, "GET", "/api/v1/mine/a1", alice, NULL, &res), 200);
	doc = json_of(&res);
	cr_assert_eq(json_object_get_int(json_object_object_get(doc, "t")), 1, "bob changed nothing");
	json_object_put(doc);
	http_response_free(&res);

	/* Lists: bob sees b1 only; alice pages through her five, two at a time. */
	cr_assert_eq(call(&g_stack, "GET", "/api/v1/mine", bob, NULL, &res), 200);
	doc = json_of(&res);
	page_ids(doc, ids, sizeof(ids), next, sizeof(next));
	cr_assert_str_eq(ids, "b1,");
	json_object_put(doc);
	http_response_free(&res);
	char all[512] = "";
	snprintf(path, sizeof(path), "/api/v1/mine?limit=2");
	for (int pages = 0; pages < 5; pages++) {
		cr_assert_eq(call(&g_stack, "GET", path, alice, NULL, &res), 200);
		doc = json_of(&res);
		page_ids(doc, ids, sizeof(ids), next, sizeof(next));
		strcat(all, ids);
		json_object_put(doc);
		http_response_free(&res);
		if (!next[0] || !strcmp(next, "null"))
			break;
		snprintf(path, sizeof(path), "/api/v1/mine?limit=2&after=%s", next);
	}
	cr_assert_str_eq(all, "a1,a2,a3,a4,a5,");

	/* The admin sees everything, owner included; its writes keep the owner. */
	cr_assert_eq(call(&g_stack, "PATCH", "/api/v1/mine/a2", admin, "{\"t\":7}", &res), 200);
	doc = json_of(&res);
	cr_assert_str_eq(str_field(doc, "owner"), "alice", "owner never changes");
	json_object_put(doc);
	http_response_free(&res);
	cr_assert_eq(call(&g_stack, "GET", "/api/v1/mine?limit=100", admin, NULL, &res), 200);
	doc = json_of(&res);
	page_ids(doc, ids, sizeof(ids), next, sizeof(next));
	cr_assert_str_eq(ids, "a1,a2,a3,a4,a5,b1,x1,");
	json_object_put(doc);
	http_response_free(&res);

	/* alice deletes hers; it leaves her list too. */
	cr_assert_eq(call(&g_stack, "DELETE", "/api/v1/mine/a5", alice, NULL, NULL), 204);
	cr_assert_eq(call(&g_stack, "GET", "/api/v1/mine?limit=100", alice, NULL, &res), 200);
	doc = json_of(&res);
	page_ids(doc, ids, sizeof(ids), next, sizeof(next));
	cr_assert_str_eq(ids, "a1,a2,a3,a4,");
	json_object_put(doc);
	http_response_free(&res);
	free(alice);
	free(bob);
	free(admin);
}

/* SPEC section 8 with `own`: a filtered list reads only the owner's index. */
Test(own, filtered_lists_hold_only_the_owners_matching_documents, .timeout = 60)
{
	char *alice = hs(",\"sub\":\"alice\",\"read\":[\"mineq\"],\"write\":[\"mineq\"],\"own\":[\"mineq\"]");
	char *bob = hs(",\"sub\":\"bob\",\"read\":[\"mineq\"],\"write\":[\"mineq\"],\"own\":[\"mineq\"]");
	char *admin = hs(",\"read\":\"*\",\"write\":\"*\"");
	const char *q = "/api/v1/mineq?where=%7B%22k%22%3A1%7D&fields=k";
	struct http_response res;

	cr_assert_eq(call(&g_stack, "PUT", "/api/v1/mineq/o1", alice, "{\"k\":1}", NULL), 201);
	cr_assert_eq(call(&g_stack, "PUT", "/api/v1/mineq/o2", alice, "{\"k\":2}", NULL), 201);
	cr_assert_eq(call(&g_stack, "PUT", "/api/v1/mineq/o3", bob, "{\"k\":1}", NULL), 201);
	cr_assert_eq(call(&g_stack, "PUT", "/api/v1/mineq/o4", admin, "{\"k\":1}", NULL), 201);
	cr_assert_eq(call(&g_stack, "GET", q, alice, NULL, &res), 200);
	cr_expect_str_eq(res.body, "{\"items\":[{\"id\":\"o1\",\"version\":1,\"k\":1}],\"next\":null}");
	http_response_free(&res);
	cr_assert_eq(call(&g_stack, "GET", q, bob, NULL, &res), 200);
	cr_expect_str_eq(res.body, "{\"items\":[{\"id\":\"o3\",\"version\":1,\"k\":1}],\"next\":null}");
	http_response_free(&res);
	cr_assert_eq(call(&g_stack, "GET", "/api/v1/mineq?where=%7B%22k%22%3A1%7D", admin, NULL, &res), 200);
	cr_expect(strstr(res.body, "\"o1\"") && strstr(res.body, "\"o3\"") && strstr(res.body, "\"o4\"") &&
		  !strstr(res.body, "\"o2\""), "%s", res.body);
	http_response_free(&res);
	free(alice);
	free(bob);
	free(admin);
}

Test(own, a_token_with_own_but_no_sub_is_401)
{
	char *t = hs(",\"read\":[\"mine\"],\"own\":[\"mine\"]");

	expect_error(&g_stack, "GET", "/api/v1/mine", t, NULL, 401, "unauthorized");
	free(t);
}

/* An RSA stack: RS tokens pass, HS tokens (also keyed with the public PEM) do not. */
Test(auth, rsa_stack_takes_rs256_and_refuses_alg_confusion, .timeout = 120, .init = import_stack,
     .fini = stop_own_stack)
{
	char dir[] = "/tmp/tandem-rsa-XXXXXX", pub_path[300], env_key[400], *priv, *pub_pem, *tok;
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	BIO *bio = BIO_new(BIO_s_mem());
	FILE *f;
	long n;
	char *data;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(pub_path, sizeof(pub_path), "%s/pub.pem", dir);
	f = fopen(pub_path, "w");
	cr_assert(f && PEM_write_PUBKEY(f, pkey));
	fclose(f);
	cr_assert(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL));
	n = BIO_get_mem_data(bio, &data);
	priv = strndup(data, (size_t)n);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	cr_assert(PEM_write_bio_PUBKEY(bio, pkey));
	n = BIO_get_mem_data(bio, &data);
	pub_pem = strndup(data, (size_t)n);
	BIO_free(bio);

	snprintf(env_key, sizeof(env_key), "TANDEM_JWT_PUBLIC_KEY=%s", pub_path);
	const char *const env[] = {env_key, "TANDEM_JWT_ISSUER=" ISSUER, "TANDEM_JWT_AUDIENCE=" AUDIENCE, NULL};
	cr_assert_eq(stack_start(&own_stack, env), 0);
	tok = token_with(JWT_ALG_RS256, priv, strlen(priv), ",\"read\":\"*\"");
	cr_assert_eq(call(&own_stack, "GET", "/api/v1/rsa", tok, NULL, NULL), 200);
	free(tok);
	tok = token_with(JWT_ALG_HS256, pub_pem, strlen(pub_pem), ",\"read\":\"*\"");
	expect_error(&own_stack, "GET", "/api/v1/rsa", tok, NULL, 401, "unauthorized");
	free(tok);
	tok = hs(",\"read\":\"*\"");
	expect_error(&own_stack, "GET", "/api/v1/rsa", tok, NULL, 401, "unauthorized");
	free(tok);
	stack_stop(&own_stack);
	free(priv);
	free(pub_pem);
	unlink(pub_path);
	rmdir(dir);
	EVP_PKEY_free(pkey);
}

/* tandem-token signs with the servers' secret: its tokens pass, with the claims asked for. */
Test(auth, tandem_token_makes_tokens_the_stack_accepts, .timeout = 30)
{
	const char *bin = getenv("TANDEM_BIN_DIR");
	char cmd[1024], tok[4096];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd),
		 "TANDEM_JWT_SECRET='" SECRET "' %s/tandem-token --sub carol --read tok --write tok --own tok "
		 "--ttl 5m --iss " ISSUER " --aud " AUDIENCE, bin ? bin : "build");
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(tok, 1, sizeof(tok) - 1, p);
	cr_assert_eq(pclose(p), 0);
	tok[n] = '\0';
	cr_assert(n > 20 && tok[n - 1] == '\n', "%s", tok);
	tok[n - 1] = '\0';
	struct http_response res;
	cr_assert_eq(call(&g_stack, "POST", "/api/v1/tok", tok, "{\"a\":1}", &res), 201, "%s", res.body);
	cr_assert(strstr(res.body, "\"owner\":\"carol\""), "%s", res.body);
	http_response_free(&res);
	expect_error(&g_stack, "GET", "/api/v1/other", tok, NULL, 403, "forbidden");
}

int main(int argc, char *argv[])
{
	char dir[] = "/tmp/tandem-auth-XXXXXX", path[300], env_file[400];
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
	const char *const env[] = {env_file, "TANDEM_JWT_ISSUER=" ISSUER, "TANDEM_JWT_AUDIENCE=" AUDIENCE, NULL};
	result = stack_suite_main(&g_stack, env, argc, argv);
	unlink(path);
	rmdir(dir);
	return result;
}
