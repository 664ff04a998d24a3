/*
 * store/vault.c -- the vault's reads.
 *
 * Pages and totals read the kept vault (vault_keep.c writes it): the rows
 * of vault_items for (group, container) -- container '' is the whole
 * vault -- already summed and priced, each carrying its holders as kept
 * JSON.  The default order (value descending, ties by id ascending) has
 * an index ending in item_id and the id order is the primary key, so
 * those pages are one index range from the cursor on, LIMIT rows.  The
 * other orders read the group's rows of that container and keep the top
 * LIMIT (a top-N sort over its distinct items, never its holdings): an
 * index each would be written twice by every sync that changes an item
 * (docs/SCHEMA.md "The kept vault").  Then the totals: the kept
 * vault_totals row, or, with a name filter, a sum over the group's
 * matching rows (the name must be checked on every row anyway).
 *
 * The sort key and direction cannot be parameters, nor can the presence
 * of a cursor or a name filter without losing the index range, so each
 * combination is its own statement, spelled out at compile time by
 * PAGE_SQL: 4 keys x 2 directions x (filter or not) x (cursor or not).
 * The engines differ only in the exact sum; the name key is bytewise on
 * both (sname collates "C" on PostgreSQL).  The cursor test repeats the
 * key's bound by itself (CURSOR) so that it is an index bound rather than
 * a filter where there is an index.  The name filter is one LIKE pattern
 * built here with %, _ and \ escaped, so a q of "50%" means those three
 * characters; sname is already lower case, the pattern is lowered.
 *
 * Numbers are exact (docs/API.md "Numbers").  The kept value column is
 * clamped to 2^63 - 1 (it is a sort key, and cursors carry it); totals
 * are exact and may be wider than 64 bits (PostgreSQL numeric, an INTEGER
 * or decimal TEXT from SQLite): store_vault_total() clamps them in C and
 * says so.  The summary's sums use the SQLite functions db_sqlite.c
 * registers (sum_mul), or NUMERIC on PostgreSQL.
 *
 * One item's holders are a range of the kept vault_holders (with a key
 * lookup each for the owner and held_since); the summary's containers are
 * the kept vault_totals rows.  Only the summary's per-member totals still
 * sum the members' container rows: they are not kept, since every sync
 * would write one more row per group for them (docs/SCHEMA.md "The kept
 * vault").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/vault.h"
#include "src/util.h"

#define CURRENT_SNAPSHOT "(SELECT id FROM catalog_snapshots WHERE is_current)"
#define CURRENT_VERSION "(SELECT version FROM catalog_snapshots WHERE is_current)"

/* The exact sum of A * B over the rows. */
#define LITE_SUM_MUL(A, B)	"sum_mul(" A ", " B ")"
#define PG_SUM_MUL(A, B)	"SUM((" A ")::numeric * (" B "))"

/* The name filter: P is its LIKE pattern (like_pattern()). */
#define NAME_LIKE(P)	"v.sname LIKE lower(" P ") ESCAPE '\\'"

/*
 * The page's rows, from the cursor on, LIMIT $3 (an index range for the
 * default order and the id order, see above).  The cursor test repeats "KEY <= $k" (or >=) on
 * its own so that it bounds the index range; the OR only settles ties.
 * Columns: item_id, name, qty, unit_price, value, sname, holders.
 */
#define CURSOR(KEY, CMP, K, I) \
	" AND v." KEY " " CMP "= " K " AND (v." KEY " " CMP " " K " OR v.item_id > " I ")"
#define PAGE_ROWS(KEY, DIR, FILTER) \
	"SELECT v.item_id, v.name, v.qty, v.unit_price, v.value, v.sname, v.holders " \
	"FROM vault_items v WHERE v.group_id = $1 AND v.container = $2" FILTER \
	" ORDER BY v." KEY " " DIR ", v.item_id LIMIT $3"

