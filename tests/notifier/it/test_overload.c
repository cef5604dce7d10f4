/*
 * notifier_overload_integration: overload degrades, it does not
 * disconnect (SPEC 5, 4008). A real redis-server and a real
 * tandem-notifier (from TANDEM_BIN_DIR, default build) in a temp dir;
 * events are written with tandem-rest's own store (rest_store_write: the
 * same Lua write script, log and PUBLISH format), straight into Redis.
 *
 *  - overload: 1,000 subscribers read as fast as one process polling
 *    1,000 sockets can, while a publisher creates ~2,000 documents a second
 *    for 5 s, and the notifier's queue caps are small (64 frames): it
 *    cannot write 2 million frames a second, so before the intake pause
 *    every client was closed with 4008. Now none is closed and each gets
 *    every event once, in seq order; the time to drain is printed.
 *  - stall: a client that never reads among readers is closed with 4008
 *    by TANDEM_WS_STALL_SECONDS (its queue stays under the caps), and the
 *    readers get everything.
 *
 * Only processes started here are signalled; every wait has a deadline.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "http.h"
#include "rest_metrics.h"
#include "rest_store.h"
#include "stack.h"
#include "tnd_seq.h"
#include "wsclient.h"

#define NS "tandem"
#define COL "ov"

static char dir[128];
static pid_t redis_pid = -1, notifier_pid = -1;
static int ws_port;

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

/* Runs argv with env (NAME=value...) added, stdout and stderr to log. */
static pid_t spawn(const char *const argv[], const char *const *env, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (!freopen(log, "a", stderr) || !freopen(log, "a", stdout))
			_exit(126);
		for (; env && *env; env++)
			putenv((char *)*env);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void show(const char *name)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "echo '--- %s' >&2; tail -n 30 '%s/%s' >&2", name, dir, name);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot show %s\n", name);
}

static void stop_pid(pid_t *pid, int sig)
{
	int status;

	if (*pid <= 0)
		return;
	kill(*pid, sig);
	for (int i = 0; i < 200; i++) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = -1;
			return;
		}
		sleep_ms(50);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &status, 0);
	*pid = -1;
}

/* Also each test's .fini: a failed assertion must not leave servers behind. */
static void stop(void)
{
	char cmd[300];

	stop_pid(&notifier_pid, SIGTERM);
	stop_pid(&redis_pid, SIGTERM);
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		dir[0] = '\0';
	}
}

static long http_get(const char *path, char **body)
{
	struct http_response res;
	char url[128];
	long status;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", ws_port, path);
	if (http_request("GET", url, NULL, NULL, 0, &res) < 0)
		return 0;
	status = res.status;
	if (body) {
		*body = res.body;
		res.body = NULL;
	}
	http_response_free(&res);
	return status;
}

/* A metric of the notifier's /metrics, or -1. */
static long long metric(const char *name)
{
	char *body = NULL, *p;
	long long v = -1;
	size_t len = strlen(name);

	if (http_get("/metrics", &body) != 200 || !body) {
		free(body);
		return -1;
	}
	for (p = body; (p = strstr(p, name)) != NULL; p += len) {
		if ((p == body || p[-1] == '\n') && p[len] == ' ') {
			v = strtoll(p + len + 1, NULL, 10);
			break;
		}
	}
	free(body);
	return v;
}

