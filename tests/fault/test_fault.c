/*
 * Fault tests: the real stack (tests/support/stack.c: redis-server with
 * AOF, spawn-fcgi + tandem-rest, tandem-notifier, nginx) under load while
 * a process is killed, restarted or flooded, then a check that nothing
 * acknowledged was lost, nothing was half-written and nothing was wrongly
 * refused. Each test starts a stack of its own (its own settings) and
 * stops it in .fini even when an assertion ends it early; stack_stop()
 * also fails the test on any nginx upstream error the test did not
 * declare. Every wait has a deadline; the whole file runs in about two
 * minutes on two cores. docs/RELIABILITY.md lists what each test proves.
 *
 * Run: make test-fault (TANDEM_BIN_DIR=build build/tests/fault_tests).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fault_support.h"
#include "http.h"
#include "it_support.h"
#include "stack.h"
#include "wsclient.h"

static struct stack g_s;

static void stop_stack(void)
{
	if (g_s.pid > 0)
		stack_stop(&g_s);
}

TestSuite(fault, .fini = stop_stack);

/* ---- received events: a sorted multiset of "id#version" ----------------- */

struct evset {
	char (*keys)[FAULT_ID_MAX + 16];
	size_t n, cap;
	char last_seq[48];
};

static void evset_add(struct evset *e, const char *id, int version)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 1024;
		e->keys = realloc(e->keys, e->cap * sizeof(*e->keys));
		cr_assert_not_null(e->keys);
	}
	snprintf(e->keys[e->n++], sizeof(*e->keys), "%s#%d", id, version);
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void evset_sort(struct evset *e)
{
	qsort(e->keys, e->n, sizeof(*e->keys), key_cmp);
}

/* How many times id#version is in the (sorted) set. */
static size_t evset_count(const struct evset *e, const char *id, int version)
{
	char key[FAULT_ID_MAX + 16];
	size_t lo = 0, hi = e->n, n = 0;

	snprintf(key, sizeof(key), "%s#%d", id, version);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(e->keys[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + n < e->n && !strcmp(e->keys[lo + n], key))
		n++;
	return n;
}

/* The first key present twice, or NULL. */
static const char *evset_duplicate(const struct evset *e)
{
	for (size_t i = 1; i < e->n; i++)
		if (!strcmp(e->keys[i - 1], e->keys[i]))
			return e->keys[i];
	return NULL;
}

/*
 * Handles one text frame of a subscriber: events go to e (and move its
 * last_seq). Returns 1 for an event, 0 for anything else, -1 for a reset.
 */
static int take_frame(struct evset *e, const struct wsc_frame *f)
{
	char *text = strndup((const char *)f->payload, f->len);
	struct json_object *o = json_tokener_parse(text), *v;
	int rc = 0;

	free(text);
	if (!o)
		return 0;
	if (!strcmp(it_str(o, "op"), "reset"))
		rc = -1;
	if (!strcmp(it_str(o, "op"), "event") && json_object_object_get_ex(o, "version", &v)) {
		evset_add(e, it_str(o, "id"), json_object_get_int(v));
		snprintf(e->last_seq, sizeof(e->last_seq), "%s", it_str(o, "seq"));
		rc = 1;
	}
	json_object_put(o);
	return rc;
}

/* Subscribes c to col from since; asserts the "subscribed" answer (not reset). */
static void subscribe_since(struct wsc *c, const char *col, const char *since)
{
	struct json_object *o = it_subscribe(c, col, NULL, since);

	cr_assert_not_null(o, "no answer to subscribe %s since %s", col, since);
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "subscribe since %s: %s", since,
			 json_object_to_json_string(o));
	json_object_put(o);
}

/* The seq of the newest entry of a collection's log ("0-0" when empty). */
static void log_last_seq(redisContext *r, const char *col, char *out, size_t len)
{
	redisReply *rep = redisCommand(r, "XREVRANGE {tandem:%s}:log + - COUNT 1", col);

	cr_assert(rep && rep->type == REDIS_REPLY_ARRAY);
	snprintf(out, len, "%s", rep->elements ? rep->element[0]->element[0]->str : "0-0");
	freeReplyObject(rep);
}

/* Reads events into e until one carries seq `until` (then checks nothing more comes). */
static void read_until_seq(struct wsc *c, struct evset *e, const char *until, long timeout_ms)
{
	long long deadline = stack_now_ms() + timeout_ms;
	struct wsc_frame f;

	while (strcmp(e->last_seq, until) != 0) {
		int op = wsc_recv(c, 500, &f);

		cr_assert_lt(stack_now_ms(), deadline, "events up to %s did not arrive (last %s)", until,
			     e->last_seq);
		if (op == WSC_TIMEOUT)
			continue;
		cr_assert_eq(op, WSC_OP_TEXT, "subscriber closed (%d, code %d)", op, c->close_code);
		cr_assert_geq(take_frame(e, &f), 0, "reset instead of a replay");
	}
	cr_assert(it_quiet(c), "events after the log's last entry");
}

static const char *const *env_list(char *bufs[], int n)
{
	static const char *env[8];

	for (int i = 0; i < n; i++)
		env[i] = bufs[i];
	env[n] = NULL;
	return env;
}

/* ---- Redis SIGKILL + AOF restart ------------------------------------------ */

/* Writer w, iteration i: PUT a new document, then PATCH it; pace 503s. */
static int redis_writer_op(struct fault_load *l, int w, long i)
{
	char id[FAULT_ID_MAX], body[96];
	long st;

	snprintf(id, sizeof(id), "w%d-%ld", w, i);
	snprintf(body, sizeof(body), "{\"w\":%d,\"i\":%ld}", w, i);
	st = fault_request(l, "PUT", id, body, NULL);
	if (st == 201)
		st = fault_request(l, "PATCH", id, "{\"patched\":true}", NULL);
	if (st == 503)
		nanosleep(&(struct timespec){.tv_nsec = 20000000L}, NULL);
	return 0;
}

