/*
 * rest_store: see rest_store.h. Runs on one worker thread per store.
 */
#include "rest_store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tnd_cluster.h"
#include "tnd_error.h"
#include "tnd_keys.h"
#include "tnd_valid.h"


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

#define LUA_WRITE(pub) \
	LUA_EVENT_NOTES \
	"local doc_key, meta_key, index_key, log_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n" \
	"local id, col, mode, expect, body, now, log_len, channel, owner_req, owner_prefix = unpack(ARGV)\n" \
	"local cur = redis.call('HMGET', meta_key, 'v', 'c', 'o')\n" \
	"local v = tonumber(cur[1])\n" \
	"if v and owner_req ~= '' and cur[3] ~= owner_req then return {'missing'} end\n" \
	"if mode == 'create' and v then return {'exists', v} end\n" \
	"if mode == 'patch' and not v then return {'missing'} end\n" \
	"if expect ~= '' then\n" \
	"  if not v then return {'conflict', -1} end\n" \
	"  if expect ~= '*' and not string.find(expect, ',' .. v .. ',', 1, true) then\n" \
	"    return {'conflict', v}\n" \
	"  end\n" \
	"end\n" \
	"local owner = cur[3]\n" \
	"if not v and owner_req ~= '' then owner = owner_req end\n" \
	"local created = cur[2] or now\n" \
	"local nv = (v or 0) + 1\n" \
	"local doc = '{\"id\":\"' .. id .. '\",\"version\":' .. nv .. ',\"created_at\":\"' ..\n" \
	"  created .. '\",\"updated_at\":\"' .. now .. '\"'\n" \
	"if owner then doc = doc .. ',\"owner\":\"' .. owner .. '\"' end\n" \
	"if body == '{}' then doc = doc .. '}' else doc = doc .. ',' .. string.sub(body, 2) end\n" \
	"if owner then\n" \
	"  redis.call('HSET', meta_key, 'v', nv, 'c', created, 'o', owner)\n" \
	"  if not v then redis.call('ZADD', owner_prefix .. owner, 0, id) end\n" \
	"else\n" \
	"  redis.call('HSET', meta_key, 'v', nv, 'c', created)\n" \
	"end\n" \
	"local prev = v and redis.call('GET', doc_key)\n" \
	"redis.call('SET', doc_key, doc)\n" \
	"redis.call('ZADD', index_key, 0, id)\n" \
	"local event = '{\"type\":\"' .. (v and 'updated' or 'created') .. '\",\"collection\":\"' ..\n" \
	"  col .. '\",\"id\":\"' .. id .. '\",\"version\":' .. nv .. ',\"doc\":' .. doc .. '}'\n" \
	"event = event .. notes(owner, prev)\n" \
	"local seq = redis.call('XADD', log_key, 'MAXLEN', '~', log_len, '*', 'e', event)\n" \
	"redis.call('" pub "', channel, seq .. ' ' .. event)\n" \
	"return {'ok', nv, seq, doc, v and 0 or 1}\n"

enum write_key { WK_DOC, WK_META, WK_INDEX, WK_LOG, WK__MAX };
enum write_arg { WA_ID, WA_COLLECTION, WA_MODE, WA_EXPECT, WA_BODY, WA_NOW, WA_LOG_LEN,
		 WA_CHANNEL, WA_OWNER, WA_OWNER_PREFIX, WA__MAX };

/* Deletes; owner_req as for writes. */
#define LUA_DELETE(pub) \
	LUA_EVENT_NOTES \
	"local doc_key, meta_key, index_key, log_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n" \
	"local id, col, expect, log_len, channel, owner_req, owner_prefix = unpack(ARGV)\n" \
	"local cur = redis.call('HMGET', meta_key, 'v', 'o')\n" \
	"local v = tonumber(cur[1])\n" \
	"if not v or (owner_req ~= '' and cur[2] ~= owner_req) then return {'missing'} end\n" \
	"if expect ~= '' and expect ~= '*' and not string.find(expect, ',' .. v .. ',', 1, true) then\n" \
	"  return {'conflict', v}\n" \
	"end\n" \
	"local prev = redis.call('GET', doc_key)\n" \
	"redis.call('DEL', doc_key, meta_key)\n" \
	"redis.call('ZREM', index_key, id)\n" \
	"if cur[2] then redis.call('ZREM', owner_prefix .. cur[2], id) end\n" \
	"local event = '{\"type\":\"deleted\",\"collection\":\"' .. col .. '\",\"id\":\"' .. id ..\n" \
	"  '\",\"version\":' .. (v + 1) .. '}'\n" \
	"event = event .. notes(cur[2], prev)\n" \
	"local seq = redis.call('XADD', log_key, 'MAXLEN', '~', log_len, '*', 'e', event)\n" \
	"redis.call('" pub "', channel, seq .. ' ' .. event)\n" \
	"return {'ok', v + 1, seq}\n"

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

