/*
 * pool.c -- PostgreSQL server connections, driven without ever blocking.
 *
 * See pool.h for the life of a connection.  This file holds three things:
 *
 * 1. Connection management.  pool_fill() opens connections so that there
 *    are at least pool_min, plus one per waiter not already covered by a
 *    connection being opened, never more than pool_max in total (connecting
 *    ones count).  A failed connect or a broken connection sets a retry
 *    timer (back-off 100 ms doubling to 5 s); while it is pending nothing
 *    new is opened, which is what keeps a dead server from being hammered.
 *    libpq's non-blocking connect has no timeout of its own, so a timer
 *    (CONNECT_TIMEOUT_USEC) bounds each attempt.
 *
 * 2. The wait queue.  Jobs that find no idle connection wait FIFO.  One
 *    timer tracks the deadline of the head; deadlines are enqueue time +
 *    pool_timeout, so the head always expires first (a reload that
 *    shortens pool_timeout only affects later waiters, and at worst delays
 *    a newer waiter's timeout until the head's has passed).
 *
 * 3. Running a job: a small state machine of steps, each one libpq
 *    command whose results are collected until PQgetResult returns NULL:
 *
 *	QUERY	[DEALLOCATE evicted statements] [PREPARE] EXECUTE
 *	script	simple query (multi-statement, no parameters, not prepared)
 *	BEGIN, END, internal ROLLBACK	simple query
 *
 *    DEALLOCATE is only sent outside a transaction: inside one, a failing
 *    DEALLOCATE would abort the worker's transaction.  PREPARE and
 *    DEALLOCATE are not transactional in PostgreSQL, so the cache stays
 *    right whatever happens to the surrounding transaction.
 *
 * Failures noticed while sending (PQsend* or PQflush failing) are not
 * handled on the spot: the caller may be in the middle of a loop over
 * leases or clients.  conn_fail_later() makes a deferred event fire on the
 * next loop turn instead.  Failures noticed in this file's own event
 * callbacks are handled at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "broker/broker.h"
#include "src/config.h"
#include "broker/lease.h"
#include "src/log.h"
#include "broker/pool.h"
#include "broker/stmtcache.h"
#include "src/util.h"

#define BACKOFF_MIN_USEC	100000ull
#define BACKOFF_MAX_USEC	5000000ull
#define CONNECT_TIMEOUT_USEC	10000000ull
#define OUT_KEEP_BYTES		(1u << 20)	/* reply scratch kept */

unsigned pool_stmtcache_cap = 1024;

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_start(struct pconn *pc, struct job *j);
static void conn_close(struct pconn *pc);
static void wait_timer_arm(struct pool *p);

/* libpq messages span lines and end in a newline; log lines must not. */
static void
copy_msg(char *dst, size_t len, const char *msg)
{
	char *o = dst;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	/* "...unexpectedly\n\tThis probably means..." -> one line */
	for (; *msg && o < dst + len - 1; msg++) {
		if (*msg == '\n' || *msg == '\t' || *msg == ' ') {
			if (o > dst && o[-1] != ' ')
				*o++ = ' ';
		} else {
			*o++ = *msg;
		}
	}
	while (o > dst && o[-1] == ' ')
		o--;
	*o = '\0';
}

static void
notice_cb(void *arg, const char *msg)
{
	struct pconn *pc = arg;
	char buf[512];

	copy_msg(buf, sizeof(buf), msg);
	log_debug("server connection %" PRIu64 ": %s", pc->serial, buf);
}

static int
res_ok(const PGresult *res)
{
	if (res == NULL)
		return 1;
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		return 1;
	default:
		return 0;
	}
}

/* ---- connection set-up and tear-down ---- */

static void
conn_free_io(struct pconn *pc)
{
	if (pc->rev)
		event_free(pc->rev);
	if (pc->wev)
		event_free(pc->wev);
	pc->rev = pc->wev = NULL;
}

/*
 * Free pc.  The caller has dealt with pc->job and pc->lease.  PQfinish on
 * a connection inside a transaction makes the server roll it back.
 */
