/*
 * The whole stack on a Redis Cluster under load (issue 14's acceptance
 * test; SPEC sections 5 and 9): scripts/run-stack.sh with
 * TANDEM_STACK_REDIS=cluster (3 masters + 3 replicas, cluster-node-timeout
 * 1 s, tandem-rest, tandem-notifier, nginx), each test on a stack of its own.
 *
 *   - two REST writers on a hot collection (POST / PUT / PATCH through
 *     nginx) and a third spreading writes over 40 collections, while a
 *     WebSocket subscriber (through nginx's /ws) follows the hot
 *     collection and twice disconnects and resumes with `since` = its last
 *     seq. Meanwhile the hot collection's slot is resharded to another
 *     master, then that master is failed over to its replica (CLUSTER
 *     FAILOVER). Every acknowledged write (2xx; its Tandem-Seq, id and
 *     version) reaches the subscriber exactly once, seqs strictly
 *     increase, no event comes that was not acknowledged beyond the writes
 *     answered 503, every 503 comes within the Redis timeout's bound, and
 *     nginx logs no upstream error;
 *   - the hot collection's master killed (SIGKILL) under a writer with
 *     TANDEM_REDIS_WAIT_REPLICAS=0: the replica is promoted, writes answer
 *     2xx again and the notifier's /healthz 200 within a deadline; the
 *     acknowledged writes missing from the log afterwards are counted
 *     (lost); `since` = a surviving seq replays exactly the log after it,
 *     `since` = a lost seq (when one was lost) and a seq crafted inside the
 *     log's range but not in it are answered `reset`;
 *   - the same after the replica was stopped and its replication link cut
 *     (CLIENT KILL TYPE replica) before 20 more writes: those are lost for
 *     sure, and their seqs get `reset`.
 * Figures go to stderr ("stack_cluster: ..."; docs/CLUSTER.md, "Tested
 * under load"). Bounded: every wait has a deadline, every loop a count.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "cluster_ops.h"
#include "http.h"
#include "it_support.h"
#include "stack.h"
#include "tnd_cluster.h"
#include "tnd_seq.h"

#define NS "tandem"
#define SPREAD_COLS 40
#define ACKS_MAX 6000          /* acknowledged writes kept per hot writer */
#define WRITES_MAX 40000       /* requests per writer: a bound on its loop */
#define EVENTS_MAX (3 * ACKS_MAX)
#define REDIS_TIMEOUT_MS 1000  /* TANDEM_REDIS_TIMEOUT_MS's default: the stacks keep it */
#define ANSWER_SLACK_MS 2500   /* nginx, FastCGI, a loaded 2-core machine, ASan */
#define PHASE_ACKS 100         /* hot writes acknowledged between two steps */
#define PHASE_WAIT_MS 30000
#define CATCH_UP_MS 30000
#define HEALTH_WAIT_MS 20000
#define RECONNECTS_MAX 50
#define MIGRATE_BATCH 2       /* keys per MIGRATE: the move lasts many round trips */
#define MID_MOVE_ANSWERS 30    /* hot writes answered while the keys sit on the new owner */
#define ID_MAX 48
#define CUT_ACKS 20            /* writes acknowledged between the replica cut and the kill */
#define HOT_WRITERS 2

/* --- writers ------------------------------------------------------------------ */

struct ack {
	char seq[TND_SEQ_STR_MAX];
	char id[ID_MAX];
	long long version;
	long long t0; /* when the request was sent */
};

struct writer {
	const struct stack *s;
	const char *col;  /* NULL: spread over SPREAD_COLS collections */
	int index;
	atomic_bool *stop;
	struct ack *acks; /* ACKS_MAX, owned by the test */
	atomic_int n_acked;
	atomic_int n_answers; /* every answer, 2xx or not */
	/* read after join */
	int n_ok, n_503, n_404, other; /* n_404: a PATCH of a document that is gone */
	long long slowest_503_ms, slowest_ms;
	char other_text[300];
};

/* The request for write i of w: POST, PUT of its own id, PATCH of the last acknowledged document, in turn. */
static void writer_request(struct writer *w, int i, const char **method, char *path, size_t len)
{
	int n = atomic_load(&w->n_acked);

	if (!w->col) {
		*method = "PUT";
		snprintf(path, len, "/api/v1/spread%d/d%d", i % SPREAD_COLS, i % 7);
	} else if (i % 3 == 0 || n == 0) {
		*method = "POST";
		snprintf(path, len, "/api/v1/%s", w->col);
	} else if (i % 3 == 1) {
		*method = "PUT";
		snprintf(path, len, "/api/v1/%s/w%d-%d", w->col, w->index, i);
	} else {
		*method = "PATCH";
		snprintf(path, len, "/api/v1/%s/%s", w->col, w->acks[n - 1].id);
	}
}

