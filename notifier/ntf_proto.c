/*
 * ntf_proto: see ntf_proto.h.
 */
#include "ntf_proto.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "tnd_filter.h"
#include "tnd_utf8.h"

static const char *const op_names[NTF_OP__MAX] = {
	[NTF_OP_SUBSCRIBE] = "subscribe",
	[NTF_OP_UNSUBSCRIBE] = "unsubscribe",
	[NTF_OP_AUTH] = "auth",
	[NTF_OP_PING] = "ping",
};

#define FAIL(code, text)                                                                   \
	do {                                                                               \
		*err = (code);                                                             \
		*why = (text);                                                             \
		goto fail;                                                                 \
	} while (0)

/* Looks up an optional string member: 1 found, 0 absent, -1 not a string. */
static int get_string(struct json_object *obj, const char *key, const char **s, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return 1;
}

static bool valid_sid(const char *s, size_t len)
{
	if (len == 0 || len > NTF_SID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/*
 * subscribe's "where": compiled from its compact re-serialization, so the
 * 4 KiB cap (SPEC 8) counts the filter's bytes, not the client's spacing,
 * and the one compiler checks depth, conditions and operators.
 */
static int parse_where(struct json_object *obj, struct ntf_request *req, enum tnd_err *err,
		       const char **why)
{
	struct json_object *w;
	const char *text;
	size_t len;
	char msg[sizeof(req->why) - 16];
	int rc;

	if (!json_object_object_get_ex(obj, "where", &w)) {
		if (req->sid[0])
			FAIL(TND_ERR_INVALID_QUERY, "\"sid\" names a filtered subscription: it needs \"where\"");
		return 0;
	}
	if (req->id[0])
		FAIL(TND_ERR_INVALID_QUERY, "\"where\" cannot be combined with \"id\"");
	if (!req->sid[0])
		FAIL(TND_ERR_INVALID_QUERY, "\"where\" needs a \"sid\" naming the subscription");
	if (!json_object_is_type(w, json_type_object))
		FAIL(TND_ERR_INVALID_QUERY, "where: must be a JSON object");
	text = json_object_to_json_string_length(w, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
						 &len);
	if (!text)
		FAIL(TND_ERR_INTERNAL, "out of memory");
	if (len > TND_WHERE_MAX)
		FAIL(TND_ERR_INVALID_QUERY, "where: longer than 4096 bytes");
	rc = tnd_filter_compile(text, len, &req->where, msg, sizeof(msg));
	if (rc == TND_ENOMEM)
		FAIL(TND_ERR_INTERNAL, "out of memory");
	if (rc < 0) {
		snprintf(req->why, sizeof(req->why), "where: %s", msg);
		FAIL(TND_ERR_INVALID_QUERY, req->why);
	}
	return 0;
fail:
	return -1;
}

/*
 * subscribe's "coalesce" (SPEC 5): a boolean. Any other type is an option
 * of a subscription spelled wrong, like a malformed since: invalid_query,
 * echoing the target, rather than invalid_json (the frame itself is fine).
 */
static int parse_coalesce(struct json_object *obj, struct ntf_request *req, enum tnd_err *err,
			  const char **why)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, "coalesce", &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		FAIL(TND_ERR_INVALID_QUERY, "\"coalesce\" must be true or false");
	req->coalesce = json_object_get_boolean(v);
	return 0;
fail:
	return -1;
}

static int parse_target(struct json_object *obj, struct ntf_request *req, bool allow_since,
			enum tnd_err *err, const char **why)
{
	const char *s;
	size_t len;
	int rc;

	rc = get_string(obj, "collection", &s, &len);
	if (rc <= 0 || !tnd_valid_collection(s, len))
		FAIL(TND_ERR_INVALID_NAME, "\"collection\" must match [a-z0-9][a-z0-9_-]{0,63}");
	memcpy(req->collection, s, len + 1);
	rc = get_string(obj, "id", &s, &len);
	if (rc < 0 || (rc > 0 && !tnd_valid_doc_id(s, len)))
		FAIL(TND_ERR_INVALID_ID, "\"id\" must match [A-Za-z0-9_-]{1,128}");
	if (rc > 0)
		memcpy(req->id, s, len + 1);
	rc = get_string(obj, "sid", &s, &len);
	if (rc < 0 || (rc > 0 && !valid_sid(s, len)))
		FAIL(TND_ERR_INVALID_QUERY, "\"sid\" must match [A-Za-z0-9_-]{1,64}");
	if (rc > 0)
		memcpy(req->sid, s, len + 1);
	if (!allow_since) {
		if (req->sid[0] && req->id[0])
			FAIL(TND_ERR_INVALID_QUERY, "\"sid\" cannot be combined with \"id\"");
		return 0;
	}
	rc = get_string(obj, "since", &s, &len);
	if (rc < 0 || (rc > 0 && tnd_seq_parse(s, len, &req->since) < 0))
		FAIL(TND_ERR_INVALID_QUERY, "\"since\" must be a seq \"<ms>-<n>\" as sent by the server");
	req->has_since = rc > 0;
	if (parse_coalesce(obj, req, err, why) < 0)
		goto fail;
	return parse_where(obj, req, err, why);
fail:
	return -1;
}

/* --- strict JSON --------------------------------------------------------- */

/*
 * json-c's strict mode still takes what RFC 8259 does not: NaN and
 * Infinity literals, single-quoted strings, leading zeros, "1." and raw
 * control bytes in strings, among others. So a client message is first
 * checked against the RFC's grammar here (a small recursive descent over
 * the bytes, nesting capped), and json-c only builds the object from
 * bytes already known to be valid. A \u escape of a surrogate must be a
 * high-low pair, as tandem-rest rules (json-c takes a lone one); the
 * fields we read are then validated by their own rules.
 */
struct jcheck {
	const unsigned char *p, *end;
	int depth;
};

static bool j_value(struct jcheck *j);

static void j_space(struct jcheck *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool j_eat(struct jcheck *j, unsigned char c)
{
	if (j->p >= j->end || *j->p != c)
		return false;
	j->p++;
	return true;
}

static bool j_is_digit(const struct jcheck *j)
{
	return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

static bool j_is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Four hex digits after "\\u": their value, or -1. */
static long j_hex4(struct jcheck *j)
{
	long v = 0;

	for (int i = 0; i < 4; i++, j->p++) {
		if (j->p >= j->end || !j_is_hex(*j->p))
			return -1;
		v = v * 16 + (*j->p <= '9' ? *j->p - '0' : (*j->p | 0x20) - 'a' + 10);
	}
	return v;
}

static bool j_string(struct jcheck *j)
{
	if (!j_eat(j, '"'))
		return false;
	while (j->p < j->end) {
		unsigned char c = *j->p++;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (j->p >= j->end)
			return false;
		c = *j->p++;
		if (c == 'u') {
			long u = j_hex4(j);

			/* A surrogate escape must be a high one followed by a low one. */
			if (u >= 0xdc00 && u <= 0xdfff)
				return false;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (!j_eat(j, '\\') || !j_eat(j, 'u'))
					return false;
				u = j_hex4(j);
				if (u < 0xdc00 || u > 0xdfff)
					return false;
			}
			if (u < 0)
				return false;
		} else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' &&
			   c != 'r' && c != 't') {
			return false;
		}
	}
	return false;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool j_number(struct jcheck *j)
{
	j_eat(j, '-');
	if (j_eat(j, '0')) {
		if (j_is_digit(j))
			return false; /* a leading zero */
	} else {
		if (!j_is_digit(j))
			return false;
		while (j_is_digit(j))
			j->p++;
	}
	if (j_eat(j, '.')) {
		if (!j_is_digit(j))
			return false;
		while (j_is_digit(j))
			j->p++;
	}
	if (j_eat(j, 'e') || j_eat(j, 'E')) {
		if (!j_eat(j, '+'))
			j_eat(j, '-');
		if (!j_is_digit(j))
			return false;
		while (j_is_digit(j))
			j->p++;
	}
	return true;
}

static bool j_literal(struct jcheck *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

/* An object or array; the opening byte is next. */
static bool j_container(struct jcheck *j, unsigned char close)
{
	bool ok = false;

	if (++j->depth > NTF_CLIENT_JSON_DEPTH_MAX)
		return false;
	j->p++;
	j_space(j);
	if (j_eat(j, close)) {
		ok = true;
		goto out;
	}
	for (;;) {
		if (close == '}') {
			if (!j_string(j))
				goto out;
			j_space(j);
			if (!j_eat(j, ':'))
				goto out;
			j_space(j);
		}
		if (!j_value(j))
			goto out;
		j_space(j);
		if (j_eat(j, close))
			break;
		if (!j_eat(j, ','))
			goto out;
		j_space(j); /* a trailing comma then fails on the next member */
	}
	ok = true;
out:
	j->depth--;
	return ok;
}

static bool j_value(struct jcheck *j)
{
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{': return j_container(j, '}');
	case '[': return j_container(j, ']');
	case '"': return j_string(j);
	case 't': return j_literal(j, "true");
	case 'f': return j_literal(j, "false");
	case 'n': return j_literal(j, "null");
	default: return j_number(j);
	}
}

/* True when buf[0..len) is one JSON text under RFC 8259, whitespace around it allowed. */
static bool json_strict_ok(const char *buf, size_t len)
{
	struct jcheck j = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0};

	j_space(&j);
	if (!j_value(&j))
		return false;
	j_space(&j);
	return j.p == j.end;
}

int ntf_proto_parse(const char *buf, size_t len, struct ntf_request *req, enum tnd_err *err,
		    const char **why)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	const char *op;
	size_t op_len;
	int rc = -1;

	/* Not the token's buffer: it is filled only for an auth op. */
	memset(req, 0, offsetof(struct ntf_request, token));
	req->token[0] = '\0';
	if (len > NTF_CLIENT_MSG_MAX)
		FAIL(TND_ERR_INVALID_JSON, "message too large");
	if (!tnd_utf8_valid(buf, len, NULL))
		FAIL(TND_ERR_INVALID_JSON, "a message must be UTF-8");
	if (!json_strict_ok(buf, len))
		FAIL(TND_ERR_INVALID_JSON, "a message must be one JSON object (RFC 8259: no NaN, "
					   "Infinity, trailing commas, single quotes or leading zeros)");
	tok = json_tokener_new();
	if (!tok)
		FAIL(TND_ERR_INTERNAL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	/* A complete value must use every byte: trailing junk is malformed too. */
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)
		FAIL(TND_ERR_INVALID_JSON, "a message must be one JSON object in UTF-8");
	if (!json_object_is_type(obj, json_type_object))
		FAIL(TND_ERR_INVALID_JSON, "a message must be a JSON object");
	if (get_string(obj, "op", &op, &op_len) <= 0)
		FAIL(TND_ERR_UNKNOWN_OP, "\"op\" must be subscribe, unsubscribe, auth or ping");
	for (req->op = 0; req->op < NTF_OP__MAX; req->op++)
		if (strlen(op_names[req->op]) == op_len && !memcmp(op, op_names[req->op], op_len))
			break;
	switch (req->op) {
	case NTF_OP_SUBSCRIBE:
	case NTF_OP_UNSUBSCRIBE:
		if (parse_target(obj, req, req->op == NTF_OP_SUBSCRIBE, err, why) < 0)
			goto fail;
		break;
	case NTF_OP_AUTH: {
		/* A missing, non-string or oversized token is the hub's unauthorized, not a parse error. */
		const char *t;
		size_t tlen;

		if (get_string(obj, "token", &t, &tlen) > 0 && tlen <= TND_TOKEN_MAX) {
			memcpy(req->token, t, tlen);
			req->token[tlen] = '\0';
			req->token_len = tlen;
			req->has_token = true;
		} else {
			req->token_too_long = get_string(obj, "token", &t, &tlen) > 0;
		}
		break;
	}
	case NTF_OP_PING:
		break;
	default:
		FAIL(TND_ERR_UNKNOWN_OP, "\"op\" must be subscribe, unsubscribe, auth or ping");
	}
	rc = 0;
fail:
	json_object_put(obj);
	if (tok)
		json_tokener_free(tok);
	return rc;
}

