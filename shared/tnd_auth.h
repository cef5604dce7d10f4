/*
 * tnd_auth: JSON Web Token verification and the claims of SPEC section 6,
 * for both programs. Signatures are libjwt's (1.10) work, never ours; this
 * module decides which keys and algorithms are acceptable, checks the
 * registered claims libjwt 1.10 leaves alone (exp, nbf, iss, aud), and
 * reads Tandem's own claims (read, write, own, sub).
 *
 * Two libjwt 1.10 traps are closed here: it accepts a token whose alg is
 * HS256 when its HMAC key is the PEM text of our public key (so the alg is
 * checked against the configured key's family after decoding), and it
 * parses the PEM again on every decode (so verified tokens are cached,
 * struct tnd_auth_cache, keyed by the token's SHA-256).
 *
 * A struct tnd_auth is read-only after tnd_auth_init() and may be shared
 * by threads; a cache belongs to one thread.
 */
#ifndef TND_AUTH_H
#define TND_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "tnd_limits.h"

enum tnd_auth_mode {
	TND_AUTH_OFF,  /* no key configured: every request is allowed */
	TND_AUTH_HMAC, /* TANDEM_JWT_SECRET(_FILE): HS256, HS384, HS512 */
	TND_AUTH_RSA,  /* TANDEM_JWT_PUBLIC_KEY with an RSA key: RS256, RS384, RS512 */
	TND_AUTH_EC,   /* TANDEM_JWT_PUBLIC_KEY with an EC key: the ES alg of its curve */
};

/* The settings as the options tables give them (NULL = unset); borrowed. */
struct tnd_auth_settings {
	const char *secret;
	const char *secret_file;
	const char *public_key_file;
	const char *issuer;
	const char *audience;
};

struct tnd_auth {
	enum tnd_auth_mode mode;
	unsigned char *key; /* secret bytes or PEM text; owned */
	int key_len;
	int ec_alg;         /* jwt_alg_t of the EC key's curve */
	const char *issuer, *audience; /* borrowed; NULL = not checked */
};

#define TND_AUTH_LEEWAY_S 30 /* exp and nbf are checked this leniently */

/* "*" or a list of collection names, as ",a,b," for a substring test. */
struct tnd_claim_set {
	bool all;
	char names[TND_CLAIM_LIST_MAX + 2];
};

struct tnd_claims {
	char sub[TND_SUB_MAX + 1]; /* "" when the token has none */
	long long exp;             /* unix seconds */
	struct tnd_claim_set read, write, own;
};

/*
 * Reads the key the settings name (a secret, a secret file, a PEM public
 * key file), checks it (a secret of at least 32 bytes; an RSA or EC public
 * key) and fills a. No key at all is TND_AUTH_OFF. Returns 0, or a TND_E*
 * code with "TANDEM_X: reason" in err.
 */
int tnd_auth_init(struct tnd_auth *a, const struct tnd_auth_settings *s, char *err, size_t errlen);
void tnd_auth_free(struct tnd_auth *a);

struct tnd_common_config;
/* tnd_auth_init with the JWT settings of the programs' common options block (tnd_config.h). */
int tnd_auth_init_common(struct tnd_auth *a, const struct tnd_common_config *c, char *err,
			 size_t errlen);

/* One line for the start-up log: which mode and algorithms. Static storage. */
const char *tnd_auth_describe(const struct tnd_auth *a);

/*
 * Verifies token[0..len) at unix time now and reads its claims into out.
 * Returns 0, or TND_EINVAL with the reason in why (bad signature, wrong
 * alg, expired, not yet valid, wrong iss/aud, malformed claims), or
 * TND_ENOMEM. Never call it with auth off.
 */
int tnd_auth_verify(const struct tnd_auth *a, const char *token, size_t len, long long now,
		    struct tnd_claims *out, char *why, size_t whylen);

/* Whether the set names collection ("*" names every one). */
bool tnd_claims_allow(const struct tnd_claim_set *set, const char *collection);

/*
 * A small direct-mapped cache of verified tokens, for one thread. A token
 * is found again only while its exp (with the leeway) has not passed.
 */
#define TND_AUTH_CACHE_SLOTS 64

struct tnd_auth_cache {
	struct tnd_auth_cache_slot {
		unsigned char digest[32];
		bool used;
		struct tnd_claims claims;
	} slot[TND_AUTH_CACHE_SLOTS];
	unsigned long long hits, misses;
};

/* tnd_auth_verify through the cache: same results, verified tokens remembered. */
int tnd_auth_verify_cached(const struct tnd_auth *a, struct tnd_auth_cache *cache,
			   const char *token, size_t len, long long now, struct tnd_claims *out,
			   char *why, size_t whylen);

#endif