/* A 2xx answer: its id, version and Tandem-Seq. 0, or -1 when one is missing. */
static int ack_parse(const struct http_response *res, struct ack *a)
{
	struct json_object *obj = json_tokener_parse(res->body), *id, *ver;
	int rc = -1;

	if (obj && json_object_object_get_ex(obj, "id", &id) &&
	    json_object_object_get_ex(obj, "version", &ver) &&
	    http_header(res, "Tandem-Seq", a->seq, sizeof(a->seq)) == 0) {
		snprintf(a->id, sizeof(a->id), "%s", json_object_get_string(id));
		a->version = json_object_get_int64(ver);
		rc = 0;
	}
	json_object_put(obj);
	return rc;
}

static void writer_other(struct writer *w, const char *fmt, ...)
{
	va_list ap;

	w->other++;
	if (w->other_text[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->other_text, sizeof(w->other_text), fmt, ap);
	va_end(ap);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < WRITES_MAX && atomic_load(&w->n_acked) < ACKS_MAX && !atomic_load(w->stop); i++) {
		struct http_response res;
		const char *method;
		char path[160], body[48], url[256];
		long long t0 = stack_now_ms(), took;

		writer_request(w, i, &method, path, sizeof(path));
		snprintf(body, sizeof(body), "{\"w\":%d,\"i\":%d}", w->index, i);
		snprintf(url, sizeof(url), "%s%s", w->s->base_url, path);
		if (http_json(method, url, body, &res) != 0) {
			writer_other(w, "%s %s: no answer (%s)", method, path, res.error);
			continue;
		}
		took = stack_now_ms() - t0;
		atomic_fetch_add(&w->n_answers, 1);
		if (took > w->slowest_ms)
			w->slowest_ms = took;
		if (res.status == 200 || res.status == 201) {
			int n = atomic_load(&w->n_acked);
			struct ack *a = w->col ? &w->acks[n] : &w->acks[0]; /* the spread writer keeps none */

			if (ack_parse(&res, a) == 0) {
				a->t0 = t0;
				atomic_store(&w->n_acked, w->col ? n + 1 : 1);
				w->n_ok++;
			} else {
				writer_other(w, "%s %s: %ld without id/version/Tandem-Seq: %s", method, path,
					     res.status, res.body);
			}
		} else if (res.status == 503 && (strstr(res.body, "\"store_unavailable\"") ||
						  strstr(res.body, "\"not_replicated\""))) {
			w->n_503++;
			if (took > w->slowest_503_ms)
				w->slowest_503_ms = took;
		} else if (res.status == 404 && !strcmp(method, "PATCH") &&
			   strstr(res.body, "\"not_found\"")) {
			w->n_404++;
		} else {
			writer_other(w, "%s %s: %ld %s", method, path, res.status, res.body);
		}
		http_response_free(&res);
	}
	return NULL;
}

static void writer_start(struct writer *w, pthread_t *th, const struct stack *s, const char *col,
			 int index, atomic_bool *stop)
{
	*w = (struct writer){.s = s, .col = col, .index = index, .stop = stop};
	w->acks = calloc(ACKS_MAX, sizeof(*w->acks));
	cr_assert_not_null(w->acks);
	cr_assert_eq(pthread_create(th, NULL, writer_main, w), 0);
}

static int acked_total(struct writer *w, int n)
{
	int total = 0;

	for (int i = 0; i < n; i++)
		total += atomic_load(&w[i].n_acked);
	return total;
}

/* Waits until the writers w[0..n) acknowledged more than `more` writes past `from`; returns the new total. */
static int wait_acks(struct writer *w, int n, int from, int more, const char *what)
{
	long long deadline = stack_now_ms() + PHASE_WAIT_MS;
	int total;

	while ((total = acked_total(w, n)) < from + more) {
		cr_assert_lt(stack_now_ms(), deadline, "%s: %d writes acknowledged in %d ms, %d wanted", what,
			     total - from, PHASE_WAIT_MS, more);
		usleep(20000);
	}
	return total;
}

/*
 * Checks a joined writer's answers: 2xx or a 503 within the bound, nothing
 * else, but for at most lost 404s on PATCH (its target's creation was an
 * acknowledged write a failover lost).
 */
