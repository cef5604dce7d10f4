/*
 * shard_rec: test support for notifier/ntf_shard. A recorder counts every
 * callback of one shard (and checks that "m<i>" messages arrive in
 * order); run_until() drives the loop until a condition or a deadline;
 * redis_spawn() starts a private redis-server. Only processes started here
 * are signalled.
 */
#ifndef SHARD_REC_H
#define SHARD_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "ntf_shard.h"

struct rec {
	struct ntf_shard *sh;
	int connects, connect_status;
	int disconnects, disconnect_status;
	int subs, sub_errors;
	char sub_err[256];
	int unsubs, unsubs_by_server;
	char unsub_channel[128];
	int msgs;
	long next_seq;       /* the i of the next "m<i>" message */
	bool out_of_order;
	char *last_msg;      /* copy of the last payload (malloc) */
	size_t last_len;
	char last_channel[128];
	bool close_in_msg;        /* ntf_shard_close() from inside message_cb */
	bool close_in_disconnect; /* ... from inside disconnect_cb */
	int calls_after_close;
	bool closed;
};

extern const struct ntf_shard_cbs rec_cbs; /* data: a struct rec */

void rec_free(struct rec *r);

/* Runs loop until pred(arg) or timeout_ms; returns pred's last value. */
bool run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, int timeout_ms);

/* Runs the loop until no handle is left and closes it: 0 when clean. */
int loop_finish(uv_loop_t *loop);

/* redis-server with conf_lines on unix socket <dir>/r.sock; the pid, or -1. */
pid_t redis_spawn(const char *dir, const char *conf_lines);
void redis_kill(pid_t pid);

/* A blocking context to host:port (or unix path when port is 0), asserting success. */
redisContext *redis_ctx(const char *host_or_path, int port);

long long now_ms(void);

#endif
