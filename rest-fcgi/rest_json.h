/*
 * rest_json: the document rules of SPEC sections 1-2 on top of json-c:
 * strict RFC 8259 parsing of request bodies with a depth bound, removal of
 * the server-owned fields, and JSON Merge Patch (RFC 7396).
 *
 * Pure functions on json-c objects; any thread. Ownership follows json-c
 * reference counts: every function that returns an object gives the caller
 * one reference, to drop with json_object_put().
 */
#ifndef REST_JSON_H
#define REST_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#include "tnd_error.h"
#include "tnd_limits.h"

/*
 * Parses buf[0..len) as strict JSON: valid UTF-8, no trailing bytes but
 * whitespace, nesting at most TND_JSON_DEPTH_MAX, and an object at the
 * top. Returns the object, or NULL with *err set (invalid_json for bad
 * syntax or encoding, invalid_body for a non-object or too deep) and a
 * human reason in msg.
 */
struct json_object *rest_json_parse_body(const char *buf, size_t len, enum tnd_err *err,
					 char *msg, size_t msglen);

/*
 * Checks the body's "id" against the path id: absent is fine, anything
 * else but the same string (null included) is a mismatch. Returns 0 or -1.
 */
int rest_json_check_id(struct json_object *body, const char *id);

/* Removes id, version, created_at and updated_at from obj, in place. */
void rest_json_strip_server_fields(struct json_object *obj);

/*
 * Applies the merge patch to target (RFC 7396 section 2) and returns the
 * result: target itself, changed in place, when both are objects, else a
 * new value. Consumes the caller's reference to target; borrows patch.
 * Returns NULL only when out of memory (target is then released).
 */
struct json_object *rest_json_merge_patch(struct json_object *target,
					  struct json_object *patch);

/* Serializes without spaces. Borrowed string: valid until obj is released. */
const char *rest_json_plain(struct json_object *obj, size_t *len);

#endif
