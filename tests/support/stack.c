/*
 * stack: see stack.h. Runs in the test process; forks the stack script
 * into its own process group so a failed start can be torn down whole.
 */
#include "stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 60000 /* valgrind-wrapped workers start slowly */
#define CLUSTER_START_TIMEOUT_MS 150000 /* six redis-servers joined and in sync, on a busy host */
#define STOP_TIMEOUT_MS 20000

long long stack_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static int port_is_free(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * A random free port in 23000-29999: below the kernel's ephemeral range
 * (32768-60999 by default), so no outgoing connection (a worker's link to
 * Redis, a cluster's bus) can take it between this check and the bind, and
 * clear of run-cluster.sh's node ports (20000-22705) and bus ports
 * (30000-32705), which a cluster stack picks after ours.
 */
int stack_free_port(void)
{
	for (int attempt = 0; attempt < 500; attempt++) {
		unsigned r;
		int port;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (unsigned)getpid() * 2654435761u + (unsigned)attempt;
		port = 23000 + (int)(r % 7000);
		if (port_is_free(port))
			return port;
	}
	return -1;
}

/* A port p with p and p + 1 free: the kernel picks p, we check p + 1. */
static int pick_ports(void)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int port = stack_free_port();

		if (port < 0)
			return -1;
		if (port > 0 && port < 65535 && port_is_free(port + 1))
			return port;
	}
	return -1;
}

static int path_exists(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void print_logs(const struct stack *s)
{
	static const char *const logs[] = {"stack.log", "rest.log", "notifier.log", "redis.log",
					   "cluster.log", "nginx/error.log"};
	char cmd[600];

	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		snprintf(cmd, sizeof(cmd), "echo '--- %s'; tail -n 30 '%s/%s' 2>/dev/null", logs[i],
			 s->dir, logs[i]);
		if (system(cmd) < 0)
			return;
	}
}

static void exec_script(const struct stack *s, const char *const *extra_env)
{
	char port[16], log[300];
	int fd;

	setpgid(0, 0);
	snprintf(port, sizeof(port), "%d", s->http_port);
	snprintf(log, sizeof(log), "%s/stack.log", s->dir);
	setenv("TANDEM_RUN_DIR", s->dir, 1);
	setenv("TANDEM_HTTP_PORT", port, 1);
	/* A Redis of the developer's shell (run-stack.sh would use it) is not the tests'. */
	unsetenv("TANDEM_REDIS_URL");
	unsetenv("TANDEM_REDIS_CLUSTER");
	for (size_t i = 0; extra_env && extra_env[i]; i++)
		putenv((char *)extra_env[i]);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	execl("/bin/bash", "bash", "scripts/run-stack.sh", (char *)NULL);
	_exit(127);
}

/* The stack will run on a cluster: TANDEM_STACK_REDIS=cluster in extra_env, else in ours. */
static bool wants_cluster(const char *const *extra_env)
{
	const char *v = getenv("TANDEM_STACK_REDIS");

	for (size_t i = 0; extra_env && extra_env[i]; i++)
		if (!strncmp(extra_env[i], "TANDEM_STACK_REDIS=", 19))
			v = extra_env[i] + 19;
	return v && strcmp(v, "cluster") == 0;
}

int stack_start(struct stack *s, const char *const *extra_env)
{
	long long deadline;
	int status;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/tandem-test-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	s->http_port = pick_ports();
	if (s->http_port < 0)
		return -1;
	s->ws_port = s->http_port + 1;
	snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%d", s->http_port);
	snprintf(s->redis_sock, sizeof(s->redis_sock), "%s/redis.sock", s->dir);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0)
		exec_script(s, extra_env);
	deadline = stack_now_ms() + (wants_cluster(extra_env) ? CLUSTER_START_TIMEOUT_MS : START_TIMEOUT_MS);
	while (!path_exists(s->dir, "ready")) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid || stack_now_ms() > deadline) {
			fprintf(stderr, "stack: did not start (run dir %s)\n", s->dir);
			print_logs(s);
			stack_stop(s);
			return -1;
		}
		sleep_ms(50);
	}
	return 0;
}

/*
 * Sanitizer builds report to the servers' stderr (their logs), where no
 * exit status carries them: look for the reports before the dir goes.
 */
