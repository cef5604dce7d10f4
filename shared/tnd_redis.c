/*
 * tnd_redis: see tnd_redis.h.
 */
#include "tnd_redis.h"

#include <stdio.h>
#include <string.h>

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

static int parse_tcp(const char *rest, struct tnd_redis_addr *addr, char *err, size_t errlen)
{
	const char *host = rest, *host_end, *p;
	long long n;

	if (*host == '[') {
		host_end = strchr(host, ']');
		if (!host_end) {
			snprintf(err, errlen, "unterminated [ in host");
			return -1;
		}
		host++;
		p = host_end + 1;
	} else {
		host_end = host + strcspn(host, ":/");
		p = host_end;
	}
	if (host_end == host || (size_t)(host_end - host) > TND_REDIS_HOST_MAX) {
		snprintf(err, errlen, "missing or over-long host");
		return -1;
	}
	if (memchr(host, '@', (size_t)(host_end - host))) {
		snprintf(err, errlen, "credentials in the URL are not supported");
		return -1;
	}
	memcpy(addr->host, host, (size_t)(host_end - host));
	addr->host[host_end - host] = '\0';
	addr->port = 6379;
	if (*p == ':') {
		const char *port = ++p;
		p += strcspn(p, "/");
		if (tnd_num_parse(port, (size_t)(p - port), 1, 65535, &n) < 0) {
			snprintf(err, errlen, "port must be 1..65535");
			return -1;
		}
		addr->port = (int)n;
	}
	if (*p == '/' && p[1] != '\0') {
		if (tnd_num_parse_str(p + 1, 0, 15, &n) < 0) {
			snprintf(err, errlen, "database must be 0..15");
			return -1;
		}
		addr->db = (int)n;
	} else if (*p != '\0' && strcmp(p, "/") != 0) {
		snprintf(err, errlen, "unexpected \"%.32s\"", p);
		return -1;
	}
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
	snprintf(err, errlen, "must start with redis:// or unix://");
	return -1;
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
	if (select_db(c, addr->db, err, errlen) < 0)
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
