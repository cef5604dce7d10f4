/*
 * Integration tests of tandem-rest through nginx, against a real stack
 * (redis-server, spawn-fcgi + tandem-rest, nginx) started once by main()
 * for the whole run. Criterion forks each test from main, so every test
 * sees the same stack; they run one at a time (--jobs 1) because some
 * stop Redis. Each test works in collections of its own.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "http.h"
#include "jsongen.h"
#include "stack.h"
#include "stack_suite.h"

/* Read from the environment main() exported (see stack_import). */
static struct stack g_stack;

static void import_stack(void)
{
	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
}

TestSuite(crud, .init = import_stack);
TestSuite(list, .init = import_stack);
TestSuite(limits, .init = import_stack);
TestSuite(errors, .init = import_stack);
TestSuite(events, .init = import_stack);
TestSuite(cors, .init = import_stack);
TestSuite(health, .init = import_stack);
TestSuite(redis, .init = import_stack);
TestSuite(process, .init = import_stack);

static char *url(const char *path)
{
	static char buf[20000];

	snprintf(buf, sizeof(buf), "%s%s", g_stack.base_url, path);
	return buf;
}

static struct json_object *body_json(const struct http_response *res)
{
	struct json_object *obj = json_tokener_parse(res->body);

	cr_assert_not_null(obj, "response is not JSON: %s", res->body);
	return obj;
}

static const char *field_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(obj, key, &v), "no %s in %s", key,
		  json_object_to_json_string(obj));
	return json_object_get_string(v);
}

static long long field_int(struct json_object *obj, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(obj, key, &v), "no %s", key);
	return json_object_get_int64(v);
}

/* Asserts a SPEC error body with this status and code. */
static void assert_error(const struct http_response *res, long status, const char *code)
{
	struct json_object *obj, *err;

	cr_assert_eq(res->status, status, "status %ld, want %ld: %s", res->status, status, res->body);
	obj = body_json(res);
	cr_assert(json_object_object_get_ex(obj, "error", &err), "no error object: %s", res->body);
	cr_assert_str_eq(field_str(err, "code"), code, "body: %s", res->body);
	cr_assert_eq(field_int(err, "status"), status);
	cr_assert_gt(strlen(field_str(err, "message")), 0);
	json_object_put(obj);
}

static void request_expect_error(const char *method, const char *path, const char *const *headers,
				 const char *body, long status, const char *code)
{
	struct http_response res;

	cr_assert_eq(http_request(method, url(path), headers, body, body ? strlen(body) : 0, &res), 0);
	assert_error(&res, status, code);
	http_response_free(&res);
}

static long send_json(const char *method, const char *path, const char *body,
		      struct http_response *res)
{
	cr_assert_eq(http_json(method, url(path), body, res), 0, "%s %s failed", method, path);
	return res->status;
}

static void header(const struct http_response *res, const char *name, char *out, size_t len)
{
	cr_assert_eq(http_header(res, name, out, len), 0, "no %s header in:\n%s", name, res->headers);
}

static long long redis_int(const char *const *args)
{
	char out[64];

	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out), args), 0);
	return atoll(out);
}

