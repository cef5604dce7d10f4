/*
 * tnd_ulid: ULID ids (26 chars of Crockford base32: 48-bit millisecond
 * time + 80 random bits), monotonic within one generator: inside one
 * millisecond the random part is incremented, so ids sort in creation
 * order. One generator per process, shared by its threads (mutex inside).
 */
#ifndef TND_ULID_H
#define TND_ULID_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define TND_ULID_LEN 26

struct tnd_ulid_gen {
	pthread_mutex_t lock;
	_Atomic uint64_t last_ms; /* written under lock; read before it as a hint */
	uint8_t last_rand[10];
};

/* Returns 0, or -1 when the mutex cannot be made. */
int tnd_ulid_gen_init(struct tnd_ulid_gen *gen);
void tnd_ulid_gen_destroy(struct tnd_ulid_gen *gen);

/*
 * Writes a new id and a NUL into out. now_ms is the caller's clock (so
 * tests can pin it). Returns 0, or -1 when no randomness is available or
 * the random part of one millisecond overflowed (2^80 ids: not in practice).
 */
int tnd_ulid_next(struct tnd_ulid_gen *gen, uint64_t now_ms, char out[TND_ULID_LEN + 1]);

/* Encodes a timestamp and 10 random bytes; pure. */
void tnd_ulid_encode(uint64_t ms, const uint8_t rand[10], char out[TND_ULID_LEN + 1]);

#endif
