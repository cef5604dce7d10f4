/*
 * rest_handlers: see rest_handlers.h.
 */
#include "rest_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "rest_json.h"
#include "rest_query.h"
#include "rest_router.h"
#include "tnd_auth.h"
#include "tnd_list.h"
#include "tnd_log.h"
#include "tnd_num.h"

/*
 * How long an unconditional PATCH keeps merging again after losing the
 * compare-and-set to other writers. A lost round means another write of
 * the document succeeded, so among a burst of N concurrent writes none
 * loses more than N - 1 rounds: only an endless stream of writes to one
 * document can exhaust this (then 503, well inside nginx's 30 s).
 */
#define PATCH_RETRY_MS 10000
#define PATCH_BACKOFF_MAX_US 2000 /* random pause after a lost round, to decorrelate writers */

static const char *const retry_after = "Retry-After: 1\r\n";

/* Parses `"N"`, or a bare N as lenient clients send; weak tags are refused. */
static int tag_version(const char *tag, size_t len, long long *version)
{
	if (len >= 2 && tag[0] == '"' && tag[len - 1] == '"') {
		tag++;
		len -= 2;
	}
	return tnd_num_parse(tag, len, 1, (long long)1 << 53, version);
}

struct expect_builder {
	char *out;
	size_t size, len;
	bool any, overflow;
};

static bool add_expect_tag(const char *tag, size_t len, void *data)
{
	struct expect_builder *b = data;
	long long v;
	int n;

	if (len == 1 && tag[0] == '*') {
		b->any = true;
		return true;
	}
	if (tag_version(tag, len, &v) < 0)
		return false;
	n = snprintf(b->out + b->len, b->size - b->len, "%lld,", v);
	if (n < 0 || (size_t)n >= b->size - b->len) {
		b->overflow = true;
		return true;
	}
	b->len += (size_t)n;
	return false;
}

void rest_if_match_expect(const char *header, char *out, size_t size)
{
	struct expect_builder b = {.out = out, .size = size, .len = 1};

	out[0] = '\0';
	if (!header || !*header)
		return;
	out[0] = ',';
	out[1] = '\0';
	tnd_list_each(header, add_expect_tag, &b);
	if (b.any)
		snprintf(out, size, "*");
	else if (b.overflow)
		snprintf(out, size, ",");
}

static bool tag_matches_weakly(const char *tag, size_t len, void *data)
{
	long long v, want = *(const long long *)data;

	if (len == 1 && tag[0] == '*')
		return true;
	if (len > 2 && tag[0] == 'W' && tag[1] == '/') {
		tag += 2;
		len -= 2;
	}
	return tag_version(tag, len, &v) == 0 && v == want;
}

bool rest_if_none_match(const char *header, long long version)
{
	return tnd_list_each(header, tag_matches_weakly, &version);
}

bool rest_media_type_is(const char *content_type, const char *type)
{
	size_t len, tlen = strlen(type);

	if (!content_type)
		return false;
	while (*content_type == ' ')
		content_type++;
	len = strcspn(content_type, ";");
	while (len > 0 && content_type[len - 1] == ' ')
		len--;
	return len == tlen && strncasecmp(content_type, type, len) == 0;
}

/*
 * The instant of a write, read once per request: the ULID's time and the
 * document's created_at/updated_at are the same millisecond.
 */
struct request_clock {
	unsigned long long ms; /* since the epoch */
	char rfc3339[32];      /* RFC 3339 UTC with milliseconds */
};

static void request_clock_read(struct request_clock *c)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(c->rfc3339, sizeof(c->rfc3339), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(c->rfc3339 + n, sizeof(c->rfc3339) - n, ".%03ldZ", ts.tv_nsec / 1000000L);
	c->ms = (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)(ts.tv_nsec / 1000000L);
}

/*
 * The one place where a store result becomes an HTTP answer, and where
 * store trouble is logged (the store itself never logs). Returns true
 * when rc was a failure and has been answered. A Redis outage is logged
 * when it starts and when it ends, not on every refused request.
 */
