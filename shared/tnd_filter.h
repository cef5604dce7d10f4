/*
 * tnd_filter: the `where` language of SPEC section 8, shared by tandem-rest
 * (filtered lists) and tandem-notifier (filtered subscriptions).
 *
 * A where text is parsed once into a compiled filter (tnd_filter_compile),
 * owned by the caller and released with tnd_filter_free; the filter is
 * then evaluated against any number of json-c documents
 * (tnd_filter_match). Evaluation allocates nothing and changes nothing, so
 * one compiled filter may be evaluated from several threads at once.
 *
 * The language, in short (README "Filtering" has the long form):
 *   where  = { cond, ... }                 all must hold; {} matches all
 *   cond   = "path": value                 deep equality (1 = 1.0; null
 *                                          also matches an absent field)
 *          | "path": { "$op": operand, ...}  all ops must hold
 *          | "$or": [ where, ... ]         at least one must hold
 *   ops    = $eq $ne $gt $gte $lt $lte $in $nin $exists $prefix
 *   path   = name or dotted path (a.b.c); a path through a non-object (or
 *            through null) is absent. Arrays are values, never searched.
 *
 * Decisions where SPEC section 8 is silent (also in the README):
 *   - an object value whose keys all start with '$' is an operator object;
 *     one with no '$' key is a plain value (deep equality); a mix is an
 *     error. A field name (or path segment) may not start with '$', and
 *     no segment may be empty ("a..b", ".a", "");
 *   - $or needs a non-empty array of objects; `{}` inside it matches all;
 *   - conditions are counted as each plain value and each operator,
 *     inside $or too; $or itself is not a condition;
 *   - $gt/$gte/$lt/$lte take a number or a string; $in/$nin an array
 *     (possibly empty: $in [] matches nothing); $exists a boolean; $prefix
 *     a string; $eq/$ne any value;
 *   - duplicate keys in one object: the last one wins (json-c's rule).
 */
#ifndef TND_FILTER_H
#define TND_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct tnd_filter;

/*
 * Parses and compiles where[0..len) (untrusted bytes; need not be
 * NUL-terminated). On success returns 0 and *out owns a new filter (free
 * it with tnd_filter_free). On failure returns TND_EINVAL (bad JSON, not
 * an object, unknown operator, wrong operand type, over a cap of
 * tnd_limits.h) or TND_ENOMEM, *out is NULL, and msg (capacity msglen,
 * NUL-terminated, may be cut) names the problem: the byte offset for JSON
 * errors, the operator and field otherwise. The text is safe to show to
 * the client (no raw input bytes beyond names cut at 64 bytes).
 */
int tnd_filter_compile(const char *where, size_t len, struct tnd_filter **out, char *msg,
		       size_t msglen);

/*
 * The same for a where already parsed as part of a larger message (the
 * notifier's subscribe op): where must be a JSON object the caller has
 * already checked as strict JSON no deeper than TND_WHERE_DEPTH_MAX and
 * whose text was at most TND_WHERE_MAX bytes. The filter takes its own
 * reference to where (the caller keeps its own). Same results as above.
 */
int tnd_filter_compile_object(struct json_object *where, struct tnd_filter **out, char *msg,
			      size_t msglen);

/* Frees a filter from tnd_filter_compile; NULL is fine. */
void tnd_filter_free(struct tnd_filter *f);

/*
 * true when doc (a JSON object; NULL or a non-object matches only
 * conditions that hold for absent fields) satisfies the filter. Borrows
 * both; allocates nothing.
 */
bool tnd_filter_match(const struct tnd_filter *f, struct json_object *doc);

/* The number of conditions of a compiled filter (0 for `{}`). */
int tnd_filter_conditions(const struct tnd_filter *f);

#endif
