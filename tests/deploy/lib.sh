# Shell helpers for tests/deploy/*.sh (sourced).
DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DEPLOY_DIR/../.." && pwd)
BIN_DIR=${TANDEM_BIN_DIR:-build}
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac

log() { printf '%s\n' "$*" >&2; }

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_ports N: prints the first of N consecutive free ports (random start).
free_ports() {
	local n=$1 p i ok
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % 20000)) # below the ephemeral range (32768+)
		ok=1
		for i in $(seq 0 $((n - 1))); do
			port_free $((p + i)) || { ok=0; break; }
		done
		[ $ok -eq 1 ] && { echo "$p"; return 0; }
	done
	return 1
}

# wait_until SECONDS COMMAND...: polls until COMMAND succeeds.
wait_until() {
	local secs=$1
	shift
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

# stop_pid PID: SIGTERM, up to 10 s, then SIGKILL. Only for PIDs we started.
stop_pid() {
	local p=$1
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
}
