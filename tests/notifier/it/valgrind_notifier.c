/*
 * notifier_valgrind: tandem-notifier under valgrind through 1,000
 * connect / subscribe / event / close cycles (plus a few replays, some
 * of them coalescing, a Redis link kill and abrupt disconnects), then
 * SIGTERM; the test fails when valgrind reports an error or a
 * definite/indirect leak (--error-exitcode).
 *
 * Auth is on (an HS256 secret file) and Redis wants a password (a password
 * file): every cycle authenticates, by the auth op or access_token, some
 * with a refused token first, a refresh or an own token, and one socket is
 * closed with 4001 by its expiry timer, so those paths run under valgrind
 * too.
 *
 * Needs no stack: it starts its own redis-server on a unix socket in a
 * temp dir and the notifier from TANDEM_BIN_DIR (default build). Only
 * processes started here are signalled.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jwt.h>

#include "stack.h"
#include "wsclient.h"

#define CYCLES 1000
#define VG_SECRET "valgrind-secret-0123456789abcdef-0123"
#define VG_REDIS_PASS "vg-redis-password"

static char dir[128];
static pid_t redis_pid = -1, notifier_pid = -1;
static int ws_port;

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		FILE *f = freopen(log, "a", stderr);
		FILE *g = freopen(log, "a", stdout);
		(void)f;
		(void)g;
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void print_file(const char *name)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "echo '--- %s'; tail -n 40 '%s/%s' >&2", name, dir, name);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot show %s\n", name);
}

static redisContext *redis(void)
{
	char sock[200];

	redisContext *c;

	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	c = redisConnectUnix(sock);
	if (c && !c->err)
		freeReplyObject(redisCommand(c, "AUTH %s", VG_REDIS_PASS));
	return c;
}

/* An HS256 token for VG_SECRET, exp ttl seconds from now; the caller frees it. */
static char *vg_token(long long ttl, const char *grants)
{
	char json[512];
	jwt_t *jwt = NULL;
	char *out;

	snprintf(json, sizeof(json), "{\"exp\":%lld%s}", (long long)time(NULL) + ttl, grants);
	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, json), 0);
	cr_assert_eq(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)VG_SECRET,
				 (int)strlen(VG_SECRET)), 0);
	out = jwt_encode_str(jwt);
	jwt_free(jwt);
	cr_assert_not_null(out);
	return out;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	int status;

	for (int waited = 0; waited < timeout_ms; waited += 50) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void start(void)
{
	char sock[200], url[220], listen[64], log[200], vlog[200], bin[200], pwfile[200], secfile[200];
	const char *bin_dir = getenv("TANDEM_BIN_DIR") ? getenv("TANDEM_BIN_DIR") : "build";
	redisContext *c = NULL;

	snprintf(dir, sizeof(dir), "/tmp/tandem-vg-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	snprintf(pwfile, sizeof(pwfile), "%s/redis.password", dir);
	write_file(pwfile, VG_REDIS_PASS "\n");
	snprintf(secfile, sizeof(secfile), "%s/jwt.secret", dir);
	write_file(secfile, VG_SECRET "\n");
	redis_pid = spawn((char *const[]){(char[]){"redis-server"}, (char[]){"--port"}, (char[]){"0"}, (char[]){"--unixsocket"}, sock,
					  (char[]){"--save"}, (char[]){""}, (char[]){"--appendonly"}, (char[]){"no"}, (char[]){"--requirepass"},
					  (char[]){VG_REDIS_PASS}, NULL},
			  log);
	for (int i = 0; i < 100 && !(c = redis()); i++)
		sleep_ms(50);
	for (int i = 0; i < 100 && c && c->err; i++) {
		redisFree(c);
		sleep_ms(50);
		c = redis();
	}
	cr_assert(c && !c->err, "redis-server did not start");
	redisFree(c);
	ws_port = stack_free_port();
	cr_assert_gt(ws_port, 0, "no free port");
	snprintf(url, sizeof(url), "unix://%s", sock);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ws_port);
	snprintf(vlog, sizeof(vlog), "--log-file=%s/valgrind.log", dir);
	snprintf(log, sizeof(log), "%s/notifier.log", dir);
	snprintf(bin, sizeof(bin), "%s/tandem-notifier", bin_dir);
	notifier_pid = spawn((char *const[]){(char[]){"valgrind"}, (char[]){"--leak-check=full"}, (char[]){"--error-exitcode=99"},
					     (char[]){"--errors-for-leak-kinds=definite,indirect"},
					     (char[]){"--show-leak-kinds=definite,indirect"}, vlog, bin,
					     (char[]){"--ws-listen"}, listen, (char[]){"--redis-url"}, url,
					     (char[]){"--redis-password-file"}, pwfile, (char[]){"--jwt-secret-file"}, secfile,
					     NULL},
			     log);
}

