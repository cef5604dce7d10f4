/*
 * tandem-token: prints a signed JWT for local development and tests, with
 * the claims of SPEC section 6:
 *
 *   tandem-token --sub alice --read todos --write todos --own todos --ttl 1h
 *
 * It signs with the same secret the servers verify with
 * (TANDEM_JWT_SECRET or TANDEM_JWT_SECRET_FILE), or with --private-key PEM
 * when the servers hold the matching public key (TANDEM_JWT_PUBLIC_KEY):
 * a public key cannot sign. Production tokens come from an identity
 * provider; this tool is for a laptop and for the demo.
 *
 * DEV ONLY: --serve unix:/path (mode 600) or 127.0.0.1:PORT answers GET
 * /dev/token?sub=NAME with {"token":"..."} signed with the other flags'
 * claims for that sub, one request at a time, on a loopback address only. `make run` starts it when
 * auth is on so the demo board can sign people in by name (README,
 * Security: Tokens for development). Anyone who can reach it gets a token:
 * never put it behind a public nginx.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tnd_auth.h"
#include "tnd_config.h"
#include "tnd_list.h"
#include "tnd_num.h"
#include "tnd_valid.h"
#include "tnd_version.h"

struct token_config {
	const char *sub;
	const char *read;
	const char *write;
	const char *own;
	const char *ttl;
	const char *issuer;
	const char *audience;
	const char *private_key;
	const char *alg;
	const char *jwt_secret;
	const char *jwt_secret_file;
	const char *serve;
};

#define OPT(f) offsetof(struct token_config, f)
static const struct tnd_option options[] = {
	{"sub", "TANDEM_TOKEN_SUB", TND_OPT_STRING, NULL, 1, TND_SUB_MAX, OPT(sub),
	 "the user id (sub); owner of what an own token creates", NULL},
	{"read", "TANDEM_TOKEN_READ", TND_OPT_STRING, NULL, 1, 2048, OPT(read),
	 "collections it may read: a comma list, or *", NULL},
	{"write", "TANDEM_TOKEN_WRITE", TND_OPT_STRING, NULL, 1, 2048, OPT(write),
	 "collections it may write: a comma list, or *", NULL},
	{"own", "TANDEM_TOKEN_OWN", TND_OPT_STRING, NULL, 1, 2048, OPT(own),
	 "collections where it sees only its own documents (needs --sub)", NULL},
	{"ttl", "TANDEM_TOKEN_TTL", TND_OPT_STRING, "1h", 1, 16, OPT(ttl),
	 "lifetime: seconds, or a number with s, m, h or d", NULL},
	{"iss", "TANDEM_JWT_ISSUER", TND_OPT_STRING, NULL, 1, 1024, OPT(issuer), "iss claim", NULL},
	{"aud", "TANDEM_JWT_AUDIENCE", TND_OPT_STRING, NULL, 1, 1024, OPT(audience), "aud claim", NULL},
	{"private-key", "TANDEM_TOKEN_PRIVATE_KEY", TND_OPT_STRING, NULL, 1, 4096, OPT(private_key),
	 "PEM private key file (RSA or EC) instead of the secret", NULL},
	{"alg", "TANDEM_TOKEN_ALG", TND_OPT_STRING, NULL, 1, 8, OPT(alg),
	 "HS256/384/512 with a secret (default HS256), RS256/384/512 with an RSA key (default RS256); "
	 "an EC key signs with its curve's ES alg", NULL},
	{"jwt-secret", "TANDEM_JWT_SECRET", TND_OPT_STRING, NULL, 1, 4096, OPT(jwt_secret),
	 "the servers' HS secret", NULL},
	{"jwt-secret-file", "TANDEM_JWT_SECRET_FILE", TND_OPT_STRING, NULL, 1, 4096, OPT(jwt_secret_file),
	 "file holding the servers' HS secret", NULL},
	{"serve", "TANDEM_TOKEN_SERVE", TND_OPT_STRING, NULL, 1, 64, OPT(serve),
	 "DEV ONLY: serve GET /dev/token?sub=NAME on unix:/path or 127.x.x.x:port with these claims (the demo's sign-in)",
	 NULL},
};
#undef OPT
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static int parse_ttl(const char *s, long long *seconds)
{
	size_t len = strlen(s);
	long long unit = 1, n;
	char last = len ? s[len - 1] : '\0';

	if (last == 's' || last == 'm' || last == 'h' || last == 'd') {
		unit = last == 's' ? 1 : last == 'm' ? 60 : last == 'h' ? 3600 : 86400;
		len--;
	}
	if (tnd_num_parse(s, len, 1, 366LL * 86400 / unit, &n) < 0)
		return -1;
	*seconds = n * unit;
	return 0;
}

struct claim_builder {
	struct json_object *array;
	const char *bad;
};

static bool add_name(const char *item, size_t len, void *data)
{
	struct claim_builder *b = data;

	if (!(len == 1 && item[0] == '*') && !tnd_valid_collection(item, len)) {
		b->bad = item;
		return true;
	}
	json_object_array_add(b->array, json_object_new_string_len(item, (int)len));
	return false;
}

/* Adds claim name = "*" or [names] from a comma list; -1 on a bad name. */
static int add_claim(struct json_object *claims, const char *name, const char *list)
{
	struct claim_builder b = {.array = json_object_new_array()};

	if (!list) {
		json_object_put(b.array);
		return 0;
	}
	if (!strcmp(list, "*")) {
		json_object_put(b.array);
		json_object_object_add(claims, name, json_object_new_string("*"));
		return 0;
	}
	if (tnd_list_each(list, add_name, &b)) {
		fprintf(stderr, "tandem-token: --%s: not a collection name: %s\n", name, b.bad);
		json_object_put(b.array);
		return -1;
	}
	json_object_object_add(claims, name, b.array);
	return 0;
}

