/*
 * tnd_utf8: see tnd_utf8.h. Pure function, no state.
 */
#include "tnd_utf8.h"

#include <stdint.h>

/*
 * Length of the well-formed sequence starting at s (at most n bytes), or 0.
 * The second byte's range is what excludes overlong forms (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4); C0, C1 and F5..FF
 * never start a sequence.
 */
static size_t sequence_length(const uint8_t *s, size_t n)
{
	uint8_t lo = 0x80, hi = 0xBF;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

bool tnd_utf8_valid(const char *p, size_t len, size_t *bad_at)
{
	const uint8_t *s = (const uint8_t *)p;
	size_t i = 0;

	while (i < len) {
		size_t n;

		/* ASCII runs are the common case: skip them a byte at a time without the table. */
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = sequence_length(s + i, len - i);
		if (n == 0) {
			if (bad_at)
				*bad_at = i;
			return false;
		}
		i += n;
	}
	return true;
}
