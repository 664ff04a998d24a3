/*
 * store/vault_history.c -- vault_daily (see vault_history.h).
 *
 * The dialects differ in how a total wider than 64 bits is read: SQLite's
 * vault_totals.total_value is then decimal TEXT (typeof() says so),
 * PostgreSQL's is numeric (LEAST() it); and in the day's type (TEXT
 * 'YYYY-MM-DD' against date, read back with to_char).
 */
#include <string.h>

#include "src/db/db.h"
#include "src/store/plans.h"
#include "src/store/store.h"
#include "src/store/vault_history.h"

#define DAY_MS	(86400LL * 1000)

/* The upsert of today's rows; $1 is the day, the groups follow. */
#define UPSERT_SQLITE \
	"INSERT INTO vault_daily (group_id, day, total_value, item_count) " \
	"SELECT t.group_id, $1, CASE WHEN typeof(t.total_value) = 'integer' " \
	"THEN t.total_value ELSE 9223372036854775807 END, t.item_count " \
	"FROM vault_totals t WHERE t.container = '' AND "
#define UPSERT_PG \
	"INSERT INTO vault_daily (group_id, day, total_value, item_count) " \
	"SELECT t.group_id, $1::date, " \
	"LEAST(t.total_value, 9223372036854775807)::bigint, t.item_count " \
	"FROM vault_totals t WHERE t.container = '' AND "
#define UPSERT_TAIL \
	" ON CONFLICT (group_id, day) DO UPDATE SET " \
	"total_value = excluded.total_value, item_count = excluded.item_count " \
	"WHERE vault_daily.total_value <> excluded.total_value " \
	"OR vault_daily.item_count <> excluded.item_count"
#define CHARACTER_GROUPS \
	"t.group_id IN (SELECT group_id FROM group_characters WHERE character_id = $2)"

/* 'YYYY-MM-DD' of the store's clock, plus offset_ms, into day[11]. */
static const char *
day_of(char day[11], int64_t offset_ms)
{
	char now[STORE_TIME_LEN];

	store_time(now, offset_ms);
	memcpy(day, now, 10);
	day[10] = '\0';
	return day;
}

int
store_vault_history_character(int64_t character_id)
{
	static struct db_stmt *st;
	char day[11];
	struct db_value p[] = { DB_TEXT(day_of(day, 0)), DB_INT(character_id) };

	if (st == NULL)
		st = db_prepare_dual(UPSERT_SQLITE CHARACTER_GROUPS UPSERT_TAIL,
		    UPSERT_PG CHARACTER_GROUPS UPSERT_TAIL);
	return db_run(st, p, 2, NULL) < 0 ? -1 : 0;
}

int
store_vault_history_catalog(void)
{
	static struct db_stmt *st;
	char day[11];
	struct db_value p[] = { DB_TEXT(day_of(day, 0)) };

	if (st == NULL)
		st = db_prepare_dual(UPSERT_SQLITE "TRUE" UPSERT_TAIL,
		    UPSERT_PG "TRUE" UPSERT_TAIL);
	return db_run(st, p, 1, NULL) < 0 ? -1 : 0;
}

int
store_vault_history_allowed(int64_t group_id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare("SELECT u.plan FROM groups g JOIN users u ON u.id = g.owner_id "
		    "WHERE g.id = $1");
	rc = db_get(st, p, 1, &row);
	if (rc == 1)
		rc = store_plans_get(db_text(row, 0, 0))->history != 0;
	db_result_free(row);
	return rc;
}

int
store_vault_history_list(int64_t group_id, int days, struct db_result **rows)
{
	static struct db_stmt *st;
	char since[11];
	struct db_value p[] = { DB_INT(group_id),
	    DB_TEXT(day_of(since, -(int64_t)(days - 1) * DAY_MS)) };
	int rc;

	if (days < 1 || days > STORE_VAULT_HISTORY_MAX_DAYS) {
		db_set_error(DBE_MISUSE, "", "history days out of range");
		return -1;
	}
	if ((rc = store_vault_history_allowed(group_id)) <= 0)
		return rc;
	/* Columns in the order of enum vault_history_col. */
	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT day, total_value, item_count FROM vault_daily "
		    "WHERE group_id = $1 AND day >= $2 ORDER BY day",
		    "SELECT to_char(day, 'YYYY-MM-DD'), total_value, item_count FROM vault_daily "
		    "WHERE group_id = $1 AND day >= $2::date ORDER BY day");
	return db_all(st, p, 2, rows) < 0 ? -1 : 1;
}

int
store_vault_history_purge(int keep_days, int limit)
{
	static struct db_stmt *st;
	char before[11];
	struct db_value p[] = {
	    DB_TEXT(day_of(before, -(int64_t)(keep_days - 1) * DAY_MS)), DB_INT(limit) };

	/* A primary-key probe (group_id, day) per group plus the rows
	 * deleted: vault_daily has no index on day alone. */
	if (st == NULL)
		st = db_prepare_dual(
		    "DELETE FROM vault_daily WHERE (group_id, day) IN "
		    "(SELECT v.group_id, v.day FROM groups g JOIN vault_daily v "
		    "ON v.group_id = g.id AND v.day < $1 LIMIT $2)",
		    "DELETE FROM vault_daily WHERE (group_id, day) IN "
		    "(SELECT v.group_id, v.day FROM groups g JOIN vault_daily v "
		    "ON v.group_id = g.id AND v.day < $1::date LIMIT $2)");
	return (int)db_run(st, p, 2, NULL);
}
