/*
 * fuzz_event: libFuzzer entry for the notifier's Redis input: PUBLISHed
 * events and event-log (stream) entries (notifier/ntf_proto.c).
 *
 * The reply-shape checks of ntf_redis.c / ntf_sync.c are static and take
 * hiredis reply trees; the public decoders they hand the bytes to are
 * fuzzed here:
 *
 *  - first byte even: the rest is a pub/sub message "<seq> <body>" for
 *    ntf_proto_split_publish, then ntf_proto_event (the live path);
 *  - first byte odd: the rest is a stream entry, "<entry id>\0<field e>",
 *    for ntf_proto_event (the replay path).
 *
 * Checks: a split gives back exactly the bytes around the first space; a
 * decoded event's frame is {"op":"event","seq":"<seq>", + the clients'
 * line of the body after its '{' (forwarded, never re-encoded); the
 * routing fields and owner point inside their lines at valid names; a
 * refusal is "malformed" (no out-of-memory here); an entry that decodes,
 * PUBLISHed as tandem-rest's script does, decodes to the very same frame,
 * seq, doc id and owner (ntf_proto.h: one builder for live and replayed
 * events).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_check.h"
#include "ntf_proto.h"

#define INPUT_MAX 8192
#define FRAME_PREFIX "{\"op\":\"event\",\"seq\":\""

static bool inside(const char *p, size_t len, const char *lo, size_t lo_len)
{
	return p >= lo && p + len <= lo + lo_len;
}

/*
 * Coalescing's frame rebuild (ntf_proto_event_retype): any type and back
 * gives the same bytes, so type_off and doc_off stay right.
 */
static void check_retype(struct ntf_msg *m)
{
	FUZZ_CHECK(m->ev_type == NTF_EV_CREATED || m->ev_type == NTF_EV_UPDATED ||
		   m->ev_type == NTF_EV_DELETED);
	for (int t = NTF_EV_CREATED; t < NTF_EV__MAX; t++) {
		struct ntf_msg *r = ntf_proto_event_retype(m, (enum ntf_ev_type)t), *back;

		if (!r)
			continue; /* out of memory */
		FUZZ_CHECK(r->ev_type == t && (r->doc_off == 0) == (m->doc_off == 0));
		back = ntf_proto_event_retype(r, (enum ntf_ev_type)m->ev_type);
		if (back) {
			FUZZ_CHECK(back->len == m->len && !memcmp(ntf_msg_payload(back), ntf_msg_payload(m), m->len));
			FUZZ_CHECK(back->doc_off == m->doc_off && back->type_off == m->type_off);
		}
		ntf_msg_unref(back);
		ntf_msg_unref(r);
	}
}

/* Decodes one event and checks it; returns the message (the caller's) or NULL. */
static struct ntf_msg *check_event(const char *seq, size_t seq_len, const char *body,
				   size_t len)
{
	struct ntf_event_meta meta;
	bool malformed = false;
	struct ntf_msg *m = ntf_proto_event(seq, seq_len, body, len, &meta, &malformed);
	const char *nl = memchr(body, '\n', len);
	size_t client_len = nl ? (size_t)(nl - body) : len;
	const size_t pre = strlen(FRAME_PREFIX);
	const char *f;

	if (!m) {
		FUZZ_CHECK(malformed);
		return NULL;
	}
	FUZZ_CHECK(!malformed && m->is_event);
	FUZZ_CHECK(client_len >= 2 && body[0] == '{');
	FUZZ_CHECK(inside(meta.collection, meta.collection_len, body, client_len));
	FUZZ_CHECK(inside(meta.id, meta.id_len, body, client_len));
	FUZZ_CHECK(tnd_valid_collection(meta.collection, meta.collection_len));
	FUZZ_CHECK(tnd_valid_doc_id(meta.id, meta.id_len));
	FUZZ_CHECK(m->doc_id_len == meta.id_len && !memcmp(m->doc_id, meta.id, meta.id_len) &&
		   m->doc_id[meta.id_len] == '\0');
	if (meta.owner) {
		FUZZ_CHECK(nl && inside(meta.owner, meta.owner_len, nl + 1, len - client_len - 1));
		FUZZ_CHECK(m->owner && strlen(m->owner) == meta.owner_len &&
			   !memcmp(m->owner, meta.owner, meta.owner_len));
	} else {
		FUZZ_CHECK(!m->owner);
	}
	f = ntf_msg_payload(m);
	FUZZ_CHECK(m->len == pre + seq_len + 2 + client_len - 1);
	FUZZ_CHECK(!memcmp(f, FRAME_PREFIX, pre) && !memcmp(f + pre, seq, seq_len));
	FUZZ_CHECK(!memcmp(f + pre + seq_len, "\",", 2));
	FUZZ_CHECK(!memcmp(f + pre + seq_len + 2, body + 1, client_len - 1));
	FUZZ_CHECK(f[m->len] == '\0');
	check_retype(m);
	return m;
}

static void check_publish(const char *p, size_t len)
{
	const char *seq, *body;
	size_t seq_len, body_len;
	const char *sp = memchr(p, ' ', len);

	if (ntf_proto_split_publish(p, len, &seq, &seq_len, &body, &body_len) < 0) {
		FUZZ_CHECK(!sp);
		return;
	}
	FUZZ_CHECK(sp && seq == p && seq_len == (size_t)(sp - p));
	FUZZ_CHECK(body == sp + 1 && body_len == len - seq_len - 1);
	ntf_msg_unref(check_event(seq, seq_len, body, body_len));
}

static void check_entry(const char *p, size_t len)
{
	const char *z = memchr(p, '\0', len);
	const char *body, *seq2, *body2;
	size_t seq_len, body_len, seq2_len, body2_len;
	struct ntf_msg *m, *m2;
	char *pub;

	if (!z)
		return;
	seq_len = (size_t)(z - p);
	body = z + 1;
	body_len = len - seq_len - 1;
	m = check_event(p, seq_len, body, body_len);
	if (!m)
		return;
	/* The write script PUBLISHes the same event as "<seq> <body>". */
	pub = malloc(seq_len + 1 + body_len);
	FUZZ_CHECK(pub != NULL);
	memcpy(pub, p, seq_len);
	pub[seq_len] = ' ';
	memcpy(pub + seq_len + 1, body, body_len);
	FUZZ_CHECK(ntf_proto_split_publish(pub, seq_len + 1 + body_len, &seq2, &seq2_len, &body2,
					   &body2_len) == 0);
	m2 = check_event(seq2, seq2_len, body2, body2_len);
	FUZZ_CHECK(m2 != NULL);
	FUZZ_CHECK(m2->len == m->len && !memcmp(ntf_msg_payload(m2), ntf_msg_payload(m), m->len));
	FUZZ_CHECK(tnd_seq_cmp(&m2->seq, &m->seq) == 0 && !strcmp(m2->doc_id, m->doc_id));
	FUZZ_CHECK((!m->owner && !m2->owner) || (m->owner && m2->owner && !strcmp(m->owner, m2->owner)));
	ntf_msg_unref(m2);
	ntf_msg_unref(m);
	free(pub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > INPUT_MAX)
		return 0;
	if (data[0] % 2 == 0)
		check_publish((const char *)data + 1, size - 1);
	else
		check_entry((const char *)data + 1, size - 1);
	return 0;
}
