/*
 * tandem-notifier on a Redis Cluster (TANDEM_REDIS_URL=redis-cluster://,
 * notifier/ntf_cluster): each test starts a fresh 3-master / 3-replica
 * cluster (cluster_fix) and a notifier on it, and writes events as
 * tandem-rest's scripts do: one script on the collection's master that
 * XADDs the event to {ns:col}:log and SPUBLISHes "<seq> <body>" on
 * {ns:col}, following MOVED / ASK / TRYAGAIN like a cluster client
 * (tandem-rest itself is not used: its cluster side is built elsewhere).
 *
 * Each event of a collection carries version v = 1, 2, ...; a client must
 * see every v exactly once, in order:
 *   - the first client of a collection subscribes while a writer thread
 *     writes: it gets exactly the events after its ack's seq;
 *   - live events of collections on two (or three) masters, one socket;
 *   - `since` replays the log from a seq, then goes live;
 *   - the collection's slot moves to another master (SETSLOT IMPORTING /
 *     MIGRATING, MIGRATE of its keys, SETSLOT NODE on every master) while
 *     events are written before, during and after each step;
 *   - four manual failovers, back and forth (CLUSTER FAILOVER on the
 *     owner's replica), while events are written through each switch;
 *   - the owner master killed (SIGKILL) after its replica confirmed the
 *     events (WAIT): the replica takes over, writes resume there.
 * /healthz answers 200 again after each move. Bounded: every wait has a
 * deadline, every retry loop a count.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_fix.h"
#include "it_support.h"
#include "shard_rec.h"
#include "tnd_cluster.h"
#include "tnd_limits.h"
#include "tnd_seq.h"

#define NS "tandem"
#define HEALTH_WAIT_MS 20000
#define EVENTS_WAIT_MS 20000
#define WRITE_ATTEMPTS 200
#define WRITER_NODES 8
#define FAILOVER_BOUND_MS 15000
#define FAILOVERS 4
#define MANUAL_FAILOVER_MS 6000 /* Redis aborts a manual failover after 5 s */

static struct cluster_fix fix;
static struct stack ntf; /* only ws_port: it_notifier_get() and friends */
static pid_t ntf_pid = -1;

