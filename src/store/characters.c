/*
 * store/characters.c -- the characters table.
 *
 * The only dialect difference is the lookup by name: SQLite's column
 * collates NOCASE, so "name = $n" ignores case and uses characters_name_key;
 * on PostgreSQL the same index is on lower(name), so the lookup is
 * "lower(name) = lower($n)".  Linking is one text on both engines: INSERT
 * ... ON CONFLICT DO NOTHING RETURNING (no conflict target, because the
 * unique index differs), then read the row when nothing came back, which
 * tells "already yours" from "someone else's".
 */
#include <string.h>

#include "src/db/db.h"
#include "src/store/store.h"
#include "src/store/characters.h"
#include "src/store/users.h"
#include "src/store/vault_keep.h"

/* The Character row: the same columns in the same order as enum character_col. */
#define CHAR_COLS "id, name, created_at, last_sync_at"
#define BY_NAME_SQLITE "name = $2"
#define BY_NAME_PG "lower(name) = lower($2)"

int
store_characters_valid_name(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == ' ' || c == '-' || c == '_'))
			return 0;
	}
	return n >= 1 && n <= STORE_CHARACTER_NAME_MAX;
}

/* The id and user_id of name, whoever owns it.  1 / 0 / -1. */
static int
by_name(const char *name, struct db_result **row)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_TEXT(name) };

	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT id, user_id FROM characters WHERE name = $1",
		    "SELECT id, user_id FROM characters WHERE lower(name) = lower($1)");
	return db_get(st, p, 1, row);
}

int
store_characters_find(int64_t user_id, const char *name, int64_t *id,
		      char name_out[STORE_CHARACTER_NAME_MAX + 1])
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(user_id), DB_TEXT(name) };
	struct db_result *row = NULL;
	int rc;

	if (!store_characters_valid_name(name))
		return 0;
	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT id, name FROM characters WHERE " BY_NAME_SQLITE " AND user_id = $1",
		    "SELECT id, name FROM characters WHERE " BY_NAME_PG " AND user_id = $1");
	rc = db_get(st, p, 2, &row);
	if (rc != 1)
		return rc;
	*id = db_int(row, 0, 0);
	if (name_out != NULL) {
		strncpy(name_out, db_text(row, 0, 1), STORE_CHARACTER_NAME_MAX);
		name_out[STORE_CHARACTER_NAME_MAX] = '\0';
	}
	db_result_free(row);
	return 1;
}

int
store_characters_owned(int64_t user_id, const char *const *names, int n, int64_t *ids)
{
	int found = 0;

	for (int i = 0; i < n; i++) {
		int64_t id;
		int rc = store_characters_find(user_id, names[i], &id, NULL);

		if (rc < 0)
			return -1;
		if (rc == 1)
			ids[found++] = id;
	}
	return found;
}

struct link_ctx {
	int64_t user_id;
	const char *name;
	int max_characters;
	struct db_result *row;
	int outcome;		/* enum store_link */
};

/* A Character row of the existing name: TAKEN, EXISTS (c->row set), or -1. */
static int
link_existing(struct link_ctx *c, struct db_result *old)
{
	static struct db_stmt *get;
	struct db_value p[] = { DB_INT(db_int(old, 0, 0)) };
	int rc;

	if (get == NULL)
		get = db_prepare("SELECT " CHAR_COLS " FROM characters WHERE id = $1");
	if (db_int(old, 0, 1) != c->user_id) {
		c->outcome = STORE_LINK_TAKEN;
		return 0;
	}
	rc = db_get(get, p, 1, &c->row);
	if (rc == 1)
		c->outcome = STORE_LINK_EXISTS;
	return rc == 1 ? 0 : -1;
}

/*
 * Under the user's lock, so that two links by one user count in turn: an
 * existing name answers at once; a new one needs room under the limit.
 */
static int
link_tx(void *arg)
{
	static struct db_stmt *count, *ins;
	struct link_ctx *c = arg;
	struct db_value pu[] = { DB_INT(c->user_id) };
	struct db_value pi[] = { DB_INT(c->user_id), DB_TEXT(c->name) };
	struct db_result *old = NULL, *n = NULL;
	int rc;

	if (count == NULL) {
		count = db_prepare("SELECT COUNT(*) FROM characters WHERE user_id = $1");
		ins = db_prepare(
		    "INSERT INTO characters (user_id, name) VALUES ($1, $2) "
		    "ON CONFLICT DO NOTHING RETURNING " CHAR_COLS);
	}
	if (store_users_lock(c->user_id) < 0 || (rc = by_name(c->name, &old)) < 0)
		return -1;
	if (rc == 1) {
		rc = link_existing(c, old);
		db_result_free(old);
		return rc;
	}
	if (db_get(count, pu, 1, &n) != 1)
		return -1;
	rc = db_int(n, 0, 0) >= c->max_characters;
	db_result_free(n);
	if (rc) {
		c->outcome = STORE_LINK_LIMIT;
		return 0;
	}
	if (db_run(ins, pi, 2, &c->row) < 0)
		return -1;
	if (db_nrows(c->row) == 1) {
		c->outcome = STORE_LINK_CREATED;
		return 0;
	}
	/* Another user linked the name since by_name: theirs now. */
	db_result_free(c->row);
	c->row = NULL;
	c->outcome = STORE_LINK_TAKEN;
	return 0;
}

