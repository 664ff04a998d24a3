/*
 * store/groups.c -- the groups, group_members and group_characters tables.
 *
 * Every change that touches more than one row runs in one transaction
 * (db_tx), and every decision that depends on other rows is taken inside
 * it: a join counts the members after locking the group row (PostgreSQL:
 * SELECT ... FOR UPDATE, so concurrent joins to one group queue there and
 * each sees the others' committed rows; SQLite: BEGIN IMMEDIATE already
 * serializes every writer), and a transfer demotes the owner with
 * "WHERE role = 'owner'", so of two racing transfers the second finds no
 * owner to demote and changes nothing.  The demotion comes before the
 * promotion because group_members_owner_key allows one owner per group,
 * checked row by row.
 *
 * Outcomes that are not database errors (no such code, already a member,
 * full...) travel in the transaction's context; when one is found after a
 * write, the callback returns non-zero so the transaction rolls back, and
 * the context, not db_last_error(), says why.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/crypto.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/store/characters.h"
#include "src/store/groups.h"
#include "src/store/plans.h"
#include "src/store/users.h"
#include "src/store/vault_keep.h"
#include "src/util.h"

/* 32 symbols: digits and capitals without 0/O and 1/I, so a code read
 * aloud or copied by hand survives; 256 is a multiple of 32, so a random
 * byte masked to 5 bits picks each symbol with equal chance. */
static const char code_alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

#define CODE_TRIES	3	/* fresh codes tried on a (60-bit) collision */

/* The Group row: keep in the order of enum group_col (groups.h). */
#define GROUP_COLS \
	"g.id, g.name, g.owner_id, m.role, " \
	"(SELECT COUNT(*) FROM group_members c WHERE c.group_id = g.id), " \
	"g.created_at, g.join_code"

int
store_groups_new_code(char code[STORE_GROUPS_CODE_LEN + 1])
{
	unsigned char rnd[STORE_GROUPS_CODE_LEN];

	if (crypto_random(rnd, sizeof(rnd)) < 0)
		return -1;
	for (int i = 0; i < STORE_GROUPS_CODE_LEN; i++)
		code[i] = code_alphabet[rnd[i] & 31];
	code[STORE_GROUPS_CODE_LEN] = '\0';
	return 0;
}

int
store_groups_code_normalize(const char *in, char out[STORE_GROUPS_CODE_LEN + 1])
{
	if (strlen(in) != STORE_GROUPS_CODE_LEN)
		return -1;
	for (int i = 0; i < STORE_GROUPS_CODE_LEN; i++) {
		char c = (char)toupper((unsigned char)in[i]);

		if (c == '\0' || strchr(code_alphabet, c) == NULL)
			return -1;
		out[i] = c;
	}
	out[STORE_GROUPS_CODE_LEN] = '\0';
	return 0;
}

