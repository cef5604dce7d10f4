/*
 * tnd_list: comma-separated lists as HTTP writes them (RFC 9110 section
 * 5.6.1): elements separated by commas, optional spaces and tabs around
 * each, empty elements ignored. One reader for every such list in
 * Tandem: TANDEM_ALLOWED_ORIGINS, If-Match / If-None-Match.
 * Pure functions on (pointer, length) elements; nothing allocates.
 */
#ifndef TND_LIST_H
#define TND_LIST_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Calls fn for each trimmed, non-empty element of list (NULL = empty list),
 * in order, until fn returns true. Returns true when fn did.
 */
bool tnd_list_each(const char *list, bool (*fn)(const char *item, size_t len, void *data),
		   void *data);

/* Whether list holds an element equal (byte for byte) to item[0..len). */
bool tnd_list_contains(const char *list, const char *item, size_t len);

#endif
