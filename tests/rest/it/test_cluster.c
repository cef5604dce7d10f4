/*
 * tandem-rest on a Redis Cluster (SPEC section 9), through nginx, against
 * real processes: a stack on a local 3-master / 3-replica cluster
 * (TANDEM_STACK_REDIS=cluster, 1 s cluster-node-timeout) with
 * TANDEM_REDIS_WAIT_REPLICAS=1, started once by main(), and a single-node
 * stack of a test's own.
 *
 *   - collections land on different masters (by CRC16 of {ns:col}); list,
 *     read and write work on each, and the keys sit on the slot's owner;
 *   - a collection's slot moves to another master (CLUSTER SETSLOT
 *     IMPORTING / MIGRATING, MIGRATE in small batches, SETSLOT NODE, as
 *     redis-cli --cluster reshard does) while two writers write to it:
 *     every write is answered 2xx or a bounded 503, and every acknowledged
 *     write is there afterwards, on the new owner;
 *   - a manual failover (CLUSTER FAILOVER on the replica of a collection's
 *     master) while two writers write to it: the same promise, and the
 *     promoted replica serves the collection afterwards;
 *   - a master killed (SIGKILL) on a cluster stack of the test's own: its
 *     collection answers 503 store_unavailable within the bound until the
 *     replica takes over (cluster-node-timeout 1 s), then 2xx again, with
 *     the writes acknowledged before the kill there; a collection on
 *     another master gets a bounded 503 at most (while the cluster is
 *     down for everyone);
 *   - TANDEM_REDIS_WAIT_REPLICAS=1: on the cluster (a replica per master)
 *     writes answer 2xx; on a single server without replicas they answer
 *     503 not_replicated, with ETag and Tandem-Seq, and the write is done.
 * Figures go to stderr.
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
#include "stack.h"
#include "stack_suite.h"
#include "tnd_cluster.h"

#define MOVE_DOCS 300        /* documents in the collection that moves */
#define MIGRATE_BATCH 10     /* keys per MIGRATE: the move lasts many round trips */
#define WRITERS 2
#define WRITES_MAX 20000     /* per writer, a bound on the loop */
#define ANSWER_BOUND_MS 5000 /* a 503 comes within this */

static struct stack g_stack;

static void import_stack(void)
{
	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
	cr_assert(stack_is_cluster(&g_stack), "the stack is not on a cluster");
}

TestSuite(cluster, .init = import_stack);

static char *url_of(const struct stack *s, const char *path)
{
	static __thread char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s", s->base_url, path);
	return buf;
}

static struct tnd_cluster_map *slot_map(void)
{
	return cluster_ops_slot_map(stack_cluster_port(&g_stack));
}

static int collection_slot(const char *col)
{
	int slot = tnd_cluster_collection_slot("tandem", col, strlen(col));

	cr_assert_geq(slot, 0);
	return slot;
}

/* The index in m of the master that owns col. */
static int owner_of(const struct tnd_cluster_map *m, const char *col)
{
	return cluster_ops_owner(m, "tandem", col);
}

static long send_json(const struct stack *s, const char *method, const char *path,
		      const char *body, struct http_response *res)
{
	cr_assert_eq(http_json(method, url_of(s, path), body, res), 0, "%s %s failed", method, path);
	return res->status;
}

static long long body_int(const struct http_response *res, const char *key)
{
	struct json_object *obj = json_tokener_parse(res->body), *v;
	long long n;

	cr_assert_not_null(obj, "not JSON: %s", res->body);
	cr_assert(json_object_object_get_ex(obj, key, &v), "no %s in %s", key, res->body);
	n = json_object_get_int64(v);
	json_object_put(obj);
	return n;
}

