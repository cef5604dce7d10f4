#!/usr/bin/env bash
# `make deb`: builds the Debian packages (dpkg-buildpackage -us -uc -b) from
# a copy of this tree in a temp dir, so the package build's clean step never
# touches build/ here, and puts the .deb, .buildinfo and .changes files in
# OUT (default build/deb). Needs debhelper and the Build-Depends of
# debian/control (scripts/deps.sh has them all but debhelper).
# Usage: scripts/make-deb.sh [OUT]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-build/deb}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
VERSION=$(cat "$ROOT/VERSION")

command -v dpkg-buildpackage >/dev/null || { echo "make-deb: dpkg-buildpackage is missing (apt-get install dpkg-dev)" >&2; exit 1; }
command -v dh >/dev/null || { echo "make-deb: debhelper is missing (apt-get install debhelper)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/tandem-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/tandem-$VERSION
mkdir -p "$SRC"
# Everything but build output, dependencies and VCS data.
tar -C "$ROOT" --exclude=./build --exclude=./var --exclude=./node_modules \
	--exclude=./tools/openapi/node_modules --exclude=./.git \
	-cf - . | tar -C "$SRC" -xf -
# The calling make's flags (-s, -j and its jobserver) are not the package build's.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
(cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 || {
	tail -n 60 "$WORK/build.log" >&2
	echo "make-deb: dpkg-buildpackage failed (the last 60 lines above)" >&2
	exit 1
}
mkdir -p "$OUT"
rm -f "$OUT"/*.deb "$OUT"/*.buildinfo "$OUT"/*.changes
mv "$WORK"/*.deb "$WORK"/*.buildinfo "$WORK"/*.changes "$OUT"/
cp "$WORK/build.log" "$OUT/build.log"
ls -1 "$OUT"/*.deb
