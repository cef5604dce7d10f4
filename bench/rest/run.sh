#!/usr/bin/env bash
# REST benchmark of tandem-rest (docs/PERFORMANCE.md, "## REST (tandem-rest)").
#
# Starts, all on 127.0.0.1 in a temp dir, and stops again on exit:
#   - one Tandem stack with scripts/run-stack.sh (Redis, tandem-rest with
#     TANDEM_THREADS threads on $RUN_DIR/rest.sock, its own nginx);
#   - one more tandem-rest per BENCH_EXTRA_THREADS value (own socket, same
#     Redis), to compare thread counts;
#   - build/bench/hello-fcgi, the trivial libfcgi worker: the ceiling for any
#     FastCGI backend on this machine; once with HELLO_THREADS threads (with
#     and without keep-conn), once with TANDEM_THREADS threads (without: the
#     reference of the ratio targets), and once more with TANDEM_THREADS
#     threads under SCHED_BATCH as tandem-rest's workers run
#     (BENCH_HELLO_BATCH=0: not);
#   - with BENCH_BASELINE_BIN, one more tandem-rest from that binary (own
#     socket, same Redis, TANDEM_THREADS threads): an A/B of two builds in
#     one run, rows interleaved;
#   - a benchmark nginx of our own with, per backend, one port without and
#     one with fastcgi_keep_conn (upstream keepalive 32).
# Then wrk -t1 -c$BENCH_CONNECTIONS through that nginx: hello, and for each
# tandem-rest GET by id, POST create, a list page of 100, each without and
# with keep-conn, plus GET by id through the stack's own nginx as shipped.
# The benchmark nginx is started afresh for every measurement, so
# connections kept by one row never pin worker threads in the next.
# Each row: warm-up, then a measured run; BENCH_ROUNDS rounds, interleaved,
# and the round with the most req/s is reported. The ratio targets (GET by
# id >= 0.85, POST >= 0.6) are to hello(TANDEM_THREADS) without keep-conn,
# the connection model we ship; a last block puts GET and POST side by
# side with that ratio per round (the spread).
#
# Environment (defaults): BENCH_DURATION (10) and BENCH_WARMUP (2) seconds
# per row, BENCH_ROUNDS (3), BENCH_CONNECTIONS (64), TANDEM_THREADS (16),
# BENCH_EXTRA_THREADS ("" for none; e.g. "4 64 128"), HELLO_THREADS (128),
# BENCH_HELLO_BATCH (1), BENCH_BASELINE_BIN (none), BENCH_DOCS (1000),
# BENCH_KEEPALIVE (32), BENCH_ONLY (regex on row names, e.g.
# 'hello|GET by id'), BENCH_OUT_DIR (a new /tmp/tandem-bench.XXXXXX),
# TANDEM_BIN_DIR (build). Results: stdout and $BENCH_OUT_DIR/results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/rest
BIN_DIR=${TANDEM_BIN_DIR:-$ROOT/build}
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-64}
STACK_THREADS=${TANDEM_THREADS:-16}
EXTRA_THREADS=${BENCH_EXTRA_THREADS:-}
HELLO_THREADS=${HELLO_THREADS:-128}
HELLO_BATCH=${BENCH_HELLO_BATCH:-1}
BASELINE_BIN=${BENCH_BASELINE_BIN:-}
DOCS=${BENCH_DOCS:-1000}
KEEPALIVE=${BENCH_KEEPALIVE:-32}
ONLY=${BENCH_ONLY:-}

log() { printf 'bench/rest: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
for v in DURATION WARMUP ROUNDS CONNS STACK_THREADS HELLO_THREADS DOCS KEEPALIVE; do
	is_uint "${!v}" || die "$v must be a whole number (got '${!v}')"
done
case "$HELLO_BATCH" in 0 | 1) ;; *) die "BENCH_HELLO_BATCH must be 0 or 1" ;; esac
if [ -n "$BASELINE_BIN" ] && [ ! -x "$BASELINE_BIN" ]; then die "BENCH_BASELINE_BIN: $BASELINE_BIN is not executable"; fi
for t in $EXTRA_THREADS; do is_uint "$t" || die "BENCH_EXTRA_THREADS: '$t' is not a number"; done
if [ "$DURATION" -lt 1 ] || [ "$ROUNDS" -lt 1 ] || [ "$CONNS" -lt 1 ] || [ "$DOCS" -lt 1 ]; then
	die "BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS and BENCH_DOCS must be at least 1"
