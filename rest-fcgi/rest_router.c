/*
 * rest_router: see rest_router.h.
 */
#include "rest_router.h"

#include <stdio.h>
#include <string.h>

#include "tnd_num.h"

static const char *const method_names[REST_METHOD__MAX] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

/* Bit sets of methods, and the Allow header that spells each set. */
#define M(x) (1u << (x))
static const struct {
	unsigned methods;
	const char *allow;
} route_methods[REST_ROUTE__MAX] = {
	[REST_ROUTE_HEALTH] = {M(REST_GET) | M(REST_HEAD) | M(REST_OPTIONS), "GET, HEAD, OPTIONS"},
	[REST_ROUTE_COLLECTION] = {M(REST_GET) | M(REST_HEAD) | M(REST_POST) | M(REST_OPTIONS),
				   "GET, HEAD, POST, OPTIONS"},
	[REST_ROUTE_DOCUMENT] = {M(REST_GET) | M(REST_HEAD) | M(REST_PUT) | M(REST_PATCH) |
					 M(REST_DELETE) | M(REST_OPTIONS),
				 "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"},
};
#undef M

enum rest_method rest_method_parse(const char *method)
{
	for (int i = 0; method && i < REST_METHOD__MAX; i++)
		if (strcmp(method, method_names[i]) == 0)
			return (enum rest_method)i;
	return REST_METHOD__MAX;
}

const char *rest_method_name(enum rest_method method)
{
	return method < REST_METHOD__MAX ? method_names[method] : "?";
}

bool rest_route_allows(enum rest_route route, enum rest_method method, const char **allow)
{
	*allow = route_methods[route].allow;
	return method < REST_METHOD__MAX && (route_methods[route].methods & (1u << method));
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int decode(const char *src, size_t len, char *dst, size_t size, bool plus_is_space)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = hex_value(src[i + 1]);
			lo = hex_value(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= size)
			return -1;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return (int)o;
}

int rest_percent_decode(const char *src, size_t len, char *dst, size_t size)
{
	return decode(src, len, dst, size, false);
}

int rest_form_decode(const char *src, size_t len, char *dst, size_t size)
{
	return decode(src, len, dst, size, true);
}

int rest_route_parse(const char *uri, size_t len, struct rest_target *t, enum tnd_err *err)
{
	const size_t prefix_len = sizeof(REST_API_PREFIX) - 1;
	const char *path, *end, *slash;
	/* Room for one byte past the limit, so an over-long name is seen as such. */
	char seg[TND_DOC_ID_MAX + 2];
	int n;

	*err = TND_ERR_NOT_FOUND;
	memset(t, 0, sizeof(*t));
	end = memchr(uri, '?', len);
	if (!end)
		end = uri + len;
	if ((size_t)(end - uri) <= prefix_len + 1 || memcmp(uri, REST_API_PREFIX "/", prefix_len + 1))
		return -1;
	path = uri + prefix_len + 1;

	slash = memchr(path, '/', (size_t)(end - path));
	n = rest_percent_decode(path, (size_t)((slash ? slash : end) - path), seg, sizeof(seg));
	if (n == 0)
		return -1;
	if (!slash && n > 0 && strcmp(seg, "_health") == 0) {
		t->route = REST_ROUTE_HEALTH;
		return 0;
	}
	if (n < 0 || !tnd_valid_collection(seg, (size_t)n)) {
		*err = TND_ERR_INVALID_NAME;
		return -1;
	}
	memcpy(t->collection, seg, (size_t)n + 1);
	if (!slash) {
		t->route = REST_ROUTE_COLLECTION;
		return 0;
	}
	path = slash + 1;
	if (memchr(path, '/', (size_t)(end - path)) || path == end)
		return -1; /* deeper paths and a trailing slash name no resource */
	n = rest_percent_decode(path, (size_t)(end - path), seg, sizeof(seg));
	if (n < 0 || !tnd_valid_doc_id(seg, (size_t)n)) {
		*err = TND_ERR_INVALID_ID;
		return -1;
	}
	memcpy(t->id, seg, (size_t)n + 1);
	t->route = REST_ROUTE_DOCUMENT;
	return 0;
}