Test(crud, put_creates_then_replaces)
{
	struct http_response res;
	struct json_object *doc;
	char etag[32], loc[256];

	cr_assert_eq(send_json("PUT", "/api/v1/crud1/doc-1", "{\"title\":\"a\",\"n\":[1,2]}", &res), 201);
	header(&res, "Location", loc, sizeof(loc));
	cr_assert_str_eq(loc, "/api/v1/crud1/doc-1");
	header(&res, "ETag", etag, sizeof(etag));
	cr_assert_str_eq(etag, "\"1\"");
	doc = body_json(&res);
	cr_assert_str_eq(field_str(doc, "id"), "doc-1");
	cr_assert_eq(field_int(doc, "version"), 1);
	cr_assert_str_eq(field_str(doc, "created_at"), field_str(doc, "updated_at"));
	cr_assert_eq(strlen(field_str(doc, "created_at")), 24, "RFC 3339 with ms: %s",
		     field_str(doc, "created_at"));
	char created[32];
	snprintf(created, sizeof(created), "%s", field_str(doc, "created_at"));
	json_object_put(doc);
	http_response_free(&res);

	cr_assert_eq(send_json("PUT", "/api/v1/crud1/doc-1",
			       "{\"id\":\"doc-1\",\"version\":99,\"created_at\":\"x\",\"title\":\"b\"}", &res),
		     200);
	cr_assert_eq(http_header(&res, "Location", loc, sizeof(loc)), -1, "no Location on replace");
	doc = body_json(&res);
	cr_assert_eq(field_int(doc, "version"), 2, "the body's version is ignored");
	cr_assert_str_eq(field_str(doc, "created_at"), created, "created_at is kept");
	cr_assert_str_eq(field_str(doc, "title"), "b");
	struct json_object *gone;
	cr_assert_not(json_object_object_get_ex(doc, "n", &gone), "PUT replaces the whole document");
	json_object_put(doc);
	http_response_free(&res);

	cr_assert_eq(http_request("GET", url("/api/v1/crud1/doc-1"), NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 200);
	header(&res, "ETag", etag, sizeof(etag));
	cr_assert_str_eq(etag, "\"2\"");
	http_response_free(&res);
}

Test(crud, post_creates_with_a_ulid_and_location)
{
	struct http_response res;
	struct json_object *doc;
	char loc[256], want[256], first[32];

	cr_assert_eq(send_json("POST", "/api/v1/crud2", "{\"id\":\"ignored\",\"x\":1}", &res), 201);
	doc = body_json(&res);
	cr_assert_eq(strlen(field_str(doc, "id")), 26);
	cr_assert_neq(strcmp(field_str(doc, "id"), "ignored"), 0);
	header(&res, "Location", loc, sizeof(loc));
	snprintf(want, sizeof(want), "/api/v1/crud2/%s", field_str(doc, "id"));
	cr_assert_str_eq(loc, want);
	snprintf(first, sizeof(first), "%s", field_str(doc, "id"));
	json_object_put(doc);
	http_response_free(&res);

	cr_assert_eq(send_json("POST", "/api/v1/crud2", "{}", &res), 201);
	doc = body_json(&res);
	cr_assert_gt(strcmp(field_str(doc, "id"), first), 0, "ids are time-ordered");
	json_object_put(doc);
	http_response_free(&res);
}

Test(crud, if_match_conflict_reports_the_current_version)
{
	struct http_response res;
	static const char *const stale[] = {"Content-Type: application/json", "If-Match: \"1\"", NULL};
	static const char *const fresh[] = {"Content-Type: application/json", "If-Match: \"2\"", NULL};
	struct json_object *obj, *err;

	send_json("PUT", "/api/v1/crud3/a", "{\"v\":1}", &res);
	http_response_free(&res);
	send_json("PUT", "/api/v1/crud3/a", "{\"v\":2}", &res);
	http_response_free(&res);

	for (int i = 0; i < 3; i++) {
		const char *method = i == 0 ? "PUT" : i == 1 ? "PATCH" : "DELETE";
		cr_assert_eq(http_request(method, url("/api/v1/crud3/a"), stale, "{}", 2, &res), 0);
		assert_error(&res, 412, "version_conflict");
		obj = body_json(&res);
		json_object_object_get_ex(obj, "error", &err);
		cr_assert_eq(field_int(err, "current_version"), 2, "%s", method);
		json_object_put(obj);
		http_response_free(&res);
	}
	cr_assert_eq(http_request("PUT", url("/api/v1/crud3/a"), fresh, "{\"v\":3}", 7, &res), 0);
	cr_assert_eq(res.status, 200, "%s", res.body);
	http_response_free(&res);
	/* PUT with If-Match on a missing document is 412; PATCH/DELETE missing are 404. */
	request_expect_error("PUT", "/api/v1/crud3/missing", fresh, "{}", 412, "version_conflict");
	request_expect_error("PATCH", "/api/v1/crud3/missing", fresh, "{}", 404, "not_found");
	request_expect_error("DELETE", "/api/v1/crud3/missing", fresh, NULL, 404, "not_found");
}

Test(crud, if_none_match_star_makes_put_create_only)
{
	static const char *const create_only[] = {"Content-Type: application/json",
						  "If-None-Match: *", NULL};
	struct http_response res;

	cr_assert_eq(http_request("PUT", url("/api/v1/crud4/a"), create_only, "{}", 2, &res), 0);
	cr_assert_eq(res.status, 201);
	http_response_free(&res);
	request_expect_error("PUT", "/api/v1/crud4/a", create_only, "{}", 412, "already_exists");
}

Test(crud, get_answers_304_for_a_matching_if_none_match)
{
	static const char *const same[] = {"If-None-Match: \"1\"", NULL};
	static const char *const other[] = {"If-None-Match: \"7\"", NULL};
	struct http_response res;
	char etag[32];

	send_json("PUT", "/api/v1/crud5/a", "{\"k\":1}", &res);
	http_response_free(&res);
	cr_assert_eq(http_request("GET", url("/api/v1/crud5/a"), same, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 304);
	cr_assert_eq(res.body_len, 0);
	header(&res, "ETag", etag, sizeof(etag));
	cr_assert_str_eq(etag, "\"1\"");
	http_response_free(&res);
	cr_assert_eq(http_request("GET", url("/api/v1/crud5/a"), other, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 200);
	http_response_free(&res);
	cr_assert_eq(http_request("HEAD", url("/api/v1/crud5/a"), NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(res.body_len, 0, "HEAD has no body");
	header(&res, "ETag", etag, sizeof(etag));
	http_response_free(&res);
}

Test(crud, patch_merges_and_an_empty_patch_is_a_write)
{
	static const char *const mp[] = {"Content-Type: application/merge-patch+json; charset=utf-8", NULL};
	struct http_response res;
	struct json_object *doc;

	send_json("PUT", "/api/v1/crud6/a", "{\"a\":{\"b\":1,\"c\":2},\"d\":3}", &res);
	http_response_free(&res);
	const char *patch = "{\"a\":{\"b\":null,\"e\":4},\"d\":null,\"id\":\"a\"}";
	cr_assert_eq(http_request("PATCH", url("/api/v1/crud6/a"), mp, patch, strlen(patch), &res), 0);
	cr_assert_eq(res.status, 200, "%s", res.body);
	doc = body_json(&res);
	cr_assert_eq(field_int(doc, "version"), 2);
	struct json_object *a, *tmp;
	cr_assert(json_object_object_get_ex(doc, "a", &a));
	cr_assert_str_eq(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN), "{\"c\":2,\"e\":4}");
	cr_assert_not(json_object_object_get_ex(doc, "d", &tmp));
	json_object_put(doc);
	http_response_free(&res);

	cr_assert_eq(send_json("PATCH", "/api/v1/crud6/a", "{}", &res), 200);
	doc = body_json(&res);
	cr_assert_eq(field_int(doc, "version"), 3);
	json_object_put(doc);
	http_response_free(&res);
	request_expect_error("PATCH", "/api/v1/crud6/a", (const char *const[]){"Content-Type: application/json", NULL},
			     "{\"id\":\"b\"}", 400, "id_mismatch");
	request_expect_error("PUT", "/api/v1/crud6/a", (const char *const[]){"Content-Type: application/json", NULL},
			     "{\"id\":null}", 400, "id_mismatch");
}

Test(crud, delete_then_404_and_recreate_starts_at_version_1)
{
	struct http_response res;
	struct json_object *doc;

	send_json("PUT", "/api/v1/crud7/a", "{}", &res);
	http_response_free(&res);
	send_json("PUT", "/api/v1/crud7/a", "{}", &res);
	http_response_free(&res);
	cr_assert_eq(http_request("DELETE", url("/api/v1/crud7/a"), NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 204);
	cr_assert_eq(res.body_len, 0);
	http_response_free(&res);
	request_expect_error("GET", "/api/v1/crud7/a", NULL, NULL, 404, "not_found");
	request_expect_error("DELETE", "/api/v1/crud7/a", NULL, NULL, 404, "not_found");
	cr_assert_eq(send_json("PUT", "/api/v1/crud7/a", "{}", &res), 201);
	doc = body_json(&res);
	cr_assert_eq(field_int(doc, "version"), 1);
	json_object_put(doc);
	http_response_free(&res);
}

Test(list, pages_through_2500_documents_without_gap_or_duplicate, .timeout = 300)
{
	enum { N = 2500 };
	char path[256], ids[N][32], after[64] = "";
	struct http_response res;
	int seen = 0, pages = 0;

	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/api/v1/list1/d%05d", i);
		cr_assert_eq(send_json("PUT", path, "{}", &res), 201, "%s: %s", path, res.body);
		snprintf(ids[i], sizeof(ids[i]), "d%05d", i);
		http_response_free(&res);
	}
	for (;;) {
		struct json_object *page, *items, *next;

		snprintf(path, sizeof(path), "/api/v1/list1?limit=333%s%s", after[0] ? "&after=" : "", after);
		cr_assert_eq(http_request("GET", url(path), NULL, NULL, 0, &res), 0);
		cr_assert_eq(res.status, 200, "%s", res.body);
		page = body_json(&res);
		cr_assert(json_object_object_get_ex(page, "items", &items));
		cr_assert(json_object_object_get_ex(page, "next", &next));
		size_t n = json_object_array_length(items);
		for (size_t i = 0; i < n; i++) {
			const char *id = field_str(json_object_array_get_idx(items, i), "id");
			cr_assert_lt(seen, N);
			cr_assert_str_eq(id, ids[seen], "item %d", seen);
			seen++;
		}
		pages++;
		if (next == NULL) {
			cr_assert_eq(seen, N);
			json_object_put(page);
			http_response_free(&res);
			break;
		}
		cr_assert_eq(n, 333);
		cr_assert_str_eq(json_object_get_string(next), ids[seen - 1]);
		snprintf(after, sizeof(after), "%s", json_object_get_string(next));
		json_object_put(page);
		http_response_free(&res);
	}
	cr_assert_eq(pages, (N + 332) / 333);
}

Test(list, empty_collection_and_bad_queries)
{
	struct http_response res;
	char seq[64];

	cr_assert_eq(http_request("GET", url("/api/v1/never-written"), NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 200);
	cr_assert_str_eq(res.body, "{\"items\":[],\"next\":null}");
	header(&res, "Tandem-Seq", seq, sizeof(seq));
	cr_assert_str_eq(seq, "0-0");
	http_response_free(&res);
	request_expect_error("GET", "/api/v1/x?limit=0", NULL, NULL, 400, "invalid_query");
	request_expect_error("GET", "/api/v1/x?limit=1001", NULL, NULL, 400, "invalid_query");
	request_expect_error("GET", "/api/v1/x?limit=abc", NULL, NULL, 400, "invalid_query");
	request_expect_error("GET", "/api/v1/x?after=a.b", NULL, NULL, 400, "invalid_query");
}

/* {"p":"xxx...x"} of exactly len bytes. */
static char *body_of_size(size_t len)
{
	char *b = malloc(len + 1);

	memcpy(b, "{\"p\":\"", 6);
	memset(b + 6, 'x', len - 8);
	memcpy(b + len - 2, "\"}", 3);
	return b;
}

Test(limits, body_at_the_limit_passes_and_one_byte_more_is_413, .timeout = 60)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	const size_t max = 1048576;
	struct http_response res;
	char *ok = body_of_size(max), *big = body_of_size(max + 1);

	cr_assert_eq(http_request("PUT", url("/api/v1/lim/a"), json, ok, max, &res), 0);
	cr_assert_eq(res.status, 201, "%.200s", res.body);
	http_response_free(&res);
	cr_assert_eq(http_request("PUT", url("/api/v1/lim/b"), json, big, max + 1, &res), 0);
	assert_error(&res, 413, "too_large");
	http_response_free(&res);
	request_expect_error("GET", "/api/v1/lim/b", NULL, NULL, 404, "not_found");
	free(ok);
	free(big);
}

Test(limits, a_list_page_stops_at_8_mib_and_next_continues, .timeout = 120)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	const size_t size = 1000000;
	char *doc = body_of_size(size), path[256];
	struct http_response res;
	struct json_object *page, *items, *next;
	size_t first_page;

	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/api/v1/biglist/d%d", i);
		cr_assert_eq(http_request("PUT", url(path), json, doc, size, &res), 0);
		cr_assert_eq(res.status, 201);
		http_response_free(&res);
	}
	free(doc);
	cr_assert_eq(http_request("GET", url("/api/v1/biglist?limit=1000"), NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 200);
	page = body_json(&res);
	json_object_object_get_ex(page, "items", &items);
	json_object_object_get_ex(page, "next", &next);
	first_page = json_object_array_length(items);
	cr_assert(first_page >= 1 && first_page < 10, "%zu items", first_page);
	cr_assert_leq(res.body_len, (size_t)(8 << 20) + 4096);
	cr_assert_str_eq(json_object_get_string(next),
			 field_str(json_object_array_get_idx(items, first_page - 1), "id"));
	snprintf(path, sizeof(path), "/api/v1/biglist?limit=1000&after=%s", json_object_get_string(next));
	json_object_put(page);
	http_response_free(&res);
	cr_assert_eq(http_request("GET", url(path), NULL, NULL, 0, &res), 0);
	page = body_json(&res);
	json_object_object_get_ex(page, "items", &items);
	cr_assert_eq(first_page + json_object_array_length(items), 10);
	json_object_put(page);
	http_response_free(&res);
}

Test(errors, bodies_must_be_strict_json_objects)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	char *deep = jsongen_nested(65), *ok = jsongen_nested(64);
	struct http_response res;

	request_expect_error("POST", "/api/v1/err1", json, "{\"a\":", 400, "invalid_json");
	request_expect_error("POST", "/api/v1/err1", json, "{\"a\":1,}", 400, "invalid_json");
	request_expect_error("POST", "/api/v1/err1", json, "", 400, "invalid_json");
	request_expect_error("POST", "/api/v1/err1", json, "{\"a\":\"\xff\"}", 400, "invalid_json");
	request_expect_error("POST", "/api/v1/err1", json, "[1,2]", 400, "invalid_body");
	request_expect_error("POST", "/api/v1/err1", json, "\"text\"", 400, "invalid_body");
	request_expect_error("POST", "/api/v1/err1", json, "42", 400, "invalid_body");
	request_expect_error("POST", "/api/v1/err1", json, "null", 400, "invalid_body");
	request_expect_error("POST", "/api/v1/err1", json, deep, 400, "invalid_body");
	cr_assert_eq(http_request("POST", url("/api/v1/err1"), json, ok, strlen(ok), &res), 0);
	cr_assert_eq(res.status, 201, "depth 64 is allowed: %s", res.body);
	http_response_free(&res);
	free(deep);
	free(ok);
}

Test(errors, bad_names_and_ids)
{
	static const char *const bad_names[] = {
		"/api/v1/Todos", "/api/v1/_todos", "/api/v1/%2e%2e", "/api/v1/a%2Fb",
		"/api/v1/x1234567890123456789012345678901234567890123456789012345678901234", NULL};
	static const char *const bad_ids[] = {"/api/v1/c/a.b", "/api/v1/c/%2e%2e", "/api/v1/c/a%2Fb",
					      "/api/v1/c/a%20b", "/api/v1/c/%C3%A9", NULL};
	char long_id[300];

	for (int i = 0; bad_names[i]; i++)
		request_expect_error("GET", bad_names[i], NULL, NULL, 400, "invalid_name");
	for (int i = 0; bad_ids[i]; i++)
		request_expect_error("GET", bad_ids[i], NULL, NULL, 400, "invalid_id");
	snprintf(long_id, sizeof(long_id), "/api/v1/c/");
	memset(long_id + 10, 'a', 129);
	long_id[139] = '\0';
	request_expect_error("PUT", long_id, (const char *const[]){"Content-Type: application/json", NULL},
			     "{}", 400, "invalid_id");
	long_id[138] = '\0';
	struct http_response res;
	cr_assert_eq(send_json("PUT", long_id, "{}", &res), 201, "128 chars is fine: %s", res.body);
	http_response_free(&res);
}

Test(errors, nginx_own_errors_are_spec_json)
{
	request_expect_error("GET", "/api/v1/a%00b", NULL, NULL, 400, "invalid_query");
	request_expect_error("GET", "/api/v1/a%zz", NULL, NULL, 400, "invalid_query");
	request_expect_error("GET", "/no/such/page", NULL, NULL, 404, "not_found");
}

Test(errors, routes_methods_and_media_types)
{
	struct http_response res;
	char allow[128];

	request_expect_error("GET", "/api/v1/a/b/c", NULL, NULL, 404, "not_found");
	request_expect_error("GET", "/api/v2/a", NULL, NULL, 404, "not_found");
	cr_assert_eq(http_request("DELETE", url("/api/v1/todos"), NULL, NULL, 0, &res), 0);
	assert_error(&res, 405, "method_not_allowed");
	header(&res, "Allow", allow, sizeof(allow));
	cr_assert_str_eq(allow, "GET, HEAD, POST, OPTIONS");
	http_response_free(&res);
	cr_assert_eq(http_request("POST", url("/api/v1/todos/x"), NULL, NULL, 0, &res), 0);
	assert_error(&res, 405, "method_not_allowed");
	header(&res, "Allow", allow, sizeof(allow));
	cr_assert_str_eq(allow, "GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
	http_response_free(&res);
	request_expect_error("POST", "/api/v1/todos", (const char *const[]){"Content-Type: text/plain", NULL},
			     "{}", 415, "unsupported_media_type");
	request_expect_error("POST", "/api/v1/todos", NULL, "{}", 415, "unsupported_media_type");
	request_expect_error("PUT", "/api/v1/todos/a",
			     (const char *const[]){"Content-Type: application/merge-patch+json", NULL},
			     "{}", 415, "unsupported_media_type");
}

/* A blocking subscriber on the collection's channel. */
static redisContext *subscribe(const char *collection)
{
	redisContext *c = stack_redis_connect(&g_stack, collection);
	redisReply *r;

	cr_assert(c, "cannot connect to Redis");
	r = redisCommand(c, "%s {tandem:%s}", stack_subscribe_cmd(&g_stack), collection);
	cr_assert_not_null(r);
	freeReplyObject(r);
	return c;
}

/*
 * The next published event ("<seq> <body>"): the body's clients' line
 * parsed, with "seq" added; the body's bytes into body (when not NULL).
 * Fails the test after 5 s.
 */
static struct json_object *next_event_body(redisContext *c, char *body, size_t size)
{
	redisReply *r = NULL;
	struct json_object *ev;
	const char *sp, *nl;
	char line[65536];

	cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "no event within 5 s");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 3);
	sp = strchr(r->element[2]->str, ' ');
	cr_assert_not_null(sp, "no seq in front: %s", r->element[2]->str);
	nl = strchr(sp + 1, '\n');
	snprintf(line, sizeof(line), "%.*s", (int)(nl ? nl - sp - 1 : (long)strlen(sp + 1)), sp + 1);
	ev = json_tokener_parse(line);
	cr_assert_not_null(ev, "event is not JSON: %s", r->element[2]->str);
	json_object_object_add(ev, "seq", json_object_new_string_len(r->element[2]->str,
								      (int)(sp - r->element[2]->str)));
	if (body)
		snprintf(body, size, "%s", sp + 1);
	freeReplyObject(r);
	return ev;
}

static struct json_object *next_event(redisContext *c)
{
	return next_event_body(c, NULL, 0);
}

/*
 * The event log as "seq type:version:id" strings, oldest first; each
 * entry's one field "e" (the body) into bodies[i] when bodies is not NULL.
 */
static int log_entries(const char *collection, char out[][96], char (*bodies)[4096], int max)
{
	redisContext *c = stack_redis_connect(&g_stack, collection);
	redisReply *r;
	int n = 0;

	cr_assert(c);
	r = redisCommand(c, "XRANGE {tandem:%s}:log - +", collection);
	cr_assert(r && r->type == REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < r->elements && n < max; i++, n++) {
		redisReply *fields = r->element[i]->element[1];
		struct json_object *ev;
		char line[4096];

		cr_assert_eq(fields->elements, 2, "one field per entry");
		cr_assert_str_eq(fields->element[0]->str, "e");
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(fields->element[1]->str, "\n"),
			 fields->element[1]->str);
		ev = json_tokener_parse(line);
		cr_assert_not_null(ev, "%s", fields->element[1]->str);
		snprintf(out[n], 96, "%s %s:%lld:%s", r->element[i]->element[0]->str, field_str(ev, "type"),
			 field_int(ev, "version"), field_str(ev, "id"));
		if (bodies)
			snprintf(bodies[n], 4096, "%s", fields->element[1]->str);
		json_object_put(ev);
	}
	freeReplyObject(r);
	redisFree(c);
	return n;
}