/* The totals: kept (no name filter), or summed over the matching rows. */
#define KEPT_TOTALS \
	"(SELECT COALESCE(MAX(t.item_count), 0) AS n, COALESCE(MAX(t.total_value), 0) AS v " \
	"FROM vault_totals t WHERE t.group_id = $1 AND t.container = $2)"
#define MATCH_TOTALS(SUM_MUL, P) \
	"(SELECT COUNT(*) AS n, COALESCE(" SUM_MUL("v.qty", "v.unit_price") ", 0) AS v " \
	"FROM vault_items v WHERE v.group_id = $1 AND v.container = $2 " \
	"AND " NAME_LIKE(P) ")"

/* The selected columns are in the order of enum vault_page_col (vault.h). */
#define PAGE_SQL(KEY, DIR, FILTER, TOTALS) \
	"SELECT p.item_id, p.name, p.qty, p.unit_price, p.value, p.sname, p.holders, " \
	"tot.n, tot.v, " CURRENT_VERSION " FROM (" PAGE_ROWS(KEY, DIR, FILTER) ") p " \
	"CROSS JOIN " TOTALS " tot ORDER BY p." KEY " " DIR ", p.item_id"

/* Both engines' texts of one (key, direction, filter) page.  Parameters:
 * $1 group, $2 container ('' for all), $3 limit, then the pattern when Q
 * is the name filter, then the cursor key and id when CUR is one. */
#define PAGE_PAIR(KEY, DIR, FILTER, TOTALS_LITE, TOTALS_PG) \
	{ PAGE_SQL(KEY, DIR, FILTER, TOTALS_LITE), PAGE_SQL(KEY, DIR, FILTER, TOTALS_PG) }
#define PAGE_PAIRS(KEY, CMP, DIR) { \
	{ PAGE_PAIR(KEY, DIR, "", KEPT_TOTALS, KEPT_TOTALS), \
	  PAGE_PAIR(KEY, DIR, CURSOR(KEY, CMP, "$4", "$5"), KEPT_TOTALS, KEPT_TOTALS) }, \
	{ PAGE_PAIR(KEY, DIR, " AND " NAME_LIKE("$4"), \
	    MATCH_TOTALS(LITE_SUM_MUL, "$4"), MATCH_TOTALS(PG_SUM_MUL, "$4")), \
	  PAGE_PAIR(KEY, DIR, " AND " NAME_LIKE("$4") CURSOR(KEY, CMP, "$5", "$6"), \
	    MATCH_TOTALS(LITE_SUM_MUL, "$4"), MATCH_TOTALS(PG_SUM_MUL, "$4")) } }

/* [sort][desc][q][cursor][engine]; the key names follow enum vault_sort. */
static const char *const page_sql[4][2][2][2][2] = {
	{ PAGE_PAIRS("value", ">", "ASC"), PAGE_PAIRS("value", "<", "DESC") },
	{ PAGE_PAIRS("qty", ">", "ASC"), PAGE_PAIRS("qty", "<", "DESC") },
	{ PAGE_PAIRS("sname", ">", "ASC"), PAGE_PAIRS("sname", "<", "DESC") },
	{ PAGE_PAIRS("item_id", ">", "ASC"), PAGE_PAIRS("item_id", "<", "DESC") },
};

/*
 * The LIKE pattern "%q%" with the pattern characters of q escaped, into a
 * new string (NULL for no filter; free it).
 */
static char *
like_pattern(const char *q)
{
	char *out, *o;

	if (q == NULL || *q == '\0')
		return NULL;
	out = o = xmalloc(2 * strlen(q) + 3);
	*o++ = '%';
	for (; *q; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			*o++ = '\\';
		*o++ = *q;
	}
	*o++ = '%';
	*o = '\0';
	return out;
}

/* The totals row; columns in the order of enum vault_totals_col. */
#define TOTALS_SQL(TOTALS) \
	"SELECT tot.n, tot.v, " CURRENT_VERSION ", " \
	"(SELECT MAX(c.last_sync_at) FROM group_characters g " \
	"JOIN characters c ON c.id = g.character_id WHERE g.group_id = $1) " \
	"FROM " TOTALS " tot"

