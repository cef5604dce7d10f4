/*
 * Unit tests of ntf_proto: client message parsing (every error code, the
 * size cap) and the server frames, live and replayed events alike.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ntf_proto.h"

static int parse(const char *s, struct ntf_request *req, enum tnd_err *err)
{
	const char *why = NULL;
	int rc = ntf_proto_parse(s, strlen(s), req, err, &why);

	if (rc < 0)
		cr_assert_not_null(why);
	return rc;
}

static void expect_error(const char *s, enum tnd_err want)
{
	struct ntf_request req;
	enum tnd_err err = TND_ERR__MAX;

	cr_assert_eq(parse(s, &req, &err), -1, "accepted: %s", s);
	cr_assert_eq(err, want, "%s gave %s, not %s", s, tnd_err_code(err), tnd_err_code(want));
}

Test(proto, parses_a_collection_subscription)
{
	struct ntf_request req;
	enum tnd_err err;

	cr_assert_eq(parse("{\"op\":\"subscribe\",\"collection\":\"todos\"}", &req, &err), 0);
	cr_assert_eq(req.op, NTF_OP_SUBSCRIBE);
	cr_assert_str_eq(req.collection, "todos");
	cr_assert_str_eq(req.id, "");
	cr_assert_not(req.has_since);
}

Test(proto, parses_a_document_subscription_with_since)
{
	struct ntf_request req;
	enum tnd_err err;

	cr_assert_eq(parse("{\"since\":\"1764358912123-7\",\"id\":\"01JD_x-9\",\"op\":\"subscribe\","
			   "\"collection\":\"todos\",\"extra\":[1]}",
			   &req, &err),
		     0);
	cr_assert_str_eq(req.id, "01JD_x-9");
	cr_assert(req.has_since);
	cr_assert_eq(req.since.ms, 1764358912123ULL);
	cr_assert_eq(req.since.n, 7);
}

Test(proto, parses_unsubscribe_ping_and_auth)
{
	struct ntf_request req;
	enum tnd_err err;

	cr_assert_eq(parse("{\"op\":\"unsubscribe\",\"collection\":\"a\",\"id\":\"b\"}", &req, &err), 0);
	cr_assert_eq(req.op, NTF_OP_UNSUBSCRIBE);
	cr_assert_str_eq(req.id, "b");
	cr_assert_eq(parse("{\"op\":\"ping\"}", &req, &err), 0);
	cr_assert_eq(req.op, NTF_OP_PING);
	cr_assert_eq(parse("{\"op\":\"auth\",\"token\":\"x.y.z\"}", &req, &err), 0);
	cr_assert_eq(req.op, NTF_OP_AUTH);
	cr_assert(req.has_token);
	cr_assert_eq(req.token_len, 5);
	cr_assert_str_eq(req.token, "x.y.z");
	cr_assert_eq(parse("{\"op\":\"auth\",\"token\":7}", &req, &err), 0, "the hub answers unauthorized");
	cr_assert_not(req.has_token);
	cr_assert_not(req.token_too_long);
}

/* TND_TOKEN_MAX bytes of token pass; one more is flagged (the hub answers unauthorized). */
Test(proto, a_token_of_TND_TOKEN_MAX_bytes_is_read_and_one_more_is_flagged)
{
	static char msg[TND_TOKEN_MAX + 64];
	static struct ntf_request req;
	enum tnd_err err;
	int n;

	for (int extra = 0; extra <= 1; extra++) {
		n = snprintf(msg, sizeof(msg), "{\"op\":\"auth\",\"token\":\"");
		memset(msg + n, 'a', TND_TOKEN_MAX + (size_t)extra);
		memcpy(msg + n + TND_TOKEN_MAX + extra, "\"}", 3);
		cr_assert_eq(parse(msg, &req, &err), 0);
		cr_assert_eq(req.has_token, extra == 0);
		cr_assert_eq(req.token_too_long, extra == 1);
		if (!extra)
			cr_assert_eq(req.token_len, TND_TOKEN_MAX);
	}
}

Test(proto, rejects_malformed_json)
{
	expect_error("", TND_ERR_INVALID_JSON);
	expect_error("{", TND_ERR_INVALID_JSON);
	expect_error("{\"op\":\"ping\"}x", TND_ERR_INVALID_JSON);
	expect_error("{\"op\":\"ping\"}{}", TND_ERR_INVALID_JSON);
	expect_error("[\"op\"]", TND_ERR_INVALID_JSON);
	expect_error("\"ping\"", TND_ERR_INVALID_JSON);
	expect_error("{'op':'ping'}", TND_ERR_INVALID_JSON);
	expect_error("{\"op\":\"\xc3\x28\"}", TND_ERR_INVALID_JSON); /* invalid UTF-8 */
}

