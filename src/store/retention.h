/*
 * store/retention.h -- activity kept as long as the owner's plan says.
 *
 * A group keeps its activity for its owner's plan's activity_days
 * (store/plans.h): 7 days on the free plan, 365 on premium.  Older rows
 * are deleted in small batches by store_retention_purge(), which the
 * webhook delivery loop (worker/webhooks.c) runs when it looks for work:
 * after writes that record activity, so with nothing written nothing
 * runs, and no timer exists for it.
 *
 * Each plan's batch is one DELETE over the groups whose owner has that
 * plan, reading each group's old rows from activity_group_created_idx
 * (group_id, created_at): the cost is a probe per group plus the rows
 * deleted, never a walk over rows another plan still keeps.
 *
 * The same pass deletes vault_daily rows older than the longest any plan
 * keeps (365 days, from store/plans.h), in a batch of the same size
 * (store_vault_history_purge).
 */
#ifndef COFFER_STORE_RETENTION_H
#define COFFER_STORE_RETENTION_H

/* Delete up to limit activity rows per plan older than their group's
 * owner's plan keeps, and up to limit vault history rows older than any
 * plan keeps.  The number deleted, or -1. */
int store_retention_purge(int limit);

#endif
