/*
 * db_sqlite.c -- the SQLite engine: one connection per worker process.
 *
 * Every call completes before it returns; nothing here yields.  Each
 * db_stmt is compiled once on this connection (SQLITE_PREPARE_PERSISTENT)
 * and reset after use, which is the statement cache.  Placeholders $1..$n
 * are SQLite named parameters; the map from n to SQLite's bind index is
 * computed once per statement, so SQL is never rewritten.
 *
 * Transactions use BEGIN IMMEDIATE, taking the write lock up front, so two
 * workers never deadlock upgrading read locks; a writer that cannot get the
 * lock within sqlite_busy_timeout fails with DBE_BUSY (503).  Waiting for
 * the lock is busy_wait's fine, bounded polling, not sqlite3_busy_timeout:
 * SQLite's own handler sleeps in growing steps (1, 2, 5, 10 ... 100 ms)
 * while a write transaction holds the lock for about a millisecond, so
 * under contention a worker slept tens of milliseconds after the lock was
 * free while the other worker took it again and again.  While a
 * transaction is open the coroutine may not yield (coro_forbid_yield):
 * holding SQLite's write lock across a network wait would stall every
 * other process.
 *
 * Each connection also gets the three SQL functions the vault needs for
 * exact numbers (see register_functions); PostgreSQL spells the same
 * arithmetic with NUMERIC, in the other half of each dual statement.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "src/coro.h"
#include "src/db/db_internal.h"
#include "src/log.h"
#include "src/util.h"

static sqlite3 *conn;
static uint64_t busy_limit_usec;	/* sqlite_busy_timeout */
static uint64_t busy_since;		/* when the current wait began */
static uint32_t busy_seed;		/* jitter; differs per worker */

/* ---- waiting for the write lock ---- */

#define BUSY_STEP_USEC	100	/* the shortest sleep between tries */
#define BUSY_JITTER_USEC 150	/* plus 0..149 us, so workers do not lockstep */

/*
 * The busy handler: SQLite calls it with tries = 0, 1, 2 ... while another
 * process holds the lock; nonzero means "try again".  It sleeps 100-250 us
 * per try, so a waiter notices a released lock within a fraction of one
 * write transaction, and gives up once sqlite_busy_timeout has passed since
 * the first try (the caller then answers DBE_BUSY).  The sleep blocks the
 * worker's loop, as every SQLite call does; the total is bounded by the
 * setting, as with sqlite3_busy_timeout.
 */
static int
busy_wait(void *arg, int tries)
{
	struct timespec ts;
	uint64_t now = now_usec();

	(void)arg;
	if (tries == 0)
		busy_since = now;
	if (now - busy_since >= busy_limit_usec)
		return 0;
	busy_seed = busy_seed * 1103515245u + 12345u;	/* an LCG is enough here */
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(BUSY_STEP_USEC + (busy_seed >> 16) % BUSY_JITTER_USEC) * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

/* ---- exact arithmetic for the vault (docs/API.md "Numbers") ---- */

/*
 * SQLite's integers are 64 bits, and it answers an overflow with a float
 * (a * b) or an "integer overflow" error (SUM), neither of which is a
 * number the API may answer.  A value qty * price and a total of them may
 * pass 2^63 - 1, so the vault computes them with these instead.
 */

/*
 * mul_sat(a, b): a * b as an INTEGER, clamped to the 64-bit range instead
 * of overflowing; NULL when either is NULL.  PostgreSQL:
 * LEAST(a::numeric * b, 9223372036854775807)::bigint (the vault's numbers
 * are never negative).  Deterministic, so usable in ORDER BY and indexes.
 */
static void
fn_mul_sat(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlite3_int64 a, b, v;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    sqlite3_value_type(argv[1]) == SQLITE_NULL)
		return;		/* the result is NULL */
	a = sqlite3_value_int64(argv[0]);
	b = sqlite3_value_int64(argv[1]);
	if (__builtin_mul_overflow(a, b, &v))
		v = (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	sqlite3_result_int64(ctx, v);
}

/*
 * The running state of sum_mul: the exact sum, and how many rows.  SQLite
 * aligns aggregate contexts to 8 bytes only, so the 128-bit sum is kept as
 * bytes and copied in and out.
 */
struct sum_mul {
	unsigned char sum[sizeof(__int128)];
	int64_t rows;
	int over;		/* passed 128 bits: sum stays at the bound */
};

/* Add (sign 1) or take away (sign -1) the row's a * b. */
static void
sum_mul_add(sqlite3_context *ctx, sqlite3_value **argv, int sign)
{
	struct sum_mul *st = sqlite3_aggregate_context(ctx, sizeof(*st));
	__int128 p, sum;

	if (st == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    sqlite3_value_type(argv[1]) == SQLITE_NULL)
		return;		/* skipped, like SUM skips NULL */
	st->rows += sign;
	if (st->over)
		return;
	/* Two 64-bit factors always fit in 128 bits. */
	p = (__int128)sqlite3_value_int64(argv[0]) * sqlite3_value_int64(argv[1]);
	if (sign < 0)
		p = -p;
	memcpy(&sum, st->sum, sizeof(sum));
	if (__builtin_add_overflow(sum, p, &sum)) {
		sum = p < 0 ? -(__int128)(~(unsigned __int128)0 >> 1) - 1 :
		    (__int128)(~(unsigned __int128)0 >> 1);
		st->over = 1;
	}
	memcpy(st->sum, &sum, sizeof(sum));
}

static void
fn_sum_mul_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sum_mul_add(ctx, argv, 1);
}