static bool store_failed(struct rest_worker *w, struct rest_http *h, int rc,
			 const struct rest_store_result *res)
{
	if (rc != TND_EUNAVAIL && w->redis_down) {
		w->redis_down = false;
		tnd_log_info("worker %d req %lu: Redis is reachable again", w->index, h->id);
	}
	switch (rc) {
	case 0:
		return false;
	case TND_ENOTFOUND:
		rest_http_error(h, TND_ERR_NOT_FOUND, "no such document", -1, NULL);
		break;
	case TND_EEXIST:
		rest_http_error(h, TND_ERR_ALREADY_EXISTS, NULL, res->version, NULL);
		break;
	case TND_ECONFLICT:
		rest_http_error(h, TND_ERR_VERSION_CONFLICT,
				res->version < 0 ? "the document does not exist" : NULL,
				res->version, NULL);
		break;
	case TND_EUNAVAIL:
		atomic_fetch_add_explicit(&w->settings->metrics->redis_unavailable, 1, memory_order_relaxed);
		if (!w->redis_down) {
			w->redis_down = true;
			tnd_log_warn("worker %d req %lu: %s", w->index, h->id, w->store.errstr);
		}
		rest_http_error(h, TND_ERR_STORE_UNAVAILABLE, NULL, -1, retry_after);
		break;
	case TND_ENOTREPL: {
		/* Done and published: the version and seq let a retry be conditional. */
		char extra[128];

		tnd_log_warn("worker %d req %lu: %s", w->index, h->id, w->store.errstr);
		snprintf(extra, sizeof(extra), "ETag: \"%lld\"\r\nTandem-Seq: %s\r\n", res->version,
			 res->seq ? res->seq : "0-0");
		rest_http_error(h, TND_ERR_NOT_REPLICATED, NULL, -1, extra);
		break;
	}
	default:
		atomic_fetch_add_explicit(&w->settings->metrics->redis_protocol, 1, memory_order_relaxed);
		tnd_log_error("worker %d req %lu: %s: %s", w->index, h->id, tnd_strerror(rc),
			      w->store.errstr);
		rest_http_error(h, TND_ERR_INTERNAL, NULL, -1, NULL);
	}
	return true;
}

/*
 * Checks the Content-Type, reads the bounded body and parses it. Returns
 * the object (caller puts it) or NULL after answering the error.
 */
static struct json_object *read_json_body(struct rest_worker *w, struct rest_http *h,
					  bool merge_patch)
{
	const char *ct = rest_http_param(h, "CONTENT_TYPE");
	struct json_object *obj;
	enum tnd_err err;
	char msg[160];

	if (!rest_media_type_is(ct, "application/json") &&
	    !(merge_patch && rest_media_type_is(ct, "application/merge-patch+json"))) {
		rest_http_error(h, TND_ERR_UNSUPPORTED_MEDIA_TYPE,
				merge_patch ? "Content-Type must be application/json or "
					      "application/merge-patch+json"
					    : NULL,
				-1, NULL);
		return NULL;
	}
	if (rest_http_read_body(h, w->settings->max_body, &err) < 0) {
		if (err == TND_ERR_TOO_LARGE) {
			snprintf(msg, sizeof(msg), "the body is larger than %zu bytes",
				 w->settings->max_body);
			rest_http_error(h, err, msg, -1, NULL);
		} else {
			rest_http_error(h, err, err == TND_ERR_INVALID_JSON ? "the body is empty or cut short" : NULL, -1, NULL);
		}
		return NULL;
	}
	obj = rest_json_parse_body(h->body, h->body_len, &err, msg, sizeof(msg));
	if (!obj)
		rest_http_error(h, err, msg, -1, NULL);
	return obj;
}

/* 200 with the document, its ETag and the log position of the read. */
static void answer_doc(struct rest_http *h, const struct rest_store_result *res)
{
	char extra[128];

	snprintf(extra, sizeof(extra), "ETag: \"%lld\"\r\nTandem-Seq: %s\r\n", res->version,
		 res->seq);
	rest_http_json(h, 200, extra, res->doc, res->doc_len);
}

/* 200 or 201 (with Location) after a write. */
static void answer_written(struct rest_http *h, const char *collection, const char *id,
			   const struct rest_store_result *res)
{
	char extra[512];
	int status = res->created ? 201 : 200;
	int n = snprintf(extra, sizeof(extra), "ETag: \"%lld\"\r\nTandem-Seq: %s\r\n", res->version,
			 res->seq);

	if (res->created)
		snprintf(extra + n, sizeof(extra) - (size_t)n,
			 "Location: " REST_API_PREFIX "/%s/%s\r\n", collection, id);
	rest_http_json(h, status, extra, res->doc, res->doc_len);
}

/* Serializes obj (without server fields) and writes it at the request's instant. */
static int write_object(struct rest_worker *w, const struct request_clock *clock,
			const struct rest_store_doc *d, enum rest_write_mode mode,
			const char *expect, struct json_object *obj, struct rest_store_result *res)
{
	size_t len;
	const char *text = rest_json_plain(obj, &len);

	if (!text) {
		memset(res, 0, sizeof(*res));
		snprintf(w->store.errstr, sizeof(w->store.errstr), "cannot serialize the document");
		return TND_ENOMEM;
	}
	return rest_store_write(&w->store, d, mode, expect, text, len, clock->rfc3339, res);
}

