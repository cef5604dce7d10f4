/*
 * ntf_cluster: see ntf_cluster.h. Loop thread only, from shard and
 * hiredis callbacks, the hub's ops and the one timer.
 *
 * State per watched collection (struct cwatch): NEED (no subscription:
 * the timer subscribes it on the owner), SUBSCRIBING (SSUBSCRIBE sent to
 * w->node), SUBSCRIBED. gen counts the losses of its channel; a sync read
 * sent under an older gen is answered to the hub as failed.
 *
 * Re-entrancy: ntf_hub_query_done() may end the collection (the hub then
 * calls watch off, which frees the cwatch), so nothing touches a cwatch
 * after telling the hub a read ended; reads that end together are ended
 * last. hiredis runs pending callbacks with a NULL reply when a context
 * goes (link lost, or our teardown): such a read fails, and the timer
 * retries with backoff.
 */
#include "ntf_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>

#include "ntf_redis.h"
#include "ntf_shard.h"
#include "tnd_cluster.h"
#include "tnd_error.h"
#include "tnd_keys.h"
#include "tnd_log.h"

/* One node of the cluster as we talk to it: a subscriber and a command connection, each on demand. */
struct cnode {
	struct cnode *next;
	struct ntf_cluster *cl;
	char host[TND_REDIS_HOST_MAX + 1];
	int port;
	struct ntf_shard *sh;   /* subscriber, NULL when none */
	redisAsyncContext *cmd; /* log reads and CLUSTER SLOTS, NULL when none */
	bool cmd_connected;
	uint64_t cmd_opened;    /* loop ms: a connect still pending after the timeout is dropped */
	uint64_t down_until;    /* loop ms: a connect failed, not a refresh candidate before */
	uint32_t n_watch;       /* watches subscribed or subscribing on sh */
};

enum wstate { W_NEED, W_SUBSCRIBING, W_SUBSCRIBED };

struct cquery;

struct cwatch {
	struct cwatch *hnext;
	char name[TND_COLLECTION_MAX + 1];
	size_t name_len;
	char channel[TND_KEY_MAX];
	size_t channel_len;
	int slot;
	enum wstate state;
	struct cnode *node;     /* where SUBSCRIBING / SUBSCRIBED */
	uint64_t gen;           /* losses of the channel */
	uint32_t syncs_out;     /* sync reads sent, not answered */
	uint32_t redirects;     /* MOVED answers to SSUBSCRIBE in a row */
	bool resync_due;        /* the hub must read the log again once subscribed */
	bool was_lost;          /* for the log line and the reconnect count */
	struct cquery *deferred;/* sync reads waiting for the subscription */
};

/* A log read of the hub's, as sent (or waiting to be). */
struct cquery {
	struct cquery *next;    /* in w->deferred, or a local list */
	struct ntf_cluster *cl;
	struct ntf_query *q;
	struct cwatch *w;
	uint64_t gen;           /* w->gen when a sync read was sent */
	bool counted;           /* a sync read counted in w->syncs_out */
	int redirects;
	struct cnode *ask;      /* ASK: the node of the next attempt */
};

struct ntf_cluster {
	uv_loop_t *loop;
	struct ntf_hub *hub;
	struct tnd_redis_target target;
	char ns[TND_COLLECTION_MAX + 1];
	struct tnd_cluster_map *map;
	struct cnode *nodes;
	uint32_t n_nodes;
	struct cwatch *buckets[NTF_CLUSTER_BUCKETS];
	uint32_t n_watches, n_subscribed;
	uv_timer_t timer;
	uint64_t tick_due;
	unsigned backoff_ms;
	unsigned probe;             /* next CLUSTER SLOTS candidate */
	struct cnode *refreshing;   /* CLUSTER SLOTS in flight there */
	bool refresh_wanted;
	uint64_t recheck_at;        /* loop ms of the next map re-check, 0 when none */
	unsigned rechecks;          /* re-checks left */
	bool started, closing, paused, link_up, healthy;
};

#define NODES_MAX (TND_CLUSTER_NODES_MAX + TND_CLUSTER_SEEDS_MAX)

static void on_tick(uv_timer_t *t);

/* --- bookkeeping ---------------------------------------------------------- */

static uint32_t hash_name(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h % NTF_CLUSTER_BUCKETS;
}

static struct cwatch *watch_find(struct ntf_cluster *cl, const char *name, size_t len)
{
	struct cwatch *w = cl->buckets[hash_name(name, len)];

	while (w && (w->name_len != len || memcmp(w->name, name, len)))
		w = w->hnext;
	return w;
}

/* The watch of a channel "{ns:col}", or NULL. */
static struct cwatch *watch_by_channel(struct ntf_cluster *cl, const char *ch, size_t len)
{
	size_t ns_len = strlen(cl->ns);

