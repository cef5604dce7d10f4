/*
 * it_support: helpers for the notifier's integration tests, on top of the
 * stack fixture (tests/support/stack.h), the HTTP client
 * (tests/support/http.h) and wsclient: open a WebSocket through nginx or
 * straight to the notifier, write documents over REST, and read events.
 */
#ifndef IT_SUPPORT_H
#define IT_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "stack.h"
#include "wsclient.h"

#define IT_WAIT_MS 5000

/* Connects to /ws through nginx (via_nginx) or to the notifier's own port. 0 or -1. */
int it_ws(struct wsc *c, const struct stack *s, bool via_nginx);
/* Sends a message built with printf. 0 or -1. */
int it_send(struct wsc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Reads the next text message and parses it; NULL on timeout/close. The
 * caller json_object_put()s it.
 */
struct json_object *it_recv(struct wsc *c, int timeout_ms);
/* The string member key of o, or "" (borrowed from o). */
const char *it_str(struct json_object *o, const char *key);
/* Reads the next message and checks its op; returns it (caller puts) or NULL. */
struct json_object *it_expect_op(struct wsc *c, const char *op, int timeout_ms);
/* Subscribes and waits for the answer's op ("subscribed" or "reset"); returns it or NULL. */
struct json_object *it_subscribe(struct wsc *c, const char *col, const char *id,
				 const char *since);
/* Sends a ping and reads up to the pong: true when nothing else came first. */
bool it_quiet(struct wsc *c);

/*
 * REST write through nginx: method on /api/v1/col[/id] with body (NULL =
 * none). Returns the HTTP status (0 on transport error).
 */
long it_rest(const struct stack *s, const char *method, const char *col, const char *id,
	     const char *body);
/* GET /api/v1/col and copy its Tandem-Seq header into seq. 0 or -1. */
int it_list_seq(const struct stack *s, const char *col, char *seq, size_t seqlen);
/* GET on the notifier's own port (path like "/healthz"); returns the status, body optional. */
long it_notifier_get(const struct stack *s, const char *path, char **body);
/* A metric's value from /metrics, or -1. */
long long it_metric(const struct stack *s, const char *name);
/*
 * On a stack on a Redis Cluster: prints "<suite>::<test> skipped on a
 * Redis Cluster: <why>" to stderr (Criterion shows skips only with
 * --verbose) and skips the running test. Returns on a single server.
 */
void it_skip_on_cluster(const struct stack *s, const char *why);
/* Polls /healthz until it answers want (200 or 503) or timeout. true when it did. */
bool it_wait_health(const struct stack *s, long want, int timeout_ms);
void it_sleep_ms(long ms);

#endif
