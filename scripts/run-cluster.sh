#!/usr/bin/env bash
# Runs a local Redis Cluster in the foreground, all on 127.0.0.1: by default
# three masters and three replicas (redis-server --cluster-enabled yes x6,
# joined by redis-cli --cluster create --cluster-replicas 1). Redis Cluster needs
# TCP: node i listens on PORT+i and its cluster bus on PORT+i+10000.
#
# State lives under TANDEM_RUN_DIR (default ./var/cluster): node<i>/ holds
# each node's redis.conf, nodes.conf, data, log and pid; a second start on
# the same dir reuses the ports and the cluster it made. When every node
# says cluster_state:ok and every master has its replica, the script
# writes the seed URL to $RUN_DIR/seeds and to stdout, the node ports to
# $RUN_DIR/ports, and touches $RUN_DIR/ready (the fixture tests wait for
# it). SIGTERM or Ctrl-C stops exactly the six servers it started.
#
# Environment:
#   TANDEM_RUN_DIR                 state (default ./var/cluster)
#   TANDEM_CLUSTER_PORT            first node port (default: six free ports
#                                  in 20000-22705 whose bus ports are free too)
#   TANDEM_CLUSTER_NODE_TIMEOUT    cluster-node-timeout in ms (default 5000;
#                                  tests use less so a failover takes ~1 s)
#   TANDEM_CLUSTER_PASSWORD        requirepass + masterauth on every node
#   TANDEM_CLUSTER_APPENDONLY      yes|no (default yes)
#   TANDEM_CLUSTER_MASTERS         masters (default 3; 1 makes a one-node
#                                  cluster holding every slot, which
#                                  redis-cli --cluster create refuses: the
#                                  benchmarks compare it with 3)
#   TANDEM_CLUSTER_REPLICAS        replicas per master, 0 or 1 (default 1)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=${TANDEM_RUN_DIR:-$ROOT/var/cluster}
NODE_TIMEOUT=${TANDEM_CLUSTER_NODE_TIMEOUT:-5000}
APPENDONLY=${TANDEM_CLUSTER_APPENDONLY:-yes}
MASTERS=${TANDEM_CLUSTER_MASTERS:-3}
REPLICAS=${TANDEM_CLUSTER_REPLICAS:-1}

log() { printf 'run-cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

case "$NODE_TIMEOUT" in '' | *[!0-9]*) die "TANDEM_CLUSTER_NODE_TIMEOUT must be milliseconds" ;; esac
case "$APPENDONLY" in yes | no) ;; *) die "TANDEM_CLUSTER_APPENDONLY must be yes or no" ;; esac
case "$MASTERS" in [1-9]) ;; *) die "TANDEM_CLUSTER_MASTERS must be 1..9" ;; esac
case "$REPLICAS" in 0 | 1) ;; *) die "TANDEM_CLUSTER_REPLICAS must be 0 or 1" ;; esac
[ "$MASTERS" -eq 1 ] || [ "$MASTERS" -ge 3 ] || die "TANDEM_CLUSTER_MASTERS: Redis Cluster needs 1 or at least 3"
NODES=$((MASTERS * (1 + REPLICAS)))
command -v redis-server >/dev/null || die "redis-server not found (make deps)"
command -v redis-cli >/dev/null || die "redis-cli not found (make deps)"

mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
rm -f "$RUN_DIR/ready"
if [ -n "${TANDEM_CLUSTER_PASSWORD:-}" ]; then
	export REDISCLI_AUTH=$TANDEM_CLUSTER_PASSWORD # redis-cli reads it; stays off the process list
fi

# port_free PORT: nothing accepts on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Below the kernel's ephemeral range (32768-60999 by default), ports and
# bus ports alike, so no outgoing connection can hold one of them.
pick_base() {
	local base i ok
	for _ in $(seq 1 200); do
		base=$((20000 + RANDOM % 2700))
		ok=1
		for i in $(seq 0 $((NODES - 1))); do
			if ! port_free $((base + i)) || ! port_free $((base + i + 10000)); then
				ok=0
				break
			fi
		done
		[ $ok -eq 1 ] && { echo "$base"; return 0; }
	done
	return 1
}

