/*
 * store/retention.c -- purging activity past its plan's days (see
 * retention.h), and vault history past the longest any plan serves.
 */
#include <stdint.h>

#include "src/db/db.h"
#include "src/store/plans.h"
#include "src/store/retention.h"
#include "src/store/store.h"
#include "src/store/vault_history.h"

#define DAY_MS	(86400LL * 1000)

/* The longest any plan keeps, in days: vault history is kept for every
 * group whatever its plan (vault_history.h), so an upgrade finds it. */
static int
history_days(void)
{
	const struct store_plan *plan;
	int days = 1;

	for (int i = 0; (plan = store_plans_at(i)) != NULL; i++)
		if (plan->activity_days > days)
			days = plan->activity_days;
	return days;
}

int
store_retention_purge(int limit)
{
	static struct db_stmt *st;
	const struct store_plan *plan;
	char before[STORE_TIME_LEN];
	int64_t n, total = 0;

	if (st == NULL)
		st = db_prepare("DELETE FROM activity WHERE id IN (SELECT a.id FROM groups g "
		    "JOIN users u ON u.id = g.owner_id "
		    "JOIN activity a ON a.group_id = g.id AND a.created_at < $2 "
		    "WHERE u.plan = $1 LIMIT $3)");
	for (int i = 0; (plan = store_plans_at(i)) != NULL; i++) {
		struct db_value p[] = { DB_TEXT(plan->name),
		    DB_TEXT(store_time(before, -(int64_t)plan->activity_days * DAY_MS)),
		    DB_INT(limit) };

		if ((n = db_run(st, p, 3, NULL)) < 0)
			return -1;
		total += n;
	}
	if ((n = store_vault_history_purge(history_days(), limit)) < 0)
		return -1;
	return (int)(total + n);
}
