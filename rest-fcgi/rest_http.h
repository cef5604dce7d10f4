/*
 * rest_http: one HTTP exchange over a FastCGI request: reading CGI
 * parameters and the bounded body, and writing status, headers (CORS
 * included) and JSON bodies. Used by one worker thread per request.
 *
 * Strings returned by rest_http_param() are borrowed from libfcgi and live
 * until FCGX_Finish_r(); the body buffer is owned by the exchange and
 * released by rest_http_finish().
 */
#ifndef REST_HTTP_H
#define REST_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <fcgiapp.h>

#include "tnd_error.h"
#include "tnd_limits.h"


struct rest_cors {
	const char *allowed_origins; /* comma list; NULL = any origin */
};

struct rest_http {
	FCGX_Request *req;
	const struct rest_cors *cors;
	bool head;          /* HEAD: headers only */
	bool origin_ok;     /* request had an Origin we answer CORS for */
	const char *origin; /* borrowed */
	unsigned long id;   /* request number, for log lines */
	int status;         /* of the answer, once started (0 before) */
	char *body;         /* owned; NULL until read */
	size_t body_len;
};

void rest_http_begin(struct rest_http *h, FCGX_Request *req, const struct rest_cors *cors,
		     unsigned long id);
/* Frees what the exchange owns. */
void rest_http_finish(struct rest_http *h);

/* A CGI parameter or NULL (borrowed, see above). */
const char *rest_http_param(const struct rest_http *h, const char *name);

/* true when the request's Origin is allowed (or absent). */
bool rest_http_origin_allowed(const struct rest_http *h);

/*
 * Reads the request body, at most max bytes. Returns 0 (h->body holds the
 * bytes plus a NUL), or -1 with *err: too_large when the declared or real
 * length exceeds max (nothing past max + 1 bytes is read), invalid_json
 * when the body is empty or cut short, internal when out of memory.
 */
int rest_http_read_body(struct rest_http *h, size_t max, enum tnd_err *err);

/*
 * Starts a response: status line, our headers, CORS, and extra (zero or
 * more complete "Name: value\r\n" lines, or NULL). A body of body_len
 * bytes follows with rest_http_write() unless the request is HEAD.
 * content_type NULL means no body at all (204, 304).
 */
void rest_http_start(struct rest_http *h, int status, const char *content_type,
		     const char *extra);
void rest_http_write(struct rest_http *h, const char *data, size_t len);

/* A complete JSON response. */
void rest_http_json(struct rest_http *h, int status, const char *extra, const char *body,
		    size_t len);

/*
 * A complete SPEC error response; message NULL = default text;
 * current_version >= 0 adds it to the error object.
 */
void rest_http_error(struct rest_http *h, enum tnd_err err, const char *message,
		     long long current_version, const char *extra);

#endif
