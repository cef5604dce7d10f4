/*
 * rest_metrics: tandem-rest's Prometheus metrics, and the small HTTP
 * listener that serves them (TANDEM_METRICS_LISTEN).
 *
 * Counters are atomics updated with relaxed ordering by every worker
 * thread (a handful of increments per request) and read by the listener's
 * own thread when scraped; a scrape sees each counter at some instant,
 * which is all Prometheus asks.
 *
 * Several processes per host (spawn-fcgi -F N, or tandem-rest@ instances)
 * each need a listener of their own: the listener takes the first free
 * port of TANDEM_METRICS_LISTEN's port .. port + TANDEM_METRICS_PORTS - 1
 * and says which in its start-up log line; scrapers list the whole range
 * (a port with no process behind it is simply down).
 */
#ifndef REST_METRICS_H
#define REST_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "rest_router.h"

/* HTTP statuses tandem-rest answers with; anything else counts as "other". */
enum rest_status_class {
	REST_S200, REST_S201, REST_S204, REST_S304, REST_S400, REST_S401, REST_S403, REST_S404,
	REST_S405, REST_S412, REST_S413, REST_S415, REST_S429, REST_S500, REST_S503,
	REST_S_OTHER, REST_S__MAX
};

#define REST_LATENCY_BUCKETS 12
/* A request that matched no route (400, 404 before routing). */
#define REST_ROUTE_NONE REST_ROUTE__MAX

struct rest_metrics {
	atomic_ullong requests[REST_ROUTE__MAX + 1][REST_S__MAX];
	atomic_ullong latency_le[REST_LATENCY_BUCKETS]; /* per bucket, not cumulative */
	atomic_ullong latency_count;
	atomic_ullong latency_sum_us;
	atomic_ullong redis_unavailable; /* requests answered 503 store_unavailable */
	atomic_ullong redis_protocol;    /* unexpected replies (500) */
	atomic_ullong redis_connects;    /* connections made, the first ones included */
	atomic_ullong script_loads;      /* SCRIPT LOAD rounds (connects and NOSCRIPT) */
	const char *version;             /* borrowed, static */
};

/* Zeroes the counters. */
void rest_metrics_init(struct rest_metrics *m, const char *version);

/* One finished request: its route (REST_ROUTE_NONE when unrouted), status and duration. */
void rest_metrics_request(struct rest_metrics *m, int route, int status, long long usec);

/*
 * The Prometheus text exposition of m into buf (NUL-terminated). Returns
 * the length, or TND_ETOOLONG when buf is too small.
 */
int rest_metrics_render(struct rest_metrics *m, char *buf, size_t size);

struct rest_metrics_server {
	struct rest_metrics *metrics; /* borrowed */
	int fd;                       /* listening socket */
	int port;                     /* the one it got */
	pthread_t thread;
	atomic_bool stop;
};

/*
 * Listens on host:port, or the first free port up to port + n_ports - 1,
 * and serves GET /metrics from a thread of its own. Returns 0, or a
 * TND_E* code with err filled (no port free, bad address).
 */
int rest_metrics_server_start(struct rest_metrics_server *s, struct rest_metrics *m,
			      const char *listen, int n_ports, char *err, size_t errlen);
/* Stops the thread and closes the socket. Safe on a server that never started. */
void rest_metrics_server_stop(struct rest_metrics_server *s);

#endif