	if (len < ns_len + 4 || ch[0] != '{' || memcmp(ch + 1, cl->ns, ns_len) ||
	    ch[1 + ns_len] != ':' || ch[len - 1] != '}')
		return NULL;
	return watch_find(cl, ch + 2 + ns_len, len - ns_len - 3);
}

static void health_update(struct ntf_cluster *cl)
{
	bool healthy = cl->link_up && cl->map && cl->n_subscribed == cl->n_watches;

	if (healthy != cl->healthy && !cl->closing) {
		cl->healthy = healthy;
		if (healthy)
			tnd_log_info("redis cluster: every watched collection (%u) is subscribed",
				     cl->n_watches);
		else
			tnd_log_info("redis cluster: %u of %u watched collections subscribed",
				     cl->n_subscribed, cl->n_watches);
	}
	if (cl->hub)
		ntf_hub_metrics(cl->hub)->redis_up = healthy;
}

static void set_state(struct ntf_cluster *cl, struct cwatch *w, enum wstate st)
{
	if (w->state == W_SUBSCRIBED)
		cl->n_subscribed--;
	if (st == W_SUBSCRIBED)
		cl->n_subscribed++;
	w->state = st;
}

/* Runs the timer in ms unless it runs sooner already. */
static void schedule(struct ntf_cluster *cl, unsigned ms)
{
	uint64_t due;

	if (!cl->started || cl->closing)
		return;
	due = uv_now(cl->loop) + ms;
	if (uv_is_active((uv_handle_t *)&cl->timer) && cl->tick_due <= due)
		return;
	cl->tick_due = due;
	uv_timer_start(&cl->timer, on_tick, ms, 0);
}

/* Something failed: try again later, a little later each time. */
static void backoff(struct ntf_cluster *cl)
{
	schedule(cl, cl->backoff_ms);
	cl->backoff_ms = cl->backoff_ms * 2 > NTF_CLUSTER_BACKOFF_MAX_MS ? NTF_CLUSTER_BACKOFF_MAX_MS
									  : cl->backoff_ms * 2;
}

static struct cnode *node_get(struct ntf_cluster *cl, const char *host, int port)
{
	struct cnode *n;

	for (n = cl->nodes; n; n = n->next)
		if (n->port == port && !strcmp(n->host, host))
			return n;
	if (cl->n_nodes >= NODES_MAX || strlen(host) > TND_REDIS_HOST_MAX)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->cl = cl;
	snprintf(n->host, sizeof(n->host), "%s", host);
	n->port = port;
	n->next = cl->nodes;
	cl->nodes = n;
	cl->n_nodes++;
	return n;
}

/* The node serving slot in the map, or NULL (then a refresh is wanted). */
static struct cnode *owner_node(struct ntf_cluster *cl, int slot)
{
	int idx = cl->map ? tnd_cluster_map_master(cl->map, slot) : TND_ENOTFOUND;
	const struct tnd_cluster_node *n = idx >= 0 ? tnd_cluster_map_node(cl->map, idx) : NULL;

	if (!n) {
		cl->refresh_wanted = true;
		return NULL;
	}
	return node_get(cl, n->host, n->port);
}

static void node_addr(const struct ntf_cluster *cl, const struct cnode *n, struct tnd_redis_addr *a)
{
	*a = cl->target.addr; /* the credentials, for every node */
	a->is_unix = false;
	a->db = 0;
	snprintf(a->host, sizeof(a->host), "%s", n->host);
	a->port = n->port;
}

/* --- command connections --------------------------------------------------- */

static void node_down(struct cnode *n)
{
	n->down_until = uv_now(n->cl->loop) + NTF_CLUSTER_CONNECT_TIMEOUT_MS;
}

static void cmd_gone(const redisAsyncContext *ac, const char *why)
{
	struct cnode *n = ac->data;

	if (n->cmd != ac)
		return; /* our own teardown */
	n->cmd = NULL;
	if (!n->cmd_connected)
		node_down(n);
	if (!n->cl->closing)
		tnd_log_warn("redis %s:%d: command connection lost (%s)", n->host, n->port, why);
}

static void on_cmd_connect(const redisAsyncContext *ac, int status)
{
	struct cnode *n = ac->data;

	if (status != REDIS_OK)
		cmd_gone(ac, ac->errstr[0] ? ac->errstr : "connect failed");
	else if (n->cmd == ac)
		n->cmd_connected = true;
}

/*
 * hiredis 0.14's libuv adapter ignores a poll error, so a refused connect
 * never reports: a connect pending past the timeout is dropped here (its
 * reads fail, a refresh asks the next candidate). Not from a callback of ac.
 */
