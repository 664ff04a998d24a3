/*
 * test_db.c -- the database interface's contracts, on both engines.
 *
 * Real engines, real processes: SQLite on a file, PostgreSQL through a
 * real broker process (broker_main forked here) on the server named by
 * COFFER_TEST_PG_DSN.  Each test body runs in coroutines driven by a real
 * libevent loop, exactly as request handlers do, so on PostgreSQL every
 * call really yields and concurrent transactions really interleave.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "broker/broker.h"
#include "src/db/broker_link.h"
#include "src/config.h"
#include "src/coro.h"
#include "src/db/db.h"
#include "src/log.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/test.h"
#include "src/util.h"

static struct config cfg;
static struct event_base *base;
static pid_t broker_pid;
static char tmpdir[256];
static char *pg_dsn, pg_dbname[64];
static int live;

/* ---- running code in coroutines ---- */

struct task {
	struct db_session s;	/* first: the coroutine's data is a session */
	void (*fn)(int i);
	int i;
};

static void
task_main(void *arg)
{
	struct task *t = arg;

	t->fn(t->i);
	if (--live == 0)
		event_base_loopbreak(base);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	printf("# deadline: %d task(s) still running\n", live);
	event_base_loopbreak(base);
}

/* Run fn(0..n-1), each in its own coroutine, until all return (20 s max). */
static void
run_tasks(int n, void (*fn)(int))
{
	struct task *t = xcalloc((size_t)n, sizeof(*t));
	struct timeval tv = { 20, 0 };
	struct event *deadline = evtimer_new(base, on_deadline, NULL);

	live = n;
	for (int i = 0; i < n; i++) {
		struct coro *c;

		t[i].fn = fn;
		t[i].i = i;
		c = coro_create(task_main, &t[i]);
		coro_set_data(c, &t[i]);
		coro_resume(c);
	}
	if (live > 0) {
		evtimer_add(deadline, &tv);
		event_base_dispatch(base);
	}
	CHECK_EQ_INT(live, 0);
	event_free(deadline);
	if (live == 0)
		free(t);	/* else leaked: suspended coroutines point into it */
}

static void
run1(void (*fn)(int))
{
	run_tasks(1, fn);
}

/* Spin the loop until cond() or the deadline; returns cond(). */
static int
wait_for(int (*cond)(void), int ms)
{
	uint64_t end = now_msec() + (uint64_t)ms;

	while (!cond() && now_msec() < end) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return cond();
}

/* ---- the broker ---- */

static void
start_broker(void)
{
	int p[2];
	char b;

	if (pipe(p) < 0)
		abort();
	broker_pid = fork();
	if (broker_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(p[0]);
		log_set_role("broker");
		_exit(broker_main(&cfg, p[1]));
	}
	close(p[1]);
	if (read(p[0], &b, 1) != 1)
		printf("# broker did not start\n");
	close(p[0]);
}

static void
stop_broker(int sig)
{
	int st;

	if (broker_pid <= 0)
		return;
	kill(broker_pid, sig);
	waitpid(broker_pid, &st, 0);
	broker_pid = 0;
}

/* ---- set-up per engine ---- */

static int
setup(enum db_engine e)
{
	char path[512];

	config_defaults(&cfg);
	cfg.engine = e;
	free(cfg.runtime_dir);
	cfg.runtime_dir = xstrdup(tmpdir);
	snprintf(path, sizeof(path), "%s/test.db", tmpdir);
	unlink(path);
	free(cfg.sqlite_path);
	cfg.sqlite_path = xstrdup(path);
	cfg.sqlite_busy_timeout = 200;
	cfg.pool_min = 1;
	cfg.pool_max = 3;
	cfg.pool_timeout = 5000;
	cfg.lease_timeout = 500;
	if (e == ENGINE_POSTGRES) {
		free(cfg.postgres_dsn);
		cfg.postgres_dsn = xstrdup(pg_dsn);
		start_broker();
	}
	base = event_base_new();
	if (db_init(&cfg, base) < 0)
		return -1;
	if (e == ENGINE_POSTGRES) {
		snprintf(path, sizeof(path), "%s/broker.sock", tmpdir);
		broker_link_start(base, path, NULL);
		if (!wait_for(broker_link_up, 5000)) {
			printf("# broker link did not come up\n");
			return -1;
		}
	}
	return 0;
}

static void
teardown(void)
{
	if (cfg.engine == ENGINE_POSTGRES) {
		broker_link_stop();
		stop_broker(SIGTERM);
	}
	db_shutdown();
	event_base_free(base);
	config_free(&cfg);
}

