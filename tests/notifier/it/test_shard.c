/*
 * notifier/ntf_shard against a real redis-server (one per test, on a unix
 * socket in a temp dir; sharded pub/sub works on a single node too):
 * subscribe, SPUBLISH order, unsubscribe, a 1 MiB message, many channels,
 * the input cap, AUTH, a refused connect, a server-side disconnect and
 * closing from inside the shard's own callbacks. Each test counts the
 * callbacks and demands a loop with no handle left (uv_loop_close == 0).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ntf_shard.h"
#include "shard_rec.h"
#include "stack.h"
#include "tnd_error.h"

static char dir[64];
static pid_t redis_pid = -1;
static uv_loop_t loop;
static struct rec rec;

static void start(const char *conf)
{
	snprintf(dir, sizeof(dir), "/tmp/tandem-shard-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	redis_pid = redis_spawn(dir, conf);
	cr_assert_gt(redis_pid, 0, "redis-server did not start (see %s/redis.log)", dir);
	cr_assert_eq(uv_loop_init(&loop), 0);
	memset(&rec, 0, sizeof(rec));
}

static void setup(void)
{
	start(NULL);
}

static void setup_acl(void)
{
	start("user default off\nuser tandem-notifier on >s3cret &* +@all");
}

static void teardown(void)
{
	char cmd[128];

	rec_free(&rec);
	redis_kill(redis_pid);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static struct tnd_redis_addr unix_addr(void)
{
	struct tnd_redis_addr a = {.is_unix = true};

	snprintf(a.path, sizeof(a.path), "%s/r.sock", dir);
	return a;
}

static struct ntf_shard *open_shard(const struct tnd_redis_addr *a, const struct ntf_shard_opts *o)
{
	struct ntf_shard_cbs cbs = rec_cbs;
	char err[200];
	int rc;

	cbs.data = &rec;
	rc = ntf_shard_open(&loop, a, o, &cbs, &rec.sh, err, sizeof(err));
	cr_assert_eq(rc, 0, "open: %s", err);
	return rec.sh;
}

static bool connected(void *a)
{
	return ((struct rec *)a)->connects > 0;
}

static int want_subs, want_msgs, want_unsubs;
static bool subs_done(void *a)
{
	return ((struct rec *)a)->subs + ((struct rec *)a)->sub_errors >= want_subs;
}
static bool msgs_done(void *a)
{
	return ((struct rec *)a)->msgs >= want_msgs;
}
static bool unsubs_done(void *a)
{
	return ((struct rec *)a)->unsubs >= want_unsubs;
}
static bool disconnected(void *a)
{
	return ((struct rec *)a)->disconnects > 0;
}

static redisContext *publisher(void)
{
	char sock[128];

	snprintf(sock, sizeof(sock), "%s/r.sock", dir);
	return redis_ctx(sock, 0);
}

/* SPUBLISH; returns the number of receivers. */
static long long spublish(redisContext *c, const char *ch, const char *msg, size_t len)
{
	redisReply *r = redisCommand(c, "SPUBLISH %s %b", ch, msg, len);
	long long n;

	cr_assert(r && r->type == REDIS_REPLY_INTEGER, "SPUBLISH: %s", r ? r->str : c->errstr);
	n = r->integer;
	freeReplyObject(r);
	return n;
}

static void close_and_finish(void)
{
	ntf_shard_close(rec.sh);
	rec.closed = true;
	cr_assert_eq(loop_finish(&loop), 0, "a handle was left open");
	cr_assert_eq(rec.calls_after_close, 0);
}

TestSuite(shard, .init = setup, .fini = teardown, .timeout = 30);