int
store_groups_role(int64_t group_id, int64_t user_id, char role[8])
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_INT(user_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare("SELECT role FROM group_members "
		    "WHERE group_id = $1 AND user_id = $2");
	rc = db_get(st, p, 2, &row);
	if (rc == 1) {
		snprintf(role, 8, "%s", db_text(row, 0, 0));
		db_result_free(row);
	}
	return rc;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Lock the rows of characters ids[0..n), by id: sharing one adds what it
 * holds to the group's kept vault, which must not race a sync of it
 * (store/vault_keep.h).  Before the group's lock.  0 or -1.
 */
static int
lock_characters(const int64_t *ids, int n)
{
	int64_t *v = xcalloc((size_t)n + 1, sizeof(*v)), seq;
	int rc = 0;

	memcpy(v, ids, (size_t)n * sizeof(*v));
	qsort(v, (size_t)n, sizeof(*v), cmp_id);
	for (int i = 0; i < n && rc == 0; i++)
		if (i == 0 || v[i] != v[i - 1])
			rc = store_characters_lock(v[i], &seq) < 0 ? -1 : 0;
	free(v);
	return rc;
}

/*
 * Share ids[0..n) of user_id's characters in group_id, adding each newly
 * shared one to the kept vault (inside a tx; the caller locked the
 * characters, then the group).
 */
static int
share_ids(int64_t group_id, int64_t user_id, const int64_t *ids, int n)
{
	static struct db_stmt *st;

	if (st == NULL)
		st = db_prepare("INSERT INTO group_characters (group_id, user_id, character_id) "
		    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
	for (int i = 0; i < n; i++) {
		struct db_value p[] = { DB_INT(group_id), DB_INT(user_id), DB_INT(ids[i]) };
		int64_t added = db_run(st, p, 3, NULL);

		if (added < 0 || (added > 0 && store_vault_share(group_id, ids[i]) < 0))
			return -1;
	}
	return 0;
}

/* ---- create ---- */

struct create_ctx {
	int64_t user_id;
	const char *name;
	const int64_t *ids;
	int n;
	int max_groups;
	char code[STORE_GROUPS_CODE_LEN + 1];
	int64_t group_id;
	int outcome;
};

/* See groups.h.  The lock makes two concurrent creates, joins or claims
 * by one user count in turn. */
int
store_groups_room(int64_t user_id, int max_groups)
{
	static struct db_stmt *count;
	struct db_value p[] = { DB_INT(user_id) };
	struct db_result *row = NULL;
	int rc;

	if (count == NULL)
		count = db_prepare("SELECT COUNT(*) FROM group_members WHERE user_id = $1");
	if (store_users_lock(user_id) < 0 || db_get(count, p, 1, &row) != 1) {
		db_result_free(row);
		return -1;
	}
	rc = db_int(row, 0, 0) < max_groups;
	db_result_free(row);
	return rc;
}

static int
create_tx(void *arg)
{
	static struct db_stmt *ins_group, *ins_owner;
	struct create_ctx *c = arg;
	struct db_value pg[] = { DB_TEXT(c->name), DB_INT(c->user_id), DB_TEXT(c->code) };
	struct db_result *rows = NULL;

	if (ins_group == NULL) {
		ins_group = db_prepare("INSERT INTO groups (name, owner_id, join_code) "
		    "VALUES ($1, $2, $3) RETURNING id");
		ins_owner = db_prepare("INSERT INTO group_members (group_id, user_id, role) "
		    "VALUES ($1, $2, 'owner')");
	}
	switch (store_groups_room(c->user_id, c->max_groups)) {
	case 0:
		c->outcome = STORE_CREATE_LIMIT;
		return 0;
	case -1:
		return -1;
	}
	if (db_run(ins_group, pg, 3, &rows) < 0)
		return -1;
	if (db_nrows(rows) != 1) {
		db_result_free(rows);
		db_set_error(DBE_SQL, "", "group insert returned no row");
		return -1;
	}
	c->group_id = db_int(rows, 0, 0);
	db_result_free(rows);

	struct db_value pm[] = { DB_INT(c->group_id), DB_INT(c->user_id) };

	/* The new group is nobody else's to lock yet, so its characters
	 * may be locked after it. */
	if (db_run(ins_owner, pm, 2, NULL) < 0 || lock_characters(c->ids, c->n) < 0)
		return -1;
	return share_ids(c->group_id, c->user_id, c->ids, c->n);
}

int
store_groups_create(int64_t user_id, const char *name, const int64_t *ids, int n,
		    int max_groups, int64_t *group_id)
{
	struct create_ctx c = { user_id, name, ids, n, max_groups, "", 0, STORE_CREATE_OK };

	for (int try = 0; try < CODE_TRIES; try++) {
		if (store_groups_new_code(c.code) < 0) {
			db_set_error(DBE_MISUSE, "", "no randomness for a join code");
			return -1;
		}
		if (db_tx(create_tx, &c) == 0) {
			*group_id = c.group_id;
			return c.outcome;
		}
		/* A unique violation can only be the join code (or a
		 * character unlinked meanwhile, which fails again). */
		if (db_last_error()->kind != DBE_CONSTRAINT)
			break;
	}
	return -1;
}

/* ---- read ---- */

int
store_groups_get(int64_t group_id, int64_t user_id, struct db_result **row)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_INT(user_id) };

	if (st == NULL)
		st = db_prepare("SELECT " GROUP_COLS " FROM group_members m "
		    "JOIN groups g ON g.id = m.group_id "
		    "WHERE m.group_id = $1 AND m.user_id = $2");
	return db_get(st, p, 2, row);
}

int
store_groups_list(int64_t user_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(user_id) };

	if (st == NULL)
		st = db_prepare("SELECT " GROUP_COLS " FROM group_members m "
		    "JOIN groups g ON g.id = m.group_id "
		    "WHERE m.user_id = $1 ORDER BY m.joined_at, g.id");
	return db_all(st, p, 1, rows);
}

int
store_groups_roster(int64_t group_id, int64_t user_id, struct db_result **members,
		    struct db_result **chars)
{
	static struct db_stmt *st_members, *st_chars;
	struct db_value p[] = { DB_INT(group_id), DB_INT(user_id) };

