/*
 * tnd_auth: see tnd_auth.h. tnd_auth_init runs once in main(); verify
 * may run on any thread (libjwt and OpenSSL 3 keep no shared state for
 * it); a cache is one thread's.
 */
#include "tnd_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tnd_config.h"
#include "tnd_error.h"
#include "tnd_valid.h"

#define SECRET_MIN 32

/* Reads a whole small file (at most TND_JWT_KEY_FILE_MAX bytes) into a malloc'd buffer. */
static int read_file(const char *path, unsigned char **out, int *out_len, char *err,
		     size_t errlen, const char *setting)
{
	unsigned char *buf = malloc(TND_JWT_KEY_FILE_MAX + 1);
	size_t got = 0;
	int fd;

	if (!buf)
		return TND_ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open %s: %s", setting, path, strerror(errno));
		free(buf);
		return TND_EIO;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, TND_JWT_KEY_FILE_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read %s: %s", setting, path, strerror(errno));
			close(fd);
			free(buf);
			return TND_EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > TND_JWT_KEY_FILE_MAX) {
			snprintf(err, errlen, "%s: %s is larger than %d bytes", setting, path,
				 TND_JWT_KEY_FILE_MAX);
			close(fd);
			free(buf);
			return TND_ETOOLONG;
		}
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*out_len = (int)got;
	return 0;
}

/* The one ES algorithm of a curve, or JWT_ALG_INVAL. */
static jwt_alg_t ec_alg_of(EVP_PKEY *pkey)
{
	char group[64];
	size_t len = 0;

	if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len))
		return JWT_ALG_INVAL;
	if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
		return JWT_ALG_ES256;
	if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
		return JWT_ALG_ES384;
	if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521"))
		return JWT_ALG_ES512;
	return JWT_ALG_INVAL;
}

