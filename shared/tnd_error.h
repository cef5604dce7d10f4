/*
 * tnd_error: the two kinds of error in Tandem.
 *
 * Inside the programs, a function that can fail returns 0 or a negative
 * TND_E* code (enum tnd_errno), and tnd_strerror() names it, as libuv's
 * uv_strerror does; a long-lived context (a store, a link) keeps the
 * details in an errstr buffer of its own. Lower layers set that text and
 * never log: the caller that answers the client logs once, with its
 * request or connection id.
 *
 * On the wire, the SPEC's error codes (enum tnd_err, section 2 and 5)
 * index parallel tables (code name, HTTP status, default message), so that
 * REST and WebSocket answers spell every error the same way. The wire
 * codes start at 1, so 0 is never an error of either kind.
 *
 * Pure functions, no state: safe from any thread.
 */
#ifndef TND_ERROR_H
#define TND_ERROR_H

#include <stddef.h>

/* Internal results: 0 is success, each failure a distinct negative code. */
enum tnd_errno {
	TND_EINVAL = -1,    /* malformed or out-of-range input */
	TND_ENOMEM = -2,    /* an allocation failed */
	TND_ETOOLONG = -3,  /* does not fit its buffer or cap */
	TND_EUNAVAIL = -4,  /* Redis unreachable, timed out or refusing writes (OOM): retry later */
	TND_EPROTO = -5,    /* an unexpected reply: a damaged store or a bug */
	TND_ENOTFOUND = -6, /* no such document */
	TND_EEXIST = -7,    /* a create-only write found the document */
	TND_ECONFLICT = -8, /* a version precondition failed */
	TND_EIO = -9,       /* a system call failed */
	TND_ENOTREPL = -10, /* a write is done but fewer replicas than asked confirmed it (WAIT) */
	TND_E__MIN = -11
};

/* A short text for a TND_E* code (or 0). Static storage. */
const char *tnd_strerror(int code);

enum tnd_err {
	TND_ERR_INVALID_JSON = 1,
	TND_ERR_INVALID_BODY,
	TND_ERR_INVALID_NAME,
	TND_ERR_INVALID_ID,
	TND_ERR_ID_MISMATCH,
	TND_ERR_INVALID_QUERY,
	TND_ERR_TOO_LARGE,
	TND_ERR_UNSUPPORTED_MEDIA_TYPE,
	TND_ERR_NOT_FOUND,
	TND_ERR_METHOD_NOT_ALLOWED,
	TND_ERR_VERSION_CONFLICT,
	TND_ERR_ALREADY_EXISTS,
	TND_ERR_UNAUTHORIZED,
	TND_ERR_FORBIDDEN,
	TND_ERR_STORE_UNAVAILABLE,
	TND_ERR_INTERNAL,
	TND_ERR_UNKNOWN_OP,
	TND_ERR_TOO_MANY_SUBSCRIPTIONS,
	TND_ERR_NOT_REPLICATED,
	TND_ERR__MAX
};

/* The SPEC code string, e.g. "invalid_json". Static storage. */
const char *tnd_err_code(enum tnd_err err);
/* The HTTP status that goes with the code (400, 404, ...). */
int tnd_err_status(enum tnd_err err);
/* A default human message. Static storage. */
const char *tnd_err_message(enum tnd_err err);
/* Looks a code string up; returns TND_ERR__MAX when unknown. */
enum tnd_err tnd_err_from_code(const char *code);

/*
 * Writes {"error":{"status":S,"code":"...","message":"..."}} into buf,
 * NUL-terminated. message may be NULL for the default; it is JSON-escaped
 * and cut at 200 bytes. current_version >= 0 adds "current_version".
 * Returns the length written, or -1 when buf is too small (buf then holds
 * a shorter but valid body whenever size >= 128).
 */
int tnd_err_body(char *buf, size_t size, enum tnd_err err, const char *message,
		 long long current_version);

/*
 * Appends the JSON-escaped form of src[0..len) to dst (capacity size,
 * NUL-terminated on return), without quotes. Control bytes become \u00XX;
 * bytes >= 0x80 are copied as they are (callers pass valid UTF-8 or accept
 * it verbatim). Returns the new length of dst, or -1 on truncation.
 */
int tnd_json_escape(char *dst, size_t size, size_t dst_len, const char *src,
		    size_t len);

#endif