static void cmd_check_connect(struct cnode *n)
{
	redisAsyncContext *ac = n->cmd;
	uint64_t waited = uv_now(n->cl->loop) - n->cmd_opened;

	if (!ac || n->cmd_connected)
		return;
	if (waited < NTF_CLUSTER_CONNECT_TIMEOUT_MS) {
		schedule(n->cl, (unsigned)(NTF_CLUSTER_CONNECT_TIMEOUT_MS - waited) + 1);
		return;
	}
	tnd_log_warn("redis %s:%d: connect timed out", n->host, n->port);
	n->cmd = NULL;
	node_down(n);
	redisAsyncFree(ac);
}

static void on_cmd_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	cmd_gone(ac, ac->errstr[0] ? ac->errstr : "disconnected");
}

static void on_cmd_auth(redisAsyncContext *ac, void *reply_, void *privdata)
{
	struct cnode *n = ac->data;
	redisReply *reply = reply_;

	(void)privdata;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		tnd_log_error("redis %s:%d: AUTH as %s refused (%.120s)", n->host, n->port,
			      n->cl->target.addr.username[0] ? n->cl->target.addr.username : "default",
			      reply->str);
}

/* The node's command connection, opened now if needed (AUTH first); NULL when it cannot start. */
static redisAsyncContext *node_cmd(struct cnode *n)
{
	struct tnd_redis_addr a;
	const char *auth[3];
	size_t auth_lens[3];
	redisAsyncContext *ac;
	char err[200];
	int n_auth;

	if (n->cmd)
		return n->cmd;
	node_addr(n->cl, n, &a);
	ac = tnd_redis_connect_async(&a, err, sizeof(err));
	if (!ac) {
		tnd_log_warn("redis %s:%d: cannot connect (%s)", n->host, n->port, err);
		return NULL;
	}
	ac->data = n;
	if (redisLibuvAttach(ac, n->cl->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_cmd_connect);
	redisAsyncSetDisconnectCallback(ac, on_cmd_disconnect);
	n->cmd = ac;
	n->cmd_connected = false;
	n->cmd_opened = uv_now(n->cl->loop);
	schedule(n->cl, NTF_CLUSTER_CONNECT_TIMEOUT_MS + 1); /* cmd_check_connect */
	n_auth = tnd_redis_auth_argv(&a, auth, auth_lens);
	if (n_auth > 0 &&
	    redisAsyncCommandArgv(ac, on_cmd_auth, NULL, n_auth, auth, auth_lens) != REDIS_OK) {
		n->cmd = NULL;
		redisAsyncFree(ac);
		return NULL;
	}
	return ac;
}

/* --- the slot map ---------------------------------------------------------- */

static void watch_detach(struct ntf_cluster *cl, struct cwatch *w);

/*
 * A channel subscribed on a node the new map does not name as its slot's
 * master moves there (and its log is read again, as after a loss). Right
 * after a failover the node that dropped a channel, or the one a refresh
 * asked, may still see itself or the old master as the owner: a
 * resubscription made on that view can land on the demoted master, which
 * accepts SSUBSCRIBE and then delivers nothing. The re-checks after every
 * loss (NTF_CLUSTER_RECHECKS) find it here once the cluster agrees.
 */
static void relocate_watches(struct ntf_cluster *cl)
{
	for (uint32_t i = 0; i < NTF_CLUSTER_BUCKETS; i++) {
		for (struct cwatch *w = cl->buckets[i]; w; w = w->hnext) {
			struct cnode *owner;

			if (w->state != W_SUBSCRIBED || !w->node)
				continue;
			owner = owner_node(cl, w->slot);
			if (!owner || owner == w->node)
				continue;
			tnd_log_info("collection %s: the slot map names %s:%d, not %s:%d; moving", w->name,
				     owner->host, owner->port, w->node->host, w->node->port);
			if (w->node->sh)
				ntf_shard_unsubscribe(w->node->sh, w->channel, w->channel_len);
			watch_detach(cl, w);
		}
	}
}

/* A channel was lost: ask for the map again a few times while the cluster settles. */
static void recheck_soon(struct ntf_cluster *cl)
{
	cl->rechecks = NTF_CLUSTER_RECHECKS;
	cl->recheck_at = uv_now(cl->loop) + NTF_CLUSTER_RECHECK_MS;
	schedule(cl, NTF_CLUSTER_RECHECK_MS);
}

static void on_slots(redisAsyncContext *ac, void *reply_, void *privdata)
{
	struct cnode *n = privdata;
	struct ntf_cluster *cl = n->cl;
	redisReply *reply = reply_;
	struct tnd_cluster_map *m;
	char err[200];

	(void)ac;
	if (cl->refreshing == n)
		cl->refreshing = NULL;
	if (cl->closing)
		return;
	if (!reply || reply->type == REDIS_REPLY_ERROR ||
	    tnd_cluster_map_parse(reply, n->host, &m, err, sizeof(err)) < 0) {
		tnd_log_warn("redis %s:%d: no slot map (%s)", n->host, n->port,
			     !reply ? "link lost" : reply->type == REDIS_REPLY_ERROR ? reply->str : err);
		cl->refresh_wanted = true;
		backoff(cl);
		return;
	}
	if (tnd_cluster_map_covered(m) < TND_CLUSTER_SLOTS)
		tnd_log_warn("redis %s:%d: the cluster serves %d of %d slots", n->host, n->port,
			     tnd_cluster_map_covered(m), TND_CLUSTER_SLOTS);
	tnd_cluster_map_free(cl->map);
	cl->map = m;
	relocate_watches(cl);
	if (!cl->link_up) {
		cl->link_up = true;
		tnd_log_info("redis cluster: slot map from %s:%d, %zu nodes", n->host, n->port,
			     tnd_cluster_map_node_count(m));
		ntf_hub_link_up(cl->hub); /* its syncs wait here for their subscriptions */
	}
	schedule(cl, 0);
	health_update(cl);
}

/* Asks the next candidate (a master of the map, then a seed) for CLUSTER SLOTS. */
static void refresh_start(struct ntf_cluster *cl)
{
	int masters[TND_CLUSTER_SEEDS_MAX];
	int n_masters = 0, total;
	unsigned pick;
	struct cnode *n = NULL;
	redisAsyncContext *ac;

	if (cl->refreshing)
		return;
	if (cl->map) {
		n_masters = tnd_cluster_map_masters(cl->map, masters, TND_CLUSTER_SEEDS_MAX);
		if (n_masters > TND_CLUSTER_SEEDS_MAX)
			n_masters = TND_CLUSTER_SEEDS_MAX;
	}
	total = n_masters + (int)cl->target.n_seeds;
	/* The next candidate whose last connect did not just fail (or the next one at all). */
	for (int tries = 0; tries < total; tries++) {
		pick = cl->probe++ % (unsigned)total;
		if ((int)pick < n_masters) {
			const struct tnd_cluster_node *m = tnd_cluster_map_node(cl->map, masters[pick]);
			n = node_get(cl, m->host, m->port);
		} else {
			const struct tnd_redis_node *s = &cl->target.seeds[pick - (unsigned)n_masters];
			n = node_get(cl, s->host, s->port);
		}
		if (n && n->down_until <= uv_now(cl->loop))
			break;
	}
	ac = n ? node_cmd(n) : NULL;
	if (!ac || redisAsyncCommand(ac, on_slots, n, "CLUSTER SLOTS") != REDIS_OK) {
		backoff(cl);
		return;
	}
	cl->refreshing = n;
	cl->refresh_wanted = false;
}

/* --- log reads -------------------------------------------------------------- */

static int query_send(struct cquery *cq);

/*
 * The read ended (reply NULL: failed). Tells the hub; cq and perhaps its
 * watch are gone afterwards.
 */
static void query_finish(struct cquery *cq, const redisReply *reply)
{
	struct ntf_cluster *cl = cq->cl;
	struct cwatch *w = cq->w;
	struct ntf_log_result res = {.ok = false};
	struct ntf_msg **events = NULL;
	const char *why = NULL;
	bool stale = false;

	if (cq->counted) {
		w->syncs_out--;
		stale = cq->gen != w->gen; /* the channel was lost since: read again once back */
	}
	if (reply && !stale && ntf_redis_log_parse(cq->q, reply, &res, &events, &why) < 0)
		tnd_log_error("collection %s: %s", w->name, why);
	if (!res.ok)
		w->resync_due = true;
	ntf_hub_query_done(cq->q, &res);
	ntf_redis_log_release(&res, events);
	free(cq);
	if (!res.ok && !cl->closing) {
		if (stale)
			schedule(cl, 0);
		else
			backoff(cl);
	}
}

/*
 * A sync read on the node w is subscribed on was answered MOVED: that node
 * is not the slot's master (a demoted master, seen as the owner by a map
 * asked too early, accepts SSUBSCRIBE and relays only some of the new
 * master's events). The subscription moves to the node named, and the
 * collection's log is read there once it is confirmed.
 */
static void watch_misplaced(struct ntf_cluster *cl, struct cwatch *w,
			    const struct tnd_cluster_redirect *rd)
{
	struct cnode *n = w->node;
	const char *host = rd->same_host || !rd->host[0] ? n->host : rd->host;

	tnd_log_info("collection %s: %s:%d is not its slot's master (MOVED to %s:%d); moving", w->name,
		     n->host, n->port, host, rd->port);
	if (cl->map && rd->slot == w->slot)
		tnd_cluster_map_moved(cl->map, rd->slot, host, rd->port);
	if (n->sh)
		ntf_shard_unsubscribe(n->sh, w->channel, w->channel_len);
	watch_detach(cl, w);
	recheck_soon(cl); /* the rest of the map is as stale: asked again in a second */
	schedule(cl, 0);
	health_update(cl);
}

static void on_read(redisAsyncContext *ac, void *reply_, void *privdata)
{
	struct cnode *n = ac->data;
	struct cquery *cq = privdata;
	struct ntf_cluster *cl = cq->cl;
	redisReply *reply = reply_;
	struct tnd_cluster_redirect rd;
	int kind;

	if (!reply || cl->closing) {
		query_finish(cq, NULL);
		return;
	}
	if (reply->type != REDIS_REPLY_ERROR) {
		query_finish(cq, reply);
		return;
	}
	kind = tnd_cluster_redirect_parse(reply->str, reply->len, &rd);
	if (kind == TND_CLUSTER_REDIR_MOVED && cq->counted && cq->gen == cq->w->gen &&
	    cq->w->node == n) {
		watch_misplaced(cl, cq->w, &rd);
		query_finish(cq, NULL); /* stale now: read again once subscribed on the master */
		return;
	}
	if ((kind == TND_CLUSTER_REDIR_MOVED || kind == TND_CLUSTER_REDIR_ASK) &&
	    cq->redirects++ < NTF_CLUSTER_REDIRECTS_MAX) {
		const char *host = rd.same_host || !rd.host[0] ? n->host : rd.host;

		if (kind == TND_CLUSTER_REDIR_MOVED) {
			if (cl->map)
				tnd_cluster_map_moved(cl->map, rd.slot, host, rd.port);
			cl->refresh_wanted = true;
			schedule(cl, NTF_CLUSTER_BACKOFF_MIN_MS);
		} else {
			cq->ask = node_get(cl, host, rd.port);
		}
		if (query_send(cq) == 0)
			return;
	}
	tnd_log_warn("collection %s: log read on %s:%d failed: %s", cq->w->name, n->host, n->port,
		     reply->str);
	query_finish(cq, NULL);
}

/*
 * A sync read goes to the node the collection is subscribed on, not to
 * the one the map names: that it runs there, after the subscription was
 * confirmed, is what proves the subscription sits on the slot's master
 * (on_read). NULL for other reads.
 */
static struct cnode *sync_node(const struct cquery *cq)
{
	return cq->q->is_sync && cq->w->state == W_SUBSCRIBED ? cq->w->node : NULL;
}

/* Sends cq to its slot's master (or the node of an ASK). 0, or -1: nothing was sent. */
static int query_send(struct cquery *cq)
{
	struct ntf_cluster *cl = cq->cl;
	struct cwatch *w = cq->w;
	struct cnode *n = cq->ask ? cq->ask : sync_node(cq) ? sync_node(cq) : owner_node(cl, w->slot);
	struct ntf_redis_log_args a;
	redisAsyncContext *ac;

	if (!n || !(ac = node_cmd(n)) || ntf_redis_log_argv(cq->q, cl->ns, &a) < 0)
		return -1;
	if (cq->ask && redisAsyncCommand(ac, NULL, NULL, "ASKING") != REDIS_OK)
		return -1;
	cq->ask = NULL;
	if (redisAsyncCommandArgv(ac, on_read, cq, NTF_REDIS_LOG_ARGC, a.argv, a.lens) != REDIS_OK)
		return -1;
	if (cq->q->is_sync && !cq->counted) {
		cq->counted = true;
		cq->gen = w->gen;
		w->syncs_out++;
		w->resync_due = false;
	}
	return 0;
}

int ntf_cluster_read_log(void *data, struct ntf_query *q)
{
	struct ntf_cluster *cl = data;
	struct cwatch *w;
	struct cquery *cq;

	if (cl->closing || !cl->link_up)
		return -1;
	w = watch_find(cl, q->coll->name, q->coll->name_len);
	if (!w || !(cq = calloc(1, sizeof(*cq))))
		return -1;
	cq->cl = cl;
	cq->q = q;
	cq->w = w;
	if (q->is_sync && w->state != W_SUBSCRIBED) {
		/* Read only what the subscription will not bring: wait for its confirmation. */
		cq->next = w->deferred;
		w->deferred = cq;
		return 0;
	}
	if (query_send(cq) < 0) {
		free(cq);
		return -1;
	}
	return 0;
}

/* --- subscriptions ------------------------------------------------------------ */

/* w no longer has (or will not get) its subscription where it was. */
static void watch_detach(struct ntf_cluster *cl, struct cwatch *w)
{
	if (w->node) {
		w->node->n_watch--;
		w->node = NULL;
	}
	if (w->state == W_SUBSCRIBED) {
		w->gen++;
		w->resync_due = true;
		w->was_lost = true;
	}
	set_state(cl, w, W_NEED);
}

/* The subscription confirmed: deferred syncs go out, or the hub resyncs now, before any new event. */
static void watch_subscribed(struct ntf_cluster *cl, struct cwatch *w)
{
	struct cquery *list = w->deferred, *failed = NULL, *cq, *next;

	w->deferred = NULL;
	w->redirects = 0;
	set_state(cl, w, W_SUBSCRIBED);
	cl->backoff_ms = NTF_CLUSTER_BACKOFF_MIN_MS;
	if (w->was_lost) {
		w->was_lost = false;
		ntf_hub_metrics(cl->hub)->redis_reconnects++;
		tnd_log_info("collection %.*s: subscribed again on %s:%d; reading its log", (int)w->name_len,
			     w->name, w->node->host, w->node->port);
	}
	for (cq = list; cq; cq = next) {
		next = cq->next;
		if (query_send(cq) < 0) {
			cq->next = failed;
			failed = cq;
		}
	}
	if (w->resync_due && !w->syncs_out && !failed)
		ntf_hub_coll_resync(cl->hub, w->name, w->name_len);
	for (cq = failed; cq; cq = next) {
		next = cq->next;
		query_finish(cq, NULL); /* w may go here: last */
	}
}

static void shard_lost(struct ntf_cluster *cl, struct cnode *n, const char *why)
{
	tnd_log_warn("redis %s:%d: subscriber link lost (%s)", n->host, n->port, why);
	for (uint32_t i = 0; i < NTF_CLUSTER_BUCKETS; i++)
		for (struct cwatch *w = cl->buckets[i]; w; w = w->hnext)
			if (w->node == n)
				watch_detach(cl, w);
	ntf_shard_close(n->sh);
	n->sh = NULL;
	cl->refresh_wanted = true;
	recheck_soon(cl);
	backoff(cl);
	health_update(cl);
}

static void on_shard_connect(struct ntf_shard *sh, int status, void *data)
{
	struct cnode *n = data;

	if (status < 0 && n->sh == sh) {
		node_down(n);
		shard_lost(n->cl, n, ntf_shard_errstr(sh));
	}
}

static void on_shard_disconnect(struct ntf_shard *sh, int status, void *data)
{
	struct cnode *n = data;

	(void)status;
	if (n->sh == sh)
		shard_lost(n->cl, n, ntf_shard_errstr(sh));
}

static void on_shard_message(struct ntf_shard *sh, const char *channel, size_t channel_len,
			     const char *msg, size_t msg_len, void *data)
{
	struct cnode *n = data;
	struct cwatch *w = watch_by_channel(n->cl, channel, channel_len);

	(void)sh;
	/*
	 * Only from the subscription the collection's resync started on: a
	 * channel being dropped or moved (a misplaced one may relay the new
	 * master's events with holes) must not advance the collection past
	 * what the next log read would fill.
	 */
	if (!w || w->node != n || w->state != W_SUBSCRIBED) {
		ntf_hub_metrics(n->cl->hub)->events_ignored++;
		return;
	}
	ntf_hub_publish(n->cl->hub, msg, msg_len);
}

static void on_shard_subscribe(struct ntf_shard *sh, const char *channel, size_t channel_len,
			       int status, const char *err, void *data)
{
	struct cnode *n = data;
	struct ntf_cluster *cl = n->cl;
	struct cwatch *w = watch_by_channel(cl, channel, channel_len);
	struct tnd_cluster_redirect rd;

	if (!w || w->node != n || w->state != W_SUBSCRIBING) {
		/* Not wanted here (any more): one stream per collection. */
		if (status == 0 && (!w || w->node != n))
			ntf_shard_unsubscribe(sh, channel, channel_len);
		return;
	}
	if (status == 0) {
		watch_subscribed(cl, w);
		health_update(cl);
		return;
	}
	watch_detach(cl, w);
	if (tnd_cluster_redirect_parse(err, strlen(err), &rd) == TND_CLUSTER_REDIR_MOVED &&
	    rd.slot == w->slot && ++w->redirects <= NTF_CLUSTER_REDIRECTS_MAX) {
		if (cl->map)
			tnd_cluster_map_moved(cl->map, rd.slot, rd.same_host || !rd.host[0] ? n->host : rd.host,
					      rd.port);
		schedule(cl, 0);
	} else {
		tnd_log_warn("collection %s: SSUBSCRIBE on %s:%d failed: %s", w->name, n->host, n->port,
			     err);
		w->redirects = 0;
		cl->refresh_wanted = true;
		backoff(cl);
	}
	health_update(cl);
}

static void on_shard_unsubscribe(struct ntf_shard *sh, const char *channel, size_t channel_len,
				 bool by_server, void *data)
{
	struct cnode *n = data;
	struct ntf_cluster *cl = n->cl;
	struct cwatch *w;

	(void)sh;
	if (!by_server)
		return;
	w = watch_by_channel(cl, channel, channel_len);
	if (!w || w->node != n)
		return;
	tnd_log_info("collection %s: %s:%d dropped its channel (slot moved or failover); "
		     "resubscribing", w->name, n->host, n->port);
	watch_detach(cl, w);
	cl->refresh_wanted = true;
	recheck_soon(cl);
	schedule(cl, 0);
	health_update(cl);
}

static const struct ntf_shard_cbs shard_cbs = {
	.connect_cb = on_shard_connect,
	.disconnect_cb = on_shard_disconnect,
	.message_cb = on_shard_message,
	.subscribe_cb = on_shard_subscribe,
	.unsubscribe_cb = on_shard_unsubscribe,
};

/* Sends SSUBSCRIBE for w to its slot's master. 0, or -1 (retry later). */
static int watch_subscribe(struct ntf_cluster *cl, struct cwatch *w)
{
	struct cnode *n = owner_node(cl, w->slot);
	struct ntf_shard_cbs cbs = shard_cbs;
	struct tnd_redis_addr a;
	char err[200];

	if (!n)
		return -1;
	if (!n->sh) {
		cbs.data = n;
		node_addr(cl, n, &a);
		if (ntf_shard_open(cl->loop, &a, NULL, &cbs, &n->sh, err, sizeof(err)) < 0) {
			tnd_log_warn("redis %s:%d: cannot open a subscriber (%s)", n->host, n->port, err);
			return -1;
		}
		if (cl->paused)
			ntf_shard_pause(n->sh, true);
	}
	if (ntf_shard_subscribe(n->sh, w->channel, w->channel_len) < 0)
		return -1;
	w->node = n;
	n->n_watch++;
	set_state(cl, w, W_SUBSCRIBING);
	return 0;
}

/* --- the timer: retries, subscriptions, resyncs, idle subscribers ------------ */

static void on_tick(uv_timer_t *t)
{
	struct ntf_cluster *cl = t->data;
	bool failed = false;

	if (cl->closing)
		return;
	for (struct cnode *n = cl->nodes; n; n = n->next)
		cmd_check_connect(n); /* may end reads, and so collections */
	if (cl->recheck_at && uv_now(cl->loop) >= cl->recheck_at) {
		cl->refresh_wanted = true;
		cl->recheck_at = --cl->rechecks ? uv_now(cl->loop) + NTF_CLUSTER_RECHECK_MS : 0;
	}
	if (cl->recheck_at)
		schedule(cl, (unsigned)(cl->recheck_at - uv_now(cl->loop)));
	if (!cl->map || cl->refresh_wanted)
		refresh_start(cl);
	/* After a loss, subscribe where the new map says (a MOVED would correct a stale one). */
	if (cl->map && !cl->refreshing) {
		for (uint32_t i = 0; i < NTF_CLUSTER_BUCKETS; i++) {
			for (struct cwatch *w = cl->buckets[i]; w; w = w->hnext) {
				if (w->state == W_NEED && watch_subscribe(cl, w) < 0)
					failed = true;
				else if (w->state == W_SUBSCRIBED && w->resync_due && !w->syncs_out &&
					 !w->deferred && !ntf_hub_coll_resync(cl->hub, w->name, w->name_len))
					failed = true; /* the read could not start: again after a backoff */
			}
		}
	}
	for (struct cnode *n = cl->nodes; n; n = n->next) {
		if (n->sh && n->n_watch == 0) {
			ntf_shard_close(n->sh);
			n->sh = NULL;
		}
	}
	if (failed)
		backoff(cl);
	health_update(cl);
}

/* --- hub ops ------------------------------------------------------------------ */

void ntf_cluster_watch(void *data, const char *collection, size_t len, bool on)
{
	struct ntf_cluster *cl = data;
	struct cwatch *w = watch_find(cl, collection, len), **pp;
	int klen, slot;

	if (on) {
		if (w || len > TND_COLLECTION_MAX)
			return;
		slot = tnd_cluster_collection_slot(cl->ns, collection, len);
		w = slot >= 0 ? calloc(1, sizeof(*w)) : NULL;
		klen = w ? tnd_key(w->channel, sizeof(w->channel), TND_KEY_CHANNEL, cl->ns, collection,
				   len)
			 : -1;
		if (klen < 0) {
			tnd_log_error("collection %.*s: cannot watch it (out of memory)", (int)len,
				      collection);
			free(w);
			return;
		}
		memcpy(w->name, collection, len);
		w->name_len = len;
		w->channel_len = (size_t)klen;
		w->slot = slot;
		pp = &cl->buckets[hash_name(collection, len)];
		w->hnext = *pp;
		*pp = w;
		cl->n_watches++;
		schedule(cl, 0);
		health_update(cl);
		return;
	}
	if (!w)
		return;
	if (w->node && w->node->sh && w->state != W_NEED && !cl->closing)
		ntf_shard_unsubscribe(w->node->sh, w->channel, w->channel_len);
	w->resync_due = false;
	watch_detach(cl, w);
	for (pp = &cl->buckets[hash_name(collection, len)]; *pp != w; pp = &(*pp)->hnext)
		;
	*pp = w->hnext;
	cl->n_watches--;
	free(w); /* no read of it is left: the hub ends a collection only then */
	schedule(cl, 0);
	health_update(cl);
}

void ntf_cluster_pause(void *data, bool pause)
{
	struct ntf_cluster *cl = data;

	cl->paused = pause;
	for (struct cnode *n = cl->nodes; n; n = n->next)
		if (n->sh)
			ntf_shard_pause(n->sh, pause);
}

bool ntf_cluster_is_up(void *data)
{
	const struct ntf_cluster *cl = data;

	return cl->link_up && cl->map && cl->n_subscribed == cl->n_watches;
}

/* --- setup and teardown ----------------------------------------------------- */

struct ntf_cluster *ntf_cluster_new(const struct tnd_redis_target *target, const char *ns)
{
	struct ntf_cluster *cl;

	if (!target->cluster || target->n_seeds == 0 || strlen(ns) > TND_COLLECTION_MAX)
		return NULL;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->target = *target;
	snprintf(cl->ns, sizeof(cl->ns), "%s", ns);
	cl->backoff_ms = NTF_CLUSTER_BACKOFF_MIN_MS;
	return cl;
}

int ntf_cluster_start(struct ntf_cluster *cl, uv_loop_t *loop, struct ntf_hub *hub)
{
	int rc = uv_timer_init(loop, &cl->timer);

	if (rc < 0)
		return rc;
	cl->loop = loop;
	cl->hub = hub;
	cl->timer.data = cl;
	cl->started = true;
	cl->refresh_wanted = true;
	health_update(cl);
	schedule(cl, 0);
	return 0;
}

static void free_all(struct ntf_cluster *cl)
{
	for (uint32_t i = 0; i < NTF_CLUSTER_BUCKETS; i++) {
		while (cl->buckets[i]) {
			struct cwatch *w = cl->buckets[i];
			cl->buckets[i] = w->hnext;
			free(w);
		}
	}
	while (cl->nodes) {
		struct cnode *n = cl->nodes;
		cl->nodes = n->next;
		free(n);
	}
	tnd_cluster_map_free(cl->map);
	free(cl);
}

static void on_timer_closed(uv_handle_t *h)
{
	free_all(h->data);
}

void ntf_cluster_close(struct ntf_cluster *cl)
{
	struct cquery *list = NULL, *cq, *next;

	if (!cl)
		return;
	if (!cl->started) {
		free_all(cl);
		return;
	}
	cl->closing = true;
	uv_timer_stop(&cl->timer);
	if (cl->link_up) {
		cl->link_up = false;
		ntf_hub_link_down(cl->hub);
	}
	/* Reads waiting for a subscription fail; the hub may end their collections meanwhile. */
	for (uint32_t i = 0; i < NTF_CLUSTER_BUCKETS; i++) {
		for (struct cwatch *w = cl->buckets[i]; w; w = w->hnext) {
			while ((cq = w->deferred) != NULL) {
				w->deferred = cq->next;
				cq->next = list;
				list = cq;
			}
		}
	}
	for (cq = list; cq; cq = next) {
		next = cq->next;
		query_finish(cq, NULL);
	}
	for (struct cnode *n = cl->nodes; n; n = n->next) {
		redisAsyncContext *ac = n->cmd;

		n->cmd = NULL;
		if (ac)
			redisAsyncFree(ac); /* reads in flight fail through on_read */
		ntf_shard_close(n->sh);
		n->sh = NULL;
	}
	health_update(cl);
	uv_close((uv_handle_t *)&cl->timer, on_timer_closed);
}