/* Sets a->mode (RSA or EC) from the PEM public key in a->key. */
static int classify_public_key(struct tnd_auth *a, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(a->key, a->key_len);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	int rc = 0;

	if (!pkey) {
		snprintf(err, errlen, "TANDEM_JWT_PUBLIC_KEY: not a PEM public key "
				      "(-----BEGIN PUBLIC KEY-----; a private key cannot be used)");
		rc = TND_EINVAL;
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
		a->mode = TND_AUTH_RSA;
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC &&
		   (a->ec_alg = ec_alg_of(pkey)) != JWT_ALG_INVAL) {
		a->mode = TND_AUTH_EC;
	} else {
		snprintf(err, errlen, "TANDEM_JWT_PUBLIC_KEY: use an RSA key, or an EC key on "
				      "P-256, P-384 or P-521");
		rc = TND_EINVAL;
	}
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

int tnd_auth_init(struct tnd_auth *a, const struct tnd_auth_settings *s, char *err, size_t errlen)
{
	int given = !!s->secret + !!s->secret_file + !!s->public_key_file;
	int rc;

	memset(a, 0, sizeof(*a));
	a->issuer = s->issuer;
	a->audience = s->audience;
	if (given == 0)
		return 0;
	if (given > 1) {
		snprintf(err, errlen, "TANDEM_JWT_SECRET, TANDEM_JWT_SECRET_FILE and "
				      "TANDEM_JWT_PUBLIC_KEY: set only one");
		return TND_EINVAL;
	}
	if (s->public_key_file) {
		rc = read_file(s->public_key_file, &a->key, &a->key_len, err, errlen,
			       "TANDEM_JWT_PUBLIC_KEY");
		if (rc == 0 && (rc = classify_public_key(a, err, errlen)) < 0)
			tnd_auth_free(a);
		return rc;
	}
	if (s->secret_file) {
		rc = read_file(s->secret_file, &a->key, &a->key_len, err, errlen,
			       "TANDEM_JWT_SECRET_FILE");
		if (rc < 0)
			return rc;
		/* Files written by editors and `echo` end with a newline that is not part of the secret. */
		while (a->key_len > 0 && (a->key[a->key_len - 1] == '\n' || a->key[a->key_len - 1] == '\r'))
			a->key[--a->key_len] = '\0';
	} else {
		a->key_len = (int)strlen(s->secret);
		a->key = (unsigned char *)strdup(s->secret);
		if (!a->key)
			return TND_ENOMEM;
	}
	if (a->key_len < SECRET_MIN) {
		snprintf(err, errlen, "%s: the secret must be at least %d bytes (it has %d)",
			 s->secret_file ? "TANDEM_JWT_SECRET_FILE" : "TANDEM_JWT_SECRET", SECRET_MIN,
			 a->key_len);
		tnd_auth_free(a);
		return TND_EINVAL;
	}
	a->mode = TND_AUTH_HMAC;
	return 0;
}

int tnd_auth_init_common(struct tnd_auth *a, const struct tnd_common_config *c, char *err,
			 size_t errlen)
{
	const struct tnd_auth_settings s = {.secret = c->jwt_secret,
					    .secret_file = c->jwt_secret_file,
					    .public_key_file = c->jwt_public_key,
					    .issuer = c->jwt_issuer,
					    .audience = c->jwt_audience};

	return tnd_auth_init(a, &s, err, errlen);
}

void tnd_auth_free(struct tnd_auth *a)
{
	if (a->key) {
		/* A secret should not outlive its use in freed memory. */
		memset(a->key, 0, (size_t)a->key_len);
		free(a->key);
	}
	a->key = NULL;
	a->key_len = 0;
	a->mode = TND_AUTH_OFF;
}

const char *tnd_auth_describe(const struct tnd_auth *a)
{
	switch (a->mode) {
	case TND_AUTH_HMAC: return "JWT with a shared secret (HS256, HS384, HS512)";
	case TND_AUTH_RSA: return "JWT with an RSA public key (RS256, RS384, RS512)";
	case TND_AUTH_EC:
		return a->ec_alg == JWT_ALG_ES256   ? "JWT with an EC P-256 public key (ES256)"
		       : a->ec_alg == JWT_ALG_ES384 ? "JWT with an EC P-384 public key (ES384)"
						    : "JWT with an EC P-521 public key (ES512)";
	default: return "off";
	}
}

static bool alg_allowed(const struct tnd_auth *a, jwt_alg_t alg)
{
	switch (a->mode) {
	case TND_AUTH_HMAC: return alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
	case TND_AUTH_RSA: return alg == JWT_ALG_RS256 || alg == JWT_ALG_RS384 || alg == JWT_ALG_RS512;
	case TND_AUTH_EC: return (int)alg == a->ec_alg;
	default: return false;
	}
}

/* Adds one name to set; false when it is neither "*" nor a collection name, or too many. */
static bool claim_add(struct tnd_claim_set *set, const char *name, size_t len)
{
	size_t used = strlen(set->names);

	if (len == 1 && name[0] == '*') {
		set->all = true;
		return true;
	}
	if (!tnd_valid_collection(name, len))
		return false;
	if (used == 0)
		set->names[used++] = ',';
	if (used + len + 1 > TND_CLAIM_LIST_MAX + 1)
		return false;
	memcpy(set->names + used, name, len);
	set->names[used + len] = ',';
	set->names[used + len + 1] = '\0';
	return true;
}

/* Reads claim "read", "write" or "own": absent, "*" or an array of "*" and names. */
static int read_claim_set(jwt_t *jwt, const char *claim, struct tnd_claim_set *set, char *why,
			  size_t whylen)
{
	char *json = jwt_get_grants_json(jwt, claim);
	struct json_object *v;
	int rc = 0;

	memset(set, 0, sizeof(*set));
	if (!json)
		return 0;
	v = json_tokener_parse(json);
	if (v && json_object_is_type(v, json_type_string)) {
		if (strcmp(json_object_get_string(v), "*") != 0)
			rc = TND_EINVAL;
		else
			set->all = true;
	} else if (v && json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n && rc == 0; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			if (!json_object_is_type(e, json_type_string) ||
			    !claim_add(set, json_object_get_string(e), (size_t)json_object_get_string_len(e)))
				rc = TND_EINVAL;
		}
	} else {
		rc = TND_EINVAL;
	}
	if (rc < 0)
		snprintf(why, whylen, "claim %s must be \"*\" or an array of collection names "
				      "(at most %d bytes)", claim, TND_CLAIM_LIST_MAX);
	json_object_put(v);
	free(json);
	return rc;
}

/* aud is a string or an array of strings; one must equal want. */
static bool audience_matches(jwt_t *jwt, const char *want)
{
	char *json = jwt_get_grants_json(jwt, "aud");
	struct json_object *v = json ? json_tokener_parse(json) : NULL;
	bool ok = false;

	if (v && json_object_is_type(v, json_type_string)) {
		ok = strcmp(json_object_get_string(v), want) == 0;
	} else if (v && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v) && !ok; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			ok = json_object_is_type(e, json_type_string) &&
			     strcmp(json_object_get_string(e), want) == 0;
		}
	}
	json_object_put(v);
	free(json);
	return ok;
}

/* The time claims: exp required; nbf optional; both with the leeway. */
static int check_times(jwt_t *jwt, long long now, struct tnd_claims *out, char *why, size_t whylen)
{
	long nbf;

	errno = 0;
	out->exp = jwt_get_grant_int(jwt, "exp");
	if (errno != 0) {
		snprintf(why, whylen, "the token has no exp (a number)");
		return TND_EINVAL;
	}
	/* now - leeway, not exp + leeway: a huge exp must not overflow (found by fuzzing). */
	if (now - TND_AUTH_LEEWAY_S > out->exp) {
		snprintf(why, whylen, "the token has expired");
		return TND_EINVAL;
	}
	errno = 0;
	nbf = jwt_get_grant_int(jwt, "nbf");
	if (errno == 0 && now + TND_AUTH_LEEWAY_S < nbf) {
		snprintf(why, whylen, "the token is not valid yet (nbf)");
		return TND_EINVAL;
	}
	return 0;
}

