#!/usr/bin/env bash
# Prints the Redis ACL users of Tandem, one `user` line per program, for a
# redis.conf, an aclfile (`aclfile /etc/redis/users.acl`) or, with the
# leading "user" replaced by "ACL SETUSER", redis-cli:
#
#   scripts/redis-acl.sh NAMESPACE REST_PASSWORD_FILE NOTIFIER_PASSWORD_FILE
#
# Each password file holds one password (a trailing newline is ignored, as
# the programs' TANDEM_REDIS_PASSWORD_FILE does); only its SHA-256 is
# printed, so the output may be stored where the passwords may not.
#
# What each user may do (README, Security: Redis credentials):
#   tandem-rest      the commands of its Lua scripts (rest-fcgi/rest_store.c),
#                    which it loads with SCRIPT LOAD and runs with EVALSHA,
#                    plus PING/SELECT/AUTH; keys {NS:*}; PUBLISH on {NS:*}.
#                    On a Redis Cluster (SPEC section 9) also SPUBLISH (the
#                    scripts' sharded publish), CLUSTER SLOTS (the slot map),
#                    ASKING (a slot in migration) and WAIT
#                    (TANDEM_REDIS_WAIT_REPLICAS, single node too).
#   tandem-notifier  PSUBSCRIBE {NS:*} (a pattern is matched literally
#                    against the & rules, so the rule is exactly that
#                    pattern), its read script by EVAL (EXISTS, XINFO STREAM,
#                    XRANGE), PING/SELECT/AUTH; keys {NS:*}; no writes.
#                    On a Redis Cluster also SSUBSCRIBE/SUNSUBSCRIBE per
#                    collection channel, CLUSTER SLOTS and ASKING.
# Redis also checks every command a script runs against the user's rules.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 NAMESPACE REST_PASSWORD_FILE NOTIFIER_PASSWORD_FILE" >&2; exit 2; }
ns=$1
case "$ns" in
	[a-z0-9]*) ;;
	*) echo "$0: bad namespace $ns" >&2; exit 2 ;;
esac

# SHA-256 of the file's content less one trailing newline.
hash() {
	local pw
	pw=$(cat "$1"; echo x) # keep trailing newlines: only one is dropped
	pw=${pw%x}
	printf '%s' "${pw%$'\n'}" | sha256sum | cut -d' ' -f1
}

rest_cmds="-@all +evalsha +script|load +ping +select +auth +get +set +del +mget +hmget +hset +zadd +zrem +zrangebylex +xadd +xrevrange +publish +spublish +cluster|slots +asking +wait"
notifier_cmds="-@all +psubscribe +punsubscribe +ssubscribe +sunsubscribe +cluster|slots +asking +eval +evalsha +exists +xinfo|stream +xrange +ping +select +auth"

echo "user tandem-rest on #$(hash "$2") resetkeys resetchannels ~{$ns:* &{$ns:*} $rest_cmds"
echo "user tandem-notifier on #$(hash "$3") resetkeys resetchannels ~{$ns:* &{$ns:*} $notifier_cmds"
