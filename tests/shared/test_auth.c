/*
 * Unit tests of shared/tnd_auth: which tokens pass, with which claims.
 * Tokens are signed here with libjwt; RSA and EC keys are made with
 * OpenSSL and written to temp files as the programs would read them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tnd_auth.h"
#include "tnd_error.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static long long now_s(void)
{
	return (long long)time(NULL);
}

/* A token with alg, key and the grants (a JSON object text); caller frees. */
static char *sign(jwt_alg_t alg, const void *key, size_t key_len, const char *grants)
{
	jwt_t *jwt = NULL;
	char *out;

	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, grants), 0, "grants %s", grants);
	cr_assert_eq(jwt_set_alg(jwt, alg, key, (int)key_len), 0);
	out = jwt_encode_str(jwt);
	cr_assert_not_null(out);
	jwt_free(jwt);
	return out;
}

static char *sign_hs(const char *grants)
{
	return sign(JWT_ALG_HS256, SECRET, strlen(SECRET), grants);
}

/* Grants with exp an hour away plus extra (",..." or ""). */
static char *grants(const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "{\"exp\":%lld%s}", now_s() + 3600, extra);
	return buf;
}

static void hmac_auth(struct tnd_auth *a, const char *issuer, const char *audience)
{
	struct tnd_auth_settings s = {.secret = SECRET, .issuer = issuer, .audience = audience};
	char err[256];

	cr_assert_eq(tnd_auth_init(a, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a->mode, TND_AUTH_HMAC);
}

static int verify(const struct tnd_auth *a, const char *token, struct tnd_claims *c)
{
	char why[256];

	return tnd_auth_verify(a, token, strlen(token), now_s(), c, why, sizeof(why));
}

Test(auth, secrets_shorter_than_32_bytes_and_two_keys_are_refused)
{
	struct tnd_auth a;
	char err[256], path[] = "/tmp/tnd-secret-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_eq(tnd_auth_init(&a, &(struct tnd_auth_settings){.secret = "short"}, err, sizeof(err)),
		     TND_EINVAL);
	cr_assert(strstr(err, "TANDEM_JWT_SECRET"), "%s", err);
	cr_assert_eq(tnd_auth_init(&a, &(struct tnd_auth_settings){.secret = SECRET, .public_key_file = "/x"},
				   err, sizeof(err)), TND_EINVAL);
	cr_assert_eq(tnd_auth_init(&a, &(struct tnd_auth_settings){0}, err, sizeof(err)), 0);
	cr_assert_eq(a.mode, TND_AUTH_OFF);
	/* A secret file's trailing newline is not part of the secret. */
	cr_assert_eq(write(fd, SECRET "\n", strlen(SECRET) + 1), (ssize_t)strlen(SECRET) + 1);
	close(fd);
	cr_assert_eq(tnd_auth_init(&a, &(struct tnd_auth_settings){.secret_file = path}, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(a.key_len, (int)strlen(SECRET));
	char *tok = sign_hs(grants(""));
	struct tnd_claims c;
	cr_assert_eq(verify(&a, tok, &c), 0);
	free(tok);
	tnd_auth_free(&a);
	unlink(path);
}

Test(auth, hs_tokens_carry_their_claims)
{
	struct tnd_auth a;
	struct tnd_claims c;
	char *tok;

	hmac_auth(&a, NULL, NULL);
	tok = sign_hs(grants(",\"sub\":\"alice\",\"read\":\"*\",\"write\":[\"todos\",\"notes\"],\"own\":[\"todos\"]"));
	cr_assert_eq(verify(&a, tok, &c), 0);
	cr_assert_str_eq(c.sub, "alice");
	cr_assert(tnd_claims_allow(&c.read, "anything"));
	cr_assert(tnd_claims_allow(&c.write, "todos"));
	cr_assert(tnd_claims_allow(&c.write, "notes"));
	cr_assert_not(tnd_claims_allow(&c.write, "note"));
	cr_assert_not(tnd_claims_allow(&c.write, "other"));
	cr_assert(tnd_claims_allow(&c.own, "todos"));
	cr_assert_not(tnd_claims_allow(&c.own, "notes"));
	free(tok);
	/* No claims: nothing allowed. */
	tok = sign_hs(grants(""));
	cr_assert_eq(verify(&a, tok, &c), 0);
	cr_assert_not(tnd_claims_allow(&c.read, "todos"));
	free(tok);
	tok = sign(JWT_ALG_HS512, SECRET, strlen(SECRET), grants(",\"read\":[\"*\"]"));
	cr_assert_eq(verify(&a, tok, &c), 0);
	cr_assert(tnd_claims_allow(&c.read, "x"));
	free(tok);
	tnd_auth_free(&a);
}

Test(auth, bad_signatures_times_and_claims_are_refused)
{
	static const char *const bad_claims[] = {
		",\"read\":\"todos\"", ",\"read\":5", ",\"write\":[\"Todos\"]", ",\"write\":[1]",
		",\"own\":[\"todos\"]" /* no sub */, ",\"sub\":\"a b\"", ",\"sub\":\"\"",
	};
	struct tnd_auth a;
	struct tnd_claims c;
	char *tok, g[256];

	hmac_auth(&a, NULL, NULL);
	tok = sign(JWT_ALG_HS256, "another secret of at least 32 bytes!", 36, grants(""));
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL, "wrong key");
	free(tok);
	for (size_t i = 0; i < sizeof(bad_claims) / sizeof(bad_claims[0]); i++) {
		tok = sign_hs(grants(bad_claims[i]));
		cr_assert_eq(verify(&a, tok, &c), TND_EINVAL, "accepted %s", bad_claims[i]);
		free(tok);
	}
	tok = sign_hs("{\"sub\":\"x\"}");
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL, "no exp");
	free(tok);
	snprintf(g, sizeof(g), "{\"exp\":%lld}", now_s() - 31);
	tok = sign_hs(g);
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL, "expired past the leeway");
	free(tok);
	snprintf(g, sizeof(g), "{\"exp\":%lld}", now_s() - 20);
	tok = sign_hs(g);
	cr_assert_eq(verify(&a, tok, &c), 0, "inside the 30 s leeway");
	free(tok);
	tok = sign_hs("{\"exp\":9223372036854775807}");
	cr_assert_eq(verify(&a, tok, &c), 0, "a far exp is valid, and computing with it overflows nothing");
	free(tok);
	snprintf(g, sizeof(g), "{\"exp\":%lld,\"nbf\":%lld}", now_s() + 600, now_s() + 60);
	tok = sign_hs(g);
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL, "nbf in the future");
	free(tok);
	/* alg none: header {"alg":"none"}, no signature. */
	cr_assert_eq(verify(&a, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJleHAiOjk5OTk5OTk5OTl9.", &c), TND_EINVAL);
	cr_assert_eq(verify(&a, "garbage", &c), TND_EINVAL);
	cr_assert_eq(verify(&a, "", &c), TND_EINVAL);
	tnd_auth_free(&a);
}

Test(auth, issuer_and_audience_must_match_when_set)
{
	struct tnd_auth a;
	struct tnd_claims c;
	char *tok;

	hmac_auth(&a, "https://id.example", "tandem");
	tok = sign_hs(grants(",\"iss\":\"https://id.example\",\"aud\":[\"other\",\"tandem\"]"));
	cr_assert_eq(verify(&a, tok, &c), 0);
	free(tok);
	tok = sign_hs(grants(",\"iss\":\"https://id.example\",\"aud\":\"tandem\""));
	cr_assert_eq(verify(&a, tok, &c), 0);
	free(tok);
	tok = sign_hs(grants(",\"iss\":\"https://evil.example\",\"aud\":\"tandem\""));
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL);
	free(tok);
	tok = sign_hs(grants(",\"iss\":\"https://id.example\",\"aud\":\"other\""));
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL);
	free(tok);
	tok = sign_hs(grants(",\"iss\":\"https://id.example\""));
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL, "aud required when configured");
	free(tok);
	tnd_auth_free(&a);
}

