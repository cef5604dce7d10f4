#!/usr/bin/env bash
# Write throughput on one Redis and on Redis Cluster (issue 14, SPEC
# section 9): POST create spread over BENCH_COLLECTIONS (64) collections
# through nginx -> tandem-rest (spawn-fcgi, TANDEM_THREADS) -> Redis, on
#   single   one redis-server (redis://), the shipped mode
#   c1       a one-master Redis Cluster (redis-cluster://): the cost of the
#            cluster mode itself (slot routing, SPUBLISH), same Redis work
#   c3       three masters: the headroom of spreading the collections
# Every Redis without replicas and without AOF (the comparison is routing
# and spreading, not persistence; replicas would halve a 2-core machine).
# BENCH_ROUNDS (3) rounds, interleaved, best kept; ratios to single and c1
# of the same run. Also writes $BENCH_OUT_DIR/results.md.
#
# Environment (defaults): BENCH_DURATION (10), BENCH_WARMUP (2),
# BENCH_ROUNDS (3), BENCH_CONNECTIONS (64), BENCH_COLLECTIONS (64),
# TANDEM_THREADS (16), TANDEM_BIN_DIR (build), BENCH_OUT_DIR (a temp dir).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/cluster
BIN_DIR=${TANDEM_BIN_DIR:-$ROOT/build}
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${TANDEM_THREADS:-16}
export BENCH_COLLECTIONS=${BENCH_COLLECTIONS:-64}

log() { printf 'bench/cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
for v in DURATION WARMUP ROUNDS CONNS THREADS BENCH_COLLECTIONS; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a whole number" ;; esac
done
[ -x "$BIN_DIR/tandem-rest" ] || die "$BIN_DIR/tandem-rest is missing: run make first"
for c in wrk nginx redis-server redis-cli spawn-fcgi curl; do
	command -v "$c" >/dev/null || die "$c is not installed (scripts/deps.sh --test)"
done

if [ -n "${BENCH_OUT_DIR:-}" ]; then
	mkdir -p "$BENCH_OUT_DIR"
	DIR=$(cd "$BENCH_OUT_DIR" && pwd)
else
	DIR=$(mktemp -d /tmp/tandem-cbench.XXXXXX)
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # below the ephemeral range, so no client socket holds it
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 10000))
		port_free "$p" && { echo "$p"; return 0; }
	done
	die "no free port"
}
wait_for() { # DESCRIPTION SECONDS COMMAND...
	local what=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || die "$what did not come up within ${secs}s (logs in $DIR)"
		sleep 0.1
	done
}

PIDS=()
stop_pid() {
	local p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
cleanup() {
	trap - EXIT
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- Redis: one node, a one-master cluster, a three-master cluster --------------
declare -A URL
SINGLE_PORT=$(free_port)
mkdir -p "$DIR/single"
redis-server --port "$SINGLE_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR/single" \
	>"$DIR/single/redis.log" 2>&1 &
PIDS+=($!)
wait_for "redis-server" 15 redis-cli -p "$SINGLE_PORT" ping
URL[single]="redis://127.0.0.1:$SINGLE_PORT"
for m in 1 3; do
	TANDEM_RUN_DIR=$DIR/c$m TANDEM_CLUSTER_MASTERS=$m TANDEM_CLUSTER_REPLICAS=0 \
		TANDEM_CLUSTER_APPENDONLY=no setsid "$ROOT/scripts/run-cluster.sh" >"$DIR/c$m.log" 2>&1 &
	PIDS+=($!)
done
for m in 1 3; do
	wait_for "the $m-master cluster" 120 test -e "$DIR/c$m/ready"
	URL[c$m]=$(cat "$DIR/c$m/seeds")
done

# --- tandem-rest per Redis, one nginx in front ------------------------------------
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
declare -A PORT
TARGETS=(single c1 c3)
mkdir -p "$DIR/nginx/tmp"
{
	cat <<CONF
$USER_LINE
worker_processes auto;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/tmp/body;
    fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
    proxy_temp_path $DIR/nginx/tmp/proxy;
    uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
    scgi_temp_path $DIR/nginx/tmp/scgi;
CONF
	for t in "${TARGETS[@]}"; do
		PORT[$t]=$(free_port)
		cat <<CONF
    server {
        listen 127.0.0.1:${PORT[$t]};
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$DIR/rest-$t.sock;
            fastcgi_read_timeout 30s;
        }
    }
CONF
	done
	echo "}"
} >"$DIR/nginx/nginx.conf"
for t in "${TARGETS[@]}"; do
	rm -f "$DIR/rest-$t.sock"
	TANDEM_REDIS_URL=${URL[$t]} TANDEM_THREADS=$THREADS TANDEM_LOG_LEVEL=warn \
		spawn-fcgi -n -s "$DIR/rest-$t.sock" -M 0600 -- "$BIN_DIR/tandem-rest" 2>"$DIR/rest-$t.log" &
	PIDS+=($!)
done
for t in "${TARGETS[@]}"; do wait_for "tandem-rest ($t)" 15 test -S "$DIR/rest-$t.sock"; done
nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -g 'daemon off;' 2>>"$DIR/nginx/error.log" &
PIDS+=($!)
for t in "${TARGETS[@]}"; do
	wait_for "nginx for $t" 15 curl -fsS -o /dev/null "http://127.0.0.1:${PORT[$t]}/api/v1/_health"
	code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d '{"probe":true}' "http://127.0.0.1:${PORT[$t]}/api/v1/c00")
	[ "$code" = 201 ] || die "$t: a POST answered $code (see $DIR/rest-$t.log)"
