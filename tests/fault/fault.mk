# Fault tests (tests/fault): the real stack under load while Redis, a
# worker pool, a worker process or a notifier is killed, restarted or
# flooded. Plain build only: the flood test measures RSS and fds, which
# ASan and valgrind would distort. docs/RELIABILITY.md describes each test.
.PHONY: test-fault

$(BUILD)/tests/fault/%.o: PROJECT_CFLAGS += -Itests/notifier

FAULT_TEST_BIN := $(BUILD)/tests/fault_tests

$(FAULT_TEST_BIN): $(BUILD)/tests/fault/test_fault.o $(BUILD)/tests/fault/fault_support.o \
		$(BUILD)/tests/notifier/it_support.o $(BUILD)/tests/notifier/wsclient.o \
		$(TEST_SUPPORT_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS_COMMON)

test-fault: build-all $(FAULT_TEST_BIN)
	TANDEM_BIN_DIR=$(BUILD) $(FAULT_TEST_BIN) --jobs 1