static void writer_check(const struct writer *w, const char *name, int lost)
{
	cr_assert_eq(w->other, 0, "%s: %d answers neither 2xx nor 503: %s", name, w->other, w->other_text);
	cr_assert_leq(w->n_404, lost, "%s: %d PATCHes answered 404, %d writes lost", name, w->n_404, lost);
	cr_assert_leq(w->slowest_503_ms, REDIS_TIMEOUT_MS + ANSWER_SLACK_MS,
		      "%s: a 503 after %lld ms", name, w->slowest_503_ms);
	cr_assert_gt(atomic_load(&w->n_acked), 0, "%s: no write acknowledged", name);
}

/* --- the subscriber --------------------------------------------------------------- */

struct ev {
	char seq[TND_SEQ_STR_MAX];
	char id[ID_MAX];
	long long version;
};

struct sub {
	const struct stack *s;
	const char *col;
	atomic_bool stop, resume, subscribed, failed;
	atomic_int resumes, drops;
	pthread_mutex_t lock; /* evs, n, last */
	struct ev *evs;       /* EVENTS_MAX */
	int n;
	struct tnd_seq last;
	char last_str[TND_SEQ_STR_MAX];
	char error[400];
};

static void sub_fail(struct sub *u, const char *fmt, ...)
{
	va_list ap;

	if (atomic_load(&u->failed))
		return;
	va_start(ap, fmt);
	vsnprintf(u->error, sizeof(u->error), fmt, ap);
	va_end(ap);
	atomic_store(&u->failed, true);
}

/* Connects through nginx and subscribes (with since = the last seq after the first time). 0 or -1. */
static int sub_connect(struct sub *u, struct wsc *c, bool resume)
{
	struct json_object *o;
	char since[TND_SEQ_STR_MAX];
	int rc = -1;

	if (it_ws(c, u->s, true) < 0)
		return -1;
	pthread_mutex_lock(&u->lock);
	snprintf(since, sizeof(since), "%s", u->last_str);
	pthread_mutex_unlock(&u->lock);
	o = it_subscribe(c, u->col, NULL, resume ? since : NULL);
	if (o && !strcmp(it_str(o, "op"), "subscribed")) {
		if (!resume) {
			const char *seq = it_str(o, "seq");

			pthread_mutex_lock(&u->lock);
			if (tnd_seq_parse(seq, strlen(seq), &u->last) == 0)
				snprintf(u->last_str, sizeof(u->last_str), "%s", seq);
			pthread_mutex_unlock(&u->lock);
		}
		rc = 0;
	} else {
		sub_fail(u, "subscribe (since %s): %s", resume ? since : "-",
			 o ? json_object_to_json_string(o) : "no answer");
	}
	json_object_put(o);
	if (rc < 0)
		wsc_abort(c);
	return rc;
}

/* One event: in seq order after the last one, kept. */
static void sub_event(struct sub *u, struct json_object *o)
{
	const char *seq = it_str(o, "seq");
	struct json_object *v;
	struct tnd_seq s;

	if (strcmp(it_str(o, "op"), "event") || strcmp(it_str(o, "collection"), u->col) ||
	    tnd_seq_parse(seq, strlen(seq), &s) < 0 || !json_object_object_get_ex(o, "version", &v)) {
		sub_fail(u, "not an event of %s: %s", u->col, json_object_to_json_string(o));
		return;
	}
	pthread_mutex_lock(&u->lock);
	if (tnd_seq_cmp(&s, &u->last) <= 0)
		sub_fail(u, "seq %s after %s: not increasing", seq, u->last_str);
	else if (u->n >= EVENTS_MAX)
		sub_fail(u, "more than %d events", EVENTS_MAX);
	else {
		struct ev *e = &u->evs[u->n++];

		snprintf(e->seq, sizeof(e->seq), "%s", seq);
		snprintf(e->id, sizeof(e->id), "%s", it_str(o, "id"));
		e->version = json_object_get_int64(v);
		u->last = s;
		snprintf(u->last_str, sizeof(u->last_str), "%s", seq);
	}
	pthread_mutex_unlock(&u->lock);
}

