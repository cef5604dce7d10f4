/*
 * ntf_redis: see ntf_redis.h. Everything here runs on the loop thread,
 * from hiredis callbacks or the timer.
 *
 * Re-entrancy: hiredis runs every pending callback with a NULL reply when
 * a context is freed, then its disconnect callback. So before freeing a
 * context we clear our pointer to it; a callback for a context we no
 * longer point at is an echo of our own teardown and is ignored. A link
 * that must die because of a reply (an error, a malformed answer) is
 * killed from the timer, outside hiredis's callback.
 */
#include "ntf_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>

#include "tnd_keys.h"
#include "tnd_log.h"

/*
 * One atomic read of a collection's log. KEYS[1] = the log stream;
 * ARGV = since ("" = tail only), end ("+" or an id), count, check ("1":
 * since is a client's and must be one the log knows). Returns
 * {last-generated-id, entries-added, length, first id kept, since known
 * (1/0), entries...}.
 *
 * SPEC 5: a client's since must be 0-0 (the trimmed case is the hub's
 * log_lost_after), the last id generated, or an entry the log holds
 * (XRANGE since since). Anything else, newer than the last id or inside
 * the range but never an entry (a restored backup, a lost write), is
 * reported unknown and nothing is read: the hub answers reset. Documents
 * are never XDEL'd, so an id in range that is not an entry was never one
 * or was trimmed. Ids are compared as strings only for equality: both
 * sides are canonical decimal. Deciding here, in the script that reads
 * the first page, leaves no room for a write between check and read.
 * The XRANGEs run under pcall: a since the client made up (say, beyond
 * the largest id) must not turn into a script error that drops the link.
 */
static const char read_script[] =
	"local log, since, stop, count = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
	"local check = ARGV[4] == '1' and since ~= '' and since ~= '0-0'\n"
	"if redis.call('EXISTS', log) == 0 then return {'0-0', 0, 0, '0-0', check and 0 or 1} end\n"
	"local info = redis.call('XINFO', 'STREAM', log)\n"
	"local m = {}\n"
	"for i = 1, #info, 2 do m[info[i]] = info[i + 1] end\n"
	"local first = m['last-generated-id']\n"
	"if m['first-entry'] then first = m['first-entry'][1] end\n"
	"local known = 1\n"
	"if check and since ~= m['last-generated-id'] then\n"
	"  local ok, e = pcall(redis.call, 'XRANGE', log, since, since, 'COUNT', 1)\n"
	"  if not ok or #e == 0 then known = 0 end\n"
	"end\n"
	"local out = {m['last-generated-id'], m['entries-added'], m['length'], first, known}\n"
	"if since ~= '' and known == 1 then\n"
	"  local ok, r = pcall(redis.call, 'XRANGE', log, '(' .. since, stop, 'COUNT', count)\n"
	"  if ok then for i = 1, #r do out[#out + 1] = r[i] end end\n"
	"end\n"
	"return out\n";

static void on_timer(uv_timer_t *t);

/* Forgets *pp, then frees it (its callbacks see that we forgot it). */
static void drop_ctx(redisAsyncContext **pp)
{
	redisAsyncContext *ac = *pp;

	*pp = NULL;
	if (ac)
		redisAsyncFree(ac);
}