static void
conn_free(struct pconn *pc)
{
	struct pool *p = pc->pool;

	if (pc->state == PC_IDLE)
		TAILQ_REMOVE(&p->idle, pc, ilink);
	TAILQ_REMOVE(&p->conns, pc, link);
	p->nconns--;
	conn_free_io(pc);
	if (pc->tev)
		event_free(pc->tev);
	if (pc->fev)
		event_free(pc->fev);
	PQclear(pc->res);
	PQfinish(pc->pg);
	stmtcache_free(pc->sc);
	free(pc->dealloc);
	free(pc->fail_msg);
	free(pc);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;

	(void)fd;
	(void)what;
	p->retry_pending = 0;
	pool_fill(p);
}

/* Open nothing more until the back-off has passed; grow it if asked. */
static void
pool_schedule_retry(struct pool *p, int grow)
{
	struct timeval tv;

	if (grow)
		p->backoff_usec = p->backoff_usec ?
		    p->backoff_usec * 2 : BACKOFF_MIN_USEC;
	if (p->backoff_usec > BACKOFF_MAX_USEC)
		p->backoff_usec = BACKOFF_MAX_USEC;
	if (p->retry_pending || p->b->stopping)
		return;
	tv = usec_tv(p->backoff_usec ? p->backoff_usec : BACKOFF_MIN_USEC);
	evtimer_add(p->retry_ev, &tv);
	p->retry_pending = 1;
}

/*
 * A connect attempt failed.  The first failure after a success and every
 * one at the capped back-off are warnings; the quick retries in between
 * are debug, so an outage logs a line every 5 s rather than a burst.
 */
static void
pool_connect_failed(struct pool *p, const char *msg)
{
	copy_msg(p->last_error, sizeof(p->last_error), msg);
	pool_schedule_retry(p, 1);
	if (p->backoff_usec == BACKOFF_MIN_USEC ||
	    p->backoff_usec == BACKOFF_MAX_USEC)
		log_warn("could not connect to PostgreSQL: %s (retrying in %"
		    PRIu64 " ms)", p->last_error, p->backoff_usec / 1000);
	else
		log_debug("could not connect to PostgreSQL: %s (retrying in %"
		    PRIu64 " ms)", p->last_error, p->backoff_usec / 1000);
}

static void
conn_connect_failed(struct pconn *pc, const char *msg)
{
	struct pool *p = pc->pool;
	char buf[256];

	copy_msg(buf, sizeof(buf), msg);
	conn_free(pc);
	pool_connect_failed(p, buf);
	broker_check_drained(p->b);
}

/* Broken for good: the server went away or the socket failed. */
static void
conn_broken(struct pconn *pc, const char *msg)
{
	char buf[256];

	copy_msg(buf, sizeof(buf), msg);
	if (pc->state == PC_CONNECTING || pc->state == PC_SETUP)
		conn_connect_failed(pc, buf);
	else
		pool_conn_discard(pc, PE_CONNECTION, buf, 1);
}

static void
conn_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *pc = arg;
	char buf[256];

	(void)fd;
	(void)what;
	copy_msg(buf, sizeof(buf), pc->fail_msg);
	conn_broken(pc, buf);
}

/* See the header comment: report a send failure on the next loop turn. */
static void
conn_fail_later(struct pconn *pc, const char *msg)
{
	if (pc->fail_msg == NULL)
		pc->fail_msg = xstrdup(msg && *msg ? msg : "send failed");
	event_active(pc->fev, EV_TIMEOUT, 1);
}

static void
conn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_connect_failed(arg, "connection attempt timed out");
}

/* During the connect phase: wait once for what libpq asked for.  The
 * events are made afresh each time since libpq may switch sockets while
 * it tries several hosts or SSL modes. */
static void
conn_watch_connect(struct pconn *pc, short what)
{
	struct event_base *base = pc->pool->b->base;

	conn_free_io(pc);
	pc->fd = PQsocket(pc->pg);
	if (pc->fd < 0) {
		conn_connect_failed(pc, PQerrorMessage(pc->pg));
		return;
	}
	pc->rev = event_new(base, pc->fd, what, conn_io_cb, pc);
	event_add(pc->rev, NULL);
}

