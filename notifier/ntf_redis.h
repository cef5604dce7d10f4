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

#endif