Test(fault, redis_sigkill_and_aof_restart_lose_no_acknowledged_write, .timeout = 150)
{
	struct fault_load l = {.s = &g_s, .col = "rk", .op = redis_writer_op, .workers = 4,
			       .max_per_worker = 1500};
	struct evset events = {0};
	struct wsc a, b;
	struct wsc_frame f;
	char last[48];
	redisContext *r;
	long acked_before_kill, acked_at_restart, n503;

	cr_assert_eq(stack_start(&g_s, NULL), 0);
	/* Subscriber A follows from the start; it goes away before the crash. */
	cr_assert_eq(it_ws(&a, &g_s, true), 0);
	subscribe_since(&a, "rk", "0-0");
	cr_assert_eq(fault_load_start(&l), 0);
	cr_assert(fault_wait_count(&l.acked, 200, 20000), "writers did not get going");
	while (events.n < 100) {
		int op = wsc_recv(&a, IT_WAIT_MS, &f);
		cr_assert_eq(op, WSC_OP_TEXT, "subscriber A: %d", op);
		take_frame(&events, &f);
	}
	wsc_abort(&a);

	acked_before_kill = atomic_load(&l.acked);
	cr_assert_eq(kill(stack_pid(&g_s, "redis.pid"), SIGKILL), 0);
	/* The outage: every write is now refused with 503 (until Redis is back). */
	cr_assert(fault_wait_count(&l.n503, 200, 15000), "no 503 during the outage");
	acked_at_restart = atomic_load(&l.acked);
	cr_assert_eq(stack_redis_start(&g_s), 0, "redis-server did not restart from its AOF");
	cr_assert(fault_wait_count(&l.acked, atomic_load(&l.acked) + 200, 20000),
		  "writes did not resume after the restart");
	fault_load_stop(&l);

	n503 = atomic_load(&l.n503);
	cr_log_info("redis kill: %ld requests, %ld acknowledged (%ld before the kill, %ld more "
		    "before the restart), %ld x 503", atomic_load(&l.requests), atomic_load(&l.acked),
		    acked_before_kill, acked_at_restart - acked_before_kill, n503);
	cr_assert_eq(l.transport_errors, 0);
	for (int st = 0; st < 600; st++)
		if (st != 200 && st != 201 && st != 503)
			cr_assert_eq(l.by_status[st], 0, "%ld answers %d: %s", l.by_status[st], st,
				     l.first_failure);
	cr_assert_eq(l.bad_503, 0, "a 503 without store_unavailable + Retry-After");

	/* Every acknowledged write is stored: its version or a later one. */
	r = fault_redis(&g_s);
	cr_assert_not_null(r);
	for (size_t i = 0; i < l.n_acks; i++) {
		redisReply *rep = redisCommand(r, "HGET {tandem:rk}:m:%s v", l.acks[i].id);
		cr_assert(rep && rep->type == REDIS_REPLY_STRING, "acknowledged %s v%d is gone",
			  l.acks[i].id, l.acks[i].version);
		cr_assert_geq(atoi(rep->str), l.acks[i].version, "%s went back to v%s",
			      l.acks[i].id, rep->str);
		freeReplyObject(rep);
	}

	/* Subscriber B resumes where A stopped: together they saw every event once. */
	cr_assert(it_wait_health(&g_s, 200, 15000), "the notifier did not reconnect to Redis");
	log_last_seq(r, "rk", last, sizeof(last));
	cr_assert_eq(it_ws(&b, &g_s, true), 0);
	subscribe_since(&b, "rk", events.last_seq);
	read_until_seq(&b, &events, last, 30000);
	wsc_close(&b, 1000);
	evset_sort(&events);
	cr_assert_null(evset_duplicate(&events), "event %s delivered twice", evset_duplicate(&events));
	for (size_t i = 0; i < l.n_acks; i++)
		cr_assert_eq(evset_count(&events, l.acks[i].id, l.acks[i].version), 1,
			     "acknowledged %s v%d: no event after the resume", l.acks[i].id,
			     l.acks[i].version);
	cr_log_info("redis kill: %zu acknowledged writes stored, %zu events replayed once each",
		    l.n_acks, events.n);
	/*
	 * Events beyond the acknowledged writes are writes Redis did before
	 * it died whose answer it never sent: the client got 503 for a write
	 * that happened (see docs/RELIABILITY.md, "ambiguous answers").
	 */
	if (events.n > l.n_acks)
		cr_log_info("redis kill: %zu events of writes answered 503 that Redis had done",
			    events.n - l.n_acks);
	redisFree(r);
	free(events.keys);
	fault_load_free(&l);
	cr_assert_eq(stack_stop(&g_s), 0);
}

/* ---- consistency of a collection in Redis -------------------------------- */

/*
 * Nothing half-written: the index holds exactly the documents that exist;
 * each has its meta version equal to its JSON's version; the log holds
 * for each id versions 1, 2, ... in order, "deleted" last when the
 * document is gone, and the last logged version is the stored one.
 */
