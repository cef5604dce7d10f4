/*
 * Unit tests of ntf_coalesce's merge table (every row of SPEC 5, and the
 * pairs it leaves alone) and of ntf_proto_event_retype, the frame builder
 * a merge uses when the merged event keeps the earlier one's type.
 * The live path (merges in a connection's queue) is in test_hub.c.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <string.h>

#include "ntf_coalesce.h"
#include "ntf_proto.h"

#define C NTF_EV_CREATED
#define U NTF_EV_UPDATED
#define D NTF_EV_DELETED
#define E NTF_EV_ENTERED
#define L NTF_EV_LEFT

static void expect_rule(enum ntf_ev_type a, enum ntf_ev_type b, enum ntf_merge how,
			enum ntf_ev_type type)
{
	enum ntf_ev_type merged = NTF_EV_NONE;

	cr_assert_eq(ntf_coalesce_rule(a, b, &merged), how, "%d + %d", a, b);
	if (how == NTF_MERGE_LATER || how == NTF_MERGE_RETYPE)
		cr_assert_eq(merged, type, "%d + %d", a, b);
}

Test(coalesce, every_row_of_the_spec_table)
{
	expect_rule(U, U, NTF_MERGE_LATER, U);
	expect_rule(C, U, NTF_MERGE_RETYPE, C);
	expect_rule(U, D, NTF_MERGE_LATER, D);
	expect_rule(C, D, NTF_MERGE_DROP, 0);
	expect_rule(D, C, NTF_MERGE_KEEP, 0);
	expect_rule(E, U, NTF_MERGE_RETYPE, E);
	expect_rule(U, L, NTF_MERGE_LATER, L);
	expect_rule(E, L, NTF_MERGE_DROP, 0);
	expect_rule(L, E, NTF_MERGE_RETYPE, U);
}

Test(coalesce, the_pairs_the_spec_leaves_out)
{
	/* The client never saw the document: both go. */
	expect_rule(C, L, NTF_MERGE_DROP, 0);
	expect_rule(E, D, NTF_MERGE_DROP, 0);
	/* A new life of the document, or pairs a stream never makes: both stay. */
	expect_rule(L, C, NTF_MERGE_KEEP, 0);
	for (int b = C; b <= L; b++)
		expect_rule(D, b, NTF_MERGE_KEEP, 0);
	expect_rule(C, C, NTF_MERGE_KEEP, 0);
	expect_rule(C, E, NTF_MERGE_KEEP, 0);
	expect_rule(U, C, NTF_MERGE_KEEP, 0);
	expect_rule(U, E, NTF_MERGE_KEEP, 0);
	expect_rule(E, C, NTF_MERGE_KEEP, 0);
	expect_rule(E, E, NTF_MERGE_KEEP, 0);
	expect_rule(L, U, NTF_MERGE_KEEP, 0);
	expect_rule(L, D, NTF_MERGE_KEEP, 0);
	expect_rule(L, L, NTF_MERGE_KEEP, 0);
	/* Not events (acks and the like) never merge. */
	expect_rule(NTF_EV_NONE, U, NTF_MERGE_KEEP, 0);
	expect_rule(U, NTF_EV_NONE, NTF_MERGE_KEEP, 0);
	expect_rule(U, NTF_EV__MAX, NTF_MERGE_KEEP, 0);
}

static struct ntf_msg *event(const char *seq, const char *body)
{
	bool malformed;
	struct ntf_msg *m = ntf_proto_event(seq, strlen(seq), body, strlen(body), NULL, &malformed);

	cr_assert_not_null(m);
	return m;
}

static void expect_payload(struct ntf_msg *m, const char *want)
{
	cr_assert_not_null(m);
	cr_assert_eq(m->len, strlen(want));
	cr_assert_str_eq(ntf_msg_payload(m), want);
}

