/*
 * store/demo.c -- the demo seed and the development wipe.
 *
 * The seed makes a fresh development install look like a group-ironman
 * group a player would recognise: three users who can log in through the
 * mock OAuth provider (users.provider = 'mock', users.login = the
 * login_hint, exactly what the OAuth callback writes), four characters
 * each with worn gear, an inventory and a bank, the group's shared storage
 * and a seed vault, skills, a week of activity (loot, level-ups, quests, a
 * death), and one group sharing them all.
 *
 * Believable first: the gear, inventories, group storage and seed vault
 * are named lists (kits[], looked up by name in the current catalog; a
 * name it lacks is skipped), and each bank is that character's core
 * supplies plus filler drawn from the catalog's tradeable items priced at
 * most FILLER_MAX_PRICE, never a bank note or the capped 3rd age prices,
 * so no odd item tops the vault.
 *
 * Determinism: the filler is picked from those items (ordered by id), and
 * quantities and skill levels drawn, by a splitmix64 generator seeded from
 * the character's name, so the same catalog always gives the same data.
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
#include "src/store/skills.h"
#include "src/store/vault_keep.h"
#include "src/util.h"

#define DEMO_LOCK	"7301002"
#define DEMO_GROUP	"Demo Clan"
#define DEMO_CODE	"DEMXCLAN2345"	/* 12 of the join-code alphabet */
#define DEMO_OLD_CODE	"DEMOCLAN"	/* what earlier seeds wrote: not a code */
#define COINS		995
#define INVENTORY_SLOTS	28
#define FILLER_MAX_PRICE "2000000"	/* gp: filler never outshines the kits */

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

/* An item of a kit: its catalog name and a quantity range. */
struct kit_item {
	const char *name;
	int64_t lo, hi;
};

#define KIT_MAX	32

/* Each character's worn gear, inventory and bank core (by demo_chars
 * index); the group storage and seed vault go to one character each. */
