/*
 * rest_metrics: see rest_metrics.h. The counters are touched by every
 * worker thread; the listener runs on a thread of its own and answers one
 * scrape at a time (a scrape is a few kilobytes, once every few seconds).
 */
#include "rest_metrics.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tnd_error.h"
#include "tnd_num.h"

#define METRICS_BODY_MAX 16384
#define METRICS_REQUEST_MAX 2048
#define METRICS_IO_TIMEOUT_MS 1000

static const int status_codes[REST_S__MAX] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 412, 413, 415, 429, 500, 503, 0,
};

static const char *const route_names[REST_ROUTE__MAX + 1] = {
	[REST_ROUTE_HEALTH] = "health",
	[REST_ROUTE_COLLECTION] = "collection",
	[REST_ROUTE_DOCUMENT] = "document",
	[REST_ROUTE_NONE] = "none",
};

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const long long bucket_us[REST_LATENCY_BUCKETS - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

void rest_metrics_init(struct rest_metrics *m, const char *version)
{
	memset(m, 0, sizeof(*m));
	m->version = version;
}

static int status_class(int status)
{
	for (int i = 0; i < REST_S_OTHER; i++)
		if (status_codes[i] == status)
			return i;
	return REST_S_OTHER;
}

void rest_metrics_request(struct rest_metrics *m, int route, int status, long long usec)
{
	int b = 0;

	if (route < 0 || route > REST_ROUTE_NONE)
		route = REST_ROUTE_NONE;
	while (b < REST_LATENCY_BUCKETS - 1 && usec > bucket_us[b])
		b++;
	atomic_fetch_add_explicit(&m->requests[route][status_class(status)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency_le[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency_sum_us, (unsigned long long)(usec > 0 ? usec : 0),
				  memory_order_relaxed);
}

static unsigned long long get(atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* snprintf into buf at *o; false once it no longer fits. */
static bool put(char *buf, size_t size, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool put(char *buf, size_t size, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= size)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *o, size - *o, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *o) {
		*o = size;
		return false;
	}
	*o += (size_t)n;
	return true;
}

int rest_metrics_render(struct rest_metrics *m, char *buf, size_t size)
{
	unsigned long long cumulative = 0;
	size_t o = 0;

	put(buf, size, &o,
	    "# HELP tandem_rest_build_info The running version.\n"
	    "# TYPE tandem_rest_build_info gauge\n"
	    "tandem_rest_build_info{version=\"%s\"} 1\n"
	    "# HELP tandem_rest_requests_total Requests answered, by route and HTTP status.\n"
	    "# TYPE tandem_rest_requests_total counter\n",
	    m->version ? m->version : "unknown");
	for (int r = 0; r <= REST_ROUTE_NONE; r++) {
		for (int s = 0; s < REST_S__MAX; s++) {
			unsigned long long n = get(&m->requests[r][s]);
			if (n == 0)
				continue;
			if (s == REST_S_OTHER)
				put(buf, size, &o, "tandem_rest_requests_total{route=\"%s\",status=\"other\"} %llu\n",
				    route_names[r], n);
			else
				put(buf, size, &o, "tandem_rest_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				    route_names[r], status_codes[s], n);
		}
	}
	put(buf, size, &o,
	    "# HELP tandem_rest_request_duration_seconds Time from accept to the last byte handed to libfcgi.\n"
	    "# TYPE tandem_rest_request_duration_seconds histogram\n");
	for (int b = 0; b < REST_LATENCY_BUCKETS; b++) {
		cumulative += get(&m->latency_le[b]);
		if (b < REST_LATENCY_BUCKETS - 1)
			put(buf, size, &o, "tandem_rest_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    (double)bucket_us[b] / 1e6, cumulative);
		else
			put(buf, size, &o, "tandem_rest_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    cumulative);
	}
	put(buf, size, &o,
	    "tandem_rest_request_duration_seconds_sum %.6f\n"
	    "tandem_rest_request_duration_seconds_count %llu\n"
	    "# HELP tandem_rest_redis_errors_total Requests that failed in Redis, by kind.\n"
	    "# TYPE tandem_rest_redis_errors_total counter\n"
	    "tandem_rest_redis_errors_total{kind=\"unavailable\"} %llu\n"
	    "tandem_rest_redis_errors_total{kind=\"protocol\"} %llu\n"
	    "# HELP tandem_rest_redis_connects_total Redis connections made (one per thread at start, then reconnects).\n"
	    "# TYPE tandem_rest_redis_connects_total counter\n"
	    "tandem_rest_redis_connects_total %llu\n"
	    "# HELP tandem_rest_script_loads_total Rounds of SCRIPT LOAD (each connect, and after NOSCRIPT).\n"
	    "# TYPE tandem_rest_script_loads_total counter\n"
	    "tandem_rest_script_loads_total %llu\n",
	    (double)get(&m->latency_sum_us) / 1e6, get(&m->latency_count), get(&m->redis_unavailable),
	    get(&m->redis_protocol), get(&m->redis_connects), get(&m->script_loads));
	return o >= size ? TND_ETOOLONG : (int)o;
}

/* --- the listener ------------------------------------------------------ */

static int parse_listen(const char *listen, struct sockaddr_in *sa, long long *port)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	size_t hlen;

	if (!colon || (hlen = (size_t)(colon - listen)) == 0 || hlen >= sizeof(host))
		return TND_EINVAL;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 ||
	    tnd_num_parse_str(colon + 1, 1, 65535, port) < 0)
		return TND_EINVAL;
	return 0;
}

static bool listen_ok(int fd)
{
	return listen(fd, 16) == 0;
}

static bool read_request_line(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got + 1 < size) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, METRICS_IO_TIMEOUT_MS) <= 0)
			return false;
		n = read(fd, buf + got, size - 1 - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return true;
	}
	return false;
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void serve_one(struct rest_metrics_server *s, int fd)
{
	char req[METRICS_REQUEST_MAX], head[256];
	char *body = malloc(METRICS_BODY_MAX);
	int len = -1, hlen;

	if (!body)
		return;
	if (read_request_line(fd, req, sizeof(req))) {
		bool ok = strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET /metrics?", 13) == 0;
		if (ok)
			len = rest_metrics_render(s->metrics, body, METRICS_BODY_MAX);
		if (len >= 0)
			hlen = snprintf(head, sizeof(head),
					"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
					"Content-Length: %d\r\nConnection: close\r\n\r\n", len);
		else
			hlen = snprintf(head, sizeof(head),
					"HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
					ok ? "500 Internal Server Error" : "404 Not Found");
		write_all(fd, head, (size_t)hlen);
		if (len > 0)
			write_all(fd, body, (size_t)len);
	}
	free(body);
}

static void *serve(void *arg)
{
	struct rest_metrics_server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		int fd;

		/* Polled with a timeout so that stop is seen without signals. */
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(s, fd);
		close(fd);
	}
	return NULL;
}

int rest_metrics_server_start(struct rest_metrics_server *s, struct rest_metrics *m,
			      const char *listen, int n_ports, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	long long port;
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->metrics = m;
	if (parse_listen(listen, &sa, &port) < 0) {
		snprintf(err, errlen, "TANDEM_METRICS_LISTEN: use ipv4-address:port");
		return TND_EINVAL;
	}
	for (int i = 0; i < n_ports && port + i <= 65535; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			break;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_port = htons((uint16_t)(port + i));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen_ok(fd)) {
			s->fd = fd;
			s->port = (int)(port + i);
			break;
		}
		close(fd);
	}
	if (s->fd < 0) {
		snprintf(err, errlen, "TANDEM_METRICS_LISTEN: no free port in %s .. +%d: %s", listen,
			 n_ports - 1, strerror(errno));
		return TND_EIO;
	}
	if (pthread_create(&s->thread, NULL, serve, s) != 0) {
		snprintf(err, errlen, "cannot start the metrics thread");
		close(s->fd);
		s->fd = -1;
		return TND_EIO;
	}
	return 0;
}

void rest_metrics_server_stop(struct rest_metrics_server *s)
{
	if (s->fd < 0)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	s->fd = -1;
}
