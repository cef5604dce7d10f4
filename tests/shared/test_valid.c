/*
 * Unit tests of shared/tnd_valid.
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

Test(valid, collection_names_follow_the_spec_pattern)
{
	const char *good[] = {"todos", "a", "0", "a-b_c", "x123456789012345678901234567890123456789012345678901234567890123"};
	const char *bad[] = {"", "Todos", "_health", "-a", "a.b", "a/b", "a b", "ä",
			     "x1234567890123456789012345678901234567890123456789012345678901234"};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		cr_assert(tnd_valid_collection(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_not(tnd_valid_collection(bad[i], strlen(bad[i])), "%s", bad[i]);
}

Test(valid, doc_ids_follow_the_spec_pattern)
{
	char long_id[130];

	cr_assert(tnd_valid_doc_id("A_b-9", 5));
	cr_assert_not(tnd_valid_doc_id("", 0));
	cr_assert_not(tnd_valid_doc_id("a.b", 3));
	cr_assert_not(tnd_valid_doc_id("a\0b", 3));
	memset(long_id, 'a', sizeof(long_id));
	cr_assert(tnd_valid_doc_id(long_id, 128));
	cr_assert_not(tnd_valid_doc_id(long_id, 129));
}
