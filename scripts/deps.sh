#!/usr/bin/env bash
# Installs the Debian packages Tandem needs, when any is missing. Uses sudo
# when not root.
#
#   scripts/deps.sh                 what building and running need (make all, make run)
#   scripts/deps.sh --test          that plus what the tests and benchmarks need
#                                   (make test, make bench, .ci/run)
#   ... --check-only                install nothing: exit 1 and name what is missing
#
# Chromium and the npm packages of the browser tests come from
# scripts/npm-deps.sh.
set -euo pipefail

# Build and run the stack: compilers, the libraries the programs link,
# and the servers `make run` starts (curl is its health probe).
RUN_PACKAGES=(
	build-essential pkg-config
	libfcgi-dev libfcgi-bin spawn-fcgi libhiredis-dev libjson-c-dev libjwt-dev libssl-dev
	libwebsockets-dev libwebsockets-evlib-uv libuv1-dev
	redis-server nginx curl
)
# Tests and benchmarks only: Criterion + libcurl for the suites, valgrind,
# nginx's nchan module, wrk, and clang/LLVM 14 for the fuzz harnesses
# (libFuzzer runtime, llvm-profdata/llvm-cov for coverage); the openssl CLI
# (throwaway certificates), ss (iproute2) and ps/pgrep (procps) the tests use.
TEST_PACKAGES=(
	libcriterion-dev libcurl4-openssl-dev valgrind libnginx-mod-nchan wrk
	clang-14 libclang-rt-14-dev llvm-14
	openssl iproute2 procps
)

test=0 check_only=0
for arg in "$@"; do
	case $arg in
	--test) test=1 ;;
	--check-only) check_only=1 ;;
	*) echo "usage: $0 [--test] [--check-only]" >&2; exit 2 ;;
	esac
done

packages=("${RUN_PACKAGES[@]}")
[ $test -eq 1 ] && packages+=("${TEST_PACKAGES[@]}")

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ $check_only -eq 1 ] && { echo "missing: ${missing[*]}"; exit 1; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
