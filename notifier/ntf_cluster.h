/*
 * ntf_cluster: the notifier's Redis side over a Redis Cluster (SPEC
 * section 9), in place of ntf_redis when TANDEM_REDIS_URL is
 * redis-cluster://. It plugs into the hub through the same ntf_hub_ops
 * (read_log, pause_input) plus the watch and is_up ops.
 *
 *  - Slot map: CLUSTER SLOTS asked of a master of the current map, or of
 *    a seed, on a node's command connection; refreshed after a slot is
 *    lost, a MOVED, or a node failing.
 *  - Events: one sharded subscriber (ntf_shard) per master that owns a
 *    watched collection; SSUBSCRIBE {ns:col} on the owner when the hub
 *    says the collection got its first local client, SUNSUBSCRIBE when it
 *    lost its last.
 *  - Log reads: the same Lua read as ntf_redis (ntf_redis_log_argv), on a
 *    command connection (hiredis async) to the collection's master;
 *    MOVED updates the map and retries, ASK sends ASKING then the read
 *    to the node named, both bounded (NTF_CLUSTER_REDIRECTS_MAX).
 *
 * No gap, no duplicate: a collection's sync read (the hub's, after its
 * first client or a loss) is sent only once its SSUBSCRIBE is confirmed;
 * until then it waits here, while the hub holds the collection's live
 * events. When the channel is lost (the server's `sunsubscribe` after a
 * slot move or a failover, or the subscriber link dropping), the
 * collection is subscribed again on the owner the refreshed map names,
 * and, in the same callback that confirms it, the hub resyncs that one
 * collection from the log (ntf_hub_coll_resync); a sync read sent before
 * the loss is answered as failed, and the resync follows it.
 *
 * A subscription is trusted only once a sync read ran on the same node
 * after it was confirmed: a node that is not the slot's master answers
 * the read MOVED. Right after a failover a map can still name the demoted
 * master; it accepts SSUBSCRIBE and may then relay only some of the new
 * master's events. So sync reads go to the subscribed node, a MOVED there
 * moves the subscription (and the read is made again on the master), and
 * events are taken only from the node a collection is subscribed on
 * (while its sync reads, the hub holds them). A read answered ASK (a slot
 * being migrated) is followed: the source stays right for every write
 * it runs, and drops the channel when the migration ends, which resyncs.
 *
 * The hub's link is up once a first map is known; /healthz and the
 * redis_up gauge are up while the map is known and every watched
 * collection is subscribed. Failures are retried from one timer with
 * backoff (NTF_CLUSTER_BACKOFF_MIN_MS doubling to ..._MAX_MS).
 *
 * Ownership: ntf_cluster_new() returns a cluster the caller ends with
 * ntf_cluster_close(), then runs the loop so the handles close (the
 * memory goes with the last one). Loop thread only.
 */
#ifndef NTF_CLUSTER_H
#define NTF_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "ntf_hub.h"
#include "tnd_redis.h"

#define NTF_CLUSTER_BACKOFF_MIN_MS 50
#define NTF_CLUSTER_BACKOFF_MAX_MS 2000
#define NTF_CLUSTER_REDIRECTS_MAX 5   /* MOVED / ASK followed by one read */
#define NTF_CLUSTER_CONNECT_TIMEOUT_MS 1000 /* a command connection's connect */
#define NTF_CLUSTER_BUCKETS 256       /* hash buckets of watched collections */
#define NTF_CLUSTER_RECHECK_MS 1000   /* after a channel loss, the map is asked again ... */
#define NTF_CLUSTER_RECHECKS 3        /* ... this many times, this far apart */

struct ntf_cluster;

/* A cluster side for target (copied; target->cluster must be true) and namespace ns. NULL: no memory. */
struct ntf_cluster *ntf_cluster_new(const struct tnd_redis_target *target, const char *ns);
/* Starts on loop for hub: asks for the slot map. Returns 0 or a negative uv error. */
int ntf_cluster_start(struct ntf_cluster *cl, uv_loop_t *loop, struct ntf_hub *hub);
/*
 * Tells the hub the link is down, answers every read as failed, drops
 * every connection; the memory goes once the loop has closed the handles
 * (or now, if never started). NULL is a no-op.
 */
void ntf_cluster_close(struct ntf_cluster *cl);

/* ntf_hub_ops glue: data is the struct ntf_cluster. */
int ntf_cluster_read_log(void *data, struct ntf_query *q);
void ntf_cluster_pause(void *data, bool pause);
void ntf_cluster_watch(void *data, const char *collection, size_t len, bool on);
bool ntf_cluster_is_up(void *data);

#endif
