/*
 * store/demo.c -- the demo seed and the development wipe.
 *
 * The seed makes a fresh development install look lived-in: three users
 * who can log in through the mock OAuth provider (users.provider = 'mock',
 * users.login = the login_hint, exactly what the OAuth callback writes),
 * four characters with realistic banks and inventories, and one group
 * sharing them all, so the first vault request shows a valued vault.
 *
 * Determinism: items are picked from the current catalog's tradeable,
 * priced items (ordered by id) by a splitmix64 generator seeded from the
 * character's name, so the same catalog always gives the same banks.
 *
 * Idempotence: the whole seed is one transaction that ends by writing
 * app_meta 'demo_seeded'; it starts by taking a lock (PostgreSQL advisory
 * lock; SQLite's BEGIN IMMEDIATE) and checking that key, so restarts and
 * hosts starting together seed once.  Every insert is also ON CONFLICT DO
 * NOTHING, so a seed after a partial wipe fills in what is missing and
 * never duplicates.  A demo character name already owned by somebody else
 * is left alone.
 *
 * Container items go in as one JSON text parameter per container, expanded
 * by the engine (see store/catalog.c for why); the group's kept vault is
 * rebuilt from them at the end (store_vault_rebuild), in the same
 * transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/log.h"
#include "src/store/demo.h"
#include "src/store/vault_keep.h"
#include "src/util.h"

#define DEMO_LOCK	"7301002"
#define DEMO_GROUP	"Demo Clan"
#define DEMO_CODE	"DEMXCLAN2345"	/* 12 of the join-code alphabet */
#define DEMO_OLD_CODE	"DEMOCLAN"	/* what earlier seeds wrote: not a code */
#define COINS		995
#define INVENTORY_SLOTS	28

static const struct {
	const char *login, *name;
} demo_users[] = {
	{ "alice", "Alice" },
	{ "bob", "Bob" },
	{ "carol", "Carol" },
};

static const struct {
	const char *name;
	int user;		/* index into demo_users */
} demo_chars[] = {
	{ "Zezima", 0 },
	{ "B0aty", 0 },
	{ "Lynx Titan", 1 },
	{ "Woox", 2 },
};

/* Rows of st_catalog (the candidate items), in SELECT order. */
enum demo_item_col {
	DEMO_ITEM_ID,
	DEMO_ITEM_NAME,
	DEMO_ITEM_STACKABLE,
};

/* Rows of st_char_find, in SELECT order. */
enum demo_char_col {
	DEMO_CHAR_ID,
	DEMO_CHAR_USER_ID,
};

static struct db_stmt *st_lock, *st_seeded, *st_user_ins, *st_user_id, *st_char_ins,
    *st_char_find, *st_group_find, *st_code_fix, *st_group_ins, *st_member_ins, *st_share_ins,
    *st_catalog, *st_cont_ins, *st_items_ins, *st_synced, *st_meta_ins;

