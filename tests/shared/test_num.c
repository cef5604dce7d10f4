/*
 * Unit tests of shared/tnd_num.
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

Test(num, parses_within_bounds_and_refuses_junk)
{
	long long v = 7;

	cr_assert_eq(tnd_num_parse_str("42", 0, 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(tnd_num_parse_str("-9223372036854775808", LLONG_MIN, 0, &v), 0);
	cr_assert_eq(v, LLONG_MIN);
	cr_assert_eq(tnd_num_parse_str("9223372036854775807", 0, LLONG_MAX, &v), 0);
	cr_assert_eq(v, LLONG_MAX);
	v = 7;
	const char *bad[] = {"", "-", "+1", " 1", "1 ", "1x", "0x10", "101", "9223372036854775808", "1e3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(tnd_num_parse_str(bad[i], LLONG_MIN, i == 7 ? 100 : LLONG_MAX, &v), -1,
			     "%s", bad[i]);
	cr_assert_eq(v, 7, "a failed parse leaves the output alone");
	cr_assert_eq(tnd_num_parse("123", 2, 0, 100, &v), 0);
	cr_assert_eq(v, 12);
}
