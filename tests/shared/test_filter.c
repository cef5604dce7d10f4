/*
 * Unit tests of the where language (shared/tnd_filter): every operator,
 * the type rules, null and absent, dotted paths, $or, the caps, and the
 * messages a bad where gets. Also a measure of evaluation cost.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "tnd_error.h"
#include "tnd_filter.h"
#include "tnd_limits.h"

static const char doc_text[] =
	"{\"id\":\"a1\",\"version\":3,\"n\":5,\"f\":2.5,\"big\":18446744073709551615,"
	"\"s\":\"hello\",\"e\":\"\",\"t\":true,\"z\":null,\"arr\":[1,\"x\",{\"k\":null}],"
	"\"o\":{\"city\":\"Paris\",\"zip\":75001,\"deep\":{\"x\":1}},\"sn\":\"5\"}";

static struct json_object *doc(void)
{
	struct json_object *d = json_tokener_parse(doc_text);
	cr_assert_not_null(d);
	return d;
}

/* Compiles where (must be valid) and matches it against the test document. */
static bool m(const char *where)
{
	struct tnd_filter *f = NULL;
	char msg[256];
	struct json_object *d = doc();
	int rc = tnd_filter_compile(where, strlen(where), &f, msg, sizeof(msg));
	bool r;

	cr_assert_eq(rc, 0, "%s: %s", where, msg);
	r = tnd_filter_match(f, d);
	tnd_filter_free(f);
	json_object_put(d);
	return r;
}

#define MATCHES(w) cr_expect(m(w), "%s should match", w)
#define MISSES(w) cr_expect(!m(w), "%s should not match", w)

/* Compiles an invalid where; the message must contain want. */
static void bad(const char *where, size_t len, const char *want)
{
	struct tnd_filter *f = (struct tnd_filter *)1;
	char msg[256];
	int rc = tnd_filter_compile(where, len, &f, msg, sizeof(msg));

	cr_expect_eq(rc, TND_EINVAL, "%.80s: rc %d", where, rc);
	cr_expect_null(f);
	cr_expect(strstr(msg, want) != NULL, "%.80s: message '%s' lacks '%s'", where, msg, want);
}
#define BAD(w, want) bad(w, strlen(w), want)

Test(filter, empty_where_matches_everything)
{
	MATCHES("{}");
	MATCHES(" { } ");
}

Test(filter, plain_values_are_deep_equality)
{
	MATCHES("{\"n\":5}");
	MATCHES("{\"n\":5.0}");
	MATCHES("{\"n\":5e0}");
	MATCHES("{\"f\":2.5}");
	MISSES("{\"n\":6}");
	MISSES("{\"n\":\"5\"}");
	MISSES("{\"sn\":5}");
	MATCHES("{\"s\":\"hello\"}");
	MISSES("{\"s\":\"hell\"}");
	MATCHES("{\"e\":\"\"}");
	MATCHES("{\"t\":true}");
	MISSES("{\"t\":1}");
	MISSES("{\"t\":false}");
	MATCHES("{\"arr\":[1.0,\"x\",{\"k\":null}]}");
	MISSES("{\"arr\":[1,\"x\"]}");
	MISSES("{\"arr\":[\"x\",1,{\"k\":null}]}");
	MISSES("{\"arr\":1}");
	MATCHES("{\"o\":{\"zip\":75001,\"city\":\"Paris\",\"deep\":{\"x\":1.0}}}");
	MISSES("{\"o\":{\"city\":\"Paris\"}}");
	MISSES("{\"o\":{}}");
	MATCHES("{\"big\":18446744073709551615}");
	MISSES("{\"big\":9223372036854775807}");
	MATCHES("{\"n\":5,\"s\":\"hello\",\"t\":true}");
	MISSES("{\"n\":5,\"s\":\"nope\"}");
}

Test(filter, null_matches_null_or_absent)
{
	MATCHES("{\"z\":null}");
	MATCHES("{\"missing\":null}");
	MATCHES("{\"o.nothing\":null}");
	MISSES("{\"n\":null}");
	MATCHES("{\"z\":{\"$eq\":null}}");
	MATCHES("{\"missing\":{\"$eq\":null}}");
	MISSES("{\"missing\":{\"$ne\":null}}");
	MISSES("{\"z\":{\"$ne\":null}}");
	MATCHES("{\"n\":{\"$ne\":null}}");
	MATCHES("{\"missing\":{\"$in\":[1,null]}}");
	MISSES("{\"missing\":{\"$nin\":[null]}}");
	MISSES("{\"missing\":1}");
}

