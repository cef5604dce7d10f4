# Every test rule of the project, one layout per program:
#
#   tests/shared/        unit tests of shared/, one file per module
#   tests/rest/unit/     unit tests of rest-fcgi/, one file per module
#   tests/rest/it/       tandem-rest over a real stack (core, auth, filters, valgrind)
#   tests/notifier/unit/ unit tests of notifier/ (the hub with fakes)
#   tests/notifier/it/   the notifier over a real stack or Redis (core, auth, TLS,
#                        the sharded subscriber, valgrind) and the WebSocket test client
#   tests/support/       the stack fixture, the HTTP client, JSON generators
#   tests/fault/         crashes, restarts, floods (docs/RELIABILITY.md)
#   tests/fuzz/          libFuzzer harnesses (their clang build: tests/fuzz/fuzz.mk)
#   tests/pkg/, tests/web/, tests/deploy/   packaging, browser, deployment checks
#
# UNIT_TEST_BINS need nothing running; INTEGRATION_TEST_BINS start the
# real stack themselves (tests/support/stack.c) with the binaries of the
# same build ($(BUILD)), so `make SANITIZE=1 test-integration` runs
# every server under ASan + UBSan.
TEST_SUPPORT_OBJ := $(BUILD)/tests/support/stack.o $(BUILD)/tests/support/stack_suite.o \
	$(BUILD)/tests/support/http.o $(BUILD)/tests/support/jsongen.o
TEST_LIBS := -lcriterion -lcurl
WS_CLIENT_OBJ := $(BUILD)/tests/notifier/it/wsclient.o
NOTIFIER_IT_SUPPORT := $(WS_CLIENT_OBJ) $(BUILD)/tests/notifier/it/it_support.o \
	$(BUILD)/tests/support/stack.o $(BUILD)/tests/support/stack_suite.o $(BUILD)/tests/support/http.o

# Tests see the programs' headers and the test helpers' (same warnings as the programs).
$(BUILD)/tests/%.o: PROJECT_CFLAGS += -Irest-fcgi -Inotifier -Itests/support -Itests/notifier/it

# --- shared/ and tandem-rest ----------------------------------------------------
UNIT_TEST_BINS += $(BUILD)/tests/rest_unit
INTEGRATION_TEST_BINS += $(BUILD)/tests/rest_integration $(BUILD)/tests/rest_auth_integration \
	$(BUILD)/tests/rest_filter_integration $(BUILD)/tests/rest_cluster_integration

