/*
 * tnd_cluster: the routing core for Redis Cluster (SPEC section 9), with no
 * I/O of its own, so the blocking REST workers and the notifier's loop use
 * the same code and the tests need no server:
 *
 *   - the key slot: CRC16 (XMODEM, as Redis Cluster) of the key's hash tag
 *     (the bytes between the first `{` and the first `}` after it, when
 *     non-empty), modulo 16384; every key of a collection carries the tag
 *     {<ns>:<col>} (shared/tnd_keys.h), so a collection is one slot;
 *   - the slot map, parsed from a CLUSTER SLOTS reply: for each slot its
 *     master and replicas, nodes named by host:port;
 *   - redirections: MOVED <slot> <host>:<port>, ASK <slot> <host>:<port>,
 *     TRYAGAIN, CLUSTERDOWN, read from an error reply's text;
 *   - a bounded retry policy: how long to wait before the next attempt, or
 *     that there is none left within the request's time bound.
 *
 * A map is owned by one thread (or loop) at a time; every function here is
 * otherwise pure and thread-safe. Errors are 0 or a negative TND_E* code
 * (shared/tnd_error.h); caps are in shared/tnd_limits.h.
 */
#ifndef TND_CLUSTER_H
#define TND_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tnd_limits.h"
#include "tnd_redis.h"

#define TND_CLUSTER_SLOTS 16384

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis's crc16.c. */
uint16_t tnd_cluster_crc16(const char *buf, size_t len);

/* The slot (0..16383) of key[0..len), hash tag rules as Redis's keyHashSlot(). */
int tnd_cluster_keyslot(const char *key, size_t len);

/*
 * The slot of collection col[0..col_len) of namespace ns: the slot of its
 * hash tag {ns:col}, so of all its keys and its channel. Returns 0..16383,
 * or TND_ETOOLONG when the names do not fit a key.
 */
int tnd_cluster_collection_slot(const char *ns, const char *col, size_t col_len);

/* --- slot map ------------------------------------------------------------ */

struct tnd_cluster_node {
	char host[TND_REDIS_HOST_MAX + 1];
	int port;
	char id[TND_CLUSTER_NODE_ID_LEN + 1]; /* "" when the reply did not name it */
};

struct tnd_cluster_map; /* opaque; one owner at a time */

/*
 * Builds a map from a CLUSTER SLOTS reply (RESP2, as hiredis 0.14 reads
 * it): an array of [first, last, master, replica...], each node
 * [host, port, id?, metadata?]. A host "" means "the node that answered"
 * and becomes asked_host (NULL: such nodes count as unknown); a host "?"
 * (endpoint unknown) leaves a range without that node, and a range whose
 * master is unknown stays unassigned. Replicas past TND_CLUSTER_REPLICAS_MAX
 * are ignored.
 *
 * Returns 0 and *out (the caller frees it with tnd_cluster_map_free()), or
 * TND_EPROTO (a malformed reply: bad shape, slot out of range, overlapping
 * ranges, bad port), TND_ETOOLONG (more than TND_CLUSTER_NODES_MAX nodes,
 * a host too long), TND_ENOMEM; the reason is in err. The reply stays the
 * caller's.
 */
int tnd_cluster_map_parse(const redisReply *reply, const char *asked_host,
			  struct tnd_cluster_map **out, char *err, size_t errlen);

void tnd_cluster_map_free(struct tnd_cluster_map *map);

/* The number of distinct nodes, masters and replicas, in the map. */
size_t tnd_cluster_map_node_count(const struct tnd_cluster_map *map);

/* Node idx (0..count-1); borrowed, valid until the map is freed or changed. NULL when out of range. */
const struct tnd_cluster_node *tnd_cluster_map_node(const struct tnd_cluster_map *map, int idx);

/* The index of node host:port, or TND_ENOTFOUND. */
int tnd_cluster_map_find(const struct tnd_cluster_map *map, const char *host, int port);

/* The index of the master serving slot, or TND_ENOTFOUND when no node serves it, TND_EINVAL for a bad slot. */
int tnd_cluster_map_master(const struct tnd_cluster_map *map, int slot);

/*
 * The replicas of slot's master: up to max indexes into idx. Returns how
 * many the map holds (may exceed max), 0 when none or unknown.
 */
int tnd_cluster_map_replicas(const struct tnd_cluster_map *map, int slot, int *idx, size_t max);