Test(events, each_write_logs_and_publishes_exactly_one_event)
{
	static const char *const writes[][3] = {
		{"PUT", "/api/v1/ev1/a", "{\"n\":1}"},
		{"PUT", "/api/v1/ev1/a", "{\"n\":2}"},
		{"PATCH", "/api/v1/ev1/a", "{\"n\":3}"},
		{"DELETE", "/api/v1/ev1/a", NULL},
		{"PUT", "/api/v1/ev1/a", "{\"n\":4}"},
	};
	static const char *const want_type[] = {"created", "updated", "updated", "deleted", "created"};
	static const int want_version[] = {1, 2, 3, 4, 1};
	redisContext *sub = subscribe("ev1");
	char log[8][96], seq[64], want[96], published[5][4096];
	static char logged[8][4096];

	for (int i = 0; i < 5; i++) {
		struct http_response res;
		struct json_object *ev, *doc;

		cr_assert_eq(http_json(writes[i][0], url(writes[i][1]), writes[i][2], &res), 0);
		cr_assert_lt(res.status, 300, "%s", res.body);
		header(&res, "Tandem-Seq", seq, sizeof(seq));
		ev = next_event_body(sub, published[i], sizeof(published[i]));
		cr_assert_str_eq(field_str(ev, "type"), want_type[i]);
		cr_assert_str_eq(field_str(ev, "collection"), "ev1");
		cr_assert_str_eq(field_str(ev, "id"), "a");
		cr_assert_eq(field_int(ev, "version"), want_version[i]);
		cr_assert_str_eq(field_str(ev, "seq"), seq, "event seq = the write's Tandem-Seq");
		if (i == 3) {
			cr_assert_not(json_object_object_get_ex(ev, "doc", &doc), "no doc on deleted");
		} else {
			cr_assert(json_object_object_get_ex(ev, "doc", &doc));
			cr_assert_eq(field_int(doc, "version"), want_version[i]);
			if (res.body_len)
				cr_assert_str_eq(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
						 res.body, "the event carries the stored document");
		}
		json_object_put(ev);
		http_response_free(&res);
	}
	cr_assert_eq(log_entries("ev1", log, logged, 8), 5, "one log entry per write");
	for (int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "%s:%d:a", want_type[i], want_version[i]);
		cr_assert(strstr(log[i], want), "log %d: %s, want %s", i, log[i], want);
		cr_assert_str_eq(logged[i], published[i], "the log entry and the message are one body");
		/* Updates and deletes tell the notifier the document before the write. */
		if (want_type[i][0] == 'c')
			cr_assert_null(strstr(logged[i], "\n{\"prev\":"), "%s", logged[i]);
		else
			cr_assert(strstr(logged[i], "\n{\"prev\":{\"id\":\"a\",\"version\":"), "%s", logged[i]);
	}
	redisFree(sub);
}

