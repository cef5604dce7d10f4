/*
 * tandem-rest: the stateless FastCGI worker of Tandem.
 *
 * main() reads the configuration, opens or inherits the FastCGI socket
 * (spawn-fcgi hands it over as fd 0), and starts TANDEM_THREADS worker
 * threads. Each thread owns its FCGX request and its Redis connection
 * (rest_store), so the threads share nothing but the ULID generator and
 * the read-only settings.
 *
 * Shutdown: SIGTERM/SIGINT are blocked in every thread and taken by the
 * main thread with sigwait(). What happens next is a drain, so that a
 * rolling restart (stop one pool, start it again, then the next) loses
 * no request, even a POST or PATCH, which nginx never retries once sent:
 *
 * On a unix socket (the way we run), the main thread
 *   1. unlinks the socket's path (found with getsockname(), and only when
 *      the file there is still the one we listened on, not a successor's):
 *      nginx's next connect() fails with ENOENT before anything is sent,
 *      so nginx tries the next server of the upstream;
 *   2. shutdown(SHUT_RD)s the listening socket. Linux then refuses every
 *      later connect() (ECONNREFUSED, also retried by nginx), wakes every
 *      thread blocked in accept(), and lets accept() hand out what is
 *      already queued in the backlog, then fail with EINVAL. So the
 *      threads serve the queue to its end and stop on EINVAL: nothing
 *      queued is reset at exit, and no signal has to interrupt accept().
 * spawn-fcgi -F N runs N processes on one listening socket (one socket,
 * shared): the shutdown reaches all of them, and a process that sees
 * EINVAL without having been signalled itself drains and exits too (it
 * raises SIGTERM at itself), so SIGTERM to any process stops the pool.
 *
 * On TCP no such switch exists: shutdown() of a listening TCP socket, or
 * closing it, resets the connections in its backlog. There the main
 * thread makes accept() non-blocking, sets the stop flag and pokes each
 * thread still blocked in accept() with SIGUSR2 (a no-op handler without
 * SA_RESTART; libfcgi's accept() retries on EINTR unless a request is
 * made with FCGI_FAIL_ACCEPT_ON_INTR); the threads then serve the queue
 * until accept() says EAGAIN. Connections that arrive after that are
 * reset when the process exits: take a TCP server out of nginx's
 * upstream (or drain it there) before stopping it, or use unix sockets.
 * FCGX_ShutdownPending() is never called: libfcgi then refuses to
 * accept() at all, which would drop the queue.
 *
 * Threads busy with a request finish it first. Then exit 0.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fcgiapp.h>

#include "rest_handlers.h"
#include "rest_store.h"
#include "tnd_config.h"
#include "tnd_log.h"
#include "tnd_num.h"
#include "tnd_redis.h"
#include "tnd_valid.h"
#include "tnd_version.h"

#define THREADS_MAX 1024

struct rest_config {
	struct tnd_common_config common;
	const char *listen;
	const char *metrics_listen;
	long long metrics_ports;
	long long max_body;
	long long scan_limit;
	long long log_len;
	long long threads;
	long long redis_timeout_ms;
	long long wait_replicas;
	long long backlog;
};

/* unix:/path or host:port; unset means the socket spawn-fcgi hands over. */
static int check_listen(const char *value, char *why, size_t whylen)
{
	if (!strncmp(value, "unix:/", 6) || strchr(value, ':'))
		return 0;
	snprintf(why, whylen, "use unix:/path or host:port");
	return -1;
}

/* ipv4:port; the listener parses it again when it starts. */
static int check_metrics_listen(const char *value, char *why, size_t whylen)
{
	const char *colon = strrchr(value, ':');
	long long port;

	if (colon && colon > value && tnd_num_parse_str(colon + 1, 1, 65535, &port) == 0)
		return 0;
	snprintf(why, whylen, "use ipv4-address:port");
	return -1;
}

