/*
 * stmtcache.h -- the prepared statements of one server connection.
 *
 * The broker prepares each distinct SQL text once per PostgreSQL
 * connection under a generated name ("s1", "s2", ...) and runs it with
 * PQsendQueryPrepared afterwards.  This cache maps SQL text to that name.
 * It is bounded: when full, putting a new entry evicts the least recently
 * used one and hands its name back so the caller can DEALLOCATE it on the
 * server.  Names are never reused within a cache, so a statement that
 * could not be deallocated yet cannot collide with a new one.
 *
 * The cache only records what the server confirmed: call stmtcache_put()
 * after PREPARE succeeded, stmtcache_drop() when the server says the
 * statement is gone or stale.
 */
#ifndef COFFER_STMTCACHE_H
#define COFFER_STMTCACHE_H

#include <stddef.h>

#define STMT_NAME_MAX	24

struct stmtcache;

struct stmtcache *stmtcache_new(unsigned cap);
void stmtcache_free(struct stmtcache *sc);

/* The name sql was prepared under, or NULL.  A hit makes it most recent. */
const char *stmtcache_get(struct stmtcache *sc, const char *sql);

/* A fresh statement name, written to buf (STMT_NAME_MAX bytes). */
void stmtcache_next_name(struct stmtcache *sc, char *buf);

/*
 * Record that sql is prepared as name (sql must not be cached yet).  When
 * the cache was full, the least recently used entry is evicted first and
 * its name copied to evicted (STMT_NAME_MAX bytes); returns 1 then, else 0.
 */
int stmtcache_put(struct stmtcache *sc, const char *sql, const char *name,
		  char *evicted);

/* Forget sql; copies its name to name (may be NULL).  1 if it was cached. */
int stmtcache_drop(struct stmtcache *sc, const char *sql, char *name);

unsigned stmtcache_count(const struct stmtcache *sc);

#endif
