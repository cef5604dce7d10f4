/*
 * ntf_ws: the libwebsockets side of the notifier, on the daemon's libuv
 * loop (LWS_SERVER_OPTION_LIBUV with a foreign loop). One protocol serves
 * both the HTTP endpoints (/healthz, /metrics) and the WebSocket (/ws):
 *
 *  - upgrade: path /ws only, Origin checked against TANDEM_ALLOWED_ORIGINS
 *    (403), TANDEM_MAX_CONNECTIONS (503), then a hub connection per socket;
 *  - receive: messages of up to NTF_CLIENT_MSG_MAX bytes reassembled (only
 *    a message split over several reads is copied), 1009 beyond, 1007
 *    for a text message that is not UTF-8;
 *  - write: only from the WRITEABLE callback, one lws_write each (several
 *    queued frames coalesced into it), asking for another callback while
 *    the connection's queue is not empty;
 *  - close: the hub marks a connection and wakes it; the WRITEABLE callback
 *    sends the close code. A peer that never lets us write is cut after
 *    NTF_CLOSE_GRACE_S by an lws timeout;
 *  - keepalive: lws pings after TANDEM_PING_INTERVAL idle seconds and hangs
 *    up when no pong comes within the same interval again;
 *  - the hub's clock: a timer calls ntf_hub_tick() every NTF_TICK_MS (the
 *    stall timer, TANDEM_WS_STALL_SECONDS, and the lag marks count ticks);
 *  - TLS (TANDEM_WS_TLS_CERT/KEY): the one vhost serves wss:// and https://
 *    for all three paths with lws's OpenSSL; ALPN offers http/1.1 only, so
 *    no client gets HTTP/2 (Debian's lws has it built in), where a
 *    WebSocket upgrade does not exist. A plain-text client on the TLS port
 *    fails the handshake and is closed; nothing is redirected.
 *
 * The per-session struct holds only a pointer to the hub's connection, so
 * an idle connection costs lws's own state plus a few hundred bytes.
 */
#ifndef NTF_WS_H
#define NTF_WS_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>
#include <uv.h>

#include "ntf_hub.h"

#define NTF_RX_BUFFER 512       /* lws receive buffer per connection */
#define NTF_CLOSE_GRACE_S 5     /* a closing peer that does not read is dropped after this */
#define NTF_WS_PATH "/ws"
#define NTF_WRITE_BATCH 65536   /* bytes of queued frames coalesced into one write */

struct ntf_ws_config {
	char host[64];              /* bind address; "" = every interface */
	int port;
	const char *allowed_origins;/* comma list, NULL = any origin */
	long long max_connections;
	unsigned ping_interval_s;
	const char *tls_cert;       /* PEM paths, both or neither; NULL = plain ws:// */
	const char *tls_key;
};

struct ntf_ws {
	struct lws_context *ctx;
	struct ntf_hub *hub;
	struct ntf_ws_config cfg;
	lws_retry_bo_t retry;
	struct lws_protocols protocols[2];
	unsigned char *batch;       /* LWS_PRE + NTF_WRITE_BATCH: frames being coalesced */
	/* Connections woken while the hub fans out, written right after it. */
	struct lws **flush;
	size_t n_flush, cap_flush;
	bool collecting;
	uv_timer_t tick;            /* ntf_hub_tick(), closed by ntf_ws_stop() */
	bool tick_on;
};

/*
 * Parses "host:port" or "[v6]:port" into cfg->host and cfg->port.
 * Returns 0, or -1 with a reason in err.
 */
int ntf_ws_parse_listen(const char *listen, struct ntf_ws_config *cfg, char *err, size_t errlen);

/*
 * Loads the PEM certificate chain and private key the way the vhost will
 * and checks that they match, so that a bad pair stops the start with one
 * line ("TANDEM_WS_TLS_CERT: reason") rather than lws's log. Returns 0,
 * or -1 with err.
 */
int ntf_ws_check_tls(const char *cert, const char *key, char *err, size_t errlen);

/*
 * Listens on the loop (with TLS when cfg->tls_cert is set: a certificate
 * or key lws cannot load fails here). Returns 0, or -1 (logged here).
 */
int ntf_ws_start(struct ntf_ws *ws, uv_loop_t *loop, struct ntf_hub *hub,
		 const struct ntf_ws_config *cfg);
/* Starts destroying the lws context; run the loop afterwards, then ntf_ws_finish(). */
void ntf_ws_stop(struct ntf_ws *ws);

/*
 * Around a fan-out (ntf_hub_pump): between begin and flush, woken
 * connections are only noted; flush then writes each at once when its
 * socket takes data (no WRITEABLE round: that round costs two epoll_ctl
 * and a loop turn per delivery), else asks lws for the writeable callback
 * as usual. The hub is not iterating anything during the flush.
 */
void ntf_ws_begin_fanout(struct ntf_ws *ws);
void ntf_ws_flush(struct ntf_ws *ws);
/* After the loop ended: completes what ntf_ws_stop() began. */
void ntf_ws_finish(struct ntf_ws *ws);

/* ntf_hub_ops.wake: data is the struct ntf_ws, handle the wsi. */
void ntf_ws_wake(void *data, void *handle, bool closing);

/* ntf_hub_ops.set_timer: the wsi's lws timer (LWS_CALLBACK_TIMER), replaced on each call. */
void ntf_ws_set_timer(void *data, void *handle, long long usecs);

/* True when origin[0..len) is in the comma list (spaces around items ignored). */
bool ntf_ws_origin_allowed(const char *list, const char *origin, size_t len);

#endif
