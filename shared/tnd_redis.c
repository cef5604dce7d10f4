/*
 * tnd_redis: see tnd_redis.h.
 */
#include "tnd_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tnd_num.h"

static int parse_unix(const char *path, struct tnd_redis_addr *addr, char *err, size_t errlen)
{
	size_t len = strlen(path);

	if (len == 0 || path[0] != '/') {
		snprintf(err, errlen, "unix socket path must be absolute (unix:///path)");
		return -1;
	}
	if (len > TND_REDIS_PATH_MAX) {
		snprintf(err, errlen, "unix socket path longer than %d bytes", TND_REDIS_PATH_MAX);
		return -1;
	}
	addr->is_unix = true;
	memcpy(addr->path, path, len + 1);
	return 0;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes src[0..len) into dst (size bytes with the NUL); -1 when malformed or too long. */
static int url_decode(const char *src, size_t len, char *dst, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)src[i];
		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			if (hex_digit(src[i + 1]) < 0 || hex_digit(src[i + 2]) < 0)
				return -1;
			c = hex_digit(src[i + 1]) * 16 + hex_digit(src[i + 2]);
			i += 2;
		}
		if (c == 0 || o + 1 >= size)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return (int)o;
}

/* user[:password]@ at the start of rest, if any; *rest moves past it. */
static int parse_userinfo(const char **rest, struct tnd_redis_addr *addr, char *err, size_t errlen)
{
	size_t end = strcspn(*rest, "/");
	const char *at = NULL, *colon;

	/* The last @ before the path: a password may hold an @ of its own. */
	for (const char *p = *rest; p < *rest + end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return 0;
	colon = memchr(*rest, ':', (size_t)(at - *rest));
	if (url_decode(*rest, (size_t)((colon ? colon : at) - *rest), addr->username,
		       sizeof(addr->username)) < 0 ||
	    (colon && url_decode(colon + 1, (size_t)(at - colon - 1), addr->password,
				 sizeof(addr->password)) < 0)) {
		snprintf(err, errlen, "malformed or over-long user or password (percent-encode "
				      "reserved characters)");
		return -1;
	}
	addr->has_password = colon != NULL;
	*rest = at + 1;
	return 0;
}

/*
 * One host[:port] (host may be [v6]) in s[0..len) into host (TND_REDIS_HOST_MAX
 * bytes and the NUL) and *port (6379 when left out).
 */
static int parse_hostport(const char *s, size_t len, char *host, int *port, char *err,
			  size_t errlen)
{
	const char *end = s + len, *h = s, *h_end, *p;
	long long n;

	if (len > 0 && *s == '[') {
		/* An IPv6 literal: hex digits, colons and dots only, so no '/', '@' or ',' hides in it. */
		size_t i = 1;
		while (i < len && s[i] && strchr("0123456789abcdefABCDEF:.", s[i]))
			i++;
		if (i == len || s[i] != ']') {
			snprintf(err, errlen, "malformed [IPv6] host");
			return -1;
		}
		h_end = s + i;
		h++;
		p = h_end + 1;
	} else {
		h_end = memchr(s, ':', len);
		if (!h_end)
			h_end = end;
		p = h_end;
	}
	if (h_end == h || (size_t)(h_end - h) > TND_REDIS_HOST_MAX) {
		snprintf(err, errlen, "missing or over-long host");
		return -1;
	}
	memcpy(host, h, (size_t)(h_end - h));
	host[h_end - h] = '\0';
	*port = 6379;
	if (p == end)
		return 0;
	if (*p != ':') {
		snprintf(err, errlen, "unexpected \"%.*s\"", (int)(end - p > 32 ? 32 : end - p), p);
		return -1;
	}
	p++;
	if (tnd_num_parse(p, (size_t)(end - p), 1, 65535, &n) < 0) {
		snprintf(err, errlen, "port must be 1..65535");
		return -1;
	}
	*port = (int)n;
	return 0;
}

static int parse_tcp(const char *rest, struct tnd_redis_addr *addr, char *err, size_t errlen)
{
	const char *p;
	long long n;

	if (parse_userinfo(&rest, addr, err, errlen) < 0)
		return -1;
	p = rest + strcspn(rest, "/");
	if (parse_hostport(rest, (size_t)(p - rest), addr->host, &addr->port, err, errlen) < 0)
		return -1;
	if (*p == '/' && p[1] != '\0') {
		if (tnd_num_parse_str(p + 1, 0, 15, &n) < 0) {
			snprintf(err, errlen, "database must be 0..15");
			return -1;
		}
		addr->db = (int)n;
	}
	return 0;
}

/* The seeds of a redis-cluster:// URL, after its scheme. */
static int parse_cluster(const char *rest, struct tnd_redis_target *t, char *err, size_t errlen)
{
	const char *end, *p;

	if (parse_userinfo(&rest, &t->addr, err, errlen) < 0)
		return -1;
	end = rest + strcspn(rest, "/");
	if (*end == '/' && strcmp(end, "/") != 0 && strcmp(end, "/0") != 0) {
		snprintf(err, errlen, "a cluster has only database 0");
		return -1;
	}
	for (p = rest;; p++) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *seed_end = comma ? comma : end;

		if (t->n_seeds == TND_CLUSTER_SEEDS_MAX) {
			snprintf(err, errlen, "more than %d seed nodes", TND_CLUSTER_SEEDS_MAX);
			return -1;
		}
		struct tnd_redis_node *seed = &t->seeds[t->n_seeds];
		if (parse_hostport(p, (size_t)(seed_end - p), seed->host, &seed->port, err, errlen) < 0)
			return -1;
		t->n_seeds++;
		if (!comma)
			break;
		p = comma;
	}
	memcpy(t->addr.host, t->seeds[0].host, sizeof(t->addr.host));
	t->addr.port = t->seeds[0].port;
	t->cluster = true;
	return 0;
}

