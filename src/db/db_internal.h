/*
 * db_internal.h -- what db.c shares with the two engines.
 *
 * db.c owns sessions, transactions and results; an engine only knows how
 * to run one statement, a script, and the ends of a transaction.
 */
#ifndef COFFER_DB_INTERNAL_H
#define COFFER_DB_INTERNAL_H

#include "src/db/db.h"

struct db_stmt {
	const char *sql[2];		/* indexed by enum db_engine */
	int flags;			/* DB_CUSTOM_PLAN */
	void *lite;			/* sqlite3_stmt, prepared on first use */
	int *lite_map;			/* parameter $i+1 -> SQLite bind index (0: unused) */
	int lite_nmap;			/* the highest $n the text uses */
	struct db_stmt *next;		/* all statements, for shutdown */
};

struct db_result {
	int nrows;
	int ncols;
	int64_t changes;
	const char **colnames;
	const char **cells;		/* nrows * ncols; NULL = SQL NULL */
	int32_t *lens;
	void *storage;			/* what the cells point into */
	void *extra;			/* engine-specific, freed with it */
};

struct db_engine_ops {
	const char *name;
	int (*init)(const struct config *cfg, struct event_base *base);
	void (*shutdown)(void);
	/* Run st; on success *out is a result (rows may be 0). */
	int (*query)(struct db_session *s, struct db_stmt *st,
		     const struct db_value *p, int n, struct db_result **out);
	int (*exec)(struct db_session *s, const char *sql);
	int (*begin)(struct db_session *s);
	int (*end)(struct db_session *s, int commit);
};

extern const struct db_engine_ops db_sqlite_ops;
extern const struct db_engine_ops db_postgres_ops;

/* Fill s->err. */
void db_error_set(struct db_session *s, enum db_error_kind kind, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A result with no rows and no columns. */
struct db_result *db_result_empty(int64_t changes);

#endif