/*
 * Two script sets: a single server publishes with PUBLISH; a cluster with
 * SPUBLISH, whose channel {ns:col} is in the slot of the script's keys
 * (sharded pub/sub: the event reaches only the collection's shard).
 */
static const char *const scripts[2][REST_SCRIPT__MAX] = {
	{
		[REST_SCRIPT_SCAN] = script_scan,
		[REST_SCRIPT_WRITE] = LUA_WRITE("PUBLISH"),
		[REST_SCRIPT_DELETE] = LUA_DELETE("PUBLISH"),
		[REST_SCRIPT_GET] = script_get,
		[REST_SCRIPT_LIST] = script_list,
	},
	{
		[REST_SCRIPT_SCAN] = script_scan,
		[REST_SCRIPT_WRITE] = LUA_WRITE("SPUBLISH"),
		[REST_SCRIPT_DELETE] = LUA_DELETE("SPUBLISH"),
		[REST_SCRIPT_GET] = script_get,
		[REST_SCRIPT_LIST] = script_list,
	},
};

void rest_store_init(struct rest_store *store, const struct rest_store_config *cfg)
{
	memset(store, 0, sizeof(*store));
	store->cfg = cfg;
	store->rand_state = (unsigned)(uintptr_t)store ^ (unsigned)time(NULL);
}

void rest_store_close(struct rest_store *store)
{
	rest_cluster_link_close(&store->single);
	rest_cluster_free(store->route);
	store->route = NULL;
	store->last = NULL;
}

void rest_store_result_free(struct rest_store_result *res)
{
	if (res->reply)
		freeReplyObject(res->reply);
	res->reply = NULL;
}

/* SCRIPT LOAD of every script on l (its sha is the same on every node). */
static int load_scripts(struct rest_store *store, struct rest_cluster_link *l)
{
	const char *const *set = scripts[store->cfg->cluster != NULL];

	atomic_fetch_add_explicit(&store->cfg->metrics->script_loads, 1, memory_order_relaxed);
	for (int i = 0; i < REST_SCRIPT__MAX; i++) {
		redisReply *r = redisCommand(l->conn, "SCRIPT LOAD %s", set[i]);

		if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
			snprintf(store->errstr, sizeof(store->errstr), "SCRIPT LOAD: %s",
				 r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
				   : l->conn->errstr);
			if (r)
				freeReplyObject(r);
			return -1;
		}
		memcpy(store->sha[i], r->str, 41);
		freeReplyObject(r);
	}
	return 0;
}

/* A link just connected gets the scripts. Returns 0 or TND_EUNAVAIL (link closed, backing off). */
static int prepare_link(struct rest_store *store, struct rest_cluster_link *l)
{
	if (!l->fresh)
		return 0;
	atomic_fetch_add_explicit(&store->cfg->metrics->redis_connects, 1, memory_order_relaxed);
	if (load_scripts(store, l) < 0) {
		rest_cluster_link_failed(l);
		return TND_EUNAVAIL;
	}
	l->fresh = false;
	return 0;
}

/* Makes sure the single-node link is usable. Returns 0 or TND_EUNAVAIL. */
static int store_connect(struct rest_store *store)
{
	int rc = rest_cluster_link_connect(&store->single, store->cfg->addr,
					 (int)store->cfg->timeout_ms, store->errstr,
					 sizeof(store->errstr));

	return rc < 0 ? rc : prepare_link(store, &store->single);
}

#define MAX_SCRIPT_ARGS 16