int tnd_redis_url_parse(const char *url, struct tnd_redis_addr *addr, char *err,
			size_t errlen)
{
	memset(addr, 0, sizeof(*addr));
	if (!strncmp(url, "unix://", 7))
		return parse_unix(url + 7, addr, err, errlen);
	if (!strncmp(url, "redis://", 8))
		return parse_tcp(url + 8, addr, err, errlen);
	if (!strncmp(url, "redis-cluster://", 16)) {
		snprintf(err, errlen, "redis-cluster:// (Redis Cluster) is not supported by this "
				      "program yet");
		return -1;
	}
	snprintf(err, errlen, "must start with redis:// or unix://");
	return -1;
}

int tnd_redis_target_parse(const char *url, struct tnd_redis_target *t, char *err,
			   size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (!strncmp(url, "redis-cluster://", 16))
		return parse_cluster(url + 16, t, err, errlen);
	if (!strncmp(url, "unix://", 7) || !strncmp(url, "redis://", 8))
		return tnd_redis_url_parse(url, &t->addr, err, errlen);
	snprintf(err, errlen, "must start with redis://, unix:// or redis-cluster://");
	return -1;
}

int tnd_redis_set_credentials(struct tnd_redis_addr *addr, const char *username,
			      const char *password_file, char *err, size_t errlen)
{
	if (username) {
		if (strlen(username) > TND_REDIS_USER_MAX) {
			snprintf(err, errlen, "TANDEM_REDIS_USERNAME: longer than %d bytes", TND_REDIS_USER_MAX);
			return -1;
		}
		snprintf(addr->username, sizeof(addr->username), "%s", username);
	}
	if (password_file) {
		int fd = open(password_file, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0) {
			snprintf(err, errlen, "TANDEM_REDIS_PASSWORD_FILE: cannot open %s: %s", password_file,
				 strerror(errno));
			return -1;
		}
		n = read(fd, addr->password, sizeof(addr->password));
		close(fd);
		if (n < 0 || (size_t)n >= sizeof(addr->password)) {
			snprintf(err, errlen, "TANDEM_REDIS_PASSWORD_FILE: unreadable, or longer than %d bytes",
				 TND_REDIS_PASSWORD_MAX);
			return -1;
		}
		while (n > 0 && (addr->password[n - 1] == '\n' || addr->password[n - 1] == '\r'))
			n--;
		addr->password[n] = '\0';
		addr->has_password = true;
	}
	if (addr->username[0] && !addr->has_password) {
		snprintf(err, errlen, "TANDEM_REDIS_USERNAME: a user needs a password "
				      "(in the URL or TANDEM_REDIS_PASSWORD_FILE)");
		return -1;
	}
	return 0;
}

int tnd_redis_auth_argv(const struct tnd_redis_addr *addr, const char *argv[3], size_t lens[3])
{
	int n = 0;

	if (!addr->has_password)
		return 0;
	argv[n] = "AUTH";
	lens[n++] = 4;
	if (addr->username[0]) {
		argv[n] = addr->username;
		lens[n++] = strlen(addr->username);
	}
	argv[n] = addr->password;
	lens[n++] = strlen(addr->password);
	return n;
}

/* AUTH on a fresh blocking connection, when a password is set. */
static int authenticate(redisContext *c, const struct tnd_redis_addr *addr, char *err, size_t errlen)
{
	const char *argv[3];
	size_t lens[3];
	int argc = tnd_redis_auth_argv(addr, argv, lens), rc = -1;
	redisReply *reply;

	if (argc == 0)
		return 0;
	reply = redisCommandArgv(c, argc, argv, lens);
	if (!reply) {
		snprintf(err, errlen, "AUTH: %s", c->errstr);
		return -1;
	}
	if (reply->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "AUTH as %s: %s", addr->username[0] ? addr->username : "default",
			 reply->str);
	else
		rc = 0;
	freeReplyObject(reply);
	return rc;
}

static int select_db(redisContext *c, int db, char *err, size_t errlen)
{
	redisReply *reply;
	int rc = -1;

	if (db <= 0)
		return 0;
	reply = redisCommand(c, "SELECT %d", db);
	if (!reply) {
		snprintf(err, errlen, "SELECT: %s", c->errstr);
		return -1;
	}
	if (reply->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "SELECT: %s", reply->str);
	else
		rc = 0;
	freeReplyObject(reply);
	return rc;
}

redisContext *tnd_redis_connect(const struct tnd_redis_addr *addr, int timeout_ms,
				char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	redisContext *c;

	c = addr->is_unix ? redisConnectUnixWithTimeout(addr->path, tv)
			  : redisConnectWithTimeout(addr->host, addr->port, tv);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (c->err) {
		snprintf(err, errlen, "%s", c->errstr);
		goto fail;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errlen, "cannot set timeout: %s", c->errstr);
		goto fail;
	}
	if (!addr->is_unix)
		redisEnableKeepAlive(c);
	if (authenticate(c, addr, err, errlen) < 0 || select_db(c, addr->db, err, errlen) < 0)
		goto fail;
	return c;
fail:
	redisFree(c);
	return NULL;
}

redisAsyncContext *tnd_redis_connect_async(const struct tnd_redis_addr *addr, char *err,
					   size_t errlen)
{
	redisAsyncContext *ac;

	ac = addr->is_unix ? redisAsyncConnectUnix(addr->path)
			   : redisAsyncConnect(addr->host, addr->port);
	if (!ac) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ac->err) {
		snprintf(err, errlen, "%s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	return ac;
}
