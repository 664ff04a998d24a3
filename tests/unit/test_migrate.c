/*
 * test_migrate.c -- the schema and its migration runner, on both engines.
 *
 * SQLite tests run in a fresh temporary directory each.  PostgreSQL tests
 * run when COFFER_TEST_PG_DSN names a server (the harness sets it; try
 * with `tests/pgtmp.sh start DIR`), and are skipped by name otherwise
 * (pgtest.h): each creates its own uniquely named database over that DSN
 * and drops it afterwards, so runs never see each other's leftovers.  The
 * tests that need no server (the conninfo is never leaked) always run.
 *
 * Beside the runner they check the schema's own promises: every table is
 * there, the same columns exist on both engines, the cascades remove what
 * hangs off a user, the invariants the indexes enforce hold (one current
 * catalog snapshot, one owner per group, character names unique ignoring
 * case), and SQLite plans the vault query with index searches only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "src/log.h"
#include "src/db/migrate.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/test.h"
#include "src/util.h"

/* The schema version a fresh database migrates to: the last migration's. */
#define LATEST	migrate_latest(migrations_sqlite)
/* How many migrations a fresh database records: versions may have gaps
 * (a number taken by a migration on another branch). */
#define APPLIED	migrations_n(migrations_sqlite)

static int
migrations_n(const struct migration *list)
{
	int n = 0;

	while (list[n].version != 0)
		n++;
	return n;
}

static const char *const tables[] = {
	"activity", "app_meta", "billing_events", "catalog_items",
	"catalog_snapshots", "characters", "checkout_sessions",
	"container_items", "containers", "feature_flags", "group_characters",
	"group_members", "groups", "mock_oauth_codes", "mock_oauth_tokens",
	"oauth_states", "plugin_tokens", "presence", "schema_migrations",
	"sessions", "skills", "subscriptions", "users", "vault_daily",
	"vault_holders", "vault_items", "vault_totals", "webhook_deliveries",
	"webhooks",
};

/* Rows a user's deletion must take with it, one COUNT(*) query each. */
static const char *const user_owned[] = {
	"SELECT COUNT(*) FROM plugin_tokens",
	"SELECT COUNT(*) FROM sessions",
	"SELECT COUNT(*) FROM characters",
	"SELECT COUNT(*) FROM containers",
	"SELECT COUNT(*) FROM container_items",
	"SELECT COUNT(*) FROM groups",
	"SELECT COUNT(*) FROM group_members",
	"SELECT COUNT(*) FROM group_characters",
	"SELECT COUNT(*) FROM activity",
	"SELECT COUNT(*) FROM subscriptions",
};

/* The fixture: one user with a token, a session, a character with a bank,
 * a group with the character shared, activity and a subscription.
 * Written once for both engines -- it is also a check that the common
 * SQL the store relies on works the same on each. */
static const char fixture_sql[] =
	"INSERT INTO users (id, provider, login, display_name) VALUES "
	"    (1, 'mock', 'alice', 'Alice'), (2, 'mock', 'bob', 'Bob');\n"
	"INSERT INTO plugin_tokens (user_id, label, token_hash) VALUES (1, 'pc',"
	"    '0000000000000000000000000000000000000000000000000000000000000001');\n"
	"INSERT INTO sessions (user_id, token_hash, csrf_token, expires_at) "
	"    VALUES (1, "
	"    '0000000000000000000000000000000000000000000000000000000000000002',"
	"    'csrf', '2099-01-01T00:00:00.000Z');\n"
	"INSERT INTO characters (id, user_id, name) VALUES (1, 1, 'Zezima');\n"
	"INSERT INTO containers (character_id, container, seq) "
	"    VALUES (1, 'bank', 1);\n"
	"INSERT INTO container_items (character_id, container, item_id, qty) "
	"    VALUES (1, 'bank', 4151, 1), (1, 'bank', 995, 1000);\n"
	"INSERT INTO groups (id, name, owner_id, join_code) "
	"    VALUES (1, 'Iron', 1, 'JOIN1');\n"
	"INSERT INTO group_members (group_id, user_id, role) "
	"    VALUES (1, 1, 'owner'), (1, 2, 'member');\n"
	"INSERT INTO group_characters (group_id, user_id, character_id) "
	"    VALUES (1, 1, 1);\n"
	"INSERT INTO activity (group_id, character_id, user_id, kind, data) "
	"    VALUES (1, 1, 1, 'items', '{\"gained\": [4151]}');\n"
	"INSERT INTO subscriptions (user_id, plan, status) "
	"    VALUES (1, 'premium', 'active');\n";

