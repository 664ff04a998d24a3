/*
 * store/skills.c -- the skills table and the experience table.
 *
 * An update locks the character row (store_characters_lock), compares the
 * seq, reads the stored xp, and upserts only the skills whose xp changed,
 * in one statement taking them as a JSON object {"attack": xp, ...}; so
 * updated_at says when a skill last moved.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/db/db.h"
#include "src/store/store.h"
#include "src/store/activity.h"
#include "src/store/characters.h"
#include "src/store/skills.h"
#include "src/store/users.h"

/* The experience needed for each level, from 1 (index 0) to 99: level L
 * needs floor(sum over l < L of floor(l + 300 * 2^(l/7)) / 4). */
static const int32_t xp_table[99] = {
	0, 83, 174, 276, 388, 512, 650, 801, 969, 1154, 1358, 1584, 1833, 2107,
	2411, 2746, 3115, 3523, 3973, 4470, 5018, 5624, 6291, 7028, 7842, 8740,
	9730, 10824, 12031, 13363, 14833, 16456, 18247, 20224, 22406, 24815,
	27473, 30408, 33648, 37224, 41171, 45529, 50339, 55649, 61512, 67983,
	75127, 83014, 91721, 101333, 111945, 123660, 136594, 150872, 166636,
	184040, 203254, 224466, 247886, 273742, 302288, 333804, 368599, 407015,
	449428, 496254, 547953, 605032, 668051, 737627, 814445, 899257, 992895,
	1096278, 1210421, 1336443, 1475581, 1629200, 1798808, 1986068, 2192818,
	2421087, 2673114, 2951373, 3258594, 3597792, 3972294, 4385776, 4842295,
	5346332, 5902831, 6517253, 7195629, 7944614, 8771558, 9684577, 10692629,
	11805606, 13034431,
};

int
store_skills_valid_name(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return 0;
	for (const char *p = name; *p; p++, n++)
		if (*p < 'a' || *p > 'z')
			return 0;
	return n >= 1 && n <= STORE_SKILL_NAME_MAX;
}

int
store_skills_level(int64_t xp)
{
	int lo = 0, hi = 98;

	/* The highest index whose xp is reached. */
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;

		if (xp >= xp_table[mid])
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo + 1;
}

/* Stored skills: rows (skill, xp). */
static int
load(int64_t character_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(character_id) };

	if (st == NULL)
		st = db_prepare("SELECT skill, xp FROM skills WHERE character_id = $1");
	return db_all(st, p, 1, rows);
}

static int
upsert(int64_t character_id, json_t *changed, const char *now)
{
	static struct db_stmt *st;
	char *json = json_dumps(changed, JSON_COMPACT);
	struct db_value p[] = { DB_INT(character_id), DB_TEXT(json), DB_TEXT(now) };
	int64_t rc;

	if (st == NULL)
		st = db_prepare_dual(
		    "INSERT INTO skills (character_id, skill, xp, updated_at) "
		    "SELECT $1, key, value, $3 FROM json_each($2) WHERE true "
		    "ON CONFLICT (character_id, skill) DO UPDATE "
		    "SET xp = excluded.xp, updated_at = excluded.updated_at",
		    "INSERT INTO skills (character_id, skill, xp, updated_at) "
		    "SELECT $1::bigint, key, value::bigint, $3::timestamptz "
		    "FROM jsonb_each_text($2::jsonb) "
		    "ON CONFLICT (character_id, skill) DO UPDATE "
		    "SET xp = excluded.xp, updated_at = excluded.updated_at");
	rc = json ? db_run(st, p, 3, NULL) : -1;
	free(json);
	return rc < 0 ? -1 : 0;
}

static int
level_up(int64_t character_id, const char *skill, int from, int to, int64_t xp,
	 struct store_activity_ids *ids)
{
	json_t *data = json_pack("{s:s,s:i,s:i,s:I}", "skill", skill, "level", to,
	    "previous_level", from, "xp", (json_int_t)xp);
	int rc = store_activity_record(character_id, ACTIVITY_LEVEL_UP, data, ids);

	json_decref(data);
	return rc;
}

struct put_args {
	int64_t character_id, seq;
	const struct skill_xp *v;
	int n;
	struct skills_result *out;
};

static int
put_tx(void *arg)
{
	struct put_args *a = arg;
	struct db_result *old = NULL;
	char now[STORE_TIME_LEN];
	json_t *changed = NULL;
	int64_t stored;
	int rc = -1;

	memset(a->out, 0, sizeof(*a->out));
	store_time(now, 0);
	rc = store_characters_lock(a->character_id, &stored);
	if (rc == 0)		/* deleted since the handler found it */
		db_set_error(DBE_CONSTRAINT, "", "character deleted during a skills update");
	if (rc != 1)
		return -1;
	rc = -1;
	a->out->seq = stored;
	if (a->seq <= stored)
		return 0;
	if (load(a->character_id, &old) < 0)
		return -1;
	changed = json_object();
	for (int i = 0; i < a->n; i++) {
		int64_t was = -1;

		for (int j = 0; j < db_nrows(old); j++)
			if (strcmp(db_text(old, j, 0), a->v[i].skill) == 0)
				was = db_int(old, j, 1);
		if (was == a->v[i].xp)
			continue;
		json_object_set_new(changed, a->v[i].skill, json_integer(a->v[i].xp));
		a->out->updated++;
		if (was >= 0 && store_skills_level(a->v[i].xp) > store_skills_level(was)) {
			if (level_up(a->character_id, a->v[i].skill, store_skills_level(was),
			    store_skills_level(a->v[i].xp), a->v[i].xp, &a->out->activity) < 0)
				goto out;
			a->out->level_ups++;
		}
	}
	if ((json_object_size(changed) > 0 && upsert(a->character_id, changed, now) < 0) ||
	    store_characters_touch(a->character_id, now, a->seq) < 0)
		goto out;
	a->out->applied = 1;
	a->out->seq = a->seq;
	rc = 0;
out:
	json_decref(changed);
	db_result_free(old);
	return rc;
}

int
store_skills_put(int64_t character_id, int64_t seq, const struct skill_xp *v, int n,
		 struct skills_result *out)
{
	struct put_args a = { character_id, seq, v, n, out };

	memset(out, 0, sizeof(*out));
	if (db_tx(put_tx, &a) == 0)
		return 0;
	store_activity_ids_free(&out->activity);	/* rolled back */
	return -1;
}

int
store_skills_member(int64_t group_id, int64_t user_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_INT(user_id) };

	/* Columns in the order of enum member_skill_col. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT c.id, c.name, s.skill, s.xp, s.updated_at "
		    "FROM group_characters gc JOIN characters c ON c.id = gc.character_id "
		    "LEFT JOIN skills s ON s.character_id = c.id "
		    "WHERE gc.group_id = $1 AND gc.user_id = $2 ORDER BY c.id, s.skill");
	return db_all(st, p, 2, rows);
}
