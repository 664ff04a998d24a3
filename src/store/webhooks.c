/*
 * store/webhooks.c -- the webhooks and webhook_deliveries tables (see
 * webhooks.h for the outbox and its claims).
 *
 * Where the dialects differ it is JSON and time arithmetic: the payload is
 * built with json_object() on SQLite and jsonb_build_object() on
 * PostgreSQL, the event id read back with json_extract() and ->>, and
 * "how long until due" with julianday() and extract(epoch ...).  Times
 * are bound as text (store_time) like everywhere in the store, so both
 * engines compare them the same.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/store.h"
#include "src/store/webhooks.h"
#include "src/util.h"

/* The Webhook row, in enum webhook_col's order. */
#define WEBHOOK_COLS "id, url, format, enabled, created_at"

/* The Delivery row, in enum webhook_delivery_col's order, per dialect. */
#define DELIVERY_COLS_TAIL "status, attempts, last_status, last_error, " \
	"CASE WHEN status = 'pending' THEN next_attempt_at END, delivered_at"
#define DELIVERY_COLS_SQLITE "id, json_extract(payload, '$.id'), " DELIVERY_COLS_TAIL
#define DELIVERY_COLS_PG "id, (payload->>'id')::bigint, " DELIVERY_COLS_TAIL

/* ---- managing webhooks ---- */

/*
 * Lock group_id's row and read its owner's plan into *plan: 1, 0 no such
 * group, -1.  Changes that count a group's webhooks queue on this lock
 * (PostgreSQL); on SQLite the transaction already holds the write lock.
 */
static int
lock_group(int64_t group_id, const struct store_plan **plan)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT u.plan FROM groups g JOIN users u ON u.id = g.owner_id "
		    "WHERE g.id = $1",
		    "SELECT u.plan FROM groups g JOIN users u ON u.id = g.owner_id "
		    "WHERE g.id = $1 FOR UPDATE OF g");
	rc = db_get(st, p, 1, &row);
	if (rc == 1)
		*plan = store_plans_get(db_text(row, 0, 0));
	db_result_free(row);
	return rc;
}

struct create_ctx {
	int64_t group_id;
	const char *url, *format, *secret;
	const struct store_plan *plan;
	struct db_result *row;
	int outcome;		/* enum store_webhooks_create */
};

static int
create_tx(void *arg)
{
	static struct db_stmt *count, *ins;
	struct create_ctx *c = arg;
	struct db_value pg[] = { DB_INT(c->group_id) };
	struct db_value pi[] = { DB_INT(c->group_id), DB_TEXT(c->url), DB_TEXT(c->format),
	    DB_TEXT(c->secret) };
	struct db_result *row = NULL;
	int rc, full;

	if (count == NULL) {
		count = db_prepare("SELECT count(*) FROM webhooks WHERE group_id = $1");
		ins = db_prepare("INSERT INTO webhooks (group_id, url, format, secret) "
		    "VALUES ($1, $2, $3, $4) RETURNING " WEBHOOK_COLS);
	}
	rc = lock_group(c->group_id, &c->plan);
	if (rc <= 0) {
		c->outcome = STORE_WEBHOOKS_NO_GROUP;
		return rc;
	}
	if (db_get(count, pg, 1, &row) != 1)
		return -1;
	full = db_int(row, 0, 0) >= c->plan->webhooks_per_group;
	db_result_free(row);
	if (full) {
		c->outcome = STORE_WEBHOOKS_LIMIT;
		return 0;
	}
	if (db_run(ins, pi, 4, &c->row) < 0)
		return -1;
	c->outcome = STORE_WEBHOOKS_OK;
	return 0;
}

int
store_webhooks_create(int64_t group_id, const char *url, const char *format,
		      const char *secret, const struct store_plan **plan,
		      struct db_result **row)
{
	struct create_ctx c = { group_id, url, format, secret, NULL, NULL, 0 };

	if (db_tx(create_tx, &c) < 0) {
		db_result_free(c.row);
		return -1;
	}
	*plan = c.plan;
	if (c.outcome == STORE_WEBHOOKS_OK && db_nrows(c.row) != 1) {
		db_result_free(c.row);
		db_set_error(DBE_SQL, "", "webhook insert returned no row");
		return -1;
	}
	*row = c.row;
	return c.outcome;
}

int
store_webhooks_list(int64_t group_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id) };

	if (st == NULL)
		st = db_prepare("SELECT " WEBHOOK_COLS " FROM webhooks "
		    "WHERE group_id = $1 ORDER BY id");
	return db_all(st, p, 1, rows);
}

struct update_ctx {
	int64_t group_id, id;
	const char *url, *format;
	int enabled;
	const struct store_plan *plan;
	int over;		/* enabling would pass the plan's limit */
	struct db_result *row;
};

