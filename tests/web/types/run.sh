#!/usr/bin/env bash
# The client as a package (web/package.json, @tandem/client):
#   1. tests/web/types/example.ts type-checks against web/tandem.d.ts with
#      `tsc --noEmit --strict` (typescript pinned in the root package.json);
#   2. tandem.d.ts declares exactly what tandem.js exports (check-exports.mjs);
#   3. web/package.json and the root package.json carry the same version;
#   4. `npm pack web/` makes a tarball holding only package.json, tandem.js
#      and tandem.d.ts; a fresh project installs it with `npm install
#      --offline <tarball>` (no registry), imports it from Node and makes a
#      call, and type-checks example.ts (with the DOM library) and
#      example-node.ts (without) against the installed package.
# Run from anywhere after `npm ci`; exits non-zero at the first failure.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
TSC=$ROOT/node_modules/.bin/tsc

if [ ! -x "$TSC" ]; then
	echo "tests/web/types/run.sh: $TSC is missing: run 'npm ci' first" >&2
	exit 1
fi

echo "-- tsc --noEmit --strict: tests/web/types/example.ts against web/tandem.d.ts ($("$TSC" --version))"
"$TSC" -p tests/web/types/tsconfig.json --noEmit --strict

echo "-- web/tandem.d.ts declares what web/tandem.js exports"
node tests/web/types/check-exports.mjs

echo "-- versions"
root_version=$(node -p 'require("./package.json").version')
pkg_name=$(node -p 'require("./web/package.json").name')
pkg_version=$(node -p 'require("./web/package.json").version')
if [ "$root_version" != "$pkg_version" ]; then
	echo "web/package.json has version $pkg_version, package.json $root_version: keep them equal" >&2
	exit 1
fi
echo "$pkg_name $pkg_version"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-pack.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "-- npm pack web/"
npm pack ./web --pack-destination "$WORK" --json --loglevel=error >"$WORK/pack.json"
tarball=$WORK/$(node -p 'require(process.argv[1])[0].filename' "$WORK/pack.json")
files=$(node -p 'require(process.argv[1])[0].files.map((f) => f.path).sort().join(" ")' "$WORK/pack.json")
echo "$(basename "$tarball"): $files"
if [ "$files" != "package.json tandem.d.ts tandem.js" ]; then
	echo "the tarball should hold package.json, tandem.d.ts and tandem.js only" >&2
	exit 1
fi

echo "-- npm install --offline <tarball> into a fresh project"
APP=$WORK/app
mkdir -p "$APP"
cat >"$APP/package.json" <<JSON
{ "name": "tandem-pack-test", "version": "1.0.0", "private": true, "type": "module" }
JSON
(cd "$APP" && npm install --offline --no-audit --no-fund --loglevel=error "$tarball")

echo "-- import it from Node"
cat >"$APP/smoke.mjs" <<'JS'
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createClient, Client, Collection, LiveView, TandemError, metaOf, compareSeq } from '@tandem/client';

const pkg = createRequire(import.meta.url)('@tandem/client/package.json');
assert.equal(pkg.version, process.argv[2]);
assert.equal(typeof Client, 'function');
assert.equal(typeof LiveView, 'function');
assert.equal(compareSeq('9-0', '10-0'), -1);

// One REST round trip through an injected fetch, and one error.
const answers = [
  { status: 200, body: '{"id":"a","version":3,"created_at":"x","updated_at":"x","title":"Buy milk"}', headers: { ETag: '"3"', 'Tandem-Seq': '5-0' } },
  { status: 412, body: '{"error":{"status":412,"code":"already_exists","message":"exists","current_version":3}}', headers: {} },
];
const fetch = async () => {
  const a = answers.shift();
  return new Response(a.body, { status: a.status, headers: a.headers });
};
const client = createClient({ baseUrl: 'http://127.0.0.1:1', fetch });
const todos = client.collection('todos');
assert.ok(todos instanceof Collection);
const doc = await todos.get('a');
assert.equal(doc.title, 'Buy milk');
assert.deepEqual(metaOf(doc), { status: 200, etag: '"3"', seq: '5-0', location: null });
await assert.rejects(todos.replace('a', { title: 'x' }, { createOnly: true }),
  (err) => err instanceof TandemError && err.code === 'already_exists' && err.currentVersion === 3);
console.log(`imported ${pkg.name} ${pkg.version} from node_modules and made two calls`);
JS
(cd "$APP" && node smoke.mjs "$pkg_version")

echo "-- tsc --noEmit --strict against the installed package (with and without the DOM library)"
cp tests/web/types/example.ts tests/web/types/example-node.ts "$APP/"
cat >"$APP/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "es2022", "lib": ["es2022", "dom"],
    "module": "nodenext", "moduleResolution": "nodenext", "types": []
  },
  "files": ["example.ts"]
}
JSON
cat >"$APP/tsconfig.node.json" <<'JSON'
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "es2022", "lib": ["es2022"],
    "module": "nodenext", "moduleResolution": "nodenext", "types": []
  },
  "files": ["example-node.ts"]
}
JSON
"$TSC" -p "$APP/tsconfig.json" --noEmit --strict
"$TSC" -p "$APP/tsconfig.node.json" --noEmit --strict
echo "package checks passed"
