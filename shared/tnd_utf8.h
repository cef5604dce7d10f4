/*
 * tnd_utf8: strict UTF-8 validation (RFC 3629, Unicode table 3-7) for
 * bytes from outside: REST bodies and WebSocket text frames.
 *
 * json-c 0.16 lets overlong forms, encoded surrogates, code points above
 * U+10FFFF, truncated sequences and stray continuation bytes through even
 * with JSON_TOKENER_VALIDATE_UTF8, and a browser that receives any of them
 * in a text frame fails the whole connection; so every byte string that
 * may reach a client is checked here first.
 */
#ifndef TND_UTF8_H
#define TND_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Returns true when p[0..len) is well-formed UTF-8. Otherwise false, and
 * *bad_at (when not NULL) gets the offset of the first byte of the first
 * ill-formed sequence.
 */
bool tnd_utf8_valid(const char *p, size_t len, size_t *bad_at);

#endif
