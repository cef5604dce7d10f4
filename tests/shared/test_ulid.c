/*
 * Unit tests of shared/tnd_ulid.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
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

/*
 * Threads sharing one generator, their clock advancing under them (the
 * random bytes of a new millisecond are drawn outside the lock, so two
 * threads may race to start it): every id is unique, and each thread's
 * ids rise, as every id is later than any id handed out before it began.
 */
#define ULID_THREADS 4
#define ULID_PER_THREAD 20000

struct ulid_race {
	struct tnd_ulid_gen *gen;
	atomic_ullong *clock;
	pthread_barrier_t *start; /* all threads generate at the same time */
	char (*ids)[TND_ULID_LEN + 1];
	int failures;
};

static void *ulid_race_run(void *arg)
{
	struct ulid_race *r = arg;

	pthread_barrier_wait(r->start);
	for (int i = 0; i < ULID_PER_THREAD; i++) {
		/* A new millisecond every 7 ids or so, shared by all threads. */
		uint64_t now = atomic_fetch_add(r->clock, 1) / 7;
		if (tnd_ulid_next(r->gen, now, r->ids[i]) != 0 ||
		    (i > 0 && strcmp(r->ids[i], r->ids[i - 1]) <= 0))
			r->failures++;
	}
	return NULL;
}

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

Test(ulid, threads_sharing_a_generator_get_unique_rising_ids)
{
	static char ids[ULID_THREADS * ULID_PER_THREAD][TND_ULID_LEN + 1];
	struct tnd_ulid_gen gen;
	atomic_ullong clock = 7000;
	struct ulid_race races[ULID_THREADS];
	pthread_t tids[ULID_THREADS];
	pthread_barrier_t start;

	cr_assert_eq(tnd_ulid_gen_init(&gen), 0);
	cr_assert_eq(pthread_barrier_init(&start, NULL, ULID_THREADS), 0);
	for (int t = 0; t < ULID_THREADS; t++) {
		races[t] = (struct ulid_race){.gen = &gen, .clock = &clock, .start = &start,
					      .ids = &ids[t * ULID_PER_THREAD]};
		cr_assert_eq(pthread_create(&tids[t], NULL, ulid_race_run, &races[t]), 0);
	}
	for (int t = 0; t < ULID_THREADS; t++) {
		cr_assert_eq(pthread_join(tids[t], NULL), 0);
		cr_assert_eq(races[t].failures, 0, "thread %d: %d ids failed or did not rise", t,
			     races[t].failures);
	}
	qsort(ids, ULID_THREADS * ULID_PER_THREAD, sizeof(ids[0]), cmp_ids);
	for (int i = 1; i < ULID_THREADS * ULID_PER_THREAD; i++)
		cr_assert_neq(strcmp(ids[i], ids[i - 1]), 0, "%s twice", ids[i]);
	pthread_barrier_destroy(&start);
	tnd_ulid_gen_destroy(&gen);
}
