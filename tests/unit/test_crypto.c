/*
 * test_crypto.c -- src/crypto.c against published test vectors.
 *
 * SHA-256: FIPS 180-2 examples.  HMAC-SHA256: RFC 4231 cases 1 and 2.
 * base64url: RFC 4648 section 10 (with '-' and '_' and no padding).
 * PKCE S256: RFC 7636 appendix B.
 */
#include <string.h>

#include "src/crypto.h"
#include "tests/unit/test.h"

TEST(sha256_vectors)
{
	char hex[CRYPTO_SHA256_HEX_LEN];

	crypto_sha256_hex("", 0, hex);
	CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	crypto_sha256_hex("abc", 3, hex);
	CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(hmac_sha256_rfc4231)
{
	unsigned char key[20], mac[CRYPTO_SHA256_BYTES];
	char hex[CRYPTO_SHA256_HEX_LEN];

	memset(key, 0x0b, sizeof(key));
	crypto_hmac_sha256(key, sizeof(key), "Hi There", 8, mac);
	crypto_hex(mac, sizeof(mac), hex);
	CHECK_EQ_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	crypto_hex(mac, sizeof(mac), hex);
	CHECK_EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(b64url_rfc4648)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	};
	char out[16];
	unsigned char bin[] = { 0xfb, 0xff, 0xfe };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		crypto_b64url(v[i].in, strlen(v[i].in), out);
		CHECK_EQ_STR(out, v[i].out);
	}
	crypto_b64url(bin, sizeof(bin), out);	/* standard base64: "+//+" */
	CHECK_EQ_STR(out, "-__-");
}

TEST(hex_encoding)
{
	unsigned char in[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9];

	crypto_hex(in, sizeof(in), out);
	CHECK_EQ_STR(out, "000fa5ff");
}

TEST(pkce_rfc7636)
{
	char ch[CRYPTO_SECRET_LEN];

	crypto_pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch);
	CHECK_EQ_STR(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(constant_time_compare)
{
	CHECK(crypto_equal("abcd", "abcd", 4));
	CHECK(!crypto_equal("abcd", "abce", 4));
	CHECK(crypto_equal("x", "y", 0));
	CHECK(crypto_streq("token", "token"));
	CHECK(!crypto_streq("token", "tokem"));
	CHECK(!crypto_streq("token", "token2"));
	CHECK(!crypto_streq("", "a"));
	CHECK(crypto_streq("", ""));
}

TEST(secrets_are_random_and_well_formed)
{
	char a[4 + CRYPTO_SECRET_LEN], b[4 + CRYPTO_SECRET_LEN];

	CHECK_EQ_INT(crypto_secret("cfr_", a, sizeof(a)), 0);
	CHECK_EQ_INT(crypto_secret("cfr_", b, sizeof(b)), 0);
	CHECK_EQ_INT(strlen(a), 4 + 43);
	CHECK(strncmp(a, "cfr_", 4) == 0);
	CHECK(strcmp(a, b) != 0);
	CHECK_EQ_INT(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_"), 43);
	CHECK_EQ_INT(crypto_secret("cfr_", a, 10), -1);	/* too small: refused */
}

int
main(void)
{
	RUN(sha256_vectors);
	RUN(hmac_sha256_rfc4231);
	RUN(b64url_rfc4648);
	RUN(hex_encoding);
	RUN(pkce_rfc7636);
	RUN(constant_time_compare);
	RUN(secrets_are_random_and_well_formed);
	return test_done();
}