/* Also the test's .fini: a failed assertion must not leave servers behind. */
static void stop(void)
{
	char cmd[300];

	if (notifier_pid > 0) {
		kill(notifier_pid, SIGKILL);
		waitpid(notifier_pid, NULL, 0);
		notifier_pid = -1;
	}
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		wait_exit(redis_pid, 5000);
		redis_pid = -1;
	}
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		dir[0] = '\0';
	}
}

/* Opens /ws, with ?access_token=token when token is not NULL. */
static int ws_open_token(struct wsc *c, const char *token)
{
	char path[2048];
	struct wsc_options opt = {.host = "127.0.0.1", .port = ws_port, .path = path,
				  .timeout_ms = 10000};

	snprintf(path, sizeof(path), "/ws%s%s", token ? "?access_token=" : "", token ? token : "");
	return wsc_connect(c, &opt);
}

static int ws_open(struct wsc *c)
{
	return ws_open_token(c, NULL);
}

static void send_auth(struct wsc *c, const char *token)
{
	char msg[2048];

	snprintf(msg, sizeof(msg), "{\"op\":\"auth\",\"token\":\"%s\"}", token);
	wsc_send_text(c, msg);
}

static char *recv_op(struct wsc *c, const char *op)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "\"op\":\"%s\"", op);
	return wsc_recv_until(c, 10000, needle, NULL);
}

static void publish(redisContext *r, int i)
{
	redisReply *rep;
	char id[16];

	snprintf(id, sizeof(id), "d%d", i % 10);
	rep = redisCommand(r,
			   "EVAL %s 1 {tandem:vg}:log %s",
			   "local e = '{\"type\":\"updated\",\"collection\":\"vg\",\"id\":\"' .. ARGV[1] .. "
			   "'\",\"version\":2,\"doc\":{\"id\":\"' .. ARGV[1] .. '\"}}' "
			   "local seq = redis.call('XADD', KEYS[1], 'MAXLEN', '~', 100, '*', 'e', e) "
			   "redis.call('PUBLISH', '{tandem:vg}', seq .. ' ' .. e) return seq",
			   id);
	cr_assert(rep && rep->type == REDIS_REPLY_STRING, "publish failed");
	freeReplyObject(rep);
}

