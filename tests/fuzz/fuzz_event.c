/*
 * fuzz_event: libFuzzer entry for the notifier's Redis input: PUBLISHed
 * event payloads and event-log (stream) entries (notifier/ntf_proto.c).
 *
 * The reply-shape checks of ntf_redis.c (entry_event, parse_head) are
 * static; the public decoders they hand the bytes to are fuzzed here:
 *
 *  - first byte even: the rest is a pub/sub payload for
 *    ntf_proto_event_from_publish (what ntf_hub_publish gets);
 *  - first byte odd: the rest is the fields of one stream entry split at
 *    NUL bytes: collection, entry id (seq), type, id, version[, doc]; as
 *    in ntf_redis.c an absent doc field is NULL. The collection is the
 *    caller's valid name (a precondition), so other ones are skipped.
 *
 * Checks: a decoded publish points its routing fields inside the payload
 * at valid names and makes a frame "{\"op\":\"event\"," + payload[1..];
 * a decoded entry, written as tandem-rest publishes it, decodes through
 * the publish path to the very same bytes, seq and doc id (ntf_proto.h:
 * both event paths produce the same bytes for the same event).
 */
#include <stdio.h>
#include <string.h>

#include "fuzz_check.h"
#include "ntf_proto.h"

#define INPUT_MAX 8192
#define FIELDS_MAX 6

#define EVENT_PREFIX "{\"op\":\"event\","

static void check_publish(const char *p, size_t len)
{
	struct ntf_event_meta meta;
	bool malformed = false;
	struct ntf_msg *m = ntf_proto_event_from_publish(p, len, &meta, &malformed);
	const size_t pre = strlen(EVENT_PREFIX);

	if (!m) {
		FUZZ_CHECK(malformed); /* no out-of-memory here */
		return;
	}
	FUZZ_CHECK(!malformed);
	FUZZ_CHECK(meta.collection >= p && meta.collection + meta.collection_len <= p + len);
	FUZZ_CHECK(meta.id >= p && meta.id + meta.id_len <= p + len);
	FUZZ_CHECK(tnd_valid_collection(meta.collection, meta.collection_len));
	FUZZ_CHECK(tnd_valid_doc_id(meta.id, meta.id_len));
	FUZZ_CHECK(m->is_event && m->doc_id_len == meta.id_len);
	FUZZ_CHECK(!memcmp(m->doc_id, meta.id, meta.id_len) && m->doc_id[meta.id_len] == '\0');
	FUZZ_CHECK(m->len == pre + len - 1);
	FUZZ_CHECK(!memcmp(ntf_msg_payload(m), EVENT_PREFIX, pre));
	FUZZ_CHECK(!memcmp(ntf_msg_payload(m) + pre, p + 1, len - 1));
	FUZZ_CHECK(ntf_msg_payload(m)[m->len] == '\0');
	ntf_msg_unref(m);
}

struct field {
	const char *p;
	size_t len;
};

static void check_entry(const char *p, size_t len)
{
	struct field f[FIELDS_MAX];
	size_t n = 0, plen;
	char col[TND_COLLECTION_MAX + 1];
	struct ntf_msg *m, *m2;
	struct ntf_event_meta meta;
	bool malformed;
	char *pub;
	const struct field *doc;

	while (n < FIELDS_MAX) {
		/* The doc, last, takes the rest: Redis values may hold NULs. */
		const char *z = n + 1 < FIELDS_MAX ? memchr(p, '\0', len) : NULL;
		size_t l = z ? (size_t)(z - p) : len;

		f[n].p = p;
		f[n++].len = l;
		if (!z)
			break;
		p = z + 1;
		len -= l + 1;
	}
	if (n < 5 || !tnd_valid_collection(f[0].p, f[0].len))
		return;
	memcpy(col, f[0].p, f[0].len);
	col[f[0].len] = '\0';
	doc = n > 5 ? &f[5] : NULL;
	m = ntf_proto_event_from_entry(col, f[1].p, f[1].len, f[2].p, f[2].len, f[3].p, f[3].len,
				       f[4].p, f[4].len, doc ? doc->p : NULL, doc ? doc->len : 0);
	if (!m)
		return;
	FUZZ_CHECK(m->is_event);
	FUZZ_CHECK(ntf_msg_payload(m)[m->len] == '\0');
	/* The same event as tandem-rest PUBLISHes it. */
	plen = 128 + f[0].len + f[1].len + f[2].len + f[3].len + f[4].len + (doc ? doc->len : 0);
	pub = malloc(plen);
	FUZZ_CHECK(pub != NULL);
	{
		int k = snprintf(pub, plen,
				 "{\"type\":\"%.*s\",\"collection\":\"%s\",\"id\":\"%.*s\","
				 "\"version\":%.*s,\"seq\":\"%.*s\"",
				 (int)f[2].len, f[2].p, col, (int)f[3].len, f[3].p, (int)f[4].len,
				 f[4].p, (int)f[1].len, f[1].p);
		FUZZ_CHECK(k > 0 && (size_t)k < plen);
		plen = (size_t)k;
	}
	if (doc) {
		memcpy(pub + plen, ",\"doc\":", 7);
		memcpy(pub + plen + 7, doc->p, doc->len);
		plen += 7 + doc->len;
	}
	pub[plen++] = '}';
	m2 = ntf_proto_event_from_publish(pub, plen, &meta, &malformed);
	FUZZ_CHECK(m2 != NULL);
	FUZZ_CHECK(m2->len == m->len && !memcmp(ntf_msg_payload(m2), ntf_msg_payload(m), m->len));
	FUZZ_CHECK(tnd_seq_cmp(&m2->seq, &m->seq) == 0);
	FUZZ_CHECK(m2->doc_id_len == m->doc_id_len && !strcmp(m2->doc_id, m->doc_id));
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
