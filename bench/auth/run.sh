#!/usr/bin/env bash
# Auth's cost (issue 10): GET by id through nginx with auth off, and with
# HS256, RS256 and ES256 tokens (the per-thread token cache on), in one run,
# rounds interleaved, best of BENCH_ROUNDS; then the notifier's auth-op rate
# (distinct HS256 tokens, and one token over and over: the cache).
# Four stacks (scripts/run-stack.sh) on free ports; stops what it started.
# Environment: TANDEM_BIN_DIR (build), BENCH_DURATION (5 s), BENCH_ROUNDS (3),
# BENCH_CONNECTIONS (64), BENCH_AUTH_OPS (2000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TANDEM_BIN_DIR:-$ROOT/build}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
DUR=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-64}
OPS=${BENCH_AUTH_OPS:-2000}
TMP=$(mktemp -d /tmp/tandem-authbench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
log() { printf 'bench/auth: %s\n' "$*" >&2; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p; while :; do p=$((20000 + RANDOM % 12000)); port_free "$p" && port_free $((p + 1)) && { echo "$p"; return; }; done; }

SECRET=bench-secret-0123456789abcdef0123456789
printf '%s\n' "$SECRET" >"$TMP/secret"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.key" 2>/dev/null
openssl pkey -in "$TMP/rsa.key" -pubout -out "$TMP/rsa.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/ec.key" 2>/dev/null
openssl pkey -in "$TMP/ec.key" -pubout -out "$TMP/ec.pub"

declare -A PORT TOKEN
start() { # name env...
	local name=$1; shift
	local p; p=$(free_port)
	env "$@" TANDEM_RUN_DIR="$TMP/$name" TANDEM_HTTP_PORT="$p" TANDEM_BIN_DIR="$BIN" \
		TANDEM_LOG_LEVEL=warn TANDEM_DEV_TOKENS=0 "$ROOT/scripts/run-stack.sh" 2>"$TMP/$name.log" &
	PIDS+=($!)
	for _ in $(seq 1 300); do [ -e "$TMP/$name/ready" ] && break; sleep 0.1; done
	[ -e "$TMP/$name/ready" ] || { cat "$TMP/$name.log" >&2; exit 1; }
	PORT[$name]=$p
}
start open
start hs256 TANDEM_JWT_SECRET_FILE="$TMP/secret"
start rs256 TANDEM_JWT_PUBLIC_KEY="$TMP/rsa.pub"
start es256 TANDEM_JWT_PUBLIC_KEY="$TMP/ec.pub"
TOKEN[open]=
TOKEN[hs256]=$(TANDEM_JWT_SECRET_FILE="$TMP/secret" "$BIN/tandem-token" --sub bench --read '*' --write '*' --ttl 1h)
TOKEN[rs256]=$("$BIN/tandem-token" --sub bench --read '*' --write '*' --ttl 1h --private-key "$TMP/rsa.key")
TOKEN[es256]=$("$BIN/tandem-token" --sub bench --read '*' --write '*' --ttl 1h --private-key "$TMP/ec.key")
for n in open hs256 rs256 es256; do
	auth=(); [ -n "${TOKEN[$n]}" ] && auth=(-H "Authorization: Bearer ${TOKEN[$n]}")
	curl -fsS -o /dev/null -X PUT "${auth[@]}" -H 'Content-Type: application/json' \
		-d '{"title":"bench"}' "http://127.0.0.1:${PORT[$n]}/api/v1/bench/doc1"
done

declare -A BEST
for n in open hs256 rs256 es256; do BEST[$n]=0; done
for r in $(seq 1 "$ROUNDS"); do
	for n in open hs256 rs256 es256; do
		args=(); [ -n "${TOKEN[$n]}" ] && args=(-H "Authorization: Bearer ${TOKEN[$n]}")
		wrk -t1 -c"$CONNS" -d2s "${args[@]}" "http://127.0.0.1:${PORT[$n]}/api/v1/bench/doc1" >/dev/null
		rps=$(wrk -t1 -c"$CONNS" -d"${DUR}s" "${args[@]}" "http://127.0.0.1:${PORT[$n]}/api/v1/bench/doc1" |
			awk '/Requests\/sec/ {printf "%d", $2}')
		log "round $r $n: $rps req/s"
		[ "$rps" -gt "${BEST[$n]}" ] && BEST[$n]=$rps
	done
done

echo "| GET by id | best req/s of $ROUNDS | ratio to auth off |"
echo "|---|---|---|"
for n in open hs256 rs256 es256; do
	echo "| ${n/open/auth off} | ${BEST[$n]} | $(awk -v a="${BEST[$n]}" -v b="${BEST[open]}" 'BEGIN {printf "%.2f", a / b}') |"
done

# The notifier's auth op: OPS distinct HS256 tokens on one socket, then one token OPS times.
WS_PORT=$((PORT[hs256] + 1))
for i in $(seq 1 "$OPS"); do
	TANDEM_JWT_SECRET_FILE="$TMP/secret" "$BIN/tandem-token" --sub "u$i" --read '*' --ttl 1h
done >"$TMP/tokens"
node --experimental-websocket --no-warnings "$ROOT/bench/auth/auth-ops.mjs" "$WS_PORT" "$TMP/tokens"
