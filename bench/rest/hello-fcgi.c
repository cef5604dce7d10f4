/*
 * hello-fcgi: the trivial FastCGI worker the REST benchmark uses as the
 * ceiling for any libfcgi backend on this machine. Same process model as
 * tandem-rest: N threads, each with its own FCGX_Request, all calling
 * FCGX_Accept_r on one shared socket; every request gets a small JSON
 * answer and no other work.
 *
 *   hello-fcgi [--listen unix:/path | host:port] [--threads N] [--batch] [--plain-close]
 *
 * --batch runs the threads under SCHED_BATCH, as tandem-rest's workers
 * run (rest-fcgi/main.c): the ceiling of a backend that does the same.
 * --plain-close ends each connection with a plain close() instead of
 * libfcgi's lingering close, as tandem-rest does on a unix socket (only
 * for unix sockets: on TCP unread input would reset the peer).
 *
 * Without --listen it serves the socket inherited on fd 0 (spawn-fcgi).
 * HELLO_THREADS sets the default thread count (128). SIGTERM ends it at once.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

static int listen_fd;
static int batch;
static int plain_close;

static const char reply[] = "Status: 200 OK\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: 17\r\n"
			    "\r\n"
			    "{\"hello\":\"world\"}";

static void *serve(void *arg)
{
	FCGX_Request req;

	(void)arg;
	if (batch && pthread_setschedparam(pthread_self(), SCHED_BATCH,
					   &(struct sched_param){.sched_priority = 0}) != 0)
		fprintf(stderr, "hello-fcgi: SCHED_BATCH refused\n");
	if (FCGX_InitRequest(&req, listen_fd, 0) != 0)
		return NULL;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(reply, (int)sizeof(reply) - 1, req.out);
		if (plain_close) {
			char sink[1024];
			/* Unread input at close() would reset nginx: read to the end. */
			while (!FCGX_HasSeenEOF(req.in) && FCGX_GetStr(sink, sizeof(sink), req.in) > 0)
				;
			req.detached = 1;
		}
		FCGX_Finish_r(&req);
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hello-fcgi [--listen unix:/path | host:port] [--threads N] [--batch] [--plain-close]\n");
}

int main(int argc, char **argv)
{
	const char *listen = NULL, *env = getenv("HELLO_THREADS");
	long threads = env ? strtol(env, NULL, 10) : 128;
	pthread_t *tids;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen = argv[++i];
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			threads = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--batch")) {
			batch = 1;
		} else if (!strcmp(argv[i], "--plain-close")) {
			plain_close = 1;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (threads < 1 || threads > 1024) {
		fprintf(stderr, "hello-fcgi: threads must be 1..1024\n");
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "hello-fcgi: cannot initialise libfcgi\n");
		return 1;
	}
	/* libfcgi's SIGTERM handler only sets a flag that threads blocked in
	 * accept() never see: a benchmark tool may simply die. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (listen) {
		if (!strncmp(listen, "unix:", 5)) {
			listen += 5;
			unlink(listen);
		}
		listen_fd = FCGX_OpenSocket(listen, 1024);
		if (listen_fd < 0) {
			fprintf(stderr, "hello-fcgi: cannot listen on %s\n", listen);
			return 1;
		}
	} else if (FCGX_IsCGI()) {
		fprintf(stderr, "hello-fcgi: fd 0 is not a socket: run under spawn-fcgi or give --listen\n");
		return 2;
	}
	tids = calloc((size_t)threads, sizeof(*tids));
	if (!tids)
		return 1;
	for (long i = 0; i < threads; i++) {
		if (pthread_create(&tids[i], NULL, serve, NULL) != 0) {
			fprintf(stderr, "hello-fcgi: cannot start thread %ld\n", i);
			return 1;
		}
	}
	fprintf(stderr, "hello-fcgi: serving with %ld threads%s on %s\n", threads,
		batch ? " (SCHED_BATCH)" : "", listen ? listen : "the inherited socket");
	for (long i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return 0;
}
