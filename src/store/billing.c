/*
 * store/billing.c -- subscriptions, checkouts and provider events (see
 * billing.h).
 *
 * The order of one event's transaction: insert the event id (a conflict
 * means it was seen: stop), lock the user's row (events of one user apply
 * one at a time, also on PostgreSQL with several hosts), compare the
 * event's creation time with the last applied one, then write the
 * subscription, users.plan, the checkout and the webhooks a downgrade
 * switches off.  An event that changes nothing still keeps its id row, so
 * a redelivery of it is a duplicate, not a second chance.
 */
#include <stdio.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/billing.h"
#include "src/store/plans.h"
#include "src/store/store.h"
#include "src/store/webhooks.h"

/* enum billing_checkout_col's order; $2 is now. */
#define CHECKOUT_COLS "id, user_id, plan, " \
	"CASE WHEN status = 'open' AND expires_at <= $2 THEN 'expired' ELSE status END"

int
store_billing_subscription(int64_t user_id, struct db_result **row)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(user_id) };

	/* Columns in the order of enum billing_sub_col. */
	if (st == NULL)
		st = db_prepare("SELECT u.plan, COALESCE(s.status, 'none'), "
		    "s.current_period_end, s.provider_subscription_id "
		    "FROM users u LEFT JOIN subscriptions s ON s.user_id = u.id "
		    "WHERE u.id = $1");
	return db_get(st, p, 1, row);
}

/* ---- checkouts ---- */

struct checkout_ctx {
	const char *id, *plan;
	int64_t user_id, ttl_ms;
	int outcome;		/* enum store_billing_checkout */
};

static int
checkout_tx(void *arg)
{
	static struct db_stmt *have, *ins;
	struct checkout_ctx *c = arg;
	char now[STORE_TIME_LEN], until[STORE_TIME_LEN];
	struct db_value ph[] = { DB_INT(c->user_id), DB_TEXT(c->plan) };
	struct db_value pi[] = { DB_TEXT(c->id), DB_INT(c->user_id), DB_TEXT(c->plan),
	    DB_TEXT(store_time(now, 0)), DB_TEXT(store_time(until, c->ttl_ms)) };
	struct db_result *row = NULL;
	int rc;

	if (have == NULL) {
		have = db_prepare("SELECT 1 FROM subscriptions WHERE user_id = $1 "
		    "AND plan = $2 AND status IN ('active', 'past_due')");
		ins = db_prepare("INSERT INTO checkout_sessions "
		    "(id, user_id, plan, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)");
	}
	rc = db_get(have, ph, 2, &row);
	db_result_free(row);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		c->outcome = STORE_BILLING_CHECKOUT_ALREADY;
		return 0;
	}
	return db_run(ins, pi, 5, NULL) < 0 ? -1 : 0;
}

int
store_billing_checkout_create(const char *id, int64_t user_id, const char *plan,
			      int64_t ttl_ms)
{
	struct checkout_ctx c = { id, plan, user_id, ttl_ms, STORE_BILLING_CHECKOUT_OK };

	if (db_tx(checkout_tx, &c) < 0)
		return -1;
	return c.outcome;
}

int
store_billing_checkout_get(const char *id, struct db_result **row)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(id), DB_TEXT(store_time(now, 0)) };

	if (st == NULL)
		st = db_prepare("SELECT " CHECKOUT_COLS " FROM checkout_sessions WHERE id = $1");
	return db_get(st, p, 2, row);
}

int
store_billing_checkout_claim(const char *id, struct db_result **row)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(id), DB_TEXT(store_time(now, 0)) };
	struct db_result *rows = NULL;

	/* One statement: two Pay clicks cannot both claim. */
	if (st == NULL)
		st = db_prepare("UPDATE checkout_sessions SET status = 'completed', "
		    "completed_at = $2 WHERE id = $1 AND status = 'open' AND expires_at > $2 "
		    "RETURNING " CHECKOUT_COLS);
	if (db_run(st, p, 2, &rows) < 0)
		return -1;
	if (db_nrows(rows) != 1) {
		db_result_free(rows);
		return 0;
	}
	*row = rows;
	return 1;
}

int
store_billing_checkout_reopen(const char *id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_TEXT(id) };

	if (st == NULL)
		st = db_prepare("UPDATE checkout_sessions SET status = 'open', "
		    "completed_at = NULL WHERE id = $1 AND status = 'completed'");
	return db_run(st, p, 1, NULL) < 0 ? -1 : 0;
}

/* ---- provider events ---- */

/* What each event makes of the subscription, by enum billing_event_type. */
static const struct {
	const char *plan, *status;
} effects[] = {
	[BILLING_CHECKOUT_COMPLETED] = { "premium", "active" },
	[BILLING_SUBSCRIPTION_RENEWED] = { "premium", "active" },
	[BILLING_SUBSCRIPTION_PAST_DUE] = { "premium", "past_due" },
	[BILLING_SUBSCRIPTION_CANCELED] = { "free", "canceled" },
};

struct apply_ctx {
	const struct billing_event *e;
	int outcome;		/* enum store_billing_apply */
};

