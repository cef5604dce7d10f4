/*
 * it_support: see it_support.h.
 */
#include "it_support.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

void it_sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

int it_ws(struct wsc *c, const struct stack *s, bool via_nginx)
{
	struct wsc_options opt = {.host = "127.0.0.1",
				  .port = via_nginx ? s->http_port : s->ws_port,
				  .path = "/ws",
				  .timeout_ms = IT_WAIT_MS};

	return wsc_connect(c, &opt);
}

int it_send(struct wsc *c, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return wsc_send_text(c, buf);
}

struct json_object *it_recv(struct wsc *c, int timeout_ms)
{
	char *s = wsc_recv_text(c, timeout_ms);
	struct json_object *o;

	if (!s)
		return NULL;
	o = json_tokener_parse(s);
	if (!o)
		fprintf(stderr, "it_recv: not JSON: %s\n", s);
	free(s);
	return o;
}

const char *it_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

struct json_object *it_expect_op(struct wsc *c, const char *op, int timeout_ms)
{
	struct json_object *o = it_recv(c, timeout_ms);

	if (o && strcmp(it_str(o, "op"), op) != 0) {
		fprintf(stderr, "expected op %s, got %s\n", op, json_object_to_json_string(o));
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *it_subscribe(struct wsc *c, const char *col, const char *id,
				 const char *since)
{
	char idp[200] = "", sincep[100] = "";

	if (id)
		snprintf(idp, sizeof(idp), ",\"id\":\"%s\"", id);
	if (since)
		snprintf(sincep, sizeof(sincep), ",\"since\":\"%s\"", since);
	if (it_send(c, "{\"op\":\"subscribe\",\"collection\":\"%s\"%s%s}", col, idp, sincep) < 0)
		return NULL;
	return it_recv(c, IT_WAIT_MS);
}

bool it_quiet(struct wsc *c)
{
	struct json_object *o;
	bool quiet;

	if (it_send(c, "{\"op\":\"ping\"}") < 0)
		return false;
	o = it_recv(c, IT_WAIT_MS);
	quiet = o && !strcmp(it_str(o, "op"), "pong");
	if (!quiet && o)
		fprintf(stderr, "expected pong, got %s\n", json_object_to_json_string(o));
	json_object_put(o);
	return quiet;
}

long it_rest(const struct stack *s, const char *method, const char *col, const char *id,
	     const char *body)
{
	struct http_response res;
	char url[512];
	long status;

	snprintf(url, sizeof(url), "%s/api/v1/%s%s%s", s->base_url, col, id ? "/" : "",
		 id ? id : "");
	if (http_json(method, url, body, &res) < 0)
		return 0;
	status = res.status;
	http_response_free(&res);
	return status;
}

int it_list_seq(const struct stack *s, const char *col, char *seq, size_t seqlen)
{
	struct http_response res;
	char url[512];
	int rc;

	snprintf(url, sizeof(url), "%s/api/v1/%s", s->base_url, col);
	if (http_request("GET", url, NULL, NULL, 0, &res) < 0)
		return -1;
	rc = res.status == 200 ? http_header(&res, "Tandem-Seq", seq, seqlen) : -1;
	http_response_free(&res);
	return rc < 0 ? -1 : 0;
}

long it_notifier_get(const struct stack *s, const char *path, char **body)
{
	struct http_response res;
	char url[256];
	long status;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->ws_port, path);
	if (http_request("GET", url, NULL, NULL, 0, &res) < 0)
		return 0;
	status = res.status;
	if (body) {
		*body = res.body;
		res.body = NULL;
	}
	http_response_free(&res);
	return status;
}

long long it_metric(const struct stack *s, const char *name)
{
	char *body = NULL, *p;
	long long v = -1;
	size_t len = strlen(name);

	if (it_notifier_get(s, "/metrics", &body) != 200 || !body) {
		free(body);
		return -1;
	}
	for (p = body; (p = strstr(p, name)) != NULL; p += len) {
		if ((p == body || p[-1] == '\n') && p[len] == ' ') {
			v = strtoll(p + len + 1, NULL, 10);
			break;
		}
	}
	free(body);
	return v;
}

bool it_wait_health(const struct stack *s, long want, int timeout_ms)
{
	long long deadline = stack_now_ms() + timeout_ms;

	while (stack_now_ms() < deadline) {
		if (it_notifier_get(s, "/healthz", NULL) == want)
			return true;
		it_sleep_ms(50);
	}
	return false;
}

void it_skip_on_cluster(const struct stack *s, const char *why)
{
	if (!stack_is_cluster(s))
		return;
	fprintf(stderr, "%s::%s skipped on a Redis Cluster: %s\n", criterion_current_suite->name,
		criterion_current_test->name, why);
	cr_skip_test("%s", why);
}
