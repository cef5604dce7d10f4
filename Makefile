# Tandem: build, test, run. `make help` lists the targets.
#
# Project flags stay apart from the user's CPPFLAGS/CFLAGS/LDFLAGS (all
# honoured, so dpkg-buildflags hardening reaches every object). SANITIZE=1
# builds everything with ASan + UBSan into build/san/ so both builds can
# live side by side.

CC ?= cc
WERROR ?= -Werror
SANITIZE ?= 0

ifeq ($(SANITIZE),1)
BUILD := build/san
OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build
OPT := -O2 -g
endif

PKGS := hiredis json-c libjwt libcrypto
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings $(WERROR)
PROJECT_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -MMD -MP -Ishared \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PROJECT_LDFLAGS := $(filter -fsanitize=%,$(OPT))
LIBS_COMMON := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

ALL_CFLAGS = $(PROJECT_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(PROJECT_LDFLAGS) $(LDFLAGS)

.PHONY: all build-all deps deps-test deps-check deps-check-test test test-unit test-integration test-san test-valgrind test-deploy test-web run bench clean help

ALL_BINS :=
UNIT_TEST_BINS :=
INTEGRATION_TEST_BINS :=

all: deps-check build-all

# --- shared library -------------------------------------------------------
SHARED_SRC := $(wildcard shared/*.c)
SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/%.o)
LIBTANDEM := $(BUILD)/libtandem.a

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBTANDEM): $(SHARED_OBJ)
	$(AR) rcs $@ $^

# --- programs ----------------------------------------------------------------
include rest-fcgi/module.mk
-include notifier/module.mk
include cluster.mk
include token/module.mk
include tests/module.mk
-include bench/module.mk
include pkg.mk
-include tests/fuzz/fuzz.mk

# --- dependencies ------------------------------------------------------------
# scripts/deps.sh installs what is missing (apt-get; sudo when not root):
# alone what building and running need, with --test also what the tests and
# benchmarks need.
deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

deps-check:
	@scripts/deps.sh --check-only >/dev/null 2>&1 || scripts/deps.sh

deps-check-test:
	@scripts/deps.sh --test --check-only >/dev/null 2>&1 || scripts/deps.sh --test

# --- running -----------------------------------------------------------------
run: deps-check all
	@scripts/run-stack.sh

bench: deps-check-test all
	@bench/run.sh

clean:
	rm -rf build

help:
	@echo "make run        start Redis, the REST workers, the notifier and nginx on localhost"
	@echo "make test       build and run every test (unit, integration, sanitizers, valgrind)"
	@echo "make bench      run the benchmarks (see docs/PERFORMANCE.md)"
	@echo "make fuzz       run each libFuzzer harness FUZZ_SECONDS (see tests/fuzz/README.md)"
	@echo "make SANITIZE=1 build with AddressSanitizer + UBSan into build/san/"

build-all: $(ALL_BINS)

-include $(shell find build -name '*.d' 2>/dev/null)
