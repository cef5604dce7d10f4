/*
 * tnd_seq: event log positions, "<ms>-<n>" (a Redis stream id). Clients
 * pass them back as they are; they order the events of one collection.
 */
#ifndef TND_SEQ_H
#define TND_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "tnd_limits.h"

struct tnd_seq {
	uint64_t ms;
	uint64_t n;
};

/* Parses "<ms>-<n>" (decimal, no sign, no spaces). Returns 0 or -1. */
int tnd_seq_parse(const char *s, size_t len, struct tnd_seq *out);
/* <0, 0, >0 like strcmp. */
int tnd_seq_cmp(const struct tnd_seq *a, const struct tnd_seq *b);
/* Writes "<ms>-<n>" into buf (TND_SEQ_STR_MAX bytes). Returns buf. */
char *tnd_seq_format(const struct tnd_seq *seq, char buf[TND_SEQ_STR_MAX]);

#endif
