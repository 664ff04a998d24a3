/*
 * db.c -- the engine-neutral half of the database interface: statements,
 * sessions, transactions and result access.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/coro.h"
#include "src/db/db_internal.h"
#include "src/log.h"
#include "src/util.h"

static const struct db_engine_ops *ops;
static enum db_engine engine;
static struct db_stmt *all_stmts;
static struct db_session outside;	/* for calls outside any coroutine */

int
db_init(const struct config *cfg, struct event_base *base)
{
	engine = cfg->engine;
	ops = engine == ENGINE_POSTGRES ? &db_postgres_ops : &db_sqlite_ops;
	return ops->init(cfg, base);
}

void
db_shutdown(void)
{
	if (ops)
		ops->shutdown();
}

enum db_engine
db_engine(void)
{
	return engine;
}

const char *
db_engine_name(void)
{
	return engine == ENGINE_POSTGRES ? "postgres" : "sqlite";
}

struct db_stmt *
db_prepare_opts(const char *sqlite_sql, const char *postgres_sql, int flags)
{
	struct db_stmt *st = xcalloc(1, sizeof(*st));

	st->sql[ENGINE_SQLITE] = sqlite_sql;
	st->sql[ENGINE_POSTGRES] = postgres_sql;
	st->flags = flags;
	st->next = all_stmts;
	all_stmts = st;
	return st;
}

struct db_stmt *
db_prepare_dual(const char *sqlite_sql, const char *postgres_sql)
{
	return db_prepare_opts(sqlite_sql, postgres_sql, 0);
}

struct db_stmt *
db_prepare(const char *sql)
{
	return db_prepare_dual(sql, sql);
}

struct db_session *
db_session_current(void)
{
	struct db_session *s = coro_get_data(coro_current());

	return s ? s : &outside;
}

const struct db_error *
db_last_error(void)
{
	return &db_session_current()->err;
}

static void
verror(struct db_session *s, enum db_error_kind kind, const char *code,
       const char *fmt, va_list ap)
{
	s->err.kind = kind;
	snprintf(s->err.code, sizeof(s->err.code), "%s", code ? code : "");
	vsnprintf(s->err.message, sizeof(s->err.message), fmt, ap);
}

void
db_error_set(struct db_session *s, enum db_error_kind kind, const char *code,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(s, kind, code, fmt, ap);
	va_end(ap);
}

void
db_set_error(enum db_error_kind kind, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(db_session_current(), kind, code, fmt, ap);
	va_end(ap);
}

/* The request ran out of time: fail instead of adding more work. */
static int
past_deadline(struct db_session *s)
{
	if (s->deadline_usec == 0 || now_usec() < s->deadline_usec)
		return 0;
	db_error_set(s, DBE_BUSY, "", "request_timeout reached");
	if (s->depth > 0)
		s->failed = 1;
	return 1;
}

static int
query(struct db_stmt *st, const struct db_value *p, int n, struct db_result **out)
{
	struct db_session *s = db_session_current();

	*out = NULL;
	if (past_deadline(s))
		return -1;
	if (ops->query(s, st, p, n, out) < 0) {
		if (s->depth > 0)
			s->failed = 1;
		return -1;
	}
	return 0;
}

int
db_get(struct db_stmt *st, const struct db_value *p, int n, struct db_result **row)
{
	struct db_result *r;

	*row = NULL;
	if (query(st, p, n, &r) < 0)
		return -1;
	if (r->nrows == 0) {
		db_result_free(r);
		return 0;
	}
	*row = r;
	return 1;
}

int
db_all(struct db_stmt *st, const struct db_value *p, int n, struct db_result **rows)
{
	return query(st, p, n, rows);
}

int64_t
db_run(struct db_stmt *st, const struct db_value *p, int n, struct db_result **rows)
{
	struct db_result *r;
	int64_t changes;

	if (rows)
		*rows = NULL;
	if (query(st, p, n, &r) < 0)
		return -1;
	changes = r->changes;
	if (rows)
		*rows = r;
	else
		db_result_free(r);
	return changes;
}