static const struct kit {
	struct kit_item equipment[12], inventory[KIT_MAX], bank[KIT_MAX];
} kits[] = {
	{	/* Zezima: melee */
		{ { "Helm of neitiznot", 1, 1 }, { "Fire cape", 1, 1 },
		  { "Amulet of fury", 1, 1 }, { "Abyssal whip", 1, 1 },
		  { "Fighter torso", 1, 1 }, { "Dragon defender", 1, 1 },
		  { "Obsidian platelegs", 1, 1 }, { "Barrows gloves", 1, 1 },
		  { "Dragon boots", 1, 1 }, { "Berserker ring (i)", 1, 1 } },
		{ { "Super combat potion(4)", 1, 2 }, { "Prayer potion(4)", 3, 5 },
		  { "Shark", 10, 16 }, { "Law rune", 40, 200 }, { "Dragon dagger(p++)", 1, 1 },
		  { "Stamina potion(4)", 1, 1 } },
		{ { "Rune platebody", 1, 1 }, { "Rune platelegs", 1, 1 },
		  { "Rune scimitar", 1, 1 }, { "Granite maul", 1, 1 },
		  { "Dragon scimitar", 1, 1 }, { "Shark", 200, 900 },
		  { "Prayer potion(4)", 40, 160 }, { "Super combat potion(4)", 10, 40 },
		  { "Dragon bones", 100, 600 }, { "Runite ore", 20, 120 },
		  { "Adamantite bar", 50, 300 }, { "Yew logs", 300, 2000 },
		  { "Nature rune", 500, 4000 }, { "Law rune", 300, 2000 },
		  { "Cannonball", 2000, 12000 }, { "Amulet of glory(6)", 2, 6 } },
	},
	{	/* B0aty: ranged */
		{ { "Void ranger helm", 1, 1 }, { "Ava's accumulator", 1, 1 },
		  { "Amulet of glory(6)", 1, 1 }, { "Diamond bolts (e)", 300, 1200 },
		  { "Armadyl crossbow", 1, 1 }, { "Void knight top", 1, 1 },
		  { "Dragonfire shield", 1, 1 }, { "Void knight robe", 1, 1 },
		  { "Void knight gloves", 1, 1 }, { "Snakeskin boots", 1, 1 },
		  { "Archers ring", 1, 1 } },
		{ { "Ranging potion(4)", 2, 3 }, { "Prayer potion(4)", 3, 5 },
		  { "Anglerfish", 8, 14 }, { "Saradomin brew(4)", 2, 4 },
		  { "Super restore(4)", 2, 3 }, { "Ruby bolts (e)", 100, 400 } },
		{ { "Rune crossbow", 1, 1 }, { "Black d'hide body", 1, 1 },
		  { "Black d'hide chaps", 1, 1 }, { "Magic shortbow", 1, 1 },
		  { "Anglerfish", 100, 500 }, { "Ranging potion(4)", 20, 80 },
		  { "Saradomin brew(4)", 20, 90 }, { "Super restore(4)", 30, 120 },
		  { "Rune arrow", 1000, 6000 }, { "Amethyst arrow", 500, 3000 },
		  { "Broad bolts", 1000, 8000 }, { "Chinchompa", 200, 1500 },
		  { "Magic logs", 200, 1500 }, { "Death rune", 500, 3000 } },
	},
	{	/* Lynx Titan: magic and skilling */
		{ { "Mystic hat", 1, 1 }, { "Saradomin cape", 1, 1 },
		  { "Occult necklace", 1, 1 }, { "Trident of the swamp", 1, 1 },
		  { "Ahrim's robetop", 1, 1 }, { "Tome of fire", 1, 1 },
		  { "Ahrim's robeskirt", 1, 1 }, { "Barrows gloves", 1, 1 },
		  { "Mystic boots", 1, 1 }, { "Seers ring", 1, 1 } },
		{ { "Dragon pickaxe", 1, 1 }, { "Dragon axe", 1, 1 },
		  { "Stamina potion(4)", 1, 2 }, { "Monkfish", 6, 10 },
		  { "Nature rune", 100, 600 }, { "Fire rune", 500, 3000 },
		  { "Runite ore", 2, 8 } },
		{ { "Battlestaff", 10, 80 }, { "Pure essence", 2000, 15000 },
		  { "Magic logs", 500, 3000 }, { "Yew logs", 1000, 6000 },
		  { "Coal", 2000, 9000 }, { "Iron ore", 500, 4000 },
		  { "Mahogany plank", 200, 1200 }, { "Oak plank", 500, 3000 },
		  { "Uncut diamond", 20, 150 }, { "Dragonstone", 5, 40 },
		  { "Blood rune", 1000, 6000 }, { "Death rune", 1000, 6000 },
		  { "Lobster", 100, 800 }, { "Monkfish", 100, 600 } },
	},
	{	/* Woox: melee, bossing */
		{ { "Serpentine helm", 1, 1 }, { "Fire cape", 1, 1 },
		  { "Amulet of torture", 1, 1 }, { "Dragon scimitar", 1, 1 },
		  { "Bandos chestplate", 1, 1 }, { "Dragon defender", 1, 1 },
		  { "Bandos tassets", 1, 1 }, { "Barrows gloves", 1, 1 },
		  { "Dragon boots", 1, 1 }, { "Berserker ring (i)", 1, 1 } },
		{ { "Super combat potion(4)", 1, 2 }, { "Prayer potion(4)", 3, 5 },
		  { "Manta ray", 10, 15 }, { "Saradomin brew(4)", 1, 2 },
		  { "Dragon warhammer", 1, 1 } },
		{ { "Zulrah's scales", 2000, 20000 }, { "Tanzanite fang", 1, 1 },
		  { "Magic fang", 1, 1 }, { "Manta ray", 100, 500 },
		  { "Saradomin brew(4)", 20, 90 }, { "Super restore(4)", 20, 90 },
		  { "Dragon bones", 200, 800 }, { "Grimy ranarr weed", 30, 200 },
		  { "Blood rune", 500, 3000 }, { "Abyssal dagger", 1, 1 } },
	},
};