static void *sub_main(void *arg)
{
	struct sub *u = arg;
	struct wsc c;
	int reconnects = 0;

	if (sub_connect(u, &c, false) < 0) {
		sub_fail(u, "no first subscription");
		return NULL;
	}
	atomic_store(&u->subscribed, true);
	while (!atomic_load(&u->stop) && !atomic_load(&u->failed)) {
		struct wsc_frame f;
		int op;

		if (atomic_exchange(&u->resume, false)) {
			wsc_close(&c, 1000);
			atomic_fetch_add(&u->resumes, 1);
			goto reconnect;
		}
		op = wsc_recv(&c, 100, &f);
		if (op == WSC_TIMEOUT)
			continue;
		if (op == WSC_OP_TEXT) {
			char *text = strndup((const char *)f.payload, f.len);
			struct json_object *o = text ? json_tokener_parse(text) : NULL;

			if (o)
				sub_event(u, o);
			else
				sub_fail(u, "not JSON: %s", text ? text : "?");
			json_object_put(o);
			free(text);
			continue;
		}
		/* Closed by the other side (a close frame or EOF): resume like a client. */
		atomic_fetch_add(&u->drops, 1);
		wsc_abort(&c);
reconnect:
		for (;;) {
			if (++reconnects > RECONNECTS_MAX) {
				sub_fail(u, "%d reconnects", RECONNECTS_MAX);
				return NULL;
			}
			if (sub_connect(u, &c, true) == 0)
				break;
			if (atomic_load(&u->failed))
				return NULL;
			usleep(100000);
		}
	}
	wsc_close(&c, 1000);
	return NULL;
}

static void sub_start(struct sub *u, pthread_t *th, const struct stack *s, const char *col)
{
	long long deadline = stack_now_ms() + PHASE_WAIT_MS;

	memset(u, 0, sizeof(*u));
	u->s = s;
	u->col = col;
	u->evs = calloc(EVENTS_MAX, sizeof(*u->evs));
	cr_assert_not_null(u->evs);
	cr_assert_eq(pthread_mutex_init(&u->lock, NULL), 0);
	cr_assert_eq(pthread_create(th, NULL, sub_main, u), 0);
	while (!atomic_load(&u->subscribed)) {
		cr_assert_not(atomic_load(&u->failed), "subscriber: %s", u->error);
		cr_assert_lt(stack_now_ms(), deadline, "no subscription to %s", col);
		usleep(10000);
	}
}

/* Asks the subscriber to disconnect and resume, and waits until it did. */
static void sub_resume(struct sub *u)
{
	long long deadline = stack_now_ms() + PHASE_WAIT_MS;
	int before = atomic_load(&u->resumes);

	atomic_store(&u->resume, true);
	while (atomic_load(&u->resumes) == before) {
		cr_assert_not(atomic_load(&u->failed), "subscriber: %s", u->error);
		cr_assert_lt(stack_now_ms(), deadline, "the subscriber did not resume");
		usleep(10000);
	}
}

/* true once the subscriber's last seq reaches seq. */
static bool sub_reached(struct sub *u, const struct tnd_seq *seq)
{
	bool done;

	pthread_mutex_lock(&u->lock);
	done = tnd_seq_cmp(&u->last, seq) >= 0;
	pthread_mutex_unlock(&u->lock);
	return done;
}

/* Orders two seq strings (unparsable ones first: they match nothing). */
static int seq_str_cmp(const char *x, const char *y)
{
	struct tnd_seq a = {0, 0}, b = {0, 0};

	if (tnd_seq_parse(x, strlen(x), &a) < 0 || tnd_seq_parse(y, strlen(y), &b) < 0)
		return strcmp(x, y);
	return tnd_seq_cmp(&a, &b);
}

/* bsearch: a seq string against an event. */
static int ev_cmp(const void *key, const void *elem)
{
	return seq_str_cmp(key, ((const struct ev *)elem)->seq);
}

/* --- the cluster ------------------------------------------------------------------ */

static int col_slot(const char *col)
{
	int slot = tnd_cluster_collection_slot(NS, col, strlen(col));

	cr_assert_geq(slot, 0);
	return slot;
}

/* Waits until the node on port names the node on owner_port as col's master. */
static void wait_owner(int port, const char *col, int owner_port)
{
	long long deadline = stack_now_ms() + PHASE_WAIT_MS;

	for (;;) {
		struct tnd_cluster_map *m = cluster_ops_slot_map(port);
		int p = tnd_cluster_map_node(m, cluster_ops_owner(m, NS, col))->port;

		tnd_cluster_map_free(m);
		if (p == owner_port)
			return;
		cr_assert_lt(stack_now_ms(), deadline, "%s is served by %d, not %d", col, p, owner_port);
		usleep(50000);
	}
}

/* --- 1: reshard and failover under load ----------------------------------------- */

static struct stack g_stack;

static void stop_stack(void)
{
	if (g_stack.pid > 0)
		stack_stop(&g_stack);
}

struct mid_move {
	struct sub *u;
	struct writer *w;
};

