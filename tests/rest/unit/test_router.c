/*
 * Unit tests of rest-fcgi/rest_router.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <json-c/json.h>
#include "jsongen.h"
#include "rest_handlers.h"
#include "rest_json.h"
#include "rest_router.h"

static int route(const char *uri, struct rest_target *t, enum tnd_err *err)
{
	return rest_route_parse(uri, strlen(uri), t, err);
}

Test(router, resolves_the_three_routes)
{
	struct rest_target t;
	enum tnd_err err;

	cr_assert_eq(route("/api/v1/_health", &t, &err), 0);
	cr_assert_eq(t.route, REST_ROUTE_HEALTH);
	cr_assert_eq(route("/api/v1/todos?limit=5", &t, &err), 0);
	cr_assert_eq(t.route, REST_ROUTE_COLLECTION);
	cr_assert_str_eq(t.collection, "todos");
	cr_assert_eq(route("/api/v1/todos/01ABC", &t, &err), 0);
	cr_assert_eq(t.route, REST_ROUTE_DOCUMENT);
	cr_assert_str_eq(t.id, "01ABC");
	cr_assert_eq(route("/api/v1/t%6fdos/%41", &t, &err), 0, "escapes of valid bytes are fine");
	cr_assert_str_eq(t.collection, "todos");
	cr_assert_str_eq(t.id, "A");
}

Test(router, refuses_bad_names_and_unknown_paths)
{
	static const struct {
		const char *uri;
		enum tnd_err err;
	} cases[] = {
		{"/api/v1/Todos", TND_ERR_INVALID_NAME},
		{"/api/v1/_private", TND_ERR_INVALID_NAME},
		{"/api/v1/..", TND_ERR_INVALID_NAME},
		{"/api/v1/%2e%2e/x", TND_ERR_INVALID_NAME},
		{"/api/v1/a%2fb", TND_ERR_INVALID_NAME},
		{"/api/v1/a%00", TND_ERR_INVALID_NAME},
		{"/api/v1/a%zz", TND_ERR_INVALID_NAME},
		{"/api/v1/a%4", TND_ERR_INVALID_NAME},
		{"/api/v1/x1234567890123456789012345678901234567890123456789012345678901234", TND_ERR_INVALID_NAME},
		{"/api/v1/todos/a.b", TND_ERR_INVALID_ID},
		{"/api/v1/todos/..", TND_ERR_INVALID_ID},
		{"/api/v1/todos/%2e%2e", TND_ERR_INVALID_ID},
		{"/api/v1/todos/a%2Fb", TND_ERR_INVALID_ID},
		{"/api/v1/todos/a%20", TND_ERR_INVALID_ID},
		{"/api/v1/todos/a/b", TND_ERR_NOT_FOUND},
		{"/api/v1/todos/", TND_ERR_NOT_FOUND},
		{"/api/v1/", TND_ERR_NOT_FOUND},
		{"/api/v2/todos", TND_ERR_NOT_FOUND},
		{"/api/v1", TND_ERR_NOT_FOUND},
		{"/other", TND_ERR_NOT_FOUND},
		{"/api/v1/_health/x", TND_ERR_INVALID_NAME},
	};
	struct rest_target t;
	enum tnd_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cr_assert_eq(route(cases[i].uri, &t, &err), -1, "%s", cases[i].uri);
		cr_assert_eq(err, cases[i].err, "%s: got %s", cases[i].uri, tnd_err_code(err));
	}
	char long_id[300] = "/api/v1/todos/";
	memset(long_id + strlen(long_id), 'a', 129);
	cr_assert_eq(route(long_id, &t, &err), -1);
	cr_assert_eq(err, TND_ERR_INVALID_ID);
}

Test(router, methods_per_route)
{
	const char *allow;

	cr_assert(rest_route_allows(REST_ROUTE_COLLECTION, REST_POST, &allow));
	cr_assert_not(rest_route_allows(REST_ROUTE_COLLECTION, REST_DELETE, &allow));
	cr_assert_str_eq(allow, "GET, HEAD, POST, OPTIONS");
	cr_assert_not(rest_route_allows(REST_ROUTE_DOCUMENT, REST_POST, &allow));
	cr_assert_not(rest_route_allows(REST_ROUTE_HEALTH, REST_PUT, &allow));
	cr_assert_not(rest_route_allows(REST_ROUTE_HEALTH, REST_METHOD__MAX, &allow));
	cr_assert_eq(rest_method_parse("PATCH"), REST_PATCH);
	cr_assert_eq(rest_method_parse("patch"), REST_METHOD__MAX);
	cr_assert_eq(rest_method_parse(NULL), REST_METHOD__MAX);
}

Test(query, limit_and_after)
{
	struct rest_list_query q;
	char msg[128];

	cr_assert_eq(rest_list_query_parse(NULL, &q, msg, sizeof(msg)), 0);
	cr_assert_eq(q.limit, 100);
	cr_assert_not(q.has_after);
	cr_assert_eq(rest_list_query_parse("after=01AB&x=%zz&limit=1000", &q, msg, sizeof(msg)), 0);
	cr_assert_eq(q.limit, 1000);
	cr_assert_str_eq(q.after, "01AB");
	const char *bad[] = {"limit=0", "limit=1001", "limit=", "limit", "limit=1x", "limit=-1",
			     "limit=1&limit=2", "after=", "after=a.b", "after=%2e", "after=a&after=b",
			     "limit=%"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(rest_list_query_parse(bad[i], &q, msg, sizeof(msg)), -1, "%s", bad[i]);
}