static void
fn_sum_mul_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sum_mul_add(ctx, argv, -1);
}

/* v as the result: an INTEGER when it fits 64 bits, else its decimal
 * TEXT. */
static void
result_i128(sqlite3_context *ctx, __int128 v)
{
	unsigned __int128 u;
	char buf[48], *p = buf + sizeof(buf);

	if (v >= INT64_MIN && v <= INT64_MAX) {
		sqlite3_result_int64(ctx, (sqlite3_int64)v);
		return;
	}
	/* Digits from the end; the magnitude as unsigned, so the most
	 * negative value has one too. */
	u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	*--p = '\0';
	do {
		*--p = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	sqlite3_result_text(ctx, p, -1, SQLITE_TRANSIENT);
}

/* The sum so far (result_i128); NULL over no rows, like SUM. */
static void
fn_sum_mul_value(sqlite3_context *ctx)
{
	struct sum_mul *st = sqlite3_aggregate_context(ctx, 0);
	__int128 sum;

	if (st == NULL || st->rows == 0)
		return;		/* the result is NULL */
	memcpy(&sum, st->sum, sizeof(sum));
	result_i128(ctx, sum);
}

/* An INTEGER, or a decimal TEXT as sum_mul answers, into *v; -1 when it
 * is neither (or past 128 bits). */
static int
value_i128(sqlite3_value *a, __int128 *v)
{
	const unsigned char *s;
	int neg;

	if (sqlite3_value_type(a) == SQLITE_INTEGER) {
		*v = sqlite3_value_int64(a);
		return 0;
	}
	if (sqlite3_value_type(a) != SQLITE_TEXT)
		return -1;
	s = sqlite3_value_text(a);
	neg = *s == '-';
	s += neg;
	if (*s == '\0')
		return -1;
	for (*v = 0; *s; s++) {
		if (*s < '0' || *s > '9' || __builtin_mul_overflow(*v, 10, v) ||
		    __builtin_add_overflow(*v, neg ? -(*s - '0') : *s - '0', v))
			return -1;
	}
	return 0;
}

/*
 * dec_add(a, b): the exact a + b of two INTEGERs or decimal TEXTs (what
 * sum_mul answers), answered the same way; NULL when either is NULL.  The
 * kept vault's totals are these (vault_totals.total_value).  PostgreSQL:
 * numeric +.
 */
static void
fn_dec_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	__int128 a, b, sum;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    sqlite3_value_type(argv[1]) == SQLITE_NULL)
		return;		/* the result is NULL */
	if (value_i128(argv[0], &a) < 0 || value_i128(argv[1], &b) < 0 ||
	    __builtin_add_overflow(a, b, &sum)) {
		sqlite3_result_error(ctx, "dec_add: not an integer within 128 bits", -1);
		return;
	}
	result_i128(ctx, sum);
}

/*
 * Register the functions above on conn; 0 or -1.  All are deterministic
 * and innocuous (no side effects), and the vault is their only user.
 *
 * mul_sat(a, b): a * b clamped to the 64-bit range (fn_mul_sat).
 *
 * sum_mul(a, b): the exact sum of a * b over the rows, as an aggregate and
 * as a window function (it has an inverse).  The products and their sum
 * are 128-bit, so nothing the vault can hold overflows; the result is an
 * INTEGER while it fits 64 bits and a decimal TEXT beyond (readers parse
 * either; CAST(x AS INTEGER) clamps the TEXT to 2^63 - 1).  PostgreSQL:
 * SUM(a::numeric * b).
 *
 * dec_add(a, b): the exact sum of two such numbers (fn_dec_add).
 */