static void handle_create(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d)
{
	struct rest_store_result res = {0};
	struct request_clock clock;
	struct rest_store_doc created;
	struct json_object *body;
	char id[TND_ULID_LEN + 1];

	body = read_json_body(w, h, false);
	if (!body)
		return;
	rest_json_strip_server_fields(body);
	request_clock_read(&clock);
	if (tnd_ulid_next(w->ulid, clock.ms, id) < 0) {
		rest_http_error(h, TND_ERR_INTERNAL, "cannot make an id", -1, NULL);
		goto out;
	}
	created = (struct rest_store_doc){.collection = d->collection, .id = id, .owner = d->owner};
	if (!store_failed(w, h, write_object(w, &clock, &created, REST_WRITE_CREATE, "", body, &res),
			  &res))
		answer_written(h, d->collection, id, &res);
out:
	rest_store_result_free(&res);
	json_object_put(body);
}

static void handle_put(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d)
{
	const char *inm = rest_http_param(h, "HTTP_IF_NONE_MATCH");
	struct rest_store_result res = {0};
	struct request_clock clock;
	struct json_object *body;
	enum rest_write_mode mode = REST_WRITE_PUT;
	char expect[TND_IF_MATCH_MAX];

	body = read_json_body(w, h, false);
	if (!body)
		return;
	if (rest_json_check_id(body, d->id) < 0) {
		rest_http_error(h, TND_ERR_ID_MISMATCH, NULL, -1, NULL);
		goto out;
	}
	rest_json_strip_server_fields(body);
	rest_if_match_expect(rest_http_param(h, "HTTP_IF_MATCH"), expect, sizeof(expect));
	if (inm && strcmp(inm, "*") == 0)
		mode = REST_WRITE_CREATE;
	request_clock_read(&clock);
	if (!store_failed(w, h, write_object(w, &clock, d, mode, expect, body, &res),
			  &res))
		answer_written(h, d->collection, d->id, &res);
out:
	rest_store_result_free(&res);
	json_object_put(body);
}

/*
 * Reads the stored document and merges the patch into it. Returns the new
 * body (caller puts it) with *version = the version it was based on, or
 * NULL after answering (404, 412, 5xx).
 */
static struct json_object *merge_current(struct rest_worker *w, struct rest_http *h,
					 const struct rest_store_doc *d, const char *expect,
					 struct json_object *patch, long long *version)
{
	struct rest_store_result cur = {0};
	struct json_object *doc = NULL;
	enum tnd_err err;
	char msg[160];