/* The claims as JSON text; NULL (after a message) on a bad value. */
static char *build_claims(const struct token_config *cfg)
{
	struct json_object *claims = json_object_new_object();
	long long ttl, now = (long long)time(NULL);
	char *out = NULL;

	if (parse_ttl(cfg->ttl, &ttl) < 0) {
		fprintf(stderr, "tandem-token: --ttl: use seconds or a number with s, m, h or d (at most a year)\n");
		goto out;
	}
	if (cfg->own && !cfg->sub) {
		fprintf(stderr, "tandem-token: --own needs --sub (the owner of the documents)\n");
		goto out;
	}
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	json_object_object_add(claims, "exp", json_object_new_int64(now + ttl));
	if (cfg->sub)
		json_object_object_add(claims, "sub", json_object_new_string(cfg->sub));
	if (cfg->issuer)
		json_object_object_add(claims, "iss", json_object_new_string(cfg->issuer));
	if (cfg->audience)
		json_object_object_add(claims, "aud", json_object_new_string(cfg->audience));
	if (add_claim(claims, "read", cfg->read) < 0 || add_claim(claims, "write", cfg->write) < 0 ||
	    add_claim(claims, "own", cfg->own) < 0)
		goto out;
	out = strdup(json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(claims);
	return out;
}

/* The key bytes and the alg to sign with; -1 after a message. */
static int signing_key(const struct token_config *cfg, struct tnd_auth *secret, unsigned char **key,
		       int *key_len, jwt_alg_t *alg)
{
	char err[300] = "";

	if (cfg->private_key) {
		FILE *f = fopen(cfg->private_key, "r");
		EVP_PKEY *pkey = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
		long size;

		if (!pkey) {
			fprintf(stderr, "tandem-token: --private-key: %s is not a readable PEM private key\n",
				cfg->private_key);
			if (f)
				fclose(f);
			return -1;
		}
		*alg = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC ? JWT_ALG_ES256 : JWT_ALG_RS256;
		if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
			int bits = EVP_PKEY_get_bits(pkey);
			*alg = bits > 384 ? JWT_ALG_ES512 : bits > 256 ? JWT_ALG_ES384 : JWT_ALG_ES256;
		}
		EVP_PKEY_free(pkey);
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		rewind(f);
		*key = malloc((size_t)size + 1);
		if (!*key || fread(*key, 1, (size_t)size, f) != (size_t)size) {
			fclose(f);
			return -1;
		}
		fclose(f);
		*key_len = (int)size;
		return 0;
	}
	if (tnd_auth_init(secret, &(struct tnd_auth_settings){.secret = cfg->jwt_secret,
							       .secret_file = cfg->jwt_secret_file},
			  err, sizeof(err)) < 0 || secret->mode != TND_AUTH_HMAC) {
		fprintf(stderr, "tandem-token: %s\n",
			secret->mode == TND_AUTH_OFF && !err[0] ? "set TANDEM_JWT_SECRET(_FILE), or give --private-key"
								 : err);
		return -1;
	}
	*key = secret->key;
	*key_len = secret->key_len;
	*alg = JWT_ALG_HS256;
	return 0;
}