#define OPT(f) offsetof(struct rest_config, f)
static const struct tnd_option options[] = {
	TND_COMMON_OPTIONS(struct rest_config, common),
	{"listen", "TANDEM_LISTEN", TND_OPT_STRING, NULL, 1, 200, OPT(listen),
	 "unix:/path or host:port to listen on; unset = the socket inherited on fd 0 (spawn-fcgi)",
	 check_listen},
	{"max-body", "TANDEM_MAX_BODY", TND_OPT_INT, "1048576", 64, 64LL << 20, OPT(max_body),
	 "largest request body in bytes (413 beyond)", NULL},
	{"scan-limit", "TANDEM_SCAN_LIMIT", TND_OPT_INT, "10000", 1, 10000000, OPT(scan_limit),
	 "documents one filtered list page examines at most (SPEC section 8)", NULL},
	{"log-len", "TANDEM_LOG_LEN", TND_OPT_INT, "10000", 10, 100000000, OPT(log_len),
	 "events kept in each collection's log (approximate trim)", NULL},
	{"threads", "TANDEM_THREADS", TND_OPT_INT, "16", 1, THREADS_MAX, OPT(threads),
	 "worker threads, each with its own Redis connection", NULL},
	{"redis-timeout", "TANDEM_REDIS_TIMEOUT_MS", TND_OPT_INT, "1000", 10, 60000,
	 OPT(redis_timeout_ms), "Redis connect and command timeout in ms (then 503)", NULL},
	{"redis-wait-replicas", "TANDEM_REDIS_WAIT_REPLICAS", TND_OPT_INT, "0", 0, 64,
	 OPT(wait_replicas),
	 "after each write, WAIT for this many replicas (bounded by the Redis timeout); fewer: "
	 "503 not_replicated, the write done", NULL},
	{"backlog", "TANDEM_BACKLOG", TND_OPT_INT, "1024", 1, 65535, OPT(backlog),
	 "listen backlog when tandem-rest opens its own socket", NULL},
	{"metrics-listen", "TANDEM_METRICS_LISTEN", TND_OPT_STRING, NULL, 1, 64, OPT(metrics_listen),
	 "ipv4:port for Prometheus /metrics; unset = none", check_metrics_listen},
	{"metrics-ports", "TANDEM_METRICS_PORTS", TND_OPT_INT, "1", 1, 1024, OPT(metrics_ports),
	 "take the first free port of metrics-listen's port .. +N-1 (several processes per host)", NULL},
};
#undef OPT
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Shared by main and the workers; only the atomics change after start. */
struct rest_pool {
	int listen_fd;
	bool unix_socket; /* listen_fd is AF_UNIX */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1]; /* its file, "" if none */
	dev_t path_dev;   /* the file at path when we started: unlink only that one */
	ino_t path_ino;
	atomic_bool stop;
	struct rest_thread *threads;
	long long n_threads;
};

struct rest_thread {
	struct rest_pool *pool;
	struct rest_worker worker;
	pthread_t tid;
	atomic_bool in_accept;
	atomic_bool draining; /* TCP: accept() is non-blocking from now on, no poke needed */
	atomic_bool done;
	bool started;
};

static void on_poke(int sig)
{
	(void)sig; /* only here to interrupt accept() */
}

/*
 * Ends one FastCGI connection without losing the answer.
 *
 * Closing a socket, TCP or unix stream alike, while unread input sits in
 * its receive queue makes Linux reset the peer, and nginx then discards
 * the answer it has not read yet (502, "reset by peer"). libfcgi guards
 * against that with shutdown() + select() + read() until nginx closes: a
 * wait for nginx on every request. On a unix socket we instead read the
 * request's input to its end record ourselves (nothing left on a plain
 * GET, the rest of the body when a handler refused early) and then close
 * at once. nginx has the whole body before it connects (request buffering)
 * and client_max_body_size bounds it, so the drain is bounded and never
 * waits on a slow client. (detached is libfcgi's "close without
 * lingering" switch.)
 */
static void finish_request(FCGX_Request *req, bool unix_socket)
{
	char sink[8192];

	if (unix_socket) {
		while (!FCGX_HasSeenEOF(req->in) && FCGX_GetStr(sink, sizeof(sink), req->in) > 0)
			;
		req->detached = 1;
	}
	FCGX_Finish_r(req);
}

/*
 * Worker threads run under SCHED_BATCH: the kernel then no longer lets a
 * woken worker preempt whatever runs on its CPU. Every request wakes a
 * worker twice (nginx's connect, Redis's reply), and on a host where
 * nginx, Redis and the workers share the cores each such preemption cut
 * nginx or Redis off in the middle of a batch of work: a request cost up
 * to twice the CPU, less so when other load fills the cores anyway
 * (docs/PERFORMANCE.md, "Where the time goes"). Workers get the same CPU
 * share as before; a woken one waits for the running task's slice
 * instead. Any user may choose it; where a sandbox
 * refuses, the thread just stays as it was.
 */