	if (store_failed(w, h, rest_store_get(&w->store, d, &cur), &cur))
		goto out;
	*version = cur.version;
	if (expect[0] && strcmp(expect, "*") != 0) {
		char tag[32];
		snprintf(tag, sizeof(tag), ",%lld,", cur.version);
		if (!strstr(expect, tag)) {
			rest_http_error(h, TND_ERR_VERSION_CONFLICT, NULL, cur.version, NULL);
			goto out;
		}
	}
	/* The stored text was ours; a parse failure means a damaged store. */
	doc = rest_json_parse_body(cur.doc, cur.doc_len, &err, msg, sizeof(msg));
	if (!doc) {
		tnd_log_error("worker %d req %lu: stored document %s/%s: %s", w->index, h->id,
			      d->collection, d->id, msg);
		rest_http_error(h, TND_ERR_INTERNAL, NULL, -1, NULL);
		goto out;
	}
	rest_json_strip_server_fields(doc);
	doc = rest_json_merge_patch(doc, patch);
	if (!doc)
		rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
out:
	rest_store_result_free(&cur);
	return doc;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long now_ms(void)
{
	return now_us() / 1000;
}

/*
 * Writers that lost a round together would read, merge and collide again
 * in lockstep; a random pause growing with the losses spreads them out.
 */
static void backoff_after_lost_round(unsigned *rand_state, unsigned attempt)
{
	unsigned cap = 50u << (attempt < 6 ? attempt : 6);

	if (cap > PATCH_BACKOFF_MAX_US)
		cap = PATCH_BACKOFF_MAX_US;
	usleep((useconds_t)(rand_r(rand_state) % (cap + 1)));
}

/*
 * PATCH is read, merge in C, then a compare-and-set write: the script
 * refuses if the version moved meanwhile, and we merge again on the newer
 * document. A client's own If-Match is checked against each version read.
 */
static void handle_patch(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d)
{
	struct rest_store_result res = {0};
	struct json_object *patch;
	struct request_clock clock;
	char expect[TND_IF_MATCH_MAX], cas[32];
	long long deadline;
	int rc;

	patch = read_json_body(w, h, true);
	if (!patch)
		return;
	if (rest_json_check_id(patch, d->id) < 0) {
		rest_http_error(h, TND_ERR_ID_MISMATCH, NULL, -1, NULL);
		goto out;
	}
	rest_json_strip_server_fields(patch);
	rest_if_match_expect(rest_http_param(h, "HTTP_IF_MATCH"), expect, sizeof(expect));
	request_clock_read(&clock);
	deadline = now_ms() + PATCH_RETRY_MS;
	for (unsigned attempt = 0;; attempt++) {
		long long base = 0;
		size_t len;
		struct json_object *doc = merge_current(w, h, d, expect, patch, &base);

		if (!doc)
			goto out;
		if (rest_json_plain(doc, &len) && len > w->settings->max_body) {
			json_object_put(doc);
			rest_http_error(h, TND_ERR_TOO_LARGE, "the patched document would be too large", -1, NULL);
			goto out;
		}
		snprintf(cas, sizeof(cas), ",%lld,", base);
		rest_store_result_free(&res);
		rc = write_object(w, &clock, d, REST_WRITE_PATCH, cas, doc, &res);
		json_object_put(doc);
		if (rc != TND_ECONFLICT || now_ms() >= deadline)
			break;
		backoff_after_lost_round(&w->rand_state, attempt);
	}
	if (rc == TND_ECONFLICT && !expect[0]) {
		tnd_log_warn("worker %d req %lu: PATCH %s/%s still losing races after %d ms", w->index,
			     h->id, d->collection, d->id, PATCH_RETRY_MS);
		rest_http_error(h, TND_ERR_STORE_UNAVAILABLE, "too many concurrent writes to this document", -1, retry_after);
	} else if (!store_failed(w, h, rc, &res)) {
		answer_written(h, d->collection, d->id, &res);
	}
out:
	rest_store_result_free(&res);
	json_object_put(patch);
}

static void handle_delete(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d)
{
	struct rest_store_result res = {0};
	char expect[TND_IF_MATCH_MAX], extra[128];

	rest_if_match_expect(rest_http_param(h, "HTTP_IF_MATCH"), expect, sizeof(expect));
	if (!store_failed(w, h, rest_store_delete(&w->store, d, expect, &res),
			  &res)) {
		snprintf(extra, sizeof(extra), "Tandem-Seq: %s\r\n", res.seq);
		rest_http_start(h, 204, NULL, extra);
	}
	rest_store_result_free(&res);
}

/*
 * Parses a stored document (our own compact JSON). NULL after answering
 * 500 and logging: a damaged store or out of memory.
 */
static struct json_object *parse_stored(struct rest_worker *w, struct rest_http *h,
					struct json_tokener *tok, const char *text, size_t len)
{
	struct json_object *doc;

	json_tokener_reset(tok);
	doc = json_tokener_parse_ex(tok, text, (int)len);
	if (!doc || !json_object_is_type(doc, json_type_object)) {
		tnd_log_error("worker %d req %lu: a stored document is not a JSON object: %s", w->index,
			      h->id, json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(doc);
		rest_http_error(h, TND_ERR_INTERNAL, NULL, -1, NULL);
		return NULL;
	}
	return doc;
}

/*
 * Appends the projection of a parsed document to a page. Returns 0, or -1
 * after answering 500 (out of memory).
 */
static int add_projected(struct rest_http *h, struct rest_buf *page, const struct rest_fields *fs,
			 struct json_object *doc)
{
	struct json_object *p = rest_fields_project(fs, doc);
	size_t len = 0;
	const char *text = p ? rest_json_plain(p, &len) : NULL;
	int rc = text ? rest_buf_add(page, text, len) : TND_ENOMEM;

	json_object_put(p);
	if (rc < 0)
		rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
	return rc < 0 ? -1 : 0;
}

/* Parses the `fields` of a read; returns 0 (fs->n 0 when absent) or -1 once answered. */
static int read_fields(struct rest_http *h, const char *raw, size_t len, bool given,
		       struct rest_fields *fs)
{
	char msg[160];

