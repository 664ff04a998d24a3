/*
 * store/compat.c -- the compat_groups and compat_members tables.
 *
 * See compat.h for the model and the lock order.  Field values are
 * JSON text, written compact by jansson and compared as text (the same
 * value always dumps to the same text); the merges (collection log,
 * deposited items) happen here, in C, so there is no JSON dialect to tell
 * apart between the engines.  Containers and skills go through
 * store_sync_batch_in_tx (sync.h) inside this file's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "src/crypto.h"
#include "src/db/db.h"
#include "src/store/compat.h"
#include "src/store/groups.h"
#include "src/store/store.h"
#include "src/store/sync.h"
#include "src/store/vault_keep.h"
#include "src/util.h"

/* The plugin's skills array, in its (alphabetical) order, as coffer names. */
static const char *const skill_names[] = {
	"agility", "attack", "construction", "cooking", "crafting", "defence",
	"farming", "firemaking", "fishing", "fletching", "herblore", "hitpoints",
	"hunter", "magic", "mining", "prayer", "ranged", "runecraft", "slayer",
	"smithing", "strength", "thieving", "woodcutting", "sailing",
};
#define NSKILLS ((int)(sizeof(skill_names) / sizeof(skill_names[0])))

/* The plugin fields kept as coffer containers. */
static const struct {
	const char *field, *container;
} container_fields[] = {
	{ "inventory", "inventory" }, { "equipment", "equipment" }, { "bank", "bank" },
	{ "seed_vault", "seed_vault" }, { "rune_pouch", "rune_pouch" },
	{ "quiver", "quiver" }, { "potion_storage", "potion_storage" },
};
#define NCONTAINER_FIELDS ((int)(sizeof(container_fields) / sizeof(container_fields[0])))

/*
 * What merging may grow to, so stored documents stay bounded: a
 * collection log of COMPAT_LOG_MAX entries (the game has about 1,600), a
 * bank of COMPAT_BANK_MAX items after deposits (the game's holds 1,410).
 */
#define COMPAT_LOG_MAX	10000
#define COMPAT_BANK_MAX	2000

int
store_compat_valid_name(const char *name)
{
	size_t n = strlen(name);
	int blank = 1;

	if (n < 1 || n > STORE_COMPAT_NAME_MAX)
		return 0;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == ' ' || *p == '_' || *p == '-'))
			return 0;
		if (*p != ' ')
			blank = 0;
	}
	return !blank;
}

const char *
store_compat_time(char buf[STORE_COMPAT_TIME_LEN], int64_t t)
{
	time_t s = (time_t)(t / 1000000);
	struct tm tm;

	char tmp[96];

	gmtime_r(&s, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(t % 1000000));
	/* Years 0-9999: exactly STORE_COMPAT_TIME_LEN - 1 characters. */
	snprintf(buf, STORE_COMPAT_TIME_LEN, "%.27s", tmp);
	return buf;
}

/* ---- finding a group ---- */

int
store_compat_find(const char *name, const char *token_hash, struct compat_group *g)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_TEXT(name) };
	struct db_result *rows = NULL;
	int found = 0;

	if (st == NULL)
		st = db_prepare("SELECT id, group_id, token_hash FROM compat_groups "
		    "WHERE name = $1 ORDER BY id");
	if (db_all(st, p, 1, &rows) < 0)
		return -1;
	/* Names are not unique: every candidate's hash is compared, in
	 * constant time, so the answer's timing says nothing about the hash. */
	for (int i = 0; i < db_nrows(rows); i++)
		if (crypto_streq(db_text(rows, i, 2), token_hash) && !found) {
			g->id = db_int(rows, i, 0);
			g->group_id = db_int(rows, i, 1);
			found = 1;
		}
	db_result_free(rows);
	return found;
}

/* ---- creating ---- */

