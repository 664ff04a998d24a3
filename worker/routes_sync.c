/* placeholder: being written */
#include <stddef.h>
#include "routes.h"

const struct route routes_sync[] = {
	{ 0 },
};