/* ------------------------------------------------------------ helpers */

struct tmp {
	char dir[64];
	char path[96];
};

static int
tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/coffer-test-migrate.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/coffer.db", t->dir);
	return 0;
}

static void
tmp_remove(struct tmp *t)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

static sqlite3 *
sq_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		printf("# open %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	return db;
}

/* The integer answer of a one-value query; -1 (and a note) on error. */
static long long
sq_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("# %s: %s\n", sql, sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Run sql; 0 ok, -1 with the message printed when verbose. */
static int
sq_run(sqlite3 *db, const char *sql, int verbose)
{
	char *e = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
		if (verbose)
			printf("# %s\n", e ? e : "?");
		sqlite3_free(e);
		return -1;
	}
	return 0;
}

/* "table.column" of every column, sorted, newline-separated (malloc). */
static char *
sq_columns(sqlite3 *db)
{
	sqlite3_stmt *st;
	size_t len = 0, cap = 1;
	char *s = xmalloc(cap);

	*s = '\0';
	if (sqlite3_prepare_v2(db, "SELECT m.name || '.' || p.name "
	    "FROM sqlite_master m, pragma_table_info(m.name) p "
	    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' "
	    "ORDER BY 1", -1, &st, NULL) != SQLITE_OK)
		return s;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(st, 0);
		size_t n = strlen(c);

		cap = len + n + 2;
		s = xrealloc(s, cap);
		memcpy(s + len, c, n);
		len += n;
		s[len++] = '\n';
		s[len] = '\0';
	}
	sqlite3_finalize(st);
	return s;
}

/* --------------------------------------------------------- embedding */

TEST(embedded_lists_agree)
{
	const struct migration *s = migrations_sqlite;
	const struct migration *p = migrations_postgres;

	CHECK(s[0].version == 1);
	CHECK_EQ_STR(s[0].name, "init");
	for (; s->version != 0 && p->version != 0; s++, p++) {
		CHECK_EQ_INT(s->version, p->version);
		CHECK_EQ_STR(s->name, p->name);
		CHECK(s->sql != NULL && strlen(s->sql) > 0);
		CHECK(p->sql != NULL && strlen(p->sql) > 0);
	}
	CHECK(s->version == 0 && p->version == 0);
	CHECK_EQ_INT(migrate_latest(migrations_sqlite),
	    migrate_latest(migrations_postgres));
	/* Line for line: the text ends exactly as the file does. */
	CHECK(strstr(migrations_sqlite[0].sql, "-- 001_init.sql (SQLite)") ==
	    migrations_sqlite[0].sql);
	CHECK(migrations_sqlite[0].sql[strlen(migrations_sqlite[0].sql) - 1] ==
	    '\n');
}

/* ------------------------------------------------------------ SQLite */

TEST(sqlite_fresh)
{
	struct tmp t;
	char err[512] = "", sql[128], mode[16] = "";
	int version = -1;
	sqlite3 *db;
	size_t i;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, &version, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(version, LATEST);
	if ((db = sq_open(t.path)) != NULL) {
		for (i = 0; i < ARRAY_SIZE(tables); i++) {
			snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM "
			    "sqlite_master WHERE type = 'table' AND "
			    "name = '%s'", tables[i]);
			if (sq_int(db, sql) != 1) {
				printf("# missing table %s\n", tables[i]);
				CHECK(!"table present");
			}
		}
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM sqlite_master "
		    "WHERE type = 'table' AND name NOT LIKE 'sqlite%'"),
		    ARRAY_SIZE(tables));
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM schema_migrations "
		    "WHERE version = 1 AND name = 'init'"), 1);
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM feature_flags "
		    "WHERE enabled"), 5);
		CHECK_EQ_INT(sq_int(db, "PRAGMA foreign_key_check"), -1);
		/* WAL is a property of the file, seen by a new connection. */
		{
			sqlite3_stmt *st;

			if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
			    &st, NULL) == SQLITE_OK) {
				if (sqlite3_step(st) == SQLITE_ROW)
					snprintf(mode, sizeof(mode), "%s",
					    sqlite3_column_text(st, 0));
				sqlite3_finalize(st);
			}
			CHECK_EQ_STR(mode, "wal");
		}
		sqlite3_close(db);
	}
	tmp_remove(&t);
}