done
masters=$(redis-cli -p "$(head -1 "$DIR/c3/ports")" cluster nodes | grep -c master)
[ "$masters" -eq 3 ] || die "the 3-master cluster has $masters masters"

# --- rounds -----------------------------------------------------------------------
export BENCH_LUA_DIR=$ROOT/bench/rest
declare -A BEST
for t in "${TARGETS[@]}"; do BEST[$t]=0; done
for r in $(seq 1 "$ROUNDS"); do
	for t in "${TARGETS[@]}"; do
		url="http://127.0.0.1:${PORT[$t]}/"
		[ "$WARMUP" -gt 0 ] && { timeout $((WARMUP + 30)) wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$HERE/post64.lua" "$url" >/dev/null 2>&1 || true; }
		out=$(timeout $((DURATION + 30)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s -s "$HERE/post64.lua" "$url" 2>&1) || true
		printf '== round %s: %s\n%s\n\n' "$r" "$t" "$out" >>"$DIR/wrk.log"
		line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1 || true)
		read -r _ rps _ _ _ errs non2xx <<<"${line:-RESULT 0 0 0 0 0 0}"
		log "round $r $t: $rps req/s, errors $errs, non-2xx $non2xx"
		[ "${non2xx:-0}" = 0 ] && [ "${errs:-0}" = 0 ] || log "$t: failed requests (see $DIR/wrk.log)"
		awk -v a="$rps" -v b="${BEST[$t]}" 'BEGIN { exit !(a > b) }' && BEST[$t]=$rps
	done
done

# Where the collections landed: how many on each master of c3 (redis-cli
# --cluster create splits the slots 0-5460, 5461-10922, 10923-16383).
C3_PORT=$(head -1 "$DIR/c3/ports")
spread=$(for k in $(seq 0 $((BENCH_COLLECTIONS - 1))); do
	redis-cli -p "$C3_PORT" cluster keyslot "{tandem:$(printf 'c%02d' "$k")}"
done | awk '{ if ($1 <= 5460) a++; else if ($1 <= 10922) b++; else c++ } END { printf "%d/%d/%d", a, b, c }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
	echo "| Redis | POST create req/s (best of $ROUNDS) | vs single | vs c1 |"
	echo "|---|---:|---:|---:|"
	echo "| single node | ${BEST[single]} | 1.00 | |"
	echo "| cluster, 1 master | ${BEST[c1]} | $(ratio "${BEST[c1]}" "${BEST[single]}") | 1.00 |"
	echo "| cluster, 3 masters | ${BEST[c3]} | $(ratio "${BEST[c3]}" "${BEST[single]}") | $(ratio "${BEST[c3]}" "${BEST[c1]}") |"
	echo
	echo "$BENCH_COLLECTIONS collections, $CONNS connections, TANDEM_THREADS=$THREADS, ${DURATION}s per run;"
	echo "collections per master of the 3 (by slot range): $spread"
} | tee "$DIR/results.md"
