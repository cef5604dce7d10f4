/*
 * tnd_num: see tnd_num.h.
 */
#include "tnd_num.h"

#include <limits.h>
#include <string.h>

int tnd_num_parse(const char *s, size_t len, long long min, long long max,
		  long long *out)
{
	unsigned long long acc = 0;
	unsigned long long limit;
	int negative = 0;
	size_t i = 0;

	if (!s || len == 0)
		return -1;
	if (s[0] == '-') {
		negative = 1;
		i = 1;
		if (len == 1)
			return -1;
	}
	limit = negative ? (unsigned long long)LLONG_MAX + 1ULL : (unsigned long long)LLONG_MAX;
	for (; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (acc > (limit - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	long long v;
	if (negative)
		v = acc == (unsigned long long)LLONG_MAX + 1ULL ? LLONG_MIN : -(long long)acc;
	else
		v = (long long)acc;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int tnd_num_parse_str(const char *s, long long min, long long max, long long *out)
{
	if (!s)
		return -1;
	return tnd_num_parse(s, strlen(s), min, max, out);
}
