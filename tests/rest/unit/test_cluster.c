/*
 * Unit tests of rest-fcgi/rest_cluster without a server: seeds nobody
 * listens on (127.0.0.1 ports the kernel just handed out and we closed),
 * so every connect is refused at once. What a worker does when no node
 * answers: the map cannot be had, the reason names the node, and a second
 * try within the backoff fails without connecting again. The routing over
 * a live cluster is tests/rest/it/test_cluster.c's.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rest_cluster.h"
#include "tnd_error.h"
#include "tnd_redis.h"

/* A 127.0.0.1 port nothing listens on (bound, read, closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct tnd_redis_target target;

static void two_dead_seeds(void)
{
	char url[128], err[200];
	int port = closed_port();

	snprintf(url, sizeof(url), "redis-cluster://127.0.0.1:%d,127.0.0.2:%d", port, port);
	cr_assert_eq(tnd_redis_target_parse(url, &target, err, sizeof(err)), 0, "%s", err);
	cr_assert(target.cluster);
}

Test(rest_cluster, no_seed_answering_is_unavailable_and_backs_off, .init = two_dead_seeds)
{
	struct rest_cluster *r = rest_cluster_new(&target, 200);
	char err[256], where[64];
	long long t0;

	cr_assert_not_null(r);
	cr_assert_eq(rest_cluster_refresh(r, err, sizeof(err)), TND_EUNAVAIL);
	cr_assert_null(r->map);
	cr_assert_eq(r->n_links, 2, "one link per seed tried");
	for (size_t i = 0; i < r->n_links; i++) {
		cr_assert_null(r->links[i].conn);
		cr_assert_eq(r->links[i].failures, 1);
	}
	/* Within the backoff no connect is tried: the answer comes at once and says so. */
	t0 = mono_ms();
	cr_assert_null(rest_cluster_master(r, 1234, err, sizeof(err)));
	cr_assert_lt(mono_ms() - t0, 40);
	snprintf(where, sizeof(where), "127.0.0.2:%d", target.seeds[1].port);
	cr_assert(strstr(err, where) && strstr(err, "retrying soon"), "%s", err);
	cr_assert_eq(r->links[0].failures, 1, "no connect during the backoff");
	cr_assert_null(rest_cluster_node(r, "127.0.0.1", target.seeds[0].port, err, sizeof(err)));
	rest_cluster_free(r);
}

Test(rest_cluster, links_are_capped_and_reused_per_node, .init = two_dead_seeds)
{
	struct rest_cluster *r = rest_cluster_new(&target, 200);
	char err[256];

	cr_assert_not_null(r);
	int port = closed_port();
	char host[32];

	/* More nodes than links (127.0.0.2, .3, ...: all loopback, none listening on port). */
	for (int i = 0; i < REST_CLUSTER_LINKS_MAX + 8; i++) {
		snprintf(host, sizeof(host), "127.0.0.%d", 2 + i);
		cr_assert_null(rest_cluster_node(r, host, port, err, sizeof(err)));
	}
	/* The table stays at its cap; the 8 used least recently went. */
	cr_assert_eq(r->n_links, REST_CLUSTER_LINKS_MAX);
	for (size_t i = 0; i < r->n_links; i++)
		cr_assert_geq(atoi(strrchr(r->links[i].host, '.') + 1), 2 + 8, "%s should have gone",
			      r->links[i].host);
	/* The same node again is the same link (its backoff still running). */
	cr_assert_null(rest_cluster_node(r, "127.0.0.30", port, err, sizeof(err)));
	cr_assert(strstr(err, "retrying soon"), "%s", err);
	cr_assert_eq(r->n_links, REST_CLUSTER_LINKS_MAX);
	rest_cluster_free(r);
}

Test(rest_cluster, a_single_server_link_backs_off_after_a_failed_connect)
{
	struct tnd_redis_addr addr = {.is_unix = true};
	struct rest_cluster_link l = {0};
	char err[256];

	snprintf(addr.path, sizeof(addr.path), "/nonexistent/tandem-test.sock");
	cr_assert_eq(rest_cluster_link_connect(&l, &addr, 100, err, sizeof(err)), TND_EUNAVAIL);
	cr_assert_null(l.conn);
	cr_assert_eq(l.failures, 1);
	cr_assert_eq(rest_cluster_link_connect(&l, &addr, 100, err, sizeof(err)), TND_EUNAVAIL);
	cr_assert(strstr(err, "/nonexistent/tandem-test.sock") && strstr(err, "retrying soon"), "%s", err);
	cr_assert_eq(l.failures, 1, "no connect during the backoff");
	rest_cluster_link_close(&l);
}