/* Half-way through the move: the subscriber resumes, and the writers go on for a while. */
static void mid_move(void *arg)
{
	struct mid_move *mm = arg;
	long long deadline = stack_now_ms() + PHASE_WAIT_MS;
	int answers = 0, before = 0;

	for (int i = 0; i < HOT_WRITERS; i++)
		before += atomic_load(&mm->w[i].n_answers);
	sub_resume(mm->u);
	while (answers < before + MID_MOVE_ANSWERS) {
		cr_assert_lt(stack_now_ms(), deadline, "no writes answered in the middle of the move");
		usleep(10000);
		answers = 0;
		for (int i = 0; i < HOT_WRITERS; i++)
			answers += atomic_load(&mm->w[i].n_answers);
	}
}

Test(stack_cluster, a_reshard_and_a_failover_under_load_deliver_every_acknowledged_write_once,
     .timeout = 240, .fini = stop_stack)
{
	static const char *const env[] = {"TANDEM_STACK_REDIS=cluster", NULL};
	static const char col[] = "hot";
	struct writer w[HOT_WRITERS + 1];
	pthread_t th[HOT_WRITERS + 1], sth;
	atomic_bool stop = false;
	struct sub u;
	int n, n_503 = 0, seed_port, slot = col_slot(col), reps[4];
	long long t_move, move_ms, failover_ms;

	cr_assert_eq(stack_start(&g_stack, env), 0);
	cr_assert(stack_is_cluster(&g_stack));
	cr_assert(it_wait_health(&g_stack, 200, HEALTH_WAIT_MS), "the notifier is not healthy");
	seed_port = stack_cluster_port(&g_stack);
	struct tnd_cluster_map *m = cluster_ops_slot_map(seed_port);
	int src = cluster_ops_owner(m, NS, col), dst = cluster_ops_other_master(m, src);
	struct tnd_cluster_node dst_node = *tnd_cluster_map_node(m, dst);

	sub_start(&u, &sth, &g_stack, col);
	for (int i = 0; i < HOT_WRITERS; i++)
		writer_start(&w[i], &th[i], &g_stack, col, i, &stop);
	writer_start(&w[HOT_WRITERS], &th[HOT_WRITERS], &g_stack, NULL, HOT_WRITERS, &stop);
	n = wait_acks(w, HOT_WRITERS, 0, PHASE_ACKS, "before the move");

	/* The reshard; the subscriber resumes while the keys sit on the new owner. */
	t_move = stack_now_ms();
	struct mid_move mm = {&u, w};
	int keys = cluster_ops_move_slot(m, slot, src, dst, MIGRATE_BATCH, mid_move, &mm);
	move_ms = stack_now_ms() - t_move;
	wait_owner(seed_port, col, dst_node.port);
	n = wait_acks(w, HOT_WRITERS, n, PHASE_ACKS, "after the move");

	/* The new owner fails over to its replica; the subscriber resumes once more after it. */
	tnd_cluster_map_free(m);
	m = cluster_ops_slot_map(seed_port);
	cr_assert_geq(tnd_cluster_map_replicas(m, slot, reps, 4), 1, "no replica for slot %d", slot);
	struct tnd_cluster_node rep = *tnd_cluster_map_node(m, reps[0]);
	redisContext *cr = cluster_ops_connect(rep.host, rep.port);
	freeReplyObject(cluster_ops_cmd(cr, "CLUSTER FAILOVER"));
	redisFree(cr);
	failover_ms = cluster_ops_wait_for_master(&rep, 15000);
	cr_assert_geq(failover_ms, 0, "the replica %d was not promoted within 15 s", rep.port);
	n = wait_acks(w, HOT_WRITERS, n, PHASE_ACKS, "after the failover");
	sub_resume(&u);
	n = wait_acks(w, HOT_WRITERS, n, PHASE_ACKS, "after the last resume");

	atomic_store(&stop, true);
	for (int i = 0; i <= HOT_WRITERS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);

	/* The subscriber catches up with the last acknowledged write. */
	struct tnd_seq max = {0, 0}, s;
	for (int i = 0; i < HOT_WRITERS; i++) {
		for (int k = 0; k < atomic_load(&w[i].n_acked); k++) {
			cr_assert_eq(tnd_seq_parse(w[i].acks[k].seq, strlen(w[i].acks[k].seq), &s), 0);
			if (tnd_seq_cmp(&s, &max) > 0)
				max = s;
		}
	}
	long long deadline = stack_now_ms() + CATCH_UP_MS;
	while (!sub_reached(&u, &max) && !atomic_load(&u.failed)) {
		cr_assert_lt(stack_now_ms(), deadline, "the subscriber did not catch up in %d ms (%d events)",
			     CATCH_UP_MS, u.n);
		usleep(20000);
	}
	atomic_store(&u.stop, true);
	cr_assert_eq(pthread_join(sth, NULL), 0);
	cr_assert_not(atomic_load(&u.failed), "subscriber: %s", u.error);
	cr_assert_geq(atomic_load(&u.resumes), 2);

	/* Every acknowledged write exactly once (seqs strictly increase: no event twice). */
	int acked = 0;
	for (int i = 0; i < HOT_WRITERS; i++) {
		writer_check(&w[i], i ? "hot writer 1" : "hot writer 0", 0);
		n_503 += w[i].n_503;
		for (int k = 0; k < atomic_load(&w[i].n_acked); k++) {
			const struct ack *a = &w[i].acks[k];
			const struct ev *e = bsearch(a->seq, u.evs, (size_t)u.n, sizeof(*u.evs), ev_cmp);

			cr_assert_not_null(e, "acknowledged write %s v%lld (seq %s) never delivered", a->id,
					   a->version, a->seq);
			cr_assert_str_eq(e->id, a->id, "seq %s", a->seq);
			cr_assert_eq(e->version, a->version, "seq %s", a->seq);
			acked++;
		}
	}
	writer_check(&w[HOT_WRITERS], "spread writer", 0);
	cr_assert_leq(u.n - acked, n_503, "%d events nobody acknowledged, only %d writes answered 503",
		      u.n - acked, n_503);
	cr_assert(it_wait_health(&g_stack, 200, HEALTH_WAIT_MS), "the notifier is not healthy at the end");
	cr_assert_eq(stack_check_nginx_log(&g_stack), 0, "nginx logged upstream errors");

	long long slowest_503 = 0;
	for (int i = 0; i <= HOT_WRITERS; i++)
		if (w[i].slowest_503_ms > slowest_503)
			slowest_503 = w[i].slowest_503_ms;
	fprintf(stderr,
		"stack_cluster: reshard of slot %d (%d keys, %lld ms) and failover (%lld ms) under load: "
		"hot %d acknowledged, %d answered 503 (%d events delivered, %d unacknowledged); spread "
		"%d acknowledged, %d answered 503; slowest 503 %lld ms; subscriber resumed %d times, "
		"dropped %d times\n",
		slot, keys, move_ms, failover_ms, acked, n_503, u.n, u.n - acked,
		w[HOT_WRITERS].n_ok, w[HOT_WRITERS].n_503, slowest_503,
		atomic_load(&u.resumes), atomic_load(&u.drops));
	for (int i = 0; i <= HOT_WRITERS; i++)
		free(w[i].acks);
	free(u.evs);
	pthread_mutex_destroy(&u.lock);
	tnd_cluster_map_free(m);
	cr_assert_eq(stack_stop(&g_stack), 0, "the stack did not stop cleanly");
}