	fs->n = 0;
	if (given && rest_fields_parse(raw, len, fs, msg, sizeof(msg)) < 0) {
		rest_http_error(h, TND_ERR_INVALID_QUERY, msg, -1, NULL);
		return -1;
	}
	return 0;
}

/*
 * A read with `fields` (SPEC section 8): the projection, with the log
 * position but no ETag (it is not the representation the tag names), and
 * If-None-Match is ignored.
 */
static void answer_projected_doc(struct rest_worker *w, struct rest_http *h,
				 const struct rest_fields *fs, const struct rest_store_result *res)
{
	struct rest_buf out = {0};
	struct json_tokener *tok = json_tokener_new_ex(TND_JSON_DEPTH_MAX + 1);
	struct json_object *doc = NULL;
	char extra[128];

	if (!tok) {
		rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
		return;
	}
	doc = parse_stored(w, h, tok, res->doc, res->doc_len);
	if (doc && add_projected(h, &out, fs, doc) == 0) {
		snprintf(extra, sizeof(extra), "Tandem-Seq: %s\r\n", res->seq);
		rest_http_json(h, 200, extra, out.p, out.len);
	}
	json_object_put(doc);
	json_tokener_free(tok);
	rest_buf_free(&out);
}

static void handle_get(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d)
{
	struct rest_store_result res = {0};
	struct rest_fields fs;
	const char *raw = NULL;
	size_t raw_len = 0;
	char extra[128];
	int given = rest_query_find(rest_http_param(h, "QUERY_STRING"), "fields", &raw, &raw_len);

	if (given > 1) {
		rest_http_error(h, TND_ERR_INVALID_QUERY, "fields is given twice", -1, NULL);
		return;
	}
	if (read_fields(h, raw, raw_len, given == 1, &fs) < 0)
		return;
	if (!store_failed(w, h, rest_store_get(&w->store, d, &res), &res)) {
		if (fs.n > 0)
			answer_projected_doc(w, h, &fs, &res);
		else if (rest_if_none_match(rest_http_param(h, "HTTP_IF_NONE_MATCH"), res.version)) {
			snprintf(extra, sizeof(extra), "ETag: \"%lld\"\r\nTandem-Seq: %s\r\n",
				 res.version, res.seq);
			rest_http_start(h, 304, NULL, extra);
		} else {
			answer_doc(h, &res);
		}
	}
	rest_store_result_free(&res);
}

/* Sends a page: {"items":[<items>],"next":<next or null>} with its Tandem-Seq. */
static void answer_page(struct rest_http *h, const char *seq, const char *items, size_t len,
			const char *next, size_t next_len)
{
	char extra[128];

	snprintf(extra, sizeof(extra), "Tandem-Seq: %s\r\n", seq);
	rest_http_start(h, 200, "application/json", extra);
	rest_http_write(h, "{\"items\":[", 10);
	rest_http_write(h, items, len);
	if (next_len == 0) {
		rest_http_write(h, "],\"next\":null}", 14);
	} else {
		rest_http_write(h, "],\"next\":\"", 10);
		rest_http_write(h, next, next_len);
		rest_http_write(h, "\"}", 2);
	}
}

/* An unfiltered page (SPEC section 2), projected when fields are given. */
static void list_plain(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d,
		       const struct rest_list_query *q, const struct rest_fields *fs)
{
	struct rest_store_result res = {0};
	struct rest_buf page = {0};
	struct json_tokener *tok = NULL;
	const redisReply *r;

	if (store_failed(w, h,
			 rest_store_list(&w->store, d, q->has_after ? q->after : NULL, q->limit, &res),
			 &res))
		goto out;
	r = res.reply;
	if (fs->n == 0) {
		/* The stored text as it is: no parse, no copy. */
		char extra[128];
		snprintf(extra, sizeof(extra), "Tandem-Seq: %s\r\n", res.seq);
		rest_http_start(h, 200, "application/json", extra);
		rest_http_write(h, "{\"items\":[", 10);
		for (size_t i = 2; i < r->elements; i++) {
			if (i > 2)
				rest_http_write(h, ",", 1);
			rest_http_write(h, r->element[i]->str, r->element[i]->len);
		}
		if (r->element[1]->len == 0) {
			rest_http_write(h, "],\"next\":null}", 14);
		} else {
			rest_http_write(h, "],\"next\":\"", 10);
			rest_http_write(h, r->element[1]->str, r->element[1]->len);
			rest_http_write(h, "\"}", 2);
		}
		goto out;
	}
	tok = json_tokener_new_ex(TND_JSON_DEPTH_MAX + 1);
	if (!tok) {
		rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
		goto out;
	}
	for (size_t i = 2; i < r->elements; i++) {
		struct json_object *doc = parse_stored(w, h, tok, r->element[i]->str, r->element[i]->len);
		int rc = doc && (i == 2 || rest_buf_add(&page, ",", 1) == 0) ? add_projected(h, &page, fs, doc) : -1;
		json_object_put(doc);
		if (rc < 0) {
			if (h->status == 0)
				rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
			goto out;
		}
	}
	answer_page(h, res.seq, page.p ? page.p : "", page.len, r->element[1]->str, r->element[1]->len);
out:
	if (tok) /* json-c 0.16's json_tokener_free does not take NULL */
		json_tokener_free(tok);
	rest_buf_free(&page);
	rest_store_result_free(&res);
}

/*
 * A filtered page (SPEC section 8). The index is read in batches
 * (rest_store_scan); each document is parsed and tested here, in the
 * worker. The page ends when it holds limit items, when scan_limit
 * documents have been examined, when the next item would take it past
 * TND_LIST_PAGE_BYTES, or at the end of the index. next is null exactly
 * at the end, else the id of the last document examined. The page is
 * built in memory first: a batch may fail after the first ones worked.
 */
struct scan_state {
	char cursor[TND_DOC_ID_MAX + 1]; /* the last id examined ("" before the first) */
	char seq[TND_SEQ_STR_MAX];
	long long examined, items;
	bool at_end;
};

/* Copies an id string of a reply into a cursor buffer. */
static void set_cursor(struct scan_state *st, const char *id, size_t len)
{
	if (len > TND_DOC_ID_MAX)
		len = TND_DOC_ID_MAX;
	memcpy(st->cursor, id, len);
	st->cursor[len] = '\0';
}

/*
 * Examines one batch. Returns 1 when the page is complete, 0 to read the
 * next batch, -1 once answered (500).
 */
static int scan_batch(struct rest_worker *w, struct rest_http *h, const struct rest_list_query *q,
		      const struct tnd_filter *f, const struct rest_fields *fs,
		      const struct rest_store_scan *b, struct json_tokener *tok,
		      struct rest_buf *page, struct scan_state *st)
{
	const redisReply *r = b->res.reply;
	size_t n = r->elements - b->first_doc;