static void dump_notifier_log(void)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/notifier.log", fix.dir);
	f = fopen(path, "r");
	if (!f)
		return;
	fprintf(stderr, "---- notifier log\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static void start(void)
{
	char url[1100], listen[64], bin[300], log[128];
	const char *dir = getenv("TANDEM_BIN_DIR");

	cluster_fix_start(&fix);
	ntf.ws_port = stack_free_port();
	cr_assert_gt(ntf.ws_port, 0);
	snprintf(url, sizeof(url), "TANDEM_REDIS_URL=%s", fix.seeds);
	snprintf(listen, sizeof(listen), "TANDEM_WS_LISTEN=127.0.0.1:%d", ntf.ws_port);
	snprintf(bin, sizeof(bin), "%s/tandem-notifier", dir ? dir : "build");
	snprintf(log, sizeof(log), "%s/notifier.log", fix.dir);
	ntf_pid = fork();
	cr_assert_geq(ntf_pid, 0);
	if (ntf_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		putenv(url);
		putenv(listen);
		setenv("TANDEM_LOG_LEVEL", "info", 1);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	if (!it_wait_health(&ntf, 200, HEALTH_WAIT_MS)) {
		dump_notifier_log();
		cr_assert_fail("the notifier did not become healthy on %s", fix.seeds);
	}
}

static void stop(void)
{
	long long deadline = now_ms() + 10000;
	int st = 0;
	bool exited = false;

	if (ntf_pid > 0) {
		kill(ntf_pid, SIGTERM);
		while (!(exited = waitpid(ntf_pid, &st, WNOHANG) == ntf_pid) && now_ms() < deadline)
			usleep(20000);
		if (!exited) {
			kill(ntf_pid, SIGKILL);
			waitpid(ntf_pid, &st, 0);
		}
		ntf_pid = -1;
		if (!exited || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			dump_notifier_log();
			cluster_fix_stop(&fix);
			cr_assert_fail("the notifier did not exit cleanly on SIGTERM (status %d)", st);
		}
	}
	if (getenv("TANDEM_TEST_VERBOSE"))
		dump_notifier_log();
	cluster_fix_stop(&fix);
}

/* --- a cluster writer, as tandem-rest writes ------------------------------ */

static const char write_script[] =
	"local e = '{\"type\":\"updated\",\"collection\":\"' .. ARGV[1] .. '\",\"id\":\"' .. ARGV[2] ..\n"
	"  '\",\"version\":' .. ARGV[3] .. ',\"doc\":{\"id\":\"' .. ARGV[2] .. '\",\"version\":' ..\n"
	"  ARGV[3] .. '}}'\n"
	"local seq = redis.call('XADD', KEYS[1], 'MAXLEN', '~', 1000, '*', 'e', e)\n"
	"redis.call('SPUBLISH', ARGV[4], seq .. ' ' .. e)\n"
	"return seq\n";

struct writer {
	struct tnd_cluster_map *map;
	redisContext *ctx[WRITER_NODES];
	int port[WRITER_NODES];
	int n;
};

static redisContext *writer_ctx(struct writer *w, int port)
{
	struct timeval tv = {5, 0};

	for (int i = 0; i < w->n; i++)
		if (w->port[i] == port && w->ctx[i])
			return w->ctx[i];
	for (int i = 0; i < w->n; i++) {
		if (w->port[i] == port) {
			w->ctx[i] = redisConnectWithTimeout("127.0.0.1", port, tv);
			if (w->ctx[i] && !w->ctx[i]->err)
				redisSetTimeout(w->ctx[i], tv);
			return w->ctx[i];
		}
	}
	cr_assert_lt(w->n, WRITER_NODES);
	w->port[w->n] = port;
	w->ctx[w->n++] = NULL;
	return writer_ctx(w, port);
}

static void writer_drop(struct writer *w, int port)
{
	for (int i = 0; i < w->n; i++) {
		if (w->port[i] == port && w->ctx[i]) {
			redisFree(w->ctx[i]);
			w->ctx[i] = NULL;
		}
	}
}

static void writer_init(struct writer *w)
{
	struct tnd_redis_target t;
	char err[200];

	memset(w, 0, sizeof(*w));
	cr_assert_eq(tnd_redis_target_parse(fix.seeds, &t, err, sizeof(err)), 0, "%s", err);
	w->map = cluster_slot_map(writer_ctx(w, t.seeds[0].port));
}

/* A node went away: the map again from another master (it may still name the dead one for a while). */
static void writer_refresh(struct writer *w, int bad_port)
{
	int masters[8], n = tnd_cluster_map_masters(w->map, masters, 8);

	for (int i = 0; i < n && i < 8; i++) {
		const struct tnd_cluster_node *m = tnd_cluster_map_node(w->map, masters[i]);
		redisContext *c = m->port == bad_port ? NULL : writer_ctx(w, m->port);
		redisReply *r = c && !c->err ? redisCommand(c, "CLUSTER SLOTS") : NULL;
		struct tnd_cluster_map *fresh;
		char err[200];

		if (r && tnd_cluster_map_parse(r, "127.0.0.1", &fresh, err, sizeof(err)) == 0) {
			freeReplyObject(r);
			tnd_cluster_map_free(w->map);
			w->map = fresh;
			return;
		}
		if (r)
			freeReplyObject(r);
	}
}

static void writer_free(struct writer *w)
{
	for (int i = 0; i < w->n; i++)
		if (w->ctx[i])
			redisFree(w->ctx[i]);
	tnd_cluster_map_free(w->map);
}

/* The master of col's slot in the writer's map. */
static const struct tnd_cluster_node *owner_of(struct writer *w, const char *col)
{
	int slot = tnd_cluster_collection_slot(NS, col, strlen(col));
	int idx = tnd_cluster_map_master(w->map, slot);

	cr_assert_geq(idx, 0);
	return tnd_cluster_map_node(w->map, idx);
}

/*
 * Writes event v of col (on document d<v % 3>); its seq into seq (may be
 * NULL). 0, or -1 when no attempt succeeded (no assertion: a writer thread
 * uses it too).
 */
static int write_event_try(struct writer *w, const char *col, int v, char *seq)
{
	int slot = tnd_cluster_collection_slot(NS, col, strlen(col));
	char key[TND_KEY_MAX], channel[TND_KEY_MAX], id[16], ver[16];
	int ask_port = 0;

	snprintf(key, sizeof(key), "{" NS ":%s}:log", col);
	snprintf(channel, sizeof(channel), "{" NS ":%s}", col);
	snprintf(id, sizeof(id), "d%d", v % 3);
	snprintf(ver, sizeof(ver), "%d", v);
	for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
		int port = ask_port ? ask_port : tnd_cluster_map_node(w->map, tnd_cluster_map_master(w->map, slot))->port;
		redisContext *c = writer_ctx(w, port);
		redisReply *r = NULL;
		struct tnd_cluster_redirect rd;
		void *rp;

		if (!c || c->err) {
			writer_drop(w, port);
			writer_refresh(w, port);
			usleep(50000);
			continue;
		}
		if (ask_port) {
			redisAppendCommand(c, "ASKING");
			if (redisGetReply(c, &rp) == REDIS_OK)
				freeReplyObject(rp);
			ask_port = 0;
		}
		r = redisCommand(c, "EVAL %s 1 %s %s %s %s %s", write_script, key, col, id, ver, channel);
		if (!r) {
			writer_drop(w, port); /* a node going away */
			writer_refresh(w, port);
			usleep(50000);
			continue;
		}
		if (r->type == REDIS_REPLY_STRING) {
			if (seq)
				snprintf(seq, TND_SEQ_STR_MAX, "%s", r->str);
			freeReplyObject(r);
			return 0;
		}
		if (r->type != REDIS_REPLY_ERROR) {
			freeReplyObject(r);
			return -1;
		}
		switch (tnd_cluster_redirect_parse(r->str, r->len, &rd)) {
		case TND_CLUSTER_REDIR_MOVED:
			tnd_cluster_map_moved(w->map, rd.slot, rd.host[0] ? rd.host : "127.0.0.1", rd.port);
			break;
		case TND_CLUSTER_REDIR_ASK:
			ask_port = rd.port;
			break;
		default:
			usleep(20000); /* TRYAGAIN, CLUSTERDOWN, a paused master */
			break;
		}
		freeReplyObject(r);
	}
	return -1;
}

static void write_event(struct writer *w, const char *col, int v, char *seq)
{
	cr_assert_eq(write_event_try(w, col, v, seq), 0, "event %d of %s: no write in %d attempts", v,
		     col, WRITE_ATTEMPTS);
}

/* --- the client side ---------------------------------------------------------- */

struct expect {
	const char *col;
	int next;  /* the version due next */
	int last;  /* ... up to this one */
};

/* Reads events until every collection got its versions next..last, each once, in order. */
static void expect_events(struct wsc *c, struct expect *e, int n)
{
	long long deadline = now_ms() + EVENTS_WAIT_MS;

	for (;;) {
		struct json_object *o, *v;
		bool done = true;
		int i;

		for (i = 0; i < n; i++)
			done = done && e[i].next > e[i].last;
		if (done)
			return;
		if (now_ms() > deadline) {
			dump_notifier_log();
			for (i = 0; i < n; i++)
				if (e[i].next <= e[i].last)
					cr_assert_fail("%s: event %d (of %d) never came", e[i].col, e[i].next,
						       e[i].last);
		}
		o = it_recv(c, 500);
		if (!o)
			continue;
		cr_assert_str_eq(it_str(o, "op"), "event", "%s", json_object_to_json_string(o));
		for (i = 0; i < n && strcmp(e[i].col, it_str(o, "collection")); i++)
			;
		cr_assert_lt(i, n, "an event of %s", it_str(o, "collection"));
		cr_assert(json_object_object_get_ex(o, "version", &v));
		cr_assert_eq(json_object_get_int(v), e[i].next, "%s: version %d where %d was due (%s)",
			     e[i].col, json_object_get_int(v), e[i].next, json_object_to_json_string(o));
		e[i].next++;
		json_object_put(o);
	}
}

static void open_ws(struct wsc *c)
{
	struct wsc_options opt = {.host = "127.0.0.1", .port = ntf.ws_port, .path = "/ws",
				  .timeout_ms = IT_WAIT_MS};

	cr_assert_eq(wsc_connect(c, &opt), 0, "WebSocket upgrade failed (%d)", c->http_status);
}

static void subscribe_ok(struct wsc *c, const char *col, const char *since)
{
	struct json_object *o = it_subscribe(c, col, NULL, since);

	cr_assert_not_null(o, "no answer to subscribe %s", col);
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "%s", json_object_to_json_string(o));
	json_object_put(o);
}

