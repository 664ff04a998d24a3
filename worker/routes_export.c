/*
 * routes_export.c -- a premium group's vault history and export.
 *
 * Both are served only while the group's owner's plan has history
 * (store/plans.h); after a downgrade the rows stay stored and the routes
 * answer 403 until the owner is premium again.
 *
 * The export streams: the reply is chunked, and the vault is read a page
 * of EXPORT_PAGE items at a time through the same keyset pages the vault
 * route serves (id order), so neither the database result nor the reply
 * holds the whole vault.  Between pages the handler's coroutine waits
 * until evhttp has written the previous chunk out (the chunk's write
 * callback resumes it), so a slow reader slows the export instead of
 * growing the worker's memory; one that reads nothing for
 * [server] request_timeout ends it.  A client that goes away wakes the
 * wait at once (inflight_on_close) and leaves the request detached (no
 * connection): the export sees that and ends the reply, which frees it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "src/coro.h"
#include "src/log.h"
#include "src/store/vault.h"
#include "src/store/vault_history.h"
#include "src/util.h"
#include "worker/flags.h"
#include "worker/http.h"
#include "worker/inflight.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/worker.h"

#define EXPORT_PAGE	500		/* items read and sent at a time */
#define HISTORY_DEFAULT	30		/* days */
#define INT64_MAX_TEXT	"9223372036854775807"

/* 0 when the group's owner's plan serves history and export, else -1
 * after answering 403 (or the database error). */
static int
require_premium(struct req *r, const char *what)
{
	int rc = store_vault_history_allowed(r->group_id);

	if (rc < 0) {
		http_db_error(r);
		return -1;
	}
	if (rc == 0) {
		http_error(r, 403, NULL, "%s needs the group owner's premium plan", what);
		return -1;
	}
	return 0;
}

/* GET /api/v1/groups/{id}/vault/history?days=N */
static void
vault_history(struct req *r)
{
	struct db_result *rows = NULL;
	json_t *list;
	int64_t days;
	int rc;

	if (flags_require(r, "history") < 0 ||
	    http_query_int(r, "days", 1, STORE_VAULT_HISTORY_MAX_DAYS, HISTORY_DEFAULT,
	    &days) < 0)
		return;
	rc = store_vault_history_list(r->group_id, (int)days, &rows);
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 403, NULL, "vault history needs the group owner's premium plan");
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++) {
		int64_t total = db_int(rows, i, VAULT_HISTORY_TOTAL_VALUE);
		json_t *o = json_pack("{s:s,s:I,s:I}",
		    "date", db_text(rows, i, VAULT_HISTORY_DAY),
		    "total_value", (json_int_t)total,
		    "item_count", (json_int_t)db_int(rows, i, VAULT_HISTORY_ITEM_COUNT));

		/* Stored clamped (store/vault_history.h). */
		if (total == INT64_MAX)
			json_object_set_new(o, "saturated", json_true());
		json_array_append_new(list, o);
	}
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "history", list));
}

/* ---- the export's stream ---- */

/* The export's wait for a chunk to be written out. */
struct drain {
	struct coro *co;
	struct event *timer;
	int waiting;
};

static void
drained(struct evhttp_connection *conn, void *arg)
{
	struct drain *d = arg;

	(void)conn;
	if (!d->waiting)
		return;
	d->waiting = 0;
	evtimer_del(d->timer);
	coro_resume(d->co);
}

static void
drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drained(NULL, arg);
}

/* The client went away (inflight_on_close). */
static void
drain_closed(void *arg)
{
	drained(NULL, arg);
}

/*
 * Send b as a chunk and wait until it is written out.  0, or -1 when the
 * client went away or read nothing for request_timeout.
 */
static int
send_chunk(struct req *r, struct drain *d, struct evbuffer *b)
{
	struct timeval tv = msec_tv((uint64_t)worker_config()->request_timeout);

	if (evhttp_request_get_connection(r->ev) == NULL)
		return -1;
	if (evbuffer_get_length(b) == 0)
		return 0;	/* evhttp would send nothing, and call nothing back */
	d->waiting = 1;
	evtimer_add(d->timer, &tv);
	evhttp_send_reply_chunk_with_cb(r->ev, b, drained, d);
	coro_yield();
	if (evhttp_request_get_connection(r->ev) == NULL)
		return -1;
	/* Resumed by the timer: nothing was read meanwhile. */
	return evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(evhttp_request_get_connection(r->ev)))) > 0 ?
	    -1 : 0;
}

/* A CSV field: quoted, quotes doubled; a leading = + - @ gets a ' so that
 * spreadsheets show it as text rather than run it as a formula. */
