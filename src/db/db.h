/*
 * db.h -- one asynchronous database interface over SQLite and PostgreSQL.
 *
 * Call sites never ask which engine they run on:
 *
 *	static struct db_stmt *find_user;
 *	find_user = db_prepare("SELECT id, login FROM users WHERE id = $1");
 *	...
 *	struct db_value p[] = { DB_INT(id) };
 *	struct db_result *row;
 *	switch (db_get(find_user, p, 1, &row)) { case 1: ...; case 0: 404; default: error }
 *
 * Placeholders are written $1, $2 ... in both dialects: PostgreSQL takes
 * them as they are and SQLite binds them by name ("$1"), so the text is
 * never rewritten at run time.  Where the dialects differ, db_prepare_dual()
 * holds both texts side by side.
 *
 * Every call runs in the calling request's coroutine.  On SQLite it
 * completes at once and never yields.  On PostgreSQL it sends a frame to the
 * broker and yields until the reply resumes it, so the worker's loop keeps
 * serving other requests meanwhile.
 *
 * Transactions: db_tx(fn, arg) runs fn inside BEGIN ... COMMIT, or ROLLBACK
 * when fn returns non-zero or any statement failed.  A db_tx inside another
 * runs inline in the outer one.  On PostgreSQL the transaction holds a
 * broker lease, a connection pinned to this request until it ends; the
 * lease lives in the request's db_session, which hangs off the coroutine
 * (db_session_current()), the C counterpart of AsyncLocalStorage.  That is
 * how concurrent requests on one worker never share a connection and never
 * see each other's uncommitted rows.  A SQLite transaction must not yield:
 * no network I/O inside it (debug builds abort if it does).
 *
 * Errors: a failed call returns -1 and leaves the details in the session
 * (db_last_error()); http_db_error() maps them to 409 / 503 / 500.
 *
 * A session may carry a deadline (the router sets [server] request_timeout):
 * once it has passed, every further call fails at once with DBE_BUSY, so a
 * request that is already too slow stops adding load and answers 503.
 */
#ifndef COFFER_DB_H
#define COFFER_DB_H

#include <stddef.h>
#include <stdint.h>

#include "src/config.h"

struct event_base;

enum db_value_type { DBV_NULL, DBV_INT, DBV_TEXT, DBV_BOOL, DBV_REAL };

struct db_value {
	enum db_value_type type;
	int64_t i;
	double d;
	const char *s;
	size_t len;		/* text length; SIZE_MAX means strlen(s) */
};

#define DB_NULL()	((struct db_value){ .type = DBV_NULL })
#define DB_INT(v)	((struct db_value){ .type = DBV_INT, .i = (int64_t)(v) })
#define DB_BOOL(v)	((struct db_value){ .type = DBV_BOOL, .i = (v) ? 1 : 0 })
#define DB_REAL(v)	((struct db_value){ .type = DBV_REAL, .d = (v) })
/* A NULL pointer binds SQL NULL. */
#define DB_TEXT(v)	db_text_value(v)
#define DB_TEXTN(v, n)	((struct db_value){ .type = DBV_TEXT, .s = (v), .len = (n) })

static inline struct db_value
db_text_value(const char *s)
{
	struct db_value v = { .type = s ? DBV_TEXT : DBV_NULL, .s = s, .len = SIZE_MAX };

	return v;
}

enum db_error_kind {
	DBE_NONE = 0,
	DBE_SQL,		/* the engine rejected the statement */
	DBE_CONSTRAINT,		/* unique / foreign-key violation (SQL too, but 409) */
	DBE_BUSY,		/* SQLite busy timeout, pool or lease timeout */
	DBE_UNAVAILABLE,	/* broker or server gone */
	DBE_MISUSE,		/* a programming error (yield in SQLite tx...) */
};

struct db_error {
	enum db_error_kind kind;
	char code[16];		/* SQLSTATE, or the SQLite extended code */
	char message[256];	/* for the log only: never sent to clients */
};

/* Per-request (per-coroutine) database state. */
struct db_session {
	uint64_t deadline_usec;	/* now_usec() after which calls fail (0: none) */
	uint64_t lease;		/* PostgreSQL lease while in a transaction */
	int depth;		/* nesting of db_tx */
	int failed;		/* a statement failed inside the transaction */
	struct db_error err;	/* the last error */
};

struct db_stmt;
struct db_result;

/* Once per worker, after fork.  SQLite: opens the connection. */
int db_init(const struct config *cfg, struct event_base *base);
void db_shutdown(void);
enum db_engine db_engine(void);
const char *db_engine_name(void);

/* Capture SQL (no I/O).  The statement lives for the process. */
struct db_stmt *db_prepare(const char *sql);
struct db_stmt *db_prepare_dual(const char *sqlite_sql, const char *postgres_sql);

/*
 * DB_CUSTOM_PLAN: on PostgreSQL, plan the statement with its actual
 * parameters on every call instead of reusing a prepared statement's plan.
 * For the few queries whose good plan depends on the values (PostgreSQL
 * switches a prepared statement to a generic plan after five runs, and a
 * generic plan cannot know that, say, a LIMIT is small).  No effect on
 * SQLite.
 */
#define DB_CUSTOM_PLAN	0x01
struct db_stmt *db_prepare_opts(const char *sqlite_sql, const char *postgres_sql, int flags);

/* 1 and *row (free it) / 0 when there is no row / -1 on error. */
int db_get(struct db_stmt *st, const struct db_value *p, int n, struct db_result **row);
/* 0 and *rows (possibly empty; free it) / -1 on error. */
int db_all(struct db_stmt *st, const struct db_value *p, int n, struct db_result **rows);
/* Rows changed, or -1.  With RETURNING, pass rows to get them (else NULL). */
int64_t db_run(struct db_stmt *st, const struct db_value *p, int n, struct db_result **rows);
/* A script or statement without parameters; 0 or -1. */
int db_exec(const char *sql);
/* fn's non-zero return rolls back; db_tx returns 0 committed, -1 otherwise
 * (fn's failure or the engine's: see db_last_error()). */
int db_tx(int (*fn)(void *arg), void *arg);

/* The running coroutine's session (a static one outside coroutines). */
struct db_session *db_session_current(void);
const struct db_error *db_last_error(void);
/* One round trip to the database (readiness): 0, or -1 (db_last_error()). */
int db_ping(void);
/* Set an error by hand (e.g. fn decided to roll back for a reason). */
void db_set_error(enum db_error_kind kind, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Results: text cells for both engines, converted on access. */
int db_nrows(const struct db_result *r);
int db_ncols(const struct db_result *r);
int db_isnull(const struct db_result *r, int row, int col);
int64_t db_int(const struct db_result *r, int row, int col);
double db_real(const struct db_result *r, int row, int col);
int db_bool(const struct db_result *r, int row, int col);
const char *db_text(const struct db_result *r, int row, int col);	/* NULL if NULL */
/* A timestamp column as RFC 3339 UTC ("2026-11-27T19:55:00.123Z") into buf. */
const char *db_time(const struct db_result *r, int row, int col, char *buf, size_t len);
int db_col_index(const struct db_result *r, const char *name);	/* -1 if absent */
void db_result_free(struct db_result *r);

#endif
