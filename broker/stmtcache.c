/*
 * stmtcache.c -- SQL text -> prepared statement name, bounded, LRU.
 *
 * A chained hash table (FNV-1a over the SQL text) finds entries; a
 * doubly-linked list keeps them in recency order, most recent first, so
 * both a hit and an eviction are O(1).  The bucket array is sized once
 * for twice the capacity and never rehashed: the cache never holds more
 * than cap entries.
 *
 * Invariant: every entry is both in exactly one bucket chain and in the
 * LRU list; count == length of the LRU list <= cap.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "broker/stmtcache.h"
#include "src/util.h"

struct entry {
	char *sql;
	uint64_t hash;
	char name[STMT_NAME_MAX];
	struct entry *next;		/* bucket chain */
	TAILQ_ENTRY(entry) lru;
};

struct stmtcache {
	unsigned cap;
	unsigned count;
	uint64_t serial;		/* last name number handed out */
	size_t nbuckets;		/* power of two */
	struct entry **buckets;
	TAILQ_HEAD(entry_lru_head, entry) lru; /* most recent first */
};

static uint64_t
hash_sql(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct stmtcache *
stmtcache_new(unsigned cap)
{
	struct stmtcache *sc = xcalloc(1, sizeof(*sc));

	sc->cap = cap ? cap : 1;
	sc->nbuckets = 16;
	while (sc->nbuckets < (size_t)sc->cap * 2)
		sc->nbuckets *= 2;
	sc->buckets = xcalloc(sc->nbuckets, sizeof(*sc->buckets));
	TAILQ_INIT(&sc->lru);
	return sc;
}

void
stmtcache_free(struct stmtcache *sc)
{
	struct entry *e;

	if (sc == NULL)
		return;
	while ((e = TAILQ_FIRST(&sc->lru)) != NULL) {
		TAILQ_REMOVE(&sc->lru, e, lru);
		free(e->sql);
		free(e);
	}
	free(sc->buckets);
	free(sc);
}

/* The link that points at sql's entry (or at the NULL ending its chain). */
static struct entry **
find(struct stmtcache *sc, const char *sql, uint64_t h)
{
	struct entry **pp = &sc->buckets[h & (sc->nbuckets - 1)];

	while (*pp && ((*pp)->hash != h || strcmp((*pp)->sql, sql) != 0))
		pp = &(*pp)->next;
	return pp;
}

static void
unlink_entry(struct stmtcache *sc, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	TAILQ_REMOVE(&sc->lru, e, lru);
	sc->count--;
	free(e->sql);
	free(e);
}

const char *
stmtcache_get(struct stmtcache *sc, const char *sql)
{
	struct entry *e = *find(sc, sql, hash_sql(sql));

	if (e == NULL)
		return NULL;
	if (e != TAILQ_FIRST(&sc->lru)) {
		TAILQ_REMOVE(&sc->lru, e, lru);
		TAILQ_INSERT_HEAD(&sc->lru, e, lru);
	}
	return e->name;
}

void
stmtcache_next_name(struct stmtcache *sc, char *buf)
{
	snprintf(buf, STMT_NAME_MAX, "s%" PRIu64, ++sc->serial);
}

int
stmtcache_put(struct stmtcache *sc, const char *sql, const char *name,
	      char *evicted)
{
	uint64_t h = hash_sql(sql);
	struct entry *e;
	int out = 0;

	if (sc->count >= sc->cap) {
		struct entry *old = TAILQ_LAST(&sc->lru, entry_lru_head);

		snprintf(evicted, STMT_NAME_MAX, "%s", old->name);
		unlink_entry(sc, find(sc, old->sql, old->hash));
		out = 1;
	}
	e = xcalloc(1, sizeof(*e));
	e->sql = xstrdup(sql);
	e->hash = h;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->next = sc->buckets[h & (sc->nbuckets - 1)];
	sc->buckets[h & (sc->nbuckets - 1)] = e;
	TAILQ_INSERT_HEAD(&sc->lru, e, lru);
	sc->count++;
	return out;
}

int
stmtcache_drop(struct stmtcache *sc, const char *sql, char *name)
{
	struct entry **pp = find(sc, sql, hash_sql(sql));

	if (*pp == NULL)
		return 0;
	if (name)
		snprintf(name, STMT_NAME_MAX, "%s", (*pp)->name);
	unlink_entry(sc, pp);
	return 1;
}

unsigned
stmtcache_count(const struct stmtcache *sc)
{
	return sc->count;
}