/* redis-server and the notifier with env; waits until /healthz says 200. */
static void start(const char *const *env)
{
	char sock[200], log[200], url[220], listen[64], bin[200];
	const char *bin_dir = getenv("TANDEM_BIN_DIR") ? getenv("TANDEM_BIN_DIR") : "build";
	static char e_url[300], e_listen[100];
	const char *nenv[16];
	struct rlimit rl;
	redisContext *c = NULL;
	int n = 0;
	bool up = false;

	/* 1,000 client sockets here and as many in the notifier (it inherits the limit). */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_geq(rl.rlim_max, 2200, "RLIMIT_NOFILE hard limit too low for 1,000 sockets");
	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	snprintf(dir, sizeof(dir), "/tmp/tandem-ovl-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	redis_pid = spawn((const char *const[]){"redis-server", "--port", "0", "--unixsocket", sock,
					  "--save", "", "--appendonly", "no", NULL},
			  NULL, log);
	for (int i = 0; i < 100; i++) {
		c = redisConnectUnix(sock);
		if (c && !c->err)
			break;
		redisFree(c);
		c = NULL;
		sleep_ms(50);
	}
	cr_assert(c, "redis-server did not start");
	redisFree(c);
	ws_port = stack_free_port();
	cr_assert_gt(ws_port, 0);
	snprintf(url, sizeof(url), "unix://%s", sock);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ws_port);
	snprintf(e_url, sizeof(e_url), "TANDEM_REDIS_URL=%s", url);
	snprintf(e_listen, sizeof(e_listen), "TANDEM_WS_LISTEN=%s", listen);
	nenv[n++] = e_url;
	nenv[n++] = e_listen;
	nenv[n++] = "TANDEM_NAMESPACE=" NS;
	nenv[n++] = "TANDEM_PING_INTERVAL=600"; /* no pings: the readers here do not pong */
	nenv[n++] = "TANDEM_MAX_CONNECTIONS=2000";
	for (; env && *env && n < 15; env++)
		nenv[n++] = *env;
	nenv[n] = NULL;
	snprintf(log, sizeof(log), "%s/notifier.log", dir);
	snprintf(bin, sizeof(bin), "%s/tandem-notifier", bin_dir);
	notifier_pid = spawn((const char *const[]){bin, NULL}, nenv, log);
	for (int i = 0; i < 200 && !up; i++) {
		up = http_get("/healthz", NULL) == 200;
		if (!up)
			sleep_ms(50);
	}
	if (!up)
		show("notifier.log");
	cr_assert(up, "the notifier did not come up");
}

/* ---- the publisher: tandem-rest's write path, paced ------------------------------ */

struct publisher {
	int n;           /* documents to create */
	int rate;        /* per second */
	size_t pad;      /* bytes of padding in each document */
	int failed;
	long long done_ms;
	struct rest_metrics metrics;
};

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	struct tnd_redis_addr addr;
	struct rest_store_config cfg = {.addr = &addr, .ns = NS, .timeout_ms = 5000,
					.log_len = 1000000, .metrics = &p->metrics};
	struct rest_store store;
	char url[220], err[200], id[16];
	long long start = stack_now_ms();
	char *body = malloc(p->pad + 16);
	size_t body_len = 2;

	if (!body) {
		p->failed = p->n;
		return NULL;
	}
	strcpy(body, "{}");
	if (p->pad) {
		memcpy(body, "{\"pad\":\"", 8);
		memset(body + 8, 'x', p->pad);
		memcpy(body + 8 + p->pad, "\"}", 3);
		body_len = p->pad + 10;
	}

	snprintf(url, sizeof(url), "unix://%s/redis.sock", dir);
	if (tnd_redis_url_parse(url, &addr, err, sizeof(err)) < 0) {
		p->failed = p->n;
		free(body);
		return NULL;
	}
	rest_store_init(&store, &cfg);
	for (int i = 0; i < p->n; i++) {
		struct rest_store_doc d = {.collection = COL, .id = id};
		struct rest_store_result res;
		long long due = start + (long long)i * 1000 / p->rate;

		if (i % 20 == 0 && stack_now_ms() < due)
			sleep_ms(due - stack_now_ms());
		snprintf(id, sizeof(id), "d%06d", i);
		if (rest_store_write(&store, &d, REST_WRITE_CREATE, "", body, body_len,
				     "2026-01-01T00:00:00Z", &res) != 0)
			p->failed++;
		rest_store_result_free(&res);
	}
	rest_store_close(&store);
	free(body);
	p->done_ms = stack_now_ms();
	return NULL;
}