/* ---- statements used by the tests ---- */

static struct db_stmt *ins, *get_kv, *all_kv, *count_kv, *count_mark, *upd, *ret,
	*order, *boolq, *custom;

static void
prepare_all(void)
{
	ins = db_prepare("INSERT INTO kv (k, v, note) VALUES ($1, $2, $3)");
	get_kv = db_prepare("SELECT k, v, note FROM kv WHERE k = $1");
	all_kv = db_prepare("SELECT k, v FROM kv WHERE v >= $1 ORDER BY k");
	count_kv = db_prepare("SELECT count(*) FROM kv");
	count_mark = db_prepare("SELECT count(*) FROM kv WHERE note = $1");
	upd = db_prepare("UPDATE kv SET v = v + 1 WHERE v >= $1");
	ret = db_prepare("INSERT INTO kv (k, v) VALUES ($1, $2) RETURNING k, v");
	order = db_prepare("SELECT CAST($2 AS TEXT) || CAST($1 AS TEXT)");
	boolq = db_prepare("SELECT CAST($1 AS BOOLEAN), CAST($2 AS BOOLEAN)");
	custom = db_prepare_opts("SELECT k FROM kv WHERE v >= $1 ORDER BY k",
	    "SELECT k FROM kv WHERE v >= $1 ORDER BY k", DB_CUSTOM_PLAN);
}

static int64_t
count_rows(void)
{
	struct db_result *r;
	int64_t n;

	if (db_get(count_kv, NULL, 0, &r) != 1)
		return -1;
	n = db_int(r, 0, 0);
	db_result_free(r);
	return n;
}

static void
make_table(int i)
{
	(void)i;
	CHECK(db_exec("DROP TABLE IF EXISTS kv; "
	    "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL, note TEXT)") == 0);
}

/* ---- contracts ---- */

static void
contracts_body(int i)
{
	struct db_value p3[] = { DB_TEXT("a"), DB_INT(1), DB_NULL() };
	struct db_value pk[] = { DB_TEXT("a") };
	struct db_value pmiss[] = { DB_TEXT("zz") };
	struct db_value pge[] = { DB_INT(100) };
	struct db_value pret[] = { DB_TEXT("r"), DB_INT(7) };
	struct db_value pord[] = { DB_TEXT("x"), DB_TEXT("y") };
	struct db_value pbool[] = { DB_BOOL(1), DB_BOOL(0) };
	struct db_result *r = NULL;

	(void)i;
	CHECK_EQ_INT(db_run(ins, p3, 3, NULL), 1);
	p3[0] = DB_TEXT("b");
	p3[1] = DB_INT(2);
	p3[2] = DB_TEXT("note b");
	CHECK_EQ_INT(db_run(ins, p3, 3, NULL), 1);

	/* get: a row, or none */
	CHECK_EQ_INT(db_get(get_kv, pk, 1, &r), 1);
	CHECK_EQ_STR(db_text(r, 0, 0), "a");
	CHECK_EQ_INT(db_int(r, 0, 1), 1);
	CHECK(db_isnull(r, 0, 2));
	CHECK(db_text(r, 0, 2) == NULL);
	CHECK_EQ_INT(db_col_index(r, "note"), 2);
	db_result_free(r);
	CHECK_EQ_INT(db_get(get_kv, pmiss, 1, &r), 0);
	CHECK(r == NULL);

	/* all: every row, an empty list when none */
	CHECK_EQ_INT(db_all(all_kv, pge, 1, &r), 0);
	CHECK(r != NULL);
	CHECK_EQ_INT(db_nrows(r), 0);
	db_result_free(r);
	pge[0] = DB_INT(0);
	CHECK_EQ_INT(db_all(all_kv, pge, 1, &r), 0);
	CHECK_EQ_INT(db_nrows(r), 2);
	CHECK_EQ_STR(db_text(r, 1, 0), "b");
	db_result_free(r);

	/* run: rows changed; RETURNING rows when asked */
	pge[0] = DB_INT(100);
	CHECK_EQ_INT(db_run(upd, pge, 1, NULL), 0);
	pge[0] = DB_INT(0);
	CHECK_EQ_INT(db_run(upd, pge, 1, NULL), 2);
	CHECK_EQ_INT(db_run(ret, pret, 2, &r), 1);
	CHECK_EQ_INT(db_nrows(r), 1);
	CHECK_EQ_STR(db_text(r, 0, 0), "r");
	CHECK_EQ_INT(db_int(r, 0, 1), 7);
	db_result_free(r);

	/* $n means the n-th parameter wherever it appears */
	CHECK_EQ_INT(db_get(order, pord, 2, &r), 1);
	CHECK_EQ_STR(db_text(r, 0, 0), "yx");
	db_result_free(r);
	CHECK_EQ_INT(db_get(boolq, pbool, 2, &r), 1);
	CHECK(db_bool(r, 0, 0) == 1);
	CHECK(db_bool(r, 0, 1) == 0);
	db_result_free(r);

	/* more parameters than any fixed table would hold, bound by number
	 * (PostgreSQL wants every one referenced) */
	{
		static struct db_stmt *many;
		static char sql[1024];
		struct db_value pm[20];

		if (many == NULL) {
			size_t len = (size_t)snprintf(sql, sizeof(sql),
			    "SELECT CAST($20 AS INTEGER) - CAST($1 AS INTEGER) + 0");
			for (int k = 2; k <= 19; k++)
				len += (size_t)snprintf(sql + len, sizeof(sql) - len,
				    " * CAST($%d AS INTEGER)", k);
			snprintf(sql + len, sizeof(sql) - len, " * 0");
			many = db_prepare(sql);
		}
		for (int k = 0; k < 20; k++)
			pm[k] = DB_INT(k + 1);
		CHECK_EQ_INT(db_get(many, pm, 20, &r), 1);
		CHECK_EQ_INT(db_int(r, 0, 0), 19);
		db_result_free(r);
	}

	/* a statement planned per call answers like any other, every time */
	for (int k = 0; k < 7; k++) {
		CHECK_EQ_INT(db_all(custom, pge, 1, &r), 0);
		CHECK_EQ_INT(db_nrows(r), 3);
		CHECK_EQ_STR(db_text(r, 2, 0), "r");
		db_result_free(r);
	}

	/* errors carry a kind and never crash */
	p3[0] = DB_TEXT("a");
	CHECK_EQ_INT(db_run(ins, p3, 3, NULL), -1);
	CHECK_EQ_INT(db_last_error()->kind, DBE_CONSTRAINT);
	CHECK_EQ_INT(db_exec("SELEKT nonsense"), -1);
	CHECK_EQ_INT(db_last_error()->kind, DBE_SQL);
	CHECK_EQ_INT(count_rows(), 3);
}

