/*
 * master.h -- the supervising process.
 *
 * The master validates the config, brings the schema up to date, opens the
 * listening sockets, forks the broker and the HTTP workers and then only
 * supervises: it reaps and respawns children, turns signals into graceful
 * stops and reloads, and speaks the systemd notify protocol.  It never
 * serves a request and never touches the database after start-up.
 */
#ifndef COFFER_MASTER_H
#define COFFER_MASTER_H

#include "src/config.h"
#include "src/listen.h"

/* Runs until stopped; returns the process exit status.  Takes cfg. */
int master_run(struct config *cfg);

#endif