/* Signs claims; the token (caller frees) or NULL after a message. */
static char *sign(const char *claims, const unsigned char *key, int key_len, jwt_alg_t alg)
{
	jwt_t *jwt = NULL;
	char *token = NULL;

	if (jwt_new(&jwt) != 0 || jwt_add_grants_json(jwt, claims) != 0 ||
	    jwt_set_alg(jwt, alg, key, key_len) != 0 || !(token = jwt_encode_str(jwt)))
		fprintf(stderr, "tandem-token: cannot sign with %s and this key\n", jwt_alg_str(alg));
	jwt_free(jwt);
	return token;
}

/* --- DEV ONLY: the demo's sign-in endpoint ---------------------------------- */

#define SERVE_REQ_MAX 4096
#define SERVE_SUB_MAX 64

static void serve_answer(int fd, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, status == 200 ? "OK" : status == 400 ? "Bad Request" : "Not Found",
			 strlen(body));

	if (write(fd, head, (size_t)n) != n || write(fd, body, strlen(body)) < 0)
		return; /* the client went away: nothing to do */
}

/* A sub from the query: 1-64 of [A-Za-z0-9_.-], copied into out; false if not. */
static bool serve_sub(const char *target, char *out)
{
	const char *p = strstr(target, "?sub=");
	size_t n = 0;

	if (strncmp(target, "/dev/token?", 11) != 0 || !p)
		return false;
	for (p += 5; *p && *p != '&' && *p != ' '; p++) {
		if (n >= SERVE_SUB_MAX || !(tnd_valid_doc_id(p, 1) || *p == '.'))
			return false;
		out[n++] = *p;
	}
	out[n] = '\0';
	return n > 0;
}

static void serve_one(int fd, struct token_config *cfg, const unsigned char *key, int key_len,
		      jwt_alg_t alg)
{
	char req[SERVE_REQ_MAX + 1], sub[SERVE_SUB_MAX + 1], body[8192], *sp, *claims, *token;
	size_t len = 0;
	ssize_t got;

	while (len < SERVE_REQ_MAX && !memmem(req, len, "\r\n\r\n", 4)) {
		got = read(fd, req + len, SERVE_REQ_MAX - len);
		if (got <= 0)
			return;
		len += (size_t)got;
	}
	req[len] = '\0';
	if (strncmp(req, "GET ", 4) != 0 || !(sp = strchr(req + 4, ' '))) {
		serve_answer(fd, 400, "{\"error\":\"GET /dev/token?sub=NAME\"}");
		return;
	}
	*sp = '\0';
	if (strncmp(req + 4, "/dev/token", 10) != 0) {
		serve_answer(fd, 404, "{\"error\":\"not_found\"}");
		return;
	}
	if (!serve_sub(req + 4, sub)) {
		serve_answer(fd, 400, "{\"error\":\"sub must be 1-64 of A-Z a-z 0-9 _ - .\"}");
		return;
	}
	cfg->sub = sub;
	claims = build_claims(cfg);
	token = claims ? sign(claims, key, key_len, alg) : NULL;
	if (token && (size_t)snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token) < sizeof(body))
		serve_answer(fd, 200, body);
	else
		serve_answer(fd, 400, "{\"error\":\"cannot sign\"}");
	fprintf(stderr, "tandem-token: served a token for %s\n", sub);
	free(token);
	free(claims);
}