static int
conn_open(struct pool *p)
{
	struct broker *b = p->b;
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { b->cfg->postgres_dsn, "cofferd", NULL };
	struct pconn *pc;
	struct timeval tv;
	PGconn *pg;

	pg = PQconnectStartParams(keys, vals, 1);
	if (pg == NULL || PQstatus(pg) == CONNECTION_BAD) {
		pool_connect_failed(p, pg ? PQerrorMessage(pg) :
		    "out of memory");
		PQfinish(pg);
		return -1;
	}
	pc = xcalloc(1, sizeof(*pc));
	pc->pool = p;
	pc->serial = ++p->serial;
	pc->state = PC_CONNECTING;
	pc->pg = pg;
	pc->fd = -1;
	pc->sc = stmtcache_new(pool_stmtcache_cap);
	pc->tev = evtimer_new(b->base, conn_timeout_cb, pc);
	pc->fev = event_new(b->base, -1, 0, conn_fail_cb, pc);
	TAILQ_INSERT_TAIL(&p->conns, pc, link);
	p->nconns++;
	tv = usec_tv(CONNECT_TIMEOUT_USEC);
	evtimer_add(pc->tev, &tv);
	log_debug("server connection %" PRIu64 ": connecting", pc->serial);
	/* libpq: behave as if PQconnectPoll had said PGRES_POLLING_WRITING. */
	conn_watch_connect(pc, EV_WRITE);
	return 0;
}

static void
conn_flush(struct pconn *pc)
{
	int r = PQflush(pc->pg);

	if (r < 0)
		conn_fail_later(pc, PQerrorMessage(pc->pg));
	else if (r > 0)
		event_add(pc->wev, NULL);
}

static void
conn_sent(struct pconn *pc, int ok, enum pconn_step step)
{
	if (!ok) {
		conn_fail_later(pc, PQerrorMessage(pc->pg));
		return;
	}
	pc->step = step;
	conn_flush(pc);
}

static void
conn_setup(struct pconn *pc)
{
	struct event_base *base = pc->pool->b->base;
	char sql[160];

	if (PQsetnonblocking(pc->pg, 1) != 0) {
		conn_connect_failed(pc, PQerrorMessage(pc->pg));
		return;
	}
	PQsetNoticeProcessor(pc->pg, notice_cb, pc);
	conn_free_io(pc);
	pc->fd = PQsocket(pc->pg);
	pc->rev = event_new(base, pc->fd, EV_READ | EV_PERSIST, conn_io_cb, pc);
	pc->wev = event_new(base, pc->fd, EV_WRITE | EV_PERSIST, conn_io_cb,
	    pc);
	event_add(pc->rev, NULL);
	pc->state = PC_SETUP;
	/* UTC so timestamptz text is the same whatever the server's zone.  A
	 * connection the broker closes with a statement running (its worker
	 * died) must not leave that statement holding locks: from 14 on, the
	 * server checks every second that its client is still there. */
	snprintf(sql, sizeof(sql), "SET statement_timeout = %lld; SET TimeZone = 'UTC'%s",
	    (long long)pc->pool->b->cfg->statement_timeout,
	    PQserverVersion(pc->pg) >= 140000 ?
	    "; SET client_connection_check_interval = 1000" : "");
	conn_sent(pc, PQsendQuery(pc->pg, sql), ST_SETUP);
}