static void prefer_throughput(int index)
{
	struct sched_param param = {.sched_priority = 0};
	int rc = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);

	if (rc != 0)
		tnd_log_debug("worker %d: SCHED_BATCH refused: %s", index, strerror(rc));
}

static void *worker_main(void *arg)
{
	struct rest_thread *th = arg;
	FCGX_Request req;

	prefer_throughput(th->worker.index);
	if (FCGX_InitRequest(&req, th->pool->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		tnd_log_error("worker %d: cannot set up a FastCGI request", th->worker.index);
		goto out;
	}
	for (;;) {
		int rc;

		atomic_store(&th->in_accept, true);
		/*
		 * TCP stop: the main thread made accept() non-blocking before
		 * setting stop, so from here on this thread drains and needs no
		 * poke. Checked after in_accept is set, so a poke cannot be
		 * missed for good.
		 */
		if (atomic_load(&th->pool->stop))
			atomic_store(&th->draining, true);
		rc = FCGX_Accept_r(&req);
		atomic_store(&th->in_accept, false);
		if (rc >= 0) {
			rest_handle(&th->worker, &req);
			finish_request(&req, th->pool->unix_socket);
			continue;
		}
		if (rc == -EINTR)
			continue; /* a poke: the loop looks at the stop flag again */
		if (rc == -EINVAL && th->pool->unix_socket) {
			/*
			 * The listening socket was shut down and its queue is empty:
			 * by our main thread, or by another process of the pool.
			 * Then stop this process too (the main thread sigwait()s).
			 */
			if (!atomic_load(&th->pool->stop)) {
				tnd_log_info("worker %d: the pool's socket was shut down by another "
					     "process: stopping", th->worker.index);
				kill(getpid(), SIGTERM);
			}
			break;
		}
		if (atomic_load(&th->pool->stop) && (rc == -EAGAIN || rc == -EWOULDBLOCK))
			break; /* TCP: the backlog is empty */
		tnd_log_warn("worker %d: accept failed (%d)", th->worker.index, rc);
		nanosleep(&(struct timespec){.tv_nsec = 10000000L}, NULL);
	}
	FCGX_Free(&req, 0);
out:
	atomic_store(&th->in_accept, false);
	rest_store_close(&th->worker.store);
	atomic_store(&th->done, true);
	return NULL;
}

static int open_listen_socket(const char *listen, long long backlog)
{
	const char *addr = listen;

	if (!listen)
		return 0; /* FCGI_LISTENSOCK_FILENO: spawn-fcgi's socket */
	if (!strncmp(listen, "unix:", 5)) {
		addr = listen + 5;
		unlink(addr); /* a stale socket file from an earlier run */
	}
	return FCGX_OpenSocket(addr, (int)backlog);
}

static bool is_unix_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX;
}

/* What the options table's checks leave: the Redis server or cluster, with its credentials. */
static int check_config(const struct rest_config *cfg, struct tnd_redis_target *target, char *err,
			size_t errlen)
{
	return tnd_common_redis_target(&cfg->common, target, err, errlen);
}

/*
 * Remembers the file a unix listening socket is bound to, so that the
 * stop unlinks that file and never a successor's: a restarted pool may
 * already have bound a new socket at the same path.
 */
static void note_socket_path(struct rest_pool *pool)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	struct stat st;

	pool->path[0] = '\0';
	if (!pool->unix_socket || getsockname(pool->listen_fd, (struct sockaddr *)&sun, &len) != 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sun.sun_path[0] == '\0')
		return; /* unnamed or abstract: nothing to unlink */
	len -= offsetof(struct sockaddr_un, sun_path);
	memcpy(pool->path, sun.sun_path, len);
	pool->path[len] = '\0';
	if (stat(pool->path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		pool->path[0] = '\0';
		return;
	}
	pool->path_dev = st.st_dev;
	pool->path_ino = st.st_ino;
}

