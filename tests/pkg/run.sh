#!/usr/bin/env bash
# Packaging tests (issue 13), one entry point for `make test-pkg`:
#   version      VERSION = package.json = package-lock.json = debian/changelog,
#                and every program's --version says it
#   man          the pages render with `man --warnings -l` silently and name
#                every option the program's --help lists
#   install      make install DESTDIR=... installs exactly the files listed in
#                docs/OPERATIONS.md ("Installed files"); make uninstall removes them
#   deb          make deb builds, lintian has nothing to say (overrides in
#                debian/*.lintian-overrides explain each accepted tag), and
#                each program and man page is in the package meant for it
#   deb-stack    the packages extracted with dpkg -x into a temp root; the
#                units verify, `systemctl --root enable` of the templates enables
#                their default instances, and the stack runs from the units'
#                command lines (ExecStartPre/ExecStart) with the installed binaries
#   deb-token    the packaged tandem-token signs tokens (a secret file, an EC
#                and an RSA private key) whose header and claims decode to what
#                was asked, and the packaged tandem-rest, run with auth on,
#                accepts them and refuses the wrong ones
#   backup       BGSAVE, more writes, the backup restored as OPERATIONS.md says:
#                a client resuming with a since from after the backup gets reset
# Installs debhelper and lintian when missing (apt-get). Binaries from
# ${TANDEM_BIN_DIR:-build}. PKG_CHECKS="deb deb-stack" runs only those;
# KEEP=1 keeps the work dir. Prints "N passed, M failed" last.
set -uo pipefail
source "$(dirname "$0")/../deploy/lib.sh"
PKG_DIR=$ROOT/tests/pkg
cd "$ROOT"

need=(debhelper lintian dpkg-dev fakeroot man-db groff-base spawn-fcgi libfcgi-bin redis-server curl systemd)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	log "pkg: installing ${missing[*]}"
	$SUDO apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		{ log "pkg: apt-get install failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The WebSocket client (ws) comes from tools/openapi, as in tests/deploy.
OPENAPI_DIR=$ROOT/tools/openapi
if [ ! -d "$OPENAPI_DIR/node_modules/ws" ] || [ "$OPENAPI_DIR/package-lock.json" -nt "$OPENAPI_DIR/node_modules" ]; then
	(cd "$OPENAPI_DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
		{ log "pkg: npm ci in tools/openapi failed"; echo "0 passed, 1 failed"; exit 1; }
	touch "$OPENAPI_DIR/node_modules"
fi

WORK=$(mktemp -d /tmp/tandem-pkg.XXXXXX)
pids=()
cleanup() {
	local rc=$?
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[$i]}"; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ] || [ "$failed" -gt 0 ]; then
		log "pkg: work dir kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	return $rc
}
trap cleanup EXIT
passed=0 failed=0
results=()
check() {
	local name=$1 rc
	shift
	# PKG_CHECKS="version man" runs only those (while working on one).
	if [ -n "${PKG_CHECKS:-}" ] && ! [[ " $PKG_CHECKS " == *" $name "* ]]; then
		return 0
	fi
	echo "== $name"
	# In this shell, not a pipeline's subshell: the checks start servers
	# (their pids go to pids[] for cleanup) and leave ports for the next.
	"$@" >"$WORK/check.out" 2>&1 </dev/null
	rc=$?
	sed 's/^/   /' "$WORK/check.out"
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1)); results+=("PASS $name")
	else
		failed=$((failed + 1)); results+=("FAIL $name")
	fi
	echo "-- ${results[-1]}"
}

VERSION=$(cat VERSION)
PROGRAMS=(tandem-rest tandem-notifier)