TEST(sqlite_twice_is_noop)
{
	struct tmp t;
	char err[512] = "";
	int v1 = -1, v2 = -1;
	sqlite3 *db;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, &v1, err, sizeof(err)), 0);
	/* Data written in between must survive the second run. */
	if ((db = sq_open(t.path)) != NULL) {
		CHECK_EQ_INT(sq_run(db, "UPDATE feature_flags SET enabled = "
		    "FALSE WHERE key = 'export'", 1), 0);
		sqlite3_close(db);
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, &v2, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(v1, LATEST);
	CHECK_EQ_INT(v2, LATEST);
	if ((db = sq_open(t.path)) != NULL) {
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM "
		    "schema_migrations"), APPLIED);
		CHECK_EQ_INT(sq_int(db, "SELECT enabled FROM feature_flags "
		    "WHERE key = 'export'"), 0);
		sqlite3_close(db);
	}
	tmp_remove(&t);
}

TEST(sqlite_newer_schema_refused)
{
	struct tmp t;
	char err[512] = "";
	int v = -1;
	sqlite3 *db;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, &v, err, sizeof(err)), 0);
	if ((db = sq_open(t.path)) != NULL) {
		CHECK_EQ_INT(sq_run(db, "INSERT INTO schema_migrations "
		    "(version, name) VALUES (999, 'future')", 1), 0);
		sqlite3_close(db);
	}
	v = -1;
	CHECK_EQ_INT(migrate_sqlite(t.path, &v, err, sizeof(err)), -1);
	CHECK_EQ_INT(v, -1);
	CHECK(strstr(err, "999") != NULL);
	CHECK(strstr(err, "newer") != NULL);
	CHECK(strstr(err, t.path) != NULL);
	tmp_remove(&t);
}

/* Two processes start on one fresh file at once: the write lock, taken
 * before each migration re-reads the version, lets only one apply it. */
TEST(sqlite_concurrent)
{
	struct tmp t;
	char err[512];
	pid_t pid[2];
	int i, status;
	sqlite3 *db;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	fflush(stdout);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			int v = 0;

			if (migrate_sqlite(t.path, &v, err, sizeof(err)) < 0) {
				printf("# child: %s\n", err);
				fflush(stdout);
				_exit(1);
			}
			_exit(v == LATEST ? 0 : 2);
		}
		CHECK(pid[i] > 0);
	}
	for (i = 0; i < 2; i++) {
		if (pid[i] <= 0)
			continue;
		CHECK(waitpid(pid[i], &status, 0) == pid[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	if ((db = sq_open(t.path)) != NULL) {
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM "
		    "schema_migrations"), APPLIED);
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM feature_flags"),
		    5);
		sqlite3_close(db);
	}
	tmp_remove(&t);
}

TEST(sqlite_fk_cascade)
{
	struct tmp t;
	char err[512] = "";
	sqlite3 *db;
	size_t i;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, NULL, err, sizeof(err)), 0);
	if ((db = sq_open(t.path)) != NULL) {
		CHECK_EQ_INT(sq_run(db, fixture_sql, 1), 0);
		for (i = 0; i < ARRAY_SIZE(user_owned); i++)
			CHECK(sq_int(db, user_owned[i]) > 0);
		/* Removing a member unshares the member's characters. */
		CHECK_EQ_INT(sq_run(db, "DELETE FROM group_members "
		    "WHERE user_id = 1", 1), 0);
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM "
		    "group_characters"), 0);
		CHECK_EQ_INT(sq_run(db, "INSERT INTO group_members "
		    "(group_id, user_id, role) VALUES (1, 1, 'owner');"
		    "INSERT INTO group_characters (group_id, user_id, "
		    "character_id) VALUES (1, 1, 1)", 1), 0);
		CHECK_EQ_INT(sq_run(db, "DELETE FROM users WHERE id = 1", 1), 0);
		for (i = 0; i < ARRAY_SIZE(user_owned); i++) {
			if (sq_int(db, user_owned[i]) != 0) {
				printf("# left behind: %s\n", user_owned[i]);
				CHECK(!"cascade");
			}
		}
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM users"), 1);
		sqlite3_close(db);
	}
	tmp_remove(&t);
}

