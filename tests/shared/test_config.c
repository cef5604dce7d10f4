/*
 * Unit tests of shared/tnd_config.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "tnd_config.h"
#include "tnd_error.h"
#include "tnd_keys.h"
#include "tnd_list.h"
#include "tnd_log.h"
#include "tnd_num.h"
#include "tnd_redis.h"
#include "tnd_seq.h"
#include "tnd_ulid.h"
#include "tnd_utf8.h"
#include "tnd_valid.h"

struct test_cfg {
	const char *name;
	long long count;
	bool flag;
};

static const struct tnd_option test_opts[] = {
	{"name", "TANDEM_T_NAME", TND_OPT_STRING, "def", 1, 10, offsetof(struct test_cfg, name), "n",
	 NULL},
	{"count", "TANDEM_T_COUNT", TND_OPT_INT, "5", 1, 100, offsetof(struct test_cfg, count), "c",
	 NULL},
	{"flag", "TANDEM_T_FLAG", TND_OPT_BOOL, "false", 0, 0, offsetof(struct test_cfg, flag), "f",
	 NULL},
};

static int load(struct test_cfg *cfg, int argc, char **argv, char *err)
{
	return tnd_config_load(test_opts, 3, cfg, argc, argv, err, 200);
}

Test(config, defaults_then_env_then_flags)
{
	struct test_cfg cfg;
	char err[200];
	char *argv[] = {(char[]){"prog"}, (char[]){"--count"}, (char[]){"7"}, (char[]){"--name=fl"}, NULL};

	unsetenv("TANDEM_T_NAME");
	setenv("TANDEM_T_COUNT", "9", 1);
	setenv("TANDEM_T_FLAG", "yes", 1);
	cr_assert_eq(load(&cfg, 1, argv, err), TND_CONFIG_RUN);
	cr_assert_str_eq(cfg.name, "def");
	cr_assert_eq(cfg.count, 9);
	cr_assert(cfg.flag);
	cr_assert_eq(load(&cfg, 4, argv, err), TND_CONFIG_RUN);
	cr_assert_eq(cfg.count, 7);
	cr_assert_str_eq(cfg.name, "fl");
}

Test(config, bad_values_name_the_setting)
{
	struct test_cfg cfg;
	char err[200];
	char *range[] = {(char[]){"prog"}, (char[]){"--count"}, (char[]){"101"}, NULL};
	char *junk[] = {(char[]){"prog"}, (char[]){"--count=7x"}, NULL};
	char *unknown[] = {(char[]){"prog"}, (char[]){"--nope"}, (char[]){"1"}, NULL};
	char *missing[] = {(char[]){"prog"}, (char[]){"--count"}, NULL};
	char *check[] = {(char[]){"prog"}, (char[]){"--check-config"}, NULL};

	unsetenv("TANDEM_T_COUNT");
	unsetenv("TANDEM_T_FLAG");
	cr_assert_eq(load(&cfg, 3, range, err), TND_CONFIG_ERROR);
	cr_assert(strstr(err, "TANDEM_T_COUNT"), "%s", err);
	cr_assert_eq(load(&cfg, 2, junk, err), TND_CONFIG_ERROR);
	cr_assert_eq(load(&cfg, 3, unknown, err), TND_CONFIG_ERROR);
	cr_assert(strstr(err, "--nope"), "%s", err);
	cr_assert_eq(load(&cfg, 2, missing, err), TND_CONFIG_ERROR);
	setenv("TANDEM_T_FLAG", "maybe", 1);
	cr_assert_eq(load(&cfg, 1, check, err), TND_CONFIG_ERROR);
	cr_assert(strstr(err, "TANDEM_T_FLAG"), "%s", err);
	unsetenv("TANDEM_T_FLAG");
	cr_assert_eq(load(&cfg, 2, check, err), TND_CONFIG_CHECK);
}

struct common_cfg {
	struct tnd_common_config common;
	const char *other;
};

static const struct tnd_option common_opts[] = {
	TND_COMMON_OPTIONS(struct common_cfg, common),
	{"other", "TANDEM_T_OTHER", TND_OPT_STRING, NULL, 1, 10, offsetof(struct common_cfg, other), "o",
	 tnd_check_namespace},
};

static int load_common(struct common_cfg *cfg, int argc, char **argv, char *err)
{
	return tnd_config_load(common_opts, sizeof(common_opts) / sizeof(common_opts[0]), cfg, argc, argv,
			       err, 200);
}

Test(config, each_entry_checks_its_value_and_the_common_block_is_one)
{
	static const struct {
		const char *flag, *env;
	} bad[] = {
		{"--redis-url=http://x", "TANDEM_REDIS_URL"},
		{"--namespace=Bad", "TANDEM_NAMESPACE"},
		{"--log-level=loud", "TANDEM_LOG_LEVEL"},
		{"--log-format=xml", "TANDEM_LOG_FORMAT"},
		{"--allowed-origins=http://a.example/path", "TANDEM_ALLOWED_ORIGINS"},
		{"--allowed-origins=nohost", "TANDEM_ALLOWED_ORIGINS"},
		{"--other=UPPER", "TANDEM_T_OTHER"},
	};
	struct common_cfg cfg;
	struct tnd_redis_addr addr;
	char err[200];
	char *ok[] = {(char[]){"prog"}, (char[]){"--redis-url=redis://u:pw@h:7000/2"}, (char[]){"--allowed-origins"},
		      (char[]){"https://a.example, http://localhost:5173"}, (char[]){"--other=fine"}, NULL};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {(char[]){"prog"}, (char *)bad[i].flag, NULL};
		cr_assert_eq(load_common(&cfg, 2, argv, err), TND_CONFIG_ERROR, "%s passed", bad[i].flag);
		cr_assert(strstr(err, bad[i].env), "%s", err);
	}
	cr_assert_eq(load_common(&cfg, 5, ok, err), TND_CONFIG_RUN, "%s", err);
	cr_assert_str_eq(cfg.common.ns, "tandem");
	cr_assert_str_eq(cfg.common.log_format, "text");
	cr_assert_eq(tnd_common_redis_addr(&cfg.common, &addr, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(addr.username, "u");
	cr_assert_eq(addr.port, 7000);
}

Test(config, a_cluster_url_passes_the_table_and_becomes_a_target)
{
	struct common_cfg cfg;
	struct tnd_redis_addr addr;
	static struct tnd_redis_target t;
	char err[200];
	char *cluster[] = {(char[]){"prog"}, (char[]){"--redis-url=redis-cluster://u:pw@a:7000,[::1]:7001"},
			   NULL};
	char *bad[] = {(char[]){"prog"}, (char[]){"--redis-url=redis-cluster://a:7000/3"}, NULL};
	char *single[] = {(char[]){"prog"}, (char[]){"--redis-url=redis://h:6380/2"}, NULL};

	cr_assert_eq(load_common(&cfg, 2, bad, err), TND_CONFIG_ERROR);
	cr_assert(strstr(err, "TANDEM_REDIS_URL"), "%s", err);
	cr_assert_eq(load_common(&cfg, 2, cluster, err), TND_CONFIG_RUN, "%s", err);
	cr_assert_eq(tnd_common_redis_target(&cfg.common, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert(t.cluster);
	cr_assert_eq(t.n_seeds, 2);
	cr_assert_str_eq(t.seeds[1].host, "::1");
	cr_assert_str_eq(t.addr.username, "u");
	cr_assert_str_eq(t.addr.password, "pw");
	/* A program that cannot route over a cluster refuses it, naming the setting. */
	cr_assert_eq(tnd_common_redis_addr(&cfg.common, &addr, err, sizeof(err)), -1);
	cr_assert(strstr(err, "TANDEM_REDIS_URL") && strstr(err, "redis-cluster"), "%s", err);
	cr_assert_eq(load_common(&cfg, 2, single, err), TND_CONFIG_RUN, "%s", err);
	cr_assert_eq(tnd_common_redis_target(&cfg.common, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(t.cluster);
	cr_assert_eq(t.addr.db, 2);
	cr_assert_eq(t.addr.port, 6380);
}
