/*
 * Integration tests of the notifier's TLS (SPEC section 7,
 * TANDEM_WS_TLS_CERT / TANDEM_WS_TLS_KEY): main() starts the stack, makes
 * a throwaway certificate (P-256, SAN 127.0.0.1) with the openssl CLI and
 * runs a second tandem-notifier with TLS on a port of its own, on the
 * stack's Redis (with the stack's notifier ACL user), so a document
 * written over REST through nginx reaches a wss:// subscriber of it.
 *
 * Covered: a wss:// subscribe and event round trip, ALPN settling on
 * http/1.1 when h2 is offered too, /healthz and /metrics over https, a
 * plain ws:// client on the TLS port refused at once, and bad TLS
 * settings stopping the start with one line. Run with --jobs 1.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it_support.h"
#include "stack.h"
#include "wsc_tls.h"

static struct stack g_stack;
static char g_dir[128], g_cert[200], g_key[200];
static int g_port;

static void import(void)
{
	const char *port = getenv("TLS_IT_PORT"), *dir = getenv("TLS_IT_DIR");

	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
	cr_assert(port && dir, "no TLS notifier in the environment");
	g_port = atoi(port);
	snprintf(g_dir, sizeof(g_dir), "%s", dir);
	snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", dir);
	snprintf(g_key, sizeof(g_key), "%s/key.pem", dir);
}

TestSuite(wss, .init = import, .timeout = 60);

static struct wsc_tls tls_opts(const char *alpn)
{
	return (struct wsc_tls){.ca_file = g_cert, .verify_ip = "127.0.0.1", .alpn = alpn};
}

/* Opens wss://127.0.0.1:g_port/ws with the certificate checked. 0 or -1. */
static int open_wss(struct wsc *c, struct wsc_tls *tls)
{
	struct wsc_options opt = {.host = "127.0.0.1", .port = g_port, .path = "/ws",
				  .timeout_ms = IT_WAIT_MS, .secure = wsc_tls_secure,
				  .secure_data = tls};

	return wsc_connect(c, &opt);
}

Test(wss, a_subscriber_receives_an_event_written_through_rest)
{
	struct wsc_tls tls = tls_opts("http/1.1");
	struct json_object *o;
	struct wsc c;

	cr_assert_eq(open_wss(&c, &tls), 0, "wss upgrade failed: %s (status %d)", tls.error,
		     c.http_status);
	o = it_subscribe(&c, "tls-ev", NULL, NULL);
	cr_assert_not_null(o, "no answer to subscribe");
	cr_assert_str_eq(it_str(o, "op"), "subscribed", "got %s", json_object_to_json_string(o));
	json_object_put(o);
	cr_assert_eq(it_rest(&g_stack, "PUT", "tls-ev", "a", "{\"title\":\"over tls\"}"), 201);
	o = it_expect_op(&c, "event", IT_WAIT_MS);
	cr_assert_not_null(o, "no event over wss://");
	cr_assert_str_eq(it_str(o, "type"), "created");
	cr_assert_str_eq(it_str(o, "id"), "a");
	cr_assert(strstr(json_object_to_json_string(o), "over tls"), "%s",
		  json_object_to_json_string(o));
	json_object_put(o);
	wsc_close(&c, 1000);
}

Test(wss, alpn_settles_on_http_1_1_when_h2_is_offered_first)
{
	struct wsc_tls tls = tls_opts("h2,http/1.1");
	struct wsc c;

	cr_assert_eq(open_wss(&c, &tls), 0, "wss upgrade failed: %s (status %d)", tls.error,
		     c.http_status);
	cr_assert_str_eq(tls.alpn_got, "http/1.1");
	wsc_close(&c, 1000);

	/* A client that speaks h2 only never gets it. */
	tls = tls_opts("h2");
	if (open_wss(&c, &tls) == 0)
		wsc_close(&c, 1000);
	cr_assert_str_neq(tls.alpn_got, "h2");
}

Test(wss, healthz_and_metrics_answer_over_https)
{
	struct wsc_tls tls = tls_opts("http/1.1");
	char *body = NULL;

	cr_assert_eq(wsc_tls_get(&tls, "127.0.0.1", g_port, "/healthz", &body), 200, "%s",
		     tls.error);
	cr_assert(body && strstr(body, "\"ok\""), "%s", body ? body : "(none)");
	free(body);
	cr_assert_eq(wsc_tls_get(&tls, "127.0.0.1", g_port, "/metrics", &body), 200, "%s",
		     tls.error);
	cr_assert(body && strstr(body, "tandem_notifier_connections"), "%s",
		  body ? body : "(none)");
	free(body);
}

Test(wss, a_plain_ws_client_on_the_tls_port_is_refused_at_once)
{
	struct wsc_options opt = {.host = "127.0.0.1", .port = g_port, .path = "/ws",
				  .timeout_ms = IT_WAIT_MS};
	struct wsc_tls tls = tls_opts("http/1.1");
	long long t0 = stack_now_ms();
	struct wsc c;

	cr_assert_eq(wsc_connect(&c, &opt), -1, "a plain upgrade succeeded on the TLS port");
	cr_assert_eq(c.http_status, 0, "answered in plain HTTP (%d)", c.http_status);
	cr_assert_lt(stack_now_ms() - t0, 2000, "took %lld ms", stack_now_ms() - t0);
	/* The notifier lives on and serves TLS clients. */
	cr_assert_eq(wsc_tls_get(&tls, "127.0.0.1", g_port, "/healthz", NULL), 200, "%s", tls.error);
}