Test(filter, eq_and_ne_are_exact_opposites)
{
	MATCHES("{\"n\":{\"$eq\":5}}");
	MISSES("{\"n\":{\"$ne\":5}}");
	MATCHES("{\"n\":{\"$ne\":4}}");
	MATCHES("{\"missing\":{\"$ne\":4}}");
	MATCHES("{\"n\":{\"$ne\":\"5\"}}");
	MATCHES("{\"o\":{\"$eq\":{\"city\":\"Paris\",\"zip\":75001,\"deep\":{\"x\":1}}}}");
	MATCHES("{\"arr\":{\"$ne\":[1]}}");
	/* the operand of $eq is a value, even an object with '$' keys */
	MISSES("{\"o\":{\"$eq\":{\"$odd\":1}}}");
}

Test(filter, order_operators_compare_numbers_and_strings_only)
{
	MATCHES("{\"n\":{\"$gt\":4}}");
	MISSES("{\"n\":{\"$gt\":5}}");
	MATCHES("{\"n\":{\"$gte\":5}}");
	MATCHES("{\"n\":{\"$gte\":4.5}}");
	MATCHES("{\"n\":{\"$lt\":5.5}}");
	MISSES("{\"n\":{\"$lt\":5}}");
	MATCHES("{\"n\":{\"$lte\":5}}");
	MISSES("{\"n\":{\"$lte\":-1}}");
	MATCHES("{\"f\":{\"$gt\":2,\"$lt\":3}}");
	MISSES("{\"f\":{\"$gt\":2,\"$lt\":2.4}}");
	MATCHES("{\"big\":{\"$gt\":9223372036854775807}}");
	MATCHES("{\"n\":{\"$gt\":-9223372036854775808}}");
	MATCHES("{\"big\":{\"$gt\":1e19}}");
	/* strings by byte order */
	MATCHES("{\"s\":{\"$gt\":\"hell\"}}");
	MATCHES("{\"s\":{\"$lt\":\"hellp\"}}");
	MATCHES("{\"s\":{\"$gte\":\"hello\",\"$lte\":\"hello\"}}");
	MISSES("{\"s\":{\"$gt\":\"hello\"}}");
	MATCHES("{\"s\":{\"$lt\":\"\\u00e9\"}}");
	MATCHES("{\"e\":{\"$lt\":\"a\"}}");
	/* other pairs never match, in either direction */
	MISSES("{\"sn\":{\"$gt\":1}}");
	MISSES("{\"sn\":{\"$lt\":9}}");
	MISSES("{\"n\":{\"$gt\":\"1\"}}");
	MISSES("{\"n\":{\"$lt\":\"9\"}}");
	MISSES("{\"t\":{\"$gt\":0}}");
	MISSES("{\"z\":{\"$lt\":1}}");
	MISSES("{\"o\":{\"$gt\":0}}");
	MISSES("{\"missing\":{\"$lt\":1}}");
	MISSES("{\"missing\":{\"$gte\":\"\"}}");
}

Test(filter, in_and_nin_are_exact_opposites)
{
	MATCHES("{\"n\":{\"$in\":[1,5,9]}}");
	MATCHES("{\"n\":{\"$in\":[5.0]}}");
	MISSES("{\"n\":{\"$in\":[\"5\"]}}");
	MISSES("{\"n\":{\"$in\":[]}}");
	MATCHES("{\"n\":{\"$nin\":[]}}");
	MATCHES("{\"n\":{\"$nin\":[1,2]}}");
	MISSES("{\"n\":{\"$nin\":[1,5]}}");
	MATCHES("{\"arr\":{\"$in\":[[1,\"x\",{\"k\":null}]]}}");
	MISSES("{\"arr\":{\"$in\":[1,\"x\"]}}");
	MATCHES("{\"missing\":{\"$nin\":[1,2]}}");
	MISSES("{\"missing\":{\"$in\":[1,2]}}");
	MATCHES("{\"z\":{\"$in\":[null]}}");
}

Test(filter, exists_holds_for_any_present_value_null_included)
{
	MATCHES("{\"z\":{\"$exists\":true}}");
	MATCHES("{\"n\":{\"$exists\":true}}");
	MATCHES("{\"e\":{\"$exists\":true}}");
	MISSES("{\"missing\":{\"$exists\":true}}");
	MATCHES("{\"missing\":{\"$exists\":false}}");
	MISSES("{\"z\":{\"$exists\":false}}");
	MATCHES("{\"o.deep.x\":{\"$exists\":true}}");
	MATCHES("{\"o.deep.y\":{\"$exists\":false}}");
	MATCHES("{\"n.x\":{\"$exists\":false}}");
}