/*
 * Enabling webhook c->id: 1 when the group's other enabled webhooks
 * already fill its owner's plan (a downgrade disabled the rest), 0 when
 * there is room, -1.  Under the group row's lock, like create_tx.
 */
static int
enable_over_limit(struct update_ctx *c)
{
	static struct db_stmt *count;
	struct db_value pc[] = { DB_INT(c->group_id), DB_INT(c->id) };
	struct db_result *row = NULL;
	int rc;

	if (count == NULL)
		count = db_prepare("SELECT count(*) FROM webhooks "
		    "WHERE group_id = $1 AND enabled AND id <> $2");
	if ((rc = lock_group(c->group_id, &c->plan)) <= 0)
		return rc;
	if (db_get(count, pc, 2, &row) != 1)
		return -1;
	rc = db_int(row, 0, 0) >= c->plan->webhooks_per_group;
	db_result_free(row);
	return rc;
}

static int
update_tx(void *arg)
{
	static struct db_stmt *upd, *cancel;
	struct update_ctx *c = arg;
	struct db_value pu[] = { DB_INT(c->id), DB_INT(c->group_id), DB_TEXT(c->url),
	    DB_TEXT(c->format), c->enabled < 0 ? DB_NULL() : DB_BOOL(c->enabled) };
	struct db_value pc[] = { DB_INT(c->id) };

	if (upd == NULL) {
		upd = db_prepare(
		    "UPDATE webhooks SET url = COALESCE($3, url), "
		    "format = COALESCE($4, format), enabled = COALESCE($5, enabled) "
		    "WHERE id = $1 AND group_id = $2 RETURNING " WEBHOOK_COLS);
		cancel = db_prepare(
		    "UPDATE webhook_deliveries SET status = 'failed', "
		    "last_error = 'the webhook was disabled' "
		    "WHERE webhook_id = $1 AND status = 'pending'");
	}
	if (c->enabled == 1 && (c->over = enable_over_limit(c)) != 0)
		return c->over < 0 ? -1 : 0;
	if (db_run(upd, pu, 5, &c->row) < 0)
		return -1;
	if (db_nrows(c->row) == 1 && c->enabled == 0 && db_run(cancel, pc, 1, NULL) < 0)
		return -1;
	return 0;
}

int
store_webhooks_update(int64_t group_id, int64_t id, const char *url, const char *format,
		      int enabled, const struct store_plan **plan, struct db_result **row)
{
	struct update_ctx c = { group_id, id, url, format, enabled, NULL, 0, NULL };

	if (db_tx(update_tx, &c) < 0) {
		db_result_free(c.row);
		return -1;
	}
	*plan = c.plan;
	if (c.over)
		return 2;
	if (db_nrows(c.row) != 1) {
		db_result_free(c.row);
		return 0;
	}
	*row = c.row;
	return 1;
}

int
store_webhooks_delete(int64_t group_id, int64_t id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id), DB_INT(group_id) };
	int64_t n;

	if (st == NULL)
		st = db_prepare("DELETE FROM webhooks WHERE id = $1 AND group_id = $2");
	n = db_run(st, p, 2, NULL);
	return n < 0 ? -1 : n > 0;
}

int
store_webhooks_test(int64_t group_id, int64_t id, const char *payload,
		    struct db_result **row)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id), DB_INT(group_id), DB_TEXT(payload) };
	struct db_result *rows = NULL;

	if (st == NULL)
		st = db_prepare_dual(
		    "INSERT INTO webhook_deliveries (webhook_id, event, payload) "
		    "SELECT id, 'test', $3 FROM webhooks WHERE id = $1 AND group_id = $2 "
		    "RETURNING " DELIVERY_COLS_SQLITE,
		    "INSERT INTO webhook_deliveries (webhook_id, event, payload) "
		    "SELECT id, 'test', $3::jsonb FROM webhooks WHERE id = $1 AND group_id = $2 "
		    "RETURNING " DELIVERY_COLS_PG);
	if (db_run(st, p, 3, &rows) < 0)
		return -1;
	if (db_nrows(rows) != 1) {
		db_result_free(rows);
		return 0;
	}
	*row = rows;
	return 1;
}

