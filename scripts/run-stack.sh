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
# TANDEM_REST_POOLS (1), TANDEM_EXTRA_WS_PORTS (none), TANDEM_DEV_TOKENS
# (1: with a JWT secret configured, serve the demo's DEV-ONLY sign-in
# /dev/token?sub=NAME through tandem-token --serve; 0: off),
# TANDEM_DEV_TOKEN_TTL (10m), and every TANDEM_* setting of the programs
# (passed through), except TANDEM_REDIS_USERNAME / TANDEM_REDIS_PASSWORD_FILE:
# each program gets its own Redis ACL user (below).
#
# Which Redis (TANDEM_STACK_REDIS):
#   single    the default: a private redis-server on a unix socket, with
#             one ACL user per program (below);
#   cluster   (or TANDEM_REDIS_CLUSTER=1) a local 3-master / 3-replica
#             Redis Cluster (scripts/run-cluster.sh, state in
#             $RUN_DIR/cluster, cluster-node-timeout
#             TANDEM_CLUSTER_NODE_TIMEOUT, default 1000 ms here) instead,
#             both programs on its seeds (redis-cluster://...); its nodes
#             have no ACL users (the default user, no password);
#   external  the default when TANDEM_REDIS_URL is set: that Redis (one
#             server or redis-cluster://), started by nobody here; both
#             programs use TANDEM_REDIS_URL, TANDEM_REDIS_USERNAME and
#             TANDEM_REDIS_PASSWORD_FILE as given.
#
# Several workers (the fault tests): TANDEM_REST_CHILDREN=N runs N
# tandem-rest processes on one socket (spawn-fcgi -F N), TANDEM_REST_POOLS=P
# runs P such pools, on rest.sock, rest-2.sock, ..., all in nginx's
# upstream. Then each pool is supervised: its worker pids are in
# rest-<k>.pids, and when all of them have exited (SIGTERM for a rolling
# restart, or a crash) the pool is started again. TANDEM_EXTRA_WS_PORTS
# (space-separated ports) runs one more supervised notifier on each, in
# nginx's upstream too (pid in notifier-<port>.pid). With the defaults the
# stack is the single pool (rest.pid is tandem-rest itself, never
# restarted) and the single notifier it always was.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=${TANDEM_RUN_DIR:-$ROOT/var}
HTTP_PORT=${TANDEM_HTTP_PORT:-8080}
WS_PORT=$((HTTP_PORT + 1))
BIN_DIR=${TANDEM_BIN_DIR:-$ROOT/build}
REST_CHILDREN=${TANDEM_REST_CHILDREN:-1}
REST_POOLS=${TANDEM_REST_POOLS:-1}
EXTRA_WS_PORTS=${TANDEM_EXTRA_WS_PORTS:-}
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

if [ -n "${TANDEM_STACK_REDIS:-}" ]; then
	STACK_REDIS=$TANDEM_STACK_REDIS
elif [ "${TANDEM_REDIS_CLUSTER:-0}" = 1 ]; then
	STACK_REDIS=cluster
elif [ -n "${TANDEM_REDIS_URL:-}" ]; then
	STACK_REDIS=external
else
	STACK_REDIS=single
fi
case "$STACK_REDIS" in single | cluster | external) ;; *) die "TANDEM_STACK_REDIS must be single, cluster or external" ;; esac
[ "$STACK_REDIS" = external ] || export TANDEM_REDIS_URL="unix://$RUN_DIR/redis.sock"

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
	local extra=""
	for f in "$RUN_DIR"/notifier-supervisor-*.pid "$RUN_DIR"/rest-supervisor-*.pid; do
		[ -e "$f" ] && extra="$extra ${f#"$RUN_DIR"/}"
	done
	for f in nginx/nginx.pid dev-token.pid notifier-supervisor.pid $extra rest.pid redis.pid cluster.pid; do
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