fi
[ "$DOCS" -le 10000 ] || die "BENCH_DOCS: at most 10000"

for b in tandem-rest bench/hello-fcgi; do
	[ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing: run make first"
done
for c in wrk nginx curl redis-server spawn-fcgi; do
	command -v "$c" >/dev/null || die "$c is not installed (Debian package: see scripts/deps.sh; wrk: apt-get install wrk)"
done

if [ -n "${BENCH_OUT_DIR:-}" ]; then
	mkdir -p "$BENCH_OUT_DIR"
	DIR=$(cd "$BENCH_OUT_DIR" && pwd)
else
	DIR=$(mktemp -d /tmp/tandem-bench.XXXXXX)
fi
STACK_DIR=$DIR/stack
NGX_DIR=$DIR/nginx
mkdir -p "$NGX_DIR/tmp" "$NGX_DIR/logs"
RAW=$DIR/raw.tsv
RESULTS=$DIR/results.md
: >"$RAW"

# --- ports ---------------------------------------------------------------------
# Ports are picked below the kernel's ephemeral range, so the many client
# connections of a benchmark (ours or anyone's) never hold one of them.
# port_free PORT: no socket uses PORT and it is not taken here.
TAKEN=" "
port_free() {
	case "$TAKEN" in *" $1 "*) return 1 ;; esac
	if command -v ss >/dev/null; then
		[ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
	else
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
	fi
}
PORT_LO=20000
PORT_HI=$(awk '{print $1 - 1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
[ "$PORT_HI" -gt $((PORT_LO + 1000)) ] || PORT_HI=$((PORT_LO + 10000))
# free_port VAR [N]: sets VAR to the first of N (1) consecutive free ports,
# from a random start (no subshell, so TAKEN remembers it).
free_port() {
	local var=$1 n=${2:-1} p k ok
	for _ in $(seq 1 200); do
		p=$((PORT_LO + RANDOM % (PORT_HI - PORT_LO - n)))
		ok=1
		for k in $(seq 0 $((n - 1))); do
			port_free $((p + k)) || { ok=0; break; }
		done
		if [ $ok -eq 1 ]; then
			for k in $(seq 0 $((n - 1))); do TAKEN="$TAKEN$((p + k)) "; done
			printf -v "$var" '%s' "$p"
			return 0
		fi
	done
	die "no free port found"
}

# --- processes -----------------------------------------------------------------
STACK_PID=
NGX_PID=
BG_PIDS=()

# stop_pid PID [SECONDS]: TERM, wait up to SECONDS (10), then KILL. Only
# our own children.
stop_pid() {
	local p=$1 secs=${2:-10}
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 1 $((secs * 10))); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

start_bench_nginx() {
	nginx -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -g 'daemon off;' 2>>"$NGX_DIR/logs/error.log" &
	NGX_PID=$!
	local p=${PORT[hello,close]}
	wait_for "the benchmark nginx" 15 curl -fsS -o /dev/null "http://127.0.0.1:$p/"
}
stop_bench_nginx() {
	[ -n "$NGX_PID" ] || return 0
	stop_pid "$NGX_PID"
	NGX_PID=
}

cleanup() {
	trap - EXIT
	trap '' INT TERM HUP PIPE # finish stopping everything, whatever comes
	stop_bench_nginx
	local p
	for p in "${BG_PIDS[@]}"; do stop_pid "$p"; done
	# run-stack.sh gives each of its processes up to 10 s itself.
	stop_pid "$STACK_PID" 60
	# The AOF of the POST rows and the stack nginx's access log are large
	# and of no further use.
	rm -rf "$STACK_DIR/redis" "$STACK_DIR/nginx/access.log" "$NGX_DIR/tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# wait_for DESCRIPTION SECONDS COMMAND...
wait_for() {
	local what=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || die "$what did not come up within ${secs}s (logs in $DIR)"
		sleep 0.1
	done
}

# --- the stack -----------------------------------------------------------------
# A bin dir with tandem-rest only: the REST benchmark needs no notifier
# (PUBLISH to no subscriber), and run-stack.sh starts none without one.
mkdir -p "$DIR/bin"
ln -sf "$BIN_DIR/tandem-rest" "$DIR/bin/tandem-rest"
# Up to three tries: someone else may bind the port we picked first.
for try in 1 2 3; do
	free_port STACK_PORT 2 # HTTP_PORT and HTTP_PORT+1 (notifier)
	log "starting the stack (TANDEM_THREADS=$STACK_THREADS) in $STACK_DIR, port $STACK_PORT"
	TANDEM_RUN_DIR=$STACK_DIR TANDEM_HTTP_PORT=$STACK_PORT TANDEM_THREADS=$STACK_THREADS \
		TANDEM_BIN_DIR=$DIR/bin \
		"$ROOT/scripts/run-stack.sh" >"$DIR/stack.log" 2>&1 &
	STACK_PID=$!
	deadline=$((SECONDS + 60))
	until [ -e "$STACK_DIR/ready" ] || ! kill -0 "$STACK_PID" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "the stack did not come up within 60s (see $DIR/stack.log)"
		sleep 0.1
	done
	[ -e "$STACK_DIR/ready" ] && break
	wait "$STACK_PID" 2>/dev/null || true
	STACK_PID=
	if [ "$try" -eq 3 ] || ! grep -q 'Address already in use' "$DIR/stack.log"; then
		die "run-stack.sh exited (see $DIR/stack.log)"
	fi
done

# Backends: name, socket, thread count (for the table). The first is the
# keep-conn ceiling; hello(N) and hello(N) batch are measured without
# keep-conn only; every tandem backend gets the three kinds of rows.
HELLO_REF="hello($STACK_THREADS)"
BACKENDS=("hello|$DIR/hello.sock|$HELLO_THREADS" "$HELLO_REF|$DIR/hello-t.sock|$STACK_THREADS")
[ "$HELLO_BATCH" = 1 ] && BACKENDS+=("$HELLO_REF batch|$DIR/hello-b.sock|$STACK_THREADS")
N_HELLO=${#BACKENDS[@]}
BACKENDS+=("tandem($STACK_THREADS)|$STACK_DIR/rest.sock|$STACK_THREADS")

# BPID[backend]: its process, whose CPU time each row samples.
declare -A BPID
BPID["tandem($STACK_THREADS)"]=$(cat "$STACK_DIR/rest.pid")
"$BIN_DIR/bench/hello-fcgi" --listen "unix:$DIR/hello.sock" --threads "$HELLO_THREADS" \
	2>"$DIR/hello.log" &
BG_PIDS+=($!)
BPID[hello]=$!
"$BIN_DIR/bench/hello-fcgi" --listen "unix:$DIR/hello-t.sock" --threads "$STACK_THREADS" \
	2>"$DIR/hello-t.log" &
BG_PIDS+=($!)
BPID["$HELLO_REF"]=$!
if [ "$HELLO_BATCH" = 1 ]; then
	"$BIN_DIR/bench/hello-fcgi" --listen "unix:$DIR/hello-b.sock" --threads "$STACK_THREADS" \
		--batch 2>"$DIR/hello-b.log" &
	BG_PIDS+=($!)
	BPID["$HELLO_REF batch"]=$!
fi
if [ -n "$BASELINE_BIN" ]; then
	TANDEM_REDIS_URL="unix://$STACK_DIR/redis.sock" TANDEM_THREADS=$STACK_THREADS \
		"$BASELINE_BIN" --listen "unix:$DIR/rest-base.sock" 2>"$DIR/rest-base.log" &
	BG_PIDS+=($!)
	BPID["base($STACK_THREADS)"]=$!
	BACKENDS+=("base($STACK_THREADS)|$DIR/rest-base.sock|$STACK_THREADS")
fi

for t in $EXTRA_THREADS; do
	[ "$t" = "$STACK_THREADS" ] && continue
	TANDEM_REDIS_URL="unix://$STACK_DIR/redis.sock" TANDEM_THREADS=$t \
		"$BIN_DIR/tandem-rest" --listen "unix:$DIR/rest-$t.sock" 2>"$DIR/rest-$t.log" &
	BG_PIDS+=($!)
	BPID["tandem($t)"]=$!
	BACKENDS+=("tandem($t)|$DIR/rest-$t.sock|$t")
done
for b in "${BACKENDS[@]}"; do
	IFS='|' read -r _ sock _ <<<"$b"
	wait_for "$sock" 15 test -S "$sock"
done

# --- the benchmark nginx -------------------------------------------------------
# One upstream pair and one port pair per backend: <i>c (no keep-conn, as
# shipped in nginx/tandem.conf.in) and <i>k (fastcgi_keep_conn on,
# keepalive $KEEPALIVE per nginx worker).
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
declare -A PORT
{
	cat <<CONF
# Generated by bench/rest/run.sh.
$USER_LINE
worker_processes auto;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $NGX_DIR/tmp/body;
    fastcgi_temp_path $NGX_DIR/tmp/fastcgi;
    proxy_temp_path $NGX_DIR/tmp/proxy;
    uwsgi_temp_path $NGX_DIR/tmp/uwsgi;
    scgi_temp_path $NGX_DIR/tmp/scgi;
    client_body_buffer_size 64k;
CONF
	i=0
	for b in "${BACKENDS[@]}"; do
		IFS='|' read -r name sock _ <<<"$b"
		free_port port
		PORT[$name,close]=$port
		free_port port
		PORT[$name,keep]=$port
		cat <<CONF

    # $name
    upstream b${i}c { server unix:$sock; }
    upstream b${i}k { server unix:$sock; keepalive $KEEPALIVE; }
    server {
        listen 127.0.0.1:${PORT[$name,close]};
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass b${i}c;
            fastcgi_read_timeout 30s;
        }
    }
    server {
        listen 127.0.0.1:${PORT[$name,keep]};
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass b${i}k;
            fastcgi_keep_conn on;
            fastcgi_read_timeout 30s;
        }
    }
CONF
		i=$((i + 1))
	done
	echo "}"
} >"$NGX_DIR/nginx.conf"
nginx -q -t -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" 2>>"$NGX_DIR/logs/error.log" ||
	die "nginx rejected $NGX_DIR/nginx.conf (see $NGX_DIR/logs/error.log)"

# --- preseed ---------------------------------------------------------------------
# PUT d0000.. d<DOCS-1> into collection "bench" through the stack's nginx,
# one curl process reusing its connection.
log "preseeding $DOCS documents"
{
	for k in $(seq 0 $((DOCS - 1))); do
		printf 'url = "http://127.0.0.1:%d/api/v1/bench/d%04d"\n' "$STACK_PORT" "$k"
		printf 'request = "PUT"\nheader = "Content-Type: application/json"\n'
		printf 'data = "{\\"title\\":\\"Document %d\\",\\"done\\":false,\\"priority\\":%d,\\"tags\\":[\\"bench\\",\\"rest\\"],\\"note\\":\\"preseeded by bench/rest/run.sh\\"}"\n' "$k" $((k % 5))
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
		if [ "$k" -lt $((DOCS - 1)) ]; then printf 'next\n'; fi
	done
} >"$DIR/preseed.curl"
codes=$(curl -sS --max-time 120 -K "$DIR/preseed.curl") || die "preseeding failed"
bad=$(printf '%s\n' "$codes" | grep -cv '^20[01]$' || true)
[ "$bad" -eq 0 ] || die "preseeding: $bad of $DOCS PUTs failed (codes: $(printf '%s\n' "$codes" | sort | uniq -c | tr '\n' ' '))"
curl -fsS "http://127.0.0.1:$STACK_PORT/api/v1/bench?limit=100" | grep -q '"next":"d0099"' ||
	die "the list page of 100 does not look right"

# --- rows ------------------------------------------------------------------------
# name|port|path|script|backend
ROWS=()
add_row() { # add_row NAME PORT PATH SCRIPT BACKEND
	if [ -n "$ONLY" ] && ! printf '%s\n' "$1" | grep -Eq -- "$ONLY"; then return 0; fi
	ROWS+=("$1|$2|$3|$4|$5")
}
add_row "hello($HELLO_THREADS), no keep-conn" "${PORT[hello,close]}" / plain.lua hello
add_row "hello($HELLO_THREADS), keep-conn" "${PORT[hello,keep]}" / plain.lua hello
for b in "${BACKENDS[@]:1:N_HELLO-1}"; do
	IFS='|' read -r name _ _ <<<"$b"
	add_row "$name, no keep-conn" "${PORT[$name,close]}" / plain.lua "$name"
done
for b in "${BACKENDS[@]:N_HELLO}"; do
	IFS='|' read -r name _ _ <<<"$b"
	for what in "GET by id|/api/v1/bench/d0000|get.lua" "POST create|/api/v1/benchpost|post.lua" \
		"list of 100|/api/v1/bench?limit=100|plain.lua"; do
		IFS='|' read -r label path script <<<"$what"
		add_row "$name $label, no keep-conn" "${PORT[$name,close]}" "$path" "$script" "$name"
		add_row "$name $label, keep-conn" "${PORT[$name,keep]}" "$path" "$script" "$name"
	done
done
add_row "tandem($STACK_THREADS) GET by id, stack nginx as shipped" "$STACK_PORT" /api/v1/bench/d0000 get.lua \
	"tandem($STACK_THREADS)"
[ ${#ROWS[@]} -gt 0 ] || die "BENCH_ONLY='$ONLY' matches no row"

export BENCH_LUA_DIR=$HERE BENCH_DOCS=$DOCS BENCH_COLLECTION=bench BENCH_POST_COLLECTION=benchpost

# cpu_ticks PID...: user + system clock ticks of these processes (all
# their threads), 0 for any that is gone.
cpu_ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
REDIS_PID=$(cat "$STACK_DIR/redis.pid")
HZ=$(getconf CLK_TCK)

# measure NAME PORT PATH SCRIPT ROUND BACKEND: warm-up, then one measured
# run, with the CPU time nginx's workers, the backend and Redis spent in it
# (per request: where the time goes; steadier than req/s on a shared machine).
measure() {
	local name=$1 url="http://127.0.0.1:$2$3" script=$HERE/$4 round=$5 backend=$6 out line ngx
	local -a t0 t1
	if [ "$2" = "$STACK_PORT" ]; then
		ngx=$(pgrep -P "$(cat "$STACK_DIR/nginx/nginx.pid")" | tr '\n' ' ')
	else
		start_bench_nginx
		ngx=$(pgrep -P "$NGX_PID" | tr '\n' ' ')
	fi
	if [ "$WARMUP" -gt 0 ]; then
		timeout $((WARMUP + 30)) wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$script" "$url" >/dev/null 2>&1 || true
	fi
	# shellcheck disable=SC2086
	t0=("$(cpu_ticks $ngx)" "$(cpu_ticks "${BPID[$backend]}")" "$(cpu_ticks "$REDIS_PID")")
	out=$(timeout $((DURATION + 30)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s -s "$script" "$url" 2>&1) || true
	# shellcheck disable=SC2086
	t1=("$(cpu_ticks $ngx)" "$(cpu_ticks "${BPID[$backend]}")" "$(cpu_ticks "$REDIS_PID")")
	[ "$2" = "$STACK_PORT" ] || stop_bench_nginx
	printf '== round %s: %s (%s)\n%s\n\n' "$round" "$name" "$url" "$out" >>"$DIR/wrk.log"
	line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
	[ -n "$line" ] || { log "$name: wrk gave no result (see $DIR/wrk.log)"; line="RESULT 0 0 0 0 0 0"; }
	# shellcheck disable=SC2086
	set -- $line
	# µs of CPU per request: nginx, backend, Redis.
	line=$(awk -v n="$5" -v hz="$HZ" -v a="${t0[*]}" -v b="${t1[*]}" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= 3; i++) printf "%s%.1f", (i > 1 ? "\t" : ""), (n > 0 ? (y[i] - x[i]) * 1e6 / hz / n : 0)
	}')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$2" "$3" "$4" "$5" "$6" "$7" "$line" >>"$RAW"
	# shellcheck disable=SC2086 # $line: the three figures, split on purpose
	log "$(printf 'round %s  %-48s %7.0f req/s  p50 %6.2f ms  p99 %7.2f ms  CPU us/req nginx %5.1f backend %5.1f redis %5.1f%s' \
		"$round" "$name" "$2" "$3" "$4" $line "$([ "$6$7" = 00 ] || echo "  errors $6, non-2xx $7")")"
}

total=$(( ${#ROWS[@]} * ROUNDS * (DURATION + WARMUP) ))
log "${#ROWS[@]} rows x $ROUNDS rounds x $((DURATION + WARMUP)) s: about $((total / 60)) min $((total % 60)) s"
for round in $(seq 1 "$ROUNDS"); do
	for r in "${ROWS[@]}"; do
		IFS='|' read -r name port path script backend <<<"$r"
		measure "$name" "$port" "$path" "$script" "$round" "$backend"
	done
done

# --- table -----------------------------------------------------------------------
# Best round per row (most req/s). ratio = req/s / hello(TANDEM_THREADS)
# without keep-conn (same thread count, same run: the reference of the
# targets GET by id >= 0.85 and POST >= 0.6); "to keep-conn" = req/s / the
# best hello row of all; p99 < 10 ms. Then GET and POST side by side: the
# best-of ratio, the median and the ratio of each round (the same round's
# rows, so the spread of the noise shows), and the ratio of CPU per request.
NPROC=$(nproc 2>/dev/null || echo "?")
NGX_WORKERS=$NPROC
WRK_VERSION=$( (wrk -v 2>&1 || true) | awk 'NR == 1 {print $2}')
order=$(for r in "${ROWS[@]}"; do printf '%s\n' "${r%%|*}"; done)
{
	printf '%s\n' "$order" | sed 's/^/ORDER\t/'
	cat "$RAW"
} | awk -F'\t' -v rounds="$ROUNDS" -v results="$RESULTS" -v ref="$HELLO_REF, no keep-conn" \
	-v bref="$HELLO_REF batch, no keep-conn" -v sref="$HELLO_REF" -v side="$DIR/side.txt" '
	$1 == "ORDER" { names[++n] = $2; next }
	{
		k = $2
		if (!(k in rps) || $3 + 0 > rps[k] + 0) {
			rps[k] = $3; p50[k] = $4; p99[k] = $5; errs[k] = $7; st[k] = $8
		}
		per[k, $1] = $3
		all[k] = all[k] (all[k] == "" ? "" : " / ") sprintf("%.0f", $3)
		if ($6 + 0 > 0) { cn[k]++; cng[k] += $9; cbe[k] += $10; crd[k] += $11 }
	}
	# CPU µs per request, mean of the rounds: nginx, backend, Redis, their sum.
	function cpu(k, what) {
		if (!cn[k]) return 0
		if (what == "n") return cng[k] / cn[k]
		if (what == "b") return cbe[k] / cn[k]
		if (what == "r") return crd[k] / cn[k]
		return (cng[k] + cbe[k] + crd[k]) / cn[k]
	}
	function fmt(a, b) { return b + 0 > 0 ? sprintf("%.2f", a / b) : "-" }
	# side_row LABEL ROW REF TARGET: best-of ratio and per-round ratios.
	# The median of the per-round ratios: one lucky round moves it less than the best-of.
	function side_row(label, k, r, target,    s, j, v, m, q, a, b, t) {
		if (!(k in rps) || !(r in rps)) return
		v = rps[r] + 0 > 0 ? rps[k] / rps[r] : 0
		s = ""
		m = 0
		for (j = 1; j <= rounds; j++) {
			s = s (j > 1 ? " " : "") fmt(per[k, j], per[r, j])
			if (per[r, j] + 0 > 0) q[++m] = per[k, j] / per[r, j]
		}
		for (a = 2; a <= m; a++)
			for (b = a; b > 1 && q[b - 1] > q[b]; b--) { t = q[b]; q[b] = q[b - 1]; q[b - 1] = t }
		t = m == 0 ? "-" : sprintf("%.2f", m % 2 ? q[(m + 1) / 2] : (q[m / 2] + q[m / 2 + 1]) / 2)
		printf "%-36s %5s %6s  %-30s %9s  %s\n", label, fmt(rps[k], rps[r]), t, s, fmt(cpu(r, "t"), cpu(k, "t")),
			target == "" ? "" : (v >= target ? "target " target " met" : "target " target " NOT met") > side
	}
	END {
		ceil = 0
		for (i = 1; i <= n; i++)
			if (names[i] ~ /^hello/ && rps[names[i]] + 0 > ceil) ceil = rps[names[i]] + 0
		base = rps[ref] + 0
		printf "%-52s %8s %7s %8s %6s %6s %22s  %s\n", "row", "req/s", "p50 ms", "p99 ms", "ratio", "to k-c",
			"CPU us/req ngx+be+rds", "target"
		print "| row | req/s | p50 ms | p99 ms | ratio | to keep-conn | CPU µs/req nginx + backend + Redis = total | target | req/s per round |" > results
		print "|---|---:|---:|---:|---:|---:|---|---|---|" > results
		for (i = 1; i <= n; i++) {
			k = names[i]
			ratio = base > 0 ? rps[k] / base : 0
			r = fmt(rps[k], base)
			rk = fmt(rps[k], ceil)
			t = ""
			if (k ~ /^(tandem|base)/) {
				if (base > 0 && k ~ /GET by id, no keep-conn/) t = ratio >= 0.85 ? "ratio ok" : "ratio < 0.85"
				else if (base > 0 && k ~ /POST create, no keep-conn/) t = ratio >= 0.6 ? "ratio ok" : "ratio < 0.6"
				t = t (t == "" ? "" : ", ") (p99[k] + 0 < 10 ? "p99 ok" : "p99 >= 10 ms")
			}
			if (errs[k] + st[k] > 0) t = t (t == "" ? "" : ", ") sprintf("%d errors, %d non-2xx", errs[k], st[k])
			c = sprintf("%.0f+%.0f+%.0f=%.0f", cpu(k, "n"), cpu(k, "b"), cpu(k, "r"), cpu(k, "t"))
			printf "%-52s %8.0f %7.2f %8.2f %6s %6s %22s  %s\n", k, rps[k], p50[k], p99[k], r, rk, c, t
			printf "| %s | %.0f | %.2f | %.2f | %s | %s | %s | %s | %s |\n", k, rps[k], p50[k], p99[k], r, rk,
				c, t, all[k] > results
		}
		printf "%-36s %5s %6s  %-30s %9s\n", "no keep-conn, same thread count", "best", "median", "per round", "CPU ratio" > side
		for (i = 1; i <= n; i++) {
			k = names[i]
			if (k !~ /^(tandem|base)\([0-9]+\) (GET by id|POST create), no keep-conn$/) continue
			sub(/, no keep-conn$/, "", k)
			sub(/ by id| create/, "", k)
			side_row(k " / " sref, names[i], ref, k ~ /GET/ ? 0.85 : 0.6)
			side_row(k " / " sref " batch", names[i], bref, "")
		}
	}' >"$DIR/table.txt"

{
	printf '\nREST benchmark: %s, %s cores, wrk %s -t1 -c%s, %s s per row (+%s s warm-up), best of %s rounds\n' \
		"$(date -u +%Y-%m-%dT%H:%MZ)" "$NPROC" "$WRK_VERSION" "$CONNS" "$DURATION" "$WARMUP" "$ROUNDS"
	printf 'tandem-rest threads: TANDEM_THREADS=%s (stack)%s%s; hello-fcgi threads: %s and %s%s; nginx workers: %s; upstream keepalive %s\n\n' \
		"$STACK_THREADS" "$(for t in $EXTRA_THREADS; do [ "$t" = "$STACK_THREADS" ] || printf ', %s (extra)' "$t"; done)" \
		"${BASELINE_BIN:+, base = $BASELINE_BIN}" "$HELLO_THREADS" "$STACK_THREADS" \
		"$([ "$HELLO_BATCH" = 1 ] && echo " (also SCHED_BATCH)")" "$NGX_WORKERS" "$KEEPALIVE"
	cat "$DIR/table.txt"
	printf '\n'
	cat "$DIR/side.txt"
	printf '\nratio = req/s / %s, no keep-conn (same run); to k-c = req/s / the best hello row;\n' "$HELLO_REF"
	printf 'CPU us/req: nginx workers + backend + Redis, mean of the rounds; CPU ratio = the reference row'"'"'s sum / this row'"'"'s.\n'
	printf 'Results: %s (wrk output: %s)\n' "$RESULTS" "$DIR/wrk.log"
} | tee "$DIR/summary.txt"

{
	printf '# REST benchmark results\n\n'
	printf -- '- date: %s; machine: %s cores (%s)\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$NPROC" "$(uname -sr)"
	printf -- '- wrk %s -t1 -c%s, %s s per row after a %s s warm-up, best of %s rounds\n' "$WRK_VERSION" "$CONNS" "$DURATION" "$WARMUP" "$ROUNDS"
	printf -- '- tandem-rest TANDEM_THREADS=%s (stack)%s%s; hello-fcgi %s and %s threads%s; nginx %s workers, upstream keepalive %s\n\n' \
		"$STACK_THREADS" "$(for t in $EXTRA_THREADS; do [ "$t" = "$STACK_THREADS" ] || printf ', %s (extra)' "$t"; done)" \
		"${BASELINE_BIN:+, base = $BASELINE_BIN}" "$HELLO_THREADS" "$STACK_THREADS" \
		"$([ "$HELLO_BATCH" = 1 ] && echo " (also SCHED_BATCH)")" "$NGX_WORKERS" "$KEEPALIVE"
	cat "$RESULTS"
	printf '\n```\n'
	cat "$DIR/side.txt"
	printf '```\n'
} >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