/* Step 1 and 2 of the unix-socket drain (see the top of this file). */
static void close_the_door(struct rest_pool *pool)
{
	struct stat st;

	if (pool->path[0] && stat(pool->path, &st) == 0 && st.st_dev == pool->path_dev &&
	    st.st_ino == pool->path_ino) {
		if (unlink(pool->path) == 0)
			tnd_log_info("removed %s: new connections go to other servers", pool->path);
		else if (errno != ENOENT)
			tnd_log_warn("cannot remove %s: %s", pool->path, strerror(errno));
	}
	if (shutdown(pool->listen_fd, SHUT_RD) != 0)
		tnd_log_warn("cannot shut the listening socket down: %s", strerror(errno));
}

static void stop_threads(struct rest_pool *pool)
{
	bool all_done;

	if (pool->unix_socket) {
		atomic_store(&pool->stop, true); /* first: EINVAL is then ours, not a sibling's */
		close_the_door(pool);
	} else {
		int fl = fcntl(pool->listen_fd, F_GETFL);

		/* Before stop is set: a thread that sees stop then accepts without blocking. */
		if (fl < 0 || fcntl(pool->listen_fd, F_SETFL, fl | O_NONBLOCK) != 0)
			tnd_log_warn("cannot make the listening socket non-blocking: %s",
				     strerror(errno));
	}
	atomic_store(&pool->stop, true);
	do {
		all_done = true;
		for (long long i = 0; i < pool->n_threads; i++) {
			struct rest_thread *th = &pool->threads[i];
			if (!th->started || atomic_load(&th->done))
				continue;
			all_done = false;
			/* Unix: the shutdown woke them all. TCP: only a blocked accept() needs it. */
			if (!pool->unix_socket && atomic_load(&th->in_accept) &&
			    !atomic_load(&th->draining))
				pthread_kill(th->tid, SIGUSR2);
		}
		if (!all_done)
			nanosleep(&(struct timespec){.tv_nsec = 20000000L}, NULL);
	} while (!all_done);
	for (long long i = 0; i < pool->n_threads; i++)
		if (pool->threads[i].started)
			pthread_join(pool->threads[i].tid, NULL);
}

