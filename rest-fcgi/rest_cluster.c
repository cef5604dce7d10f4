/*
 * rest_cluster: see rest_cluster.h. Runs on one worker thread per route.
 */
#include "rest_cluster.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tnd_error.h"

#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 500

static void schedule_retry(struct rest_cluster_link *l)
{
	long ms = RETRY_MIN_MS << (l->failures < 5 ? l->failures : 5);

	if (ms > RETRY_MAX_MS)
		ms = RETRY_MAX_MS;
	l->failures++;
	clock_gettime(CLOCK_MONOTONIC, &l->retry_at);
	l->retry_at.tv_sec += ms / 1000;
	l->retry_at.tv_nsec += (ms % 1000) * 1000000L;
	if (l->retry_at.tv_nsec >= 1000000000L) {
		l->retry_at.tv_sec++;
		l->retry_at.tv_nsec -= 1000000000L;
	}
}

static bool retry_due(const struct rest_cluster_link *l)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > l->retry_at.tv_sec ||
	       (now.tv_sec == l->retry_at.tv_sec && now.tv_nsec >= l->retry_at.tv_nsec);
}

/*
 * A connection that Redis closed (restart, CLIENT KILL, idle timeout) is
 * readable while we expect nothing. Finding that out before sending keeps
 * a write from being sent into a dead socket, where we could not tell
 * whether it ran; so no write is ever retried.
 */
static bool conn_is_stale(redisContext *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	return poll(&pfd, 1, 0) != 0;
}

void rest_cluster_link_close(struct rest_cluster_link *l)
{
	if (l->conn) {
		redisFree(l->conn);
		l->conn = NULL;
	}
}

void rest_cluster_link_failed(struct rest_cluster_link *l)
{
	rest_cluster_link_close(l);
	schedule_retry(l);
}

int rest_cluster_link_connect(struct rest_cluster_link *l, const struct tnd_redis_addr *addr, int timeout_ms,
			    char *err, size_t errlen)
{
	if (l->conn && !conn_is_stale(l->conn))
		return 0;
	rest_cluster_link_close(l);
	if (!retry_due(l)) {
		if (addr->is_unix)
			snprintf(err, errlen, "Redis %s unreachable, retrying soon", addr->path);
		else
			snprintf(err, errlen, "Redis %s:%d unreachable, retrying soon", addr->host,
				 addr->port);
		return TND_EUNAVAIL;
	}
	l->conn = tnd_redis_connect(addr, timeout_ms, err, errlen);
	if (!l->conn) {
		schedule_retry(l);
		return TND_EUNAVAIL;
	}
	l->failures = 0;
	l->fresh = true;
	return 0;
}

/* --- cluster ---------------------------------------------------------------- */

struct rest_cluster *rest_cluster_new(const struct tnd_redis_target *target, int timeout_ms)
{
	struct rest_cluster *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->target = target;
	r->timeout_ms = timeout_ms;
	return r;
}

void rest_cluster_free(struct rest_cluster *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_links; i++)
		rest_cluster_link_close(&r->links[i]);
	tnd_cluster_map_free(r->map);
	free(r);
}

/* The link slot for host:port: the existing one, a free one, or the least recently used one, closed. */
static struct rest_cluster_link *link_slot(struct rest_cluster *r, const char *host, int port)
{
	struct rest_cluster_link *l, *lru = &r->links[0];

	for (size_t i = 0; i < r->n_links; i++) {
		l = &r->links[i];
		if (l->port == port && strcmp(l->host, host) == 0)
			return l;
		if (l->used < lru->used)
			lru = l;
	}
	if (r->n_links < REST_CLUSTER_LINKS_MAX)
		l = &r->links[r->n_links++];
	else
		l = lru;
	rest_cluster_link_close(l);
	memset(l, 0, sizeof(*l));
	snprintf(l->host, sizeof(l->host), "%s", host);
	l->port = port;
	return l;
}

/* Connects l (a node's link) unless it is live. Returns 0 or TND_EUNAVAIL with err. */
static int connect_link(struct rest_cluster *r, struct rest_cluster_link *l, char *err, size_t errlen)
{
	struct tnd_redis_addr addr;

	l->used = ++r->clock;
	if (l->conn && !conn_is_stale(l->conn))
		return 0;
	/* Every node takes the URL's credentials; a cluster has only database 0. */
	addr = r->target->addr;
	addr.is_unix = false;
	addr.db = 0;
	snprintf(addr.host, sizeof(addr.host), "%s", l->host);
	addr.port = l->port;
	return rest_cluster_link_connect(l, &addr, r->timeout_ms, err, errlen);
}

/* The link of host:port, connected; NULL with err. */
static struct rest_cluster_link *node_link(struct rest_cluster *r, const char *host, int port, char *err,
				   size_t errlen)
{
	struct rest_cluster_link *l = link_slot(r, host, port);

	return connect_link(r, l, err, errlen) == 0 ? l : NULL;
}