# --- version -------------------------------------------------------------------
check_version() {
	local ok=0 v p
	v=$(node -p 'require("./package.json").version') || return 1
	[ "$v" = "$VERSION" ] || { echo "package.json says $v, VERSION $VERSION"; ok=1; }
	v=$(node -p 'const l=require("./package-lock.json"); l.version + " " + l.packages[""].version') || return 1
	[ "$v" = "$VERSION $VERSION" ] || { echo "package-lock.json says $v, VERSION $VERSION"; ok=1; }
	if [ -f web/package.json ]; then
		v=$(node -p 'require("./web/package.json").version') || return 1
		[ "$v" = "$VERSION" ] || { echo "web/package.json says $v, VERSION $VERSION"; ok=1; }
	fi
	v=$(dpkg-parsechangelog -S Version)
	[ "${v%-*}" = "$VERSION" ] || { echo "debian/changelog says $v, VERSION $VERSION"; ok=1; }
	for p in "${PROGRAMS[@]}" tandem-token; do
		[ -x "$BIN_DIR/$p" ] || { echo "$BIN_DIR/$p is missing"; ok=1; continue; }
		v=$("$BIN_DIR/$p" --version)
		[ "$v" = "$p $VERSION" ] || { echo "$p --version says '$v'"; ok=1; }
		# --version answers whatever the environment holds.
		v=$(TANDEM_THREADS=nope TANDEM_PING_INTERVAL=nope "$BIN_DIR/$p" --version)
		[ "$v" = "$p $VERSION" ] || { echo "$p --version with a bad environment says '$v'"; ok=1; }
	done
	[ $ok -eq 0 ] && echo "version $VERSION: VERSION, package.json, package-lock.json, web/package.json, debian/changelog, ${PROGRAMS[*]} tandem-token --version"
	return $ok
}