/* One id from an INSERT ... RETURNING id.  0 or -1. */
static int
insert_id(struct db_stmt *st, const struct db_value *p, int n, int64_t *id)
{
	struct db_result *rows = NULL;

	if (db_run(st, p, n, &rows) < 0)
		return -1;
	if (db_nrows(rows) != 1) {
		db_result_free(rows);
		db_set_error(DBE_SQL, "", "insert returned no row");
		return -1;
	}
	*id = db_int(rows, 0, 0);
	db_result_free(rows);
	return 0;
}

/* The compat owner of group_id (its characters' user). */
static int
owner_of(int64_t compat_id, int64_t *user_id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(compat_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare("SELECT owner_user_id FROM compat_groups WHERE id = $1");
	rc = db_get(st, p, 1, &row);
	if (rc == 1)
		*user_id = db_int(row, 0, 0);
	db_result_free(row);
	if (rc == 0)
		db_set_error(DBE_SQL, "", "compat group %lld vanished", (long long)compat_id);
	return rc == 1 ? 0 : -1;
}

/*
 * A new member: a character of the compat owner named '#' and its id,
 * shared in the group, and its compat_members row.  Inside a tx.
 */
static int
new_member(const struct compat_group *g, int64_t owner, const char *name)
{
	static struct db_stmt *ins_char, *rename, *share, *ins_member;
	unsigned char rnd[5];
	char tmp[STORE_CHARACTER_NAME_MAX + 1];
	int64_t character_id;

	if (ins_char == NULL) {
		ins_char = db_prepare("INSERT INTO characters (user_id, name) VALUES ($1, $2) "
		    "RETURNING id");
		rename = db_prepare("UPDATE characters SET name = '#' || CAST(id AS text) "
		    "WHERE id = $1");
		share = db_prepare("INSERT INTO group_characters (group_id, user_id, character_id) "
		    "VALUES ($1, $2, $3)");
		ins_member = db_prepare("INSERT INTO compat_members "
		    "(compat_group_id, character_id, name) VALUES ($1, $2, $3)");
	}
	/* A placeholder no plugin name can be ('~' is not allowed in one),
	 * unique until the id is known. */
	if (crypto_random(rnd, sizeof(rnd)) < 0) {
		db_set_error(DBE_MISUSE, "", "no randomness");
		return -1;
	}
	tmp[0] = '~';
	crypto_hex(rnd, sizeof(rnd), tmp + 1);

	struct db_value pc[] = { DB_INT(owner), DB_TEXT(tmp) };
	if (insert_id(ins_char, pc, 2, &character_id) < 0)
		return -1;

	struct db_value pr[] = { DB_INT(character_id) };
	struct db_value ps[] = { DB_INT(g->group_id), DB_INT(owner), DB_INT(character_id) };
	struct db_value pm[] = { DB_INT(g->id), DB_INT(character_id), DB_TEXT(name) };

	if (db_run(rename, pr, 1, NULL) < 0 || db_run(share, ps, 3, NULL) < 0 ||
	    store_vault_share(g->group_id, character_id) < 0 ||
	    db_run(ins_member, pm, 3, NULL) < 0)
		return -1;
	return 0;
}

struct create_ctx {
	const char *name, *token_hash;
	const char *const *names;
	int n;
	char code[STORE_GROUPS_CODE_LEN + 1];
	struct compat_group *g;
};

static int
create_tx(void *arg)
{
	static struct db_stmt *ins_user, *ins_group, *ins_owner, *ins_compat;
	struct create_ctx *c = arg;
	char login[STORE_GROUPS_CODE_LEN + 8];
	int64_t owner;

	if (ins_user == NULL) {
		ins_user = db_prepare("INSERT INTO users (provider, login, display_name) "
		    "VALUES ('compat', $1, $2) RETURNING id");
		ins_group = db_prepare("INSERT INTO groups (name, owner_id, join_code) "
		    "VALUES ($1, $2, $3) RETURNING id");
		ins_owner = db_prepare("INSERT INTO group_members (group_id, user_id, role) "
		    "VALUES ($1, $2, 'owner')");
		ins_compat = db_prepare("INSERT INTO compat_groups "
		    "(group_id, owner_user_id, name, token_hash) VALUES ($1, $2, $3, $4) "
		    "RETURNING id");
	}
	snprintf(login, sizeof(login), "group-%s", c->code);

	struct db_value pu[] = { DB_TEXT(login), DB_TEXT(c->name) };
	if (insert_id(ins_user, pu, 2, &owner) < 0)
		return -1;

	struct db_value pg[] = { DB_TEXT(c->name), DB_INT(owner), DB_TEXT(c->code) };
	if (insert_id(ins_group, pg, 3, &c->g->group_id) < 0)
		return -1;

	struct db_value po[] = { DB_INT(c->g->group_id), DB_INT(owner) };
	struct db_value pc[] = { DB_INT(c->g->group_id), DB_INT(owner), DB_TEXT(c->name),
	    DB_TEXT(c->token_hash) };
	if (db_run(ins_owner, po, 2, NULL) < 0 || insert_id(ins_compat, pc, 4, &c->g->id) < 0)
		return -1;
	for (int i = 0; i < c->n; i++)
		if (new_member(c->g, owner, c->names[i]) < 0)
			return -1;
	return new_member(c->g, owner, STORE_COMPAT_SHARED);
}

int
store_compat_create(const char *name, const char *token_hash, const char *const *names,
		    int n, struct compat_group *g)
{
	struct create_ctx c = { name, token_hash, names, n, "", g };

	/* The join code (unique) also names the compat owner's login. */
	for (int try = 0; try < 3; try++) {
		if (store_groups_new_code(c.code) < 0) {
			db_set_error(DBE_MISUSE, "", "no randomness for a join code");
			return -1;
		}
		if (db_tx(create_tx, &c) == 0)
			return 0;
	}
	return -1;
}

/* ---- members ---- */

/*
 * Lock the member name of g (ignoring case): *id and *character_id.  1, 0
 * (no such member), -1.
 */
static int
lock_member(int64_t compat_id, const char *name, int64_t *id, int64_t *character_id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(compat_id), DB_TEXT(name) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT id, character_id FROM compat_members "
		    "WHERE compat_group_id = $1 AND name = $2",
		    "SELECT id, character_id FROM compat_members "
		    "WHERE compat_group_id = $1 AND lower(name) = lower($2) FOR UPDATE");
	rc = db_get(st, p, 2, &row);
	if (rc != 1)
		return rc;
	*id = db_int(row, 0, 0);
	*character_id = db_int(row, 0, 1);
	db_result_free(row);
	return 1;
}