void ntf_request_release(struct ntf_request *req)
{
	tnd_filter_free(req->where);
	req->where = NULL;
}

/* Formats into a fresh message; NULL on overflow or out of memory. */
static struct ntf_msg *msg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct ntf_msg *msg_printf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	return ntf_msg_dup(buf, (size_t)n);
}

/* ,"id":"x" or nothing; ids are [A-Za-z0-9_-] so need no escaping. */
static const char *id_part(const char *id, char *buf, size_t size)
{
	if (!id || !*id)
		return "";
	snprintf(buf, size, ",\"id\":\"%s\"", id);
	return buf;
}

/* ,"sid":"x" or nothing; sids are [A-Za-z0-9_-] too. */
static const char *sid_part(const char *sid, char *buf, size_t size)
{
	if (!sid || !*sid)
		return "";
	snprintf(buf, size, ",\"sid\":\"%s\"", sid);
	return buf;
}

struct ntf_msg *ntf_proto_subscribed(const char *col, const char *id, const char *sid,
				     const struct tnd_seq *seq)
{
	char idb[TND_DOC_ID_MAX + 16], sidb[NTF_SID_MAX + 16], sb[TND_SEQ_STR_MAX];

	return msg_printf("{\"op\":\"subscribed\",\"collection\":\"%s\"%s%s,\"seq\":\"%s\"}", col,
			  id_part(id, idb, sizeof(idb)), sid_part(sid, sidb, sizeof(sidb)),
			  tnd_seq_format(seq, sb));
}

