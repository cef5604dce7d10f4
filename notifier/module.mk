# tandem-notifier: the WebSocket daemon. NOTIFIER_LIB_OBJ is everything
# but main.c, so the unit tests link the same code.
NOTIFIER_SRC := $(filter-out notifier/main.c,$(wildcard notifier/*.c))
NOTIFIER_LIB_OBJ := $(NOTIFIER_SRC:%.c=$(BUILD)/%.o)
NOTIFIER_LIBS := -lwebsockets -lssl -luv $(LIBS_COMMON)

$(BUILD)/tandem-notifier: $(BUILD)/notifier/main.o $(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(NOTIFIER_LIBS)

ALL_BINS += $(BUILD)/tandem-notifier

# Tests: unit (no servers) and integration (the whole stack).
NOTIFIER_UNIT_SRC := $(wildcard tests/notifier/test_unit_*.c)
NOTIFIER_UNIT_OBJ := $(NOTIFIER_UNIT_SRC:%.c=$(BUILD)/%.o)
NOTIFIER_IT_SRC := $(wildcard tests/notifier/test_it_*.c) tests/notifier/wsclient.c \
	tests/notifier/it_support.c
NOTIFIER_IT_OBJ := $(NOTIFIER_IT_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/tests/notifier_unit: $(NOTIFIER_UNIT_OBJ) $(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(NOTIFIER_LIBS)

$(BUILD)/tests/notifier_integration: $(NOTIFIER_IT_OBJ) $(BUILD)/tests/support/stack.o $(BUILD)/tests/support/http.o $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion -lcurl $(LIBS_COMMON)

# Auth on sockets and the Redis ACL users: a stack of its own with auth on.
$(BUILD)/tests/notifier_auth_integration: $(BUILD)/tests/notifier/auth_it.o $(BUILD)/tests/notifier/wsclient.o \
		$(BUILD)/tests/notifier/it_support.o $(BUILD)/tests/support/stack.o $(BUILD)/tests/support/http.o $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion -lcurl $(LIBS_COMMON)

# wss:// and https:// (TANDEM_WS_TLS_CERT/KEY): a TLS notifier next to a stack, a throwaway certificate.
$(BUILD)/tests/notifier_tls_integration: $(BUILD)/tests/notifier/tls_it.o $(BUILD)/tests/notifier/wsc_tls.o \
		$(BUILD)/tests/notifier/wsclient.o $(BUILD)/tests/notifier/it_support.o \
		$(BUILD)/tests/support/stack.o $(BUILD)/tests/support/http.o $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion -lcurl -lssl $(LIBS_COMMON)

UNIT_TEST_BINS += $(BUILD)/tests/notifier_unit
INTEGRATION_TEST_BINS += $(BUILD)/tests/notifier_integration $(BUILD)/tests/notifier_auth_integration \
	$(BUILD)/tests/notifier_tls_integration

# The fan-out load client (bench/ws/run.sh drives it).
$(BUILD)/bench/ws/%.o: PROJECT_CFLAGS += -Itests/notifier
$(BUILD)/bench/ws-load: $(BUILD)/bench/ws/ws_load.o $(BUILD)/tests/notifier/wsclient.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_COMMON) -lm

ALL_BINS += $(BUILD)/bench/ws-load

# valgrind: 1,000 connect/subscribe/close cycles with no leak (own Redis, no stack).
$(BUILD)/tests/notifier_valgrind: $(BUILD)/tests/notifier/valgrind_notifier.o $(BUILD)/tests/notifier/wsclient.o \
		$(BUILD)/tests/support/stack.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(LIBS_COMMON)