static int
count_members(int64_t compat_id, int64_t *n)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(compat_id), DB_TEXT(STORE_COMPAT_SHARED) };
	struct db_result *row = NULL;

	if (st == NULL)
		st = db_prepare("SELECT COUNT(*) FROM compat_members "
		    "WHERE compat_group_id = $1 AND name <> $2");
	if (db_get(st, p, 2, &row) != 1) {
		db_result_free(row);
		return -1;
	}
	*n = db_int(row, 0, 0);
	db_result_free(row);
	return 0;
}

/* Lock the group's row: member changes of one group run in turn. */
static int
lock_group(int64_t compat_id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(compat_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare_dual("SELECT id FROM compat_groups WHERE id = $1",
		    "SELECT id FROM compat_groups WHERE id = $1 FOR UPDATE");
	rc = db_get(st, p, 1, &row);
	db_result_free(row);
	return rc == 1 ? 0 : -1;
}

struct member_ctx {
	const struct compat_group *g;
	const char *name, *to;
	int outcome;
};

static int
add_tx(void *arg)
{
	struct member_ctx *c = arg;
	int64_t id, cid, n, owner;
	int rc;

	if (lock_group(c->g->id) < 0 || count_members(c->g->id, &n) < 0)
		return -1;
	if (n >= STORE_COMPAT_MEMBERS_MAX) {
		c->outcome = STORE_COMPAT_FULL;
		return 0;
	}
	rc = lock_member(c->g->id, c->name, &id, &cid);
	if (rc != 0) {
		c->outcome = STORE_COMPAT_TAKEN;
		return rc < 0 ? -1 : 0;
	}
	if (owner_of(c->g->id, &owner) < 0)
		return -1;
	return new_member(c->g, owner, c->name);
}

static int
delete_tx(void *arg)
{
	static struct db_stmt *del;
	struct member_ctx *c = arg;
	struct db_value p[1];
	int64_t id, cid;
	int rc;

	if (del == NULL)
		del = db_prepare("DELETE FROM characters WHERE id = $1");
	if (lock_group(c->g->id) < 0)
		return -1;
	rc = lock_member(c->g->id, c->name, &id, &cid);
	if (rc <= 0) {
		c->outcome = STORE_COMPAT_NO_MEMBER;
		return rc;
	}
	p[0] = DB_INT(cid);
	/* The vault gives its holdings back before the character goes; the
	 * member's row goes with the character. */
	if (store_vault_detach(0, cid) < 0 || db_run(del, p, 1, NULL) < 0)
		return -1;
	return 0;
}

static int
rename_tx(void *arg)
{
	static struct db_stmt *upd;
	struct member_ctx *c = arg;
	int64_t id, cid, id2, cid2;
	int rc;

	if (upd == NULL)
		upd = db_prepare("UPDATE compat_members SET name = $2 WHERE id = $1");
	if (lock_group(c->g->id) < 0)
		return -1;
	rc = lock_member(c->g->id, c->name, &id, &cid);
	if (rc <= 0) {
		c->outcome = STORE_COMPAT_NO_MEMBER;
		return rc;
	}
	rc = lock_member(c->g->id, c->to, &id2, &cid2);
	if (rc < 0)
		return -1;
	if (rc == 1 && id2 != id) {
		c->outcome = STORE_COMPAT_TAKEN;
		return 0;
	}

	struct db_value p[] = { DB_INT(id), DB_TEXT(c->to) };
	return db_run(upd, p, 2, NULL) < 0 ? -1 : 0;
}

static int
member_op(int (*fn)(void *), const struct compat_group *g, const char *name, const char *to)
{
	struct member_ctx c = { g, name, to, STORE_COMPAT_OK };

	if (db_tx(fn, &c) < 0)
		return -1;
	return c.outcome;
}

int
store_compat_add_member(const struct compat_group *g, const char *name)
{
	return member_op(add_tx, g, name, NULL);
}

int
store_compat_delete_member(const struct compat_group *g, const char *name)
{
	return member_op(delete_tx, g, name, NULL);
}

int
store_compat_rename_member(const struct compat_group *g, const char *from, const char *to)
{
	return member_op(rename_tx, g, from, to);
}

int
store_compat_is_member(const struct compat_group *g, const char *name)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(g->id), DB_TEXT(name) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare("SELECT 1 FROM compat_members "
		    "WHERE compat_group_id = $1 AND lower(name) = lower($2)");
	rc = db_get(st, p, 2, &row);
	db_result_free(row);
	return rc;
}

