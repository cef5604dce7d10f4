#!/usr/bin/env bash
# Memory per idle WebSocket through the shipped nginx /ws proxy and
# directly to the notifier, in one run (issue 12: "the proxy's cost").
# Starts one stack (scripts/run-stack.sh), opens BENCH_BIG idle subscribers
# first straight to the notifier, then through nginx, and reports the RSS
# growth per connection of the notifier and of all nginx workers together.
# Environment: TANDEM_BIN_DIR (build), BENCH_BIG (10000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TANDEM_BIN_DIR:-$ROOT/build}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
BIG=${BENCH_BIG:-10000}
LOAD=$BIN/bench/ws-load
TMP=$(mktemp -d /tmp/tandem-proxymem.XXXXXX)
STACK_PID=
cleanup() {
	[ -n "$STACK_PID" ] && kill -TERM "$STACK_PID" 2>/dev/null && wait "$STACK_PID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while :; do p=$((20000 + RANDOM % 30000)); port_free "$p" && port_free $((p + 1)) && break; done
HTTP_PORT=$p WS_PORT=$((p + 1))
TANDEM_RUN_DIR=$TMP/stack TANDEM_HTTP_PORT=$HTTP_PORT TANDEM_BIN_DIR=$BIN \
	TANDEM_MAX_CONNECTIONS=$((2 * BIG + 1000)) TANDEM_LOG_LEVEL=warn \
	"$ROOT/scripts/run-stack.sh" 2>"$TMP/stack.log" &
STACK_PID=$!
for _ in $(seq 1 300); do [ -e "$TMP/stack/ready" ] && break; sleep 0.1; done
[ -e "$TMP/stack/ready" ] || { cat "$TMP/stack.log"; exit 1; }
NOTIFIER=$(cat "$TMP/stack/notifier.pid")
NGINX_MASTER=$(cat "$TMP/stack/nginx/nginx.pid")
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
nginx_kb() {
	local sum=0 w
	for w in $(pgrep -P "$NGINX_MASTER"); do sum=$((sum + $(rss_kb "$w"))); done
	echo "$sum"
}
# idle PORT: opens BIG idle subscribers, prints "notifier_kb nginx_kb" while they are open.
idle() {
	local out=$TMP/idle.$1
	"$LOAD" --port "$1" --feed redis --redis-sock "$TMP/stack/redis.sock" --collection memidle \
		--subscribers "$BIG" --idle 6 >"$out" 2>>"$TMP/load.log" &
	local pid=$!
	for _ in $(seq 1 600); do grep -q ready "$out" 2>/dev/null && break; sleep 0.2; done
	sleep 1
	echo "$(rss_kb "$NOTIFIER") $(nginx_kb)"
	wait "$pid" || true
}
sleep 1
read -r n0 g0 <<<"$(rss_kb "$NOTIFIER") $(nginx_kb)"
read -r n1 g1 <<<"$(idle "$WS_PORT")"
sleep 2
read -r n2 g2 <<<"$(rss_kb "$NOTIFIER") $(nginx_kb)"
read -r n3 g3 <<<"$(idle "$HTTP_PORT")"
direct=$(( (n1 - n0) * 1024 / BIG ))
via_notifier=$(( (n3 - n2) * 1024 / BIG ))
via_nginx=$(( (g3 - g2) * 1024 / BIG ))
echo "| path | notifier bytes/conn | nginx bytes/conn | total bytes/conn |"
echo "|---|---|---|---|"
echo "| direct ws:// | $direct | - | $direct |"
echo "| through nginx /ws | $via_notifier | $via_nginx | $((via_notifier + via_nginx)) |"