struct ntf_msg *ntf_proto_unsubscribed(const char *col, const char *id, const char *sid)
{
	char idb[TND_DOC_ID_MAX + 16], sidb[NTF_SID_MAX + 16];

	return msg_printf("{\"op\":\"unsubscribed\",\"collection\":\"%s\"%s%s}", col,
			  id_part(id, idb, sizeof(idb)), sid_part(sid, sidb, sizeof(sidb)));
}

struct ntf_msg *ntf_proto_reset(const char *col, const char *id, const char *sid)
{
	char idb[TND_DOC_ID_MAX + 16], sidb[NTF_SID_MAX + 16];

	return msg_printf("{\"op\":\"reset\",\"collection\":\"%s\"%s%s}", col,
			  id_part(id, idb, sizeof(idb)), sid_part(sid, sidb, sizeof(sidb)));
}

struct ntf_msg *ntf_proto_unsubscribed_why(const char *col, const char *id, const char *sid,
					   const char *reason)
{
	char idb[TND_DOC_ID_MAX + 16], sidb[NTF_SID_MAX + 16];

	return msg_printf("{\"op\":\"unsubscribed\",\"collection\":\"%s\"%s%s,\"reason\":\"%s\"}",
			  col, id_part(id, idb, sizeof(idb)), sid_part(sid, sidb, sizeof(sidb)), reason);
}

