/*
 * tnd_json: what json-c's strict mode lets through and RFC 8259 does not,
 * checked on the text json-c has already accepted. Used by tandem-rest on
 * request bodies and by tnd_filter on `where` texts. Pure, any thread.
 */
#ifndef TND_JSON_H
#define TND_JSON_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Scans p[0..len), a text json-c's strict tokener has accepted, for
 * single-quoted strings, raw control bytes in strings, malformed numbers
 * ("1.", leading zeros), integers outside int64/uint64 (json-c clamps
 * them), lone surrogate escapes, member names holding a \u0000 escape
 * (json-c keeps names as C strings and would cut them), and nesting deeper than depth_max
 * (*too_deep then true). Returns NULL when the text is fine, else a short
 * static reason.
 */
const char *tnd_json_strict_scan(const char *p, size_t len, int depth_max, bool *too_deep);

#endif
