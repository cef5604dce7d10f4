# libFuzzer harnesses (tests/fuzz/README.md). Included from the top Makefile.
#
# Everything builds into build/fuzz/ with clang-14: the project sources the
# harnesses reach are compiled again there with the fuzz flags (never the
# gcc objects of $(BUILD)). build/fuzz/cov/ holds a source-coverage variant.
#
#   make fuzz            each harness FUZZ_SECONDS (default 60), one at a time, niced
#   make test-fuzz       each harness FUZZ_TEST_SECONDS (default 5) + tests/fuzz/regress/ replay
#   make fuzz-coverage   llvm-cov line coverage of our files over seeds + grown corpus

FUZZ_CC ?= clang-14
FUZZ_PROFDATA ?= llvm-profdata-14
FUZZ_COV ?= llvm-cov-14
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 5
FUZZ_NICE ?= 19
FUZZ_B := build/fuzz

FUZZ_HARNESSES := router json ws_msg event config jwt filter
FUZZ_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_B)/fuzz_%)
FUZZ_COV_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_B)/cov/fuzz_%)

# The code under test: shared/, the REST parsers, the notifier without main.c.
FUZZ_LIB_SRC := $(wildcard shared/*.c) rest-fcgi/rest_router.c rest-fcgi/rest_json.c \
	$(filter-out notifier/main.c,$(wildcard notifier/*.c))
FUZZ_LIBS := $(shell pkg-config --libs hiredis json-c libjwt libssl libcrypto 2>/dev/null) -lwebsockets -luv -lm -lpthread

# No -Werror on code others own: a clang-only warning must not stop make test.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings \
	-MMD -MP -Ishared -Irest-fcgi -Inotifier -Itests/fuzz \
	$(shell pkg-config --cflags hiredis json-c libjwt libcrypto 2>/dev/null)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_COVFLAGS := -fprofile-instr-generate -fcoverage-mapping

.PHONY: fuzz test-fuzz fuzz-build fuzz-coverage
# pkg.mk passes the version to tnd_version.c in the main build; any text does here.
$(FUZZ_B)/obj/shared/tnd_version.o $(FUZZ_B)/cov/obj/shared/tnd_version.o: FUZZ_CFLAGS += -DTND_VERSION='"fuzz"'
.SECONDARY: $(FUZZ_HARNESSES:%=$(FUZZ_B)/obj/tests/fuzz/fuzz_%.o) \
	$(FUZZ_HARNESSES:%=$(FUZZ_B)/cov/obj/tests/fuzz/fuzz_%.o)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@

$(FUZZ_B)/cov/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_COVFLAGS) -c $< -o $@

$(FUZZ_B)/libtandem-fuzz.a: $(FUZZ_LIB_SRC:%.c=$(FUZZ_B)/obj/%.o)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_B)/cov/libtandem-fuzz.a: $(FUZZ_LIB_SRC:%.c=$(FUZZ_B)/cov/obj/%.o)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/tests/fuzz/fuzz_%.o $(FUZZ_B)/libtandem-fuzz.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

$(FUZZ_B)/cov/fuzz_%: $(FUZZ_B)/cov/obj/tests/fuzz/fuzz_%.o $(FUZZ_B)/cov/libtandem-fuzz.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_COVFLAGS) -o $@ $^ $(FUZZ_LIBS)

# One fuzzer at a time: each wants a whole core.
fuzz: $(FUZZ_BINS)
	@for h in $(FUZZ_HARNESSES); do \
		nice -n $(FUZZ_NICE) tests/fuzz/run.sh fuzz $$h $(FUZZ_SECONDS) || exit 1; \
	done

test-fuzz: $(FUZZ_BINS)
	@for h in $(FUZZ_HARNESSES); do \
		tests/fuzz/run.sh test $$h $(FUZZ_TEST_SECONDS) || exit 1; \
	done

# Our files only (json-c, hiredis and libwebsockets are not instrumented
# anyway): the parsers the harnesses aim at, then (report-all.txt) every
# project file linked in, most of which (hub, WebSocket loop) no harness reaches.
FUZZ_COV_SRC := rest-fcgi/rest_router.c rest-fcgi/rest_json.c notifier/ntf_proto.c \
	notifier/ntf_msg.c shared/tnd_config.c shared/tnd_redis.c shared/tnd_num.c \
	shared/tnd_valid.c shared/tnd_seq.c shared/tnd_error.c shared/tnd_utf8.c shared/tnd_list.c \
	shared/tnd_auth.c
FUZZ_COV_OBJECTS = $(firstword $(FUZZ_COV_BINS)) $(patsubst %,-object=%,$(wordlist 2,99,$(FUZZ_COV_BINS)))

fuzz-coverage: export FUZZ_PROFDATA := $(FUZZ_PROFDATA)
fuzz-coverage: export FUZZ_COV := $(FUZZ_COV)
fuzz-coverage: $(FUZZ_COV_BINS)
	@for h in $(FUZZ_HARNESSES); do tests/fuzz/run.sh cov $$h - $(FUZZ_COV_SRC) || exit 1; done
	$(FUZZ_PROFDATA) merge -sparse -o $(FUZZ_B)/cov/all.profdata $(FUZZ_B)/cov/*-*.profraw
	$(FUZZ_COV) report $(FUZZ_COV_OBJECTS) -instr-profile=$(FUZZ_B)/cov/all.profdata \
		$(FUZZ_LIB_SRC) >$(FUZZ_B)/cov/report-all.txt
	$(FUZZ_COV) report $(FUZZ_COV_OBJECTS) -instr-profile=$(FUZZ_B)/cov/all.profdata \
		$(FUZZ_COV_SRC) | tee $(FUZZ_B)/cov/report.txt