static void check_consistency(redisContext *r, const char *col, size_t *docs_out)
{
	redisReply *ids = redisCommand(r, "ZRANGE {tandem:%s}:ids 0 -1", col);
	redisReply *log = redisCommand(r, "XRANGE {tandem:%s}:log - +", col);
	size_t n_ids;

	cr_assert(ids && ids->type == REDIS_REPLY_ARRAY && log && log->type == REDIS_REPLY_ARRAY);
	n_ids = ids->elements;
	for (size_t i = 0; i < n_ids; i++) {
		const char *id = ids->element[i]->str;
		redisReply *m = redisCommand(r, "HGET {tandem:%s}:m:%s v", col, id);
		redisReply *d = redisCommand(r, "GET {tandem:%s}:d:%s", col, id);
		struct json_object *o, *v;

		cr_assert(m && m->type == REDIS_REPLY_STRING, "%s indexed without meta", id);
		cr_assert(d && d->type == REDIS_REPLY_STRING, "%s indexed without document", id);
		o = json_tokener_parse(d->str);
		cr_assert(o && json_object_object_get_ex(o, "version", &v), "bad document %s", d->str);
		cr_assert_eq(json_object_get_int(v), atoi(m->str), "%s: doc v%d, meta v%s", id,
			     json_object_get_int(v), m->str);
		json_object_put(o);
		freeReplyObject(m);
		freeReplyObject(d);
	}
	/* Documents and metas outside the index. */
	for (const char *kind = "d"; kind; kind = kind[0] == 'd' ? "m" : NULL) {
		redisReply *keys = redisCommand(r, "KEYS {tandem:%s}:%s:*", col, kind);
		cr_assert(keys && keys->type == REDIS_REPLY_ARRAY);
		cr_assert_eq(keys->elements, n_ids, "%zu %s: keys for %zu indexed ids", keys->elements,
			     kind, n_ids);
		freeReplyObject(keys);
	}
	/* The log, per id: 1, 2, ..., deleted last; its last version is the stored one. */
	struct {
		char id[FAULT_ID_MAX];
		int version;
		bool deleted;
	} *seen = calloc(log->elements + 1, sizeof(*seen));
	size_t n_seen = 0;
	for (size_t e = 0; e < log->elements; e++) {
		redisReply *fields = log->element[e]->element[1];
		char type[16] = "", id[FAULT_ID_MAX] = "";
		int version = 0;
		size_t k;

		/*
		 * An entry is one field "e": the event's JSON, then for an owned
		 * document a line with its owner. (Older entries had the
		 * fields type, id, version: read those too.)
		 */
		for (size_t j = 0; j + 1 < fields->elements; j += 2) {
			const char *name = fields->element[j]->str, *val = fields->element[j + 1]->str;
			if (!strcmp(name, "e")) {
				char *line = strndup(val, strcspn(val, "\n"));
				struct json_object *o = json_tokener_parse(line), *v;

				cr_assert_not_null(o, "log entry is not JSON: %s", val);
				snprintf(type, sizeof(type), "%s", it_str(o, "type"));
				snprintf(id, sizeof(id), "%s", it_str(o, "id"));
				if (json_object_object_get_ex(o, "version", &v))
					version = json_object_get_int(v);
				json_object_put(o);
				free(line);
			} else if (!strcmp(name, "type")) {
				snprintf(type, sizeof(type), "%s", val);
			} else if (!strcmp(name, "id")) {
				snprintf(id, sizeof(id), "%s", val);
			} else if (!strcmp(name, "version")) {
				version = atoi(val);
			}
		}
		cr_assert(id[0] && type[0], "log entry without id or type");
		for (k = 0; k < n_seen && strcmp(seen[k].id, id) != 0; k++)
			;
		if (k == n_seen) {
			snprintf(seen[n_seen++].id, FAULT_ID_MAX, "%s", id);
			cr_assert_str_eq(type, "created", "%s starts with %s", id, type);
		} else {
			cr_assert(!seen[k].deleted, "%s: an event after its delete", id);
		}
		cr_assert_eq(version, seen[k].version + 1, "%s: v%d after v%d in the log", id, version,
			     seen[k].version);
		seen[k].version = version;
		seen[k].deleted = !strcmp(type, "deleted");
	}
	for (size_t k = 0; k < n_seen; k++) {
		redisReply *m = redisCommand(r, "HGET {tandem:%s}:m:%s v", col, seen[k].id);
		if (seen[k].deleted)
			cr_assert_eq(m->type, REDIS_REPLY_NIL, "%s deleted in the log, still stored",
				     seen[k].id);
		else
			cr_assert(m->type == REDIS_REPLY_STRING && atoi(m->str) == seen[k].version,
				  "%s: logged v%d, stored %s", seen[k].id, seen[k].version,
				  m->type == REDIS_REPLY_STRING ? m->str : "nothing");
		freeReplyObject(m);
	}
	if (docs_out)
		*docs_out = n_ids;
	free(seen);
	freeReplyObject(ids);
	freeReplyObject(log);
}

/* ---- a tandem-rest process SIGKILLed mid-burst ---------------------------- */

#define KILL_THREADS 4 /* TANDEM_THREADS of each process: the most it can hold in flight */

/* POST, PATCH it, DELETE every fifth. */
static int burst_op(struct fault_load *l, int w, long i)
{
	char id[FAULT_ID_MAX] = "";

	(void)w;
	if (fault_request(l, "POST", NULL, "{\"n\":1}", id) != 201)
		return 0;
	if (fault_request(l, "PATCH", id, "{\"n\":2}", NULL) == 200 && i % 5 == 0)
		fault_request(l, "DELETE", id, NULL, NULL);
	return 0;
}

Test(fault, rest_process_sigkill_fails_only_requests_in_flight_on_it, .timeout = 120)
{
	char *env[] = {(char[]){"TANDEM_REST_CHILDREN=3"}, (char[]){"TANDEM_THREADS=4"}};
	struct fault_load l = {.s = &g_s, .col = "kb", .op = burst_op, .workers = 8,
			       .max_per_worker = 400};
	pid_t pids[8];
	long failures, acked_at_kill;
	size_t docs;
	redisContext *r;

	cr_assert_eq(stack_start(&g_s, env_list(env, 2)), 0);
	cr_assert_eq(fault_read_pids(&g_s, "rest-1.pids", pids, 8), 3);
	cr_assert_eq(fault_load_start(&l), 0);
	cr_assert(fault_wait_count(&l.acked, 300, 20000));
	/* From here on nginx logs the killed process's connections: on purpose. */
	cr_assert_eq(stack_expect_upstream_errors(&g_s), 0);
	acked_at_kill = atomic_load(&l.acked);
	cr_assert_eq(kill(pids[0], SIGKILL), 0);
	cr_assert(fault_wait_count(&l.acked, acked_at_kill + 600, 30000),
		  "the other processes did not keep serving");
	fault_load_stop(&l);
	cr_assert(fault_pid_running(pids[1]) && fault_pid_running(pids[2]), "a sibling died");

	failures = fault_load_failures(&l);
	cr_log_info("rest kill: %ld requests, %ld failed (at most %d in flight on the killed "
		    "process), %ld x 502", atomic_load(&l.requests), failures, KILL_THREADS,
		    l.by_status[502]);
	cr_assert_leq(failures, KILL_THREADS, "more failures than requests in flight: %s",
		      l.first_failure);
	cr_assert_eq(failures, l.by_status[502], "a failure that is not nginx's 502: %s",
		     l.first_failure);
	r = fault_redis(&g_s);
	cr_assert_not_null(r);
	check_consistency(r, "kb", &docs);
	cr_log_info("rest kill: %zu documents consistent with index and log", docs);
	redisFree(r);
	fault_load_free(&l);
	cr_assert_eq(stack_stop(&g_s), 0);
}

/* ---- rolling restart of two tandem-rest pools ----------------------------- */

#define ROLL_DOCS 50

/* GET, POST, PATCH in turn, on a set of documents made before. */
static int roll_op(struct fault_load *l, int w, long i)
{
	char id[FAULT_ID_MAX], body[64];

	snprintf(id, sizeof(id), "d%ld", (i * 7 + w) % ROLL_DOCS);
	switch (i % 3) {
	case 0:
		fault_request(l, "GET", id, NULL, NULL);
		break;
	case 1:
		fault_request(l, "POST", NULL, "{\"roll\":true}", NULL);
		break;
	default:
		snprintf(body, sizeof(body), "{\"w%d\":%ld}", w, i);
		fault_request(l, "PATCH", id, body, NULL);
	}
	return 0;
}

