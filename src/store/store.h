/*
 * store/store.h -- what every area of the store shares.
 *
 * The store is the domain layer: one file per area (users, groups, vault,
 * ...), each owning its SQL and its transactions.  A handler makes one
 * store call and reads the answer through named fields (a struct, or the
 * area's exported column enum), never by counting columns; lock order and
 * the "all or nothing" of a request live here, not in worker/.
 *
 * Times are bound as text in the schema's format (docs/SCHEMA.md), which
 * PostgreSQL parses as timestamptz and SQLite compares as text, so both
 * engines order them the same.
 */
#ifndef COFFER_STORE_STORE_H
#define COFFER_STORE_STORE_H

#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS.sssZ" + NUL. */
#define STORE_TIME_LEN 25

/* The wall-clock time plus offset_ms in the schema's text format.  Returns
 * buf. */
const char *store_time(char buf[STORE_TIME_LEN], int64_t offset_ms);

/* Unix time ms (clamped at 0) in the same format.  Returns buf. */
const char *store_time_ms(char buf[STORE_TIME_LEN], int64_t ms);

/* The store's clock (store_time's) as Unix milliseconds. */
int64_t store_now_ms(void);

/*
 * Move the store's clock by offset_ms from the wall clock: [dev]
 * clock_offset, so tests can make days pass (vault history, retention)
 * without waiting for them.  Each worker sets it at start.
 */
void store_clock_set(int64_t offset_ms);

#endif
