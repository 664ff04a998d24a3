/*
 * dbbench.c -- statement throughput and latency: through coffer's broker,
 * or straight to PostgreSQL (or pgbouncer) with one libpq connection per
 * client.
 *
 *	dbbench -m broker|libpq -D DSN [-c clients] [-j procs] [-d secs]
 *		[-q select1|lookup] [-u] [-p pool_max]
 *
 * Both modes use the same load generator: -j processes, each one libevent
 * loop running clients/procs coroutines that issue statements back to
 * back, so the only difference between the modes is the path a statement
 * takes.  broker: the coroutines call db_get() exactly as request handlers
 * do (frame to the broker, yield, reply), against a broker_main forked
 * here with pool_max connections.  libpq: each coroutine owns a
 * non-blocking PGconn driven by the same loop; -u uses unnamed statements
 * (what transaction-mode pgbouncer 1.18 needs) instead of prepared ones.
 *
 * Prints one line: mode, clients, statements/s, p50 and p99 latency (us),
 * and for broker mode the broker's CPU time per statement (us).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "broker/broker.h"
#include "src/db/broker_link.h"
#include "src/config.h"
#include "src/coro.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/util.h"

#define NBUCKET 4096		/* 10 us buckets up to ~41 ms, then overflow */

struct shared {
	uint64_t ops;
	uint64_t errors;
	uint64_t hist[NBUCKET + 1];
};

static struct shared *shm;
static struct event_base *base;
static const char *mode = "broker", *dsn, *query = "select1";
static int clients = 16, procs = 2, secs = 5, unnamed, pool_max = 8;
static uint64_t end_usec;
static int live;
static char sockdir[128];

static const char *
sql_text(void)
{
	return strcmp(query, "lookup") == 0 ?
	    "SELECT id, name, price FROM bench_items WHERE id = $1" : "SELECT 1";
}

static void
record(uint64_t usec, int ok)
{
	uint64_t b = usec / 10;

	__atomic_fetch_add(&shm->ops, 1, __ATOMIC_RELAXED);
	if (!ok)
		__atomic_fetch_add(&shm->errors, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&shm->hist[b < NBUCKET ? b : NBUCKET], 1, __ATOMIC_RELAXED);
}

struct bclient {
	struct db_session s;	/* first: coroutine data */
	int id;
	PGconn *pg;
	struct event *ev;
	struct coro *coro;
};

/* ---- broker mode ---- */

static void
broker_client(void *arg)
{
	struct bclient *c = arg;
	static struct db_stmt *st;
	unsigned seed = (unsigned)c->id * 7919u;

	if (st == NULL)
		st = db_prepare(sql_text());
	while (now_usec() < end_usec) {
		struct db_value p[] = { DB_INT(rand_r(&seed) % 100000 + 1) };
		struct db_result *r;
		uint64_t t0 = now_usec();
		int rc = db_get(st, p, strcmp(query, "lookup") == 0 ? 1 : 0, &r);

		record(now_usec() - t0, rc == 1);
		db_result_free(r);
	}
	if (--live == 0)
		event_base_loopbreak(base);
}

/* ---- libpq mode ---- */

static void
on_pg(evutil_socket_t fd, short what, void *arg)
{
	struct bclient *c = arg;

	(void)fd;
	(void)what;
	coro_resume(c->coro);
}

/* Wait until the connection is readable (or writable) from a coroutine. */
static void
pg_wait(struct bclient *c, short what)
{
	event_assign(c->ev, base, PQsocket(c->pg), what, on_pg, c);
	event_add(c->ev, NULL);
	coro_yield();
}

static PGresult *
pg_result(struct bclient *c)
{
	PGresult *r, *last = NULL;

	while (PQflush(c->pg) == 1)
		pg_wait(c, EV_WRITE);
	for (;;) {
		while (PQisBusy(c->pg)) {
			pg_wait(c, EV_READ);
			PQconsumeInput(c->pg);
		}
		r = PQgetResult(c->pg);
		if (r == NULL)
			return last;
		PQclear(last);
		last = r;
	}
}

static void
libpq_client(void *arg)
{
	struct bclient *c = arg;
	unsigned seed = (unsigned)c->id * 7919u;
	int lookup = strcmp(query, "lookup") == 0;
	PGresult *r;

	c->pg = PQconnectdb(dsn);	/* blocking: before the clock starts */
	if (PQstatus(c->pg) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c->pg));
		exit(1);
	}
	PQsetnonblocking(c->pg, 1);
	c->ev = event_new(base, -1, 0, on_pg, c);
	if (!unnamed) {
		PQsendPrepare(c->pg, "q", sql_text(), lookup ? 1 : 0, NULL);
		PQclear(pg_result(c));
	}
	while (now_usec() < end_usec) {
		char id[16];
		const char *params[1] = { id };
		uint64_t t0 = now_usec();

		snprintf(id, sizeof(id), "%d", rand_r(&seed) % 100000 + 1);
		if (unnamed)
			PQsendQueryParams(c->pg, sql_text(), lookup ? 1 : 0, NULL,
			    params, NULL, NULL, 0);
		else
			PQsendQueryPrepared(c->pg, "q", lookup ? 1 : 0, params, NULL, NULL, 0);
		r = pg_result(c);
		record(now_usec() - t0, r && PQresultStatus(r) == PGRES_TUPLES_OK &&
		    PQntuples(r) == 1);
		PQclear(r);
	}
	PQfinish(c->pg);
	event_free(c->ev);
	if (--live == 0)
		event_base_loopbreak(base);
}