static bool pool_is_back(const struct stack *s, int k, const pid_t *old, int n_old, int children)
{
	char file[32], sock[512];
	pid_t pids[8];
	int n;

	snprintf(file, sizeof(file), "rest-%d.pids", k);
	snprintf(sock, sizeof(sock), k == 1 ? "%s/rest.sock" : "%s/rest-%d.sock", s->dir, k);
	n = fault_read_pids(s, file, pids, 8);
	if (n != children || access(sock, F_OK) != 0)
		return false;
	for (int i = 0; i < n; i++) {
		if (!fault_pid_running(pids[i]))
			return false;
		for (int j = 0; j < n_old; j++)
			if (pids[i] == old[j])
				return false;
	}
	return true;
}

static bool any_alive(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (fault_pid_running(pids[i]))
			return true;
	return false;
}

/*
 * nginx marks a server that refused a connect() as failed for its
 * fail_timeout (10 s by default, per nginx worker): the next pool may be
 * stopped only after that, or nginx has no live server left for a moment.
 */
#define NGINX_FAIL_TIMEOUT_MS 11000

Test(fault, rolling_restart_of_two_rest_pools_fails_no_request, .timeout = 150)
{
	char *env[] = {(char[]){"TANDEM_REST_POOLS=2"}, (char[]){"TANDEM_REST_CHILDREN=2"},
		       (char[]){"TANDEM_THREADS=4"}};
	struct fault_load l = {.s = &g_s, .col = "rr", .op = roll_op, .workers = 6,
			       .max_per_worker = 40000};
	char allow[600], id[16];
	long during[3] = {0};

	cr_assert_eq(stack_start(&g_s, env_list(env, 3)), 0);
	for (int k = 1; k <= 2; k++) {
		/* Exactly these: nginx's connect() to a stopping pool, which it then retries elsewhere. */
		snprintf(allow, sizeof(allow), "connect() to unix:%s/rest%s.sock failed (2: No such file or directory)",
			 g_s.dir, k == 1 ? "" : "-2");
		cr_assert_eq(stack_allow_nginx_errors(&g_s, allow), 0);
		snprintf(allow, sizeof(allow), "connect() to unix:%s/rest%s.sock failed (111: Connection refused)",
			 g_s.dir, k == 1 ? "" : "-2");
		cr_assert_eq(stack_allow_nginx_errors(&g_s, allow), 0);
	}
	for (int i = 0; i < ROLL_DOCS; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		cr_assert_eq(it_rest(&g_s, "PUT", "rr", id, "{}"), 201);
	}
	cr_assert_eq(fault_load_start(&l), 0);
	cr_assert(fault_wait_count(&l.requests, 500, 20000));
	for (int k = 1; k <= 2; k++) {
		char file[32];
		pid_t old[8];
		int n;
		long long deadline, t0 = stack_now_ms();
		long before = atomic_load(&l.requests);

		snprintf(file, sizeof(file), "rest-%d.pids", k);
		n = fault_read_pids(&g_s, file, old, 8);
		cr_assert_eq(n, 2);
		for (int i = 0; i < n; i++)
			cr_assert_eq(kill(old[i], SIGTERM), 0);
		deadline = stack_now_ms() + 15000;
		while (any_alive(old, n)) {
			cr_assert_lt(stack_now_ms(), deadline, "pool %d did not stop", k);
			it_sleep_ms(10);
		}
		long long stopped = stack_now_ms();
		deadline = stack_now_ms() + 15000;
		while (!pool_is_back(&g_s, k, old, n, 2)) {
			cr_assert_lt(stack_now_ms(), deadline, "pool %d did not come back", k);
			it_sleep_ms(10);
		}
		during[k] = atomic_load(&l.requests) - before;
		cr_log_info("rolling restart: pool %d stopped in %lld ms, back after %lld ms, %ld "
			    "requests meanwhile, %ld failed so far", k, stopped - t0,
			    stack_now_ms() - t0, during[k], fault_load_failures(&l));
		if (k == 1)
			it_sleep_ms(NGINX_FAIL_TIMEOUT_MS);
		else
			cr_assert(fault_wait_count(&l.requests, atomic_load(&l.requests) + 500, 20000));
	}
	fault_load_stop(&l);
	cr_log_info("rolling restart: %ld requests (%ld acknowledged writes), %ld failed",
		    atomic_load(&l.requests), (long)l.n_acks, fault_load_failures(&l));
	cr_assert_eq(fault_load_failures(&l), 0, "failed requests, first: %s", l.first_failure);
	cr_assert_gt(during[1] + during[2], 0);
	fault_load_free(&l);
	cr_assert_eq(stack_stop(&g_s), 0);
}

/* ---- rolling restart of two notifiers ------------------------------------- */

#define ROLL_CLIENTS 4

struct roll_client {
	const struct stack *s;
	atomic_bool *stop;
	struct evset events;
	atomic_int reconnects;
	atomic_int refused; /* upgrades that failed (nginx's 502 when it had no live notifier) */
	atomic_bool subscribed;
	atomic_int resets;
	atomic_long n_events;
	pthread_t tid;
};

/*
 * A raw client as a browser tab would be: through nginx, subscribed with
 * since = the last seq it saw; when its notifier goes away (1001 or EOF)
 * it connects again and resumes from there.
 */
static void *roll_client_main(void *arg)
{
	struct roll_client *c = arg;
	struct wsc ws;
	struct wsc_frame f;

	snprintf(c->events.last_seq, sizeof(c->events.last_seq), "0-0");
	while (!atomic_load(c->stop)) {
		char msg[160];

		if (it_ws(&ws, c->s, true) != 0) {
			atomic_fetch_add(&c->refused, 1);
			it_sleep_ms(50);
			continue;
		}
		snprintf(msg, sizeof(msg), "{\"op\":\"subscribe\",\"collection\":\"rn\",\"since\":\"%s\"}",
			 c->events.last_seq);
		if (wsc_send_text(&ws, msg) != 0) {
			wsc_abort(&ws);
			continue;
		}
		for (;;) {
			int op = wsc_recv(&ws, 200, &f);

			if (op == WSC_TIMEOUT) {
				if (atomic_load(c->stop))
					break;
				continue;
			}
			if (op != WSC_OP_TEXT)
				break; /* closed: reconnect */
			if (memmem(f.payload, f.len, "\"subscribed\"", 12))
				atomic_store(&c->subscribed, true);
			int rc = take_frame(&c->events, &f);
			if (rc < 0)
				atomic_fetch_add(&c->resets, 1);
			if (rc > 0)
				atomic_fetch_add(&c->n_events, 1);
		}
		wsc_abort(&ws);
		if (!atomic_load(c->stop))
			atomic_fetch_add(&c->reconnects, 1);
	}
	return NULL;
}