static void
prepare(void)
{
	if (st_lock)
		return;
	st_lock = db_prepare_dual("SELECT 1", "SELECT pg_advisory_xact_lock(" DEMO_LOCK ")");
	st_seeded = db_prepare("SELECT value FROM app_meta WHERE key = 'demo_seeded'");
	st_user_ins = db_prepare("INSERT INTO users (provider, login, display_name)"
	    " VALUES ('mock', $1, $2) ON CONFLICT (provider, login) DO NOTHING");
	st_user_id = db_prepare("SELECT id FROM users WHERE provider = 'mock' AND login = $1");
	st_char_ins = db_prepare("INSERT INTO characters (user_id, name) VALUES ($1, $2)"
	    " ON CONFLICT DO NOTHING");
	/* Both use characters_name_key: NOCASE on SQLite, lower(name) on PostgreSQL. */
	st_char_find = db_prepare_dual(
	    "SELECT id, user_id FROM characters WHERE name = $1",
	    "SELECT id, user_id FROM characters WHERE lower(name) = lower($1)");
	st_group_find = db_prepare("SELECT id FROM groups WHERE join_code = $1");
	/* Earlier seeds wrote a code nobody could type in: correct it, seeded
	 * or not. */
	st_code_fix = db_prepare("UPDATE groups SET join_code = $1 WHERE join_code = $2");
	st_group_ins = db_prepare("INSERT INTO groups (name, owner_id, join_code)"
	    " VALUES ($1, $2, $3) RETURNING id");
	st_member_ins = db_prepare("INSERT INTO group_members (group_id, user_id, role)"
	    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
	st_share_ins = db_prepare("INSERT INTO group_characters (group_id, user_id,"
	    " character_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
	st_catalog = db_prepare("SELECT item_id, name, stackable FROM catalog_items"
	    " WHERE snapshot_id = (SELECT id FROM catalog_snapshots WHERE is_current)"
	    " AND tradeable AND price > 0 ORDER BY item_id");
	st_cont_ins = db_prepare("INSERT INTO containers (character_id, container, seq)"
	    " VALUES ($1, $2, 0) ON CONFLICT DO NOTHING");
	/* SQLite needs the WHERE to parse an upsert after INSERT ... SELECT. */
	st_items_ins = db_prepare_dual(
	    "INSERT INTO container_items (character_id, container, item_id, qty)"
	    " SELECT $1, $2, json_extract(value, '$.id'), json_extract(value, '$.qty')"
	    " FROM json_each($3) WHERE TRUE ON CONFLICT DO NOTHING",
	    "INSERT INTO container_items (character_id, container, item_id, qty)"
	    " SELECT $1::bigint, $2::text, x.id, x.qty"
	    " FROM jsonb_to_recordset($3::jsonb) AS x(id integer, qty bigint)"
	    " ON CONFLICT DO NOTHING");
	st_synced = db_prepare_dual(
	    "UPDATE characters SET last_sync_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
	    " WHERE id = $1",
	    "UPDATE characters SET last_sync_at = now() WHERE id = $1");
	st_meta_ins = db_prepare("INSERT INTO app_meta (key, value) VALUES ('demo_seeded', $1)"
	    " ON CONFLICT (key) DO NOTHING");
}

/* ---- deterministic picks ---- */

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform-enough integer in lo..hi. */
static int64_t
between(uint64_t *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(splitmix64(s) % (uint64_t)(hi - lo + 1));
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A believable quantity of one catalog row for a bank or an inventory. */
static int64_t
quantity(const struct db_result *cat, int i, int bank, uint64_t *s)
{
	const char *name = db_text(cat, i, DEMO_ITEM_NAME);

	if (db_int(cat, i, DEMO_ITEM_ID) == COINS)
		return bank ? between(s, 1000000, 150000000) : between(s, 100000, 5000000);
	if (ends_with(name, " rune") || strstr(name, "arrow") || strstr(name, "bolts") ||
	    ends_with(name, " dart"))
		return bank ? between(s, 500, 25000) : between(s, 50, 2000);
	if (db_bool(cat, i, DEMO_ITEM_STACKABLE))
		return bank ? between(s, 10, 2000) : between(s, 1, 100);
	return 1;		/* gear and other unstackable items */
}

/* Index of item id in cat, or -1. */
static int
find_item(const struct db_result *cat, int64_t id)
{
	for (int i = 0; i < db_nrows(cat); i++)
		if (db_int(cat, i, DEMO_ITEM_ID) == id)
			return i;
	return -1;
}

/*
 * {"id","qty"} entries for one container.  Bank: coins plus 300-500
 * distinct items (a partial Fisher-Yates shuffle of the candidates).
 * Inventory: 28 slots, coins in the first, the rest drawn with
 * replacement; an unstackable item drawn into several slots is summed, as
 * the sync API stores it.
 */
static json_t *
pick(const struct db_result *cat, int bank, uint64_t *s)
{
	int n = db_nrows(cat), coins = find_item(cat, COINS);
	int want = bank ? (int)between(s, 300, 500) : INVENTORY_SLOTS;
	int *idx = xcalloc((size_t)n, sizeof(*idx));
	int64_t *qty = xcalloc((size_t)n, sizeof(*qty));
	json_t *items = json_array();

	for (int i = 0; i < n; i++)
		idx[i] = i;
	if (coins >= 0) {
		qty[coins] = quantity(cat, coins, bank, s);
		want--;
	}
	for (int k = 0; k < want && k < n; k++) {
		int j, t;

		if (!bank) {
			j = (int)(splitmix64(s) % (uint64_t)n);
			if (j != coins && (qty[j] == 0 || !db_bool(cat, j, DEMO_ITEM_STACKABLE)))
				qty[j] += quantity(cat, j, bank, s);
			continue;
		}
		j = k + (int)(splitmix64(s) % (uint64_t)(n - k));
		t = idx[k];
		idx[k] = idx[j];
		idx[j] = t;
		if (idx[k] != coins)
			qty[idx[k]] = quantity(cat, idx[k], bank, s);
	}
	for (int i = 0; i < n; i++)
		if (qty[i] > 0)
			json_array_append_new(items, json_pack("{s:I,s:I}", "id",
			    (json_int_t)db_int(cat, i, DEMO_ITEM_ID), "qty", (json_int_t)qty[i]));
	free(idx);
	free(qty);
	return items;
}

/* ---- the seed ---- */

struct seed {
	struct demo_result *out;
	int seeded;
	int64_t user[ARRAY_SIZE(demo_users)];
};

static int
seed_users(struct seed *sd)
{
	for (size_t u = 0; u < ARRAY_SIZE(demo_users); u++) {
		struct db_value p[] = { DB_TEXT(demo_users[u].login), DB_TEXT(demo_users[u].name) };
		struct db_result *row = NULL;

		if (db_run(st_user_ins, p, 2, NULL) < 0 || db_get(st_user_id, p, 1, &row) != 1)
			return -1;
		sd->user[u] = db_int(row, 0, 0);
		db_result_free(row);
		sd->out->users++;
	}
	return 0;
}

static int
seed_group(struct seed *sd)
{
	struct db_value code[] = { DB_TEXT(DEMO_CODE) };
	struct db_result *row = NULL;
	int rc = db_get(st_group_find, code, 1, &row);

	if (rc == 0) {
		struct db_value p[] = { DB_TEXT(DEMO_GROUP), DB_INT(sd->user[0]),
		    DB_TEXT(DEMO_CODE) };

		if (db_run(st_group_ins, p, 3, &row) < 0)
			return -1;
	} else if (rc < 0) {
		return -1;
	}
	sd->out->group_id = db_int(row, 0, 0);
	db_result_free(row);
	for (size_t u = 0; u < ARRAY_SIZE(demo_users); u++) {
		struct db_value p[] = { DB_INT(sd->out->group_id), DB_INT(sd->user[u]),
		    DB_TEXT(u == 0 ? "owner" : "member") };

		if (db_run(st_member_ins, p, 3, NULL) < 0)
			return -1;
	}
	return 0;
}

static int
fill(int64_t char_id, const char *container, json_t *items, struct seed *sd)
{
	struct db_value p[] = { DB_INT(char_id), DB_TEXT(container), DB_NULL() };
	char *text = json_dumps(items, JSON_COMPACT);
	int64_t rc;

	if (text == NULL) {
		db_set_error(DBE_MISUSE, "", "demo items: json_dumps failed");
		return -1;
	}
	p[2] = DB_TEXT(text);
	rc = db_run(st_cont_ins, p, 2, NULL) < 0 ? -1 : db_run(st_items_ins, p, 3, NULL);
	free(text);
	if (rc < 0)
		return -1;
	sd->out->items += rc;
	return 0;
}

static int
seed_character(size_t c, const struct db_result *cat, struct seed *sd)
{
	int64_t owner = sd->user[demo_chars[c].user], id;
	struct db_value p[] = { DB_INT(owner), DB_TEXT(demo_chars[c].name) };
	struct db_result *row = NULL;
	uint64_t s = 0;
	int rc = 0;

	if (db_run(st_char_ins, p, 2, NULL) < 0 || db_get(st_char_find, p + 1, 1, &row) != 1)
		return -1;
	id = db_int(row, 0, DEMO_CHAR_ID);
	if (db_int(row, 0, DEMO_CHAR_USER_ID) != owner) {
		log_warn("demo: character %s belongs to another user; left alone",
		    demo_chars[c].name);
		db_result_free(row);
		return 0;
	}
	db_result_free(row);
	sd->out->characters++;
	{
		struct db_value q[] = { DB_INT(sd->out->group_id), DB_INT(owner), DB_INT(id) };

		if (db_run(st_share_ins, q, 3, NULL) < 0)
			return -1;
	}
	if (db_nrows(cat) == 0)
		return 0;
	for (const char *n = demo_chars[c].name; *n; n++)
		s = s * 131 + (unsigned char)*n;
	for (int bank = 1; bank >= 0 && rc == 0; bank--) {
		json_t *items = pick(cat, bank, &s);

		rc = fill(id, bank ? "bank" : "inventory", items, sd);
		json_decref(items);
	}
	if (rc == 0) {
		struct db_value q[] = { DB_INT(id) };

		rc = db_run(st_synced, q, 1, NULL) < 0 ? -1 : 0;
	}
	return rc;
}

static int
seed_tx(void *arg)
{
	struct seed *sd = arg;
	struct db_result *row = NULL, *cat = NULL;
	struct db_value meta[] = { DB_TEXT("alice,bob,carol") };
	struct db_value codes[] = { DB_TEXT(DEMO_CODE), DB_TEXT(DEMO_OLD_CODE) };
	int rc;

	if (db_all(st_lock, NULL, 0, &row) < 0)
		return -1;
	db_result_free(row);
	if (db_run(st_code_fix, codes, 2, NULL) < 0)
		return -1;
	rc = db_get(st_seeded, NULL, 0, &row);
	db_result_free(row);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (seed_users(sd) < 0 || seed_group(sd) < 0 || db_all(st_catalog, NULL, 0, &cat) < 0)
		return -1;
	if (db_nrows(cat) == 0)
		log_warn("demo: no current catalog; containers left empty");
	for (size_t c = 0; c < ARRAY_SIZE(demo_chars); c++)
		if (seed_character(c, cat, sd) < 0) {
			db_result_free(cat);
			return -1;
		}
	db_result_free(cat);
	/* The containers went in directly: the group's kept vault is
	 * computed from them once, at the end. */
	if (store_vault_rebuild(sd->out->group_id) < 0 ||
	    db_run(st_meta_ins, meta, 1, NULL) < 0)
		return -1;
	sd->seeded = 1;
	return 0;
}

int
store_demo_seed(struct demo_result *out)
{
	struct seed sd;

	prepare();
	memset(out, 0, sizeof(*out));
	memset(&sd, 0, sizeof(sd));
	sd.out = out;
	if (db_tx(seed_tx, &sd) < 0)
		return -1;
	return sd.seeded;
}

/* ---- the wipe ---- */

/*
 * Children before parents, so each count is the rows of that table (not
 * hidden in a cascade) and no foreign key is ever violated midway.
 */
static const struct {
	const char *table, *sql;
} wipes[] = {
	{ "webhook_deliveries", "DELETE FROM webhook_deliveries" },
	{ "webhooks", "DELETE FROM webhooks" },
	{ "activity", "DELETE FROM activity" },
	{ "vault_daily", "DELETE FROM vault_daily" },
	{ "group_characters", "DELETE FROM group_characters" },
	{ "group_members", "DELETE FROM group_members" },
	{ "groups", "DELETE FROM groups" },
	{ "presence", "DELETE FROM presence" },
	{ "skills", "DELETE FROM skills" },
	{ "container_items", "DELETE FROM container_items" },
	{ "containers", "DELETE FROM containers" },
	{ "characters", "DELETE FROM characters" },
	{ "plugin_tokens", "DELETE FROM plugin_tokens" },
	{ "sessions", "DELETE FROM sessions" },
	{ "oauth_states", "DELETE FROM oauth_states" },
	{ "mock_oauth_codes", "DELETE FROM mock_oauth_codes" },
	{ "mock_oauth_tokens", "DELETE FROM mock_oauth_tokens" },
	{ "checkout_sessions", "DELETE FROM checkout_sessions" },
	{ "billing_events", "DELETE FROM billing_events" },
	{ "subscriptions", "DELETE FROM subscriptions" },
	{ "users", "DELETE FROM users" },
	{ "app_meta", "DELETE FROM app_meta WHERE key NOT LIKE 'catalog%'" },
};
static struct db_stmt *st_wipe[ARRAY_SIZE(wipes)];

static int
wipe_tx(void *arg)
{
	json_t *counts = arg;

	for (size_t i = 0; i < ARRAY_SIZE(wipes); i++) {
		int64_t n;

		if (st_wipe[i] == NULL)
			st_wipe[i] = db_prepare(wipes[i].sql);
		n = db_run(st_wipe[i], NULL, 0, NULL);
		if (n < 0)
			return -1;
		json_object_set_new(counts, wipes[i].table, json_integer(n));
	}
	return 0;
}

int
store_demo_wipe(json_t **counts)
{
	json_t *c = json_object();

	*counts = NULL;
	if (db_tx(wipe_tx, c) < 0) {
		json_decref(c);
		return -1;
	}
	*counts = c;
	return 0;
}

int
store_demo_mark(const char *key)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_TEXT(key) };

	if (st == NULL)
		st = db_prepare("INSERT INTO app_meta (key, value) VALUES ($1, 'held') "
		    "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
	return db_run(st, p, 1, NULL) < 0 ? -1 : 0;
}