int
store_compat_data(const struct compat_group *g, const char *since, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(g->id), DB_TEXT(since) };

	if (st == NULL)
		st = db_prepare("SELECT m.name, m.last_updated, f.field, f.value "
		    "FROM compat_members m LEFT JOIN compat_fields f ON f.member_id = m.id "
		    "AND f.updated_at >= $2 AND f.field <> 'collection_log_v2' "
		    "WHERE m.compat_group_id = $1 ORDER BY m.id, f.field");
	return db_all(st, p, 2, rows);
}

int
store_compat_field(const struct compat_group *g, const char *field, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(g->id), DB_TEXT(field) };

	if (st == NULL)
		st = db_prepare("SELECT m.name, f.value, f.updated_at "
		    "FROM compat_members m LEFT JOIN compat_fields f ON f.member_id = m.id "
		    "AND f.field = $2 WHERE m.compat_group_id = $1 ORDER BY m.id");
	return db_all(st, p, 2, rows);
}

/* ---- updating ---- */

/* The (id, qty) pairs of a flat array, without empty slots (qty <= 0),
 * summed by id.  The count, or -1 when a sum overflows. */
static int
pairs(json_t *arr, struct sync_item **out)
{
	size_t n = json_array_size(arr) / 2;
	struct sync_item *v = xcalloc(n + 1, sizeof(*v));
	int k = 0;

	for (size_t i = 0; i < n; i++) {
		json_int_t id = json_integer_value(json_array_get(arr, 2 * i));
		json_int_t qty = json_integer_value(json_array_get(arr, 2 * i + 1));

		if (id < 0 || qty <= 0)
			continue;
		v[k].id = id;
		v[k].qty = qty;
		k++;
	}
	*out = v;
	return store_containers_sum(v, k, 0);
}

