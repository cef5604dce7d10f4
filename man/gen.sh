#!/bin/sh
# Builds a manual page from man/<page>.in: @VERSION@ becomes the version,
# and a line holding only @OPTIONS@ becomes what `<program> --man` prints
# (the OPTIONS and ENVIRONMENT sections, from the program's own options
# table), so the page lists exactly the options the program accepts.
# Usage: man/gen.sh PAGE.in VERSION [PROGRAM]   (the page on stdout)
set -eu
in=$1 version=$2 program=${3:-}
opts=
if [ -n "$program" ]; then
	opts=$(mktemp)
	trap 'rm -f "$opts"' EXIT
	"$program" --man >"$opts"
	[ -s "$opts" ] || { echo "gen.sh: $program --man printed nothing" >&2; exit 1; }
	grep -qx '@OPTIONS@' "$in" || { echo "gen.sh: $in has no @OPTIONS@ line" >&2; exit 1; }
fi
while IFS= read -r line || [ -n "$line" ]; do
	if [ "$line" = "@OPTIONS@" ] && [ -n "$opts" ]; then
		cat "$opts"
	else
		printf '%s\n' "$line" | sed "s/@VERSION@/$version/g"
	fi
done <"$in"