Test(events, failed_requests_change_nothing_and_publish_nothing)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	static const char *const stale[] = {"Content-Type: application/json", "If-Match: \"9\"", NULL};
	struct http_response res;
	redisContext *sub;
	struct json_object *ev;
	char before[4096];

	send_json("PUT", "/api/v1/ev2/a", "{\"keep\":true}", &res);
	http_response_free(&res);
	long long keys_before = redis_int((const char *const[]){"dbsize", NULL});
	cr_assert_eq(stack_redis_cli(&g_stack, before, sizeof(before),
				     (const char *const[]){"get", "{tandem:ev2}:d:a", NULL}), 0);
	sub = subscribe("ev2");

	request_expect_error("PUT", "/api/v1/ev2/a", json, "{\"keep\":", 400, "invalid_json");
	request_expect_error("PUT", "/api/v1/ev2/a", json, "[1]", 400, "invalid_body");
	request_expect_error("PUT", "/api/v1/ev2/a", stale, "{}", 412, "version_conflict");
	request_expect_error("PATCH", "/api/v1/ev2/a", stale, "{}", 412, "version_conflict");
	request_expect_error("DELETE", "/api/v1/ev2/a", stale, NULL, 412, "version_conflict");
	request_expect_error("PUT", "/api/v1/ev2/a", json, "{\"id\":\"b\"}", 400, "id_mismatch");
	request_expect_error("PATCH", "/api/v1/ev2/zz", json, "{}", 404, "not_found");
	request_expect_error("DELETE", "/api/v1/ev2/zz", NULL, NULL, 404, "not_found");
	request_expect_error("PUT", "/api/v1/ev2/a", (const char *const[]){"Content-Type: text/plain", NULL},
			     "{}", 415, "unsupported_media_type");
	request_expect_error("PUT", "/api/v1/ev2/a", (const char *const[]){"Content-Type: application/json", "If-None-Match: *", NULL},
			     "{}", 412, "already_exists");

	char after[4096];
	cr_assert_eq(stack_redis_cli(&g_stack, after, sizeof(after),
				     (const char *const[]){"get", "{tandem:ev2}:d:a", NULL}), 0);
	cr_assert_str_eq(after, before, "the document is unchanged");
	cr_assert_eq(redis_int((const char *const[]){"dbsize", NULL}), keys_before);
	cr_assert_eq(redis_int((const char *const[]){"xlen", "{tandem:ev2}:log", NULL}), 1);
	/* The first message the subscriber sees is the next good write's. */
	send_json("PUT", "/api/v1/ev2/marker", "{}", &res);
	http_response_free(&res);
	ev = next_event(sub);
	cr_assert_str_eq(field_str(ev, "id"), "marker", "a failed request published something");
	json_object_put(ev);
	redisFree(sub);
}