/* arr (id, qty pairs) with add's pairs added: a new array. */
static json_t *
add_pairs(json_t *arr, json_t *add)
{
	json_t *out = json_is_array(arr) ? json_deep_copy(arr) : json_array();

	for (size_t i = 0; i + 1 < json_array_size(add); i += 2) {
		json_int_t id = json_integer_value(json_array_get(add, i));
		json_int_t qty = json_integer_value(json_array_get(add, i + 1));
		size_t j;

		for (j = 0; j + 1 < json_array_size(out); j += 2)
			if (json_integer_value(json_array_get(out, j)) == id) {
				json_int_t sum = json_integer_value(json_array_get(out, j + 1)) + qty;

				json_array_set_new(out, j + 1, json_integer(sum));
				break;
			}
		if (j + 1 >= json_array_size(out)) {
			json_array_append_new(out, json_integer(id));
			json_array_append_new(out, json_integer(qty));
		}
	}
	return out;
}

/* The (id, qty) pairs of a flat array, all of them, in an array of n. */
static struct sync_item *
all_pairs(json_t *arr, size_t *n)
{
	struct sync_item *v;

	*n = json_is_array(arr) ? json_array_size(arr) / 2 : 0;
	v = xcalloc(*n + 1, sizeof(*v));
	for (size_t i = 0; i < *n; i++) {
		v[i].id = json_integer_value(json_array_get(arr, 2 * i));
		v[i].qty = json_integer_value(json_array_get(arr, 2 * i + 1));
	}
	return v;
}

static int
cmp_pair(const void *a, const void *b)
{
	const struct sync_item *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/*
 * The collection log: the stored pairs with the new ones merged (a new
 * quantity replaces the stored one), by item id; the plugin sends only
 * new entries.  Sorting both keeps a merge O(n log n) however long the
 * log is.  NULL when it would hold more than COMPAT_LOG_MAX entries.
 */
static json_t *
merge_log(json_t *stored, json_t *add)
{
	size_t ns, na, i = 0, j = 0;
	struct sync_item *s = all_pairs(stored, &ns), *a = all_pairs(add, &na);
	json_t *out = json_array();

	qsort(s, ns, sizeof(*s), cmp_pair);
	qsort(a, na, sizeof(*a), cmp_pair);
	while (i < ns || j < na) {
		struct sync_item e;

		if (j == na || (i < ns && s[i].id < a[j].id))
			e = s[i++];
		else {
			if (i < ns && s[i].id == a[j].id)
				i++;
			e = a[j++];
			/* A repeated id in one update: the last one counts. */
			while (j < na && a[j].id == e.id)
				e = a[j++];
		}
		json_array_append_new(out, json_integer(e.id));
		json_array_append_new(out, json_integer(e.qty));
	}
	free(s);
	free(a);
	if (json_array_size(out) > 2 * COMPAT_LOG_MAX) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* The stored value (JSON text, malloc'd) of member_id's field into *out.
 * 1, 0 (never sent: *out NULL), -1. */
static int
get_field(int64_t member_id, const char *field, char **out)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(member_id), DB_TEXT(field) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare("SELECT value FROM compat_fields WHERE member_id = $1 AND field = $2");
	*out = NULL;
	rc = db_get(st, p, 2, &row);
	if (rc == 1)
		*out = xstrdup(db_text(row, 0, 0));
	db_result_free(row);
	return rc;
}

/* The stored value of a field as JSON (new reference), or NULL when never
 * sent; -1 in *rc on a database error. */
static json_t *
get_json(int64_t member_id, const char *field, int *rc)
{
	char *text;
	json_t *v;

	*rc = get_field(member_id, field, &text);
	if (*rc <= 0)
		return NULL;
	v = json_loads(text, 0, NULL);
	free(text);
	return v;
}

/* Store v (not stolen) as member_id's field at now, if it differs from the
 * stored value: one statement, whose count of changed rows says whether
 * it did.  1 changed, 0 not, -1. */
static int
set_field(int64_t member_id, const char *field, json_t *v, const char *now)
{
	static struct db_stmt *up;
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int64_t n;

	if (up == NULL)
		up = db_prepare("INSERT INTO compat_fields (member_id, field, value, updated_at) "
		    "VALUES ($1, $2, $3, $4) ON CONFLICT (member_id, field) DO UPDATE SET "
		    "value = excluded.value, updated_at = excluded.updated_at "
		    "WHERE compat_fields.value <> excluded.value");
	if (text == NULL) {
		db_set_error(DBE_MISUSE, "", "a field that does not encode");
		return -1;
	}

	struct db_value p[] = { DB_INT(member_id), DB_TEXT(field), DB_TEXT(text), DB_TEXT(now) };
	n = db_run(up, p, 4, NULL);
	free(text);
	return n < 0 ? -1 : n > 0;
}

static int
touch_member(int64_t member_id, const char *now)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(member_id), DB_TEXT(now) };

	if (st == NULL)
		st = db_prepare("UPDATE compat_members SET last_updated = $2 WHERE id = $1");
	return db_run(st, p, 2, NULL) < 0 ? -1 : 0;
}

