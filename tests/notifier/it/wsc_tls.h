/*
 * wsc_tls: TLS for wsclient (tests only), with OpenSSL: plugged in as a
 * wsc_options.secure hook, it runs the handshake on the connected socket
 * (certificate checked against a CA file and the IP or name connected
 * to, ALPN offered) and sets the wsc's io to SSL_read/SSL_write. The SSL
 * objects belong to the wsc and go with wsc_close()/wsc_abort().
 */
#ifndef WSC_TLS_H
#define WSC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "wsclient.h"

struct wsc_tls {
	const char *ca_file;   /* PEM the server's certificate must chain to */
	const char *verify_ip; /* "127.0.0.1": the certificate must name it */
	const char *alpn;      /* comma list offered, e.g. "h2,http/1.1"; NULL = none */
	char alpn_got[32];     /* out: what the server chose, "" when nothing */
	char error[160];       /* out: why the handshake failed */
};

/* wsc_options.secure with secure_data a struct wsc_tls. 0 or -1 (tls->error set). */
int wsc_tls_secure(struct wsc *c, void *tls);

/*
 * Connects to host:port over TLS, sends one HTTP/1.1 GET for path and
 * reads the answer to EOF (Connection: close). Returns the status (0 on
 * failure); *body, when not NULL, gets the malloc'd body (caller frees).
 */
int wsc_tls_get(struct wsc_tls *tls, const char *host, int port, const char *path, char **body);

#endif
