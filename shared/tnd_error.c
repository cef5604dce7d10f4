/*
 * tnd_error: tables for the SPEC error codes and the JSON error body.
 */
#include "tnd_error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *code;
	int status;
	const char *message;
} err_table[TND_ERR__MAX] = {
	[TND_ERR_INVALID_JSON] = {"invalid_json", 400, "the body is not valid JSON"},
	[TND_ERR_INVALID_BODY] = {"invalid_body", 400, "the body must be a JSON object"},
	[TND_ERR_INVALID_NAME] = {"invalid_name", 400, "invalid collection name"},
	[TND_ERR_INVALID_ID] = {"invalid_id", 400, "invalid document id"},
	[TND_ERR_ID_MISMATCH] = {"id_mismatch", 400, "the id in the body differs from the id in the path"},
	[TND_ERR_INVALID_QUERY] = {"invalid_query", 400, "invalid query parameter"},
	[TND_ERR_TOO_LARGE] = {"too_large", 413, "the request body is too large"},
	[TND_ERR_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415, "Content-Type must be application/json"},
	[TND_ERR_NOT_FOUND] = {"not_found", 404, "not found"},
	[TND_ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "method not allowed"},
	[TND_ERR_VERSION_CONFLICT] = {"version_conflict", 412, "the document has another version"},
	[TND_ERR_ALREADY_EXISTS] = {"already_exists", 412, "the document already exists"},
	[TND_ERR_UNAUTHORIZED] = {"unauthorized", 401, "authentication required"},
	[TND_ERR_FORBIDDEN] = {"forbidden", 403, "forbidden"},
	[TND_ERR_STORE_UNAVAILABLE] = {"store_unavailable", 503, "the data store is unavailable, retry later"},
	[TND_ERR_INTERNAL] = {"internal", 500, "internal error"},
	[TND_ERR_UNKNOWN_OP] = {"unknown_op", 400, "unknown op"},
	[TND_ERR_TOO_MANY_SUBSCRIPTIONS] = {"too_many_subscriptions", 400, "too many subscriptions on this connection"},
	[TND_ERR_NOT_REPLICATED] = {"not_replicated", 503,
				    "the write is done and published, but not confirmed by the replicas "
				    "asked for; retry only conditionally (If-Match / If-None-Match: *)"},
};

static const char *const errno_text[] = {
	[-TND_EINVAL] = "invalid input",
	[-TND_ENOMEM] = "out of memory",
	[-TND_ETOOLONG] = "too long",
	[-TND_EUNAVAIL] = "Redis unavailable",
	[-TND_EPROTO] = "unexpected reply",
	[-TND_ENOTFOUND] = "not found",
	[-TND_EEXIST] = "already exists",
	[-TND_ECONFLICT] = "version conflict",
	[-TND_EIO] = "system call failed",
	[-TND_ENOTREPL] = "not confirmed by enough replicas",
};

const char *tnd_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code < 0 && code > TND_E__MIN)
		return errno_text[-code];
	return "unknown error";
}

static bool err_known(enum tnd_err err)
{
	return err > 0 && err < TND_ERR__MAX;
}

const char *tnd_err_code(enum tnd_err err)
{
	return err_known(err) ? err_table[err].code : "internal";
}

int tnd_err_status(enum tnd_err err)
{
	return err_known(err) ? err_table[err].status : 500;
}

const char *tnd_err_message(enum tnd_err err)
{
	return err_known(err) ? err_table[err].message : "internal error";
}

enum tnd_err tnd_err_from_code(const char *code)
{
	for (int i = 1; i < TND_ERR__MAX; i++)
		if (strcmp(err_table[i].code, code) == 0)
			return (enum tnd_err)i;
	return TND_ERR__MAX;
}

int tnd_json_escape(char *dst, size_t size, size_t dst_len, const char *src,
		    size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = dst_len;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc = 0;

		switch (c) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\t': esc = 't'; break;
		default: break;
		}
		if (esc) {
			if (o + 2 >= size)
				goto trunc;
			dst[o++] = '\\';
			dst[o++] = esc;
		} else if (c < 0x20) {
			if (o + 6 >= size)
				goto trunc;
			memcpy(dst + o, "\\u00", 4);
			dst[o + 4] = hex[c >> 4];
			dst[o + 5] = hex[c & 15];
			o += 6;
		} else {
			if (o + 1 >= size)
				goto trunc;
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return (int)o;
trunc:
	dst[o] = '\0';
	return -1;
}

int tnd_err_body(char *buf, size_t size, enum tnd_err err, const char *message,
		 long long current_version)
{
	char msg[256];
	const char *text = message ? message : tnd_err_message(err);
	size_t text_len = strnlen(text, 200);
	int n;

	if (tnd_json_escape(msg, sizeof(msg), 0, text, text_len) < 0)
		msg[0] = '\0';
	if (current_version >= 0)
		n = snprintf(buf, size,
			     "{\"error\":{\"status\":%d,\"code\":\"%s\",\"message\":\"%s\",\"current_version\":%lld}}",
			     tnd_err_status(err), tnd_err_code(err), msg, current_version);
	else
		n = snprintf(buf, size, "{\"error\":{\"status\":%d,\"code\":\"%s\",\"message\":\"%s\"}}",
			     tnd_err_status(err), tnd_err_code(err), msg);
	if (n < 0 || (size_t)n >= size) {
		snprintf(buf, size, "{\"error\":{\"status\":%d,\"code\":\"%s\",\"message\":\"\"}}",
			 tnd_err_status(err), tnd_err_code(err));
		return -1;
	}
	return n;
}