/* ---- the readers: one epoll over every socket ------------------------------------ */

struct reader {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	int count;             /* events read */
	struct tnd_seq last;
	int close_code;        /* 0: open */
	bool eof, bad;
	bool reads;            /* false: never read (the stall test's sleeper) */
};

static void reader_open(struct reader *r)
{
	struct wsc c;
	struct wsc_options opt = {.host = "127.0.0.1", .port = ws_port, .path = "/ws",
				  .timeout_ms = 10000, .rcvbuf = r->reads ? 0 : 4096};
	char *ack;

	cr_assert_eq(wsc_connect(&c, &opt), 0, "upgrade failed (%d)", c.http_status);
	cr_assert_eq(wsc_send_text(&c, "{\"op\":\"subscribe\",\"collection\":\"" COL "\"}"), 0);
	ack = wsc_recv_until(&c, 10000, "\"op\":\"subscribed\"", NULL);
	cr_assert_not_null(ack, "no ack");
	free(ack);
	cr_assert_eq(c.len, c.consumed, "nothing but the ack before the first write");
	free(c.buf);
	r->fd = c.fd;
	r->cap = 1 << 17; /* a frame of 20 KB fits */
	r->buf = malloc(r->cap);
	cr_assert_not_null(r->buf);
	cr_assert_eq(fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK), 0);
}

/* One frame: an event must come after the last one read. */
static void reader_frame(struct reader *r, const struct wsc_frame *f)
{
	static const char pre[] = "{\"op\":\"event\",\"seq\":\"";
	const char *p = (const char *)f->payload, *q;
	struct tnd_seq seq;

	if (f->opcode == WSC_OP_CLOSE) {
		r->close_code = f->len >= 2 ? (f->payload[0] << 8) | f->payload[1] : 1005;
		return;
	}
	if (f->opcode != WSC_OP_TEXT || f->len < sizeof(pre) || memcmp(p, pre, sizeof(pre) - 1) ||
	    !(q = memchr(p + sizeof(pre) - 1, '"', f->len - (sizeof(pre) - 1))) ||
	    tnd_seq_parse(p + sizeof(pre) - 1, (size_t)(q - p) - (sizeof(pre) - 1), &seq) < 0 ||
	    (r->count && tnd_seq_cmp(&seq, &r->last) <= 0)) {
		if (!r->bad)
			fprintf(stderr, "unexpected frame after %d events: %.*s\n", r->count,
				(int)(f->len < 200 ? f->len : 200), p);
		r->bad = true;
		return;
	}
	r->last = seq;
	r->count++;
}

/* Reads what the socket holds: one read per readiness unless it filled the buffer. */
static void reader_read(struct reader *r)
{
	for (int rounds = 0; rounds < 64 && !r->eof && !r->close_code; rounds++) {
		size_t room = r->cap - r->len;
		struct wsc_frame f;
		size_t o = 0;
		ssize_t n;
		int rc;

		n = read(r->fd, r->buf + r->len, room);
		if (n == 0)
			r->eof = true;
		if (n <= 0)
			return;
		r->len += (size_t)n;
		while (!r->close_code && (rc = wsc_parse_frame(r->buf + o, r->len - o, &f)) == 1) {
			reader_frame(r, &f);
			o += f.frame_len;
		}
		memmove(r->buf, r->buf + o, r->len - o);
		r->len -= o;
		if (r->len == r->cap) {
			r->bad = true; /* a frame larger than the buffer: not one of ours */
			return;
		}
		if ((size_t)n < room)
			return; /* the socket is empty: saves the read that would say EAGAIN */
	}
}

/*
 * Reads every reader until each reading one has want events or is closed,
 * or the deadline. Returns when that happened (ms), or -1 on the deadline.
 */
