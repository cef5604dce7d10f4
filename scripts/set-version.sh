#!/usr/bin/env bash
# Sets the project's version everywhere it must be written down: VERSION
# (the one source the build reads), package.json, package-lock.json and
# web/package.json (the browser client), and a new debian/changelog entry.
# Usage: scripts/set-version.sh 0.3.0 ["changelog line"]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
v=${1:?usage: set-version.sh VERSION [changelog line]}
msg=${2:-New upstream version $v.}
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "set-version: $v is not X.Y.Z" >&2; exit 1; }
cd "$ROOT"
echo "$v" >VERSION
node -e '
const fs = require("fs"), v = process.argv[1];
const pj = JSON.parse(fs.readFileSync("package.json", "utf8"));
pj.version = v;
fs.writeFileSync("package.json", JSON.stringify(pj, null, 2) + "\n");
if (fs.existsSync("web/package.json")) {
	const wp = JSON.parse(fs.readFileSync("web/package.json", "utf8"));
	wp.version = v;
	fs.writeFileSync("web/package.json", JSON.stringify(wp, null, 2) + "\n");
}
const pl = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
pl.version = v;
if (pl.packages && pl.packages[""]) pl.packages[""].version = v;
fs.writeFileSync("package-lock.json", JSON.stringify(pl, null, 2) + "\n");
' "$v"
if ! head -1 debian/changelog | grep -q "^tandem ($v-"; then
	maint=$(sed -n 's/^Maintainer: //p' debian/control)
	{
		printf 'tandem (%s-1) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n\n' \
			"$v" "$msg" "$maint" "$(date -R)"
		cat debian/changelog
	} >debian/changelog.new
	mv debian/changelog.new debian/changelog
fi
echo "version $v: VERSION, package.json, package-lock.json, web/package.json, debian/changelog"