# --- man pages ---------------------------------------------------------------------
# check_man_page PAGE [PROGRAM]: renders without a warning; every --flag of
# PROGRAM --help is in the rendered page.
check_man_page() {
	local page=$1 prog=${2:-} text warn ok=0 flags f
	warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	[ -z "$warn" ] || { echo "$page: man --warnings:"; echo "$warn"; ok=1; }
	text=$(MANWIDTH=200 man -l "$page" 2>/dev/null | col -b)
	[ -n "$text" ] || { echo "$page renders empty"; return 1; }
	grep -q "$VERSION" <<<"$text" || { echo "$page does not name version $VERSION"; ok=1; }
	[ -n "$prog" ] || return $ok
	flags=$("$prog" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	[ "$(wc -l <<<"$flags")" -ge 5 ] || { echo "$prog --help lists too few flags"; return 1; }
	for f in $flags; do
		grep -q -- "$f\b" <<<"$text" || { echo "$page lacks $f (in $prog --help)"; ok=1; }
	done
	# and the other way round: every option the page documents exists
	for f in $(grep -o -- '^ *--[a-z][a-z-]*' <<<"$text" | tr -d ' ' | sort -u); do
		grep -qx -- "$f" <<<"$flags" || { echo "$page documents $f, which $prog --help does not list"; ok=1; }
	done
	[ $ok -eq 0 ] && echo "$(basename "$page"): renders cleanly, names $VERSION and all $(wc -l <<<"$flags") flags of --help"
	return $ok
}
check_man() {
	local ok=0 p
	for p in "${PROGRAMS[@]}"; do
		check_man_page "$BIN_DIR/man/$p.8" "$BIN_DIR/$p" || ok=1
	done
	check_man_page "$BIN_DIR/man/tandem-token.1" "$BIN_DIR/tandem-token" || ok=1
	check_man_page "$BIN_DIR/man/tandem.7" || ok=1
	[ $ok -eq 0 ] && echo "tandem.7: renders cleanly"
	return $ok
}

# --- make install --------------------------------------------------------------------
documented_files() {
	awk '/^### Installed files/{s=1} s&&/^```/{n++; if(n==2) exit; next} s&&n==1&&/^\//{print}' docs/OPERATIONS.md | sort
}
check_install() {
	local d=$WORK/install got want
	want=$(documented_files)
	[ -n "$want" ] || { echo "no file list under '### Installed files' in docs/OPERATIONS.md"; return 1; }
	make -s install DESTDIR="$d" BUILD="${BIN_DIR#$ROOT/}" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
	got=$(cd "$d" && find . ! -type d | sed 's|^\.||' | sort)
	if [ "$got" != "$want" ]; then
		echo "installed files differ from docs/OPERATIONS.md (< documented, > installed):"
		diff <(echo "$want") <(echo "$got")
		return 1
	fi
	grep -q '^ExecStart=/usr/bin/spawn-fcgi .* -- /usr/local/bin/tandem-rest$' "$d/usr/local/lib/systemd/system/tandem-rest@.service" ||
		{ echo "the installed rest unit does not run /usr/local/bin/tandem-rest"; return 1; }
	[ "$(stat -c %a "$d/etc/tandem/tandem.env")" = 600 ] || { echo "tandem.env is not mode 600"; return 1; }
	# An edited tandem.env survives a second install and the uninstall.
	echo "# edited" >>"$d/etc/tandem/tandem.env"
	make -s install DESTDIR="$d" BUILD="${BIN_DIR#$ROOT/}" >>"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
	tail -1 "$d/etc/tandem/tandem.env" | grep -q '^# edited$' || { echo "make install overwrote an edited tandem.env"; return 1; }
	make -s uninstall DESTDIR="$d" >>"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
	got=$(cd "$d" && find . ! -type d | sed 's|^\.||')
	[ "$got" = /etc/tandem/tandem.env ] || { echo "after make uninstall, left: $got"; return 1; }
	# PREFIX moves everything but /etc; the units follow.
	make -s install DESTDIR="$WORK/install-usr" PREFIX=/usr BUILD="${BIN_DIR#$ROOT/}" >>"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
	grep -q -- '-- /usr/bin/tandem-rest$' "$WORK/install-usr/usr/lib/systemd/system/tandem-rest@.service" ||
		{ echo "PREFIX=/usr: the unit does not name /usr/bin/tandem-rest"; return 1; }
	echo "make install: the $(wc -l <<<"$want") documented files; an edited tandem.env kept; make uninstall removes the rest; PREFIX=/usr moves the units' paths"
}

# --- the Debian packages -------------------------------------------------------------
DEB_OUT=$WORK/deb
check_deb() {
	make -s deb DEB_OUT="$DEB_OUT" || return 1
	local out
	# lintian refuses nothing as root but says so; that note is not a finding.
	out=$(lintian --pedantic "$DEB_OUT"/*.changes 2>&1 | grep -v '^running with root privileges is not recommended!$')
	if [ -n "$out" ]; then
		echo "lintian --pedantic:"
		echo "$out"
		return 1
	fi
	echo "lintian --pedantic: nothing to report ($(ls "$DEB_OUT"/*.deb | wc -l) packages; overrides in debian/*.lintian-overrides)"
	# hardening flags reached the objects (CPPFLAGS included)
	grep -q -- '-D_FORTIFY_SOURCE=2' "$DEB_OUT/build.log" || { echo "CPPFLAGS (-D_FORTIFY_SOURCE) did not reach the compiler"; return 1; }
	echo "dpkg-buildflags CPPFLAGS/CFLAGS/LDFLAGS reach the compiler"
	check_deb_contents
}

# Each program, its man page and its unit in the package meant for it, and
# in no other; tandem-tools needs no other Tandem package.
check_deb_contents() {
	local spec pkg deb f other ok=0
	# The listings, once (grep -q on a pipe would kill dpkg-deb under pipefail).
	declare -A files
	for deb in "$DEB_OUT"/*.deb; do
		files[$deb]=$(dpkg-deb -c "$deb" | awk '{print $6}') || { echo "dpkg-deb -c $deb failed"; return 1; }
	done
	for spec in "tandem-rest usr/bin/tandem-rest usr/share/man/man8/tandem-rest.8.gz lib/systemd/system/tandem-rest@.service" \
		"tandem-notifier usr/bin/tandem-notifier usr/share/man/man8/tandem-notifier.8.gz lib/systemd/system/tandem-notifier@.service" \
		"tandem-tools usr/bin/tandem-token usr/share/man/man1/tandem-token.1.gz" \
		"tandem-common usr/share/man/man7/tandem.7.gz etc/tandem/tandem.env lib/systemd/system/tandem.target"; do
		set -- $spec
		pkg=$1
		shift
		deb=$(ls "$DEB_OUT/${pkg}_${VERSION}-"*.deb 2>/dev/null | head -1)
		[ -n "$deb" ] || { echo "no $pkg package"; ok=1; continue; }
		for f in "$@"; do
			grep -qx -- "\./$f" <<<"${files[$deb]}" || { echo "$pkg lacks /$f"; ok=1; }
			for other in "$DEB_OUT"/*.deb; do
				[ "$other" = "$deb" ] && continue
				grep -qx -- "\./$f" <<<"${files[$other]}" && { echo "$(basename "$other") holds /$f too"; ok=1; }
			done
		done
	done
	deb=$(ls "$DEB_OUT/tandem-tools_${VERSION}-"*.deb 2>/dev/null | head -1)
	if [ -n "$deb" ]; then
		local depends
		depends=$(dpkg-deb -f "$deb" Depends)
		grep -q 'tandem' <<<"$depends" && { echo "tandem-tools depends on a Tandem package: $depends"; ok=1; }
		grep -q 'libjwt' <<<"$depends" || { echo "tandem-tools does not depend on libjwt: $depends"; ok=1; }
		[ "$(dpkg-deb -c "$deb" | awk '$6 == "./usr/bin/tandem-token" {print $1}')" = "-rwxr-xr-x" ] ||
			{ echo "tandem-tools: /usr/bin/tandem-token is not mode 755"; ok=1; }
	fi
	[ $ok -eq 0 ] && echo "packages: tandem-rest, tandem-notifier, tandem-tools (tandem-token, tandem-token.1; no Tandem dependency) and tandem-common each hold their own files, no file twice"
	return $ok
}

ROOTFS=$WORK/root
REDIS_DIR=$WORK/redis
REST_PORT= WS_PORT=
redis_pid=

start_redis() {
	local aof=$1
	cat >"$WORK/redis.conf" <<CONF
port 0
unixsocket $WORK/redis.sock
unixsocketperm 700
dir $REDIS_DIR
logfile $WORK/redis.log
daemonize no
appendonly $aof
save ""
CONF
	redis-server "$WORK/redis.conf" &
	redis_pid=$!
	pids+=($redis_pid)
	wait_until 15 redis-cli -s "$WORK/redis.sock" ping || { echo "redis-server did not start"; return 1; }
}
rcli() { redis-cli -s "$WORK/redis.sock" "$@"; }

# unit_cmd UNIT KEY INSTANCE: the unit's KEY= command line with %i and the
# Environment= defaults filled in, and the installed paths under ROOTFS.
unit_cmd() {
	local unit=$ROOTFS/lib/systemd/system/$1 key=$2 inst=$3 line
	line=$(sed -n "s/^$key=//p" "$unit" | head -1)
	[ -n "$line" ] || return 1
	line=${line//%i/$inst}
	line=${line//\$\{TANDEM_FCGI_BIND\}/127.0.0.1}
	line=${line//\$\{TANDEM_WS_BIND\}/127.0.0.1}
	line=${line//\/usr\/bin\/tandem-/$ROOTFS/usr/bin/tandem-}
	echo "$line"
}

fcgi() { # METHOD URI [BODY]: prints the worker's raw answer
	local m=$1 uri=$2 body=${3:-}
	printf '%s' "$body" | env -i PATH="$PATH" REQUEST_METHOD="$m" REQUEST_URI="$uri" SCRIPT_NAME="${uri%%\?*}" \
		SERVER_PROTOCOL=HTTP/1.1 CONTENT_TYPE=application/json CONTENT_LENGTH=${#body} \
		timeout 5 cgi-fcgi -bind -connect "127.0.0.1:$REST_PORT"
}

check_deb_stack() {
	local deb p v cmd env_file
	[ -d "$DEB_OUT" ] || { echo "no packages (the deb check failed)"; return 1; }
	mkdir -p "$ROOTFS" "$REDIS_DIR"
	for deb in "$DEB_OUT"/*.deb; do
		case "$deb" in *-dbgsym_*) continue ;; esac
		dpkg -x "$deb" "$ROOTFS" || return 1
		v=$(dpkg-deb -f "$deb" Version)
		[ "${v%-*}" = "$VERSION" ] || { echo "$(basename "$deb"): version $v, VERSION $VERSION"; return 1; }
	done
	for p in "${PROGRAMS[@]}" tandem-token; do
		v=$("$ROOTFS/usr/bin/$p" --version)
		[ "$v" = "$p $VERSION" ] || { echo "installed $p --version says '$v'"; return 1; }
		local sect=8
		[ "$p" = tandem-token ] && sect=1
		zcat "$ROOTFS/usr/share/man/man$sect/$p.$sect.gz" >"$WORK/$p.$sect"
		check_man_page "$WORK/$p.$sect" "$ROOTFS/usr/bin/$p" >/dev/null || { echo "installed $p.$sect fails the man check"; return 1; }
	done
	echo "packages $VERSION extracted; installed programs say $VERSION; installed man pages pass"
	# The units as installed, checked with the extracted binaries' paths.
	mkdir -p "$WORK/units"
	for u in "$ROOTFS"/lib/systemd/system/*; do
		sed "s|/usr/bin/tandem-|$ROOTFS/usr/bin/tandem-|g" "$u" >"$WORK/units/$(basename "$u")"
	done
	out=$(cd "$WORK/units" && systemd-analyze verify --man=no tandem-rest@9000.service tandem-notifier@8081.service tandem.target 2>&1)
	[ -z "$out" ] || { echo "systemd-analyze verify:"; echo "$out"; return 1; }
	# What the package's postinst does (deb-systemd-helper enable with DefaultInstance=):
	systemctl --root="$ROOTFS" enable tandem.target tandem-rest@.service tandem-notifier@.service >/dev/null 2>&1 ||
		{ echo "systemctl --root enable failed"; return 1; }
	for l in tandem.target.wants/tandem-rest@9000.service tandem.target.wants/tandem-notifier@8081.service \
		multi-user.target.wants/tandem.target; do
		[ -L "$ROOTFS/etc/systemd/system/$l" ] || { echo "enabling did not create $l"; return 1; }
	done
	echo "units verify; enabling the templates enables tandem-rest@9000 and tandem-notifier@8081 under tandem.target"
	[ "$(stat -c %a "$ROOTFS/etc/tandem/tandem.env")" = 600 ] || { echo "tandem.env is not mode 600 in the package"; return 1; }

	# The stack from the units' command lines, with the package's env file.
	start_redis yes || return 1
	env_file=$WORK/tandem.env
	{ grep -v '^TANDEM_REDIS_URL=' "$ROOTFS/etc/tandem/tandem.env"; echo "TANDEM_REDIS_URL=unix://$WORK/redis.sock"; echo "TANDEM_THREADS=4"; } >"$env_file"
	port=$(free_ports 2) || { echo "no free ports"; return 1; }
	REST_PORT=$port WS_PORT=$((port + 1))
	set -a; . "$env_file"; set +a
	for spec in "tandem-rest@.service $REST_PORT" "tandem-notifier@.service $WS_PORT"; do
		set -- $spec
		cmd=$(unit_cmd "$1" ExecStartPre "$2") || { echo "$1: no ExecStartPre"; return 1; }
		echo "ExecStartPre: $cmd"
		$cmd || { echo "$1: ExecStartPre failed"; return 1; }
		cmd=$(unit_cmd "$1" ExecStart "$2") || { echo "$1: no ExecStart"; return 1; }
		echo "ExecStart: $cmd"
		$cmd >>"$WORK/${1%@*}.log" 2>&1 &
		pids+=($!)
	done
	wait_until 15 bash -c "$(declare -f fcgi); REST_PORT=$REST_PORT fcgi GET /api/v1/_health | grep -q '^Status: 200'" ||
		{ echo "the REST worker did not answer /api/v1/_health"; tail "$WORK/tandem-rest.log"; return 1; }
	wait_until 15 curl -fsS -o /dev/null "http://127.0.0.1:$WS_PORT/healthz" ||
		{ echo "the notifier did not come up"; tail "$WORK/tandem-notifier.log"; return 1; }
	grep -q "version $VERSION, serving with" "$WORK/tandem-rest.log" || { echo "no 'version $VERSION' start-up line from tandem-rest"; return 1; }
	grep -q "version $VERSION, listening on" "$WORK/tandem-notifier.log" || { echo "no 'version $VERSION' start-up line from tandem-notifier"; return 1; }
	curl -fsS "http://127.0.0.1:$WS_PORT/metrics" | grep -qx "tandem_notifier_build_info{version=\"$VERSION\"} 1" ||
		{ echo "no tandem_notifier_build_info{version=\"$VERSION\"} 1 in /metrics"; return 1; }
	fcgi POST /api/v1/pkgtest '{"n":1}' | grep -q '^Status: 201' || { echo "POST through the installed worker failed"; return 1; }
	v=$(node "$PKG_DIR/ws-since.mjs" "ws://127.0.0.1:$WS_PORT/ws" pkgtest 0-0)
	[ "$v" = "subscribed 1" ] || { echo "a since=0-0 subscriber of the installed notifier got '$v', not 'subscribed 1'"; return 1; }
	echo "the stack runs from the units' command lines: health 200, POST 201, replay of 1 event; start-up lines and /metrics say $VERSION"
}

# --- the packaged tandem-token ---------------------------------------------------------
# fcgi_bearer PORT TOKEN URI: the status line of a GET with that bearer token
# ("" for none) from the worker on PORT.
fcgi_bearer() {
	local port=$1 tok=$2 uri=$3
	env -i PATH="$PATH" REQUEST_METHOD=GET REQUEST_URI="$uri" SCRIPT_NAME="${uri%%\?*}" \
		SERVER_PROTOCOL=HTTP/1.1 ${tok:+HTTP_AUTHORIZATION="Bearer $tok"} \
		timeout 5 cgi-fcgi -bind -connect "127.0.0.1:$port" </dev/null | tr -d '\r' | sed -n 's/^Status: //p' | cut -d' ' -f1
}

# token_claims TOKEN: the header's alg, then the payload as one JSON line
# with exp - iat as "ttl" (the times themselves vary).
token_claims() {
	node -e '
		const [h, p] = process.argv[1].split(".").slice(0, 2).map(s => JSON.parse(Buffer.from(s, "base64url")));
		const {iat, exp, ...rest} = p;
		rest.ttl = exp - iat;
		if (Math.abs(iat - Date.now() / 1000) > 60) rest.iat_off = true;
		console.log(h.alg);
		console.log(JSON.stringify(rest, Object.keys(rest).sort()));
	' "$1"
}

# rest_with_auth NAME VAR=VALUE...: the packaged tandem-rest with those auth
# settings on a free port, on the deb-stack's Redis; sets AUTH_PORT.
rest_with_auth() {
	local name=$1
	shift
	AUTH_PORT=$(free_ports 1) || { echo "no free port"; return 1; }
	env -i PATH="$PATH" TANDEM_REDIS_URL="unix://$WORK/redis.sock" TANDEM_THREADS=2 "$@" \
		"$ROOTFS/usr/bin/tandem-rest" --listen "127.0.0.1:$AUTH_PORT" >>"$WORK/rest-$name.log" 2>&1 &
	pids+=($!)
	wait_until 15 health_ok "$AUTH_PORT" ||
		{ echo "tandem-rest with $name auth did not come up"; tail "$WORK/rest-$name.log"; return 1; }
}
health_ok() { [ "$(fcgi_bearer "$1" '' /api/v1/_health)" = 200 ]; }

# expect_status PORT TOKEN URI WANT WHAT
expect_status() {
	local got
	got=$(fcgi_bearer "$1" "$2" "$3")
	[ "$got" = "$4" ] || { echo "$5: GET $3 answered '$got', want $4"; return 1; }
}

check_deb_token() {
	local tok=$ROOTFS/usr/bin/tandem-token t claims want secret_file other_file key ok=0 mode
	[ -x "$tok" ] || { echo "no extracted $tok (the deb-stack check failed)"; return 1; }
	[ -S "$WORK/redis.sock" ] || { echo "no Redis (the deb-stack check failed)"; return 1; }
	unset TANDEM_JWT_SECRET TANDEM_JWT_SECRET_FILE TANDEM_JWT_PUBLIC_KEY TANDEM_JWT_ISSUER TANDEM_JWT_AUDIENCE

	# HS256 from a secret file, as the servers read it (a trailing newline is not part of it).
	secret_file=$WORK/jwt-secret other_file=$WORK/jwt-secret-other
	head -c 48 /dev/urandom | base64 >"$secret_file"
	head -c 48 /dev/urandom | base64 >"$other_file"
	t=$(env -i PATH="$PATH" TANDEM_JWT_SECRET_FILE="$secret_file" "$tok" --sub alice --read pkgtok --write pkgtok --own pkgtok --ttl 1h) ||
		{ echo "tandem-token with a secret file failed"; return 1; }
	claims=$(token_claims "$t") || { echo "the token does not decode: $t"; return 1; }
	want=$'HS256\n{"own":["pkgtok"],"read":["pkgtok"],"sub":"alice","ttl":3600,"write":["pkgtok"]}'
	[ "$claims" = "$want" ] || { echo "token claims:"; echo "$claims"; echo "want:"; echo "$want"; return 1; }
	echo "tandem-token (packaged): HS256, claims decode to sub alice, read/write/own [pkgtok], exp = iat + 3600"
	# The signature, by hand: HMAC-SHA256 of header.payload with the secret.
	local sig
	sig=$(printf '%s' "${t%.*}" | openssl dgst -sha256 -mac HMAC -macopt "key:$(tr -d '\n' <"$secret_file")" -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
	[ "$sig" = "${t##*.}" ] || { echo "the HS256 signature is not HMAC-SHA256 of the token with the secret"; return 1; }
	echo "its signature is HMAC-SHA256(secret) of header.payload (openssl)"

	rest_with_auth hs TANDEM_JWT_SECRET_FILE="$secret_file" || return 1
	expect_status $AUTH_PORT "$t" /api/v1/pkgtok 200 "alice's token" || ok=1
	expect_status $AUTH_PORT "$t" /api/v1/other 403 "alice's token on a collection it may not read" || ok=1
	expect_status $AUTH_PORT "" /api/v1/pkgtok 401 "no token" || ok=1
	t=$(env -i PATH="$PATH" TANDEM_JWT_SECRET_FILE="$other_file" "$tok" --read pkgtok) || return 1
	expect_status $AUTH_PORT "$t" /api/v1/pkgtok 401 "a token signed with another secret" || ok=1
	t=$(env -i PATH="$PATH" TANDEM_JWT_SECRET="$(cat "$secret_file")" "$tok" --read '*' --alg HS512 --ttl 5m) || return 1
	[ "$(token_claims "$t" | head -1)" = HS512 ] || { echo "--alg HS512 did not sign HS512"; ok=1; }
	expect_status $AUTH_PORT "$t" /api/v1/other 200 "a read '*' HS512 token from TANDEM_JWT_SECRET" || ok=1
	[ $ok -eq 0 ] && echo "the packaged tandem-rest with that secret file: 200 for it, 403 outside its claims, 401 without a token or with another secret's; HS512 from TANDEM_JWT_SECRET accepted"

	# A private key: the servers hold the public half.
	for mode in ec rsa; do
		key=$WORK/$mode-private.pem
		if [ $mode = ec ]; then
			openssl ecparam -name prime256v1 -genkey -noout -out "$key" 2>/dev/null
			openssl ec -in "$key" -pubout -out "$WORK/$mode-public.pem" 2>/dev/null
			want=ES256
		else
			openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
			openssl pkey -in "$key" -pubout -out "$WORK/$mode-public.pem" 2>/dev/null
			want=RS256
		fi
		[ -s "$WORK/$mode-public.pem" ] || { echo "openssl could not make the $mode key pair"; return 1; }
		t=$(env -i PATH="$PATH" "$tok" --private-key "$key" --sub bob --read pkgtok --ttl 10m) ||
			{ echo "tandem-token --private-key ($mode) failed"; return 1; }
		claims=$(token_claims "$t")
		[ "$claims" = "$want"$'\n{"read":["pkgtok"],"sub":"bob","ttl":600}' ] || { echo "$mode token claims: $claims"; ok=1; }
		rest_with_auth $mode TANDEM_JWT_PUBLIC_KEY="$WORK/$mode-public.pem" || return 1
		expect_status $AUTH_PORT "$t" /api/v1/pkgtok 200 "the $want token" || ok=1
		expect_status $AUTH_PORT "$t" /api/v1/other 403 "the $want token outside its claims" || ok=1
		# The same claims as HS256 with the public key's PEM text as the secret: alg confusion, refused.
		t=$(env -i PATH="$PATH" TANDEM_JWT_SECRET_FILE="$WORK/$mode-public.pem" "$tok" --read pkgtok) ||
			{ echo "could not sign the alg-confusion token"; return 1; }
		expect_status $AUTH_PORT "$t" /api/v1/pkgtok 401 "an HS256 token keyed with the $mode public key" || ok=1
		[ $ok -eq 0 ] && echo "--private-key ($mode): $want, claims as asked; the packaged tandem-rest with the public key accepts it, 403 outside its claims, 401 for HS256 keyed with the public PEM"
	done
	return $ok
}

seq_of() { # the Tandem-Seq of a read of COL/ID
	fcgi GET "/api/v1/$1/$2" | tr -d '\r' | sed -n 's/^Tandem-Seq: //Ip'
}
post_id() {
	fcgi POST "/api/v1/$1" "$2" | tr -d '\r' | sed -n 's/^Location: .*\///p'
}

# The backup procedure of docs/OPERATIONS.md against the stack above.
check_backup() {
	[ -n "$REST_PORT" ] || { echo "no stack (deb-stack failed)"; return 1; }
	local col=backup a b c seq_a seq_b before out
	a=$(post_id $col '{"n":"a"}') && [ -n "$a" ] || { echo "POST a failed"; return 1; }
	seq_a=$(seq_of $col "$a")
	before=$(rcli LASTSAVE)
	rcli BGSAVE >/dev/null
	wait_until 30 bash -c "[ \"\$(redis-cli -s '$WORK/redis.sock' LASTSAVE)\" != '$before' ]" || { echo "BGSAVE did not finish"; return 1; }
	rcli INFO persistence | grep -q 'rdb_last_bgsave_status:ok' || { echo "BGSAVE failed"; return 1; }
	cp "$REDIS_DIR/dump.rdb" "$WORK/backup.rdb"
	echo "backup taken at seq $seq_a"
	b=$(post_id $col '{"n":"b"}') && [ -n "$b" ] || { echo "POST b failed"; return 1; }
	seq_b=$(seq_of $col "$b")
	post_id $col '{"n":"b2"}' >/dev/null
	echo "more writes after it: seq $seq_b and one more"

	# Restore: Redis down, AOF out of the way, the RDB in, start without AOF,
	# then rebuild the AOF from the data set (CONFIG SET appendonly yes).
	stop_pid "$redis_pid"
	wait "$redis_pid" 2>/dev/null
	rm -rf "$REDIS_DIR/appendonlydir"
	cp "$WORK/backup.rdb" "$REDIS_DIR/dump.rdb"
	start_redis no || return 1
	rcli CONFIG SET appendonly yes >/dev/null
	[ "$(rcli EXISTS "{tandem:$col}:d:$b")" = 0 ] || { echo "the restored Redis still holds b"; return 1; }
	[ "$(rcli EXISTS "{tandem:$col}:d:$a")" = 1 ] || { echo "the restored Redis lacks a"; return 1; }
	wait_until 20 bash -c "curl -fsS http://127.0.0.1:$WS_PORT/metrics | grep -qx 'tandem_notifier_redis_up 1'" ||
		{ echo "the notifier did not reconnect to the restored Redis"; return 1; }
	echo "restored: a is there, b is gone; the notifier is back on Redis"

	local ok=0
	out=$(node "$PKG_DIR/ws-since.mjs" "ws://127.0.0.1:$WS_PORT/ws" $col "$seq_a")
	[ "$out" = "subscribed 0" ] || { echo "resume with since=$seq_a (in the backup): got '$out', want 'subscribed 0'"; ok=1; }
	out=$(node "$PKG_DIR/ws-since.mjs" "ws://127.0.0.1:$WS_PORT/ws" $col "$seq_b")
	[ "$out" = "reset 0" ] || { echo "resume with since=$seq_b (after the backup, newer than the restored log): got '$out', want 'reset 0'"; ok=1; }
	c=$(post_id $col '{"n":"c"}') && [ -n "$c" ] || { echo "POST c failed"; return 1; }
	out=$(node "$PKG_DIR/ws-since.mjs" "ws://127.0.0.1:$WS_PORT/ws" $col "$seq_b")
	[ "$out" = "reset 0" ] || { echo "resume with since=$seq_b after a new write (inside the log's range, not in it): got '$out', want 'reset 0'"; ok=1; }
	[ $ok -eq 0 ] && echo "resuming with a since from after the backup gets reset (before and after a new write); one from the backup resumes"
	return $ok
}

check version check_version
check man check_man
check install check_install
check deb check_deb
check deb-stack check_deb_stack
check deb-token check_deb_token
check backup check_backup

echo
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