/* The group's storage (on the owner's first character) and a seed vault. */
static const struct kit_item group_storage[] = {
	{ "Shark", 200, 400 }, { "Saradomin brew(4)", 30, 60 }, { "Super restore(4)", 40, 80 },
	{ "Prayer potion(4)", 50, 100 }, { "Dragon bones", 150, 300 }, { "Runite ore", 40, 90 },
	{ "Magic logs", 300, 800 }, { "Nature rune", 2000, 6000 }, { "Law rune", 1500, 4000 },
	{ "Cannonball", 3000, 9000 }, { "Teak plank", 200, 600 }, { "Grimy ranarr weed", 60, 180 },
	{ "Anglerfish", 80, 200 }, { "Dragon pickaxe", 1, 1 }, { "Stamina potion(4)", 20, 50 },
	{ NULL, 0, 0 }
};
static const struct kit_item seed_vault[] = {
	{ "Ranarr seed", 30, 90 }, { "Snapdragon seed", 10, 40 }, { "Torstol seed", 4, 15 },
	{ "Magic seed", 2, 6 }, { "Yew seed", 4, 12 }, { "Palm tree seed", 3, 9 },
	{ "Toadflax seed", 20, 60 }, { "Watermelon seed", 80, 200 }, { "Limpwurt seed", 20, 80 },
	{ NULL, 0, 0 }
};
#define STORAGE_CHAR	0	/* Zezima */
#define SEED_VAULT_CHAR	3	/* Woox */

/* Rows of st_catalog (the filler candidates), in SELECT order. */
enum demo_item_col {
	DEMO_ITEM_ID,
	DEMO_ITEM_NAME,
	DEMO_ITEM_STACKABLE,
	DEMO_ITEM_PRICE,
};

/* Rows of st_item_named, in SELECT order. */
enum demo_named_col {
	DEMO_NAMED_ID,
	DEMO_NAMED_PRICE,
};

/* Rows of st_char_find, in SELECT order. */
enum demo_char_col {
	DEMO_CHAR_ID,
	DEMO_CHAR_USER_ID,
};