Test(proto, rejects_unknown_or_missing_ops)
{
	expect_error("{}", TND_ERR_UNKNOWN_OP);
	expect_error("{\"op\":1}", TND_ERR_UNKNOWN_OP);
	expect_error("{\"op\":\"Subscribe\"}", TND_ERR_UNKNOWN_OP);
	expect_error("{\"op\":\"pingpong\"}", TND_ERR_UNKNOWN_OP);
	expect_error("{\"op\":\"pin\"}", TND_ERR_UNKNOWN_OP);
}

Test(proto, rejects_bad_names_ids_and_seqs)
{
	expect_error("{\"op\":\"subscribe\"}", TND_ERR_INVALID_NAME);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"\"}", TND_ERR_INVALID_NAME);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"_x\"}", TND_ERR_INVALID_NAME);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"UP\"}", TND_ERR_INVALID_NAME);
	expect_error("{\"op\":\"subscribe\",\"collection\":7}", TND_ERR_INVALID_NAME);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"a\",\"id\":\"\"}", TND_ERR_INVALID_ID);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"a\",\"id\":null}", TND_ERR_INVALID_ID);
	expect_error("{\"op\":\"unsubscribe\",\"collection\":\"a\",\"id\":\"a b\"}", TND_ERR_INVALID_ID);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"a\",\"since\":\"1-\"}", TND_ERR_INVALID_QUERY);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"a\",\"since\":\"-1\"}", TND_ERR_INVALID_QUERY);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"a\",\"since\":\"99999999999999999999-0\"}",
		     TND_ERR_INVALID_QUERY);
	expect_error("{\"op\":\"subscribe\",\"collection\":\"a\",\"since\":1}", TND_ERR_INVALID_QUERY);
}

/* SPEC 5 v2: client messages of 16 KiB are fine, one byte more is not. */
Test(proto, accepts_16_KiB_and_rejects_one_byte_more)
{
	enum { KIB16 = 16 * 1024 };
	static char buf[KIB16 + 2];
	struct ntf_request req;
	enum tnd_err err;
	const char *why;
	int n = snprintf(buf, sizeof(buf), "{\"op\":\"ping\",\"pad\":\"");

	cr_assert_eq(NTF_CLIENT_MSG_MAX, KIB16);
	memset(buf + n, 'x', sizeof(buf) - (size_t)n);
	memcpy(buf + KIB16 - 2, "\"}", 2);
	cr_assert_eq(ntf_proto_parse(buf, KIB16, &req, &err, &why), 0, "16 KiB refused: %s", why);
	cr_assert_eq(req.op, NTF_OP_PING);
	memcpy(buf + KIB16 - 2, "x\"}", 3);
	cr_assert_eq(ntf_proto_parse(buf, KIB16 + 1, &req, &err, &why), -1);
}

