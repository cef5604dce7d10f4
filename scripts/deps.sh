#!/usr/bin/env bash
# Installs the Debian packages Tandem builds, runs and tests with, when
# any is missing. Uses sudo when not root. --check-only: exit 1 if missing.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config
	libfcgi-dev libfcgi-bin spawn-fcgi libhiredis-dev libjson-c-dev
	libwebsockets-dev libwebsockets-evlib-uv libuv1-dev
	redis-server nginx libnginx-mod-nchan
	libcriterion-dev libcurl4-openssl-dev valgrind
	curl wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "${1:-}" = "--check-only" ] && { echo "missing: ${missing[*]}"; exit 1; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
