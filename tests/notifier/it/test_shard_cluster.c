/*
 * The cluster building blocks against a real Redis Cluster (3 masters, 3
 * replicas, started by scripts/run-cluster.sh in a temp dir with a 1 s
 * cluster-node-timeout, stopped at the end):
 *
 *   - the seed URL the script prints parses (tnd_redis_target_parse) and
 *     CLUSTER SLOTS from a seed becomes a full slot map (tnd_cluster_map);
 *   - our key slots equal the server's CLUSTER KEYSLOT for 64 collections,
 *     and those collections land on all three masters;
 *   - SSUBSCRIBE on a master that does not own the slot is answered with a
 *     MOVED that tnd_cluster_redirect_parse reads to the right owner;
 *   - on the owner, SPUBLISH messages arrive in order (ntf_shard);
 *   - moving the slot to another master (CLUSTER SETSLOT IMPORTING /
 *     MIGRATING / NODE, as redis-cli --cluster reshard does) makes the old
 *     owner push `sunsubscribe` within a bound; the new owner takes the
 *     subscription and delivers;
 *   - a manual failover (CLUSTER FAILOVER on the new owner's replica) ends
 *     the subscription on the demoted master (sunsubscribe or a dropped
 *     link, within a bound), and the promoted replica takes it.
 * Figures (ms) go to stderr.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_fix.h"
#include "ntf_shard.h"
#include "shard_rec.h"
#include "tnd_cluster.h"
#include "tnd_error.h"
#include "tnd_redis.h"

#define MOVE_BOUND_MS 5000
#define FAILOVER_BOUND_MS 15000

static struct cluster_fix fix;
static uv_loop_t loop;

static void cluster_start(void)
{
	cluster_fix_start(&fix);
	cr_assert_eq(uv_loop_init(&loop), 0);
}

static void cluster_stop(void)
{
	cluster_fix_stop(&fix);
}

#define cmd cluster_cmd
#define cmd_ok cluster_cmd_ok
#define slot_map cluster_slot_map

static struct ntf_shard *open_on(const struct tnd_cluster_node *n, struct rec *rec)
{
	struct tnd_redis_addr a = {.port = n->port};
	struct ntf_shard_cbs cbs = rec_cbs;
	struct ntf_shard *sh;
	char err[200];

	snprintf(a.host, sizeof(a.host), "%s", n->host);
	cbs.data = rec;
	cr_assert_eq(ntf_shard_open(&loop, &a, NULL, &cbs, &sh, err, sizeof(err)), 0, "%s", err);
	rec->sh = sh;
	return sh;
}

static int want;
static bool got_sub_answer(void *a)
{
	return ((struct rec *)a)->subs + ((struct rec *)a)->sub_errors >= want;
}
static bool got_msgs(void *a)
{
	return ((struct rec *)a)->msgs >= want;
}
static bool lost_sub(void *a)
{
	return ((struct rec *)a)->unsubs_by_server > 0 || ((struct rec *)a)->disconnects > 0;
}

static void publish_seq(redisContext *c, const char *ch, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		redisReply *r = cmd(c, "SPUBLISH %s m%d", ch, i);
		cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", r->str);
		cr_assert_eq(r->integer, 1);
		freeReplyObject(r);
	}
}

static redisContext *node_ctx(const struct tnd_cluster_node *n)
{
	return redis_ctx(n->host, n->port);
}

Test(shard_cluster, follows_a_slot_move_and_a_failover, .init = cluster_start,
     .fini = cluster_stop, .timeout = 110)
{
	const char *ch = "{tandem:todos}";
	struct tnd_redis_target t;
	char err[200];

	/* 1. The seed URL and the slot map. */
	cr_assert_eq(tnd_redis_target_parse(fix.seeds, &t, err, sizeof(err)), 0, "%s: %s", fix.seeds,
		     err);
	cr_assert(t.cluster);
	cr_assert_eq(t.n_seeds, 6);
	redisContext *seed = redis_ctx(t.seeds[0].host, t.seeds[0].port);
	struct tnd_cluster_map *m = slot_map(seed);
	int masters[8], reps[4];
	cr_assert_eq(tnd_cluster_map_covered(m), TND_CLUSTER_SLOTS);
	cr_assert_eq(tnd_cluster_map_masters(m, masters, 8), 3);
	cr_assert_eq(tnd_cluster_map_node_count(m), 6, "%zu nodes", tnd_cluster_map_node_count(m));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tnd_cluster_map_replicas(m, 0, reps, 4), 1);

	/* 2. Our slots are the server's, and collections spread over the masters. */
	bool used[TND_CLUSTER_NODES_MAX] = {false};
	for (int i = 0; i < 64; i++) {
		char col[16];
		int n = snprintf(col, sizeof(col), "col%d", i);
		int slot = tnd_cluster_collection_slot("tandem", col, (size_t)n);
		redisReply *r = cmd(seed, "CLUSTER KEYSLOT {tandem:%s}:log", col);
		cr_assert_eq(r->integer, slot, "%s", col);
		freeReplyObject(r);
		used[tnd_cluster_map_master(m, slot)] = true;
	}
	for (int i = 0; i < 3; i++)
		cr_assert(used[masters[i]], "a master got none of 64 collections");

	int slot = tnd_cluster_collection_slot("tandem", "todos", 5);
	int owner = tnd_cluster_map_master(m, slot);
	int other = masters[0] == owner ? masters[1] : masters[0];
	struct tnd_cluster_node a = *tnd_cluster_map_node(m, owner), b = *tnd_cluster_map_node(m, other);

	/* 3. SSUBSCRIBE on the wrong master: a MOVED to the owner. */
	struct rec wrong = {0};
	open_on(&b, &wrong);
	ntf_shard_subscribe(wrong.sh, ch, strlen(ch));
	want = 1;
	cr_assert(run_until(&loop, got_sub_answer, &wrong, 5000));
	cr_assert_eq(wrong.sub_errors, 1);
	struct tnd_cluster_redirect redir;
	cr_assert_eq(tnd_cluster_redirect_parse(wrong.sub_err, strlen(wrong.sub_err), &redir),
		     TND_CLUSTER_REDIR_MOVED, "%s", wrong.sub_err);
	cr_assert_eq(redir.slot, slot);
	cr_assert_eq(redir.port, a.port, "%s", wrong.sub_err);
	ntf_shard_close(wrong.sh);

	/* 4. On the owner: messages in order. */
	struct rec r1 = {0};
	redisContext *ca = node_ctx(&a), *cb = node_ctx(&b);
	open_on(&a, &r1);
	ntf_shard_subscribe(r1.sh, ch, strlen(ch));
	cr_assert(run_until(&loop, got_sub_answer, &r1, 5000));
	cr_assert_eq(r1.subs, 1, "%s", r1.sub_err);
	publish_seq(ca, ch, 0, 100);
	want = 100;
	cr_assert(run_until(&loop, got_msgs, &r1, 5000));
	cr_assert_not(r1.out_of_order);

	/* 5. Move the slot a -> b (it holds no key): the old owner drops the channel. */
	cmd_ok(cb, "CLUSTER SETSLOT %d IMPORTING %s", slot, a.id);
	cmd_ok(ca, "CLUSTER SETSLOT %d MIGRATING %s", slot, b.id);
	cmd_ok(cb, "CLUSTER SETSLOT %d NODE %s", slot, b.id);
	long long t0 = now_ms();
	cmd_ok(ca, "CLUSTER SETSLOT %d NODE %s", slot, b.id);
	cr_assert(run_until(&loop, lost_sub, &r1, MOVE_BOUND_MS), "no sunsubscribe after the slot move");
	fprintf(stderr, "shard_cluster: sunsubscribe %lld ms after the slot left its master\n",
		now_ms() - t0);
	cr_assert_eq(r1.unsubs_by_server, 1, "a push, not a dropped link");
	cr_assert_str_eq(r1.unsub_channel, ch);
	cr_assert_eq(r1.disconnects, 0);
	redisReply *rep = cmd(ca, "SPUBLISH %s late", ch);
	cr_assert_eq(rep->type, REDIS_REPLY_ERROR);
	cr_assert_eq(tnd_cluster_redirect_parse(rep->str, rep->len, &redir), TND_CLUSTER_REDIR_MOVED);
	cr_assert_eq(redir.port, b.port);
	freeReplyObject(rep);
	ntf_shard_close(r1.sh);

	/* 6. Re-resolve from the new owner, subscribe there, deliver. */
	tnd_cluster_map_free(m);
	m = slot_map(cb);
	cr_assert_eq(tnd_cluster_map_node(m, tnd_cluster_map_master(m, slot))->port, b.port);
	cr_assert_eq(tnd_cluster_map_replicas(m, slot, reps, 4), 1);
	struct tnd_cluster_node b_rep = *tnd_cluster_map_node(m, reps[0]);
	struct rec r2 = {0};
	open_on(&b, &r2);
	ntf_shard_subscribe(r2.sh, ch, strlen(ch));
	want = 1;
	cr_assert(run_until(&loop, got_sub_answer, &r2, 5000));
	cr_assert_eq(r2.subs, 1, "%s", r2.sub_err);
	publish_seq(cb, ch, 0, 50);
	want = 50;
	cr_assert(run_until(&loop, got_msgs, &r2, 5000));
	cr_assert_not(r2.out_of_order);

	/* 7. Manual failover of b to its replica: b stops serving the slot. */
	redisContext *crep = node_ctx(&b_rep);
	t0 = now_ms();
	cmd_ok(crep, "CLUSTER FAILOVER");
	cr_assert(run_until(&loop, lost_sub, &r2, FAILOVER_BOUND_MS), "subscription outlived the failover");
	fprintf(stderr, "shard_cluster: failover ended the subscription on the demoted master in %lld ms (%s)\n",
		now_ms() - t0, r2.unsubs_by_server ? "sunsubscribe" : "link dropped");
	ntf_shard_close(r2.sh);

	/* 8. The promoted replica takes the subscription. */
	long long deadline = now_ms() + FAILOVER_BOUND_MS;
	for (;;) {
		rep = cmd(crep, "ROLE");
		bool master = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
			      !strcmp(rep->element[0]->str, "master");
		freeReplyObject(rep);
		if (master)
			break;
		cr_assert_lt(now_ms(), deadline, "the replica was not promoted");
		usleep(20000);
	}
	struct rec r3 = {0};
	open_on(&b_rep, &r3);
	ntf_shard_subscribe(r3.sh, ch, strlen(ch));
	want = 1;
	cr_assert(run_until(&loop, got_sub_answer, &r3, 5000));
	cr_assert_eq(r3.subs, 1, "%s", r3.sub_err);
	publish_seq(crep, ch, 0, 50);
	want = 50;
	cr_assert(run_until(&loop, got_msgs, &r3, 5000));
	cr_assert_not(r3.out_of_order);
	ntf_shard_close(r3.sh);

	cr_assert_eq(loop_finish(&loop), 0, "a handle was left open");
	rec_free(&wrong);
	rec_free(&r1);
	rec_free(&r2);
	rec_free(&r3);
	tnd_cluster_map_free(m);
	redisFree(crep);
	redisFree(ca);
	redisFree(cb);
	redisFree(seed);
}
