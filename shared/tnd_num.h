/*
 * tnd_num: the one bounded number parser (as OpenBSD strtonum): decimal
 * digits only, optional leading '-', no spaces, no '+', no trailing junk,
 * range-checked without overflow.
 */
#ifndef TND_NUM_H
#define TND_NUM_H

#include <stddef.h>

/*
 * Parses s[0..len) into *out. Returns 0, or -1 when empty, malformed or
 * outside [min, max] (*out untouched).
 */
int tnd_num_parse(const char *s, size_t len, long long min, long long max,
		  long long *out);

/* Same for a NUL-terminated string. */
int tnd_num_parse_str(const char *s, long long min, long long max, long long *out);

#endif