/* --- 2: a killed master ------------------------------------------------------------ */

struct log {
	char (*seqs)[TND_SEQ_STR_MAX];
	size_t n;
};

/* The seqs in col's log, from its owner (the stack's first node may be the dead one). */
static void log_read(const struct tnd_cluster_node *owner, const char *col, struct log *l)
{
	redisContext *c = cluster_ops_connect(owner->host, owner->port);
	redisReply *r = cluster_ops_cmd(c, "XRANGE {" NS ":%s}:log - +", col);
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	l->n = r->elements;
	l->seqs = calloc(l->n + 1, sizeof(*l->seqs));
	cr_assert_not_null(l->seqs);
	for (size_t i = 0; i < r->elements; i++)
		snprintf(l->seqs[i], TND_SEQ_STR_MAX, "%s", r->element[i]->element[0]->str);
	freeReplyObject(r);
	redisFree(c);
}

/* bsearch: a seq string against a log entry. */
static int log_cmp(const void *key, const void *elem)
{
	return seq_str_cmp(key, elem);
}

static bool log_has(const struct log *l, const char *seq)
{
	return bsearch(seq, l->seqs, l->n, sizeof(*l->seqs), log_cmp) != NULL;
}

/* A seq strictly between two neighbours of the log: in its range, not in it. */
static void crafted_gap(const struct log *l, char out[TND_SEQ_STR_MAX])
{
	for (size_t i = 0; i + 1 < l->n; i++) {
		struct tnd_seq a, b, c;

		cr_assert_eq(tnd_seq_parse(l->seqs[i], strlen(l->seqs[i]), &a), 0);
		cr_assert_eq(tnd_seq_parse(l->seqs[i + 1], strlen(l->seqs[i + 1]), &b), 0);
		c = (struct tnd_seq){a.ms, a.n + 1};
		if (tnd_seq_cmp(&c, &b) < 0) {
			tnd_seq_format(&c, out);
			return;
		}
	}
	cr_assert_fail("no gap in a log of %zu entries", l->n);
}