/* The state of one member being updated. */
struct member_update {
	int64_t id, character_id;
	int changed;
	struct store_sync_batch b;
	struct skill_xp skills[NSKILLS];
};

static void
member_update_free(struct member_update *m)
{
	for (int i = 0; i < STORE_CONTAINERS_N; i++)
		free(m->b.containers[i].items);
}

/* Queue container of m, from the pairs of arr, at seq.  0 or
 * STORE_COMPAT_OVERFLOW. */
static int
queue_container(struct member_update *m, const char *container, json_t *arr, int64_t seq)
{
	struct store_sync_state *s = &m->b.containers[store_containers_index(container)];

	free(s->items);
	s->present = 1;
	s->seq = seq;
	s->n = pairs(arr, &s->items);
	return s->n < 0 ? STORE_COMPAT_OVERFLOW : 0;
}

/* Queue the skills of arr (xp in the plugin's order) when they fit coffer's. */
static void
queue_skills(struct member_update *m, json_t *arr, int64_t seq)
{
	int n = 0;

	for (size_t i = 0; i < json_array_size(arr) && i < (size_t)NSKILLS; i++) {
		json_int_t xp = json_integer_value(json_array_get(arr, i));

		if (xp < 0 || xp > STORE_SKILL_XP_MAX)
			continue;
		m->skills[n].skill = skill_names[i];
		m->skills[n].xp = xp;
		n++;
	}
	m->b.has_skills = n > 0;
	m->b.skills_seq = seq;
	m->b.skills = m->skills;
	m->b.nskills = n;
}

/* Set field key of m to v (stolen) and queue what it feeds when it
 * changed.  0, an outcome, or -1. */
static int
apply_field(struct member_update *m, const char *key, json_t *v, const char *now, int64_t seq)
{
	int rc = v ? set_field(m->id, key, v, now) : -1;

	if (rc == 1) {
		m->changed = 1;
		rc = 0;
		if (strcmp(key, "skills") == 0)
			queue_skills(m, v, seq);
		for (int i = 0; i < NCONTAINER_FIELDS && rc == 0; i++)
			if (strcmp(key, container_fields[i].field) == 0)
				rc = queue_container(m, container_fields[i].container, v, seq);
	}
	json_decref(v);
	return rc;
}

/* Store the fields that changed; queue the changed containers and skills.
 * 0, an outcome, or -1. */
