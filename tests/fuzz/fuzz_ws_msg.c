/*
 * fuzz_ws_msg: libFuzzer entry for WebSocket client messages
 * (ntf_proto_parse in notifier/ntf_proto.c).
 *
 * Input: one text frame's payload, as (pointer, length) straight from the
 * fuzzer's buffer. The harness then builds what ntf_hub.c answers with:
 * the subscribed / unsubscribed / pong / authenticated frame for a
 * request, or the error frame for a refusal.
 *
 * Checks: a refusal carries one of the codes the header lists and a
 * reason; a subscribe or unsubscribe names a valid collection and an id
 * that is empty or valid; every answer frame is one JSON object.
 */
#include <string.h>

#include <json-c/json.h>

#include "fuzz_check.h"
#include "ntf_proto.h"

#define INPUT_MAX (NTF_CLIENT_MSG_MAX + 64)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_global_set_string_hash(JSON_C_STR_HASH_PERLLIKE);
	return 0;
}

/* m is one JSON object; releases m. */
static void check_frame(struct ntf_msg *m)
{
	struct json_object *obj;

	FUZZ_CHECK(m != NULL);
	FUZZ_CHECK(strlen(ntf_msg_payload(m)) == m->len);
	obj = json_tokener_parse(ntf_msg_payload(m));
	FUZZ_CHECK(obj != NULL && json_object_is_type(obj, json_type_object));
	json_object_put(obj);
	ntf_msg_unref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ntf_request req;
	enum tnd_err err = TND_ERR__MAX;
	const char *why = NULL;

	if (size > INPUT_MAX)
		return 0;
	if (ntf_proto_parse((const char *)data, size, &req, &err, &why) < 0) {
		FUZZ_CHECK(err == TND_ERR_INVALID_JSON || err == TND_ERR_INVALID_NAME ||
			   err == TND_ERR_INVALID_ID || err == TND_ERR_INVALID_QUERY ||
			   err == TND_ERR_UNKNOWN_OP || err == TND_ERR_INTERNAL);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		if (size > NTF_CLIENT_MSG_MAX)
			FUZZ_CHECK(err == TND_ERR_INVALID_JSON);
		check_frame(ntf_proto_error(err, why));
		ntf_request_release(&req);
		return 0;
	}
	FUZZ_CHECK(size <= NTF_CLIENT_MSG_MAX);
	FUZZ_CHECK(req.op < NTF_OP__MAX);
	switch (req.op) {
	case NTF_OP_SUBSCRIBE:
	case NTF_OP_UNSUBSCRIBE:
		FUZZ_CHECK(tnd_valid_collection(req.collection, strlen(req.collection)));
		FUZZ_CHECK(req.id[0] == '\0' || tnd_valid_doc_id(req.id, strlen(req.id)));
		if (req.op == NTF_OP_UNSUBSCRIBE)
			FUZZ_CHECK(!req.has_since && !req.coalesce);
		if (req.op == NTF_OP_SUBSCRIBE)
			check_frame(ntf_proto_subscribed(req.collection, req.id, req.sid, &req.since));
		else
			check_frame(ntf_proto_unsubscribed(req.collection, req.id, req.sid));
		check_frame(ntf_proto_reset(req.collection, req.id, req.sid));
		break;
	case NTF_OP_AUTH:
		check_frame(ntf_proto_authenticated_open());
		break;
	case NTF_OP_PING:
		check_frame(ntf_proto_pong());
		break;
	default:
		break;
	}
	/* A subscribe's compiled where is the request's (ntf_proto.h). */
	ntf_request_release(&req);
	return 0;
}