/* PUT/PATCH on 20 documents, paced so clients have something to miss. */
static int notifier_writer_op(struct fault_load *l, int w, long i)
{
	char id[16];

	(void)w;
	snprintf(id, sizeof(id), "n%ld", i % 20);
	fault_request(l, i < 20 ? "PUT" : "PATCH", id, "{\"x\":1}", NULL);
	it_sleep_ms(5);
	return 0;
}

/*
 * The browser client (web/tandem.js) in Node, writing what it receives to
 * <dir>/browser-client.txt (tests/fault/tandem_client.mjs). Returns its
 * pid, or -1 when node is missing (the test then says so and goes on
 * with the raw clients).
 */
static pid_t start_browser_client(const struct stack *s, char *out, size_t outlen)
{
	pid_t pid;

	bool has_websocket;

	snprintf(out, outlen, "%s/browser-client.txt", s->dir);
	if (system("node --version >/dev/null 2>&1") != 0)
		return -1;
	/* Node 22+ has WebSocket built in; Node 20 needs the flag (later ones may refuse it). */
	has_websocket = system("node -e \"process.exit(typeof WebSocket === 'function' ? 0 : 1)\" "
			       ">/dev/null 2>&1") == 0;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *flag = has_websocket ? "--no-warnings" : "--experimental-websocket";

		execlp("node", "node", flag, "--no-warnings", "tests/fault/tandem_client.mjs",
		       s->base_url, "rn", out, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Whether the browser client's file holds the line `line` (exactly). */
static bool file_has_line(const char *path, const char *want)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		found = !strcmp(line, want);
	}
	fclose(f);
	return found;
}

/* Reads the browser client's file: its events into e, its reconnects and resets counted. */
static void read_browser_client(const char *path, struct evset *e, int *reconnects, int *resets)
{
	char line[256], id[FAULT_ID_MAX];
	int version;
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f);
	*reconnects = *resets = 0;
	while (fgets(line, sizeof(line), f)) {
		char seq[48];

		if (sscanf(line, "event %63[^#]#%d %47s", id, &version, seq) == 3) {
			evset_add(e, id, version);
			snprintf(e->last_seq, sizeof(e->last_seq), "%s", seq);
		} else if (!strcmp(line, "state reconnecting\n")) {
			(*reconnects)++;
		} else if (!strncmp(line, "reset", 5)) {
			(*resets)++;
		}
	}
	fclose(f);
}

static void restart_notifier(const struct stack *s, const char *pidfile, int port)
{
	struct stack at = *s;
	pid_t pid = stack_pid(s, pidfile);
	long long deadline = stack_now_ms() + 15000;

	at.ws_port = port;
	cr_assert_gt(pid, 0);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	while (stack_pid(s, pidfile) == pid || kill(stack_pid(s, pidfile), 0) != 0) {
		cr_assert_lt(stack_now_ms(), deadline, "%s was not restarted", pidfile);
		it_sleep_ms(10);
	}
	cr_assert(it_wait_health(&at, 200, 15000), "the notifier on %d did not come back", port);
}