static int
merge(struct member_update *m, json_t *fields, const char *now, int64_t seq)
{
	const char *key;
	json_t *v, *nv;
	int rc;

	json_object_foreach(fields, key, v) {
		if (strcmp(key, "name") == 0 || strcmp(key, "shared_bank") == 0 ||
		    strcmp(key, "deposited") == 0)
			continue;
		if (strcmp(key, "collection_log_v2") == 0) {
			json_t *old = get_json(m->id, key, &rc);

			if (rc < 0)
				return -1;
			nv = merge_log(old, v);
			json_decref(old);
			if (nv == NULL)
				return STORE_COMPAT_TOO_MANY;
		} else if (strcmp(key, "interacting") == 0) {
			/* Stamped on receipt: the site shows it while it is fresh. */
			nv = json_deep_copy(v);
			json_object_set_new(nv, "last_updated", json_string(now));
		} else
			nv = json_incref(v);
		if ((rc = apply_field(m, key, nv, now, seq)) != 0)
			return rc;
	}
	v = json_object_get(fields, "deposited");
	if (json_array_size(v) > 0) {
		/* Added to the bank as it now stands (sent just now, or stored). */
		json_t *bank = get_json(m->id, "bank", &rc);

		if (rc < 0)
			return -1;
		nv = add_pairs(bank, v);
		json_decref(bank);
		if (json_array_size(nv) > 2 * COMPAT_BANK_MAX) {
			json_decref(nv);
			return STORE_COMPAT_TOO_MANY;
		}
		if ((rc = apply_field(m, "bank", nv, now, seq)) != 0)
			return rc;
	}
	return m->changed ? touch_member(m->id, now) : 0;
}

struct update_ctx {
	const struct compat_group *g;
	const char *name;
	json_t *fields;
	int64_t now;
	struct compat_update_result *out;
	struct member_update me, shared;
	int outcome;
};

/* The shared bank: @SHARED's bank field and group_storage container. */
static int
update_shared(struct update_ctx *c, json_t *sb, const char *now)
{
	int rc;

	c->shared.b.character_id = c->shared.character_id;
	if ((rc = apply_field(&c->shared, "bank", json_incref(sb), now, -1)) != 0)
		return rc;
	if (!c->shared.changed)
		return 0;
	if (queue_container(&c->shared, "group_storage", sb, c->now) != 0)
		return STORE_COMPAT_OVERFLOW;
	/* The bank field fed no container of @SHARED's (seq -1 above). */
	c->shared.b.containers[store_containers_index("bank")].present = 0;
	snprintf(c->out->shared_character, sizeof(c->out->shared_character), "#%lld",
	    (long long)c->shared.character_id);
	if (store_sync_batch_in_tx(&c->shared.b, c->out->shared_res, &c->out->skills) < 0 ||
	    touch_member(c->shared.id, now) < 0)
		return -1;
	return 0;
}

static int
update_tx(void *arg)
{
	struct update_ctx *c = arg;
	json_t *sb = json_object_get(c->fields, "shared_bank");
	char now[STORE_COMPAT_TIME_LEN];
	int rc, have_shared = 0;

	store_compat_time(now, c->now);
	if (sb != NULL) {
		rc = lock_member(c->g->id, STORE_COMPAT_SHARED, &c->shared.id,
		    &c->shared.character_id);
		if (rc < 0)
			return -1;
		have_shared = rc;
	}
	rc = lock_member(c->g->id, c->name, &c->me.id, &c->me.character_id);
	if (rc <= 0)
		return rc;	/* not a member: nothing, not even its shared_bank */
	c->out->found = 1;
	snprintf(c->out->character, sizeof(c->out->character), "#%lld",
	    (long long)c->me.character_id);
	if (have_shared && (rc = update_shared(c, sb, now)) != 0)
		goto refused;
	c->me.b.character_id = c->me.character_id;
	if ((rc = merge(&c->me, c->fields, now, c->now)) != 0)
		goto refused;
	return store_sync_batch_in_tx(&c->me.b, c->out->res, &c->out->skills);
refused:
	if (rc > 0)
		c->outcome = rc;
	return -1;
}