/*
 * The distinct masters serving at least one slot, in node order: up to max
 * indexes into idx. Returns how many there are (may exceed max).
 */
int tnd_cluster_map_masters(const struct tnd_cluster_map *map, int *idx, size_t max);

/* Slots served by some master (16384 when the cluster covers every slot). */
int tnd_cluster_map_covered(const struct tnd_cluster_map *map);

/*
 * Follows a MOVED in place (as cluster clients do until the next full
 * refresh): slot is now served by host:port, added as a node when new; the
 * slot's replicas become unknown. Returns the node's index, or TND_EINVAL,
 * TND_ETOOLONG (node cap), TND_ENOMEM.
 */
int tnd_cluster_map_moved(struct tnd_cluster_map *map, int slot, const char *host, int port);

/* --- redirections -------------------------------------------------------- */

enum tnd_cluster_redir {
	TND_CLUSTER_REDIR_NONE,        /* not a cluster redirection (or: the node did not answer) */
	TND_CLUSTER_REDIR_MOVED,       /* the slot lives elsewhere for good: update the map, retry there */
	TND_CLUSTER_REDIR_ASK,         /* migrating: send ASKING then the command to that node, once */
	TND_CLUSTER_REDIR_TRYAGAIN,    /* multi-key command during a migration: back off, retry */
	TND_CLUSTER_REDIR_CLUSTERDOWN, /* the cluster (or the slot) is down: back off, refresh, retry */
	TND_CLUSTER_REDIR__MAX
};

struct tnd_cluster_redirect {
	enum tnd_cluster_redir kind;
	int slot;                           /* MOVED / ASK; -1 otherwise */
	char host[TND_REDIS_HOST_MAX + 1];  /* MOVED / ASK; "" when the server left it out */
	int port;                           /* MOVED / ASK */
	bool same_host;                     /* host left out: the host of the node that answered */
};

/*
 * Reads an error reply's text str[0..len) ("MOVED 3999 127.0.0.1:6381",
 * "ASK 3999 [::1]:6381" or "ASK 3999 ::1:6381", "TRYAGAIN ...",
 * "CLUSTERDOWN ..."). Returns the kind (TND_CLUSTER_REDIR_NONE for any
 * other error), or TND_EPROTO for a MOVED or ASK it cannot read.
 */
int tnd_cluster_redirect_parse(const char *str, size_t len, struct tnd_cluster_redirect *r);

/* "moved", "ask", "tryagain", "clusterdown" or "none". Static storage. */
const char *tnd_cluster_redir_name(enum tnd_cluster_redir kind);

/* --- bounded retries ----------------------------------------------------- */

/* Backoff before retrying a TRYAGAIN (doubles per try, capped), and a
 * CLUSTERDOWN or a node that did not answer (a failover takes about
 * cluster-node-timeout). MOVED and ASK retry at once. */
#define TND_CLUSTER_TRYAGAIN_BASE_MS 5
#define TND_CLUSTER_TRYAGAIN_CAP_MS 200
#define TND_CLUSTER_DOWN_BASE_MS 50
#define TND_CLUSTER_DOWN_CAP_MS 1000

struct tnd_cluster_retry {
	long long deadline_ms;   /* no attempt starts after this (monotonic ms) */
	int attempts;            /* attempts made so far (the first included) */
	int max_attempts;
	int backoffs;            /* TRYAGAIN / CLUSTERDOWN waits so far: the exponent */
};

/*
 * Starts the policy of one request at now_ms: at most max_attempts
 * attempts (>= 1), none starting after now_ms + budget_ms. The first
 * attempt is counted here.
 */
void tnd_cluster_retry_init(struct tnd_cluster_retry *r, long long now_ms, int budget_ms,
			    int max_attempts);

/*
 * After an attempt failed with kind (TND_CLUSTER_REDIR_NONE: the node did
 * not answer), at now_ms: returns the milliseconds to wait before the next
 * attempt (0 for MOVED and ASK; TRYAGAIN and CLUSTERDOWN back off
 * exponentially, spread to [d/2, d] by jitter, any random number; pass 0
 * for the shortest), and counts that attempt. Returns TND_EUNAVAIL when no
 * attempt is left or the wait would end past the deadline: answer 503.
 */
int tnd_cluster_retry_next(struct tnd_cluster_retry *r, long long now_ms,
			   enum tnd_cluster_redir kind, unsigned jitter);

#endif
