/*
 * Unit tests of shared/tnd_keys.
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

Test(keys, share_the_collection_hash_tag)
{
	char buf[TND_KEY_MAX];

	cr_assert_gt(tnd_key(buf, sizeof(buf), TND_KEY_LOG, "tandem", "todos", 5), 0);
	cr_assert_str_eq(buf, "{tandem:todos}:log");
	tnd_key(buf, sizeof(buf), TND_KEY_DOC_PREFIX, "tandem", "todos", 5);
	cr_assert_str_eq(buf, "{tandem:todos}:d:");
	tnd_key(buf, sizeof(buf), TND_KEY_META_PREFIX, "tandem", "todos", 5);
	cr_assert_str_eq(buf, "{tandem:todos}:m:");
	tnd_key(buf, sizeof(buf), TND_KEY_CHANNEL, "ns", "c", 1);
	cr_assert_str_eq(buf, "{ns:c}");
	cr_assert_eq(tnd_key(buf, 5, TND_KEY_INDEX, "ns", "c", 1), -1);
}
