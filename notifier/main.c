/*
 * tandem-notifier: the WebSocket daemon of Tandem. It hears every change
 * event from Redis and pushes it to the browsers subscribed to it.
 *
 * main() reads the configuration, then owns one libuv loop on the one
 * thread; libwebsockets (ntf_ws) and hiredis (ntf_redis, or ntf_cluster
 * when TANDEM_REDIS_URL is redis-cluster://) both run on it,
 * and the hub (ntf_hub) between them does no I/O of its own. Loop
 * handles owned here: the pump (an idle handle that fans out queued
 * events a budget per turn), the signal watchers and the shutdown timer.
 *
 * SIGTERM/SIGINT: every WebSocket gets a 1001 close; once they are gone
 * (or after SHUTDOWN_GRACE_MS) lws and Redis are torn down, the loop runs
 * until every handle is closed, and the process exits 0. libuv's signal
 * watchers run as loop callbacks, so no code runs in a signal handler.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "ntf_cluster.h"
#include "ntf_hub.h"
#include "ntf_redis.h"
#include "ntf_ws.h"
#include "tnd_auth.h"
#include "tnd_config.h"
#include "tnd_log.h"
#include "tnd_redis.h"
#include "tnd_valid.h"
#include "tnd_version.h"

#define SHUTDOWN_GRACE_MS 3000
#define SHUTDOWN_POLL_MS 20

struct notifier_config {
	struct tnd_common_config common;
	const char *ws_listen;
	long long max_subscriptions;
	long long max_connections;
	long long ping_interval;
	long long queue_bytes;
	long long queue_messages;
	long long stall_seconds;
	const char *tls_cert;
	const char *tls_key;
};

/* Options' check: the file must be readable now (the notifier reads it once, at start). */
static int check_readable(const char *value, char *why, size_t whylen)
{
	if (access(value, R_OK) == 0)
		return 0;
	snprintf(why, whylen, "cannot read %s: %s", value, strerror(errno));
	return -1;
}

#define OPT(f) offsetof(struct notifier_config, f)
static const struct tnd_option options[] = {
	TND_COMMON_OPTIONS(struct notifier_config, common),
	{"ws-listen", "TANDEM_WS_LISTEN", TND_OPT_STRING, "127.0.0.1:8081", 3, 80, OPT(ws_listen),
	 "host:port for /ws, /healthz and /metrics", NULL},
	{"max-subscriptions", "TANDEM_MAX_SUBSCRIPTIONS", TND_OPT_INT, "100", 1, 100000,
	 OPT(max_subscriptions), "subscriptions per connection (too_many_subscriptions beyond)", NULL},
	{"max-connections", "TANDEM_MAX_CONNECTIONS", TND_OPT_INT, "10000", 1, 1000000,
	 OPT(max_connections), "open WebSockets at most (503 to further upgrades)", NULL},
	{"ping-interval", "TANDEM_PING_INTERVAL", TND_OPT_INT, "30", 1, 3600, OPT(ping_interval),
	 "seconds of silence before a ping; no pong within as long again closes", NULL},
	{"ws-queue-bytes", "TANDEM_WS_QUEUE_BYTES", TND_OPT_INT, "4194304", 4096, 1LL << 30,
	 OPT(queue_bytes), "outbound bytes queued per connection before it is closed with 4008", NULL},
	{"ws-queue-messages", "TANDEM_WS_QUEUE_MESSAGES", TND_OPT_INT, "1024", 8, 1000000,
	 OPT(queue_messages), "outbound messages queued per connection before 4008", NULL},
	{"ws-stall-seconds", "TANDEM_WS_STALL_SECONDS", TND_OPT_INT, "10", 1, 3600, OPT(stall_seconds),
	 "4008 for a socket that takes no bytes this long while frames wait", NULL},
	{"ws-tls-cert", "TANDEM_WS_TLS_CERT", TND_OPT_STRING, NULL, 1, 4096, OPT(tls_cert),
	 "PEM certificate chain: serve wss:// and https:// (with TANDEM_WS_TLS_KEY)", check_readable},
	{"ws-tls-key", "TANDEM_WS_TLS_KEY", TND_OPT_STRING, NULL, 1, 4096, OPT(tls_key),
	 "PEM private key of TANDEM_WS_TLS_CERT", check_readable},
};
#undef OPT
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

struct notifier {
	uv_loop_t loop;
	struct ntf_hub *hub;
	struct ntf_redis redis;
	struct ntf_cluster *cluster;  /* instead of redis on a Redis Cluster */
	struct ntf_ws ws;
	uv_idle_t pump;
	uv_signal_t sig_term, sig_int;
	uv_timer_t shutdown_timer;
	uint64_t shutdown_started;
	bool stopping;
};

/* Validates what the options table cannot. Returns 0, or -1 with err. */
static int check_config(const struct notifier_config *cfg, struct tnd_redis_target *target,
			struct ntf_ws_config *ws_cfg, char *err, size_t errlen)
{
	const struct tnd_common_config *c = &cfg->common;
	char why[200];

