/*
 * store/activity.c -- the activity table.
 *
 * Recording is one statement whatever the number of groups: INSERT ...
 * SELECT from group_characters (its character index finds the groups), the
 * user being the sharing member stored there.  created_at takes the column
 * default, so on PostgreSQL all rows of one transaction share its start
 * time; order within the feed is by id, never by time.  RETURNING hands
 * back each new row's group and id, which the write's live events name.
 *
 * The same statement says, per row written, whether its group has an
 * enabled webhook (webhooks_group_idx), so the outbox insert runs only
 * when there is something to deliver: a sync to groups without webhooks
 * costs no extra round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/activity.h"
#include "src/store/webhooks.h"
#include "src/util.h"

/* The columns of enum activity_col, in its order, for every read below. */
#define ENTRY_COLUMNS \
	"SELECT a.id, a.kind, c.name, a.user_id, a.data, a.created_at " \
	"FROM activity a LEFT JOIN characters c ON c.id = a.character_id "

/* The rows store_activity_record's INSERT returns, in RETURNING order. */
enum recorded_col {
	RECORDED_GROUP_ID,
	RECORDED_ID,
	RECORDED_HOOKED,	/* its group has an enabled webhook */
};

int
store_activity_groups(int64_t character_id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(character_id) };
	struct db_result *row = NULL;
	int n;

	if (st == NULL)
		st = db_prepare("SELECT count(*) FROM group_characters WHERE character_id = $1");
	if (db_get(st, p, 1, &row) < 0)
		return -1;
	n = (int)db_int(row, 0, 0);
	db_result_free(row);
	return n;
}

void
store_activity_ids_free(struct store_activity_ids *ids)
{
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}

/* The new rows' groups and ids, for the write's live events. */
static void
ids_add(struct store_activity_ids *ids, const struct db_result *rows)
{
	for (int i = 0; i < db_nrows(rows); i++) {
		if (ids->n == ids->cap) {
			ids->cap = ids->cap ? 2 * ids->cap : 4;
			ids->v = xrealloc(ids->v, (size_t)ids->cap * sizeof(*ids->v));
		}
		ids->v[ids->n].group_id = db_int(rows, i, RECORDED_GROUP_ID);
		ids->v[ids->n++].id = db_int(rows, i, RECORDED_ID);
	}
}

/* The outbox rows for the activity rows just written that have a webhook. */
static int
enqueue(const struct db_result *rows)
{
	int n = db_nrows(rows), k = 0, rc;
	int64_t *ids = xcalloc((size_t)n + 1, sizeof(*ids));

	for (int i = 0; i < n; i++)
		if (db_bool(rows, i, RECORDED_HOOKED))
			ids[k++] = db_int(rows, i, RECORDED_ID);
	rc = k ? store_webhooks_enqueue_activity(ids, k) : 0;
	free(ids);
	return rc < 0 ? -1 : 0;
}

int
store_activity_record(int64_t character_id, const char *kind, json_t *data,
		      struct store_activity_ids *ids)
{
	static struct db_stmt *st;
	char *text = json_dumps(data, JSON_COMPACT);
	struct db_value p[] = { DB_INT(character_id), DB_TEXT(kind), DB_TEXT(text) };
	struct db_result *rows = NULL;
	int64_t n;

	if (text == NULL) {
		db_set_error(DBE_MISUSE, "", "activity data does not serialize");
		return -1;
	}
	/* Columns in the order of enum recorded_col. */
	if (st == NULL)
		st = db_prepare_dual(
		    "INSERT INTO activity (group_id, character_id, user_id, kind, data) "
		    "SELECT group_id, character_id, user_id, $2, $3 "
		    "FROM group_characters WHERE character_id = $1 "
		    "RETURNING group_id, id, EXISTS (SELECT 1 FROM webhooks w "
		    "WHERE w.group_id = activity.group_id AND w.enabled)",
		    "INSERT INTO activity (group_id, character_id, user_id, kind, data) "
		    "SELECT group_id, character_id, user_id, $2::text, $3::jsonb "
		    "FROM group_characters WHERE character_id = $1 "
		    "RETURNING group_id, id, EXISTS (SELECT 1 FROM webhooks w "
		    "WHERE w.group_id = activity.group_id AND w.enabled)");
	n = db_run(st, p, 3, &rows);
	free(text);
	if (n > 0 && enqueue(rows) < 0)
		n = -1;
	if (n > 0 && ids != NULL)
		ids_add(ids, rows);
	db_result_free(rows);
	return n < 0 ? -1 : (int)n;
}

int
store_activity_page(int64_t group_id, int64_t before, int limit, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_INT(before), DB_INT(limit) };

	/* Columns in the order of enum activity_col. */
	if (st == NULL)
		st = db_prepare(ENTRY_COLUMNS
		    "WHERE a.group_id = $1 AND a.id < $2 ORDER BY a.id DESC LIMIT $3");
	return db_all(st, p, 3, rows);
}

int
store_activity_since(int64_t group_id, int64_t after, int limit, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_INT(after), DB_INT(limit) };

	if (st == NULL)
		st = db_prepare(ENTRY_COLUMNS
		    "WHERE a.group_id = $1 AND a.id > $2 ORDER BY a.id DESC LIMIT $3");
	return db_all(st, p, 3, rows);
}

int
store_activity_entry(int64_t group_id, int64_t id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id), DB_INT(id) };

	if (st == NULL)
		st = db_prepare(ENTRY_COLUMNS "WHERE a.group_id = $1 AND a.id = $2");
	return db_all(st, p, 2, rows);
}

int
store_activity_latest(int64_t group_id, int64_t *id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id) };
	struct db_result *row = NULL;

	if (st == NULL)
		st = db_prepare("SELECT max(id) FROM activity WHERE group_id = $1");
	if (db_get(st, p, 1, &row) < 0)
		return -1;
	*id = db_isnull(row, 0, 0) ? 0 : db_int(row, 0, 0);
	db_result_free(row);
	return 0;
}