if [ -n "${TANDEM_CLUSTER_PORT:-}" ]; then
	BASE=$TANDEM_CLUSTER_PORT
elif [ -s "$RUN_DIR/ports" ]; then
	BASE=$(head -n 1 "$RUN_DIR/ports")
else
	BASE=$(pick_base) || die "no $NODES free ports (with their bus ports) found"
fi
case "$BASE" in '' | *[!0-9]*) die "TANDEM_CLUSTER_PORT must be a port number" ;; esac
[ "$BASE" -ge 1024 ] && [ $((BASE + NODES - 1 + 10000)) -le 65535 ] ||
	die "TANDEM_CLUSTER_PORT must leave room for $NODES ports and their bus ports (+10000)"

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

pids=()
stopping=0
cleanup() {
	stopping=1
	trap - TERM INT EXIT
	rm -f "$RUN_DIR/ready"
	local p i
	for i in $(seq 0 $((NODES - 1))); do
		p=$(cat "$RUN_DIR/node$i/redis.pid" 2>/dev/null || true)
		# Only a pid this script started (a stale pid file names nobody of ours).
		case " ${pids[*]} " in *" $p "*) kill -TERM "$p" 2>/dev/null || true ;; esac
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	log "stopped"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

# --- the nodes -------------------------------------------------------------------
for i in $(seq 0 $((NODES - 1))); do
	port=$((BASE + i))
	dir=$RUN_DIR/node$i
	mkdir -p "$dir"
	{
		echo "bind 127.0.0.1"
		echo "port $port"
		echo "cluster-port $((port + 10000))"
		echo "cluster-enabled yes"
		# A lone master never learns its address from a peer and would list
		# itself as "" in CLUSTER SLOTS.
		echo "cluster-announce-ip 127.0.0.1"
		echo "cluster-config-file $dir/nodes.conf"
		echo "cluster-node-timeout $NODE_TIMEOUT"
		echo "dir $dir"
		echo "pidfile $dir/redis.pid"
		echo "logfile $dir/redis.log"
		echo "daemonize no"
		echo "appendonly $APPENDONLY"
		echo "appendfsync everysec"
		echo 'save ""'
		if [ -n "${TANDEM_CLUSTER_PASSWORD:-}" ]; then
			echo "requirepass \"$TANDEM_CLUSTER_PASSWORD\""
			echo "masterauth \"$TANDEM_CLUSTER_PASSWORD\""
		fi
	} >"$dir/redis.conf"
	chmod 600 "$dir/redis.conf"
	redis-server "$dir/redis.conf" &
	pids+=($!)
done
printf '%s\n' "$BASE" >"$RUN_DIR/ports"

# wait_for DESCRIPTION SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null || die "a redis-server exited (logs in $RUN_DIR/node*/redis.log)"
		done
		[ $SECONDS -lt $deadline ] || die "$what not reached within ${secs}s (logs in $RUN_DIR/node*/redis.log)"
		sleep 0.1
	done
}

for i in $(seq 0 $((NODES - 1))); do
	wait_for "node $i answering" 15 cli $((BASE + i)) ping
done

