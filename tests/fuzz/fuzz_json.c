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
 * Checks: tnd_utf8_valid agrees with the harness's own decoder on every
 * input; a refusal is invalid_json or invalid_body with a reason; an
 * accepted body is valid UTF-8 (SPEC 2, issue 8 bug 3), nests at most
 * TND_JSON_DEPTH_MAX containers counting every one (bug 4), and is an
 * object whose plain serialization (escapes decoded) is valid UTF-8 too
 * and parses again to the same text (the store keeps that text and a later PATCH re-parses
 * it: a failure there is a 500); a merge result is an object, parses
 * again, and applying the same patch twice changes nothing (RFC 7396
 * merge patches are idempotent).
 */
#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz_check.h"
#include "rest_json.h"
#include "tnd_limits.h"
#include "tnd_utf8.h"

#define INPUT_MAX 16384

/*
 * FUZZ_KNOWN_BUGS=1 turns on the checks that open production bugs still
 * fail (tests/fuzz/known/); off, a short run does not keep re-finding them.
 */
static bool known_bugs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* json-c seeds its default string hash at random: fix it for repeatable runs. */
	json_global_set_string_hash(JSON_C_STR_HASH_PERLLIKE);
	known_bugs = getenv("FUZZ_KNOWN_BUGS") && !strcmp(getenv("FUZZ_KNOWN_BUGS"), "1");
	return 0;
}

/*
 * UTF-8 by decoding (RFC 3629 section 3), written apart from tnd_utf8.c's
 * table of second-byte ranges so that the two can disagree.
 */
static bool ref_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], need, cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* Containers nested in JSON text, every one counted (strings skipped). */
static int text_depth(const char *p, size_t len)
{
	int depth = 0, max = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (in_string) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_string = false;
		} else if (p[i] == '"') {
			in_string = true;
		} else if (p[i] == '{' || p[i] == '[') {
			if (++depth > max)
				max = depth;
		} else if (p[i] == '}' || p[i] == ']') {
			depth--;
		}
	}
	return max;
}

/*
 * Whether a member name holds the escape \u0000. json-c keeps names as C
 * strings, so {"a\u0000b":1} is stored as {"a":1}: a silent change of the
 * client's data (known bug, rest_json.c rest_json_parse_body).
 */
static bool name_with_nul(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t j;
		bool nul = false;

		if (p[i] != '"')
			continue;
		for (i++; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\') {
				if (i + 5 < len && !memcmp(p + i, "\\u0000", 6))
					nul = true;
				i++;
			}
		}
		for (j = i + 1; j < len && p[j] && strchr(" \t\r\n", p[j]); j++)
			;
		if (nul && j < len && p[j] == ':')
			return true;
	}
	return false;
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
	FUZZ_CHECK(ref_utf8_valid((const unsigned char *)buf, len));
	FUZZ_CHECK(text_depth(buf, len) <= TND_JSON_DEPTH_MAX);
	if (known_bugs)
		FUZZ_CHECK(!name_with_nul(buf, len));
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
	FUZZ_CHECK(ref_utf8_valid((const unsigned char *)text, len));
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
	{
		size_t bad_at = size;
		bool ok = tnd_utf8_valid(in, size, &bad_at);

		FUZZ_CHECK(ok == ref_utf8_valid(data, size));
		if (!ok) /* the prefix before the first bad sequence is fine, that one is not */
			FUZZ_CHECK(bad_at < size && ref_utf8_valid(data, bad_at) &&
				   !ref_utf8_valid(data + bad_at, size - bad_at));
	}
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
