/*
 * tnd_config: see tnd_config.h.
 */
#include "tnd_config.h"

#include <stdlib.h>
#include <string.h>

#include "tnd_list.h"
#include "tnd_log.h"
#include "tnd_num.h"
#include "tnd_redis.h"
#include "tnd_valid.h"

static int set_value(const struct tnd_option *opt, void *cfg, const char *value,
		     const char *source, char *err, size_t errlen)
{
	char *field = (char *)cfg + opt->offset;
	long long n;

	switch (opt->type) {
	case TND_OPT_STRING: {
		size_t len = strlen(value);
		if ((long long)len < opt->min || (long long)len > opt->max) {
			snprintf(err, errlen, "%s: length must be %lld..%lld (from %s)", opt->env,
				 opt->min, opt->max, source);
			return -1;
		}
		*(const char **)field = value;
		return 0;
	}
	case TND_OPT_INT:
		if (tnd_num_parse_str(value, opt->min, opt->max, &n) < 0) {
			snprintf(err, errlen, "%s: \"%.64s\" is not an integer in %lld..%lld (from %s)",
				 opt->env, value, opt->min, opt->max, source);
			return -1;
		}
		*(long long *)field = n;
		return 0;
	case TND_OPT_BOOL:
		if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes") ||
		    !strcmp(value, "on")) {
			*(bool *)field = true;
		} else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") ||
			   !strcmp(value, "off")) {
			*(bool *)field = false;
		} else {
			snprintf(err, errlen, "%s: \"%.64s\" is not a boolean (from %s)", opt->env,
				 value, source);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "%s: unknown option type", opt->env);
	return -1;
}

static const struct tnd_option *find_flag(const struct tnd_option *opts, size_t n_opts,
					  const char *name, size_t len)
{
	for (size_t i = 0; i < n_opts; i++)
		if (strlen(opts[i].flag) == len && memcmp(opts[i].flag, name, len) == 0)
			return &opts[i];
	return NULL;
}

