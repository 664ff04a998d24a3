/*
 * flags.h -- feature flags as the workers see them.
 *
 * Each worker caches the feature_flags table together with the time it
 * was read, and re-reads it on the first use after FLAGS_TTL_MS.  The
 * re-read is driven by requests, never by a timer: an idle worker makes no
 * wake-ups, and since every worker reads the shared database, a change
 * made through any worker on any host is seen everywhere within
 * FLAGS_TTL_MS plus one request (docs/API.md "Feature flags" promises 2 s).
 *
 * Everything here may touch the database, so call it from a request's
 * coroutine only.
 */
#ifndef COFFER_FLAGS_H
#define COFFER_FLAGS_H

#include <jansson.h>

#include "worker/http.h"

#define FLAGS_TTL_MS	1000

/*
 * 1 when the feature is enabled, 0 when disabled.  A key the table does
 * not hold counts as enabled (a flag that does not exist disables
 * nothing), and so does every key while the table cannot be read at all:
 * the routes behind a flag need the same database and fail on their own.
 */
int flags_enabled(const char *key);

/* 0 when enabled; else answers 503 feature_disabled and returns -1. */
int flags_require(struct req *r, const char *key);

/* One flag from the cache: 1 known (*enabled set), 0 unknown, -1 when the
 * table could not be read (db_last_error()). */
int flags_lookup(const char *key, int *enabled);

/* {"key": bool, ...} from the cache, or NULL when it could not be read. */
json_t *flags_json(void);

/* After this worker changed a flag: its own cache agrees at once. */
void flags_note(const char *key, int enabled);

#endif