static void expect_reset(const struct stack *s, const char *col, const char *since, const char *what)
{
	struct json_object *o;
	struct wsc c;

	cr_assert_eq(it_ws(&c, s, true), 0);
	o = it_subscribe(&c, col, NULL, since);
	cr_assert_not_null(o, "no answer to since=%s (%s)", since, what);
	cr_assert_str_eq(it_str(o, "op"), "reset", "since=%s (%s): %s", since, what,
			 json_object_to_json_string(o));
	json_object_put(o);
	cr_assert(it_quiet(&c), "something after the reset");
	wsc_close(&c, 1000);
}

/* since = log[from]: exactly the log after it, in order, then nothing. */
static void expect_replay(const struct stack *s, const char *col, const struct log *l, size_t from)
{
	struct json_object *o;
	struct wsc c;

	cr_assert_eq(it_ws(&c, s, true), 0);
	o = it_subscribe(&c, col, NULL, l->seqs[from]);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "since=%s: %s", l->seqs[from],
			 json_object_to_json_string(o));
	json_object_put(o);
	for (size_t i = from + 1; i < l->n; i++) {
		o = it_recv(&c, IT_WAIT_MS);
		cr_assert_not_null(o, "event %s (%zu of %zu after since) never came", l->seqs[i], i - from,
				   l->n - from - 1);
		cr_assert_str_eq(it_str(o, "op"), "event", "%s", json_object_to_json_string(o));
		cr_assert_str_eq(it_str(o, "seq"), l->seqs[i], "%s", json_object_to_json_string(o));
		json_object_put(o);
	}
	cr_assert(it_quiet(&c), "something more after the log's last event");
	wsc_close(&c, 1000);
}

/* The pid of the stack's cluster node on port. */
static pid_t cluster_node_pid(const struct stack *s, int port)
{
	char pidfile[64];
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "cluster/node%d/redis.pid", port - stack_cluster_port(s));
	pid = stack_pid(s, pidfile);
	cr_assert_gt(pid, 0, "no pid in %s", pidfile);
	return pid;
}

/*
 * Cuts the replication link of master to its replica, the replica stopped
 * (SIGSTOP) so that it cannot reconnect: the writes acknowledged from now
 * on exist on the master only. Returns the replica's pid (SIGCONT it).
 */
static pid_t cut_replica(const struct stack *s, const struct tnd_cluster_node *master,
			 const struct tnd_cluster_node *rep)
{
	pid_t pid = cluster_node_pid(s, rep->port);
	redisContext *c = cluster_ops_connect(master->host, master->port);
	redisReply *r;

	cr_assert_eq(kill(pid, SIGSTOP), 0);
	r = cluster_ops_cmd(c, "CLIENT KILL TYPE replica");
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
	cr_assert_geq(r->integer, 1, "no replica link to cut");
	freeReplyObject(r);
	redisFree(c);
	return pid;
}

/*
 * A writer on col; its master SIGKILLed (cut: after its replica link was
 * cut, so that the writes since are lost for sure). Checks the recovery,
 * counts the lost writes and checks since on a surviving, a lost and a
 * crafted seq.
 */