static int read_claims(const struct tnd_auth *a, jwt_t *jwt, long long now, struct tnd_claims *out,
		       char *why, size_t whylen)
{
	const char *sub, *iss;
	int rc;

	if ((rc = check_times(jwt, now, out, why, whylen)) < 0)
		return rc;
	iss = jwt_get_grant(jwt, "iss");
	if (a->issuer && (!iss || strcmp(iss, a->issuer) != 0)) {
		snprintf(why, whylen, "the token's iss is not the configured issuer");
		return TND_EINVAL;
	}
	if (a->audience && !audience_matches(jwt, a->audience)) {
		snprintf(why, whylen, "the token's aud does not name the configured audience");
		return TND_EINVAL;
	}
	sub = jwt_get_grant(jwt, "sub");
	out->sub[0] = '\0';
	if (sub) {
		/* A sub is stored as a document's owner. */
		if (!tnd_valid_owner(sub, strlen(sub))) {
			snprintf(why, whylen, "sub must be 1-%d printable ASCII characters without \" or \\",
				 TND_SUB_MAX);
			return TND_EINVAL;
		}
		memcpy(out->sub, sub, strlen(sub) + 1);
	}
	if ((rc = read_claim_set(jwt, "read", &out->read, why, whylen)) < 0 ||
	    (rc = read_claim_set(jwt, "write", &out->write, why, whylen)) < 0 ||
	    (rc = read_claim_set(jwt, "own", &out->own, why, whylen)) < 0)
		return rc;
	if ((out->own.all || out->own.names[0]) && !out->sub[0]) {
		snprintf(why, whylen, "a token with own needs a sub");
		return TND_EINVAL;
	}
	return 0;
}

int tnd_auth_verify(const struct tnd_auth *a, const char *token, size_t len, long long now,
		    struct tnd_claims *out, char *why, size_t whylen)
{
	char *text;
	jwt_t *jwt = NULL;
	int rc;

	if (len == 0 || len > TND_TOKEN_MAX || memchr(token, '\0', len)) {
		snprintf(why, whylen, "no token, or one longer than %d bytes", TND_TOKEN_MAX);
		return TND_EINVAL;
	}
	text = strndup(token, len);
	if (!text)
		return TND_ENOMEM;
	rc = jwt_decode(&jwt, text, a->key, a->key_len);
	free(text);
	if (rc != 0 || !jwt) {
		snprintf(why, whylen, "the token is malformed or its signature does not verify");
		rc = rc == ENOMEM ? TND_ENOMEM : TND_EINVAL;
		goto out;
	}
	/* After the signature: a token signed with the wrong family is refused too. */
	if (!alg_allowed(a, jwt_get_alg(jwt))) {
		snprintf(why, whylen, "the token's alg %s is not accepted (%s)",
			 jwt_alg_str(jwt_get_alg(jwt)) ? jwt_alg_str(jwt_get_alg(jwt)) : "?",
			 tnd_auth_describe(a));
		rc = TND_EINVAL;
		goto out;
	}
	rc = read_claims(a, jwt, now, out, why, whylen);
out:
	jwt_free(jwt);
	return rc;
}

bool tnd_claims_allow(const struct tnd_claim_set *set, const char *collection)
{
	char needle[TND_COLLECTION_MAX + 3];

	if (set->all)
		return true;
	if (!set->names[0])
		return false;
	snprintf(needle, sizeof(needle), ",%s,", collection);
	return strstr(set->names, needle) != NULL;
}

int tnd_auth_verify_cached(const struct tnd_auth *a, struct tnd_auth_cache *cache,
			   const char *token, size_t len, long long now, struct tnd_claims *out,
			   char *why, size_t whylen)
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	struct tnd_auth_cache_slot *slot;
	int rc;

	if (len == 0 || len > TND_TOKEN_MAX ||
	    !EVP_Digest(token, len, digest, &dlen, EVP_sha256(), NULL) || dlen != sizeof(digest))
		return tnd_auth_verify(a, token, len, now, out, why, whylen);
	slot = &cache->slot[(digest[0] | (unsigned)digest[1] << 8) % TND_AUTH_CACHE_SLOTS];
	if (slot->used && memcmp(slot->digest, digest, sizeof(digest)) == 0 &&
	    now - TND_AUTH_LEEWAY_S <= slot->claims.exp) {
		cache->hits++;
		*out = slot->claims;
		return 0;
	}
	cache->misses++;
	rc = tnd_auth_verify(a, token, len, now, out, why, whylen);
	if (rc == 0) {
		memcpy(slot->digest, digest, sizeof(digest));
		slot->claims = *out;
		slot->used = true;
	}
	return rc;
}
