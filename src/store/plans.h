/*
 * store/plans.h -- what each plan allows, in one table.
 *
 * A user's plan is users.plan ('free' or 'premium'); what a group may do
 * follows its OWNER's plan, so a premium owner's group is premium for every
 * member.  Every limit that depends on the plan is read from this table
 * and from nowhere else, so adding a plan or moving a limit is one edit
 * here (docs/API.md "Limits" lists the same figures).
 */
#ifndef COFFER_STORE_PLANS_H
#define COFFER_STORE_PLANS_H

struct store_plan {
	const char *name;		/* as in users.plan */
	int members_per_group;		/* members of a group it owns */
	int activity_days;		/* days of activity kept */
	int webhooks_per_group;		/* webhooks of a group it owns */
	int history;			/* vault history (vault_daily) and export */
	int price_cents;		/* a month, in USD cents */
};

/* The plan called name; an unknown name or NULL is the free plan, so a
 * value this build does not know never grants more. */
const struct store_plan *store_plans_get(const char *name);

/* The i-th plan, cheapest first, or NULL past the last: for listing
 * them and for what each keeps (activity retention). */
const struct store_plan *store_plans_at(int i);

#endif