int
store_vault_totals(int64_t group_id, const char *container, const char *q,
		   struct db_result **row)
{
	static struct db_stmt *st[2];
	char *pattern = like_pattern(q);
	struct db_value p[] = { DB_INT(group_id), DB_TEXT(container ? container : ""),
	    DB_TEXT(pattern) };
	int f = pattern != NULL, rc;

	if (st[0] == NULL) {
		st[0] = db_prepare(TOTALS_SQL(KEPT_TOTALS));
		st[1] = db_prepare_dual(TOTALS_SQL(MATCH_TOTALS(LITE_SUM_MUL, "$3")),
		    TOTALS_SQL(MATCH_TOTALS(PG_SUM_MUL, "$3")));
	}
	rc = db_get(st[f], p, f ? 3 : 2, row);
	free(pattern);
	if (rc == 0) {
		db_set_error(DBE_SQL, "", "vault totals returned no row");
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

int
store_vault_page(const struct vault_query *vq, struct db_result **rows)
{
	static struct db_stmt *st[4][2][2][2];
	char *pattern = like_pattern(vq->q);
	struct db_value p[6] = { DB_INT(vq->group_id),
	    DB_TEXT(vq->container ? vq->container : ""), DB_INT(vq->limit) };
	int s = (int)vq->sort, d = vq->desc ? 1 : 0, f = pattern != NULL;
	int c = vq->has_cursor ? 1 : 0, n = 3, rc;

	if (st[s][d][f][c] == NULL)
		st[s][d][f][c] = db_prepare_dual(page_sql[s][d][f][c][0],
		    page_sql[s][d][f][c][1]);
	if (f)
		p[n++] = DB_TEXT(pattern);
	if (c) {
		p[n++] = vq->sort == VAULT_SORT_NAME ? DB_TEXT(vq->after_name) :
		    DB_INT(vq->after_num);
		p[n++] = DB_INT(vq->after_id);
	}
	rc = db_all(st[s][d][f][c], p, n, rows);
	free(pattern);
	return rc;
}

int
store_vault_item(int64_t group_id, int64_t item_id, struct db_result **holders,
		 struct db_result **item)
{
	static struct db_stmt *st_holders, *st_item;
	struct db_value p[] = { DB_INT(group_id), DB_INT(item_id) };

	/* Columns in the order of enum vault_holder_col and vault_item_col.
	 * The item's kept holders (a range of vault_holders' primary key),
	 * each with its owner and since when it is held (key lookups). */
	if (st_holders == NULL) {
		st_holders = db_prepare(
		    "SELECT c.name, gc.user_id, h.container, h.qty, ci.held_since "
		    "FROM vault_holders h JOIN characters c ON c.id = h.character_id "
		    "JOIN group_characters gc ON gc.group_id = h.group_id "
		    "AND gc.character_id = h.character_id "
		    "JOIN container_items ci ON ci.character_id = h.character_id "
		    "AND ci.container = h.container AND ci.item_id = h.item_id "
		    "WHERE h.group_id = $1 AND h.item_id = $2 "
		    "ORDER BY h.qty DESC, lower(c.name), h.container");
		/* One row even when the catalog lacks the item (or there is
		 * no catalog at all). */
		st_item = db_prepare(
		    "SELECT ca.name, COALESCE(ca.price, 0), s.version "
		    "FROM (SELECT 1 AS one) x "
		    "LEFT JOIN catalog_snapshots s ON s.is_current "
		    "LEFT JOIN catalog_items ca ON ca.snapshot_id = s.id AND ca.item_id = $1");
	}
	*holders = *item = NULL;
	if (db_all(st_holders, p, 2, holders) < 0)
		return -1;
	if (db_get(st_item, p + 1, 1, item) != 1) {
		db_result_free(*holders);
		*holders = NULL;
		if (db_last_error()->kind == DBE_NONE)
			db_set_error(DBE_SQL, "", "vault item returned no row");
		return -1;
	}
	return 0;
}

/*
 * The summary's lists go largest value first by the value they answer:
 * clamped to 2^63 - 1 (LITE_CLAMP, PG_CLAMP), then by user id or
 * container, so two clamped totals keep a fixed order on both engines.
 * Columns in the order of enum vault_member_col and vault_container_col.
 */
#define VALUE_SUM(SUM_MUL)	"COALESCE(" SUM_MUL("ci.qty", "COALESCE(ca.price, 0)") ", 0)"
#define LITE_CLAMP(SUM_MUL)	"CAST(" VALUE_SUM(SUM_MUL) " AS INTEGER)"
#define PG_CLAMP(SUM_MUL)	"LEAST(" VALUE_SUM(SUM_MUL) ", 9223372036854775807)"

#define MEMBERS_SQL(SUM_MUL, CLAMP) \
	"SELECT m.user_id, u.display_name, COUNT(DISTINCT ci.item_id), " \
	VALUE_SUM(SUM_MUL) " " \
	"FROM group_members m JOIN users u ON u.id = m.user_id " \
	"LEFT JOIN group_characters gc " \
	"ON gc.group_id = m.group_id AND gc.user_id = m.user_id " \
	"LEFT JOIN container_items ci ON ci.character_id = gc.character_id " \
	"LEFT JOIN catalog_items ca ON ca.snapshot_id = " CURRENT_SNAPSHOT \
	" AND ca.item_id = ci.item_id " \
	"WHERE m.group_id = $1 " \
	"GROUP BY m.user_id, u.display_name " \
	"ORDER BY " CLAMP(SUM_MUL) " DESC, m.user_id"

/* The kept totals of each container (vault_totals; a row left at zero by
 * removals is no container).  CAST clamps a decimal TEXT total past
 * 2^63 - 1 on SQLite. */
#define CONTAINERS_SQL(CLAMPED) \
	"SELECT t.container, t.item_count, t.total_value FROM vault_totals t " \
	"WHERE t.group_id = $1 AND t.container <> '' AND t.item_count > 0 " \
	"ORDER BY " CLAMPED " DESC, t.container"

int
store_vault_summary(int64_t group_id, struct db_result **members,
		    struct db_result **containers)
{
	static struct db_stmt *st_members, *st_containers;
	struct db_value p[] = { DB_INT(group_id) };

	if (st_members == NULL) {
		st_members = db_prepare_dual(
		    MEMBERS_SQL(LITE_SUM_MUL, LITE_CLAMP),
		    MEMBERS_SQL(PG_SUM_MUL, PG_CLAMP));
		st_containers = db_prepare_dual(
		    CONTAINERS_SQL("CAST(t.total_value AS INTEGER)"),
		    CONTAINERS_SQL("LEAST(t.total_value, 9223372036854775807)"));
	}
	*members = *containers = NULL;
	if (db_all(st_members, p, 1, members) < 0)
		return -1;
	if (db_all(st_containers, p, 1, containers) < 0) {
		db_result_free(*members);
		*members = NULL;
		return -1;
	}
	return 0;
}

int
store_vault_value(int64_t qty, int64_t unit_price, int64_t *value)
{
	/* Two 64-bit factors always fit in 128 bits. */
	__int128 v = (__int128)qty * unit_price;

	*value = v > INT64_MAX ? INT64_MAX : (int64_t)v;
	return v > INT64_MAX;
}

int
store_vault_total(const struct db_result *rows, int row, int col, int64_t *total)
{
	const char *s = db_text(rows, row, col);
	long long v;

	/* strtoll clamps to LLONG_MAX with ERANGE: exactly the answer
	 * (a NUMERIC sum of integers has no fraction to stop at). */
	errno = 0;
	v = s ? strtoll(s, NULL, 10) : 0;
	*total = (int64_t)v;
	return errno == ERANGE;
}