/* CLUSTER SLOTS on link l. Returns 0 with the map replaced, or a negative code with err. */
static int refresh_from(struct rest_cluster *r, struct rest_cluster_link *l, char *err, size_t errlen)
{
	struct tnd_cluster_map *map = NULL;
	redisReply *reply = redisCommand(l->conn, "CLUSTER SLOTS");
	char why[160];
	int rc;

	if (!reply) {
		snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: %s", l->host, l->port, l->conn->errstr);
		rest_cluster_link_close(l);
		return TND_EUNAVAIL;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: %s", l->host, l->port, reply->str);
		freeReplyObject(reply);
		return TND_EUNAVAIL;
	}
	rc = tnd_cluster_map_parse(reply, l->host, &map, why, sizeof(why));
	freeReplyObject(reply);
	if (rc < 0) {
		snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: %s", l->host, l->port, why);
		return rc;
	}
	if (tnd_cluster_map_covered(map) == 0) {
		snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: no slot is served", l->host, l->port);
		tnd_cluster_map_free(map);
		return TND_EUNAVAIL;
	}
	tnd_cluster_map_free(r->map);
	r->map = map;
	r->refresh_due = false;
	return 0;
}

/* Tries candidate host:port; 0 when the map was replaced. */
static int refresh_at(struct rest_cluster *r, const char *host, int port, char *err, size_t errlen)
{
	struct rest_cluster_link *l = node_link(r, host, port, err, errlen);

	return l ? refresh_from(r, l, err, errlen) : TND_EUNAVAIL;
}

int rest_cluster_refresh(struct rest_cluster *r, char *err, size_t errlen)
{
	int rc = TND_EUNAVAIL;

	snprintf(err, errlen, "no cluster node answers");
	/* Nodes already connected first: no connect, and they are the live ones. */
	for (size_t i = 0; i < r->n_links; i++) {
		struct rest_cluster_link *l = &r->links[i];

		if (l->conn && !conn_is_stale(l->conn) && (rc = refresh_from(r, l, err, errlen)) == 0)
			return 0;
	}
	for (size_t i = 0; i < r->target->n_seeds; i++)
		if ((rc = refresh_at(r, r->target->seeds[i].host, r->target->seeds[i].port, err,
				     errlen)) == 0)
			return 0;
	/* Seeds gone (replaced hosts): any node the last map named. */
	for (size_t i = 0; r->map && i < tnd_cluster_map_node_count(r->map) && i < 16; i++) {
		const struct tnd_cluster_node *n = tnd_cluster_map_node(r->map, (int)i);
		char host[TND_REDIS_HOST_MAX + 1];
		int port = n->port;

		/* n lives in the map, which a refresh replaces. */
		snprintf(host, sizeof(host), "%s", n->host);
		if ((rc = refresh_at(r, host, port, err, errlen)) == 0)
			return 0;
	}
	return rc;
}

static int ensure_map(struct rest_cluster *r, char *err, size_t errlen)
{
	if (r->map && !r->refresh_due)
		return 0;
	/* A failed refresh keeps the old map (still right for most slots) and stays due. */
	if (rest_cluster_refresh(r, err, errlen) < 0 && !r->map)
		return TND_EUNAVAIL;
	return 0;
}

struct rest_cluster_link *rest_cluster_master(struct rest_cluster *r, int slot, char *err, size_t errlen)
{
	const struct tnd_cluster_node *n;
	int idx;

	if (ensure_map(r, err, errlen) < 0)
		return NULL;
	idx = tnd_cluster_map_master(r->map, slot);
	n = idx >= 0 ? tnd_cluster_map_node(r->map, idx) : NULL;
	if (!n) {
		snprintf(err, errlen, "no cluster node serves slot %d", slot);
		r->refresh_due = true;
		return NULL;
	}
	return node_link(r, n->host, n->port, err, errlen);
}

struct rest_cluster_link *rest_cluster_node(struct rest_cluster *r, const char *host, int port, char *err,
				  size_t errlen)
{
	return node_link(r, host, port, err, errlen);
}

void rest_cluster_moved(struct rest_cluster *r, const struct tnd_cluster_redirect *red,
		      const struct rest_cluster_link *from)
{
	const char *host = red->same_host || !red->host[0] ? from->host : red->host;

	if (r->map)
		tnd_cluster_map_moved(r->map, red->slot, host, red->port);
	r->refresh_next = true;
}

void rest_cluster_begin(struct rest_cluster *r)
{
	if (r->refresh_next) {
		r->refresh_due = true;
		r->refresh_next = false;
	}
}

int rest_cluster_masters(struct rest_cluster *r, struct rest_cluster_link **out, size_t max, char *err,
		       size_t errlen)
{
	int idx[REST_CLUSTER_LINKS_MAX], n;

	if (ensure_map(r, err, errlen) < 0)
		return TND_EUNAVAIL;
	if (max > REST_CLUSTER_LINKS_MAX)
		max = REST_CLUSTER_LINKS_MAX;
	n = tnd_cluster_map_masters(r->map, idx, max);
	for (int i = 0; i < n && (size_t)i < max; i++) {
		const struct tnd_cluster_node *node = tnd_cluster_map_node(r->map, idx[i]);

		out[i] = link_slot(r, node->host, node->port);
		connect_link(r, out[i], err, errlen); /* a failure leaves conn NULL for the caller */
	}
	return n;
}
