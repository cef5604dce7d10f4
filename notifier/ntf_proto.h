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
#include "tnd_limits.h"
#include "tnd_seq.h"
#include "tnd_valid.h"

/* Largest client message (SPEC 5 v2: 16 KiB, close 1009 beyond). */
#define NTF_CLIENT_MSG_MAX 16384
/* Deepest nesting of containers in a client message (they are flat objects). */
#define NTF_CLIENT_JSON_DEPTH_MAX 32

/* A filtered subscription's name (SPEC 8): 1-64 chars of [A-Za-z0-9_-]. */
#define NTF_SID_MAX 64

struct tnd_filter;

enum ntf_op { NTF_OP_SUBSCRIBE, NTF_OP_UNSUBSCRIBE, NTF_OP_AUTH, NTF_OP_PING, NTF_OP__MAX };

struct ntf_request {
	enum ntf_op op;
	char collection[TND_COLLECTION_MAX + 1];
	char id[TND_DOC_ID_MAX + 1]; /* "" for a whole-collection subscription */
	bool has_since;
	struct tnd_seq since;
	char sid[NTF_SID_MAX + 1];   /* "" when none */
	struct tnd_filter *where;    /* subscribe's compiled where (the request's), or NULL */
	bool coalesce;               /* subscribe's "coalesce": true (SPEC 5) */
	char why[160];               /* room for a where error's text */
	/* auth: the token (TND_TOKEN_MAX at most). Last, so only an auth op fills its buffer. */
	bool has_token;
	bool token_too_long;         /* a string token past TND_TOKEN_MAX */
	size_t token_len;
	char token[TND_TOKEN_MAX + 1];
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
 * subscribe's optional "coalesce" must be a boolean (else invalid_query,
 * echoing the target); unsubscribe ignores it.
 *
 * SPEC 8 rules on subscribe: "sid" needs "where" and "where" needs "sid";
 * "where" is refused with "id"; a bad where is invalid_query naming the
 * problem (*why then points into req->why). On unsubscribe "sid" names
 * the filtered subscription to end (not with "id"). On failure the
 * fields parsed before the fault (collection, id, sid) stay filled so the
 * error can echo them. req->where is the caller's: release it with
 * ntf_request_release() (also after a failure).
 */
void ntf_request_release(struct ntf_request *req);

/*
 * Server messages. Each returns a new message (one reference, the
 * caller's) or NULL when out of memory. col, id and sid must be valid
 * names (they are copied without escaping); id and sid may be NULL or "".
 */
struct ntf_msg *ntf_proto_subscribed(const char *col, const char *id, const char *sid,
				     const struct tnd_seq *seq);
struct ntf_msg *ntf_proto_unsubscribed(const char *col, const char *id, const char *sid);
struct ntf_msg *ntf_proto_reset(const char *col, const char *id, const char *sid);
struct ntf_msg *ntf_proto_pong(void);
struct ntf_msg *ntf_proto_authenticated_open(void);
/* {"op":"authenticated","exp":<exp>} */
struct ntf_msg *ntf_proto_authenticated(long long exp);
/* {"op":"unsubscribed",...,"reason":<reason>}: the server ended it (reason a plain word). */
struct ntf_msg *ntf_proto_unsubscribed_why(const char *col, const char *id, const char *sid,
					   const char *reason);
/* An error about one subscription: echoes its collection, id and sid. */
struct ntf_msg *ntf_proto_error_for(enum tnd_err err, const char *message, const char *col,
				    const char *id, const char *sid);
/* message NULL = the code's default; it is JSON-escaped. */
struct ntf_msg *ntf_proto_error(enum tnd_err err, const char *message);

/*
 * Change events. tandem-rest's write script builds each event once as a
 * body (see rest-fcgi/rest_store.c and the README's Redis section):
 *
 *   {"type":T,"collection":C,"id":I,"version":N[,"doc":{...}]}["\n"{["owner":O][,"prev":{...}]}]
 *
 * logged as field "e" of the stream entry whose id is the event's seq, and
 * published as "<seq> <body>". The first line is the clients' part; the
 * second, optional, is the notifier's own.
 */
struct ntf_event_meta {
	const char *collection; /* points into the body */
	size_t collection_len;
	const char *id;
	size_t id_len;
	const char *owner;      /* NULL when the document has none */
	size_t owner_len;
	const char *prev;       /* the document before an update or delete, or NULL */
	size_t prev_len;
	struct tnd_seq seq;
};

/*
 * The one builder of event frames, for live and replayed events alike:
 * {"op":"event","seq":"<seq>", followed by the clients' part of body after
 * its '{' (the document's bytes are forwarded, never re-encoded). The
 * message has seq, doc_id and owner set; meta (optional) gets the routing
 * fields. NULL when seq or body is malformed, or out of memory
 * (*malformed tells which).
 */
struct ntf_msg *ntf_proto_event(const char *seq, size_t seq_len, const char *body, size_t len,
				struct ntf_event_meta *meta, bool *malformed);

/* How a filtered subscription sees an event (SPEC 8). */
enum ntf_view {
	NTF_VIEW_NONE,    /* not its business */
	NTF_VIEW_SAME,    /* created / updated / deleted as it is */
	NTF_VIEW_ENTERED, /* an update that makes the document match: "entered", with doc */
	NTF_VIEW_LEFT,    /* an update that makes it stop matching: "left", no doc */
};

/*
 * ev (an event from ntf_proto_event) as a filtered subscription's frame:
 * "sid" after "seq", the type per view (SAME, ENTERED or LEFT). A new
 * message (the caller's reference) with ev's seq, doc_id and owner, or
 * NULL when out of memory.
 */
struct ntf_msg *ntf_proto_event_view(const struct ntf_msg *ev, const char *sid, enum ntf_view view);

/*
 * ev (an event frame, plain or a view's) with its "type" member set to
 * type and everything else as it is: seq, sid, version, doc. Coalescing
 * (SPEC 5) uses it when two merged events keep the earlier one's type
 * (created + updated is a created with the later doc). The caller keeps
 * type and doc consistent (created, updated, entered carry a doc). A new
 * message (the caller's reference) or NULL when out of memory.
 */
struct ntf_msg *ntf_proto_event_retype(const struct ntf_msg *ev, enum ntf_ev_type type);

/*
 * Splits a PUBLISHed "<seq> <body>" into its parts (pointers into
 * payload). Returns 0, or -1 when there is no space.
 */
int ntf_proto_split_publish(const char *payload, size_t len, const char **seq, size_t *seq_len,
			    const char **body, size_t *body_len);

#endif