/* One script call: its KEYS and ARGV slots (lens NULL = NUL-terminated strings). */
struct script_call {
	enum rest_script which;
	int nkeys, nargs;
	const char *const *keys;
	const char *const *args;
	const size_t *arg_lens;
};

/* The EVALSHA command of a call, as an argv (argv[1], the sha, filled when sent). */
struct script_argv {
	int n;
	const char *argv[MAX_SCRIPT_ARGS + 3];
	size_t lens[MAX_SCRIPT_ARGS + 3];
	char nkeys[8];
};

static void build_argv(const struct script_call *call, struct script_argv *a)
{
	snprintf(a->nkeys, sizeof(a->nkeys), "%d", call->nkeys);
	a->argv[0] = "EVALSHA";
	a->lens[0] = 7;
	a->argv[2] = a->nkeys;
	a->lens[2] = strlen(a->nkeys);
	a->n = 3;
	for (int i = 0; i < call->nkeys; i++, a->n++) {
		a->argv[a->n] = call->keys[i];
		a->lens[a->n] = strlen(call->keys[i]);
	}
	for (int i = 0; i < call->nargs; i++, a->n++) {
		a->argv[a->n] = call->args[i];
		a->lens[a->n] = call->arg_lens ? call->arg_lens[i] : strlen(call->args[i]);
	}
}

/* ASKING then the command, in one round trip; the reply to ASKING is dropped. */
static redisReply *send_asking(redisContext *c, struct script_argv *a)
{
	void *ok = NULL, *r = NULL;

	if (redisAppendCommand(c, "ASKING") != REDIS_OK ||
	    redisAppendCommandArgv(c, a->n, a->argv, a->lens) != REDIS_OK ||
	    redisGetReply(c, &ok) != REDIS_OK)
		return NULL;
	freeReplyObject(ok);
	if (redisGetReply(c, &r) != REDIS_OK)
		return NULL;
	return r;
}

/*
 * EVALSHA on l (after ASKING when asking), loading the scripts again on
 * NOSCRIPT (Redis restarted, SCRIPT FLUSH, a promoted replica). Returns
 * the reply, error replies included; NULL with *io set when the link
 * failed (closed here), or with *io clear when the scripts cannot be
 * loaded. The reason is in store->errstr.
 */
static redisReply *eval_on(struct rest_store *store, struct rest_cluster_link *l, struct script_argv *a,
			   enum rest_script which, bool asking, bool *io)
{
	redisReply *r = NULL;

	*io = false;
	for (int attempt = 0; attempt < 2; attempt++) {
		a->argv[1] = store->sha[which];
		a->lens[1] = 40;
		r = asking ? send_asking(l->conn, a) : redisCommandArgv(l->conn, a->n, a->argv, a->lens);
		if (!r) {
			snprintf(store->errstr, sizeof(store->errstr), "redis: %s", l->conn->errstr);
			rest_cluster_link_close(l);
			*io = true;
			return NULL;
		}
		if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0)
			break;
		freeReplyObject(r);
		r = NULL;
		if (load_scripts(store, l) < 0)
			break;
	}
	return r;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

/*
 * Attempts per request on a cluster. The Redis timeout is the real bound
 * (a TRYAGAIN backoff reaches it after about 10 waits); the cap only stops
 * a loop of instant redirections (an ASK counts as one more attempt).
 */
#define CLUSTER_ATTEMPTS_MAX 32

/*
 * What a cluster's answer asks for: NONE when r is the answer (error
 * replies other than redirections included), else the redirection, with
 * *ask filled for ASK. Frees r unless it is the answer.
 */
static enum tnd_cluster_redir follow(struct rest_store *store, struct rest_cluster_link *l, redisReply *r,
				     int slot, struct tnd_cluster_redirect *ask)
{
	struct tnd_cluster_redirect red;
	int kind;

	if (r->type != REDIS_REPLY_ERROR)
		return TND_CLUSTER_REDIR_NONE;
	kind = tnd_cluster_redirect_parse(r->str, r->len, &red);
	if (kind <= TND_CLUSTER_REDIR_NONE)
		return TND_CLUSTER_REDIR_NONE; /* an ordinary error, or a redirection we cannot read */
	snprintf(store->errstr, sizeof(store->errstr), "cluster: slot %d: %s", slot, r->str);
	freeReplyObject(r);
	if (kind == TND_CLUSTER_REDIR_MOVED)
		rest_cluster_moved(store->route, &red, l);
	if (kind == TND_CLUSTER_REDIR_CLUSTERDOWN)
		store->route->refresh_due = true;
	if (kind == TND_CLUSTER_REDIR_ASK) {
		*ask = red;
		if (red.same_host || !red.host[0])
			snprintf(ask->host, sizeof(ask->host), "%s", l->host);
	}
	return (enum tnd_cluster_redir)kind;
}

