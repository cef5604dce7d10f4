/*
 * wsclient: a minimal blocking WebSocket client for the notifier's tests
 * and the fan-out load client: TCP connect, the HTTP upgrade with a
 * Sec-WebSocket-Key, masked client frames, and frames read with a
 * deadline. Pings are answered while reading (unless no_auto_pong).
 *
 * The frame parser works on a caller's buffer too (wsc_parse_frame), so
 * the non-blocking bench client shares it. One struct wsc per socket;
 * payloads returned by wsc_recv() live until the next call.
 */
#ifndef WSCLIENT_H
#define WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WSC_OP_CONT = 0x0,
	WSC_OP_TEXT = 0x1,
	WSC_OP_BINARY = 0x2,
	WSC_OP_CLOSE = 0x8,
	WSC_OP_PING = 0x9,
	WSC_OP_PONG = 0xA,
};

enum {
	WSC_TIMEOUT = -2, /* nothing complete before the deadline */
	WSC_EOF = -3,     /* the peer closed the TCP connection */
};

struct wsc_frame {
	int opcode;
	bool fin;
	const uint8_t *payload; /* inside the parsed buffer */
	size_t len;
	size_t frame_len;       /* header + payload bytes consumed */
};

/*
 * A byte stream other than the plain socket (TLS: tests/notifier/it/wsc_tls.h).
 * send/recv return bytes moved, 0 at EOF, -1 on error; pending is true
 * when bytes are buffered above the socket (poll would not see them).
 */
struct wsc_io {
	void *data;
	long (*send)(void *data, const void *buf, size_t len);
	long (*recv)(void *data, void *buf, size_t len);
	bool (*pending)(void *data);
	void (*free)(void *data);   /* at close, before the socket is closed */
};

struct wsc {
	int fd;
	struct wsc_io io;           /* io.send NULL: the socket itself */
	uint8_t *buf;           /* bytes read, not consumed yet */
	size_t len, cap, consumed;
	bool no_auto_pong;
	int close_code;         /* from the server's close frame, 0 before, 1005 without a code */
	int http_status;        /* of the upgrade answer */
};

struct wsc_options {
	const char *host;       /* IPv4 address to connect to */
	int port;
	const char *path;       /* "/ws" */
	const char *origin;     /* NULL: no Origin header */
	const char *bind_addr;  /* NULL, or a local IPv4 source address */
	int rcvbuf;             /* 0, or SO_RCVBUF before connect */
	int timeout_ms;
	/*
	 * NULL, or called once TCP is connected, before the upgrade: may set
	 * c->io (a TLS handshake). Returns 0, or -1 to fail the connect.
	 */
	int (*secure)(struct wsc *c, void *data);
	void *secure_data;
};

/*
 * Connects and upgrades. Returns 0 (101 received), or -1 (c->http_status
 * holds the refusal's status, 0 when the connection itself failed).
 */
int wsc_connect(struct wsc *c, const struct wsc_options *opt);
/* Sends one masked frame. Returns 0 or -1. */
int wsc_send_frame(struct wsc *c, int opcode, bool fin, const void *payload, size_t len);
/* Sends one text message (a single frame). */
int wsc_send_text(struct wsc *c, const char *text);
/*
 * Reads the next data or close frame within timeout_ms. Returns its
 * opcode with f filled (payload valid until the next call), WSC_TIMEOUT or
 * WSC_EOF. A close frame sets c->close_code.
 */
int wsc_recv(struct wsc *c, int timeout_ms, struct wsc_frame *f);
/*
 * Reads text frames until one contains needle; returns a malloc'd copy of
 * it (caller frees), or NULL on timeout, close or EOF. Frames skipped are
 * counted in *skipped when not NULL.
 */
char *wsc_recv_until(struct wsc *c, int timeout_ms, const char *needle, int *skipped);
/* Reads the next text message as a malloc'd NUL-terminated string, or NULL. */
char *wsc_recv_text(struct wsc *c, int timeout_ms);
/* Sends a close frame (code) and closes the socket. */
void wsc_close(struct wsc *c, int code);
/* Closes the socket without a close frame (an abrupt client). */
void wsc_abort(struct wsc *c);

/*
 * Parses one server (unmasked) frame at buf[0..len). Returns 1 with f
 * filled, 0 when more bytes are needed, -1 when malformed.
 */
int wsc_parse_frame(const uint8_t *buf, size_t len, struct wsc_frame *f);
/* Writes an upgrade request for path into out; returns its length or -1. */
int wsc_upgrade_request(char *out, size_t size, const char *host, int port, const char *path,
			const char *origin);
/* Masks and frames payload into out (14 + len bytes at most); returns the length. */
size_t wsc_build_frame(uint8_t *out, int opcode, bool fin, const void *payload, size_t len);

#endif
