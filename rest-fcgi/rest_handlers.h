/*
 * rest_handlers: the endpoints of SPEC section 2. rest_handle() serves one
 * accepted FastCGI request on the calling worker thread, using that
 * thread's worker (its own Redis store); everything it allocates is freed
 * before it returns.
 */
#ifndef REST_HANDLERS_H
#define REST_HANDLERS_H

#include <stddef.h>

#include <fcgiapp.h>

#include "rest_http.h"
#include "rest_metrics.h"
#include "rest_store.h"
#include "tnd_auth.h"
#include "tnd_ulid.h"

/* Settings shared read-only by all workers of a process. */
struct rest_settings {
	size_t max_body;       /* TANDEM_MAX_BODY */
	long long scan_limit;  /* TANDEM_SCAN_LIMIT: documents one filtered page examines */
	struct rest_cors cors; /* TANDEM_ALLOWED_ORIGINS */
	struct rest_metrics *metrics; /* shared by the threads; counters are atomic */
	const struct tnd_auth *auth;  /* read-only; mode TND_AUTH_OFF = every request allowed */
};

/* One per worker thread. */
struct rest_worker {
	const struct rest_settings *settings; /* borrowed */
	struct tnd_ulid_gen *ulid;            /* borrowed, shared by the process */
	struct rest_store store;              /* owned */
	unsigned long requests;               /* served by this thread */
	int index;                            /* thread number, for logs */
	unsigned rand_state;                  /* rand_r() seed for PATCH backoff */
	bool redis_down;                      /* an outage was logged, its end is not yet */
	struct tnd_auth_cache *auth_cache;    /* owned by the thread's creator; verified tokens */
};

void rest_handle(struct rest_worker *w, FCGX_Request *req);

/*
 * Turns an If-Match value into the scripts' form: "*", ",3,5," (the strong
 * versions listed) or "," (nothing can match: weak or malformed tags).
 * NULL or empty gives "". out must hold 128 bytes; longer lists never match.
 */
void rest_if_match_expect(const char *header, char *out, size_t size);

/* true when an If-None-Match value matches version (weak comparison). */
bool rest_if_none_match(const char *header, long long version);

/* true when the media type of a Content-Type value is type (case-insensitive). */
bool rest_media_type_is(const char *content_type, const char *type);

#endif
