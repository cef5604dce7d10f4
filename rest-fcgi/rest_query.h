/*
 * rest_query: the query side of SPEC section 8 for tandem-rest: decoding
 * and compiling `where` (the language itself is shared/tnd_filter),
 * parsing `fields` and projecting documents on them, and the growable
 * buffer a page is built in before it is answered.
 *
 * Pure functions; any thread. Ownership is written at each function.
 */
#ifndef REST_QUERY_H
#define REST_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "tnd_filter.h"
#include "tnd_limits.h"

/*
 * Decodes a raw (form-encoded: '+' is a space) where value and compiles
 * it. Returns 0 with *out (free with tnd_filter_free), TND_EINVAL with a
 * message for 400 invalid_query in msg, or TND_ENOMEM.
 */
int rest_where_compile(const char *raw, size_t len, struct tnd_filter **out, char *msg,
		       size_t msglen);

/* `fields=a,b.c`: up to TND_FIELDS_MAX dotted names. */
struct rest_fields {
	int n;
	char text[TND_FIELDS_TEXT_MAX + 1]; /* decoded; each name NUL-terminated, dots kept */
	const char *name[TND_FIELDS_MAX];   /* into text */
};

/*
 * Parses a raw fields value into fs. Names are comma-separated dotted
 * paths of non-empty parts; duplicates are kept (harmless). Returns 0, or
 * -1 with msg for 400 invalid_query (empty, too long, too many, an empty
 * name or part).
 */
int rest_fields_parse(const char *raw, size_t len, struct rest_fields *fs, char *msg,
		      size_t msglen);

/*
 * A new object holding doc's id and version and the fields of fs that doc
 * has, dotted ones nested as in doc ({"b":{"c":...}}); values are shared
 * with doc (json-c references). Caller puts it. NULL when out of memory.
 */
struct json_object *rest_fields_project(const struct rest_fields *fs, struct json_object *doc);

/* A growable byte buffer; owns p (free with rest_buf_free). */
struct rest_buf {
	char *p;
	size_t len, cap;
};

/* Appends; returns 0 or TND_ENOMEM (buf unchanged). */
int rest_buf_add(struct rest_buf *b, const char *data, size_t len);
void rest_buf_free(struct rest_buf *b);

#endif