/*
 * One attempt of a cluster call: on the ASK target when ask is an ASK,
 * else on the slot's master. Returns the answer, or NULL with *kind the
 * redirection to follow (NONE: the node did not answer). *unknown is set
 * when a write was sent and its outcome is unknown (never retried).
 */
static redisReply *attempt_routed(struct rest_store *store, struct script_argv *a,
				  enum rest_script which, int slot, struct tnd_cluster_redirect *ask,
				  enum tnd_cluster_redir *kind, bool *unknown)
{
	bool asking = ask->kind == TND_CLUSTER_REDIR_ASK, io;
	struct rest_cluster_link *l;
	redisReply *r;

	ask->kind = TND_CLUSTER_REDIR_NONE; /* an ASK is followed once */
	*kind = TND_CLUSTER_REDIR_NONE;
	l = asking ? rest_cluster_node(store->route, ask->host, ask->port, store->errstr,
				     sizeof(store->errstr))
		   : rest_cluster_master(store->route, slot, store->errstr, sizeof(store->errstr));
	if (!l || prepare_link(store, l) < 0) {
		store->route->refresh_due = true;
		return NULL;
	}
	r = eval_on(store, l, a, which, asking, &io);
	if (!r) {
		*unknown = io && (which == REST_SCRIPT_WRITE || which == REST_SCRIPT_DELETE);
		store->route->refresh_due = true;
		return NULL;
	}
	*kind = follow(store, l, r, slot, ask);
	if (*kind != TND_CLUSTER_REDIR_NONE)
		return NULL;
	store->last = l;
	return r;
}

/*
 * Runs a call on a cluster: at the master of the slot of its first key
 * (every key of a collection has the collection's slot), following
 * redirections under one bounded retry policy (docs/CLUSTER.md). A
 * redirected or refused script did not run, so retrying it is safe; a
 * write whose link failed after sending is not retried (its outcome is
 * unknown): TND_EUNAVAIL, as on a single server.
 */
static redisReply *run_routed(struct rest_store *store, struct script_argv *a,
			      const struct script_call *call, int *rc)
{
	struct tnd_cluster_redirect ask = {.kind = TND_CLUSTER_REDIR_NONE};
	struct tnd_cluster_retry retry;
	int slot = tnd_cluster_keyslot(call->keys[0], strlen(call->keys[0]));

	if (!store->route && !(store->route = rest_cluster_new(store->cfg->cluster,
							     (int)store->cfg->timeout_ms))) {
		snprintf(store->errstr, sizeof(store->errstr), "out of memory");
		*rc = TND_EUNAVAIL;
		return NULL;
	}
	rest_cluster_begin(store->route);
	tnd_cluster_retry_init(&retry, mono_ms(), (int)store->cfg->timeout_ms, CLUSTER_ATTEMPTS_MAX);
	for (;;) {
		enum tnd_cluster_redir kind;
		bool unknown = false;
		redisReply *r = attempt_routed(store, a, call->which, slot, &ask, &kind, &unknown);
		int wait;

		if (r)
			return r;
		if (unknown)
			break;
		/* After an ASK, ask names the node for the next attempt (follow()). */
		wait = tnd_cluster_retry_next(&retry, mono_ms(), kind, (unsigned)rand_r(&store->rand_state));
		if (wait < 0)
			break;
		if (wait > 0)
			sleep_ms(wait);
	}
	*rc = TND_EUNAVAIL;
	return NULL;
}

/*
 * Runs a script with EVALSHA, on the one server or the collection's
 * cluster node. Returns the reply (an array; caller frees), or NULL with
 * *rc set (TND_EUNAVAIL or TND_EPROTO) and store->errstr.
 */