Test(coalesce, retype_keeps_seq_version_doc_and_owner)
{
	struct ntf_msg *ev = event("9-1", "{\"type\":\"updated\",\"collection\":\"c\",\"id\":\"a\","
					  "\"version\":4,\"doc\":{\"id\":\"a\",\"n\":2}}\n{\"owner\":\"u1\"}");
	struct ntf_msg *m = ntf_proto_event_retype(ev, NTF_EV_CREATED), *m2;

	cr_assert_eq(ev->ev_type, NTF_EV_UPDATED);
	expect_payload(m, "{\"op\":\"event\",\"seq\":\"9-1\",\"type\":\"created\",\"collection\":\"c\","
			  "\"id\":\"a\",\"version\":4,\"doc\":{\"id\":\"a\",\"n\":2}}");
	cr_assert_eq(m->ev_type, NTF_EV_CREATED);
	cr_assert(m->is_event);
	cr_assert_eq(m->seq.ms, 9);
	cr_assert_eq(m->seq.n, 1);
	cr_assert_str_eq(m->doc_id, "a");
	cr_assert_str_eq(m->owner, "u1");
	cr_assert_eq(strncmp(ntf_msg_payload(m) + m->doc_off, ",\"doc\":{", 8), 0);
	/* Offsets stay right for a second rebuild, to a longer or shorter name. */
	m2 = ntf_proto_event_retype(m, NTF_EV_LEFT);
	expect_payload(m2, "{\"op\":\"event\",\"seq\":\"9-1\",\"type\":\"left\",\"collection\":\"c\","
			   "\"id\":\"a\",\"version\":4,\"doc\":{\"id\":\"a\",\"n\":2}}");
	cr_assert_eq(strncmp(ntf_msg_payload(m2) + m2->doc_off, ",\"doc\":{", 8), 0);
	cr_assert_null(ntf_proto_event_retype(m, NTF_EV_NONE));
	ntf_msg_unref(m2);
	ntf_msg_unref(m);
	ntf_msg_unref(ev);
}

Test(coalesce, retype_of_a_view_frame_keeps_its_sid)
{
	struct ntf_msg *ev = event("7-0", "{\"type\":\"updated\",\"collection\":\"c\",\"id\":\"b\","
					  "\"version\":2,\"doc\":{\"x\":1}}");
	struct ntf_msg *view = ntf_proto_event_view(ev, "v1", NTF_VIEW_ENTERED);
	struct ntf_msg *left = ntf_proto_event_view(ev, "v1", NTF_VIEW_LEFT);
	struct ntf_msg *m = ntf_proto_event_retype(view, NTF_EV_UPDATED);

	cr_assert_eq(view->ev_type, NTF_EV_ENTERED);
	cr_assert_eq(left->ev_type, NTF_EV_LEFT);
	cr_assert_eq(left->doc_off, 0, "left carries no doc");
	cr_assert_eq(strncmp(ntf_msg_payload(view) + view->doc_off, ",\"doc\":{", 8), 0);
	expect_payload(m, "{\"op\":\"event\",\"seq\":\"7-0\",\"sid\":\"v1\",\"type\":\"updated\","
			  "\"collection\":\"c\",\"id\":\"b\",\"version\":2,\"doc\":{\"x\":1}}");
	cr_assert_eq(m->ev_type, NTF_EV_UPDATED);
	ntf_msg_unref(m);
	m = ntf_proto_event_retype(left, NTF_EV_DELETED);
	expect_payload(m, "{\"op\":\"event\",\"seq\":\"7-0\",\"sid\":\"v1\",\"type\":\"deleted\","
			  "\"collection\":\"c\",\"id\":\"b\",\"version\":2}");
	ntf_msg_unref(m);
	ntf_msg_unref(left);
	ntf_msg_unref(view);
	ntf_msg_unref(ev);
}

Test(coalesce, parse_takes_a_boolean_coalesce_only)
{
	struct ntf_request req;
	enum tnd_err err;
	const char *why;
	const char *ok = "{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":true}";
	const char *bad[] = {
		"{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":1}",
		"{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":\"true\"}",
		"{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":null}",
		"{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":[true]}",
		"{\"op\":\"subscribe\",\"collection\":\"c\",\"sid\":\"s\",\"where\":{},\"coalesce\":{}}",
	};

	cr_assert_eq(ntf_proto_parse(ok, strlen(ok), &req, &err, &why), 0);
	cr_assert(req.coalesce);
	ntf_request_release(&req);
	ok = "{\"op\":\"subscribe\",\"collection\":\"c\",\"coalesce\":false}";
	cr_assert_eq(ntf_proto_parse(ok, strlen(ok), &req, &err, &why), 0);
	cr_assert_not(req.coalesce);
	ntf_request_release(&req);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(ntf_proto_parse(bad[i], strlen(bad[i]), &req, &err, &why), -1, "%s", bad[i]);
		cr_assert_eq(err, TND_ERR_INVALID_QUERY, "%s", bad[i]);
		cr_assert(strstr(why, "coalesce"), "%s", why);
		cr_assert_str_eq(req.collection, "c", "the error can echo the target");
		ntf_request_release(&req);
	}
	/* unsubscribe does not look at it. */
	ok = "{\"op\":\"unsubscribe\",\"collection\":\"c\",\"coalesce\":7}";
	cr_assert_eq(ntf_proto_parse(ok, strlen(ok), &req, &err, &why), 0);
	ntf_request_release(&req);
}
