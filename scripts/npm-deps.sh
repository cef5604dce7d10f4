#!/usr/bin/env bash
# Installs the browser-test dependencies: Debian's Chromium (playwright-core
# drives it; no browser is downloaded) and the npm packages pinned in
# package-lock.json. Skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi
if [ -f package-lock.json ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; }; then
	npm ci --no-audit --no-fund
fi
