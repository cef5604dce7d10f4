/*
 * ntf_access: the hub's side of SPEC section 6 on sockets. A connection
 * gets a token from an `auth` op or from the upgrade's access_token;
 * subscriptions need the read claim for their collection; the own claim
 * restricts a feed to the holder's documents (ntf_access_may_see, checked
 * by ntf_deliver.c on live and replayed events alike); a token past its
 * exp (plus the verification leeway) closes the socket with 4001 from the
 * transport's per-connection timer, never from a scan of all sockets.
 *
 * Tokens are verified through one struct tnd_auth_cache (the loop is one
 * thread), so a token shared by many sockets, or sent again to refresh, is
 * verified once. A connection keeps a compact copy of its claims (struct
 * ntf_conn_auth, one malloc of exact size), never a struct tnd_claims.
 * Loop thread only.
 */
#include "ntf_hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tnd_log.h"

/* The list (",a,b," form) names col, as tnd_claims_allow reads a claim set. */
static bool list_has(bool all, const char *names, const char *col)
{
	char needle[TND_COLLECTION_MAX + 3];

	if (all)
		return true;
	if (!names[0])
		return false;
	snprintf(needle, sizeof(needle), ",%s,", col);
	return strstr(names, needle) != NULL;
}

static bool conn_token_live(const struct ntf_conn *conn, long long now)
{
	return conn->auth && now <= conn->auth->exp + TND_AUTH_LEEWAY_S;
}

bool ntf_access_own_only(const struct ntf_conn *conn, const char *collection)
{
	return conn->auth && list_has(conn->auth->own_all, conn->auth->own, collection);
}

/* The compact copy of c; NULL when out of memory. */
static struct ntf_conn_auth *auth_copy(const struct tnd_claims *c)
{
	size_t sub = strlen(c->sub), rd = c->read.all ? 0 : strlen(c->read.names),
	       own = c->own.all ? 0 : strlen(c->own.names);
	struct ntf_conn_auth *a = malloc(sizeof(*a) + sub + rd + own + 3);
	char *p;

	if (!a)
		return NULL;
	a->exp = c->exp;
	a->read_all = c->read.all;
	a->own_all = c->own.all;
	p = a->sub;
	memcpy(p, c->sub, sub + 1);
	p += sub + 1;
	memcpy(p, c->read.names, rd);
	p[rd] = '\0';
	a->read = p;
	p += rd + 1;
	memcpy(p, c->own.names, own);
	p[own] = '\0';
	a->own = p;
	return a;
}

/* Arms the transport's timer of conn for the moment its token stops verifying. */
static void arm_expiry(struct ntf_conn *conn, long long now)
{
	struct ntf_hub *hub = conn->hub;
	long long left = conn->auth->exp + TND_AUTH_LEEWAY_S - now;

	if (!hub->ops.ws.set_timer)
		return;
	if (left < 0)
		left = 0;
	/* One extra second: the token is still valid during its last second. */
	hub->ops.ws.set_timer(hub->ops.ws.data, conn->handle, (left + 1) * 1000000LL);
}

/*
 * Verifies token through the cache into hub->claims. 0, or -1 with why
 * (TND_ENOMEM is logged and reported as a refusal too: the client retries).
 */
static int verify(struct ntf_hub *hub, const char *token, size_t len, long long now, char *why,
		  size_t whylen)
{
	int rc = tnd_auth_verify_cached(hub->auth, hub->auth_cache, token, len, now, hub->claims,
					why, whylen);

	if (rc == TND_ENOMEM)
		tnd_log_error("out of memory verifying a token");
	if (rc < 0)
		hub->metrics.auth_failures++;
	else
		hub->metrics.auth_successes++;
	return rc < 0 ? -1 : 0;
}

int ntf_hub_check_token(struct ntf_hub *hub, const char *token, size_t len, char *why,
			size_t whylen)
{
	if (!ntf_hub_auth_on(hub))
		return 0;
	return verify(hub, token, len, (long long)time(NULL), why, whylen);
}

/*
 * The new claims end what they no longer allow: each subscription of a
 * collection outside `read` gets unsubscribed with reason forbidden (once
 * per target, repeats included); the others follow the new `own`.
 */
