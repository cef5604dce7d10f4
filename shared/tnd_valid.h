/*
 * tnd_valid: the name rules of SPEC section 1, on (pointer, length) input
 * so that bytes from a URL or a frame never need a terminating NUL.
 */
#ifndef TND_VALID_H
#define TND_VALID_H

#include <stdbool.h>
#include <stddef.h>

#include "tnd_limits.h"

/* A collection name: [a-z0-9][a-z0-9_-]{0,63}. Reserved "_x" fails. */
bool tnd_valid_collection(const char *s, size_t len);
/* A document id: [A-Za-z0-9_-]{1,128}. */
bool tnd_valid_doc_id(const char *s, size_t len);
/*
 * A document owner (a token's sub, SPEC section 6): 1..TND_SUB_MAX bytes of
 * printable ASCII without '"' or '\\', so it goes into JSON and Redis keys
 * unescaped.
 */
bool tnd_valid_owner(const char *s, size_t len);

#endif
