/*
 * ntf_redis: the notifier's link to Redis, on the daemon's libuv loop
 * through hiredis's adapters/libuv.h. Two connections:
 *
 *  - sub: PSUBSCRIBE {<ns>:*}, one pattern for every collection. Each
 *    notifier hears every event, so several notifiers can sit behind one
 *    nginx upstream, and a new collection needs no round trip before its
 *    log can be read: the pattern is already active (see ntf_hub.c rule 4).
 *  - cmd: log reads, one Lua script (XINFO STREAM + XRANGE, atomic) per
 *    read, so "tail", "was anything trimmed" and the entries agree.
 *
 * The link is up when both are connected and the pattern is confirmed.
 * When either drops (or a read fails), both are closed, the hub is told,
 * and a reconnect runs after a backoff (100 ms doubling to 5 s). The hub
 * then syncs every collection from the log (gap fill).
 *
 * Ownership: the hiredis contexts belong to hiredis (freed after their
 * disconnect callbacks); ntf_redis owns its timer and ends with
 * ntf_redis_close() + a loop run to let the handles close.
 */
#ifndef NTF_REDIS_H
#define NTF_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <uv.h>

#include "ntf_hub.h"
#include "tnd_redis.h"

#define NTF_BACKOFF_MIN_MS 100
#define NTF_BACKOFF_MAX_MS 5000

struct ntf_redis {
	uv_loop_t *loop;
	struct ntf_hub *hub;
	struct tnd_redis_addr addr;
	char ns[TND_COLLECTION_MAX + 1];
	char pattern[TND_COLLECTION_MAX + 8];
	redisAsyncContext *sub, *cmd;
	bool sub_ready, cmd_ready;
	bool up, ever_up, paused, closing;
	unsigned backoff_ms;
	uv_timer_t timer;      /* reconnect, or a deferred link kill */
	bool kill_pending;
};

/* Sets up (no I/O yet). Returns 0 or a negative uv error. */
int ntf_redis_init(struct ntf_redis *r, uv_loop_t *loop, struct ntf_hub *hub,
		   const struct tnd_redis_addr *addr, const char *ns);
/* Connects now; failures are retried with backoff. */
void ntf_redis_start(struct ntf_redis *r);
/* Drops both connections and the timer; run the loop afterwards to finish. */
void ntf_redis_close(struct ntf_redis *r);

/* ntf_hub_ops glue: data is the struct ntf_redis. */
int ntf_redis_read_log(void *data, struct ntf_query *q);
void ntf_redis_pause(void *data, bool pause);

/*
 * The log read, shared with ntf_cluster (the same script on a cluster
 * node): the EVAL argv of q (pointers into a, valid while a lives), 0 or
 * -1 when the names do not fit a key.
 */
#define NTF_REDIS_LOG_ARGC 8
struct ntf_redis_log_args {
	char key[TND_KEY_MAX], since[TND_SEQ_STR_MAX], end[TND_SEQ_STR_MAX], count[16];
	const char *argv[NTF_REDIS_LOG_ARGC];
	size_t lens[NTF_REDIS_LOG_ARGC];
};
int ntf_redis_log_argv(const struct ntf_query *q, const char *ns, struct ntf_redis_log_args *a);
/*
 * Reads the script's answer into res (res->ok set) with its events in
 * *events (release both with ntf_redis_log_release after the hub is told).
 * -1 with *why on a malformed answer or no memory (res->ok false).
 */
int ntf_redis_log_parse(const struct ntf_query *q, const redisReply *reply,
			struct ntf_log_result *res, struct ntf_msg ***events, const char **why);
void ntf_redis_log_release(struct ntf_log_result *res, struct ntf_msg **events);

#endif
