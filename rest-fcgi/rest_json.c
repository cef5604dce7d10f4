/*
 * rest_json: see rest_json.h.
 */
#include "rest_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tnd_json.h"
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
	bool too_deep;

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
	if ((why = tnd_json_strict_scan(buf, used, TND_JSON_DEPTH_MAX, &too_deep)) != NULL) {
		*err = too_deep ? TND_ERR_INVALID_BODY : TND_ERR_INVALID_JSON;
		if (too_deep)
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