static void schedule_reconnect(struct ntf_redis *r)
{
	if (r->closing || r->kill_pending)
		return;
	uv_timer_start(&r->timer, on_timer, r->backoff_ms, 0);
	r->backoff_ms = r->backoff_ms * 2 > NTF_BACKOFF_MAX_MS ? NTF_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* Both connections go; the hub learns the link is down; retry later. */
static void link_lost(struct ntf_redis *r, const char *why)
{
	r->sub_ready = r->cmd_ready = false;
	if (r->up) {
		r->up = false;
		tnd_log_warn("redis: link lost (%s); reconnecting", why);
		ntf_hub_link_down(r->hub);
	}
	drop_ctx(&r->sub);
	drop_ctx(&r->cmd);
	schedule_reconnect(r);
}

/* From inside a reply callback: the kill runs from the timer. */
static void link_kill_later(struct ntf_redis *r, const char *why)
{
	if (r->kill_pending || r->closing)
		return;
	tnd_log_warn("redis: %s; dropping the link", why);
	r->kill_pending = true;
	uv_timer_start(&r->timer, on_timer, 0, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct ntf_redis *r = t->data;

	if (r->kill_pending) {
		r->kill_pending = false;
		link_lost(r, "killed");
		return;
	}
	if (!r->sub && !r->cmd && !r->closing)
		ntf_redis_start(r);
}

static void check_up(struct ntf_redis *r)
{
	if (r->up || !r->sub_ready || !r->cmd_ready)
		return;
	r->up = true;
	r->backoff_ms = NTF_BACKOFF_MIN_MS;
	if (r->ever_up)
		ntf_hub_metrics(r->hub)->redis_reconnects++;
	r->ever_up = true;
	tnd_log_info("redis: connected, listening on %s", r->pattern);
	ntf_hub_link_up(r->hub);
}

/* A context we still point at went away (connect failure or disconnect). */
static void ctx_gone(struct ntf_redis *r, const redisAsyncContext *ac, const char *why)
{
	if (ac == r->sub)
		r->sub = NULL;
	else if (ac == r->cmd)
		r->cmd = NULL;
	else
		return; /* our own teardown */
	if (!r->up)
		tnd_log_warn("redis: cannot connect (%s); retrying in %u ms", why, r->backoff_ms);
	link_lost(r, why);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		ctx_gone(ac->data, ac, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	ctx_gone(ac->data, ac, ac->errstr[0] ? ac->errstr : "disconnected");
}

static void on_sub_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
	struct ntf_redis *r = ac->data;
	redisReply *reply = reply_;
	const redisReply *kind;

	(void)privdata;
	if (!reply || ac != r->sub || r->kill_pending)
		return;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING) {
		link_kill_later(r, "unexpected reply on the subscriber connection");
		return;
	}
	kind = reply->element[0];
	if (!strcmp(kind->str, "pmessage") && reply->elements == 4 &&
	    reply->element[3]->type == REDIS_REPLY_STRING) {
		ntf_hub_publish(r->hub, reply->element[3]->str, reply->element[3]->len);
		/* Reading resumes after every read; a paused hub stays paused. */
		if (r->paused && r->sub && r->sub->ev.data)
			r->sub->ev.delRead(r->sub->ev.data);
	} else if (!strcmp(kind->str, "psubscribe")) {
		r->sub_ready = true;
		check_up(r);
	}
}

/*
 * AUTH's answer, first on each connection. A refusal (wrong password, no
 * such user) drops the link with this one line and retries with backoff;
 * the commands pipelined behind it fail with NOAUTH and are ignored.
 */
static void on_auth(redisAsyncContext *ac, void *reply_, void *privdata)
{
	struct ntf_redis *r = ac->data;
	redisReply *reply = reply_;
	char why[TND_REDIS_USER_MAX + 200];

	(void)privdata;
	if (!reply || (ac != r->sub && ac != r->cmd))
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "AUTH as %s refused (%.120s)",
			 r->addr.username[0] ? r->addr.username : "default", reply->str);
		link_kill_later(r, why);
	}
}

static void on_cmd_ready(redisAsyncContext *ac, void *reply_, void *privdata)
{
	struct ntf_redis *r = ac->data;
	redisReply *reply = reply_;

	(void)privdata;
	if (!reply || ac != r->cmd || r->kill_pending)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		tnd_log_error("redis: %s", reply->str);
		link_kill_later(r, "the command connection failed to set up");
		return;
	}
	if (reply->type == REDIS_REPLY_STATUS && !strcmp(reply->str, "PONG")) {
		r->cmd_ready = true;
		check_up(r);
	}
}

static redisAsyncContext *open_ctx(struct ntf_redis *r)
{
	redisAsyncContext *ac;
	char err[200];

	ac = tnd_redis_connect_async(&r->addr, err, sizeof(err));
	if (!ac) {
		tnd_log_warn("redis: cannot connect (%s); retrying in %u ms", err, r->backoff_ms);
		return NULL;
	}
	ac->data = r;
	if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return ac;
}