	for (size_t k = 0; k < n; k++) {
		const redisReply *e = r->element[b->first_doc + k];
		struct json_object *doc = parse_stored(w, h, tok, e->str, e->len), *id;
		bool last_of_batch = k + 1 == n && (size_t)b->ids_read == n;
		char prev[TND_DOC_ID_MAX + 1];
		int rc = 0;

		if (!doc)
			return -1;
		memcpy(prev, st->cursor, sizeof(prev));
		if (json_object_object_get_ex(doc, "id", &id) && json_object_is_type(id, json_type_string))
			set_cursor(st, json_object_get_string(id), (size_t)json_object_get_string_len(id));
		st->examined++;
		if (tnd_filter_match(f, doc)) {
			size_t before = page->len;
			if (st->items > 0)
				rc = rest_buf_add(page, ",", 1);
			if (rc == 0 && fs->n > 0) {
				rc = add_projected(h, page, fs, doc) < 0 ? -2 : 0;
			} else if (rc == 0) {
				rc = rest_buf_add(page, e->str, e->len);
			}
			if (rc == -2) {
				json_object_put(doc);
				return -1;
			}
			if (rc < 0) {
				json_object_put(doc);
				rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
				return -1;
			}
			if (st->items > 0 && page->len > TND_LIST_PAGE_BYTES) {
				/* This one goes to the next page, which starts after prev. */
				page->len = before;
				memcpy(st->cursor, prev, sizeof(prev));
				st->examined--;
				json_object_put(doc);
				return 1;
			}
			st->items++;
		}
		json_object_put(doc);
		if (st->items == q->limit || st->examined == w->settings->scan_limit) {
			st->at_end = last_of_batch && !b->more;
			return 1;
		}
	}
	/* Ids whose documents were missing still move the cursor. */
	set_cursor(st, b->last_id, strlen(b->last_id));
	st->at_end = !b->more;
	return st->at_end || st->examined >= w->settings->scan_limit ? 1 : 0;
}

static void list_filtered(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d,
			  const struct rest_list_query *q, const struct tnd_filter *f,
			  const struct rest_fields *fs)
{
	struct scan_state st = {0};
	struct rest_buf page = {0};
	struct json_tokener *tok = json_tokener_new_ex(TND_JSON_DEPTH_MAX + 1);
	int done = 0;

	if (!tok) {
		rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
		return;
	}
	if (q->has_after)
		memcpy(st.cursor, q->after, sizeof(st.cursor));
	for (bool first = true; !done; first = false) {
		struct rest_store_scan b;
		long long want = w->settings->scan_limit - st.examined;
		int rc;

		if (want > REST_SCAN_BATCH_DOCS)
			want = REST_SCAN_BATCH_DOCS;
		rc = rest_store_scan(&w->store, d, st.cursor[0] ? st.cursor : NULL, want, first, &b);
		if (store_failed(w, h, rc, &b.res)) {
			rest_store_result_free(&b.res);
			goto out;
		}
		if (first)
			snprintf(st.seq, sizeof(st.seq), "%s", b.res.seq);
		done = scan_batch(w, h, q, f, fs, &b, tok, &page, &st);
		rest_store_result_free(&b.res);
		if (done < 0)
			goto out;
	}
	answer_page(h, st.seq, page.p ? page.p : "", page.len, st.cursor,
		    st.at_end ? 0 : strlen(st.cursor));
out:
	json_tokener_free(tok);
	rest_buf_free(&page);
}

static void handle_list(struct rest_worker *w, struct rest_http *h, const struct rest_store_doc *d)
{
	struct rest_list_query q;
	struct rest_fields fs;
	struct tnd_filter *f = NULL;
	char msg[256];
	int rc;

	if (rest_list_query_parse(rest_http_param(h, "QUERY_STRING"), &q, msg, sizeof(msg)) < 0) {
		rest_http_error(h, TND_ERR_INVALID_QUERY, msg, -1, NULL);
		return;
	}
	if (read_fields(h, q.fields, q.fields_len, q.fields != NULL, &fs) < 0)
		return;
	if (q.where && (rc = rest_where_compile(q.where, q.where_len, &f, msg, sizeof(msg))) < 0) {
		if (rc == TND_EINVAL)
			rest_http_error(h, TND_ERR_INVALID_QUERY, msg, -1, NULL);
		else
			rest_http_error(h, TND_ERR_INTERNAL, "out of memory", -1, NULL);
		return;
	}
	if (f)
		list_filtered(w, h, d, &q, f, &fs);
	else
		list_plain(w, h, d, &q, &fs);
	tnd_filter_free(f);
}

static void handle_health(struct rest_worker *w, struct rest_http *h)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	int rc = rest_store_ping(&w->store);

