/*
 * tnd_config: one options table per program (name, env var, flag, type,
 * default, min, max) read from the environment and argv, flag winning.
 * Every value is validated at start; the first bad one is reported as
 * "TANDEM_X: reason" and the program stops.
 *
 * Each entry may carry a validator (as redis's config.c does): after the
 * table is loaded, every string value set is checked by its entry's check
 * function, so one table says everything about a setting. The settings
 * both programs have are one block, TND_COMMON_OPTIONS, spliced into each
 * program's table over a struct tnd_common_config.
 *
 * String values point into argv, environ or the table's default: they live
 * as long as the process. Nothing here allocates.
 */
#ifndef TND_CONFIG_H
#define TND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum tnd_opt_type { TND_OPT_STRING, TND_OPT_INT, TND_OPT_BOOL };

struct tnd_option {
	const char *flag;  /* "redis-url" for --redis-url */
	const char *env;   /* "TANDEM_REDIS_URL" */
	enum tnd_opt_type type;
	const char *def;   /* default as text; NULL = unset (strings only) */
	long long min, max; /* INT range, or STRING length range */
	size_t offset;     /* of a const char *, long long or bool in the config struct */
	const char *help;
	/* Optional, strings only: 0 when value is acceptable, else -1 with why. */
	int (*check)(const char *value, char *why, size_t whylen);
};

/* Validators for entries' check (shared/tnd_config.c). */
int tnd_check_redis_url(const char *value, char *why, size_t whylen);
int tnd_check_namespace(const char *value, char *why, size_t whylen);
int tnd_check_log_level(const char *value, char *why, size_t whylen);
int tnd_check_log_format(const char *value, char *why, size_t whylen);
int tnd_check_origins(const char *value, char *why, size_t whylen);

/* The settings both programs have (SPEC sections 6 and 7). */
struct tnd_common_config {
	const char *redis_url;
	const char *redis_username;
	const char *redis_password_file;
	const char *ns;
	const char *allowed_origins;
	const char *jwt_secret;
	const char *jwt_secret_file;
	const char *jwt_public_key;
	const char *jwt_issuer;
	const char *jwt_audience;
	const char *log_level;
	const char *log_format;
};

/* The common block of entries, for a program's table whose struct type has a tnd_common_config member. */
#define TND_COMMON_OPTION(type, member, field) offsetof(type, member.field)
#define TND_COMMON_OPTIONS(type, member)                                                          \
	{"redis-url", "TANDEM_REDIS_URL", TND_OPT_STRING, "redis://127.0.0.1:6379", 1, 1024,       \
	 TND_COMMON_OPTION(type, member, redis_url),                                               \
	 "redis://[user:password@]host:port[/db], unix:///path, or "                              \
	 "redis-cluster://[user:password@]host:port[,host:port...] (seed nodes of a Redis Cluster)", \
	 tnd_check_redis_url},                                                                     \
	{"redis-username", "TANDEM_REDIS_USERNAME", TND_OPT_STRING, NULL, 1, 128,                  \
	 TND_COMMON_OPTION(type, member, redis_username), "Redis ACL user (overrides the URL's)",  \
	 NULL},                                                                                    \
	{"redis-password-file", "TANDEM_REDIS_PASSWORD_FILE", TND_OPT_STRING, NULL, 1, 4096,       \
	 TND_COMMON_OPTION(type, member, redis_password_file),                                     \
	 "file holding the Redis password (systemd credentials, Docker secrets)", NULL},          \
	{"namespace", "TANDEM_NAMESPACE", TND_OPT_STRING, "tandem", 1, 64,                         \
	 TND_COMMON_OPTION(type, member, ns), "prefix of every Redis key ([a-z0-9][a-z0-9_-]*)",  \
	 tnd_check_namespace},                                                                     \
	{"allowed-origins", "TANDEM_ALLOWED_ORIGINS", TND_OPT_STRING, NULL, 1, 4096,               \
	 TND_COMMON_OPTION(type, member, allowed_origins),                                         \
	 "comma list of allowed Origins (CORS, WebSocket upgrade); unset = any origin",           \
	 tnd_check_origins},                                                                       \
	{"jwt-secret", "TANDEM_JWT_SECRET", TND_OPT_STRING, NULL, 1, 4096,                         \
	 TND_COMMON_OPTION(type, member, jwt_secret),                                              \
	 "HS256/384/512 secret, at least 32 bytes; no JWT key at all = auth off", NULL},          \
	{"jwt-secret-file", "TANDEM_JWT_SECRET_FILE", TND_OPT_STRING, NULL, 1, 4096,               \
	 TND_COMMON_OPTION(type, member, jwt_secret_file),                                         \
	 "file holding the secret (keeps it out of the environment)", NULL},                      \
	{"jwt-public-key", "TANDEM_JWT_PUBLIC_KEY", TND_OPT_STRING, NULL, 1, 4096,                 \
	 TND_COMMON_OPTION(type, member, jwt_public_key),                                          \
	 "PEM public key file: RSA (RS256/384/512) or EC (the ES alg of its curve)", NULL},       \
	{"jwt-issuer", "TANDEM_JWT_ISSUER", TND_OPT_STRING, NULL, 1, 1024,                         \
	 TND_COMMON_OPTION(type, member, jwt_issuer), "when set, a token's iss must equal it",     \
	 NULL},                                                                                    \
	{"jwt-audience", "TANDEM_JWT_AUDIENCE", TND_OPT_STRING, NULL, 1, 1024,                     \
	 TND_COMMON_OPTION(type, member, jwt_audience), "when set, a token's aud must name it",    \
	 NULL},                                                                                    \
	{"log-level", "TANDEM_LOG_LEVEL", TND_OPT_STRING, "info", 1, 8,                            \
	 TND_COMMON_OPTION(type, member, log_level), "error, warn, info or debug",                 \
	 tnd_check_log_level},                                                                     \
	{"log-format", "TANDEM_LOG_FORMAT", TND_OPT_STRING, "text", 1, 8,                          \
	 TND_COMMON_OPTION(type, member, log_format),                                              \
	 "text, or json: one JSON object per line (journald, Loki)", tnd_check_log_format}