static void apply_claims(struct ntf_conn *conn)
{
	struct ntf_feed *f = conn->feeds, *next;

	for (; f; f = next) {
		next = f->conn_next;
		if (list_has(conn->auth->read_all, conn->auth->read, f->coll->name)) {
			f->own_only = ntf_access_own_only(conn, f->coll->name);
			continue;
		}
		while (f->filters || f->waiting) {
			struct ntf_filter *filt = f->filters ? f->filters : f->waiting;
			bool dup = ntf_deliver_filter_is_dup(f, filt);

			if (!dup)
				ntf_conn_reply(conn, ntf_proto_unsubscribed_why(f->coll->name, filt->id,
										f->sid, "forbidden"));
			ntf_deliver_drop_filter(f, filt, dup);
		}
		ntf_deliver_feed_destroy(f);
	}
}

/* Installs hub->claims on conn. 0, or -1 out of memory (the connection then closes). */
static int conn_install(struct ntf_conn *conn, long long now)
{
	struct ntf_conn_auth *a = auth_copy(conn->hub->claims);

	if (!a) {
		ntf_hub_conn_fail(conn, NTF_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	free(conn->auth);
	conn->auth = a;
	arm_expiry(conn, now);
	apply_claims(conn);
	return 0;
}

int ntf_hub_conn_authenticate(struct ntf_conn *conn, const char *token, size_t len)
{
	long long now = (long long)time(NULL);
	char why[192];

	if (!ntf_hub_auth_on(conn->hub))
		return 0;
	if (verify(conn->hub, token, len, now, why, sizeof(why)) < 0)
		return -1;
	return conn_install(conn, now);
}

void ntf_access_auth_op(struct ntf_conn *conn, const struct ntf_request *req)
{
	struct ntf_hub *hub = conn->hub;
	long long now = (long long)time(NULL);
	char why[192];

	if (!ntf_hub_auth_on(hub)) {
		ntf_conn_reply(conn, ntf_proto_authenticated_open());
		return;
	}
	/* A refused token leaves the connection as it was, its current token included. */
	if (!req->has_token) {
		ntf_conn_error(conn, TND_ERR_UNAUTHORIZED,
			       req->token_too_long ? "token too long" : "\"token\" must be a string");
		return;
	}
	if (verify(hub, req->token, req->token_len, now, why, sizeof(why)) < 0) {
		tnd_log_debug("conn %llu: token refused: %s", (unsigned long long)conn->id, why);
		ntf_conn_error(conn, TND_ERR_UNAUTHORIZED, why);
		return;
	}
	ntf_conn_reply(conn, ntf_proto_authenticated(hub->claims->exp));
	conn_install(conn, now);
}

bool ntf_access_may_subscribe(struct ntf_conn *conn, const struct ntf_request *req)
{
	char why[160];

	if (!ntf_hub_auth_on(conn->hub))
		return true;
	if (!conn_token_live(conn, (long long)time(NULL))) {
		conn->hub->metrics.client_errors++;
		ntf_conn_reply(conn, ntf_proto_error_for(TND_ERR_UNAUTHORIZED,
							 conn->auth ? "the token has expired"
								    : "send {\"op\":\"auth\",\"token\":...} first",
							 req->collection, req->id, req->sid));
		return false;
	}
	if (!list_has(conn->auth->read_all, conn->auth->read, req->collection)) {
		snprintf(why, sizeof(why), "the token may not read collection %s", req->collection);
		conn->hub->metrics.client_errors++;
		ntf_conn_reply(conn, ntf_proto_error_for(TND_ERR_FORBIDDEN, why, req->collection, req->id,
							 req->sid));
		return false;
	}
	return true;
}

void ntf_hub_conn_timer(struct ntf_conn *conn)
{
	long long now = (long long)time(NULL);

	if (!conn->auth || conn->close_code)
		return;
	if (conn_token_live(conn, now)) {
		arm_expiry(conn, now); /* early (clock steps): wait again */
		return;
	}
	conn->hub->metrics.token_expired_closes++;
	ntf_hub_conn_fail(conn, NTF_CLOSE_TOKEN_EXPIRED, "token expired");
}

int ntf_hub_set_auth(struct ntf_hub *hub, const struct tnd_auth *auth)
{
	if (!auth || auth->mode == TND_AUTH_OFF)
		return 0;
	hub->auth_cache = calloc(1, sizeof(*hub->auth_cache));
	hub->claims = malloc(sizeof(*hub->claims));
	if (!hub->auth_cache || !hub->claims) {
		free(hub->auth_cache);
		free(hub->claims);
		hub->auth_cache = NULL;
		hub->claims = NULL;
		return -1;
	}
	hub->auth = auth;
	return 0;
}

bool ntf_hub_auth_on(const struct ntf_hub *hub)
{
	return hub->auth != NULL;
}
