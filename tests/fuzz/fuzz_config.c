/*
 * fuzz_config: libFuzzer entry for configuration: tnd_config_load with an
 * argv and an environment built from the input, on a table holding the
 * programs' own common block (TND_COMMON_OPTIONS, with its validators of
 * the Redis URL, namespace, origins, log level and format), then
 * tnd_common_redis_addr, tnd_redis_url_parse, the
 * notifier's TANDEM_WS_LISTEN and allowed-origins parsers, the shared
 * comma-list reader (tnd_list.c) and the one bounded number parser every
 * INT option goes through (tnd_num.c).
 *
 * Input: tokens split at NUL bytes. A token "TANDEM_X=value" whose name is
 * in the options table becomes an environment variable; every other token
 * is an argument (argv[0] is "tandem"). The options table is the common
 * block both programs use plus a copy of their own entries (static in the
 * programs' main.c; this copy keeps their names, types and ranges).
 * The environment is a private array swapped into environ for the call,
 * so nothing leaks into the process and every run starts clean.
 *
 * Checks: loaded values respect their ranges; an error has a message; a
 * Redis URL accepted has a usable address; tnd_num_parse agrees with
 * strtoll on every token; list elements are trimmed, non-empty and
 * comma-free; the notifier's origin check (ntf_ws_origin_allowed) and
 * the REST one (tnd_list_contains) agree on any non-empty Origin, the
 * notifier's condition for checking.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "ntf_ws.h"
#include "tnd_config.h"
#include "tnd_list.h"
#include "tnd_log.h"
#include "tnd_num.h"
#include "tnd_redis.h"

#define INPUT_MAX 4096
#define ARGS_MAX 64
#define ENVS_MAX 32

extern char **environ;

struct fuzz_config {
	struct tnd_common_config common;
	const char *listen, *ws_listen;
	long long max_body, log_len, threads, redis_timeout_ms, backlog;
	long long max_subscriptions, max_connections, ping_interval, queue_bytes, queue_messages;
	long long stall_seconds;
	bool flag; /* no BOOL option in the programs yet; one keeps that path fuzzed */
};

#define OPT(f) offsetof(struct fuzz_config, f)
static const struct tnd_option options[] = {
	TND_COMMON_OPTIONS(struct fuzz_config, common),
	{"listen", "TANDEM_LISTEN", TND_OPT_STRING, NULL, 1, 200, OPT(listen), "rest", NULL},
	{"ws-listen", "TANDEM_WS_LISTEN", TND_OPT_STRING, "127.0.0.1:8081", 3, 80, OPT(ws_listen),
	 "notifier", NULL},
	{"max-body", "TANDEM_MAX_BODY", TND_OPT_INT, "1048576", 64, 64LL << 20, OPT(max_body),
	 "rest", NULL},
	{"log-len", "TANDEM_LOG_LEN", TND_OPT_INT, "10000", 10, 100000000, OPT(log_len), "rest", NULL},
	{"threads", "TANDEM_THREADS", TND_OPT_INT, "16", 1, 1024, OPT(threads), "rest", NULL},
	{"redis-timeout", "TANDEM_REDIS_TIMEOUT_MS", TND_OPT_INT, "1000", 10, 60000,
	 OPT(redis_timeout_ms), "rest", NULL},
	{"backlog", "TANDEM_BACKLOG", TND_OPT_INT, "1024", 1, 65535, OPT(backlog), "rest", NULL},
	{"max-subscriptions", "TANDEM_MAX_SUBSCRIPTIONS", TND_OPT_INT, "100", 1, 100000,
	 OPT(max_subscriptions), "notifier", NULL},
	{"max-connections", "TANDEM_MAX_CONNECTIONS", TND_OPT_INT, "10000", 1, 1000000,
	 OPT(max_connections), "notifier", NULL},
	{"ping-interval", "TANDEM_PING_INTERVAL", TND_OPT_INT, "30", 1, 3600, OPT(ping_interval),
	 "notifier", NULL},
	{"ws-queue-bytes", "TANDEM_WS_QUEUE_BYTES", TND_OPT_INT, "4194304", 4096, 1LL << 30,
	 OPT(queue_bytes), "notifier", NULL},
	{"ws-queue-messages", "TANDEM_WS_QUEUE_MESSAGES", TND_OPT_INT, "1024", 8, 1000000,
	 OPT(queue_messages), "notifier", NULL},
	{"ws-stall-seconds", "TANDEM_WS_STALL_SECONDS", TND_OPT_INT, "10", 1, 3600,
	 OPT(stall_seconds), "notifier", NULL},
	{"flag", "TANDEM_FUZZ_FLAG", TND_OPT_BOOL, "false", 0, 1, OPT(flag), "harness only", NULL},
};
#undef OPT
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static FILE *devnull;
/*
 * FUZZ_KNOWN_BUGS=1 turns on the checks that open production bugs still
 * fail (tests/fuzz/known/); off, a short run does not keep re-finding them.
 */
