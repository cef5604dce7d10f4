/*
 * ntf_ws: see ntf_ws.h. All callbacks run on the loop thread.
 */
#include "ntf_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tnd_error.h"
#include "tnd_limits.h"
#include "tnd_list.h"
#include "tnd_log.h"
#include "tnd_num.h"

_Static_assert(LWS_PRE <= NTF_MSG_PRE, "ntf_msg headroom must hold the lws frame header");

#define METRICS_MAX 16384

struct ntf_pss {
	struct ntf_conn *conn;
	char *rx;        /* a message arriving in pieces; NULL between messages */
	size_t rx_len;
	unsigned char *http_body; /* LWS_PRE headroom + body, for one HTTP answer */
	size_t http_len;
};

int ntf_ws_parse_listen(const char *listen, struct ntf_ws_config *cfg, char *err, size_t errlen)
{
	const char *colon = strrchr(listen, ':'), *host = listen;
	size_t host_len;
	long long port;

	if (!colon || tnd_num_parse_str(colon + 1, 1, 65535, &port) < 0) {
		snprintf(err, errlen, "use host:port with a port in 1..65535");
		return -1;
	}
	host_len = (size_t)(colon - listen);
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	}
	if (host_len >= sizeof(cfg->host)) {
		snprintf(err, errlen, "host too long");
		return -1;
	}
	memcpy(cfg->host, host, host_len);
	cfg->host[host_len] = '\0';
	if (!strcmp(cfg->host, "*") || !strcmp(cfg->host, "0.0.0.0"))
		cfg->host[0] = '\0';
	cfg->port = (int)port;
	return 0;
}

bool ntf_ws_origin_allowed(const char *list, const char *origin, size_t len)
{
	return tnd_list_contains(list, origin, len);
}

/* The reason of OpenSSL's last error, or fallback. */
static const char *ssl_reason(const char *fallback)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r ? r : fallback;
}