/* calls of command (lower case) so far, from INFO commandstats; 0 when never called. */
static long long command_calls(const char *command)
{
	char out[16384], key[64];
	const char *at;

	cr_assert_eq(stack_redis_cli(&g_stack, out, sizeof(out),
				     (const char *const[]){"info", "commandstats", NULL}), 0);
	snprintf(key, sizeof(key), "cmdstat_%s:calls=", command);
	at = strstr(out, key);
	return at ? atoll(at + strlen(key)) : 0;
}

/*
 * On one Redis (TANDEM_REDIS_WAIT_REPLICAS unset), a request is one
 * round trip: one EVALSHA, no WAIT, nothing of a cluster's.
 */
Test(events, a_request_is_one_evalsha_on_a_single_server)
{
	static const char *const other[] = {"wait", "asking", "cluster|slots"};
	long long before[3], evalsha;
	struct http_response res;

	if (stack_is_cluster(&g_stack))
		cr_skip_test("single server only");
	send_json("PUT", "/api/v1/rt/a", "{}", &res); /* the worker connected and loaded its scripts */
	http_response_free(&res);
	evalsha = command_calls("evalsha");
	for (int i = 0; i < 3; i++)
		before[i] = command_calls(other[i]);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(send_json("PUT", "/api/v1/rt/a", "{}", &res), 200, "%s", res.body);
		http_response_free(&res);
		cr_assert_eq(send_json("GET", "/api/v1/rt/a", NULL, &res), 200, "%s", res.body);
		http_response_free(&res);
	}
	cr_assert_eq(command_calls("evalsha") - evalsha, 20);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(command_calls(other[i]), before[i], "%s was sent", other[i]);
}

Test(events, tandem_seq_is_the_log_position_of_the_read)
{
	struct http_response res;
	char seq_get[64], seq_list[64], seq_write[64], log[4][96];

	send_json("PUT", "/api/v1/ev3/a", "{}", &res);
	http_response_free(&res);
	send_json("PUT", "/api/v1/ev3/b", "{}", &res);
	header(&res, "Tandem-Seq", seq_write, sizeof(seq_write));
	http_response_free(&res);
	cr_assert_eq(http_request("GET", url("/api/v1/ev3/a"), NULL, NULL, 0, &res), 0);
	header(&res, "Tandem-Seq", seq_get, sizeof(seq_get));
	http_response_free(&res);
	cr_assert_eq(http_request("GET", url("/api/v1/ev3"), NULL, NULL, 0, &res), 0);
	header(&res, "Tandem-Seq", seq_list, sizeof(seq_list));
	http_response_free(&res);
	cr_assert_eq(log_entries("ev3", log, NULL, 4), 2);
	cr_assert_str_eq(seq_get, seq_write);
	cr_assert_str_eq(seq_list, seq_write);
	cr_assert_eq(strncmp(log[1], seq_write, strlen(seq_write)), 0, "%s vs %s", log[1], seq_write);
}

Test(cors, preflight_and_exposed_headers)
{
	static const char *const preflight[] = {"Origin: http://app.example",
						"Access-Control-Request-Method: PUT", NULL};
	static const char *const origin[] = {"Origin: http://app.example", NULL};
	struct http_response res;
	char v[256];

	cr_assert_eq(http_request("OPTIONS", url("/api/v1/c1/a"), preflight, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 204);
	header(&res, "Access-Control-Allow-Origin", v, sizeof(v));
	header(&res, "Access-Control-Allow-Methods", v, sizeof(v));
	cr_assert(strstr(v, "PUT"), "%s", v);
	header(&res, "Access-Control-Allow-Headers", v, sizeof(v));
	cr_assert(strstr(v, "If-Match"), "%s", v);
	http_response_free(&res);
	cr_assert_eq(http_request("GET", url("/api/v1/c1"), origin, NULL, 0, &res), 0);
	header(&res, "Access-Control-Expose-Headers", v, sizeof(v));
	cr_assert_str_eq(v, "ETag, Location, Tandem-Seq");
	http_response_free(&res);
}

Test(health, answers_ok_with_redis_up)
{
	struct http_response res;

	cr_assert_eq(http_request("GET", url("/api/v1/_health"), NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 200);
	cr_assert_str_eq(res.body, "{\"status\":\"ok\"}");
	http_response_free(&res);
}

Test(redis, down_gives_503_in_bounded_time_then_recovers, .timeout = 120)
{
	struct http_response res;
	char retry[16];
	long long t0, deadline;

	if (stack_is_cluster(&g_stack))
		cr_skip_test("a single server's outage (the cluster's: tests/rest/it/test_cluster.c)");
	send_json("PUT", "/api/v1/rd/a", "{}", &res);
	http_response_free(&res);
	cr_assert_eq(stack_redis_stop(&g_stack), 0);
	for (int i = 0; i < 5; i++) {
		t0 = stack_now_ms();
		cr_assert_eq(http_request("GET", url("/api/v1/rd/a"), NULL, NULL, 0, &res), 0);
		cr_assert_lt(stack_now_ms() - t0, 5000, "503 must come within the bound");
		assert_error(&res, 503, "store_unavailable");
		header(&res, "Retry-After", retry, sizeof(retry));
		http_response_free(&res);
	}
	request_expect_error("GET", "/api/v1/_health", NULL, NULL, 503, "store_unavailable");
	cr_assert_eq(stack_redis_start(&g_stack), 0);
	/* The same worker process serves again once it has reconnected. */
	deadline = stack_now_ms() + 10000;
	for (;;) {
		cr_assert_eq(http_request("GET", url("/api/v1/rd/a"), NULL, NULL, 0, &res), 0);
		long status = res.status;
		http_response_free(&res);
		if (status == 200)
			break;
		cr_assert_eq(status, 503);
		cr_assert_lt(stack_now_ms(), deadline, "no recovery within 10 s");
		usleep(50000);
	}
	cr_assert_eq(send_json("PUT", "/api/v1/rd/a", "{}", &res), 200, "writes work again: %s", res.body);
	http_response_free(&res);
}

/* Waits until path contains needle; -1 after timeout_ms. */
static int wait_for_text(const char *path, const char *needle, long long timeout_ms)
{
	long long deadline = stack_now_ms() + timeout_ms;
	char buf[65536];

	while (stack_now_ms() < deadline) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
			if (strstr(buf, needle))
				return 0;
		}
		usleep(20000);
	}
	return -1;
}

/*
 * A worker of our own, driven by cgi-fcgi (libfcgi's FastCGI client): the
 * request's body arrives in two halves, SIGTERM lands in between, and the
 * worker must still answer it and then exit 0.
 */
