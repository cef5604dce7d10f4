#!/bin/bash
# Container health checks without extra packages (bash's /dev/tcp; cgi-fcgi
# from libfcgi-bin for the FastCGI worker). Exit 0 healthy, 1 not.
#   tandem-healthcheck http HOST:PORT PATH   GET PATH over HTTP/1.0, wants 200
#   tandem-healthcheck fcgi HOST:PORT|/PATH  GET /api/v1/_health over FastCGI, wants 200
set -u
mode=${1:-}
addr=${2:-}
host=${addr%:*}
port=${addr##*:}
case "$mode" in
http)
	path=${3:-/}
	exec 3<>"/dev/tcp/$host/$port" || exit 1
	printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
	read -r -t 3 _ status _ <&3 || exit 1
	[ "$status" = 200 ]
	;;
fcgi)
	out=$(REQUEST_METHOD=GET REQUEST_URI=/api/v1/_health SCRIPT_NAME=/api/v1/_health \
		SERVER_PROTOCOL=HTTP/1.1 timeout 3 cgi-fcgi -bind -connect "$addr" 2>/dev/null) || exit 1
	case "$out" in "Status: 200"*) exit 0 ;; *) exit 1 ;; esac
	;;
*)
	echo "usage: $0 http HOST:PORT PATH | fcgi HOST:PORT" >&2
	exit 2
	;;
esac
