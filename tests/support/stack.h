/*
 * stack: test fixture that starts the real Tandem stack (redis-server,
 * spawn-fcgi + tandem-rest, tandem-notifier, nginx) through
 * scripts/run-stack.sh in a fresh temp dir on two free ports
 * (stack_free_port), and stops it.
 *
 * Binaries come from TANDEM_BIN_DIR (default "build"; the sanitizer run
 * sets build/san). The fixture owns the run dir and the script's process
 * group; stack_stop() removes both. Only processes it started are killed.
 */
#ifndef TEST_STACK_H
#define TEST_STACK_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

struct stack {
	char dir[256];        /* run dir (TANDEM_RUN_DIR) */
	int http_port;        /* nginx, TANDEM_HTTP_PORT */
	int ws_port;          /* notifier, http_port + 1 */
	pid_t pid;            /* run-stack.sh */
	char base_url[64];    /* http://127.0.0.1:<port> */
	char redis_sock[300]; /* <dir>/redis.sock */
};

/*
 * With TANDEM_STACK_REDIS=cluster in the environment the stack runs on a
 * local Redis Cluster (3 masters, 3 replicas; scripts/run-stack.sh), the
 * notifier on it too: a test binary run so (tests/module.mk runs the REST
 * and WebSocket suites both ways) starts every stack that way.
 *
 * Starts the stack; extra_env is NULL or a NULL-terminated list of
 * "NAME=value" added to the script's environment. Waits up to 30 s for
 * <dir>/ready. Returns 0, or -1 (stack already stopped again).
 */
int stack_start(struct stack *s, const char *const *extra_env);
/*
 * SIGTERM to the script, waits up to 20 s (then SIGKILL), removes the dir.
 * Returns the script's exit status, or -1 when a server's log holds an
 * ASan/LSan/UBSan report or nginx's error log an upstream error the tests
 * did not declare (stack_check_nginx_log; the dir is then kept for
 * reading).
 */
int stack_stop(struct stack *s);

/*
 * nginx's error log must hold no upstream error ("upstream", "reset by
 * peer", "prematurely closed": a worker or notifier that reset, refused or
 * dropped nginx's connection, which a client sees as a 502 or a lost
 * answer) unless a test caused it on purpose and said so. Prints each
 * unexpected line to stderr and returns how many there were (0 = clean,
 * -1 when the log cannot be read). stack_stop() runs it.
 */
int stack_check_nginx_log(const struct stack *s);
/*
 * Declares that error-log lines containing substring are expected from
 * now on, for the rest of this stack's life (a test that kills workers
 * or stops a pool on purpose): e.g. "connect() failed (2: No such file
 * or directory)". The declaration lives in the run dir, so a test forked
 * by Criterion can make it for the stack main() stops. Returns 0 or -1.
 */
int stack_allow_nginx_errors(const struct stack *s, const char *substring);
/* Every upstream error from now on is expected (a stack whose workers a test kills). 0 or -1. */
int stack_expect_upstream_errors(const struct stack *s);

/* Reads a pid file of the stack ("redis.pid", "notifier.pid", "rest.pid"); -1 when absent. */
pid_t stack_pid(const struct stack *s, const char *pidfile);

/*
 * Stops Redis (SIGTERM, waits until its socket is gone) / starts it again
 * with the same config and data. Single server only: -1 on a cluster.
 */
int stack_redis_stop(struct stack *s);
int stack_redis_start(struct stack *s);

/*
 * Runs redis-cli against the stack's Redis (a cluster: redis-cli -c on
 * its first node, following redirections); output (trimmed) into out.
 * Returns exit status.
 */
int stack_redis_cli(const struct stack *s, char *out, size_t outlen, const char *const *args);

/* The stack runs on a Redis Cluster (its run dir holds cluster/seeds). */
bool stack_is_cluster(const struct stack *s);

/* The first node's port of the stack's cluster; -1 when none. */
int stack_cluster_port(const struct stack *s);

/*
 * A blocking hiredis connection (5 s timeout) to the Redis that holds
 * collection's keys: the stack's server, or the master of the
 * collection's slot. NULL on failure. The caller redisFree()s it.
 */
redisContext *stack_redis_connect(const struct stack *s, const char *collection);

/* TANDEM_REDIS_URL for a program of our own on the stack's Redis (default user). 0 or -1. */
int stack_redis_url(const struct stack *s, char *out, size_t outlen);

/* "SUBSCRIBE" on a single server, "SSUBSCRIBE" on a cluster (Tandem's writes SPUBLISH there). */
const char *stack_subscribe_cmd(const struct stack *s);

/*
 * Criterion runs each test in a fresh process image, so a stack started in
 * main() reaches the tests through the environment: stack_export() in
 * main, stack_import() in a test. Returns 0 or -1.
 */
int stack_export(const struct stack *s);
int stack_import(struct stack *s);

/* A free 127.0.0.1 port in 23000-29999, below the ephemeral range (stack.c says why); -1 when none. */
int stack_free_port(void);

/* Milliseconds on the monotonic clock, for deadlines. */
long long stack_now_ms(void);

#endif