static int
register_functions(void)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;

	if (sqlite3_create_function_v2(conn, "mul_sat", 2, flags, NULL,
	    fn_mul_sat, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_window_function(conn, "sum_mul", 2, flags, NULL,
	    fn_sum_mul_step, fn_sum_mul_value, fn_sum_mul_value,
	    fn_sum_mul_inverse, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(conn, "dec_add", 2, flags, NULL,
	    fn_dec_add, NULL, NULL, NULL) != SQLITE_OK) {
		log_error("sqlite: registering functions: %s", sqlite3_errmsg(conn));
		return -1;
	}
	return 0;
}

static void
lite_error(struct db_session *s, int rc, const char *what)
{
	int ext = conn ? sqlite3_extended_errcode(conn) : rc;
	enum db_error_kind kind = DBE_SQL;
	char code[16];

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		kind = DBE_BUSY;
		break;
	case SQLITE_CONSTRAINT:
		if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			kind = DBE_CONSTRAINT;
		break;
	}
	snprintf(code, sizeof(code), "%d", ext);
	db_error_set(s, kind, code, "%s: %s", what, conn ? sqlite3_errmsg(conn) : "no connection");
}

static int
lite_init(const struct config *cfg, struct event_base *base)
{
	static const char pragmas[] =
	    "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;"
	    "PRAGMA foreign_keys = ON;";
	int rc;

	(void)base;
	rc = sqlite3_open_v2(cfg->sqlite_path, &conn,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite: open %s: %s", cfg->sqlite_path,
		    conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
		sqlite3_close(conn);
		conn = NULL;
		return -1;
	}
	busy_limit_usec = (uint64_t)cfg->sqlite_busy_timeout * 1000u;
	busy_seed = (uint32_t)getpid() ^ (uint32_t)now_usec();
	sqlite3_busy_handler(conn, busy_wait, NULL);
	if (sqlite3_exec(conn, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		log_error("sqlite: %s", sqlite3_errmsg(conn));
		return -1;
	}
	return register_functions();
}

static void
lite_shutdown(void)
{
	/* sqlite3_close_v2 finalizes lazily what statements remain. */
	if (conn)
		sqlite3_close_v2(conn);
	conn = NULL;
}

static int
compile(struct db_session *s, struct db_stmt *st)
{
	sqlite3_stmt *h;
	int rc;

	if (st->lite)
		return 0;
	rc = sqlite3_prepare_v3(conn, st->sql[ENGINE_SQLITE], -1,
	    SQLITE_PREPARE_PERSISTENT, &h, NULL);
	if (rc != SQLITE_OK) {
		lite_error(s, rc, "prepare");
		return -1;
	}
	/* SQLite numbers named parameters by first appearance; map each
	 * $n to its index once, so binding is by position like PostgreSQL. */
	st->lite_nmap = 0;
	for (int idx = 1; idx <= sqlite3_bind_parameter_count(h); idx++) {
		const char *name = sqlite3_bind_parameter_name(h, idx);
		long n = name && name[0] == '$' ? strtol(name + 1, NULL, 10) : 0;

		if (n < 1 || n > 32767) {
			db_error_set(s, DBE_MISUSE, "", "parameter %s: write $1, $2, ...",
			    name ? name : "?");
			sqlite3_finalize(h);
			return -1;
		}
		if (n > st->lite_nmap) {
			st->lite_map = xrealloc(st->lite_map, (size_t)n * sizeof(int));
			memset(st->lite_map + st->lite_nmap, 0,
			    (size_t)(n - st->lite_nmap) * sizeof(int));
			st->lite_nmap = (int)n;
		}
		st->lite_map[n - 1] = idx;
	}
	st->lite = h;
	return 0;
}

static int
bind(struct db_session *s, struct db_stmt *st, const struct db_value *p, int n)
{
	sqlite3_stmt *h = st->lite;

	for (int i = 0; i < n; i++) {
		int idx = i < st->lite_nmap ? st->lite_map[i] : 0, rc = SQLITE_OK;

		if (idx <= 0)
			continue;	/* $i not used by this dialect's text */
		switch (p[i].type) {
		case DBV_NULL:
			rc = sqlite3_bind_null(h, idx);
			break;
		case DBV_INT:
		case DBV_BOOL:
			rc = sqlite3_bind_int64(h, idx, p[i].i);
			break;
		case DBV_REAL:
			rc = sqlite3_bind_double(h, idx, p[i].d);
			break;
		case DBV_TEXT:
			rc = sqlite3_bind_text(h, idx, p[i].s,
			    p[i].len == SIZE_MAX ? -1 : (int)p[i].len, SQLITE_STATIC);
			break;
		}
		if (rc != SQLITE_OK) {
			lite_error(s, rc, "bind");
			return -1;
		}
	}
	return 0;
}

/* Text storage that grows; cells are offsets until the end. */
struct arena {
	char *buf;
	size_t len, cap;
};

static size_t
arena_add(struct arena *a, const void *p, size_t n)
{
	size_t at = a->len;

	if (a->len + n + 1 > a->cap) {
		a->cap = (a->len + n + 1) * 2;
		a->buf = xrealloc(a->buf, a->cap);
	}
	memcpy(a->buf + a->len, p, n);
	a->buf[a->len + n] = '\0';
	a->len += n + 1;
	return at;
}

static int
lite_query(struct db_session *s, struct db_stmt *st, const struct db_value *p,
	   int n, struct db_result **out)
{
	struct db_result *r;
	struct arena a = { 0 };
	size_t *offs = NULL, ncells = 0, cap = 0;
	sqlite3_stmt *h;
	int rc, ncols;

	if (compile(s, st) < 0 || bind(s, st, p, n) < 0)
		goto fail_reset;
	h = st->lite;
	ncols = sqlite3_column_count(h);
	r = xcalloc(1, sizeof(*r));
	r->ncols = ncols;
	while ((rc = sqlite3_step(h)) == SQLITE_ROW) {
		for (int c = 0; c < ncols; c++) {
			const unsigned char *t = sqlite3_column_text(h, c);
			int len = sqlite3_column_bytes(h, c);

			if (ncells == cap) {
				cap = cap ? cap * 2 : 64;
				offs = xrealloc(offs, cap * sizeof(*offs));
			}
			/* SIZE_MAX marks NULL until pointers are fixed up. */
			offs[ncells++] = t == NULL ? SIZE_MAX : arena_add(&a, t, (size_t)len);
		}
		r->nrows++;
	}
	if (rc != SQLITE_DONE) {
		lite_error(s, rc, "step");
		free(offs);
		free(a.buf);
		free(r);
		goto fail_reset;
	}
	r->changes = sqlite3_changes64(conn);
	r->colnames = xcalloc((size_t)ncols + 1, sizeof(char *));
	/* Column names go in the same arena, after the cells. */
	{
		size_t *name_off = xcalloc((size_t)ncols + 1, sizeof(size_t));

		for (int c = 0; c < ncols; c++) {
			const char *nm = sqlite3_column_name(h, c);

			name_off[c] = arena_add(&a, nm, strlen(nm));
		}
		for (int c = 0; c < ncols; c++)
			r->colnames[c] = a.buf + name_off[c];
		free(name_off);
	}
	r->cells = xcalloc(ncells + 1, sizeof(char *));
	r->lens = xcalloc(ncells + 1, sizeof(int32_t));
	for (size_t i = 0; i < ncells; i++) {
		if (offs[i] == SIZE_MAX) {
			r->cells[i] = NULL;
			r->lens[i] = -1;
		} else {
			r->cells[i] = a.buf + offs[i];
			r->lens[i] = (int32_t)strlen(r->cells[i]);
		}
	}
	free(offs);
	r->storage = a.buf;
	sqlite3_reset(h);
	sqlite3_clear_bindings(h);
	*out = r;
	return 0;

fail_reset:
	if (st->lite) {
		sqlite3_reset(st->lite);
		sqlite3_clear_bindings(st->lite);
	}
	return -1;
}

static int
lite_exec(struct db_session *s, const char *sql)
{
	int rc = sqlite3_exec(conn, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		lite_error(s, rc, "exec");
		return -1;
	}
	return 0;
}

static int
lite_begin(struct db_session *s)
{
	if (lite_exec(s, "BEGIN IMMEDIATE") < 0)
		return -1;
	coro_forbid_yield(1);
	return 0;
}

static int
lite_end(struct db_session *s, int commit)
{
	int rc = lite_exec(s, commit ? "COMMIT" : "ROLLBACK");

	if (rc < 0 && commit && !sqlite3_get_autocommit(conn))
		sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);	/* leave none open */
	coro_forbid_yield(-1);
	return rc;
}

const struct db_engine_ops db_sqlite_ops = {
	.name = "sqlite",
	.init = lite_init,
	.shutdown = lite_shutdown,
	.query = lite_query,
	.exec = lite_exec,
	.begin = lite_begin,
	.end = lite_end,
};
