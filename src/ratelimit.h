/*
 * ratelimit.h -- request rates as token buckets shared by every worker.
 *
 * A bucket holds up to `burst` requests and refills at `rate` per second;
 * a request takes one, and an empty bucket means 429 with Retry-After.
 * There is one bucket per plugin token, per web session, and per client
 * address (for requests without valid credentials), so many users behind
 * one address are limited apart once they are logged in.
 *
 * The buckets live in one shared anonymous mapping made by the master
 * before it forks, as the metrics do, so a limit holds whichever worker a
 * request reaches and survives a worker's restart.  The table has a fixed
 * size: a bucket that has refilled to full is the same as no bucket, so
 * its slot is free for another key; when every slot a key may use is busy
 * the one idle longest is taken over (it starts full again), which only
 * ever errs on the side of letting a request through.
 */
#ifndef COFFER_RATELIMIT_H
#define COFFER_RATELIMIT_H

#include <stdint.h>

enum ratelimit_kind { RL_TOKEN = 1, RL_SESSION, RL_ADDRESS };

/* The master, once, before forking.  0 or -1 (logged). */
int ratelimit_init(void);

/* The key of a bucket: a token's or session's id, or an address's text. */
uint64_t ratelimit_key(enum ratelimit_kind kind, int64_t id, const char *address);

/*
 * Take one request from key's bucket (rate per second, burst at most).
 * Returns 0, or the seconds until a request would be allowed (>= 1) when
 * the bucket is empty.  rate 0: never limited.
 */
int ratelimit_take(uint64_t key, int rate, int burst);

#endif