static struct db_stmt *st_lock, *st_seeded, *st_user_ins, *st_user_id, *st_char_ins,
    *st_char_find, *st_group_find, *st_code_fix, *st_group_ins, *st_member_ins, *st_share_ins,
    *st_catalog, *st_cont_ins, *st_items_ins, *st_synced, *st_meta_ins, *st_item_named,
    *st_skill_ins, *st_activity_ins;

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
	st_catalog = db_prepare("SELECT item_id, name, stackable, price FROM catalog_items"
	    " WHERE snapshot_id = (SELECT id FROM catalog_snapshots WHERE is_current)"
	    " AND tradeable AND price > 0 AND price <= " FILLER_MAX_PRICE
	    " AND name NOT LIKE '% note' AND name NOT LIKE '3rd age%' ORDER BY item_id");
	/* The lowest id of a name is the item itself, not a variant. */
	st_item_named = db_prepare("SELECT item_id, price FROM catalog_items"
	    " WHERE snapshot_id = (SELECT id FROM catalog_snapshots WHERE is_current)"
	    " AND name = $1 ORDER BY item_id LIMIT 1");
	st_skill_ins = db_prepare("INSERT INTO skills (character_id, skill, xp) VALUES ($1, $2, $3)"
	    " ON CONFLICT DO NOTHING");
	/* $5 minutes ago: the demo's week of history. */
	st_activity_ins = db_prepare_dual(
	    "INSERT INTO activity (group_id, character_id, user_id, kind, data, created_at)"
	    " VALUES ($1, $2, $3, $4, $5,"
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $6 || ' minutes'))",
	    "INSERT INTO activity (group_id, character_id, user_id, kind, data, created_at)"
	    " VALUES ($1, $2, $3, $4, $5::jsonb, now() - $6::bigint * interval '1 minute')");
	st_cont_ins = db_prepare("INSERT INTO containers (character_id, container, seq)"
	    " VALUES ($1, $2, 0) ON CONFLICT DO NOTHING");
	/* SQLite needs the WHERE to parse an upsert after INSERT ... SELECT. */
	st_items_ins = db_prepare_dual(
	    "INSERT INTO container_items (character_id, container, item_id, qty, held_since)"
	    " SELECT $1, $2, json_extract(value, '$.id'), json_extract(value, '$.qty'),"
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now',"
	    " '-' || json_extract(value, '$.age') || ' minutes')"
	    " FROM json_each($3) WHERE TRUE ON CONFLICT DO NOTHING",
	    "INSERT INTO container_items (character_id, container, item_id, qty, held_since)"
	    " SELECT $1::bigint, $2::text, x.id, x.qty, now() - x.age * interval '1 minute'"
	    " FROM jsonb_to_recordset($3::jsonb) AS x(id integer, qty bigint, age integer)"
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

/* Filler stacks are worth at most this much each: the kits, not random
 * piles of some pricey stackable, make up the top of the vault. */
#define FILLER_STACK_VALUE	1500000

/* A believable quantity of one filler item of a bank. */
static int64_t
quantity(const struct db_result *cat, int i, uint64_t *s)
{
	const char *name = db_text(cat, i, DEMO_ITEM_NAME);
	int64_t price = db_int(cat, i, DEMO_ITEM_PRICE), hi;

	if (ends_with(name, " rune") || strstr(name, "arrow") || strstr(name, "bolts") ||
	    ends_with(name, " dart"))
		hi = 8000;
	else if (db_bool(cat, i, DEMO_ITEM_STACKABLE))
		hi = 1000;
	else
		return 1;		/* gear and other unstackable items */
	if (price > 0 && hi > FILLER_STACK_VALUE / price)
		hi = FILLER_STACK_VALUE / price;
	return hi < 1 ? 1 : between(s, 1, hi);
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

/* The id and price of the catalog item called name: 1, 0 when the
 * catalog lacks it, -1 on error. */
static int
named(const char *name, int64_t *id, int64_t *price)
{
	struct db_value p[] = { DB_TEXT(name) };
	struct db_result *row = NULL;
	int rc = db_get(st_item_named, p, 1, &row);

	if (rc == 1) {
		*id = db_int(row, 0, DEMO_NAMED_ID);
		*price = db_int(row, 0, DEMO_NAMED_PRICE);
	}
	db_result_free(row);
	return rc;
}

/* Append the kit's items found in the catalog to items ({"id","qty"});
 * their ids also go to used[] (up to *nused < max).  0 or -1. */
static int
add_kit(json_t *items, const struct kit_item *kit, size_t n, int64_t *used, size_t *nused,
    size_t max, uint64_t *s)
{
	for (size_t k = 0; k < n && kit[k].name != NULL; k++) {
		int64_t id, price;
		int rc = named(kit[k].name, &id, &price);

		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;	/* an older catalog may lack it */
		json_array_append_new(items, json_pack("{s:I,s:I}", "id", (json_int_t)id,
		    "qty", (json_int_t)between(s, kit[k].lo, kit[k].hi)));
		if (used != NULL && *nused < max)
			used[(*nused)++] = id;
	}
	return 0;
}

static int
is_used(int64_t id, const int64_t *used, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (used[i] == id)
			return 1;
	return 0;
}

/*
 * A bank: coins in the millions, the character's core kit, then filler
 * up to 300-500 distinct items (a partial Fisher-Yates shuffle of the
 * candidates, skipping what the kit holds).
 */
static json_t *
pick_bank(const struct db_result *cat, const struct kit *kit, uint64_t *s, int *err)
{
	int n = db_nrows(cat), coins = find_item(cat, COINS);
	int want = (int)between(s, 300, 500);
	int64_t used[KIT_MAX + 1];
	size_t nused = 0;
	int *idx = xcalloc((size_t)n + 1, sizeof(*idx));
	json_t *items = json_array();

	json_array_append_new(items, json_pack("{s:I,s:I}", "id", (json_int_t)COINS,
	    "qty", (json_int_t)between(s, 2000000, 60000000)));
	used[nused++] = COINS;
	if (add_kit(items, kit->bank, KIT_MAX, used, &nused, KIT_MAX + 1, s) < 0)
		*err = 1;
	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (int k = 0; k < n && (int)json_array_size(items) < want; k++) {
		int j = k + (int)(splitmix64(s) % (uint64_t)(n - k)), t = idx[k];
		int64_t id;

		idx[k] = idx[j];
		idx[j] = t;
		id = db_int(cat, idx[k], DEMO_ITEM_ID);
		if (idx[k] == coins || is_used(id, used, nused))
			continue;
		json_array_append_new(items, json_pack("{s:I,s:I}", "id", (json_int_t)id,
		    "qty", (json_int_t)quantity(cat, idx[k], s)));
	}
	free(idx);
	return items;
}

/* A container holding exactly a kit (or nothing). */
static json_t *
pick_kit(const struct kit_item *kit, size_t n, uint64_t *s, int *err)
{
	json_t *items = json_array();

	if (add_kit(items, kit, n, NULL, NULL, 0, s) < 0)
		*err = 1;
	return items;
}

/* An inventory: its kit, coins in the first slot. */
static json_t *
pick_inventory(const struct kit *kit, uint64_t *s, int *err)
{
	json_t *items = pick_kit(kit->inventory, KIT_MAX, s, err);

	json_array_insert_new(items, 0, json_pack("{s:I,s:I}", "id", (json_int_t)COINS,
	    "qty", (json_int_t)between(s, 10000, 900000)));
	return items;
}

/* ---- skills and a week of activity ---- */

struct seed {
	struct demo_result *out;
	int seeded;
	int64_t user[ARRAY_SIZE(demo_users)];
};

static const char *const skill_names[] = {
	"attack", "hitpoints", "mining", "strength", "agility", "smithing", "defence",
	"herblore", "fishing", "ranged", "thieving", "cooking", "prayer", "crafting",
	"firemaking", "magic", "fletching", "woodcutting", "runecraft", "slayer", "farming",
	"construction", "hunter",
};
#define NSKILLS	ARRAY_SIZE(skill_names)

/* Each character's typical level; skills spread around it. */
static const int base_level[] = { 88, 82, 95, 79 };

/* The least xp of level (binary search over the game's table). */
static int64_t
xp_of_level(int level)
{
	int64_t lo = 0, hi = 13034431;

	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (store_skills_level(mid) >= level)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Levels of character c, drawn around its base level. */
static void
levels_of(size_t c, int level[NSKILLS])
{
	uint64_t s = 0x5eedULL + c;

	for (size_t k = 0; k < NSKILLS; k++) {
		int64_t l = base_level[c] + between(&s, -12, 11);

		level[k] = (int)(l > 99 ? 99 : l < 1 ? 1 : l);
	}
	level[1] = level[1] < 10 ? 10 : level[1];	/* hitpoints start at 10 */
}

static int
seed_skills(size_t c, int64_t char_id)
{
	int level[NSKILLS];
	uint64_t s = 0x5ca1eULL + c;

	levels_of(c, level);
	for (size_t k = 0; k < NSKILLS; k++) {
		int64_t xp = xp_of_level(level[k]), next;
		struct db_value p[] = { DB_INT(char_id), DB_TEXT(skill_names[k]), DB_INT(0) };

		next = level[k] < 99 ? xp_of_level(level[k] + 1) : xp + 2000000;
		p[2] = DB_INT(xp + between(&s, 0, next - xp - 1));
		if (db_run(st_skill_ins, p, 3, NULL) < 0)
			return -1;
	}
	return 0;
}

static int
add_activity(struct seed *sd, size_t c, int64_t char_id, const char *kind, json_t *data,
    int64_t minutes_ago)
{
	char *text = json_dumps(data, JSON_COMPACT);
	struct db_value p[] = { DB_INT(sd->out->group_id), DB_INT(char_id),
	    DB_INT(sd->user[demo_chars[c].user]), DB_TEXT(kind), DB_NULL(), DB_INT(minutes_ago) };
	int64_t rc;

	json_decref(data);
	if (text == NULL) {
		db_set_error(DBE_MISUSE, "", "demo activity: json_dumps failed");
		return -1;
	}
	p[4] = DB_TEXT(text);
	rc = db_run(st_activity_ins, p, 6, NULL);
	free(text);
	return rc < 0 ? -1 : 0;
}

/* A loot entry: {"source", "items": [{"id","name","qty","value"}]}. */
static json_t *
loot(const char *source, const struct kit_item *drop, uint64_t *s, int *err)
{
	json_t *items = json_array();

	for (size_t k = 0; drop[k].name != NULL; k++) {
		int64_t id, price, qty = between(s, drop[k].lo, drop[k].hi);
		int rc = named(drop[k].name, &id, &price);

		if (rc < 0)
			*err = 1;
		if (rc != 1)
			continue;
		json_array_append_new(items, json_pack("{s:I,s:s,s:I,s:I}", "id", (json_int_t)id,
		    "name", drop[k].name, "qty", (json_int_t)qty,
		    "value", (json_int_t)(qty * price)));
	}
	return json_pack("{s:s,s:o}", "source", source, "items", items);
}

static const struct kit_item drop_zulrah[] = {
	{ "Zulrah's scales", 100, 500 }, { "Tanzanite fang", 1, 1 }, { "Snapdragon seed", 1, 2 },
	{ NULL, 0, 0 } };
static const struct kit_item drop_vorkath[] = {
	{ "Superior dragon bones", 2, 2 }, { "Blue dragonhide", 2, 2 },
	{ "Dragonstone bolt tips", 15, 30 }, { "Rune kiteshield", 1, 2 }, { NULL, 0, 0 } };
static const struct kit_item drop_barrows[] = {
	{ "Ahrim's hood", 1, 1 }, { "Death rune", 60, 200 }, { "Blood rune", 30, 120 },
	{ NULL, 0, 0 } };
static const struct kit_item drop_gwd[] = {
	{ "Bandos tassets", 1, 1 }, { "Coins", 19000, 21000 }, { NULL, 0, 0 } };
static const struct kit_item drop_chest[] = {
	{ "Uncut diamond", 3, 8 }, { "Runite ore", 5, 15 }, { NULL, 0, 0 } };

/*
 * About a week of history, oldest first (so ids follow time): loot with
 * its items and value, level-ups that agree with the skills, quests and a
 * death.  Inside the free plan's 7 days, so nothing is pruned at once.
 */
static int
seed_activity(struct seed *sd, const int64_t *char_ids)
{
	uint64_t s = 0xac71ULL;
	int err = 0, level[NSKILLS];
	static const struct {
		size_t c;
		int minutes_ago;
		const char *kind;
		const struct kit_item *drop;
		const char *what;	/* loot source, quest, death place, or skill */
	} plan[] = {
		{ 3, 9000, "quest", NULL, "Dragon Slayer II" },
		{ 0, 8400, "loot", drop_barrows, "Barrows" },
		{ 2, 7900, "level_up", NULL, "mining" },
		{ 3, 7000, "loot", drop_zulrah, "Zulrah" },
		{ 1, 6200, "death", NULL, "Wilderness" },
		{ 1, 6100, "level_up", NULL, "ranged" },
		{ 0, 5200, "quest", NULL, "Monkey Madness II" },
		{ 3, 4300, "loot", drop_gwd, "General Graardor" },
		{ 2, 3600, "loot", drop_chest, "Crystal chest" },
		{ 0, 2900, "level_up", NULL, "slayer" },
		{ 3, 2000, "loot", drop_vorkath, "Vorkath" },
		{ 2, 1300, "level_up", NULL, "runecraft" },
		{ 1, 700, "quest", NULL, "Song of the Elves" },
		{ 0, 240, "loot", drop_zulrah, "Zulrah" },
		{ 3, 95, "level_up", NULL, "attack" },
		{ 0, 30, "level_up", NULL, "strength" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(plan); i++) {
		size_t c = plan[i].c;
		json_t *data;

		if (char_ids[c] == 0)
			continue;	/* a character left alone */
		if (strcmp(plan[i].kind, "loot") == 0) {
			data = loot(plan[i].what, plan[i].drop, &s, &err);
		} else if (strcmp(plan[i].kind, "quest") == 0) {
			data = json_pack("{s:s}", "quest", plan[i].what);
		} else if (strcmp(plan[i].kind, "death") == 0) {
			data = json_pack("{s:s}", "location", plan[i].what);
		} else {
			size_t k = 0;

			while (k < NSKILLS && strcmp(skill_names[k], plan[i].what) != 0)
				k++;
			levels_of(c, level);
			data = json_pack("{s:s,s:i,s:i,s:I}", "skill", plan[i].what,
			    "level", level[k], "previous_level", level[k] - 1,
			    "xp", (json_int_t)xp_of_level(level[k]));
		}
		if (err || add_activity(sd, c, char_ids[c], plan[i].kind, data,
		    plan[i].minutes_ago) < 0)
			return -1;
	}
	return 0;
}

/* ---- the seed ---- */

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

/*
 * Write a container's items.  Each gets an "age" in minutes, so "held
 * since" reads like a lived-in account: a bank's items arrived over two
 * months, worn gear over a month, an inventory's today.
 */
static int
fill(int64_t char_id, const char *container, json_t *items, struct seed *sd)
{
	struct db_value p[] = { DB_INT(char_id), DB_TEXT(container), DB_NULL() };
	int64_t most = strcmp(container, "inventory") == 0 ? 600 :
	    strcmp(container, "equipment") == 0 ? 43200 : 86400;
	uint64_t s = (uint64_t)char_id * 7919u + strlen(container);
	size_t i;
	json_t *it;
	char *text;
	int64_t rc;

	json_array_foreach(items, i, it)
		json_object_set_new(it, "age", json_integer(between(&s, 1, most)));
	text = json_dumps(items, JSON_COMPACT);

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

/* Character c: its row, its share in the group, skills and containers;
 * *char_id is set, or left 0 when the name belongs to somebody else. */
static int
seed_character(size_t c, const struct db_result *cat, struct seed *sd, int64_t *char_id)
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
	*char_id = id;
	if (seed_skills(c, id) < 0)
		return -1;
	if (db_nrows(cat) == 0)
		return 0;
	for (const char *n = demo_chars[c].name; *n; n++)
		s = s * 131 + (unsigned char)*n;
	{
		const struct kit *kit = &kits[c];
		struct {
			const char *container;
			json_t *items;
		} fills[5];
		size_t nf = 0;
		int err = 0;

		fills[nf].container = "bank";
		fills[nf++].items = pick_bank(cat, kit, &s, &err);
		fills[nf].container = "inventory";
		fills[nf++].items = pick_inventory(kit, &s, &err);
		fills[nf].container = "equipment";
		fills[nf++].items = pick_kit(kit->equipment, ARRAY_SIZE(kit->equipment), &s, &err);
		if (c == STORAGE_CHAR) {
			fills[nf].container = "group_storage";
			fills[nf++].items = pick_kit(group_storage, ARRAY_SIZE(group_storage), &s,
			    &err);
		}
		if (c == SEED_VAULT_CHAR) {
			fills[nf].container = "seed_vault";
			fills[nf++].items = pick_kit(seed_vault, ARRAY_SIZE(seed_vault), &s, &err);
		}
		for (size_t f = 0; f < nf; f++) {
			if (!err && rc == 0)
				rc = fill(id, fills[f].container, fills[f].items, sd);
			json_decref(fills[f].items);
		}
		if (err)
			return -1;
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
	int64_t char_ids[ARRAY_SIZE(demo_chars)] = { 0 };
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
		if (seed_character(c, cat, sd, &char_ids[c]) < 0) {
			db_result_free(cat);
			return -1;
		}
	db_result_free(cat);
	if (seed_activity(sd, char_ids) < 0)
		return -1;
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