Test(filter, prefix_matches_strings_only)
{
	MATCHES("{\"s\":{\"$prefix\":\"he\"}}");
	MATCHES("{\"s\":{\"$prefix\":\"\"}}");
	MATCHES("{\"s\":{\"$prefix\":\"hello\"}}");
	MISSES("{\"s\":{\"$prefix\":\"hello!\"}}");
	MISSES("{\"s\":{\"$prefix\":\"H\"}}");
	MISSES("{\"sn\":{\"$prefix\":\"6\"}}");
	MATCHES("{\"sn\":{\"$prefix\":\"5\"}}");
	MISSES("{\"n\":{\"$prefix\":\"5\"}}");
	MISSES("{\"z\":{\"$prefix\":\"\"}}");
	MISSES("{\"missing\":{\"$prefix\":\"\"}}");
	MISSES("{\"arr\":{\"$prefix\":\"\"}}");
}

Test(filter, dotted_paths_reach_into_objects_and_stop_at_anything_else)
{
	MATCHES("{\"o.city\":\"Paris\"}");
	MATCHES("{\"o.deep.x\":1}");
	MATCHES("{\"o.deep\":{\"x\":1}}");
	MISSES("{\"o.city\":\"London\"}");
	/* through a number, a string, null, an array, a boolean: absent */
	MATCHES("{\"n.x\":null}");
	MATCHES("{\"s.length\":{\"$exists\":false}}");
	MATCHES("{\"z.a\":null}");
	MISSES("{\"z.a\":{\"$exists\":true}}");
	MATCHES("{\"arr.0\":{\"$exists\":false}}");
	MISSES("{\"arr.0\":1}");
	MATCHES("{\"t.x\":{\"$ne\":1}}");
	MISSES("{\"o.deep.x.y\":{\"$gte\":0}}");
}

Test(filter, or_combines_alternatives_and_nests)
{
	MATCHES("{\"$or\":[{\"n\":1},{\"n\":5}]}");
	MISSES("{\"$or\":[{\"n\":1},{\"n\":2}]}");
	MATCHES("{\"$or\":[{}]}");
	MATCHES("{\"s\":\"hello\",\"$or\":[{\"n\":1},{\"t\":true}]}");
	MISSES("{\"s\":\"nope\",\"$or\":[{\"n\":5},{\"t\":true}]}");
	MATCHES("{\"$or\":[{\"n\":1},{\"$or\":[{\"n\":2},{\"$or\":[{\"o.city\":\"Paris\"}]}]}]}");
	MISSES("{\"$or\":[{\"n\":1},{\"$or\":[{\"n\":2},{\"$or\":[{\"o.city\":\"Rome\"}]}]}]}");
	/* all conditions of one alternative must hold */
	MISSES("{\"$or\":[{\"n\":5,\"t\":false},{\"s\":\"x\"}]}");
	MATCHES("{\"$or\":[{\"n\":5,\"t\":false},{\"s\":\"hello\",\"t\":true}]}");
}

Test(filter, non_object_documents_have_only_absent_fields)
{
	struct tnd_filter *f;
	char msg[128];
	struct json_object *arr = json_tokener_parse("[1,2]");

	cr_assert_eq(tnd_filter_compile("{\"a\":null}", 10, &f, msg, sizeof(msg)), 0);
	cr_expect(tnd_filter_match(f, NULL));
	cr_expect(tnd_filter_match(f, arr));
	tnd_filter_free(f);
	cr_assert_eq(tnd_filter_compile("{\"a\":{\"$exists\":true}}", 22, &f, msg, sizeof(msg)), 0);
	cr_expect(!tnd_filter_match(f, NULL));
	cr_expect(!tnd_filter_match(f, arr));
	tnd_filter_free(f);
	json_object_put(arr);
	tnd_filter_free(NULL);
}

