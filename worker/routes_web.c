/* placeholder: being written */
#include <stddef.h>
#include "routes.h"

const struct route routes_web[] = {
	{ 0 },
};
