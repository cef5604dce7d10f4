/*
 * Unit tests of shared/tnd_cluster (the Redis Cluster routing core) and of
 * the redis-cluster:// URL form of shared/tnd_redis: CRC16 and key slots
 * against Redis's own vectors, the slot map from CLUSTER SLOTS replies
 * (read from RESP bytes by hiredis's reader, as from a server),
 * redirections and the bounded retry policy. No server needed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "tnd_cluster.h"
#include "tnd_error.h"
#include "tnd_redis.h"

/* A reply as hiredis reads it from the wire; the caller frees it. */
static redisReply *resp(const char *bytes)
{
	redisReader *r = redisReaderCreate();
	void *reply = NULL;

	cr_assert_not_null(r);
	cr_assert_eq(redisReaderFeed(r, bytes, strlen(bytes)), REDIS_OK);
	cr_assert_eq(redisReaderGetReply(r, &reply), REDIS_OK);
	cr_assert_not_null(reply, "incomplete RESP in the test");
	redisReaderFree(r);
	return reply;
}

#define KS(s) tnd_cluster_keyslot(s, strlen(s))

Test(cluster_slot, crc16_is_xmodem)
{
	cr_assert_eq(tnd_cluster_crc16("123456789", 9), 0x31C3);
	cr_assert_eq(tnd_cluster_crc16("", 0), 0);
	cr_assert_eq(tnd_cluster_crc16("A", 1), 0x58E5);
}

Test(cluster_slot, matches_redis_cluster_keyslot)
{
	/* Values from CLUSTER KEYSLOT on Redis 7.0. */
	cr_assert_eq(KS("foo"), 12182);
	cr_assert_eq(KS("bar"), 5061);
	cr_assert_eq(KS("hello"), 866);
	cr_assert_eq(KS("123456789"), 0x31C3 & 16383);
	cr_assert_eq(KS(""), 0);
	for (const char *k = "\xff\x00"; k; k = NULL)
		cr_assert_lt(tnd_cluster_keyslot(k, 2), 16384);
}

Test(cluster_slot, hash_tags_follow_redis_rules)
{
	/* The examples of the Redis Cluster specification. */
	cr_assert_eq(KS("{user1000}.following"), KS("{user1000}.followers"));
	cr_assert_eq(KS("{user1000}.following"), KS("user1000"));
	cr_assert_eq(KS("foo{}{bar}"), tnd_cluster_crc16("foo{}{bar}", 10) & 16383, "empty tag: whole key");
	cr_assert_eq(KS("foo{{bar}}zap"), KS("{bar"), "tag is {bar");
	cr_assert_eq(KS("foo{bar}{zap}"), KS("bar"), "first tag only");
	cr_assert_eq(KS("foo{bar"), tnd_cluster_crc16("foo{bar", 7) & 16383, "unterminated: whole key");
	cr_assert_eq(KS("}foo{bar}"), KS("bar"), "a } before the { does not count");
	/* The tag is binary-safe: a NUL inside it is hashed too. */
	cr_assert_eq(tnd_cluster_keyslot("{a\0b}x", 6), tnd_cluster_crc16("a\0b", 3) & 16383);
}

Test(cluster_slot, every_key_of_a_collection_shares_one_slot)
{
	int slot = tnd_cluster_collection_slot("tandem", "todos", 5);

	cr_assert_geq(slot, 0);
	cr_assert_eq(slot, KS("{tandem:todos}"));
	cr_assert_eq(slot, KS("{tandem:todos}:d:01JD0000000000000000000000"));
	cr_assert_eq(slot, KS("{tandem:todos}:log"));
	cr_assert_eq(slot, KS("{tandem:todos}:ids"));
	cr_assert_eq(slot, KS("tandem:todos"));
	cr_assert_neq(slot, tnd_cluster_collection_slot("tandem", "notes", 5));
	char big[400];
	memset(big, 'a', sizeof(big));
	cr_assert_eq(tnd_cluster_collection_slot("tandem", big, sizeof(big)), TND_ETOOLONG);
}

