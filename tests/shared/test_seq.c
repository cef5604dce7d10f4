/*
 * Unit tests of shared/tnd_seq.
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

Test(seq, parses_compares_and_formats)
{
	struct tnd_seq a, b;
	char buf[TND_SEQ_STR_MAX];

	cr_assert_eq(tnd_seq_parse("1764358912123-0", 15, &a), 0);
	cr_assert_eq(tnd_seq_parse("1764358912123-10", 16, &b), 0);
	cr_assert_lt(tnd_seq_cmp(&a, &b), 0);
	cr_assert_gt(tnd_seq_cmp(&b, &a), 0);
	cr_assert_eq(tnd_seq_cmp(&a, &a), 0);
	cr_assert_str_eq(tnd_seq_format(&b, buf), "1764358912123-10");
	cr_assert_eq(tnd_seq_parse("0-0", 3, &a), 0);
	const char *bad[] = {"", "1", "-1", "1-", "1--1", "a-1", "1-1x", "18446744073709551616-0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(tnd_seq_parse(bad[i], strlen(bad[i]), &a), -1, "%s", bad[i]);
}