static bool known_bugs;
static char program[] = "tandem";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	known_bugs = getenv("FUZZ_KNOWN_BUGS") && !strcmp(getenv("FUZZ_KNOWN_BUGS"), "1");
	return 0;
}

static bool is_env_token(const char *tok)
{
	const char *eq = strchr(tok, '=');

	if (!eq)
		return false;
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strlen(options[i].env) == (size_t)(eq - tok) &&
		    !memcmp(options[i].env, tok, (size_t)(eq - tok)))
			return true;
	return false;
}

static void check_values(const struct fuzz_config *cfg)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *field = (const char *)cfg + options[i].offset;

		if (options[i].type == TND_OPT_INT) {
			long long v = *(const long long *)field;
			FUZZ_CHECK(v >= options[i].min && v <= options[i].max);
		} else if (options[i].type == TND_OPT_STRING) {
			const char *s = *(const char *const *)field;
			FUZZ_CHECK(s || !options[i].def);
			if (s)
				FUZZ_CHECK((long long)strlen(s) >= options[i].min &&
					   (long long)strlen(s) <= options[i].max);
		}
	}
}

/* full: after tnd_common_redis_addr, which also requires a password with a user. */
static void check_addr(const struct tnd_redis_addr *a, bool full)
{
	if (a->is_unix) {
		FUZZ_CHECK(a->path[0] == '/' && strlen(a->path) <= TND_REDIS_PATH_MAX);
	} else {
		FUZZ_CHECK(a->host[0] != '\0' && strlen(a->host) <= TND_REDIS_HOST_MAX);
		/* Known bug: a [v6] host runs to the first ']' anywhere (tnd_redis.c parse_tcp). */
		if (known_bugs)
			FUZZ_CHECK(!strpbrk(a->host, "@/[] "));
		FUZZ_CHECK(a->port >= 1 && a->port <= 65535);
		FUZZ_CHECK(a->db >= 0 && a->db <= 15);
	}
	FUZZ_CHECK(strlen(a->username) <= TND_REDIS_USER_MAX);
	FUZZ_CHECK(strlen(a->password) <= TND_REDIS_PASSWORD_MAX);
	if (full && a->username[0])
		FUZZ_CHECK(a->has_password);
}

static void check_url(const char *url)
{
	struct tnd_redis_addr addr;
	char err[200] = "";

	if (tnd_redis_url_parse(url, &addr, err, sizeof(err)) == 0)
		check_addr(&addr, false);
	else
		FUZZ_CHECK(err[0] != '\0');
}

/* tnd_num_parse against strtoll on a C string. */
static void check_number(const char *s)
{
	long long v = 0, ref;
	size_t len = strlen(s), i = s[0] == '-';
	bool digits = len > i;
	char *end;
	int rc = tnd_num_parse(s, len, LLONG_MIN, LLONG_MAX, &v);

	for (size_t k = i; k < len; k++)
		digits = digits && s[k] >= '0' && s[k] <= '9';
	if (!digits) {
		FUZZ_CHECK(rc < 0);
		return;
	}
	errno = 0;
	ref = strtoll(s, &end, 10);
	if (errno == ERANGE) {
		FUZZ_CHECK(rc < 0);
		return;
	}
	FUZZ_CHECK(rc == 0 && v == ref && *end == '\0');
	if (v < LLONG_MAX) /* the range is checked too */
		FUZZ_CHECK(tnd_num_parse(s, len, v + 1, LLONG_MAX, &ref) < 0);
}