/* A 3-master / 3-replica CLUSTER SLOTS reply, in Redis 7's shape (with metadata). */
#define SLOTS_3X2 \
	"*3\r\n" \
	"*4\r\n:0\r\n:5460\r\n" \
	"*4\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n*0\r\n" \
	"*4\r\n$9\r\n127.0.0.1\r\n:7003\r\n$40\r\n" \
	"dddddddddddddddddddddddddddddddddddddddd\r\n*0\r\n" \
	"*4\r\n:5461\r\n:10922\r\n" \
	"*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\n" \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n" \
	"*3\r\n$9\r\n127.0.0.1\r\n:7004\r\n$40\r\n" \
	"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\r\n" \
	"*4\r\n:10923\r\n:16383\r\n" \
	"*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n" \
	"*2\r\n$9\r\n127.0.0.1\r\n:7005\r\n"

Test(cluster_map, parses_masters_and_replicas_per_range)
{
	redisReply *r = resp(SLOTS_3X2);
	struct tnd_cluster_map *m;
	char err[200];
	int idx[8];

	cr_assert_eq(tnd_cluster_map_parse(r, "127.0.0.1", &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tnd_cluster_map_node_count(m), 6);
	cr_assert_eq(tnd_cluster_map_covered(m), 16384);
	cr_assert_eq(tnd_cluster_map_masters(m, idx, 8), 3);

	int m0 = tnd_cluster_map_master(m, 0);
	cr_assert_geq(m0, 0);
	cr_assert_eq(tnd_cluster_map_node(m, m0)->port, 7000);
	cr_assert_str_eq(tnd_cluster_map_node(m, m0)->id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	cr_assert_eq(tnd_cluster_map_master(m, 5460), m0);
	cr_assert_eq(tnd_cluster_map_node(m, tnd_cluster_map_master(m, 5461))->port, 7001);
	cr_assert_eq(tnd_cluster_map_node(m, tnd_cluster_map_master(m, 16383))->port, 7002);
	cr_assert_str_eq(tnd_cluster_map_node(m, tnd_cluster_map_master(m, 16383))->id, "");
	cr_assert_eq(tnd_cluster_map_master(m, 16384), TND_EINVAL);
	cr_assert_eq(tnd_cluster_map_master(m, -1), TND_EINVAL);

	cr_assert_eq(tnd_cluster_map_replicas(m, 100, idx, 8), 1);
	cr_assert_eq(tnd_cluster_map_node(m, idx[0])->port, 7003);
	cr_assert_eq(tnd_cluster_map_replicas(m, 12000, idx, 8), 1);
	cr_assert_eq(tnd_cluster_map_node(m, idx[0])->port, 7005);
	cr_assert_eq(tnd_cluster_map_find(m, "127.0.0.1", 7004), tnd_cluster_map_replicas(m, 6000, idx, 8) == 1 ? idx[0] : -99);
	cr_assert_eq(tnd_cluster_map_find(m, "127.0.0.1", 7999), TND_ENOTFOUND);

	/* The collection's slot resolves to the master of its range. */
	int slot = tnd_cluster_collection_slot("tandem", "todos", 5);
	int want = slot <= 5460 ? 7000 : slot <= 10922 ? 7001 : 7002;
	cr_assert_eq(tnd_cluster_map_node(m, tnd_cluster_map_master(m, slot))->port, want);

	tnd_cluster_map_free(m);
	freeReplyObject(r);
}

Test(cluster_map, follows_a_moved_in_place)
{
	redisReply *r = resp(SLOTS_3X2);
	struct tnd_cluster_map *m;
	char err[200];
	int idx[8];

	cr_assert_eq(tnd_cluster_map_parse(r, NULL, &m, err, sizeof(err)), 0, "%s", err);
	int i = tnd_cluster_map_moved(m, 42, "127.0.0.1", 7001);
	cr_assert_eq(i, tnd_cluster_map_find(m, "127.0.0.1", 7001));
	cr_assert_eq(tnd_cluster_map_master(m, 42), i);
	cr_assert_eq(tnd_cluster_map_replicas(m, 42, idx, 8), 0, "replicas unknown after a MOVED");
	cr_assert_eq(tnd_cluster_map_node(m, tnd_cluster_map_master(m, 43))->port, 7000, "only that slot");
	/* A node the map did not know is added. */
	i = tnd_cluster_map_moved(m, 43, "10.0.0.9", 7010);
	cr_assert_eq(tnd_cluster_map_node_count(m), 7);
	cr_assert_str_eq(tnd_cluster_map_node(m, i)->host, "10.0.0.9");
	cr_assert_eq(tnd_cluster_map_moved(m, 16384, "h", 1), TND_EINVAL);
	cr_assert_eq(tnd_cluster_map_moved(m, 1, "h", 0), TND_EINVAL);
	tnd_cluster_map_free(m);
	freeReplyObject(r);
}

Test(cluster_map, empty_and_unknown_endpoints)
{
	struct tnd_cluster_map *m;
	char err[200];
	/* Host "" is the node asked; "?" is unknown: its range stays unserved. */
	redisReply *r = resp("*2\r\n"
			     "*3\r\n:0\r\n:99\r\n*2\r\n$0\r\n\r\n:7000\r\n"
			     "*4\r\n:100\r\n:199\r\n*2\r\n$1\r\n?\r\n:7001\r\n*2\r\n$1\r\nh\r\n:7002\r\n");

	cr_assert_eq(tnd_cluster_map_parse(r, "10.1.2.3", &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(tnd_cluster_map_node(m, tnd_cluster_map_master(m, 5))->host, "10.1.2.3");
	cr_assert_eq(tnd_cluster_map_master(m, 150), TND_ENOTFOUND);
	cr_assert_eq(tnd_cluster_map_master(m, 200), TND_ENOTFOUND);
	cr_assert_eq(tnd_cluster_map_covered(m), 100);
	tnd_cluster_map_free(m);

	/* Without asked_host, "" is unknown too. */
	cr_assert_eq(tnd_cluster_map_parse(r, NULL, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tnd_cluster_map_covered(m), 0);
	tnd_cluster_map_free(m);
	freeReplyObject(r);

	/* A cluster with no slots assigned yet. */
	r = resp("*0\r\n");
	cr_assert_eq(tnd_cluster_map_parse(r, NULL, &m, err, sizeof(err)), 0);
	cr_assert_eq(tnd_cluster_map_covered(m), 0);
	cr_assert_eq(tnd_cluster_map_masters(m, NULL, 0), 0);
	tnd_cluster_map_free(m);
	freeReplyObject(r);
}

Test(cluster_map, refuses_malformed_replies)
{
	const char *bad[] = {
		"-ERR This instance has cluster support disabled\r\n",
		"+OK\r\n",
		"*1\r\n:5\r\n",                                                  /* entry not an array */
		"*1\r\n*2\r\n:0\r\n:1\r\n",                                      /* no master */
		"*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n",           /* slot past 16383 */
		"*1\r\n*3\r\n:10\r\n:9\r\n*2\r\n$1\r\nh\r\n:1\r\n",              /* first > last */
		"*1\r\n*3\r\n:-1\r\n:9\r\n*2\r\n$1\r\nh\r\n:1\r\n",              /* negative */
		"*1\r\n*3\r\n$1\r\n0\r\n:9\r\n*2\r\n$1\r\nh\r\n:1\r\n",          /* slot as a string */
		"*1\r\n*3\r\n:0\r\n:9\r\n*2\r\n:1\r\n:1\r\n",                    /* host not a string */
		"*1\r\n*3\r\n:0\r\n:9\r\n*2\r\n$1\r\nh\r\n:70000\r\n",           /* bad port */
		"*1\r\n*3\r\n:0\r\n:9\r\n*1\r\n$1\r\nh\r\n",                     /* node without port */
		"*2\r\n*3\r\n:0\r\n:9\r\n*2\r\n$1\r\nh\r\n:1\r\n"
		"*3\r\n:9\r\n:10\r\n*2\r\n$1\r\ng\r\n:1\r\n",                    /* overlap */
	};
	struct tnd_cluster_map *m = (void *)1;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		redisReply *r = resp(bad[i]);
		err[0] = '\0';
		cr_assert_eq(tnd_cluster_map_parse(r, NULL, &m, err, sizeof(err)), TND_EPROTO, "case %zu", i);
		cr_assert_null(m);
		cr_assert_neq(err[0], '\0', "case %zu has a reason", i);
		freeReplyObject(r);
	}
	cr_assert_eq(tnd_cluster_map_parse(NULL, NULL, &m, err, sizeof(err)), TND_EPROTO);
}

Test(cluster_map, caps_hosts_and_nodes)
{
	char buf[600], host[TND_REDIS_HOST_MAX + 2];
	struct tnd_cluster_map *m;
	char err[200];

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, sizeof(buf), "*1\r\n*3\r\n:0\r\n:9\r\n*2\r\n$%zu\r\n%s\r\n:1\r\n", strlen(host), host);
	redisReply *r = resp(buf);
	cr_assert_eq(tnd_cluster_map_parse(r, NULL, &m, err, sizeof(err)), TND_ETOOLONG);
	freeReplyObject(r);

	/* TND_CLUSTER_NODES_MAX + 1 one-slot ranges on distinct nodes. */
	size_t n = TND_CLUSTER_NODES_MAX + 1, cap = 64 + n * 64, len = 0;
	char *big = malloc(cap);
	len += (size_t)snprintf(big + len, cap - len, "*%zu\r\n", n);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(big + len, cap - len, "*3\r\n:%zu\r\n:%zu\r\n*2\r\n$1\r\nh\r\n:%zu\r\n",
					i, i, 1000 + i);
	r = resp(big);
	cr_assert_eq(tnd_cluster_map_parse(r, NULL, &m, err, sizeof(err)), TND_ETOOLONG);
	freeReplyObject(r);
	/* Exactly at the cap is fine. */
	len = (size_t)snprintf(big, cap, "*%d\r\n", TND_CLUSTER_NODES_MAX);
	for (size_t i = 0; i < n - 1; i++)
		len += (size_t)snprintf(big + len, cap - len, "*3\r\n:%zu\r\n:%zu\r\n*2\r\n$1\r\nh\r\n:%zu\r\n",
					i, i, 1000 + i);
	r = resp(big);
	cr_assert_eq(tnd_cluster_map_parse(r, NULL, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tnd_cluster_map_node_count(m), TND_CLUSTER_NODES_MAX);
	tnd_cluster_map_free(m);
	freeReplyObject(r);
	free(big);
}

#define REDIR(s, r) tnd_cluster_redirect_parse(s, strlen(s), r)

Test(cluster_redirect, reads_moved_ask_tryagain_clusterdown)
{
	struct tnd_cluster_redirect r;

	cr_assert_eq(REDIR("MOVED 3999 127.0.0.1:6381", &r), TND_CLUSTER_REDIR_MOVED);
	cr_assert_eq(r.kind, TND_CLUSTER_REDIR_MOVED);
	cr_assert_eq(r.slot, 3999);
	cr_assert_str_eq(r.host, "127.0.0.1");
	cr_assert_eq(r.port, 6381);
	cr_assert_not(r.same_host);

	cr_assert_eq(REDIR("ASK 16383 redis-2.example:7000", &r), TND_CLUSTER_REDIR_ASK);
	cr_assert_eq(r.slot, 16383);
	cr_assert_str_eq(r.host, "redis-2.example");
	cr_assert_eq(r.port, 7000);

	cr_assert_eq(REDIR("MOVED 0 ::1:6381", &r), TND_CLUSTER_REDIR_MOVED);
	cr_assert_str_eq(r.host, "::1");
	cr_assert_eq(r.port, 6381);
	cr_assert_eq(REDIR("MOVED 1 [fe80::1]:7001", &r), TND_CLUSTER_REDIR_MOVED);
	cr_assert_str_eq(r.host, "fe80::1");

	/* Redis 7 leaves the host out when its endpoint is unknown. */
	cr_assert_eq(REDIR("MOVED 12 :7002", &r), TND_CLUSTER_REDIR_MOVED);
	cr_assert(r.same_host);
	cr_assert_str_eq(r.host, "");
	cr_assert_eq(r.port, 7002);

	cr_assert_eq(REDIR("TRYAGAIN Multiple keys request during rehashing of slot", &r),
		     TND_CLUSTER_REDIR_TRYAGAIN);
	cr_assert_eq(r.slot, -1);
	cr_assert_eq(REDIR("CLUSTERDOWN Hash slot not served", &r), TND_CLUSTER_REDIR_CLUSTERDOWN);
	cr_assert_eq(REDIR("CLUSTERDOWN The cluster is down", &r), TND_CLUSTER_REDIR_CLUSTERDOWN);
	cr_assert_eq(REDIR("TRYAGAIN", &r), TND_CLUSTER_REDIR_TRYAGAIN);

	/* Other errors are not redirections. */
	const char *other[] = {"ERR unknown command", "NOSCRIPT No matching script", "MOVEDX 1 h:1",
			       "ASKING", "moved 1 h:1", "", "CROSSSLOT Keys in request don't hash to the same slot",
			       "READONLY You can't write against a read only replica."};
	for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++) {
		cr_assert_eq(REDIR(other[i], &r), TND_CLUSTER_REDIR_NONE, "%s", other[i]);
		cr_assert_eq(r.kind, TND_CLUSTER_REDIR_NONE);
	}
	cr_assert_str_eq(tnd_cluster_redir_name(TND_CLUSTER_REDIR_ASK), "ask");
	cr_assert_str_eq(tnd_cluster_redir_name(TND_CLUSTER_REDIR__MAX), "none");
}

Test(cluster_redirect, refuses_malformed_moved_and_ask)
{
	struct tnd_cluster_redirect r;
	const char *bad[] = {"MOVED", "MOVED ", "MOVED 3999", "MOVED 3999 ", "MOVED 3999 host",
			     "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED x h:1", "MOVED 1 h:0",
			     "MOVED 1 h:65536", "MOVED 1 h:12ab", "ASK 1 h:", "ASK 1 a b:1"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cr_assert_eq(REDIR(bad[i], &r), TND_EPROTO, "%s", bad[i]);
		cr_assert_eq(r.kind, TND_CLUSTER_REDIR_NONE);
	}
	/* A host one byte past the cap. */
	char buf[TND_REDIS_HOST_MAX + 32];
	int n = snprintf(buf, sizeof(buf), "MOVED 1 ");
	memset(buf + n, 'h', TND_REDIS_HOST_MAX + 1);
	snprintf(buf + n + TND_REDIS_HOST_MAX + 1, sizeof(buf) - (size_t)n - TND_REDIS_HOST_MAX - 1, ":1");
	cr_assert_eq(REDIR(buf, &r), TND_EPROTO);
	/* At the cap it is read. */
	memmove(buf + n + TND_REDIS_HOST_MAX, buf + n + TND_REDIS_HOST_MAX + 1, 3);
	cr_assert_eq(REDIR(buf, &r), TND_CLUSTER_REDIR_MOVED);
	cr_assert_eq(strlen(r.host), TND_REDIS_HOST_MAX);
}

Test(cluster_retry, moved_and_ask_retry_at_once_up_to_the_attempt_cap)
{
	struct tnd_cluster_retry r;

	tnd_cluster_retry_init(&r, 1000, 500, 3);
	cr_assert_eq(tnd_cluster_retry_next(&r, 1000, TND_CLUSTER_REDIR_MOVED, 0), 0);
	cr_assert_eq(tnd_cluster_retry_next(&r, 1001, TND_CLUSTER_REDIR_ASK, 0), 0);
	cr_assert_eq(tnd_cluster_retry_next(&r, 1002, TND_CLUSTER_REDIR_MOVED, 0), TND_EUNAVAIL,
		     "3 attempts made");
	tnd_cluster_retry_init(&r, 0, 100, 0);
	cr_assert_eq(r.max_attempts, 1);
	cr_assert_eq(tnd_cluster_retry_next(&r, 0, TND_CLUSTER_REDIR_MOVED, 0), TND_EUNAVAIL);
}

Test(cluster_retry, tryagain_backs_off_within_the_time_bound)
{
	struct tnd_cluster_retry r;
	long long now = 0;
	int d, waits = 0, total = 0;

	tnd_cluster_retry_init(&r, now, 1000, 100);
	/* jitter 0: the shortest wait, d/2 of 5, 10, 20, ... capped at 200. */
	int want[] = {2, 5, 10, 20, 40, 80, 100, 100};
	while ((d = tnd_cluster_retry_next(&r, now, TND_CLUSTER_REDIR_TRYAGAIN, 0)) >= 0) {
		if ((size_t)waits < sizeof(want) / sizeof(*want))
			cr_assert_eq(d, want[waits], "wait %d: %d", waits, d);
		now += d;
		total += d;
		waits++;
	}
	cr_assert_eq(d, TND_EUNAVAIL);
	cr_assert_leq(total, 1000, "never waits past the bound");
	cr_assert_gt(total, 800, "uses most of the bound (%d ms)", total);
	/* The largest jitter gives the full delay, never more. */
	tnd_cluster_retry_init(&r, 0, 10000, 10);
	for (int i = 0; i < 6; i++)
		cr_assert_leq(tnd_cluster_retry_next(&r, 0, TND_CLUSTER_REDIR_TRYAGAIN, ~0u),
			      TND_CLUSTER_TRYAGAIN_CAP_MS);
}

Test(cluster_retry, clusterdown_and_lost_nodes_back_off_longer)
{
	struct tnd_cluster_retry r;

	tnd_cluster_retry_init(&r, 0, 5000, 10);
	cr_assert_eq(tnd_cluster_retry_next(&r, 0, TND_CLUSTER_REDIR_CLUSTERDOWN, 0), 25);
	cr_assert_eq(tnd_cluster_retry_next(&r, 25, TND_CLUSTER_REDIR_NONE, 0), 50);
	int d = tnd_cluster_retry_next(&r, 75, TND_CLUSTER_REDIR_CLUSTERDOWN, 7);
	cr_assert(d >= 100 && d <= 200, "%d", d);
	/* A wait that would end past the deadline is refused. */
	tnd_cluster_retry_init(&r, 0, 30, 10);
	cr_assert_eq(tnd_cluster_retry_next(&r, 20, TND_CLUSTER_REDIR_CLUSTERDOWN, 0), TND_EUNAVAIL);
}

Test(cluster_url, parses_seed_lists_with_credentials)
{
	struct tnd_redis_target t;
	char err[200];

	cr_assert_eq(tnd_redis_target_parse("redis-cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002,h4",
					    &t, err, sizeof(err)), 0, "%s", err);
	cr_assert(t.cluster);
	cr_assert_eq(t.n_seeds, 4);
	cr_assert_str_eq(t.seeds[0].host, "10.0.0.1");
	cr_assert_eq(t.seeds[0].port, 7000);
	cr_assert_str_eq(t.seeds[1].host, "10.0.0.2");
	cr_assert_eq(t.seeds[1].port, 7001);
	cr_assert_str_eq(t.seeds[2].host, "::1");
	cr_assert_eq(t.seeds[2].port, 7002);
	cr_assert_str_eq(t.seeds[3].host, "h4");
	cr_assert_eq(t.seeds[3].port, 6379);
	cr_assert_str_eq(t.addr.host, "10.0.0.1", "addr is the first seed");
	cr_assert_eq(t.addr.port, 7000);
	cr_assert_not(t.addr.has_password);
	cr_assert_eq(t.addr.db, 0);

	cr_assert_eq(tnd_redis_target_parse("redis-cluster://tandem-rest:p%40ss:w@rd@a:1,b:2/0",
					    &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(t.addr.username, "tandem-rest");
	cr_assert_str_eq(t.addr.password, "p@ss:w@rd");
	cr_assert(t.addr.has_password);
	cr_assert_eq(t.n_seeds, 2);
	const char *argv[3];
	size_t lens[3];
	cr_assert_eq(tnd_redis_auth_argv(&t.addr, argv, lens), 3, "AUTH user pass for every node");

	/* The other schemes come through unchanged. */
	cr_assert_eq(tnd_redis_target_parse("redis://h:7/3", &t, err, sizeof(err)), 0);
	cr_assert_not(t.cluster);
	cr_assert_eq(t.n_seeds, 0);
	cr_assert_eq(t.addr.db, 3);
	cr_assert_eq(tnd_redis_target_parse("unix:///run/r.sock", &t, err, sizeof(err)), 0);
	cr_assert(t.addr.is_unix);
}

Test(cluster_url, refuses_bad_seed_lists)
{
	struct tnd_redis_target t;
	char err[200];
	const char *bad[] = {"redis-cluster://", "redis-cluster://a:1,", "redis-cluster://,a:1",
			     "redis-cluster://a:1,,b:2", "redis-cluster://a:0", "redis-cluster://a:1,b:x",
			     "redis-cluster://a:1/2", "redis-cluster://a:1/x", "redis-cluster://[::1",
			     "redis-cluster://[::1]x:1", "redis-cluster://[::1,a]:1",
			     "redis-cluster://u:p%zz@a:1", "cluster://a:1",
			     "http://a"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(tnd_redis_target_parse(bad[i], &t, err, sizeof(err)), -1, "%s", bad[i]);
	/* Exactly the cap of seeds, then one past it. */
	char url[512];
	int n = snprintf(url, sizeof(url), "redis-cluster://");
	for (int i = 0; i < TND_CLUSTER_SEEDS_MAX; i++)
		n += snprintf(url + n, sizeof(url) - (size_t)n, "%sh%d:%d", i ? "," : "", i, 7000 + i);
	cr_assert_eq(tnd_redis_target_parse(url, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n_seeds, TND_CLUSTER_SEEDS_MAX);
	snprintf(url + n, sizeof(url) - (size_t)n, ",one-more:1");
	cr_assert_eq(tnd_redis_target_parse(url, &t, err, sizeof(err)), -1);
	cr_assert(strstr(err, "seed"), "%s", err);
	/* The password never shows in a reason. */
	cr_assert_eq(tnd_redis_target_parse("redis-cluster://u:s3cret@a:99999", &t, err, sizeof(err)), -1);
	cr_assert_null(strstr(err, "s3cret"), "%s", err);
}

Test(cluster_url, single_node_parser_names_the_cluster_scheme)
{
	struct tnd_redis_addr a;
	char err[200];

	cr_assert_eq(tnd_redis_url_parse("redis-cluster://a:1", &a, err, sizeof(err)), -1);
	cr_assert(strstr(err, "Cluster"), "%s", err);
}