static void killed_master(bool cut)
{
	static const char *const env[] = {"TANDEM_STACK_REDIS=cluster", "TANDEM_REDIS_WAIT_REPLICAS=0",
					  NULL};
	static const char col[] = "victim";
	struct writer w;
	pthread_t th;
	atomic_bool stop = false;
	char lost_seq[TND_SEQ_STR_MAX] = "", gap[TND_SEQ_STR_MAX];
	int reps[4], at_cut, at_kill, lost = 0, n_acked, survivor = -1;
	pid_t stopped = -1;
	long long t_kill, back_ms = -1, healthy_ms;
	struct log l;

	cr_assert_eq(stack_start(&g_stack, env), 0);
	cr_assert(it_wait_health(&g_stack, 200, HEALTH_WAIT_MS), "the notifier is not healthy");
	struct tnd_cluster_map *m = cluster_ops_slot_map(stack_cluster_port(&g_stack));
	struct tnd_cluster_node master = *tnd_cluster_map_node(m, cluster_ops_owner(m, NS, col));
	cr_assert_eq(tnd_cluster_map_replicas(m, col_slot(col), reps, 4), 1);
	struct tnd_cluster_node rep = *tnd_cluster_map_node(m, reps[0]);
	tnd_cluster_map_free(m);

	writer_start(&w, &th, &g_stack, col, 0, &stop);
	wait_acks(&w, 1, 0, 2 * PHASE_ACKS, "before the kill");
	if (cut)
		stopped = cut_replica(&g_stack, &master, &rep);
	at_cut = atomic_load(&w.n_acked);
	if (cut)
		wait_acks(&w, 1, at_cut, CUT_ACKS, "after the cut");
	cr_assert_eq(kill(cluster_node_pid(&g_stack, master.port), SIGKILL), 0);
	t_kill = stack_now_ms();
	at_kill = atomic_load(&w.n_acked);
	if (cut)
		cr_assert_eq(kill(stopped, SIGCONT), 0);
	wait_acks(&w, 1, at_kill, PHASE_ACKS, "after the kill");
	atomic_store(&stop, true);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert(it_wait_health(&g_stack, 200, HEALTH_WAIT_MS), "the notifier is not healthy after the kill");
	healthy_ms = stack_now_ms() - t_kill;
	wait_owner(rep.port, col, rep.port);
	n_acked = atomic_load(&w.n_acked);
	for (int k = 0; k < n_acked; k++)
		if (w.acks[k].t0 > t_kill && back_ms < 0)
			back_ms = w.acks[k].t0 - t_kill;

	/* Acknowledged writes the promoted replica never got. */
	log_read(&rep, col, &l);
	cr_assert_gt(l.n, 0);
	for (int k = 0; k < n_acked; k++) {
		if (!log_has(&l, w.acks[k].seq)) {
			if (!lost++)
				snprintf(lost_seq, sizeof(lost_seq), "%s", w.acks[k].seq);
		} else if (k < at_cut - PHASE_ACKS || survivor < 0) {
			survivor = k;
		}
	}
	cr_assert_geq(survivor, 0, "no acknowledged write survived");
	writer_check(&w, "writer", lost);
	for (int k = 0; k < n_acked; k++)
		cr_assert(w.acks[k].t0 <= t_kill || log_has(&l, w.acks[k].seq),
			  "write %s sent after the kill, acknowledged, is gone", w.acks[k].seq);
	/* Cut: every write acknowledged after it is lost, but the one in flight when it came. */
	if (cut)
		cr_assert(lost >= 1 && lost >= at_kill - at_cut - 1,
			  "%d writes acknowledged after the cut, %d lost", at_kill - at_cut, lost);

	/* A surviving seq: the rest of the log exactly once. A lost or crafted one: reset. */
	size_t from = 0;
	while (from < l.n && strcmp(l.seqs[from], w.acks[survivor].seq))
		from++;
	cr_assert_lt(from, l.n);
	expect_replay(&g_stack, col, &l, from);
	if (lost)
		expect_reset(&g_stack, col, lost_seq, "a lost write");
	crafted_gap(&l, gap);
	expect_reset(&g_stack, col, gap, "inside the log's range, not in it");
	cr_assert_eq(stack_check_nginx_log(&g_stack), 0, "nginx logged upstream errors");

	fprintf(stderr,
		"stack_cluster: master %d killed under a writer (WAIT_REPLICAS=0%s): %d writes "
		"acknowledged, %d lost (%d before the kill), %d answered 503 (slowest %lld ms), %d "
		"PATCHes 404 (their document lost); 2xx "
		"again %lld ms after the kill, notifier healthy after %lld ms; replica %d promoted; "
		"resume from seq %s replayed %zu events\n",
		master.port, cut ? ", its replica link cut first" : "", n_acked, lost, at_kill, w.n_503,
		w.slowest_503_ms, w.n_404, back_ms, healthy_ms,
		rep.port, w.acks[survivor].seq, l.n - from - 1);
	free(l.seqs);
	free(w.acks);
	cr_assert_eq(stack_stop(&g_stack), 0, "the stack did not stop cleanly");
}

Test(stack_cluster, a_killed_master_loses_at_most_unreplicated_writes_and_lost_seqs_get_reset,
     .timeout = 240, .fini = stop_stack)
{
	killed_master(false);
}

Test(stack_cluster, writes_a_killed_master_never_replicated_are_lost_and_their_seqs_get_reset,
     .timeout = 240, .fini = stop_stack)
{
	killed_master(true);
}
