/*
 * rest_store: the Redis side of tandem-rest. One store per worker thread
 * (a blocking hiredis connection is not thread-safe), each connecting
 * lazily, reconnecting by itself after any I/O error, and failing fast
 * (TND_EUNAVAIL) while Redis is down.
 *
 * Every operation returns 0 or a negative TND_E* code (tnd_error.h) and,
 * on failure, leaves the reason in store->errstr. The store never logs:
 * its caller answers the client and logs once, with the request id.
 *
 * Every write is one Lua script run with EVALSHA (loaded on connect,
 * reloaded on NOSCRIPT): document + index + event log + PUBLISH, all or
 * nothing. Reads are scripts too, so that the log position (Tandem-Seq)
 * is taken atomically with the data. The key layout is in tnd_keys.h.
 *
 * On a Redis Cluster (cfg->cluster) every script of a collection goes to
 * the master of the collection's slot (rest_cluster), following MOVED, ASK,
 * TRYAGAIN and CLUSTERDOWN within the Redis timeout, and the writes
 * publish with SPUBLISH (sharded pub/sub, same slot as the keys). With
 * cfg->wait_replicas > 0 a write is followed by WAIT on the node that ran
 * it; too few confirmations is TND_ENOTREPL (the write is done).
 */
#ifndef REST_STORE_H
#define REST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "rest_metrics.h"
#include "rest_cluster.h"
#include "tnd_redis.h"
#include "tnd_seq.h"

enum rest_script { REST_SCRIPT_WRITE, REST_SCRIPT_DELETE, REST_SCRIPT_GET, REST_SCRIPT_LIST,
		   REST_SCRIPT_SCAN, REST_SCRIPT__MAX };

/*
 * One call of a filtered scan reads at most this many documents, and stops
 * early past this many bytes, so that no call holds Redis (single-threaded)
 * for long: about a millisecond for small documents.
 */
#define REST_SCAN_BATCH_DOCS 500
#define REST_SCAN_BATCH_BYTES (1 << 20)

struct rest_store_config {
	const struct tnd_redis_addr *addr;        /* one server (ignored with cluster) */
	const struct tnd_redis_target *cluster;   /* a Redis Cluster's seeds, or NULL */
	const char *ns;
	long long timeout_ms; /* connect and command timeout; bounds a request's cluster retries */
	long long log_len;    /* XADD MAXLEN ~ */
	long long wait_replicas; /* WAIT for this many replicas after each write (0: none) */
	struct rest_metrics *metrics; /* connects and script loads are counted here */
};

struct rest_store {
	const struct rest_store_config *cfg; /* borrowed, outlives the store */
	struct rest_cluster_link single;             /* single-node mode's connection */
	struct rest_cluster *route;            /* cluster mode: made on first use */
	struct rest_cluster_link *last;              /* the link the last script ran on (for WAIT) */
	unsigned rand_state;                 /* backoff jitter */
	char sha[REST_SCRIPT__MAX][41];
	char errstr[256];         /* why the last operation failed */
};

/* How a write treats an existing document. */
enum rest_write_mode {
	REST_WRITE_CREATE, /* must not exist (POST, PUT with If-None-Match: *) */
	REST_WRITE_PUT,    /* create or replace */
	REST_WRITE_PATCH,  /* must exist with exactly the expected version */
};

/*
 * The result of a write or read; strings are owned by the reply. The
 * operations' return codes: 0, TND_ENOTFOUND (no such document),
 * TND_EEXIST (a create-only write found one; version is its version),
 * TND_ECONFLICT (a version precondition failed; version is the stored
 * one, -1 when there is none), TND_EUNAVAIL (Redis unreachable, timed
 * out or out of memory: retry later), TND_EPROTO (unexpected reply), and
 * for writes TND_ENOTREPL (done, published, res filled, but fewer than
 * cfg->wait_replicas replicas confirmed it in time).
 */
struct rest_store_result {
	long long version;  /* new version, or the current one on conflict (-1: none) */
	bool created;       /* the write created the document */
	const char *seq;    /* event or read position, "<ms>-<n>" */
	const char *doc;    /* document JSON (writes and get) */
	size_t doc_len;
	redisReply *reply;  /* owner of the strings above: rest_store_result_free() */
};

void rest_store_init(struct rest_store *store, const struct rest_store_config *cfg);
/* Closes the connections (and drops a cluster's map); the store can be used again afterwards. */
void rest_store_close(struct rest_store *store);
void rest_store_result_free(struct rest_store_result *res);

/*
 * Which document (or collection, id NULL) an operation is about, and for
 * whom: owner is the token's sub when that token sees only its own
 * documents in this collection (SPEC section 6 `own`), else NULL. For
 * such an owner, another owner's document (or one without owner) is
 * TND_ENOTFOUND, lists hold only its own, and what it creates is its own.
 */
struct rest_store_doc {
	const char *collection;
	const char *id;
	const char *owner;
};

/*
 * Creates or replaces the document with body (a JSON object text without
 * server fields). expect is the If-Match condition as ",3,5," (any of
 * these versions), "*" (must exist) or "" (none); now is the RFC 3339
 * timestamp of the write. Fills res, also on failure; free it with
 * rest_store_result_free. Returns 0 or a code listed above.
 */
int rest_store_write(struct rest_store *store, const struct rest_store_doc *d,
		     enum rest_write_mode mode, const char *expect, const char *body,
		     size_t body_len, const char *now, struct rest_store_result *res);

/* Deletes; expect as for rest_store_write. */
int rest_store_delete(struct rest_store *store, const struct rest_store_doc *d,
		      const char *expect, struct rest_store_result *res);

/* Reads one document with the log position. */
int rest_store_get(struct rest_store *store, const struct rest_store_doc *d,
		   struct rest_store_result *res);

/*
 * Reads up to limit documents of d->collection (d->id unused) after the id
 * after (NULL: from the start), fewer when they pass TND_LIST_PAGE_BYTES.
 * On success res->reply is an array: [seq, next id or "", doc JSON...].
 */
int rest_store_list(struct rest_store *store, const struct rest_store_doc *d, const char *after,
		    long long limit, struct rest_store_result *res);

/*
 * One batch of a filtered list: the ids after `after` (NULL: from the
 * start) in d's index (the owner's when d->owner), with their documents.
 * res.reply owns every string; free with rest_store_result_free(&res).
 */
struct rest_store_scan {
	struct rest_store_result res; /* res.seq: the log position when asked for, else "" */
	const char *last_id;  /* the last id read ("" when none) */
	bool more;            /* ids follow last_id */
	long long ids_read;   /* ids read, documents or not */
	size_t first_doc;     /* documents are res.reply->element[first_doc..] */
};

/*
 * Reads up to count ids (fewer past REST_SCAN_BATCH_BYTES) and their
 * documents; want_seq takes the log position atomically with them (the
 * first batch of a page). Returns 0 or a code listed above.
 */
int rest_store_scan(struct rest_store *store, const struct rest_store_doc *d, const char *after,
		    long long count, bool want_seq, struct rest_store_scan *out);

/*
 * PING (on a cluster: every master of the slot map); returns 0 when Redis
 * answers within the timeout, else a TND_E* code.
 */
int rest_store_ping(struct rest_store *store);

#endif