/* A unix socket (mode 600) at path; the fd or -1 after a message. */
static int serve_unix(const char *path)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(su.sun_path)) {
		fprintf(stderr, "tandem-token: --serve: socket path too long\n");
		return -1;
	}
	memcpy(su.sun_path, path, strlen(path) + 1);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&su, sizeof(su)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 64) < 0) {
		fprintf(stderr, "tandem-token: --serve unix:%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Serves until killed. Returns 1 (after a message) when it cannot listen. */
static int serve(struct token_config *cfg, const unsigned char *key, int key_len, jwt_alg_t alg)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *colon = strrchr(cfg->serve, ':');
	char host[64];
	long long port;
	int fd, one = 1;

	if (!strncmp(cfg->serve, "unix:", 5)) {
		if ((fd = serve_unix(cfg->serve + 5)) < 0)
			return 1;
		goto loop;
	}
	if (!colon || (size_t)(colon - cfg->serve) >= sizeof(host) ||
	    tnd_num_parse_str(colon + 1, 1, 65535, &port) < 0) {
		fprintf(stderr, "tandem-token: --serve: use 127.0.0.1:PORT\n");
		return 1;
	}
	memcpy(host, cfg->serve, (size_t)(colon - cfg->serve));
	host[colon - cfg->serve] = '\0';
	/* Loopback only: this hands a token to whoever asks. */
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "tandem-token: --serve: a 127.x.x.x address only (dev only)\n");
		return 1;
	}
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "tandem-token: --serve %s: %s\n", cfg->serve, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
loop:
	fprintf(stderr, "tandem-token: DEV ONLY: serving GET /dev/token?sub=NAME on %s\n", cfg->serve);
	for (;;) {
		struct timeval tv = {.tv_sec = 2};
		int c = accept(fd, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "tandem-token: accept: %s\n", strerror(errno));
			close(fd);
			return 1;
		}
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* a silent client cannot hold it */
		serve_one(c, cfg, key, key_len, alg);
		close(c);
	}
}

int main(int argc, char **argv)
{
	struct token_config cfg;
	struct tnd_auth secret = {0};
	unsigned char *key = NULL;
	int key_len = 0, status = 1;
	jwt_alg_t alg;
	char err[300] = "", *claims = NULL, *token = NULL;
	int rc = tnd_config_load(options, N_OPTIONS, &cfg, argc, argv, err, sizeof(err));

	if (rc == TND_CONFIG_HELP) {
		tnd_config_usage(stdout, "tandem-token", options, N_OPTIONS);
		return 0;
	}
	if (rc == TND_CONFIG_VERSION) {
		printf("tandem-token %s\n", tnd_version());
		return 0;
	}
	if (rc == TND_CONFIG_MAN) {
		tnd_config_man(stdout, options, N_OPTIONS);
		return 0;
	}
	if (rc == TND_CONFIG_ERROR) {
		fprintf(stderr, "tandem-token: %s\n", err);
		return 2;
	}
	/* --check-config: the same checks as signing, a bad setting exits 2 as
	 * in the servers, and no token is printed. */
	if (rc == TND_CONFIG_CHECK)
		status = 2;
	if (cfg.serve && cfg.own) /* the sub comes with each request */
		cfg.sub = "x";
	if (!(claims = build_claims(&cfg)) || signing_key(&cfg, &secret, &key, &key_len, &alg) < 0)
		goto out;
	if (cfg.alg && (alg = jwt_str_alg(cfg.alg)) == JWT_ALG_INVAL) {
		fprintf(stderr, "tandem-token: --alg: unknown algorithm %s\n", cfg.alg);
		goto out;
	}
	if (cfg.serve && rc != TND_CONFIG_CHECK) {
		status = serve(&cfg, key, key_len, alg);
		goto out;
	}
	if (!(token = sign(claims, key, key_len, alg)))
		goto out;
	if (rc == TND_CONFIG_CHECK)
		printf("configuration OK\n");
	else
		printf("%s\n", token);
	status = 0;
out:
	free(token);
	free(claims);
	if (key != secret.key)
		free(key);
	tnd_auth_free(&secret);
	return status;
}
