/*
 * rest_store: see rest_store.h. Runs on one worker thread per store.
 */
#include "rest_store.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "tnd_error.h"
#include "tnd_keys.h"
#include "tnd_valid.h"

#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 500

/*
 * Writes. KEYS: doc, meta, index, log. ARGV: id, collection, mode, expect, body,
 * now, log length, channel. expect is "" (none), "*" (must exist) or
 * ",v1,v2," (one of these versions). The document is assembled here, not
 * in C, because only the script knows the stored version and created_at
 * atomically; body is the client's object without server fields, so its
 * text after the '{' is appended to ours.
 */
static const char script_write[] =
	"local id, col, mode, expect = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
	"local cur = redis.call('HMGET', KEYS[2], 'v', 'c')\n"
	"local v = tonumber(cur[1])\n"
	"if mode == 'create' and v then return {'exists', v} end\n"
	"if mode == 'patch' and not v then return {'missing'} end\n"
	"if expect ~= '' then\n"
	"  if not v then return {'conflict', -1} end\n"
	"  if expect ~= '*' and not string.find(expect, ',' .. v .. ',', 1, true) then\n"
	"    return {'conflict', v}\n"
	"  end\n"
	"end\n"
	"local created = cur[2] or ARGV[6]\n"
	"local nv = (v or 0) + 1\n"
	"local doc = '{\"id\":\"' .. id .. '\",\"version\":' .. nv .. ',\"created_at\":\"' ..\n"
	"  created .. '\",\"updated_at\":\"' .. ARGV[6] .. '\"'\n"
	"if ARGV[5] == '{}' then doc = doc .. '}' else doc = doc .. ',' .. string.sub(ARGV[5], 2) end\n"
	"redis.call('HSET', KEYS[2], 'v', nv, 'c', created)\n"
	"redis.call('SET', KEYS[1], doc)\n"
	"redis.call('ZADD', KEYS[3], 0, id)\n"
	"local typ = v and 'updated' or 'created'\n"
	"local seq = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',\n"
	"  'type', typ, 'id', id, 'version', nv, 'doc', doc)\n"
	"redis.call('PUBLISH', ARGV[8], '{\"type\":\"' .. typ .. '\",\"collection\":\"' .. col ..\n"
	"  '\",\"id\":\"' .. id .. '\",\"version\":' .. nv .. ',\"seq\":\"' .. seq .. '\",\"doc\":' .. doc .. '}')\n"
	"return {'ok', nv, seq, doc, v and 0 or 1}\n";

/* Deletes. KEYS: doc, meta, index, log. ARGV: id, collection, expect, log length, channel. */
static const char script_delete[] =
	"local id, col, expect = ARGV[1], ARGV[2], ARGV[3]\n"
	"local v = tonumber(redis.call('HGET', KEYS[2], 'v'))\n"
	"if not v then return {'missing'} end\n"
	"if expect ~= '' and expect ~= '*' and not string.find(expect, ',' .. v .. ',', 1, true) then\n"
	"  return {'conflict', v}\n"
	"end\n"
	"redis.call('DEL', KEYS[1], KEYS[2])\n"
	"redis.call('ZREM', KEYS[3], id)\n"
	"local nv = v + 1\n"
	"local seq = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*',\n"
	"  'type', 'deleted', 'id', id, 'version', nv)\n"
	"redis.call('PUBLISH', ARGV[5], '{\"type\":\"deleted\",\"collection\":\"' .. col ..\n"
	"  '\",\"id\":\"' .. id .. '\",\"version\":' .. nv .. ',\"seq\":\"' .. seq .. '\"}')\n"
	"return {'ok', nv, seq}\n";

/* Reads one document. KEYS: doc, meta, log. Returns {seq, version, json} or {seq}. */
static const char script_get[] =
	"local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)\n"
	"local seq = last[1] and last[1][1] or '0-0'\n"
	"local v = redis.call('HGET', KEYS[2], 'v')\n"
	"if not v then return {seq} end\n"
	"return {seq, tonumber(v), redis.call('GET', KEYS[1])}\n";

/*
 * Lists. KEYS: index, log. ARGV: document key prefix, after ("" = start),
 * limit, byte cap. Returns {seq, next id or "", json...}. Documents are
 * fetched with one MGET per 25 ids (a call per document cost several times
 * more), so at most 25 documents sit in the script's memory beyond the
 * page itself. A page stops
 * early, after at least one document, when the next one would take it past
 * the byte cap; "next" then points at its last document. The documents'
 * keys share the collection's hash tag, so reading them here stays within
 * one slot.
 */
