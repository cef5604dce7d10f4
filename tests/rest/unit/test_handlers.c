/*
 * Unit tests of rest-fcgi/rest_handlers.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <json-c/json.h>
#include "jsongen.h"
#include "rest_handlers.h"
#include "rest_json.h"
#include "rest_router.h"

Test(preconditions, if_match_becomes_the_script_form)
{
	char out[128];

	rest_if_match_expect(NULL, out, sizeof(out));
	cr_assert_str_eq(out, "");
	rest_if_match_expect("\"3\"", out, sizeof(out));
	cr_assert_str_eq(out, ",3,");
	rest_if_match_expect("\"3\", \"5\" ,7", out, sizeof(out));
	cr_assert_str_eq(out, ",3,5,7,");
	rest_if_match_expect("*", out, sizeof(out));
	cr_assert_str_eq(out, "*");
	rest_if_match_expect("W/\"3\"", out, sizeof(out));
	cr_assert_str_eq(out, ",", "weak tags never match If-Match");
	rest_if_match_expect("garbage", out, sizeof(out));
	cr_assert_str_eq(out, ",");
}

Test(preconditions, if_none_match_is_weak)
{
	cr_assert(rest_if_none_match("\"3\"", 3));
	cr_assert(rest_if_none_match("W/\"3\"", 3));
	cr_assert(rest_if_none_match("\"1\", \"3\"", 3));
	cr_assert(rest_if_none_match("*", 3));
	cr_assert_not(rest_if_none_match("\"4\"", 3));
	cr_assert_not(rest_if_none_match(NULL, 3));
}

Test(preconditions, media_types)
{
	cr_assert(rest_media_type_is("application/json", "application/json"));
	cr_assert(rest_media_type_is("Application/JSON; charset=utf-8", "application/json"));
	cr_assert_not(rest_media_type_is("application/jsonx", "application/json"));
	cr_assert_not(rest_media_type_is("text/plain", "application/json"));
	cr_assert_not(rest_media_type_is(NULL, "application/json"));
}
