/*
 * fault_support: see fault_support.h.
 */
#include "fault_support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "http.h"

static void *load_worker(void *arg)
{
	struct fault_load *l = ((void **)arg)[0];
	int worker = (int)(long)((void **)arg)[1];

	free(arg);
	for (long i = 0; i < l->max_per_worker && !atomic_load(&l->stop); i++)
		if (l->op(l, worker, i))
			break;
	return NULL;
}

int fault_load_start(struct fault_load *l)
{
	pthread_mutex_init(&l->mu, NULL);
	atomic_store(&l->stop, false);
	if (l->workers > (int)(sizeof(l->tids) / sizeof(l->tids[0])))
		return -1;
	for (int w = 0; w < l->workers; w++) {
		void **arg = malloc(2 * sizeof(void *));

		if (!arg)
			return -1;
		arg[0] = l;
		arg[1] = (void *)(long)w;
		if (pthread_create(&l->tids[w], NULL, load_worker, arg) != 0)
			return -1;
	}
	return 0;
}

void fault_load_stop(struct fault_load *l)
{
	atomic_store(&l->stop, true);
	for (int w = 0; w < l->workers; w++)
		pthread_join(l->tids[w], NULL);
	l->workers = 0;
}

void fault_load_free(struct fault_load *l)
{
	free(l->acks);
	l->acks = NULL;
	l->n_acks = l->cap_acks = 0;
}

bool fault_wait_count(atomic_long *counter, long target, long timeout_ms)
{
	long long deadline = stack_now_ms() + timeout_ms;

	while (atomic_load(counter) < target) {
		if (stack_now_ms() > deadline)
			return false;
		nanosleep(&(struct timespec){.tv_nsec = 5000000L}, NULL);
	}
	return true;
}

long fault_load_failures(struct fault_load *l)
{
	long n;

	pthread_mutex_lock(&l->mu);
	n = l->transport_errors;
	for (int st = 0; st < 600; st++)
		if (st < 200 || st > 299)
			n += l->by_status[st];
	pthread_mutex_unlock(&l->mu);
	return n;
}

static void add_ack(struct fault_load *l, const char *id, int version, bool deleted)
{
	if (l->n_acks == l->cap_acks) {
		size_t cap = l->cap_acks ? l->cap_acks * 2 : 1024;
		struct fault_ack *a = realloc(l->acks, cap * sizeof(*a));

		if (!a)
			abort();
		l->acks = a;
		l->cap_acks = cap;
	}
	struct fault_ack *a = &l->acks[l->n_acks++];
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->version = version;
	a->deleted = deleted;
}

/* A 503 must be the SPEC's store_unavailable, with Retry-After. */
static bool good_503(const struct http_response *res)
{
	char retry[32];
	struct json_object *o = json_tokener_parse(res->body), *err, *code;
	bool ok = o && json_object_object_get_ex(o, "error", &err) &&
		  json_object_object_get_ex(err, "code", &code) &&
		  !strcmp(json_object_get_string(code), "store_unavailable") &&
		  http_header(res, "Retry-After", retry, sizeof(retry)) == 0;

	json_object_put(o);
	return ok;
}

long fault_request(struct fault_load *l, const char *method, const char *id, const char *body,
		   char *id_out)
{
	struct http_response res;
	char url[512];
	long status;
	bool write = strcmp(method, "GET") != 0;

	snprintf(url, sizeof(url), "%s/api/v1/%s%s%s", l->s->base_url, l->col, id ? "/" : "",
		 id ? id : "");
	if ((body ? http_json(method, url, body, &res) : http_request(method, url, NULL, NULL, 0, &res)) < 0) {
		pthread_mutex_lock(&l->mu);
		l->transport_errors++;
		if (!l->first_failure[0])
			snprintf(l->first_failure, sizeof(l->first_failure), "%s %s: transport error",
				 method, url);
		pthread_mutex_unlock(&l->mu);
		atomic_fetch_add(&l->requests, 1);
		return 0;
	}
	status = res.status;
	pthread_mutex_lock(&l->mu);
	l->by_status[status >= 0 && status < 600 ? status : 599]++;
	if (status >= 200 && status <= 299 && write) {
		struct json_object *o = status == 204 ? NULL : json_tokener_parse(res.body), *v;
		const char *got_id = id;
		int version = -1;

		if (o && json_object_object_get_ex(o, "id", &v))
			got_id = json_object_get_string(v);
		if (o && json_object_object_get_ex(o, "version", &v))
			version = json_object_get_int(v);
		if (status == 204) {
			char etag[32];
			/* DELETE answers no body: its version is the one the ledger saw last + 1. */
			version = http_header(&res, "ETag", etag, sizeof(etag)) == 0 ? atoi(etag + 1) : 0;
		}
		if (got_id)
			add_ack(l, got_id, version, status == 204);
		if (id_out && got_id)
			snprintf(id_out, FAULT_ID_MAX, "%s", got_id);
		json_object_put(o);
	} else if (status == 503 && !good_503(&res)) {
		l->bad_503++;
	}
	if ((status < 200 || status > 299) && status != 503 && !l->first_failure[0])
		snprintf(l->first_failure, sizeof(l->first_failure), "%s %s: %ld %.400s", method, url,
			 status, res.body);
	pthread_mutex_unlock(&l->mu);
	atomic_fetch_add(&l->requests, 1);
	if (status >= 200 && status <= 299)
		atomic_fetch_add(&l->acked, 1);
	if (status == 503)
		atomic_fetch_add(&l->n503, 1);
	http_response_free(&res);
	return status;
}

redisContext *fault_redis(const struct stack *s)
{
	redisContext *c = redisConnectUnix(s->redis_sock);

	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

long fault_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

long fault_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int fault_read_pids(const struct stack *s, const char *file, pid_t *pids, int max)
{
	char path[512];
	long v;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", s->dir, file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%ld", &v) == 1)
		pids[n++] = (pid_t)v;
	fclose(f);
	return n;
}

bool fault_pid_running(pid_t pid)
{
	char path[64], buf[512], *paren;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z';
}