int
store_webhooks_deliveries(int64_t group_id, int64_t id, int limit, struct db_result **rows)
{
	static struct db_stmt *exists, *list;
	struct db_value pe[] = { DB_INT(id), DB_INT(group_id) };
	struct db_value pl[] = { DB_INT(id), DB_INT(limit) };
	struct db_result *row = NULL;
	int rc;

	if (exists == NULL) {
		exists = db_prepare("SELECT 1 FROM webhooks WHERE id = $1 AND group_id = $2");
		/* webhook_deliveries_webhook_idx, backwards. */
		list = db_prepare_dual(
		    "SELECT " DELIVERY_COLS_SQLITE " FROM webhook_deliveries "
		    "WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
		    "SELECT " DELIVERY_COLS_PG " FROM webhook_deliveries "
		    "WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2");
	}
	rc = db_get(exists, pe, 2, &row);
	db_result_free(row);
	if (rc <= 0)
		return rc;
	return db_all(list, pl, 2, rows) < 0 ? -1 : 1;
}

/* ---- the outbox ---- */

int
store_webhooks_enqueue_activity(const int64_t *ids, int n)
{
	static struct db_stmt *st;
	char *list;
	size_t len = 3, off;
	int64_t rows;

	if (n <= 0)
		return 0;
	/* The ids as a JSON array, read back by json_each/jsonb: one
	 * statement text whatever their number. */
	len += (size_t)n * 21;
	list = xmalloc(len);
	off = (size_t)snprintf(list, len, "[");
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(list + off, len - off, "%s%" PRId64, i ? "," : "", ids[i]);
	snprintf(list + off, len - off, "]");

	struct db_value p[] = { DB_TEXT(list) };

	/* The payload is the activity entry of GET .../activity, times to
	 * the second in UTC like db_time(). */
	if (st == NULL)
		st = db_prepare_dual(
		    "INSERT INTO webhook_deliveries (webhook_id, event, payload) "
		    "SELECT w.id, 'activity', json_object('id', a.id, 'kind', a.kind, "
		    "'character', c.name, 'user_id', a.user_id, 'data', json(a.data), "
		    "'created_at', strftime('%Y-%m-%dT%H:%M:%SZ', a.created_at)) "
		    "FROM activity a JOIN webhooks w ON w.group_id = a.group_id AND w.enabled "
		    "LEFT JOIN characters c ON c.id = a.character_id "
		    "WHERE a.id IN (SELECT value FROM json_each($1)) ORDER BY a.id, w.id",
		    "INSERT INTO webhook_deliveries (webhook_id, event, payload) "
		    "SELECT w.id, 'activity', jsonb_build_object('id', a.id, 'kind', a.kind, "
		    "'character', c.name, 'user_id', a.user_id, 'data', a.data, "
		    "'created_at', to_char(a.created_at AT TIME ZONE 'UTC', "
		    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) "
		    "FROM activity a JOIN webhooks w ON w.group_id = a.group_id AND w.enabled "
		    "LEFT JOIN characters c ON c.id = a.character_id "
		    "WHERE a.id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) "
		    "ORDER BY a.id, w.id");
	rows = db_run(st, p, 1, NULL);
	free(list);
	return rows < 0 ? -1 : (int)rows;
}

/* ---- delivering ---- */

int
store_webhooks_next_due(int64_t *in_ms)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(store_time(now, 0)) };
	struct db_result *row = NULL;
	int rc;

	/* min() over webhook_deliveries_due_idx: one index probe. */
	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT CAST(round((julianday(min(next_attempt_at)) - julianday($1)) "
		    "* 86400000.0) AS INTEGER) FROM webhook_deliveries WHERE status = 'pending'",
		    "SELECT round(extract(epoch FROM min(next_attempt_at) - $1::timestamptz) "
		    "* 1000)::bigint FROM webhook_deliveries WHERE status = 'pending'");
	if (db_get(st, p, 1, &row) < 0)
		return -1;
	rc = !db_isnull(row, 0, 0);
	if (rc)
		*in_ms = db_int(row, 0, 0);
	db_result_free(row);
	return rc;
}

int
store_webhooks_claim(int limit, int64_t claim_ms, struct db_result **rows)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN], until[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(store_time(now, 0)),
	    DB_TEXT(store_time(until, claim_ms)), DB_INT(limit) };
	int64_t n;

	/* Columns in the order of enum webhook_claim_col. */
	if (st == NULL)
		st = db_prepare_dual(
		    "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2 "
		    "WHERE id IN (SELECT id FROM webhook_deliveries "
		    "WHERE status = 'pending' AND next_attempt_at <= $1 "
		    "ORDER BY next_attempt_at LIMIT $3) RETURNING id, attempts",
		    "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2 "
		    "WHERE id IN (SELECT id FROM webhook_deliveries "
		    "WHERE status = 'pending' AND next_attempt_at <= $1 "
		    "ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
		    "RETURNING id, attempts");
	n = db_run(st, p, 3, rows);
	return n < 0 ? -1 : (int)n;
}

