# Benchmarks (`make bench` runs bench/run.sh; see docs/PERFORMANCE.md).
# hello-fcgi is the trivial libfcgi worker the REST benchmark measures as
# the ceiling for any FastCGI backend on the machine.
$(BUILD)/bench/hello-fcgi: $(BUILD)/bench/rest/hello-fcgi.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lfcgi -lpthread

ALL_BINS += $(BUILD)/bench/hello-fcgi

# The outbound queue's cost with and without coalescing (docs/PERFORMANCE.md).
$(BUILD)/bench/queue-bench: $(BUILD)/bench/queue/queue_bench.o $(BUILD)/notifier/ntf_queue.o \
		$(BUILD)/notifier/ntf_msg.o $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_COMMON)

$(BUILD)/bench/queue/%.o: PROJECT_CFLAGS += -Inotifier
ALL_BINS += $(BUILD)/bench/queue-bench
