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
 * The scripts name their KEYS and ARGV slots in their first lines; the C
 * side fills the same slots through the enums below, so the two lists are
 * read side by side.
 *
 * A change event has one byte form, built once by the script that makes
 * the change (the README's Redis section has the layout):
 *
 *   body  = {"type":T,"collection":C,"id":I,"version":N[,"doc":{...}]}
 *           [ "\n" {["owner":O][,]["prev":{...}]} ]
 *
 * The first line is what clients see (the notifier puts "op" and "seq" in
 * front of it and forwards the rest as it is); the optional second line
 * is for the notifier only: the document's owner (who may see the event)
 * and, for updates and deletes, the document before the write (whether it
 * matched a filtered subscription before, SPEC section 8). The log entry holds the body in its one field
 * "e"; PUBLISH sends "<seq> <body>": the same bytes with the seq in front.
 * Names and ids need no escaping (tnd_valid), the document is our own
 * compact JSON (no raw newline) and an owner is printable ASCII without
 * quotes (tnd_auth).
 *
 * Writes. The document is assembled here, not in C, because only the
 * script knows the stored version, created_at and owner atomically; body
 * is the client's object without server fields, so its text after the '{'
 * is appended to ours. owner_req is the token's sub when that token may
 * see only its own documents (SPEC section 6 `own`), "" otherwise: another
 * owner's document (or one without owner) is then "missing", and a
 * document it creates gets that owner, for good.
 */
/* The notifier's line of an event body ("" when there is nothing to say). */
#define LUA_EVENT_NOTES \
	"local function notes(owner, prev)\n" \
	"  local n = {}\n" \
	"  if owner then n[#n + 1] = '\"owner\":\"' .. owner .. '\"' end\n" \
	"  if prev then n[#n + 1] = '\"prev\":' .. prev end\n" \
	"  if #n == 0 then return '' end\n" \
	"  return '\\n{' .. table.concat(n, ',') .. '}'\n" \
	"end\n"

static const char script_write[] =
	LUA_EVENT_NOTES
	"local doc_key, meta_key, index_key, log_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n"
	"local id, col, mode, expect, body, now, log_len, channel, owner_req, owner_prefix = unpack(ARGV)\n"
	"local cur = redis.call('HMGET', meta_key, 'v', 'c', 'o')\n"
	"local v = tonumber(cur[1])\n"
	"if v and owner_req ~= '' and cur[3] ~= owner_req then return {'missing'} end\n"
	"if mode == 'create' and v then return {'exists', v} end\n"
	"if mode == 'patch' and not v then return {'missing'} end\n"
	"if expect ~= '' then\n"
	"  if not v then return {'conflict', -1} end\n"
	"  if expect ~= '*' and not string.find(expect, ',' .. v .. ',', 1, true) then\n"
	"    return {'conflict', v}\n"
	"  end\n"
	"end\n"
	"local owner = cur[3]\n"
	"if not v and owner_req ~= '' then owner = owner_req end\n"
	"local created = cur[2] or now\n"
	"local nv = (v or 0) + 1\n"
	"local doc = '{\"id\":\"' .. id .. '\",\"version\":' .. nv .. ',\"created_at\":\"' ..\n"
	"  created .. '\",\"updated_at\":\"' .. now .. '\"'\n"
	"if owner then doc = doc .. ',\"owner\":\"' .. owner .. '\"' end\n"
	"if body == '{}' then doc = doc .. '}' else doc = doc .. ',' .. string.sub(body, 2) end\n"
	"if owner then\n"
	"  redis.call('HSET', meta_key, 'v', nv, 'c', created, 'o', owner)\n"
	"  if not v then redis.call('ZADD', owner_prefix .. owner, 0, id) end\n"
	"else\n"
	"  redis.call('HSET', meta_key, 'v', nv, 'c', created)\n"
	"end\n"
	"local prev = v and redis.call('GET', doc_key)\n"
	"redis.call('SET', doc_key, doc)\n"
	"redis.call('ZADD', index_key, 0, id)\n"
	"local event = '{\"type\":\"' .. (v and 'updated' or 'created') .. '\",\"collection\":\"' ..\n"
	"  col .. '\",\"id\":\"' .. id .. '\",\"version\":' .. nv .. ',\"doc\":' .. doc .. '}'\n"
	"event = event .. notes(owner, prev)\n"
	"local seq = redis.call('XADD', log_key, 'MAXLEN', '~', log_len, '*', 'e', event)\n"
	"redis.call('PUBLISH', channel, seq .. ' ' .. event)\n"
	"return {'ok', nv, seq, doc, v and 0 or 1}\n";

enum write_key { WK_DOC, WK_META, WK_INDEX, WK_LOG, WK__MAX };
enum write_arg { WA_ID, WA_COLLECTION, WA_MODE, WA_EXPECT, WA_BODY, WA_NOW, WA_LOG_LEN,
		 WA_CHANNEL, WA_OWNER, WA_OWNER_PREFIX, WA__MAX };

/* Deletes; owner_req as for writes. */
static const char script_delete[] =
	LUA_EVENT_NOTES
	"local doc_key, meta_key, index_key, log_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n"
	"local id, col, expect, log_len, channel, owner_req, owner_prefix = unpack(ARGV)\n"
	"local cur = redis.call('HMGET', meta_key, 'v', 'o')\n"
	"local v = tonumber(cur[1])\n"
	"if not v or (owner_req ~= '' and cur[2] ~= owner_req) then return {'missing'} end\n"
	"if expect ~= '' and expect ~= '*' and not string.find(expect, ',' .. v .. ',', 1, true) then\n"
	"  return {'conflict', v}\n"
	"end\n"
	"local prev = redis.call('GET', doc_key)\n"
	"redis.call('DEL', doc_key, meta_key)\n"
	"redis.call('ZREM', index_key, id)\n"
	"if cur[2] then redis.call('ZREM', owner_prefix .. cur[2], id) end\n"
	"local event = '{\"type\":\"deleted\",\"collection\":\"' .. col .. '\",\"id\":\"' .. id ..\n"
	"  '\",\"version\":' .. (v + 1) .. '}'\n"
	"event = event .. notes(cur[2], prev)\n"
	"local seq = redis.call('XADD', log_key, 'MAXLEN', '~', log_len, '*', 'e', event)\n"
	"redis.call('PUBLISH', channel, seq .. ' ' .. event)\n"
	"return {'ok', v + 1, seq}\n";

enum delete_arg { DA_ID, DA_COLLECTION, DA_EXPECT, DA_LOG_LEN, DA_CHANNEL, DA_OWNER,
		  DA_OWNER_PREFIX, DA__MAX };

/* Reads one document with the log position. Returns {seq, version, json} or {seq}. */
static const char script_get[] =
	"local doc_key, meta_key, log_key = KEYS[1], KEYS[2], KEYS[3]\n"
	"local owner_req = ARGV[1]\n"
	"local last = redis.call('XREVRANGE', log_key, '+', '-', 'COUNT', 1)\n"
	"local seq = last[1] and last[1][1] or '0-0'\n"
	"local cur = redis.call('HMGET', meta_key, 'v', 'o')\n"
	"if not cur[1] or (owner_req ~= '' and cur[2] ~= owner_req) then return {seq} end\n"
	"return {seq, tonumber(cur[1]), redis.call('GET', doc_key)}\n";

enum get_key { GK_DOC, GK_META, GK_LOG, GK__MAX };

/*
 * Lists. index is the collection's index, or an owner's. Returns {seq,
 * next id or "", json...}. Documents are fetched with one MGET per 25 ids
 * (a call per document cost several times more), so at most 25 documents
 * sit in the script's memory beyond the page itself. A page stops early,
 * after at least one document, when the next one would take it past the
 * byte cap; "next" then points at its last document. The documents' keys
 * share the collection's hash tag, so reading them here stays within one
 * slot.
 */
static const char script_list[] =
	"local index_key, log_key = KEYS[1], KEYS[2]\n"
	"local doc_prefix, after, limit, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])\n"
	"local min = after == '' and '-' or '(' .. after\n"
	"local ids = redis.call('ZRANGEBYLEX', index_key, min, '+', 'LIMIT', 0, limit + 1)\n"
	"local last = redis.call('XREVRANGE', log_key, '+', '-', 'COUNT', 1)\n"
	"local out = {last[1] and last[1][1] or '0-0', ''}\n"
	"local n, bytes, prev, i = math.min(#ids, limit), 0, '', 1\n"
	"while i <= n do\n"
	"  local keys = {}\n"
	"  for k = i, math.min(i + 24, n) do keys[#keys + 1] = doc_prefix .. ids[k] end\n"
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

enum list_key { LK_INDEX, LK_LOG, LK__MAX };
enum list_arg { LA_DOC_PREFIX, LA_AFTER, LA_LIMIT, LA_BYTE_CAP, LA__MAX };

/*
 * Filtered lists (SPEC section 8) read the index in batches: up to count
 * ids after the cursor, their documents fetched with one MGET per 100,
 * stopping early (after at least one document) past cap bytes, so every
 * call is bounded in time and in reply size. Returns {seq or "", the last
 * id read, 1 when ids follow it else 0, ids read, json...}. The first
 * batch asks for the log position (want_seq "1"), taken atomically with
 * it. An id whose document is missing is read but yields no json.
 */
static const char script_scan[] =
	"local index_key, log_key = KEYS[1], KEYS[2]\n"
	"local doc_prefix, after, count, cap, want_seq = ARGV[1], ARGV[2], tonumber(ARGV[3]),\n"
	"  tonumber(ARGV[4]), ARGV[5]\n"
	"local min = after == '' and '-' or '(' .. after\n"
	"local ids = redis.call('ZRANGEBYLEX', index_key, min, '+', 'LIMIT', 0, count + 1)\n"
	"local seq = ''\n"
	"if want_seq == '1' then\n"
	"  local last = redis.call('XREVRANGE', log_key, '+', '-', 'COUNT', 1)\n"
	"  seq = last[1] and last[1][1] or '0-0'\n"
	"end\n"
	"local n = math.min(#ids, count)\n"
	"local out = {seq, '', #ids > count and 1 or 0, 0}\n"
	"local bytes, i = 0, 1\n"
	"while i <= n do\n"
	"  local keys = {}\n"
	"  for k = i, math.min(i + 99, n) do keys[#keys + 1] = doc_prefix .. ids[k] end\n"
	"  local docs = redis.call('MGET', unpack(keys))\n"
	"  for k = 1, #keys do\n"
	"    local j = docs[k]\n"
	"    if j then bytes = bytes + #j; out[#out + 1] = j end\n"
	"    out[2] = ids[i + k - 1]; out[4] = i + k - 1\n"
	"    if bytes > cap and i + k - 1 < #ids then out[3] = 1; return out end\n"
	"  end\n"
	"  i = i + #keys\n"
	"end\n"
	"return out\n";

enum scan_arg { SA_DOC_PREFIX, SA_AFTER, SA_COUNT, SA_BYTE_CAP, SA_WANT_SEQ, SA__MAX };

static const char *const scripts[REST_SCRIPT__MAX] = {
	[REST_SCRIPT_SCAN] = script_scan,
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

/* One script call: its KEYS and ARGV slots (lens NULL = NUL-terminated strings). */
struct script_call {
	enum rest_script which;
	int nkeys, nargs;
	const char *const *keys;
	const char *const *args;
	const size_t *arg_lens;
};

static redisReply *run_script(struct rest_store *store, const struct script_call *call,
			      struct rest_store_result *res, int *rc)
{
	const char *argv[MAX_SCRIPT_ARGS + 3];
	size_t argvlen[MAX_SCRIPT_ARGS + 3];
	char nkeys_str[8];
	redisReply *r = NULL;
	int n = 3;

	memset(res, 0, sizeof(*res));
	res->version = -1;
	if ((*rc = store_connect(store)) < 0)
		return NULL;
	snprintf(nkeys_str, sizeof(nkeys_str), "%d", call->nkeys);
	argv[0] = "EVALSHA";
	argvlen[0] = 7;
	argv[2] = nkeys_str;
	argvlen[2] = strlen(nkeys_str);
	for (int i = 0; i < call->nkeys; i++, n++) {
		argv[n] = call->keys[i];
		argvlen[n] = strlen(call->keys[i]);
	}
	for (int i = 0; i < call->nargs; i++, n++) {
		argv[n] = call->args[i];
		argvlen[n] = call->arg_lens ? call->arg_lens[i] : strlen(call->args[i]);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		argv[1] = store->sha[call->which];
		argvlen[1] = 40;
		r = redisCommandArgv(store->conn, n, argv, argvlen);
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

/* The keys and key prefixes of a collection (and of one document when id is given). */
struct coll_keys {
	char doc[TND_KEY_MAX + TND_DOC_ID_MAX];
	char meta[TND_KEY_MAX + TND_DOC_ID_MAX];
	char index[TND_KEY_MAX];
	char log[TND_KEY_MAX];
	char channel[TND_KEY_MAX];
	char owner_prefix[TND_KEY_MAX];
	char owner_index[TND_KEY_MAX + TND_SUB_MAX]; /* when an owner is given */
};

/* Fills k. Returns 0, or TND_ETOOLONG (cannot happen for valid names). */
static int make_keys(struct rest_store *store, const char *collection, const char *id,
		     const char *owner, struct coll_keys *k, struct rest_store_result *res)
{
	const char *ns = store->cfg->ns;
	size_t col_len = strlen(collection);
	int n, o;

	n = tnd_key(k->doc, TND_KEY_MAX, TND_KEY_DOC_PREFIX, ns, collection, col_len);
	o = tnd_key(k->owner_prefix, sizeof(k->owner_prefix), TND_KEY_OWNER_PREFIX, ns, collection,
		    col_len);
	if (n < 0 || o < 0 ||
	    tnd_key(k->meta, TND_KEY_MAX, TND_KEY_META_PREFIX, ns, collection, col_len) != n ||
	    tnd_key(k->index, sizeof(k->index), TND_KEY_INDEX, ns, collection, col_len) < 0 ||
	    tnd_key(k->log, sizeof(k->log), TND_KEY_LOG, ns, collection, col_len) < 0 ||
	    tnd_key(k->channel, sizeof(k->channel), TND_KEY_CHANNEL, ns, collection, col_len) < 0 ||
	    (owner && strlen(owner) > TND_SUB_MAX)) {
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
	snprintf(k->owner_index, sizeof(k->owner_index), "%s%s", k->owner_prefix, owner ? owner : "");
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

int rest_store_write(struct rest_store *store, const struct rest_store_doc *d,
		     enum rest_write_mode mode, const char *expect, const char *body,
		     size_t body_len, const char *now, struct rest_store_result *res)
{
	static const char *const mode_names[] = {"create", "put", "patch"};
	struct coll_keys k;
	char log_len[24];
	const char *keys[WK__MAX], *args[WA__MAX];
	size_t lens[WA__MAX];
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, d->collection, d->id, d->owner, &k, res)) < 0)
		return rc;
	snprintf(log_len, sizeof(log_len), "%lld", store->cfg->log_len);
	keys[WK_DOC] = k.doc;
	keys[WK_META] = k.meta;
	keys[WK_INDEX] = k.index;
	keys[WK_LOG] = k.log;
	args[WA_ID] = d->id;
	args[WA_COLLECTION] = d->collection;
	args[WA_MODE] = mode_names[mode];
	args[WA_EXPECT] = expect;
	args[WA_BODY] = body;
	args[WA_NOW] = now;
	args[WA_LOG_LEN] = log_len;
	args[WA_CHANNEL] = k.channel;
	args[WA_OWNER] = d->owner ? d->owner : "";
	args[WA_OWNER_PREFIX] = k.owner_prefix;
	for (int i = 0; i < WA__MAX; i++)
		lens[i] = i == WA_BODY ? body_len : strlen(args[i]);
	r = run_script(store, &(struct script_call){REST_SCRIPT_WRITE, WK__MAX, WA__MAX, keys, args, lens},
		       res, &rc);
	return r ? read_write_reply(store, r, res) : rc;
}

int rest_store_delete(struct rest_store *store, const struct rest_store_doc *d,
		      const char *expect, struct rest_store_result *res)
{
	struct coll_keys k;
	char log_len[24];
	const char *keys[WK__MAX], *args[DA__MAX];
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, d->collection, d->id, d->owner, &k, res)) < 0)
		return rc;
	snprintf(log_len, sizeof(log_len), "%lld", store->cfg->log_len);
	keys[WK_DOC] = k.doc;
	keys[WK_META] = k.meta;
	keys[WK_INDEX] = k.index;
	keys[WK_LOG] = k.log;
	args[DA_ID] = d->id;
	args[DA_COLLECTION] = d->collection;
	args[DA_EXPECT] = expect;
	args[DA_LOG_LEN] = log_len;
	args[DA_CHANNEL] = k.channel;
	args[DA_OWNER] = d->owner ? d->owner : "";
	args[DA_OWNER_PREFIX] = k.owner_prefix;
	r = run_script(store, &(struct script_call){REST_SCRIPT_DELETE, WK__MAX, DA__MAX, keys, args, NULL},
		       res, &rc);
	return r ? read_write_reply(store, r, res) : rc;
}

int rest_store_get(struct rest_store *store, const struct rest_store_doc *d,
		   struct rest_store_result *res)
{
	struct coll_keys k;
	const char *keys[GK__MAX], *args[1];
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, d->collection, d->id, d->owner, &k, res)) < 0)
		return rc;
	keys[GK_DOC] = k.doc;
	keys[GK_META] = k.meta;
	keys[GK_LOG] = k.log;
	args[0] = d->owner ? d->owner : "";
	r = run_script(store, &(struct script_call){REST_SCRIPT_GET, GK__MAX, 1, keys, args, NULL}, res, &rc);
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

