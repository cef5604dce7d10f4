/*
 * Integration tests of SPEC section 8 on tandem-rest (lists with `where`
 * and `fields`), over real HTTP through nginx, on a stack started by
 * main() with TANDEM_SCAN_LIMIT=5 so that every filtered walk pages.
 * Each test seeds a collection of its own with client-chosen ids.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http.h"
#include "stack.h"
#include "stack_suite.h"

#define SCAN_LIMIT 5

static struct stack g_stack;

static void import_stack(void)
{
	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
}

TestSuite(filter, .init = import_stack, .timeout = 60);

/* Percent-encodes s for a query value (unreserved bytes kept). */
static void enc(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static long get(const char *path_and_query, struct http_response *res)
{
	char url[20000];

	snprintf(url, sizeof(url), "%s%s", g_stack.base_url, path_and_query);
	cr_assert_eq(http_request("GET", url, NULL, NULL, 0, res), 0);
	return res->status;
}

static void put(const char *col, const char *id, const char *body)
{
	char url[512];
	struct http_response res;

	snprintf(url, sizeof(url), "%s/api/v1/%s/%s", g_stack.base_url, col, id);
	cr_assert_eq(http_json("PUT", url, body, &res), 0);
	cr_assert(res.status == 200 || res.status == 201, "PUT %s: %ld %s", id, res.status, res.body);
	http_response_free(&res);
}

static struct json_object *json_of(const struct http_response *res)
{
	struct json_object *o = json_tokener_parse(res->body);
	cr_assert_not_null(o, "not JSON: %s", res->body);
	return o;
}

/* One page: ids of its items joined by ',' into ids, next into next ("" for null). */
static void page(const char *col, const char *where, const char *extra, char *ids, size_t idsize,
		 char *next, size_t nsize)
{
	char q[16000], e[12000];
	struct http_response res;
	struct json_object *o, *items, *n;

	enc(where, e, sizeof(e));
	snprintf(q, sizeof(q), "/api/v1/%s?where=%s%s", col, e, extra ? extra : "");
	cr_assert_eq(get(q, &res), 200, "%s: %s", where, res.body);
	o = json_of(&res);
	cr_assert(json_object_object_get_ex(o, "items", &items));
	ids[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *id;
		cr_assert(json_object_object_get_ex(json_object_array_get_idx(items, i), "id", &id));
		snprintf(ids + strlen(ids), idsize - strlen(ids), "%s%s", i ? "," : "",
			 json_object_get_string(id));
	}
	cr_assert(json_object_object_get_ex(o, "next", &n));
	snprintf(next, nsize, "%s", n ? json_object_get_string(n) : "");
	char seq[64];
	cr_assert_eq(http_header(&res, "Tandem-Seq", seq, sizeof(seq)), 0, "no Tandem-Seq");
	json_object_put(o);
	http_response_free(&res);
}

/*
 * Walks every page of a filtered list; returns all ids joined by ','.
 * Checks: id order across pages, no page over limit, next null only on
 * the last page.
 */
static void walk(const char *col, const char *where, int limit, char *all, size_t size)
{
	char after[256] = "", ids[4096], next[256], extra[512];
	int pages = 0;

	all[0] = '\0';
	for (;;) {
		snprintf(extra, sizeof(extra), "&limit=%d%s%s", limit, after[0] ? "&after=" : "", after);
		page(col, where, extra, ids, sizeof(ids), next, sizeof(next));
		int count = ids[0] ? 1 : 0;
		for (char *p = ids; *p; p++)
			count += *p == ',';
		cr_assert_leq(count, limit);
		if (ids[0]) {
			snprintf(all + strlen(all), size - strlen(all), "%s%s", all[0] ? "," : "", ids);
		}
		cr_assert_lt(++pages, 200, "too many pages");
		if (!next[0])
			break;
		cr_assert_gt(strcmp(next, after), 0, "next %s does not move past %s", next, after);
		snprintf(after, sizeof(after), "%s", next);
	}
}

static void seed_ops(const char *col)
{
	put(col, "d01", "{\"n\":1,\"s\":\"apple\",\"t\":true,\"tag\":\"a\",\"o\":{\"c\":\"Paris\"}}");
	put(col, "d02", "{\"n\":2,\"s\":\"banana\",\"t\":false,\"tag\":\"b\",\"o\":{\"c\":\"Rome\"}}");
	put(col, "d03", "{\"n\":3.0,\"s\":\"apricot\",\"tag\":null,\"o\":\"flat\"}");
	put(col, "d04", "{\"n\":\"4\",\"s\":\"cherry\",\"o\":{\"c\":\"Paris\",\"z\":1}}");
	put(col, "d05", "{\"n\":5.5,\"arr\":[1,2]}");
	put(col, "d06", "{\"s\":\"avocado\",\"t\":true,\"tag\":\"a\"}");
	put(col, "d07", "{\"n\":7,\"tag\":\"c\",\"o\":{\"c\":null}}");
	put(col, "d08", "{\"n\":-1,\"s\":\"Apple\",\"arr\":[2,1]}");
	put(col, "d09", "{\"n\":100,\"s\":\"\",\"o\":{\"c\":{\"x\":1}}}");
	put(col, "d10", "{\"n\":2.0,\"s\":\"b\",\"tag\":[\"a\"]}");
	put(col, "d11", "{}");
	put(col, "d12", "{\"t\":null,\"o\":null}");
}

static void expect(const char *col, const char *where, const char *want)
{
	char all[4096];

	walk(col, where, 1000, all, sizeof(all));
	cr_expect_str_eq(all, want, "where %s", where);
}

Test(filter, every_operator_selects_the_expected_documents)
{
	const char *c = "fops";

	seed_ops(c);
	expect(c, "{}", "d01,d02,d03,d04,d05,d06,d07,d08,d09,d10,d11,d12");
	expect(c, "{\"n\":2}", "d02,d10");
	expect(c, "{\"n\":3}", "d03");
	expect(c, "{\"n\":\"4\"}", "d04");
	expect(c, "{\"tag\":null}", "d03,d04,d05,d08,d09,d11,d12");
	expect(c, "{\"arr\":[1,2]}", "d05");
	expect(c, "{\"o\":{\"c\":\"Paris\"}}", "d01");
	expect(c, "{\"n\":{\"$eq\":2}}", "d02,d10");
	expect(c, "{\"tag\":{\"$eq\":null}}", "d03,d04,d05,d08,d09,d11,d12");
	expect(c, "{\"n\":{\"$ne\":2}}", "d01,d03,d04,d05,d06,d07,d08,d09,d11,d12");
	expect(c, "{\"n\":{\"$gt\":2}}", "d03,d05,d07,d09");
	expect(c, "{\"n\":{\"$gte\":2}}", "d02,d03,d05,d07,d09,d10");
	expect(c, "{\"n\":{\"$lt\":2}}", "d01,d08");
	expect(c, "{\"n\":{\"$lte\":2,\"$gt\":-1}}", "d01,d02,d10");
	expect(c, "{\"s\":{\"$gt\":\"b\"}}", "d02,d04");
	expect(c, "{\"s\":{\"$lt\":\"a\"}}", "d08,d09");
	expect(c, "{\"n\":{\"$in\":[1,7,\"4\"]}}", "d01,d04,d07");
	expect(c, "{\"tag\":{\"$in\":[\"a\",null]}}", "d01,d03,d04,d05,d06,d08,d09,d11,d12");
	expect(c, "{\"tag\":{\"$nin\":[\"a\",null]}}", "d02,d07,d10");
	expect(c, "{\"tag\":{\"$exists\":true}}", "d01,d02,d03,d06,d07,d10");
	expect(c, "{\"tag\":{\"$exists\":false}}", "d04,d05,d08,d09,d11,d12");
	expect(c, "{\"s\":{\"$prefix\":\"ap\"}}", "d01,d03");
	expect(c, "{\"s\":{\"$prefix\":\"\"}}", "d01,d02,d03,d04,d06,d08,d09,d10");
	expect(c, "{\"o.c\":\"Paris\"}", "d01,d04");
	expect(c, "{\"o.c\":null}", "d03,d05,d06,d07,d08,d10,d11,d12");
	expect(c, "{\"o.c\":{\"$exists\":true}}", "d01,d02,d04,d07,d09");
	expect(c, "{\"o.c.x\":1}", "d09");
	expect(c, "{\"$or\":[{\"t\":true},{\"n\":{\"$gte\":100}}]}", "d01,d06,d09");
	expect(c, "{\"tag\":\"a\",\"$or\":[{\"n\":1},{\"$or\":[{\"s\":\"avocado\"}]}]}", "d01,d06");
	expect(c, "{\"s\":\"buy milk\"}", "");
}

/* 23 documents p00..p22; m is true on every fourth. */
static void seed_paging(const char *col)
{
	char id[16], body[64];

	for (int i = 0; i < 23; i++) {
		snprintf(id, sizeof(id), "p%02d", i);
		snprintf(body, sizeof(body), "{\"i\":%d,\"m\":%s,\"s\":\"x y\"}", i, i % 4 ? "false" : "true");
		put(col, id, body);
	}
}

Test(filter, pages_examine_at_most_the_scan_limit)
{
	const char *c = "fpage";
	char ids[1024], next[64], all[2048];

	seed_paging(c);
	/* p00..p04 examined: two matches, next is the last examined, not the last item */
	page(c, "{\"m\":true}", "&limit=100", ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "p00,p04");
	cr_expect_str_eq(next, "p04");
	page(c, "{\"m\":true}", "&limit=100&after=p04", ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "p08");
	cr_expect_str_eq(next, "p09");
	/* limit reached first: next is the last item */
	page(c, "{}", "&limit=2", ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "p00,p01");
	cr_expect_str_eq(next, "p01");
	/* empty pages with a next, while the scan goes on */
	page(c, "{\"i\":22}", "&limit=10", ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "");
	cr_expect_str_eq(next, "p04");
	/* the scan reaches the end exactly: null */
	page(c, "{}", "&limit=3&after=p19", ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "p20,p21,p22");
	cr_expect_str_eq(next, "");
	page(c, "{\"i\":0}", "&limit=10&after=p17", ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "");
	cr_expect_str_eq(next, "", "five examined and none left");
	page(c, "{}", "&limit=10&after=p22", ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "");
	cr_expect_str_eq(next, "");
	/* every match exactly once, in id order, whatever the limit */
	for (int limit = 1; limit <= 4; limit++) {
		walk(c, "{\"m\":true}", limit, all, sizeof(all));
		cr_expect_str_eq(all, "p00,p04,p08,p12,p16,p20", "limit %d", limit);
		walk(c, "{\"i\":{\"$in\":[0,22]}}", limit, all, sizeof(all));
		cr_expect_str_eq(all, "p00,p22", "limit %d", limit);
	}
	/* '+' is a space, as URLSearchParams sends it */
	{
		struct http_response res;
		cr_assert_eq(get("/api/v1/fpage?where=%7B%22s%22:%22x+y%22,%22i%22:1%7D", &res), 200);
		cr_expect(strstr(res.body, "\"p01\"") != NULL, "%s", res.body);
		http_response_free(&res);
	}
	/* a collection never written: empty, next null */
	page("fnothing", "{\"a\":1}", NULL, ids, sizeof(ids), next, sizeof(next));
	cr_expect_str_eq(ids, "");
	cr_expect_str_eq(next, "");
}

Test(filter, fields_project_lists_and_single_reads)
{
	const char *c = "fproj";
	struct http_response res;
	char etag[64];

	put(c, "a", "{\"x\":1,\"y\":{\"p\":2,\"q\":3},\"z\":\"s\"}");
	put(c, "b", "{\"y\":5}");
	cr_assert_eq(get("/api/v1/fproj?fields=y.p,z,nope,y.p.deeper", &res), 200);
	cr_expect_str_eq(res.body, "{\"items\":[{\"id\":\"a\",\"version\":1,\"y\":{\"p\":2},\"z\":\"s\"},"
				   "{\"id\":\"b\",\"version\":1}],\"next\":null}");
	http_response_free(&res);
	cr_assert_eq(get("/api/v1/fproj?fields=x&where=%7B%22x%22%3A1%7D", &res), 200);
	cr_expect_str_eq(res.body, "{\"items\":[{\"id\":\"a\",\"version\":1,\"x\":1}],\"next\":null}");
	http_response_free(&res);
	cr_assert_eq(get("/api/v1/fproj?fields=y,y.p", &res), 200);
	cr_expect(strstr(res.body, "\"y\":{\"p\":2,\"q\":3}") != NULL, "%s", res.body);
	http_response_free(&res);
	/* single read: projection, Tandem-Seq, no ETag, If-None-Match ignored */
	char url[512];
	const char *inm[] = {"If-None-Match: \"1\"", NULL};
	snprintf(url, sizeof(url), "%s/api/v1/fproj/a?fields=y.q", g_stack.base_url);
	cr_assert_eq(http_request("GET", url, inm, NULL, 0, &res), 0);
	cr_expect_eq(res.status, 200);
	cr_expect_str_eq(res.body, "{\"id\":\"a\",\"version\":1,\"y\":{\"q\":3}}");
	cr_expect_eq(http_header(&res, "ETag", etag, sizeof(etag)), -1, "a projection has no ETag");
	cr_expect_eq(http_header(&res, "Tandem-Seq", etag, sizeof(etag)), 0);
	http_response_free(&res);
	/* without fields: the ETag and 304 as before */
	snprintf(url, sizeof(url), "%s/api/v1/fproj/a", g_stack.base_url);
	cr_assert_eq(http_request("GET", url, inm, NULL, 0, &res), 0);
	cr_expect_eq(res.status, 304);
	http_response_free(&res);
	cr_assert_eq(get("/api/v1/fproj/a?fields=a..b", &res), 400);
	cr_expect(strstr(res.body, "invalid_query") != NULL);
	http_response_free(&res);
	cr_assert_eq(get("/api/v1/fproj/nope?fields=x", &res), 404);
	http_response_free(&res);
}

static void bad_where(const char *where_raw, const char *want)
{
	char q[16000];
	struct http_response res;

	snprintf(q, sizeof(q), "/api/v1/fbad?where=%s", where_raw);
	cr_assert_eq(get(q, &res), 400, "%s: %s", where_raw, res.body);
	cr_expect(strstr(res.body, "\"invalid_query\"") != NULL, "%s", res.body);
	cr_expect(strstr(res.body, want) != NULL, "%s lacks %s", res.body, want);
	http_response_free(&res);
}

Test(filter, a_bad_where_is_400_invalid_query_naming_the_problem)
{
	char big[16000], e[16000];

	bad_where("%7B%22n%22%3A%7B%22%24regex%22%3A1%7D%7D", "unknown operator $regex (field n)");
	bad_where("%7B%22n%22%3A", "at byte");
	bad_where("%5B%5D", "where must be a JSON object");
	bad_where("%7B%22n%22%3A%7B%22%24in%22%3A1%7D%7D", "$in needs an array");
	bad_where("%7B%22n%22%3A%7B%22%24gt%22%3Atrue%7D%7D", "$gt needs a number or a string");
	bad_where("%7B%22%24or%22%3A%5B%5D%7D", "$or needs a non-empty array");
	bad_where("%ZZ", "percent-encoded");
	/* over the caps */
	size_t n = (size_t)snprintf(big, sizeof(big), "{\"s\":\"");
	memset(big + n, 'x', 4100);
	snprintf(big + n + 4100, sizeof(big) - n - 4100, "\"}");
	enc(big, e, sizeof(e));
	bad_where(e, "longer than 4096 bytes");
	n = (size_t)snprintf(big, sizeof(big), "{");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"f%d\":%d", i ? "," : "", i, i);
	snprintf(big + n, sizeof(big) - n, "}");
	enc(big, e, sizeof(e));
	bad_where(e, "more than 32 conditions");
	/* twice, and the reserved names stay refused */
	bad_where("%7B%7D&where=%7B%7D", "where is given twice");
	struct http_response res;
	cr_assert_eq(get("/api/v1/fbad?filter=x", &res), 400);
	http_response_free(&res);
	cr_assert_eq(get("/api/v1/fbad?fields=", &res), 400);
	http_response_free(&res);
}

int main(int argc, char *argv[])
{
	const char *const env[] = {"TANDEM_SCAN_LIMIT=5", NULL};
	(void)SCAN_LIMIT;
	return stack_suite_main(&g_stack, env, argc, argv);
}
