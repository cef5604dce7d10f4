#!/usr/bin/env bash
# Runs one whole Tandem stack in the foreground, all on 127.0.0.1:
#   redis-server (private, AOF) -> unix socket  $RUN_DIR/redis.sock
#   spawn-fcgi + tandem-rest    -> unix socket  $RUN_DIR/rest.sock
#   tandem-notifier             -> 127.0.0.1:$((HTTP_PORT+1)), restarted if it exits
#   nginx                       -> 127.0.0.1:$HTTP_PORT (demo, /api/v1, /ws)
# State lives under TANDEM_RUN_DIR (default ./var), so stacks with other
# TANDEM_RUN_DIR and TANDEM_HTTP_PORT run side by side. Writes
# $RUN_DIR/ready when everything answers; SIGTERM or Ctrl-C stops exactly
# what it started. Used by `make run` and by the integration tests.
#
# Environment: TANDEM_RUN_DIR, TANDEM_HTTP_PORT, TANDEM_BIN_DIR (build),
# nginx's abuse limits per client address: TANDEM_RATE_READ (20000r/s),
# TANDEM_RATE_READ_BURST (40000), TANDEM_RATE_WRITE (10000r/s),
# TANDEM_RATE_WRITE_BURST (20000), TANDEM_WS_CONNS_PER_ADDR (20000),
# TANDEM_REST_WRAPPER (e.g. valgrind command), TANDEM_REST_CHILDREN (1),
# and every TANDEM_* setting of the programs (passed through).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=${TANDEM_RUN_DIR:-$ROOT/var}
HTTP_PORT=${TANDEM_HTTP_PORT:-8080}
WS_PORT=$((HTTP_PORT + 1))
BIN_DIR=${TANDEM_BIN_DIR:-$ROOT/build}
REST_CHILDREN=${TANDEM_REST_CHILDREN:-1}
MAX_BODY=${TANDEM_MAX_BODY:-1048576}

mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac
mkdir -p "$RUN_DIR/redis" "$RUN_DIR/nginx/tmp"
rm -f "$RUN_DIR/ready"

log() { printf 'run-stack: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for b in tandem-rest; do
	[ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing: run make first"
done

export TANDEM_REDIS_URL="unix://$RUN_DIR/redis.sock"

# wait_for DESCRIPTION SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || die "$what did not come up within ${secs}s (logs in $RUN_DIR)"
		sleep 0.1
	done
}

pids=()
stopping=0
cleanup() {
	stopping=1
	trap - TERM INT EXIT
	rm -f "$RUN_DIR/ready"
	local p
	# nginx first (no new requests), then the notifier (closes with 1001),
	# then the REST workers (finish in-flight requests), Redis last.
	for f in nginx/nginx.pid notifier-supervisor.pid rest.pid redis.pid; do
		p=$(cat "$RUN_DIR/$f" 2>/dev/null || true)
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
		rm -f "$RUN_DIR/$f"
	done
	wait 2>/dev/null || true
	log "stopped"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

# --- Redis -------------------------------------------------------------------
cat >"$RUN_DIR/redis.conf" <<CONF
port 0
unixsocket $RUN_DIR/redis.sock
unixsocketperm 700
dir $RUN_DIR/redis
pidfile $RUN_DIR/redis.pid
logfile $RUN_DIR/redis.log
daemonize no
appendonly yes
appendfsync everysec
save ""
CONF
redis-server "$RUN_DIR/redis.conf" &
echo $! >"$RUN_DIR/redis.pid"
wait_for "redis-server" 15 redis-cli -s "$RUN_DIR/redis.sock" ping

# --- REST workers ------------------------------------------------------------
rm -f "$RUN_DIR/rest.sock"
# spawn-fcgi uses execv(): the wrapper's program needs its full path.
read -r -a wrapper <<<"${TANDEM_REST_WRAPPER:-}"
if [ ${#wrapper[@]} -gt 0 ]; then
	wrapper[0]=$(command -v "${wrapper[0]}") || die "TANDEM_REST_WRAPPER: ${wrapper[0]} not found"
fi
spawn-fcgi -n -s "$RUN_DIR/rest.sock" -M 0600 -- "${wrapper[@]}" "$BIN_DIR/tandem-rest" \
	2>>"$RUN_DIR/rest.log" &
echo $! >"$RUN_DIR/rest.pid"
wait_for "tandem-rest socket" 15 test -S "$RUN_DIR/rest.sock"

# --- notifier (supervised: restarted when it exits) ----------------------------
if [ -x "$BIN_DIR/tandem-notifier" ]; then
	(
		trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM
		child=
		while :; do
			"$BIN_DIR/tandem-notifier" --ws-listen "127.0.0.1:$WS_PORT" 2>>"$RUN_DIR/notifier.log" &
			child=$!
			echo "$child" >"$RUN_DIR/notifier.pid"
			wait "$child" || true
			sleep 0.2
		done
	) &
	echo $! >"$RUN_DIR/notifier-supervisor.pid"
else
	log "no $BIN_DIR/tandem-notifier: running without live updates"
fi

# --- nginx ---------------------------------------------------------------------
CORS_MAP=$(sh "$ROOT/nginx/cors-map.sh" "${TANDEM_ALLOWED_ORIGINS:-}") || die "bad TANDEM_ALLOWED_ORIGINS"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
sed -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@WS_PORT@|$WS_PORT|g" \
	-e "s|@WEB_ROOT@|$ROOT/web|g" -e "s|@MAX_BODY@|$MAX_BODY|g" -e "s|@USER_LINE@|$USER_LINE|g" \
	-e "s|@CONF_DIR@|$ROOT/nginx|g" -e "s|@CORS_MAP@|$CORS_MAP|g" \
	-e "s|@RATE_READ@|${TANDEM_RATE_READ:-20000r/s}|g" -e "s|@RATE_WRITE@|${TANDEM_RATE_WRITE:-10000r/s}|g" \
	-e "s|@RATE_READ_BURST@|${TANDEM_RATE_READ_BURST:-40000}|g" \
	-e "s|@RATE_WRITE_BURST@|${TANDEM_RATE_WRITE_BURST:-20000}|g" \
	-e "s|@WS_CONNS_PER_ADDR@|${TANDEM_WS_CONNS_PER_ADDR:-20000}|g" \
	"$ROOT/nginx/tandem.conf.in" >"$RUN_DIR/nginx/nginx.conf"
nginx -q -t -e "$RUN_DIR/nginx/error.log" -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx/nginx.conf" 2>>"$RUN_DIR/nginx/error.log" ||
	die "nginx rejected $RUN_DIR/nginx/nginx.conf (see $RUN_DIR/nginx/error.log)"
nginx -e "$RUN_DIR/nginx/error.log" -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx/nginx.conf" -g 'daemon off;' &
wait_for "nginx" 15 curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/v1/_health"
if [ -x "$BIN_DIR/tandem-notifier" ]; then
	wait_for "tandem-notifier" 15 curl -fsS -o /dev/null "http://127.0.0.1:$WS_PORT/healthz"
fi

touch "$RUN_DIR/ready"
cat >&2 <<MSG
Tandem is running (state in $RUN_DIR):
  demo         http://localhost:$HTTP_PORT/
  REST API     http://localhost:$HTTP_PORT/api/v1/<collection>
  WebSocket    ws://localhost:$HTTP_PORT/ws
  notifier     http://127.0.0.1:$WS_PORT/healthz  /metrics
Press Ctrl-C to stop.
MSG

# Sleep in the background so the TERM trap runs at once.
while [ $stopping -eq 0 ]; do
	sleep 1 &
	wait $! || true
done