static void check_listen(const char *listen)
{
	struct ntf_ws_config ws;
	char err[200] = "";

	memset(&ws, 0, sizeof(ws));
	if (ntf_ws_parse_listen(listen, &ws, err, sizeof(err)) == 0) {
		FUZZ_CHECK(ws.port >= 1 && ws.port <= 65535);
		FUZZ_CHECK(strlen(ws.host) < sizeof(ws.host));
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
}

static bool check_item(const char *item, size_t len, void *data)
{
	size_t *n = data;

	FUZZ_CHECK(len > 0 && !memchr(item, ',', len));
	FUZZ_CHECK(item[0] != ' ' && item[0] != '\t');
	FUZZ_CHECK(item[len - 1] != ' ' && item[len - 1] != '\t');
	(*n)++;
	return false;
}

static void check_origins(const char *list, const char *origin)
{
	size_t n = 0, len = strlen(origin);

	FUZZ_CHECK(!tnd_list_each(list, check_item, &n));
	FUZZ_CHECK(n <= strlen(list));
	if (len > 0)
		FUZZ_CHECK(ntf_ws_origin_allowed(list, origin, len) ==
			   tnd_list_contains(list, origin, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *p, *end;
	char *args[ARGS_MAX + 2], *envs[ENVS_MAX + 1];
	int argc = 1, n_env = 0, rc;
	char **saved_env = environ;
	struct fuzz_config cfg;
	char err[256] = "";
	const char *last = "";

	if (size > INPUT_MAX)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	args[0] = program;
	for (p = buf, end = buf + size; p <= end && argc <= ARGS_MAX; p += strlen(p) + 1) {
		if (is_env_token(p) && n_env < ENVS_MAX)
			envs[n_env++] = p;
		else
			args[argc++] = p;
		check_url(p);
		check_number(p);
		last = p;
	}
	args[argc] = NULL;
	envs[n_env] = NULL;

	memset(&cfg, 0, sizeof(cfg));
	environ = envs;
	rc = tnd_config_load(options, N_OPTIONS, &cfg, argc, args, err, sizeof(err));
	environ = saved_env;

	FUZZ_CHECK(rc >= TND_CONFIG_ERROR && rc <= TND_CONFIG_MAN);
	if (rc == TND_CONFIG_ERROR) {
		FUZZ_CHECK(err[0] != '\0');
	} else if (rc == TND_CONFIG_HELP) {
		if (devnull)
			tnd_config_usage(devnull, "tandem", options, N_OPTIONS);
	} else if (rc == TND_CONFIG_MAN) {
		if (devnull)
			tnd_config_man(devnull, options, N_OPTIONS);
	} else if (rc != TND_CONFIG_VERSION) {
		/* The harness reads no files: the password file is left out. */
		struct tnd_common_config common = cfg.common;
		struct tnd_redis_addr addr;

		common.redis_password_file = NULL;
		check_values(&cfg);
		/* The block's validators passed: what they checked holds. */
		FUZZ_CHECK(tnd_valid_collection(common.ns, strlen(common.ns)));
		FUZZ_CHECK(tnd_log_level_parse(common.log_level) >= 0);
		if (tnd_common_redis_addr(&common, &addr, err, sizeof(err)) == 0)
			check_addr(&addr, true);
		else
			FUZZ_CHECK(!strncmp(err, "TANDEM_", 7));
		check_listen(cfg.ws_listen);
		if (cfg.common.allowed_origins)
			check_origins(cfg.common.allowed_origins, last);
	}
	free(buf);
	return 0;
}