Test(shard, subscribes_receives_in_order_and_unsubscribes)
{
	struct tnd_redis_addr a = unix_addr();
	redisContext *pub = publisher();
	char msg[32];

	open_shard(&a, NULL);
	/* Subscribing before the link is up is queued. */
	cr_assert_eq(ntf_shard_subscribe(rec.sh, "{tandem:todos}", 14), 0);
	cr_assert(run_until(&loop, connected, &rec, 5000));
	cr_assert_eq(rec.connect_status, 0);
	cr_assert(ntf_shard_is_ready(rec.sh));
	want_subs = 1;
	cr_assert(run_until(&loop, subs_done, &rec, 5000));
	cr_assert_eq(rec.subs, 1);

	for (int i = 0; i < 2000; i++) {
		int n = snprintf(msg, sizeof(msg), "m%d", i);
		cr_assert_eq(spublish(pub, "{tandem:todos}", msg, (size_t)n), 1);
	}
	cr_assert_eq(spublish(pub, "{tandem:other}", "x", 1), 0, "not subscribed");
	want_msgs = 2000;
	cr_assert(run_until(&loop, msgs_done, &rec, 10000), "got %d", rec.msgs);
	cr_assert_eq(rec.msgs, 2000);
	cr_assert_not(rec.out_of_order);
	cr_assert_str_eq(rec.last_channel, "{tandem:todos}");

	cr_assert_eq(ntf_shard_unsubscribe(rec.sh, "{tandem:todos}", 14), 0);
	want_unsubs = 1;
	cr_assert(run_until(&loop, unsubs_done, &rec, 5000));
	cr_assert_eq(rec.unsubs_by_server, 0, "our own unsubscribe");
	cr_assert_eq(spublish(pub, "{tandem:todos}", "late", 4), 0);
	cr_assert_eq(rec.disconnects, 0);
	cr_assert_eq(rec.connects, 1);
	redisFree(pub);
	close_and_finish();
}

Test(shard, carries_a_1_mib_binary_message_intact)
{
	struct tnd_redis_addr a = unix_addr();
	redisContext *pub = publisher();
	size_t len = 1 << 20;
	char *big = malloc(len);

	for (size_t i = 0; i < len; i++)
		big[i] = (char)(i * 131 + (i >> 9));
	big[5] = '\0';
	open_shard(&a, NULL);
	ntf_shard_subscribe(rec.sh, "{t:big}", 7);
	want_subs = 1;
	cr_assert(run_until(&loop, subs_done, &rec, 5000));
	long long t0 = now_ms();
	cr_assert_eq(spublish(pub, "{t:big}", big, len), 1);
	cr_assert_eq(spublish(pub, "{t:big}", "m0", 2), 1);
	want_msgs = 2;
	cr_assert(run_until(&loop, msgs_done, &rec, 10000));
	fprintf(stderr, "shard: 1 MiB message delivered in %lld ms\n", now_ms() - t0);
	cr_assert_eq(rec.msgs, 2);
	cr_assert_eq(rec.last_len, 2, "the small one came after the big one");
	/* Check the big one by publishing it again alone. */
	want_msgs = 3;
	cr_assert_eq(spublish(pub, "{t:big}", big, len), 1);
	cr_assert(run_until(&loop, msgs_done, &rec, 10000));
	cr_assert_eq(rec.last_len, len);
	cr_assert_eq(memcmp(rec.last_msg, big, len), 0);
	free(big);
	redisFree(pub);
	close_and_finish();
}

Test(shard, holds_many_channels_on_one_link)
{
	enum { N = 2000 };
	struct tnd_redis_addr a = unix_addr();
	redisContext *pub = publisher();
	char ch[64];

	open_shard(&a, NULL);
	for (int i = 0; i < N; i++) {
		int n = snprintf(ch, sizeof(ch), "{tandem:c%d}", i);
		cr_assert_eq(ntf_shard_subscribe(rec.sh, ch, (size_t)n), 0);
	}
	want_subs = N;
	cr_assert(run_until(&loop, subs_done, &rec, 10000), "acks: %d", rec.subs);
	cr_assert_eq(rec.subs, N);
	cr_assert_eq(rec.sub_errors, 0);
	for (int i = 0; i < N; i++) {
		snprintf(ch, sizeof(ch), "{tandem:c%d}", i);
		cr_assert_eq(spublish(pub, ch, "m0", 2), 1, "%s", ch);
	}
	want_msgs = N;
	cr_assert(run_until(&loop, msgs_done, &rec, 10000));
	cr_assert_eq(rec.msgs, N);
	for (int i = 0; i < N; i += 2) {
		int n = snprintf(ch, sizeof(ch), "{tandem:c%d}", i);
		ntf_shard_unsubscribe(rec.sh, ch, (size_t)n);
	}
	want_unsubs = N / 2;
	cr_assert(run_until(&loop, unsubs_done, &rec, 10000));
	cr_assert_eq(rec.unsubs_by_server, 0);
	cr_assert_eq(spublish(pub, "{tandem:c0}", "x", 1), 0);
	cr_assert_eq(spublish(pub, "{tandem:c1}", "x", 1), 1);
	redisFree(pub);
	close_and_finish();
}