static void
conn_connect_poll(struct pconn *pc)
{
	switch (PQconnectPoll(pc->pg)) {
	case PGRES_POLLING_READING:
		conn_watch_connect(pc, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		conn_watch_connect(pc, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		conn_setup(pc);
		break;
	default:
		conn_connect_failed(pc, PQerrorMessage(pc->pg));
		break;
	}
}

static void
conn_ready(struct pconn *pc)
{
	struct pool *p = pc->pool;

	evtimer_del(pc->tev);
	p->backoff_usec = 0;
	p->last_error[0] = '\0';
	p->b->st.connections_opened_total++;
	pc->state = PC_ACTIVE;
	log_info("server connection %" PRIu64 " opened (%d of max %d)",
	    pc->serial, p->nconns, p->b->cfg->pool_max);
	pool_conn_release(pc);
}

/* ---- the wait queue ---- */

static void
waiter_take(struct pool *p, struct job *j)
{
	int64_t waited = (int64_t)(now_usec() - j->queued_usec);
	struct broker_stats *st = &p->b->st;

	TAILQ_REMOVE(&p->waiters, j, qlink);
	p->nwaiting--;
	j->where = JW_NONE;
	st->wait_usec_total += waited;
	if (waited > st->wait_usec_max)
		st->wait_usec_max = waited;
	wait_timer_arm(p);
}

static void
wait_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct pool_gauges g;
	struct job *j;
	char msg[320];
	uint64_t now = now_usec();

	(void)fd;
	(void)what;
	/*
	 * libevent's clock is coarse (a few ms) and may fire before now_usec()
	 * reaches the deadline: allow 5 ms of slack, and re-arm below for a
	 * head that is still early.
	 */
	while ((j = TAILQ_FIRST(&p->waiters)) != NULL &&
	    j->deadline_usec <= now + 5000) {
		waiter_take(p, j);
		p->b->st.pool_timeouts_total++;
		pool_gauges(p, &g);
		if (g.size == 0 && p->last_error[0]) {
			snprintf(msg, sizeof(msg), "no connection to "
			    "PostgreSQL: %s", p->last_error);
			broker_reply_error(j, PE_UNAVAILABLE, NULL, msg);
		} else {
			snprintf(msg, sizeof(msg), "no database connection "
			    "free within pool_timeout (%lld ms)",
			    (long long)p->b->cfg->pool_timeout);
			broker_reply_error(j, PE_POOL_TIMEOUT, NULL, msg);
		}
		log_debug("%s", msg);
		broker_job_free(j);
	}
	wait_timer_arm(p);
}

static void
wait_timer_arm(struct pool *p)
{
	struct job *j = TAILQ_FIRST(&p->waiters);
	struct timeval tv;
	uint64_t now;

	if (j == NULL) {
		evtimer_del(p->wait_ev);
		return;
	}
	now = now_usec();
	tv = usec_tv(j->deadline_usec > now ? j->deadline_usec - now : 0);
	evtimer_add(p->wait_ev, &tv);
}

/* ---- running jobs ---- */

/* Encode res as the RESULT (or ERROR) answering j. */
static void
reply_result(struct pool *p, struct job *j, const PGresult *res)
{
	struct proto_buf *out = &p->b->out;
	const char *tag;
	size_t start;
	int ncols, nrows, r, c;
	char msg[128];

	if (j->client == NULL)
		return;
	if (!res_ok(res)) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *primary = PQresultErrorField(res,
		    PG_DIAG_MESSAGE_PRIMARY);

		broker_reply_error(j, PE_SQL, state ? state : "",
		    primary ? primary : PQresultErrorMessage(res));
		return;
	}
	ncols = res ? PQnfields(res) : 0;
	nrows = res ? PQntuples(res) : 0;
	tag = res ? PQcmdTuples((PGresult *)res) : "";
	proto_buf_reset(out);
	start = proto_begin(out, PT_RESULT, j->reqid);
	proto_put_u64(out, *tag ? strtoull(tag, NULL, 10) : 0);
	proto_put_u16(out, (uint16_t)ncols);
	for (c = 0; c < ncols; c++) {
		proto_put_str(out, PQfname(res, c));
		proto_put_u32(out, PQftype(res, c));
	}
	proto_put_u32(out, (uint32_t)nrows);
	for (r = 0; r < nrows; r++)
		for (c = 0; c < ncols; c++)
			proto_put_cell(out, PQgetisnull(res, r, c) ? NULL :
			    PQgetvalue(res, r, c), PQgetlength(res, r, c));
	if (proto_end(out, start) < 0) {
		snprintf(msg, sizeof(msg), "result of %d rows is larger than "
		    "the broker's frame limit (%u bytes)", nrows,
		    (unsigned)PROTO_MAX_FRAME);
		broker_reply_error(j, PE_SQL, "54000", msg);
	} else {
		broker_send(j->client, out);
	}
	/* Do not keep the peak size of one big result for ever. */
	if (out->cap > OUT_KEEP_BYTES)
		proto_buf_free(out);
}