Test(cluster, collections_spread_over_the_masters_and_work_on_each, .timeout = 120)
{
	struct tnd_cluster_map *m = slot_map();
	char col[32], path[96], masters_seen[3][32] = {{0}};
	int n_masters = 0;

	/* Collections until three have distinct owners (bounded: CRC16 spreads them). */
	for (int i = 0; i < 200 && n_masters < 3; i++) {
		const struct tnd_cluster_node *node;
		struct http_response res;
		redisContext *c;
		redisReply *r;
		bool seen = false;
		int idx;

		snprintf(col, sizeof(col), "spread%d", i);
		idx = owner_of(m, col);
		for (int k = 0; k < n_masters; k++)
			seen = seen || atoi(masters_seen[k]) == idx;
		if (seen)
			continue;
		snprintf(masters_seen[n_masters++], sizeof(masters_seen[0]), "%d", idx);
		node = tnd_cluster_map_node(m, idx);
		for (int d = 0; d < 3; d++) {
			snprintf(path, sizeof(path), "/api/v1/%s/d%d", col, d);
			cr_assert_eq(send_json(&g_stack, "PUT", path, "{\"n\":1}", &res), 201, "%s", res.body);
			http_response_free(&res);
		}
		cr_assert_eq(send_json(&g_stack, "PATCH", path, "{\"n\":2}", &res), 200, "%s", res.body);
		cr_assert_eq(body_int(&res, "version"), 2);
		http_response_free(&res);
		cr_assert_eq(send_json(&g_stack, "GET", path, NULL, &res), 200, "%s", res.body);
		cr_assert_eq(body_int(&res, "n"), 2);
		http_response_free(&res);
		snprintf(path, sizeof(path), "/api/v1/%s?limit=2", col);
		cr_assert_eq(send_json(&g_stack, "GET", path, NULL, &res), 200, "%s", res.body);
		cr_assert(strstr(res.body, "\"next\":\"d1\""), "%s", res.body);
		http_response_free(&res);
		snprintf(path, sizeof(path), "/api/v1/%s/d0", col);
		cr_assert_eq(send_json(&g_stack, "DELETE", path, NULL, &res), 204);
		http_response_free(&res);
		/* The keys are on the slot's owner itself. */
		c = cluster_ops_connect(node->host, node->port);
		r = cluster_ops_cmd(c, "ZCARD {tandem:%s}:ids", col);
		cr_assert_eq(r->integer, 2, "%s on %s:%d", col, node->host, node->port);
		freeReplyObject(r);
		r = cluster_ops_cmd(c, "XLEN {tandem:%s}:log", col);
		cr_assert_eq(r->integer, 5, "one log entry per write");
		freeReplyObject(r);
		redisFree(c);
	}
	cr_assert_geq(n_masters, 2, "collections on at least two masters");
	fprintf(stderr, "cluster: collections served by %d masters\n", n_masters);
	tnd_cluster_map_free(m);
}

/* --- a slot move under writes ----------------------------------------------- */

struct writer {
	const struct stack *s;
	const char *col;
	int index;
	atomic_bool *stop;
	/* results */
	int ok, unavailable, other;
	long long slowest_ms;
	char other_text[300];
	char (*acked)[40]; /* "id version" of each acknowledged write, in order */
	int n_acked;
};

