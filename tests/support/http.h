/*
 * http: a small blocking HTTP client for tests, on libcurl. One call, one
 * request; the response is owned by the caller (http_response_free).
 */
#ifndef TEST_HTTP_H
#define TEST_HTTP_H

#include <stddef.h>

struct http_response {
	long status;
	char *body;       /* NUL-terminated, malloc'd */
	size_t body_len;
	char *headers;    /* raw header block, malloc'd */
	size_t headers_len;
	char error[128];  /* after -1: why (curl's words), for the assertion's message */
};

/*
 * Sends method url with the given extra headers (NULL-terminated list of
 * "Name: value", or NULL) and body (NULL = none). Returns 0 or -1 on a
 * transport error (then res holds nothing to free).
 */
int http_request(const char *method, const char *url, const char *const *headers,
		 const char *body, size_t body_len, struct http_response *res);

/* Same, with Content-Type: application/json and a NUL-terminated body. */
int http_json(const char *method, const char *url, const char *body, struct http_response *res);

/* The value of a response header (case-insensitive name) copied into out; -1 when absent. */
int http_header(const struct http_response *res, const char *name, char *out, size_t outlen);

void http_response_free(struct http_response *res);

#endif