/* Writes pkey's public half (and its private half into priv, malloc'd PEM) to a temp file. */
static void write_keys(EVP_PKEY *pkey, char *pub_path, char **priv_pem, size_t *priv_len)
{
	int fd = mkstemp(pub_path);
	FILE *f = fdopen(fd, "w");
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	cr_assert(f && PEM_write_PUBKEY(f, pkey));
	fclose(f);
	cr_assert(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL));
	n = BIO_get_mem_data(bio, &data);
	*priv_pem = malloc((size_t)n + 1);
	memcpy(*priv_pem, data, (size_t)n);
	(*priv_pem)[n] = '\0';
	*priv_len = (size_t)n;
	BIO_free(bio);
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(65536);

	*len = fread(buf, 1, 65535, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

Test(auth, rsa_keys_take_rs_tokens_only_and_no_alg_confusion, .timeout = 30)
{
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	char path[] = "/tmp/tnd-rsa-XXXXXX", err[256], *priv, *pub, *tok;
	size_t priv_len, pub_len;
	struct tnd_auth a;
	struct tnd_claims c;

	cr_assert_not_null(pkey);
	write_keys(pkey, path, &priv, &priv_len);
	cr_assert_eq(tnd_auth_init(&a, &(struct tnd_auth_settings){.public_key_file = path}, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(a.mode, TND_AUTH_RSA);
	tok = sign(JWT_ALG_RS256, priv, priv_len, grants(",\"read\":\"*\""));
	cr_assert_eq(verify(&a, tok, &c), 0);
	free(tok);
	tok = sign(JWT_ALG_RS512, priv, priv_len, grants(""));
	cr_assert_eq(verify(&a, tok, &c), 0);
	free(tok);
	/* The classic confusion: HS256 keyed with the public key's PEM text. */
	pub = read_text(path, &pub_len);
	tok = sign(JWT_ALG_HS256, pub, pub_len, grants(",\"read\":\"*\""));
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL);
	free(tok);
	free(pub);
	/* An HS token against a key, an RS token against a secret. */
	tok = sign_hs(grants(""));
	cr_assert_eq(verify(&a, tok, &c), TND_EINVAL);
	free(tok);
	struct tnd_auth h;
	hmac_auth(&h, NULL, NULL);
	tok = sign(JWT_ALG_RS256, priv, priv_len, grants(""));
	cr_assert_eq(verify(&h, tok, &c), TND_EINVAL);
	free(tok);
	tnd_auth_free(&h);
	/* A private key is not a public key. */
	FILE *f = fopen(path, "w");
	fwrite(priv, 1, priv_len, f);
	fclose(f);
	tnd_auth_free(&a);
	cr_assert_eq(tnd_auth_init(&a, &(struct tnd_auth_settings){.public_key_file = path}, err, sizeof(err)),
		     TND_EINVAL);
	free(priv);
	unlink(path);
	EVP_PKEY_free(pkey);
}

Test(auth, ec_keys_take_the_es_alg_of_their_curve, .timeout = 30)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	char path[] = "/tmp/tnd-ec-XXXXXX", err[256], *priv, *tok;
	size_t priv_len;
	struct tnd_auth a;
	struct tnd_claims c;

	cr_assert_not_null(pkey);
	write_keys(pkey, path, &priv, &priv_len);
	cr_assert_eq(tnd_auth_init(&a, &(struct tnd_auth_settings){.public_key_file = path}, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(a.mode, TND_AUTH_EC);
	cr_assert(strstr(tnd_auth_describe(&a), "ES256"));
	tok = sign(JWT_ALG_ES256, priv, priv_len, grants(",\"sub\":\"bob\""));
	cr_assert_eq(verify(&a, tok, &c), 0);
	cr_assert_str_eq(c.sub, "bob");
	free(tok);
	tnd_auth_free(&a);
	free(priv);
	unlink(path);
	EVP_PKEY_free(pkey);
}

Test(auth, the_cache_remembers_verified_tokens_until_they_expire)
{
	static struct tnd_auth_cache cache;
	struct tnd_auth a;
	struct tnd_claims c;
	char why[128], g[128], *tok;

	hmac_auth(&a, NULL, NULL);
	snprintf(g, sizeof(g), "{\"exp\":%lld,\"read\":\"*\"}", now_s() + 100);
	tok = sign_hs(g);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tnd_auth_verify_cached(&a, &cache, tok, strlen(tok), now_s(), &c, why, sizeof(why)), 0);
	cr_assert_eq(cache.misses, 1);
	cr_assert_eq(cache.hits, 2);
	cr_assert(tnd_claims_allow(&c.read, "x"));
	/* Past exp + leeway the cached entry is not used: the token is verified again, and fails. */
	cr_assert_eq(tnd_auth_verify_cached(&a, &cache, tok, strlen(tok), now_s() + 200, &c, why, sizeof(why)),
		     TND_EINVAL);
	/* A bad token is never cached. */
	cr_assert_eq(tnd_auth_verify_cached(&a, &cache, "x.y.z", 5, now_s(), &c, why, sizeof(why)), TND_EINVAL);
	cr_assert_eq(tnd_auth_verify_cached(&a, &cache, "x.y.z", 5, now_s(), &c, why, sizeof(why)), TND_EINVAL);
	free(tok);
	tnd_auth_free(&a);
}
