/*
 * pgtest.h -- throw-away PostgreSQL databases for unit tests.
 *
 * COFFER_TEST_PG_DSN names a server (tests/with-pg starts one).  Each test
 * program makes its own database there, so programs never see each other's
 * tables, and drops it at the end.  Blocking libpq is fine in a test.
 *
 * The one policy for a missing server, in every test program: when
 * COFFER_TEST_PG_DSN is unset, or names a server that does not answer,
 * pgtest_server() says why and each PostgreSQL test is reported skipped
 * by name ("ok N - name # SKIP no PostgreSQL (...)", test.h): neither a
 * failure nor a pass, so a run without a server still shows what it did
 * not test.  `make check` always runs under tests/with-pg, and
 * tests/run-unit reports the skips apart, so none should appear there.
 * Once a server answers, anything that goes wrong with it (CREATE
 * DATABASE, say) is a failure like any other.
 */
#ifndef COFFER_PGTEST_H
#define COFFER_PGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#define PGTEST_UNSET	"no PostgreSQL (COFFER_TEST_PG_DSN unset)"

/*
 * The server's conninfo (COFFER_TEST_PG_DSN), or NULL when the PostgreSQL
 * tests are to be skipped; *why is then the skip reason, on one line.
 */
static inline const char *
pgtest_server(const char **why)
{
	static char reason[256];
	const char *dsn = getenv("COFFER_TEST_PG_DSN");
	char msg[160];
	PGconn *c;

	if (dsn == NULL || *dsn == '\0') {
		*why = PGTEST_UNSET;
		return NULL;
	}
	c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';	/* TAP: one line */
		snprintf(reason, sizeof(reason),
		    "no PostgreSQL (COFFER_TEST_PG_DSN does not answer: %s)", msg);
		PQfinish(c);
		*why = reason;
		return NULL;
	}
	PQfinish(c);
	*why = NULL;
	return dsn;
}

/* A conninfo for a new empty database, or NULL (message printed). */
static inline char *
pgtest_create_db(const char *dsn, const char *prefix, char *name, size_t namelen)
{
	PGconn *c = PQconnectdb(dsn);
	char sql[256], *out;
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK) {
		printf("# PostgreSQL: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	snprintf(name, namelen, "%s_%d_%ld", prefix, (int)getpid(), (long)random() % 100000);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		printf("# %s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	PQfinish(c);
	out = malloc(strlen(dsn) + strlen(name) + 16);
	sprintf(out, "%s dbname=%s", dsn, name);	/* a later dbname wins */
	return out;
}

static inline void
pgtest_drop_db(const char *dsn, const char *name)
{
	PGconn *c = PQconnectdb(dsn);
	char sql[256];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	PQclear(PQexec(c, sql));
	PQfinish(c);
}

/* One integer from a query on dsn, or -1. */
static inline long
pgtest_scalar(const char *dsn, const char *sql)
{
	PGconn *c = PQconnectdb(dsn);
	PGresult *r = PQexec(c, sql);
	long v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

#endif