/* Creates (POST, the server picks the id) and replaces (PUT of its own ids), in turn. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < WRITES_MAX && !atomic_load(w->stop); i++) {
		struct http_response res;
		char path[128], id[40];
		long long t0 = stack_now_ms(), took;

		if (i % 2 == 0 || w->n_acked == 0) {
			snprintf(path, sizeof(path), "/api/v1/%s", w->col);
			if (http_json("POST", url_of(w->s, path), "{\"w\":1}", &res) != 0) {
				w->other++;
				continue;
			}
		} else {
			snprintf(id, sizeof(id), "w%d-%d", w->index, i);
			snprintf(path, sizeof(path), "/api/v1/%s/%s", w->col, id);
			if (http_json("PUT", url_of(w->s, path), "{\"w\":2}", &res) != 0) {
				w->other++;
				continue;
			}
		}
		took = stack_now_ms() - t0;
		if (took > w->slowest_ms)
			w->slowest_ms = took;
		if (res.status == 200 || res.status == 201) {
			struct json_object *obj = json_tokener_parse(res.body), *v;

			if (obj && json_object_object_get_ex(obj, "id", &v) && w->n_acked < WRITES_MAX) {
				snprintf(w->acked[w->n_acked++], 40, "%s", json_object_get_string(v));
				w->ok++;
			} else {
				w->other++;
			}
			json_object_put(obj);
		} else if (res.status == 503 && (strstr(res.body, "\"store_unavailable\"") ||
						  strstr(res.body, "\"not_replicated\""))) {
			w->unavailable++;
		} else {
			if (!w->other_text[0])
				snprintf(w->other_text, sizeof(w->other_text), "%ld %s", res.status, res.body);
			w->other++;
		}
		http_response_free(&res);
	}
	return NULL;
}

/* The count of error kind (MOVED, ASK, TRYAGAIN) node has answered, from INFO errorstats. */
static long long errorstat(const struct tnd_cluster_node *n, const char *kind)
{
	redisContext *c = cluster_ops_connect(n->host, n->port);
	redisReply *r = cluster_ops_cmd(c, "INFO errorstats");
	char key[64];
	const char *at;
	long long count = 0;

	snprintf(key, sizeof(key), "errorstat_%s:count=", kind);
	at = strstr(r->str, key);
	if (at)
		count = atoll(at + strlen(key));
	freeReplyObject(r);
	redisFree(c);
	return count;
}

static void assert_present(const struct stack *s, const char *col, const char *id)
{
	struct http_response res;
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/%s/%s", col, id);
	cr_assert_eq(send_json(s, "GET", path, NULL, &res), 200, "acknowledged %s/%s is gone: %s", col, id,
		     res.body);
	http_response_free(&res);
}