	/*
	 * TANDEM_JWT_* are tnd_auth_init()'s (main); Redis credentials are used
	 * on every (re)connect, to every node of a cluster.
	 */
	if (tnd_redis_target_parse(c->redis_url, target, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "TANDEM_REDIS_URL: %s", why);
		return -1;
	}
	if (tnd_redis_set_credentials(&target->addr, c->redis_username, c->redis_password_file, err,
				      errlen) < 0)
		return -1;
	if (ntf_ws_parse_listen(cfg->ws_listen, ws_cfg, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "TANDEM_WS_LISTEN: %s", why);
		return -1;
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		snprintf(err, errlen, "%s: unset while %s is set (TLS needs both, or neither)",
			 cfg->tls_cert ? "TANDEM_WS_TLS_KEY" : "TANDEM_WS_TLS_CERT",
			 cfg->tls_cert ? "TANDEM_WS_TLS_CERT" : "TANDEM_WS_TLS_KEY");
		return -1;
	}
	if (cfg->tls_cert && ntf_ws_check_tls(cfg->tls_cert, cfg->tls_key, err, errlen) < 0)
		return -1;
	ws_cfg->tls_cert = cfg->tls_cert;
	ws_cfg->tls_key = cfg->tls_key;
	ws_cfg->allowed_origins = c->allowed_origins;
	ws_cfg->max_connections = cfg->max_connections;
	ws_cfg->ping_interval_s = (unsigned)cfg->ping_interval;
	return 0;
}

/* --- hub glue ------------------------------------------------------------- */

static void on_pump(uv_idle_t *idle)
{
	struct notifier *n = idle->data;
	bool more;

	ntf_ws_begin_fanout(&n->ws);
	more = ntf_hub_pump(n->hub);
	/* Before the flush: its writes may release a held intake, which restarts the pump. */
	if (!more)
		uv_idle_stop(idle);
	ntf_ws_flush(&n->ws);
}

static void schedule_pump(void *data)
{
	struct notifier *n = data;

	uv_idle_start(&n->pump, on_pump);
}

/* --- shutdown ------------------------------------------------------------- */

static void finish(struct notifier *n)
{
	uv_timer_stop(&n->shutdown_timer);
	ntf_ws_stop(&n->ws);
	if (n->cluster)
		ntf_cluster_close(n->cluster);
	else
		ntf_redis_close(&n->redis);
	n->cluster = NULL;
	uv_idle_stop(&n->pump);
	uv_close((uv_handle_t *)&n->pump, NULL);
	uv_close((uv_handle_t *)&n->sig_term, NULL);
	uv_close((uv_handle_t *)&n->sig_int, NULL);
	uv_close((uv_handle_t *)&n->shutdown_timer, NULL);
}

