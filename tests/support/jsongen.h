/*
 * jsongen: JSON texts that tests need at exact sizes and depths.
 * Each function returns a malloc'd NUL-terminated string the caller frees,
 * or NULL when out of memory.
 */
#ifndef TEST_JSONGEN_H
#define TEST_JSONGEN_H

#include <stddef.h>

/* {"a":{"a":...1...}} with depth objects (the top one counts). */
char *jsongen_nested(int depth);
/* depth objects around inner: ("{}" at depth 64 nests 65 containers). */
char *jsongen_nested_around(int depth, const char *inner);

#endif