static int sanitizer_reports(const struct stack *s)
{
	static const char *const logs[] = {"rest.log", "notifier.log", "sigterm.log"};
	static const char *const marks[] = {"AddressSanitizer", "LeakSanitizer", "runtime error:"};
	char path[512], line[1024];
	int found = 0;

	for (size_t i = 0; i < sizeof(logs) / sizeof(*logs); i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, logs[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			for (size_t m = 0; m < sizeof(marks) / sizeof(*marks); m++)
				if (strstr(line, marks[m])) {
					fprintf(stderr, "stack: %s: %s", logs[i], line);
					found++;
				}
		fclose(f);
	}
	return found;
}

/*
 * Expected nginx errors are kept in <dir>/nginx-expected, one per line:
 * "<error.log size at the declaration>\t<substring>" (empty substring:
 * any upstream error). A log line is excused when it starts at or after
 * that offset and contains the substring.
 */
#define NGINX_EXPECTED_MAX 32

struct nginx_expected {
	long from;
	char text[200];
};

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

int stack_allow_nginx_errors(const struct stack *s, const char *substring)
{
	char path[512], log[512];
	FILE *f;
	int rc;

	if (strchr(substring, '\n') || strlen(substring) >= sizeof(((struct nginx_expected *)0)->text))
		return -1;
	snprintf(log, sizeof(log), "%s/nginx/error.log", s->dir);
	snprintf(path, sizeof(path), "%s/nginx-expected", s->dir);
	f = fopen(path, "a");
	if (!f)
		return -1;
	rc = fprintf(f, "%ld\t%s\n", file_size(log), substring) < 0;
	return fclose(f) == 0 && !rc ? 0 : -1;
}

int stack_expect_upstream_errors(const struct stack *s)
{
	return stack_allow_nginx_errors(s, "");
}

static int load_expected(const struct stack *s, struct nginx_expected *exp, int max)
{
	char path[512], line[300];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/nginx-expected", s->dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');

		if (!tab)
			continue;
		if (nl)
			*nl = '\0';
		exp[n].from = strtol(line, NULL, 10);
		snprintf(exp[n].text, sizeof(exp[n].text), "%s", tab + 1);
		n++;
	}
	fclose(f);
	return n;
}

/*
 * Error levels only: nginx also logs "an upstream response is buffered to
 * a temporary file" at [warn], which is no failure. Its one [warn] that
 * is one ("upstream server temporarily disabled") follows an [error].
 */
static bool is_upstream_error(const char *line)
{
	bool error_level = strstr(line, " [error] ") || strstr(line, " [crit] ") ||
			   strstr(line, " [alert] ") || strstr(line, " [emerg] ");

	return error_level && (strstr(line, "upstream") || strstr(line, "reset by peer") ||
			       strstr(line, "prematurely closed"));
}