void
store_compat_update_free(struct compat_update_result *out)
{
	for (int i = 0; i < STORE_CONTAINERS_N; i++) {
		store_activity_ids_free(&out->res[i].activity);
		store_activity_ids_free(&out->shared_res[i].activity);
	}
	store_activity_ids_free(&out->skills.activity);
}

int
store_compat_update(const struct compat_group *g, const char *name, json_t *fields,
		    int64_t now, struct compat_update_result *out)
{
	struct update_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	c.g = g;
	c.name = name;
	c.fields = fields;
	c.now = now;
	c.out = out;
	rc = db_tx(update_tx, &c);
	member_update_free(&c.me);
	member_update_free(&c.shared);
	if (rc == 0)
		return STORE_COMPAT_OK;
	store_compat_update_free(out);	/* rolled back */
	memset(out, 0, sizeof(*out));
	return c.outcome != STORE_COMPAT_OK ? c.outcome : -1;
}

/* ---- claiming ---- */

struct claim_ctx {
	const char *name, *token_hash;
	int64_t user_id, group_id;
	int max_groups;
	int outcome;
};

static int
claim_tx(void *arg)
{
	static struct db_stmt *sel, *demote, *ins, *owner, *mark;
	struct claim_ctx *c = arg;
	struct compat_group g;
	struct db_result *row = NULL;
	int rc;

	if (sel == NULL) {
		sel = db_prepare_dual(
		    "SELECT owner_user_id, claimed_by FROM compat_groups WHERE id = $1",
		    "SELECT owner_user_id, claimed_by FROM compat_groups WHERE id = $1 "
		    "FOR UPDATE");
		demote = db_prepare("UPDATE group_members SET role = 'member' "
		    "WHERE group_id = $1 AND role = 'owner'");
		ins = db_prepare("INSERT INTO group_members (group_id, user_id, role) "
		    "VALUES ($1, $2, 'owner')");
		owner = db_prepare("UPDATE groups SET owner_id = $2 WHERE id = $1");
		mark = db_prepare("UPDATE compat_groups SET claimed_by = $2 WHERE id = $1");
	}
	rc = store_compat_find(c->name, c->token_hash, &g);
	if (rc <= 0) {
		c->outcome = STORE_CLAIM_UNKNOWN;
		return rc;
	}

	struct db_value pg[] = { DB_INT(g.id) };
	if (db_get(sel, pg, 1, &row) != 1) {
		db_result_free(row);
		return -1;
	}
	c->group_id = g.group_id;
	if (!db_isnull(row, 0, 1)) {
		if (db_int(row, 0, 1) != c->user_id)
			c->outcome = STORE_CLAIM_TAKEN;
		db_result_free(row);
		return 0;
	}
	db_result_free(row);
	/* The claimer becomes a member: counted as a join is. */
	switch (store_groups_room(c->user_id, c->max_groups)) {
	case 0:
		c->outcome = STORE_CLAIM_LIMIT;
		return 0;
	case -1:
		return -1;
	}

	struct db_value pd[] = { DB_INT(g.group_id) };
	struct db_value pi[] = { DB_INT(g.group_id), DB_INT(c->user_id) };
	struct db_value pm[] = { DB_INT(g.id), DB_INT(c->user_id) };
	/* One owner at a time (group_members_owner_key): demote, then promote. */
	if (db_run(demote, pd, 1, NULL) < 0 || db_run(ins, pi, 2, NULL) < 0 ||
	    db_run(owner, pi, 2, NULL) < 0 || db_run(mark, pm, 2, NULL) < 0)
		return -1;
	return 0;
}

int
store_compat_claim(const char *name, const char *token_hash, int64_t user_id,
		   int max_groups, int64_t *group_id)
{
	struct claim_ctx c = { name, token_hash, user_id, 0, max_groups, STORE_CLAIM_OK };

	if (db_tx(claim_tx, &c) < 0)
		return -1;
	*group_id = c.group_id;
	return c.outcome;
}
