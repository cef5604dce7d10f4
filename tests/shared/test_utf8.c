/*
 * Unit tests of shared/tnd_utf8.
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

Test(utf8, accepts_every_well_formed_length_and_the_boundaries)
{
	static const char *const good[] = {
		"", "plain ascii", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
		"\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(tnd_utf8_valid(good[i], strlen(good[i]), NULL), "refused case %zu", i);
	cr_assert(tnd_utf8_valid("a\0b", 3, NULL), "NUL is a character");
}

Test(utf8, refuses_overlong_surrogates_too_high_truncated_and_stray)
{
	static const struct {
		const char *s;
		size_t bad_at;
	} bad[] = {
		{"x\xc0\xaf", 1},         /* overlong "/" */
		{"\xc1\xbf", 0},          /* overlong, C1 */
		{"\xe0\x9f\xbf", 0},     /* overlong 3 bytes */
		{"\xf0\x8f\xbf\xbf", 0}, /* overlong 4 bytes */
		{"ab\xed\xa0\x80", 2},    /* U+D800 */
		{"\xed\xbf\xbf", 0},     /* U+DFFF */
		{"\xf4\x90\x80\x80", 0}, /* U+110000 */
		{"\xf5\x80\x80\x80", 0},
		{"\xff", 0},
		{"abc\xe2\x82", 3},       /* truncated at the end */
		{"\xe2\x82x", 0},         /* truncated inside */
		{"a\x80", 1},              /* stray continuation */
		{"\xc3\xa9\xa9", 2},      /* one continuation too many */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t at = 999;
		cr_assert_not(tnd_utf8_valid(bad[i].s, strlen(bad[i].s), &at), "accepted case %zu", i);
		cr_assert_eq(at, bad[i].bad_at, "case %zu: bad at %zu", i, at);
	}
}