TEST(contracts)
{
	run1(make_table);
	run1(contracts_body);
}

/* ---- transactions ---- */

static int
insert_key(void *arg)
{
	struct db_value p[] = { DB_TEXT(arg), DB_INT(1), DB_NULL() };

	return db_run(ins, p, 3, NULL) == 1 ? 0 : -1;
}

static int
insert_then_fail(void *arg)
{
	insert_key(arg);
	return 1;
}

static int
insert_then_duplicate(void *arg)
{
	insert_key(arg);
	insert_key("t1");	/* exists: fails, and so must the transaction */
	return 0;
}

static int
outer_with_inner(void *arg)
{
	if (insert_key(arg) < 0)
		return -1;
	return db_tx(insert_key, "t5");
}

static int
outer_with_failing_inner(void *arg)
{
	insert_key(arg);
	CHECK_EQ_INT(db_tx(insert_then_fail, "t7"), -1);
	return 0;	/* the outer goes on, but the failure sticks */
}

static int
present(const char *k)
{
	struct db_value p[] = { DB_TEXT(k) };
	struct db_result *r;
	int rc = db_get(get_kv, p, 1, &r);

	db_result_free(r);
	return rc;
}

static void
tx_body(int i)
{
	(void)i;
	CHECK_EQ_INT(db_tx(insert_key, "t1"), 0);
	CHECK_EQ_INT(present("t1"), 1);

	CHECK_EQ_INT(db_tx(insert_then_fail, "t2"), -1);
	CHECK_EQ_INT(present("t2"), 0);

	CHECK_EQ_INT(db_tx(insert_then_duplicate, "t3"), -1);
	CHECK_EQ_INT(db_last_error()->kind, DBE_CONSTRAINT);
	CHECK_EQ_INT(present("t3"), 0);

	CHECK_EQ_INT(db_tx(outer_with_inner, "t4"), 0);
	CHECK_EQ_INT(present("t4"), 1);
	CHECK_EQ_INT(present("t5"), 1);

	CHECK_EQ_INT(db_tx(outer_with_failing_inner, "t6"), -1);
	CHECK_EQ_INT(present("t6"), 0);
	CHECK_EQ_INT(present("t7"), 0);

	/* the session is clean again: a new transaction works */
	CHECK_EQ_INT(db_tx(insert_key, "t8"), 0);
	CHECK_EQ_INT(count_rows(), 4);
}