/* Collections named prefix<i> until there is one on each of want distinct masters. */
static int spread_collections(struct writer *w, const char *prefix, char cols[][32], int want)
{
	int n = 0, ports[3];

	for (int i = 0; i < 200 && n < want; i++) {
		char col[32];
		int port, j;

		snprintf(col, sizeof(col), "%s%d", prefix, i);
		port = owner_of(w, col)->port;
		for (j = 0; j < n && ports[j] != port; j++)
			;
		if (j == n) {
			ports[n] = port;
			snprintf(cols[n++], 32, "%s", col);
		}
	}
	return n;
}

/* ---- tests ------------------------------------------------------------------------ */

TestSuite(cluster, .init = start, .fini = stop, .timeout = 180);

Test(cluster, live_events_and_since_on_three_masters)
{
	char cols[3][32], seq5[TND_SEQ_STR_MAX];
	struct writer w;
	struct wsc a, b;

	writer_init(&w);
	cr_assert_eq(spread_collections(&w, "todo", cols, 3), 3, "no collection on each master");
	open_ws(&a);
	for (int i = 0; i < 3; i++)
		subscribe_ok(&a, cols[i], NULL);
	cr_assert(it_wait_health(&ntf, 200, HEALTH_WAIT_MS), "not healthy with 3 subscriptions");
	for (int v = 1; v <= 20; v++)
		for (int i = 0; i < 3; i++)
			write_event(&w, cols[i], v, i == 0 && v == 5 ? seq5 : NULL);
	struct expect ea[3] = {{cols[0], 1, 20}, {cols[1], 1, 20}, {cols[2], 1, 20}};
	expect_events(&a, ea, 3);

	/* since: the log after event 5, then live, on a second socket. */
	open_ws(&b);
	subscribe_ok(&b, cols[0], seq5);
	struct expect eb[1] = {{cols[0], 6, 20}};
	expect_events(&b, eb, 1);
	for (int v = 21; v <= 25; v++)
		write_event(&w, cols[0], v, NULL);
	eb[0].last = 25;
	expect_events(&b, eb, 1);
	ea[0].last = 25;
	expect_events(&a, ea, 1);
	cr_assert(it_quiet(&a), "something more on the first socket");
	cr_assert(it_quiet(&b), "something more on the second socket");
	wsc_close(&a, 1000);
	wsc_close(&b, 1000);
	writer_free(&w);
}

