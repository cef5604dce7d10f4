/*
 * tnd_redis: TANDEM_REDIS_URL parsing and connection helpers for hiredis,
 * shared by the blocking REST workers and the async notifier.
 */
#ifndef TND_REDIS_H
#define TND_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "tnd_limits.h"

#define TND_REDIS_HOST_MAX 255
#define TND_REDIS_PATH_MAX 107 /* sun_path less the NUL */
#define TND_REDIS_USER_MAX 128
#define TND_REDIS_PASSWORD_MAX 512

struct tnd_redis_addr {
	bool is_unix;
	char host[TND_REDIS_HOST_MAX + 1];
	int port;
	char path[TND_REDIS_PATH_MAX + 1];
	int db; /* SELECTed after connect when > 0 (TCP form only) */
	/* AUTH [username] password on every (re)connect when has_password. */
	char username[TND_REDIS_USER_MAX + 1]; /* "" = the default user */
	char password[TND_REDIS_PASSWORD_MAX + 1];
	bool has_password;
};

/*
 * Parses redis://[user[:password]@]host[:port][/db] (port 6379 when left
 * out; host may be [v6]; user and password percent-decoded) or
 * unix:///path. Returns 0, or -1 with a one-line reason in err (which
 * never repeats the password). A redis-cluster:// URL is refused with a
 * reason saying so: callers that can route over a cluster use
 * tnd_redis_target_parse() instead.
 */
int tnd_redis_url_parse(const char *url, struct tnd_redis_addr *addr, char *err,
			size_t errlen);

/* A node of a cluster: a host name or address (a v6 literal without its []) and a port. */
struct tnd_redis_node {
	char host[TND_REDIS_HOST_MAX + 1];
	int port;
};

/*
 * What TANDEM_REDIS_URL names: one server, or a Redis Cluster through its
 * seed nodes (SPEC section 9). For a cluster, addr holds the credentials
 * (for every node) and the first seed; db is always 0.
 */
struct tnd_redis_target {
	bool cluster;
	struct tnd_redis_addr addr;
	size_t n_seeds;                                   /* 1..TND_CLUSTER_SEEDS_MAX when cluster */
	struct tnd_redis_node seeds[TND_CLUSTER_SEEDS_MAX];
};

/*
 * Parses what tnd_redis_url_parse() does, and also
 * redis-cluster://[user[:password]@]host[:port][,host[:port]...][/0]
 * (credentials as for redis://, each seed's port 6379 when left out, at
 * most TND_CLUSTER_SEEDS_MAX seeds, hosts may be [v6]; a cluster has only
 * database 0). Returns 0, or -1 with a one-line reason in err (never the
 * password).
 */
int tnd_redis_target_parse(const char *url, struct tnd_redis_target *t, char *err,
			   size_t errlen);

/*
 * Applies TANDEM_REDIS_USERNAME and TANDEM_REDIS_PASSWORD_FILE (either may
 * be NULL) over what the URL gave: the file's content, less one trailing
 * newline, is the password. Returns 0, or -1 with "TANDEM_X: reason".
 */
int tnd_redis_set_credentials(struct tnd_redis_addr *addr, const char *username,
			      const char *password_file, char *err, size_t errlen);

/*
 * The AUTH command for addr as an argv (2 or 3 words), for blocking and
 * async connections alike. Returns the word count, or 0 when no password.
 */
int tnd_redis_auth_argv(const struct tnd_redis_addr *addr, const char *argv[3], size_t lens[3]);

/*
 * Blocking connect with a connect timeout and a command timeout of
 * timeout_ms each, then SELECT db. Returns a context the caller frees with
 * redisFree(), or NULL with the reason in err.
 */
redisContext *tnd_redis_connect(const struct tnd_redis_addr *addr, int timeout_ms,
				char *err, size_t errlen);

/*
 * Starts a non-blocking connect. Returns a context (not yet attached to a
 * loop; hiredis frees it after its disconnect callback) or NULL with err.
 * The caller SELECTs the db itself if addr->db > 0.
 */
redisAsyncContext *tnd_redis_connect_async(const struct tnd_redis_addr *addr, char *err,
					   size_t errlen);

#endif