int ntf_ws_check_tls(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int rc = -1;

	ERR_clear_error();
	if (!ctx) {
		snprintf(err, errlen, "TANDEM_WS_TLS_CERT: cannot set up OpenSSL");
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		snprintf(err, errlen, "TANDEM_WS_TLS_CERT: no PEM certificate in %s (%s)", cert,
			 ssl_reason("unreadable"));
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 &&
		 ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
		snprintf(err, errlen, "TANDEM_WS_TLS_KEY: no PEM private key in %s (%s)", key,
			 ssl_reason("unreadable"));
	else if (SSL_CTX_check_private_key(ctx) != 1)
		snprintf(err, errlen, "TANDEM_WS_TLS_KEY: %s does not match the certificate in %s",
			 key, cert);
	else
		rc = 0;
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* --- HTTP: /healthz, /metrics -------------------------------------------- */

static int http_answer(struct lws *wsi, struct ntf_pss *pss, unsigned status, const char *ctype,
		       const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
					   *end = hdr + sizeof(hdr) - 1;

	pss->http_body = malloc(LWS_PRE + len);
	if (!pss->http_body)
		return -1;
	memcpy(pss->http_body + LWS_PRE, body, len);
	pss->http_len = len;
	if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_request(struct lws *wsi, struct ntf_ws *ws, struct ntf_pss *pss, const char *uri)
{
	char body[256];
	char *metrics;
	int n, rc;

	if (!strcmp(uri, "/healthz")) {
		/* Draining counts as down: a balancer should stop sending upgrades here. */
		bool up = ntf_hub_link_is_up(ws->hub) && !ntf_hub_is_shutting_down(ws->hub);
		n = snprintf(body, sizeof(body), up ? "{\"status\":\"ok\"}\n"
						   : "{\"status\":\"unavailable\",\"redis\":\"down\"}\n");
		return http_answer(wsi, pss, up ? 200 : 503, "application/json", body, (size_t)n);
	}
	if (!strcmp(uri, "/metrics")) {
		metrics = malloc(METRICS_MAX);
		if (!metrics)
			return -1;
		n = ntf_metrics_render(ntf_hub_metrics(ws->hub), metrics, METRICS_MAX);
		rc = n < 0 ? -1
			   : http_answer(wsi, pss, 200, "text/plain; version=0.0.4", metrics,
					 (size_t)n);
		free(metrics);
		return rc;
	}
	n = tnd_err_body(body, sizeof(body), TND_ERR_NOT_FOUND,
			 !strcmp(uri, NTF_WS_PATH) ? "/ws needs a WebSocket upgrade" : NULL, -1);
	return http_answer(wsi, pss, n < 0 ? 500 : 404, "application/json", body,
			   n < 0 ? 0 : (size_t)n);
}

static int http_writeable(struct lws *wsi, struct ntf_pss *pss)
{
	int n;

	if (!pss->http_body)
		return 0;
	n = lws_write(wsi, pss->http_body + LWS_PRE, pss->http_len, LWS_WRITE_HTTP_FINAL);
	free(pss->http_body);
	pss->http_body = NULL;
	if (n < (int)pss->http_len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* --- upgrade -------------------------------------------------------------- */

/*
 * The upgrade's access_token (SPEC 6) into buf; its length, 0 when there
 * is none, or -1 when it is longer than TND_TOKEN_MAX.
 */
static int access_token(struct lws *wsi, char *buf, int size)
{
	/* lws copies the whole "access_token=..." into buf and points past the name. */
	const char *v = lws_get_urlarg_by_name(wsi, "access_token=", buf, size);
	int n;

	if (!v)
		return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) >= size ? -1 : 0;
	n = (int)strlen(v);
	memmove(buf, v, (size_t)n + 1);
	return n;
}

/* Returns 0 to allow, or 1 after answering with an error status. */
static int confirm_upgrade(struct lws *wsi, struct ntf_ws *ws)
{
	char uri[64], origin[512];
	int ulen, olen;
	unsigned status = 0;

	ulen = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
	olen = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
	if (ulen <= 0 || strcmp(uri, NTF_WS_PATH) != 0) {
		status = HTTP_STATUS_NOT_FOUND;
	} else if (ws->cfg.allowed_origins && olen > 0) {
		/* No Origin header: not a browser, which is what the check protects. */
		if (olen >= (int)sizeof(origin) ||
		    lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) != olen ||
		    !ntf_ws_origin_allowed(ws->cfg.allowed_origins, origin, (size_t)olen)) {
			status = HTTP_STATUS_FORBIDDEN;
			tnd_log_info("refusing a WebSocket from origin \"%.*s\"", olen < 200 ? olen : 200,
				     olen < (int)sizeof(origin) ? origin : "(too long)");
		}
	}
	if (!status && (ntf_hub_is_shutting_down(ws->hub) ||
			(long long)ntf_hub_metrics(ws->hub)->connections >= ws->cfg.max_connections))
		status = HTTP_STATUS_SERVICE_UNAVAILABLE;
	if (!status && ntf_hub_auth_on(ws->hub)) {
		/* A bad access_token refuses the upgrade; none at all leaves the auth op to the client. */
		char token[TND_TOKEN_MAX + 1], why[192];
		int n = access_token(wsi, token, sizeof(token));

		if (n < 0 || (n > 0 && ntf_hub_check_token(ws->hub, token, (size_t)n, why,
							   sizeof(why)) < 0)) {
			tnd_log_info("refusing a WebSocket: access_token %s",
				     n < 0 ? "too long" : why);
			status = HTTP_STATUS_UNAUTHORIZED;
		}
	}
	if (!status)
		return 0;
	ntf_hub_metrics(ws->hub)->connections_rejected++;
	lws_return_http_status(wsi, status, NULL);
	return 1;
}

/* --- WebSocket ------------------------------------------------------------ */

/*
 * Ends a WebSocket with code. From RECEIVE, lws sends the close frame set
 * by lws_close_reason() itself. From WRITEABLE (lws 4.1 drops the socket
 * without it there) the frame is written here first; returning -1 then
 * shuts the socket down behind it, so the peer reads the code, then EOF.
 */
static int close_with(struct lws *wsi, uint16_t code, bool write_frame)
{
	unsigned char frame[LWS_PRE + 4 + 32];
	const char *why;
	size_t len;

	switch (code) {
	case NTF_CLOSE_GOING_AWAY: why = "server shutting down"; break;
	case NTF_CLOSE_TOO_BIG: why = "message too big"; break;
	case NTF_CLOSE_INVALID_PAYLOAD: why = "text message not UTF-8"; break;
	case NTF_CLOSE_SLOW_CONSUMER: why = "slow consumer"; break;
	case NTF_CLOSE_POLICY: why = "policy violation"; break;
	case NTF_CLOSE_TOKEN_EXPIRED: why = "token expired"; break;
	default: why = "internal error"; break;
	}
	len = strlen(why);
	if (!write_frame) {
		lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)why, len);
		return -1;
	}
	/* A whole close frame (FIN, opcode 8, unmasked), written raw. */
	frame[LWS_PRE] = 0x88;
	frame[LWS_PRE + 1] = (unsigned char)(2 + len);
	frame[LWS_PRE + 2] = (unsigned char)(code >> 8);
	frame[LWS_PRE + 3] = (unsigned char)code;
	memcpy(frame + LWS_PRE + 4, why, len);
	lws_write(wsi, frame + LWS_PRE, 4 + len, LWS_WRITE_RAW);
	return -1;
}

/*
 * Reassembles a client message and hands the whole of it to the hub,
 * which checks its size (1009), its UTF-8 (1007) and its JSON.
 *
 * UTF-8: lws can check text frames itself (LWS_SERVER_OPTION_VALIDATE_UTF8,
 * an incremental DFA that fails the frame early; tried against the 1007
 * integration test, it sends a proper 1007 close too). We do not turn it
 * on: the check runs on the complete message with shared/tnd_utf8, the one
 * validator REST bodies go through (same definition, same tests), so
 * REST and WebSocket cannot disagree on what UTF-8 is; it does not depend
 * on lws's per-frame state; and the hub, not lws, decides how a client
 * message ends (its unit tests cover the 1007 with fakes). A message is
 * at most NTF_CLIENT_MSG_MAX bytes, so failing it at its end rather than
 * at the bad byte costs nothing that matters.
 */
static int ws_receive(struct lws *wsi, struct ntf_pss *pss, const char *in, size_t len)
{
	size_t remaining = lws_remaining_packet_payload(wsi);
	bool final = lws_is_final_fragment(wsi);
	int rc;

	if (!pss->conn)
		return -1;
	if (pss->rx_len + len + remaining > NTF_CLIENT_MSG_MAX) {
		tnd_log_info("conn %llu: client message over %d bytes",
			     (unsigned long long)ntf_conn_id(pss->conn), NTF_CLIENT_MSG_MAX);
		return close_with(wsi, NTF_CLOSE_TOO_BIG, false);
	}
	if (final && !pss->rx) {
		rc = ntf_hub_conn_message(pss->conn, in, len); /* the common case: no copy */
		return rc ? close_with(wsi, (uint16_t)rc, false) : 0;
	}
	if (!pss->rx) {
		pss->rx = malloc(NTF_CLIENT_MSG_MAX);
		if (!pss->rx)
			return close_with(wsi, NTF_CLOSE_INTERNAL, false);
	}
	memcpy(pss->rx + pss->rx_len, in, len);
	pss->rx_len += len;
	if (!final)
		return 0;
	rc = ntf_hub_conn_message(pss->conn, pss->rx, pss->rx_len);
	free(pss->rx);
	pss->rx = NULL;
	pss->rx_len = 0;
	return rc ? close_with(wsi, (uint16_t)rc, false) : 0;
}

/* Writes a server frame header (FIN, text, unmasked) for len bytes; returns its size. */
static size_t frame_header(unsigned char *p, size_t len)
{
	p[0] = 0x81;
	if (len < 126) {
		p[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		p[1] = 126;
		p[2] = (unsigned char)(len >> 8);
		p[3] = (unsigned char)len;
		return 4;
	}
	p[1] = 127;
	for (int i = 0; i < 8; i++)
		p[2 + i] = (unsigned char)((uint64_t)len >> (8 * (7 - i)));
	return 10;
}

/*
 * One lws_write per callback, as lws wants; but when several small
 * messages wait, they go out framed back to back in that one write (raw),
 * which saves a poll round and a syscall per message under fan-out.
 */
static int ws_writeable(struct lws *wsi, struct ntf_ws *ws, struct ntf_pss *pss)
{
	struct ntf_conn *conn = pss->conn;
	unsigned char *out = ws->batch + LWS_PRE;
	struct ntf_msg *m;
	size_t o = 0;
	bool more;

	if (!conn)
		return -1;
	if (ntf_conn_close_code(conn))
		return close_with(wsi, ntf_conn_close_code(conn), true);
	m = ntf_hub_conn_next(conn);
	if (!m)
		return 0;
	if (ntf_conn_queued(conn) == 1 || m->len + 10 > NTF_WRITE_BATCH) {
		if (lws_write(wsi, (unsigned char *)ntf_msg_payload(m), m->len, LWS_WRITE_TEXT) <
		    (int)m->len)
			return -1;
		more = ntf_hub_conn_sent(conn);
	} else {
		do {
			o += frame_header(out + o, m->len);
			memcpy(out + o, ntf_msg_payload(m), m->len);
			o += m->len;
			more = ntf_hub_conn_sent(conn);
		} while (more && (m = ntf_hub_conn_next(conn)) != NULL &&
			 o + 10 + m->len <= NTF_WRITE_BATCH);
		if (lws_write(wsi, out, o, LWS_WRITE_RAW) < (int)o)
			return -1;
	}
	if (more)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct ntf_pss *pss = user;
	struct ntf_ws *ws = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_request(wsi, ws, pss, in ? (const char *)in : "") ? -1 : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_writeable(wsi, pss);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss) {
			free(pss->http_body);
			pss->http_body = NULL;
		}
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi, ws);
	case LWS_CALLBACK_ESTABLISHED:
		if (ntf_hub_is_shutting_down(ws->hub))
			return -1;
		pss->conn = ntf_hub_conn_new(ws->hub, wsi);
		if (!pss->conn)
			return -1;
		if (ntf_hub_auth_on(ws->hub)) {
			/* Checked at CONFIRM_UPGRADE: found again in the hub's token cache. */
			char token[TND_TOKEN_MAX + 1];
			int n = access_token(wsi, token, sizeof(token));

			if (n > 0 && ntf_hub_conn_authenticate(pss->conn, token, (size_t)n) < 0)
				return -1;
		}
		return 0;
	case LWS_CALLBACK_TIMER:
		if (pss && pss->conn)
			ntf_hub_conn_timer(pss->conn);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return ws_receive(wsi, pss, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return ws_writeable(wsi, ws, pss);
	case LWS_CALLBACK_CLOSED:
		if (pss->conn)
			ntf_hub_conn_free(pss->conn);
		pss->conn = NULL;
		free(pss->rx);
		pss->rx = NULL;
		return 0;
	default:
		return 0;
	}
}