Test(cluster, a_slot_move_while_events_flow_loses_and_repeats_nothing)
{
	const char *col = "moving";
	int slot = tnd_cluster_collection_slot(NS, col, strlen(col));
	struct tnd_cluster_node from, to;
	int masters[4], v = 0;
	struct writer w;
	struct wsc c;

	writer_init(&w);
	cr_assert_eq(tnd_cluster_map_masters(w.map, masters, 4), 3);
	from = *owner_of(&w, col);
	for (int i = 0; i < 3; i++)
		if (tnd_cluster_map_node(w.map, masters[i])->port != from.port)
			to = *tnd_cluster_map_node(w.map, masters[i]);
	redisContext *cf = redis_ctx(from.host, from.port), *ct = redis_ctx(to.host, to.port);

	open_ws(&c);
	subscribe_ok(&c, col, NULL);
	cr_assert(it_wait_health(&ntf, 200, HEALTH_WAIT_MS));
	while (v < 10)
		write_event(&w, col, ++v, NULL);

	/* Migrating: writes still land on the old owner. */
	cluster_cmd_ok(ct, "CLUSTER SETSLOT %d IMPORTING %s", slot, from.id);
	cluster_cmd_ok(cf, "CLUSTER SETSLOT %d MIGRATING %s", slot, to.id);
	while (v < 20)
		write_event(&w, col, ++v, NULL);

	/* The keys move: writes are ASKed to the new owner, which nobody listens to yet. */
	redisReply *keys = cluster_cmd(cf, "CLUSTER GETKEYSINSLOT %d 100", slot);
	cr_assert_eq(keys->type, REDIS_REPLY_ARRAY);
	cr_assert_gt(keys->elements, 0);
	for (size_t i = 0; i < keys->elements; i++)
		cluster_cmd_ok(cf, "MIGRATE %s %d %s 0 5000 KEYS %s", to.host, to.port, "",
			       keys->element[i]->str);
	freeReplyObject(keys);
	while (v < 30)
		write_event(&w, col, ++v, NULL);

	/* The slot is the new owner's on every master; the old one drops the channel. */
	cluster_cmd_ok(ct, "CLUSTER SETSLOT %d NODE %s", slot, to.id);
	while (v < 35)
		write_event(&w, col, ++v, NULL);
	for (int i = 0; i < 3; i++) {
		const struct tnd_cluster_node *m = tnd_cluster_map_node(w.map, masters[i]);
		redisContext *cm = redis_ctx(m->host, m->port);

		cluster_cmd_ok(cm, "CLUSTER SETSLOT %d NODE %s", slot, to.id);
		redisFree(cm);
	}
	while (v < 60)
		write_event(&w, col, ++v, NULL);
	cr_assert_eq(owner_of(&w, col)->port, to.port, "the writer did not follow the move");

	struct expect e[1] = {{col, 1, 60}};
	expect_events(&c, e, 1);
	cr_assert(it_wait_health(&ntf, 200, HEALTH_WAIT_MS), "not healthy after the move");
	cr_assert_geq(it_metric(&ntf, "tandem_notifier_redis_reconnects_total"), 1);
	for (; v < 70;)
		write_event(&w, col, ++v, NULL);
	e[0].last = 70;
	expect_events(&c, e, 1);
	cr_assert(it_quiet(&c), "something more after the last event");
	wsc_close(&c, 1000);
	redisFree(cf);
	redisFree(ct);
	writer_free(&w);
}

