#!/usr/bin/env bash
# Filtered-list benchmark (issue 11 "Speed"; docs/PERFORMANCE.md).
#
# Starts one stack with scripts/run-stack.sh in a temp dir (Redis and one
# tandem-rest, TANDEM_SCAN_LIMIT=$BENCH_SCAN_LIMIT, through its nginx),
# seeds a collection of BENCH_FILTER_DOCS documents straight into Redis in
# the layout of the write script (README "Redis layout"; ids f0000001...,
# "bucket" = i % 100, so {"bucket":0} matches 1%), then, one request at a
# time (so one worker thread is busy):
#   - walks the whole collection with where={"bucket":0}&limit=100: every
#     page examines BENCH_SCAN_LIMIT documents; reports the page time
#     (median and max) and documents examined per second per thread;
#   - the unfiltered list, limit=100 and limit=1000, over the same
#     collection (first BENCH_PAGES pages): page time.
# Environment (defaults): BENCH_FILTER_DOCS (100000), BENCH_SCAN_LIMIT
# (10000), BENCH_PAGES (50), BENCH_OUT_DIR (a new /tmp/tandem-bench-filter.XXXXXX),
# TANDEM_BIN_DIR (build). Results: stdout and $BENCH_OUT_DIR/results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN_DIR=${TANDEM_BIN_DIR:-$ROOT/build}
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac
DOCS=${BENCH_FILTER_DOCS:-100000}
SCAN=${BENCH_SCAN_LIMIT:-10000}
PAGES=${BENCH_PAGES:-50}

log() { printf 'bench/filter: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
for c in curl redis-cli redis-server nginx spawn-fcgi python3; do
	command -v "$c" >/dev/null || die "$c is not installed"
done
[ -x "$BIN_DIR/tandem-rest" ] || die "$BIN_DIR/tandem-rest is missing: run make first"

if [ -n "${BENCH_OUT_DIR:-}" ]; then
	mkdir -p "$BENCH_OUT_DIR"
	DIR=$(cd "$BENCH_OUT_DIR" && pwd)
else
	DIR=$(mktemp -d /tmp/tandem-bench-filter.XXXXXX)
fi
STACK_DIR=$DIR/stack
STACK_PID=
cleanup() {
	if [ -n "$STACK_PID" ]; then
		kill -TERM "$STACK_PID" 2>/dev/null || true
		wait "$STACK_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT

mkdir -p "$DIR/bin"
ln -sf "$BIN_DIR/tandem-rest" "$DIR/bin/tandem-rest"
PORT=$((20000 + RANDOM % 9000))
log "starting the stack in $STACK_DIR, port $PORT, TANDEM_SCAN_LIMIT=$SCAN"
TANDEM_RUN_DIR=$STACK_DIR TANDEM_HTTP_PORT=$PORT TANDEM_BIN_DIR=$DIR/bin TANDEM_SCAN_LIMIT=$SCAN \
	"$ROOT/scripts/run-stack.sh" >"$DIR/stack.log" 2>&1 &
STACK_PID=$!
deadline=$((SECONDS + 60))
until [ -e "$STACK_DIR/ready" ]; do
	kill -0 "$STACK_PID" 2>/dev/null || die "run-stack.sh exited (see $DIR/stack.log)"
	[ $SECONDS -lt $deadline ] || die "the stack did not come up within 60s"
	sleep 0.1
done

RCLI=(redis-cli -s "$STACK_DIR/redis.sock")
log "seeding $DOCS documents"
# Same bytes as the write script stores: document, meta hash, index.
SEED='local col, from, to = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = "2026-11-28T19:41:52.123Z"
for i = from, to do
  local id = string.format("f%07d", i)
  local doc = "{\"id\":\"" .. id .. "\",\"version\":1,\"created_at\":\"" .. now ..
    "\",\"updated_at\":\"" .. now .. "\",\"title\":\"todo number " .. i ..
    "\",\"bucket\":" .. (i % 100) .. ",\"done\":" .. (i % 3 == 0 and "true" or "false") ..
    ",\"owner_note\":{\"n\":" .. i .. ",\"tags\":[\"a\",\"b\"]}}"
  redis.call("SET", KEYS[1] .. id, doc)
  redis.call("HSET", KEYS[2] .. id, "v", 1, "c", now)
  redis.call("ZADD", KEYS[3], 0, id)
end
return to'
COL=fbench
for ((from = 0; from < DOCS; from += 10000)); do
	to=$((from + 9999 < DOCS - 1 ? from + 9999 : DOCS - 1))
	"${RCLI[@]}" EVAL "$SEED" 3 "{tandem:$COL}:d:" "{tandem:$COL}:m:" "{tandem:$COL}:ids" \
		"$COL" "$from" "$to" >/dev/null
done
[ "$("${RCLI[@]}" ZCARD "{tandem:$COL}:ids")" -eq "$DOCS" ] || die "seeding failed"

BASE=http://127.0.0.1:$PORT/api/v1/$COL
WHERE='%7B%22bucket%22%3A0%7D'
TIMES=$DIR/times.tsv
: >"$TIMES"
# walk KIND QUERY MAXPAGES: follows next; one line per page: kind, seconds, items.
walk() {
	local kind=$1 query=$2 max=$3 after="" n=0 out t next
	while :; do
		out=$(curl -sS -o "$DIR/page.json" -w '%{http_code} %{time_total}' "$BASE?$query${after:+&after=$after}")
		[ "${out%% *}" = 200 ] || die "$kind: HTTP ${out%% *}: $(head -c 300 "$DIR/page.json")"
		t=${out#* }
		read -r items next < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["items"]), d["next"] or "")' "$DIR/page.json")
		printf '%s\t%s\t%s\n' "$kind" "$t" "$items" >>"$TIMES"
		n=$((n + 1))
		[ -n "$next" ] && [ "$n" -lt "$max" ] || break
		after=$next
	done
}
log "warm-up"
walk warmup "limit=100" 5
log "filtered walk: where={\"bucket\":0}, limit=100"
walk filtered "where=$WHERE&limit=100" 100000
log "unfiltered: limit=100 and limit=1000, $PAGES pages each"
walk plain100 "limit=100" "$PAGES"
walk plain1000 "limit=1000" "$PAGES"

python3 - "$TIMES" "$SCAN" "$DOCS" >"$DIR/results.md" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
scan, docs = int(sys.argv[2]), int(sys.argv[3])
def stats(kind):
    t = [float(r[1]) for r in rows if r[0] == kind]
    items = sum(int(r[2]) for r in rows if r[0] == kind)
    return t, items
print(f"## Filtered list ({docs} documents, 1% match, TANDEM_SCAN_LIMIT={scan}, one request at a time)\n")
print("| page | pages | items | median page ms | max page ms | docs examined/s per thread |")
print("|---|---|---|---|---|---|")
t, items = stats("filtered")
full = t[:-1] if len(t) > 1 else t  # the last page may examine fewer
med = statistics.median(full)
print(f"| where={{\"bucket\":0}} limit=100 | {len(t)} | {items} | {med*1000:.1f} | {max(t)*1000:.1f} | {scan/med:,.0f} |")
for kind, lim in (("plain100", 100), ("plain1000", 1000)):
    t, items = stats(kind)
    med = statistics.median(t)
    print(f"| unfiltered limit={lim} | {len(t)} | {items} | {med*1000:.1f} | {max(t)*1000:.1f} | {lim/med:,.0f} (docs listed/s) |")
PY
cat "$DIR/results.md"
log "results in $DIR/results.md"
