/*
 * migrate.c -- the schema migration runner, for SQLite and PostgreSQL.
 *
 * One pass, the same on both engines:
 *
 *	lock -> create schema_migrations if missing -> read the version
 *	     -> refuse a newer database -> for each later migration:
 *	        BEGIN; its SQL; INSERT its schema_migrations row; COMMIT
 *
 * Only the lock differs.  On PostgreSQL it is a session advisory lock
 * (MIGRATE_PG_LOCK_KEY) taken before the version is read and held past the
 * last commit; it dies with the session, so a migrator that crashes cannot
 * leave it behind.  On SQLite each migration's transaction is BEGIN
 * IMMEDIATE, which takes the database's write lock at once, and the
 * version is read again inside it: a process that lost the race finds the
 * migration applied and skips it.
 *
 * SQLite migrations run with foreign_keys OFF, as SQLite's documented
 * procedure for changing a table's shape requires: with them ON, the DROP
 * TABLE of a table rebuild deletes every child row through ON DELETE
 * CASCADE.  PRAGMA foreign_key_check must come back empty before each
 * commit, so a migration still cannot leave a dangling reference.  The
 * pragma is per connection and this one is closed at the end; the engine
 * sets foreign_keys ON on every connection it opens.  journal_mode = WAL,
 * by contrast, is stored in the file: setting it here sets it for good.
 *
 * The SQL is embedded line for line, so a failing statement is reported
 * with its migration's name and the line of the .sql file it is on.
 *
 * migrate_version(), at the end, is the one function here that runs in a
 * worker: it reads the same version through db.h for
 * GET /api/v1/ops/version.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "src/db/db.h"
#include "src/db/migrate.h"
#include "src/log.h"
#include "src/util.h"

/* RETURNING, which the store uses on both engines, came in SQLite 3.35. */
#define SQLITE_MIN_VERSION	3035000
/* Identity columns came in PostgreSQL 10. */
#define PG_MIN_VERSION		100000
/* How long SQLite waits for another process's write lock. */
#define SQLITE_BUSY_MS		30000
/* Pause between attempts where SQLite will not wait by itself. */
#define SQLITE_RETRY_MS		10
/* Room for one engine message plus its context. */
#define MSG_MAX			512

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copy src to dst as one line: each run of white space (libpq's messages
 * span lines, with tabs) becomes one space; none is left at the end. */
static void
oneline(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	int space = 0;

	if (n == 0)
		return;
	for (; *src != '\0' && i + 1 < n; src++) {
		if (*src == ' ' || *src == '\n' || *src == '\t' ||
		    *src == '\r') {
			space = 1;
			continue;
		}
		if (space && i > 0 && i + 2 < n)
			dst[i++] = ' ';
		space = 0;
		dst[i++] = *src;
	}
	dst[i] = '\0';
}

/* The 1-based line of sql on which byte offset off falls. */
static int
line_at(const char *sql, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off && sql[i] != '\0'; i++)
		if (sql[i] == '\n')
			line++;
	return line;
}

/* The same for PostgreSQL's error positions, which count characters
 * (from 1), not bytes: UTF-8 continuation bytes are not counted. */
static int
line_at_char(const char *sql, long pos)
{
	int line = 1;
	long c = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)sql; *p != '\0'; p++) {
		if ((*p & 0xC0) == 0x80)
			continue;
		if (++c >= pos)
			break;
		if (*p == '\n')
			line++;
	}
	return line;
}

/* Skip white space and comments: where the next statement really begins. */
static const char *
skip_space(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");

			p = e ? e + 2 : p + strlen(p);
		} else {
			return p;
		}
	}
}

/* A list must be in strictly increasing version order, each entry whole. */
static int
check_list(const struct migration *list, char *err, size_t errlen)
{
	const struct migration *m;
	int prev = 0;

	for (m = list; m->version != 0; m++) {
		if (m->version <= prev || m->name == NULL || m->sql == NULL) {
			seterr(err, errlen, "schema: the built-in migration "
			    "list is broken at version %d", m->version);
			return -1;
		}
		prev = m->version;
	}
	return 0;
}

int
migrate_latest(const struct migration *list)
{
	int v = 0;

	for (; list->version != 0; list++)
		v = list->version;
	return v;
}