Test(filter, bad_json_is_refused_with_its_position)
{
	BAD("", "unexpected end of data at byte 0");
	BAD("{\"a\":", "at byte 5");
	BAD("{\"a\":1,}", "at byte");
	BAD("{'a':1}", "single quotes");
	BAD("{\"a\":01}", "not valid JSON");
	BAD("{\"a\":1.}", "not valid JSON");
	BAD("{\"a\":99999999999999999999}", "outside the 64-bit range");
	BAD("{\"a\":\"\\ud800\"}", "surrogate");
	BAD("{\"a\\u0000b\":1}", "member name with a \\u0000 escape");
	BAD("{\"a\":1} x", "unexpected data at byte 8");
	BAD("{\"a\":NaN}", "not valid JSON");
	BAD("{\"a\":Infinity}", "");
	BAD("{\"a\":1}{}", "unexpected data at byte 7");
	bad("{\"a\":\"\xff\"}", 9, "not valid UTF-8 (byte 6)");
	bad("{\"a\":\"\xc0\xaf\"}", 10, "UTF-8");
	bad("{\"a\":\0}", 7, "");
}

Test(filter, bad_shapes_and_operators_are_named)
{
	BAD("[]", "where must be a JSON object");
	BAD("\"x\"", "where must be a JSON object");
	BAD("null", "where must be a JSON object");
	BAD("{\"n\":{\"$regex\":\"x\"}}", "unknown operator $regex (field n)");
	BAD("{\"$and\":[]}", "unknown operator $and");
	BAD("{\"n\":{\"$gt\":1,\"x\":2}}", "mixes operators and field names");
	BAD("{\"n\":{\"$gt\":true}}", "$gt needs a number or a string (field n)");
	BAD("{\"n\":{\"$gte\":null}}", "$gte needs a number or a string");
	BAD("{\"n\":{\"$lt\":[1]}}", "$lt needs a number or a string");
	BAD("{\"n\":{\"$lte\":{}}}", "$lte needs a number or a string");
	BAD("{\"n\":{\"$in\":1}}", "$in needs an array (field n)");
	BAD("{\"n\":{\"$nin\":\"ab\"}}", "$nin needs an array");
	BAD("{\"n\":{\"$exists\":1}}", "$exists needs true or false");
	BAD("{\"n\":{\"$prefix\":1}}", "$prefix needs a string");
	BAD("{\"$or\":{}}", "$or needs a non-empty array");
	BAD("{\"$or\":[]}", "$or needs a non-empty array");
	BAD("{\"$or\":[1]}", "every element of $or must be an object");
	BAD("{\"$or\":[{\"n\":{\"$bad\":1}}]}", "unknown operator $bad");
	BAD("{\"a..b\":1}", "has an empty part");
	BAD("{\".a\":1}", "has an empty part");
	BAD("{\"a.\":1}", "has an empty part");
	BAD("{\"\":1}", "has an empty part");
	BAD("{\"a.$b\":1}", "unknown operator");
}

Test(filter, long_names_in_messages_are_cut)
{
	char where[512], msg[256];
	struct tnd_filter *f;

	snprintf(where, sizeof(where), "{\"n\":{\"$%0300d\":1}}", 7);
	cr_assert_eq(tnd_filter_compile(where, strlen(where), &f, msg, sizeof(msg)), TND_EINVAL);
	cr_expect(strlen(msg) < 200, "%s", msg);
	cr_expect(strstr(msg, "...") != NULL, "%s", msg);
}

/* {"c0":0,"c1":1,...} with n plain conditions, or the same inside $or. */
static void many(char *buf, size_t size, int n, bool in_or)
{
	size_t len = (size_t)snprintf(buf, size, in_or ? "{\"$or\":[{" : "{");

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s\"c%d\":{\"$gte\":%d}", i ? "," : "",
					i, i);
	snprintf(buf + len, size - len, in_or ? "}]}" : "}");
}

