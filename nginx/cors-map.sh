#!/bin/sh
# Prints the nginx map that decides Access-Control-Allow-Origin on the
# answers nginx makes itself (413, 502, 504...; see tandem-errors.conf),
# with the same rule as tandem-rest: TANDEM_ALLOWED_ORIGINS unset or
# empty = any origin ("*"), else the request's Origin when it is one of
# the listed origins, else no header. One line, for sed into a template.
# Usage: cors-map.sh "<comma list of origins>"
set -eu
list=${1:-}
if [ -z "$list" ]; then
	printf '%s\n' 'map $http_origin $tandem_cors_origin { "" ""; default "*"; }'
	exit 0
fi
out='map $http_origin $tandem_cors_origin { default "";'
for o in $(printf '%s' "$list" | tr ',' ' '); do
	case "$o" in
	*[!A-Za-z0-9.:/_-]*)
		echo "cors-map: TANDEM_ALLOWED_ORIGINS: '$o' is not an origin (scheme://host[:port])" >&2
		exit 1
		;;
	esac
	out="$out \"$o\" \$http_origin;"
done
printf '%s }\n' "$out"