Test(shard, detects_a_server_side_disconnect)
{
	struct tnd_redis_addr a = unix_addr();
	redisContext *pub = publisher();
	redisReply *r;

	open_shard(&a, NULL);
	ntf_shard_subscribe(rec.sh, "{t:x}", 5);
	want_subs = 1;
	cr_assert(run_until(&loop, subs_done, &rec, 5000));
	rec.close_in_disconnect = true; /* the shard is closed from inside its own callback */
	r = redisCommand(pub, "CLIENT KILL TYPE pubsub");
	cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
	freeReplyObject(r);
	long long t0 = now_ms();
	cr_assert(run_until(&loop, disconnected, &rec, 5000));
	fprintf(stderr, "shard: server-side close seen in %lld ms\n", now_ms() - t0);
	cr_assert_eq(rec.disconnects, 1);
	cr_assert_eq(rec.disconnect_status, TND_EUNAVAIL);
	cr_assert_eq(rec.connects, 1, "no second connect_cb");
	cr_assert_eq(loop_finish(&loop), 0, "closing inside disconnect_cb left a handle");
	cr_assert_eq(rec.calls_after_close, 0);
	redisFree(pub);
}

Test(shard, a_subscribe_on_a_dead_link_is_refused_not_answered)
{
	struct tnd_redis_addr a = unix_addr();
	redisContext *pub = publisher();

	open_shard(&a, NULL);
	cr_assert(run_until(&loop, connected, &rec, 5000));
	freeReplyObject(redisCommand(pub, "CLIENT KILL TYPE normal SKIPME yes"));
	cr_assert(run_until(&loop, disconnected, &rec, 5000));
	cr_assert_not(ntf_shard_is_ready(rec.sh));
	cr_assert_eq(ntf_shard_subscribe(rec.sh, "{t:x}", 5), TND_EUNAVAIL);
	cr_assert_str_neq(ntf_shard_errstr(rec.sh), "");
	redisFree(pub);
	close_and_finish();
}

Test(shard, closing_inside_message_cb_stops_every_callback)
{
	struct tnd_redis_addr a = unix_addr();
	redisContext *pub = publisher();

	open_shard(&a, NULL);
	ntf_shard_subscribe(rec.sh, "{t:x}", 5);
	want_subs = 1;
	cr_assert(run_until(&loop, subs_done, &rec, 5000));
	/* Many messages in one read: the close lands in the middle of them. */
	for (int i = 0; i < 200; i++)
		spublish(pub, "{t:x}", "m0", 2);
	rec.close_in_msg = true;
	want_msgs = 1;
	cr_assert(run_until(&loop, msgs_done, &rec, 5000));
	cr_assert_eq(loop_finish(&loop), 0);
	cr_assert_eq(rec.msgs, 1, "no message after the close");
	cr_assert_eq(rec.calls_after_close, 0);
	redisFree(pub);
}

Test(shard, a_reply_past_the_input_cap_ends_the_link)
{
	struct tnd_redis_addr a = unix_addr();
	struct ntf_shard_opts o = {.input_max = 64 << 10};
	redisContext *pub = publisher();
	size_t len = (64 << 10) + 1;
	char *msg = calloc(1, len);

	open_shard(&a, &o);
	ntf_shard_subscribe(rec.sh, "{t:x}", 5);
	want_subs = 1;
	cr_assert(run_until(&loop, subs_done, &rec, 5000));
	spublish(pub, "{t:x}", msg, 32 << 10); /* half the cap passes */
	want_msgs = 1;
	cr_assert(run_until(&loop, msgs_done, &rec, 5000));
	spublish(pub, "{t:x}", msg, len);      /* one byte past it does not */
	cr_assert(run_until(&loop, disconnected, &rec, 5000));
	cr_assert_eq(rec.disconnect_status, TND_ETOOLONG);
	cr_assert_eq(rec.msgs, 1);
	free(msg);
	redisFree(pub);
	close_and_finish();
}