/* ---- driver ---- */

static void
run_process(int n, int first_id)
{
	struct bclient *cs = xcalloc((size_t)n, sizeof(*cs));
	char sock[256];

	base = event_base_new();
	coro_init(0, n);
	if (strcmp(mode, "broker") == 0) {
		struct config cfg;

		config_defaults(&cfg);
		cfg.engine = ENGINE_POSTGRES;
		db_init(&cfg, base);
		snprintf(sock, sizeof(sock), "%s/broker.sock", sockdir);
		broker_link_start(base, sock, NULL);
		while (!broker_link_up())
			event_base_loop(base, EVLOOP_ONCE);
	}
	live = n;
	for (int i = 0; i < n; i++) {
		cs[i].id = first_id + i;
		cs[i].coro = coro_create(strcmp(mode, "broker") == 0 ? broker_client :
		    libpq_client, &cs[i]);
		coro_set_data(cs[i].coro, &cs[i]);
	}
	end_usec = now_usec() + (uint64_t)secs * 1000000u;
	for (int i = 0; i < n; i++)
		coro_resume(cs[i].coro);
	event_base_dispatch(base);
	_exit(0);
}

static uint64_t
cpu_usec(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return 0;
	return (uint64_t)(ut + st) * 1000000u / (uint64_t)sysconf(_SC_CLK_TCK);
}

static uint64_t
percentile(double q)
{
	uint64_t total = 0, want, seen = 0;

	for (int i = 0; i <= NBUCKET; i++)
		total += shm->hist[i];
	want = (uint64_t)((double)total * q);
	for (int i = 0; i <= NBUCKET; i++) {
		seen += shm->hist[i];
		if (seen > want)
			return (uint64_t)i * 10 + 5;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	pid_t broker = 0;
	uint64_t cpu0 = 0, cpu1 = 0;
	int opt;

	while ((opt = getopt(argc, argv, "m:D:c:j:d:q:up:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'D': dsn = optarg; break;
		case 'c': clients = atoi(optarg); break;
		case 'j': procs = atoi(optarg); break;
		case 'd': secs = atoi(optarg); break;
		case 'q': query = optarg; break;
		case 'u': unnamed = 1; break;
		case 'p': pool_max = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: dbbench -m broker|libpq -D DSN [-c N] [-j N] "
			    "[-d secs] [-q select1|lookup] [-u] [-p pool_max]\n");
			return 2;
		}
	}
	if (dsn == NULL || clients < 1 || procs < 1)
		return 2;
	if (procs > clients)
		procs = clients;
	log_set_level(LL_WARN);
	signal(SIGPIPE, SIG_IGN);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (strcmp(mode, "broker") == 0) {
		struct config cfg;
		int p[2];
		char b;

		snprintf(sockdir, sizeof(sockdir), "/tmp/dbbench.XXXXXX");
		if (mkdtemp(sockdir) == NULL || pipe(p) < 0)
			return 1;
		config_defaults(&cfg);
		cfg.engine = ENGINE_POSTGRES;
		free(cfg.postgres_dsn);
		cfg.postgres_dsn = xstrdup(dsn);
		free(cfg.runtime_dir);
		cfg.runtime_dir = xstrdup(sockdir);
		cfg.pool_min = pool_max;
		cfg.pool_max = pool_max;
		broker = fork();
		if (broker == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			close(p[0]);
			log_set_role("broker");
			_exit(broker_main(&cfg, p[1]));
		}
		close(p[1]);
		if (read(p[0], &b, 1) != 1)
			return 1;
	}
	pid_t *load = xcalloc((size_t)procs, sizeof(*load));

	for (int i = 0; i < procs; i++) {
		int n = clients / procs + (i < clients % procs);

		if ((load[i] = fork()) == 0)
			run_process(n, i * 100000);
	}
	/* Skip the first 200 ms (connections warming up); from then on count
	 * statements and the broker's CPU over the same interval. */
	usleep(200000);
	cpu0 = broker ? cpu_usec(broker) : 0;
	memset(shm, 0, sizeof(*shm));
	for (int i = 0; i < procs; i++)
		waitpid(load[i], NULL, 0);
	if (broker) {
		cpu1 = cpu_usec(broker);
		kill(broker, SIGTERM);
		waitpid(broker, NULL, 0);
		rmdir(sockdir);
	}
	printf("%s%s clients=%d ops/s=%.0f p50_us=%llu p99_us=%llu errors=%llu",
	    mode, unnamed ? "(unnamed)" : "", clients,
	    (double)shm->ops / (secs - 0.2),
	    (unsigned long long)percentile(0.50), (unsigned long long)percentile(0.99),
	    (unsigned long long)shm->errors);
	if (broker && shm->ops)
		printf(" broker_cpu_us_per_stmt=%.2f", (double)(cpu1 - cpu0) / (double)shm->ops);
	printf("\n");
	return 0;
}
