/*
 * fuzz_router: libFuzzer entry for the REST request line (rest_router.c).
 *
 * Input: "<METHOD>\n<REQUEST_URI>"; without a newline the whole input is
 * the URI and the method is GET. The harness runs what rest_handlers.c
 * runs on those untrusted bytes: rest_method_parse, rest_route_parse,
 * rest_route_allows, rest_query_check_reserved and rest_list_query_parse
 * on the part after '?' (as QUERY_STRING, a C string), and
 * rest_percent_decode on the whole URI.
 * The URI is passed as (pointer, length) straight from the fuzzer's
 * buffer, NULs included, so a read past the length is an ASan report.
 *
 * Checks the headers' promises: a route found has a valid collection and
 * id, a refusal is not_found / invalid_name / invalid_id, a list query
 * has limit 1..1000 and a valid after, a decode fits its buffer.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz_check.h"
#include "rest_router.h"
#include "tnd_limits.h"

#define INPUT_MAX (2 * TND_URI_MAX + 32)

static void check_method(const char *method)
{
	enum rest_method m = rest_method_parse(method);

	FUZZ_CHECK(m <= REST_METHOD__MAX);
	if (m < REST_METHOD__MAX)
		FUZZ_CHECK(strcmp(rest_method_name(m), method) == 0);
}

static void check_route(const char *uri, size_t len, enum rest_method method)
{
	struct rest_target t;
	enum tnd_err err = TND_ERR__MAX;
	const char *allow = NULL;

	if (rest_route_parse(uri, len, &t, &err) < 0) {
		FUZZ_CHECK(err == TND_ERR_NOT_FOUND || err == TND_ERR_INVALID_NAME ||
			   err == TND_ERR_INVALID_ID);
		return;
	}
	FUZZ_CHECK(len > strlen(REST_API_PREFIX "/") &&
		   !memcmp(uri, REST_API_PREFIX "/", strlen(REST_API_PREFIX "/")));
	FUZZ_CHECK(t.route < REST_ROUTE__MAX);
	if (t.route != REST_ROUTE_HEALTH)
		FUZZ_CHECK(tnd_valid_collection(t.collection, strlen(t.collection)));
	if (t.route == REST_ROUTE_DOCUMENT)
		FUZZ_CHECK(tnd_valid_doc_id(t.id, strlen(t.id)));
	else
		FUZZ_CHECK(t.id[0] == '\0');
	(void)rest_route_allows(t.route, method, &allow);
	FUZZ_CHECK(allow != NULL);
}

/* The harness's own reading of SPEC section 2: a key named as a reserved parameter. */
static bool has_reserved(const char *query)
{
	static const char *const names[] = {"filter", "sort", "order", "q", "select"};

	for (const char *p = query; *p;) {
		size_t len = strcspn(p, "&"), key = strcspn(p, "=&");

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (key == strlen(names[i]) && !strncmp(p, names[i], key))
				return true;
		p += len + (p[len] == '&');
	}
	return false;
}

static void check_query(const char *uri, size_t len)
{
	const char *q = memchr(uri, '?', len);
	struct rest_list_query lq;
	char msg[256] = "";
	char *query;
	size_t qlen;

	if (!q)
		return;
	q++;
	qlen = strnlen(q, (size_t)(uri + len - q)); /* QUERY_STRING is a C string */
	query = malloc(qlen + 1);
	if (!query)
		return;
	memcpy(query, q, qlen);
	query[qlen] = '\0';
	if (rest_query_check_reserved(query, msg, sizeof(msg)) < 0) {
		FUZZ_CHECK(msg[0] != '\0');
		FUZZ_CHECK(has_reserved(query));
		msg[0] = '\0';
	} else {
		FUZZ_CHECK(!has_reserved(query));
	}
	if (rest_list_query_parse(query, &lq, msg, sizeof(msg)) == 0) {
		FUZZ_CHECK(lq.limit >= 1 && lq.limit <= TND_LIST_LIMIT_MAX);
		if (lq.has_after)
			FUZZ_CHECK(tnd_valid_doc_id(lq.after, strlen(lq.after)));
		else
			FUZZ_CHECK(lq.after[0] == '\0');
	} else {
		FUZZ_CHECK(msg[0] != '\0');
	}
	free(query);
}

static void check_decode(const char *src, size_t len)
{
	char dst[TND_URI_MAX + 1];
	int n = rest_percent_decode(src, len, dst, sizeof(dst));

	FUZZ_CHECK(n >= -1);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n <= len && (size_t)n < sizeof(dst));
		FUZZ_CHECK(dst[n] == '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl;
	char method[16] = "GET";
	enum rest_method m;

	if (size > INPUT_MAX)
		return 0;
	nl = memchr(in, '\n', size);
	if (nl) {
		size_t ml = (size_t)(nl - in);

		if (ml >= sizeof(method))
			ml = sizeof(method) - 1;
		memcpy(method, in, ml);
		method[ml] = '\0';
		size -= (size_t)(nl + 1 - in);
		in = nl + 1;
	}
	check_method(method);
	m = rest_method_parse(method);
	check_route(in, size, m);
	check_query(in, size);
	check_decode(in, size);
	return 0;
}
