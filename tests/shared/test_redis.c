/*
 * Unit tests of shared/tnd_redis.
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

Test(redis_url, parses_tcp_unix_and_db)
{
	struct tnd_redis_addr a;
	char err[200];

	cr_assert_eq(tnd_redis_url_parse("redis://127.0.0.1:6380/2", &a, err, sizeof(err)), 0);
	cr_assert_str_eq(a.host, "127.0.0.1");
	cr_assert_eq(a.port, 6380);
	cr_assert_eq(a.db, 2);
	cr_assert_eq(tnd_redis_url_parse("redis://localhost", &a, err, sizeof(err)), 0);
	cr_assert_eq(a.port, 6379);
	cr_assert_eq(tnd_redis_url_parse("redis://[::1]:7000", &a, err, sizeof(err)), 0);
	cr_assert_str_eq(a.host, "::1");
	cr_assert_eq(tnd_redis_url_parse("unix:///run/redis.sock", &a, err, sizeof(err)), 0);
	cr_assert(a.is_unix);
	cr_assert_str_eq(a.path, "/run/redis.sock");
	cr_assert_not(a.has_password);
	cr_assert_eq(tnd_redis_url_parse("redis://tandem-rest:p%40ss:w@rd@db.example:6380/1", &a, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(a.username, "tandem-rest");
	cr_assert_str_eq(a.password, "p@ss:w@rd");
	cr_assert(a.has_password);
	cr_assert_str_eq(a.host, "db.example");
	cr_assert_eq(a.port, 6380);
	cr_assert_eq(a.db, 1);
	cr_assert_eq(tnd_redis_url_parse("redis://:only-pass@h", &a, err, sizeof(err)), 0);
	cr_assert_str_eq(a.username, "");
	cr_assert_str_eq(a.password, "only-pass");
	const char *argv[3];
	size_t lens[3];
	cr_assert_eq(tnd_redis_auth_argv(&a, argv, lens), 2);
	cr_assert_str_eq(argv[1], "only-pass");
	const char *bad[] = {"http://x", "redis://", "redis://h:0", "redis://h:70000", "redis://h:1/99",
			     "redis://h:1/x", "unix://relative", "redis://u:p%zz@h", "redis://h:12ab",
			     "redis://u:p%00@h", "redis://[::1/@x]:6379", "redis://[::1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(tnd_redis_url_parse(bad[i], &a, err, sizeof(err)), -1, "%s", bad[i]);
}

Test(redis_url, credentials_from_settings_override_the_url)
{
	struct tnd_redis_addr a;
	char err[200], path[] = "/tmp/tnd-redis-pw-XXXXXX";
	int fd = mkstemp(path);
	const char *argv[3];
	size_t lens[3];

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "from-file\n", 10), 10);
	close(fd);
	cr_assert_eq(tnd_redis_url_parse("unix:///run/r.sock", &a, err, sizeof(err)), 0);
	cr_assert_eq(tnd_redis_auth_argv(&a, argv, lens), 0, "no password, no AUTH");
	cr_assert_eq(tnd_redis_set_credentials(&a, "notifier", path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tnd_redis_auth_argv(&a, argv, lens), 3);
	cr_assert_str_eq(argv[0], "AUTH");
	cr_assert_str_eq(argv[1], "notifier");
	cr_assert_str_eq(argv[2], "from-file");
	cr_assert_eq(tnd_redis_url_parse("unix:///run/r.sock", &a, err, sizeof(err)), 0);
	cr_assert_eq(tnd_redis_set_credentials(&a, "user-without-password", NULL, err, sizeof(err)), -1);
	cr_assert_eq(tnd_redis_set_credentials(&a, NULL, "/nonexistent/pw", err, sizeof(err)), -1);
	cr_assert(strstr(err, "TANDEM_REDIS_PASSWORD_FILE"), "%s", err);
	unlink(path);
}