Test(fault, rolling_restart_of_two_notifiers_loses_no_event, .timeout = 150)
{
	struct fault_load l = {.s = &g_s, .col = "rn", .op = notifier_writer_op, .workers = 1,
			       .max_per_worker = 20000};
	struct roll_client clients[ROLL_CLIENTS];
	struct evset browser = {0};
	atomic_bool stop = false;
	char env0[64], pidfile[64], last[48], browser_out[300];
	pid_t browser_pid;
	int status;
	char *env[1] = {env0};
	int port2 = stack_free_port();
	redisContext *r;

	/* The stack picks its own two ports after ours: start again in the rare case they meet. */
	for (int attempt = 0;; attempt++) {
		cr_assert_gt(port2, 0);
		snprintf(env0, sizeof(env0), "TANDEM_EXTRA_WS_PORTS=%d", port2);
		snprintf(pidfile, sizeof(pidfile), "notifier-%d.pid", port2);
		if (stack_start(&g_s, env_list(env, 1)) == 0)
			break;
		cr_assert_lt(attempt, 2, "the stack with two notifiers did not start");
		port2 = stack_free_port();
	}
	/* nginx's connect() to a stopped notifier, retried on the other. */
	cr_assert_eq(stack_allow_nginx_errors(&g_s, "connect() failed (111: Connection refused) "
						    "while connecting to upstream"), 0);
	/*
	 * And, on /ws only, "no live upstreams": nginx marks the stopped
	 * notifier failed (max_fails 1) and clears that only when a request
	 * through it completes, which a WebSocket does when it closes. So
	 * fail_timeout after the first restart the restarted notifier is
	 * still "failed" for any nginx worker whose probe is a WebSocket
	 * still open; when the second one stops, such a worker has no server
	 * left and answers a reconnecting client 502 at once. The clients
	 * retry (that is what this test checks: they miss nothing); the
	 * nginx configs avoid it with max_fails=0 on the notifier servers
	 * (see docs/RELIABILITY.md).
	 */
	cr_assert_eq(stack_allow_nginx_errors(&g_s, "no live upstreams while connecting to upstream, "
						    "client: 127.0.0.1, server: localhost, request: "
						    "\"GET /ws HTTP/1.1\""), 0);
	memset(clients, 0, sizeof(clients));
	for (int i = 0; i < ROLL_CLIENTS; i++) {
		clients[i].s = &g_s;
		clients[i].stop = &stop;
		cr_assert_eq(pthread_create(&clients[i].tid, NULL, roll_client_main, &clients[i]), 0);
	}
	browser_pid = start_browser_client(&g_s, browser_out, sizeof(browser_out));
	for (int i = 0; i < ROLL_CLIENTS; i++) {
		long long deadline = stack_now_ms() + 10000;
		while (!atomic_load(&clients[i].subscribed)) {
			cr_assert_lt(stack_now_ms(), deadline, "client %d did not subscribe", i);
			it_sleep_ms(10);
		}
	}
	if (browser_pid > 0) {
		long long deadline = stack_now_ms() + 15000;
		while (!file_has_line(browser_out, "ready")) {
			cr_assert_lt(stack_now_ms(), deadline, "the browser client did not connect");
			it_sleep_ms(20);
		}
	} else {
		cr_log_warn("node not found: the browser client is not part of this run");
	}
	cr_assert_eq(fault_load_start(&l), 0);
	cr_assert(fault_wait_count(&l.acked, 100, 20000));
	restart_notifier(&g_s, "notifier.pid", g_s.ws_port);
	cr_assert(fault_wait_count(&l.acked, atomic_load(&l.acked) + 100, 20000));
	it_sleep_ms(NGINX_FAIL_TIMEOUT_MS);
	restart_notifier(&g_s, pidfile, port2);
	cr_assert(fault_wait_count(&l.acked, atomic_load(&l.acked) + 200, 20000));
	fault_load_stop(&l);

	/* Every client catches up to the log's end, then compares with the ledger. */
	r = fault_redis(&g_s);
	cr_assert_not_null(r);
	log_last_seq(r, "rn", last, sizeof(last));
	for (int i = 0; i < ROLL_CLIENTS; i++) {
		long long deadline = stack_now_ms() + 15000;
		while (strcmp(clients[i].events.last_seq, last) != 0 && stack_now_ms() < deadline)
			it_sleep_ms(20);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < ROLL_CLIENTS; i++)
		pthread_join(clients[i].tid, NULL);
	if (browser_pid > 0) {
		long long deadline = stack_now_ms() + 15000;
		int reconnects, resets;

		while (!browser.n || strcmp(browser.last_seq, last) != 0) {
			cr_assert_lt(stack_now_ms(), deadline, "the browser client did not catch up");
			it_sleep_ms(50);
			free(browser.keys);
			memset(&browser, 0, sizeof(browser));
			read_browser_client(browser_out, &browser, &reconnects, &resets);
		}
		kill(browser_pid, SIGTERM);
		waitpid(browser_pid, &status, 0);
		cr_log_info("notifier restart: browser client (web/tandem.js) reconnected %d times, "
			    "%zu events", reconnects, browser.n);
		cr_assert_geq(reconnects, 1, "the browser client was never moved");
		cr_assert_eq(resets, 0, "the browser client got a reset");
		evset_sort(&browser);
		cr_assert_null(evset_duplicate(&browser), "browser client: %s twice",
			       evset_duplicate(&browser));
		for (size_t k = 0; k < l.n_acks; k++)
			cr_assert_eq(evset_count(&browser, l.acks[k].id, l.acks[k].version), 1,
				     "the browser client missed %s v%d", l.acks[k].id, l.acks[k].version);
		free(browser.keys);
	}
	cr_assert_eq(fault_load_failures(&l), 0, "a write failed: %s", l.first_failure);
	for (int i = 0; i < ROLL_CLIENTS; i++) {
		struct roll_client *c = &clients[i];

		cr_log_info("notifier restart: client %d reconnected %d times (%d upgrades refused "
			    "on the way), %ld events", i, atomic_load(&c->reconnects),
			    atomic_load(&c->refused), atomic_load(&c->n_events));
		cr_assert_geq(atomic_load(&c->reconnects), 1, "client %d was never moved", i);
		cr_assert_eq(atomic_load(&c->resets), 0, "client %d got a reset", i);
		cr_assert_str_eq(c->events.last_seq, last, "client %d did not catch up", i);
		evset_sort(&c->events);
		cr_assert_null(evset_duplicate(&c->events), "client %d: %s twice", i,
			       evset_duplicate(&c->events));
		for (size_t k = 0; k < l.n_acks; k++)
			cr_assert_eq(evset_count(&c->events, l.acks[k].id, l.acks[k].version), 1,
				     "client %d missed %s v%d", i, l.acks[k].id, l.acks[k].version);
		free(c->events.keys);
	}
	cr_log_info("notifier restart: %zu acknowledged writes, each seen once by %d clients",
		    l.n_acks, ROLL_CLIENTS);
	redisFree(r);
	fault_load_free(&l);
	cr_assert_eq(stack_stop(&g_s), 0);
}

/* ---- connection floods ------------------------------------------------------ */

#define FLOOD_MAX 64
#define FLOOD_SUBSCRIBERS 8
#define FLOOD_CYCLES 20000

static int ws_direct(struct wsc *c, const struct stack *s)
{
	return it_ws(c, s, false);
}

/*
 * An upgrade through a socket of our own, for the answer's status line:
 * wsclient takes only "HTTP/1.1" answers, and lws refuses in HTTP/1.0.
 * Returns the status, or 0 when no answer came.
 */
static int raw_upgrade_status(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 5};
	char req[1024], buf[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0), n, status = 0;
	size_t got = 0;
	ssize_t r;

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = wsc_upgrade_request(req, sizeof(req), "127.0.0.1", port, "/ws", NULL);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && n > 0 &&
	    write(fd, req, (size_t)n) == n) {
		while (got < 12 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)r;
		buf[got] = '\0';
		if (got >= 12 && !strncmp(buf, "HTTP/1.", 7))
			status = atoi(buf + 9);
	}
	close(fd);
	return status;
}

/* Closes without a FIN: no TIME_WAIT left behind by 20,000 cycles. */
static void abort_rst(struct wsc *c)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	wsc_abort(c);
}

static void wait_connections(const struct stack *s, long long want)
{
	long long deadline = stack_now_ms() + 10000;

	while (it_metric(s, "tandem_notifier_connections") != want) {
		cr_assert_lt(stack_now_ms(), deadline, "connections stayed at %lld, want %lld",
			     it_metric(s, "tandem_notifier_connections"), want);
		it_sleep_ms(20);
	}
}

/* Each subscriber receives the event of the write of doc id. */
static void subscribers_receive(struct wsc *subs, int n, const char *id)
{
	char needle[80];

	snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);
	cr_assert_eq(it_rest(&g_s, "PUT", "fl", id, "{}"), 201);
	for (int i = 0; i < n; i++) {
		char *got = wsc_recv_until(&subs[i], IT_WAIT_MS, needle, NULL);
		cr_assert_not_null(got, "subscriber %d did not get %s", i, id);
		free(got);
	}
}

