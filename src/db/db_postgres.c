/*
 * db_postgres.c -- the PostgreSQL engine, worker side: every call is a
 * frame to the broker and a yield until its reply.
 *
 * A statement outside a transaction carries lease 0 and the broker runs it
 * on any idle connection.  db_tx's BEGIN obtains a lease, a connection
 * pinned to this request; the lease id is kept in the request's
 * db_session, so every statement of the transaction, and only those, runs
 * on that connection.  The worker never holds a PostgreSQL connection
 * itself and never blocks on one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/broker_link.h"
#include "src/db/db_internal.h"
#include "src/log.h"
#include "src/proto.h"
#include "src/util.h"

static int
pg_init(const struct config *cfg, struct event_base *base)
{
	(void)cfg;
	(void)base;
	return 0;	/* the broker link is started by the worker */
}

static void
pg_shutdown(void)
{
}

/* Turn an ERROR frame (or a lost link) into the session's error. */
static void
reply_error(struct db_session *s, const struct broker_reply *rep)
{
	struct proto_error e;
	enum db_error_kind kind;

	if (rep == NULL) {
		db_error_set(s, DBE_UNAVAILABLE, "", "no connection to the broker");
		return;
	}
	if (rep->frame.type != PT_ERROR || proto_decode_error(&rep->frame, &e) < 0) {
		db_error_set(s, DBE_MISUSE, "", "unexpected %s reply from the broker",
		    proto_type_name(rep->frame.type));
		return;
	}
	switch (e.kind) {
	case PE_SQL:
		kind = DBE_SQL;
		if (strcmp(e.sqlstate, "23505") == 0)
			kind = DBE_CONSTRAINT;
		else if (strcmp(e.sqlstate, "40001") == 0 || strcmp(e.sqlstate, "40P01") == 0 ||
		    strcmp(e.sqlstate, "57014") == 0)
			kind = DBE_BUSY;	/* serialization, deadlock, statement timeout */
		break;
	case PE_POOL_TIMEOUT:
	case PE_LEASE_TIMEOUT:
		kind = DBE_BUSY;
		break;
	case PE_CONNECTION:
	case PE_UNAVAILABLE:
	case PE_SHUTDOWN:
		kind = DBE_UNAVAILABLE;
		break;
	default:
		kind = DBE_MISUSE;
		break;
	}
	db_error_set(s, kind, e.sqlstate, "%s: %s", proto_err_name(e.kind), e.message);
}

/* Send buf and wait; returns 0 with a reply of type want, else -1 (error set). */
static int
call(struct db_session *s, struct proto_buf *b, uint32_t id, int want,
     struct broker_reply *rep)
{
	int rc = broker_link_call(b, id, rep);

	proto_buf_free(b);
	if (rc < 0) {
		reply_error(s, NULL);
		return -1;
	}
	if (rep->frame.type != want) {
		reply_error(s, rep);
		broker_reply_free(rep);
		return -1;
	}
	return 0;
}

static void
put_param(struct proto_buf *b, const struct db_value *v)
{
	char num[40];

	switch (v->type) {
	case DBV_NULL:
		proto_put_cell(b, NULL, -1);
		break;
	case DBV_INT:
		snprintf(num, sizeof(num), "%" PRId64, v->i);
		proto_put_cell(b, num, (int32_t)strlen(num));
		break;
	case DBV_BOOL:
		proto_put_cell(b, v->i ? "t" : "f", 1);
		break;
	case DBV_REAL:
		snprintf(num, sizeof(num), "%.17g", v->d);
		proto_put_cell(b, num, (int32_t)strlen(num));
		break;
	case DBV_TEXT:
		proto_put_cell(b, v->s, (int32_t)(v->len == SIZE_MAX ? strlen(v->s) : v->len));
		break;
	}
}

static int
send_query(struct db_session *s, const char *sql, uint8_t flags,
	   const struct db_value *p, int n, struct db_result **out)
{
	struct proto_buf b;
	struct broker_reply rep;
	struct proto_result pr;
	struct db_result *r;
	uint32_t id = broker_link_next_id();
	size_t start;

	proto_buf_init(&b);
	start = proto_begin(&b, PT_QUERY, id);
	proto_put_u64(&b, s->depth > 0 ? s->lease : 0);
	proto_put_u8(&b, flags);
	proto_put_str(&b, sql);
	proto_put_u16(&b, (uint16_t)n);
	for (int i = 0; i < n; i++)
		put_param(&b, &p[i]);
	if (proto_end(&b, start) < 0) {
		proto_buf_free(&b);
		db_error_set(s, DBE_MISUSE, "", "statement too large for one frame");
		return -1;
	}
	if (call(s, &b, id, PT_RESULT, &rep) < 0)
		return -1;
	if (proto_decode_result(&rep.frame, &pr) < 0) {
		broker_reply_free(&rep);
		db_error_set(s, DBE_MISUSE, "", "malformed result from the broker");
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->nrows = (int)pr.nrows;
	r->ncols = pr.ncols;
	r->changes = (int64_t)pr.changes;
	r->colnames = pr.colnames;
	r->cells = pr.cells;
	r->lens = pr.lens;
	r->extra = pr.coltypes;
	r->storage = rep.data;		/* the cells point into the frame */
	if (out)
		*out = r;
	else
		db_result_free(r);
	return 0;
}

static int
pg_query(struct db_session *s, struct db_stmt *st, const struct db_value *p,
	 int n, struct db_result **out)
{
	if (n > PROTO_MAX_PARAMS) {
		db_error_set(s, DBE_MISUSE, "", "too many parameters (%d)", n);
		return -1;
	}
	return send_query(s, st->sql[ENGINE_POSTGRES],
	    (st->flags & DB_CUSTOM_PLAN) ? PQF_CUSTOM_PLAN : 0, p, n, out);
}

static int
pg_exec(struct db_session *s, const char *sql)
{
	return send_query(s, sql, PQF_SCRIPT, NULL, 0, NULL);
}

static int
pg_begin(struct db_session *s)
{
	struct proto_buf b;
	struct broker_reply rep;
	struct proto_reader rd;
	uint32_t id = broker_link_next_id();
	size_t start;

	proto_buf_init(&b);
	start = proto_begin(&b, PT_BEGIN, id);
	proto_put_u8(&b, 0);
	proto_end(&b, start);
	if (call(s, &b, id, PT_LEASE, &rep) < 0)
		return -1;
	proto_reader_init(&rd, &rep.frame);
	s->lease = proto_get_u64(&rd);
	if (proto_reader_done(&rd) < 0 || s->lease == 0) {
		broker_reply_free(&rep);
		s->lease = 0;
		db_error_set(s, DBE_MISUSE, "", "malformed lease from the broker");
		return -1;
	}
	broker_reply_free(&rep);
	return 0;
}

static int
pg_end(struct db_session *s, int commit)
{
	struct proto_buf b;
	struct broker_reply rep;
	uint32_t id = broker_link_next_id();
	size_t start;
	int rc;

	proto_buf_init(&b);
	start = proto_begin(&b, PT_END, id);
	proto_put_u64(&b, s->lease);
	proto_put_u8(&b, commit ? 1 : 0);
	proto_end(&b, start);
	rc = call(s, &b, id, PT_RESULT, &rep);
	if (rc == 0)
		broker_reply_free(&rep);
	s->lease = 0;
	return rc;
}

const struct db_engine_ops db_postgres_ops = {
	.name = "postgres",
	.init = pg_init,
	.shutdown = pg_shutdown,
	.query = pg_query,
	.exec = pg_exec,
	.begin = pg_begin,
	.end = pg_end,
};