Test(cluster, a_slot_moves_under_writes_and_no_acknowledged_write_is_lost, .timeout = 240)
{
	static const char col[] = "moving";
	static char acked[WRITERS][WRITES_MAX][40];
	struct tnd_cluster_map *m = slot_map(), *after;
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	atomic_bool stop = false;
	int slot = collection_slot(col), src = owner_of(m, col), dst = cluster_ops_other_master(m, src), moved;
	long long t0, move_ms;
	char path[128], body[64];

	for (int i = 0; i < MOVE_DOCS; i++) {
		struct http_response res;

		snprintf(path, sizeof(path), "/api/v1/%s/seed%d", col, i);
		snprintf(body, sizeof(body), "{\"i\":%d}", i);
		cr_assert_eq(send_json(&g_stack, "PUT", path, body, &res), 201, "%s", res.body);
		http_response_free(&res);
	}
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.s = &g_stack, .col = col, .index = i, .stop = &stop, .acked = acked[i]};
		cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	usleep(300000); /* writes before the move */
	long long redirects_before = errorstat(tnd_cluster_map_node(m, src), "ASK") +
				     errorstat(tnd_cluster_map_node(m, src), "MOVED") +
				     errorstat(tnd_cluster_map_node(m, src), "TRYAGAIN") +
				     errorstat(tnd_cluster_map_node(m, dst), "TRYAGAIN");
	t0 = stack_now_ms();
	moved = cluster_ops_move_slot(m, slot, src, dst, MIGRATE_BATCH, NULL, NULL);
	move_ms = stack_now_ms() - t0;
	usleep(500000); /* and after it */
	atomic_store(&stop, true);
	for (int i = 0; i < WRITERS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);

	after = slot_map();
	cr_assert_eq(tnd_cluster_map_master(after, slot), tnd_cluster_map_find(after,
		     tnd_cluster_map_node(m, dst)->host, tnd_cluster_map_node(m, dst)->port),
		     "the slot did not move");
	int ok = 0, unavailable = 0;
	for (int i = 0; i < WRITERS; i++) {
		cr_assert_eq(w[i].other, 0, "writer %d: %d answers neither 2xx nor 503 store_unavailable: %s",
			     i, w[i].other, w[i].other_text);
		cr_assert_lt(w[i].slowest_ms, ANSWER_BOUND_MS, "writer %d waited %lld ms", i, w[i].slowest_ms);
		ok += w[i].ok;
		unavailable += w[i].unavailable;
		for (int k = 0; k < w[i].n_acked; k++)
			assert_present(&g_stack, col, w[i].acked[k]);
	}
	cr_assert_gt(ok, 0);
	/* The workers were redirected (so the writes above went through MOVED / ASK / TRYAGAIN). */
	long long asks = errorstat(tnd_cluster_map_node(m, src), "ASK");
	long long moves = errorstat(tnd_cluster_map_node(m, src), "MOVED");
	long long tryagains = errorstat(tnd_cluster_map_node(m, src), "TRYAGAIN") +
			      errorstat(tnd_cluster_map_node(m, dst), "TRYAGAIN");
	cr_assert_gt(asks + moves + tryagains, redirects_before, "no write was redirected");
	fprintf(stderr, "cluster: the old owner answered ASK %lld, MOVED %lld times; TRYAGAIN %lld (both)\n",
		asks, moves, tryagains);
	/* The old documents moved with the slot, and the new owner serves writes. */
	assert_present(&g_stack, col, "seed0");
	assert_present(&g_stack, col, "seed299");
	{
		struct http_response res;
		cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/moving/last", "{}", &res), 201, "%s", res.body);
		http_response_free(&res);
	}
	fprintf(stderr, "cluster: slot %d moved (%d keys) in %lld ms under %d writers: %d writes "
			"acknowledged, %d answered 503, slowest answer %lld / %lld ms\n",
		slot, moved, move_ms, WRITERS, ok, unavailable, w[0].slowest_ms, w[1].slowest_ms);
	tnd_cluster_map_free(after);
	tnd_cluster_map_free(m);
}

/*
 * A migration held half-way (every key on the new owner, the slot still
 * MIGRATING / IMPORTING): the old owner answers ASK for a document whose
 * keys all moved, and tandem-rest follows it (ASKING + the script on the
 * new owner); a create there is TRYAGAIN (its document keys exist nowhere
 * yet) until the migration ends, so it gets a 503 within the Redis
 * timeout's bound; once the slot is handed over, creates work again.
 */
Test(cluster, a_migration_held_half_way_is_followed_by_ask_and_bounded_by_tryagain, .timeout = 120)
{
	static const char col[] = "halfway";
	struct tnd_cluster_map *m = slot_map();
	int slot = collection_slot(col), src = owner_of(m, col), dst = cluster_ops_other_master(m, src);
	const struct tnd_cluster_node *src_n = tnd_cluster_map_node(m, src);
	struct http_response res;
	long long asks, t0, took;

	cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/halfway/a", "{\"n\":1}", &res), 201, "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/halfway/b", "{\"n\":1}", &res), 201, "%s", res.body);
	http_response_free(&res);
	cr_assert_gt(cluster_ops_begin_move(m, slot, src, dst, MIGRATE_BATCH), 0);
	asks = errorstat(src_n, "ASK");
	cr_assert_eq(send_json(&g_stack, "GET", "/api/v1/halfway/a", NULL, &res), 200, "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/halfway/a", "{\"n\":2}", &res), 200, "%s", res.body);
	cr_assert_eq(body_int(&res, "version"), 2);
	http_response_free(&res);
	cr_assert_eq(send_json(&g_stack, "PATCH", "/api/v1/halfway/b", "{\"m\":1}", &res), 200, "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&g_stack, "GET", "/api/v1/halfway?limit=10", NULL, &res), 200, "%s", res.body);
	cr_assert(strstr(res.body, "\"n\":2") && strstr(res.body, "\"m\":1"), "%s", res.body);
	http_response_free(&res);
	cr_assert_geq(errorstat(src_n, "ASK") - asks, 4, "the old owner did not answer ASK");
	t0 = stack_now_ms();
	cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/halfway/c", "{}", &res), 503, "%s", res.body);
	took = stack_now_ms() - t0;
	cr_assert(strstr(res.body, "\"store_unavailable\""), "%s", res.body);
	http_response_free(&res);
	cr_assert_lt(took, ANSWER_BOUND_MS);
	cluster_ops_finish_move(m, slot, src, dst);
	cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/halfway/c", "{}", &res), 201, "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&g_stack, "GET", "/api/v1/halfway/a", NULL, &res), 200, "%s", res.body);
	cr_assert_eq(body_int(&res, "n"), 2);
	http_response_free(&res);
	fprintf(stderr, "cluster: a create held by TRYAGAIN answered 503 after %lld ms\n", took);
	tnd_cluster_map_free(m);
}