Test(fault, connection_floods_are_refused_and_leave_no_growth, .timeout = 150)
{
	char env0[64];
	char *env[1] = {env0};
	struct wsc subs[FLOOD_SUBSCRIBERS], idle[FLOOD_MAX - FLOOD_SUBSCRIBERS];
	long rss[FLOOD_CYCLES / 2000 + 1], fds[FLOOD_CYCLES / 2000 + 1];
	int n_samples = 0;
	pid_t pid;

	snprintf(env0, sizeof(env0), "TANDEM_MAX_CONNECTIONS=%d", FLOOD_MAX);
	cr_assert_eq(stack_start(&g_s, env_list(env, 1)), 0);
	pid = stack_pid(&g_s, "notifier.pid");
	for (int i = 0; i < FLOOD_SUBSCRIBERS; i++) {
		cr_assert_eq(ws_direct(&subs[i], &g_s), 0);
		subscribe_since(&subs[i], "fl", NULL);
	}
	for (int i = 0; i < FLOOD_MAX - FLOOD_SUBSCRIBERS; i++)
		cr_assert_eq(ws_direct(&idle[i], &g_s), 0, "upgrade %d below the cap refused", i);
	wait_connections(&g_s, FLOOD_MAX);
	/* At the cap: further upgrades get 503, the subscribers still receive. */
	for (int i = 0; i < 20; i++)
		cr_assert_eq(raw_upgrade_status(g_s.ws_port), 503, "upgrade past the cap not refused");
	subscribers_receive(subs, FLOOD_SUBSCRIBERS, "at-cap");
	for (int i = 0; i < FLOOD_MAX - FLOOD_SUBSCRIBERS; i++)
		abort_rst(&idle[i]);
	wait_connections(&g_s, FLOOD_SUBSCRIBERS);

	/*
	 * 20,000 connect/close cycles: a close handshake, an abrupt reset,
	 * and a subscribe then reset, in turn. A warm-up of 2,000 first, so
	 * the allocator and lws's pools reach their working size.
	 */
	for (int cycle = -2000; cycle < FLOOD_CYCLES; cycle++) {
		struct wsc c;

		cr_assert_eq(ws_direct(&c, &g_s), 0, "cycle %d: upgrade failed (%d)", cycle,
			     c.http_status);
		switch ((cycle + 3000) % 3) {
		case 0: {
			struct wsc_frame f;
			wsc_send_frame(&c, WSC_OP_CLOSE, true, "\x03\xe8", 2);
			while (wsc_recv(&c, IT_WAIT_MS, &f) >= 0)
				; /* the server's close frame, then its FIN */
			wsc_abort(&c);
			break;
		}
		case 1:
			abort_rst(&c);
			break;
		default:
			cr_assert_eq(it_send(&c, "{\"op\":\"subscribe\",\"collection\":\"fl%d\"}",
					     cycle % 50), 0);
			abort_rst(&c);
		}
		if (cycle >= 0 && cycle % 2000 == 0) {
			wait_connections(&g_s, FLOOD_SUBSCRIBERS);
			rss[n_samples] = fault_rss_kib(pid);
			fds[n_samples] = fault_fd_count(pid);
			cr_log_info("flood: after %d cycles RSS %ld KiB, %ld fds", cycle, rss[n_samples],
				    fds[n_samples]);
			n_samples++;
		}
	}
	wait_connections(&g_s, FLOOD_SUBSCRIBERS);
	rss[n_samples] = fault_rss_kib(pid);
	fds[n_samples] = fault_fd_count(pid);
	cr_log_info("flood: after %d cycles RSS %ld KiB, %ld fds", FLOOD_CYCLES, rss[n_samples],
		    fds[n_samples]);
	cr_assert_eq(stack_pid(&g_s, "notifier.pid"), pid, "the notifier restarted");
	/*
	 * No growth. fds: within 2 of the count after the warm-up at every
	 * sample (the 8 subscribers' sockets are in it; the /metrics request
	 * that just counted the connections may still hold one, as may a
	 * close lws has not finished), where a leak of one fd per 1,000
	 * cycles would show 20 more. RSS: within 1 MiB of the warm-up; a
	 * leak of one 64-byte allocation per cycle would add 1.25 MiB over
	 * 20,000 cycles, and the samples move by a few pages at most.
	 */
	for (int i = 1; i <= n_samples; i++) {
		cr_assert_leq(fds[i], fds[0] + 2, "fds %ld -> %ld at sample %d", fds[0], fds[i], i);
		cr_assert_leq(rss[i], rss[0] + 1024, "RSS %ld -> %ld KiB at sample %d", rss[0], rss[i],
			      i);
	}
	subscribers_receive(subs, FLOOD_SUBSCRIBERS, "after-flood");
	for (int i = 0; i < FLOOD_SUBSCRIBERS; i++)
		wsc_close(&subs[i], 1000);
	cr_assert_eq(stack_stop(&g_s), 0);
}

/* ---- SIGTERM drains the backlog (FastCGI spoken by hand) ------------------ */

/*
 * A FastCGI client on a raw unix socket, so that a test decides when each
 * part of a request arrives: a worker thread that has accepted a
 * connection waits for the rest of its parameters, which keeps it busy
 * for as long as the test wants.
 */
static void fcgi_record(int fd, int type, const void *body, size_t len)
{
	unsigned char h[8] = {1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
			      (unsigned char)len, 0, 0};

	cr_assert_eq(write(fd, h, 8), 8);
	if (len)
		cr_assert_eq(write(fd, body, len), (ssize_t)len);
}

static int fcgi_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0, "connect %s: %s", path,
		     strerror(errno));
	return fd;
}

/* BEGIN_REQUEST and the parameters of GET /api/v1/_health, without the end of the parameters. */
static void fcgi_begin(int fd)
{
	static const unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
	static const char *const params[][2] = {{"REQUEST_METHOD", "GET"},
						{"REQUEST_URI", "/api/v1/_health"},
						{"QUERY_STRING", ""}};
	unsigned char buf[256];
	size_t n = 0;

	fcgi_record(fd, 1, begin, sizeof(begin));
	for (size_t i = 0; i < sizeof(params) / sizeof(*params); i++) {
		size_t kl = strlen(params[i][0]), vl = strlen(params[i][1]);

		buf[n++] = (unsigned char)kl;
		buf[n++] = (unsigned char)vl;
		memcpy(buf + n, params[i][0], kl);
		memcpy(buf + n + kl, params[i][1], vl);
		n += kl + vl;
	}
	fcgi_record(fd, 4, buf, n);
}

/* The end of the parameters and an empty body: the request is complete. */
static void fcgi_end(int fd)
{
	fcgi_record(fd, 4, NULL, 0);
	fcgi_record(fd, 5, NULL, 0);
}