/* Queue "DEALLOCATE name" for the next time pc is outside a transaction. */
static void
dealloc_later(struct pconn *pc, const char *name)
{
	const char *old = pc->dealloc ? pc->dealloc : "";
	size_t n = strlen(old) + strlen(name) + 16;
	char *sql = xmalloc(n);

	snprintf(sql, n, "%s%sDEALLOCATE %s", old, *old ? "; " : "", name);
	free(pc->dealloc);
	pc->dealloc = sql;
}

/*
 * The server says the prepared statement is gone (26000: someone ran
 * DEALLOCATE ALL or DISCARD ALL) or its plan is stale (0A000: "cached plan
 * must not change result type").  Forget it so the next call prepares
 * again; a stale one is also deallocated.
 */
static void
note_stale(struct pconn *pc, const struct job *j, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char name[STMT_NAME_MAX];

	if (state == NULL)
		return;
	if (strcmp(state, "26000") == 0)
		stmtcache_drop(pc->sc, j->sql, NULL);
	else if (strcmp(state, "0A000") == 0 &&
	    stmtcache_drop(pc->sc, j->sql, name))
		dealloc_later(pc, name);
}

static void
query_exec(struct pconn *pc, const char *name)
{
	struct job *j = pc->job;

	conn_sent(pc, PQsendQueryPrepared(pc->pg, name, j->nparams,
	    j->params, NULL, NULL, 0), ST_EXEC);
}

/* The next step of a prepared QUERY. */
static void
query_continue(struct pconn *pc)
{
	struct job *j = pc->job;
	const char *name;

	if (pc->dealloc && PQtransactionStatus(pc->pg) == PQTRANS_IDLE) {
		conn_sent(pc, PQsendQuery(pc->pg, pc->dealloc), ST_DEALLOC);
		return;
	}
	name = stmtcache_get(pc->sc, j->sql);
	if (name) {
		query_exec(pc, name);
		return;
	}
	stmtcache_next_name(pc->sc, pc->prep_name);
	pc->pool->b->st.prepares_total++;
	log_debug("server connection %" PRIu64 ": prepare %s", pc->serial,
	    pc->prep_name);
	conn_sent(pc, PQsendPrepare(pc->pg, pc->prep_name, j->sql, 0, NULL),
	    ST_PREPARE);
}

static void
prepared(struct pconn *pc)
{
	char evicted[STMT_NAME_MAX];

	if (stmtcache_put(pc->sc, pc->job->sql, pc->prep_name, evicted))
		dealloc_later(pc, evicted);
	query_exec(pc, pc->prep_name);
}