int main(int argc, char **argv)
{
	struct rest_config cfg;
	static struct tnd_redis_target target; /* 5 KB: not on the stack */
	struct rest_store_config store_cfg;
	struct rest_settings settings;
	struct rest_metrics metrics;
	struct tnd_auth auth;
	struct rest_metrics_server metrics_server = {.fd = -1};
	struct tnd_ulid_gen ulid;
	struct rest_pool pool = {.listen_fd = -1};
	struct sigaction sa = {.sa_handler = on_poke};
	sigset_t stop_signals;
	char err[400];
	int sig, rc, status = 1;

	rc = tnd_config_load(options, N_OPTIONS, &cfg, argc, argv, err, sizeof(err));
	if (rc == TND_CONFIG_HELP) {
		tnd_config_usage(stdout, "tandem-rest", options, N_OPTIONS);
		return 0;
	}
	if (rc == TND_CONFIG_VERSION) {
		printf("tandem-rest %s\n", tnd_version());
		return 0;
	}
	if (rc == TND_CONFIG_MAN) {
		tnd_config_man(stdout, options, N_OPTIONS);
		return 0;
	}
	if (rc == TND_CONFIG_ERROR || check_config(&cfg, &target, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandem-rest: %s\n", err);
		return 2;
	}
	if (tnd_auth_init_common(&auth, &cfg.common, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandem-rest: %s\n", err);
		return 2;
	}
	if (rc == TND_CONFIG_CHECK) {
		tnd_auth_free(&auth);
		printf("configuration OK\n");
		return 0;
	}
	tnd_log_init("tandem-rest", (enum tnd_log_level)tnd_log_level_parse(cfg.common.log_level));
	tnd_log_set_format((enum tnd_log_format)tnd_log_format_parse(cfg.common.log_format));
	if (auth.mode == TND_AUTH_OFF)
		tnd_log_warn("AUTH IS OFF: no TANDEM_JWT_SECRET(_FILE) or TANDEM_JWT_PUBLIC_KEY, "
			     "every client may read and write every collection");
	else
		tnd_log_info("auth: %s", tnd_auth_describe(&auth));

	rest_metrics_init(&metrics, NULL);
	store_cfg = (struct rest_store_config){.addr = &target.addr,
					       .cluster = target.cluster ? &target : NULL,
					       .ns = cfg.common.ns,
					       .timeout_ms = cfg.redis_timeout_ms,
					       .log_len = cfg.log_len,
					       .wait_replicas = cfg.wait_replicas, .metrics = &metrics};
	settings = (struct rest_settings){.max_body = (size_t)cfg.max_body,
					  .scan_limit = cfg.scan_limit,
					  .cors = {.allowed_origins = cfg.common.allowed_origins},
					  .metrics = &metrics, .auth = &auth};

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) != 0 ||
	    sigaction(SIGUSR2, &sa, NULL) != 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		tnd_log_error("cannot set up signals: %s", strerror(errno));
		return 1;
	}
	if (FCGX_Init() != 0 || tnd_ulid_gen_init(&ulid) != 0) {
		tnd_log_error("cannot initialise libfcgi");
		return 1;
	}
	pool.listen_fd = open_listen_socket(cfg.listen, cfg.backlog);
	if (pool.listen_fd < 0) {
		tnd_log_error("cannot listen on %s: %s", cfg.listen, strerror(errno));
		goto out_ulid;
	}
	if (!cfg.listen && FCGX_IsCGI()) {
		tnd_log_error("fd 0 is not a socket: run under spawn-fcgi or give --listen");
		goto out_ulid;
	}
	pool.unix_socket = is_unix_socket(pool.listen_fd);
	note_socket_path(&pool);
	pool.n_threads = cfg.threads;
	pool.threads = calloc((size_t)cfg.threads, sizeof(*pool.threads));
	if (!pool.threads) {
		tnd_log_error("out of memory");
		goto out_ulid;
	}
	for (long long i = 0; i < cfg.threads; i++) {
		struct rest_thread *th = &pool.threads[i];

		th->pool = &pool;
		th->worker = (struct rest_worker){.settings = &settings, .ulid = &ulid, .index = (int)i,
						   .rand_state = (unsigned)getpid() * 2654435761u + (unsigned)i};
		rest_store_init(&th->worker.store, &store_cfg);
		/* Only a thread that verifies tokens needs its cache (a few hundred KB). */
		if (auth.mode != TND_AUTH_OFF &&
		    !(th->worker.auth_cache = calloc(1, sizeof(*th->worker.auth_cache)))) {
			tnd_log_error("out of memory");
			stop_threads(&pool);
			goto out_threads;
		}
		if (pthread_create(&th->tid, NULL, worker_main, th) != 0) {
			tnd_log_error("cannot start thread %lld", i);
			stop_threads(&pool);
			goto out_threads;
		}
		th->started = true;
	}
	if (cfg.metrics_listen) {
		if (rest_metrics_server_start(&metrics_server, &metrics, cfg.metrics_listen,
					      (int)cfg.metrics_ports, err, sizeof(err)) < 0) {
			tnd_log_error("%s", err);
			stop_threads(&pool);
			goto out_threads;
		}
		tnd_log_info("metrics on port %d of %s", metrics_server.port, cfg.metrics_listen);
	}
	/* The URL's credentials stay out of the log (scheme, then ***@ and the hosts). */
	const char *at = strrchr(cfg.common.redis_url, '@'), *scheme_end = strstr(cfg.common.redis_url, "://");
	tnd_log_info("version %s, serving with %lld threads on %s, Redis%s at %.*s%s%s", tnd_version(),
		     cfg.threads, cfg.listen ? cfg.listen : "the inherited socket",
		     target.cluster ? " Cluster" : "",
		     at && scheme_end ? (int)(scheme_end + 3 - cfg.common.redis_url) : 0,
		     cfg.common.redis_url, at && scheme_end ? "***@" : "",
		     at && scheme_end ? at + 1 : cfg.common.redis_url);
	while (sigwait(&stop_signals, &sig) != 0)
		;
	tnd_log_info("signal %d: finishing requests in flight and those queued", sig);
	stop_threads(&pool);
	rest_metrics_server_stop(&metrics_server);
	tnd_log_info("stopped");
	status = 0;
out_threads:
	for (long long i = 0; i < pool.n_threads; i++)
		free(pool.threads[i].worker.auth_cache);
	free(pool.threads);
out_ulid:
	tnd_ulid_gen_destroy(&ulid);
	tnd_auth_free(&auth);
	return status;
}
