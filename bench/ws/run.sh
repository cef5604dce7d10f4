#!/usr/bin/env bash
# WebSocket fan-out benchmark: tandem-notifier against nginx + nchan, in
# one run on this machine (compare within a run only). Writes a Markdown
# table on stdout (and into $TANDEM_BENCH_OUT when set).
#
#   (2) the notifier alone, fed by PUBLISHing SPEC events into Redis
#   (1) end to end: PUT through nginx -> tandem-rest -> Redis -> notifier
#       -> nginx /ws -> client
#   nchan in memory and in Redis mode, fed by HTTP POSTs
#
# Each delivery carries its send time; ws-load reports p50/p99/max
# send-to-delivery latency and deliveries per second. RSS per idle
# connection: VmRSS of the server process before and after 10,000 idle
# subscribers, divided by 10,000.
#
# Environment: TANDEM_BIN_DIR (build), BENCH_DURATION (10 s per run),
# BENCH_BIG (10000 subscribers), BENCH_SMALL (1000), BENCH_ROUNDS (3: the
# latency rows run that many times, interleaved, and report the median),
# BENCH_OPEN_DURATION (3 s of open-loop publishing; the drain comes after).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TANDEM_BIN_DIR:-$ROOT/build}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
DUR=${BENCH_DURATION:-10}
BIG=${BENCH_BIG:-10000}
SMALL=${BENCH_SMALL:-1000}
LOAD=$BIN/bench/ws-load
for b in tandem-notifier tandem-rest bench/ws-load; do
	[ -x "$BIN/$b" ] || { echo "bench/ws: $BIN/$b is missing: run make first" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/tandem-wsbench.XXXXXX)
STACK_PID= NCHAN_REDIS_PID=
cleanup() {
	[ -n "$STACK_PID" ] && kill -TERM "$STACK_PID" 2>/dev/null && wait "$STACK_PID" 2>/dev/null || true
	if [ -f "$TMP/nchan.pid" ]; then kill -TERM "$(cat "$TMP/nchan.pid")" 2>/dev/null || true; fi
	[ -n "$NCHAN_REDIS_PID" ] && kill -TERM "$NCHAN_REDIS_PID" 2>/dev/null || true
	sleep 0.5
	rm -rf "$TMP"
}
trap cleanup EXIT