static long long read_until(struct reader *rd, int n, int want, long long deadline)
{
	int ep = epoll_create1(0);
	struct epoll_event evs[256];
	long long done = -1;

	cr_assert_geq(ep, 0);
	for (int i = 0; i < n; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		if (rd[i].reads)
			cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, rd[i].fd, &e), 0);
	}
	while (stack_now_ms() < deadline) {
		int k = epoll_wait(ep, evs, 256, 100), pending = 0;

		for (int j = 0; j < k; j++) {
			struct reader *r = &rd[evs[j].data.u32];

			reader_read(r);
			if (r->eof || r->close_code)
				epoll_ctl(ep, EPOLL_CTL_DEL, r->fd, NULL);
		}
		for (int i = 0; i < n; i++)
			pending += rd[i].reads && rd[i].count < want && !rd[i].eof && !rd[i].close_code;
		if (!pending) {
			done = stack_now_ms();
			break;
		}
	}
	close(ep);
	return done;
}

static void readers_free(struct reader *rd, int n)
{
	for (int i = 0; i < n; i++) {
		if (rd[i].fd > 0)
			close(rd[i].fd);
		free(rd[i].buf);
	}
	free(rd);
}

/* ---- tests ----------------------------------------------------------------------- */

#define N_READERS 1000
#define N_EVENTS 10000
#define RATE 2000

Test(overload, a_thousand_fast_readers_are_held_back_not_closed, .timeout = 600, .fini = stop)
{
	struct reader *rd = calloc(N_READERS, sizeof(*rd));
	struct publisher pub = {.n = N_EVENTS, .rate = RATE};
	pthread_t th;
	long long t0, done;
	int closed = 0, eofs = 0, short_ = 0, bad = 0, first_bad = -1;

	cr_assert_not_null(rd);
	/*
	 * Small caps: 64 frames is 0.03 s of this stream. Before the intake
	 * pause every client passed them within the first second.
	 */
	start((const char *const[]){"TANDEM_WS_QUEUE_MESSAGES=64", "TANDEM_WS_QUEUE_BYTES=65536",
				    "TANDEM_LOG_LEVEL=warn", NULL});
	for (int i = 0; i < N_READERS; i++) {
		rd[i].reads = true;
		reader_open(&rd[i]);
	}
	t0 = stack_now_ms();
	cr_assert_eq(pthread_create(&th, NULL, publisher_main, &pub), 0);
	/*
	 * Read while the publisher runs, then until everything arrived: about
	 * 2 minutes on two busy cores, more under ASan; 8 minutes at most.
	 */
	done = read_until(rd, N_READERS, N_EVENTS, t0 + 480000);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(pub.failed, 0, "%d writes failed", pub.failed);
	for (int i = 0; i < N_READERS; i++) {
		closed += rd[i].close_code != 0;
		eofs += rd[i].eof;
		short_ += rd[i].count != N_EVENTS;
		bad += rd[i].bad;
		if (first_bad < 0 && (rd[i].close_code || rd[i].eof || rd[i].bad || rd[i].count != N_EVENTS))
			first_bad = i;
	}
	if (first_bad >= 0)
		fprintf(stderr, "reader %d: %d events, close %d, eof %d\n", first_bad,
			rd[first_bad].count, rd[first_bad].close_code, rd[first_bad].eof);
	cr_assert_eq(closed, 0, "%d of %d readers closed (4008: %lld)", closed, N_READERS,
		     metric("tandem_notifier_slow_consumer_closes_total"));
	cr_assert_eq(eofs, 0, "%d readers cut", eofs);
	cr_assert_eq(bad, 0, "%d readers got an event twice, out of order or malformed", bad);
	cr_assert_eq(short_, 0, "%d readers missed events", short_);
	cr_assert_gt(done, 0);
	fprintf(stderr,
		"overload: %d readers x %d events at %d/s: publishing took %.1f s, the last reader "
		"had everything %.1f s after the last write; intake pauses %lld, lagging marks %lld, "
		"Redis input pauses %lld, 4008 %lld\n",
		N_READERS, N_EVENTS, RATE, (double)(pub.done_ms - t0) / 1000.0,
		(double)(done - pub.done_ms) / 1000.0, metric("tandem_notifier_intake_pauses_total"),
		metric("tandem_notifier_lagging_marks_total"),
		metric("tandem_notifier_input_pauses_total"),
		metric("tandem_notifier_slow_consumer_closes_total"));
	/* The test did overload the notifier: it held its intake. */
	cr_assert_gt(metric("tandem_notifier_intake_pauses_total"), 0);
	cr_assert_eq(metric("tandem_notifier_slow_consumer_closes_total"), 0);
	readers_free(rd, N_READERS);
}