static int set_limit(struct rest_list_query *q, const char *val, size_t len, char *msg,
		     size_t msglen)
{
	char buf[32];
	int n = rest_percent_decode(val, len, buf, sizeof(buf));

	if (n < 0 || tnd_num_parse(buf, (size_t)n, 1, TND_LIST_LIMIT_MAX, &q->limit) < 0) {
		snprintf(msg, msglen, "limit must be an integer from 1 to %d", TND_LIST_LIMIT_MAX);
		return -1;
	}
	return 0;
}

static int set_after(struct rest_list_query *q, const char *val, size_t len, char *msg,
		     size_t msglen)
{
	char buf[TND_DOC_ID_MAX + 2];
	int n = rest_percent_decode(val, len, buf, sizeof(buf));

	if (n < 0 || !tnd_valid_doc_id(buf, (size_t)n)) {
		snprintf(msg, msglen, "after must be a document id");
		return -1;
	}
	memcpy(q->after, buf, (size_t)n + 1);
	q->has_after = true;
	return 0;
}

int rest_list_query_parse(const char *query, struct rest_list_query *q, char *msg,
			  size_t msglen)
{
	bool seen_limit = false;
	const char *p = query;

	q->limit = TND_LIST_LIMIT_DEFAULT;
	q->has_after = false;
	q->after[0] = '\0';
	q->where = q->fields = NULL;
	q->where_len = q->fields_len = 0;
	while (p && *p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq ? (size_t)(eq - p) : len;
		const char *val = eq ? eq + 1 : p + len;
		size_t val_len = eq ? len - key_len - 1 : 0;

		if (key_len == 5 && !memcmp(p, "limit", 5)) {
			if (seen_limit) {
				snprintf(msg, msglen, "limit is given twice");
				return -1;
			}
			seen_limit = true;
			if (set_limit(q, val, val_len, msg, msglen) < 0)
				return -1;
		} else if (key_len == 5 && !memcmp(p, "after", 5)) {
			if (q->has_after) {
				snprintf(msg, msglen, "after is given twice");
				return -1;
			}
			if (set_after(q, val, val_len, msg, msglen) < 0)
				return -1;
		} else if ((key_len == 5 && !memcmp(p, "where", 5)) ||
			   (key_len == 6 && !memcmp(p, "fields", 6))) {
			bool is_where = key_len == 5;
			if (is_where ? q->where != NULL : q->fields != NULL) {
				snprintf(msg, msglen, "%s is given twice", is_where ? "where" : "fields");
				return -1;
			}
			*(is_where ? &q->where : &q->fields) = val;
			*(is_where ? &q->where_len : &q->fields_len) = val_len;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

/*
 * Names a client may use expecting the server to filter or sort; ignoring
 * them would hand it every document as if they had been applied.
 */
static const char *const reserved_params[] = {"filter", "sort", "order", "q", "select"};

int rest_query_check_reserved(const char *query, char *msg, size_t msglen)
{
	for (const char *p = query; p && *p;) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq ? (size_t)(eq - p) : len;

		for (size_t i = 0; i < sizeof(reserved_params) / sizeof(reserved_params[0]); i++) {
			if (key_len == strlen(reserved_params[i]) &&
			    !memcmp(p, reserved_params[i], key_len)) {
				snprintf(msg, msglen, "the query parameter %s is not supported",
					 reserved_params[i]);
				return -1;
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

int rest_query_find(const char *query, const char *name, const char **val, size_t *len)
{
	size_t name_len = strlen(name);
	int found = 0;

	for (const char *p = query; p && *p;) {
		size_t plen = strcspn(p, "&");
		const char *eq = memchr(p, '=', plen);
		size_t key_len = eq ? (size_t)(eq - p) : plen;

		if (key_len == name_len && !memcmp(p, name, name_len)) {
			if (found++)
				return 2;
			*val = eq ? eq + 1 : p + plen;
			*len = eq ? plen - key_len - 1 : 0;
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return found;
}
