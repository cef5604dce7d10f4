/*
 * ntf_msg: one outbound WebSocket message, shared by every connection it
 * goes to. The notifier builds an event once and hands the same buffer to
 * N per-connection queues, so a fan-out costs N pointers, not N copies.
 *
 * The buffer keeps NTF_MSG_PRE bytes of headroom before the payload:
 * libwebsockets writes the frame header there (LWS_PRE). Every connection
 * writes the same header for the same payload, so sharing is safe on the
 * one loop thread. Reference-counted; the last ntf_msg_unref() frees it.
 * Single-threaded: no atomics.
 */
#ifndef NTF_MSG_H
#define NTF_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tnd_seq.h"
#include "tnd_valid.h"

struct json_object;

/* Headroom before the payload; ntf_ws.c checks that LWS_PRE fits. */
#define NTF_MSG_PRE 16

/* An event frame's "type" (SPEC 3 and 8); NTF_EV_NONE on other messages. */
enum ntf_ev_type {
	NTF_EV_NONE,
	NTF_EV_CREATED,
	NTF_EV_UPDATED,
	NTF_EV_DELETED,
	NTF_EV_ENTERED,
	NTF_EV_LEFT,
	NTF_EV__MAX
};

struct ntf_msg {
	uint32_t refs;
	uint32_t len;             /* payload bytes, without the trailing NUL */
	bool is_event;            /* seq and doc_id are meaningful */
	uint8_t ev_type;          /* enum ntf_ev_type: the frame's "type" as the client reads it */
	struct tnd_seq seq;
	uint8_t doc_id_len;
	char doc_id[TND_DOC_ID_MAX + 1];
	char *owner;              /* events: the document's owner (malloc'd), or NULL */
	/*
	 * Events: where the frame's "type" member and its ",\"doc\":" member
	 * start in the payload (doc_off 0: no doc). For filtered
	 * subscriptions (SPEC 8), the document before the write (malloc'd,
	 * NULL when the event carries none). The parsed doc and prev are
	 * built once per event, on the first filtered feed that needs them
	 * (ntf_msg_docs), and freed with the message.
	 */
	uint32_t type_off, doc_off;
	char *prev;
	uint32_t prev_len;
	bool docs_parsed;
	struct json_object *jdoc, *jprev;
	unsigned char buf[];      /* NTF_MSG_PRE headroom, payload, NUL */
};

/* Payload start: writable, len bytes plus a NUL. */
static inline char *ntf_msg_payload(struct ntf_msg *m)
{
	return (char *)m->buf + NTF_MSG_PRE;
}

/*
 * A message with room for len payload bytes (contents undefined, NUL at
 * len) and one reference owned by the caller. NULL when out of memory.
 */
struct ntf_msg *ntf_msg_new(size_t len);
/* A message holding a copy of s[0..len). NULL when out of memory. */
struct ntf_msg *ntf_msg_dup(const char *s, size_t len);
/* Takes one more reference; returns m. */
struct ntf_msg *ntf_msg_ref(struct ntf_msg *m);
/*
 * The event's document and previous document as json-c objects (borrowed:
 * they live as long as m), parsed on the first call only. Either may be
 * NULL: no doc (deleted), no prev (created, or an event written without
 * one), or bytes json-c could not parse (then the document matches only
 * what an absent document matches).
 */
void ntf_msg_docs(struct ntf_msg *m, struct json_object **doc, struct json_object **prev);
/* Drops one reference; frees at zero. NULL is a no-op. */
void ntf_msg_unref(struct ntf_msg *m);

#endif
