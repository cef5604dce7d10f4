/*
 * Unit tests of shared/tnd_list.
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

static bool collect(const char *item, size_t len, void *data)
{
	char *out = data;

	strncat(out, item, len);
	strcat(out, "|");
	return false;
}

Test(list, trims_spaces_and_tabs_and_skips_empty_elements)
{
	char out[128] = "";

	cr_assert_not(tnd_list_each(" a ,\tb\t,, ,c", collect, out));
	cr_assert_str_eq(out, "a|b|c|");
	out[0] = '\0';
	cr_assert_not(tnd_list_each(NULL, collect, out));
	cr_assert_not(tnd_list_each("", collect, out));
	cr_assert_str_eq(out, "");
	cr_assert(tnd_list_contains("http://a.example, http://b.example", "http://b.example", 16));
	cr_assert(tnd_list_contains("x,\ty", "y", 1));
	cr_assert_not(tnd_list_contains("http://a.example", "http://a.exampl", 15));
	cr_assert_not(tnd_list_contains("ab", "a", 1));
}