	if (rc == 0)
		rest_http_json(h, 200, "Cache-Control: no-store\r\n", ok, sizeof(ok) - 1);
	else
		rest_http_error(h, TND_ERR_STORE_UNAVAILABLE, tnd_strerror(rc), -1,
				"Retry-After: 1\r\nCache-Control: no-store\r\n");
}

/* The bearer token of an Authorization header (pointer into it), or NULL. */
static const char *bearer_token(const char *header, size_t *len)
{
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	*len = strlen(header);
	while (*len > 0 && header[*len - 1] == ' ')
		(*len)--;
	return *len > 0 ? header : NULL;
}

/*
 * SPEC section 6 on one request: with auth on, every route but the health
 * check needs a valid token (else 401) whose read (GET, HEAD) or write
 * claim names the collection (else 403). *owner becomes the token's sub
 * when its own claim names the collection: the store then shows it only
 * its own documents. Returns 0 to go on, -1 once answered.
 */
static int authorize(struct rest_worker *w, struct rest_http *h, enum rest_method method,
		     const struct rest_target *t, struct tnd_claims *claims, const char **owner)
{
	static const char *const challenge = "WWW-Authenticate: Bearer\r\n";
	const struct tnd_auth *auth = w->settings->auth;
	const char *token;
	char why[192];
	size_t len = 0;
	bool reading = method == REST_GET || method == REST_HEAD;

	*owner = NULL;
	if (!auth || auth->mode == TND_AUTH_OFF || t->route == REST_ROUTE_HEALTH)
		return 0;
	token = bearer_token(rest_http_param(h, "HTTP_AUTHORIZATION"), &len);
	if (!token) {
		rest_http_error(h, TND_ERR_UNAUTHORIZED, "an Authorization: Bearer <token> header is required",
				-1, challenge);
		return -1;
	}
	if (tnd_auth_verify_cached(auth, w->auth_cache, token, len, (long long)time(NULL), claims, why,
				   sizeof(why)) < 0) {
		tnd_log_debug("worker %d req %lu: token refused: %s", w->index, h->id, why);
		rest_http_error(h, TND_ERR_UNAUTHORIZED, why, -1,
				"WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
		return -1;
	}
	if (!tnd_claims_allow(reading ? &claims->read : &claims->write, t->collection)) {
		snprintf(why, sizeof(why), "the token may not %s collection %s",
			 reading ? "read" : "write", t->collection);
		rest_http_error(h, TND_ERR_FORBIDDEN, why, -1, NULL);
		return -1;
	}
	if (tnd_claims_allow(&claims->own, t->collection))
		*owner = claims->sub;
	return 0;
}

/* OPTIONS: a CORS preflight when it asks for a method, else just Allow. */
static void handle_options(struct rest_http *h, const char *allow)
{
	char extra[512];

	if (h->origin && rest_http_param(h, "HTTP_ACCESS_CONTROL_REQUEST_METHOD")) {
		if (!h->origin_ok) {
			rest_http_error(h, TND_ERR_FORBIDDEN, "origin not allowed", -1, NULL);
			return;
		}
		snprintf(extra, sizeof(extra),
			 "Access-Control-Allow-Methods: %s\r\n"
			 "Access-Control-Allow-Headers: Authorization, Content-Type, If-Match, If-None-Match\r\n"
			 "Access-Control-Max-Age: 600\r\nAllow: %s\r\n",
			 allow, allow);
	} else {
		snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
	}
	rest_http_start(h, 204, NULL, extra);
}

static void dispatch(struct rest_worker *w, struct rest_http *h, enum rest_method method,
		     const struct rest_target *t, const char *owner)
{
	const struct rest_store_doc d = {.collection = t->collection,
					 .id = t->route == REST_ROUTE_DOCUMENT ? t->id : NULL,
					 .owner = owner};

	switch (t->route) {
	case REST_ROUTE_HEALTH:
		handle_health(w, h);
		break;
	case REST_ROUTE_COLLECTION:
		if (method == REST_POST)
			handle_create(w, h, &d);
		else
			handle_list(w, h, &d);
		break;
	case REST_ROUTE_DOCUMENT:
		switch (method) {
		case REST_PUT: handle_put(w, h, &d); break;
		case REST_PATCH: handle_patch(w, h, &d); break;
		case REST_DELETE: handle_delete(w, h, &d); break;
		default: handle_get(w, h, &d); break;
		}
		break;
	default:
		rest_http_error(h, TND_ERR_NOT_FOUND, NULL, -1, NULL);
	}
}

void rest_handle(struct rest_worker *w, FCGX_Request *req)
{
	struct rest_http h;
	struct rest_target t;
	enum rest_method method;
	enum tnd_err err;
	const char *uri, *allow;
	char extra[128], msg[128];
	long long started = now_us();
	struct tnd_claims claims;
	const char *owner = NULL;

	t.route = REST_ROUTE_NONE;
	w->requests++;
	rest_http_begin(&h, req, &w->settings->cors, w->requests);
	method = rest_method_parse(rest_http_param(&h, "REQUEST_METHOD"));
	h.head = method == REST_HEAD;
	uri = rest_http_param(&h, "REQUEST_URI");
	tnd_log_debug("worker %d req %lu: %s %.200s", w->index, h.id, rest_method_name(method),
		      uri ? uri : "-");
	if (!uri) {
		rest_http_error(&h, TND_ERR_INVALID_QUERY, "no request URI", -1, NULL);
		goto out;
	}
	/*
	 * The path is judged before the URI's length, so an over-long id or
	 * name gets its own error rather than a vague one about the URI; the
	 * router copies at most one byte past each segment's limit, and nginx
	 * bounds the request line (414) before we see it.
	 */
	if (rest_route_parse(uri, strlen(uri), &t, &err) < 0) {
		t.route = REST_ROUTE_NONE;
		rest_http_error(&h, err, err == TND_ERR_NOT_FOUND ? "no such endpoint" : NULL, -1, NULL);
		goto out;
	}
	if (strnlen(uri, TND_URI_MAX + 1) > TND_URI_MAX) {
		rest_http_error(&h, TND_ERR_INVALID_QUERY, "the query string is too long", -1, NULL);
		goto out;
	}
	if (rest_query_check_reserved(rest_http_param(&h, "QUERY_STRING"), msg, sizeof(msg)) < 0) {
		rest_http_error(&h, TND_ERR_INVALID_QUERY, msg, -1, NULL);
		goto out;
	}
	if (!rest_route_allows(t.route, method, &allow)) {
		snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
		rest_http_error(&h, TND_ERR_METHOD_NOT_ALLOWED, NULL, -1, extra);
		goto out;
	}
	if (method == REST_OPTIONS) {
		handle_options(&h, allow);
		goto out;
	}
	/* A browser would hide the answer, but the write would still happen. */
	if (!rest_http_origin_allowed(&h)) {
		rest_http_error(&h, TND_ERR_FORBIDDEN, "origin not allowed", -1, NULL);
		goto out;
	}
	if (authorize(w, &h, method, &t, &claims, &owner) < 0)
		goto out;
	dispatch(w, &h, method, &t, owner);
out:
	rest_metrics_request(w->settings->metrics, (int)t.route, h.status, now_us() - started);
	rest_http_finish(&h);
}