# --- the cluster (once per run dir) -------------------------------------------
known=$(cli "$BASE" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')
if [ "$MASTERS" -eq 1 ]; then
	# One master: give it every slot; its replica (if any) follows it.
	if ! cli "$BASE" cluster info | grep -q '^cluster_slots_assigned:16384'; then
		log "creating a one-master cluster on port $BASE"
		cli "$BASE" cluster addslotsrange 0 16383 >"$RUN_DIR/create.log" 2>&1 ||
			die "CLUSTER ADDSLOTSRANGE failed (see $RUN_DIR/create.log)"
	fi
	if [ "$REPLICAS" -eq 1 ] && [ "${known:-1}" -lt 2 ]; then
		cli $((BASE + 1)) cluster meet 127.0.0.1 "$BASE" >>"$RUN_DIR/create.log"
		wait_for "node 1 meeting node 0" 30 bash -c "redis-cli -h 127.0.0.1 -p $((BASE + 1)) cluster nodes | grep -q myself,master"
		id=$(cli "$BASE" cluster myid | tr -d '\r')
		wait_for "node 1 knowing node 0" 30 bash -c "redis-cli -h 127.0.0.1 -p $((BASE + 1)) cluster nodes | grep -q '^$id '"
		cli $((BASE + 1)) cluster replicate "$id" >>"$RUN_DIR/create.log" ||
			die "CLUSTER REPLICATE failed (see $RUN_DIR/create.log)"
	fi
elif [ "${known:-1}" -lt $NODES ]; then
	addrs=()
	for i in $(seq 0 $((NODES - 1))); do addrs+=("127.0.0.1:$((BASE + i))"); done
	log "creating the cluster on ports $BASE..$((BASE + NODES - 1))"
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$REPLICAS" --cluster-yes \
		>"$RUN_DIR/create.log" 2>&1 || die "redis-cli --cluster create failed (see $RUN_DIR/create.log)"
fi

state_ok() {
	local i
	for i in $(seq 0 $((NODES - 1))); do
		cli $((BASE + i)) cluster info | grep -q '^cluster_state:ok' || return 1
	done
}
replicas_up() {
	local i role
	for i in $(seq 0 $((NODES - 1))); do
		role=$(cli $((BASE + i)) info replication | tr -d '\r')
		case "$role" in
		*role:master*) [ "$REPLICAS" -eq 0 ] || grep -q '^connected_slaves:[1-9]' <<<"$role" || return 1 ;;
		*) grep -q '^master_link_status:up' <<<"$role" || return 1 ;;
		esac
	done
}
# Every node's own view: the masters and replicas, none failing or in a
# handshake (so CLUSTER SLOTS from any seed lists each range's replica).
views_agree() {
	local i
	for i in $(seq 0 $((NODES - 1))); do
		cli $((BASE + i)) cluster nodes | tr -d '\r' | awk -v nm="$MASTERS" -v nr=$((MASTERS * REPLICAS)) '
			$3 ~ /fail|handshake|noaddr/ { bad = 1 }
			$3 ~ /master/ && NF >= 9 { m++ }
			$3 ~ /slave/ { r++ }
			END { exit !(bad == 0 && m == nm && r == nr) }' || return 1
	done
}
wait_for "cluster_state:ok on every node" 60 state_ok
wait_for "every master with a replica in sync" 60 replicas_up
# CLUSTER SLOTS hides a replica until its replication offset has gossiped
# (Redis 7.0): wait until every node lists all six nodes there.
slots_full() {
	local i
	for i in $(seq 0 $((NODES - 1))); do
		[ "$(cli $((BASE + i)) cluster slots | grep -c '^127\.0\.0\.1$')" -eq $NODES ] || return 1
	done
}
wait_for "every node seeing $MASTERS masters and $((MASTERS * REPLICAS)) replicas" 60 views_agree
wait_for "CLUSTER SLOTS listing every replica on every node" 60 slots_full

seeds=
for i in $(seq 0 $((NODES - 1))); do seeds+="${seeds:+,}127.0.0.1:$((BASE + i))"; done
url="redis-cluster://$seeds"
printf '%s\n' "$url" >"$RUN_DIR/seeds"
touch "$RUN_DIR/ready"
printf '%s\n' "$url"
cat >&2 <<MSG
Redis Cluster is running ($MASTERS masters, $((MASTERS * REPLICAS)) replicas; state in $RUN_DIR):
  TANDEM_REDIS_URL=$url
  redis-cli -c -p $BASE cluster nodes
Press Ctrl-C to stop.
MSG

# Sleep in the background so the TERM trap runs at once.
while [ $stopping -eq 0 ]; do
	sleep 1 &
	wait $! || true
done
