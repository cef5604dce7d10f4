/*
 * tnd_config: one options table per program (name, env var, flag, type,
 * default, min, max) read from the environment and argv, flag winning.
 * Every value is validated at start; the first bad one is reported as
 * "TANDEM_X: reason" and the program stops.
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
};

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

struct tnd_redis_addr;

/* The settings both programs have, checked the same way in both. */
struct tnd_common_settings {
	const char *redis_url;
	const char *ns;
	const char *log_level;
	const char *jwt_secret;
	const char *redis_username;      /* TANDEM_REDIS_USERNAME, or NULL */
	const char *redis_password_file; /* TANDEM_REDIS_PASSWORD_FILE, or NULL */
};

/*
 * Checks what an options table cannot: the Redis URL (parsed into addr),
 * the namespace, the log level, and that no JWT secret is set (auth is not
 * in this version: better to stop than to run open while auth is expected).
 * Returns 0, or -1 with "TANDEM_X: reason" in err.
 */
int tnd_config_check_common(const struct tnd_common_settings *s, struct tnd_redis_addr *addr,
			    char *err, size_t errlen);

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