/* What json-c's strict mode lets through: every one is invalid_json, never unknown_op. */
Test(proto, rejects_what_rfc_8259_does_not_allow)
{
	static const char *const bad[] = {
		"{\"op\":NaN}",
		"{\"op\":nan}",
		"{\"op\":-NaN}",
		"{\"op\":Infinity}",
		"{\"op\":-Infinity}",
		"{\"op\":\"ping\",\"x\":NaN}",
		"{\"op\":\"ping\",\"x\":[Infinity]}",
		"{\"op\":\"ping\",}",
		"{\"op\":\"ping\",\"x\":[1,2,]}",
		"{,\"op\":\"ping\"}",
		"{\"op\":\"ping\",,\"x\":1}",
		"{'op':'ping'}",
		"{\"op\":'ping'}",
		"{op:\"ping\"}",
		"{\"op\":\"ping\",\"x\":01}",
		"{\"op\":\"ping\",\"x\":-01}",
		"{\"op\":\"ping\",\"x\":00}",
		"{\"op\":\"ping\",\"x\":1.}",
		"{\"op\":\"ping\",\"x\":.5}",
		"{\"op\":\"ping\",\"x\":+1}",
		"{\"op\":\"ping\",\"x\":1e}",
		"{\"op\":\"ping\",\"x\":0x10}",
		"{\"op\":\"ping\",\"x\":True}",
		"{\"op\":\"ping\",\"x\":nul}",
		"{\"op\":\"ping\",\"x\":undefined}",
		"{\"op\":\"pi\tng\"}",
		"{\"op\":\"ping\\x\"}",
		"{\"op\":\"ping\\u00g0\"}",
		"{\"op\":\"ping\",\"x\":\"\\ud800\"}",
		"{\"op\":\"ping\",\"x\":\"\\uDC00\"}",
		"{\"op\":\"ping\",\"x\":\"\\ud83d\\u0041\"}",
		"{\"op\":\"ping\",\"x\":\"\\ud83dx\"}",
		"{\"op\":\"ping\"} x",
		"{\"op\":\"ping\"}}",
		"{\"op\":\"ping\"}\x0b",
		"{\"op\":\"ping\" /* c */}",
		"\xef\xbb\xbf{\"op\":\"ping\"}",
		"[{\"op\":\"ping\"}]",
		"\"ping\"",
		"42",
		"null",
		"true",
	};
	static const char *const good[] = {
		" \t\r\n{ \"op\" : \"ping\" , \"x\" : [ 1 , -0.5e+3 , 0 , 1E9 , true , false , null , {} , [] ] } \n",
		"{\"op\":\"ping\",\"x\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}",
		"{\"op\":\"ping\",\"x\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
		"{\"op\":\"ping\",\"x\":-0,\"y\":0.0,\"z\":123e-4}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(bad[i], TND_ERR_INVALID_JSON);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct ntf_request req;
		enum tnd_err err;

		cr_assert_eq(parse(good[i], &req, &err), 0, "refused: %s", good[i]);
		cr_assert_eq(req.op, NTF_OP_PING);
	}
}

