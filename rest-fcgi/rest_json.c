/*
 * rest_json: see rest_json.h.
 */
#include "rest_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const server_fields[] = {"id", "version", "created_at", "updated_at"};

/*
 * json-c accepts NaN and Infinity literals even in strict mode, and
 * serializes out-of-range doubles as such: neither is RFC 8259 JSON.
 * Depth is already bounded by the tokener, so the recursion is too.
 */
static int all_numbers_finite(struct json_object *obj)
{
	switch (json_object_get_type(obj)) {
	case json_type_double:
		return isfinite(json_object_get_double(obj));
	case json_type_array: {
		size_t n = json_object_array_length(obj);
		for (size_t i = 0; i < n; i++)
			if (!all_numbers_finite(json_object_array_get_idx(obj, i)))
				return 0;
		return 1;
	}
	case json_type_object: {
		json_object_object_foreach(obj, key, val) {
			(void)key;
			if (!all_numbers_finite(val))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/* An integer literal fits in int64 (negative) or uint64 (positive). */
static bool integer_fits(const char *s, size_t len)
{
	static const char max_u64[] = "18446744073709551615";
	static const char min_i64[] = "9223372036854775808";
	bool negative = s[0] == '-';
	const char *limit = negative ? min_i64 : max_u64;
	size_t limit_len = strlen(limit);

	if (negative) {
		s++;
		len--;
	}
	if (len != limit_len)
		return len < limit_len;
	return memcmp(s, limit, len) <= 0;
}

/*
 * json-c clamps integers outside int64/uint64 to the nearest limit without
 * an error, which would silently change a client's data. Its tokener has
 * already checked the syntax, so a scan that only tracks strings finds
 * every number token; integer ones must fit. Returns 0 or -1.
 */
static int integers_in_range(const char *p, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
			continue;
		}
		if (c != '-' && (c < '0' || c > '9'))
			continue;
		size_t start = i;
		bool integer = true;
		while (i < len && strchr("+-.0123456789eE", p[i])) {
			if (p[i] == '.' || p[i] == 'e' || p[i] == 'E')
				integer = false;
			i++;
		}
		if (integer && !integer_fits(p + start, i - start))
			return -1;
		i--;
	}
	return 0;
}

static int only_whitespace(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return 0;
	return 1;
}

struct json_object *rest_json_parse_body(const char *buf, size_t len, enum tnd_err *err,
					 char *msg, size_t msglen)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	size_t used;

	/* The tokener counts the top value as depth 1, as the SPEC does. */
	tok = json_tokener_new_ex(REST_JSON_MAX_DEPTH);
	if (!tok) {
		*err = TND_ERR_INTERNAL;
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					    JSON_TOKENER_VALIDATE_UTF8);
	if (len > 0 && memchr(buf, '\0', len)) {
		*err = TND_ERR_INVALID_JSON;
		snprintf(msg, msglen, "the body contains a NUL byte");
		goto out;
	}
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
		if (jerr == json_tokener_error_depth) {
			*err = TND_ERR_INVALID_BODY;
			snprintf(msg, msglen, "nested deeper than %d levels", REST_JSON_MAX_DEPTH);
		} else {
			*err = TND_ERR_INVALID_JSON;
			snprintf(msg, msglen, "invalid JSON: %s",
				 jerr == json_tokener_continue ? "unexpected end of input"
							       : json_tokener_error_desc(jerr));
		}
		goto out;
	}
	used = json_tokener_get_parse_end(tok);
	if (used > len || !only_whitespace(buf + used, len - used)) {
		*err = TND_ERR_INVALID_JSON;
		snprintf(msg, msglen, "invalid JSON: unexpected data after the value");
		goto fail;
	}
	if (integers_in_range(buf, used) < 0) {
		*err = TND_ERR_INVALID_JSON;
		snprintf(msg, msglen, "invalid JSON: an integer is outside the 64-bit range");
		goto fail;
	}
	if (!all_numbers_finite(obj)) {
		*err = TND_ERR_INVALID_JSON;
		snprintf(msg, msglen, "invalid JSON: NaN, Infinity or a number out of range");
		goto fail;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		*err = TND_ERR_INVALID_BODY;
		snprintf(msg, msglen, "the body must be a JSON object");
		goto fail;
	}
	goto out;
fail:
	json_object_put(obj);
	obj = NULL;
out:
	json_tokener_free(tok);
	return obj;
}

int rest_json_check_id(struct json_object *body, const char *id)
{
	struct json_object *val;

	if (!json_object_object_get_ex(body, "id", &val))
		return 0;
	if (!json_object_is_type(val, json_type_string))
		return -1;
	return strcmp(json_object_get_string(val), id) == 0 ? 0 : -1;
}

void rest_json_strip_server_fields(struct json_object *obj)
{
	for (size_t i = 0; i < sizeof(server_fields) / sizeof(server_fields[0]); i++)
		json_object_object_del(obj, server_fields[i]);
}

struct json_object *rest_json_merge_patch(struct json_object *target,
					  struct json_object *patch)
{
	if (!json_object_is_type(patch, json_type_object)) {
		json_object_put(target);
		return json_object_get(patch);
	}
	if (!json_object_is_type(target, json_type_object)) {
		json_object_put(target);
		target = json_object_new_object();
		if (!target)
			return NULL;
	}
	json_object_object_foreach(patch, key, value) {
		struct json_object *old = NULL, *merged;

		if (value == NULL) { /* json-c represents null as NULL */
			json_object_object_del(target, key);
			continue;
		}
		if (json_object_object_get_ex(target, key, &old))
			json_object_get(old); /* keep it alive across the replace below */
		merged = rest_json_merge_patch(old, value);
		if (!merged)
			goto oom;
		/* add takes over our reference and drops the stored one */
		if (json_object_object_add(target, key, merged) != 0) {
			json_object_put(merged);
			goto oom;
		}
	}
	return target;
oom:
	json_object_put(target);
	return NULL;
}

const char *rest_json_plain(struct json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE,
						 len);
}