struct ntf_msg *ntf_proto_authenticated(long long exp)
{
	return msg_printf("{\"op\":\"authenticated\",\"exp\":%lld}", exp);
}

struct ntf_msg *ntf_proto_error_for(enum tnd_err err, const char *message, const char *col,
				    const char *id, const char *sid)
{
	char esc[256] = "", idb[TND_DOC_ID_MAX + 16], sidb[NTF_SID_MAX + 16];

	if (err >= TND_ERR__MAX)
		err = TND_ERR_INTERNAL;
	if (!message)
		message = tnd_err_message(err);
	tnd_json_escape(esc, sizeof(esc), 0, message, strnlen(message, 200));
	return msg_printf("{\"op\":\"error\",\"code\":\"%s\",\"message\":\"%s\","
			  "\"collection\":\"%s\"%s%s}",
			  tnd_err_code(err), esc, col, id_part(id, idb, sizeof(idb)),
			  sid_part(sid, sidb, sizeof(sidb)));
}

struct ntf_msg *ntf_proto_pong(void)
{
	return msg_printf("{\"op\":\"pong\"}");
}

struct ntf_msg *ntf_proto_authenticated_open(void)
{
	return msg_printf("{\"op\":\"authenticated\",\"exp\":null}");
}

struct ntf_msg *ntf_proto_error(enum tnd_err err, const char *message)
{
	char esc[256] = "";