static const char script_list[] =
	"local limit, cap = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
	"local min = ARGV[2] == '' and '-' or '(' .. ARGV[2]\n"
	"local ids = redis.call('ZRANGEBYLEX', KEYS[1], min, '+', 'LIMIT', 0, limit + 1)\n"
	"local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)\n"
	"local out = {last[1] and last[1][1] or '0-0', ''}\n"
	"local n, bytes, prev, i = math.min(#ids, limit), 0, '', 1\n"
	"while i <= n do\n"
	"  local keys = {}\n"
	"  for k = i, math.min(i + 24, n) do keys[#keys + 1] = ARGV[1] .. ids[k] end\n"
	"  local docs = redis.call('MGET', unpack(keys))\n"
	"  for k = 1, #keys do\n"
	"    local j = docs[k]\n"
	"    if j then\n"
	"      if #out > 2 and bytes + #j > cap then out[2] = prev; return out end\n"
	"      bytes = bytes + #j\n"
	"      out[#out + 1] = j\n"
	"    end\n"
	"    prev = ids[i + k - 1]\n"
	"  end\n"
	"  i = i + #keys\n"
	"end\n"
	"if #ids > limit then out[2] = ids[n] end\n"
	"return out\n";

static const char *const scripts[REST_SCRIPT__MAX] = {
	[REST_SCRIPT_WRITE] = script_write,
	[REST_SCRIPT_DELETE] = script_delete,
	[REST_SCRIPT_GET] = script_get,
	[REST_SCRIPT_LIST] = script_list,
};

void rest_store_init(struct rest_store *store, const struct rest_store_config *cfg)
{
	memset(store, 0, sizeof(*store));
	store->cfg = cfg;
}

void rest_store_close(struct rest_store *store)
{
	if (store->conn) {
		redisFree(store->conn);
		store->conn = NULL;
	}
}

void rest_store_result_free(struct rest_store_result *res)
{
	if (res->reply)
		freeReplyObject(res->reply);
	res->reply = NULL;
}

static int load_scripts(struct rest_store *store)
{
	atomic_fetch_add_explicit(&store->cfg->metrics->script_loads, 1, memory_order_relaxed);
	for (int i = 0; i < REST_SCRIPT__MAX; i++) {
		redisReply *r = redisCommand(store->conn, "SCRIPT LOAD %s", scripts[i]);

		if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
			snprintf(store->errstr, sizeof(store->errstr), "SCRIPT LOAD: %s",
				 r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
				   : store->conn->errstr);
			if (r)
				freeReplyObject(r);
			return -1;
		}
		memcpy(store->sha[i], r->str, 41);
		freeReplyObject(r);
	}
	return 0;
}

static void schedule_retry(struct rest_store *store)
{
	long ms = RETRY_MIN_MS << (store->failures < 5 ? store->failures : 5);

	if (ms > RETRY_MAX_MS)
		ms = RETRY_MAX_MS;
	store->failures++;
	clock_gettime(CLOCK_MONOTONIC, &store->retry_at);
	store->retry_at.tv_sec += ms / 1000;
	store->retry_at.tv_nsec += (ms % 1000) * 1000000L;
	if (store->retry_at.tv_nsec >= 1000000000L) {
		store->retry_at.tv_sec++;
		store->retry_at.tv_nsec -= 1000000000L;
	}
}

static bool retry_due(const struct rest_store *store)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > store->retry_at.tv_sec ||
	       (now.tv_sec == store->retry_at.tv_sec && now.tv_nsec >= store->retry_at.tv_nsec);
}

/*
 * A connection that Redis closed (restart, CLIENT KILL, idle timeout) is
 * readable while we expect nothing. Finding that out before sending keeps
 * a write from being sent into a dead socket, where we could not tell
 * whether it ran; so no write is ever retried.
 */
static bool conn_is_stale(redisContext *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	return poll(&pfd, 1, 0) != 0;
}

/* Makes sure store->conn is usable. Returns 0 or TND_EUNAVAIL. */
static int store_connect(struct rest_store *store)
{
	if (store->conn && !conn_is_stale(store->conn))
		return 0;
	rest_store_close(store);
	if (!retry_due(store)) {
		snprintf(store->errstr, sizeof(store->errstr), "Redis unreachable, retrying soon");
		return TND_EUNAVAIL;
	}
	store->conn = tnd_redis_connect(store->cfg->addr, (int)store->cfg->timeout_ms,
					store->errstr, sizeof(store->errstr));
	if (store->conn)
		atomic_fetch_add_explicit(&store->cfg->metrics->redis_connects, 1, memory_order_relaxed);
	if (!store->conn || load_scripts(store) < 0) {
		rest_store_close(store);
		schedule_retry(store);
		return TND_EUNAVAIL;
	}
	store->failures = 0;
	return 0;
}

/*
 * Runs a script with EVALSHA, loading the scripts again on NOSCRIPT (Redis
 * restarted or SCRIPT FLUSH). Returns the reply (caller frees), or NULL
 * with *rc set (TND_EUNAVAIL or TND_EPROTO) and store->errstr.
 */