TEST(transactions)
{
	run1(make_table);
	run1(tx_body);
}

/* ---- isolation ---- */

#define N_ISO 24
static int iso_seen_other;

static int
iso_rollback_fn(void *arg)
{
	int i = *(int *)arg;
	char k[32], mark[32];

	snprintf(k, sizeof(k), "iso-%d", i);
	snprintf(mark, sizeof(mark), "m%d", i);
	struct db_value p[] = { DB_TEXT(k), DB_INT(i), DB_TEXT(mark) };
	if (db_run(ins, p, 3, NULL) != 1)
		return -1;
	/* Several round trips, so other transactions run in between. */
	for (int n = 0; n < 3; n++) {
		int64_t c = count_rows();

		if (c != 1) {
			iso_seen_other++;
			printf("# transaction %d saw %lld rows\n", i, (long long)c);
		}
	}
	return 1;	/* roll back: nobody may ever see this row */
}

static void
iso_rollback_task(int i)
{
	CHECK_EQ_INT(db_tx(iso_rollback_fn, &i), -1);
	CHECK_EQ_INT(db_last_error()->kind, DBE_NONE);
}

static int
iso_commit_fn(void *arg)
{
	int i = *(int *)arg;
	char k[32], mark[32];
	struct db_result *r;

	snprintf(k, sizeof(k), "isoc-%d", i);
	snprintf(mark, sizeof(mark), "c%d", i);
	struct db_value p[] = { DB_TEXT(k), DB_INT(i), DB_TEXT(mark) };
	struct db_value q[] = { DB_TEXT(mark) };
	if (db_run(ins, p, 3, NULL) != 1 || db_run(ins, (struct db_value[]){
	    DB_TEXT(mark), DB_INT(i), DB_TEXT(mark) }, 3, NULL) != 1)
		return -1;
	if (db_get(count_mark, q, 1, &r) != 1)
		return -1;
	CHECK_EQ_INT(db_int(r, 0, 0), 2);	/* exactly its own two rows */
	db_result_free(r);
	return 0;
}

static void
iso_commit_task(int i)
{
	CHECK_EQ_INT(db_tx(iso_commit_fn, &i), 0);
}

static void
check_count(int want)
{
	CHECK_EQ_INT(count_rows(), want);
}

static void
check_empty(int i)
{
	(void)i;
	check_count(0);
}

static void
check_all_committed(int i)
{
	(void)i;
	check_count(2 * N_ISO);
}

TEST(isolation)
{
	iso_seen_other = 0;
	run1(make_table);
	run_tasks(N_ISO, iso_rollback_task);
	CHECK_EQ_INT(iso_seen_other, 0);
	run1(check_empty);
	run_tasks(N_ISO, iso_commit_task);
	run1(check_all_committed);
}

/* ---- PostgreSQL: pool bound, lease timeout, broker restart ---- */

static long max_conns;
static struct db_stmt *slow_insert;

static int
slow_fn(void *arg)
{
	int i = *(int *)arg;
	char k[32], sql[256];
	long n;

	snprintf(k, sizeof(k), "slow-%d", i);
	struct db_value p[] = { DB_TEXT(k) };
	if (db_run(slow_insert, p, 1, NULL) != 1)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity "
	    "WHERE application_name = 'cofferd' AND datname = '%s'", pg_dbname);
	n = pgtest_scalar(pg_dsn, sql);	/* blocking: fine in a test */
	if (n > max_conns)
		max_conns = n;
	return 0;
}

static void
slow_task(int i)
{
	CHECK_EQ_INT(db_tx(slow_fn, &i), 0);
}

static void
check_fifty(int i)
{
	(void)i;
	check_count(50);
}

TEST(pool_is_bounded)
{
	max_conns = 0;
	slow_insert = db_prepare("INSERT INTO kv (k, v) SELECT CAST($1 AS TEXT), 1 FROM pg_sleep(0.02)");
	run1(make_table);
	run_tasks(50, slow_task);
	run1(check_fifty);
	printf("# most connections seen: %ld (pool_max %d)\n", max_conns, cfg.pool_max);
	CHECK(max_conns >= 1);
	CHECK(max_conns <= cfg.pool_max);
}

static int
outlive_lease(void *arg)
{
	static struct db_stmt *nap;

	(void)arg;
	if (nap == NULL)
		nap = db_prepare("SELECT pg_sleep(1.0)");
	if (insert_key("lease-1") < 0)
		return -1;
	if (db_run(nap, NULL, 0, NULL) < 0)
		return -1;	/* the broker ended the lease under us */
	return insert_key("lease-2");
}

