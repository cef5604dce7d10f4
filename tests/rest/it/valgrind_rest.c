/*
 * A tandem-rest worker under valgrind (memcheck, full leak check) serves
 * 1,000 requests of every kind through nginx, then stops with SIGTERM;
 * valgrind must report no error and no leak.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "stack.h"

static int count_in_file(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static void one_round(const struct stack *s, int i)
{
	static const char *const json[] = {"Content-Type: application/json", NULL};
	struct http_response res;
	char url[512], body[128];

	switch (i % 8) {
	case 0:
		snprintf(url, sizeof(url), "%s/api/v1/vg", s->base_url);
		snprintf(body, sizeof(body), "{\"i\":%d,\"a\":[1,{\"b\":null}]}", i);
		http_request("POST", url, json, body, strlen(body), &res);
		break;
	case 1:
		snprintf(url, sizeof(url), "%s/api/v1/vg/d%d", s->base_url, i % 50);
		http_request("PUT", url, json, "{\"x\":1}", 7, &res);
		break;
	case 2:
		snprintf(url, sizeof(url), "%s/api/v1/vg/d%d", s->base_url, (i - 1) % 50);
		http_request("PATCH", url, json, "{\"y\":{\"z\":2},\"x\":null}", 22, &res);
		break;
	case 3:
		snprintf(url, sizeof(url), "%s/api/v1/vg?limit=20", s->base_url);
		http_request("GET", url, NULL, NULL, 0, &res);
		break;
	case 4:
		snprintf(url, sizeof(url), "%s/api/v1/vg/d%d", s->base_url, (i - 3) % 50);
		http_request("GET", url, NULL, NULL, 0, &res);
		break;
	case 5:
		snprintf(url, sizeof(url), "%s/api/v1/vg", s->base_url);
		http_request("POST", url, json, "{\"bad\":", 7, &res);
		break;
	case 6:
		snprintf(url, sizeof(url), "%s/api/v1/Bad/x", s->base_url);
		http_request("GET", url, NULL, NULL, 0, &res);
		break;
	default:
		snprintf(url, sizeof(url), "%s/api/v1/vg/d%d", s->base_url, (i - 6) % 50);
		http_request("DELETE", url, NULL, NULL, 0, &res);
		break;
	}
	cr_assert_neq(res.status, 0);
	cr_assert_lt(res.status, 500, "request %d: %ld %s", i, res.status, res.body);
	http_response_free(&res);
}

/* The test's stack; .fini stops it when an assertion ends the test early. */
static struct stack s;

static void stop_stack(void)
{
	if (s.pid > 0)
		stack_stop(&s);
}

Test(valgrind, worker_serves_1000_requests_without_leak, .timeout = 900, .fini = stop_stack)
{
	char vg_log[128], wrapper[512];
	const char *env[3];

	snprintf(vg_log, sizeof(vg_log), "/tmp/tandem-valgrind-%d.log", (int)getpid());
	snprintf(wrapper, sizeof(wrapper),
		 "TANDEM_REST_WRAPPER=valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible "
		 "--errors-for-leak-kinds=definite,indirect,possible --log-file=%s",
		 vg_log);
	env[0] = wrapper;
	env[1] = "TANDEM_THREADS=4";
	env[2] = NULL;
	cr_assert_eq(stack_start(&s, env), 0);
	for (int i = 0; i < 1000; i++)
		one_round(&s, i);
	cr_assert_eq(stack_stop(&s), 0);
	FILE *f = fopen(vg_log, "r");
	cr_assert_not_null(f, "valgrind wrote no log");
	char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	cr_assert_eq(count_in_file(vg_log, "ERROR SUMMARY"), 0, "valgrind reported:\n%s", text);
	cr_assert_eq(count_in_file(vg_log, "definitely lost"), 0, "valgrind reported:\n%s", text);
	cr_assert_eq(count_in_file(vg_log, "Invalid"), 0, "valgrind reported:\n%s", text);
	cr_assert_eq(n, 0, "valgrind --quiet printed:\n%s", text);
	remove(vg_log);
}
