/*
 * cluster_ops: see cluster_ops.h.
 */
#include "cluster_ops.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stack.h"

#define MASTERS_MAX 8
#define MIGRATE_BATCH_MAX 64

redisContext *cluster_ops_connect(const char *host, int port)
{
	redisContext *c = redisConnectWithTimeout(host, port, (struct timeval){.tv_sec = 5});

	cr_assert(c && !c->err, "cannot connect to %s:%d", host, port);
	cr_assert_eq(redisSetTimeout(c, (struct timeval){.tv_sec = 5}), REDIS_OK);
	return c;
}

redisReply *cluster_ops_cmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", fmt, r ? r->str : c->errstr);
	return r;
}

struct tnd_cluster_map *cluster_ops_slot_map(int port)
{
	redisContext *c = cluster_ops_connect("127.0.0.1", port);
	redisReply *r = cluster_ops_cmd(c, "CLUSTER SLOTS");
	struct tnd_cluster_map *m;
	char err[200];

	cr_assert_eq(tnd_cluster_map_parse(r, "127.0.0.1", &m, err, sizeof(err)), 0, "%s", err);
	freeReplyObject(r);
	redisFree(c);
	return m;
}

int cluster_ops_owner(const struct tnd_cluster_map *m, const char *ns, const char *col)
{
	int slot = tnd_cluster_collection_slot(ns, col, strlen(col));
	int idx;

	cr_assert_geq(slot, 0, "no slot for %s", col);
	idx = tnd_cluster_map_master(m, slot);
	cr_assert_geq(idx, 0, "no master serves %s", col);
	return idx;
}

int cluster_ops_other_master(const struct tnd_cluster_map *m, int idx)
{
	int masters[MASTERS_MAX], n = tnd_cluster_map_masters(m, masters, MASTERS_MAX);

	for (int i = 0; i < n && i < MASTERS_MAX; i++)
		if (masters[i] != idx)
			return masters[i];
	cr_assert_fail("one master only");
	return -1;
}

void cluster_ops_node_id(const struct tnd_cluster_node *n, char *out, size_t len)
{
	redisContext *c = cluster_ops_connect(n->host, n->port);
	redisReply *r = cluster_ops_cmd(c, "CLUSTER MYID");

	snprintf(out, len, "%s", r->str);
	freeReplyObject(r);
	redisFree(c);
}

/* MIGRATE every key of slot from src to dst, batch at a time. Returns the keys moved. */
static int migrate_keys(redisContext *src, const struct tnd_cluster_node *dst, int slot, int batch)
{
	int moved = 0;
	char port[16];

	cr_assert(batch >= 1 && batch <= MIGRATE_BATCH_MAX);
	snprintf(port, sizeof(port), "%d", dst->port);
	for (int round = 0; round < 10000; round++) {
		redisReply *keys = cluster_ops_cmd(src, "CLUSTER GETKEYSINSLOT %d %d", slot, batch);
		const char *argv[MIGRATE_BATCH_MAX + 7] = {"MIGRATE", dst->host, port, "", "0", "5000", "KEYS"};
		int n = 7;
		redisReply *r;

		if (keys->elements == 0) {
			freeReplyObject(keys);
			return moved;
		}
		for (size_t i = 0; i < keys->elements && i < (size_t)batch; i++)
			argv[n++] = keys->element[i]->str;
		r = redisCommandArgv(src, n, argv, NULL);
		cr_assert(r && r->type != REDIS_REPLY_ERROR, "MIGRATE: %s", r ? r->str : src->errstr);
		freeReplyObject(r);
		moved += n - 7;
		freeReplyObject(keys);
	}
	cr_assert_fail("slot %d never emptied", slot);
	return moved;
}

int cluster_ops_begin_move(const struct tnd_cluster_map *m, int slot, int src, int dst, int batch)
{
	const struct tnd_cluster_node *s = tnd_cluster_map_node(m, src), *d = tnd_cluster_map_node(m, dst);
	redisContext *cs = cluster_ops_connect(s->host, s->port), *cd = cluster_ops_connect(d->host, d->port);
	char src_id[64], dst_id[64];
	int moved;

	cluster_ops_node_id(s, src_id, sizeof(src_id));
	cluster_ops_node_id(d, dst_id, sizeof(dst_id));
	freeReplyObject(cluster_ops_cmd(cd, "CLUSTER SETSLOT %d IMPORTING %s", slot, src_id));
	freeReplyObject(cluster_ops_cmd(cs, "CLUSTER SETSLOT %d MIGRATING %s", slot, dst_id));
	moved = migrate_keys(cs, d, slot, batch);
	redisFree(cs);
	redisFree(cd);
	return moved;
}

void cluster_ops_finish_move(const struct tnd_cluster_map *m, int slot, int src, int dst)
{
	int order[MASTERS_MAX + 2], n = 0, masters[MASTERS_MAX];
	int n_masters = tnd_cluster_map_masters(m, masters, MASTERS_MAX);
	char dst_id[64];

	cluster_ops_node_id(tnd_cluster_map_node(m, dst), dst_id, sizeof(dst_id));
	order[n++] = dst;
	order[n++] = src;
	for (int i = 0; i < n_masters && i < MASTERS_MAX; i++)
		if (masters[i] != src && masters[i] != dst)
			order[n++] = masters[i];
	for (int i = 0; i < n; i++) {
		const struct tnd_cluster_node *o = tnd_cluster_map_node(m, order[i]);
		redisContext *c = cluster_ops_connect(o->host, o->port);

		freeReplyObject(cluster_ops_cmd(c, "CLUSTER SETSLOT %d NODE %s", slot, dst_id));
		redisFree(c);
	}
}

int cluster_ops_move_slot(const struct tnd_cluster_map *m, int slot, int src, int dst, int batch,
			  void (*mid)(void *), void *arg)
{
	int moved = cluster_ops_begin_move(m, slot, src, dst, batch);

	if (mid)
		mid(arg);
	cluster_ops_finish_move(m, slot, src, dst);
	return moved;
}

long long cluster_ops_wait_for_master(const struct tnd_cluster_node *n, long long bound_ms)
{
	long long t0 = stack_now_ms();
	redisContext *c = cluster_ops_connect(n->host, n->port);

	while (stack_now_ms() - t0 < bound_ms) {
		redisReply *r = cluster_ops_cmd(c, "INFO replication");
		bool master = strstr(r->str, "role:master") != NULL;

		freeReplyObject(r);
		if (master) {
			redisFree(c);
			return stack_now_ms() - t0;
		}
		usleep(20000);
	}
	redisFree(c);
	return -1;
}
