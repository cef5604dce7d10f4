/*
 * fuzz_json: libFuzzer entry for strict JSON bodies and JSON Merge Patch
 * (rest_json.c).
 *
 * Input: "<document>" or "<document>\0<patch>". Each part goes through
 * rest_json_parse_body as (pointer, length) straight from the fuzzer's
 * buffer (a NUL inside the patch part reaches the body's NUL check).
 * When both parse, the harness runs the PATCH path of rest_handlers.c:
 * rest_json_check_id, rest_json_strip_server_fields on the stored
 * document, rest_json_merge_patch, rest_json_plain.
 *
 * Checks: a refusal is invalid_json or invalid_body with a reason; an
 * accepted body is an object whose plain serialization parses again to
 * the same text (the store keeps that text and a later PATCH re-parses
 * it: a failure there is a 500); a merge result is an object, parses
 * again, and applying the same patch twice changes nothing (RFC 7396
 * merge patches are idempotent).
 */
#include <string.h>

#include <json-c/json.h>

#include "fuzz_check.h"
#include "rest_json.h"

#define INPUT_MAX 16384

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* json-c seeds its default string hash at random: fix it for repeatable runs. */
	json_global_set_string_hash(JSON_C_STR_HASH_PERLLIKE);
	return 0;
}

static struct json_object *parse(const char *buf, size_t len)
{
	enum tnd_err err = TND_ERR__MAX;
	char msg[256] = "";
	struct json_object *obj = rest_json_parse_body(buf, len, &err, msg, sizeof(msg));

	if (!obj) {
		FUZZ_CHECK(err == TND_ERR_INVALID_JSON || err == TND_ERR_INVALID_BODY);
		FUZZ_CHECK(msg[0] != '\0');
		return NULL;
	}
	FUZZ_CHECK(json_object_is_type(obj, json_type_object));
	return obj;
}

/* The plain text of obj parses again, to the same text. Returns a copy of it. */
static char *check_round_trip(struct json_object *obj, size_t *len_out)
{
	size_t len, len2;
	const char *text = rest_json_plain(obj, &len);
	struct json_object *again;
	char *copy;

	FUZZ_CHECK(text != NULL);
	copy = malloc(len + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, text, len + 1);
	again = parse(copy, len);
	FUZZ_CHECK(again != NULL);
	text = rest_json_plain(again, &len2);
	FUZZ_CHECK(len2 == len && memcmp(text, copy, len) == 0);
	json_object_put(again);
	*len_out = len;
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *sep;
	size_t doc_len, text_len, text2_len;
	struct json_object *doc, *patch, *merged;
	char *text, *text2;

	if (size > INPUT_MAX)
		return 0;
	sep = memchr(in, '\0', size);
	doc_len = sep ? (size_t)(sep - in) : size;
	doc = parse(in, doc_len);
	if (doc)
		free(check_round_trip(doc, &text_len));
	if (!sep) {
		json_object_put(doc);
		return 0;
	}
	patch = parse(sep + 1, size - doc_len - 1);
	if (!doc || !patch)
		goto out;
	(void)rest_json_check_id(patch, "fuzz");
	rest_json_strip_server_fields(doc);
	merged = rest_json_merge_patch(doc, patch); /* consumes doc */
	doc = NULL;
	FUZZ_CHECK(merged != NULL);
	FUZZ_CHECK(json_object_is_type(merged, json_type_object));
	text = check_round_trip(merged, &text_len);
	merged = rest_json_merge_patch(merged, patch);
	FUZZ_CHECK(merged != NULL);
	text2 = check_round_trip(merged, &text2_len);
	FUZZ_CHECK(text_len == text2_len && memcmp(text, text2, text_len) == 0);
	free(text);
	free(text2);
	json_object_put(merged);
out:
	json_object_put(patch);
	json_object_put(doc);
	return 0;
}