Test(cluster, a_manual_failover_under_writes_loses_no_acknowledged_write, .timeout = 240)
{
	static const char col[] = "failing";
	static char acked[WRITERS][WRITES_MAX][40];
	struct tnd_cluster_map *m = slot_map(), *after;
	const struct tnd_cluster_node *replica;
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	atomic_bool stop = false;
	int slot = collection_slot(col), replicas[4], ok = 0, unavailable = 0;
	long long took;
	redisContext *c;

	cr_assert_geq(tnd_cluster_map_replicas(m, slot, replicas, 4), 1, "no replica for slot %d", slot);
	replica = tnd_cluster_map_node(m, replicas[0]);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.s = &g_stack, .col = col, .index = i, .stop = &stop, .acked = acked[i]};
		cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	usleep(300000);
	c = cluster_ops_connect(replica->host, replica->port);
	freeReplyObject(cluster_ops_cmd(c, "CLUSTER FAILOVER"));
	redisFree(c);
	took = cluster_ops_wait_for_master(replica, 15000);
	usleep(800000); /* writes after it */
	atomic_store(&stop, true);
	for (int i = 0; i < WRITERS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	cr_assert_geq(took, 0, "the replica was not promoted within 15 s");

	after = slot_map();
	cr_assert_eq(tnd_cluster_map_master(after, slot),
		     tnd_cluster_map_find(after, replica->host, replica->port),
		     "the promoted replica does not serve the slot");
	for (int i = 0; i < WRITERS; i++) {
		cr_assert_eq(w[i].other, 0, "writer %d: %d answers neither 2xx nor a 503: %s", i,
			     w[i].other, w[i].other_text);
		cr_assert_lt(w[i].slowest_ms, ANSWER_BOUND_MS, "writer %d waited %lld ms", i, w[i].slowest_ms);
		ok += w[i].ok;
		unavailable += w[i].unavailable;
		for (int k = 0; k < w[i].n_acked; k++)
			assert_present(&g_stack, col, w[i].acked[k]);
	}
	cr_assert_gt(ok, 0);
	{
		struct http_response res;
		cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/failing/last", "{}", &res), 201, "%s", res.body);
		http_response_free(&res);
	}
	fprintf(stderr, "cluster: manual failover of slot %d's master done in %lld ms under %d writers: "
			"%d writes acknowledged, %d answered 503, slowest answer %lld / %lld ms\n",
		slot, took, WRITERS, ok, unavailable, w[0].slowest_ms, w[1].slowest_ms);
	tnd_cluster_map_free(after);
	tnd_cluster_map_free(m);
}

/* The index of a master in m other than idx that owns one of the collections "alive<n>". */
static void collection_elsewhere(const struct tnd_cluster_map *m, int idx, char *col, size_t len)
{
	for (int i = 0; i < 200; i++) {
		snprintf(col, len, "alive%d", i);
		if (owner_of(m, col) != idx)
			return;
	}
	cr_assert_fail("every collection on one master");
}