# A port nobody answers on (bash's /dev/tcp: a refused connect means free).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		port_free "$p" && port_free "$((p + 1))" && { echo "$p"; return; }
	done
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_file() { for _ in $(seq 1 300); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
log() { printf 'bench/ws: %s\n' "$*" >&2; }

# --- the Tandem stack (its own run dir and ports) -------------------------------
HTTP_PORT=$(free_port) # and HTTP_PORT + 1 is free too
WS_PORT=$((HTTP_PORT + 1))
log "starting the stack on $HTTP_PORT (notifier $WS_PORT)"
TANDEM_RUN_DIR=$TMP/stack TANDEM_HTTP_PORT=$HTTP_PORT TANDEM_BIN_DIR=$BIN \
	TANDEM_MAX_CONNECTIONS=$((BIG + 1000)) TANDEM_LOG_LEVEL=warn \
	setsid "$ROOT/scripts/run-stack.sh" >"$TMP/stack.log" 2>&1 &
STACK_PID=$!
wait_file "$TMP/stack/ready" || { log "the stack did not start"; cat "$TMP/stack.log" >&2; exit 1; }
NOTIFIER=$(cat "$TMP/stack/notifier.pid")
SOCK=$TMP/stack/redis.sock

# --- nchan (one worker) with a Redis of its own on TCP --------------------------
NCHAN_PORT=$(free_port)
NCHAN_REDIS_PORT=$(free_port)
redis-server --port "$NCHAN_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	>"$TMP/nchan-redis.log" 2>&1 &
NCHAN_REDIS_PID=$!
mkdir -p "$TMP/tmp"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
sed -e "s|@DIR@|$TMP|g" -e "s|@PORT@|$NCHAN_PORT|g" -e "s|@REDIS_PORT@|$NCHAN_REDIS_PORT|g" \
	-e "s|@USER_LINE@|$USER_LINE|g" "$ROOT/bench/ws/nchan.conf.in" >"$TMP/nchan.conf"
for _ in $(seq 1 50); do redis-cli -p "$NCHAN_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
nginx -p "$TMP" -c "$TMP/nchan.conf"
wait_file "$TMP/nchan.pid"
sleep 0.5
NCHAN_WORKER=$(pgrep -P "$(cat "$TMP/nchan.pid")" | head -1)

RESULTS=$TMP/results.txt
: >"$RESULTS"
# run NAME ws-load-args...: one line of key=value into the results.
run() {
	local name=$1
	shift
	local line
	line=$("$LOAD" --duration "$DUR" "$@" 2>>"$TMP/load.log") || { log "$name failed"; tail -3 "$TMP/load.log" >&2; line="failed"; }
	log "$name: $line"
	echo "$name $line" >>"$RESULTS"
}
# rss NAME PID ws-load-args...: RSS per idle connection of PID at $BIG subscribers.
rss() {
	local name=$1 pid=$2
	shift 2
	local before after
	before=$(rss_kb "$pid")
	"$LOAD" --subscribers "$BIG" --idle 8 "$@" >"$TMP/idle.out" 2>>"$TMP/load.log" &
	local lp=$!
	for _ in $(seq 1 600); do grep -q ready "$TMP/idle.out" 2>/dev/null && break; sleep 0.2; done
	sleep 3
	after=$(rss_kb "$pid")
	wait "$lp" || true
	local per=$(( (after - before) * 1024 / BIG ))
	log "$name: RSS $before kB -> $after kB at $BIG idle: $per bytes per connection"
	echo "$name rss_per_conn_bytes=$per rss_before_kb=$before rss_after_kb=$after" >>"$RESULTS"
	sleep 2
}

C=b$$
# Idle memory first, while the servers are fresh.
rss "tandem-idle" "$NOTIFIER" --port "$WS_PORT" --feed redis --collection "${C}idle"
rss "nchan-idle" "$NCHAN_WORKER" --port "$NCHAN_PORT" --path "/sub/${C}idle" --no-subscribe-op --feed nchan

# Throughput at $SMALL subscribers, publishing flat out (closed loop, window 5).
run "tandem-redis-flat" --port "$WS_PORT" --feed redis --redis-sock "$SOCK" --subscribers "$SMALL" --rate 0 --collection "${C}a"
run "nchan-mem-flat" --port "$NCHAN_PORT" --path "/sub/${C}a" --no-subscribe-op --feed nchan --pub-port "$NCHAN_PORT" --subscribers "$SMALL" --rate 0 --collection "${C}a"
run "nchan-redis-flat" --port "$NCHAN_PORT" --path "/rsub/${C}r" --no-subscribe-op --feed nchan --pub-port "$NCHAN_PORT" --pub-path "/rpub/${C}r" --subscribers "$SMALL" --rate 0 --collection "${C}r"

# Open loop at $SMALL subscribers (issue 12): one publisher writing as fast
# as it is answered, through REST for tandem (PUT via nginx, the notifier's
# subscribers direct), through nchan's publisher for nchan; nothing holds
# the publisher back, so the fan-out is overrun and must slow its intake
# instead of closing clients. Shorter: the backlog takes a while to drain.
OPEN_DUR=${BENCH_OPEN_DURATION:-3}
run "tandem-rest-open" --duration "$OPEN_DUR" --port "$WS_PORT" --feed rest --pub-port "$HTTP_PORT" --subscribers "$SMALL" --rate 0 --window 0 --collection "${C}o"
run "nchan-mem-open" --duration "$OPEN_DUR" --port "$NCHAN_PORT" --path "/sub/${C}o" --no-subscribe-op --feed nchan --pub-port "$NCHAN_PORT" --subscribers "$SMALL" --rate 0 --window 0 --collection "${C}o"

# Latency at $BIG subscribers x 2 messages/s: the notifier direct, through
# the stack's nginx /ws as shipped, and nchan (which is nginx).
# BENCH_ROUNDS (3) rounds, interleaved; the table shows each row's median.
ROUNDS=${BENCH_ROUNDS:-3}
for r in $(seq 1 "$ROUNDS"); do
	# A channel per round: nchan keeps a channel's messages for new
	# subscribers, so a reused one would hand round 2 round 1's messages.
	run "tandem-redis-big#$r" --port "$WS_PORT" --feed redis --redis-sock "$SOCK" --subscribers "$BIG" --rate 2 --collection "${C}b$r"
	run "tandem-nginx-big#$r" --port "$HTTP_PORT" --feed redis --redis-sock "$SOCK" --subscribers "$BIG" --rate 2 --collection "${C}n$r"
	run "nchan-mem-big#$r" --port "$NCHAN_PORT" --path "/sub/${C}b$r" --no-subscribe-op --feed nchan --pub-port "$NCHAN_PORT" --subscribers "$BIG" --rate 2 --collection "${C}b$r"
done

# End to end at $SMALL subscribers x 20 writes/s (through nginx both ways).
for r in $(seq 1 "$ROUNDS"); do
	run "tandem-rest-e2e#$r" --port "$HTTP_PORT" --feed rest --pub-port "$HTTP_PORT" --subscribers "$SMALL" --rate 20 --collection "${C}e$r"
done

# --- the table -----------------------------------------------------------------
get() {
	case "$1" in
	*-big | *-e2e) # the median of the rounds
		grep "^$1#" "$RESULTS" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}' | sort -g |
			awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }' ;;
	*) grep "^$1 " "$RESULTS" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}' ;;
	esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
	echo "| run | subscribers | rate (msg/s) | published/s | deliveries/s | p50 ms | p99 ms | max ms | lost | drain ms |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for r in tandem-redis-flat nchan-mem-flat nchan-redis-flat tandem-rest-open nchan-mem-open tandem-redis-big tandem-nginx-big nchan-mem-big tandem-rest-e2e; do
		echo "| $r | $(get $r subscribers) | $(get $r rate) | $(get $r events_per_s) | $(get $r deliveries_per_s) | $(get $r p50_ms) | $(get $r p99_ms) | $(get $r max_ms) | $(get $r lost_connections) | $(get $r drain_ms) |"
	done
	echo
	echo "| server | RSS per idle connection at $BIG (bytes) |"
	echo "|---|---|"
	echo "| tandem-notifier | $(get tandem-idle rss_per_conn_bytes) |"
	echo "| nginx + nchan (worker) | $(get nchan-idle rss_per_conn_bytes) |"
	echo
	echo "Ratios (latency rows: medians of $ROUNDS rounds):"
	echo "- open loop, deliveries/s tandem / nchan in memory: $(ratio "$(get tandem-rest-open deliveries_per_s)" "$(get nchan-mem-open deliveries_per_s)") (tandem lost $(get tandem-rest-open lost_connections) connections)"
	echo "- $BIG x 2/s p99, tandem direct / nchan: $(ratio "$(get tandem-redis-big p99_ms)" "$(get nchan-mem-big p99_ms)")"
	echo "- $BIG x 2/s p99, tandem through nginx / nchan: $(ratio "$(get tandem-nginx-big p99_ms)" "$(get nchan-mem-big p99_ms)")"
} | tee "${TANDEM_BENCH_OUT:-/dev/null}"