Test(proto, caps_nesting)
{
	char buf[256];
	struct ntf_request req;
	enum tnd_err err;
	int n = snprintf(buf, sizeof(buf), "{\"op\":\"ping\",\"x\":");

	/* The object itself is depth 1: 31 arrays inside it fit, 32 do not. */
	for (int i = 0; i < 31; i++)
		buf[n++] = '[';
	for (int i = 0; i < 31; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = '\0';
	cr_assert_eq(parse(buf, &req, &err), 0);
	n = snprintf(buf, sizeof(buf), "{\"op\":\"ping\",\"x\":");
	for (int i = 0; i < 32; i++)
		buf[n++] = '[';
	for (int i = 0; i < 32; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = '\0';
	expect_error(buf, TND_ERR_INVALID_JSON);
}

/* Ill-formed UTF-8 (RFC 3629) is invalid_json at the parser (the socket closes 1007 first). */
Test(proto, rejects_ill_formed_utf8)
{
	static const char *const bad[] = {
		"{\"op\":\"ping\",\"x\":\"\xc0\xaf\"}",         /* overlong '/' */
		"{\"op\":\"ping\",\"x\":\"\xe0\x80\xaf\"}",     /* overlong, 3 bytes */
		"{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}",     /* encoded surrogate U+D800 */
		"{\"op\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}", /* U+110000 */
		"{\"op\":\"ping\",\"x\":\"\xe2\x82\"}",         /* truncated */
		"{\"op\":\"ping\",\"x\":\"\x80\"}",             /* stray continuation */
		"{\"op\":\"ping\",\"x\":\"\xff\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(bad[i], TND_ERR_INVALID_JSON);
}

static void expect_payload(struct ntf_msg *m, const char *want)
{
	cr_assert_not_null(m);
	cr_assert_eq(m->len, strlen(want));
	cr_assert_str_eq(ntf_msg_payload(m), want);
	cr_assert_eq(ntf_msg_payload(m)[m->len], '\0');
	ntf_msg_unref(m);
}

Test(proto, builds_control_frames)
{
	struct tnd_seq seq = {17, 3};

	expect_payload(ntf_proto_subscribed("todos", NULL, NULL, &seq),
		       "{\"op\":\"subscribed\",\"collection\":\"todos\",\"seq\":\"17-3\"}");
	expect_payload(ntf_proto_subscribed("todos", "a1", NULL, &seq),
		       "{\"op\":\"subscribed\",\"collection\":\"todos\",\"id\":\"a1\",\"seq\":\"17-3\"}");
	expect_payload(ntf_proto_unsubscribed("todos", "", NULL),
		       "{\"op\":\"unsubscribed\",\"collection\":\"todos\"}");
	expect_payload(ntf_proto_reset("todos", NULL, NULL), "{\"op\":\"reset\",\"collection\":\"todos\"}");
	expect_payload(ntf_proto_pong(), "{\"op\":\"pong\"}");
	expect_payload(ntf_proto_authenticated_open(), "{\"op\":\"authenticated\",\"exp\":null}");
	expect_payload(ntf_proto_error(TND_ERR_UNKNOWN_OP, "say \"hi\"\n"),
		       "{\"op\":\"error\",\"code\":\"unknown_op\",\"message\":\"say \\\"hi\\\"\\n\"}");
}

#define BODY "{\"type\":\"created\",\"collection\":\"todos\",\"id\":\"X1\",\"version\":1,\"doc\":{\"id\":\"X1\",\"t\":\"}\"}}"
#define FRAME "{\"op\":\"event\",\"seq\":\"5-2\",\"type\":\"created\",\"collection\":\"todos\",\"id\":\"X1\",\"version\":1,\"doc\":{\"id\":\"X1\",\"t\":\"}\"}}"

Test(proto, turns_an_event_body_into_a_frame)
{
	struct ntf_event_meta meta;
	bool malformed = true;
	struct ntf_msg *m = ntf_proto_event("5-2", 3, BODY, strlen(BODY), &meta, &malformed);

	cr_assert_not(malformed);
	cr_assert_eq(meta.collection_len, 5);
	cr_assert_eq(memcmp(meta.collection, "todos", 5), 0);
	cr_assert_null(meta.owner);
	cr_assert(m->is_event);
	cr_assert_str_eq(m->doc_id, "X1");
	cr_assert_null(m->owner);
	cr_assert_eq(m->seq.ms, 5);
	cr_assert_eq(m->seq.n, 2);
	expect_payload(m, FRAME);
}

Test(proto, a_published_message_is_the_seq_then_the_same_body)
{
	const char *payload = "5-2 " BODY;
	const char *seq, *body;
	size_t seq_len, body_len;
	bool malformed;

	cr_assert_eq(ntf_proto_split_publish(payload, strlen(payload), &seq, &seq_len, &body, &body_len), 0);
	cr_assert_eq(seq_len, 3);
	cr_assert_eq(body_len, strlen(BODY));
	expect_payload(ntf_proto_event(seq, seq_len, body, body_len, NULL, &malformed), FRAME);
	cr_assert_eq(ntf_proto_split_publish("nospace", 7, &seq, &seq_len, &body, &body_len), -1);
}

Test(proto, the_owner_line_is_for_the_notifier_only)
{
	const char *body = "{\"type\":\"deleted\",\"collection\":\"todos\",\"id\":\"X1\",\"version\":2}\n"
			   "{\"owner\":\"alice\"}";
	struct ntf_event_meta meta;
	bool malformed;
	struct ntf_msg *m = ntf_proto_event("6-0", 3, body, strlen(body), &meta, &malformed);

	cr_assert_not_null(m);
	cr_assert_eq(meta.owner_len, 5);
	cr_assert_str_eq(m->owner, "alice");
	expect_payload(m, "{\"op\":\"event\",\"seq\":\"6-0\",\"type\":\"deleted\",\"collection\":\"todos\","
			  "\"id\":\"X1\",\"version\":2}");
}

Test(proto, the_notifier_line_may_carry_the_document_before_the_write)
{
	const char *with_owner = "{\"type\":\"updated\",\"collection\":\"t\",\"id\":\"X\",\"version\":2,"
				 "\"doc\":{\"id\":\"X\",\"n\":2}}\n{\"owner\":\"bob\",\"prev\":{\"id\":\"X\",\"n\":1}}";
	const char *prev_only = "{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":3}\n"
				"{\"prev\":{\"id\":\"X\",\"s\":\"}\"}}";
	struct ntf_event_meta meta;
	bool malformed;
	struct ntf_msg *m = ntf_proto_event("7-0", 3, with_owner, strlen(with_owner), &meta, &malformed);

	cr_assert_not_null(m);
	cr_assert_str_eq(m->owner, "bob");
	cr_assert_eq(meta.prev_len, strlen("{\"id\":\"X\",\"n\":1}"));
	cr_assert_eq(memcmp(meta.prev, "{\"id\":\"X\",\"n\":1}", meta.prev_len), 0);
	expect_payload(m, "{\"op\":\"event\",\"seq\":\"7-0\",\"type\":\"updated\",\"collection\":\"t\","
			  "\"id\":\"X\",\"version\":2,\"doc\":{\"id\":\"X\",\"n\":2}}");
	m = ntf_proto_event("8-0", 3, prev_only, strlen(prev_only), &meta, &malformed);
	cr_assert_not_null(m);
	cr_assert_null(m->owner);
	cr_assert_eq(meta.prev_len, strlen("{\"id\":\"X\",\"s\":\"}\"}"));
	ntf_msg_unref(m);
}

Test(proto, refuses_malformed_events)
{
	static const char *const bad[] = {
		"",
		"{}",
		"{\"type\":\"made\",\"collection\":\"todos\",\"id\":\"X\",\"version\":1}",
		"{\"type\":\"created\",\"collection\":\"_t\",\"id\":\"X\",\"version\":1,\"doc\":{}}",
		"{\"type\":\"created\",\"collection\":\"t\",\"id\":\"X\",\"version\":01,\"doc\":{}}",
		"{\"type\":\"created\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}",
		"{\"type\":\"created\",\"collection\":\"t\",\"id\":\"X\",\"version\":1,\"doc\":[]}",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1,\"x\":1}",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}\n",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}\n{\"owner\":\"a b\"}",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}\n{\"owner\":\"a\"}x",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}\n{}",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}\n{\"prev\":[1]}",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}\n{\"owner\":\"a\",}",
		"{\"type\":\"deleted\",\"collection\":\"t\",\"id\":\"X\",\"version\":1}\n{\"owner\":\"a\"\"prev\":{}}",
	};
	bool malformed;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_null(ntf_proto_event("5-2", 3, bad[i], strlen(bad[i]), NULL, &malformed),
			       "accepted %s", bad[i]);
		cr_assert(malformed);
	}
	cr_assert_null(ntf_proto_event("52", 2, BODY, strlen(BODY), NULL, &malformed), "a bad seq");
	cr_assert(malformed);
}

