#!/bin/sh
# Entry point of the "web" image: renders nginx/docker.conf.in from TANDEM_*
# variables and runs nginx in the foreground. tests/deploy/run.sh renders
# the same file with this script (--render-only) to check it with nginx -t.
#   TANDEM_MAX_BODY           client_max_body_size (default 1048576)
#   TANDEM_REST_UPSTREAM      FastCGI workers, comma list (default rest:9000)
#   TANDEM_NOTIFIER_UPSTREAM  notifiers, comma list (default notifier:8081)
#   TANDEM_ALLOWED_ORIGINS    CORS origins of nginx's own error answers (unset = any)
#   TANDEM_RATE_READ (50r/s), TANDEM_RATE_READ_BURST (100), TANDEM_RATE_WRITE (10r/s),
#   TANDEM_RATE_WRITE_BURST (20), TANDEM_WS_CONNS_PER_ADDR (20): abuse limits per address
#   TANDEM_NGINX_TEMPLATE, TANDEM_NGINX_CONF, TANDEM_CORS_MAP_SH  (tests only)
set -eu
MAX_BODY=${TANDEM_MAX_BODY:-1048576}
TEMPLATE=${TANDEM_NGINX_TEMPLATE:-/etc/tandem/nginx.conf.in}
OUT=${TANDEM_NGINX_CONF:-/tmp/nginx/nginx.conf}

case "$MAX_BODY" in
'' | *[!0-9]*) echo "tandem-nginx: TANDEM_MAX_BODY must be a number of bytes, not '$MAX_BODY'" >&2; exit 1 ;;
esac

# servers "a:1,b:2" [opts] -> "server a:1 opts; server b:2 opts;"
servers() {
	out=
	for s in $(printf '%s' "$1" | tr ',' ' '); do
		case "$s" in
		*[!A-Za-z0-9.:_-]*) echo "tandem-nginx: bad upstream address '$s'" >&2; exit 1 ;;
		esac
		out="$out server $s${2:+ $2};"
	done
	[ -n "$out" ] || { echo "tandem-nginx: empty upstream list" >&2; exit 1; }
	printf '%s' "$out"
}
REST=$(servers "${TANDEM_REST_UPSTREAM:-rest:9000}")
# max_fails=0 on notifiers: see nginx/tandem.conf.in.
NOTIFIER=$(servers "${TANDEM_NOTIFIER_UPSTREAM:-notifier:8081}" max_fails=0)

CORS_MAP=$(sh "${TANDEM_CORS_MAP_SH:-/etc/tandem/cors-map.sh}" "${TANDEM_ALLOWED_ORIGINS:-}")

mkdir -p "$(dirname "$OUT")"
sed -e "s|@MAX_BODY@|$MAX_BODY|g" -e "s|@REST_SERVERS@|$REST|g" \
	-e "s|@NOTIFIER_SERVERS@|$NOTIFIER|g" -e "s|@CORS_MAP@|$CORS_MAP|g" \
	-e "s|@RATE_READ@|${TANDEM_RATE_READ:-50r/s}|g" -e "s|@RATE_WRITE@|${TANDEM_RATE_WRITE:-10r/s}|g" \
	-e "s|@RATE_READ_BURST@|${TANDEM_RATE_READ_BURST:-100}|g" \
	-e "s|@RATE_WRITE_BURST@|${TANDEM_RATE_WRITE_BURST:-20}|g" \
	-e "s|@WS_CONNS_PER_ADDR@|${TANDEM_WS_CONNS_PER_ADDR:-20}|g" "$TEMPLATE" >"$OUT"

[ "${1:-}" = "--render-only" ] && exit 0
exec nginx -e stderr -c "$OUT" -g 'daemon off;'