void ntf_redis_start(struct ntf_redis *r)
{
	const char *auth[3];
	size_t auth_lens[3];
	int n_auth = tnd_redis_auth_argv(&r->addr, auth, auth_lens);

	if (r->closing || r->sub || r->cmd)
		return;
	r->sub = open_ctx(r);
	if (!r->sub)
		goto fail;
	r->cmd = open_ctx(r);
	if (!r->cmd)
		goto fail;
	/* AUTH first on both, on every (re)connect: hiredis sends commands in order. */
	if (n_auth > 0 &&
	    (redisAsyncCommandArgv(r->sub, on_auth, NULL, n_auth, auth, auth_lens) != REDIS_OK ||
	     redisAsyncCommandArgv(r->cmd, on_auth, NULL, n_auth, auth, auth_lens) != REDIS_OK))
		goto fail;
	if (redisAsyncCommand(r->sub, on_sub_reply, NULL, "PSUBSCRIBE %s", r->pattern) != REDIS_OK)
		goto fail;
	if (r->addr.db > 0 &&
	    redisAsyncCommand(r->cmd, on_cmd_ready, NULL, "SELECT %d", r->addr.db) != REDIS_OK)
		goto fail;
	if (redisAsyncCommand(r->cmd, on_cmd_ready, NULL, "PING") != REDIS_OK)
		goto fail;
	return;
fail:
	link_lost(r, "cannot start");
}

/* --- log reads ------------------------------------------------------------ */

static const redisReply *field(const redisReply *fields, const char *name)
{
	for (size_t i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    !strcmp(fields->element[i]->str, name) &&
		    fields->element[i + 1]->type == REDIS_REPLY_STRING)
			return fields->element[i + 1];
	return NULL;
}

/* One stream entry [id, ["e", body]] as an event frame, or NULL (logged). */
static struct ntf_msg *entry_event(const char *col, const redisReply *e, struct tnd_seq *id_out,
				   bool *id_ok)
{
	const redisReply *body;
	struct ntf_msg *m = NULL;
	bool malformed;

	*id_ok = false;
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
		goto bad;
	if (tnd_seq_parse(e->element[0]->str, e->element[0]->len, id_out) < 0)
		goto bad;
	*id_ok = true;
	body = field(e->element[1], "e");
	if (!body)
		goto bad;
	m = ntf_proto_event(e->element[0]->str, e->element[0]->len, body->str, body->len, NULL,
			    &malformed);
	if (m)
		return m;
bad:
	tnd_log_warn("collection %s: skipping a malformed log entry", col);
	return NULL;
}

#define HEAD_LEN 5 /* the read script's fields before the entries */

static bool parse_head(const redisReply *reply, struct ntf_log_result *res)
{
	const redisReply *const *el = (const redisReply *const *)reply->element;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < HEAD_LEN ||
	    el[0]->type != REDIS_REPLY_STRING || el[1]->type != REDIS_REPLY_INTEGER ||
	    el[2]->type != REDIS_REPLY_INTEGER || el[3]->type != REDIS_REPLY_STRING ||
	    el[4]->type != REDIS_REPLY_INTEGER)
		return false;
	if (tnd_seq_parse(el[0]->str, el[0]->len, &res->tail) < 0 ||
	    tnd_seq_parse(el[3]->str, el[3]->len, &res->first) < 0)
		return false;
	res->trimmed = el[1]->integer > el[2]->integer;
	res->since_unknown = el[4]->integer == 0;
	return true;
}

int ntf_redis_log_parse(const struct ntf_query *q, const redisReply *reply,
			struct ntf_log_result *res, struct ntf_msg ***events_out, const char **why)
{
	struct ntf_msg **events = NULL;

	*events_out = NULL;
	memset(res, 0, sizeof(*res));
	if (!parse_head(reply, res)) {
		*why = "unexpected answer to a log read";
		return -1;
	}
	res->n_entries = reply->elements - HEAD_LEN;
	if (res->n_entries) {
		events = malloc(sizeof(*events) * res->n_entries);
		if (!events) {
			*why = "out of memory";
			return -1;
		}
		res->events = events;
	}
	for (size_t i = 0; i < res->n_entries; i++) {
		struct tnd_seq id;
		bool id_ok;
		struct ntf_msg *m = entry_event(q->coll->name, reply->element[HEAD_LEN + i], &id, &id_ok);

		if (id_ok)
			res->last_entry = id;
		if (m)
			events[res->n_events++] = m;
	}
	res->ok = true;
	*events_out = events;
	return 0;
}