int stack_check_nginx_log(const struct stack *s)
{
	struct nginx_expected exp[NGINX_EXPECTED_MAX];
	char path[512], line[4096];
	int n_exp, found = 0;
	long pos = 0;
	FILE *f;

	if (!s->dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/nginx/error.log", s->dir);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	n_exp = load_expected(s, exp, NGINX_EXPECTED_MAX);
	while (fgets(line, sizeof(line), f)) {
		long start = pos;
		bool excused = false;

		pos = ftell(f);
		if (!is_upstream_error(line))
			continue;
		for (int i = 0; i < n_exp && !excused; i++)
			excused = start >= exp[i].from && strstr(line, exp[i].text);
		if (!excused) {
			fprintf(stderr, "stack: unexpected nginx upstream error: %s", line);
			found++;
		}
	}
	fclose(f);
	return found;
}

int stack_stop(struct stack *s)
{
	long long deadline = stack_now_ms() + STOP_TIMEOUT_MS;
	int status = -1;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		while (waitpid(s->pid, &status, WNOHANG) == 0) {
			if (stack_now_ms() > deadline) {
				fprintf(stderr, "stack: script did not stop, killing its group\n");
				kill(-s->pid, SIGKILL);
				waitpid(s->pid, &status, 0);
				break;
			}
			sleep_ms(20);
		}
		s->pid = 0;
	}
	int reports = s->dir[0] ? sanitizer_reports(s) : 0;
	int nginx_errors = s->dir[0] ? stack_check_nginx_log(s) : 0;
	if (s->dir[0] && !reports && !nginx_errors && !getenv("TANDEM_KEEP_TEST_DIR"))
		nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (reports || nginx_errors) {
		fprintf(stderr, "stack: %s above; logs kept in %s\n",
			reports ? "sanitizer reports" : "unexpected nginx upstream errors", s->dir);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t stack_pid(const struct stack *s, const char *pidfile)
{
	char path[512];
	long pid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", s->dir, pidfile);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

static int run_wait(char *const argv[], char *out, size_t outlen)
{
	char discard[256];
	int pipefd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(pipefd[1], STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char *buf = out ? out + got : discard;
		size_t cap = out ? outlen - 1 - got : sizeof(discard);

		if (cap == 0 || (n = read(pipefd[0], buf, cap)) <= 0)
			break;
		if (out)
			got += (size_t)n;
	}
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (out) {
		out[got] = '\0';
		while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == '\r'))
			out[--got] = '\0';
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool stack_is_cluster(const struct stack *s)
{
	return path_exists(s->dir, "cluster/seeds");
}

int stack_cluster_port(const struct stack *s)
{
	char path[512];
	int port = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cluster/ports", s->dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &port) != 1)
		port = -1;
	fclose(f);
	return port;
}

int stack_redis_url(const struct stack *s, char *out, size_t outlen)
{
	char path[512];
	size_t n;
	FILE *f;

	if (!stack_is_cluster(s))
		return snprintf(out, outlen, "unix://%s", s->redis_sock) < (int)outlen ? 0 : -1;
	snprintf(path, sizeof(path), "%s/cluster/seeds", s->dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(out, 1, outlen - 1, f);
	fclose(f);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	return n > 0 && n < outlen - 1 ? 0 : -1;
}

const char *stack_subscribe_cmd(const struct stack *s)
{
	return stack_is_cluster(s) ? "SSUBSCRIBE" : "SUBSCRIBE";
}

static redisContext *connect_checked(redisContext *c)
{
	if (c && !c->err && redisSetTimeout(c, (struct timeval){.tv_sec = 5}) == REDIS_OK)
		return c;
	if (c)
		redisFree(c);
	return NULL;
}

redisContext *stack_redis_connect(const struct stack *s, const char *collection)
{
	struct timeval tv = {.tv_sec = 5};
	redisContext *c;
	redisReply *r;
	char host[64];
	int port = stack_cluster_port(s), slot;

	if (!stack_is_cluster(s))
		return connect_checked(redisConnectUnixWithTimeout(s->redis_sock, tv));
	c = connect_checked(redisConnectWithTimeout("127.0.0.1", port, tv));
	if (!c)
		return NULL;
	/* Any node answers a key it does not own with MOVED <slot> <owner>. */
	r = redisCommand(c, "EXISTS {tandem:%s}:log", collection);
	if (r && r->type == REDIS_REPLY_ERROR &&
	    sscanf(r->str, "MOVED %d %63[^:]:%d", &slot, host, &port) == 3) {
		redisFree(c);
		c = connect_checked(redisConnectWithTimeout(host, port, tv));
	}
	if (!r || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "MOVED ", 6) != 0)) {
		redisFree(c);
		c = NULL;
	}
	if (r)
		freeReplyObject(r);
	return c;
}

int stack_redis_cli(const struct stack *s, char *out, size_t outlen, const char *const *args)
{
	char *argv[32], port[16];
	int n = 0;

	argv[n++] = (char *)"redis-cli";
	if (stack_is_cluster(s)) {
		snprintf(port, sizeof(port), "%d", stack_cluster_port(s));
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)"-p";
		argv[n++] = port;
	} else {
		argv[n++] = (char *)"-s";
		argv[n++] = (char *)s->redis_sock;
	}
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	return run_wait(argv, out, outlen);
}

static int redis_answers(const struct stack *s)
{
	char out[64];

	return stack_redis_cli(s, out, sizeof(out), (const char *const[]){"ping", NULL}) == 0 &&
	       strcmp(out, "PONG") == 0;
}

int stack_redis_stop(struct stack *s)
{
	pid_t pid = stack_pid(s, "redis.pid");
	long long deadline = stack_now_ms() + 15000;

	if (stack_is_cluster(s) || pid <= 0 || kill(pid, SIGTERM) < 0)
		return -1;
	while (redis_answers(s) || access(s->redis_sock, F_OK) == 0) {
		if (stack_now_ms() > deadline)
			return -1;
		sleep_ms(20);
	}
	return 0;
}

int stack_redis_start(struct stack *s)
{
	char conf[300];
	long long deadline = stack_now_ms() + 15000;

	if (stack_is_cluster(s))
		return -1;
	snprintf(conf, sizeof(conf), "%s/redis.conf", s->dir);
	char *const argv[] = {(char *)"redis-server", conf, (char *)"--daemonize", (char *)"yes", NULL};
	if (run_wait(argv, NULL, 0) != 0)
		return -1;
	while (!redis_answers(s)) {
		if (stack_now_ms() > deadline)
			return -1;
		sleep_ms(20);
	}
	return 0;
}

int stack_export(const struct stack *s)
{
	char port[16];

	snprintf(port, sizeof(port), "%d", s->http_port);
	return setenv("TANDEM_TEST_STACK_DIR", s->dir, 1) == 0 &&
			       setenv("TANDEM_TEST_STACK_PORT", port, 1) == 0
		       ? 0
		       : -1;
}

int stack_import(struct stack *s)
{
	const char *dir = getenv("TANDEM_TEST_STACK_DIR");
	const char *port = getenv("TANDEM_TEST_STACK_PORT");

	memset(s, 0, sizeof(*s));
	if (!dir || !port)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->http_port = atoi(port);
	s->ws_port = s->http_port + 1;
	snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%d", s->http_port);
	snprintf(s->redis_sock, sizeof(s->redis_sock), "%s/redis.sock", s->dir);
	return 0;
}
