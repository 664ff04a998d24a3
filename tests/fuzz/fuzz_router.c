/*
 * fuzz_router.c -- libFuzzer target: the router's path matching.
 *
 * The input is a request path as the router sees it, decoded (the router
 * refuses a path with a NUL before matching, so the input ends at its
 * first NUL); what follows a NUL, up to the next one, is a pattern of the
 * fuzzer's own, matched too.  The path is matched against every pattern
 * of the route tables (worker/routes.c), as router_dispatch() does.
 * Besides not crashing, router_match() must keep its promises
 * (worker/router.h): at most REQ_MAX_PARAMS captures, each a non-empty
 * segment of the path without '/', and the pattern with its captures put
 * back spelling the path exactly.  And the tables must not overlap: one
 * path matches at most one route of a method on a listener, or the order
 * of the tables would decide which handler runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise is a bug like a crash: abort, so libFuzzer keeps the
 * input. */
static void
check(int ok)
{
	if (!ok)
		abort();
}

/* Match, and when it matches check the captures; returns the match. */
static int
match(const char *pattern, const char *path)
{
	const char *param[REQ_MAX_PARAMS + 1];
	const char *p, *s;
	int n = -1, k = 0;

	if (!router_match(pattern, path, param, &n))
		return 0;
	check(n >= 0 && n <= REQ_MAX_PARAMS);
	/* Put the captures back into the pattern: that must spell path. */
	s = path;
	for (p = pattern; *p; ) {
		if (*p == '{') {
			size_t len = strcspn(param[k], "/");

			check(k < n && param[k] == s && len > 0);
			s += len;
			k++;
			p = strchr(p, '}');
			check(p != NULL);
			p++;
			continue;
		}
		check(*s == *p);
		s++;
		p++;
	}
	check(*s == '\0' && k == n);
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct route **routes;
	static int nroutes;
	const struct route *hit[64];
	char *buf, *path, *pattern;
	int nhit = 0;

	if (routes == NULL) {
		for (const struct route *const *t = route_tables; *t; t++)
			for (const struct route *rt = *t; rt->pattern; rt++)
				nroutes++;
		routes = calloc((size_t)nroutes, sizeof(*routes));
		nroutes = 0;
		for (const struct route *const *t = route_tables; *t; t++)
			for (const struct route *rt = *t; rt->pattern; rt++)
				routes[nroutes++] = rt;
	}
	/* Two NULs at the end: the path, then a pattern, are C strings
	 * whatever the input. */
	buf = malloc(size + 2);
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	path = buf;
	pattern = buf + strlen(buf) + 1;

	for (int i = 0; i < nroutes; i++)
		if (match(routes[i]->pattern, path) && nhit < 64)
			hit[nhit++] = routes[i];
	for (int i = 0; i < nhit; i++)
		for (int j = i + 1; j < nhit; j++)
			check(hit[i]->method != hit[j]->method ||
			    !(hit[i]->listeners & hit[j]->listeners));
	if (pattern < buf + size)
		(void)match(pattern, path);
	free(buf);
	return 0;
}