/* pc's job has its final result in pc->res: answer and move on. */
static void
job_done(struct pconn *pc)
{
	struct pool *p = pc->pool;
	struct broker *b = p->b;
	struct job *j = pc->job;
	PGresult *res = pc->res;
	struct lease *l;
	struct proto_buf *out = &b->out;
	size_t start;
	int ok = res_ok(res);

	pc->job = NULL;
	pc->res = NULL;
	pc->step = ST_NONE;
	j->where = JW_NONE;
	switch (j->kind) {
	case JOB_QUERY:
		b->st.statements_total++;
		if (!ok && !(j->flags & (PQF_SCRIPT | PQF_CUSTOM_PLAN)))
			note_stale(pc, j, res);
		reply_result(p, j, res);
		log_debug("server connection %" PRIu64 ": statement done (%s)",
		    pc->serial, ok ? "ok" : "error");
		broker_job_free(j);
		if (pc->lease)
			lease_kick(pc->lease);
		else
			pool_conn_release(pc);
		break;
	case JOB_BEGIN:
		if (ok && j->client) {
			l = lease_new(b, j->client, pc);
			proto_buf_reset(out);
			start = proto_begin(out, PT_LEASE, j->reqid);
			proto_put_u64(out, l->id);
			proto_end(out, start);
			broker_send(j->client, out);
			broker_job_free(j);
		} else {
			/* Nobody to take the lease: release rolls back. */
			reply_result(p, j, res);
			broker_job_free(j);
			pool_conn_release(pc);
		}
		break;
	case JOB_END:
		if (ok && j->commit && res &&
		    strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
			broker_reply_error(j, PE_SQL, "25P02", "the "
			    "transaction had failed; COMMIT rolled it back");
		else
			reply_result(p, j, res);
		broker_job_free(j);
		lease_finish(pc->lease);
		pool_conn_release(pc);
		break;
	case JOB_ROLLBACK:
		broker_job_free(j);
		if (PQtransactionStatus(pc->pg) != PQTRANS_IDLE)
			pool_conn_discard(pc, PE_CONNECTION, "ROLLBACK failed",
			    0);
		else
			pool_conn_release(pc);
		break;
	}
	PQclear(res);
	broker_check_drained(b);
}

/* Every result of the current step is in: act on it. */
static void
step_done(struct pconn *pc)
{
	PGresult *res = pc->res;

	if (PQstatus(pc->pg) == CONNECTION_BAD) {
		conn_broken(pc, res && !res_ok(res) ?
		    PQresultErrorMessage(res) : PQerrorMessage(pc->pg));
		return;
	}
	switch (pc->step) {
	case ST_SETUP:
		pc->res = NULL;
		pc->step = ST_NONE;
		if (!res_ok(res)) {
			char buf[256];

			copy_msg(buf, sizeof(buf), PQresultErrorMessage(res));
			PQclear(res);
			conn_connect_failed(pc, buf);
			return;
		}
		PQclear(res);
		conn_ready(pc);
		break;
	case ST_DEALLOC:
		/* A failed DEALLOCATE leaves the statement behind, harmless:
		 * names are never reused. */
		pc->res = NULL;
		pc->step = ST_NONE;
		PQclear(res);
		free(pc->dealloc);
		pc->dealloc = NULL;
		query_continue(pc);
		break;
	case ST_PREPARE:
		if (!res_ok(res)) {
			job_done(pc);
			return;
		}
		pc->res = NULL;
		pc->step = ST_NONE;
		PQclear(res);
		prepared(pc);
		break;
	case ST_EXEC:
		job_done(pc);
		break;
	case ST_NONE:
		break;
	}
}

/*
 * Collect whatever results libpq has.  A script yields one result per
 * statement: keep the last, or the first error (the server stops the
 * script there).  COPY cannot be driven through the protocol; such a
 * connection is closed.
 */
static void
conn_drain(struct pconn *pc)
{
	PGresult *r;
	PGnotify *n;

	while (!PQisBusy(pc->pg)) {
		r = PQgetResult(pc->pg);
		if (r == NULL) {
			if (pc->step != ST_NONE)
				step_done(pc);
			else if (PQstatus(pc->pg) == CONNECTION_BAD)
				conn_broken(pc, PQerrorMessage(pc->pg));
			return;
		}
		switch (PQresultStatus(r)) {
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(r);
			pool_conn_discard(pc, PE_SQL, "COPY is not supported "
			    "through the broker", 0);
			return;
		default:
			break;
		}
		if (pc->step == ST_NONE || (pc->res && !res_ok(pc->res))) {
			PQclear(r);	/* stray, or after the first error */
			continue;
		}
		PQclear(pc->res);
		pc->res = r;
	}
	while ((n = PQnotifies(pc->pg)) != NULL)
		PQfreemem(n);
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *pc = arg;
	int r;

	(void)fd;
	if (pc->state == PC_CONNECTING) {
		conn_connect_poll(pc);
		return;
	}
	if (what & EV_WRITE) {
		r = PQflush(pc->pg);
		if (r < 0)
			conn_broken(pc, PQerrorMessage(pc->pg));
		else if (r == 0)
			event_del(pc->wev);
		return;
	}
	if (!PQconsumeInput(pc->pg)) {
		conn_broken(pc, PQerrorMessage(pc->pg));
		return;
	}
	/* libpq: while a flush is pending, reading may unblock writing. */
	if (event_pending(pc->wev, EV_WRITE, NULL)) {
		r = PQflush(pc->pg);
		if (r < 0) {
			conn_broken(pc, PQerrorMessage(pc->pg));
			return;
		}
		if (r == 0)
			event_del(pc->wev);
	}
	conn_drain(pc);
}

static void
conn_start(struct pconn *pc, struct job *j)
{
	pc->state = PC_ACTIVE;
	pc->job = j;
	j->where = JW_RUNNING;
	switch (j->kind) {
	case JOB_QUERY:
		log_debug("server connection %" PRIu64 ": query %.200s",
		    pc->serial, j->sql);
		if (j->flags & PQF_SCRIPT)
			conn_sent(pc, PQsendQuery(pc->pg, j->sql), ST_EXEC);
		else if (j->flags & PQF_CUSTOM_PLAN)
			conn_sent(pc, PQsendQueryParams(pc->pg, j->sql, j->nparams,
			    NULL, j->params, NULL, NULL, 0), ST_EXEC);
		else
			query_continue(pc);
		break;
	case JOB_BEGIN:
		conn_sent(pc, PQsendQuery(pc->pg, "BEGIN"), ST_EXEC);
		break;
	case JOB_END:
		conn_sent(pc, PQsendQuery(pc->pg, j->commit ? "COMMIT" :
		    "ROLLBACK"), ST_EXEC);
		break;
	case JOB_ROLLBACK:
		conn_sent(pc, PQsendQuery(pc->pg, "ROLLBACK"), ST_EXEC);
		break;
	}
}

void
pool_conn_run(struct pconn *pc, struct job *j)
{
	conn_start(pc, j);
}

/* Deliberate close, no replacement implied (shutdown). */
static void
conn_close(struct pconn *pc)
{
	log_debug("server connection %" PRIu64 " closed", pc->serial);
	conn_free(pc);
}

void
pool_conn_release(struct pconn *pc)
{
	struct pool *p = pc->pool;
	struct job *j;

	switch (PQtransactionStatus(pc->pg)) {
	case PQTRANS_IDLE:
		break;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		conn_start(pc, broker_job_new(NULL, JOB_ROLLBACK, 0));
		return;
	default:
		pool_conn_discard(pc, PE_CONNECTION, "connection in an "
		    "unexpected state", 0);
		return;
	}
	if (p->b->stopping) {
		conn_close(pc);
		broker_check_drained(p->b);
		return;
	}
	if ((j = TAILQ_FIRST(&p->waiters)) != NULL) {
		waiter_take(p, j);
		conn_start(pc, j);
		return;
	}
	pc->state = PC_IDLE;
	TAILQ_INSERT_HEAD(&p->idle, pc, ilink);
}

void
pool_conn_discard(struct pconn *pc, enum proto_err kind, const char *msg,
		  int broken)
{
	struct pool *p = pc->pool;
	struct broker *b = p->b;
	struct lease *l;
	struct job *j;

	if ((j = pc->job) != NULL) {
		pc->job = NULL;
		j->where = JW_NONE;
		broker_reply_error(j, kind, NULL, msg);
		broker_job_free(j);
	}
	if ((l = pc->lease) != NULL) {
		pc->lease = NULL;
		l->conn = NULL;
		lease_gone(l, kind, msg);
	}
	if (broken) {
		b->st.connections_broken_total++;
		log_warn("server connection %" PRIu64 " broken: %s",
		    pc->serial, msg);
	} else {
		log_info("server connection %" PRIu64 " closed: %s",
		    pc->serial, msg);
	}
	conn_free(pc);
	if (broken)
		pool_schedule_retry(p, 0);
	else
		pool_fill(p);
	broker_check_drained(b);
}

/* ---- the pool ---- */

struct pool *
pool_new(struct broker *b)
{
	struct pool *p = xcalloc(1, sizeof(*p));

	p->b = b;
	TAILQ_INIT(&p->conns);
	TAILQ_INIT(&p->idle);
	TAILQ_INIT(&p->waiters);
	p->retry_ev = evtimer_new(b->base, retry_cb, p);
	p->wait_ev = evtimer_new(b->base, wait_timer_cb, p);
	return p;
}

void
pool_free(struct pool *p)
{
	struct pconn *pc;
	struct job *j;

	if (p == NULL)
		return;
	while ((j = TAILQ_FIRST(&p->waiters)) != NULL) {
		waiter_take(p, j);
		broker_job_free(j);
	}
	while ((pc = TAILQ_FIRST(&p->conns)) != NULL) {
		if (pc->job)
			broker_job_free(pc->job);
		pc->job = NULL;
		pc->lease = NULL;	/* leases are freed by their table */
		conn_free(pc);
	}
	event_free(p->retry_ev);
	event_free(p->wait_ev);
	free(p);
}

void
pool_fill(struct pool *p)
{
	const struct config *cfg = p->b->cfg;
	struct pconn *pc;
	int want, demand, connecting = 0;

	if (p->b->stopping || p->retry_pending)
		return;
	TAILQ_FOREACH(pc, &p->conns, link)
		if (pc->state == PC_CONNECTING || pc->state == PC_SETUP)
			connecting++;
	want = cfg->pool_min - p->nconns;
	demand = p->nwaiting - connecting;
	if (demand > want)
		want = demand;
	if (want > cfg->pool_max - p->nconns)
		want = cfg->pool_max - p->nconns;
	while (want-- > 0)
		if (conn_open(p) < 0)
			break;
}

void
pool_submit(struct pool *p, struct job *j)
{
	struct pconn *pc;
	uint64_t now;

	if (p->b->stopping) {
		broker_reply_error(j, PE_SHUTDOWN, NULL,
		    "the broker is stopping");
		broker_job_free(j);
		return;
	}
	if (TAILQ_EMPTY(&p->waiters) && (pc = TAILQ_FIRST(&p->idle)) != NULL) {
		TAILQ_REMOVE(&p->idle, pc, ilink);
		conn_start(pc, j);
		return;
	}
	now = now_usec();
	j->queued_usec = now;
	j->deadline_usec = now + (uint64_t)p->b->cfg->pool_timeout * 1000;
	j->where = JW_POOLQ;
	TAILQ_INSERT_TAIL(&p->waiters, j, qlink);
	p->nwaiting++;
	p->b->st.wait_count_total++;
	if (p->nwaiting == 1)
		wait_timer_arm(p);
	pool_fill(p);
}

void
pool_unqueue(struct pool *p, struct job *j)
{
	waiter_take(p, j);
}

void
pool_fail_waiters(struct pool *p, enum proto_err kind, const char *msg)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&p->waiters)) != NULL) {
		waiter_take(p, j);
		broker_reply_error(j, kind, NULL, msg);
		broker_job_free(j);
	}
}

