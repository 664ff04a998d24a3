/*
 * test_broker.c -- the broker against a real PostgreSQL.
 *
 * The statement cache is tested on its own first.  Most of the rest needs
 * the libpq conninfo in COFFER_TEST_PG_DSN (CI sets it; by hand:
 * `d=$(mktemp -d); chmod 755 $d; tests/pgtmp.sh start $d/pg`); without a
 * server those tests are skipped by name (pgtest.h).
 *
 * The brokers the tests need are one named table, brokers[] at the end:
 * each entry is a configuration ("default pool", "small pool", "short
 * lease", ...) and the tests that run against it.  For each, a broker is
 * forked with those settings (broker_main in the child, its log sent to
 * a file in the temporary runtime dir); the tests wait for its ready byte
 * and then talk to it the way a worker does, with plain blocking sockets
 * and poll() deadlines.  A direct libpq connection (application_name
 * "coffer_test") checks what the server really saw.  Nothing sleeps for a
 * fixed time: every wait is for a condition, with a deadline.
 *
 * For debugging: COFFER_TEST_VERBOSE=1 shows the broker's log (at debug
 * level) on stderr; COFFER_TEST_GROUPS=bc runs only the brokers with those
 * letters (the others' tests are reported skipped).
 *
 * The tests run in a database of their own (pgtest.h), and every look at
 * pg_stat_activity is limited to it, so other programs using the same
 * server at the same time do not disturb them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "broker/broker.h"
#include "broker/pool.h"
#include "broker/stmtcache.h"
#include "src/config.h"
#include "src/log.h"
#include "tests/unit/pgtest.h"
#include "src/proto.h"
#include "tests/unit/test.h"
#include "src/util.h"

static const char *server_dsn;	/* COFFER_TEST_PG_DSN */
static char *dsn;		/* our own database on it */
static char dbname[64];
static char rundir[64];
static char sockpath[100];
static char logpath[300];
static char table[64];
static PGconn *direct;
static pid_t broker_pid;

/* ---- the statement cache, no server needed ---- */

TEST(stmtcache_lru)
{
	struct stmtcache *sc = stmtcache_new(3);
	char name[STMT_NAME_MAX], ev[STMT_NAME_MAX], n1[STMT_NAME_MAX];
	int i;

	CHECK(stmtcache_get(sc, "a") == NULL);
	stmtcache_next_name(sc, n1);
	CHECK_EQ_STR(n1, "s1");
	CHECK_EQ_INT(stmtcache_put(sc, "a", n1, ev), 0);
	stmtcache_next_name(sc, name);
	CHECK_EQ_INT(stmtcache_put(sc, "b", name, ev), 0);
	stmtcache_next_name(sc, name);
	CHECK_EQ_INT(stmtcache_put(sc, "c", name, ev), 0);
	CHECK_EQ_INT(stmtcache_count(sc), 3);
	CHECK_EQ_STR(stmtcache_get(sc, "a"), "s1");	/* a is now most recent */
	stmtcache_next_name(sc, name);
	CHECK_EQ_INT(stmtcache_put(sc, "d", name, ev), 1);
	CHECK_EQ_STR(ev, "s2");				/* b was least recent */
	CHECK(stmtcache_get(sc, "b") == NULL);
	CHECK_EQ_STR(stmtcache_get(sc, "d"), "s4");
	CHECK_EQ_INT(stmtcache_count(sc), 3);
	CHECK_EQ_INT(stmtcache_drop(sc, "c", name), 1);
	CHECK_EQ_STR(name, "s3");
	CHECK_EQ_INT(stmtcache_drop(sc, "c", NULL), 0);
	CHECK_EQ_INT(stmtcache_count(sc), 2);
	/* churn: names never repeat, the bound holds */
	for (i = 0; i < 1000; i++) {
		char sql[32];

		snprintf(sql, sizeof(sql), "SELECT %d", i);
		if (stmtcache_get(sc, sql) == NULL) {
			stmtcache_next_name(sc, name);
			stmtcache_put(sc, sql, name, ev);
		}
	}
	CHECK_EQ_INT(stmtcache_count(sc), 3);
	CHECK_EQ_STR(stmtcache_get(sc, "SELECT 999"), "s1004");
	CHECK(stmtcache_get(sc, "SELECT 996") == NULL);
	stmtcache_free(sc);
}

/* ---- helpers: time, the broker process ---- */

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * One broker configuration and the tests that run against it.  Times are
 * in ms; a field left 0 takes the value in brackets.
 */
struct broker_case {
	const char	*name;
	char		 group;		/* its letter in COFFER_TEST_GROUPS */
	int		 pool_min, pool_max;
	int64_t		 pool_timeout;
	int64_t		 lease_timeout;
	int64_t		 shutdown_timeout;	/* [5000] */
	unsigned	 stmtcache_cap;		/* [the broker's own] */
	int		 sqlite;		/* engine sqlite [postgres] */
	const char	*postgres_dsn;		/* [our test database] */
	int		 reload_file;		/* config file rundir/reload.conf */
	int		 needs_server;		/* skipped without PostgreSQL */
	const struct test_case *tests;
};

static const char *
reload_path(void)
{
	static char path[320];

	snprintf(path, sizeof(path), "%s/reload.conf", rundir);
	return path;
}

/* cfg for broker case bc (config_free() it). */
static void
cfg_make(struct config *cfg, const struct broker_case *bc)
{
	config_defaults(cfg);
	free(cfg->runtime_dir);
	cfg->runtime_dir = xstrdup(rundir);
	free(cfg->postgres_dsn);
	cfg->postgres_dsn = xstrdup(bc->postgres_dsn ? bc->postgres_dsn :
	    dsn ? dsn : "");
	cfg->engine = bc->sqlite ? ENGINE_SQLITE : ENGINE_POSTGRES;
	cfg->pool_min = bc->pool_min;
	cfg->pool_max = bc->pool_max;
	cfg->pool_timeout = bc->pool_timeout;
	cfg->lease_timeout = bc->lease_timeout;
	cfg->statement_timeout = 0;
	cfg->shutdown_timeout = bc->shutdown_timeout ? bc->shutdown_timeout :
	    5000;
	if (bc->reload_file) {
		free(cfg->path);
		cfg->path = xstrdup(reload_path());
	}
}

/* Fork a broker on cfg; returns once it wrote its ready byte. */
static pid_t
broker_start(struct config *cfg)
{
	struct pollfd pfd;
	int p[2], fd;
	char c;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0 && !getenv("COFFER_TEST_VERBOSE"))
			dup2(fd, 2);
		log_set_role("broker");
		log_set_level(getenv("COFFER_TEST_VERBOSE") ? LL_DEBUG : LL_INFO);
		exit(broker_main(cfg, p[1]));
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (pid < 0 || poll(&pfd, 1, 10000) != 1 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		if (pid > 0)
			kill(pid, SIGKILL);
		return -1;
	}
	close(p[0]);
	broker_pid = pid;
	return pid;
}