	/* Columns in the order of enum member_col and enum shared_col. */
	if (st_members == NULL) {
		st_members = db_prepare(
		    "SELECT m.user_id, u.display_name, m.role, m.joined_at "
		    "FROM group_members m JOIN users u ON u.id = m.user_id "
		    "WHERE m.group_id = $1 AND (CAST($2 AS BIGINT) = 0 OR m.user_id = $2) "
		    "ORDER BY m.joined_at, m.user_id");
		st_chars = db_prepare(
		    "SELECT gc.user_id, c.name, c.last_sync_at, "
		    "p.seen_at, p.world, p.activity "
		    "FROM group_characters gc JOIN characters c ON c.id = gc.character_id "
		    "LEFT JOIN presence p ON p.character_id = c.id "
		    "WHERE gc.group_id = $1 AND (CAST($2 AS BIGINT) = 0 OR gc.user_id = $2) "
		    "ORDER BY gc.user_id, lower(c.name), c.id");
	}
	*members = *chars = NULL;
	if (db_all(st_members, p, 2, members) < 0)
		return -1;
	if (db_all(st_chars, p, 2, chars) < 0) {
		db_result_free(*members);
		*members = NULL;
		return -1;
	}
	return 0;
}

int
store_groups_code(int64_t group_id, char code[STORE_GROUPS_CODE_LEN + 1])
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare("SELECT join_code FROM groups WHERE id = $1");
	rc = db_get(st, p, 1, &row);
	if (rc == 1) {
		snprintf(code, STORE_GROUPS_CODE_LEN + 1, "%s", db_text(row, 0, 0));
		db_result_free(row);
	}
	return rc;
}

/* ---- single-statement changes ---- */

int
store_groups_rename(int64_t group_id, const char *name)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_TEXT(name) };
	int64_t n;

	if (st == NULL)
		st = db_prepare("UPDATE groups SET name = $2 WHERE id = $1");
	n = db_run(st, p, 2, NULL);
	return n < 0 ? -1 : n > 0;
}

int
store_groups_delete(int64_t group_id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id) };
	int64_t n;

	/* Cascades: group_members, then group_characters through their
	 * (group_id, user_id) key; activity, webhooks, vault_daily. */
	if (st == NULL)
		st = db_prepare("DELETE FROM groups WHERE id = $1");
	n = db_run(st, p, 1, NULL);
	return n < 0 ? -1 : n > 0;
}

/* ---- remove ---- */

struct remove_ctx {
	int64_t group_id, user_id;
	int members_only;
	int removed;
	int refused;		/* the DELETE found nobody: rolled back */
};

/*
 * Take the member's characters out of the kept vault, then the member
 * (the cascade unshares them).  The role test is in the DELETE, so a
 * member promoted or made owner since the caller looked is not removed by
 * mistake; the vault's change then rolls back with it.
 */
static int
remove_tx(void *arg)
{
	static struct db_stmt *chars, *del;
	struct remove_ctx *c = arg;
	struct db_value p[] = { DB_INT(c->group_id), DB_INT(c->user_id),
	    DB_BOOL(c->members_only) };
	struct db_result *rows = NULL;
	int64_t n;
	int rc = 0;

	if (chars == NULL) {
		chars = db_prepare("SELECT character_id FROM group_characters "
		    "WHERE group_id = $1 AND user_id = $2 ORDER BY character_id");
		del = db_prepare("DELETE FROM group_members "
		    "WHERE group_id = $1 AND user_id = $2 AND role <> 'owner' "
		    "AND (NOT CAST($3 AS BOOLEAN) OR role = 'member')");
	}
	if ((rc = store_vault_lock(c->group_id)) <= 0)
		return rc;	/* 0: no such group, nothing written */
	if (db_all(chars, p, 2, &rows) < 0)
		return -1;
	rc = 0;
	for (int i = 0; i < db_nrows(rows) && rc == 0; i++)
		rc = store_vault_unshare(c->group_id, db_int(rows, i, 0));
	db_result_free(rows);
	if (rc < 0 || (n = db_run(del, p, 3, NULL)) < 0)
		return -1;
	c->removed = n > 0;
	c->refused = n == 0;
	/* Nobody removed: undo the vault's change. */
	return c->refused ? -1 : 0;
}

int
store_groups_remove(int64_t group_id, int64_t user_id, int members_only)
{
	struct remove_ctx c = { group_id, user_id, members_only, 0, 0 };

	if (db_tx(remove_tx, &c) < 0)
		return c.refused ? 0 : -1;
	return c.removed;
}