Test(shard, refuses_channels_past_the_key_cap)
{
	struct tnd_redis_addr a = unix_addr();
	char ch[TND_KEY_MAX + 1];

	memset(ch, 'c', sizeof(ch));
	open_shard(&a, NULL);
	cr_assert_eq(ntf_shard_subscribe(rec.sh, ch, sizeof(ch)), TND_ETOOLONG);
	cr_assert_eq(ntf_shard_subscribe(rec.sh, ch, sizeof(ch) - 1), 0);
	want_subs = 1;
	cr_assert(run_until(&loop, subs_done, &rec, 5000));
	cr_assert_eq(rec.subs, 1);
	close_and_finish();
}

Test(shard, reports_a_refused_connect_once)
{
	struct tnd_redis_addr a = {.port = stack_free_port()};
	struct ntf_shard_cbs cbs = rec_cbs;
	char err[200];
	int rc;

	snprintf(a.host, sizeof(a.host), "127.0.0.1");
	cbs.data = &rec;
	rc = ntf_shard_open(&loop, &a, NULL, &cbs, &rec.sh, err, sizeof(err));
	if (rc < 0) { /* refused at once: no callback, no shard */
		cr_assert_null(rec.sh);
		cr_assert_eq(loop_finish(&loop), 0);
		return;
	}
	cr_assert(run_until(&loop, connected, &rec, 5000));
	cr_assert_eq(rec.connect_status, TND_EUNAVAIL);
	cr_assert(strstr(ntf_shard_errstr(rec.sh), "refused"), "%s", ntf_shard_errstr(rec.sh));
	cr_assert_eq(rec.disconnects, 0, "a failed connect is not a disconnect");
	cr_assert_eq(ntf_shard_subscribe(rec.sh, "{t:x}", 5), TND_EUNAVAIL);
	close_and_finish();
}

Test(shard, closing_before_the_connect_completes_is_clean)
{
	struct tnd_redis_addr a = unix_addr();

	open_shard(&a, NULL);
	ntf_shard_subscribe(rec.sh, "{t:x}", 5);
	close_and_finish();
	cr_assert_eq(rec.connects, 0);
}

TestSuite(shard_auth, .init = setup_acl, .fini = teardown, .timeout = 30);

Test(shard_auth, authenticates_with_an_acl_user)
{
	struct tnd_redis_addr a = unix_addr();

	snprintf(a.username, sizeof(a.username), "tandem-notifier");
	snprintf(a.password, sizeof(a.password), "s3cret");
	a.has_password = true;
	open_shard(&a, NULL);
	ntf_shard_subscribe(rec.sh, "{t:x}", 5);
	want_subs = 1;
	cr_assert(run_until(&loop, subs_done, &rec, 5000));
	cr_assert_eq(rec.connect_status, 0);
	cr_assert_eq(rec.subs, 1, "%s", rec.sub_err);
	close_and_finish();
}

Test(shard_auth, a_refused_auth_fails_the_connect)
{
	struct tnd_redis_addr a = unix_addr();

	snprintf(a.username, sizeof(a.username), "tandem-notifier");
	snprintf(a.password, sizeof(a.password), "wrong");
	a.has_password = true;
	open_shard(&a, NULL);
	ntf_shard_subscribe(rec.sh, "{t:x}", 5);
	cr_assert(run_until(&loop, connected, &rec, 5000));
	cr_assert_eq(rec.connect_status, TND_EUNAVAIL);
	cr_assert(strstr(ntf_shard_errstr(rec.sh), "AUTH"), "%s", ntf_shard_errstr(rec.sh));
	cr_assert_null(strstr(ntf_shard_errstr(rec.sh), "wrong"), "the password is not echoed");
	cr_assert_eq(rec.subs, 0);
	close_and_finish();
}