int rest_store_list(struct rest_store *store, const struct rest_store_doc *d, const char *after,
		    long long limit, struct rest_store_result *res)
{
	struct coll_keys k;
	char limit_str[24], cap_str[24];
	const char *keys[LK__MAX], *args[LA__MAX];
	redisReply *r;
	int rc;

	if ((rc = make_keys(store, d->collection, NULL, d->owner, &k, res)) < 0)
		return rc;
	snprintf(limit_str, sizeof(limit_str), "%lld", limit);
	snprintf(cap_str, sizeof(cap_str), "%d", TND_LIST_PAGE_BYTES);
	keys[LK_INDEX] = d->owner ? k.owner_index : k.index;
	keys[LK_LOG] = k.log;
	args[LA_DOC_PREFIX] = k.doc;
	args[LA_AFTER] = after ? after : "";
	args[LA_LIMIT] = limit_str;
	args[LA_BYTE_CAP] = cap_str;
	r = run_script(store, &(struct script_call){REST_SCRIPT_LIST, LK__MAX, LA__MAX, keys, args, NULL},
		       res, &rc);
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

int rest_store_scan(struct rest_store *store, const struct rest_store_doc *d, const char *after,
		    long long count, bool want_seq, struct rest_store_scan *out)
{
	struct coll_keys k;
	char count_str[24], cap_str[24];
	const char *keys[LK__MAX], *args[SA__MAX];
	redisReply *r;
	long long more, used;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = make_keys(store, d->collection, NULL, d->owner, &k, &out->res)) < 0)
		return rc;
	snprintf(count_str, sizeof(count_str), "%lld", count);
	snprintf(cap_str, sizeof(cap_str), "%d", REST_SCAN_BATCH_BYTES);
	keys[LK_INDEX] = d->owner ? k.owner_index : k.index;
	keys[LK_LOG] = k.log;
	args[SA_DOC_PREFIX] = k.doc;
	args[SA_AFTER] = after ? after : "";
	args[SA_COUNT] = count_str;
	args[SA_BYTE_CAP] = cap_str;
	args[SA_WANT_SEQ] = want_seq ? "1" : "0";
	r = run_script(store, &(struct script_call){REST_SCRIPT_SCAN, LK__MAX, SA__MAX, keys, args, NULL},
		       &out->res, &rc);
	if (!r)
		return rc;
	out->res.reply = r;
	out->res.seq = elem_str(r, 0, NULL);
	out->last_id = elem_str(r, 1, NULL);
	more = elem_int(r, 2);
	used = elem_int(r, 3);
	if (!out->res.seq || !out->last_id || more < 0 || used < 0)
		return bad_reply(store, "scan script");
	for (size_t i = 4; i < r->elements; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			return bad_reply(store, "scan script");
	out->more = more == 1;
	out->ids_read = used;
	out->first_doc = 4;
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