int
store_groups_set_role(int64_t group_id, int64_t user_id, const char *role)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_INT(user_id), DB_TEXT(role) };
	int64_t n;

	if (st == NULL)
		st = db_prepare("UPDATE group_members SET role = $3 "
		    "WHERE group_id = $1 AND user_id = $2 AND role <> 'owner'");
	n = db_run(st, p, 3, NULL);
	return n < 0 ? -1 : n > 0;
}

int
store_groups_rotate_code(int64_t group_id, char code[STORE_GROUPS_CODE_LEN + 1])
{
	static struct db_stmt *st;
	int64_t n = -1;

	if (st == NULL)
		st = db_prepare("UPDATE groups SET join_code = $2 WHERE id = $1");
	for (int try = 0; try < CODE_TRIES; try++) {
		if (store_groups_new_code(code) < 0) {
			db_set_error(DBE_MISUSE, "", "no randomness for a join code");
			return -1;
		}

		struct db_value p[] = { DB_INT(group_id), DB_TEXT(code) };

		n = db_run(st, p, 2, NULL);
		if (n >= 0 || db_last_error()->kind != DBE_CONSTRAINT)
			break;
	}
	return n < 0 ? -1 : n > 0;
}

/* ---- join ---- */

struct join_ctx {
	const char *code;
	int64_t user_id;
	const int64_t *ids;
	int n;
	int max_groups;
	int64_t group_id;
	const struct store_plan *plan;
	int outcome;		/* enum store_join */
};

static int
join_tx(void *arg)
{
	static struct db_stmt *lock, *member, *count, *ins;
	struct join_ctx *c = arg;
	struct db_value pc[] = { DB_TEXT(c->code) };
	struct db_result *row = NULL;
	int rc;

	if (lock == NULL) {
		/* The lock serializes joins to one group on PostgreSQL (and
		 * is the group's vault lock too: store_vault_lock); on SQLite
		 * the transaction already holds the write lock. */
		lock = db_prepare_dual(
		    "SELECT g.id, u.plan FROM groups g JOIN users u ON u.id = g.owner_id "
		    "WHERE g.join_code = $1",
		    "SELECT g.id, u.plan FROM groups g JOIN users u ON u.id = g.owner_id "
		    "WHERE g.join_code = $1 FOR UPDATE OF g");
		member = db_prepare("SELECT 1 FROM group_members "
		    "WHERE group_id = $1 AND user_id = $2");
		count = db_prepare("SELECT COUNT(*) FROM group_members WHERE group_id = $1");
		ins = db_prepare("INSERT INTO group_members (group_id, user_id, role) "
		    "VALUES ($1, $2, 'member')");
	}
	/* The user's row first, then the characters it shares, then the
	 * group: the lock order of every writer (store/vault_keep.h). */
	if (store_users_lock(c->user_id) < 0 || lock_characters(c->ids, c->n) < 0)
		return -1;
	rc = db_get(lock, pc, 1, &row);
	if (rc <= 0) {
		c->outcome = STORE_JOIN_NO_CODE;
		return rc;
	}
	c->group_id = db_int(row, 0, 0);
	c->plan = store_plans_get(db_text(row, 0, 1));
	db_result_free(row);

	struct db_value pm[] = { DB_INT(c->group_id), DB_INT(c->user_id) };

	rc = db_get(member, pm, 2, &row);
	if (rc != 0) {
		db_result_free(row);
		c->outcome = STORE_JOIN_MEMBER;
		return rc < 0 ? -1 : 0;
	}
	if (db_get(count, pm, 1, &row) != 1)
		return -1;
	rc = db_int(row, 0, 0) >= c->plan->members_per_group;
	db_result_free(row);
	if (rc) {
		c->outcome = STORE_JOIN_FULL;
		return 0;
	}
	switch (store_groups_room(c->user_id, c->max_groups)) {
	case 0:
		c->outcome = STORE_JOIN_LIMIT;
		return 0;
	case -1:
		return -1;
	}
	if (db_run(ins, pm, 2, NULL) < 0)
		return -1;
	c->outcome = STORE_JOIN_OK;
	return share_ids(c->group_id, c->user_id, c->ids, c->n);
}

int
store_groups_join(const char *code, int64_t user_id, const int64_t *ids, int n,
		  int max_groups, int64_t *group_id, const struct store_plan **plan)
{
	struct join_ctx c = { code, user_id, ids, n, max_groups, 0, NULL, STORE_JOIN_NO_CODE };

	if (db_tx(join_tx, &c) < 0)
		return -1;
	*group_id = c.group_id;
	*plan = c.plan;
	return c.outcome;
}

/* ---- share ---- */

struct share_ctx {
	int64_t group_id, user_id;
	const int64_t *ids;
	int n;
	int found;
};