Test(valgrind, a_thousand_cycles_leave_no_leak, .timeout = 900, .fini = stop)
{
	redisContext *r;
	struct wsc c, expiring;
	char *s;
	int rc, up = 0;
	char *tok = vg_token(3600, ",\"read\":\"*\""), *tok2 = vg_token(3600, ",\"read\":[\"vg\"]");
	char *own = vg_token(3600, ",\"sub\":\"vg\",\"read\":\"*\",\"own\":[\"vg\"]");
	char *soon;

	start();
	for (int i = 0; i < 600 && !up; i++) { /* valgrind starts slowly */
		if (ws_open(&c) == 0) {
			up = 1;
			wsc_close(&c, 1000);
		} else if (waitpid(notifier_pid, NULL, WNOHANG) == notifier_pid) {
			notifier_pid = -1;
			break; /* it exited: no point waiting */
		} else {
			sleep_ms(100);
		}
	}
	if (!up) {
		print_file("notifier.log");
		print_file("valgrind.log");
	}
	cr_assert(up, "the notifier did not come up under valgrind (logs above)");
	r = redis();
	cr_assert(r && !r->err);
	/* This one is closed with 4001 by its timer while the cycles run. */
	cr_assert_eq(ws_open(&expiring), 0);
	soon = vg_token(-28, ",\"read\":\"*\""); /* 2 s of leeway left */
	send_auth(&expiring, soon);
	s = recv_op(&expiring, "authenticated");
	cr_assert_not_null(s, "the almost expired token is still accepted");
	free(s);
	for (int i = 0; i < CYCLES; i++) {
		bool by_url = i % 4 == 1;

		cr_assert_eq(ws_open_token(&c, by_url ? tok : NULL), 0, "cycle %d: connect", i);
		if (!by_url) {
			if (i % 5 == 2)
				send_auth(&c, "not.a.token"); /* refused: error, the socket stays */
			send_auth(&c, i % 11 == 5 && i % 10 ? own : i % 2 ? tok : tok2);
			if (i % 7 == 3)
				send_auth(&c, tok); /* a refresh */
		}
		/* Replays with coalesce: a page of log entries queued at once merges (index, holes). */
		if (i % 100 == 7)
			wsc_send_text(&c, "{\"op\":\"subscribe\",\"collection\":\"vg\",\"since\":\"0-0\",\"coalesce\":true}");
		else if (i % 100 == 57)
			wsc_send_text(&c, "{\"op\":\"subscribe\",\"collection\":\"vg\",\"sid\":\"v\",\"since\":\"0-0\","
					  "\"where\":{\"id\":{\"$prefix\":\"d\"}},\"coalesce\":true}");
		else
			wsc_send_text(&c, i % 2 ? "{\"op\":\"subscribe\",\"collection\":\"vg\"}"
						: "{\"op\":\"subscribe\",\"collection\":\"vg\",\"id\":\"d0\"}");
		s = wsc_recv_until(&c, 10000, "\"op\":\"subscribed\"", NULL);
		cr_assert_not_null(s, "cycle %d: no ack", i);
		free(s);
		if (i % 10 == 0) {
			publish(r, i);
			s = recv_op(&c, "event");
			cr_assert_not_null(s, "cycle %d: no event", i);
			free(s);
		}
		if (i % 50 == 3)
			wsc_send_text(&c, "{bad json");
		if (i == 500) { /* the Redis link dies and comes back */
			redisReply *k = redisCommand(r, "CLIENT KILL TYPE pubsub");
			freeReplyObject(k);
		}
		if (i % 3 == 0)
			wsc_abort(&c); /* no close frame */
		else
			wsc_close(&c, 1000);
	}
	redisFree(r);
	{
		struct wsc_frame f;
		int op;

		while ((op = wsc_recv(&expiring, 10000, &f)) >= 0 && op != WSC_OP_CLOSE)
			;
		cr_assert_eq(expiring.close_code, 4001, "the expiry timer closed the socket");
		wsc_abort(&expiring);
	}
	free(tok);
	free(tok2);
	free(own);
	free(soon);
	sleep_ms(500);
	kill(notifier_pid, SIGTERM);
	rc = wait_exit(notifier_pid, 60000);
	notifier_pid = -1;
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), rc ? "cat '%s/valgrind.log' >&2"
					      : "grep -E 'ERROR SUMMARY|definitely|indirectly|Command|in use at exit|total heap|All heap' '%s/valgrind.log' >&2",
			 dir);
		if (system(cmd) != 0)
			fprintf(stderr, "no valgrind log\n");
	}
	stop();
	cr_assert_eq(rc, 0, "valgrind exit status %d (99: errors or leaks)", rc);
}