/* --- filtered subscriptions (SPEC 8) -------------------------------------- */

Test(proto, parses_a_filtered_subscription)
{
	struct ntf_request req;
	enum tnd_err err;

	cr_assert_eq(parse("{\"op\":\"subscribe\",\"collection\":\"todos\",\"sid\":\"open_1-A\","
			   "\"where\":{\"done\":false,\"n\":{\"$gt\":2}},\"since\":\"5-0\"}",
			   &req, &err),
		     0);
	cr_assert_str_eq(req.sid, "open_1-A");
	cr_assert_not_null(req.where);
	cr_assert(req.has_since);
	ntf_request_release(&req);
	cr_assert_null(req.where);

	cr_assert_eq(parse("{\"op\":\"unsubscribe\",\"collection\":\"todos\",\"sid\":\"open\"}", &req, &err), 0);
	cr_assert_str_eq(req.sid, "open");
	cr_assert_null(req.where);
}

static void expect_why(const char *s, enum tnd_err want, const char *part)
{
	struct ntf_request req;
	enum tnd_err err = TND_ERR__MAX;
	const char *why = NULL;

	cr_assert_eq(ntf_proto_parse(s, strlen(s), &req, &err, &why), -1, "accepted: %s", s);
	cr_assert_eq(err, want, "%s gave %s", s, tnd_err_code(err));
	cr_assert(strstr(why, part), "%s: \"%s\" lacks \"%s\"", s, why, part);
	cr_assert_null(req.where);
	ntf_request_release(&req);
}

Test(proto, refuses_sid_and_where_outside_their_rules)
{
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"a\"}", TND_ERR_INVALID_QUERY,
		   "needs \"where\"");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"where\":{}}", TND_ERR_INVALID_QUERY,
		   "needs a \"sid\"");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"id\":\"x\",\"sid\":\"a\",\"where\":{}}",
		   TND_ERR_INVALID_QUERY, "\"id\"");
	expect_why("{\"op\":\"unsubscribe\",\"collection\":\"t\",\"id\":\"x\",\"sid\":\"a\"}",
		   TND_ERR_INVALID_QUERY, "\"id\"");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"\",\"where\":{}}",
		   TND_ERR_INVALID_QUERY, "sid");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"a b\",\"where\":{}}",
		   TND_ERR_INVALID_QUERY, "sid");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":7,\"where\":{}}",
		   TND_ERR_INVALID_QUERY, "sid");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"a\",\"where\":[1]}",
		   TND_ERR_INVALID_QUERY, "object");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"a\",\"where\":{\"n\":{\"$near\":1}}}",
		   TND_ERR_INVALID_QUERY, "$near");
	expect_why("{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"a\",\"where\":{\"n\":{\"$gt\":true}}}",
		   TND_ERR_INVALID_QUERY, "$gt");
}

