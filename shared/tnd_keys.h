/*
 * tnd_keys: the Redis key layout of SPEC section 4. Every key of a
 * collection carries the hash tag {<ns>:<col>} so one collection lives in
 * one Cluster slot and its Lua scripts stay legal there:
 *
 *   {ns:col}:d:<id>  string: the document's JSON (a string, so a list page
 *                    is one MGET per chunk instead of a call per document)
 *   {ns:col}:m:<id>  hash: v (version), c (created_at), o (owner, when it has one)
 *   {ns:col}:ids     sorted set, all scores 0, members = ids (lex order)
 *   {ns:col}:o:<sub> sorted set like :ids, of the documents owned by sub
 *                    (SPEC section 6 `own`: an owner's list never scans others')
 *   {ns:col}:log     stream, one entry per event, one field e = the event
 *                    body (the README's Redis section); entry id = seq
 *   {ns:col}         pub/sub channel carrying "<seq> <body>"
 *
 * ns and col must already be valid names (tnd_valid): they need no escaping.
 */
#ifndef TND_KEYS_H
#define TND_KEYS_H

#include <stddef.h>

#include "tnd_limits.h"

enum tnd_key_kind {
	TND_KEY_CHANNEL,
	TND_KEY_INDEX,
	TND_KEY_LOG,
	TND_KEY_DOC_PREFIX,
	TND_KEY_META_PREFIX,
	TND_KEY_OWNER_PREFIX,
};

/*
 * Writes the key of that kind into buf (TND_KEY_MAX bytes is always enough
 * for valid names). TND_KEY_DOC_PREFIX yields "{ns:col}:d:" and TND_KEY_META_PREFIX
 * "{ns:col}:m:" (append an id), TND_KEY_OWNER_PREFIX "{ns:col}:o:" (append a sub).
 * Returns the length, or -1 when it does not fit.
 */
int tnd_key(char *buf, size_t size, enum tnd_key_kind kind, const char *ns,
	    const char *col, size_t col_len);

#endif