/* Waits until the node on n is a replica with its master link up. */
static bool wait_replica_synced(const struct tnd_cluster_node *n)
{
	long long deadline = now_ms() + FAILOVER_BOUND_MS;
	redisContext *c = redis_ctx(n->host, n->port);
	bool synced = false;

	while (!synced && now_ms() < deadline) {
		redisReply *r = redisCommand(c, "INFO replication");

		synced = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "role:slave") &&
			 strstr(r->str, "master_link_status:up");
		if (r)
			freeReplyObject(r);
		if (!synced)
			usleep(50000);
	}
	redisFree(c);
	return synced;
}

/*
 * Failovers back and forth while a writer goes on through each switch:
 * right after one, the notifier's map may still name the demoted master,
 * which accepts SSUBSCRIBE and later relays only some of the promoted
 * master's events; none of those may be fanned out before a log read on
 * the subscribed node proves it is the master (a hole would follow).
 */
Test(cluster, failovers_while_events_flow_lose_and_repeat_nothing)
{
	const char *col = "failing";
	int slot = tnd_cluster_collection_slot(NS, col, strlen(col)), reps[4], v = 0;
	struct writer w;
	struct wsc c;

	writer_init(&w);
	struct tnd_cluster_node nodes[2] = {*owner_of(&w, col)};
	cr_assert_eq(tnd_cluster_map_replicas(w.map, slot, reps, 4), 1);
	nodes[1] = *tnd_cluster_map_node(w.map, reps[0]);

	open_ws(&c);
	subscribe_ok(&c, col, NULL);
	cr_assert(it_wait_health(&ntf, 200, HEALTH_WAIT_MS));
	while (v < 20)
		write_event(&w, col, ++v, NULL);
	struct expect e[1] = {{col, 1, v}};
	for (int k = 0; k < FAILOVERS; k++) {
		const struct tnd_cluster_node *to = &nodes[(k + 1) % 2];
		redisContext *cr = redis_ctx(to->host, to->port);
		long long deadline = now_ms() + FAILOVER_BOUND_MS, again = 0;

		/*
		 * Writes go on, through the switch, until the writer is sent to the
		 * promoted replica. The masters vote once per shard within 2 node
		 * timeouts, and a manual failover gives up after 5 s: asked again then.
		 */
		while (owner_of(&w, col)->port != to->port) {
			cr_assert_lt(now_ms(), deadline, "failover %d: no switch to %d", k + 1, to->port);
			if (now_ms() >= again) {
				cluster_cmd_ok(cr, "CLUSTER FAILOVER");
				again = now_ms() + MANUAL_FAILOVER_MS;
			}
			write_event(&w, col, ++v, NULL);
			usleep(2000);
		}
		redisFree(cr);
		int moved_at = v;
		for (int i = 0; i < 40; i++) {
			write_event(&w, col, ++v, NULL);
			usleep(1000);
		}
		fprintf(stderr, "notifier_cluster: failover %d to %d after event %d of %d\n", k + 1,
			to->port, moved_at, v);
		e[0].last = v;
		expect_events(&c, e, 1);
		cr_assert(it_wait_health(&ntf, 200, HEALTH_WAIT_MS), "not healthy after failover %d",
			  k + 1);
		/* The next failover needs the demoted master to be a synced replica again. */
		cr_assert(wait_replica_synced(&nodes[k % 2]), "%d is not a synced replica",
			  nodes[k % 2].port);
	}
	for (int i = 0; i < 10; i++)
		write_event(&w, col, ++v, NULL);
	e[0].last = v;
	expect_events(&c, e, 1);
	cr_assert(it_quiet(&c), "something more after the last event");
	wsc_close(&c, 1000);
	writer_free(&w);
}

