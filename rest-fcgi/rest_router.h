/*
 * rest_router: turns a request line (method, raw REQUEST_URI) into a route
 * with its collection and id, and parses the list query. Pure functions on
 * untrusted (pointer, length) bytes; no allocation, any thread.
 *
 * Paths are percent-decoded segment by segment and then validated, so an
 * encoded '/', '.', NUL or any other byte outside the name alphabets can
 * only make a name invalid, never change which resource is meant.
 */
#ifndef REST_ROUTER_H
#define REST_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "tnd_error.h"
#include "tnd_valid.h"

#define REST_API_PREFIX "/api/v1"

enum rest_method {
	REST_GET, REST_HEAD, REST_POST, REST_PUT, REST_PATCH, REST_DELETE, REST_OPTIONS,
	REST_METHOD__MAX
};

enum rest_route {
	REST_ROUTE_HEALTH,     /* /_health */
	REST_ROUTE_COLLECTION, /* /{col} */
	REST_ROUTE_DOCUMENT,   /* /{col}/{id} */
	REST_ROUTE__MAX
};

struct rest_target {
	enum rest_route route;
	char collection[TND_COLLECTION_MAX + 1];
	char id[TND_DOC_ID_MAX + 1];
};

struct rest_list_query {
	long long limit;
	bool has_after;
	char after[TND_DOC_ID_MAX + 1];
	/* SPEC section 8, still percent-encoded: pointers into the query string, NULL when absent. */
	const char *where, *fields;
	size_t where_len, fields_len;
};

/* Returns REST_METHOD__MAX for a method Tandem does not serve. */
enum rest_method rest_method_parse(const char *method);
const char *rest_method_name(enum rest_method method);

/*
 * Resolves uri (the raw request target, query string included) into t.
 * Returns 0, or -1 with *err: not_found for paths outside the API,
 * invalid_name / invalid_id for a bad segment.
 */
int rest_route_parse(const char *uri, size_t len, struct rest_target *t, enum tnd_err *err);

/* true when method is served on route; allow gets the "Allow" header value. */
bool rest_route_allows(enum rest_route route, enum rest_method method, const char **allow);

/*
 * Parses limit=1..1000 and after=<id> from a raw query string (NULL or ""
 * gives the defaults). Unknown parameters are ignored; a repeated, empty
 * or malformed known one is invalid_query. Returns 0 or -1 with msg.
 */
int rest_list_query_parse(const char *query, struct rest_list_query *q, char *msg,
			  size_t msglen);

/*
 * Finds the parameter name in a raw query string (NULL is fine). Returns
 * how often it occurs (0, 1, or 2 for "more than once"); on the first,
 * *val and *len get its still-encoded value (borrowed from query).
 */
int rest_query_find(const char *query, const char *name, const char **val, size_t *len);

/*
 * Decodes an application/x-www-form-urlencoded value (what browsers'
 * URLSearchParams and HTML forms send): like rest_percent_decode, but '+'
 * is a space. Returns the decoded length, or -1.
 */
int rest_form_decode(const char *src, size_t len, char *dst, size_t size);

/*
 * Percent-decodes src[0..len) into dst (capacity size, NUL-terminated).
 * '+' is kept as it is. Returns the decoded length, or -1 for a malformed
 * escape or when it does not fit.
 */
int rest_percent_decode(const char *src, size_t len, char *dst, size_t size);

/*
 * Refuses the reserved query parameter names of SPEC section 2 (filter,
 * sort, order, q, select): a client that expects filtering must never
 * silently get everything. query may be NULL. Returns 0, or -1 with msg.
 */
int rest_query_check_reserved(const char *query, char *msg, size_t msglen);

#endif
