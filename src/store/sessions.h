/*
 * store/sessions.h -- web sessions and the OAuth login flow's rows.
 *
 * Sessions: the cookie value is a 256-bit secret; only its SHA-256 (hex)
 * is stored.  A login creates (or finds) the user and opens the session
 * in one transaction (store_sessions_login).  A session expires at
 * expires_at ([auth] session_ttl after login) and is deleted at logout.
 * last_seen_at is refreshed at most once a minute, so an active browser
 * does not cost a write per request.
 *
 * OAuth states: a login in progress (state, PKCE verifier, provider, the
 * SHA-256 of the browser's login cookie, redirect_uri, next path), taken
 * -- read and deleted in one statement -- by the callback, so a state is
 * tried once, and only within STORE_OAUTH_TTL_MS.  The store keeps the
 * cookie's hash and leaves comparing it to the caller: the state is spent
 * whether or not the browser matches.
 *
 * The mock provider's authorization codes (single use, same lifetime) and
 * access tokens (an hour) live in the database rather than in memory,
 * because its authorize, token and userinfo calls may reach different
 * workers.  Access tokens are stored hashed, like every other secret.
 */
#ifndef COFFER_STORE_SESSIONS_H
#define COFFER_STORE_SESSIONS_H

#include <stdint.h>

#include "src/db/db.h"

#define STORE_OAUTH_TTL_MS	(10 * 60 * 1000)	/* states and codes */
#define STORE_MOCK_TOKEN_TTL_MS	(60 * 60 * 1000)
#define STORE_TOUCH_MS		(60 * 1000)	/* last_seen / last_used step */

/* The session a cookie names (see store_sessions_lookup). */
struct session_auth {
	int64_t id;
	int64_t user_id;
	char csrf[64];
};

/*
 * A user's session rows (store_sessions_list), in SELECT order:
 *	id, created_at, last_seen_at, user_agent
 */
enum session_col {
	SESSION_ID,
	SESSION_CREATED_AT,
	SESSION_LAST_SEEN_AT,
	SESSION_USER_AGENT,
};

/*
 * A login in progress (store_sessions_state_take), in RETURNING order:
 *	provider, code_verifier, cookie_hash, redirect_uri, next_path
 */
enum oauth_state_col {
	OAUTH_STATE_PROVIDER,
	OAUTH_STATE_CODE_VERIFIER,
	OAUTH_STATE_COOKIE_HASH,
	OAUTH_STATE_REDIRECT_URI,
	OAUTH_STATE_NEXT_PATH,
};

/*
 * The mock provider's authorization code (store_sessions_mock_code_take),
 * in RETURNING order:
 *	client_id, redirect_uri, code_challenge, login, display_name
 */
enum mock_code_col {
	MOCK_CODE_CLIENT_ID,
	MOCK_CODE_REDIRECT_URI,
	MOCK_CODE_CHALLENGE,
	MOCK_CODE_LOGIN,
	MOCK_CODE_DISPLAY_NAME,
};

/*
 * The mock provider's access token (store_sessions_mock_token_get), in
 * SELECT order:
 *	login, display_name
 */
enum mock_token_col {
	MOCK_TOKEN_LOGIN,
	MOCK_TOKEN_DISPLAY_NAME,
};

/* Who logs in through which provider, and the session to open for them. */
struct session_login {
	const char *provider;
	const char *login;		/* the provider's subject */
	const char *display_name;	/* used only when the user is new */
	const char *token_hash;		/* SHA-256 hex of the session cookie */
	const char *csrf;
	const char *user_agent;		/* may be NULL */
	int64_t ttl_ms;
};

/*
 * The end of a login: create or find the user (store_users_upsert) and
 * open a session for them, both or neither, in one transaction.  *user_id
 * and *session_id get the ids.  0 or -1 (db_last_error()).
 */
int store_sessions_login(const struct session_login *in, int64_t *user_id,
			 int64_t *session_id);

/* Create a session; expired sessions are purged on the way.  0 or -1. */
int store_sessions_create(int64_t user_id, const char *token_hash, const char *csrf,
			  const char *user_agent, int64_t ttl_ms, int64_t *id);

/* The live session whose token hashes to token_hash; refreshes
 * last_seen_at when older than STORE_TOUCH_MS.  1 / 0 / -1. */
int store_sessions_lookup(const char *token_hash, struct session_auth *out);

/* A user's live sessions, newest first (enum session_col).  0 or -1. */
int store_sessions_list(int64_t user_id, struct db_result **rows);

/* Delete session id if it is user_id's.  1 / 0 (not theirs) / -1. */
int store_sessions_delete(int64_t user_id, int64_t id);

/* A login in progress: what the callback needs to finish it. */
struct oauth_state {
	const char *state;
	const char *provider;
	const char *verifier;		/* PKCE */
	const char *cookie_hash;	/* SHA-256 hex of the browser's login cookie */
	const char *redirect_uri;	/* sent to authorize; the exchange repeats it */
	const char *next_path;
};

/* Store a login in progress; older than STORE_OAUTH_TTL_MS ones are purged
 * on the way.  0 or -1. */
int store_sessions_state_put(const struct oauth_state *in);

/* Take a state (delete it) if it is younger than STORE_OAUTH_TTL_MS.
 * *row: enum oauth_state_col.  1 / 0 / -1. */
int store_sessions_state_take(const char *state, struct db_result **row);

/* The mock provider.  Codes: taken like states; *row: enum mock_code_col. */
int store_sessions_mock_code_put(const char *code, const char *client_id,
				 const char *redirect_uri, const char *challenge,
				 const char *login, const char *display_name);
int store_sessions_mock_code_take(const char *code, struct db_result **row);
int store_sessions_mock_token_put(const char *token_hash, const char *login,
				  const char *display_name);
/* *row: enum mock_token_col.  1 / 0 / -1. */
int store_sessions_mock_token_get(const char *token_hash, struct db_result **row);

#endif