int
store_webhooks_job(int64_t id, struct db_result **row)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id) };

	/* Columns in the order of enum webhook_job_col. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT d.id, d.event, d.payload, w.url, w.format, w.secret "
		    "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
		    "WHERE d.id = $1 AND d.status = 'pending'");
	return db_get(st, p, 1, row);
}

int
store_webhooks_delivered(int64_t id, long status)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN];
	struct db_value p[] = { DB_INT(id), DB_TEXT(store_time(now, 0)), DB_INT(status) };
	int64_t n;

	if (st == NULL)
		st = db_prepare(
		    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $2, "
		    "last_status = $3, last_error = NULL "
		    "WHERE id = $1 AND status = 'pending'");
	n = db_run(st, p, 3, NULL);
	return n < 0 ? -1 : n > 0;
}

int
store_webhooks_failed(int64_t id, int64_t attempts, long status, const char *error,
		      int64_t retry_ms)
{
	static struct db_stmt *st;
	char next[STORE_TIME_LEN];
	struct db_value p[] = { DB_INT(id), DB_INT(attempts),
	    DB_TEXT(retry_ms < 0 ? "failed" : "pending"),
	    DB_TEXT(store_time(next, retry_ms < 0 ? 0 : retry_ms)),
	    status > 0 ? DB_INT(status) : DB_NULL(), DB_TEXT(error) };
	int64_t n;

	if (st == NULL)
		st = db_prepare(
		    "UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, "
		    "last_status = $5, last_error = $6 "
		    "WHERE id = $1 AND attempts = $2 AND status = 'pending'");
	n = db_run(st, p, 6, NULL);
	return n < 0 ? -1 : n > 0;
}

int
store_webhooks_purge(int64_t age_ms, int limit)
{
	static struct db_stmt *st;
	char before[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(store_time(before, -age_ms)), DB_INT(limit) };
	int64_t n;

	if (st == NULL)
		st = db_prepare(
		    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries "
		    "WHERE status = 'delivered' AND delivered_at < $1 LIMIT $2)");
	n = db_run(st, p, 2, NULL);
	return n < 0 ? -1 : (int)n;
}

/* ---- plans ---- */

/* ids[0..n) as a JSON array text (malloc'd), read back with json_each
 * or jsonb_array_elements_text: one statement text whatever n is. */
static char *
id_list(const int64_t *ids, int n)
{
	size_t len = 3 + (size_t)n * 21, off;
	char *list = xmalloc(len);

	off = (size_t)snprintf(list, len, "[");
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(list + off, len - off, "%s%" PRId64, i ? "," : "", ids[i]);
	snprintf(list + off, len - off, "]");
	return list;
}

int
store_webhooks_fit_plan(int64_t owner_id, const struct store_plan *plan)
{
	static struct db_stmt *sel, *off, *cancel;
	struct db_value p[] = { DB_INT(owner_id) };
	struct db_result *rows = NULL;
	int64_t *ids, group = 0;
	int n = 0, in_group = 0, rc = 0;
	char *list;

	if (sel == NULL) {
		sel = db_prepare("SELECT w.id, w.group_id FROM webhooks w "
		    "JOIN groups g ON g.id = w.group_id "
		    "WHERE g.owner_id = $1 AND w.enabled ORDER BY w.group_id, w.id");
		off = db_prepare_dual(
		    "UPDATE webhooks SET enabled = FALSE "
		    "WHERE id IN (SELECT value FROM json_each($1))",
		    "UPDATE webhooks SET enabled = FALSE "
		    "WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)");
		cancel = db_prepare_dual(
		    "UPDATE webhook_deliveries SET status = 'failed', "
		    "last_error = 'the webhook was disabled' WHERE status = 'pending' "
		    "AND webhook_id IN (SELECT value FROM json_each($1))",
		    "UPDATE webhook_deliveries SET status = 'failed', "
		    "last_error = 'the webhook was disabled' WHERE status = 'pending' "
		    "AND webhook_id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)");
	}
	if (db_all(sel, p, 1, &rows) < 0)
		return -1;
	/* Each group keeps its oldest webhooks, as many as the plan allows. */
	ids = xcalloc((size_t)db_nrows(rows) + 1, sizeof(*ids));
	for (int i = 0; i < db_nrows(rows); i++) {
		if (i == 0 || db_int(rows, i, 1) != group) {
			group = db_int(rows, i, 1);
			in_group = 0;
		}
		if (++in_group > plan->webhooks_per_group)
			ids[n++] = db_int(rows, i, 0);
	}
	db_result_free(rows);
	if (n > 0) {
		list = id_list(ids, n);
		struct db_value pl[] = { DB_TEXT(list) };

		if (db_run(off, pl, 1, NULL) < 0 || db_run(cancel, pl, 1, NULL) < 0)
			rc = -1;
		free(list);
	}
	free(ids);
	return rc < 0 ? -1 : n;
}