static int
wanted(const struct share_ctx *c, int64_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->ids[i] == id)
			return 1;
	return 0;
}

static int
share_tx(void *arg)
{
	static struct db_stmt *member, *current, *unshare;
	struct share_ctx *c = arg;
	struct db_value p[] = { DB_INT(c->group_id), DB_INT(c->user_id) };
	struct db_result *rows = NULL;
	int rc;

	if (member == NULL) {
		member = db_prepare("SELECT 1 FROM group_members "
		    "WHERE group_id = $1 AND user_id = $2");
		current = db_prepare("SELECT character_id FROM group_characters "
		    "WHERE group_id = $1 AND user_id = $2");
		unshare = db_prepare("DELETE FROM group_characters "
		    "WHERE group_id = $1 AND character_id = $2");
	}
	/* The characters to share, then the group (store/vault_keep.h);
	 * those to unshare need only the group. */
	if (lock_characters(c->ids, c->n) < 0 || (rc = store_vault_lock(c->group_id)) < 0)
		return -1;
	if (rc == 0)
		return 0;
	rc = db_get(member, p, 2, &rows);
	db_result_free(rows);
	rows = NULL;
	if (rc <= 0)
		return rc;
	c->found = 1;
	if (db_all(current, p, 2, &rows) < 0)
		return -1;
	for (int i = 0; i < db_nrows(rows); i++) {
		int64_t id = db_int(rows, i, 0);
		struct db_value pd[] = { DB_INT(c->group_id), DB_INT(id) };

		if (!wanted(c, id) && (store_vault_unshare(c->group_id, id) < 0 ||
		    db_run(unshare, pd, 2, NULL) < 0)) {
			db_result_free(rows);
			return -1;
		}
	}
	db_result_free(rows);
	return share_ids(c->group_id, c->user_id, c->ids, c->n);
}

int
store_groups_share(int64_t group_id, int64_t user_id, const int64_t *ids, int n)
{
	struct share_ctx c = { group_id, user_id, ids, n, 0 };

	if (db_tx(share_tx, &c) < 0)
		return -1;
	return c.found;
}

/* ---- transfer ---- */

struct transfer_ctx {
	int64_t group_id, from, to;
	int outcome;		/* enum store_transfer; -1 while unknown */
};

static int
transfer_tx(void *arg)
{
	static struct db_stmt *target, *demote, *promote, *owner;
	struct transfer_ctx *c = arg;
	struct db_value pf[] = { DB_INT(c->group_id), DB_INT(c->from) };
	struct db_value pt[] = { DB_INT(c->group_id), DB_INT(c->to) };
	struct db_result *row = NULL;
	int64_t n;
	int rc;

	if (target == NULL) {
		target = db_prepare("SELECT role FROM group_members "
		    "WHERE group_id = $1 AND user_id = $2");
		demote = db_prepare("UPDATE group_members SET role = 'admin' "
		    "WHERE group_id = $1 AND user_id = $2 AND role = 'owner'");
		promote = db_prepare("UPDATE group_members SET role = 'owner' "
		    "WHERE group_id = $1 AND user_id = $2");
		owner = db_prepare("UPDATE groups SET owner_id = $2 WHERE id = $1");
	}
	rc = db_get(target, pt, 2, &row);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		c->outcome = STORE_TRANSFER_NOT_MEMBER;
		return 0;
	}
	rc = strcmp(db_text(row, 0, 0), "owner") == 0;
	db_result_free(row);
	if (rc) {
		c->outcome = STORE_TRANSFER_SELF;
		return 0;
	}
	n = db_run(demote, pf, 2, NULL);
	if (n <= 0) {
		if (n == 0)
			c->outcome = STORE_TRANSFER_NOT_OWNER;
		return n < 0 ? -1 : 0;
	}
	n = db_run(promote, pt, 2, NULL);
	if (n <= 0) {
		/* The target left meanwhile: undo the demotion. */
		if (n == 0)
			c->outcome = STORE_TRANSFER_NOT_MEMBER;
		return -1;
	}
	if (db_run(owner, pt, 2, NULL) < 0)
		return -1;
	c->outcome = STORE_TRANSFER_OK;
	return 0;
}

int
store_groups_transfer(int64_t group_id, int64_t from_user, int64_t to_user)
{
	struct transfer_ctx c = { group_id, from_user, to_user, -1 };

	if (db_tx(transfer_tx, &c) < 0)
		return c.outcome == STORE_TRANSFER_NOT_MEMBER ? c.outcome : -1;
	return c.outcome;
}