/* ------------------------------------------------------------ SQLite */

static const char sq_create_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations (\n"
	"	version		INTEGER PRIMARY KEY,\n"
	"	name		TEXT NOT NULL,\n"
	"	applied_at	TEXT NOT NULL\n"
	"	    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))\n"
	")";

/* One statement that returns no rows we need. */
static int
sq_exec(sqlite3 *db, const char *sql, char *msg, size_t msglen)
{
	char *e = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
		snprintf(msg, msglen, "%s", e ? e : sqlite3_errmsg(db));
		sqlite3_free(e);
		return -1;
	}
	return 0;
}

/* A statement whose first row's first column is text: copied to out. */
static int
sq_text(sqlite3 *db, const char *sql, char *out, size_t outlen, char *msg,
	size_t msglen)
{
	sqlite3_stmt *st;
	const unsigned char *t;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(msg, msglen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(msg, msglen, "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	snprintf(out, outlen, "%s", t ? (const char *)t : "");
	sqlite3_finalize(st);
	return 0;
}

static int
sq_version(sqlite3 *db, int *version, char *msg, size_t msglen)
{
	char buf[32];

	if (sq_text(db, MIGRATE_VERSION_SQL, buf, sizeof(buf), msg, msglen) < 0)
		return -1;
	*version = atoi(buf);
	return 0;
}

/* Run every statement of a script, reporting the line of a failure. */
static int
sq_script(sqlite3 *db, const char *sql, char *msg, size_t msglen)
{
	const char *p = sql, *tail;
	sqlite3_stmt *st;
	size_t off;
	int rc;

	while (*(p = skip_space(p)) != '\0') {
		if (sqlite3_prepare_v2(db, p, -1, &st, &tail) != SQLITE_OK) {
			off = (size_t)(p - sql);
#if SQLITE_VERSION_NUMBER >= 3038000
			if (sqlite3_error_offset(db) >= 0)
				off += (size_t)sqlite3_error_offset(db);
#endif
			snprintf(msg, msglen, "line %d: %s", line_at(sql, off),
			    sqlite3_errmsg(db));
			return -1;
		}
		if (st != NULL) {
			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				;
			if (rc != SQLITE_DONE) {
				snprintf(msg, msglen, "line %d: %s",
				    line_at(sql, (size_t)(p - sql)),
				    sqlite3_errmsg(db));
				sqlite3_finalize(st);
				return -1;
			}
			sqlite3_finalize(st);
		}
		if (tail == p)		/* cannot happen; never spin */
			break;
		p = tail;
	}
	return 0;
}

/* Any row from foreign_key_check is a reference the migration broke. */
static int
sq_fk_check(sqlite3 *db, char *msg, size_t msglen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st,
	    NULL) != SQLITE_OK) {
		snprintf(msg, msglen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(msg, msglen, "it leaves rows in %s that reference "
		    "missing rows of %s", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 2));
	else if (rc != SQLITE_DONE)
		snprintf(msg, msglen, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
sq_stamp(sqlite3 *db, const struct migration *m, char *msg, size_t msglen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations "
	    "(version, name) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK) {
		snprintf(msg, msglen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int(st, 1, m->version);
	sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		snprintf(msg, msglen, "recording it: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Apply m in its own transaction.  *applied is 0 when another process
 * applied it between our reading the version and taking the write lock.
 */
static int
sq_apply(sqlite3 *db, const char *path, const struct migration *m,
	 int *applied, char *err, size_t errlen)
{
	char msg[MSG_MAX];
	int cur;

	*applied = 0;
	if (sq_exec(db, "BEGIN IMMEDIATE", msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "SQLite database %s: cannot begin "
		    "migration %03d_%s: %s", path, m->version, m->name, msg);
		return -1;
	}
	if (sq_version(db, &cur, msg, sizeof(msg)) < 0)
		goto fail;
	if (cur >= m->version) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if (sq_script(db, m->sql, msg, sizeof(msg)) < 0 ||
	    sq_fk_check(db, msg, sizeof(msg)) < 0 ||
	    sq_stamp(db, m, msg, sizeof(msg)) < 0 ||
	    sq_exec(db, "COMMIT", msg, sizeof(msg)) < 0)
		goto fail;
	*applied = 1;
	return 0;

fail:
	/* Fails harmlessly when the error already ended the transaction. */
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	seterr(err, errlen, "SQLite database %s: migration %03d_%s failed: %s",
	    path, m->version, m->name, msg);
	return -1;
}

/*
 * WAL lets the workers read while one of them writes.  Where it cannot be
 * had (":memory:", some network file systems) coffer still works, only
 * with readers and the writer taking turns.
 *
 * The first switch of a new file to WAL needs an exclusive lock, and when
 * two processes start on a fresh file at once SQLite answers BUSY to one
 * of them without consulting the busy handler (waiting could deadlock, as
 * its documentation explains).  So that case is retried here, briefly,
 * until the same deadline the busy handler would use.
 */
static int
sq_wal(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char mode[16], msg[MSG_MAX];
	uint64_t deadline = now_msec() + SQLITE_BUSY_MS;

	while (sq_text(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode),
	    msg, sizeof(msg)) < 0) {
		if ((sqlite3_errcode(db) & 0xff) != SQLITE_BUSY ||
		    now_msec() >= deadline) {
			seterr(err, errlen, "SQLite database %s: setting WAL "
			    "mode: %s", path, msg);
			return -1;
		}
		sqlite3_sleep(SQLITE_RETRY_MS);
	}
	if (strcmp(mode, "wal") != 0)
		log_warn("schema: SQLite database %s stays in journal mode "
		    "\"%s\": WAL is not available there", path, mode);
	return 0;
}

static void
newer_error(char *err, size_t errlen, const char *what, int cur, int latest)
{
	seterr(err, errlen, "%s has schema version %d, newer than this "
	    "cofferd knows (%d); refusing to start: run the cofferd release "
	    "that migrated it, or a later one", what, cur, latest);
}

int
migrate_sqlite_list(const char *path, const struct migration *list,
		    int *version_out, char *err, size_t errlen)
{
	const struct migration *m;
	sqlite3 *db = NULL;
	char msg[MSG_MAX], what[MSG_MAX];
	int latest, cur, applied, rc = -1;

	if (check_list(list, err, errlen) < 0)
		return -1;
	latest = migrate_latest(list);
	if (sqlite3_libversion_number() < SQLITE_MIN_VERSION) {
		seterr(err, errlen, "SQLite %s is too old: coffer needs 3.35 "
		    "or later", sqlite3_libversion());
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		seterr(err, errlen, "cannot open SQLite database %s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, SQLITE_BUSY_MS);
	if (sq_wal(db, path, err, errlen) < 0)
		goto out;
	if (sq_exec(db, "PRAGMA foreign_keys = OFF", msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "SQLite database %s: %s", path, msg);
		goto out;
	}
	if (sq_exec(db, sq_create_table, msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "SQLite database %s: creating "
		    "schema_migrations: %s", path, msg);
		goto out;
	}
	if (sq_version(db, &cur, msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "SQLite database %s: reading the schema "
		    "version: %s", path, msg);
		goto out;
	}
	snprintf(what, sizeof(what), "SQLite database %s", path);
	if (cur > latest) {
		newer_error(err, errlen, what, cur, latest);
		goto out;
	}
	for (m = list; m->version != 0; m++) {
		if (m->version <= cur)
			continue;
		if (sq_apply(db, path, m, &applied, err, errlen) < 0)
			goto out;
		if (applied)
			log_info("schema: applied %03d_%s (sqlite)", m->version,
			    m->name);
	}
	/* Read again: a racing newer cofferd may have gone further. */
	if (sq_version(db, &cur, msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "SQLite database %s: %s", path, msg);
		goto out;
	}
	if (cur > latest) {
		newer_error(err, errlen, what, cur, latest);
		goto out;
	}
	if (version_out != NULL)
		*version_out = cur;
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}

int
migrate_sqlite(const char *path, int *version_out, char *err, size_t errlen)
{
	return migrate_sqlite_list(path, migrations_sqlite, version_out, err,
	    errlen);
}

/* -------------------------------------------------------- PostgreSQL */

static const char pg_create_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations (\n"
	"	version		integer PRIMARY KEY,\n"
	"	name		text NOT NULL,\n"
	"	applied_at	timestamptz NOT NULL DEFAULT now()\n"
	")";

/* Server notices ("relation ... already exists, skipping") would go to
 * stderr unformatted by default; they belong in the debug log. */
static void
pg_notice(void *arg, const char *message)
{
	char line[MSG_MAX];

	(void)arg;
	oneline(line, sizeof(line), message);
	log_debug("schema: postgres: %s", line);
}

/*
 * Describe a failed result: the server's primary message and SQLSTATE,
 * and the line within sql when the server gives a position in it (syntax
 * and name-resolution errors do).  Without a result (the connection
 * broke), libpq's own message.
 */
static void
pg_errmsg(PGconn *conn, PGresult *res, const char *sql, char *msg,
	  size_t msglen)
{
	const char *primary = NULL, *state = NULL, *pos = NULL;
	char line[MSG_MAX], where[32] = "";

	if (res != NULL) {
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	}
	if (primary == NULL) {
		oneline(line, sizeof(line), PQerrorMessage(conn));
		snprintf(msg, msglen, "%s", line[0] ? line : "unknown error");
		return;
	}
	if (sql != NULL && pos != NULL)
		snprintf(where, sizeof(where), "line %d: ",
		    line_at_char(sql, atol(pos)));
	snprintf(msg, msglen, "%s%s (SQLSTATE %s)", where, primary,
	    state ? state : "?");
}

/* Run sql (one statement or a script); its last result must be OK. */
static int
pg_cmd(PGconn *conn, const char *sql, char *msg, size_t msglen)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY) {
		pg_errmsg(conn, res, sql, msg, msglen);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* A query answering one integer. */
static int
pg_int(PGconn *conn, const char *sql, int *out, char *msg, size_t msglen)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			snprintf(msg, msglen, "unexpected answer to \"%s\"",
			    sql);
		else
			pg_errmsg(conn, res, NULL, msg, msglen);
		PQclear(res);
		return -1;
	}
	*out = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int
pg_stamp(PGconn *conn, const struct migration *m, char *msg, size_t msglen)
{
	const char *params[2];
	char version[16];
	PGresult *res;
	int ok;

	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	params[1] = m->name;
	res = PQexecParams(conn, "INSERT INTO schema_migrations "
	    "(version, name) VALUES ($1::integer, $2)", 2, NULL, params, NULL,
	    NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		int n = snprintf(msg, msglen, "recording it: ");

		if (n > 0 && (size_t)n < msglen)
			pg_errmsg(conn, res, NULL, msg + n, msglen - (size_t)n);
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/* COMMIT of a transaction that failed answers "ROLLBACK", not an error. */
static int
pg_commit(PGconn *conn, char *msg, size_t msglen)
{
	PGresult *res = PQexec(conn, "COMMIT");
	int ok;

	ok = PQresultStatus(res) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdStatus(res), "COMMIT") == 0;
	if (!ok) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			snprintf(msg, msglen, "the transaction was rolled back");
		else
			pg_errmsg(conn, res, NULL, msg, msglen);
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/* Apply m in its own transaction; the caller holds the advisory lock. */
static int
pg_apply(PGconn *conn, const struct migration *m, char *err, size_t errlen)
{
	char msg[MSG_MAX];

	if (pg_cmd(conn, "BEGIN", msg, sizeof(msg)) < 0 ||
	    pg_cmd(conn, m->sql, msg, sizeof(msg)) < 0 ||
	    pg_stamp(conn, m, msg, sizeof(msg)) < 0 ||
	    pg_commit(conn, msg, sizeof(msg)) < 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		seterr(err, errlen, "PostgreSQL: migration %03d_%s failed: %s",
		    m->version, m->name, msg);
		return -1;
	}
	log_info("schema: applied %03d_%s (postgres)", m->version, m->name);
	return 0;
}

/*
 * Connect without ever repeating the conninfo: it may hold a password,
 * and libpq's parse errors quote the text around a mistake.  So it is
 * checked first and a malformed one reported in general terms.  A
 * connect_timeout applies unless the conninfo sets its own (later
 * keywords win, and the expanded conninfo comes last).
 */
static PGconn *
pg_connect(const char *conninfo, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"connect_timeout", "fallback_application_name", "dbname", NULL
	};
	const char *vals[] = { "10", "cofferd-migrate", conninfo, NULL };
	PQconninfoOption *opts;
	char *perr = NULL;
	char line[MSG_MAX];
	PGconn *conn;

	opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		PQfreemem(perr);
		seterr(err, errlen, "PostgreSQL: postgres_dsn is not a valid "
		    "libpq connection string or URI");
		return NULL;
	}
	PQconninfoFree(opts);
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		seterr(err, errlen, "PostgreSQL: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		oneline(line, sizeof(line), PQerrorMessage(conn));
		seterr(err, errlen, "cannot connect to PostgreSQL: %s", line);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, pg_notice, NULL);
	return conn;
}

/* Take the advisory lock, saying so when another process has it. */
static int
pg_lock(PGconn *conn, char *msg, size_t msglen)
{
	char sql[96];
	int got;

	snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%" PRId64
	    ")::integer", MIGRATE_PG_LOCK_KEY);
	if (pg_int(conn, sql, &got, msg, msglen) < 0)
		return -1;
	if (got)
		return 0;
	log_info("schema: waiting for another process migrating database "
	    "\"%s\"", PQdb(conn));
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%" PRId64 ")",
	    MIGRATE_PG_LOCK_KEY);
	return pg_cmd(conn, sql, msg, msglen);
}

int
migrate_postgres_list(const char *conninfo, const struct migration *list,
		      int *version_out, char *err, size_t errlen)
{
	const struct migration *m;
	PGconn *conn;
	char msg[MSG_MAX], what[MSG_MAX], sql[96];
	int latest, cur;

	if (check_list(list, err, errlen) < 0)
		return -1;
	latest = migrate_latest(list);
	if ((conn = pg_connect(conninfo, err, errlen)) == NULL)
		return -1;
	snprintf(what, sizeof(what), "PostgreSQL database \"%s\"", PQdb(conn));
	if (PQserverVersion(conn) < PG_MIN_VERSION) {
		seterr(err, errlen, "%s: server version %d is too old: coffer "
		    "needs PostgreSQL 10 or later", what, PQserverVersion(conn));
		goto fail;
	}
	/*
	 * A statement_timeout set for the role or in the conninfo is meant
	 * for requests, not for rebuilding a large table.  The lock is
	 * held until PQfinish() ends the session, also on every error path.
	 */
	if (pg_cmd(conn, "SET statement_timeout = 0", msg, sizeof(msg)) < 0 ||
	    pg_lock(conn, msg, sizeof(msg)) < 0 ||
	    pg_cmd(conn, pg_create_table, msg, sizeof(msg)) < 0 ||
	    pg_int(conn, MIGRATE_VERSION_SQL, &cur, msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "%s: %s", what, msg);
		goto fail;
	}
	if (cur > latest) {
		newer_error(err, errlen, what, cur, latest);
		goto fail;
	}
	for (m = list; m->version != 0; m++) {
		if (m->version > cur && pg_apply(conn, m, err, errlen) < 0)
			goto fail;
	}
	if (pg_int(conn, MIGRATE_VERSION_SQL, &cur, msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "%s: %s", what, msg);
		goto fail;
	}
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%" PRId64 ")",
	    MIGRATE_PG_LOCK_KEY);
	PQclear(PQexec(conn, sql));
	PQfinish(conn);
	if (version_out != NULL)
		*version_out = cur;
	return 0;

fail:
	PQfinish(conn);
	return -1;
}

int
migrate_postgres(const char *conninfo, int *version_out, char *err,
		 size_t errlen)
{
	return migrate_postgres_list(conninfo, migrations_postgres,
	    version_out, err, errlen);
}

/* ------------------------------------------------------------ workers */

int
migrate_version(int *version)
{
	static struct db_stmt *st;
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare(MIGRATE_VERSION_SQL);
	rc = db_get(st, NULL, 0, &row);
	if (rc < 0)
		return -1;
	*version = rc == 1 ? (int)db_int(row, 0, 0) : 0;
	db_result_free(row);
	return 0;
}
