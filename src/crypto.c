/*
 * crypto.c -- random secrets, encodings, SHA-256, HMAC, constant-time
 * comparison and PKCE.
 *
 * Randomness comes from getrandom(2) rather than OpenSSL's RAND: it needs
 * no per-process seeding after fork (each worker is a fork of the master)
 * and cannot fail once the kernel's pool is initialised.  Hashing uses
 * OpenSSL's one-shot EVP/HMAC calls, which allocate nothing we keep.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "src/crypto.h"
#include "src/log.h"

int
crypto_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			log_error("getrandom: %m");
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int
crypto_secret(const char *prefix, char *out, size_t len)
{
	unsigned char raw[CRYPTO_SECRET_BYTES];
	size_t plen = strlen(prefix);

	if (len < plen + CRYPTO_SECRET_LEN) {
		log_error("crypto_secret: buffer too small");
		return -1;
	}
	if (crypto_random(raw, sizeof(raw)) < 0)
		return -1;
	memcpy(out, prefix, plen);
	crypto_b64url(raw, sizeof(raw), out + plen);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

void
crypto_b64url(const void *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t i;
	char *o = out;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
	}
	*o = '\0';
}

void
crypto_hex(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
crypto_sha256(const void *data, size_t n, unsigned char out[CRYPTO_SHA256_BYTES])
{
	SHA256(data, n, out);
}

void
crypto_sha256_hex(const void *data, size_t n, char out[CRYPTO_SHA256_HEX_LEN])
{
	unsigned char md[CRYPTO_SHA256_BYTES];

	crypto_sha256(data, n, md);
	crypto_hex(md, sizeof(md), out);
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
		   unsigned char out[CRYPTO_SHA256_BYTES])
{
	unsigned int len = CRYPTO_SHA256_BYTES;

	HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len);
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int
crypto_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return 0;
	return crypto_equal(a, b, la);
}

void
crypto_pkce_s256(const char *verifier, char out[CRYPTO_SECRET_LEN])
{
	unsigned char md[CRYPTO_SHA256_BYTES];

	crypto_sha256(verifier, strlen(verifier), md);
	crypto_b64url(md, sizeof(md), out);
}
