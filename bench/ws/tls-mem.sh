#!/usr/bin/env bash
# Idle memory per WebSocket of the notifier over wss:// vs ws:// (issue 12,
# "report wss:// separately"). Starts its own redis-server and two
# notifiers (one plain, one with a throwaway certificate), opens
# BENCH_TLS_CONNS idle subscribers to each with a Python client (ssl
# module: the C load client bench/ws-load is plain TCP) and reports the
# RSS growth per connection. Environment: TANDEM_BIN_DIR (build),
# BENCH_TLS_CONNS (1000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TANDEM_BIN_DIR:-$ROOT/build}
N=${BENCH_TLS_CONNS:-1000}
TMP=$(mktemp -d /tmp/tandem-tlsmem.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
ulimit -n $((4 * N + 1000)) 2>/dev/null || true
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/key.pem" \
	-out "$TMP/cert.pem" -days 1 -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 2>/dev/null
redis-server --port 0 --unixsocket "$TMP/redis.sock" --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while :; do p=$((20000 + RANDOM % 30000)); port_free "$p" && port_free $((p + 1)) && break; done
common=(--redis-url "unix://$TMP/redis.sock" --max-connections $((N + 100)) --log-level warn)
"$BIN/tandem-notifier" "${common[@]}" --ws-listen "127.0.0.1:$p" 2>"$TMP/plain.log" &
PLAIN=$!; PIDS+=($PLAIN)
"$BIN/tandem-notifier" "${common[@]}" --ws-listen "127.0.0.1:$((p + 1))" \
	--ws-tls-cert "$TMP/cert.pem" --ws-tls-key "$TMP/key.pem" 2>"$TMP/tls.log" &
TLS=$!; PIDS+=($TLS)
sleep 1
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
measure() { # pid port tls
	python3 - "$2" "$3" "$N" "$TMP/cert.pem" "$1" <<'PY'
import base64, os, socket, ssl, sys, time
port, tls, n, ca, pid = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4], sys.argv[5]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
ctx = ssl.create_default_context(cafile=ca); ctx.set_alpn_protocols(["http/1.1"])
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    if tls: s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf: buf += s.recv(4096)
    assert b" 101 " in buf.split(b"\r\n")[0], buf[:80]
    msg = b'{"op":"subscribe","collection":"idle"}'
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
    s.recv(4096)  # the subscribed answer
    return s
warm = [conn() for _ in range(20)]; time.sleep(0.5)
r0 = rss(); socks = [conn() for _ in range(n)]; time.sleep(1); r1 = rss()
print(f"{'wss' if tls else 'ws '}: {n} idle subscribers, RSS {r0} -> {r1} KiB, {(r1 - r0) * 1024 / n / 1000:.1f} KB per connection")
PY
}
measure "$PLAIN" "$p" 0
measure "$TLS" $((p + 1)) 1