void
pool_close_unused(struct pool *p)
{
	struct pconn *pc, *next;

	for (pc = TAILQ_FIRST(&p->conns); pc; pc = next) {
		next = TAILQ_NEXT(pc, link);
		if (pc->state != PC_ACTIVE)
			conn_close(pc);
	}
	if (p->retry_pending) {
		evtimer_del(p->retry_ev);
		p->retry_pending = 0;
	}
}

void
pool_close_all(struct pool *p, const char *msg)
{
	struct pconn *pc;

	pool_close_unused(p);
	while ((pc = TAILQ_FIRST(&p->conns)) != NULL) {
		if (pc->job) {
			broker_reply_error(pc->job, PE_SHUTDOWN, NULL, msg);
			broker_job_free(pc->job);
			pc->job = NULL;
		}
		conn_close(pc);
	}
}

int
pool_active_jobs(const struct pool *p)
{
	const struct pconn *pc;
	int n = 0;

	TAILQ_FOREACH(pc, &p->conns, link)
		if (pc->job)
			n++;
	return n;
}

void
pool_gauges(const struct pool *p, struct pool_gauges *g)
{
	const struct pconn *pc;

	memset(g, 0, sizeof(*g));
	TAILQ_FOREACH(pc, &p->conns, link) {
		if (pc->state == PC_CONNECTING || pc->state == PC_SETUP)
			g->connecting++;
		else if (pc->state == PC_IDLE)
			g->idle++;
		else if (pc->lease)
			g->leased++;
		else
			g->busy++;
	}
	g->size = p->nconns - g->connecting;
	g->waiting = p->nwaiting;
}