TEST(sqlite_constraints)
{
	struct tmp t;
	char err[512] = "";
	sqlite3 *db;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, NULL, err, sizeof(err)), 0);
	if ((db = sq_open(t.path)) == NULL) {
		tmp_remove(&t);
		return;
	}
	CHECK_EQ_INT(sq_run(db, fixture_sql, 1), 0);
	/* Names are unique ignoring case, and found ignoring case. */
	CHECK_EQ_INT(sq_run(db, "INSERT INTO characters (user_id, name) "
	    "VALUES (2, 'ZEZIMA')", 0), -1);
	CHECK_EQ_INT(sq_int(db, "SELECT id FROM characters "
	    "WHERE name = 'zEzImA'"), 1);
	CHECK_EQ_INT(sq_run(db, "INSERT INTO characters (user_id, name) "
	    "VALUES (2, 'thirteen_char')", 0), -1);
	/* The same link insert the store uses on both engines. */
	CHECK_EQ_INT(sq_run(db, "INSERT INTO characters (user_id, name) "
	    "VALUES (2, 'zezima') ON CONFLICT DO NOTHING", 1), 0);
	CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM characters"), 1);
	/* Enumerations. */
	CHECK_EQ_INT(sq_run(db, "UPDATE users SET plan = 'gold'", 0), -1);
	CHECK_EQ_INT(sq_run(db, "INSERT INTO containers (character_id, "
	    "container, seq) VALUES (1, 'pocket', 1)", 0), -1);
	CHECK_EQ_INT(sq_run(db, "INSERT INTO activity (group_id, kind, data) "
	    "VALUES (1, 'x', 'not json')", 0), -1);
	/* One owner per group. */
	CHECK_EQ_INT(sq_run(db, "UPDATE group_members SET role = 'owner' "
	    "WHERE user_id = 2", 0), -1);
	/* Only a member's own characters can be shared. */
	CHECK_EQ_INT(sq_run(db, "INSERT INTO characters (id, user_id, name) "
	    "VALUES (2, 2, 'Lynx Titan')", 1), 0);
	CHECK_EQ_INT(sq_run(db, "INSERT INTO group_characters (group_id, "
	    "user_id, character_id) VALUES (1, 1, 2)", 0), -1);
	CHECK_EQ_INT(sq_run(db, "INSERT INTO group_characters (group_id, "
	    "user_id, character_id) VALUES (1, 2, 2)", 1), 0);
	/* Items need their container row. */
	CHECK_EQ_INT(sq_run(db, "INSERT INTO container_items (character_id, "
	    "container, item_id, qty) VALUES (1, 'inventory', 1, 1)", 0), -1);
	/* At most one current catalog snapshot; switching takes two steps. */
	CHECK_EQ_INT(sq_run(db, "INSERT INTO catalog_snapshots (id, version, "
	    "is_current) VALUES (1, 'a', TRUE), (2, 'b', FALSE)", 1), 0);
	CHECK_EQ_INT(sq_run(db, "UPDATE catalog_snapshots SET is_current = "
	    "TRUE WHERE id = 2", 0), -1);
	CHECK_EQ_INT(sq_run(db, "UPDATE catalog_snapshots SET is_current = "
	    "FALSE WHERE is_current; UPDATE catalog_snapshots SET "
	    "is_current = TRUE WHERE id = 2", 1), 0);
	CHECK_EQ_INT(sq_int(db, "SELECT id FROM catalog_snapshots "
	    "WHERE is_current"), 2);
	/* A billing event takes effect once. */
	CHECK_EQ_INT(sq_run(db, "INSERT INTO billing_events (provider, "
	    "event_id, event_type, payload) VALUES ('mock', 'evt_1', 'x', "
	    "'{}')", 1), 0);
	CHECK_EQ_INT(sq_run(db, "INSERT INTO billing_events (provider, "
	    "event_id, event_type, payload) VALUES ('mock', 'evt_1', 'x', "
	    "'{}') ON CONFLICT DO NOTHING", 1), 0);
	CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM billing_events"), 1);
	/* Times are sortable RFC 3339 UTC with milliseconds. */
	CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM users WHERE created_at "
	    "GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:"
	    "[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'"), 2);
	sqlite3_close(db);
	tmp_remove(&t);
}

/* The vault: every item of every character shared in a group, summed and
 * priced from the current snapshot.  Each table must be reached through
 * an index search, never a full scan. */