#define N_STALL_READERS 20
#define N_STALL_EVENTS 400

Test(overload, a_client_that_never_reads_is_closed_by_the_stall_timer_and_readers_are_not,
     .timeout = 120, .fini = stop)
{
	struct reader *rd = calloc(N_STALL_READERS + 1, sizeof(*rd));
	struct reader *sleeper = &rd[N_STALL_READERS];
	struct publisher pub = {.n = N_STALL_EVENTS, .rate = 400, .pad = 20000};
	pthread_t th;
	long long t0;
	struct wsc_frame f;
	int rc, n_text = 0;

	cr_assert_not_null(rd);
	/*
	 * Caps far above what the sleeper is sent: only the stall timer (2 s)
	 * can close it. 400 events of 20 KB (8 MB) pass what the kernel buffers.
	 */
	start((const char *const[]){"TANDEM_WS_STALL_SECONDS=2", "TANDEM_WS_QUEUE_MESSAGES=100000",
				    "TANDEM_WS_QUEUE_BYTES=67108864", NULL});
	for (int i = 0; i <= N_STALL_READERS; i++) {
		rd[i].reads = i < N_STALL_READERS;
		reader_open(&rd[i]);
	}
	t0 = stack_now_ms();
	cr_assert_eq(pthread_create(&th, NULL, publisher_main, &pub), 0);
	/* The readers read on while we watch for the stall close (2 s after the sleeper's last byte). */
	while (metric("tandem_notifier_stall_closes_total") < 1 && stack_now_ms() < t0 + 30000)
		read_until(rd, N_STALL_READERS, N_STALL_EVENTS, stack_now_ms() + 200);
	cr_assert_eq(metric("tandem_notifier_stall_closes_total"), 1, "no stall close in 30 s");
	/* The sleeper now reads: what was in flight, then the 4008 close (sent within the grace). */
	{
		struct wsc c = {.fd = sleeper->fd};

		while ((rc = wsc_recv(&c, 10000, &f)) == WSC_OP_TEXT)
			n_text++;
		cr_assert_eq(rc, WSC_OP_CLOSE, "expected a close after %d events, got %d", n_text, rc);
		cr_assert_eq(c.close_code, 4008);
		cr_assert_lt(n_text, N_STALL_EVENTS);
		free(c.buf);
	}
	cr_assert_gt(read_until(rd, N_STALL_READERS, N_STALL_EVENTS, stack_now_ms() + 60000), 0,
		     "the readers did not get every event");
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(pub.failed, 0);
	for (int i = 0; i < N_STALL_READERS; i++) {
		cr_assert_eq(rd[i].close_code, 0, "reader %d closed", i);
		cr_assert_not(rd[i].bad);
		cr_assert_eq(rd[i].count, N_STALL_EVENTS);
	}
	cr_assert_eq(metric("tandem_notifier_stall_closes_total"), 1);
	cr_assert_eq(metric("tandem_notifier_slow_consumer_closes_total"), 1, "only the sleeper");
	readers_free(rd, N_STALL_READERS + 1);
}

TestSuite(overload);