/* The pid of the cluster node on port, checked to be of the fixture's process group. */
static pid_t node_pid(int port)
{
	char path[128];
	int base = 0;
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ports", fix.dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &base), 1);
	fclose(f);
	snprintf(path, sizeof(path), "%s/node%d/redis.pid", fix.dir, port - base);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	cr_assert_gt(pid, 1);
	cr_assert_eq(getpgid((pid_t)pid), fix.pid, "node %d is not one of ours", port);
	return (pid_t)pid;
}

Test(cluster, the_owner_master_killed_its_replica_takes_over_and_nothing_acknowledged_is_lost)
{
	const char *col = "killed";
	int slot = tnd_cluster_collection_slot(NS, col, strlen(col)), reps[4], v = 0;
	struct writer w;
	struct wsc c;

	writer_init(&w);
	struct tnd_cluster_node master = *owner_of(&w, col);
	cr_assert_eq(tnd_cluster_map_replicas(w.map, slot, reps, 4), 1);
	struct tnd_cluster_node rep = *tnd_cluster_map_node(w.map, reps[0]);
	redisContext *cm = redis_ctx(master.host, master.port);

	open_ws(&c);
	subscribe_ok(&c, col, NULL);
	cr_assert(it_wait_health(&ntf, 200, HEALTH_WAIT_MS));
	while (v < 20)
		write_event(&w, col, ++v, NULL);
	/* Acknowledged by the replica too: a crash after this loses none of them. */
	redisReply *r = cluster_cmd(cm, "WAIT 1 5000");
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
	cr_assert_geq(r->integer, 1, "the replica did not confirm");
	freeReplyObject(r);
	redisFree(cm);
	struct expect e[1] = {{col, 1, 20}};
	expect_events(&c, e, 1);

	long long t0 = now_ms();
	cr_assert_eq(kill(node_pid(master.port), SIGKILL), 0);
	while (v < 40)
		write_event(&w, col, ++v, NULL); /* retried until the replica is promoted */
	cr_assert_eq(owner_of(&w, col)->port, rep.port);
	fprintf(stderr, "notifier_cluster: writes resumed %lld ms after the master was killed\n",
		now_ms() - t0);
	e[0].last = v;
	expect_events(&c, e, 1);
	cr_assert(it_wait_health(&ntf, 200, HEALTH_WAIT_MS), "not healthy after the failover");
	cr_assert(it_quiet(&c), "something more after the last event");
	wsc_close(&c, 1000);
	writer_free(&w);
}