static void
lease_timeout_body(int i)
{
	(void)i;
	CHECK_EQ_INT(db_tx(outlive_lease, NULL), -1);
	CHECK_EQ_INT(db_last_error()->kind, DBE_BUSY);
	CHECK_EQ_INT(present("lease-1"), 0);
	CHECK_EQ_INT(present("lease-2"), 0);
	/* the pool recovered: the next transaction works */
	CHECK_EQ_INT(db_tx(insert_key, "after-lease"), 0);
	CHECK_EQ_INT(present("after-lease"), 1);
}

TEST(lease_timeout_rolls_back)
{
	run1(make_table);
	run1(lease_timeout_body);
}

static void
expect_unavailable(int i)
{
	uint64_t t0 = now_msec();

	(void)i;
	CHECK_EQ_INT(count_rows(), -1);
	CHECK_EQ_INT(db_last_error()->kind, DBE_UNAVAILABLE);
	CHECK(now_msec() - t0 < 1000);	/* fails at once, no hang */
}

static void
expect_rows(int i)
{
	(void)i;
	CHECK(count_rows() >= 0);
}

TEST(broker_restart)
{
	run1(make_table);
	stop_broker(SIGKILL);
	wait_for(broker_link_up, 0);	/* let the link notice */
	run1(expect_unavailable);
	start_broker();
	CHECK(wait_for(broker_link_up, 5000));
	run1(expect_rows);
}

/* ---- SQLite: a writer holding the lock makes others fail with 503, not hang ---- */

static void
busy_body(int i)
{
	uint64_t t0 = now_msec();

	(void)i;
	CHECK_EQ_INT(db_tx(insert_key, "busy"), -1);
	CHECK_EQ_INT(db_last_error()->kind, DBE_BUSY);
	/* it waited sqlite_busy_timeout (200 ms), not less, and not much more */
	CHECK(now_msec() - t0 >= 200);
	CHECK(now_msec() - t0 < 2000);
}

TEST(sqlite_busy_is_bounded)
{
	int p[2];
	pid_t pid;
	char b;

	run1(make_table);
	if (pipe(p) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		sqlite3 *h;

		close(p[0]);
		sqlite3_open(cfg.sqlite_path, &h);
		sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();	/* hold the write lock until killed */
	}
	close(p[1]);
	if (read(p[0], &b, 1) != 1)
		printf("# child did not take the lock\n");
	run1(busy_body);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
}

/* Both engines run the contracts; only PostgreSQL has a pool and a broker. */
static const struct test_case sqlite_cases[] = {
	TEST_CASE_AS(contracts, "contracts (sqlite)"),
	TEST_CASE_AS(transactions, "transactions (sqlite)"),
	TEST_CASE_AS(isolation, "isolation (sqlite)"),
	TEST_CASE_AS(sqlite_busy_is_bounded, "busy timeout (sqlite)"),
	{ NULL, NULL }
};

static const struct test_case pg_cases[] = {
	TEST_CASE_AS(contracts, "contracts (postgres)"),
	TEST_CASE_AS(transactions, "transactions (postgres)"),
	TEST_CASE_AS(isolation, "isolation (postgres)"),
	TEST_CASE_AS(pool_is_bounded, "pool bound (postgres)"),
	TEST_CASE_AS(lease_timeout_rolls_back, "lease timeout (postgres)"),
	TEST_CASE_AS(broker_restart, "broker restart (postgres)"),
	{ NULL, NULL }
};

int
main(void)
{
	const char *server, *why;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/coffer-test-db.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	srandom((unsigned)getpid());
	log_set_level(LL_ERROR);
	signal(SIGPIPE, SIG_IGN);	/* as in a worker: a dead broker is an error, not a signal */
	coro_init(0, 64);
	prepare_all();

	if (setup(ENGINE_SQLITE) == 0) {
		test_run_cases(sqlite_cases, NULL);
		teardown();
	} else
		test_fail_cases(sqlite_cases, "the engine could not be set up");

	if ((server = pgtest_server(&why)) == NULL)
		test_run_cases(pg_cases, why);
	else {
		pg_dsn = pgtest_create_db(server, "coffer_db", pg_dbname,
		    sizeof(pg_dbname));
		if (pg_dsn && setup(ENGINE_POSTGRES) == 0) {
			test_run_cases(pg_cases, NULL);
			teardown();
		} else
			test_fail_cases(pg_cases, "the engine could not be set up");
		if (pg_dsn)
			pgtest_drop_db(server, pg_dbname);
		free(pg_dsn);
	}
	return test_done();
}
