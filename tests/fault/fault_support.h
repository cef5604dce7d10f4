/*
 * fault_support: what the fault tests share: a bounded load generator
 * (threads of blocking HTTP requests through nginx, every answer tallied,
 * every acknowledged write kept in a ledger), a Redis connection to the
 * stack's Redis for checking what is stored, and readers of the process
 * figures the flood test samples (/proc/<pid>/status and fd/).
 *
 * Threads: a load's workers run on their own threads and touch only the
 * load (under its mutex); everything else runs on the test's thread.
 */
#ifndef FAULT_SUPPORT_H
#define FAULT_SUPPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "stack.h"

#define FAULT_ID_MAX 64

/* A write the server acknowledged with a 2xx: the document and the version it answered. */
struct fault_ack {
	char id[FAULT_ID_MAX];
	int version;
	bool deleted; /* a 204 to DELETE: version is the deleted document's + 1 */
};

struct fault_load;
/*
 * One request of worker `worker`, iteration `i`: does it with
 * fault_request() and returns 0, or 1 when the worker should stop.
 */
typedef int (*fault_op_cb)(struct fault_load *l, int worker, long i);

struct fault_load {
	const struct stack *s;
	const char *col;
	fault_op_cb op;
	int workers;
	long max_per_worker; /* bound on requests per worker */
	void *data;

	pthread_t tids[32];
	atomic_bool stop;
	atomic_long requests; /* answered or failed, all kinds */
	atomic_long acked;    /* 2xx */
	atomic_long n503;

	pthread_mutex_t mu; /* guards what follows */
	struct fault_ack *acks;
	size_t n_acks, cap_acks;
	long by_status[600];
	long transport_errors;
	long bad_503; /* a 503 that is not store_unavailable with Retry-After */
	char first_failure[1200];
};

/* Starts l->workers threads running l->op until stop, or max_per_worker each. 0 or -1. */
int fault_load_start(struct fault_load *l);
/* Sets stop, joins the workers. */
void fault_load_stop(struct fault_load *l);
/* Frees the ledger. */
void fault_load_free(struct fault_load *l);
/* Polls until l->*counter reaches at least target; false after timeout_ms. */
bool fault_wait_count(atomic_long *counter, long target, long timeout_ms);
/* Requests that were not 2xx (transport errors included). */
long fault_load_failures(struct fault_load *l);

/*
 * One request through nginx to /api/v1/<col>[/<id>] with a JSON body (or
 * none), tallied in l. On a 2xx to a write the answer's id and version go
 * to the ledger; the id is copied to id_out when not NULL (POST). Returns
 * the status, 0 on a transport error.
 */
long fault_request(struct fault_load *l, const char *method, const char *id, const char *body,
		   char *id_out);

/* A connection to the stack's Redis (unix socket); NULL on failure. */
redisContext *fault_redis(const struct stack *s);

/* VmRSS of pid in KiB, its open fd count; -1 on error. */
long fault_rss_kib(pid_t pid);
long fault_fd_count(pid_t pid);

/*
 * Whether pid still runs: spawn-fcgi's workers are reparented to init,
 * which may reap them late, and kill(pid, 0) succeeds on a zombie.
 */
bool fault_pid_running(pid_t pid);

/* Reads up to max pids from a run-dir file (one per line, the last line may lack its newline). */
int fault_read_pids(const struct stack *s, const char *file, pid_t *pids, int max);

#endif
