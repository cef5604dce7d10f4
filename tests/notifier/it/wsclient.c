/*
 * wsclient: see wsclient.h. Test code: blocking sockets, poll() for the
 * deadlines, and no attempt at speed beyond not copying needlessly.
 */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int wsc_upgrade_request(char *out, size_t size, const char *host, int port, const char *path,
			const char *origin)
{
	/* The key only has to be 16 bytes in base64; the server's answer is not checked. */
	int n = snprintf(out, size,
			 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
			 path, host, port, origin ? "Origin: " : "", origin ? origin : "",
			 origin ? "\r\n" : "");

	return n < 0 || (size_t)n >= size ? -1 : n;
}

size_t wsc_build_frame(uint8_t *out, int opcode, bool fin, const void *payload, size_t len)
{
	static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	const uint8_t *p = payload;
	size_t o = 0;

	out[o++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[o++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		out[o++] = 0x80 | 126;
		out[o++] = (uint8_t)(len >> 8);
		out[o++] = (uint8_t)len;
	} else {
		out[o++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[o++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(out + o, mask, 4);
	o += 4;
	for (size_t i = 0; i < len; i++)
		out[o + i] = p[i] ^ mask[i & 3];
	return o + len;
}

int wsc_parse_frame(const uint8_t *buf, size_t len, struct wsc_frame *f)
{
	size_t o = 2;
	uint64_t plen;

	if (len < 2)
		return 0;
	if (buf[1] & 0x80)
		return -1; /* servers never mask */
	plen = buf[1] & 0x7f;
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = ((uint64_t)buf[2] << 8) | buf[3];
		o = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = (plen << 8) | buf[2 + i];
		o = 10;
	}
	if (len - o < plen)
		return 0;
	f->fin = buf[0] & 0x80;
	f->opcode = buf[0] & 0x0f;
	f->payload = buf + o;
	f->len = (size_t)plen;
	f->frame_len = o + (size_t)plen;
	return 1;
}

static int write_all(struct wsc *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = c->io.send ? c->io.send(c->io.data, p, len)
				       : send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads more bytes into c->buf before the deadline. 1 read, WSC_TIMEOUT, WSC_EOF. */
static int fill(struct wsc *c, long long deadline)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	long long left = deadline - now_ms();
	ssize_t n;

	if (c->consumed) {
		memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
		c->len -= c->consumed;
		c->consumed = 0;
	}
	if (c->cap - c->len < 65536) {
		size_t ncap = c->cap ? c->cap * 2 : 131072;
		uint8_t *nb = realloc(c->buf, ncap);
		if (!nb)
			return WSC_EOF;
		c->buf = nb;
		c->cap = ncap;
	}
	if (left < 0)
		left = 0;
	if (!(c->io.pending && c->io.pending(c->io.data)) && poll(&pfd, 1, (int)left) <= 0)
		return WSC_TIMEOUT;
	n = c->io.recv ? c->io.recv(c->io.data, c->buf + c->len, c->cap - c->len)
		       : recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n <= 0)
		return WSC_EOF;
	c->len += (size_t)n;
	return 1;
}

int wsc_connect(struct wsc *c, const struct wsc_options *opt)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt->port)};
	long long deadline = now_ms() + (opt->timeout_ms ? opt->timeout_ms : 5000);
	char req[16384];
	int n, one = 1;
	char *end;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt->rcvbuf)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &opt->rcvbuf, sizeof(opt->rcvbuf));
	if (opt->bind_addr) {
		struct sockaddr_in local = {.sin_family = AF_INET};
		inet_pton(AF_INET, opt->bind_addr, &local.sin_addr);
		if (bind(c->fd, (struct sockaddr *)&local, sizeof(local)) < 0)
			goto fail;
	}
	inet_pton(AF_INET, opt->host, &sa.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (opt->secure && opt->secure(c, opt->secure_data) < 0)
		goto fail;
	n = wsc_upgrade_request(req, sizeof(req), opt->host, opt->port, opt->path, opt->origin);
	if (n < 0 || write_all(c, req, (size_t)n) < 0)
		goto fail;
	/* The answer's head ends at the first blank line; frames may follow at once. */
	for (;;) {
		if (c->len >= 4 && (end = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL)
			break;
		if (fill(c, deadline) != 1)
			goto fail;
	}
	if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 ", 9) != 0)
		goto fail;
	c->http_status = atoi((const char *)c->buf + 9);
	c->consumed = (size_t)(end + 4 - (char *)c->buf);
	if (c->http_status != 101)
		goto fail;
	return 0;
fail:
	wsc_abort(c);
	return -1;
}

int wsc_send_frame(struct wsc *c, int opcode, bool fin, const void *payload, size_t len)
{
	uint8_t *out = malloc(len + 14);
	int rc;

	if (!out)
		return -1;
	rc = write_all(c, out, wsc_build_frame(out, opcode, fin, payload, len));
	free(out);
	return rc;
}

int wsc_send_text(struct wsc *c, const char *text)
{
	return wsc_send_frame(c, WSC_OP_TEXT, true, text, strlen(text));
}

int wsc_recv(struct wsc *c, int timeout_ms, struct wsc_frame *f)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		int rc = wsc_parse_frame(c->buf + c->consumed, c->len - c->consumed, f);

		if (rc < 0)
			return WSC_EOF;
		if (rc == 1) {
			c->consumed += f->frame_len;
			if (f->opcode == WSC_OP_PING) {
				if (!c->no_auto_pong)
					wsc_send_frame(c, WSC_OP_PONG, true, f->payload, f->len);
				continue;
			}
			if (f->opcode == WSC_OP_PONG)
				continue;
			if (f->opcode == WSC_OP_CLOSE)
				c->close_code = f->len >= 2 ? (f->payload[0] << 8) | f->payload[1] : 1005;
			return f->opcode;
		}
		rc = fill(c, deadline);
		if (rc != 1)
			return rc;
	}
}

char *wsc_recv_text(struct wsc *c, int timeout_ms)
{
	struct wsc_frame f;
	char *s;

	if (wsc_recv(c, timeout_ms, &f) != WSC_OP_TEXT)
		return NULL;
	s = malloc(f.len + 1);
	if (!s)
		return NULL;
	memcpy(s, f.payload, f.len);
	s[f.len] = '\0';
	return s;
}

char *wsc_recv_until(struct wsc *c, int timeout_ms, const char *needle, int *skipped)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		long long left = deadline - now_ms();
		char *s;

		if (left <= 0)
			return NULL;
		s = wsc_recv_text(c, (int)left);
		if (!s)
			return NULL;
		if (strstr(s, needle))
			return s;
		free(s);
		if (skipped)
			(*skipped)++;
	}
}

void wsc_close(struct wsc *c, int code)
{
	uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};

	if (c->fd >= 0)
		wsc_send_frame(c, WSC_OP_CLOSE, true, payload, 2);
	wsc_abort(c);
}

void wsc_abort(struct wsc *c)
{
	if (c->io.free)
		c->io.free(c->io.data);
	c->io = (struct wsc_io){0};
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}