static void
csv_text(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	if (s != NULL && (*s == '=' || *s == '+' || *s == '-' || *s == '@'))
		evbuffer_add(b, "'", 1);
	for (; s && *s; s++) {
		if (*s == '"')
			evbuffer_add(b, "\"", 1);
		evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static const char *
str_or_empty(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* The holders JSON text of a page row as one CSV field:
 * "character/container/qty;..." */
static void
csv_holders(struct evbuffer *b, const char *text)
{
	json_t *arr = text ? json_loads(text, 0, NULL) : NULL, *h;
	struct evbuffer *f = evbuffer_new();
	size_t i;
	char *s;

	json_array_foreach(arr, i, h)
		evbuffer_add_printf(f, "%s%s/%s/%" JSON_INTEGER_FORMAT, i ? ";" : "",
		    str_or_empty(h, "character"), str_or_empty(h, "container"),
		    json_integer_value(json_object_get(h, "qty")));
	evbuffer_add(f, "", 1);
	s = (char *)evbuffer_pullup(f, -1);
	csv_text(b, s);
	evbuffer_free(f);
	json_decref(arr);
}

/* Row i of a vault page into b, as a CSV line or a JSON array element. */
static void
export_row(struct evbuffer *b, const struct db_result *rows, int i, int json, int first)
{
	int64_t qty = db_int(rows, i, VAULT_PAGE_QTY);
	int64_t price = db_int(rows, i, VAULT_PAGE_UNIT_PRICE), value;
	int sat = store_vault_value(qty, price, &value);
	const char *holders = db_text(rows, i, VAULT_PAGE_HOLDERS);

	if (json) {
		const char *name = db_text(rows, i, VAULT_PAGE_NAME);
		json_t *h = holders ? json_loads(holders, 0, NULL) : NULL;
		json_t *o = json_pack("{s:I,s:o,s:I,s:I,s:I,s:o}",
		    "id", (json_int_t)db_int(rows, i, VAULT_PAGE_ID),
		    "name", name ? json_string(name) : json_null(),
		    "qty", (json_int_t)qty, "unit_price", (json_int_t)price,
		    "value", (json_int_t)value, "holders", json_is_array(h) ? h : json_array());
		char *s;

		if (!json_is_array(h))
			json_decref(h);
		if (sat)
			json_object_set_new(o, "saturated", json_true());
		s = json_dumps(o, JSON_COMPACT);
		evbuffer_add_printf(b, "%s%s", first ? "" : ",", s);
		free(s);
		json_decref(o);
		return;
	}
	evbuffer_add_printf(b, "%" PRId64 ",", db_int(rows, i, VAULT_PAGE_ID));
	csv_text(b, db_text(rows, i, VAULT_PAGE_NAME));
	evbuffer_add_printf(b, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", qty, price, value);
	csv_holders(b, holders);
	evbuffer_add(b, "\r\n", 2);
}

/* Stream every item of the vault in id order; the reply has started.
 * 0, or -1 when it could not be sent whole. */
static int
export_stream(struct req *r, struct drain *d, int json)
{
	struct vault_query vq = { .group_id = r->group_id, .sort = VAULT_SORT_ID,
	    .limit = EXPORT_PAGE };
	struct evbuffer *b = evbuffer_new();
	struct db_result *rows = NULL;
	int n, first = 1, rc = -1;

	if (json)
		evbuffer_add_printf(b, "{\"group_id\":%" PRId64 ",\"items\":[", r->group_id);
	else
		evbuffer_add_printf(b, "id,name,qty,unit_price,value,holders\r\n");
	do {
		/* Each page has the time a request has: a long export to a
		 * client that keeps reading is not cut by the first deadline. */
		r->db.deadline_usec = now_usec() +
		    (uint64_t)worker_config()->request_timeout * 1000u;
		if (store_vault_page(&vq, &rows) < 0) {
			/* Too late for an error status: the body is cut short
			 * (no last chunk), which the client sees. */
			log_warn("export: group %" PRId64 ": %s", r->group_id,
			    db_last_error()->message);
			goto out;
		}
		n = db_nrows(rows);
		for (int i = 0; i < n; i++, first = 0)
			export_row(b, rows, i, json, first);
		if (n > 0) {
			vq.has_cursor = 1;
			vq.after_id = db_int(rows, n - 1, VAULT_PAGE_ID);
			vq.after_num = vq.after_id;
		}
		db_result_free(rows);
		rows = NULL;
		if (n == EXPORT_PAGE && send_chunk(r, d, b) < 0)
			goto out;
	} while (n == EXPORT_PAGE);
	if (json)
		evbuffer_add_printf(b, "]}\n");
	if (send_chunk(r, d, b) == 0)
		rc = 0;
out:
	evbuffer_free(b);
	return rc;
}

/* GET /api/v1/groups/{id}/vault/export[?format=csv|json] */
static void
vault_export(struct req *r)
{
	static const char *const formats[] = { "csv", "json" };
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(r->ev);
	char disposition[96];
	struct evhttp_connection *conn;
	struct drain d;
	int format, rc;

	if (flags_require(r, "export") < 0 ||
	    http_query_enum(r, "format", formats, 2, 0, &format) < 0 ||
	    require_premium(r, "the vault export") < 0)
		return;
	memset(&d, 0, sizeof(d));
	d.co = coro_current();
	d.timer = evtimer_new(worker_base(), drain_timeout, &d);
	if (d.timer == NULL) {
		http_error(r, 500, NULL, "internal error");
		return;
	}
	snprintf(disposition, sizeof(disposition),
	    "attachment; filename=\"vault-%" PRId64 ".%s\"", r->group_id, formats[format]);
	evhttp_add_header(hdrs, "Content-Type", format ? "application/json" :
	    "text/csv; charset=utf-8");
	evhttp_add_header(hdrs, "Content-Disposition", disposition);
	evhttp_add_header(hdrs, "Cache-Control", "no-store");
	evhttp_send_reply_start(r->ev, 200, "OK");
	r->status = 200;
	inflight_on_close(r->flight, drain_closed, &d);
	rc = export_stream(r, &d, format);
	inflight_on_close(r->flight, NULL, NULL);
	evtimer_del(d.timer);
	event_free(d.timer);
	conn = evhttp_request_get_connection(r->ev);
	if (rc < 0 && conn != NULL)
		evhttp_connection_free(conn);	/* cut short; frees the request */
	else
		evhttp_send_reply_end(r->ev);	/* frees a detached one too */
}

const struct route routes_export[] = {
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/vault/history", MAIN, USER, MEMBER,
	    vault_history },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/vault/export", MAIN, USER, MEMBER,
	    vault_export },
	{ 0 },
};