int
store_characters_link(int64_t user_id, const char *name, int max_characters,
		      struct db_result **row)
{
	struct link_ctx c = { user_id, name, max_characters, NULL, STORE_LINK_TAKEN };

	if (db_tx(link_tx, &c) < 0) {
		db_result_free(c.row);
		return -1;
	}
	*row = c.row;
	return c.outcome;
}

int
store_characters_list(int64_t user_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(user_id) };

	if (st == NULL)
		st = db_prepare("SELECT " CHAR_COLS " FROM characters WHERE user_id = $1 ORDER BY id");
	return db_all(st, p, 1, rows);
}

struct delete_ctx {
	int64_t user_id;
	const char *name;
	int found;
};

/* Out of the kept vault of every group it is in, then gone. */
static int
delete_tx(void *arg)
{
	static struct db_stmt *st;
	struct delete_ctx *c = arg;
	struct db_value p[] = { DB_INT(0) };
	int64_t id, n;
	int rc;

	if (st == NULL)
		st = db_prepare("DELETE FROM characters WHERE id = $1");
	if ((rc = store_characters_find(c->user_id, c->name, &id, NULL)) <= 0)
		return rc;
	p[0] = DB_INT(id);
	if (store_vault_detach(0, id) < 0 || (n = db_run(st, p, 1, NULL)) < 0)
		return -1;
	c->found = n > 0;
	return 0;
}

int
store_characters_delete(int64_t user_id, const char *name)
{
	struct delete_ctx c = { user_id, name, 0 };

	if (!store_characters_valid_name(name))
		return 0;
	if (db_tx(delete_tx, &c) < 0)
		return -1;
	return c.found;
}

int
store_characters_lock(int64_t id, int64_t *skills_seq)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT skills_seq FROM characters WHERE id = $1",
		    "SELECT skills_seq FROM characters WHERE id = $1 FOR NO KEY UPDATE");
	rc = db_get(st, p, 1, &row);
	if (rc != 1)
		return rc;
	*skills_seq = db_int(row, 0, 0);
	db_result_free(row);
	return 1;
}

int
store_characters_touch(int64_t id, const char *now, int64_t skills_seq)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id), DB_TEXT(now), DB_INT(skills_seq) };

	if (st == NULL)
		st = db_prepare(
		    "UPDATE characters SET last_sync_at = $2, skills_seq = "
		    "CASE WHEN CAST($3 AS bigint) >= 0 THEN CAST($3 AS bigint) ELSE skills_seq END "
		    "WHERE id = $1");
	return db_run(st, p, 3, NULL) < 0 ? -1 : 0;
}

int
store_characters_state(int64_t user_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(user_id) };

	/* The columns of enum character_state_col, in its order. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT c.name, c.skills_seq, ct.container, ct.seq FROM characters c "
		    "LEFT JOIN containers ct ON ct.character_id = c.id "
		    "WHERE c.user_id = $1 ORDER BY c.id, ct.container");
	return db_all(st, p, 1, rows);
}

int
store_characters_presence(int64_t id, int64_t world, const char *activity)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN];
	struct db_value p[] = { DB_INT(id), world < 0 ? DB_NULL() : DB_INT(world),
	    DB_TEXT(activity), DB_TEXT(store_time(now, 0)) };

	if (st == NULL)
		st = db_prepare(
		    "INSERT INTO presence (character_id, world, activity, seen_at) "
		    "VALUES ($1, $2, $3, $4) ON CONFLICT (character_id) DO UPDATE "
		    "SET world = excluded.world, activity = excluded.activity, "
		    "seen_at = excluded.seen_at");
	return db_run(st, p, 4, NULL) < 0 ? -1 : 0;
}

int
store_characters_groups(int64_t id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id) };

	/* Columns in the order of enum character_group_col. */
	if (st == NULL)
		st = db_prepare("SELECT group_id FROM group_characters "
		    "WHERE character_id = $1 ORDER BY group_id");
	return db_all(st, p, 1, rows);
}
