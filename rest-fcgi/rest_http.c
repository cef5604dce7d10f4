/*
 * rest_http: see rest_http.h.
 */
#include "rest_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tnd_list.h"
#include "tnd_log.h"
#include "tnd_num.h"


static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* An Origin is echoed into a header: only plain printable ASCII will do. */
static bool origin_is_sane(const char *origin)
{
	size_t len = strnlen(origin, TND_ORIGIN_MAX + 1);

	if (len == 0 || len > TND_ORIGIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (origin[i] < 0x21 || origin[i] > 0x7e)
			return false;
	return true;
}

void rest_http_begin(struct rest_http *h, FCGX_Request *req, const struct rest_cors *cors,
		     unsigned long id)
{
	memset(h, 0, sizeof(*h));
	h->req = req;
	h->cors = cors;
	h->id = id;
	h->origin = FCGX_GetParam("HTTP_ORIGIN", req->envp);
	h->origin_ok = h->origin && origin_is_sane(h->origin) &&
		       (!cors->allowed_origins ||
			tnd_list_contains(cors->allowed_origins, h->origin, strlen(h->origin)));
}

void rest_http_finish(struct rest_http *h)
{
	free(h->body);
	h->body = NULL;
}

const char *rest_http_param(const struct rest_http *h, const char *name)
{
	return FCGX_GetParam(name, h->req->envp);
}

bool rest_http_origin_allowed(const struct rest_http *h)
{
	return !h->origin || h->origin_ok;
}

int rest_http_read_body(struct rest_http *h, size_t max, enum tnd_err *err)
{
	const char *cl = rest_http_param(h, "CONTENT_LENGTH");
	long long declared = -1;
	size_t cap, got = 0;
	int n;

	if (cl && *cl && tnd_num_parse_str(cl, 0, (long long)1 << 62, &declared) < 0) {
		*err = TND_ERR_INVALID_JSON;
		return -1;
	}
	if (declared > (long long)max) {
		*err = TND_ERR_TOO_LARGE;
		return -1;
	}
	/* Without a length, read one byte past the limit to see it is passed. */
	cap = declared >= 0 ? (size_t)declared : max + 1;
	h->body = malloc(cap + 1);
	if (!h->body) {
		*err = TND_ERR_INTERNAL;
		return -1;
	}
	while (got < cap && (n = FCGX_GetStr(h->body + got, (int)(cap - got), h->req->in)) > 0)
		got += (size_t)n;
	h->body[got] = '\0';
	h->body_len = got;
	if (got > max) {
		*err = TND_ERR_TOO_LARGE;
		return -1;
	}
	if (declared >= 0 && got < (size_t)declared) {
		*err = TND_ERR_INVALID_JSON;
		return -1;
	}
	return 0;
}

void rest_http_start(struct rest_http *h, int status, const char *content_type,
		     const char *extra)
{
	char head[TND_RESPONSE_HEADERS_MAX];
	int n;

	h->status = status;
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n%s%s%s%s%s%s%s\r\n", status,
		     reason_phrase(status), content_type ? "Content-Type: " : "",
		     content_type ? content_type : "", content_type ? "\r\n" : "",
		     h->origin_ok ? "Access-Control-Allow-Origin: " : "",
		     h->origin_ok ? (h->cors->allowed_origins ? h->origin : "*") : "",
		     h->origin_ok ? "\r\nVary: Origin\r\n"
				    "Access-Control-Expose-Headers: ETag, Location, Tandem-Seq\r\n"
				  : "",
		     extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		tnd_log_error("req %lu: response headers too long", h->id);
		n = snprintf(head, sizeof(head), "Status: 500 Internal Server Error\r\n\r\n");
	}
	FCGX_PutStr(head, n, h->req->out);
}

void rest_http_write(struct rest_http *h, const char *data, size_t len)
{
	if (h->head)
		return;
	while (len > 0) {
		int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
		if (FCGX_PutStr(data, chunk, h->req->out) < 0)
			return; /* the client went away; nothing more to do */
		data += chunk;
		len -= (size_t)chunk;
	}
}

void rest_http_json(struct rest_http *h, int status, const char *extra, const char *body,
		    size_t len)
{
	rest_http_start(h, status, "application/json", extra);
	rest_http_write(h, body, len);
}

void rest_http_error(struct rest_http *h, enum tnd_err err, const char *message,
		     long long current_version, const char *extra)
{
	char body[512];
	int n = tnd_err_body(body, sizeof(body), err, message, current_version);

	if (n < 0)
		n = (int)strlen(body);
	rest_http_json(h, tnd_err_status(err), extra, body, (size_t)n);
}
