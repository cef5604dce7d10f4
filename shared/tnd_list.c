/*
 * tnd_list: see tnd_list.h.
 */
#include "tnd_list.h"

#include <string.h>

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool tnd_list_each(const char *list, bool (*fn)(const char *item, size_t len, void *data),
		   void *data)
{
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		const char *s = p, *e = p + len;

		while (s < e && is_ows(*s))
			s++;
		while (e > s && is_ows(e[-1]))
			e--;
		if (e > s && fn(s, (size_t)(e - s), data))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

struct wanted {
	const char *item;
	size_t len;
};

static bool equals_wanted(const char *item, size_t len, void *data)
{
	const struct wanted *w = data;

	return len == w->len && memcmp(item, w->item, len) == 0;
}

bool tnd_list_contains(const char *list, const char *item, size_t len)
{
	struct wanted w = {item, len};

	return tnd_list_each(list, equals_wanted, &w);
}
