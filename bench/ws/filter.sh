#!/usr/bin/env bash
# Filtered fan-out benchmark (issue 11 "Speed"; docs/PERFORMANCE.md,
# "Filtered subscriptions"): tandem-notifier with N sockets each holding a
# filtered subscription (where + sid, half of them matching the published
# documents) against N sockets with a plain subscription, in one run on one
# stack (compare within a run only).
#
# Feed: ws-load PUBLISHes `updated` events straight into Redis (the notifier
# alone), each with the notifier's `prev` line as tandem-rest writes it, flat
# out in a closed loop (at most BENCH_WINDOW events in flight per receiving
# socket). Cases, interleaved, BENCH_ROUNDS rounds (best of, by deliveries/s):
#   plain     N x {"op":"subscribe","collection":C}
#   filtered  N x {"op":"subscribe","collection":C,"where":...,"sid":...}:
#             even sockets {"k":"a"} (every document matches: `updated`),
#             odd ones {"k":"b"} (none does, before or after: nothing sent)
# Reports deliveries/s, events published/s, p50/p99 send-to-delivery and
# the ratio filtered / plain of deliveries/s (issue 11 target: >= 0.7).
#
# Environment (defaults): BENCH_SUBSCRIBERS (1000), BENCH_DURATION (10 s per
# case), BENCH_ROUNDS (3), BENCH_WINDOW (5), TANDEM_BIN_DIR (build),
# TANDEM_BENCH_OUT (also write the table there). Exits non-zero when a case
# failed; the ratio below target is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TANDEM_BIN_DIR:-$ROOT/build}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
N=${BENCH_SUBSCRIBERS:-1000}
DUR=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
WINDOW=${BENCH_WINDOW:-5}
LOAD=$BIN/bench/ws-load
for b in tandem-notifier tandem-rest bench/ws-load; do
	[ -x "$BIN/$b" ] || { echo "bench/ws/filter: $BIN/$b is missing: run make first" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/tandem-wsfilter.XXXXXX)
STACK_PID=
cleanup() {
	if [ -n "$STACK_PID" ]; then
		kill -TERM "$STACK_PID" 2>/dev/null || true
		wait "$STACK_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
log() { printf 'bench/ws/filter: %s\n' "$*" >&2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		port_free "$p" && port_free "$((p + 1))" && { echo "$p"; return; }
	done
}

HTTP_PORT=$(free_port) # and HTTP_PORT + 1 (the notifier) is free too
WS_PORT=$((HTTP_PORT + 1))
log "starting the stack on $HTTP_PORT (notifier $WS_PORT)"
TANDEM_RUN_DIR=$TMP/stack TANDEM_HTTP_PORT=$HTTP_PORT TANDEM_BIN_DIR=$BIN \
	TANDEM_MAX_CONNECTIONS=$((N + 1000)) TANDEM_LOG_LEVEL=warn \
	setsid "$ROOT/scripts/run-stack.sh" >"$TMP/stack.log" 2>&1 &
STACK_PID=$!
for _ in $(seq 1 600); do [ -e "$TMP/stack/ready" ] && break; sleep 0.1; done
[ -e "$TMP/stack/ready" ] || { log "the stack did not start"; tail -20 "$TMP/stack.log" >&2; exit 1; }
SOCK=$TMP/stack/redis.sock

RESULTS=$TMP/results.txt
: >"$RESULTS"
C=wf$$
failed=0
# run NAME ROUND ws-load-args...: one line of key=value into the results.
run() {
	local name=$1 round=$2
	shift 2
	local line
	if line=$("$LOAD" --port "$WS_PORT" --feed redis --redis-sock "$SOCK" --subscribers "$N" \
		--rate 0 --window "$WINDOW" --duration "$DUR" --collection "${C}${name}${round}" "$@" 2>>"$TMP/load.log"); then
		log "$name round $round: $line"
		echo "$name $line" >>"$RESULTS"
	else
		log "$name round $round failed"
		tail -3 "$TMP/load.log" >&2
		failed=1
	fi
	sleep 1
}

for r in $(seq 1 "$ROUNDS"); do
	run plain "$r"
	run filtered "$r" --where '{"k":"a"}' --where-split --where-miss '{"k":"b"}'
done
[ "$failed" -eq 0 ] || { log "a case failed (see above)"; exit 1; }

# The round with the most deliveries/s of a case, as key=value words.
best() { grep "^$1 " "$RESULTS" | awk -v k=deliveries_per_s '{
	for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k && kv[2] + 0 > max) { max = kv[2] + 0; line = $0 } }
} END { print line }'; }
get() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
P=$(best plain)
F=$(best filtered)
ratio=$(awk -v f="$(get "$F" deliveries_per_s)" -v p="$(get "$P" deliveries_per_s)" 'BEGIN { printf "%.2f", p ? f / p : 0 }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.7 ? "meets" : "BELOW") }')
{
	echo "Filtered fan-out, $N sockets, flat out (window $WINDOW), ${DUR} s per case, best of $ROUNDS:"
	echo
	echo "| case | sockets receiving | deliveries/s | events/s | p50 ms | p99 ms | max ms | lost |"
	echo "|---|---|---|---|---|---|---|---|"
	for c in plain filtered; do
		L=$P
		[ "$c" = filtered ] && L=$F
		echo "| $c | $(get "$L" receivers) of $N | $(get "$L" deliveries_per_s) | $(get "$L" events_per_s) | $(get "$L" p50_ms) | $(get "$L" p99_ms) | $(get "$L" max_ms) | $(get "$L" lost_connections) |"
	done
	echo
	echo "filtered / plain deliveries/s: $ratio ($verdict the 0.7 target)"
} | tee "${TANDEM_BENCH_OUT:-/dev/null}"
