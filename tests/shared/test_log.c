/*
 * Unit tests of shared/tnd_log.
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