#define MAX_SCRIPT_ARGS 16

static redisReply *run_script(struct rest_store *store, enum rest_script which, int nkeys,
			      int nargs, const char *const *args, const size_t *arglens,
			      struct rest_store_result *res, int *rc)
{
	const char *argv[MAX_SCRIPT_ARGS + 3];
	size_t argvlen[MAX_SCRIPT_ARGS + 3];
	char nkeys_str[8];
	redisReply *r = NULL;

	memset(res, 0, sizeof(*res));
	res->version = -1;
	if ((*rc = store_connect(store)) < 0)
		return NULL;
	snprintf(nkeys_str, sizeof(nkeys_str), "%d", nkeys);
	argv[0] = "EVALSHA";
	argvlen[0] = 7;
	argv[2] = nkeys_str;
	argvlen[2] = strlen(nkeys_str);
	for (int i = 0; i < nargs; i++) {
		argv[3 + i] = args[i];
		argvlen[3 + i] = arglens ? arglens[i] : strlen(args[i]);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		argv[1] = store->sha[which];
		argvlen[1] = 40;
		r = redisCommandArgv(store->conn, 3 + nargs, argv, argvlen);
		if (!r) {
			snprintf(store->errstr, sizeof(store->errstr), "redis: %s",
				 store->conn->errstr);
			rest_store_close(store);
			*rc = TND_EUNAVAIL;
			return NULL;
		}
		if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0)
			break;
		freeReplyObject(r);
		r = NULL;
		if (load_scripts(store) < 0)
			break;
	}
	/* A full Redis refuses the write before it starts: retrying later can help. */
	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "OOM", 3) == 0) {
		snprintf(store->errstr, sizeof(store->errstr), "redis: %s", r->str);
		freeReplyObject(r);
		*rc = TND_EUNAVAIL;
		return NULL;
	}
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		snprintf(store->errstr, sizeof(store->errstr), "redis: unexpected reply: %s",
			 r && r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
		if (r)
			freeReplyObject(r);
		*rc = TND_EPROTO;
		return NULL;
	}
	return r;
}

/* The three keys of a collection: document, index and log. */
struct coll_keys {
	char doc[TND_KEY_MAX + TND_DOC_ID_MAX];
	char meta[TND_KEY_MAX + TND_DOC_ID_MAX];
	char index[TND_KEY_MAX];
	char log[TND_KEY_MAX];
	char channel[TND_KEY_MAX];
};

/* Fills k. Returns 0, or TND_ETOOLONG (cannot happen for valid names). */
static int make_keys(struct rest_store *store, const char *collection, const char *id,
		     struct coll_keys *k, struct rest_store_result *res)
{
	size_t col_len = strlen(collection);
	int n;

	n = tnd_key(k->doc, TND_KEY_MAX, TND_KEY_DOC_PREFIX, store->cfg->ns, collection, col_len);
	if (n < 0 ||
	    tnd_key(k->meta, TND_KEY_MAX, TND_KEY_META_PREFIX, store->cfg->ns, collection, col_len) != n || tnd_key(k->index, sizeof(k->index), TND_KEY_INDEX, store->cfg->ns,
			     collection, col_len) < 0 ||
	    tnd_key(k->log, sizeof(k->log), TND_KEY_LOG, store->cfg->ns, collection, col_len) < 0 ||
	    tnd_key(k->channel, sizeof(k->channel), TND_KEY_CHANNEL, store->cfg->ns, collection,
		    col_len) < 0) {
		memset(res, 0, sizeof(*res));
		res->version = -1;
		snprintf(store->errstr, sizeof(store->errstr), "a key for %.64s is too long",
			 collection);
		return TND_ETOOLONG;
	}
	if (id) {
		snprintf(k->doc + n, sizeof(k->doc) - (size_t)n, "%s", id);
		snprintf(k->meta + n, sizeof(k->meta) - (size_t)n, "%s", id);
	}
	return 0;
}

static bool elem_is(const redisReply *r, size_t i, const char *s)
{
	return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING &&
	       strcmp(r->element[i]->str, s) == 0;
}

static long long elem_int(const redisReply *r, size_t i)
{
	return (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER)
		       ? r->element[i]->integer
		       : -1;
}

static const char *elem_str(const redisReply *r, size_t i, size_t *len)
{
	if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	if (len)
		*len = r->element[i]->len;
	return r->element[i]->str;
}

/* A malformed reply from one of our own scripts. */
static int bad_reply(struct rest_store *store, const char *what)
{
	snprintf(store->errstr, sizeof(store->errstr), "redis: malformed %s reply", what);
	return TND_EPROTO;
}