/* Reads the answer until EOF; true when it holds "Status: 200" and an END_REQUEST record. */
static bool fcgi_answered(int fd)
{
	struct timeval tv = {.tv_sec = 10};
	unsigned char buf[8192];
	size_t got = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	close(fd);
	for (size_t off = 0; off + 8 <= got;) {
		size_t len = (size_t)buf[off + 4] << 8 | buf[off + 5];

		if (buf[off + 1] == 3) /* FCGI_END_REQUEST */
			return memmem(buf, got, "Status: 200", 11) != NULL;
		off += 8 + len + buf[off + 6];
	}
	return false;
}

/* Connections waiting in the listening socket's backlog (ss's Recv-Q); -1 when not listed. */
static int backlog_of(const char *path)
{
	char cmd[600], line[1024];
	int q = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ss -xlH src '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(line, sizeof(line), p))
		sscanf(line, "%*s %*s %d", &q);
	pclose(p);
	return q;
}

static void wait_backlog(const char *path, int want)
{
	long long deadline = stack_now_ms() + 10000;

	while (backlog_of(path) != want) {
		cr_assert_lt(stack_now_ms(), deadline, "backlog of %s stayed at %d, want %d", path,
			     backlog_of(path), want);
		it_sleep_ms(10);
	}
}

/*
 * Starts `children` tandem-rest processes of `threads` threads on one new
 * unix socket (spawn-fcgi -F), pids into pids; returns how many.
 */
static int start_pool(const char *sock, const char *pidfile, int children, int threads, pid_t *pids)
{
	const char *bin_dir = getenv("TANDEM_BIN_DIR") ? getenv("TANDEM_BIN_DIR") : "build";
	char cmd[2048];
	struct stack dir = g_s;

	snprintf(cmd, sizeof(cmd),
		 "TANDEM_THREADS=%d TANDEM_REDIS_URL=unix://%s spawn-fcgi -F %d -P '%s' -s '%s' -- "
		 "/bin/sh -c 'exec \"$0\" 2>>\"$1\"' \"$(realpath '%s/tandem-rest')\" '%s/drain.log' "
		 ">/dev/null 2>&1",
		 threads, g_s.redis_sock, children, pidfile, sock, bin_dir, g_s.dir);
	cr_assert_eq(system(cmd), 0, "spawn-fcgi failed");
	return fault_read_pids(&dir, strrchr(pidfile, '/') + 1, pids, 8);
}

static void wait_exited(const pid_t *pids, int n)
{
	long long deadline = stack_now_ms() + 10000;

	while (any_alive(pids, n)) {
		cr_assert_lt(stack_now_ms(), deadline, "the pool did not exit after SIGTERM");
		it_sleep_ms(10);
	}
}

/*
 * One process, 2 threads: two connections hold both threads (parameters
 * not finished), a third, complete request waits in the backlog. SIGTERM;
 * then the two finish. All three are answered, the socket's path is gone,
 * the process exits. (Before the drain the third was reset at exit.)
 */
Test(fault, sigterm_serves_the_connections_queued_in_the_backlog, .timeout = 60)
{
	char sock[300], pidfile[300];
	pid_t pids[8];
	int a, b, c;

	cr_assert_eq(stack_start(&g_s, NULL), 0);
	snprintf(sock, sizeof(sock), "%s/drain.sock", g_s.dir);
	snprintf(pidfile, sizeof(pidfile), "%s/drain.pids", g_s.dir);
	cr_assert_eq(start_pool(sock, pidfile, 1, 2, pids), 1);
	a = fcgi_connect(sock);
	fcgi_begin(a);
	b = fcgi_connect(sock);
	fcgi_begin(b);
	wait_backlog(sock, 0); /* both taken by the two threads */
	c = fcgi_connect(sock);
	fcgi_begin(c);
	fcgi_end(c);
	wait_backlog(sock, 1); /* c waits: no thread is free */
	cr_assert_eq(kill(pids[0], SIGTERM), 0);
	/* The path goes first: nginx's next connect() fails and it tries another server. */
	long long deadline = stack_now_ms() + 5000;
	while (access(sock, F_OK) == 0) {
		cr_assert_lt(stack_now_ms(), deadline, "the socket's path was not removed");
		it_sleep_ms(5);
	}
	fcgi_end(a);
	fcgi_end(b);
	cr_assert(fcgi_answered(a), "the request in flight on thread 1 was not answered");
	cr_assert(fcgi_answered(b), "the request in flight on thread 2 was not answered");
	cr_assert(fcgi_answered(c), "the request queued in the backlog was not answered");
	wait_exited(pids, 1);
	cr_assert_eq(stack_stop(&g_s), 0);
}

/*
 * spawn-fcgi -F 2, one thread each: SIGTERM to one process only. Both
 * stop taking new connections, serve what they hold and what is queued,
 * and both exit: the shut-down socket tells the other one.
 */
Test(fault, sigterm_to_one_process_of_a_pool_drains_and_stops_the_pool, .timeout = 60)
{
	char sock[300], pidfile[300], log[300];
	pid_t pids[8];
	int a, b, c;

	cr_assert_eq(stack_start(&g_s, NULL), 0);
	snprintf(sock, sizeof(sock), "%s/drain.sock", g_s.dir);
	snprintf(pidfile, sizeof(pidfile), "%s/drain.pids", g_s.dir);
	snprintf(log, sizeof(log), "%s/drain.log", g_s.dir);
	cr_assert_eq(start_pool(sock, pidfile, 2, 1, pids), 2);
	a = fcgi_connect(sock);
	fcgi_begin(a);
	b = fcgi_connect(sock);
	fcgi_begin(b);
	wait_backlog(sock, 0);
	c = fcgi_connect(sock);
	fcgi_begin(c);
	fcgi_end(c);
	wait_backlog(sock, 1);
	cr_assert_eq(kill(pids[0], SIGTERM), 0);
	long long deadline = stack_now_ms() + 5000;
	while (access(sock, F_OK) == 0) {
		cr_assert_lt(stack_now_ms(), deadline, "the socket's path was not removed");
		it_sleep_ms(5);
	}
	fcgi_end(a);
	fcgi_end(b);
	cr_assert(fcgi_answered(a));
	cr_assert(fcgi_answered(b));
	cr_assert(fcgi_answered(c), "the request queued in the backlog was not answered");
	wait_exited(pids, 2);
	FILE *f = fopen(log, "r");
	char line[512];
	bool told = false;
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		told = told || strstr(line, "shut down by another process");
	fclose(f);
	cr_assert(told, "the unsignalled process did not stop because of the shutdown");
	cr_assert_eq(stack_stop(&g_s), 0);
}