void ntf_ws_wake(void *data, void *handle, bool closing)
{
	struct ntf_ws *ws = data;
	struct lws *wsi = handle;

	if (closing)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, NTF_CLOSE_GRACE_S);
	else if (ws->collecting && ws->n_flush < ws->cap_flush) {
		/* the hub wakes a connection once until it has been written */
		ws->flush[ws->n_flush++] = wsi;
		return;
	}
	lws_callback_on_writable(wsi);
}

void ntf_ws_set_timer(void *data, void *handle, long long usecs)
{
	(void)data;
	lws_set_timer_usecs(handle, (lws_usec_t)usecs);
}

/* The hub's clock: its stall timer and lag marks count these ticks. */
static void on_tick(uv_timer_t *t)
{
	struct ntf_ws *ws = t->data;

	ntf_hub_tick(ws->hub);
}

void ntf_ws_begin_fanout(struct ntf_ws *ws)
{
	ws->collecting = ws->flush != NULL;
}

/*
 * lws wants writes from the WRITEABLE callback so that it never has to
 * buffer: we write here only when lws holds nothing buffered for the
 * socket and the socket takes data (lws_send_pipe_choked), which is the
 * condition lws itself waits for. A connection that is closing, or whose
 * write fails, goes the usual way, where the callback closes it.
 */
