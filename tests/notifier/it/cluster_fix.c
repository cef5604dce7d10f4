/*
 * cluster_fix: see cluster_fix.h.
 */
#include "cluster_fix.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shard_rec.h"

void cluster_fix_start(struct cluster_fix *f)
{
	char path[128];
	long long deadline;
	FILE *fp;

	memset(f, 0, sizeof(*f));
	f->pid = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tandem-cluster-XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0) {
		int fd;

		setpgid(0, 0);
		snprintf(path, sizeof(path), "%s/cluster.log", f->dir);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		setenv("TANDEM_RUN_DIR", f->dir, 1);
		setenv("TANDEM_CLUSTER_NODE_TIMEOUT", "1000", 1);
		setenv("TANDEM_CLUSTER_APPENDONLY", "no", 1);
		execl("/bin/bash", "bash", "scripts/run-cluster.sh", (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/ready", f->dir);
	deadline = now_ms() + CLUSTER_READY_TIMEOUT_MS;
	while (access(path, F_OK) != 0) {
		int st;

		if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
			f->pid = -1;
			cr_assert_fail("run-cluster.sh exited (see %s/cluster.log)", f->dir);
		}
		cr_assert_lt(now_ms(), deadline, "cluster not ready (see %s/cluster.log)", f->dir);
		usleep(50000);
	}
	snprintf(path, sizeof(path), "%s/seeds", f->dir);
	fp = fopen(path, "r");
	cr_assert_not_null(fp);
	cr_assert_not_null(fgets(f->seeds, sizeof(f->seeds), fp));
	fclose(fp);
	f->seeds[strcspn(f->seeds, "\n")] = '\0';
}

void cluster_fix_stop(struct cluster_fix *f)
{
	long long deadline = now_ms() + 20000;
	char cmd[128];
	int st;

	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		while (waitpid(f->pid, &st, WNOHANG) == 0 && now_ms() < deadline)
			usleep(50000);
		kill(-f->pid, SIGKILL); /* only if something of ours outlived the script */
		waitpid(f->pid, &st, WNOHANG);
		f->pid = -1;
	}
	if (!f->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
}

redisReply *cluster_cmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r, "%s: %s", fmt, c->errstr);
	return r;
}

void cluster_cmd_ok(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", fmt, r ? r->str : c->errstr);
	freeReplyObject(r);
}

struct tnd_cluster_map *cluster_slot_map(redisContext *c)
{
	struct tnd_cluster_map *m;
	redisReply *r = cluster_cmd(c, "CLUSTER SLOTS");
	char err[200];

	cr_assert_eq(tnd_cluster_map_parse(r, "127.0.0.1", &m, err, sizeof(err)), 0, "%s", err);
	freeReplyObject(r);
	return m;
}