/* Runs the notifier with extra arguments; its stderr into *out (static). Returns the exit status. */
static int run_notifier(const char *args, const char **out)
{
	static char text[4096];
	const char *bin_dir = getenv("TANDEM_BIN_DIR") ? getenv("TANDEM_BIN_DIR") : "build";
	char cmd[1024], log[200];
	FILE *f;
	size_t n;
	int status;

	snprintf(log, sizeof(log), "%s/start.log", g_dir);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s/tandem-notifier --ws-listen 127.0.0.1:%d %s >%s 2>&1",
		 bin_dir, stack_free_port(), args, log);
	status = system(cmd);
	f = fopen(log, "r");
	n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	text[n] = '\0';
	if (f)
		fclose(f);
	*out = text;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(wss, bad_tls_settings_stop_the_start_with_one_line)
{
	char args[600];
	const char *out;

	snprintf(args, sizeof(args), "--ws-tls-cert %s/missing.pem --ws-tls-key %s", g_dir, g_key);
	cr_assert_eq(run_notifier(args, &out), 2, "%s", out);
	cr_assert_eq(lines(out), 1, "%s", out);
	cr_assert(strstr(out, "TANDEM_WS_TLS_CERT: cannot read"), "%s", out);

	snprintf(args, sizeof(args), "--ws-tls-cert %s", g_cert);
	cr_assert_eq(run_notifier(args, &out), 2, "%s", out);
	cr_assert_eq(lines(out), 1, "%s", out);
	cr_assert(strstr(out, "TANDEM_WS_TLS_KEY: unset"), "%s", out);

	/* Readable, but not a certificate. */
	snprintf(args, sizeof(args), "--ws-tls-cert %s --ws-tls-key %s", g_key, g_key);
	cr_assert_eq(run_notifier(args, &out), 2, "%s", out);
	cr_assert_eq(lines(out), 1, "%s", out);
	cr_assert(strstr(out, "TANDEM_WS_TLS_CERT: no PEM certificate"), "%s", out);

	/* A key of another pair. */
	snprintf(args, sizeof(args), "--ws-tls-cert %s --ws-tls-key %s/other-key.pem", g_cert, g_dir);
	cr_assert_eq(run_notifier(args, &out), 2, "%s", out);
	cr_assert_eq(lines(out), 1, "%s", out);
	cr_assert(strstr(out, "does not match"), "%s", out);
}

/* ---- the TLS notifier, next to the stack's -------------------------------- */

static int make_certs(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		 "-nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=tandem-test "
		 "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >openssl.log 2>&1 && "
		 "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 "
		 "-out other-key.pem >>openssl.log 2>&1",
		 dir);
	return system(cmd) == 0 ? 0 : -1;
}

static pid_t start_tls_notifier(const char *dir, int port)
{
	const char *bin_dir = getenv("TANDEM_BIN_DIR") ? getenv("TANDEM_BIN_DIR") : "build";
	char bin[300], listen[64], url[400], pw[400], cert[200], key[200], log[200];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/tandem-notifier", bin_dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "unix://%s", g_stack.redis_sock);
	snprintf(pw, sizeof(pw), "%s/redis-notifier.password", g_stack.dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(log, sizeof(log), "%s/notifier-tls.log", dir);
	pid = fork();
	if (pid == 0) {
		if (!freopen(log, "a", stderr) || !freopen(log, "a", stdout))
			_exit(127);
		setenv("TANDEM_REDIS_URL", url, 1);
		setenv("TANDEM_REDIS_USERNAME", "tandem-notifier", 1);
		setenv("TANDEM_REDIS_PASSWORD_FILE", pw, 1);
		execl(bin, bin, "--ws-listen", listen, "--ws-tls-cert", cert, "--ws-tls-key", key,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Polls https /healthz until 200 (the Redis link up). */
static bool wait_ready(int port)
{
	struct wsc_tls tls = {.ca_file = g_cert, .verify_ip = "127.0.0.1", .alpn = "http/1.1"};

	for (int i = 0; i < 100; i++) {
		if (wsc_tls_get(&tls, "127.0.0.1", port, "/healthz", NULL) == 200)
			return true;
		it_sleep_ms(100);
	}
	return false;
}

static void show(const char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "echo '--- %s' >&2; tail -n 30 '%s' >&2", path, path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot show %s\n", path);
}

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	char dir[] = "/tmp/tandem-tls-XXXXXX", port_s[16], cmd[200], log[200];
	pid_t pid = -1;
	int result = 1, status;

	if (!criterion_handle_args(argc, argv, true) || !mkdtemp(dir))
		goto out;
	snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", dir);
	snprintf(log, sizeof(log), "%s/notifier-tls.log", dir);
	if (make_certs(dir) < 0) {
		fprintf(stderr, "openssl could not make the test certificate\n");
		goto out_dir;
	}
	if (stack_start(&g_stack, NULL) < 0 || stack_export(&g_stack) < 0)
		goto out_dir;
	g_port = stack_free_port();
	pid = start_tls_notifier(dir, g_port);
	if (pid < 0 || !wait_ready(g_port)) {
		fprintf(stderr, "the TLS notifier did not come up\n");
		show(log);
		goto out_stack;
	}
	snprintf(port_s, sizeof(port_s), "%d", g_port);
	setenv("TLS_IT_PORT", port_s, 1);
	setenv("TLS_IT_DIR", dir, 1);
	result = !criterion_run_all_tests(tests);
out_stack:
	if (pid > 0) {
		/* SIGTERM: it must close its sockets and exit 0, TLS or not. */
		kill(pid, SIGTERM);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "the TLS notifier did not exit 0 on SIGTERM\n");
			show(log);
			result = 1;
		}
	}
	if (stack_stop(&g_stack) != 0) {
		fprintf(stderr, "the stack did not stop cleanly\n");
		result = 1;
	}
out_dir:
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
out:
	criterion_finalize(tests);
	return result;
}
