/*
 * fuzz_jwt: libFuzzer entry for bearer tokens (shared/tnd_auth.c:
 * tnd_auth_verify, tnd_auth_verify_cached, tnd_claims_allow) in HMAC mode
 * with an issuer and an audience to check. libjwt and OpenSSL do the
 * signature and are not instrumented; what is fuzzed is ours: the alg
 * policy and every claim read after the signature is good.
 *
 * Input, first byte:
 *  - even: the rest is a token as it comes in an Authorization header;
 *  - odd: the rest is a claims object, signed here with the test secret
 *    (HS256) so that the claim readers behind the signature are reached.
 * The clock is fixed, so runs repeat.
 *
 * Checks: a refusal has a reason; an accepted token's sub fits, its exp
 * is not past (with the leeway), and the cache answers as the plain
 * verification does; tnd_claims_allow never matches a name the set does
 * not hold (harness's own reading of the list).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <jwt.h>

#include "fuzz_check.h"
#include "tnd_auth.h"
#include "tnd_error.h"

#define INPUT_MAX (TND_TOKEN_MAX + 16)
#define NOW 1764358912LL

static const char secret[] = "fuzz-secret-of-at-least-32-bytes-0123456789";
static struct tnd_auth auth;
static struct tnd_auth_cache cache;
/*
 * FUZZ_KNOWN_BUGS=1 lets through the inputs of open production bugs
 * (tests/fuzz/known/); off, a short run does not keep re-finding them.
 */
static bool known_bugs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct tnd_auth_settings s = {.secret = secret, .issuer = "https://issuer.example",
					    .audience = "tandem"};
	char err[256];

	(void)argc;
	(void)argv;
	known_bugs = getenv("FUZZ_KNOWN_BUGS") && !strcmp(getenv("FUZZ_KNOWN_BUGS"), "1");
	FUZZ_CHECK(tnd_auth_init(&auth, &s, err, sizeof(err)) == 0 && auth.mode == TND_AUTH_HMAC);
	return 0;
}

/* Whether set names col, read the slow way. */
static bool ref_allow(const struct tnd_claim_set *set, const char *col)
{
	size_t n = strlen(col);

	if (set->all)
		return true;
	for (const char *p = set->names; (p = strstr(p, col)) != NULL; p++)
		if (p > set->names && p[-1] == ',' && p[n] == ',')
			return true;
	return false;
}

static void check_token(const char *tok, size_t len)
{
	struct tnd_claims c, c2;
	char why[256] = "", why2[256] = "";
	int rc = tnd_auth_verify(&auth, tok, len, NOW, &c, why, sizeof(why));
	int rc2 = tnd_auth_verify_cached(&auth, &cache, tok, len, NOW, &c2, why2, sizeof(why2));
	static const char *const cols[] = {"notes", "todos", "a", "_x"};

	FUZZ_CHECK(rc == 0 || rc == TND_EINVAL);
	FUZZ_CHECK(rc2 == rc);
	if (rc < 0) {
		FUZZ_CHECK(why[0] != '\0' && why2[0] != '\0');
		return;
	}
	FUZZ_CHECK(strlen(c.sub) <= TND_SUB_MAX);
	FUZZ_CHECK(c.exp + TND_AUTH_LEEWAY_S >= NOW);
	FUZZ_CHECK(!strcmp(c.sub, c2.sub) && c.exp == c2.exp);
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		FUZZ_CHECK(tnd_claims_allow(&c.read, cols[i]) == ref_allow(&c.read, cols[i]));
		FUZZ_CHECK(tnd_claims_allow(&c.write, cols[i]) == ref_allow(&c.write, cols[i]));
		FUZZ_CHECK(tnd_claims_allow(&c.own, cols[i]) == ref_allow(&c.own, cols[i]));
	}
}

static void check_claims(const char *json, size_t len)
{
	char *text = malloc(len + 1), *tok = NULL;
	jwt_t *jwt = NULL;

	FUZZ_CHECK(text != NULL);
	memcpy(text, json, len);
	text[len] = '\0';
	if (jwt_new(&jwt) != 0)
		goto out;
	if (jwt_add_grants_json(jwt, text) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) != 0)
		goto out;
	/* Known bug: exp + TND_AUTH_LEEWAY_S overflows (tnd_auth.c check_times, cache lookup). */
	errno = 0;
	if (!known_bugs && jwt_get_grant_int(jwt, "exp") > LLONG_MAX - TND_AUTH_LEEWAY_S && errno == 0)
		goto out;
	tok = jwt_encode_str(jwt);
	if (tok)
		check_token(tok, strlen(tok));
out:
	free(tok); /* libjwt 1.10: jwt_encode_str returns malloc memory */
	jwt_free(jwt);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > INPUT_MAX)
		return 0;
	if (data[0] % 2 == 0)
		check_token((const char *)data + 1, size - 1);
	else
		check_claims((const char *)data + 1, size - 1);
	return 0;
}