/* PUT path; returns the status after checking it is 2xx or a 503 store_unavailable within the bound. */
static long bounded_put(const struct stack *s, const char *path)
{
	struct http_response res;
	long long t0 = stack_now_ms();
	long status;

	cr_assert_eq(http_json("PUT", url_of(s, path), "{}", &res), 0);
	status = res.status;
	cr_assert_lt(stack_now_ms() - t0, ANSWER_BOUND_MS, "%s took %lld ms", path, stack_now_ms() - t0);
	cr_assert(status < 300 || (status == 503 && strstr(res.body, "\"store_unavailable\"")),
		  "%s: %ld %s", path, status, res.body);
	http_response_free(&res);
	return status;
}

static struct stack own;

static void stop_own(void)
{
	if (own.pid > 0)
		stack_stop(&own);
}

Test(cluster, a_killed_master_is_a_bounded_503_until_its_replica_takes_over, .timeout = 300,
     .fini = stop_own)
{
	static const char *const env[] = {"TANDEM_STACK_REDIS=cluster", NULL};
	static const char col[] = "victim";
	struct tnd_cluster_map *m;
	const struct tnd_cluster_node *master;
	char path[128], pidfile[64], other[32];
	long long t_kill, t_back = -1;
	int n_before = 20, n_after = 0, n_503 = 0, n_other_503 = 0, i;
	pid_t pid;

	cr_assert_eq(stack_start(&own, env), 0);
	{
		struct stack saved = g_stack;
		g_stack = own; /* slot_map() reads the cluster of g_stack */
		m = slot_map();
		g_stack = saved;
	}
	master = tnd_cluster_map_node(m, owner_of(m, col));
	collection_elsewhere(m, owner_of(m, col), other, sizeof(other));
	for (i = 0; i < n_before; i++) {
		snprintf(path, sizeof(path), "/api/v1/%s/before%d", col, i);
		cr_assert_lt(bounded_put(&own, path), 300);
	}
	usleep(500000); /* the replica has them (asynchronous replication) */
	snprintf(pidfile, sizeof(pidfile), "cluster/node%d/redis.pid", master->port - stack_cluster_port(&own));
	pid = stack_pid(&own, pidfile);
	cr_assert_gt(pid, 0, "no pid in %s", pidfile);
	cr_assert_eq(stack_allow_nginx_errors(&own, "upstream timed out"), 0);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	t_kill = stack_now_ms();
	for (i = 0; i < 400 && stack_now_ms() - t_kill < 30000; i++) {
		long status;

		snprintf(path, sizeof(path), "/api/v1/%s/after%d", col, i);
		status = bounded_put(&own, path);
		if (status == 503)
			n_503++;
		else if (t_back < 0)
			t_back = stack_now_ms() - t_kill;
		if (status < 300)
			n_after++;
		/*
		 * Another master's collection: bounded too. Not always 2xx: once
		 * the dead master is marked failed and until its replica takes
		 * over, a cluster with cluster-require-full-coverage yes (Redis's
		 * default) answers CLUSTERDOWN for every slot.
		 */
		snprintf(path, sizeof(path), "/api/v1/%s/x", other);
		if (bounded_put(&own, path) == 503)
			n_other_503++;
		if (n_after >= 10)
			break;
		usleep(50000);
	}
	cr_assert_geq(n_after, 10, "the collection was not served again within 30 s of the kill");
	for (i = 0; i < n_before; i++) {
		snprintf(path, sizeof(path), "/api/v1/%s/before%d", col, i);
		struct http_response res;
		cr_assert_eq(send_json(&own, "GET", path, NULL, &res), 200, "%s lost: %s", path, res.body);
		http_response_free(&res);
	}
	fprintf(stderr, "cluster: master %s:%d killed: %d writes answered 503 (bounded), served again "
			"after %lld ms; another master's collection: %d answers 503\n", master->host,
		master->port, n_503, t_back, n_other_503);
	tnd_cluster_map_free(m);
	cr_assert_eq(stack_stop(&own), 0);
}