static int load_defaults_and_env(const struct tnd_option *opts, size_t n_opts, void *cfg,
				 char *err, size_t errlen)
{
	for (size_t i = 0; i < n_opts; i++) {
		const char *env = getenv(opts[i].env);

		if (opts[i].def && set_value(&opts[i], cfg, opts[i].def, "default", err, errlen) < 0)
			return -1;
		if (!opts[i].def && opts[i].type == TND_OPT_STRING)
			*(const char **)((char *)cfg + opts[i].offset) = NULL;
		/* An empty variable means unset, as shells make it easy to clear one that way. */
		if (env && *env && set_value(&opts[i], cfg, env, "environment", err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* --version and --man answer whatever the environment holds. */
static int info_flag(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version"))
			return TND_CONFIG_VERSION;
		if (!strcmp(argv[i], "--man"))
			return TND_CONFIG_MAN;
	}
	return TND_CONFIG_RUN;
}

/* Runs every entry's check on its value, once everything is loaded. */
static int run_checks(const struct tnd_option *opts, size_t n_opts, const void *cfg, char *err,
		      size_t errlen)
{
	char why[256];

	for (size_t i = 0; i < n_opts; i++) {
		const char *value;

		if (!opts[i].check || opts[i].type != TND_OPT_STRING)
			continue;
		value = *(const char *const *)((const char *)cfg + opts[i].offset);
		if (value && opts[i].check(value, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", opts[i].env, why);
			return -1;
		}
	}
	return 0;
}

static int load_flags(const struct tnd_option *opts, size_t n_opts, void *cfg, int argc,
		      char **argv, char *err, size_t errlen);

int tnd_config_load(const struct tnd_option *opts, size_t n_opts, void *cfg,
		    int argc, char **argv, char *err, size_t errlen)
{
	int result = load_flags(opts, n_opts, cfg, argc, argv, err, errlen);

	if (result == TND_CONFIG_RUN || result == TND_CONFIG_CHECK)
		if (run_checks(opts, n_opts, cfg, err, errlen) < 0)
			return TND_CONFIG_ERROR;
	return result;
}

static int load_flags(const struct tnd_option *opts, size_t n_opts, void *cfg, int argc,
		      char **argv, char *err, size_t errlen)
{
	int result = info_flag(argc, argv);

	if (result != TND_CONFIG_RUN)
		return result;
	if (load_defaults_and_env(opts, n_opts, cfg, err, errlen) < 0)
		return TND_CONFIG_ERROR;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *name, *eq, *value;
		const struct tnd_option *opt;
		size_t name_len;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
			return TND_CONFIG_HELP;
		if (!strcmp(arg, "--check-config")) {
			result = TND_CONFIG_CHECK;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument \"%.64s\" (try --help)", arg);
			return TND_CONFIG_ERROR;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		opt = find_flag(opts, n_opts, name, name_len);
		if (!opt) {
			snprintf(err, errlen, "unknown flag \"%.64s\" (try --help)", arg);
			return TND_CONFIG_ERROR;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(err, errlen, "%s: flag --%s needs a value", opt->env, opt->flag);
			return TND_CONFIG_ERROR;
		}
		if (set_value(opt, cfg, value, "command line", err, errlen) < 0)
			return TND_CONFIG_ERROR;
	}
	return result;
}

void tnd_config_usage(FILE *out, const char *program, const struct tnd_option *opts,
		      size_t n_opts)
{
	fprintf(out, "usage: %s [--check-config] [--FLAG VALUE]...\n", program);
	fprintf(out, "       %s --help | --version | --man\n\n", program);
	fprintf(out, "Each flag has an environment variable; the flag wins.\n\n");
	for (size_t i = 0; i < n_opts; i++) {
		fprintf(out, "  --%-22s %-28s default: %s\n      %s\n", opts[i].flag, opts[i].env,
			opts[i].def ? (*opts[i].def ? opts[i].def : "\"\"") : "(unset)",
			opts[i].help);
	}
}

/* Any form a program may take; one that cannot route over a cluster refuses it at start. */
int tnd_check_redis_url(const char *value, char *why, size_t whylen)
{
	struct tnd_redis_target t;

	return tnd_redis_target_parse(value, &t, why, whylen);
}

int tnd_check_namespace(const char *value, char *why, size_t whylen)
{
	if (tnd_valid_collection(value, strlen(value)))
		return 0;
	snprintf(why, whylen, "must match [a-z0-9][a-z0-9_-]{0,63}");
	return -1;
}

int tnd_check_log_level(const char *value, char *why, size_t whylen)
{
	if (tnd_log_level_parse(value) >= 0)
		return 0;
	snprintf(why, whylen, "must be error, warn, info or debug");
	return -1;
}

int tnd_check_log_format(const char *value, char *why, size_t whylen)
{
	if (tnd_log_format_parse(value) >= 0)
		return 0;
	snprintf(why, whylen, "must be text or json");
	return -1;
}

/* An origin as browsers send it: scheme://host[:port], printable ASCII without spaces. */
static bool origin_item_ok(const char *item, size_t len, void *data)
{
	const char *sep = len > 3 ? memmem(item, len, "://", 3) : NULL;

	(void)data;
	if (!sep || sep == item || (size_t)(sep - item) + 3 >= len || len > TND_ORIGIN_MAX)
		return true; /* stop: bad */
	for (size_t i = 0; i < len; i++)
		if (item[i] < 0x21 || item[i] > 0x7e || (item[i] == '/' && item + i > sep + 2))
			return true;
	return false;
}

int tnd_check_origins(const char *value, char *why, size_t whylen)
{
	if (!tnd_list_each(value, origin_item_ok, NULL))
		return 0;
	snprintf(why, whylen, "each origin must be scheme://host[:port] (no path), comma-separated");
	return -1;
}

int tnd_common_redis_addr(const struct tnd_common_config *c, struct tnd_redis_addr *addr,
			  char *err, size_t errlen)
{
	char why[200];

	if (tnd_redis_url_parse(c->redis_url, addr, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "TANDEM_REDIS_URL: %s", why);
		return -1;
	}
	return tnd_redis_set_credentials(addr, c->redis_username, c->redis_password_file, err, errlen);
}

int tnd_common_redis_target(const struct tnd_common_config *c, struct tnd_redis_target *t,
			    char *err, size_t errlen)
{
	char why[200];

	if (tnd_redis_target_parse(c->redis_url, t, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "TANDEM_REDIS_URL: %s", why);
		return -1;
	}
	return tnd_redis_set_credentials(&t->addr, c->redis_username, c->redis_password_file, err,
					 errlen);
}

