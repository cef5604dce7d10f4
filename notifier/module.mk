# tandem-notifier: the WebSocket daemon. NOTIFIER_LIB_OBJ is everything
# but main.c, so the unit tests link the same code (tests/module.mk has
# every test rule).
NOTIFIER_SRC := $(filter-out notifier/main.c,$(wildcard notifier/*.c))
NOTIFIER_LIB_OBJ := $(NOTIFIER_SRC:%.c=$(BUILD)/%.o)
NOTIFIER_LIBS := -lwebsockets -lssl -luv $(LIBS_COMMON)

$(BUILD)/tandem-notifier: $(BUILD)/notifier/main.o $(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(NOTIFIER_LIBS)

ALL_BINS += $(BUILD)/tandem-notifier

# The fan-out load client (bench/ws/run.sh drives it), on the tests' WebSocket client.
$(BUILD)/bench/ws/%.o: PROJECT_CFLAGS += -Itests/notifier/it
$(BUILD)/bench/ws-load: $(BUILD)/bench/ws/ws_load.o $(BUILD)/tests/notifier/it/wsclient.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_COMMON) -lm

ALL_BINS += $(BUILD)/bench/ws-load