/* Maps the scripts' {'missing'|'exists'|'conflict', v} and {'ok', v, seq, ...}. */
static int read_write_reply(struct rest_store *store, redisReply *r, struct rest_store_result *res)
{
	res->reply = r;
	res->version = elem_int(r, 1);
	if (elem_is(r, 0, "missing"))
		return TND_ENOTFOUND;
	if (elem_is(r, 0, "exists"))
		return TND_EEXIST;
	if (elem_is(r, 0, "conflict"))
		return TND_ECONFLICT;
	if (elem_is(r, 0, "ok") && (res->seq = elem_str(r, 2, NULL)) != NULL) {
		res->doc = elem_str(r, 3, &res->doc_len);
		res->created = elem_int(r, 4) == 1;
		return 0;
	}
	return bad_reply(store, "write script");
}

int rest_store_write(struct rest_store *store, const char *collection, const char *id,
		     enum rest_write_mode mode, const char *expect, const char *body,
		     size_t body_len, const char *now, struct rest_store_result *res)
{
	static const char *const mode_names[] = {"create", "put", "patch"};
	struct coll_keys k;
	char log_len[24];
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, collection, id, &k, res)) < 0)
		return rc;
	snprintf(log_len, sizeof(log_len), "%lld", store->cfg->log_len);
	const char *args[] = {k.doc, k.meta, k.index, k.log, id, collection, mode_names[mode],
			      expect, body, now, log_len, k.channel};
	size_t lens[] = {strlen(k.doc), strlen(k.meta), strlen(k.index), strlen(k.log), strlen(id),
			 strlen(collection), strlen(mode_names[mode]), strlen(expect), body_len,
			 strlen(now), strlen(log_len), strlen(k.channel)};
	r = run_script(store, REST_SCRIPT_WRITE, 4, 12, args, lens, res, &rc);
	return r ? read_write_reply(store, r, res) : rc;
}

int rest_store_delete(struct rest_store *store, const char *collection, const char *id,
		      const char *expect, struct rest_store_result *res)
{
	struct coll_keys k;
	char log_len[24];
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, collection, id, &k, res)) < 0)
		return rc;
	snprintf(log_len, sizeof(log_len), "%lld", store->cfg->log_len);
	const char *args[] = {k.doc, k.meta, k.index, k.log, id, collection, expect, log_len,
			      k.channel};
	r = run_script(store, REST_SCRIPT_DELETE, 4, 9, args, NULL, res, &rc);
	return r ? read_write_reply(store, r, res) : rc;
}

int rest_store_get(struct rest_store *store, const char *collection, const char *id,
		   struct rest_store_result *res)
{
	struct coll_keys k;
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, collection, id, &k, res)) < 0)
		return rc;
	const char *args[] = {k.doc, k.meta, k.log};
	r = run_script(store, REST_SCRIPT_GET, 3, 3, args, NULL, res, &rc);
	if (!r)
		return rc;
	res->reply = r;
	res->seq = elem_str(r, 0, NULL);
	if (!res->seq)
		return bad_reply(store, "read script");
	if (r->elements == 1)
		return TND_ENOTFOUND;
	res->version = elem_int(r, 1);
	res->doc = elem_str(r, 2, &res->doc_len);
	return res->doc && res->version > 0 ? 0 : bad_reply(store, "read script");
}

int rest_store_list(struct rest_store *store, const char *collection, const char *after,
		    long long limit, struct rest_store_result *res)
{
	struct coll_keys k;
	char limit_str[24], cap_str[24];
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, collection, NULL, &k, res)) < 0)
		return rc;
	snprintf(limit_str, sizeof(limit_str), "%lld", limit);
	snprintf(cap_str, sizeof(cap_str), "%d", TND_LIST_PAGE_BYTES);
	const char *args[] = {k.index, k.log, k.doc, after ? after : "", limit_str, cap_str};
	r = run_script(store, REST_SCRIPT_LIST, 2, 6, args, NULL, res, &rc);
	if (!r)
		return rc;
	res->reply = r;
	res->seq = elem_str(r, 0, NULL);
	if (!res->seq || !elem_str(r, 1, NULL))
		return bad_reply(store, "list script");
	for (size_t i = 2; i < r->elements; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			return bad_reply(store, "list script");
	return 0;
}

int rest_store_ping(struct rest_store *store)
{
	redisReply *r;
	int rc;

	if ((rc = store_connect(store)) < 0)
		return rc;
	r = redisCommand(store->conn, "PING");
	if (!r) {
		snprintf(store->errstr, sizeof(store->errstr), "redis: %s", store->conn->errstr);
		rest_store_close(store);
		return TND_EUNAVAIL;
	}
	rc = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0 ? 0 : bad_reply(store, "PING");
	freeReplyObject(r);
	return rc;
}