static const char vault_sql[] =
	"SELECT ci.item_id, SUM(ci.qty) AS qty, ca.name, "
	"       COALESCE(ca.price, 0) AS unit_price "
	"FROM group_characters gc "
	"JOIN container_items ci ON ci.character_id = gc.character_id "
	"LEFT JOIN catalog_items ca "
	"  ON ca.snapshot_id = (SELECT id FROM catalog_snapshots "
	"                       WHERE is_current) "
	" AND ca.item_id = ci.item_id "
	"WHERE gc.group_id = 1 "
	"GROUP BY ci.item_id, ca.name, ca.price";

/* Is the plan line d a full scan of the table aliased a? */
static int
is_scan_of(const char *d, const char *a)
{
	size_t n = strlen(a);

	return strncmp(d, "SCAN ", 5) == 0 && strncmp(d + 5, a, n) == 0 &&
	    (d[5 + n] == ' ' || d[5 + n] == '\0');
}

TEST(sqlite_vault_uses_indexes)
{
	struct tmp t;
	char err[512] = "", sql[sizeof(vault_sql) + 64];
	sqlite3_stmt *st;
	sqlite3 *db;
	int searches = 0;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, NULL, err, sizeof(err)), 0);
	if ((db = sq_open(t.path)) == NULL) {
		tmp_remove(&t);
		return;
	}
	CHECK_EQ_INT(sq_run(db, fixture_sql, 1), 0);
	CHECK_EQ_INT(sq_run(db, "INSERT INTO catalog_snapshots (id, version, "
	    "is_current) VALUES (1, 'v1', TRUE);"
	    "INSERT INTO catalog_items (snapshot_id, item_id, name, price) "
	    "VALUES (1, 4151, 'Abyssal whip', 1688658)", 1), 0);
	/* Coins (995) are not in the catalog: price 0. */
	snprintf(sql, sizeof(sql), "SELECT SUM(qty * unit_price) FROM (%s)",
	    vault_sql);
	CHECK_EQ_INT(sq_int(db, sql), 1688658);
	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", vault_sql);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 3);

			printf("# plan: %s\n", d);
			if (is_scan_of(d, "gc") || is_scan_of(d, "ci") ||
			    is_scan_of(d, "ca"))
				CHECK(!"full scan in the vault query");
			if (strncmp(d, "SEARCH ", 7) == 0)
				searches++;
		}
		sqlite3_finalize(st);
	}
	CHECK_EQ_INT(searches, 3);
	sqlite3_close(db);
	tmp_remove(&t);
}

static const struct migration broken_list[] = {
	{ 1, "one", "CREATE TABLE one (x INTEGER);\n" },
	{ 2, "two", "-- a comment\n"
	    "CREATE TABLE two (x INTEGER);\n"
	    "\n"
	    "CREATE TABLE three (x INTEGER,);\n" },
	{ 0, NULL, NULL },
};

TEST(sqlite_failure_rolls_back)
{
	struct tmp t;
	char err[512] = "";
	int v = -1;
	sqlite3 *db;

	if (tmp_make(&t) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite_list(t.path, broken_list, &v, err,
	    sizeof(err)), -1);
	printf("# %s\n", err);
	CHECK(strstr(err, "002_two") != NULL);
	CHECK(strstr(err, "line 4") != NULL);
	if ((db = sq_open(t.path)) != NULL) {
		/* 001 committed on its own; nothing of 002 remains. */
		CHECK_EQ_INT(sq_int(db, "SELECT MAX(version) FROM "
		    "schema_migrations"), 1);
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM sqlite_master "
		    "WHERE name = 'one'"), 1);
		CHECK_EQ_INT(sq_int(db, "SELECT COUNT(*) FROM sqlite_master "
		    "WHERE name = 'two'"), 0);
		sqlite3_close(db);
	}
	tmp_remove(&t);
}

TEST(sqlite_bad_path)
{
	char err[512] = "";

	CHECK_EQ_INT(migrate_sqlite("/nonexistent/dir/coffer.db", NULL, err,
	    sizeof(err)), -1);
	printf("# %s\n", err);
	CHECK(strstr(err, "/nonexistent/dir/coffer.db") != NULL);
}

/* -------------------------------------------------------- PostgreSQL */

#define PG_SECRET "hunter2-secret"