Test(process, sigterm_finishes_the_request_in_flight_and_exits_0, .timeout = 60)
{
	const char *bin_dir = getenv("TANDEM_BIN_DIR") ? getenv("TANDEM_BIN_DIR") : "build";
	static const char body[] = "{\"half\":1,\"other_half\":2}";
	const size_t half = sizeof(body) / 2;
	char sock[300], listen[310], log[300], redis_url[400], bin[300], len[16];
	int to_client[2], from_client[2], status;
	char out[4096];
	size_t got = 0;
	ssize_t n;
	pid_t worker, client;

	snprintf(sock, sizeof(sock), "%s/sigterm.sock", g_stack.dir);
	snprintf(listen, sizeof(listen), "unix:%s", sock);
	snprintf(log, sizeof(log), "%s/sigterm.log", g_stack.dir);
	cr_assert_eq(stack_redis_url(&g_stack, redis_url, sizeof(redis_url)), 0);
	snprintf(bin, sizeof(bin), "%s/tandem-rest", bin_dir);
	worker = fork();
	cr_assert_geq(worker, 0);
	if (worker == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, STDERR_FILENO);
		setenv("TANDEM_LOG_LEVEL", "debug", 1);
		setenv("TANDEM_REDIS_URL", redis_url, 1);
		execl(bin, "tandem-rest", "--listen", listen, "--threads", "3", (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(wait_for_text(log, "serving with", 20000), 0, "worker did not start");

	cr_assert_eq(pipe(to_client), 0);
	cr_assert_eq(pipe(from_client), 0);
	client = fork();
	cr_assert_geq(client, 0);
	if (client == 0) {
		dup2(to_client[0], STDIN_FILENO);
		dup2(from_client[1], STDOUT_FILENO);
		close(to_client[1]);
		close(from_client[0]);
		snprintf(len, sizeof(len), "%zu", sizeof(body) - 1);
		setenv("REQUEST_METHOD", "PUT", 1);
		setenv("REQUEST_URI", "/api/v1/sigterm/a", 1);
		setenv("QUERY_STRING", "", 1);
		setenv("CONTENT_TYPE", "application/json", 1);
		setenv("CONTENT_LENGTH", len, 1);
		execlp("cgi-fcgi", "cgi-fcgi", "-bind", "-connect", sock, (char *)NULL);
		_exit(127);
	}
	close(to_client[0]);
	close(from_client[1]);
	cr_assert_eq(write(to_client[1], body, half), (ssize_t)half);
	cr_assert_eq(wait_for_text(log, "PUT /api/v1/sigterm/a", 10000), 0, "request not accepted");
	cr_assert_eq(kill(worker, SIGTERM), 0);
	cr_assert_eq(wait_for_text(log, "finishing requests in flight", 10000), 0);
	cr_assert_eq(write(to_client[1], body + half, sizeof(body) - 1 - half),
		     (ssize_t)(sizeof(body) - 1 - half));
	close(to_client[1]);
	while (got < sizeof(out) - 1 && (n = read(from_client[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(from_client[0]);
	waitpid(client, &status, 0);
	cr_assert(strstr(out, "Status: 201"), "the in-flight request was answered: %s", out);
	cr_assert_eq(waitpid(worker, &status, 0), worker);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker exit status %d", status);
}

Test(process, bad_configuration_stops_with_one_line_naming_the_setting, .timeout = 30)
{
	const char *bin_dir = getenv("TANDEM_BIN_DIR") ? getenv("TANDEM_BIN_DIR") : "build";
	static const char *const cases[][3] = {
		{"--max-body", "12", "TANDEM_MAX_BODY"},
		{"--redis-url", "http://x", "TANDEM_REDIS_URL"},
		{"--threads", "many", "TANDEM_THREADS"},
		{"--namespace", "Bad", "TANDEM_NAMESPACE"},
		{"--listen", "nowhere", "TANDEM_LISTEN"},
		{"--redis-url", "redis-cluster://a:1/2", "TANDEM_REDIS_URL"},
		{"--redis-url", "redis-cluster://a:1,", "TANDEM_REDIS_URL"},
		{"--redis-wait-replicas", "-1", "TANDEM_REDIS_WAIT_REPLICAS"},
		{"--redis-wait-replicas", "65", "TANDEM_REDIS_WAIT_REPLICAS"},
	};
	char bin[300], cmd[600], out[1024];

	snprintf(bin, sizeof(bin), "%s/tandem-rest", bin_dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(cmd, sizeof(cmd), "%s %s '%s' --check-config 2>&1; echo \"exit=$?\"", bin,
			 cases[i][0], cases[i][1]);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		size_t n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		pclose(p);
		cr_assert(strstr(out, cases[i][2]), "%s: %s", cases[i][0], out);
		cr_assert(strstr(out, "exit=2"), "%s: %s", cases[i][0], out);
		/* one line of error, then our "exit=" line */
		cr_assert_eq(strchr(strchr(out, '\n') + 1, '\n'), out + n - 1, "%s", out);
	}
	/* A cluster's seeds and a replica count are accepted as they are. */
	static const char *const good[] = {"", "--redis-url redis-cluster://127.0.0.1:7000,[::1]:7001",
					   "--redis-wait-replicas 1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		snprintf(cmd, sizeof(cmd), "%s %s --check-config 2>&1", bin, good[i]);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		size_t n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		cr_assert_eq(pclose(p), 0, "%s: %s", good[i], out);
		cr_assert_str_eq(out, "configuration OK\n", "%s", good[i]);
	}
}

/*
 * A refusal that comes before the body is read (bad name, bad id, wrong
 * media type) must still reach the client: closing the FastCGI socket with
 * the body unread used to reset nginx, which then answered 502.
 */
Test(limits, early_refusals_of_large_bodies_reach_the_client, .timeout = 120)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	static const char *const text[] = {"Content-Type: text/plain", NULL};
	char *big = body_of_size(200 * 1024), *mid = body_of_size(100 * 1024);
	struct http_response res;

	for (int i = 0; i < 25; i++) {
		cr_assert_eq(http_request("POST", url("/api/v1/Bad!"), json, big, 200 * 1024, &res), 0);
		assert_error(&res, 400, "invalid_name");
		http_response_free(&res);
		cr_assert_eq(http_request("PUT", url("/api/v1/early/a.b"), json, big, 200 * 1024, &res), 0);
		assert_error(&res, 400, "invalid_id");
		http_response_free(&res);
		cr_assert_eq(http_request("POST", url("/api/v1/early"), text, big, 200 * 1024, &res), 0);
		assert_error(&res, 415, "unsupported_media_type");
		http_response_free(&res);
		cr_assert_eq(http_request("POST", url("/api/v1/early"), json, mid, 100 * 1024, &res), 0);
		cr_assert_eq(res.status, 201, "POST of 100 KB, round %d: %ld %.200s", i, res.status, res.body);
		http_response_free(&res);
	}
	free(big);
	free(mid);
}

Test(errors, over_long_names_and_ids_name_the_part_that_is_wrong)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	static char path[16400];

	snprintf(path, sizeof(path), "/api/v1/c/");
	memset(path + 10, 'a', 4000);
	path[4010] = '\0';
	request_expect_error("PUT", path, json, "{}", 400, "invalid_id");
	request_expect_error("GET", path, NULL, NULL, 400, "invalid_id");
	snprintf(path, sizeof(path), "/api/v1/");
	memset(path + 8, 'a', 3000);
	path[3008] = '\0';
	request_expect_error("GET", path, NULL, NULL, 400, "invalid_name");
	/* past TND_URI_MAX (16000), still inside nginx's 16 KiB request line */
	snprintf(path, sizeof(path), "/api/v1/c?x=");
	memset(path + 12, 'a', 16100);
	path[16112] = '\0';
	request_expect_error("GET", path, NULL, NULL, 400, "invalid_query");
}

Test(errors, reserved_query_parameters_are_refused_not_ignored)
{
	static const char *const paths[] = {"/api/v1/rq?filter=x", "/api/v1/rq?sort=id", "/api/v1/rq?limit=5&order=desc",
					    "/api/v1/rq?q=milk", "/api/v1/rq?select=a", "/api/v1/rq/a?select=a", NULL};
	struct http_response res;

	for (int i = 0; paths[i]; i++)
		request_expect_error("GET", paths[i], NULL, NULL, 400, "invalid_query");
	cr_assert_eq(http_request("GET", url("/api/v1/rq?limit=5&utm_source=x&query=1"), NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 200, "other unknown parameters are ignored: %s", res.body);
	http_response_free(&res);
}

Test(errors, bodies_in_invalid_utf8_or_too_deep_change_nothing)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	static const char *const bad[] = {"{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
					  "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}",
					  "{\"a\":\"\x80\"}", "{\"a\":\"\\ud800\"}", NULL};
	char *deep = jsongen_nested_around(64, "{}");

	for (int i = 0; bad[i]; i++) {
		request_expect_error("PUT", "/api/v1/utf/a", json, bad[i], 400, "invalid_json");
		request_expect_error("PATCH", "/api/v1/utf/a", json, bad[i], 400, "invalid_json");
	}
	request_expect_error("PUT", "/api/v1/utf/a", json, deep, 400, "invalid_body");
	request_expect_error("GET", "/api/v1/utf/a", NULL, NULL, 404, "not_found");
	free(deep);
}

struct patcher {
	int index;
	long status; /* -1: no answer, error says why */
	char error[128];
};

static void *patch_one_field(void *arg)
{
	struct patcher *p = arg;
	struct http_response res;
	char body[64];

	snprintf(body, sizeof(body), "{\"f%d\":%d}", p->index, p->index);
	p->status = -1;
	if (http_json("PATCH", url("/api/v1/race/doc"), body, &res) == 0) {
		p->status = res.status;
		http_response_free(&res);
	} else {
		snprintf(p->error, sizeof(p->error), "%s", res.error);
	}
	return NULL;
}

/* Unconditional PATCHes of one document never fail for racing each other. */
Test(crud, sixty_concurrent_patches_of_one_document_all_succeed, .timeout = 120)
{
	enum { N = 60 };
	struct patcher p[N];
	pthread_t tid[N];
	struct http_response res;
	struct json_object *doc, *v;

	curl_global_init(CURL_GLOBAL_ALL);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(send_json("PUT", "/api/v1/race/doc", "{}", &res), round ? 200 : 201);
		long long start = field_int(doc = body_json(&res), "version");
		json_object_put(doc);
		http_response_free(&res);
		for (int i = 0; i < N; i++) {
			p[i].index = i;
			cr_assert_eq(pthread_create(&tid[i], NULL, patch_one_field, &p[i]), 0);
		}
		for (int i = 0; i < N; i++)
			pthread_join(tid[i], NULL);
		for (int i = 0; i < N; i++)
			cr_assert_eq(p[i].status, 200, "round %d: PATCH %d got %ld %s", round, i, p[i].status,
				     p[i].error);
		cr_assert_eq(http_request("GET", url("/api/v1/race/doc"), NULL, NULL, 0, &res), 0);
		doc = body_json(&res);
		cr_assert_eq(field_int(doc, "version"), start + N);
		for (int i = 0; i < N; i++) {
			char key[16];
			snprintf(key, sizeof(key), "f%d", i);
			cr_assert(json_object_object_get_ex(doc, key, &v), "round %d: %s lost", round, key);
		}
		json_object_put(doc);
		http_response_free(&res);
	}
}

/* nginx's own answers carry the CORS headers tandem-rest's would. */
Test(cors, nginx_own_errors_carry_cors_headers, .timeout = 60)
{
	static const char *const json_origin[] = {"Content-Type: application/json",
						  "Origin: http://app.example", NULL};
	static const char *const origin[] = {"Origin: http://app.example", NULL};
	char *big = body_of_size(1048577);
	struct http_response res;
	char v[256];

	cr_assert_eq(http_request("PUT", url("/api/v1/lim/c"), json_origin, big, 1048577, &res), 0);
	assert_error(&res, 413, "too_large");
	header(&res, "Access-Control-Allow-Origin", v, sizeof(v));
	cr_assert_str_eq(v, "*");
	header(&res, "Access-Control-Expose-Headers", v, sizeof(v));
	cr_assert_str_eq(v, "ETag, Location, Tandem-Seq");
	http_response_free(&res);
	cr_assert_eq(http_request("GET", url("/no/such/page"), origin, NULL, 0, &res), 0);
	assert_error(&res, 404, "not_found");
	header(&res, "Access-Control-Allow-Origin", v, sizeof(v));
	http_response_free(&res);
	free(big);
}

/* The 502 test's own stack; .fini stops it when an assertion ends the test early. */
static struct stack own_stack;

static void stop_own_stack(void)
{
	if (own_stack.pid > 0)
		stack_stop(&own_stack);
}

/* A stack of its own: the worker pool is killed, nginx answers for it. */
Test(process, workers_down_gives_a_json_502_from_nginx, .timeout = 90, .init = import_stack,
     .fini = stop_own_stack)
{
	struct stack *s = &own_stack;
	struct http_response res;
	char path[512];
	pid_t rest;

	cr_assert_eq(stack_start(s, NULL), 0);
	rest = stack_pid(s, "rest.pid");
	cr_assert_gt(rest, 0);
	/* nginx's log of the workers' death is this test's doing. */
	cr_assert_eq(stack_expect_upstream_errors(s), 0);
	cr_assert_eq(kill(rest, SIGKILL), 0);
	snprintf(path, sizeof(path), "%s/api/v1/todos", s->base_url);
	long long deadline = stack_now_ms() + 10000;
	do {
		cr_assert_eq(http_request("GET", path, NULL, NULL, 0, &res), 0);
		if (res.status == 502)
			break;
		http_response_free(&res);
		usleep(50000);
	} while (stack_now_ms() < deadline);
	assert_error(&res, 502, "internal");
	http_response_free(&res);
	stack_stop(s);
}


/* With TANDEM_ALLOWED_ORIGINS set, nginx's answers follow the same list. */
Test(cors, nginx_own_errors_follow_the_allowed_origins, .timeout = 90, .init = import_stack,
     .fini = stop_own_stack)
{
	static const char *const env[] = {"TANDEM_ALLOWED_ORIGINS=http://ok.example,http://also.example", NULL};
	static const char *const allowed[] = {"Origin: http://also.example", NULL};
	static const char *const other[] = {"Origin: http://evil.example", NULL};
	struct stack *s = &own_stack;
	struct http_response res;
	char path[512], v[256];

	cr_assert_eq(stack_start(s, env), 0);
	snprintf(path, sizeof(path), "%s/nothing-here", s->base_url);
	cr_assert_eq(http_request("GET", path, allowed, NULL, 0, &res), 0);
	assert_error(&res, 404, "not_found");
	header(&res, "Access-Control-Allow-Origin", v, sizeof(v));
	cr_assert_str_eq(v, "http://also.example");
	http_response_free(&res);
	cr_assert_eq(http_request("GET", path, other, NULL, 0, &res), 0);
	assert_error(&res, 404, "not_found");
	cr_assert_neq(http_header(&res, "Access-Control-Allow-Origin", v, sizeof(v)), 0,
		      "an origin not listed gets no CORS header: %s", v);
	http_response_free(&res);
	stack_stop(s);
}


/* A listening socket on port, held by the test; -1 when it cannot bind. */
static int hold_port(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The value of a series (a sample line "<series> <value>", not a HELP line). */
static long long metric(const char *text, const char *series)
{
	char want[256];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", series);
	p = strstr(text, want);
	cr_assert_not_null(p, "no %s in:\n%s", series, text);
	return atoll(p + strlen(want));
}

/*
 * tandem-rest's own /metrics: requests by route and status, the latency
 * histogram, Redis counters; the listener takes the next port when the
 * first is in use (several processes per host); JSON log lines.
 */
Test(process, metrics_listener_and_json_logs, .timeout = 90, .init = import_stack,
     .fini = stop_own_stack)
{
	struct stack *s = &own_stack;
	struct http_response res;
	char env_listen[64], path[1024], line[4096];
	int port = -1, held = -1;
	FILE *log;
	int json_lines = 0;

	/*
	 * Clear of the stack's own ports (stack_free_port: 23000-29999), of
	 * a cluster's and of the ephemeral range: a range taken among them
	 * could hand the metrics the port nginx is about to bind.
	 */
	srandom((unsigned)getpid());
	for (int tries = 0; tries < 200 && held < 0; tries++) {
		port = 15000 + (int)(random() % 4000);
		held = hold_port(port);
	}
	cr_assert_geq(held, 0);
	snprintf(env_listen, sizeof(env_listen), "TANDEM_METRICS_LISTEN=127.0.0.1:%d", port);
	const char *const env[] = {env_listen, "TANDEM_METRICS_PORTS=8", "TANDEM_LOG_FORMAT=json",
				   "TANDEM_LOG_LEVEL=debug", NULL};
	cr_assert_eq(stack_start(s, env), 0);
	snprintf(path, sizeof(path), "%s/api/v1/metcol", s->base_url);
	cr_assert_eq(http_json("POST", path, "{\"a\":1}", &res), 0);
	cr_assert_eq(res.status, 201);
	http_response_free(&res);
	snprintf(path, sizeof(path), "%s/api/v1/metcol/nope", s->base_url);
	cr_assert_eq(http_request("GET", path, NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 404);
	http_response_free(&res);
	snprintf(path, sizeof(path), "%s/api/v1/Bad", s->base_url);
	cr_assert_eq(http_request("GET", path, NULL, NULL, 0, &res), 0);
	cr_assert_eq(res.status, 400);
	http_response_free(&res);

	/* The first port was taken: the worker is on one of the next ones. */
	bool found = false;
	for (int p = port + 1; p < port + 8 && !found; p++) {
		snprintf(path, sizeof(path), "http://127.0.0.1:%d/metrics", p);
		if (http_request("GET", path, NULL, NULL, 0, &res) != 0)
			continue;
		found = res.status == 200 && strstr(res.body, "tandem_rest_requests_total");
		if (found) {
			long long count;
			cr_assert_eq(metric(res.body, "tandem_rest_requests_total{route=\"collection\",status=\"201\"}"), 1);
			cr_assert_eq(metric(res.body, "tandem_rest_requests_total{route=\"document\",status=\"404\"}"), 1);
			cr_assert_eq(metric(res.body, "tandem_rest_requests_total{route=\"none\",status=\"400\"}"), 1);
			cr_assert_geq(metric(res.body, "tandem_rest_requests_total{route=\"health\",status=\"200\"}"), 1);
			count = metric(res.body, "tandem_rest_request_duration_seconds_count");
			cr_assert_eq(metric(res.body, "tandem_rest_request_duration_seconds_bucket{le=\"+Inf\"}"), count);
			cr_assert_geq(count, 4);
			cr_assert_geq(metric(res.body, "tandem_rest_redis_connects_total"), 1);
			cr_assert_geq(metric(res.body, "tandem_rest_script_loads_total"), 1);
		}
		http_response_free(&res);
	}
	cr_assert(found, "no /metrics on ports %d..%d", port + 1, port + 7);
	close(held);

	snprintf(path, sizeof(path), "%s/rest.log", s->dir);
	log = fopen(path, "r");
	cr_assert_not_null(log);
	while (fgets(line, sizeof(line), log)) {
		struct json_object *obj;
		if (line[0] != '{')
			continue; /* spawn-fcgi's own lines */
		obj = json_tokener_parse(line);
		cr_assert_not_null(obj, "not a JSON log line: %s", line);
		json_object_put(obj);
		json_lines++;
	}
	fclose(log);
	cr_assert_geq(json_lines, 4, "the debug lines of the requests are JSON");
	stack_stop(s);
}

/* Opens a WebSocket upgrade through nginx; returns the fd (kept open) and the status line's code. */
static int ws_upgrade(int port, int *status)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[512], buf[1024];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(req, sizeof(req),
		     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
	cr_assert_eq(write(fd, req, (size_t)n), n);
	n = read(fd, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 12);
	buf[n] = '\0';
	*status = atoi(buf + 9);
	return fd;
}

/* nginx's abuse limits: reads, writes and sockets per address, 429 rate_limited with Retry-After. */
Test(limits, over_the_rate_limits_nginx_answers_429_json, .timeout = 90, .init = import_stack,
     .fini = stop_own_stack)
{
	static const char *const env[] = {"TANDEM_RATE_READ=2r/s", "TANDEM_RATE_READ_BURST=5",
					  "TANDEM_RATE_WRITE=1r/s", "TANDEM_RATE_WRITE_BURST=2",
					  "TANDEM_WS_CONNS_PER_ADDR=3", NULL};
	struct stack *s = &own_stack;
	struct http_response res;
	char path[512], v[64];
	int limited = 0, ok = 0, fds[4], status;

	cr_assert_eq(stack_start(s, env), 0);
	snprintf(path, sizeof(path), "%s/api/v1/rl", s->base_url);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(http_request("GET", path, NULL, NULL, 0, &res), 0);
		if (res.status == 429) {
			limited++;
			assert_error(&res, 429, "rate_limited");
			header(&res, "Retry-After", v, sizeof(v));
			cr_assert_str_eq(v, "1");
		} else {
			cr_assert_eq(res.status, 200, "%ld %s", res.status, res.body);
			ok++;
		}
		http_response_free(&res);
	}
	cr_assert_geq(ok, 5, "the burst passes");
	cr_assert_geq(limited, 10, "the rest is limited (%d ok)", ok);
	/* Writes have a budget of their own: the read burst did not use it. */
	cr_assert_eq(http_json("POST", path, "{}", &res), 0);
	cr_assert_eq(res.status, 201, "%s", res.body);
	http_response_free(&res);
	for (int i = 0; i < 4; i++) {
		fds[i] = ws_upgrade(s->http_port, &status);
		cr_assert_eq(status, i < 3 ? 101 : 429, "socket %d got %d", i, status);
	}
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	stack_stop(s);
}


int main(int argc, char *argv[])
{
	return stack_suite_main(&g_stack, NULL, argc, argv);
}
