/*
 * jsongen: see jsongen.h.
 */
#include "jsongen.h"

#include <stdlib.h>
#include <string.h>

char *jsongen_nested_around(int depth, const char *inner)
{
	static const char open[] = "{\"a\":";
	const size_t open_len = sizeof(open) - 1, inner_len = strlen(inner);
	char *s = malloc((size_t)depth * (open_len + 1) + inner_len + 1);
	size_t o = 0;

	if (!s)
		return NULL;
	for (int i = 0; i < depth; i++, o += open_len)
		memcpy(s + o, open, open_len);
	memcpy(s + o, inner, inner_len);
	o += inner_len;
	for (int i = 0; i < depth; i++)
		s[o++] = '}';
	s[o] = '\0';
	return s;
}

char *jsongen_nested(int depth)
{
	return jsongen_nested_around(depth, "1");
}