TEST(pg_conninfo_never_leaks)
{
	static const char *const bad[] = {
		/* syntax errors: libpq would quote the text around them */
		"host=/nonexistent password " PG_SECRET,
		"host=/nonexistent password='" PG_SECRET,
		"postgresql://u:" PG_SECRET "@/db?nosuchoption=1",
		/* a well-formed one that cannot connect */
		"host=/nonexistent/socket/dir user=u password=" PG_SECRET
		    " connect_timeout=2",
	};
	char err[512];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		CHECK_EQ_INT(migrate_postgres(bad[i], NULL, err, sizeof(err)),
		    -1);
		printf("# %s\n", err);
		CHECK(err[0] != '\0');
		CHECK(strstr(err, PG_SECRET) == NULL);
	}
}

/* DROP DATABASE IF EXISTS and the like notice; the TAP output need not. */
static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static const char *pg_dsn;		/* COFFER_TEST_PG_DSN */
static PGconn *pg_admin;		/* on pg_dsn, for CREATE DATABASE */

/* pg_dsn with dbname replaced, as a key='value' conninfo (malloc). */
static char *
pg_dsn_for(const char *dbname)
{
	PQconninfoOption *opts, *o;
	size_t cap = 64, len = 0;
	char *s, *perr = NULL;

	if ((opts = PQconninfoParse(pg_dsn, &perr)) == NULL) {
		PQfreemem(perr);
		return NULL;
	}
	s = xmalloc(cap);
	s[0] = '\0';
	for (o = opts; o->keyword != NULL; o++) {
		const char *v = strcmp(o->keyword, "dbname") == 0 ? dbname :
		    o->val;
		const char *p;

		if (v == NULL)
			continue;
		cap = len + strlen(o->keyword) + 2 * strlen(v) + 8;
		s = xrealloc(s, cap);
		len += (size_t)sprintf(s + len, "%s='", o->keyword);
		for (p = v; *p != '\0'; p++) {
			if (*p == '\'' || *p == '\\')
				s[len++] = '\\';
			s[len++] = *p;
		}
		len += (size_t)sprintf(s + len, "' ");
	}
	PQconninfoFree(opts);
	return s;
}