/* Record e's id: 1 new, 0 seen before, -1. */
static int
record_event(const struct billing_event *e)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_TEXT(e->provider), DB_TEXT(e->event_id),
	    DB_TEXT(e->type_name), DB_TEXT(e->payload) };
	struct db_result *rows = NULL;
	int n;

	if (st == NULL)
		st = db_prepare_dual(
		    "INSERT INTO billing_events (provider, event_id, event_type, payload) "
		    "VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING "
		    "RETURNING id",
		    "INSERT INTO billing_events (provider, event_id, event_type, payload) "
		    "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (provider, event_id) DO NOTHING "
		    "RETURNING id");
	if (db_run(st, p, 4, &rows) < 0)
		return -1;
	n = db_nrows(rows);
	db_result_free(rows);
	return n;
}

/* Lock e's user: 1 and *last (the last applied event's time, -1 for
 * none), 0 no such user, -1. */
static int
lock_user(const struct billing_event *e, int64_t *last)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(e->user_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT COALESCE(s.last_event_ms, -1) FROM users u "
		    "LEFT JOIN subscriptions s ON s.user_id = u.id WHERE u.id = $1",
		    "SELECT COALESCE(s.last_event_ms, -1) FROM users u "
		    "LEFT JOIN subscriptions s ON s.user_id = u.id WHERE u.id = $1 "
		    "FOR UPDATE OF u");
	rc = db_get(st, p, 1, &row);
	if (rc == 1)
		*last = db_int(row, 0, 0);
	db_result_free(row);
	return rc;
}

static int
write_subscription(const struct billing_event *e)
{
	static struct db_stmt *sub, *plan, *checkout;
	char now[STORE_TIME_LEN], end[STORE_TIME_LEN];
	const char *pl = effects[e->type].plan;
	struct db_value ps[] = { DB_INT(e->user_id), DB_TEXT(pl),
	    DB_TEXT(effects[e->type].status),
	    e->period_end_ms > 0 ? DB_TEXT(store_time_ms(end, e->period_end_ms)) : DB_NULL(),
	    DB_TEXT(e->provider), DB_TEXT(e->customer_id), DB_TEXT(e->subscription_id),
	    DB_INT(e->created_ms), DB_TEXT(store_time(now, 0)) };
	struct db_value pp[] = { DB_INT(e->user_id), DB_TEXT(pl) };
	struct db_value pc[] = { DB_TEXT(e->checkout_id), DB_TEXT(now), DB_INT(e->user_id) };

	if (sub == NULL) {
		sub = db_prepare(
		    "INSERT INTO subscriptions (user_id, plan, status, current_period_end, "
		    "provider, provider_customer_id, provider_subscription_id, last_event_ms, "
		    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
		    "ON CONFLICT (user_id) DO UPDATE SET plan = excluded.plan, "
		    "status = excluded.status, current_period_end = "
		    "COALESCE(excluded.current_period_end, subscriptions.current_period_end), "
		    "provider = excluded.provider, provider_customer_id = "
		    "COALESCE(excluded.provider_customer_id, subscriptions.provider_customer_id), "
		    "provider_subscription_id = COALESCE(excluded.provider_subscription_id, "
		    "subscriptions.provider_subscription_id), "
		    "last_event_ms = excluded.last_event_ms, updated_at = excluded.updated_at");
		plan = db_prepare("UPDATE users SET plan = $2 WHERE id = $1");
		checkout = db_prepare("UPDATE checkout_sessions SET status = 'completed', "
		    "completed_at = COALESCE(completed_at, $2) WHERE id = $1 AND user_id = $3");
	}
	if (db_run(sub, ps, 9, NULL) < 0 || db_run(plan, pp, 2, NULL) < 0)
		return -1;
	if (e->type == BILLING_CHECKOUT_COMPLETED && e->checkout_id != NULL &&
	    db_run(checkout, pc, 3, NULL) < 0)
		return -1;
	return store_webhooks_fit_plan(e->user_id, store_plans_get(pl)) < 0 ? -1 : 0;
}

static int
apply_tx(void *arg)
{
	struct apply_ctx *c = arg;
	int64_t last = -1;
	int rc;

	if ((rc = record_event(c->e)) <= 0) {
		c->outcome = STORE_BILLING_DUPLICATE;
		return rc;
	}
	if ((rc = lock_user(c->e, &last)) <= 0) {
		c->outcome = STORE_BILLING_NO_USER;
		return rc;
	}
	if (last >= c->e->created_ms) {
		c->outcome = STORE_BILLING_STALE;
		return 0;
	}
	c->outcome = STORE_BILLING_APPLIED;
	return write_subscription(c->e);
}

int
store_billing_apply(const struct billing_event *e)
{
	struct apply_ctx c = { e, STORE_BILLING_APPLIED };

	if ((size_t)e->type >= sizeof(effects) / sizeof(effects[0])) {
		db_set_error(DBE_MISUSE, "", "unknown billing event type");
		return -1;
	}
	if (db_tx(apply_tx, &c) < 0)
		return -1;
	return c.outcome;
}
