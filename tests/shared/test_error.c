/*
 * Unit tests of shared/tnd_error.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "tnd_config.h"
#include "tnd_error.h"
#include "tnd_keys.h"
#include "tnd_list.h"
#include "tnd_log.h"
#include "tnd_num.h"
#include "tnd_redis.h"
#include "tnd_seq.h"
#include "tnd_ulid.h"
#include "tnd_utf8.h"
#include "tnd_valid.h"

Test(error, body_is_spec_json_with_escaped_message)
{
	char buf[512];
	struct json_object *obj, *err, *v;

	cr_assert_gt(tnd_err_body(buf, sizeof(buf), TND_ERR_VERSION_CONFLICT, "a \"quoted\"\n\x01", 7), 0);
	obj = json_tokener_parse(buf);
	cr_assert_not_null(obj, "not JSON: %s", buf);
	cr_assert(json_object_object_get_ex(obj, "error", &err));
	json_object_object_get_ex(err, "status", &v);
	cr_assert_eq(json_object_get_int(v), 412);
	json_object_object_get_ex(err, "code", &v);
	cr_assert_str_eq(json_object_get_string(v), "version_conflict");
	json_object_object_get_ex(err, "message", &v);
	cr_assert_str_eq(json_object_get_string(v), "a \"quoted\"\n\x01");
	json_object_object_get_ex(err, "current_version", &v);
	cr_assert_eq(json_object_get_int(v), 7);
	json_object_put(obj);
}

Test(error, every_code_has_a_status_and_round_trips)
{
	cr_assert_eq(TND_ERR_INVALID_JSON, 1, "0 is never a wire error");
	for (int i = 1; i < TND_ERR__MAX; i++) {
		cr_assert_geq(tnd_err_status((enum tnd_err)i), 400);
		cr_assert_eq(tnd_err_from_code(tnd_err_code((enum tnd_err)i)), i);
	}
	cr_assert_eq(tnd_err_status(TND_ERR_STORE_UNAVAILABLE), 503);
	cr_assert_eq(tnd_err_status(TND_ERR_NOT_REPLICATED), 503);
	cr_assert_str_eq(tnd_err_code(TND_ERR_NOT_REPLICATED), "not_replicated");
	cr_assert_eq(tnd_err_status(TND_ERR_METHOD_NOT_ALLOWED), 405);
	cr_assert_eq(tnd_err_from_code("nope"), TND_ERR__MAX);
}

Test(error, internal_codes_are_negative_and_named)
{
	cr_assert_str_eq(tnd_strerror(0), "success");
	for (int code = -1; code > TND_E__MIN; code--) {
		cr_assert_not_null(tnd_strerror(code));
		cr_assert_str_neq(tnd_strerror(code), "unknown error", "code %d has no text", code);
	}
	cr_assert_str_eq(tnd_strerror(TND_E__MIN), "unknown error");
	cr_assert_str_eq(tnd_strerror(5), "unknown error");
}

Test(error, small_buffer_still_gets_valid_json)
{
	char buf[128];
	char msg[300];

	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	cr_assert_eq(tnd_err_body(buf, sizeof(buf), TND_ERR_INTERNAL, msg, -1), -1);
	struct json_object *obj = json_tokener_parse(buf);
	cr_assert_not_null(obj, "%s", buf);
	json_object_put(obj);
}
