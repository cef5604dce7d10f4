/*
 * stack_suite: the main() of an integration suite that runs every test
 * against one stack (tests/support/stack.h): Criterion's arguments, the
 * stack started with env and exported to the forked tests, the tests run,
 * the stack stopped. TANDEM_TEST_KEEP_LOGS=<dir> copies the stack's logs
 * there before it goes.
 */
#ifndef STACK_SUITE_H
#define STACK_SUITE_H

#include "stack.h"

/* Returns main's exit status: 0 when every test passed and the stack stopped cleanly. */
int stack_suite_main(struct stack *s, const char *const *env, int argc, char *argv[]);

#endif
