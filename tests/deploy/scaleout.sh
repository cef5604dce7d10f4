#!/usr/bin/env bash
# Scale-out proof: one private redis-server, two REST pools (spawn-fcgi +
# tandem-rest, each on its own unix socket), two tandem-notifiers, one nginx
# with upstreams for both sides. tests/deploy/scaleout.mjs then writes
# through each pool and checks that WebSocket clients of both notifiers
# (direct and through nginx) get every event, stops one notifier and checks
# that the other's clients are unaffected.
# Exit 0 pass, 1 fail, 77 skip (no tandem-notifier binary yet).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ ! -x "$BIN_DIR/tandem-notifier" ]; then
	log "scale-out: SKIP — $BIN_DIR/tandem-notifier does not exist (the notifier is not built yet)"
	exit 77
fi

DIR=$(mktemp -d /tmp/tandem-scaleout.XXXXXX)
mkdir -p "$DIR/tmp" "$DIR/redis"
pids=()
cleanup() {
	local rc=$?
	# nginx first, then notifiers and pools, Redis last; only what we started.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[$i]}"; done
	wait 2>/dev/null || true
	if [ $rc -ne 0 ]; then
		log "scale-out: logs kept in $DIR"
		tail -n 15 "$DIR"/*.log 2>/dev/null | sed 's/^/    /' >&2 || true
	else
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
die() { log "scale-out: $*"; exit 1; }

PORT=$(free_ports 5) || die "no free ports"
PORT_A=$((PORT + 1)) PORT_B=$((PORT + 2)) WS_A=$((PORT + 3)) WS_B=$((PORT + 4))

cat >"$DIR/redis.conf" <<CONF
port 0
unixsocket $DIR/redis.sock
unixsocketperm 700
dir $DIR/redis
logfile $DIR/redis.log
daemonize no
appendonly yes
save ""
CONF
redis-server "$DIR/redis.conf" &
pids+=($!)
wait_until 15 redis-cli -s "$DIR/redis.sock" ping || die "redis-server did not start"
export TANDEM_REDIS_URL="unix://$DIR/redis.sock"

for pool in a b; do
	spawn-fcgi -n -s "$DIR/rest-$pool.sock" -M 0600 -- "$BIN_DIR/tandem-rest" --threads 4 \
		2>>"$DIR/rest-$pool.log" &
	pids+=($!)
	wait_until 15 test -S "$DIR/rest-$pool.sock" || die "REST pool $pool did not start"
done

"$BIN_DIR/tandem-notifier" --ws-listen "127.0.0.1:$WS_A" 2>>"$DIR/notifier-a.log" &
NOTIFIER_A=$!
pids+=($NOTIFIER_A)
"$BIN_DIR/tandem-notifier" --ws-listen "127.0.0.1:$WS_B" 2>>"$DIR/notifier-b.log" &
pids+=($!)
for p in $WS_A $WS_B; do
	wait_until 15 curl -fsS -o /dev/null "http://127.0.0.1:$p/healthz" || die "notifier on $p did not come up"
done

USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
sed -e "s|@DIR@|$DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@PORT_A@|$PORT_A|g" -e "s|@PORT_B@|$PORT_B|g" \
	-e "s|@WS_A@|$WS_A|g" -e "s|@WS_B@|$WS_B|g" -e "s|@USER_LINE@|$USER_LINE|g" \
	"$DEPLOY_DIR/scaleout-nginx.conf.in" >"$DIR/nginx.conf"
nginx -q -t -p "$DIR" -c "$DIR/nginx.conf" 2>>"$DIR/nginx-error.log" || die "nginx rejected $DIR/nginx.conf"
nginx -p "$DIR" -c "$DIR/nginx.conf" -g 'daemon off;' 2>>"$DIR/nginx-error.log" &
pids+=($!)
for p in $PORT $PORT_A $PORT_B; do
	wait_until 15 curl -fsS -o /dev/null "http://127.0.0.1:$p/api/v1/_health" || die "nginx on $p did not come up"
done

SCALE_FRONT=http://127.0.0.1:$PORT SCALE_POOL_A=http://127.0.0.1:$PORT_A SCALE_POOL_B=http://127.0.0.1:$PORT_B \
	SCALE_WS_A=$WS_A SCALE_WS_B=$WS_B SCALE_NOTIFIER_A_PID=$NOTIFIER_A \
	node "$DEPLOY_DIR/scaleout.mjs"
