/*
 * http: see http.h.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct growbuf {
	char *data;
	size_t len;
};

static size_t append_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct growbuf *b = userdata;
	size_t n = size * nmemb;
	char *p = realloc(b->data, b->len + n + 1);

	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int http_request(const char *method, const char *url, const char *const *headers,
		 const char *body, size_t body_len, struct http_response *res)
{
	struct growbuf bodybuf = {0}, headbuf = {0};
	struct curl_slist *list = NULL;
	CURLcode rc;
	CURL *curl;

	memset(res, 0, sizeof(*res));
	curl = curl_easy_init();
	if (!curl) {
		snprintf(res->error, sizeof(res->error), "curl_easy_init failed");
		return -1;
	}
	for (size_t i = 0; headers && headers[i]; i++)
		list = curl_slist_append(list, headers[i]);
	/* curl adds "Expect: 100-continue" to big bodies; keep requests plain. */
	list = curl_slist_append(list, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bodybuf);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_cb);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headbuf);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
	curl_slist_free_all(list);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(rc));
		free(bodybuf.data);
		free(headbuf.data);
		return -1;
	}
	res->body = bodybuf.data ? bodybuf.data : strdup("");
	res->body_len = bodybuf.len;
	res->headers = headbuf.data ? headbuf.data : strdup("");
	res->headers_len = headbuf.len;
	return 0;
}

int http_json(const char *method, const char *url, const char *body, struct http_response *res)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};

	return http_request(method, url, json, body, body ? strlen(body) : 0, res);
}

int http_header(const struct http_response *res, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);

	for (const char *line = res->headers; line && *line;) {
		const char *end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			while (*v == ' ')
				v++;
			size_t vlen = (size_t)(line + len - v);
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 0;
		}
		line = end ? end + 2 : line + len;
	}
	return -1;
}

void http_response_free(struct http_response *res)
{
	free(res->body);
	free(res->headers);
	memset(res, 0, sizeof(*res));
}
