/*
 * Unit tests of rest-fcgi/rest_json.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <json-c/json.h>
#include "jsongen.h"
#include "rest_handlers.h"
#include "rest_json.h"
#include "rest_router.h"

static const char *const rfc7396_examples[][3] = {
	{"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	{"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
	{"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
	{"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
	{"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	{"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
	{"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
	{"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
	{"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
	{"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
	{"{\"a\":\"foo\"}", "null", "null"},
	{"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
	{"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
	{"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
	{"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
};

Test(merge_patch, every_rfc7396_appendix_a_example)
{
	for (size_t i = 0; i < sizeof(rfc7396_examples) / sizeof(*rfc7396_examples); i++) {
		struct json_object *target = json_tokener_parse(rfc7396_examples[i][0]);
		struct json_object *patch = json_tokener_parse(rfc7396_examples[i][1]);
		struct json_object *want = json_tokener_parse(rfc7396_examples[i][2]);
		struct json_object *got = rest_json_merge_patch(target, patch);

		cr_assert(json_object_equal(got, want), "example %zu: got %s want %s", i + 1,
			  json_object_to_json_string(got), rfc7396_examples[i][2]);
		json_object_put(got);
		json_object_put(patch);
		json_object_put(want);
	}
}

Test(merge_patch, leaves_the_patch_untouched)
{
	struct json_object *target = json_tokener_parse("{\"a\":{\"x\":1}}");
	struct json_object *patch = json_tokener_parse("{\"a\":{\"y\":2},\"b\":{\"c\":null}}");
	struct json_object *got = rest_json_merge_patch(target, patch);

	cr_assert_str_eq(json_object_to_json_string_ext(patch, JSON_C_TO_STRING_PLAIN),
			 "{\"a\":{\"y\":2},\"b\":{\"c\":null}}");
	cr_assert_str_eq(json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN),
			 "{\"a\":{\"x\":1,\"y\":2},\"b\":{}}");
	json_object_put(got);
	json_object_put(patch);
}

static enum tnd_err parse_err(const char *text, size_t len)
{
	enum tnd_err err = TND_ERR__MAX;
	char msg[160];
	struct json_object *obj = rest_json_parse_body(text, len, &err, msg, sizeof(msg));

	if (obj) {
		json_object_put(obj);
		return TND_ERR__MAX;
	}
	return err;
}

#define PARSE(s) parse_err(s, strlen(s))

Test(body, strict_json_objects_only)
{
	cr_assert_eq(PARSE("{\"a\":[1,2.5,\"x\",true,null,{}]}"), TND_ERR__MAX);
	cr_assert_eq(PARSE(" \n{}\t "), TND_ERR__MAX);
	cr_assert_eq(PARSE(""), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":1,}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{'a':1}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":1.}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":01}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":00}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":-00.5}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":[0,-0,0.0,0e1]}"), TND_ERR__MAX);
	cr_assert_eq(PARSE("{\"a\":\"\t\"}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a'\":\"b'\\\"\",\"c\":[-0.5e-3,1E+2,0]}"), TND_ERR__MAX);
	cr_assert_eq(PARSE("{\"a\":1} {}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":NaN}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":Infinity}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":1e999}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":99999999999999999999}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":-9223372036854775809}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":18446744073709551615,\"b\":-9223372036854775808}"), TND_ERR__MAX);
	cr_assert_eq(PARSE("{\"a\":\"99999999999999999999\"}"), TND_ERR__MAX);
	cr_assert_eq(PARSE("{\"a\":\"\xff\"}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"a\":\"\xc3\xa9\"}"), TND_ERR__MAX);
	cr_assert_eq(parse_err("{\"a\":\"\0\"}", 8), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("[1]"), TND_ERR_INVALID_BODY);
	cr_assert_eq(PARSE("\"s\""), TND_ERR_INVALID_BODY);
	cr_assert_eq(PARSE("3"), TND_ERR_INVALID_BODY);
	cr_assert_eq(PARSE("null"), TND_ERR_INVALID_BODY);
}

Test(body, nesting_is_bounded_at_64_counting_the_top)
{
	char *ok = jsongen_nested(64), *deep = jsongen_nested(65);
	char *empty_obj = jsongen_nested_around(64, "{}"), *empty_arr = jsongen_nested_around(64, "[]");
	char *ok_empty = jsongen_nested_around(63, "[]");

	cr_assert_eq(PARSE(ok), TND_ERR__MAX);
	cr_assert_eq(PARSE(deep), TND_ERR_INVALID_BODY);
	/* Every container counts, an empty innermost one too. */
	cr_assert_eq(PARSE(empty_obj), TND_ERR_INVALID_BODY);
	cr_assert_eq(PARSE(empty_arr), TND_ERR_INVALID_BODY);
	cr_assert_eq(PARSE(ok_empty), TND_ERR__MAX);
	free(ok);
	free(deep);
	free(empty_obj);
	free(empty_arr);
	free(ok_empty);
}

Test(body, invalid_utf8_and_lone_surrogates_are_invalid_json)
{
	static const char *const bad[] = {
		"{\"a\":\"\xc0\xaf\"}",         /* overlong "/" */
		"{\"a\":\"\xe0\x80\xaf\"}",     /* overlong, 3 bytes */
		"{\"a\":\"\xed\xa0\x80\"}",     /* encoded surrogate U+D800 */
		"{\"a\":\"\xf4\x90\x80\x80\"}", /* U+110000 */
		"{\"a\":\"\xe2\x82\"}",         /* truncated euro sign */
		"{\"a\":\"\x80\"}",             /* stray continuation byte */
		"{\"\xc3\":1}",                  /* truncated in a name */
		"{\"a\":\"\\ud800\"}",            /* lone high surrogate escape */
		"{\"a\":\"\\udc00x\"}",           /* lone low surrogate escape */
		"{\"a\":\"\\ud800\\u0041\"}",     /* high surrogate, no low one */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(PARSE(bad[i]), TND_ERR_INVALID_JSON, "accepted case %zu", i);
	cr_assert_eq(PARSE("{\"a\":\"\xf0\x9f\x98\x80 \xe2\x82\xac \xef\xbf\xbf\"}"), TND_ERR__MAX);
	/* json-c keeps member names as C strings: a NUL escape there would cut the name. */
	cr_assert_eq(PARSE("{\"a\\u0000b\":1}"), TND_ERR_INVALID_JSON);
	cr_assert_eq(PARSE("{\"c\":\"x\\u0000y\"}"), TND_ERR__MAX, "a NUL in a value is kept");
	cr_assert_eq(PARSE("{\"a\":\"\\ud83d\\ude00 \\u00e9 \\\\ud800\"}"), TND_ERR__MAX);
}

Test(body, id_check_and_server_fields)
{
	struct json_object *o = json_tokener_parse(
		"{\"id\":\"x\",\"version\":9,\"created_at\":1,\"updated_at\":2,\"k\":1}");
	struct json_object *n = json_tokener_parse("{\"id\":null}");
	struct json_object *num = json_tokener_parse("{\"id\":5}");

	cr_assert_eq(rest_json_check_id(o, "x"), 0);
	cr_assert_eq(rest_json_check_id(o, "y"), -1);
	cr_assert_eq(rest_json_check_id(n, "x"), -1, "null is a mismatch");
	cr_assert_eq(rest_json_check_id(num, "5"), -1);
	rest_json_strip_server_fields(o);
	cr_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "{\"k\":1}");
	json_object_put(o);
	json_object_put(n);
	json_object_put(num);
}
