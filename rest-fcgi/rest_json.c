/*
 * rest_json: see rest_json.h.
 */
#include "rest_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tnd_utf8.h"

static const char *const server_fields[] = {"id", "version", "created_at", "updated_at", "owner"};

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

/* Length of an RFC 8259 number at p (0 when there is none). */
static size_t number_length(const char *p, size_t len)
{
	size_t i = 0;

	if (i < len && p[i] == '-')
		i++;
	if (i < len && p[i] == '0') {
		i++;
		if (i < len && p[i] >= '0' && p[i] <= '9')
			return 0; /* a leading zero: json-c reads "00" as two numbers' worth of 0 */
	} else if (i < len && p[i] >= '1' && p[i] <= '9') {
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
	} else {
		return 0;
	}
	if (i < len && p[i] == '.') {
		size_t digits = ++i;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == digits)
			return 0;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t digits = i;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == digits)
			return 0;
	}
	return i;
}

/* The value of four hex digits at p (the caller checked there are four), or -1. */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * A \u escape at p (p[0] is the backslash) must not leave half a surrogate
 * pair: json-c would store it as the bytes of an encoded surrogate, which is
 * not UTF-8, and a browser receiving it in a text frame drops the whole
 * connection. Returns how many bytes past the backslash the escape uses
 * (1 for any other escape), or 0 when it is a lone surrogate.
 */
static size_t escape_length(const char *p, size_t len)
{
	long cp;

	if (len < 2 || p[1] != 'u')
		return 1;
	if (len < 6 || (cp = hex4(p + 2)) < 0)
		return 1; /* the tokener has already refused a malformed escape */
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return 0;
	if (cp < 0xD800 || cp > 0xDBFF)
		return 5;
	if (len < 12 || p[6] != '\\' || p[7] != 'u')
		return 0;
	cp = hex4(p + 8);
	return cp >= 0xDC00 && cp <= 0xDFFF ? 11 : 0;
}

/* After a closing quote: whether a ':' follows (the string was a member name). */
static bool is_member_name_end(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i < len && p[i] == ':';
}

/*
 * json-c's strict mode still takes a few things RFC 8259 does not:
 * single-quoted names, raw control bytes inside strings, "1." - and it
 * clamps integers outside int64/uint64 to the nearest limit, which would
 * silently change a client's data. Its depth limit lets an empty
 * innermost container one level too deep through, and lone surrogate
 * escapes become bytes that are not UTF-8. Its tokener has checked
 * everything else, so this pass only tracks strings, escapes, number
 * tokens and nesting. Returns NULL, or the reason the text is not
 * acceptable with *err set.
 */
static const char *strict_scan(const char *p, size_t len, enum tnd_err *err)
{
	bool in_string = false, string_has_nul = false;
	int depth = 0;

	*err = TND_ERR_INVALID_JSON;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (in_string) {
			if ((unsigned char)c < 0x20)
				return "a control character inside a string";
			if (c == '\\') {
				size_t n = escape_length(p + i, len - i);
				if (n == 0)
					return "a \\u escape of half a surrogate pair";
				if (n == 5 && !memcmp(p + i + 1, "u0000", 5))
					string_has_nul = true;
				i += n;
			} else if (c == '"') {
				in_string = false;
				/* json-c keeps member names as C strings: a NUL would cut the name. */
				if (string_has_nul && is_member_name_end(p + i + 1, len - i - 1))
					return "a member name with a \\u0000 escape";
			}
			continue;
		}
		if (c == '"') {
			in_string = true;
			string_has_nul = false;
		} else if (c == '{' || c == '[') {
			if (++depth > TND_JSON_DEPTH_MAX) {
				*err = TND_ERR_INVALID_BODY;
				return "nested too deep";
			}
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '\'') {
			return "single quotes";
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t n = number_length(p + i, len - i);
			bool integer = n > 0 && !memchr(p + i, '.', n) && !memchr(p + i, 'e', n) &&
				       !memchr(p + i, 'E', n);
			if (n == 0)
				return "a malformed number";
			if (integer && !integer_fits(p + i, n))
				return "an integer outside the 64-bit range";
			i += n - 1;
		}
	}
	return NULL;
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
	const char *why;
	size_t used, bad_at;

	/* The tokener refuses depth >= its limit; the SPEC allows 64 counting the top. */
	tok = json_tokener_new_ex(TND_JSON_DEPTH_MAX + 1);
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
	if (!tnd_utf8_valid(buf, len, &bad_at)) {
		*err = TND_ERR_INVALID_JSON;
		snprintf(msg, msglen, "the body is not valid UTF-8 (byte %zu)", bad_at);
		goto out;
	}
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	/* A bare number at the very end may go on; a NUL tells the tokener it is over. */
	if (!obj && jerr == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		used = len;
	}
	if (!obj && jerr == json_tokener_success) {
		/* json-c's null is the NULL object */
		*err = TND_ERR_INVALID_BODY;
		snprintf(msg, msglen, "the body must be a JSON object");
		goto out;
	}
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
		if (jerr == json_tokener_error_depth) {
			*err = TND_ERR_INVALID_BODY;
			snprintf(msg, msglen, "nested deeper than %d levels", TND_JSON_DEPTH_MAX);
		} else {
			*err = TND_ERR_INVALID_JSON;
			snprintf(msg, msglen, "invalid JSON: %s",
				 jerr == json_tokener_continue ? "unexpected end of input"
							       : json_tokener_error_desc(jerr));
		}
		goto out;
	}
	if (used > len || !only_whitespace(buf + used, len - used)) {
		*err = TND_ERR_INVALID_JSON;
		snprintf(msg, msglen, "invalid JSON: unexpected data after the value");
		goto fail;
	}
	if ((why = strict_scan(buf, used, err)) != NULL) {
		if (*err == TND_ERR_INVALID_BODY)
			snprintf(msg, msglen, "nested deeper than %d levels", TND_JSON_DEPTH_MAX);
		else
			snprintf(msg, msglen, "invalid JSON: %s", why);
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
