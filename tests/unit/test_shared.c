/*
 * Unit tests of the shared library: ids, names, numbers, seqs, error
 * bodies, config parsing and Redis URLs.
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

Test(ulid, encodes_time_first_in_crockford_base32)
{
	uint8_t zero[10] = {0}, ones[10];
	char out[TND_ULID_LEN + 1];

	memset(ones, 0xff, sizeof(ones));
	tnd_ulid_encode(0, zero, out);
	cr_assert_str_eq(out, "00000000000000000000000000");
	tnd_ulid_encode((1ULL << 48) - 1, ones, out);
	cr_assert_str_eq(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	/* A known vector: 1469918176385 ms is 01ARYZ6S41 */
	tnd_ulid_encode(1469918176385ULL, zero, out);
	cr_assert_eq(strncmp(out, "01ARYZ6S41", 10), 0, "got %s", out);
}

Test(ulid, is_monotonic_within_and_across_milliseconds)
{
	struct tnd_ulid_gen gen;
	char prev[TND_ULID_LEN + 1], cur[TND_ULID_LEN + 1];

	cr_assert_eq(tnd_ulid_gen_init(&gen), 0);
	cr_assert_eq(tnd_ulid_next(&gen, 1000, prev), 0);
	for (int i = 0; i < 10000; i++) {
		/* the same millisecond, a later one, and a clock that steps back */
		uint64_t now = i < 5000 ? 1000 : (i % 3 == 0 ? 900 : 1000 + (uint64_t)i);
		cr_assert_eq(tnd_ulid_next(&gen, now, cur), 0);
		cr_assert_eq(strlen(cur), TND_ULID_LEN);
		cr_assert_gt(strcmp(cur, prev), 0, "%s after %s", cur, prev);
		cr_assert(tnd_valid_doc_id(cur, strlen(cur)));
		memcpy(prev, cur, sizeof(cur));
	}
	tnd_ulid_gen_destroy(&gen);
}

