/*
 * tnd_ulid: see tnd_ulid.h.
 */
#include "tnd_ulid.h"

#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int tnd_ulid_gen_init(struct tnd_ulid_gen *gen)
{
	memset(gen, 0, sizeof(*gen));
	return pthread_mutex_init(&gen->lock, NULL) == 0 ? 0 : -1;
}

void tnd_ulid_gen_destroy(struct tnd_ulid_gen *gen)
{
	pthread_mutex_destroy(&gen->lock);
}

void tnd_ulid_encode(uint64_t ms, const uint8_t rand[10], char out[TND_ULID_LEN + 1])
{
	/* 10 chars of time (50 bits, top 2 zero), then 16 chars of 80 bits. */
	for (int i = 9; i >= 0; i--) {
		out[i] = crockford[ms & 31];
		ms >>= 5;
	}
	/* 80 bits = 16 groups of 5; walk the bits from the top. */
	for (int i = 0; i < 16; i++) {
		int bit = i * 5;
		unsigned v = 0;

		for (int b = 0; b < 5; b++) {
			int pos = bit + b;
			v = (v << 1) | ((rand[pos / 8] >> (7 - pos % 8)) & 1u);
		}
		out[10 + i] = crockford[v];
	}
	out[TND_ULID_LEN] = '\0';
}

/* Adds one to the 80-bit big-endian number; returns -1 on wrap. */
static int rand_increment(uint8_t r[10])
{
	for (int i = 9; i >= 0; i--)
		if (++r[i] != 0)
			return 0;
	return -1;
}

int tnd_ulid_next(struct tnd_ulid_gen *gen, uint64_t now_ms, char out[TND_ULID_LEN + 1])
{
	uint8_t r[10], fresh[10];
	bool have_fresh = false;
	uint64_t ms;
	int rc = -1;

	/*
	 * The random bytes of a new millisecond are drawn before the lock: a
	 * system call inside it kept every other thread that wanted an id
	 * waiting on the mutex (futex sleeps and wake-ups on each POST). A
	 * thread that loses the race to start the millisecond wasted a draw.
	 */
	if (now_ms > atomic_load_explicit(&gen->last_ms, memory_order_relaxed))
		have_fresh = getrandom(fresh, sizeof(fresh), 0) == (ssize_t)sizeof(fresh);
	pthread_mutex_lock(&gen->lock);
	/* A clock that steps back keeps the last millisecond: order wins. */
	if (now_ms > atomic_load_explicit(&gen->last_ms, memory_order_relaxed)) {
		if (!have_fresh && getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh))
			goto out;
		memcpy(r, fresh, sizeof(r));
		/* Leave headroom so increments within the ms cannot wrap soon. */
		r[0] &= 0x7f;
		atomic_store_explicit(&gen->last_ms, now_ms, memory_order_relaxed);
	} else {
		memcpy(r, gen->last_rand, sizeof(r));
		if (rand_increment(r) < 0)
			goto out;
	}
	memcpy(gen->last_rand, r, sizeof(r));
	ms = atomic_load_explicit(&gen->last_ms, memory_order_relaxed);
	rc = 0;
out:
	pthread_mutex_unlock(&gen->lock);
	if (rc == 0)
		tnd_ulid_encode(ms, r, out);
	return rc;
}
