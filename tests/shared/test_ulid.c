/*
 * Unit tests of shared/tnd_ulid.
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

Test(ulid, encodes_time_first_in_crockford_base32)
{
	uint8_t zero[10] = {0}, ones[10];
	char out[TND_ULID_LEN + 1];

	memset(ones, 0xff, sizeof(ones));
	tnd_ulid_encode(0, zero, out);
	cr_assert_str_eq(out, "00000000000000000000000000");
	tnd_ulid_encode((1ULL << 48) - 1, ones, out);
	cr_assert_str_eq(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	/* A known vector: 1469918176385 ms is 01ARYZ6S41 */
	tnd_ulid_encode(1469918176385ULL, zero, out);
	cr_assert_eq(strncmp(out, "01ARYZ6S41", 10), 0, "got %s", out);
}

Test(ulid, is_monotonic_within_and_across_milliseconds)
{
	struct tnd_ulid_gen gen;
	char prev[TND_ULID_LEN + 1], cur[TND_ULID_LEN + 1];

	cr_assert_eq(tnd_ulid_gen_init(&gen), 0);
	cr_assert_eq(tnd_ulid_next(&gen, 1000, prev), 0);
	for (int i = 0; i < 10000; i++) {
		/* the same millisecond, a later one, and a clock that steps back */
		uint64_t now = i < 5000 ? 1000 : (i % 3 == 0 ? 900 : 1000 + (uint64_t)i);
		cr_assert_eq(tnd_ulid_next(&gen, now, cur), 0);
		cr_assert_eq(strlen(cur), TND_ULID_LEN);
		cr_assert_gt(strcmp(cur, prev), 0, "%s after %s", cur, prev);
		cr_assert(tnd_valid_doc_id(cur, strlen(cur)));
		memcpy(prev, cur, sizeof(cur));
	}
	tnd_ulid_gen_destroy(&gen);
}