/* A writer thread: events 1..n of col, as fast as they go, each seq kept. */
#define RACE_EVENTS 400
struct race {
	const char *col;
	char seqs[RACE_EVENTS + 1][TND_SEQ_STR_MAX];
	int written;   /* events written so far (read after join) */
	bool failed;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	struct writer w;
	struct tnd_redis_target t;
	char err[200];
	redisContext *c;
	redisReply *rep;

	memset(&w, 0, sizeof(w));
	if (tnd_redis_target_parse(fix.seeds, &t, err, sizeof(err)) < 0 ||
	    !(c = writer_ctx(&w, t.seeds[0].port)) || c->err ||
	    !(rep = redisCommand(c, "CLUSTER SLOTS"))) {
		r->failed = true;
		return NULL;
	}
	if (tnd_cluster_map_parse(rep, "127.0.0.1", &w.map, err, sizeof(err)) < 0)
		r->failed = true;
	freeReplyObject(rep);
	for (int v = 1; v <= RACE_EVENTS && !r->failed; v++) {
		if (write_event_try(&w, r->col, v, r->seqs[v]) < 0)
			r->failed = true;
		else
			r->written = v;
	}
	writer_free(&w);
	return NULL;
}

Test(cluster, a_first_subscription_while_events_flow_gets_every_event_after_its_ack_once)
{
	struct race *r = calloc(1, sizeof(*r));
	struct json_object *o;
	struct tnd_seq ack, s;
	pthread_t th;
	struct wsc c;
	int first = 0;

	cr_assert_not_null(r);
	r->col = "racing";
	open_ws(&c);
	cr_assert_eq(pthread_create(&th, NULL, race_writer, r), 0);
	usleep(20000); /* some events before the subscription, most after */
	o = it_subscribe(&c, r->col, NULL, NULL);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "%s", json_object_to_json_string(o));
	cr_assert_eq(tnd_seq_parse(it_str(o, "seq"), strlen(it_str(o, "seq")), &ack), 0,
		     "%s", json_object_to_json_string(o));
	json_object_put(o);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_not(r->failed, "the writer failed");
	cr_assert_eq(r->written, RACE_EVENTS);
	/* The first event due: the first one written after the ack's seq. */
	for (int v = 1; v <= RACE_EVENTS && !first; v++) {
		cr_assert_eq(tnd_seq_parse(r->seqs[v], strlen(r->seqs[v]), &s), 0);
		if (tnd_seq_cmp(&s, &ack) > 0)
			first = v;
	}
	fprintf(stderr, "notifier_cluster: subscribed after event %d of %d\n", first - 1, RACE_EVENTS);
	cr_assert_gt(first, 0, "every event was written before the ack: no race to test");
	struct expect e[1] = {{r->col, first, RACE_EVENTS}};
	expect_events(&c, e, 1);
	cr_assert(it_quiet(&c), "something more after the last event");
	wsc_close(&c, 1000);
	free(r);
}