Test(valid, collection_names_follow_the_spec_pattern)
{
	const char *good[] = {"todos", "a", "0", "a-b_c", "x123456789012345678901234567890123456789012345678901234567890123"};
	const char *bad[] = {"", "Todos", "_health", "-a", "a.b", "a/b", "a b", "ä",
			     "x1234567890123456789012345678901234567890123456789012345678901234"};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		cr_assert(tnd_valid_collection(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_not(tnd_valid_collection(bad[i], strlen(bad[i])), "%s", bad[i]);
}

Test(valid, doc_ids_follow_the_spec_pattern)
{
	char long_id[130];

	cr_assert(tnd_valid_doc_id("A_b-9", 5));
	cr_assert_not(tnd_valid_doc_id("", 0));
	cr_assert_not(tnd_valid_doc_id("a.b", 3));
	cr_assert_not(tnd_valid_doc_id("a\0b", 3));
	memset(long_id, 'a', sizeof(long_id));
	cr_assert(tnd_valid_doc_id(long_id, 128));
	cr_assert_not(tnd_valid_doc_id(long_id, 129));
}

Test(num, parses_within_bounds_and_refuses_junk)
{
	long long v = 7;

	cr_assert_eq(tnd_num_parse_str("42", 0, 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(tnd_num_parse_str("-9223372036854775808", LLONG_MIN, 0, &v), 0);
	cr_assert_eq(v, LLONG_MIN);
	cr_assert_eq(tnd_num_parse_str("9223372036854775807", 0, LLONG_MAX, &v), 0);
	cr_assert_eq(v, LLONG_MAX);
	v = 7;
	const char *bad[] = {"", "-", "+1", " 1", "1 ", "1x", "0x10", "101", "9223372036854775808", "1e3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(tnd_num_parse_str(bad[i], LLONG_MIN, i == 7 ? 100 : LLONG_MAX, &v), -1,
			     "%s", bad[i]);
	cr_assert_eq(v, 7, "a failed parse leaves the output alone");
	cr_assert_eq(tnd_num_parse("123", 2, 0, 100, &v), 0);
	cr_assert_eq(v, 12);
}

Test(seq, parses_compares_and_formats)
{
	struct tnd_seq a, b;
	char buf[TND_SEQ_STR_MAX];

	cr_assert_eq(tnd_seq_parse("1764358912123-0", 15, &a), 0);
	cr_assert_eq(tnd_seq_parse("1764358912123-10", 16, &b), 0);
	cr_assert_lt(tnd_seq_cmp(&a, &b), 0);
	cr_assert_gt(tnd_seq_cmp(&b, &a), 0);
	cr_assert_eq(tnd_seq_cmp(&a, &a), 0);
	cr_assert_str_eq(tnd_seq_format(&b, buf), "1764358912123-10");
	cr_assert_eq(tnd_seq_parse("0-0", 3, &a), 0);
	const char *bad[] = {"", "1", "-1", "1-", "1--1", "a-1", "1-1x", "18446744073709551616-0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(tnd_seq_parse(bad[i], strlen(bad[i]), &a), -1, "%s", bad[i]);
}

Test(error, body_is_spec_json_with_escaped_message)
{
	char buf[512];
	struct json_object *obj, *err, *v;

	cr_assert_gt(tnd_err_body(buf, sizeof(buf), TND_ERR_VERSION_CONFLICT, "a \"quoted\"\n\x01", 7), 0);
	obj = json_tokener_parse(buf);
	cr_assert_not_null(obj, "not JSON: %s", buf);
	cr_assert(json_object_object_get_ex(obj, "error", &err));
	json_object_object_get_ex(err, "status", &v);
	cr_assert_eq(json_object_get_int(v), 412);
	json_object_object_get_ex(err, "code", &v);
	cr_assert_str_eq(json_object_get_string(v), "version_conflict");
	json_object_object_get_ex(err, "message", &v);
	cr_assert_str_eq(json_object_get_string(v), "a \"quoted\"\n\x01");
	json_object_object_get_ex(err, "current_version", &v);
	cr_assert_eq(json_object_get_int(v), 7);
	json_object_put(obj);
}

Test(error, every_code_has_a_status_and_round_trips)
{
	cr_assert_eq(TND_ERR_INVALID_JSON, 1, "0 is never a wire error");
	for (int i = 1; i < TND_ERR__MAX; i++) {
		cr_assert_geq(tnd_err_status((enum tnd_err)i), 400);
		cr_assert_eq(tnd_err_from_code(tnd_err_code((enum tnd_err)i)), i);
	}
	cr_assert_eq(tnd_err_status(TND_ERR_STORE_UNAVAILABLE), 503);
	cr_assert_eq(tnd_err_status(TND_ERR_METHOD_NOT_ALLOWED), 405);
	cr_assert_eq(tnd_err_from_code("nope"), TND_ERR__MAX);
}

Test(error, internal_codes_are_negative_and_named)
{
	cr_assert_str_eq(tnd_strerror(0), "success");
	for (int code = -1; code > TND_E__MIN; code--) {
		cr_assert_not_null(tnd_strerror(code));
		cr_assert_str_neq(tnd_strerror(code), "unknown error", "code %d has no text", code);
	}
	cr_assert_str_eq(tnd_strerror(TND_E__MIN), "unknown error");
	cr_assert_str_eq(tnd_strerror(5), "unknown error");
}

Test(error, small_buffer_still_gets_valid_json)
{
	char buf[128];
	char msg[300];

	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	cr_assert_eq(tnd_err_body(buf, sizeof(buf), TND_ERR_INTERNAL, msg, -1), -1);
	struct json_object *obj = json_tokener_parse(buf);
	cr_assert_not_null(obj, "%s", buf);
	json_object_put(obj);
}

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
	char *argv[] = {"prog", "--count", "7", "--name=fl", NULL};

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
	char *range[] = {"prog", "--count", "101", NULL};
	char *junk[] = {"prog", "--count=7x", NULL};
	char *unknown[] = {"prog", "--nope", "1", NULL};
	char *missing[] = {"prog", "--count", NULL};
	char *check[] = {"prog", "--check-config", NULL};

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
	char *ok[] = {"prog", "--redis-url=redis://u:pw@h:7000/2", "--allowed-origins",
		      "https://a.example, http://localhost:5173", "--other=fine", NULL};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {"prog", (char *)bad[i].flag, NULL};
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

Test(keys, share_the_collection_hash_tag)
{
	char buf[TND_KEY_MAX];

	cr_assert_gt(tnd_key(buf, sizeof(buf), TND_KEY_LOG, "tandem", "todos", 5), 0);
	cr_assert_str_eq(buf, "{tandem:todos}:log");
	tnd_key(buf, sizeof(buf), TND_KEY_DOC_PREFIX, "tandem", "todos", 5);
	cr_assert_str_eq(buf, "{tandem:todos}:d:");
	tnd_key(buf, sizeof(buf), TND_KEY_META_PREFIX, "tandem", "todos", 5);
	cr_assert_str_eq(buf, "{tandem:todos}:m:");
	tnd_key(buf, sizeof(buf), TND_KEY_CHANNEL, "ns", "c", 1);
	cr_assert_str_eq(buf, "{ns:c}");
	cr_assert_eq(tnd_key(buf, 5, TND_KEY_INDEX, "ns", "c", 1), -1);
}

Test(utf8, accepts_every_well_formed_length_and_the_boundaries)
{
	static const char *const good[] = {
		"", "plain ascii", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
		"\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(tnd_utf8_valid(good[i], strlen(good[i]), NULL), "refused case %zu", i);
	cr_assert(tnd_utf8_valid("a\0b", 3, NULL), "NUL is a character");
}

Test(utf8, refuses_overlong_surrogates_too_high_truncated_and_stray)
{
	static const struct {
		const char *s;
		size_t bad_at;
	} bad[] = {
		{"x\xc0\xaf", 1},         /* overlong "/" */
		{"\xc1\xbf", 0},          /* overlong, C1 */
		{"\xe0\x9f\xbf", 0},     /* overlong 3 bytes */
		{"\xf0\x8f\xbf\xbf", 0}, /* overlong 4 bytes */
		{"ab\xed\xa0\x80", 2},    /* U+D800 */
		{"\xed\xbf\xbf", 0},     /* U+DFFF */
		{"\xf4\x90\x80\x80", 0}, /* U+110000 */
		{"\xf5\x80\x80\x80", 0},
		{"\xff", 0},
		{"abc\xe2\x82", 3},       /* truncated at the end */
		{"\xe2\x82x", 0},         /* truncated inside */
		{"a\x80", 1},              /* stray continuation */
		{"\xc3\xa9\xa9", 2},      /* one continuation too many */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t at = 999;
		cr_assert_not(tnd_utf8_valid(bad[i].s, strlen(bad[i].s), &at), "accepted case %zu", i);
		cr_assert_eq(at, bad[i].bad_at, "case %zu: bad at %zu", i, at);
	}
}

static bool collect(const char *item, size_t len, void *data)
{
	char *out = data;

	strncat(out, item, len);
	strcat(out, "|");
	return false;
}

Test(list, trims_spaces_and_tabs_and_skips_empty_elements)
{
	char out[128] = "";

	cr_assert_not(tnd_list_each(" a ,\tb\t,, ,c", collect, out));
	cr_assert_str_eq(out, "a|b|c|");
	out[0] = '\0';
	cr_assert_not(tnd_list_each(NULL, collect, out));
	cr_assert_not(tnd_list_each("", collect, out));
	cr_assert_str_eq(out, "");
	cr_assert(tnd_list_contains("http://a.example, http://b.example", "http://b.example", 16));
	cr_assert(tnd_list_contains("x,\ty", "y", 1));
	cr_assert_not(tnd_list_contains("http://a.example", "http://a.exampl", 15));
	cr_assert_not(tnd_list_contains("ab", "a", 1));
}

/* Runs one tnd_log call with stderr sent to a temp file; returns what was written. */
static char *log_line(enum tnd_log_format format, const char *msg)
{
	static char out[TND_LOG_LINE_MAX * 2];
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	cr_assert(tmp && saved >= 0);
	cr_assert_eq(dup2(fileno(tmp), 2), 2);
	tnd_log_init("tester", TND_LOG_INFO);
	tnd_log_set_format(format);
	tnd_log_warn("said %s", msg);
	tnd_log_set_format(TND_LOG_TEXT);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

Test(log, json_lines_are_one_object_even_for_hostile_text)
{
	static const char *const msgs[] = {"plain", "quote \" and \\ back", "new\nline\tand\x01",
					   "not utf-8: \xff\xc0\xaf", "caf\xc3\xa9"};
	char *line;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct json_object *obj, *v;

		line = log_line(TND_LOG_JSON, msgs[i]);
		cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1, "one line: %s", line);
		obj = json_tokener_parse(line);
		cr_assert_not_null(obj, "not JSON: %s", line);
		cr_assert(json_object_object_get_ex(obj, "level", &v));
		cr_assert_str_eq(json_object_get_string(v), "warn");
		cr_assert(json_object_object_get_ex(obj, "program", &v));
		cr_assert_str_eq(json_object_get_string(v), "tester");
		cr_assert(json_object_object_get_ex(obj, "ts", &v));
		cr_assert(json_object_object_get_ex(obj, "msg", &v));
		cr_assert_eq(strncmp(json_object_get_string(v), "said ", 5), 0);
		if (i < 3 || i == 4)
			cr_assert_str_eq(json_object_get_string(v) + 5, msgs[i]);
		json_object_put(obj);
	}
	line = log_line(TND_LOG_TEXT, "new\nline");
	cr_assert(strstr(line, "tester warn: said new\\x0aline\n"), "%s", line);
}

Test(log, long_json_lines_are_cut_but_stay_json)
{
	char big[3000];
	struct json_object *obj;
	char *line;

	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	line = log_line(TND_LOG_JSON, big);
	cr_assert_leq(strlen(line), TND_LOG_LINE_MAX + 64);
	obj = json_tokener_parse(line);
	cr_assert_not_null(obj, "not JSON: %s", line);
	json_object_put(obj);
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
