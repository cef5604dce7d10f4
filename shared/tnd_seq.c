/*
 * tnd_seq: see tnd_seq.h.
 */
#include "tnd_seq.h"

#include <stdio.h>

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t acc = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	*out = acc;
	return 0;
}

int tnd_seq_parse(const char *s, size_t len, struct tnd_seq *out)
{
	size_t dash = 0;
	struct tnd_seq seq;

	if (!s)
		return -1;
	while (dash < len && s[dash] != '-')
		dash++;
	if (dash == len)
		return -1;
	if (parse_u64(s, dash, &seq.ms) < 0 ||
	    parse_u64(s + dash + 1, len - dash - 1, &seq.n) < 0)
		return -1;
	*out = seq;
	return 0;
}

int tnd_seq_cmp(const struct tnd_seq *a, const struct tnd_seq *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return 0;
}

char *tnd_seq_format(const struct tnd_seq *seq, char buf[TND_SEQ_STR_MAX])
{
	snprintf(buf, TND_SEQ_STR_MAX, "%llu-%llu", (unsigned long long)seq->ms,
		 (unsigned long long)seq->n);
	return buf;
}
