/*
 * startup.h -- one-off tasks when the workers start.
 *
 * Worker 1 alone runs them, in a coroutine, once the database is reachable
 * (on PostgreSQL: once the broker link is up); the other workers serve at
 * once.  Every task is idempotent and safe when several hosts start
 * together, so a restarted worker 1 (crash, reload) simply runs them again.
 *   - no catalog snapshot yet: load [catalog] path as the first one;
 *   - [dev] seed_demo = on: seed the demo data (src/store/demo.h).
 */
#ifndef COFFER_STARTUP_H
#define COFFER_STARTUP_H

/* From worker_main, after router_init(); a no-op for workers other than 1. */
void startup_run(int worker_id);

#endif
