/*
 * ws-load: the WebSocket fan-out load client of bench/ws/run.sh.
 *
 * Opens N subscriber WebSockets on one channel (non-blocking, one epoll
 * thread), and a publisher thread that stamps every message with its send
 * time (CLOCK_MONOTONIC, microseconds: publisher and subscribers share the
 * clock) so each delivery gives a send-to-delivery latency. Three feeds:
 *
 *   --feed redis  PUBLISH a SPEC event straight into Redis (the notifier alone)
 *   --feed rest   PUT a document through nginx -> tandem-rest (end to end)
 *   --feed nchan  POST to an nchan publisher location
 *
 * --rate R publishes R messages/s; --rate 0 publishes flat out, but keeps
 * at most --window messages in flight per subscriber (a closed loop, so
 * that no server is overrun into dropping clients and every server is
 * measured at the rate it can sustain). --window 0 drops that loop: the
 * publisher goes as fast as the server answers it, an open loop that can
 * overrun the fan-out (issue 12's overload case); then the run waits up to
 * 120 s for the backlog to drain, reports drain_ms, and deliveries/s count
 * until the last delivery. Prints one line of key=value.
 *
 * Filtered subscriptions (SPEC 8): --where JSON subscribes every socket
 * with that `where` and a `sid`; --where-split makes the odd-numbered
 * sockets subscribe with --where-miss instead (default {"k":"b"}), so half
 * of them hold a filter the feed's documents never match. The published
 * documents are {"id":"bench","k":"a","t":<send time>}; the redis feed
 * also writes the notifier's line with `prev` ({"id":"bench","k":"a"}), as
 * tandem-rest does for every update, so a non-matching filter sees neither
 * `entered` nor `left` and gets nothing. "expected" and the flat-out window
 * count only the sockets whose filter matches (all of them without
 * --where-split): --where must match the published documents.
 *
 * Bench code: one file, asserts by exit status, no cleverness.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "wsclient.h"

enum feed { FEED_REDIS, FEED_REST, FEED_NCHAN };
enum state { ST_CONNECTING, ST_UPGRADING, ST_SUBSCRIBING, ST_READY, ST_DEAD };

struct sub {
	int fd;
	uint8_t state;
	bool receiver; /* its subscription matches the feed's documents */
	uint8_t *buf;
	uint32_t len, cap;
};

static struct {
	const char *host;
	int port;
	const char *path;
	const char *collection;
	const char *ns;
	const char *redis_sock;
	const char *pub_host;
	const char *pub_path;
	int pub_port;
	enum feed feed;
	int n;
	double rate;
	int window;
	double duration;
	char sources[16][32];
	int n_sources;
	bool subscribe_op;
	int idle_secs;
	const char *where;      /* filtered subscriptions: this where and a sid */
	const char *where_miss; /* with where_split: odd sockets use this one */
	bool where_split;
} opt = {.host = "127.0.0.1", .path = "/ws", .collection = "bench", .ns = "tandem",
	 .pub_host = "127.0.0.1", .n = 1000, .window = 5, .duration = 10,
	 .where_miss = "{\"k\":\"b\"}"};

/* Histogram: 10 us steps to 100 ms, then 1 ms steps to 100 s. */
#define FINE 10000
#define COARSE 100000
static uint64_t hist[FINE + COARSE + 1];
static uint64_t lat_max_us;
static atomic_ullong delivered, published, errors;
static atomic_bool stop_pub, pub_done;
static atomic_int ready_subs;
static atomic_int ready_receivers;
static struct sub *subs_base; /* the array: a socket's index names its sid */ /* ready sockets whose subscription matches the feed */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void record(uint64_t us)
{
	if (us > lat_max_us)
		lat_max_us = us;
	if (us < FINE * 10)
		hist[us / 10]++;
	else if (us / 1000 - 100 < COARSE)
		hist[FINE + us / 1000 - 100]++;
	else
		hist[FINE + COARSE]++;
}

static double percentile_ms(double p)
{
	uint64_t total = 0, acc = 0, want;

	for (size_t i = 0; i <= FINE + COARSE; i++)
		total += hist[i];
	if (!total)
		return 0;
	want = (uint64_t)ceil(p * (double)total);
	for (size_t i = 0; i <= FINE + COARSE; i++) {
		acc += hist[i];
		if (acc >= want)
			return i < FINE ? (double)(i + 1) * 0.01 : (double)(i - FINE + 101);
	}
	return (double)lat_max_us / 1000.0;
}