Test(filter, at_most_32_conditions_counting_operators_and_or)
{
	char where[4096], msg[256];
	struct tnd_filter *f;

	many(where, sizeof(where), TND_WHERE_CONDITIONS_MAX, false);
	cr_assert_eq(tnd_filter_compile(where, strlen(where), &f, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(tnd_filter_conditions(f), TND_WHERE_CONDITIONS_MAX);
	tnd_filter_free(f);
	many(where, sizeof(where), TND_WHERE_CONDITIONS_MAX + 1, false);
	bad(where, strlen(where), "more than 32 conditions");
	many(where, sizeof(where), TND_WHERE_CONDITIONS_MAX + 1, true);
	bad(where, strlen(where), "more than 32 conditions");
	/* one field with 33 operators */
	size_t len = (size_t)snprintf(where, sizeof(where), "{\"n\":{");
	for (int i = 0; i < 33; i++)
		len += (size_t)snprintf(where + len, sizeof(where) - len, "%s\"$%s\":%d", i ? "," : "",
					i % 2 ? "gt" : "lt", i);
	snprintf(where + len, sizeof(where) - len, "}}");
	/* json-c keeps the last of duplicate keys: two operators remain */
	cr_assert_eq(tnd_filter_compile(where, strlen(where), &f, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(tnd_filter_conditions(f), 2);
	tnd_filter_free(f);
}

Test(filter, at_most_4_KiB_of_where_text)
{
	static char where[TND_WHERE_MAX + 2];
	char msg[256];
	struct tnd_filter *f;

	/* {"s":"xxx...x"} exactly 4096 bytes */
	memset(where, 'x', sizeof(where));
	memcpy(where, "{\"s\":\"", 6);
	memcpy(where + TND_WHERE_MAX - 2, "\"}", 2);
	cr_assert_eq(tnd_filter_compile(where, TND_WHERE_MAX, &f, msg, sizeof(msg)), 0, "%s", msg);
	tnd_filter_free(f);
	memcpy(where + TND_WHERE_MAX - 2, "x\"}", 3);
	bad(where, TND_WHERE_MAX + 1, "longer than 4096 bytes");
}

Test(filter, nesting_is_bounded)
{
	char where[4096], msg[256];
	struct tnd_filter *f;
	size_t len = 0;
	int depth = 15; /* {"$or":[ ... ]} is two levels each */

	for (int i = 0; i < depth; i++)
		len += (size_t)snprintf(where + len, sizeof(where) - len, "{\"$or\":[");
	len += (size_t)snprintf(where + len, sizeof(where) - len, "{\"n\":5}");
	for (int i = 0; i < depth; i++)
		len += (size_t)snprintf(where + len, sizeof(where) - len, "]}");
	cr_assert_eq(tnd_filter_compile(where, len, &f, msg, sizeof(msg)), 0, "%s", msg);
	struct json_object *d = doc();
	cr_expect(tnd_filter_match(f, d));
	json_object_put(d);
	tnd_filter_free(f);
	len = 0;
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(where + len, sizeof(where) - len, "{\"$or\":[");
	bad(where, len, "nested deeper than 32");
}

Test(filter, one_compiled_filter_serves_many_documents)
{
	struct tnd_filter *f;
	char msg[128], text[64];
	const char *w = "{\"$or\":[{\"i\":{\"$lt\":10}},{\"tag\":{\"$in\":[\"a\",\"b\"]}}]}";
	int hits = 0;

	cr_assert_eq(tnd_filter_compile(w, strlen(w), &f, msg, sizeof(msg)), 0, "%s", msg);
	for (int i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "{\"i\":%d,\"tag\":\"%c\"}", i, 'a' + i % 5);
		struct json_object *d = json_tokener_parse(text);
		hits += tnd_filter_match(f, d);
		json_object_put(d);
	}
	/* i < 10: 10; else tag a or b: 2 of every 5 of the other 90 */
	cr_expect_eq(hits, 10 + 36);
	tnd_filter_free(f);
}

/*
 * Evaluation cost: one filter of the benchmark's shape against a parsed
 * document, many times. Printed, not asserted (machines differ); the
 * figure goes into docs/PERFORMANCE.md. No allocation happens in
 * tnd_filter_match by construction (no allocator call in its code path).
 */
Test(filter, evaluation_is_cheap)
{
	struct tnd_filter *f;
	char msg[128];
	const char *w = "{\"bucket\":0,\"title\":{\"$prefix\":\"t\"},\"o.n\":{\"$gte\":0}}";
	struct json_object *d = json_tokener_parse(
		"{\"id\":\"01J\",\"version\":1,\"created_at\":\"x\",\"updated_at\":\"y\",\"bucket\":7,"
		"\"title\":\"todo 7\",\"done\":false,\"o\":{\"n\":7}}");
	struct timespec a, b;
	const int n = 2000000;
	int hits = 0;

	cr_assert_eq(tnd_filter_compile(w, strlen(w), &f, msg, sizeof(msg)), 0, "%s", msg);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		hits += tnd_filter_match(f, d);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
	cr_log_info("tnd_filter_match: %.1f ns per document (3 conditions, first fails)", ns);
	fprintf(stderr, "filter: tnd_filter_match %.1f ns per document\n", ns);
	cr_expect_eq(hits, 0);
	tnd_filter_free(f);
	json_object_put(d);
}
