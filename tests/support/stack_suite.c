/*
 * stack_suite: see stack_suite.h.
 */
#include "stack_suite.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static void keep_logs(const struct stack *s)
{
	const char *to = getenv("TANDEM_TEST_KEEP_LOGS");
	char cmd[1024];

	if (!to)
		return;
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s'/*.log '%s'/ 2>/dev/null", to, s->dir, to);
	if (system(cmd) != 0)
		fprintf(stderr, "could not copy the logs to %s\n", to);
}

int stack_suite_main(struct stack *s, const char *const *env, int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 1;

	if (criterion_handle_args(argc, argv, true) && stack_start(s, env) == 0 && stack_export(s) == 0) {
		result = !criterion_run_all_tests(tests);
		keep_logs(s);
		if (stack_stop(s) != 0) {
			fprintf(stderr, "the stack did not stop cleanly\n");
			result = 1;
		}
	}
	criterion_finalize(tests);
	return result;
}
