/*
 * jsongen: see jsongen.h.
 */
#include "jsongen.h"

#include <stdlib.h>
#include <string.h>

char *jsongen_nested(int depth)
{
	static const char open[] = "{\"a\":";
	const size_t open_len = sizeof(open) - 1;
	char *s = malloc((size_t)depth * (open_len + 1) + 2);
	size_t o = 0;

	if (!s)
		return NULL;
	for (int i = 0; i < depth; i++, o += open_len)
		memcpy(s + o, open, open_len);
	s[o++] = '1';
	for (int i = 0; i < depth; i++)
		s[o++] = '}';
	s[o] = '\0';
	return s;
}
