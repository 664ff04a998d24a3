/*
 * store/tokens.h -- plugin tokens.
 *
 * A token is "cfr_" + base64url(32 random bytes); only its SHA-256 (hex)
 * is stored, so the secret is shown once, at creation.  Revoking sets
 * revoked_at and the lookup ignores revoked rows, so a revoked token stops
 * working with the next request.  last_used_at moves at most once every
 * STORE_TOUCH_MS (store/sessions.h), not on every request.
 */
#ifndef COFFER_STORE_TOKENS_H
#define COFFER_STORE_TOKENS_H

#include <stdint.h>

#include "src/db/db.h"

#define STORE_TOKEN_PREFIX "cfr_"

/*
 * Rows for the Token object, docs/API.md "Resources" (store_tokens_create,
 * _list), in SELECT order:
 *	id, label, created_at, last_used_at
 */
enum token_col {
	TOKEN_ID,
	TOKEN_LABEL,
	TOKEN_CREATED_AT,
	TOKEN_LAST_USED_AT,
};

/* Insert a token; *row gets its Token row (enum token_col).  0 or -1. */
int store_tokens_create(int64_t user_id, const char *label, const char *token_hash,
			struct db_result **row);

/* A user's tokens that are not revoked, oldest first (enum token_col).
 * 0 or -1. */
int store_tokens_list(int64_t user_id, struct db_result **rows);

/* Revoke token id if it is user_id's and live.  1 / 0 / -1. */
int store_tokens_revoke(int64_t user_id, int64_t id);

/* The live token hashing to token_hash: *token_id, *user_id; touches
 * last_used_at when stale.  1 / 0 / -1. */
int store_tokens_lookup(const char *token_hash, int64_t *token_id, int64_t *user_id);

#endif