/* --- WAIT ------------------------------------------------------------------- */

Test(cluster, wait_replicas_1_is_met_by_the_replicas, .timeout = 60)
{
	struct http_response res;
	char etag[32];

	/* The stack runs with TANDEM_REDIS_WAIT_REPLICAS=1: every write above WAITed too. */
	cr_assert_eq(send_json(&g_stack, "PUT", "/api/v1/waited/a", "{}", &res), 201, "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&g_stack, "DELETE", "/api/v1/waited/a", NULL, &res), 204, "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&g_stack, "POST", "/api/v1/waited", "{}", &res), 201, "%s", res.body);
	cr_assert_eq(http_header(&res, "ETag", etag, sizeof(etag)), 0);
	http_response_free(&res);
}

Test(cluster, wait_replicas_on_a_server_without_replicas_is_503_not_replicated, .timeout = 120)
{
	static const char *const env[] = {"TANDEM_STACK_REDIS=single", "TANDEM_REDIS_WAIT_REPLICAS=1",
					  "TANDEM_REDIS_TIMEOUT_MS=400", NULL};
	struct stack s;
	struct http_response res;
	struct json_object *obj, *err, *v;
	char etag[32], seq[64];
	long long t0;

	cr_assert_eq(stack_start(&s, env), 0);
	cr_assert_not(stack_is_cluster(&s));
	t0 = stack_now_ms();
	cr_assert_eq(send_json(&s, "PUT", "/api/v1/nr/a", "{\"x\":1}", &res), 503, "%s", res.body);
	cr_assert_lt(stack_now_ms() - t0, ANSWER_BOUND_MS);
	obj = json_tokener_parse(res.body);
	cr_assert(obj && json_object_object_get_ex(obj, "error", &err) &&
		  json_object_object_get_ex(err, "code", &v), "%s", res.body);
	cr_assert_str_eq(json_object_get_string(v), "not_replicated");
	json_object_put(obj);
	/* What a conditional retry needs. */
	cr_assert_eq(http_header(&res, "ETag", etag, sizeof(etag)), 0);
	cr_assert_str_eq(etag, "\"1\"");
	cr_assert_eq(http_header(&res, "Tandem-Seq", seq, sizeof(seq)), 0);
	http_response_free(&res);
	/* The write is done (and read back without WAIT). */
	cr_assert_eq(send_json(&s, "GET", "/api/v1/nr/a", NULL, &res), 200, "%s", res.body);
	cr_assert_eq(body_int(&res, "x"), 1);
	cr_assert_eq(body_int(&res, "version"), 1);
	http_response_free(&res);
	/* A conditional retry sees it: create-only is 412, If-Match on the ETag goes through (and is again not confirmed). */
	cr_assert_eq(http_request("PUT", url_of(&s, "/api/v1/nr/a"),
				  (const char *const[]){"Content-Type: application/json", "If-None-Match: *", NULL},
				  "{\"x\":1}", 7, &res), 0);
	cr_assert_eq(res.status, 412, "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&s, "DELETE", "/api/v1/nr/a", NULL, &res), 503, "%s", res.body);
	cr_assert(strstr(res.body, "not_replicated"), "%s", res.body);
	http_response_free(&res);
	cr_assert_eq(send_json(&s, "GET", "/api/v1/nr/a", NULL, &res), 404, "the delete is done: %s", res.body);
	http_response_free(&res);
	cr_assert_eq(stack_stop(&s), 0);
}

int main(int argc, char *argv[])
{
	static const char *const env[] = {"TANDEM_STACK_REDIS=cluster", "TANDEM_REDIS_WAIT_REPLICAS=1",
					  NULL};
	return stack_suite_main(&g_stack, env, argc, argv);
}
