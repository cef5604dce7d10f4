/*
 * libFuzzer entry point for the where parser (shared/tnd_filter): every
 * input is compiled as a where text; when it compiles, the filter is
 * evaluated against a few fixed documents (nested objects, arrays, null,
 * big integers, doubles) and against a document made from the input
 * itself when that parses as JSON, then freed. Any crash, leak (ASan),
 * undefined behaviour (UBSan) or an accepted text longer than the cap is
 * a finding. A failed compile must leave *out NULL and a NUL-terminated
 * message.
 *
 * Built and run like the other harnesses (tests/fuzz/README.md):
 * `make fuzz`, `make test-fuzz`; seeds in corpus/filter, dictionary
 * dict/filter.dict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tnd_filter.h"
#include "tnd_limits.h"

static const char *const docs[] = {
	"{\"id\":\"a\",\"version\":1,\"n\":5,\"f\":2.5,\"s\":\"hello\",\"t\":true,\"z\":null,"
	"\"a\":[1,\"x\",{\"k\":null}],\"o\":{\"c\":\"P\",\"d\":{\"x\":1}},"
	"\"big\":18446744073709551615,\"neg\":-9223372036854775808}",
	"{}",
	"{\"n\":\"5\",\"o\":5,\"a\":{\"b\":{\"c\":{\"d\":[]}}}}",
};

static struct json_object *parsed[sizeof(docs) / sizeof(docs[0])];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_filter *f = (struct tnd_filter *)&f;
	char msg[256];
	int rc;

	if (!parsed[0])
		for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
			parsed[i] = json_tokener_parse(docs[i]);
	memset(msg, 'x', sizeof(msg));
	rc = tnd_filter_compile((const char *)data, size, &f, msg, sizeof(msg));
	if (memchr(msg, '\0', sizeof(msg)) == NULL)
		abort();
	if (rc != 0) {
		if (f != NULL || msg[0] == '\0')
			abort();
		return 0;
	}
	if (size > TND_WHERE_MAX || tnd_filter_conditions(f) > TND_WHERE_CONDITIONS_MAX)
		abort();
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		(void)tnd_filter_match(f, parsed[i]);
	(void)tnd_filter_match(f, NULL);
	/* The where as a document: its own values meet its own operands. */
	char *copy = malloc(size + 1);
	if (copy) {
		memcpy(copy, data, size);
		copy[size] = '\0';
		struct json_object *self = json_tokener_parse(copy);
		(void)tnd_filter_match(f, self);
		json_object_put(self);
		free(copy);
	}
	tnd_filter_free(f);
	return 0;
}