static redisReply *run_script(struct rest_store *store, const struct script_call *call,
			      struct rest_store_result *res, int *rc)
{
	struct script_argv a;
	redisReply *r = NULL;
	bool io;

	memset(res, 0, sizeof(*res));
	res->version = -1;
	build_argv(call, &a);
	if (store->cfg->cluster) {
		if (!(r = run_routed(store, &a, call, rc)))
			return NULL;
	} else {
		if ((*rc = store_connect(store)) < 0)
			return NULL;
		r = eval_on(store, &store->single, &a, call->which, false, &io);
		if (!r && io) {
			*rc = TND_EUNAVAIL;
			return NULL;
		}
		store->last = &store->single;
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

/*
 * WAIT for cfg->wait_replicas replicas on the node the write ran on,
 * bounded below the command timeout. Returns 0, or TND_ENOTREPL: fewer
 * confirmed, or WAIT failed (a demoted master answers with an error: the
 * owner is looked up again before the next request).
 */
static int wait_replicas(struct rest_store *store)
{
	long long want = store->cfg->wait_replicas, ms = store->cfg->timeout_ms * 3 / 4;
	struct rest_cluster_link *l = store->last;
	redisReply *r;
	int rc = TND_ENOTREPL;

	if (want <= 0)
		return 0;
	if (!l || !l->conn) {
		snprintf(store->errstr, sizeof(store->errstr), "WAIT: the write's connection is gone");
		return TND_ENOTREPL;
	}
	r = redisCommand(l->conn, "WAIT %lld %lld", want, ms > 0 ? ms : 1);
	if (!r) {
		snprintf(store->errstr, sizeof(store->errstr), "WAIT: %s", l->conn->errstr);
		rest_cluster_link_close(l);
		return TND_ENOTREPL;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= want)
		rc = 0;
	else if (r->type == REDIS_REPLY_INTEGER)
		snprintf(store->errstr, sizeof(store->errstr), "WAIT: %lld of %lld replicas confirmed",
			 r->integer, want);
	else
		snprintf(store->errstr, sizeof(store->errstr), "WAIT: %s",
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	if (r->type != REDIS_REPLY_INTEGER && store->route)
		store->route->refresh_due = true;
	freeReplyObject(r);
	return rc;
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
	if (!r)
		return rc;
	rc = read_write_reply(store, r, res);
	return rc == 0 ? wait_replicas(store) : rc;
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
	if (!r)
		return rc;
	rc = read_write_reply(store, r, res);
	return rc == 0 ? wait_replicas(store) : rc;
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

/* PING on l; 0 or a TND_E* code. */
static int ping_link(struct rest_store *store, struct rest_cluster_link *l)
{
	redisReply *r = redisCommand(l->conn, "PING");
	int rc;

	if (!r) {
		snprintf(store->errstr, sizeof(store->errstr), "redis: %s", l->conn->errstr);
		rest_cluster_link_close(l);
		return TND_EUNAVAIL;
	}
	rc = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0 ? 0 : bad_reply(store, "PING");
	freeReplyObject(r);
	return rc;
}

/* A cluster is reachable when every master of its map answers (a collection lives on each). */
static int ping_cluster(struct rest_store *store)
{
	struct rest_cluster_link *masters[REST_CLUSTER_LINKS_MAX];
	int n, rc;

	if (!store->route && !(store->route = rest_cluster_new(store->cfg->cluster,
							     (int)store->cfg->timeout_ms))) {
		snprintf(store->errstr, sizeof(store->errstr), "out of memory");
		return TND_EUNAVAIL;
	}
	n = rest_cluster_masters(store->route, masters, REST_CLUSTER_LINKS_MAX, store->errstr,
			       sizeof(store->errstr));
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < REST_CLUSTER_LINKS_MAX; i++) {
		if (!masters[i]->conn || prepare_link(store, masters[i]) < 0) {
			store->route->refresh_due = true;
			return TND_EUNAVAIL;
		}
		if ((rc = ping_link(store, masters[i])) < 0) {
			store->route->refresh_due = true;
			return rc;
		}
	}
	return 0;
}

int rest_store_ping(struct rest_store *store)
{
	int rc;

	if (store->cfg->cluster)
		return ping_cluster(store);
	if ((rc = store_connect(store)) < 0)
		return rc;
	return ping_link(store, &store->single);
}
