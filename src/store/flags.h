/*
 * store/flags.h -- the feature_flags table.
 *
 * Workers do not call this on every request: worker/flags.c caches the
 * flags and re-reads them at most once a second.
 */
#ifndef COFFER_STORE_FLAGS_H
#define COFFER_STORE_FLAGS_H

#include <stddef.h>

struct flag {
	char *key;
	int enabled;
};

/* Every flag, ordered by key: 0 with *out (free with store_flags_free)
 * and *n set, or -1 (db_last_error()). */
int store_flags_all(struct flag **out, size_t *n);
void store_flags_free(struct flag *f, size_t n);

/* Set one flag: 1 done, 0 no such key, -1 error. */
int store_flags_set(const char *key, int enabled);

#endif
