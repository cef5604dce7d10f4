#!/usr/bin/env bash
# Deploy checks (issue 5), one entry point for `make test`:
#   compose     docker-compose accepts compose.yaml; services, health checks,
#               depends_on, ports, AOF as the issue asks (no Docker engine here)
#   dockerfile  every file the Dockerfile COPYs exists and is in the context
#   nginx-docker      the config of the nginx container passes nginx -t
#   nginx-production  nginx/production.conf.example passes nginx -t
#                     (throwaway self-signed certificate, local paths)
#   systemd     deploy/systemd units pass systemd-analyze verify (offline)
#   openapi-lint      @redocly/cli lint docs/openapi.yaml, no warnings
#   contract    a live stack answers as docs/openapi.yaml declares
#   scale-out   two REST pools + two notifiers behind one nginx
# Installs what is missing (Debian packages, npm ci in tools/openapi).
# Binaries from ${TANDEM_BIN_DIR:-build}. Prints "N passed, M failed" last;
# exits non-zero when any check failed.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# --- what the checks need ------------------------------------------------------
need_pkgs=(docker-compose nginx openssl redis-server spawn-fcgi libfcgi-bin curl systemd)
missing=()
for p in "${need_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	log "deploy: installing ${missing[*]}"
	$SUDO apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		{ log "deploy: apt-get install failed"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
	log "deploy: Node.js >= 20.19 is needed (found $(node --version 2>/dev/null || echo none))"
	echo "0 passed, 1 failed"
	exit 1
fi
OPENAPI_DIR=$ROOT/tools/openapi
if [ ! -d "$OPENAPI_DIR/node_modules" ] || [ "$OPENAPI_DIR/package-lock.json" -nt "$OPENAPI_DIR/node_modules" ]; then
	(cd "$OPENAPI_DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
		{ log "deploy: npm ci in tools/openapi failed"; echo "0 passed, 1 failed"; exit 1; }
	touch "$OPENAPI_DIR/node_modules"
fi

WORK=$(mktemp -d /tmp/tandem-deploy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0 skipped=0
results=()

# check NAME COMMAND...: runs it, output indented; exit 0 pass, 77 skip.
check() {
	local name=$1 rc
	shift
	echo "== $name"
	"$@" 2>&1 | sed 's/^/   /'
	rc=${PIPESTATUS[0]}
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1)); results+=("PASS $name")
	elif [ $rc -eq 77 ]; then
		skipped=$((skipped + 1)); results+=("SKIP $name")
	else
		failed=$((failed + 1)); results+=("FAIL $name")
	fi
	echo "-- ${results[-1]}"
}

check_compose() {
	docker-compose -f compose.yaml config >"$WORK/compose.out" || return 1
	node "$DEPLOY_DIR/compose-check.mjs" <"$WORK/compose.out"
}

check_dockerfile() {
	node "$DEPLOY_DIR/dockerfile-copy-check.mjs" Dockerfile
}

# The container's config, rendered by its own entry point; then only the
# container's paths become this checkout's, and the compose service names
# (no DNS for them here) 127.0.0.1.
check_nginx_docker() {
	local d=$WORK/nginx-docker
	mkdir -p "$d"
	TANDEM_NGINX_TEMPLATE=nginx/docker.conf.in TANDEM_NGINX_CONF=$d/rendered.conf \
		TANDEM_CORS_MAP_SH=nginx/cors-map.sh TANDEM_ALLOWED_ORIGINS=https://a.example,http://localhost:5173 \
		TANDEM_REST_UPSTREAM=127.0.0.1:9000 TANDEM_NOTIFIER_UPSTREAM=127.0.0.1:8081,127.0.0.2:8081 \
		docker/nginx-entrypoint.sh --render-only || return 1
	sed -e "s|/tmp/nginx/|$d/|g" -e "s|/etc/tandem/|$ROOT/nginx/|g" -e "s|/srv/tandem/web|$ROOT/web|g" \
		"$d/rendered.conf" >"$d/nginx.conf"
	nginx -t -q -e stderr -c "$d/nginx.conf" && echo "nginx -t: $d/nginx.conf is OK"
}

check_nginx_production() {
	local d=$WORK/nginx-prod
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=tandem.example.com \
		-keyout "$d/privkey.pem" -out "$d/fullchain.pem" 2>/dev/null || { echo "openssl failed"; return 1; }
	local user_sub=()
	[ "$(id -u)" -eq 0 ] || user_sub=(-e 's|^user www-data;|# user www-data;|')
	sed -E -e "s|/etc/ssl/tandem/|$d/|g" -e "s|/srv/tandem/web|$ROOT/web|g" \
		-e "s|/etc/tandem/nginx/|$ROOT/nginx/|g" -e "s|/run/nginx.pid|$d/nginx.pid|" \
		-e "s|/var/log/nginx/|$d/|g" -e 's/10\.0\.([0-9]+)\.([0-9]+):/127.0.\1.\2:/g' \
		"${user_sub[@]}" nginx/production.conf.example >"$d/nginx.conf"
	grep -q "$d/fullchain.pem" "$d/nginx.conf" || { echo "certificate placeholder not found"; return 1; }
	nginx -t -q -e stderr -c "$d/nginx.conf" && echo "nginx -t: production config with a self-signed certificate is OK"
}

# systemd-analyze verify works offline here (no running systemd needed):
# it parses the units and checks every ExecStart*= binary is executable.
# The units name /usr/local/bin/tandem-*, so the copies checked point there
# at this build's binaries. Any warning (unknown key, bad value) fails.
check_systemd() {
	local d=$WORK/systemd f out
	mkdir -p "$d"
	for f in deploy/systemd/*; do
		sed -e "s|/usr/local/bin/tandem-rest|$BIN_DIR/tandem-rest|g" \
			-e "s|/usr/local/bin/tandem-notifier|$NOTIFIER_BIN|g" "$f" >"$d/$(basename "$f")"
	done
	[ "$NOTIFIER_BIN" = /bin/true ] && echo "WARNING: no $BIN_DIR/tandem-notifier yet, its unit checked with /bin/true"
	out=$(cd "$d" && systemd-analyze verify --man=no tandem-rest@9000.service tandem-notifier@8081.service tandem.target 2>&1)
	local rc=$?
	[ -n "$out" ] && echo "$out"
	[ $rc -eq 0 ] && [ -z "$out" ] && echo "systemd-analyze verify: 3 units OK"
}

check_openapi_lint() {
	local out rc
	out=$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		"$OPENAPI_DIR/node_modules/.bin/redocly" lint --config "$OPENAPI_DIR/redocly.yaml" docs/openapi.yaml 2>&1)
	rc=$?
	echo "$out" | grep -v '[║╔╚]' | grep -v '^\s*$'
	[ $rc -eq 0 ] || return 1
	if echo "$out" | grep -qiE '[0-9]+ warnings?\b'; then
		echo "warnings fail this check"
		return 1
	fi
}

NOTIFIER_BIN=$BIN_DIR/tandem-notifier
[ -x "$NOTIFIER_BIN" ] || NOTIFIER_BIN=/bin/true
[ -x "$BIN_DIR/tandem-rest" ] || log "deploy: $BIN_DIR/tandem-rest is missing: build it first (make build/tandem-rest)"

check compose check_compose
check dockerfile check_dockerfile
check nginx-docker check_nginx_docker
check nginx-production check_nginx_production
check systemd check_systemd
check openapi-lint check_openapi_lint
check contract "$DEPLOY_DIR/contract.sh"
check scale-out "$DEPLOY_DIR/scaleout.sh"

echo
for r in "${results[@]}"; do echo "$r"; done
if [ $skipped -gt 0 ]; then
	echo "!!! $skipped check(s) SKIPPED — see above (counted neither passed nor failed) !!!"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