Test(proto, a_sid_of_64_chars_is_taken_and_65_refused)
{
	char buf[256], sid[66];
	struct ntf_request req;
	enum tnd_err err;

	memset(sid, 'z', 64);
	sid[64] = '\0';
	snprintf(buf, sizeof(buf), "{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"%s\",\"where\":{}}", sid);
	cr_assert_eq(parse(buf, &req, &err), 0);
	cr_assert_str_eq(req.sid, sid);
	ntf_request_release(&req);
	strcat(sid, "z");
	snprintf(buf, sizeof(buf), "{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"%s\",\"where\":{}}", sid);
	expect_error(buf, TND_ERR_INVALID_QUERY);
}

Test(proto, a_where_past_4_KiB_or_32_conditions_is_refused)
{
	char buf[NTF_CLIENT_MSG_MAX];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"a\",\"where\":{\"s\":\"");
	memset(buf + n, 'x', 4100);
	n += 4100;
	memcpy(buf + n, "\"}}", 4);
	expect_why(buf, TND_ERR_INVALID_QUERY, "4096");

	n = (size_t)snprintf(buf, sizeof(buf), "{\"op\":\"subscribe\",\"collection\":\"t\",\"sid\":\"a\",\"where\":{");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"f%d\":1", i ? "," : "", i);
	memcpy(buf + n, "}}", 3);
	expect_error(buf, TND_ERR_INVALID_QUERY);
}

Test(proto, answers_echo_the_sid)
{
	struct tnd_seq seq = {17, 3};

	expect_payload(ntf_proto_subscribed("todos", NULL, "v1", &seq),
		       "{\"op\":\"subscribed\",\"collection\":\"todos\",\"sid\":\"v1\",\"seq\":\"17-3\"}");
	expect_payload(ntf_proto_unsubscribed("todos", NULL, "v1"),
		       "{\"op\":\"unsubscribed\",\"collection\":\"todos\",\"sid\":\"v1\"}");
	expect_payload(ntf_proto_reset("todos", NULL, "v1"),
		       "{\"op\":\"reset\",\"collection\":\"todos\",\"sid\":\"v1\"}");
	expect_payload(ntf_proto_error_for(TND_ERR_INVALID_QUERY, "where: x", "todos", NULL, "v1"),
		       "{\"op\":\"error\",\"code\":\"invalid_query\",\"message\":\"where: x\","
		       "\"collection\":\"todos\",\"sid\":\"v1\"}");
}

#define UBODY "{\"type\":\"updated\",\"collection\":\"todos\",\"id\":\"X1\",\"version\":2,\"doc\":{\"id\":\"X1\",\"n\":2}}" \
	      "\n{\"owner\":\"u1\",\"prev\":{\"id\":\"X1\",\"n\":1}}"

Test(proto, an_event_seen_through_a_filter_carries_its_sid_and_view)
{
	bool malformed;
	struct ntf_msg *ev = ntf_proto_event("5-2", 3, UBODY, strlen(UBODY), NULL, &malformed);
	struct json_object *doc, *prev;

	cr_assert_not_null(ev);
	cr_assert_str_eq(ev->prev, "{\"id\":\"X1\",\"n\":1}");
	ntf_msg_docs(ev, &doc, &prev);
	cr_assert_not_null(doc);
	cr_assert_not_null(prev);
	expect_payload(ntf_proto_event_view(ev, "v", NTF_VIEW_SAME),
		       "{\"op\":\"event\",\"seq\":\"5-2\",\"sid\":\"v\",\"type\":\"updated\",\"collection\":\"todos\","
		       "\"id\":\"X1\",\"version\":2,\"doc\":{\"id\":\"X1\",\"n\":2}}");
	expect_payload(ntf_proto_event_view(ev, "v", NTF_VIEW_ENTERED),
		       "{\"op\":\"event\",\"seq\":\"5-2\",\"sid\":\"v\",\"type\":\"entered\",\"collection\":\"todos\","
		       "\"id\":\"X1\",\"version\":2,\"doc\":{\"id\":\"X1\",\"n\":2}}");
	expect_payload(ntf_proto_event_view(ev, "v", NTF_VIEW_LEFT),
		       "{\"op\":\"event\",\"seq\":\"5-2\",\"sid\":\"v\",\"type\":\"left\",\"collection\":\"todos\","
		       "\"id\":\"X1\",\"version\":2}");
	ntf_msg_unref(ev);
}
