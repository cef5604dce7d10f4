/*
 * cluster_ops: what the cluster tests do to a running Redis Cluster, with
 * blocking hiredis connections and Criterion asserts: read the slot map,
 * find a collection's master, move a slot the way redis-cli --cluster
 * reshard does, and wait for a replica to take over. Every function asserts
 * on failure; the caller frees what it is handed (maps, replies,
 * connections).
 */
#ifndef CLUSTER_OPS_H
#define CLUSTER_OPS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "tnd_cluster.h"

/* A connection to host:port with a 5 s timeout. */
redisContext *cluster_ops_connect(const char *host, int port);

/* A command that must not fail; the caller frees the reply. */
redisReply *cluster_ops_cmd(redisContext *c, const char *fmt, ...);

/* The slot map as the node on 127.0.0.1:port sees it. */
struct tnd_cluster_map *cluster_ops_slot_map(int port);

/* The index in m of the master that owns collection col of namespace ns. */
int cluster_ops_owner(const struct tnd_cluster_map *m, const char *ns, const char *col);

/* A master of m other than idx. */
int cluster_ops_other_master(const struct tnd_cluster_map *m, int idx);

/* CLUSTER MYID of node n, into out. */
void cluster_ops_node_id(const struct tnd_cluster_node *n, char *out, size_t len);

/*
 * The first half of a reshard of slot from master src to master dst of m:
 * IMPORTING on dst, MIGRATING on src, every key MIGRATEd, batch keys at a
 * time (so the move lasts many round trips). Returns the keys moved.
 */
int cluster_ops_begin_move(const struct tnd_cluster_map *m, int slot, int src, int dst, int batch);

/* The second half: SETSLOT NODE on the new owner, then the old one, then every other master. */
void cluster_ops_finish_move(const struct tnd_cluster_map *m, int slot, int src, int dst);

/* Both halves, with mid(arg) between them when mid is not NULL. Returns the keys moved. */
int cluster_ops_move_slot(const struct tnd_cluster_map *m, int slot, int src, int dst, int batch,
			  void (*mid)(void *), void *arg);

/* Waits until node n says role:master. Returns the ms it took, or -1 after bound_ms. */
long long cluster_ops_wait_for_master(const struct tnd_cluster_node *n, long long bound_ms);

#endif
