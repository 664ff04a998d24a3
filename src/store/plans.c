/*
 * store/plans.c -- the plan table (see plans.h).
 */
#include <stddef.h>
#include <string.h>

#include "src/store/plans.h"

static const struct store_plan plans[] = {
	/* name		members	days	hooks	history	price (cents a month) */
	{ "free",	5,	7,	0,	0,	0 },
	{ "premium",	25,	365,	10,	1,	500 },
};

const struct store_plan *
store_plans_get(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(plans) / sizeof(plans[0]); i++)
		if (strcmp(plans[i].name, name) == 0)
			return &plans[i];
	return &plans[0];
}

const struct store_plan *
store_plans_at(int i)
{
	if (i < 0 || (size_t)i >= sizeof(plans) / sizeof(plans[0]))
		return NULL;
	return &plans[i];
}