	if (err >= TND_ERR__MAX)
		err = TND_ERR_INTERNAL;
	if (!message)
		message = tnd_err_message(err);
	/* On truncation esc still holds a valid, shorter prefix. */
	tnd_json_escape(esc, sizeof(esc), 0, message, strnlen(message, 200));
	return msg_printf("{\"op\":\"error\",\"code\":\"%s\",\"message\":\"%s\"}", tnd_err_code(err),
			  esc);
}

/* --- events ------------------------------------------------------------ */

#define EVENT_PREFIX "{\"op\":\"event\","

struct scan {
	const char *p, *end;
};

static bool scan_lit(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* A run of bytes up to the next '"' (not consumed). */
static bool scan_until_quote(struct scan *s, const char **start, size_t *len)
{
	const char *q = memchr(s->p, '"', (size_t)(s->end - s->p));

	if (!q)
		return false;
	*start = s->p;
	*len = (size_t)(q - s->p);
	s->p = q;
	return true;
}

static bool valid_type(const char *t, size_t len)
{
	return (len == 7 && (!memcmp(t, "created", 7) || !memcmp(t, "updated", 7) ||
			     !memcmp(t, "deleted", 7)));
}

static bool valid_version(const char *v, size_t len)
{
	if (len == 0 || len > 19 || v[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/*
 * The notifier's line of a body: {"owner":"...","prev":{...}}, either part
 * optional but not both (or no line at all). prev is the document before
 * an update or a delete, our own compact JSON: it runs to the line's
 * closing brace.
 */
static bool scan_internal(const char *p, size_t len, struct ntf_event_meta *mt)
{
	struct scan s = {p, p + len};
	bool any = false, comma = false;

	mt->owner = mt->prev = NULL;
	mt->owner_len = mt->prev_len = 0;
	if (len == 0)
		return true;
	if (!scan_lit(&s, "{"))
		return false;
	if (scan_lit(&s, "\"owner\":\"")) {
		if (!scan_until_quote(&s, &mt->owner, &mt->owner_len) ||
		    !tnd_valid_owner(mt->owner, mt->owner_len) || !scan_lit(&s, "\""))
			return false;
		any = true;
		if (s.p < s.end - 1 && !(comma = scan_lit(&s, ",")))
			return false;
	}
	if (scan_lit(&s, "\"prev\":")) {
		if (s.end - s.p < 3 || *s.p != '{' || s.end[-2] != '}')
			return false;
		mt->prev = s.p;
		mt->prev_len = (size_t)(s.end - 1 - s.p);
		s.p = s.end - 1;
		any = true;
		comma = false;
	}
	return any && !comma && s.end - s.p == 1 && *s.p == '}';
}

/*
 * The clients' line: every field checked, in the order the script writes
 * them; names, ids and versions never contain quotes, so a scan is exact.
 * The document itself was strict JSON when tandem-rest stored it.
 */
static bool scan_client(const char *p, size_t len, struct ntf_event_meta *mt)
{
	struct scan s = {p, p + len};
	const char *type, *version;
	size_t type_len, version_len;

	if (!scan_lit(&s, "{\"type\":\"") || !scan_until_quote(&s, &type, &type_len) ||
	    !valid_type(type, type_len) || !scan_lit(&s, "\",\"collection\":\"") ||
	    !scan_until_quote(&s, &mt->collection, &mt->collection_len) ||
	    !tnd_valid_collection(mt->collection, mt->collection_len) ||
	    !scan_lit(&s, "\",\"id\":\"") || !scan_until_quote(&s, &mt->id, &mt->id_len) ||
	    !tnd_valid_doc_id(mt->id, mt->id_len) || !scan_lit(&s, "\",\"version\":"))
		return false;
	version = s.p;
	while (s.p < s.end && *s.p >= '0' && *s.p <= '9')
		s.p++;
	version_len = (size_t)(s.p - version);
	if (!valid_version(version, version_len))
		return false;
	/* deleted: the end; the others: the document, which ends the object. */
	if (type[0] == 'd')
		return s.end - s.p == 1 && *s.p == '}';
	return scan_lit(&s, ",\"doc\":{") && s.end - s.p >= 2 && s.end[-1] == '}' && s.end[-2] == '}';
}

static const char *const ev_type_names[NTF_EV__MAX] = {
	[NTF_EV_CREATED] = "created", [NTF_EV_UPDATED] = "updated", [NTF_EV_DELETED] = "deleted",
	[NTF_EV_ENTERED] = "entered", [NTF_EV_LEFT] = "left",
};

/* The type of a "type":"..." member the scan (or a view) wrote. */
static uint8_t type_of(const char *member)
{
	const char *t = member + strlen("\"type\":\"");

	for (uint8_t i = NTF_EV_CREATED; i < NTF_EV__MAX; i++)
		if (!strncmp(t, ev_type_names[i], strlen(ev_type_names[i])) &&
		    t[strlen(ev_type_names[i])] == '"')
			return i;
	return NTF_EV_NONE;
}

int ntf_proto_split_publish(const char *payload, size_t len, const char **seq, size_t *seq_len,
			    const char **body, size_t *body_len)
{
	const char *sp = memchr(payload, ' ', len);

	if (!sp)
		return -1;
	*seq = payload;
	*seq_len = (size_t)(sp - payload);
	*body = sp + 1;
	*body_len = len - *seq_len - 1;
	return 0;
}

struct ntf_msg *ntf_proto_event(const char *seq, size_t seq_len, const char *body, size_t len,
				struct ntf_event_meta *meta, bool *malformed)
{
	const char *nl = memchr(body, '\n', len);
	size_t client_len = nl ? (size_t)(nl - body) : len, n;
	struct ntf_event_meta mt;
	struct ntf_msg *m;
	char *p;

	*malformed = true;
	if (tnd_seq_parse(seq, seq_len, &mt.seq) < 0 || !scan_client(body, client_len, &mt) ||
	    (nl && client_len + 1 == len) ||
	    !scan_internal(nl ? nl + 1 : body + len, nl ? len - client_len - 1 : 0, &mt))
		return NULL;
	*malformed = false;
	n = strlen(EVENT_PREFIX "\"seq\":\"\",") + seq_len + client_len - 1;
	m = ntf_msg_new(n);
	if (!m)
		return NULL;
	if ((mt.owner && !(m->owner = strndup(mt.owner, mt.owner_len))) ||
	    (mt.prev && !(m->prev = strndup(mt.prev, mt.prev_len)))) {
		ntf_msg_unref(m);
		return NULL;
	}
	m->prev_len = mt.prev ? (uint32_t)mt.prev_len : 0;
	p = ntf_msg_payload(m);
	memcpy(p, EVENT_PREFIX "\"seq\":\"", strlen(EVENT_PREFIX "\"seq\":\""));
	p += strlen(EVENT_PREFIX "\"seq\":\"");
	memcpy(p, seq, seq_len);
	p += seq_len;
	memcpy(p, "\",", 2);
	p += 2;
	memcpy(p, body + 1, client_len - 1);
	m->type_off = (uint32_t)(p - ntf_msg_payload(m));
	{
		/* The doc is the last member; scan_client checked the exact layout. */
		const char *d = memmem(p, client_len - 1, ",\"doc\":{", 8);

		m->doc_off = d ? (uint32_t)(d - ntf_msg_payload(m)) : 0;
	}
	m->is_event = true;
	m->ev_type = type_of(ntf_msg_payload(m) + m->type_off);
	m->seq = mt.seq;
	m->doc_id_len = (uint8_t)mt.id_len;
	memcpy(m->doc_id, mt.id, mt.id_len);
	m->doc_id[mt.id_len] = '\0';
	if (meta)
		*meta = mt;
	return m;
}

#define TYPE_MEMBER_LEN 16 /* "type":"created" and its kin: every type the script writes is 7 letters */

/*
 * A new frame of n payload bytes made from event ev (a view of it, or it
 * retyped): it keeps ev's owner. The caller writes the payload, then
 * event_derived_done(). NULL when out of memory.
 */
static struct ntf_msg *event_derived(const struct ntf_msg *ev, size_t n)
{
	struct ntf_msg *m = ntf_msg_new(n);

	if (m && ev->owner && !(m->owner = strdup(ev->owner))) {
		ntf_msg_unref(m);
		return NULL;
	}
	return m;
}

/* What a derived frame keeps of its event besides the bytes: its seq and document. */
static void event_derived_done(struct ntf_msg *m, const struct ntf_msg *ev)
{
	m->is_event = true;
	m->seq = ev->seq;
	m->doc_id_len = ev->doc_id_len;
	memcpy(m->doc_id, ev->doc_id, sizeof(m->doc_id));
}

struct ntf_msg *ntf_proto_event_view(const struct ntf_msg *ev, const char *sid, enum ntf_view view)
{
	const char *src = (const char *)ev->buf + NTF_MSG_PRE;
	size_t sid_len = strlen(sid), n;
	size_t rest_off = ev->type_off + (view == NTF_VIEW_SAME ? 0 : TYPE_MEMBER_LEN);
	size_t rest_end = view == NTF_VIEW_LEFT && ev->doc_off ? ev->doc_off : ev->len;
	const char *type = view == NTF_VIEW_ENTERED ? "\"type\":\"entered\""
			   : view == NTF_VIEW_LEFT  ? "\"type\":\"left\""
						    : "";
	struct ntf_msg *m;
	char *p;

	n = ev->type_off + strlen("\"sid\":\"\",") + sid_len + strlen(type) + (rest_end - rest_off) +
	    (view == NTF_VIEW_LEFT && ev->doc_off ? 1 : 0);
	m = event_derived(ev, n);
	if (!m)
		return NULL;
	p = ntf_msg_payload(m);
	memcpy(p, src, ev->type_off);
	p += ev->type_off;
	memcpy(p, "\"sid\":\"", 7);
	memcpy(p + 7, sid, sid_len);
	memcpy(p + 7 + sid_len, "\",", 2);
	p += 9 + sid_len;
	memcpy(p, type, strlen(type));
	p += strlen(type);
	memcpy(p, src + rest_off, rest_end - rest_off);
	p += rest_end - rest_off;
	if (view == NTF_VIEW_LEFT && ev->doc_off)
		*p++ = '}';
	event_derived_done(m, ev);
	m->type_off = ev->type_off + 9 + (uint32_t)sid_len;
	m->ev_type = type_of(ntf_msg_payload(m) + m->type_off);
	if (ev->doc_off && view != NTF_VIEW_LEFT)
		m->doc_off = ev->doc_off - (uint32_t)rest_off + m->type_off + (uint32_t)strlen(type);
	return m;
}

struct ntf_msg *ntf_proto_event_retype(const struct ntf_msg *ev, enum ntf_ev_type type)
{
	const char *src = (const char *)ev->buf + NTF_MSG_PRE;
	const char *old = src + ev->type_off + strlen("\"type\":\"");
	const char *old_end, *name;
	size_t name_len, tail_off, n;
	struct ntf_msg *m;
	char *p;

	if (!ev->is_event || ev->ev_type == NTF_EV_NONE || type <= NTF_EV_NONE || type >= NTF_EV__MAX)
		return NULL;
	old_end = old + strlen(ev_type_names[ev->ev_type]);
	tail_off = (size_t)(old_end - src);
	name = ev_type_names[type];
	name_len = strlen(name);
	n = (size_t)(old - src) + name_len + (ev->len - tail_off);
	m = event_derived(ev, n);
	if (!m)
		return NULL;
	p = ntf_msg_payload(m);
	memcpy(p, src, (size_t)(old - src));
	p += old - src;
	memcpy(p, name, name_len);
	p += name_len;
	memcpy(p, src + tail_off, ev->len - tail_off);
	event_derived_done(m, ev);
	m->ev_type = (uint8_t)type;
	m->type_off = ev->type_off;
	m->doc_off = ev->doc_off ? (uint32_t)(ev->doc_off - tail_off + (size_t)(old - src) + name_len) : 0;
	return m;
}