static int
pg_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		printf("# %s: %s", sql, PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

static long long
pg_int(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		printf("# %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

/* A fresh database for one test: its conninfo (malloc), NULL on error. */
struct pgdb {
	char name[64];
	char *dsn;
};

static int
pgdb_create(struct pgdb *d, const char *tag)
{
	static int n;
	char sql[128];

	snprintf(d->name, sizeof(d->name), "coffer_test_%s_%ld_%d", tag,
	    (long)getpid(), ++n);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", d->name);
	d->dsn = NULL;
	if (pg_ok(pg_admin, sql) < 0)
		return -1;
	d->dsn = pg_dsn_for(d->name);
	return d->dsn ? 0 : -1;
}

static void
pgdb_drop(struct pgdb *d)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s%s", d->name,
	    PQserverVersion(pg_admin) >= 130000 ? " WITH (FORCE)" : "");
	pg_ok(pg_admin, sql);
	free(d->dsn);
	d->dsn = NULL;
}

static PGconn *
pgdb_connect(struct pgdb *d)
{
	PGconn *c = PQconnectdb(d->dsn);

	if (PQstatus(c) != CONNECTION_OK) {
		printf("# connect %s: %s", d->name, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

TEST(pg_fresh_twice_newer_cascade)
{
	struct pgdb d;
	char err[512] = "", sql[160];
	int v = -1;
	PGconn *c;
	size_t i;

	if (pgdb_create(&d, "mig") < 0) {
		CHECK(!"create database");
		return;
	}
	CHECK_EQ_INT(migrate_postgres(d.dsn, &v, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(v, LATEST);
	if ((c = pgdb_connect(&d)) == NULL)
		goto out;
	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM "
		    "information_schema.tables WHERE table_schema = 'public' "
		    "AND table_name = '%s'", tables[i]);
		if (pg_int(c, sql) != 1) {
			printf("# missing table %s\n", tables[i]);
			CHECK(!"table present");
		}
	}
	CHECK_EQ_INT(pg_int(c, "SELECT COUNT(*) FROM information_schema.tables"
	    " WHERE table_schema = 'public'"), ARRAY_SIZE(tables));
	CHECK_EQ_INT(pg_int(c, "SELECT COUNT(*) FROM feature_flags "
	    "WHERE enabled"), 5);

	/* Twice: nothing applied, data kept. */
	CHECK_EQ_INT(pg_ok(c, "UPDATE feature_flags SET enabled = FALSE "
	    "WHERE key = 'export'"), 0);
	v = -1;
	CHECK_EQ_INT(migrate_postgres(d.dsn, &v, err, sizeof(err)), 0);
	CHECK_EQ_INT(v, LATEST);
	CHECK_EQ_INT(pg_int(c, "SELECT COUNT(*) FROM schema_migrations"), APPLIED);
	CHECK_EQ_INT(pg_int(c, "SELECT COUNT(*) FROM feature_flags "
	    "WHERE NOT enabled"), 1);

	/* The shared fixture, then cascades, as on SQLite. */
	CHECK_EQ_INT(pg_ok(c, fixture_sql), 0);
	for (i = 0; i < ARRAY_SIZE(user_owned); i++)
		CHECK(pg_int(c, user_owned[i]) > 0);
	CHECK_EQ_INT(pg_ok(c, "INSERT INTO characters (user_id, name) "
	    "VALUES (2, 'zezima') ON CONFLICT DO NOTHING"), 0);
	CHECK_EQ_INT(pg_int(c, "SELECT COUNT(*) FROM characters"), 1);
	CHECK_EQ_INT(pg_int(c, "SELECT id FROM characters "
	    "WHERE lower(name) = lower('zEzImA')"), 1);
	CHECK_EQ_INT(pg_ok(c, "DELETE FROM users WHERE id = 1"), 0);
	for (i = 0; i < ARRAY_SIZE(user_owned); i++) {
		if (pg_int(c, user_owned[i]) != 0) {
			printf("# left behind: %s\n", user_owned[i]);
			CHECK(!"cascade");
		}
	}

	/* A newer database is refused. */
	CHECK_EQ_INT(pg_ok(c, "INSERT INTO schema_migrations (version, name) "
	    "VALUES (999, 'future')"), 0);
	v = -1;
	CHECK_EQ_INT(migrate_postgres(d.dsn, &v, err, sizeof(err)), -1);
	printf("# %s\n", err);
	CHECK_EQ_INT(v, -1);
	CHECK(strstr(err, "999") != NULL);
	CHECK(strstr(err, "newer") != NULL);
	PQfinish(c);
out:
	pgdb_drop(&d);
}

/* Both engines have the same tables and columns. */
TEST(pg_same_columns_as_sqlite)
{
	struct pgdb d;
	struct tmp t;
	char err[512] = "", *sq = NULL;
	PGconn *c = NULL;
	PGresult *r;
	size_t len = 0;
	int i;

	if (tmp_make(&t) < 0 || pgdb_create(&d, "cols") < 0) {
		CHECK(!"set-up");
		return;
	}
	CHECK_EQ_INT(migrate_sqlite(t.path, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(migrate_postgres(d.dsn, NULL, err, sizeof(err)), 0);
	{
		sqlite3 *db = sq_open(t.path);

		if (db != NULL) {
			sq = sq_columns(db);
			sqlite3_close(db);
		}
	}
	if (sq != NULL && (c = pgdb_connect(&d)) != NULL) {
		/* COLLATE "C": the same byte order as SQLite's ORDER BY. */
		r = PQexec(c, "SELECT (table_name || '.' || column_name) "
		    "COLLATE \"C\" FROM information_schema.columns "
		    "WHERE table_schema = 'public' ORDER BY 1");
		CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
		for (i = 0; i < PQntuples(r); i++) {
			const char *col = PQgetvalue(r, i, 0);
			size_t n = strlen(col);

			if (strncmp(sq + len, col, n) != 0 ||
			    sq[len + n] != '\n') {
				printf("# column differs near %s\n", col);
				CHECK(!"same columns");
				break;
			}
			len += n + 1;
		}
		CHECK(sq[len] == '\0');
		CHECK(PQntuples(r) > 100);
		PQclear(r);
		PQfinish(c);
	}
	free(sq);
	pgdb_drop(&d);
	tmp_remove(&t);
}

TEST(pg_failure_rolls_back)
{
	struct pgdb d;
	char err[512] = "";
	PGconn *c;

	if (pgdb_create(&d, "fail") < 0) {
		CHECK(!"create database");
		return;
	}
	CHECK_EQ_INT(migrate_postgres_list(d.dsn, broken_list, NULL, err,
	    sizeof(err)), -1);
	printf("# %s\n", err);
	CHECK(strstr(err, "002_two") != NULL);
	CHECK(strstr(err, "line 4") != NULL);
	CHECK(strstr(err, "SQLSTATE 42601") != NULL);
	if ((c = pgdb_connect(&d)) != NULL) {
		CHECK_EQ_INT(pg_int(c, "SELECT MAX(version) FROM "
		    "schema_migrations"), 1);
		CHECK_EQ_INT(pg_int(c, "SELECT COUNT(*) FROM pg_tables "
		    "WHERE tablename = 'one'"), 1);
		CHECK_EQ_INT(pg_int(c, "SELECT COUNT(*) FROM pg_tables "
		    "WHERE tablename = 'two'"), 0);
		PQfinish(c);
	}
	pgdb_drop(&d);
}

/*
 * Two processes migrate one fresh database at once.  To make them truly
 * race, the test holds the migration lock itself while both start, waits
 * (with a deadline) until the server shows both blocked on it, then lets
 * go: both must succeed and the migration must be applied once.
 */
TEST(pg_concurrent)
{
	struct pgdb d;
	char err[512], sql[160];
	PGconn *lock;
	pid_t pid[2];
	int i, status, waiting = 0;
	uint64_t deadline;

	if (pgdb_create(&d, "conc") < 0) {
		CHECK(!"create database");
		return;
	}
	if ((lock = pgdb_connect(&d)) == NULL) {
		CHECK(!"connect");
		pgdb_drop(&d);
		return;
	}
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%" PRId64 ")",
	    MIGRATE_PG_LOCK_KEY);
	CHECK_EQ_INT(pg_ok(lock, sql), 0);
	fflush(stdout);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			int v = 0;

			if (migrate_postgres(d.dsn, &v, err, sizeof(err)) < 0) {
				printf("# child: %s\n", err);
				fflush(stdout);
				_exit(1);
			}
			_exit(v == LATEST ? 0 : 2);
		}
		CHECK(pid[i] > 0);
	}
	deadline = now_msec() + 20000;
	while (now_msec() < deadline) {
		waiting = (int)pg_int(lock, "SELECT COUNT(*) FROM pg_locks "
		    "WHERE locktype = 'advisory' AND NOT granted AND "
		    "database = (SELECT oid FROM pg_database "
		    "WHERE datname = current_database())");
		if (waiting >= 2)
			break;
		usleep(10 * 1000);
	}
	CHECK_EQ_INT(waiting, 2);
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%" PRId64 ")",
	    MIGRATE_PG_LOCK_KEY);
	CHECK_EQ_INT(pg_ok(lock, sql), 0);
	for (i = 0; i < 2; i++) {
		if (pid[i] <= 0)
			continue;
		CHECK(waitpid(pid[i], &status, 0) == pid[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_EQ_INT(pg_int(lock, "SELECT COUNT(*) FROM schema_migrations"), APPLIED);
	CHECK_EQ_INT(pg_int(lock, "SELECT COUNT(*) FROM feature_flags"), 5);
	PQfinish(lock);
	pgdb_drop(&d);
}

/* Each creates and drops databases of its own over pg_dsn. */
static const struct test_case pg_cases[] = {
	TEST_CASE(pg_fresh_twice_newer_cascade),
	TEST_CASE(pg_same_columns_as_sqlite),
	TEST_CASE(pg_failure_rolls_back),
	TEST_CASE(pg_concurrent),
	{ NULL, NULL }
};

int
main(void)
{
	const char *why;

	log_set_level(LL_WARN);

	RUN(embedded_lists_agree);
	RUN(sqlite_fresh);
	RUN(sqlite_twice_is_noop);
	RUN(sqlite_newer_schema_refused);
	RUN(sqlite_concurrent);
	RUN(sqlite_fk_cascade);
	RUN(sqlite_constraints);
	RUN(sqlite_vault_uses_indexes);
	RUN(sqlite_failure_rolls_back);
	RUN(sqlite_bad_path);
	RUN(pg_conninfo_never_leaks);

	if ((pg_dsn = pgtest_server(&why)) == NULL) {
		test_run_cases(pg_cases, why);
		return test_done();
	}
	pg_admin = PQconnectdb(pg_dsn);
	if (PQstatus(pg_admin) != CONNECTION_OK) {
		/* it answered pgtest_server() a moment ago: a real failure */
		test_fail_cases(pg_cases, PQerrorMessage(pg_admin));
		PQfinish(pg_admin);
		return test_done();
	}
	PQsetNoticeProcessor(pg_admin, quiet, NULL);
	test_run_cases(pg_cases, NULL);
	PQfinish(pg_admin);
	return test_done();
}
