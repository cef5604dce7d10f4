# Benchmarks (`make bench` runs bench/run.sh; see docs/PERFORMANCE.md).
# hello-fcgi is the trivial libfcgi worker the REST benchmark measures as
# the ceiling for any FastCGI backend on the machine.
$(BUILD)/bench/hello-fcgi: $(BUILD)/bench/rest/hello-fcgi.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lfcgi -lpthread

ALL_BINS += $(BUILD)/bench/hello-fcgi
