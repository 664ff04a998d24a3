/*
 * store/billing.h -- subscriptions, checkouts and provider events.
 *
 * A user's plan changes only when a provider event says so: the webhook
 * handler hands each verified event to store_billing_apply(), which in one
 * transaction records the event id (billing_events, unique per provider:
 * an id takes effect once however often it is delivered), then, unless
 * the subscription already took an event created later (last_event_ms),
 * sets the subscription and users.plan, the cached plan every limit reads
 * (store/plans.h).  Events of one user are serialized on the user's row.
 *
 * A downgrade to a plan with fewer webhooks per group disables the
 * newest webhooks of each group the user owns beyond that number
 * (store_webhooks_fit_plan), in the same transaction; members beyond the
 * member limit stay (joins are refused at the limit), and vault history
 * stays stored but is not served (store_vault_history_list's caller
 * checks the plan).
 *
 * Checkouts (checkout_sessions) belong to the mock provider: a random id,
 * open until paid or expired.  Paying claims the row (open -> completed)
 * on the provider's side; the subscription itself still waits for the
 * provider's checkout.completed event.
 */
#ifndef COFFER_STORE_BILLING_H
#define COFFER_STORE_BILLING_H

#include <stdint.h>

#include "src/db/db.h"

/* The subscription row (store_billing_subscription), in SELECT order:
 *	plan (users.plan), status ('none' without a subscription),
 *	current_period_end (NULL), provider_subscription_id (NULL) */
enum billing_sub_col {
	BILLING_SUB_PLAN,
	BILLING_SUB_STATUS,
	BILLING_SUB_PERIOD_END,
	BILLING_SUB_PROVIDER_ID,
};

/* user_id's subscription (enum billing_sub_col).  1 / 0 no such user / -1. */
int store_billing_subscription(int64_t user_id, struct db_result **row);

/* Outcomes of store_billing_checkout_create besides -1. */
enum store_billing_checkout {
	STORE_BILLING_CHECKOUT_OK = 0,
	STORE_BILLING_CHECKOUT_ALREADY,	/* already on that plan, active: 409 */
};

/* A checkout with id for user_id to plan, open for ttl_ms. */
int store_billing_checkout_create(const char *id, int64_t user_id, const char *plan,
				  int64_t ttl_ms);

/* The checkout row (store_billing_checkout_get, _claim), in SELECT order:
 *	id, user_id, plan, status ('open', 'completed', 'expired', ...; an
 *	open one past its expiry reads 'expired') */
enum billing_checkout_col {
	BILLING_CHECKOUT_ID,
	BILLING_CHECKOUT_USER_ID,
	BILLING_CHECKOUT_PLAN,
	BILLING_CHECKOUT_STATUS,
};

/* Checkout id (enum billing_checkout_col).  1 / 0 unknown / -1. */
int store_billing_checkout_get(const char *id, struct db_result **row);

/* The provider takes payment for checkout id: open and not expired ->
 * completed, *row (enum billing_checkout_col).  1 / 0 not open / -1. */
int store_billing_checkout_claim(const char *id, struct db_result **row);

/* Undo a claim whose event could not be delivered: completed -> open. */
int store_billing_checkout_reopen(const char *id);

/* The events that change a subscription. */
enum billing_event_type {
	BILLING_CHECKOUT_COMPLETED,	/* premium, active */
	BILLING_SUBSCRIPTION_RENEWED,	/* premium, active, a new period end */
	BILLING_SUBSCRIPTION_PAST_DUE,	/* premium, past_due (a grace period) */
	BILLING_SUBSCRIPTION_CANCELED,	/* free, canceled */
};

/* One verified provider event. */
struct billing_event {
	const char *provider;		/* "mock" */
	const char *event_id;		/* unique per provider */
	const char *type_name;		/* as sent */
	enum billing_event_type type;
	const char *payload;		/* the raw JSON, kept */
	int64_t created_ms;		/* the provider's creation time */
	int64_t user_id;		/* the checkout's client reference */
	const char *subscription_id;	/* may be NULL */
	const char *customer_id;	/* may be NULL */
	const char *checkout_id;	/* checkout.completed: may be NULL */
	int64_t period_end_ms;		/* 0: unchanged */
};

/* Outcomes of store_billing_apply besides -1. */
enum store_billing_apply {
	STORE_BILLING_APPLIED = 0,
	STORE_BILLING_DUPLICATE,	/* this event id was seen: nothing done */
	STORE_BILLING_STALE,		/* a later event was applied: recorded only */
	STORE_BILLING_NO_USER,		/* no such user: recorded only */
};

/* Record event e and apply it (see the top).  enum store_billing_apply or
 * -1. */
int store_billing_apply(const struct billing_event *e);

#endif