$(BUILD)/tests/rest_unit: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/shared/*.c tests/rest/unit/*.c)) \
		$(BUILD)/tests/support/jsongen.o $(REST_LIB_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(REST_LIBS)

$(BUILD)/tests/rest_integration: $(BUILD)/tests/rest/it/test_rest.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

$(BUILD)/tests/rest_auth_integration: $(BUILD)/tests/rest/it/test_auth.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

$(BUILD)/tests/rest_filter_integration: $(BUILD)/tests/rest/it/test_filter.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

# tandem-rest on a Redis Cluster: spread, slot moves and a failover under
# writes, WAIT (its stack runs on scripts/run-cluster.sh). test-integration
# also runs the REST suites once more with their stacks on a cluster.
REST_CLUSTER_AGAIN := $(BUILD)/tests/rest_integration $(BUILD)/tests/rest_auth_integration \
	$(BUILD)/tests/rest_filter_integration
$(BUILD)/tests/rest_cluster_integration: $(BUILD)/tests/rest/it/test_cluster.o \
		$(BUILD)/tests/support/cluster_ops.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

# The whole stack on a cluster under load (issue 14): REST writers and a
# resuming WebSocket subscriber through nginx while the hot collection's
# slot is resharded and failed over, then its master killed (lost writes
# counted, their seqs answered reset). Two stacks of its own, ~2 min.
INTEGRATION_TEST_BINS += $(BUILD)/tests/stack_cluster_integration
$(BUILD)/tests/stack_cluster_integration: $(BUILD)/tests/rest/it/test_stack_cluster.o \
		$(BUILD)/tests/support/cluster_ops.o $(NOTIFIER_IT_SUPPORT) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

$(BUILD)/tests/rest_valgrind: $(BUILD)/tests/rest/it/valgrind_rest.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

# --- tandem-notifier ---------------------------------------------------------------
UNIT_TEST_BINS += $(BUILD)/tests/notifier_unit
INTEGRATION_TEST_BINS += $(BUILD)/tests/notifier_integration $(BUILD)/tests/notifier_auth_integration \
	$(BUILD)/tests/notifier_tls_integration $(BUILD)/tests/shard_integration \
	$(BUILD)/tests/shard_cluster_integration $(BUILD)/tests/notifier_cluster_integration \
	$(BUILD)/tests/notifier_overload_integration

$(BUILD)/tests/notifier_unit: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/notifier/unit/*.c)) \
		$(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(NOTIFIER_LIBS)

# test-integration runs these once more on a cluster stack too (skipped there,
# each with its reason printed: a single server's restart, the ACL users' tests).
NOTIFIER_CLUSTER_AGAIN := $(BUILD)/tests/notifier_integration $(BUILD)/tests/notifier_auth_integration
$(BUILD)/tests/notifier_integration: $(BUILD)/tests/notifier/it/test_notifier.o $(NOTIFIER_IT_SUPPORT) \
		$(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

# subscribe's coalesce (SPEC 5): a stack of its own whose queue caps hold a backlog past the kernel's buffers.
INTEGRATION_TEST_BINS += $(BUILD)/tests/notifier_coalesce_integration
$(BUILD)/tests/notifier_coalesce_integration: $(BUILD)/tests/notifier/it/test_coalesce.o \
		$(NOTIFIER_IT_SUPPORT) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

# Auth on sockets and the Redis ACL users: a stack of its own with auth on.
$(BUILD)/tests/notifier_auth_integration: $(BUILD)/tests/notifier/it/test_auth.o $(NOTIFIER_IT_SUPPORT) \
		$(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

# Overload degrades, it does not disconnect: 1,000 readers and a 2,000/s publisher
# (tandem-rest's store, straight into Redis) against a notifier with small
# queue caps, and the stall timer; its own redis-server, no stack.
$(BUILD)/tests/notifier_overload_integration: $(BUILD)/tests/notifier/it/test_overload.o $(WS_CLIENT_OBJ) \
		$(BUILD)/tests/support/stack.o $(BUILD)/tests/support/http.o $(REST_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(REST_LIBS)

# wss:// and https:// (TANDEM_WS_TLS_CERT/KEY): a TLS notifier next to a stack, a throwaway certificate.
$(BUILD)/tests/notifier_tls_integration: $(BUILD)/tests/notifier/it/test_tls.o \
		$(BUILD)/tests/notifier/it/wsc_tls.o $(NOTIFIER_IT_SUPPORT) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) -lssl $(LIBS_COMMON)

# notifier/ntf_shard (Redis Cluster's sharded pub/sub) against a private
# redis-server, and with shared/tnd_cluster against a real 3-master cluster
# (scripts/run-cluster.sh), slot moves and a failover.
SHARD_TEST_SUPPORT := $(BUILD)/tests/notifier/it/shard_rec.o $(BUILD)/tests/support/stack.o
CLUSTER_TEST_SUPPORT := $(SHARD_TEST_SUPPORT) $(BUILD)/tests/notifier/it/cluster_fix.o

$(BUILD)/tests/shard_integration: $(BUILD)/tests/notifier/it/test_shard.o $(SHARD_TEST_SUPPORT) \
		$(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(NOTIFIER_LIBS)

$(BUILD)/tests/shard_cluster_integration: $(BUILD)/tests/notifier/it/test_shard_cluster.o \
		$(CLUSTER_TEST_SUPPORT) $(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(NOTIFIER_LIBS)

# tandem-notifier on redis-cluster:// (notifier/ntf_cluster): live events
# and since on collections of three masters, a first subscription racing
# a writer, a slot move, a manual failover and a killed master while
# events flow, each on a fresh 3+3 cluster; events are written as the REST
# scripts do (XADD + SPUBLISH in one script on the owner).
$(BUILD)/tests/notifier_cluster_integration: $(BUILD)/tests/notifier/it/test_notifier_cluster.o \
		$(BUILD)/tests/notifier/it/cluster_fix.o $(BUILD)/tests/notifier/it/shard_rec.o \
		$(NOTIFIER_IT_SUPPORT) $(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(NOTIFIER_LIBS)

# valgrind: 1,000 connect/subscribe/close cycles with no leak (own Redis, no stack).
$(BUILD)/tests/notifier_valgrind: $(BUILD)/tests/notifier/it/valgrind_notifier.o $(WS_CLIENT_OBJ) \
		$(BUILD)/tests/support/stack.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(LIBS_COMMON)

# --- fault tests --------------------------------------------------------------------
# The real stack under load while Redis, a worker pool, a worker process or
# a notifier is killed, restarted or flooded. Plain build only: the flood
# test measures RSS and fds, which ASan and valgrind would distort.
FAULT_TEST_BIN := $(BUILD)/tests/fault_tests

$(FAULT_TEST_BIN): $(BUILD)/tests/fault/test_fault.o $(BUILD)/tests/fault/fault_support.o \
		$(NOTIFIER_IT_SUPPORT) $(BUILD)/tests/support/jsongen.o $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

# --- running them ---------------------------------------------------------------------
# Sanitizer reports must fail the run, not scroll by.
export ASAN_OPTIONS ?= abort_on_error=0:halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: test-fault test-pkg test-cluster-valgrind

test-unit: build-all $(UNIT_TEST_BINS)
	@for t in $(UNIT_TEST_BINS); do echo "== $$t"; $$t --jobs 2 || exit 1; done

test-integration: build-all $(INTEGRATION_TEST_BINS)
	@for t in $(INTEGRATION_TEST_BINS); do echo "== $$t"; TANDEM_BIN_DIR=$(BUILD) $$t --jobs 1 || exit 1; done
	@for t in $(REST_CLUSTER_AGAIN) $(NOTIFIER_CLUSTER_AGAIN); do echo "== $$t on a Redis Cluster"; \
		TANDEM_STACK_REDIS=cluster TANDEM_BIN_DIR=$(BUILD) $$t --jobs 1 || exit 1; done

# Each suite once normally, once under ASan + UBSan, then valgrind.
test: deps-check-test
	$(MAKE) test-unit test-integration
	$(MAKE) SANITIZE=1 test-unit test-integration
	$(MAKE) test-valgrind
	$(MAKE) test-fault
	$(MAKE) test-fuzz
	$(MAKE) test-deploy
	@if [ -f tests/web/run.sh ]; then $(MAKE) test-web; fi
	$(MAKE) test-pkg

# compose, Dockerfile, nginx configs, systemd units, OpenAPI lint, the live
# contract test against docs/openapi.yaml, and the scale-out proof.
test-deploy: build-all
	TANDEM_BIN_DIR=$(BUILD) tests/deploy/run.sh

# valgrind: the REST worker serving requests (on one Redis, then on a
# cluster), the notifier's connect cycles,
# and every shard test (criterion's test processes are traced, the
# redis-servers are not); any error or definite/indirect leak fails.
test-valgrind: build-all $(BUILD)/tests/rest_valgrind $(BUILD)/tests/notifier_valgrind test-cluster-valgrind
	TANDEM_BIN_DIR=$(BUILD) $(BUILD)/tests/rest_valgrind --jobs 1
	TANDEM_STACK_REDIS=cluster TANDEM_BIN_DIR=$(BUILD) $(BUILD)/tests/rest_valgrind --jobs 1
	TANDEM_BIN_DIR=$(BUILD) $(BUILD)/tests/notifier_valgrind

# The cluster notifier test traces tandem-notifier too (a valgrind error
# makes it exit 99, which the test's SIGTERM check reports).
test-cluster-valgrind: build-all $(BUILD)/tests/shard_integration $(BUILD)/tests/notifier_cluster_integration
	valgrind -q --trace-children=yes --trace-children-skip='*redis-server*,/bin/*,/usr/bin/*' \
		--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		$(BUILD)/tests/shard_integration --jobs 1
	TANDEM_BIN_DIR=$(BUILD) valgrind -q --trace-children=yes \
		--trace-children-skip='*redis-server*,*redis-cli*,/bin/*,/usr/bin/*' \
		--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		$(BUILD)/tests/notifier_cluster_integration --jobs 1

test-fault: build-all $(FAULT_TEST_BIN)
	TANDEM_BIN_DIR=$(BUILD) $(FAULT_TEST_BIN) --jobs 1

# Packaging (issue 13): make install into a DESTDIR, the Debian package
# (build, lintian, dpkg -x, the stack run from the extracted files),
# --version everywhere, the man pages, backup and restore.
test-pkg: build-all man
	TANDEM_BIN_DIR=$(BUILD) tests/pkg/run.sh

test-web: build-all
	@scripts/npm-deps.sh
	tests/web/run.sh
