#!/usr/bin/env bash
# Browser-side tests: unit tests of web/tandem.js (fakes, no servers), the
# client as a package (types checked with tsc, npm pack, install, import:
# tests/web/types/run.sh), then the end-to-end test of the demo board on the
# real stack in Chromium.
# Run from anywhere after `npm ci`; exits non-zero if anything failed.
# The e2e test skips itself (with the reason) when scripts/run-stack.sh or
# /usr/bin/chromium is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v node >/dev/null 2>&1; then
    echo "tests/web/run.sh: node not found (Node 20+ is needed)" >&2
    exit 1
fi

echo "== web unit tests (node --test tests/web/unit/)"
# --test-force-exit: a fake's stray timer must not keep a finished file's
# process alive (seen once in CI: all tests passed, then the run hung);
# --test-timeout bounds any single test.
node --test --test-force-exit --test-timeout=60000 tests/web/unit/

echo "== web package and types (tests/web/types/run.sh)"
bash tests/web/types/run.sh

echo "== web e2e tests (node --test tests/web/e2e/)"
if [ ! -d node_modules/playwright-core ]; then
    echo "tests/web/run.sh: node_modules/playwright-core is missing: run 'npm ci' first" >&2
    exit 1
fi
node --test --test-force-exit --test-timeout=300000 --test-concurrency=1 tests/web/e2e/
