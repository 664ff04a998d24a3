/*
 * crypto.h -- the few cryptographic primitives coffer needs, over OpenSSL.
 *
 * Secrets (session cookies, plugin tokens, OAuth states, PKCE verifiers)
 * are 256-bit values from the kernel's CSPRNG, written as base64url
 * without padding (43 characters).  The database only ever sees their
 * SHA-256 in hex, so a copy of it logs nobody in.  Comparisons of secrets
 * are constant-time.
 *
 * Every function here is pure apart from crypto_random(), allocates
 * nothing, and writes NUL-terminated text into buffers the caller sizes
 * with the *_LEN constants below.
 */
#ifndef COFFER_CRYPTO_H
#define COFFER_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SECRET_BYTES	32	/* 256 bits */
/* base64url of n bytes, unpadded, plus the NUL. */
#define CRYPTO_B64URL_LEN(n)	((((n) * 4) + 2) / 3 + 1)
#define CRYPTO_SECRET_LEN	CRYPTO_B64URL_LEN(CRYPTO_SECRET_BYTES)	/* 44 */
#define CRYPTO_SHA256_HEX_LEN	65
#define CRYPTO_SHA256_BYTES	32

/* n random bytes from the kernel (getrandom).  0, or -1 (logged). */
int crypto_random(void *buf, size_t n);

/*
 * A new secret: prefix (may be "") followed by the base64url of 32 random
 * bytes.  len must hold strlen(prefix) + CRYPTO_SECRET_LEN.  0 or -1.
 */
int crypto_secret(const char *prefix, char *out, size_t len);

/* base64url (RFC 4648 section 5) without padding.  out holds
 * CRYPTO_B64URL_LEN(n) bytes. */
void crypto_b64url(const void *in, size_t n, char *out);

/* Lowercase hex; out holds 2 * n + 1 bytes. */
void crypto_hex(const void *in, size_t n, char *out);

/* SHA-256 of data, raw and as lowercase hex. */
void crypto_sha256(const void *data, size_t n, unsigned char out[CRYPTO_SHA256_BYTES]);
void crypto_sha256_hex(const void *data, size_t n, char out[CRYPTO_SHA256_HEX_LEN]);

/* HMAC-SHA256 of data keyed with key. */
void crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
			unsigned char out[CRYPTO_SHA256_BYTES]);

/* 1 if the n bytes at a and b are equal; time depends on n only. */
int crypto_equal(const void *a, const void *b, size_t n);
/* 1 if the strings are equal; time depends on their lengths only (it is
 * the contents that must not leak, not the length of a token format). */
int crypto_streq(const char *a, const char *b);

/* PKCE S256 (RFC 7636): base64url(SHA-256(verifier)), 43 characters. */
void crypto_pkce_s256(const char *verifier, char out[CRYPTO_SECRET_LEN]);

#endif
