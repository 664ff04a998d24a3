/*
 * store/webhooks.h -- a group's webhooks and their outbox.
 *
 * A webhook belongs to one group (owner and admins manage it; the router
 * checks the role) and has a URL, a format (json or discord), a secret
 * that signs its deliveries and an enabled switch.  How many a group may
 * have follows its owner's plan (store/plans.h), decided inside the
 * transaction that inserts, under a lock on the group row, so two
 * concurrent creations cannot both take the last place.
 *
 * The outbox: webhook_deliveries holds one row per delivery.  Activity
 * rows get theirs from store_webhooks_enqueue_activity(), which
 * store_activity_record() calls inside the transaction that writes the
 * activity, so an event and its deliveries commit or roll back together.
 * The payload is the activity entry as GET .../activity lists it, built
 * by that same INSERT ... SELECT, so a later rename or purge of the
 * activity does not change what is sent.
 *
 * Delivering (worker/webhooks.c) goes: store_webhooks_claim() takes due
 * rows -- one UPDATE that adds 1 to attempts and pushes next_attempt_at
 * past the claim time, through FOR UPDATE SKIP LOCKED on PostgreSQL (any
 * number of hosts, each row to one claimer) and as one write statement on
 * SQLite (one writer at a time) -- then store_webhooks_job() reads what to
 * send, and the outcome is written by store_webhooks_delivered() or
 * store_webhooks_failed().  attempts is the claim's token: a failure is
 * written only while attempts is still the claimed value, so a claimer
 * whose claim expired and was taken over cannot overwrite the newer
 * attempt.  A 2xx is written whatever the token: once the receiver
 * acknowledged, 'delivered' is final and no claim selects the row again.
 * A claimer that dies before writing leaves the row pending with
 * next_attempt_at at its claim's expiry, so it is sent again then.
 */
#ifndef COFFER_STORE_WEBHOOKS_H
#define COFFER_STORE_WEBHOOKS_H

#include <stdint.h>

#include "src/db/db.h"
#include "src/store/plans.h"

/*
 * Rows for the Webhook object, docs/API.md "Webhooks" (store_webhooks_list,
 * _create, _update), in SELECT order (WEBHOOK_COLS in webhooks.c):
 *	id, url, format, enabled, created_at
 */
enum webhook_col {
	WEBHOOK_ID,
	WEBHOOK_URL,
	WEBHOOK_FORMAT,
	WEBHOOK_ENABLED,
	WEBHOOK_CREATED_AT,
};

/*
 * Rows for the Delivery object (store_webhooks_deliveries, _test), in
 * SELECT order (DELIVERY_COLS in webhooks.c):
 *	id, event_id (the activity id, NULL for a test), status, attempts,
 *	last_status (HTTP status or NULL), last_error, next_attempt_at (NULL
 *	unless pending), delivered_at
 */
enum webhook_delivery_col {
	WEBHOOK_DELIVERY_ID,
	WEBHOOK_DELIVERY_EVENT_ID,
	WEBHOOK_DELIVERY_STATUS,
	WEBHOOK_DELIVERY_ATTEMPTS,
	WEBHOOK_DELIVERY_LAST_STATUS,
	WEBHOOK_DELIVERY_LAST_ERROR,
	WEBHOOK_DELIVERY_NEXT_ATTEMPT_AT,
	WEBHOOK_DELIVERY_DELIVERED_AT,
};

/* Rows of store_webhooks_claim, in RETURNING order: id, attempts (the
 * claim's token, counting this attempt). */
enum webhook_claim_col {
	WEBHOOK_CLAIM_ID,
	WEBHOOK_CLAIM_ATTEMPTS,
};

/* The row of store_webhooks_job, in SELECT order:
 *	id, event ('activity', 'test'), payload (JSON text), url, format, secret */
enum webhook_job_col {
	WEBHOOK_JOB_ID,
	WEBHOOK_JOB_EVENT,
	WEBHOOK_JOB_PAYLOAD,
	WEBHOOK_JOB_URL,
	WEBHOOK_JOB_FORMAT,
	WEBHOOK_JOB_SECRET,
};

