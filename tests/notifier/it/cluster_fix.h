/*
 * cluster_fix: a real Redis Cluster for the notifier's tests (3 masters,
 * 3 replicas, started by scripts/run-cluster.sh in a fresh temp dir with
 * a 1 s cluster-node-timeout and no AOF), and blocking helpers to talk to
 * its nodes. Only the script's own process group is signalled.
 */
#ifndef CLUSTER_FIX_H
#define CLUSTER_FIX_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "tnd_cluster.h"

#define CLUSTER_READY_TIMEOUT_MS 90000

struct cluster_fix {
	char dir[64];          /* TANDEM_RUN_DIR of the script */
	pid_t pid;             /* run-cluster.sh, leader of its process group */
	char seeds[1024];      /* redis-cluster://127.0.0.1:P,... as the script wrote it */
};

/* Starts the cluster and waits until it is ready (asserts on failure). */
void cluster_fix_start(struct cluster_fix *f);
/* Stops it (SIGTERM, then SIGKILL to its group after 20 s) and removes the dir. */
void cluster_fix_stop(struct cluster_fix *f);

/* A command that must answer (asserts); the caller frees the reply. */
redisReply *cluster_cmd(redisContext *c, const char *fmt, ...);
/* A command that must not fail (asserts). */
void cluster_cmd_ok(redisContext *c, const char *fmt, ...);
/* The slot map as c sees it (asserts); the caller frees it. */
struct tnd_cluster_map *cluster_slot_map(redisContext *c);

#endif
