/*
 * tnd_keys: see tnd_keys.h.
 */
#include "tnd_keys.h"

#include <stdio.h>

int tnd_key(char *buf, size_t size, enum tnd_key_kind kind, const char *ns,
	    const char *col, size_t col_len)
{
	static const char *const suffix[] = {
		[TND_KEY_CHANNEL] = "",
		[TND_KEY_INDEX] = ":ids",
		[TND_KEY_LOG] = ":log",
		[TND_KEY_DOC_PREFIX] = ":d:",
		[TND_KEY_META_PREFIX] = ":m:",
		[TND_KEY_OWNER_PREFIX] = ":o:",
	};
	int n = snprintf(buf, size, "{%s:%.*s}%s", ns, (int)col_len, col, suffix[kind]);

	return (n < 0 || (size_t)n >= size) ? -1 : n;
}
