/*
 * flags.c -- the per-worker feature-flag cache (see flags.h).
 *
 * State: the flags last read and the monotonic time of that read.  On use,
 * a cache older than FLAGS_TTL_MS is re-read before answering.  On
 * PostgreSQL the read yields, so another request may arrive meanwhile:
 * while one refresh is in flight, others answer from the old cache rather
 * than start a second read (they are at most one round trip staler).
 * Only a worker that never read the table waits for its own read.
 *
 * Invariant: cache.flags is replaced as a whole, after the new copy is
 * complete, so a reader never sees half a table.
 */
#include <string.h>

#include "src/db/db.h"
#include "src/log.h"
#include "src/store/flags.h"
#include "src/util.h"
#include "worker/flags.h"

static struct {
	struct flag *flags;
	size_t n;
	uint64_t read_at;	/* now_msec() of the read; 0: never read */
	int refreshing;
} cache;

/* 0 when the cache is usable (fresh, or stale but a refresh is in flight
 * or failed after an earlier success), -1 when it was never read. */
static int
refresh(void)
{
	struct flag *f;
	size_t n;

	if (cache.read_at != 0 &&
	    (now_msec() - cache.read_at < FLAGS_TTL_MS || cache.refreshing))
		return 0;
	cache.refreshing++;
	if (store_flags_all(&f, &n) < 0) {
		cache.refreshing--;
		log_warn("feature flags: cannot read them: %s", db_last_error()->message);
		return cache.read_at != 0 ? 0 : -1;
	}
	cache.refreshing--;
	store_flags_free(cache.flags, cache.n);
	cache.flags = f;
	cache.n = n;
	cache.read_at = now_msec();
	if (cache.read_at == 0)
		cache.read_at = 1;
	return 0;
}

int
flags_lookup(const char *key, int *enabled)
{
	if (refresh() < 0)
		return -1;
	for (size_t i = 0; i < cache.n; i++)
		if (strcmp(cache.flags[i].key, key) == 0) {
			*enabled = cache.flags[i].enabled;
			return 1;
		}
	return 0;
}

int
flags_enabled(const char *key)
{
	int enabled = 1;

	if (flags_lookup(key, &enabled) <= 0)
		return 1;
	return enabled;
}

int
flags_require(struct req *r, const char *key)
{
	if (flags_enabled(key))
		return 0;
	http_error(r, 503, "feature_disabled", "the %s feature is disabled", key);
	return -1;
}

json_t *
flags_json(void)
{
	json_t *o;

	if (refresh() < 0)
		return NULL;
	o = json_object();
	for (size_t i = 0; i < cache.n; i++)
		json_object_set_new(o, cache.flags[i].key, json_boolean(cache.flags[i].enabled));
	return o;
}

void
flags_note(const char *key, int enabled)
{
	for (size_t i = 0; i < cache.n; i++)
		if (strcmp(cache.flags[i].key, key) == 0)
			cache.flags[i].enabled = enabled;
}