# --- Redis ----------------------------------------------------------------------
if [ "$STACK_REDIS" = cluster ]; then
	(
		export TANDEM_RUN_DIR="$RUN_DIR/cluster"
		export TANDEM_CLUSTER_NODE_TIMEOUT=${TANDEM_CLUSTER_NODE_TIMEOUT:-1000}
		export TANDEM_CLUSTER_APPENDONLY=${TANDEM_CLUSTER_APPENDONLY:-no}
		exec "$ROOT/scripts/run-cluster.sh" >"$RUN_DIR/cluster.log" 2>&1
	) &
	echo $! >"$RUN_DIR/cluster.pid"
	wait_for "Redis Cluster" 140 test -e "$RUN_DIR/cluster/ready"
	TANDEM_REDIS_URL=$(cat "$RUN_DIR/cluster/seeds")
	export TANDEM_REDIS_URL
	rest_redis_user() { :; }
	notifier_redis_user() { :; }
elif [ "$STACK_REDIS" = external ]; then
	log "using the Redis at TANDEM_REDIS_URL (none started here)"
	rest_redis_user() { :; }
	notifier_redis_user() { :; }
else
	# One ACL user per program with only the commands, keys and channels it
	# needs (scripts/redis-acl.sh; README, Security: Redis credentials).
	# Passwords are generated once into the run dir (mode 600) and kept with
	# the data; redis.conf holds only their SHA-256. The default user stays for
	# redis-cli on the socket, which is mode 700 in the run dir (the tests use
	# it); production disables it.
	NS=${TANDEM_NAMESPACE:-tandem}
	redis_password() { # FILE: creates it once, prints nothing
		[ -s "$1" ] && return 0
		(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
	}
	redis_password "$RUN_DIR/redis-rest.password"
	redis_password "$RUN_DIR/redis-notifier.password"
	chmod 600 "$RUN_DIR/redis-rest.password" "$RUN_DIR/redis-notifier.password"
	ACL_USERS=$("$ROOT/scripts/redis-acl.sh" "$NS" "$RUN_DIR/redis-rest.password" "$RUN_DIR/redis-notifier.password")
	# Each program its own Redis user, set in the subshell that starts it: the
	# TANDEM_* environment otherwise reaches both.
	rest_redis_user() {
		export TANDEM_REDIS_USERNAME=tandem-rest TANDEM_REDIS_PASSWORD_FILE="$RUN_DIR/redis-rest.password"
	}
	notifier_redis_user() {
		export TANDEM_REDIS_USERNAME=tandem-notifier TANDEM_REDIS_PASSWORD_FILE="$RUN_DIR/redis-notifier.password"
	}
	cat >"$RUN_DIR/redis.conf" <<-CONF
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
	$ACL_USERS
	CONF
	redis-server "$RUN_DIR/redis.conf" &
	echo $! >"$RUN_DIR/redis.pid"
	wait_for "redis-server" 15 redis-cli -s "$RUN_DIR/redis.sock" ping
fi

# --- REST workers ------------------------------------------------------------
# spawn-fcgi uses execv(): the wrapper's program needs its full path.
read -r -a wrapper <<<"${TANDEM_REST_WRAPPER:-}"
if [ ${#wrapper[@]} -gt 0 ]; then
	wrapper[0]=$(command -v "${wrapper[0]}") || die "TANDEM_REST_WRAPPER: ${wrapper[0]} not found"
fi
rest_sock() { if [ "$1" -eq 1 ]; then echo "$RUN_DIR/rest.sock"; else echo "$RUN_DIR/rest-$1.sock"; fi; }
# pids_alive FILE: true while a pid listed in FILE runs. spawn-fcgi's
# children are reparented to init, which may reap them late: a zombie
# (state Z in /proc/<pid>/stat) has exited.
pids_alive() {
	local p stat
	for p in $(cat "$1" 2>/dev/null); do
		stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		[ "${stat%% *}" != Z ] && return 0
	done
	return 1
}
# supervise_pool K: runs pool K (spawn-fcgi -F REST_CHILDREN) and starts it
# again whenever all of its processes have exited. On TERM it stops them
# (they drain their socket first) and returns. spawn-fcgi's children run
# in sessions of their own with stdout/stderr on /dev/null, so the worker
# is started through sh to keep its log.
supervise_pool() {
	local k=$1 sock pids stop=0
	export LOG="$RUN_DIR/rest.log"
	rest_redis_user
	sock=$(rest_sock "$k")
	pids="$RUN_DIR/rest-$k.pids"
	trap 'stop=1' TERM
	while [ $stop -eq 0 ]; do
		rm -f "$sock" "$pids"
		spawn-fcgi -F "$REST_CHILDREN" -P "$pids" -s "$sock" -M 0600 -- /bin/sh -c \
			'exec "$@" 2>>"$LOG"' sh "${wrapper[@]}" "$BIN_DIR/tandem-rest" >/dev/null 2>>"$RUN_DIR/rest.log" ||
			log "pool $k: spawn-fcgi failed"
		while [ $stop -eq 0 ] && pids_alive "$pids"; do
			sleep 0.1 & wait $! || true
		done
		[ $stop -eq 0 ] && sleep 0.2
	done
	local p deadline=$((SECONDS + 8)) # within cleanup()'s 10 s
	for p in $(cat "$pids" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
	while pids_alive "$pids" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
	for p in $(cat "$pids" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	exit 0
}
if [ "$REST_POOLS" -eq 1 ] && [ "$REST_CHILDREN" -eq 1 ]; then
	rm -f "$RUN_DIR/rest.sock"
	(
		rest_redis_user
		exec spawn-fcgi -n -s "$RUN_DIR/rest.sock" -M 0600 -- "${wrapper[@]}" "$BIN_DIR/tandem-rest" \
			2>>"$RUN_DIR/rest.log"
	) &
	echo $! >"$RUN_DIR/rest.pid"
	wait_for "tandem-rest socket" 15 test -S "$RUN_DIR/rest.sock"
else
	for k in $(seq 1 "$REST_POOLS"); do
		supervise_pool "$k" &
		echo $! >"$RUN_DIR/rest-supervisor-$k.pid"
	done
	for k in $(seq 1 "$REST_POOLS"); do
		wait_for "tandem-rest pool $k" 15 test -S "$(rest_sock "$k")"
	done
fi

# --- notifiers (supervised: restarted when they exit) --------------------------
# supervise_notifier PORT PIDFILE LOG
supervise_notifier() {
	trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM
	notifier_redis_user
	child=
	while :; do
		"$BIN_DIR/tandem-notifier" --ws-listen "127.0.0.1:$1" 2>>"$3" &
		child=$!
		echo "$child" >"$2"
		wait "$child" || true
		sleep 0.2
	done
}
if [ -x "$BIN_DIR/tandem-notifier" ]; then
	supervise_notifier "$WS_PORT" "$RUN_DIR/notifier.pid" "$RUN_DIR/notifier.log" &
	echo $! >"$RUN_DIR/notifier-supervisor.pid"
	for p in $EXTRA_WS_PORTS; do
		supervise_notifier "$p" "$RUN_DIR/notifier-$p.pid" "$RUN_DIR/notifier-$p.log" &
		echo $! >"$RUN_DIR/notifier-supervisor-$p.pid"
	done
else
	log "no $BIN_DIR/tandem-notifier: running without live updates"
fi

# --- DEV ONLY: the demo's sign-in -----------------------------------------------
# With auth on by a secret, nginx's /dev/token hands a signed token to
# whoever names a user (read and write everything, own todos): a local
# stack only, never a public one.
rm -f "$RUN_DIR/dev-token.sock"
if [ "${TANDEM_DEV_TOKENS:-1}" != 0 ] && [ -x "$BIN_DIR/tandem-token" ] &&
	{ [ -n "${TANDEM_JWT_SECRET:-}" ] || [ -n "${TANDEM_JWT_SECRET_FILE:-}" ]; }; then
	"$BIN_DIR/tandem-token" --serve "unix:$RUN_DIR/dev-token.sock" --read '*' --write '*' \
		--own todos --ttl "${TANDEM_DEV_TOKEN_TTL:-10m}" 2>>"$RUN_DIR/dev-token.log" &
	echo $! >"$RUN_DIR/dev-token.pid"
	wait_for "tandem-token --serve" 15 test -S "$RUN_DIR/dev-token.sock"
	log "auth is on: DEV-ONLY sign-in at /dev/token?sub=NAME (TANDEM_DEV_TOKENS=0 turns it off)"
fi

# --- nginx ---------------------------------------------------------------------
CORS_MAP=$(sh "$ROOT/nginx/cors-map.sh" "${TANDEM_ALLOWED_ORIGINS:-}") || die "bad TANDEM_ALLOWED_ORIGINS"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
# nginx may raise its descriptors up to the hard limit only.
NOFILE=$(ulimit -Hn)
case "$NOFILE" in unlimited | '' | *[!0-9]*) NOFILE=65536 ;; esac
[ "$NOFILE" -le 65536 ] || NOFILE=65536
WORKER_CONNECTIONS=$((NOFILE - 1000)) # files, listeners, logs
[ "$WORKER_CONNECTIONS" -le 32768 ] || WORKER_CONNECTIONS=32768
sed -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@WS_PORT@|$WS_PORT|g" \
	-e "s|@WEB_ROOT@|$ROOT/web|g" -e "s|@MAX_BODY@|$MAX_BODY|g" -e "s|@USER_LINE@|$USER_LINE|g" \
	-e "s|@CONF_DIR@|$ROOT/nginx|g" -e "s|@CORS_MAP@|$CORS_MAP|g" \
	-e "s|@NOFILE@|$NOFILE|g" -e "s|@WORKER_CONNECTIONS@|$WORKER_CONNECTIONS|g" \
	-e "s|@RATE_READ@|${TANDEM_RATE_READ:-20000r/s}|g" -e "s|@RATE_WRITE@|${TANDEM_RATE_WRITE:-10000r/s}|g" \
	-e "s|@RATE_READ_BURST@|${TANDEM_RATE_READ_BURST:-40000}|g" \
	-e "s|@RATE_WRITE_BURST@|${TANDEM_RATE_WRITE_BURST:-20000}|g" \
	-e "s|@WS_CONNS_PER_ADDR@|${TANDEM_WS_CONNS_PER_ADDR:-20000}|g" \
	"$ROOT/nginx/tandem.conf.in" >"$RUN_DIR/nginx/nginx.conf"
# More pools or notifiers: one upstream server line each, next to the first.
upstream_lines=""
for k in $(seq 2 "$REST_POOLS"); do
	upstream_lines="$upstream_lines\\n        server unix:$(rest_sock "$k");"
done
[ -z "$upstream_lines" ] ||
	sed -i "s|^\( *server unix:$RUN_DIR/rest.sock;\)\$|\1$upstream_lines|" "$RUN_DIR/nginx/nginx.conf"
upstream_lines=""
for p in $EXTRA_WS_PORTS; do
	upstream_lines="$upstream_lines\\n        server 127.0.0.1:$p max_fails=0;"
done
[ -z "$upstream_lines" ] ||
	sed -i "s|^\( *server 127.0.0.1:$WS_PORT max_fails=0;\)\$|\1$upstream_lines|" "$RUN_DIR/nginx/nginx.conf"
nginx -q -t -e "$RUN_DIR/nginx/error.log" -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx/nginx.conf" 2>>"$RUN_DIR/nginx/error.log" ||
	die "nginx rejected $RUN_DIR/nginx/nginx.conf (see $RUN_DIR/nginx/error.log)"
nginx -e "$RUN_DIR/nginx/error.log" -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx/nginx.conf" -g 'daemon off;' &
wait_for "nginx" 15 curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/v1/_health"
if [ -x "$BIN_DIR/tandem-notifier" ]; then
	for p in "$WS_PORT" $EXTRA_WS_PORTS; do
		wait_for "tandem-notifier on $p" 15 curl -fsS -o /dev/null "http://127.0.0.1:$p/healthz"
	done
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
