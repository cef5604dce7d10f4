#!/usr/bin/env bash
# Live-server contract test: starts a real stack with scripts/run-stack.sh in
# a temp dir on free ports, runs tests/deploy/contract.mjs against it
# (docs/openapi.yaml vs. real answers), and stops the stack again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUN_DIR=$(mktemp -d /tmp/tandem-contract.XXXXXX)
PORT=$(free_ports 2) || { log "contract: no free ports"; exit 1; }
MAX_BODY=4096
stack_pid=
cleanup() {
	local rc=$?
	stop_pid "$stack_pid"
	wait "$stack_pid" 2>/dev/null || true
	if [ $rc -ne 0 ]; then
		log "contract: logs kept in $RUN_DIR"
		tail -n 20 "$RUN_DIR"/*.log "$RUN_DIR"/nginx/error.log 2>/dev/null | sed 's/^/    /' >&2 || true
	else
		rm -rf "$RUN_DIR"
	fi
}
trap cleanup EXIT

TANDEM_RUN_DIR=$RUN_DIR TANDEM_HTTP_PORT=$PORT TANDEM_BIN_DIR=$BIN_DIR \
	TANDEM_ALLOWED_ORIGINS=http://allowed.example TANDEM_MAX_BODY=$MAX_BODY \
	TANDEM_REDIS_TIMEOUT_MS=500 \
	"$ROOT/scripts/run-stack.sh" >"$RUN_DIR/stack.out" 2>&1 &
stack_pid=$!
stack_up() { [ -e "$RUN_DIR/ready" ] || ! kill -0 "$stack_pid" 2>/dev/null; }
if ! wait_until 60 stack_up || [ ! -e "$RUN_DIR/ready" ]; then
	log "contract: the stack did not come up:"
	sed 's/^/    /' "$RUN_DIR/stack.out" >&2
	exit 1
fi
# The images' health-check script, against the same kinds of servers.
HC=$ROOT/docker/healthcheck.sh
"$HC" fcgi "$RUN_DIR/rest.sock" || { log "contract: docker/healthcheck.sh fcgi fails on a healthy worker"; exit 1; }
"$HC" http "127.0.0.1:$PORT" /api/v1/_health || { log "contract: docker/healthcheck.sh http fails on healthy nginx"; exit 1; }
if [ -x "$BIN_DIR/tandem-notifier" ]; then
	"$HC" http "127.0.0.1:$((PORT + 1))" /healthz || { log "contract: docker/healthcheck.sh http fails on a healthy notifier"; exit 1; }
fi
"$HC" http "127.0.0.1:$PORT" /api/v1/nope/a/b && { log "contract: docker/healthcheck.sh http passes a 404"; exit 1; }
echo "docker/healthcheck.sh: healthy worker (FastCGI), nginx and notifier pass, a 404 fails"

TANDEM_BASE_URL=http://127.0.0.1:$PORT TANDEM_RUN_DIR=$RUN_DIR TANDEM_MAX_BODY=$MAX_BODY \
	node "$DEPLOY_DIR/contract.mjs"