static void on_shutdown_tick(uv_timer_t *t)
{
	struct notifier *n = t->data;
	uint64_t waited = uv_now(&n->loop) - n->shutdown_started;

	if (ntf_hub_metrics(n->hub)->connections == 0 || waited >= SHUTDOWN_GRACE_MS) {
		if (ntf_hub_metrics(n->hub)->connections)
			tnd_log_warn("%llu connections did not close in time; dropping them",
				     (unsigned long long)ntf_hub_metrics(n->hub)->connections);
		finish(n);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct notifier *n = s->data;

	if (n->stopping)
		return;
	n->stopping = true;
	tnd_log_info("signal %d: closing %llu connections with 1001", signum,
		     (unsigned long long)ntf_hub_metrics(n->hub)->connections);
	ntf_hub_shutdown(n->hub);
	n->shutdown_started = uv_now(&n->loop);
	uv_timer_start(&n->shutdown_timer, on_shutdown_tick, 0, SHUTDOWN_POLL_MS);
}

/* --- main ----------------------------------------------------------------- */

static int setup_loop(struct notifier *n)
{
	if (uv_loop_init(&n->loop) < 0)
		return -1;
	uv_idle_init(&n->loop, &n->pump);
	uv_signal_init(&n->loop, &n->sig_term);
	uv_signal_init(&n->loop, &n->sig_int);
	uv_timer_init(&n->loop, &n->shutdown_timer);
	n->pump.data = n->sig_term.data = n->sig_int.data = n->shutdown_timer.data = n;
	if (uv_signal_start(&n->sig_term, on_signal, SIGTERM) < 0 ||
	    uv_signal_start(&n->sig_int, on_signal, SIGINT) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct notifier_config cfg;
	struct tnd_redis_target target;
	struct ntf_ws_config ws_cfg = {0};
	struct ntf_hub_limits limits;
	struct ntf_hub_ops ops;
	struct tnd_auth auth;
	struct notifier *n;
	char err[400];
	int rc, status = 1;

	rc = tnd_config_load(options, N_OPTIONS, &cfg, argc, argv, err, sizeof(err));
	if (rc == TND_CONFIG_HELP) {
		tnd_config_usage(stdout, "tandem-notifier", options, N_OPTIONS);
		return 0;
	}
	if (rc == TND_CONFIG_VERSION) {
		printf("tandem-notifier %s\n", tnd_version());
		return 0;
	}
	if (rc == TND_CONFIG_MAN) {
		tnd_config_man(stdout, options, N_OPTIONS);
		return 0;
	}
	if (rc == TND_CONFIG_ERROR || check_config(&cfg, &target, &ws_cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandem-notifier: %s\n", err);
		return 2;
	}
	if (tnd_auth_init_common(&auth, &cfg.common, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandem-notifier: %s\n", err);
		return 2;
	}
	if (rc == TND_CONFIG_CHECK) {
		tnd_auth_free(&auth);
		printf("configuration OK\n");
		return 0;
	}
	tnd_log_init("tandem-notifier", (enum tnd_log_level)tnd_log_level_parse(cfg.common.log_level));
	tnd_log_set_format((enum tnd_log_format)tnd_log_format_parse(cfg.common.log_format));
	if (auth.mode == TND_AUTH_OFF)
		tnd_log_warn("AUTH IS OFF: no TANDEM_JWT_SECRET(_FILE) or TANDEM_JWT_PUBLIC_KEY, "
			     "every client may subscribe to every collection");
	else
		tnd_log_info("auth: %s; sockets close with 4001 %d s after their token's exp",
			     tnd_auth_describe(&auth), TND_AUTH_LEEWAY_S);
	signal(SIGPIPE, SIG_IGN);

	n = calloc(1, sizeof(*n));
	if (!n) {
		tnd_log_error("out of memory");
		tnd_auth_free(&auth);
		return 1;
	}
	limits = (struct ntf_hub_limits){
		.max_subs = (uint32_t)cfg.max_subscriptions,
		.queue = {.max_msgs = (uint32_t)cfg.queue_messages, .max_bytes = (size_t)cfg.queue_bytes},
		.stall_ticks = (uint32_t)(cfg.stall_seconds * 1000 / NTF_TICK_MS),
	};
	ops = (struct ntf_hub_ops){
		.ws = {.data = &n->ws, .wake = ntf_ws_wake, .set_timer = ntf_ws_set_timer},
		.redis = {.data = &n->redis, .read_log = ntf_redis_read_log, .pause_input = ntf_redis_pause},
		.loop = {.data = n, .schedule = schedule_pump},
	};
	if (target.cluster) {
		n->cluster = ntf_cluster_new(&target, cfg.common.ns);
		if (!n->cluster) {
			tnd_log_error("out of memory");
			goto out_hub;
		}
		ops.redis.data = n->cluster;
		ops.redis.read_log = ntf_cluster_read_log;
		ops.redis.pause_input = ntf_cluster_pause;
		ops.redis.watch = ntf_cluster_watch;
		ops.redis.is_up = ntf_cluster_is_up;
	}
	if (!(n->hub = ntf_hub_new(&limits, &ops)) || ntf_hub_set_auth(n->hub, &auth) < 0) {
		tnd_log_error("out of memory");
		goto out_hub;
	}
	if (setup_loop(n) < 0) {
		tnd_log_error("cannot set up the event loop");
		goto out_hub;
	}
	if ((n->cluster ? ntf_cluster_start(n->cluster, &n->loop, n->hub)
			: ntf_redis_init(&n->redis, &n->loop, n->hub, &target.addr, cfg.common.ns)) < 0 ||
	    ntf_ws_start(&n->ws, &n->loop, n->hub, &ws_cfg) < 0) {
		n->stopping = true;
		finish(n);
		uv_run(&n->loop, UV_RUN_DEFAULT);
		goto out_loop;
	}
	if (!n->cluster)
		ntf_redis_start(&n->redis);
	/* Never the URL's credentials in a log line: what follows the '@' only. */
	tnd_log_info("version %s, listening on %s (/ws, /healthz, /metrics%s), Redis%s at %s%s%s, "
		     "namespace %s", tnd_version(), cfg.ws_listen, cfg.tls_cert ? "; TLS" : "",
		     target.cluster ? " Cluster" : "",
		     strchr(cfg.common.redis_url, '@') ? "***@" : "",
		     strchr(cfg.common.redis_url, '@') ? strrchr(cfg.common.redis_url, '@') + 1
						       : cfg.common.redis_url,
		     target.addr.has_password ? " (AUTH)" : "", cfg.common.ns);
	uv_run(&n->loop, UV_RUN_DEFAULT);
	tnd_log_info("stopped");
	status = 0;
out_loop:
	ntf_ws_finish(&n->ws);
	/* lws may close its last handles only now: let them finish. */
	uv_run(&n->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&n->loop) != 0)
		tnd_log_warn("event loop closed with handles still open");
out_hub:
	ntf_cluster_close(n->cluster); /* never started: freed at once */
	ntf_hub_free(n->hub);
	free(n);
	tnd_auth_free(&auth);
	return status;
}