/* Outcomes of store_webhooks_create besides -1 (a database error). */
enum store_webhooks_create {
	STORE_WEBHOOKS_OK = 0,
	STORE_WEBHOOKS_LIMIT,		/* the owner's plan allows no more: 422 */
	STORE_WEBHOOKS_NO_GROUP,	/* deleted meanwhile: 404 */
};

/*
 * A webhook of group_id for url with format ("json", "discord") and secret,
 * unless the group already has as many as its owner's plan allows (then
 * *plan says which plan, for the message).  *row (enum webhook_col) on
 * STORE_WEBHOOKS_OK.
 */
int store_webhooks_create(int64_t group_id, const char *url, const char *format,
			  const char *secret, const struct store_plan **plan,
			  struct db_result **row);

/* group_id's webhooks (enum webhook_col), oldest first.  0 or -1. */
int store_webhooks_list(int64_t group_id, struct db_result **rows);

/*
 * Change webhook id of group_id: url and format unless NULL, enabled
 * unless -1.  Disabling also ends its pending deliveries as failed, in the
 * same transaction, so a switched-off receiver hears nothing more.
 * Enabling is refused while the group's other enabled webhooks fill its
 * owner's plan (after a downgrade): 2, *plan saying which plan.
 * 1 and *row (enum webhook_col) / 0 no such webhook / 2 / -1.
 */
int store_webhooks_update(int64_t group_id, int64_t id, const char *url,
			  const char *format, int enabled, const struct store_plan **plan,
			  struct db_result **row);

/* Delete webhook id of group_id and its deliveries.  1 / 0 / -1. */
int store_webhooks_delete(int64_t group_id, int64_t id);

/*
 * Queue a delivery of event 'test' with payload (JSON text) to webhook id
 * of group_id, enabled or not.  1 and *row (enum webhook_delivery_col) /
 * 0 no such webhook / -1.
 */
int store_webhooks_test(int64_t group_id, int64_t id, const char *payload,
			struct db_result **row);

/* Up to limit deliveries (enum webhook_delivery_col) of webhook id of
 * group_id, newest first.  1 / 0 no such webhook / -1. */
int store_webhooks_deliveries(int64_t group_id, int64_t id, int limit,
			      struct db_result **rows);

/*
 * In the caller's transaction: a delivery of each of the n activity rows
 * ids[] to every enabled webhook of that row's group.  Returns the rows
 * queued, or -1.
 */
int store_webhooks_enqueue_activity(const int64_t *ids, int n);

/*
 * In the caller's transaction, after owner_id's plan became plan: in each
 * group owner_id owns, keep enabled only the oldest webhooks the plan
 * allows and disable the others (not deleted: an upgrade and a PATCH
 * enable them again), failing their pending deliveries.  Returns how many
 * were disabled, or -1.
 */
int store_webhooks_fit_plan(int64_t owner_id, const struct store_plan *plan);

/* ---- delivering (worker/webhooks.c) ---- */

/*
 * When the earliest pending delivery is due: 1 and *in_ms (0 or less: due
 * now), 0 when nothing is pending, -1.  Counts rows in flight too (their
 * claim's expiry).
 */
int store_webhooks_next_due(int64_t *in_ms);

/* Claim up to limit due deliveries until claim_ms from now (rows: enum
 * webhook_claim_col).  The number claimed, or -1. */
int store_webhooks_claim(int limit, int64_t claim_ms, struct db_result **rows);

/* What to send for delivery id (enum webhook_job_col).  1 / 0 (its webhook
 * was deleted) / -1. */
int store_webhooks_job(int64_t id, struct db_result **row);

/* Delivery id got HTTP status (2xx): final.  1 / 0 (already final or
 * gone) / -1. */
int store_webhooks_delivered(int64_t id, long status);

/*
 * The attempt numbered attempts of delivery id failed with status (0: no
 * HTTP answer) and error (may be NULL): due again in retry_ms, or failed
 * for good when retry_ms < 0.  1 / 0 (the claim was lost, or the row is
 * gone) / -1.
 */
int store_webhooks_failed(int64_t id, int64_t attempts, long status, const char *error,
			  int64_t retry_ms);

/* Delete up to limit deliveries delivered more than age_ms ago.  The
 * number deleted, or -1. */
int store_webhooks_purge(int64_t age_ms, int limit);

#endif