static void flush_one(struct ntf_ws *ws, struct lws *wsi)
{
	struct ntf_pss *pss = lws_wsi_user(wsi);

	if (!pss || !pss->conn || ntf_conn_close_code(pss->conn) || lws_send_pipe_choked(wsi) ||
	    ws_writeable(wsi, ws, pss) < 0)
		lws_callback_on_writable(wsi);
}

void ntf_ws_flush(struct ntf_ws *ws)
{
	ws->collecting = false;
	for (size_t i = 0; i < ws->n_flush; i++)
		flush_one(ws, ws->flush[i]);
	ws->n_flush = 0;
}

/* lws logs into ours: its errors are our warnings, the rest is detail. */
static void lws_log_emit(int level, const char *line)
{
	size_t len = strlen(line);

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	tnd_log(level == LLL_ERR ? TND_LOG_WARN : TND_LOG_DEBUG, "lws: %.*s", (int)len, line);
}

int ntf_ws_start(struct ntf_ws *ws, uv_loop_t *loop, struct ntf_hub *hub,
		 const struct ntf_ws_config *cfg)
{
	struct lws_context_creation_info info;
	void *loops[1] = {loop};

	memset(ws, 0, sizeof(*ws));
	if (uv_timer_init(loop, &ws->tick) < 0)
		return -1;
	ws->tick.data = ws;
	ws->tick_on = true;
	uv_timer_start(&ws->tick, on_tick, NTF_TICK_MS, NTF_TICK_MS);
	ws->batch = malloc(LWS_PRE + NTF_WRITE_BATCH);
	if (!ws->batch)
		return -1;
	/* Without the flush list fan-out still works, through WRITEABLE only. */
	ws->cap_flush = (size_t)cfg->max_connections;
	ws->flush = calloc(ws->cap_flush, sizeof(*ws->flush));
	if (!ws->flush)
		ws->cap_flush = 0;
	ws->hub = hub;
	ws->cfg = *cfg;
	ws->retry.secs_since_valid_ping = (uint16_t)cfg->ping_interval_s;
	ws->retry.secs_since_valid_hangup = (uint16_t)(cfg->ping_interval_s * 2);
	ws->protocols[0] = (struct lws_protocols){
		.name = "tandem",
		.callback = callback,
		.per_session_data_size = sizeof(struct ntf_pss),
		.rx_buffer_size = NTF_RX_BUFFER,
	};
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	memset(&info, 0, sizeof(info));
	/* An explicit vhost, so that a port we cannot bind fails the start. */
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (cfg->tls_cert) {
		/*
		 * OpenSSL initialised by lws (once, for the context); the vhost
		 * loads the PEM files. ALPN pinned to http/1.1: with lws's
		 * default ("h2,http/1.1") a browser or curl would pick HTTP/2,
		 * where our /ws upgrade (RFC 6455 over HTTP/1.1) does not exist.
		 */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
		info.alpn = "http/1.1";
	}
	if (cfg->host[0] && !strchr(cfg->host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = loops;
	info.port = cfg->port;
	info.iface = cfg->host[0] ? cfg->host : NULL;
	info.protocols = ws->protocols;
	info.user = ws;
	info.pcontext = &ws->ctx;
	info.retry_and_idle_policy = &ws->retry;
	info.max_http_header_pool = 256;
	/* Room for an access_token of several KiB in the upgrade URL (larger ones: the auth op). */
	info.max_http_header_data = 8192;
	info.timeout_secs = 10;
	ws->ctx = lws_create_context(&info);
	if (!ws->ctx || !lws_create_vhost(ws->ctx, &info)) {
		tnd_log_error("cannot listen on %s:%d%s", cfg->host[0] ? cfg->host : "*", cfg->port,
			      cfg->tls_cert ? " with TLS (is the certificate/key pair valid?)" : "");
		return -1;
	}
	return 0;
}

void ntf_ws_stop(struct ntf_ws *ws)
{
	if (ws->tick_on) {
		ws->tick_on = false;
		uv_timer_stop(&ws->tick);
		uv_close((uv_handle_t *)&ws->tick, NULL);
	}
	if (ws->ctx)
		lws_context_destroy(ws->ctx);
}

void ntf_ws_finish(struct ntf_ws *ws)
{
	if (ws->ctx)
		lws_context_destroy(ws->ctx);
	ws->ctx = NULL;
	free(ws->batch);
	ws->batch = NULL;
	free(ws->flush);
	ws->flush = NULL;
	ws->cap_flush = ws->n_flush = 0;
}
