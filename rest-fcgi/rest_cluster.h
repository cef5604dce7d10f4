/*
 * rest_cluster: where a worker thread's Redis commands go. A link is one
 * blocking hiredis connection that opens lazily, notices a connection
 * Redis closed before anything is sent on it, and backs off after a failed
 * connect so that an outage fails fast. In single-node mode the store owns
 * one link; on a Redis Cluster (SPEC section 9) a route owns the slot map
 * and one link per node the thread has talked to (at most
 * REST_CLUSTER_LINKS_MAX, the least recently used closed beyond), all
 * opened lazily.
 *
 * The map comes from CLUSTER SLOTS asked of a node the thread is
 * connected to, else a seed, else any node of the last map: at the first
 * use, whenever refresh_due is set (a CLUSTERDOWN, a node that did not
 * answer), and at the next request after a MOVED. A route and its links
 * belong to one thread.
 *
 * Functions return 0 or a negative TND_E* code, with the reason in the
 * caller's err buffer; nothing here logs.
 */
#ifndef REST_CLUSTER_H
#define REST_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "tnd_cluster.h"
#include "tnd_redis.h"

#define REST_CLUSTER_LINKS_MAX 64 /* node connections per worker thread */

struct rest_cluster_link {
	redisContext *conn;       /* NULL while disconnected */
	bool fresh;               /* connected since the caller last prepared it (scripts) */
	struct timespec retry_at; /* no connect attempt before this */
	unsigned failures;        /* consecutive failed connects, for backoff */
	char host[TND_REDIS_HOST_MAX + 1]; /* cluster links: the node */
	int port;
	unsigned long long used;  /* cluster links: last use, for eviction */
};

/*
 * Makes sure l->conn is usable: keeps a live connection, else connects to
 * addr (unless a backoff after failed connects is still running). Sets
 * l->fresh on a new connection. Returns 0 or TND_EUNAVAIL with err.
 */
int rest_cluster_link_connect(struct rest_cluster_link *l, const struct tnd_redis_addr *addr, int timeout_ms,
			    char *err, size_t errlen);

/* Closes the connection (after an I/O error, or for good); the link stays usable. */
void rest_cluster_link_close(struct rest_cluster_link *l);

/* After a connection opened but could not be prepared: close and back off as for a failed connect. */
void rest_cluster_link_failed(struct rest_cluster_link *l);

struct rest_cluster {
	const struct tnd_redis_target *target; /* seeds and every node's credentials; borrowed */
	int timeout_ms;
	struct tnd_cluster_map *map; /* NULL until the first refresh */
	bool refresh_due;            /* ask for the map again before the next routing */
	bool refresh_next;           /* ask for it at the start of the next request (after a MOVED) */
	struct rest_cluster_link links[REST_CLUSTER_LINKS_MAX];
	size_t n_links;
	unsigned long long clock;    /* use counter for links[].used */
};

/* Returns a new route (nothing connected yet), or NULL when out of memory. Free with rest_cluster_free. */
struct rest_cluster *rest_cluster_new(const struct tnd_redis_target *target, int timeout_ms);
void rest_cluster_free(struct rest_cluster *r);

/* Starts a request's routing: a refresh wanted after a MOVED becomes due. */
void rest_cluster_begin(struct rest_cluster *r);

/* Asks for the slot map now. Returns 0, or TND_EUNAVAIL / TND_EPROTO with err. */
int rest_cluster_refresh(struct rest_cluster *r, char *err, size_t errlen);

/*
 * The connected link of the master serving slot (the map asked for first
 * when there is none or it is due). NULL with err when the map cannot be
 * had, no master serves the slot, or the master does not answer.
 */
struct rest_cluster_link *rest_cluster_master(struct rest_cluster *r, int slot, char *err, size_t errlen);

/* The connected link of node host:port (an ASK target), or NULL with err. */
struct rest_cluster_link *rest_cluster_node(struct rest_cluster *r, const char *host, int port, char *err,
				  size_t errlen);

/*
 * Follows a MOVED answered by link from: the slot goes to the node named
 * (from's host when the reply left it out). The whole map is asked for at
 * the next request (rest_cluster_begin), since a reshard rarely moves one
 * slot, but not during this one: a node that has not heard of the move
 * yet could name the old owner again, and the request would bounce
 * between the two until its attempts ran out.
 */
void rest_cluster_moved(struct rest_cluster *r, const struct tnd_cluster_redirect *red,
		      const struct rest_cluster_link *from);

/*
 * The masters of the current map (refreshed when due): up to max links
 * into out, connected or not (a failed connect leaves its conn NULL).
 * Returns how many masters, or a negative code with err.
 */
int rest_cluster_masters(struct rest_cluster *r, struct rest_cluster_link **out, size_t max, char *err,
		       size_t errlen);

#endif