/* ---- subscribers ------------------------------------------------------------ */

static int sub_connect(struct sub *s, int idx)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	int one = 1;

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.n_sources) {
		struct sockaddr_in local = {.sin_family = AF_INET};
		inet_pton(AF_INET, opt.sources[idx % opt.n_sources], &local.sin_addr);
		if (bind(s->fd, (struct sockaddr *)&local, sizeof(local)) < 0)
			return -1;
	}
	inet_pton(AF_INET, opt.host, &sa.sin_addr);
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return -1;
	s->state = ST_CONNECTING;
	return 0;
}

static void sub_dead(struct sub *s)
{
	if (s->state == ST_READY) {
		atomic_fetch_sub(&ready_subs, 1);
		if (s->receiver)
			atomic_fetch_sub(&ready_receivers, 1);
	}
	if (s->state != ST_DEAD) {
		close(s->fd);
		atomic_fetch_add(&errors, 1);
	}
	s->state = ST_DEAD;
}

static int send_all(int fd, const void *buf, size_t len)
{
	/* Small writes on a fresh socket: the kernel buffer always takes them. */
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void become_ready(struct sub *s)
{
	s->state = ST_READY;
	atomic_fetch_add(&ready_subs, 1);
	if (s->receiver)
		atomic_fetch_add(&ready_receivers, 1);
}

/* Handles one text frame of a subscriber. */
static void on_text(struct sub *s, const uint8_t *p, size_t len)
{
	const char *t;
	char tmp[64];

	if (s->state == ST_SUBSCRIBING) {
		if (memmem(p, len, "\"subscribed\"", 12))
			become_ready(s);
		return;
	}
	t = memmem(p, len, "\"t\":", 4);
	if (!t)
		return;
	t += 4;
	len = (size_t)((const char *)p + len - t);
	if (len > sizeof(tmp) - 1)
		len = sizeof(tmp) - 1;
	memcpy(tmp, t, len);
	tmp[len] = '\0';
	record(now_us() - strtoull(tmp, NULL, 10));
	atomic_fetch_add(&delivered, 1);
}

static void sub_readable(struct sub *s)
{
	for (;;) {
		ssize_t n;

		if (s->cap - s->len < 2048) {
			uint32_t ncap = s->cap ? s->cap * 2 : 8192;
			uint8_t *nb = realloc(s->buf, ncap);
			if (!nb) {
				sub_dead(s);
				return;
			}
			s->buf = nb;
			s->cap = ncap;
		}
		n = recv(s->fd, s->buf + s->len, s->cap - s->len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			sub_dead(s);
			return;
		}
		s->len += (uint32_t)n;
	}
	size_t off = 0;
	if (s->state == ST_UPGRADING) {
		uint8_t *end = memmem(s->buf, s->len, "\r\n\r\n", 4);
		if (!end)
			return;
		if (s->len < 12 || memcmp(s->buf + 9, "101", 3) != 0) {
			sub_dead(s);
			return;
		}
		off = (size_t)(end + 4 - s->buf);
		if (opt.subscribe_op) {
			char msg[8192];
			uint8_t frame[8192 + 16];
			int m;

			if (opt.where)
				m = snprintf(msg, sizeof(msg),
					     "{\"op\":\"subscribe\",\"collection\":\"%s\",\"where\":%s,"
					     "\"sid\":\"s%ld\"}",
					     opt.collection, s->receiver ? opt.where : opt.where_miss,
					     (long)(s - subs_base));
			else
				m = snprintf(msg, sizeof(msg), "{\"op\":\"subscribe\",\"collection\":\"%s\"}",
					     opt.collection);
			if (m < 0 || (size_t)m >= sizeof(msg)) {
				sub_dead(s);
				return;
			}
			size_t fl = wsc_build_frame(frame, WSC_OP_TEXT, true, msg, (size_t)m);
			s->state = ST_SUBSCRIBING;
			if (send_all(s->fd, frame, fl) < 0) {
				sub_dead(s);
				return;
			}
		} else {
			become_ready(s);
		}
	}
	for (;;) {
		struct wsc_frame f;
		int rc = wsc_parse_frame(s->buf + off, s->len - off, &f);

		if (rc < 0) {
			sub_dead(s);
			return;
		}
		if (rc == 0)
			break;
		off += f.frame_len;
		if (f.opcode == WSC_OP_TEXT) {
			on_text(s, f.payload, f.len);
		} else if (f.opcode == WSC_OP_PING) {
			uint8_t frame[140];
			size_t fl = wsc_build_frame(frame, WSC_OP_PONG, true, f.payload, f.len < 125 ? f.len : 125);
			send_all(s->fd, frame, fl);
		} else if (f.opcode == WSC_OP_CLOSE) {
			sub_dead(s);
			return;
		}
	}
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= (uint32_t)off;
	if (s->len == 0 && s->cap > 65536) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

static void sub_writable(struct sub *s, int ep)
{
	char req[512];
	int err = 0, n;
	socklen_t el = sizeof(err);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = s};

	getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	n = wsc_upgrade_request(req, sizeof(req), opt.host, opt.port, opt.path, NULL);
	if (err || n < 0 || send_all(s->fd, req, (size_t)n) < 0) {
		sub_dead(s);
		return;
	}
	s->state = ST_UPGRADING;
	epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
}

/* ---- publishers --------------------------------------------------------------- */

static int tcp_connect(const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, host, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* One HTTP/1.1 request on a keep-alive socket; returns the status or -1. */
static int http_call(int fd, const char *method, const char *path, const char *body)
{
	char req[1024], resp[8192];
	size_t got = 0;
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 method, path, opt.pub_host, strlen(body), body);

	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -1;
	for (;;) {
		char *end, *cl;
		ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
		resp[got] = '\0';
		end = strstr(resp, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(resp, "Content-Length:");
		size_t body_len = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
		if (got >= (size_t)(end + 4 - resp) + body_len)
			return atoi(resp + 9);
	}
}

static void wait_turn(uint64_t start, uint64_t i)
{
	if (opt.rate > 0) {
		uint64_t due = start + (uint64_t)((double)i * 1e6 / opt.rate);
		uint64_t now = now_us();
		if (due > now)
			usleep((useconds_t)(due - now));
		return;
	}
	/* Flat out, but no more than `window` messages ahead of the slowest pace. */
	while (opt.window > 0 && !atomic_load(&stop_pub)) {
		uint64_t ready = (uint64_t)atomic_load(&ready_receivers);
		if (!ready || atomic_load(&delivered) + ready * (uint64_t)opt.window >= i * ready)
			return;
		usleep(50);
	}
}

static void *publisher(void *arg)
{
	redisContext *rc = NULL;
	char channel[200], path[300], body[512];
	uint64_t start = now_us(), i = 0;
	int fd = -1;

	(void)arg;
	if (opt.feed == FEED_REDIS) {
		rc = redisConnectUnix(opt.redis_sock);
		if (!rc || rc->err) {
			fprintf(stderr, "ws-load: cannot connect to Redis at %s\n", opt.redis_sock);
			exit(1);
		}
		snprintf(channel, sizeof(channel), "{%s:%s}", opt.ns, opt.collection);
	} else {
		fd = tcp_connect(opt.pub_host, opt.pub_port);
		if (fd < 0) {
			fprintf(stderr, "ws-load: cannot connect to the publisher port\n");
			exit(1);
		}
		if (opt.pub_path)
			snprintf(path, sizeof(path), "%s", opt.pub_path);
		else if (opt.feed == FEED_REST)
			snprintf(path, sizeof(path), "/api/v1/%s/bench", opt.collection);
		else
			snprintf(path, sizeof(path), "/pub/%s", opt.collection);
	}
	while (!atomic_load(&stop_pub)) {
		wait_turn(start, i + 1);
		if (atomic_load(&stop_pub))
			break;
		i++;
		if (opt.feed == FEED_REDIS) {
			redisReply *r;
			/* The notifier's line carries prev, as tandem-rest writes it for updates. */
			snprintf(body, sizeof(body),
				 "%llu-%llu {\"type\":\"updated\",\"collection\":\"%s\",\"id\":\"bench\","
				 "\"version\":%llu,\"doc\":{\"id\":\"bench\",\"k\":\"a\",\"t\":%llu}}\n"
				 "{\"prev\":{\"id\":\"bench\",\"k\":\"a\"}}",
				 (unsigned long long)(start / 1000), (unsigned long long)i, opt.collection,
				 (unsigned long long)i + 1, (unsigned long long)now_us());
			r = redisCommand(rc, "PUBLISH %s %s", channel, body);
			if (!r)
				break;
			freeReplyObject(r);
		} else {
			snprintf(body, sizeof(body), "{\"k\":\"a\",\"t\":%llu}", (unsigned long long)now_us());
			int st = http_call(fd, opt.feed == FEED_REST ? "PUT" : "POST", path, body);
			if (st < 0) {
				/* The server ended the keep-alive (keepalive_requests): reconnect once. */
				close(fd);
				fd = tcp_connect(opt.pub_host, opt.pub_port);
				st = fd < 0 ? -1 : http_call(fd, opt.feed == FEED_REST ? "PUT" : "POST", path, body);
			}
			if (st < 200 || st > 299) {
				fprintf(stderr, "ws-load: publish answered %d\n", st);
				break;
			}
		}
		atomic_fetch_add(&published, 1);
	}
	if (rc)
		redisFree(rc);
	if (fd >= 0)
		close(fd);
	atomic_store(&pub_done, true);
	return NULL;
}

/* ---- main ----------------------------------------------------------------------- */

/* Reads whatever the subscribers got within 50 ms (the receive time is the delivery time). */
static void serve_subs(int ep, struct epoll_event *evs, int max)
{
	int n = epoll_wait(ep, evs, max, 50);

	for (int i = 0; i < n; i++)
		sub_readable(evs[i].data.ptr);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ws-load --port P [--host H] [--path /ws] --feed redis|rest|nchan\n"
		"  [--subscribers N] [--collection C] [--namespace NS] [--redis-sock PATH]\n"
		"  [--pub-port P] [--pub-path /pub/x] [--rate R (0 = flat out)] [--window W] [--duration S]\n"
		"  [--sources 127.0.0.2,127.0.0.3] [--no-subscribe-op] [--idle S]\n"
		"  [--where JSON (matching {\"k\":\"a\"} docs) [--where-split] [--where-miss JSON]]\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	opt.subscribe_op = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-subscribe-op")) {
			opt.subscribe_op = false;
			continue;
		}
		if (!strcmp(a, "--where-split")) {
			opt.where_split = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--host")) opt.host = v;
		else if (!strcmp(a, "--port")) opt.port = atoi(v);
		else if (!strcmp(a, "--path")) opt.path = v;
		else if (!strcmp(a, "--subscribers")) opt.n = atoi(v);
		else if (!strcmp(a, "--collection")) opt.collection = v;
		else if (!strcmp(a, "--namespace")) opt.ns = v;
		else if (!strcmp(a, "--redis-sock")) opt.redis_sock = v;
		else if (!strcmp(a, "--pub-port")) opt.pub_port = atoi(v);
		else if (!strcmp(a, "--pub-path")) opt.pub_path = v;
		else if (!strcmp(a, "--rate")) opt.rate = atof(v);
		else if (!strcmp(a, "--window")) opt.window = atoi(v);
		else if (!strcmp(a, "--duration")) opt.duration = atof(v);
		else if (!strcmp(a, "--idle")) opt.idle_secs = atoi(v);
		else if (!strcmp(a, "--where")) opt.where = v;
		else if (!strcmp(a, "--where-miss")) opt.where_miss = v;
		else if (!strcmp(a, "--feed"))
			opt.feed = !strcmp(v, "redis") ? FEED_REDIS : !strcmp(v, "rest") ? FEED_REST : FEED_NCHAN;
		else if (!strcmp(a, "--sources")) {
			char *copy = strdup(v), *tok, *save;
			for (tok = strtok_r(copy, ",", &save); tok && opt.n_sources < 16;
			     tok = strtok_r(NULL, ",", &save))
				snprintf(opt.sources[opt.n_sources++], 32, "%s", tok);
			free(copy);
		} else
			usage();
	}
	if (!opt.port || (opt.feed == FEED_REDIS && !opt.redis_sock && !opt.idle_secs) ||
	    (opt.feed != FEED_REDIS && !opt.pub_port && !opt.idle_secs) ||
	    (opt.where_split && !opt.where) || (opt.where && !opt.subscribe_op))
		usage();
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct epoll_event evs[512];
	struct sub *subs;
	int ep, connected = 0;
	uint64_t t0, t_end, d0;
	pthread_t th;

	parse_args(argc, argv);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	subs = calloc((size_t)opt.n, sizeof(*subs));
	subs_base = subs;
	for (int i = 0; i < opt.n; i++)
		subs[i].receiver = !opt.where_split || i % 2 == 0;
	ep = epoll_create1(EPOLL_CLOEXEC);
	/* Connect in batches so the server's accept queue is not flooded. */
	t0 = now_us();
	while (connected < opt.n || atomic_load(&ready_subs) + (int)atomic_load(&errors) < opt.n) {
		int batch = 0;
		while (connected < opt.n && batch < 200 &&
		       connected - atomic_load(&ready_subs) - (int)atomic_load(&errors) < 500) {
			struct sub *s = &subs[connected];
			struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
			if (sub_connect(s, connected) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
				fprintf(stderr, "ws-load: connect %d failed: %s\n", connected, strerror(errno));
				return 1;
			}
			connected++;
			batch++;
		}
		int n = epoll_wait(ep, evs, 512, 100);
		for (int i = 0; i < n; i++) {
			struct sub *s = evs[i].data.ptr;
			if (s->state == ST_CONNECTING)
				sub_writable(s, ep);
			else if (s->state != ST_DEAD)
				sub_readable(s);
		}
		if (now_us() - t0 > 120000000u) {
			fprintf(stderr, "ws-load: only %d of %d subscribers ready after 120 s\n",
				atomic_load(&ready_subs), opt.n);
			return 1;
		}
	}
	if (atomic_load(&errors)) {
		fprintf(stderr, "ws-load: %llu subscribers failed to connect\n",
			(unsigned long long)atomic_load(&errors));
		return 1;
	}
	fprintf(stderr, "ws-load: %d subscribers ready in %.1f s\n", opt.n, (double)(now_us() - t0) / 1e6);
	if (opt.idle_secs) {
		/* RSS mode: hold the idle connections while the script measures, then quit. */
		printf("ready=%d\n", opt.n);
		fflush(stdout);
		t_end = now_us() + (uint64_t)opt.idle_secs * 1000000u;
		while (now_us() < t_end) {
			int n = epoll_wait(ep, evs, 512, 200);
			for (int i = 0; i < n; i++)
				sub_readable(evs[i].data.ptr);
		}
		return 0;
	}
	pthread_create(&th, NULL, publisher, NULL);
	t0 = now_us();
	d0 = atomic_load(&delivered);
	t_end = t0 + (uint64_t)(opt.duration * 1e6);
	while (now_us() < t_end)
		serve_subs(ep, evs, 512);
	atomic_store(&stop_pub, true);
	/*
	 * The publisher may sleep up to 1/rate before it sees stop_pub: keep
	 * reading meanwhile. Blocked in pthread_join, the deliveries of the
	 * event it published last waited in the socket buffers that long and
	 * showed as a tail of exactly one publish interval (500 ms at 2/s).
	 */
	while (!atomic_load(&pub_done))
		serve_subs(ep, evs, 512);
	pthread_join(th, NULL);
	/* Let what is in flight arrive (at most 2 s; an open loop's backlog 120 s). */
	uint64_t t_stop = now_us(), t_drained;
	{
		uint64_t drain_end = t_stop + (opt.window > 0 ? 2000000u : 120000000u);
		/* Receivers closed meanwhile are no longer waited for. */
		while (atomic_load(&delivered) < atomic_load(&published) * (uint64_t)atomic_load(&ready_receivers) &&
		       now_us() < drain_end)
			serve_subs(ep, evs, 512);
		t_drained = now_us();
	}
	{
		/* Open loop: the deliveries went on after the publisher stopped. */
		double secs = (double)((opt.window > 0 ? t_end : t_drained) - t0) / 1e6;
		uint64_t pub = atomic_load(&published), del = atomic_load(&delivered) - d0;
		int receivers = 0;

		for (int i = 0; i < opt.n; i++)
			receivers += subs[i].receiver;
		printf("feed=%s subscribers=%d filtered=%s receivers=%d rate=%g published=%llu delivered=%llu "
		       "expected=%llu events_per_s=%.0f "
		       "lost_connections=%llu deliveries_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
		       "drain_ms=%.0f\n",
		       opt.feed == FEED_REDIS ? "redis" : opt.feed == FEED_REST ? "rest" : "nchan", opt.n,
		       opt.where ? (opt.where_split ? "split" : "all") : "no", receivers, opt.rate,
		       (unsigned long long)pub, (unsigned long long)del,
		       (unsigned long long)pub * (unsigned long long)receivers, (double)pub * 1e6 / (double)(t_end - t0),
		       (unsigned long long)atomic_load(&errors), (double)del / secs, percentile_ms(0.50),
		       percentile_ms(0.99), (double)lat_max_us / 1000.0, (double)(t_drained - t_stop) / 1000.0);
	}
	return 0;
}
