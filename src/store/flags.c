/*
 * store/flags.c -- reading and writing feature flags.
 *
 * The set of keys is fixed by the schema's seed rows (a migration adds a
 * new flag); the API only switches existing ones, so an unknown key is
 * "not found" rather than created.  updated_at records the switch for
 * operators; the workers' caches expire by time, not by this column.
 */
#include <stdlib.h>

#include "src/db/db.h"
#include "src/store/flags.h"
#include "src/util.h"

/* Rows of st_all, in SELECT order; callers get struct flag instead. */
enum flag_col {
	FLAG_KEY,
	FLAG_ENABLED,
};

static struct db_stmt *st_all, *st_set;

static void
prepare(void)
{
	if (st_all)
		return;
	st_all = db_prepare("SELECT key, enabled FROM feature_flags ORDER BY key");
	st_set = db_prepare_dual(
	    "UPDATE feature_flags SET enabled = $2,"
	    " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = $1",
	    "UPDATE feature_flags SET enabled = $2, updated_at = now() WHERE key = $1");
}

int
store_flags_all(struct flag **out, size_t *n)
{
	struct db_result *rows = NULL;
	struct flag *f;
	int nr;

	prepare();
	*out = NULL;
	*n = 0;
	if (db_all(st_all, NULL, 0, &rows) < 0)
		return -1;
	nr = db_nrows(rows);
	f = xcalloc((size_t)nr + 1, sizeof(*f));
	for (int i = 0; i < nr; i++) {
		f[i].key = xstrdup(db_text(rows, i, FLAG_KEY));
		f[i].enabled = db_bool(rows, i, FLAG_ENABLED);
	}
	db_result_free(rows);
	*out = f;
	*n = (size_t)nr;
	return 0;
}

void
store_flags_free(struct flag *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++)
		free(f[i].key);
	free(f);
}

int
store_flags_set(const char *key, int enabled)
{
	struct db_value p[] = { DB_TEXT(key), DB_BOOL(enabled) };
	int64_t rc;

	prepare();
	rc = db_run(st_set, p, 2, NULL);
	if (rc < 0)
		return -1;
	return rc > 0 ? 1 : 0;
}
