/*
 * ntf_proto: the WebSocket protocol of SPEC section 5, as bytes.
 *
 * Parses client frames into a struct ntf_request (strict RFC 8259 JSON,
 * strict UTF-8, NTF_CLIENT_MSG_MAX bytes at most), and builds the server's
 * frames as ntf_msg buffers: acks, errors, and events, either from a
 * PUBLISHed event (live) or from an event-log entry (replay). Both event
 * paths produce the same bytes for the same event.
 *
 * Pure functions, no state; the returned messages belong to the caller.
 */
#ifndef NTF_PROTO_H
#define NTF_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "ntf_msg.h"
#include "tnd_error.h"
#include "tnd_seq.h"
#include "tnd_valid.h"

/* Largest client message (SPEC 5 v2: 16 KiB, close 1009 beyond). */
#define NTF_CLIENT_MSG_MAX 16384
/* Deepest nesting of containers in a client message (they are flat objects). */
#define NTF_CLIENT_JSON_DEPTH_MAX 32
/* Largest JWT accepted in an auth op (a token rarely passes 1 KiB). */
#define NTF_TOKEN_MAX 3072

enum ntf_op { NTF_OP_SUBSCRIBE, NTF_OP_UNSUBSCRIBE, NTF_OP_AUTH, NTF_OP_PING, NTF_OP__MAX };

struct ntf_request {
	enum ntf_op op;
	char collection[TND_COLLECTION_MAX + 1];
	char id[TND_DOC_ID_MAX + 1]; /* "" for a whole-collection subscription */
	bool has_since;
	struct tnd_seq since;
};

/*
 * Parses one client message buf[0..len). Returns 0 and fills req, or -1
 * with *err set (invalid_json, invalid_name, invalid_id, invalid_query,
 * unknown_op) and *why pointing to a static human message.
 *
 * invalid_json is every message that is not exactly one JSON object in
 * strict RFC 8259 syntax and well-formed UTF-8: NaN, Infinity, trailing
 * commas, single quotes, leading zeros, "1.", raw control bytes in
 * strings, trailing bytes, and a valid JSON value that is not an object
 * (an array, a string...) alike, so a client gets one clear answer for
 * "this is not a message". (The transport closes a text frame that is not
 * UTF-8 with 1007 before it gets here; the check here covers the parser's
 * other callers.)
 */
int ntf_proto_parse(const char *buf, size_t len, struct ntf_request *req, enum tnd_err *err,
		    const char **why);

/*
 * Server messages. Each returns a new message (one reference, the
 * caller's) or NULL when out of memory. col and id must be valid names
 * (they are copied without escaping); id may be NULL or "".
 */
struct ntf_msg *ntf_proto_subscribed(const char *col, const char *id, const struct tnd_seq *seq);
struct ntf_msg *ntf_proto_unsubscribed(const char *col, const char *id);
struct ntf_msg *ntf_proto_reset(const char *col, const char *id);
struct ntf_msg *ntf_proto_pong(void);
struct ntf_msg *ntf_proto_authenticated_open(void);
/* message NULL = the code's default; it is JSON-escaped. */
struct ntf_msg *ntf_proto_error(enum tnd_err err, const char *message);

/*
 * The fields of an event that routing needs, read from the PUBLISHed
 * JSON without a full parse. tandem-rest writes the fields in a fixed
 * order ({"type":..,"collection":..,"id":..,"version":N,"seq":..[,"doc":..]}),
 * and names, ids and seqs never contain quotes, so a strict scan is exact.
 */
struct ntf_event_meta {
	const char *collection; /* points into the payload */
	size_t collection_len;
	const char *id;
	size_t id_len;
	struct tnd_seq seq;
};

/*
 * Checks a PUBLISHed payload and returns the {"op":"event",...} frame for
 * it, with seq and doc_id set; meta (optional) gets the routing fields.
 * NULL when the payload is not a well-formed event or out of memory
 * (*malformed tells which).
 */
struct ntf_msg *ntf_proto_event_from_publish(const char *payload, size_t len,
					     struct ntf_event_meta *meta, bool *malformed);

/*
 * Builds the event frame of a log entry: col (valid name), seq as the
 * entry id text, and the entry's type, id, version and doc (doc NULL for
 * a deletion). NULL when a field is malformed or out of memory.
 */
struct ntf_msg *ntf_proto_event_from_entry(const char *col, const char *seq, size_t seq_len,
					   const char *type, size_t type_len, const char *id,
					   size_t id_len, const char *version, size_t version_len,
					   const char *doc, size_t doc_len);

#endif