int
db_exec(const char *sql)
{
	struct db_session *s = db_session_current();

	if (past_deadline(s))
		return -1;
	if (ops->exec(s, sql) < 0) {
		if (s->depth > 0)
			s->failed = 1;
		return -1;
	}
	return 0;
}

int
db_tx(int (*fn)(void *arg), void *arg)
{
	struct db_session *s = db_session_current();
	struct db_error saved;
	int rc;

	if (s->depth > 0) {
		/* Nested: part of the outer transaction, no second BEGIN. */
		s->depth++;
		rc = fn(arg);
		s->depth--;
		if (rc != 0)
			s->failed = 1;
		return rc != 0 || s->failed ? -1 : 0;
	}
	memset(&s->err, 0, sizeof(s->err));
	if (past_deadline(s) || ops->begin(s) < 0)
		return -1;
	s->depth = 1;
	s->failed = 0;
	rc = fn(arg);
	if (rc == 0 && !s->failed) {
		rc = ops->end(s, 1);
		s->depth = 0;
		s->lease = 0;
		return rc < 0 ? -1 : 0;
	}
	saved = s->err;
	ops->end(s, 0);
	s->err = saved;
	s->depth = 0;
	s->lease = 0;
	s->failed = 0;
	return -1;
}

int
db_ping(void)
{
	static struct db_stmt *ping;
	struct db_result *row;

	if (ping == NULL)
		ping = db_prepare("SELECT 1");
	if (db_get(ping, NULL, 0, &row) != 1)
		return -1;
	db_result_free(row);
	return 0;
}

/* ---- results ---- */

struct db_result *
db_result_empty(int64_t changes)
{
	struct db_result *r = xcalloc(1, sizeof(*r));

	r->changes = changes;
	return r;
}

int
db_nrows(const struct db_result *r)
{
	return r ? r->nrows : 0;
}

int
db_ncols(const struct db_result *r)
{
	return r ? r->ncols : 0;
}

static const char *
cell(const struct db_result *r, int row, int col)
{
	if (r == NULL || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	return r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

int
db_isnull(const struct db_result *r, int row, int col)
{
	return cell(r, row, col) == NULL;
}

int64_t
db_int(const struct db_result *r, int row, int col)
{
	const char *c = cell(r, row, col);

	return c ? strtoll(c, NULL, 10) : 0;
}

double
db_real(const struct db_result *r, int row, int col)
{
	const char *c = cell(r, row, col);

	return c ? strtod(c, NULL) : 0.0;
}

int
db_bool(const struct db_result *r, int row, int col)
{
	const char *c = cell(r, row, col);

	/* PostgreSQL says t/f, SQLite 1/0. */
	return c != NULL && (c[0] == 't' || c[0] == '1');
}

const char *
db_text(const struct db_result *r, int row, int col)
{
	return cell(r, row, col);
}

/*
 * Accepts "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+HH[:MM]|-HH[:MM]]" (SQLite's
 * stored RFC 3339 text and PostgreSQL's timestamptz output alike) and
 * writes RFC 3339 UTC with seconds precision.
 */
const char *
db_time(const struct db_result *r, int row, int col, char *buf, size_t len)
{
	const char *c = cell(r, row, col), *p;
	struct tm tm;
	time_t t;
	int off = 0;

	if (c == NULL)
		return NULL;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(c, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
		snprintf(buf, len, "%s", c);
		return buf;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	p = c + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == '+' || *p == '-') {
		int h = 0, m = 0;

		sscanf(p + 1, "%2d", &h);
		if (p[3] == ':')
			sscanf(p + 4, "%2d", &m);
		else if (p[3] >= '0' && p[3] <= '9')
			sscanf(p + 3, "%2d", &m);
		off = (h * 60 + m) * 60 * (*p == '-' ? -1 : 1);
	}
	t = timegm(&tm) - off;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int
db_col_index(const struct db_result *r, const char *name)
{
	for (int i = 0; r && i < r->ncols; i++)
		if (strcmp(r->colnames[i], name) == 0)
			return i;
	return -1;
}

void
db_result_free(struct db_result *r)
{
	if (r == NULL)
		return;
	free(r->colnames);
	free(r->cells);
	free(r->lens);
	free(r->storage);
	free(r->extra);
	free(r);
}
