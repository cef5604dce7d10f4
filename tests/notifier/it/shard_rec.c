/*
 * shard_rec: see shard_rec.h.
 */
#include "shard_rec.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note_call(struct rec *r)
{
	if (r->closed)
		r->calls_after_close++;
}

static void on_connect(struct ntf_shard *sh, int status, void *data)
{
	struct rec *r = data;

	(void)sh;
	note_call(r);
	r->connects++;
	r->connect_status = status;
}

static void on_disconnect(struct ntf_shard *sh, int status, void *data)
{
	struct rec *r = data;

	note_call(r);
	r->disconnects++;
	r->disconnect_status = status;
	if (r->close_in_disconnect) {
		ntf_shard_close(sh);
		r->closed = true;
	}
}

static void on_message(struct ntf_shard *sh, const char *ch, size_t ch_len, const char *msg,
		       size_t len, void *data)
{
	struct rec *r = data;

	note_call(r);
	r->msgs++;
	if (len > 1 && msg[0] == 'm' && len < 24) {
		char num[24];
		memcpy(num, msg + 1, len - 1);
		num[len - 1] = '\0';
		if (strtol(num, NULL, 10) != r->next_seq)
			r->out_of_order = true;
		r->next_seq++;
	}
	free(r->last_msg);
	r->last_msg = malloc(len ? len : 1);
	memcpy(r->last_msg, msg, len);
	r->last_len = len;
	snprintf(r->last_channel, sizeof(r->last_channel), "%.*s", (int)ch_len, ch);
	if (r->close_in_msg) {
		ntf_shard_close(sh);
		r->closed = true;
	}
}

static void on_subscribe(struct ntf_shard *sh, const char *ch, size_t ch_len, int status,
			 const char *err, void *data)
{
	struct rec *r = data;

	(void)sh, (void)ch, (void)ch_len;
	note_call(r);
	if (status == 0) {
		r->subs++;
	} else {
		r->sub_errors++;
		snprintf(r->sub_err, sizeof(r->sub_err), "%s", err);
	}
}

static void on_unsubscribe(struct ntf_shard *sh, const char *ch, size_t ch_len, bool by_server,
			   void *data)
{
	struct rec *r = data;

	(void)sh;
	note_call(r);
	r->unsubs++;
	r->unsubs_by_server += by_server;
	snprintf(r->unsub_channel, sizeof(r->unsub_channel), "%.*s", (int)ch_len, ch);
}

const struct ntf_shard_cbs rec_cbs = {
	.connect_cb = on_connect,
	.disconnect_cb = on_disconnect,
	.message_cb = on_message,
	.subscribe_cb = on_subscribe,
	.unsubscribe_cb = on_unsubscribe,
};

void rec_free(struct rec *r)
{
	free(r->last_msg);
	r->last_msg = NULL;
}

static void tick(uv_timer_t *t)
{
	(void)t;
}

bool run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	uv_timer_t t;
	bool ok;

	/* A ticking timer so UV_RUN_ONCE returns while nothing else happens. */
	uv_timer_init(loop, &t);
	uv_timer_start(&t, tick, 5, 5);
	while (!(ok = pred(arg)) && now_ms() < deadline)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

int loop_finish(uv_loop_t *loop)
{
	for (int i = 0; i < 100 && uv_loop_alive(loop); i++)
		uv_run(loop, UV_RUN_NOWAIT);
	return uv_loop_close(loop);
}

pid_t redis_spawn(const char *dir, const char *conf_lines)
{
	char conf[300], sock[300], log[300];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/redis.conf", dir);
	snprintf(sock, sizeof(sock), "%s/r.sock", dir);
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "port 0\nunixsocket %s\nunixsocketperm 700\ndir %s\nlogfile %s\nsave \"\"\n"
		   "appendonly no\ndaemonize no\n%s\n",
		sock, dir, log, conf_lines ? conf_lines : "");
	fclose(f);
	pid = fork();
	if (pid == 0) {
		/* Not the test's stdout: a runner reading it must see EOF when the test ends. */
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("redis-server", "redis-server", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && pid > 0; i++) {
		redisContext *c = redisConnectUnix(sock);
		bool up = c && !c->err;
		if (up) {
			redisReply *rep = redisCommand(c, "PING");
			/* NOAUTH is an answer too: the server is up. */
			up = rep != NULL;
			freeReplyObject(rep);
		}
		redisFree(c);
		if (up)
			return pid;
		usleep(10000);
	}
	redis_kill(pid);
	return -1;
}

void redis_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

redisContext *redis_ctx(const char *host_or_path, int port)
{
	redisContext *c = port ? redisConnect(host_or_path, port) : redisConnectUnix(host_or_path);

	cr_assert(c && !c->err, "connect %s:%d: %s", host_or_path, port, c ? c->errstr : "oom");
	return c;
}