struct tnd_redis_addr;
struct tnd_redis_target;
/*
 * What the common block yields beyond its strings: the Redis address with
 * its credentials (the URL, then TANDEM_REDIS_USERNAME and
 * TANDEM_REDIS_PASSWORD_FILE over it). Returns 0, or -1 with
 * "TANDEM_X: reason" in err. A redis-cluster:// URL is refused here (a
 * program that cannot route over a cluster says so at start).
 */
int tnd_common_redis_addr(const struct tnd_common_config *c, struct tnd_redis_addr *addr,
			  char *err, size_t errlen);

/*
 * The same for a program that can route over a Redis Cluster: one server
 * or a cluster's seeds (t->cluster), the credentials in t->addr (used on
 * every node). Returns 0, or -1 with "TANDEM_X: reason" in err.
 */
int tnd_common_redis_target(const struct tnd_common_config *c, struct tnd_redis_target *t,
			    char *err, size_t errlen);

enum tnd_config_result {
	TND_CONFIG_ERROR = -1,
	TND_CONFIG_RUN = 0,      /* go on */
	TND_CONFIG_HELP = 1,     /* usage was printed: exit 0 */
	TND_CONFIG_CHECK = 2,    /* --check-config: validate the rest, print OK, exit 0 */
	TND_CONFIG_VERSION = 3,  /* --version: print tnd_version(), exit 0 */
	TND_CONFIG_MAN = 4,      /* --man: print tnd_config_man(), exit 0 */
};

/*
 * Fills cfg from defaults, then the environment, then argv (argv[0] is the
 * program). Unknown flags, missing values and bad values are errors: err
 * gets one line naming the setting. Returns a tnd_config_result.
 */
int tnd_config_load(const struct tnd_option *opts, size_t n_opts, void *cfg,
		    int argc, char **argv, char *err, size_t errlen);

/*
 * Prints the OPTIONS and ENVIRONMENT sections of the program's manual page
 * (roff) from the same table --help prints: the build puts them into
 * man/<program>.8.in (pkg.mk), so the page cannot drift from the program.
 */
void tnd_config_man(FILE *out, const struct tnd_option *opts, size_t n_opts);

/* Prints the flags, env vars, defaults and help of the table. */
void tnd_config_usage(FILE *out, const char *program, const struct tnd_option *opts,
		      size_t n_opts);

#endif