void ntf_redis_log_release(struct ntf_log_result *res, struct ntf_msg **events)
{
	for (size_t i = 0; i < res->n_events; i++)
		ntf_msg_unref(events[i]);
	free(events);
}

static void on_read(redisAsyncContext *ac, void *reply_, void *privdata)
{
	struct ntf_redis *r = ac->data;
	struct ntf_query *q = privdata;
	redisReply *reply = reply_;
	struct ntf_log_result res = {.ok = false};
	struct ntf_msg **events = NULL;
	const char *why;

	if (!reply || ac != r->cmd)
		goto done;
	if (reply->type == REDIS_REPLY_ERROR) {
		tnd_log_error("redis: log read of %s failed: %s", q->coll->name, reply->str);
		link_kill_later(r, "a log read failed");
		goto done;
	}
	if (ntf_redis_log_parse(q, reply, &res, &events, &why) < 0)
		link_kill_later(r, why);
done:
	ntf_hub_query_done(q, &res);
	ntf_redis_log_release(&res, events);
}

int ntf_redis_log_argv(const struct ntf_query *q, const char *ns, struct ntf_redis_log_args *a)
{
	int klen = tnd_key(a->key, sizeof(a->key), TND_KEY_LOG, ns, q->coll->name, q->coll->name_len);

	if (klen < 0)
		return -1;
	snprintf(a->since, sizeof(a->since), "%s", "");
	snprintf(a->end, sizeof(a->end), "%s", "+");
	if (q->has_since)
		tnd_seq_format(&q->since, a->since);
	if (q->has_end)
		tnd_seq_format(&q->end, a->end);
	snprintf(a->count, sizeof(a->count), "%u", q->count);
	a->argv[0] = "EVAL";
	a->argv[1] = read_script;
	a->argv[2] = "1";
	a->argv[3] = a->key;
	a->argv[4] = a->since;
	a->argv[5] = a->end;
	a->argv[6] = a->count;
	a->argv[7] = q->check_since ? "1" : "0";
	for (int i = 0; i < NTF_REDIS_LOG_ARGC; i++)
		a->lens[i] = strlen(a->argv[i]);
	a->lens[3] = (size_t)klen;
	return 0;
}

int ntf_redis_read_log(void *data, struct ntf_query *q)
{
	struct ntf_redis *r = data;
	struct ntf_redis_log_args a;

	if (!r->up || !r->cmd || ntf_redis_log_argv(q, r->ns, &a) < 0)
		return -1;
	if (redisAsyncCommandArgv(r->cmd, on_read, q, NTF_REDIS_LOG_ARGC, a.argv, a.lens) != REDIS_OK)
		return -1;
	return 0;
}

void ntf_redis_pause(void *data, bool pause)
{
	struct ntf_redis *r = data;

	r->paused = pause;
	if (!r->sub || !r->sub->ev.data)
		return;
	if (pause)
		r->sub->ev.delRead(r->sub->ev.data);
	else
		r->sub->ev.addRead(r->sub->ev.data);
}

/* --- setup ---------------------------------------------------------------- */

int ntf_redis_init(struct ntf_redis *r, uv_loop_t *loop, struct ntf_hub *hub,
		   const struct tnd_redis_addr *addr, const char *ns)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->hub = hub;
	r->addr = *addr;
	snprintf(r->ns, sizeof(r->ns), "%s", ns);
	snprintf(r->pattern, sizeof(r->pattern), "{%s:*}", ns);
	r->backoff_ms = NTF_BACKOFF_MIN_MS;
	rc = uv_timer_init(loop, &r->timer);
	if (rc < 0)
		return rc;
	r->timer.data = r;
	return 0;
}

void ntf_redis_close(struct ntf_redis *r)
{
	r->closing = true;
	r->kill_pending = false;
	uv_timer_stop(&r->timer);
	if (r->up) {
		r->up = false;
		ntf_hub_link_down(r->hub);
	}
	drop_ctx(&r->sub);
	drop_ctx(&r->cmd);
	uv_close((uv_handle_t *)&r->timer, NULL);
}