/* Wait for pid to exit; returns its exit status, or -1 (killed it). */
static int
wait_exit(pid_t pid, int timeout_ms)
{
	int64_t deadline = ms_now() + timeout_ms;
	int st;

	while (ms_now() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		poll(NULL, 0, 5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int
broker_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	return wait_exit(pid, 10000);
}

/* Wait until the broker's log contains s. */
static int
log_has(const char *s, int timeout_ms)
{
	int64_t deadline = ms_now() + timeout_ms;
	char buf[1 << 16];
	FILE *f;
	size_t n;

	do {
		if ((f = fopen(logpath, "r")) != NULL) {
			while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
				buf[n] = '\0';
				if (strstr(buf, s)) {
					fclose(f);
					return 1;
				}
			}
			fclose(f);
		}
		poll(NULL, 0, 10);
	} while (ms_now() < deadline);
	return 0;
}

/* ---- a worker's side of the socket ---- */

struct wc {
	int fd;
	uint8_t *buf;
	size_t len, cap, consumed;
	uint32_t next_id;
	struct proto_frame f;		/* last frame received */
};

static int
wc_connect(struct wc *w)
{
	struct sockaddr_un sa;

	memset(w, 0, sizeof(*w));
	w->next_id = 1;
	w->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	if (connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return 0;
}

static void
wc_close(struct wc *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free(w->buf);
	w->buf = NULL;
}

static void
wc_send(struct wc *w, const struct proto_buf *b)
{
	size_t off = 0;
	ssize_t n;

	while (off < b->len) {
		n = send(w->fd, b->data + off, b->len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* Next frame into w->f: 1, 0 on EOF, -1 on timeout or a bad frame. */
static int
wc_recv(struct wc *w, int timeout_ms)
{
	int64_t deadline = ms_now() + timeout_ms;
	struct pollfd pfd = { w->fd, POLLIN, 0 };
	size_t used;
	ssize_t n;
	int rc;

	if (w->consumed) {
		memmove(w->buf, w->buf + w->consumed, w->len - w->consumed);
		w->len -= w->consumed;
		w->consumed = 0;
	}
	for (;;) {
		rc = w->len ? proto_next(w->buf, w->len, &w->f, &used) : 0;
		if (rc == 1) {
			w->consumed = used;
			return 1;
		}
		if (rc < 0)
			return -1;
		if (ms_now() >= deadline ||
		    poll(&pfd, 1, (int)(deadline - ms_now())) != 1)
			return -1;
		if (w->cap - w->len < 65536) {
			w->cap = w->cap ? w->cap * 2 : 1 << 17;
			w->buf = xrealloc(w->buf, w->cap);
		}
		n = recv(w->fd, w->buf + w->len, w->cap - w->len, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == ECONNRESET ? 0 : -1;
		w->len += (size_t)n;
	}
}

static uint32_t
wc_hello_version(struct wc *w, uint32_t version)
{
	struct proto_buf b;
	size_t s;
	uint32_t id = w->next_id++;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_HELLO, id);
	proto_put_u32(&b, version);
	proto_put_u32(&b, (uint32_t)getpid());
	proto_end(&b, s);
	wc_send(w, &b);
	proto_buf_free(&b);
	return id;
}

/* Connect and say HELLO; returns the engine from HELLO_OK or -1. */
static int
wc_open(struct wc *w)
{
	struct proto_reader r;

	if (wc_connect(w) < 0)
		return -1;
	wc_hello_version(w, PROTO_VERSION);
	if (wc_recv(w, 5000) != 1 || w->f.type != PT_HELLO_OK)
		return -1;
	proto_reader_init(&r, &w->f);
	if (proto_get_u32(&r) != PROTO_VERSION)
		return -1;
	return proto_get_u8(&r);
}

static uint32_t
wc_send_query(struct wc *w, uint64_t lease, uint8_t flags, const char *sql,
	      int n, const char *const *params)
{
	struct proto_buf b;
	size_t s;
	uint32_t id = w->next_id++;
	int i;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_QUERY, id);
	proto_put_u64(&b, lease);
	proto_put_u8(&b, flags);
	proto_put_str(&b, sql);
	proto_put_u16(&b, (uint16_t)n);
	for (i = 0; i < n; i++)
		proto_put_cell(&b, params[i], -1);
	proto_end(&b, s);
	wc_send(w, &b);
	proto_buf_free(&b);
	return id;
}

static uint32_t
wc_send_begin(struct wc *w)
{
	struct proto_buf b;
	size_t s;
	uint32_t id = w->next_id++;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_BEGIN, id);
	proto_put_u8(&b, 0);
	proto_end(&b, s);
	wc_send(w, &b);
	proto_buf_free(&b);
	return id;
}

static uint32_t
wc_send_end(struct wc *w, uint64_t lease, int commit)
{
	struct proto_buf b;
	size_t s;
	uint32_t id = w->next_id++;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_END, id);
	proto_put_u64(&b, lease);
	proto_put_u8(&b, (uint8_t)commit);
	proto_end(&b, s);
	wc_send(w, &b);
	proto_buf_free(&b);
	return id;
}

/* A decoded answer. */
struct reply {
	int type;			/* PT_RESULT, PT_ERROR, PT_LEASE; 0: none */
	struct proto_result res;
	struct proto_error err;
	uint64_t lease;
};

static void
reply_get(struct wc *w, uint32_t id, struct reply *rp, int timeout_ms)
{
	struct proto_reader r;

	memset(rp, 0, sizeof(*rp));
	if (wc_recv(w, timeout_ms) != 1 || w->f.id != id)
		return;
	switch (w->f.type) {
	case PT_RESULT:
		if (proto_decode_result(&w->f, &rp->res) == 0)
			rp->type = PT_RESULT;
		break;
	case PT_ERROR:
		if (proto_decode_error(&w->f, &rp->err) == 0)
			rp->type = PT_ERROR;
		break;
	case PT_LEASE:
		proto_reader_init(&r, &w->f);
		rp->lease = proto_get_u64(&r);
		if (proto_reader_done(&r) == 0)
			rp->type = PT_LEASE;
		break;
	}
}

static void
reply_free(struct reply *rp)
{
	proto_result_free(&rp->res);
}

/* Run sql; returns the reply type.  Cell (0,0) is copied to first. */
static int
q(struct wc *w, uint64_t lease, const char *sql, int n,
  const char *const *params, struct reply *rp)
{
	reply_get(w, wc_send_query(w, lease, 0, sql, n, params), rp, 10000);
	return rp->type;
}

/* Run sql expecting one value; returns it as a long (or -999999). */
static long
q_long(struct wc *w, uint64_t lease, const char *sql)
{
	struct reply rp;
	long v = -999999;

	if (q(w, lease, sql, 0, NULL, &rp) == PT_RESULT && rp.res.nrows == 1 &&
	    rp.res.ncols >= 1 && rp.res.cells[0])
		v = strtol(rp.res.cells[0], NULL, 10);
	else if (rp.type == PT_ERROR)
		printf("# %s: %s %s\n", sql, rp.err.sqlstate, rp.err.message);
	reply_free(&rp);
	return v;
}

static uint64_t
begin(struct wc *w)
{
	struct reply rp;

	reply_get(w, wc_send_begin(w), &rp, 10000);
	return rp.type == PT_LEASE ? rp.lease : 0;
}

/* END; returns PT_RESULT, or the error kind negated. */
static int
end(struct wc *w, uint64_t lease, int commit, char *sqlstate)
{
	struct reply rp;
	int rc;

	reply_get(w, wc_send_end(w, lease, commit), &rp, 10000);
	rc = rp.type == PT_ERROR ? -(int)rp.err.kind : rp.type;
	if (sqlstate)
		snprintf(sqlstate, 6, "%s", rp.type == PT_ERROR ?
		    rp.err.sqlstate : "");
	reply_free(&rp);
	return rc;
}

static int64_t
stat_get(struct wc *w, const char *name)
{
	struct proto_buf b;
	struct proto_reader r;
	size_t s;
	uint32_t id = w->next_id++;
	uint16_t n, i;
	int64_t v = -1, x;
	const char *k;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_STATS, id);
	proto_end(&b, s);
	wc_send(w, &b);
	proto_buf_free(&b);
	if (wc_recv(w, 5000) != 1 || w->f.type != PT_STATS_REPLY || w->f.id != id)
		return -2;
	proto_reader_init(&r, &w->f);
	n = proto_get_u16(&r);
	for (i = 0; i < n; i++) {
		k = proto_get_str(&r, NULL);
		x = proto_get_i64(&r);
		if (k && strcmp(k, name) == 0)
			v = x;
	}
	return proto_reader_done(&r) == 0 ? v : -3;
}

/* Wait until stat name reaches at least want. */
static int
stat_wait(struct wc *w, const char *name, int64_t want, int timeout_ms)
{
	int64_t deadline = ms_now() + timeout_ms;

	do {
		if (stat_get(w, name) >= want)
			return 1;
		poll(NULL, 0, 10);
	} while (ms_now() < deadline);
	return 0;
}

/* ---- the direct libpq connection ---- */

static long
direct_long(const char *sql)
{
	PGresult *r = PQexec(direct, sql);
	long v = -999999;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else
		printf("# direct %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

static int
direct_ok(const char *sql)
{
	PGresult *r = PQexec(direct, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;

	PQclear(r);
	return ok;
}

static long
cofferd_sessions(void)
{
	return direct_long("SELECT count(*) FROM pg_stat_activity "
	    "WHERE application_name = 'cofferd' AND datname = current_database()");
}

static char sqlbuf[512];

/* sprintf into a static buffer, with %T standing for the test table. */
static const char *
S(const char *fmt)
{
	const char *p;
	char *o = sqlbuf;

	for (p = fmt; *p && o < sqlbuf + sizeof(sqlbuf) - 64; p++) {
		if (p[0] == '%' && p[1] == 'T') {
			o += sprintf(o, "%s", table);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return sqlbuf;
}

/* ---- on the "default pool" broker ---- */

TEST(hello_version_mismatch)
{
	struct wc w;
	struct proto_error e;

	CHECK_EQ_INT(wc_connect(&w), 0);
	wc_hello_version(&w, PROTO_VERSION + 41);
	CHECK_EQ_INT(wc_recv(&w, 5000), 1);
	CHECK_EQ_INT(w.f.type, PT_ERROR);
	CHECK_EQ_INT(proto_decode_error(&w.f, &e), 0);
	CHECK_EQ_INT(e.kind, PE_PROTOCOL);
	CHECK_EQ_INT(wc_recv(&w, 5000), 0);	/* then closed */
	wc_close(&w);

	/* the first frame must be HELLO */
	CHECK_EQ_INT(wc_connect(&w), 0);
	wc_send_begin(&w);
	CHECK_EQ_INT(wc_recv(&w, 5000), 1);
	CHECK_EQ_INT(w.f.type, PT_ERROR);
	CHECK_EQ_INT(wc_recv(&w, 5000), 0);
	wc_close(&w);
}

TEST(socket_is_private)
{
	struct stat sb;

	CHECK_EQ_INT(stat(sockpath, &sb), 0);
	CHECK(S_ISSOCK(sb.st_mode));
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
}

/* As another uid (root only): the file mode stops connect(); with the
 * mode opened up, SO_PEERCRED still makes the broker hang up. */
TEST(foreign_uid_rejected)
{
	struct wc w;
	pid_t pid;
	int st;

	if (geteuid() != 0)
		SKIP("not root");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (setuid(65534) < 0)
			_exit(10);
		if (wc_connect(&w) == 0)
			_exit(11);		/* 0600 let us in */
		_exit(0);
	}
	CHECK_EQ_INT(wait_exit(pid, 5000), 0);
	chmod(rundir, 0711);
	chmod(sockpath, 0666);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (setuid(65534) < 0 || wc_connect(&w) < 0)
			_exit(10);
		wc_hello_version(&w, PROTO_VERSION);
		_exit(wc_recv(&w, 5000) == 0 ? 0 : 12);	/* hung up */
	}
	st = wait_exit(pid, 10000);
	CHECK_EQ_INT(st, 0);
	chmod(sockpath, 0600);
	chmod(rundir, 0700);
	CHECK(log_has("rejected a broker connection from uid 65534", 5000));
}

TEST(query_outside_lease)
{
	struct wc w;
	struct reply rp;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	CHECK_EQ_INT(q(&w, 0, "SELECT 1 AS one, 'x'::text AS t, NULL::int AS n, "
	    "''::text AS e", 0, NULL, &rp), PT_RESULT);
	CHECK_EQ_INT(rp.res.ncols, 4);
	CHECK_EQ_INT(rp.res.nrows, 1);
	if (rp.res.ncols == 4 && rp.res.nrows == 1) {
		CHECK_EQ_STR(rp.res.colnames[0], "one");
		CHECK_EQ_INT(rp.res.coltypes[0], 23);	/* int4 */
		CHECK_EQ_INT(rp.res.coltypes[1], 25);	/* text */
		CHECK_EQ_STR(rp.res.cells[0], "1");
		CHECK_EQ_STR(rp.res.cells[1], "x");
		CHECK(rp.res.cells[2] == NULL && rp.res.lens[2] == -1);
		CHECK(rp.res.cells[3] != NULL && rp.res.lens[3] == 0);
	}
	reply_free(&rp);

	/* rows changed, and zero rows */
	CHECK_EQ_INT(q(&w, 0, S("INSERT INTO %T (id, v) SELECT g, 'r' || g "
	    "FROM generate_series(1000, 1099) g"), 0, NULL, &rp), PT_RESULT);
	CHECK(rp.res.changes == 100);
	CHECK_EQ_INT(rp.res.ncols, 0);
	reply_free(&rp);
	CHECK_EQ_INT(q(&w, 0, S("SELECT id FROM %T WHERE id < 0"), 0, NULL,
	    &rp), PT_RESULT);
	CHECK_EQ_INT(rp.res.nrows, 0);
	CHECK_EQ_INT(rp.res.ncols, 1);
	reply_free(&rp);
	CHECK_EQ_INT(q(&w, 0, S("DELETE FROM %T WHERE id >= 1000"), 0, NULL,
	    &rp), PT_RESULT);
	CHECK(rp.res.changes == 100);
	reply_free(&rp);
	CHECK_EQ_INT(stat_get(&w, "workers"), 1);
	CHECK(stat_get(&w, "statements_total") >= 4);
	wc_close(&w);
}

TEST(params_with_null)
{
	static const char *p[] = { NULL, "41", "", "héllo 'quoted'" };
	struct wc w;
	struct reply rp;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	CHECK_EQ_INT(q(&w, 0, "SELECT $1::text IS NULL, $2::int + 1, "
	    "$3::text = '', $4::text", 4, p, &rp), PT_RESULT);
	if (rp.res.nrows == 1 && rp.res.ncols == 4) {
		CHECK_EQ_STR(rp.res.cells[0], "t");
		CHECK_EQ_STR(rp.res.cells[1], "42");
		CHECK_EQ_STR(rp.res.cells[2], "t");
		CHECK_EQ_STR(rp.res.cells[3], "héllo 'quoted'");
	}
	reply_free(&rp);
	/* the wrong number of parameters is the server's error, not ours */
	CHECK_EQ_INT(q(&w, 0, "SELECT $1::int", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_SQL);
	CHECK_EQ_STR(rp.err.sqlstate, "08P01");
	reply_free(&rp);
	CHECK_EQ_INT(q_long(&w, 0, "SELECT 7"), 7);	/* still fine */
	wc_close(&w);
}

TEST(prepared_statement_reuse)
{
	static const char *p[] = { "21" };
	struct wc w;
	struct reply rp;
	uint64_t lease;
	int64_t before, after;
	int i;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	lease = begin(&w);
	CHECK(lease != 0);
	before = stat_get(&w, "prepares_total");
	for (i = 0; i < 3; i++) {
		CHECK_EQ_INT(q(&w, lease, "SELECT $1::int * 2 AS twice", 1, p,
		    &rp), PT_RESULT);
		if (rp.res.nrows == 1)
			CHECK_EQ_STR(rp.res.cells[0], "42");
		reply_free(&rp);
	}
	after = stat_get(&w, "prepares_total");
	CHECK_EQ_INT(after - before, 1);
	CHECK_EQ_INT(q_long(&w, lease, "SELECT 3 AS other"), 3);
	CHECK_EQ_INT(q_long(&w, lease, "SELECT 3 AS other"), 3);
	CHECK_EQ_INT(stat_get(&w, "prepares_total") - after, 1);
	/* the server agrees: one statement per distinct text */
	CHECK_EQ_INT(q_long(&w, lease, "SELECT count(*) FROM "
	    "pg_prepared_statements WHERE statement = 'SELECT 3 AS other'"), 1);
	CHECK_EQ_INT(end(&w, lease, 1, NULL), PT_RESULT);

	/* borrowed connections: at most once per connection */
	before = stat_get(&w, "prepares_total");
	for (i = 0; i < 10; i++)
		CHECK_EQ_INT(q_long(&w, 0, "SELECT 5 AS borrowed"), 5);
	after = stat_get(&w, "prepares_total");
	CHECK(after - before >= 1);
	CHECK(after - before <= stat_get(&w, "max"));
	wc_close(&w);
}

TEST(script_query)
{
	struct wc w;
	struct reply rp;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	reply_get(&w, wc_send_query(&w, 0, PQF_SCRIPT, "SELECT 1; "
	    "SELECT 2 AS two, 3 AS three", 0, NULL), &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_RESULT);
	CHECK_EQ_INT(rp.res.ncols, 2);
	if (rp.res.nrows == 1)
		CHECK_EQ_STR(rp.res.cells[0], "2");
	reply_free(&rp);
	/* the first error ends a script */
	reply_get(&w, wc_send_query(&w, 0, PQF_SCRIPT, "SELECT 1; "
	    "SELECT 1/0; SELECT 3", 0, NULL), &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_ERROR);
	CHECK_EQ_STR(rp.err.sqlstate, "22012");
	reply_free(&rp);
	/* a script that leaves a transaction open: the broker cleans up */
	reply_get(&w, wc_send_query(&w, 0, PQF_SCRIPT, S("BEGIN; "
	    "INSERT INTO %T VALUES (77, 'dangling')"), 0, NULL), &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_RESULT);
	reply_free(&rp);
	CHECK_EQ_INT(q_long(&w, 0, S("SELECT count(*) FROM %T WHERE id = 77")), 0);
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id = 77")), 0);
	wc_close(&w);
}

TEST(begin_commit_visible)
{
	struct wc a, b;
	struct reply rp;
	uint64_t lease;

	CHECK_EQ_INT(wc_open(&a), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&b), ENGINE_POSTGRES);
	lease = begin(&a);
	CHECK(lease != 0);
	CHECK_EQ_INT(q(&a, lease, S("INSERT INTO %T VALUES (1, 'one')"), 0, NULL,
	    &rp), PT_RESULT);
	CHECK(rp.res.changes == 1);
	reply_free(&rp);
	CHECK_EQ_INT(q_long(&a, lease, S("SELECT count(*) FROM %T WHERE id = 1")), 1);
	CHECK_EQ_INT(q_long(&b, 0, S("SELECT count(*) FROM %T WHERE id = 1")), 0);
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id = 1")), 0);
	CHECK_EQ_INT(stat_get(&b, "leased"), 1);
	CHECK_EQ_INT(end(&a, lease, 1, NULL), PT_RESULT);
	CHECK_EQ_INT(q_long(&b, 0, S("SELECT count(*) FROM %T WHERE id = 1")), 1);
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id = 1")), 1);
	CHECK_EQ_INT(stat_get(&b, "leased"), 0);
	/* an ended lease is gone */
	CHECK_EQ_INT(q(&a, lease, "SELECT 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_NO_LEASE);
	reply_free(&rp);
	CHECK_EQ_INT(end(&a, lease, 1, NULL), -PE_NO_LEASE);
	wc_close(&a);
	wc_close(&b);
}

TEST(rollback_discards)
{
	struct wc a;
	uint64_t lease;

	CHECK_EQ_INT(wc_open(&a), ENGINE_POSTGRES);
	lease = begin(&a);
	CHECK(lease != 0);
	CHECK_EQ_INT(q_long(&a, lease, S("WITH i AS (INSERT INTO %T VALUES (2, "
	    "'two') RETURNING id) SELECT id FROM i")), 2);
	CHECK_EQ_INT(end(&a, lease, 0, NULL), PT_RESULT);
	CHECK_EQ_INT(q_long(&a, 0, S("SELECT count(*) FROM %T WHERE id = 2")), 0);
	wc_close(&a);
}

TEST(lease_queue_and_foreign)
{
	struct wc a, b;
	struct reply rp;
	uint64_t lease;
	uint32_t ids[5];
	int i;

	CHECK_EQ_INT(wc_open(&a), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&b), ENGINE_POSTGRES);
	lease = begin(&a);
	/* several statements in flight on one lease run in order */
	for (i = 0; i < 5; i++) {
		char sql[256];

		snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (%d, 'q') "
		    "RETURNING (SELECT count(*) FROM %s)", table, 300 + i, table);
		ids[i] = wc_send_query(&a, lease, 0, sql, 0, NULL);
	}
	for (i = 0; i < 5; i++) {
		reply_get(&a, ids[i], &rp, 5000);
		CHECK_EQ_INT(rp.type, PT_RESULT);
		reply_free(&rp);
	}
	CHECK_EQ_INT(q_long(&a, lease, S("SELECT count(*) FROM %T WHERE id "
	    "BETWEEN 300 AND 304")), 5);
	/* another worker cannot use it */
	CHECK_EQ_INT(q(&b, lease, "SELECT 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_NO_LEASE);
	reply_free(&rp);
	CHECK_EQ_INT(end(&b, lease, 1, NULL), -PE_NO_LEASE);
	CHECK_EQ_INT(q(&a, 987654321, "SELECT 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_NO_LEASE);
	reply_free(&rp);
	CHECK_EQ_INT(end(&a, lease, 0, NULL), PT_RESULT);
	wc_close(&a);
	wc_close(&b);
}

TEST(concurrent_leases_isolated)
{
	struct wc a, b;
	uint64_t la, lb;
	long pa, pb;

	CHECK_EQ_INT(wc_open(&a), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&b), ENGINE_POSTGRES);
	la = begin(&a);
	lb = begin(&b);
	CHECK(la != 0 && lb != 0 && la != lb);
	pa = q_long(&a, la, "SELECT pg_backend_pid()");
	pb = q_long(&b, lb, "SELECT pg_backend_pid()");
	CHECK(pa > 0 && pb > 0 && pa != pb);
	CHECK_EQ_INT(q_long(&a, la, S("WITH i AS (INSERT INTO %T VALUES (10, "
	    "'a') RETURNING id) SELECT count(*) FROM i")), 1);
	CHECK_EQ_INT(q_long(&b, lb, S("SELECT count(*) FROM %T WHERE id = 10")), 0);
	CHECK_EQ_INT(q_long(&b, lb, S("WITH i AS (INSERT INTO %T VALUES (11, "
	    "'b') RETURNING id) SELECT count(*) FROM i")), 1);
	CHECK_EQ_INT(q_long(&a, la, S("SELECT count(*) FROM %T WHERE id = 11")), 0);
	CHECK_EQ_INT(q_long(&a, la, "SELECT pg_backend_pid()"), pa); /* pinned */
	CHECK_EQ_INT(end(&a, la, 1, NULL), PT_RESULT);
	CHECK_EQ_INT(end(&b, lb, 0, NULL), PT_RESULT);
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id IN (10, 11)")), 1);
	wc_close(&a);
	wc_close(&b);
}

TEST(syntax_error)
{
	struct wc w;
	struct reply rp;
	uint64_t lease;
	char st[6];

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	CHECK_EQ_INT(q(&w, 0, "SELEC 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_SQL);
	CHECK_EQ_STR(rp.err.sqlstate, "42601");
	CHECK(rp.err.message && strstr(rp.err.message, "SELEC") != NULL);
	reply_free(&rp);
	CHECK_EQ_INT(q_long(&w, 0, "SELECT 1"), 1);
	/* committing a failed transaction is an error, not a silent rollback */
	lease = begin(&w);
	CHECK_EQ_INT(q(&w, lease, "SELECT 1/0", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_STR(rp.err.sqlstate, "22012");
	reply_free(&rp);
	CHECK_EQ_INT(q(&w, lease, "SELECT 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_STR(rp.err.sqlstate, "25P02");
	reply_free(&rp);
	CHECK_EQ_INT(end(&w, lease, 1, st), -PE_SQL);
	CHECK_EQ_STR(st, "25P02");
	wc_close(&w);
}

TEST(commit_failure)
{
	struct wc w;
	uint64_t lease;
	char st[6];

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	CHECK(direct_ok(S("CREATE TABLE %T_d (k int UNIQUE DEFERRABLE "
	    "INITIALLY DEFERRED)")));
	lease = begin(&w);
	CHECK_EQ_INT(q_long(&w, lease, S("WITH i AS (INSERT INTO %T_d VALUES (1), "
	    "(1) RETURNING k) SELECT count(*) FROM i")), 2);
	CHECK_EQ_INT(end(&w, lease, 1, st), -PE_SQL);
	CHECK_EQ_STR(st, "23505");
	/* the connection is usable again */
	CHECK_EQ_INT(q_long(&w, 0, S("SELECT count(*) FROM %T_d")), 0);
	CHECK(direct_ok(S("DROP TABLE %T_d")));
	wc_close(&w);
}

/* Results past PROTO_MAX_FRAME become an error; near it, they arrive. */
TEST(big_results)
{
	struct wc w;
	struct reply rp;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	CHECK_EQ_INT(q(&w, 0, "SELECT repeat('x', 1000000) FROM "
	    "generate_series(1, 40)", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_SQL);
	CHECK_EQ_STR(rp.err.sqlstate, "54000");
	reply_free(&rp);
	CHECK_EQ_INT(q(&w, 0, "SELECT g, repeat('y', 1000000) FROM "
	    "generate_series(1, 30) g", 0, NULL, &rp), PT_RESULT);
	CHECK_EQ_INT(rp.res.nrows, 30);
	if (rp.res.nrows == 30)
		CHECK_EQ_INT(rp.res.lens[59], 1000000);
	reply_free(&rp);
	CHECK_EQ_INT(q_long(&w, 0, "SELECT 8"), 8);
	wc_close(&w);
}

TEST(nul_in_parameter)
{
	static const char bad[] = { 'a', 0, 'b' };
	struct wc w;
	struct reply rp;
	struct proto_buf b;
	size_t s;
	uint32_t id;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	proto_buf_init(&b);
	id = w.next_id++;
	s = proto_begin(&b, PT_QUERY, id);
	proto_put_u64(&b, 0);
	proto_put_u8(&b, 0);
	proto_put_str(&b, "SELECT $1::text");
	proto_put_u16(&b, 1);
	proto_put_cell(&b, bad, 3);
	proto_end(&b, s);
	wc_send(&w, &b);
	proto_buf_free(&b);
	reply_get(&w, id, &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_ERROR);
	CHECK_EQ_STR(rp.err.sqlstate, "22021");
	CHECK_EQ_INT(q_long(&w, 0, "SELECT 2"), 2);	/* connection kept */
	wc_close(&w);
}

TEST(malformed_frame_drops)
{
	struct wc w, ok;
	struct proto_buf b;
	struct proto_error e;
	size_t s;

	CHECK_EQ_INT(wc_open(&ok), ENGINE_POSTGRES);
	/* an unknown frame type: dropped without an answer */
	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	proto_buf_init(&b);
	s = proto_begin(&b, PT_STATS, 9);
	proto_end(&b, s);
	b.data[8] = 200;
	wc_send(&w, &b);
	CHECK_EQ_INT(wc_recv(&w, 5000), 0);
	wc_close(&w);
	/* a QUERY whose payload does not decode: PE_PROTOCOL, then closed */
	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_QUERY, 10);
	proto_put_u64(&b, 0);
	proto_put_u8(&b, 0);
	proto_put_u32(&b, 100);		/* string longer than the frame */
	proto_put_u8(&b, 'S');
	proto_end(&b, s);
	wc_send(&w, &b);
	CHECK_EQ_INT(wc_recv(&w, 5000), 1);
	CHECK_EQ_INT(w.f.type, PT_ERROR);
	CHECK_EQ_INT(w.f.id, 10);
	CHECK_EQ_INT(proto_decode_error(&w.f, &e), 0);
	CHECK_EQ_INT(e.kind, PE_PROTOCOL);
	CHECK_EQ_INT(wc_recv(&w, 5000), 0);
	wc_close(&w);
	/* a frame length over the limit */
	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_QUERY, 11);
	proto_end(&b, s);
	memset(b.data, 0xff, 4);
	wc_send(&w, &b);
	CHECK_EQ_INT(wc_recv(&w, 5000), 0);
	wc_close(&w);
	/* a worker sending a broker-only frame */
	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	proto_buf_reset(&b);
	proto_encode_error(&b, 12, PE_SQL, "", "");
	wc_send(&w, &b);
	CHECK_EQ_INT(wc_recv(&w, 5000), 1);
	CHECK_EQ_INT(w.f.type, PT_ERROR);
	CHECK_EQ_INT(wc_recv(&w, 5000), 0);
	wc_close(&w);
	proto_buf_free(&b);
	/* the others are unaffected */
	CHECK_EQ_INT(q_long(&ok, 0, "SELECT 3"), 3);
	CHECK_EQ_INT(stat_get(&ok, "workers"), 1);
	wc_close(&ok);
}

/* A worker dies holding a row lock: the lease is rolled back and the lock
 * released; with a statement in flight, the connection is closed. */
TEST(worker_disconnect_rolls_back)
{
	struct wc a, b;
	struct reply rp;
	uint64_t la, lb;
	int64_t deadline;
	int got;
	int pass;

	CHECK(direct_ok(S("INSERT INTO %T VALUES (20, 'lockme')")));
	for (pass = 0; pass < 2; pass++) {
		CHECK_EQ_INT(wc_open(&a), ENGINE_POSTGRES);
		CHECK_EQ_INT(wc_open(&b), ENGINE_POSTGRES);
		la = begin(&a);
		CHECK(la != 0);
		CHECK_EQ_INT(q_long(&a, la, S("SELECT id FROM %T WHERE id = 20 "
		    "FOR UPDATE")), 20);
		CHECK_EQ_INT(q_long(&a, la, S("WITH i AS (INSERT INTO %T VALUES "
		    "(21, 'x') RETURNING id) SELECT id FROM i")), 21);
		if (pass == 1)		/* in flight when the worker dies */
			wc_send_query(&a, la, 0, "SELECT pg_sleep(60)", 0, NULL);
		wc_close(&a);
		lb = begin(&b);
		CHECK(lb != 0);
		got = 0;
		/* Generous: under sanitizers and load the server may take a
		 * while to notice the closed connection and end its backend. */
		deadline = ms_now() + 20000;
		while (!got && ms_now() < deadline) {
			q(&b, lb, S("SELECT id FROM %T WHERE id = 20 FOR UPDATE "
			    "NOWAIT"), 0, NULL, &rp);
			if (rp.type == PT_RESULT && rp.res.nrows == 1) {
				got = 1;
			} else if (rp.type == PT_ERROR &&
			    strcmp(rp.err.sqlstate, "55P03") == 0) {
				/* still locked: start over after the error */
				reply_free(&rp);
				CHECK_EQ_INT(end(&b, lb, 0, NULL), PT_RESULT);
				poll(NULL, 0, 10);
				lb = begin(&b);
				continue;
			} else {
				printf("# unexpected reply %d\n", rp.type);
				reply_free(&rp);
				break;
			}
			reply_free(&rp);
		}
		CHECK(got);
		CHECK_EQ_INT(q_long(&b, lb, S("SELECT count(*) FROM %T WHERE id = 21")), 0);
		CHECK_EQ_INT(end(&b, lb, 0, NULL), PT_RESULT);
		CHECK_EQ_INT(stat_get(&b, "workers"), 1);
		wc_close(&b);
	}
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id = 21")), 0);
	/* the discarded connection's backend is gone, not idle in transaction
	 * (it may take the server a moment to see the client has gone) */
	deadline = ms_now() + 20000;
	while (direct_long("SELECT count(*) FROM pg_stat_activity WHERE "
	    "application_name = 'cofferd' AND datname = current_database() AND "
	    "query = 'SELECT pg_sleep(60)' AND state <> 'idle'") != 0 &&
	    ms_now() < deadline)
		poll(NULL, 0, 50);
	CHECK_EQ_INT(direct_long("SELECT count(*) FROM pg_stat_activity WHERE "
	    "application_name = 'cofferd' AND datname = current_database() AND "
	    "query = 'SELECT pg_sleep(60)' AND state <> 'idle'"), 0);
}

/* The server kills our backends: the pool notices and recovers; a lease
 * whose backend died reports PE_CONNECTION. */
TEST(broken_connections_recover)
{
	struct wc w;
	struct reply rp;
	uint64_t lease;
	long pid;
	char sql[128];
	int64_t broken, deadline;
	int ok = 0;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	broken = stat_get(&w, "connections_broken_total");
	lease = begin(&w);
	pid = q_long(&w, lease, "SELECT pg_backend_pid()");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%ld)", pid);
	CHECK(direct_ok(sql));
	CHECK(stat_wait(&w, "connections_broken_total", broken + 1, 5000));
	CHECK_EQ_INT(q(&w, lease, "SELECT 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_CONNECTION);
	reply_free(&rp);
	CHECK_EQ_INT(end(&w, lease, 1, NULL), -PE_CONNECTION);

	/* every connection killed at once, as in a server restart (wait for
	 * the replacement first: it opens after the back-off) */
	CHECK(stat_wait(&w, "idle", 1, 5000));
	CHECK(direct_ok("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE application_name = 'cofferd' AND datname = current_database()"));
	deadline = ms_now() + 10000;
	while (!ok && ms_now() < deadline) {
		q(&w, 0, "SELECT 1", 0, NULL, &rp);
		ok = rp.type == PT_RESULT;
		if (!ok && !(rp.type == PT_ERROR && rp.err.kind == PE_CONNECTION)) {
			printf("# unexpected reply %d kind %d\n", rp.type,
			    rp.err.kind);
			reply_free(&rp);
			break;
		}
		reply_free(&rp);
	}
	CHECK(ok);
	CHECK(stat_wait(&w, "size", 1, 5000));
	CHECK(stat_wait(&w, "connections_broken_total", broken + 2, 5000));
	wc_close(&w);
}

TEST(graceful_stop)
{
	struct wc a, b;
	struct reply rp;
	uint64_t lease;
	int st;

	CHECK_EQ_INT(wc_open(&a), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&b), ENGINE_POSTGRES);
	lease = begin(&a);
	CHECK(lease != 0);
	kill(broker_pid, SIGTERM);
	CHECK(log_has("stopping: waiting", 5000));
	/* new work is refused, the open lease finishes */
	reply_get(&b, wc_send_begin(&b), &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_SHUTDOWN);
	CHECK_EQ_INT(q_long(&a, lease, S("WITH i AS (INSERT INTO %T VALUES (30, "
	    "'late') RETURNING id) SELECT id FROM i")), 30);
	CHECK_EQ_INT(end(&a, lease, 1, NULL), PT_RESULT);
	st = wait_exit(broker_pid, 5000);
	CHECK_EQ_INT(st, 0);
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id = 30")), 1);
	CHECK(access(sockpath, F_OK) < 0);
	wc_close(&a);
	wc_close(&b);
}

/* ---- on the "small pool" broker: pool_max 2, pool_timeout 300 ms ---- */

TEST(pool_timeout_and_max)
{
	struct wc w[3], s;
	struct reply rp;
	uint64_t l0, l1;
	int64_t t0, took;
	long n;

	CHECK_EQ_INT(wc_open(&s), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&w[0]), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&w[1]), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&w[2]), ENGINE_POSTGRES);
	l0 = begin(&w[0]);
	l1 = begin(&w[1]);
	CHECK(l0 != 0 && l1 != 0);
	t0 = ms_now();
	wc_send_begin(&w[2]);
	CHECK(stat_wait(&s, "waiting", 1, 1000));
	n = cofferd_sessions();
	CHECK(n >= 1 && n <= 2);
	CHECK_EQ_INT(stat_get(&s, "size") + stat_get(&s, "connecting"), 2);
	reply_get(&w[2], w[2].next_id - 1, &rp, 5000);
	took = ms_now() - t0;
	CHECK_EQ_INT(rp.type, PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_POOL_TIMEOUT);
	CHECK(took >= 250 && took < 2000);
	n = cofferd_sessions();
	CHECK(n >= 1 && n <= 2);
	CHECK_EQ_INT(stat_get(&s, "pool_timeouts_total"), 1);
	CHECK(stat_get(&s, "wait_usec_max") >= 250000);
	CHECK_EQ_INT(stat_get(&s, "waiting"), 0);

	/* a waiter is served as soon as a lease ends */
	wc_send_query(&w[2], 0, 0, "SELECT 9", 0, NULL);
	CHECK(stat_wait(&s, "waiting", 1, 1000));
	CHECK_EQ_INT(end(&w[0], l0, 1, NULL), PT_RESULT);
	reply_get(&w[2], w[2].next_id - 1, &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_RESULT);
	reply_free(&rp);
	CHECK_EQ_INT(end(&w[1], l1, 1, NULL), PT_RESULT);
	/* a worker that leaves while waiting is forgotten */
	l0 = begin(&w[0]);
	l1 = begin(&w[1]);
	wc_send_begin(&w[2]);
	CHECK(stat_wait(&s, "waiting", 1, 1000));
	wc_close(&w[2]);
	{
		int64_t deadline = ms_now() + 2000;

		while (stat_get(&s, "waiting") != 0 && ms_now() < deadline)
			poll(NULL, 0, 5);
	}
	CHECK_EQ_INT(stat_get(&s, "waiting"), 0);
	CHECK_EQ_INT(stat_get(&s, "pool_timeouts_total"), 1);
	CHECK_EQ_INT(end(&w[0], l0, 1, NULL), PT_RESULT);
	CHECK_EQ_INT(end(&w[1], l1, 1, NULL), PT_RESULT);
	CHECK(cofferd_sessions() <= 2);
	wc_close(&w[0]);
	wc_close(&w[1]);
	wc_close(&s);
}

/* ---- on the "short lease" broker: lease_timeout 300 ms ---- */

TEST(lease_timeout)
{
	struct wc w;
	struct reply rp;
	uint64_t lease;
	int64_t t0;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	lease = begin(&w);
	CHECK(lease != 0);
	CHECK_EQ_INT(q_long(&w, lease, S("WITH i AS (INSERT INTO %T VALUES (40, "
	    "'t') RETURNING id) SELECT id FROM i")), 40);
	CHECK(stat_wait(&w, "lease_timeouts_total", 1, 3000));
	CHECK_EQ_INT(q(&w, lease, "SELECT 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_LEASE_TIMEOUT);
	reply_free(&rp);
	CHECK_EQ_INT(end(&w, lease, 1, NULL), -PE_LEASE_TIMEOUT);
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id = 40")), 0);

	/* a statement in flight is cut short, not waited for */
	lease = begin(&w);
	t0 = ms_now();
	CHECK_EQ_INT(q(&w, lease, "SELECT pg_sleep(30)", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_LEASE_TIMEOUT);
	CHECK(ms_now() - t0 < 5000);
	reply_free(&rp);
	CHECK_EQ_INT(q_long(&w, 0, "SELECT 1"), 1);
	CHECK_EQ_INT(stat_get(&w, "lease_timeouts_total"), 2);
	wc_close(&w);
}

/* Shutdown with a lease left open: rolled back at shutdown_timeout. */
TEST(shutdown_timeout_rolls_back)
{
	struct wc w;
	uint64_t lease;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	lease = begin(&w);
	CHECK_EQ_INT(q_long(&w, lease, S("WITH i AS (INSERT INTO %T VALUES (50, "
	    "'t') RETURNING id) SELECT id FROM i")), 50);
	CHECK_EQ_INT(broker_stop(broker_pid), 0);
	CHECK_EQ_INT(direct_long(S("SELECT count(*) FROM %T WHERE id = 50")), 0);
	wc_close(&w);
}

/* ---- on the "small statement cache" broker: one connection, a cache of 4 ---- */

TEST(stmtcache_evicts_on_server)
{
	struct wc w;
	char sql[64];
	long n;
	int i;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	for (i = 0; i < 12; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d AS n", i);
		CHECK_EQ_INT(q_long(&w, 0, sql), i);
	}
	n = q_long(&w, 0, "SELECT count(*) FROM pg_prepared_statements");
	CHECK(n >= 1 && n <= 5);
	/* evicted statements come back */
	CHECK_EQ_INT(q_long(&w, 0, "SELECT 0 AS n"), 0);
	CHECK_EQ_INT(stat_get(&w, "prepares_total"), 14);
	wc_close(&w);
}

/* ---- on the "reloadable" broker: its config is a file ---- */

TEST(reload_applies_pool_timeout)
{
	struct wc a, b;
	struct reply rp;
	uint64_t la;
	int64_t t0;
	FILE *f;
	const char *path = reload_path();

	CHECK_EQ_INT(wc_open(&a), ENGINE_POSTGRES);
	CHECK_EQ_INT(wc_open(&b), ENGINE_POSTGRES);
	la = begin(&a);
	CHECK(la != 0);
	f = fopen(path, "w");
	fprintf(f, "[server]\nruntime_dir = %s\n\n[database]\nengine = postgres\n"
	    "postgres_dsn = %s\npool_min = 1\npool_max = 1\npool_timeout = 300ms\n",
	    rundir, dsn);
	fclose(f);
	kill(broker_pid, SIGHUP);
	CHECK(log_has("configuration reloaded", 5000));
	t0 = ms_now();
	reply_get(&b, wc_send_begin(&b), &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_POOL_TIMEOUT);
	CHECK(ms_now() - t0 < 2000);
	/* a broken file keeps the old settings */
	f = fopen(path, "w");
	fprintf(f, "[database]\nno_such_setting = 1\nbad\n");
	fclose(f);
	kill(broker_pid, SIGHUP);
	CHECK(log_has("reload failed", 5000));
	CHECK_EQ_INT(end(&a, la, 1, NULL), PT_RESULT);
	CHECK_EQ_INT(q_long(&b, 0, "SELECT 4"), 4);
	wc_close(&a);
	wc_close(&b);
}

/* ---- on the "sqlite engine" broker ---- */

TEST(sqlite_engine)
{
	struct wc w;
	struct reply rp;

	CHECK_EQ_INT(wc_open(&w), ENGINE_SQLITE);
	CHECK_EQ_INT(q(&w, 0, "SELECT 1", 0, NULL, &rp), PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_UNAVAILABLE);
	reply_free(&rp);
	reply_get(&w, wc_send_begin(&w), &rp, 5000);
	CHECK_EQ_INT(rp.err.kind, PE_UNAVAILABLE);
	CHECK_EQ_INT(stat_get(&w, "size"), 0);
	CHECK_EQ_INT(stat_get(&w, "max"), 0);
	CHECK_EQ_INT(stat_get(&w, "workers"), 1);
	CHECK_EQ_INT(broker_stop(broker_pid), 0);
	wc_close(&w);
}

/* ---- on the "unreachable server" broker: PostgreSQL down at start, the
 * broker still starts, then recovers (here: a DSN that cannot work, then
 * the waiter learns why) ---- */

TEST(unavailable_server)
{
	struct wc w;
	struct reply rp;

	CHECK_EQ_INT(wc_open(&w), ENGINE_POSTGRES);
	reply_get(&w, wc_send_query(&w, 0, 0, "SELECT 1", 0, NULL), &rp, 5000);
	CHECK_EQ_INT(rp.type, PT_ERROR);
	CHECK_EQ_INT(rp.err.kind, PE_UNAVAILABLE);
	CHECK(rp.err.message && strstr(rp.err.message, "PostgreSQL") != NULL);
	CHECK(stat_get(&w, "connecting") + stat_get(&w, "size") <= 1);
	CHECK_EQ_INT(broker_stop(broker_pid), 0);
	wc_close(&w);
}

/* ---- the brokers, by name ---- */

static const struct test_case default_pool_tests[] = {
	TEST_CASE(hello_version_mismatch),
	TEST_CASE(socket_is_private),
	TEST_CASE(foreign_uid_rejected),
	TEST_CASE(query_outside_lease),
	TEST_CASE(params_with_null),
	TEST_CASE(prepared_statement_reuse),
	TEST_CASE(script_query),
	TEST_CASE(begin_commit_visible),
	TEST_CASE(rollback_discards),
	TEST_CASE(lease_queue_and_foreign),
	TEST_CASE(concurrent_leases_isolated),
	TEST_CASE(syntax_error),
	TEST_CASE(commit_failure),
	TEST_CASE(nul_in_parameter),
	TEST_CASE(big_results),
	TEST_CASE(malformed_frame_drops),
	TEST_CASE(worker_disconnect_rolls_back),
	TEST_CASE(broken_connections_recover),
	TEST_CASE(graceful_stop),
	{ NULL, NULL }
};

static const struct test_case small_pool_tests[] = {
	TEST_CASE(pool_timeout_and_max),
	{ NULL, NULL }
};

static const struct test_case short_lease_tests[] = {
	TEST_CASE(lease_timeout),
	TEST_CASE(shutdown_timeout_rolls_back),
	{ NULL, NULL }
};

static const struct test_case small_stmtcache_tests[] = {
	TEST_CASE(stmtcache_evicts_on_server),
	{ NULL, NULL }
};

static const struct test_case reloadable_tests[] = {
	TEST_CASE(reload_applies_pool_timeout),
	{ NULL, NULL }
};

static const struct test_case sqlite_engine_tests[] = {
	TEST_CASE(sqlite_engine),
	{ NULL, NULL }
};

static const struct test_case unreachable_server_tests[] = {
	TEST_CASE(unavailable_server),
	{ NULL, NULL }
};

/*
 * In the order they run.  The "sqlite engine" and "unreachable server"
 * brokers never reach our database, so they run without PostgreSQL too.
 */
static const struct broker_case brokers[] = {
	{ .name = "default pool", .group = 'a',
	  .pool_min = 1, .pool_max = 4, .pool_timeout = 2000,
	  .lease_timeout = 10000, .needs_server = 1,
	  .tests = default_pool_tests },
	{ .name = "small pool", .group = 'b',
	  .pool_min = 0, .pool_max = 2, .pool_timeout = 300,
	  .lease_timeout = 10000, .needs_server = 1,
	  .tests = small_pool_tests },
	{ .name = "short lease", .group = 'c',
	  .pool_min = 1, .pool_max = 2, .pool_timeout = 2000,
	  .lease_timeout = 300, .shutdown_timeout = 300, .needs_server = 1,
	  .tests = short_lease_tests },
	{ .name = "small statement cache", .group = 'd',
	  .pool_min = 1, .pool_max = 1, .pool_timeout = 2000,
	  .lease_timeout = 10000, .stmtcache_cap = 4, .needs_server = 1,
	  .tests = small_stmtcache_tests },
	{ .name = "reloadable", .group = 'e',
	  .pool_min = 1, .pool_max = 1, .pool_timeout = 3000,
	  .lease_timeout = 10000, .reload_file = 1, .needs_server = 1,
	  .tests = reloadable_tests },
	{ .name = "sqlite engine", .group = 'f',
	  .pool_min = 1, .pool_max = 4, .pool_timeout = 2000,
	  .lease_timeout = 10000, .sqlite = 1,
	  .tests = sqlite_engine_tests },
	{ .name = "unreachable server", .group = 'g',
	  .pool_min = 1, .pool_max = 2, .pool_timeout = 600,
	  .lease_timeout = 10000,
	  .postgres_dsn = "host=/nonexistent/dir port=1 user=nobody "
	      "dbname=nothing",
	  .tests = unreachable_server_tests },
};

/*
 * Start the broker bc names, run its tests, stop it.  skip, when not
 * NULL, is why its tests cannot run here.
 */
static void
run_broker(const struct broker_case *bc, const char *skip)
{
	const char *only = getenv("COFFER_TEST_GROUPS");
	unsigned cap = pool_stmtcache_cap;
	struct config cfg;

	if (skip == NULL && only && *only && strchr(only, bc->group) == NULL)
		skip = "not in COFFER_TEST_GROUPS";
	if (skip != NULL) {
		test_run_cases(bc->tests, skip);
		return;
	}
	printf("# broker \"%s\" (%c): pool %d..%d, pool_timeout %" PRId64
	    " ms, lease_timeout %" PRId64 " ms\n", bc->name, bc->group,
	    bc->pool_min, bc->pool_max, bc->pool_timeout, bc->lease_timeout);
	cfg_make(&cfg, bc);
	if (bc->stmtcache_cap)
		pool_stmtcache_cap = bc->stmtcache_cap;	/* read at fork */
	if (broker_start(&cfg) < 0)
		test_fail_cases(bc->tests, "the broker did not start");
	else {
		test_run_cases(bc->tests, NULL);
		/* still running (not stopped by a test): stop it, cleanly */
		if (broker_pid > 0 && waitpid(broker_pid, NULL, WNOHANG) == 0)
			CHECK_EQ_INT(broker_stop(broker_pid), 0);
	}
	broker_pid = 0;
	pool_stmtcache_cap = cap;
	config_free(&cfg);
}

/*
 * Our own database on the server, the direct connection to it and the
 * test table; NULL, or what went wrong (a failure: the server answered).
 */
static const char *
pg_setup(void)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { NULL, "coffer_test", NULL };

	dsn = pgtest_create_db(server_dsn, "coffer_broker", dbname,
	    sizeof(dbname));
	if (dsn == NULL)
		return "cannot create the test database";
	vals[0] = dsn;
	direct = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(direct) != CONNECTION_OK) {
		printf("# cannot connect to %s: %s", dsn, PQerrorMessage(direct));
		return "cannot connect to the test database";
	}
	PQclear(PQexec(direct, "SET client_min_messages = warning"));
	if (!direct_ok(S("DROP TABLE IF EXISTS %T")) ||
	    !direct_ok(S("CREATE TABLE %T (id int PRIMARY KEY, v text)"))) {
		printf("# %s", PQerrorMessage(direct));
		return "cannot create the test table";
	}
	return NULL;
}

int
main(void)
{
	char tmpl[] = "/tmp/coffer-broker-test.XXXXXX";
	const char *skip, *failed = NULL;
	size_t i;
	int rc;

	RUN(stmtcache_lru);
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(rundir, sizeof(rundir), "%s", tmpl);
	if ((size_t)snprintf(sockpath, sizeof(sockpath), "%s/broker.sock",
	    rundir) >= sizeof(sockpath))
		return 1;
	snprintf(logpath, sizeof(logpath), "%s/broker.log", rundir);
	snprintf(table, sizeof(table), "coffer_broker_test_%d", (int)getpid());

	if ((server_dsn = pgtest_server(&skip)) != NULL)
		failed = pg_setup();
	for (i = 0; i < sizeof(brokers) / sizeof(brokers[0]); i++) {
		const struct broker_case *bc = &brokers[i];

		if (bc->needs_server && failed != NULL)
			test_fail_cases(bc->tests, failed);
		else
			run_broker(bc, bc->needs_server ? skip : NULL);
	}

	if (direct != NULL)
		PQfinish(direct);
	if (dsn != NULL)
		pgtest_drop_db(server_dsn, dbname);
	free(dsn);
	rc = test_done();
	if (rc == 0) {
		unlink(logpath);
		unlink(sockpath);
		unlink(reload_path());
		rmdir(rundir);
	} else {
		printf("# broker log: %s\n", logpath);
	}
	return rc;
}
