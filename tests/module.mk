# Criterion test binaries and the targets that run them.
#
# UNIT_TEST_BINS need nothing running; INTEGRATION_TEST_BINS start the
# real stack themselves (tests/support/stack.c) with the binaries of the
# same build ($(BUILD)), so `make SANITIZE=1 test-integration` runs
# every server under ASan + UBSan.
TEST_SUPPORT_OBJ := $(BUILD)/tests/support/stack.o $(BUILD)/tests/support/http.o \
	$(BUILD)/tests/support/jsongen.o
TEST_LIBS := -lcriterion -lcurl

# Tests see the programs' headers; argv-style string tables stay readable.
$(BUILD)/tests/%.o: PROJECT_CFLAGS += -Irest-fcgi -Inotifier -Itests/support -Wno-discarded-qualifiers

UNIT_TEST_BINS += $(BUILD)/tests/rest_unit
INTEGRATION_TEST_BINS += $(BUILD)/tests/rest_integration $(BUILD)/tests/rest_auth_integration \
	$(BUILD)/tests/rest_filter_integration

$(BUILD)/tests/rest_unit: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/unit/*.c)) \
		$(BUILD)/tests/support/jsongen.o $(REST_LIB_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(REST_LIBS)

$(BUILD)/tests/rest_integration: $(BUILD)/tests/integration/test_rest.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

$(BUILD)/tests/rest_auth_integration: $(BUILD)/tests/integration/test_rest_auth.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

$(BUILD)/tests/rest_filter_integration: $(BUILD)/tests/integration/test_rest_filter.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

$(BUILD)/tests/rest_valgrind: $(BUILD)/tests/integration/test_rest_valgrind.o $(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

include tests/pkg/module.mk

# Sanitizer reports must fail the run, not scroll by.
export ASAN_OPTIONS ?= abort_on_error=0:halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

test-unit: build-all $(UNIT_TEST_BINS)
	@for t in $(UNIT_TEST_BINS); do echo "== $$t"; $$t --jobs 2 || exit 1; done

test-integration: build-all $(INTEGRATION_TEST_BINS)
	@for t in $(INTEGRATION_TEST_BINS); do echo "== $$t"; TANDEM_BIN_DIR=$(BUILD) $$t --jobs 1 || exit 1; done

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

test-valgrind: build-all $(BUILD)/tests/rest_valgrind $(BUILD)/tests/notifier_valgrind
	TANDEM_BIN_DIR=$(BUILD) $(BUILD)/tests/rest_valgrind --jobs 1
	TANDEM_BIN_DIR=$(BUILD) $(BUILD)/tests/notifier_valgrind

test-web: build-all
	@scripts/npm-deps.sh
	tests/web/run.sh
include tests/fault/fault.mk
