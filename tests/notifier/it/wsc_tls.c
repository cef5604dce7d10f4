/*
 * wsc_tls: see wsc_tls.h. Blocking sockets, like wsclient: SSL_read and
 * SSL_write on a blocking fd never ask to be retried (with
 * SSL_MODE_AUTO_RETRY, OpenSSL 3's default).
 */
#include "wsc_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls_io {
	SSL_CTX *ctx;
	SSL *ssl;
};

static long io_send(void *data, const void *buf, size_t len)
{
	struct tls_io *t = data;
	size_t n = 0;

	return SSL_write_ex(t->ssl, buf, len, &n) == 1 ? (long)n : -1;
}

static long io_recv(void *data, void *buf, size_t len)
{
	struct tls_io *t = data;
	size_t n = 0;

	if (SSL_read_ex(t->ssl, buf, len, &n) == 1)
		return (long)n;
	return SSL_get_error(t->ssl, 0) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static bool io_pending(void *data)
{
	return SSL_pending(((struct tls_io *)data)->ssl) > 0;
}

static void io_free(void *data)
{
	struct tls_io *t = data;

	if (t->ssl)
		SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	free(t);
}

/* "h2,http/1.1" into ALPN's wire form (length-prefixed). Returns its length or -1. */
static int alpn_wire(const char *list, unsigned char *out, size_t size)
{
	size_t o = 0;

	while (*list) {
		size_t n = strcspn(list, ",");

		if (n == 0 || n > 255 || o + 1 + n > size)
			return -1;
		out[o++] = (unsigned char)n;
		memcpy(out + o, list, n);
		o += n;
		list += n + (list[n] == ',');
	}
	return (int)o;
}

int wsc_tls_secure(struct wsc *c, void *data)
{
	struct wsc_tls *tls = data;
	struct tls_io *t = calloc(1, sizeof(*t));
	const unsigned char *got = NULL;
	unsigned char wire[128];
	unsigned got_len = 0;
	int n;

	tls->alpn_got[0] = tls->error[0] = '\0';
	if (!t || !(t->ctx = SSL_CTX_new(TLS_client_method())))
		goto fail;
	if (tls->ca_file) {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
		if (SSL_CTX_load_verify_locations(t->ctx, tls->ca_file, NULL) != 1)
			goto fail;
	}
	if (!(t->ssl = SSL_new(t->ctx)) || SSL_set_fd(t->ssl, c->fd) != 1)
		goto fail;
	if (tls->verify_ip &&
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), tls->verify_ip) != 1)
		goto fail;
	if (tls->alpn) {
		n = alpn_wire(tls->alpn, wire, sizeof(wire));
		/* SSL_set_alpn_protos is the odd one out: 0 on success. */
		if (n < 0 || SSL_set_alpn_protos(t->ssl, wire, (unsigned)n) != 0)
			goto fail;
	}
	if (SSL_connect(t->ssl) != 1)
		goto fail;
	SSL_get0_alpn_selected(t->ssl, &got, &got_len);
	/* No protocol selected: got is NULL and got_len 0 (memcpy must not see the NULL). */
	if (got && got_len < sizeof(tls->alpn_got)) {
		memcpy(tls->alpn_got, got, got_len);
		tls->alpn_got[got_len] = '\0';
	}
	c->io = (struct wsc_io){.data = t, .send = io_send, .recv = io_recv,
				.pending = io_pending, .free = io_free};
	return 0;
fail:
	snprintf(tls->error, sizeof(tls->error), "%s",
		 ERR_peek_last_error() ? ERR_reason_error_string(ERR_peek_last_error())
				       : "TLS handshake failed");
	ERR_clear_error();
	if (t)
		io_free(t);
	return -1;
}

int wsc_tls_get(struct wsc_tls *tls, const char *host, int port, const char *path, char **body)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct wsc c = {.fd = -1};
	char req[512], *buf = NULL, *p;
	size_t len = 0, cap = 0;
	int status = 0, n;
	long got;

	if (body)
		*body = NULL;
	c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    wsc_tls_secure(&c, tls) < 0)
		goto out;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
		     path, host, port);
	if (n < 0 || (size_t)n >= sizeof(req) || c.io.send(c.io.data, req, (size_t)n) != n)
		goto out;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb)
				goto out;
			buf = nb;
			cap += 65536;
		}
		got = c.io.recv(c.io.data, buf + len, cap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	if (!buf)
		goto out;
	buf[len] = '\0';
	if (len > 12 && !memcmp(buf, "HTTP/1.1 ", 9))
		status = atoi(buf + 9);
	if (body && (p = strstr(buf, "\r\n\r\n")) != NULL)
		*body = strdup(p + 4);
out:
	free(buf);
	wsc_abort(&c);
	return status;
}
