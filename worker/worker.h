/*
 * worker.h -- an HTTP worker process.
 *
 * A worker runs one libevent loop with two evhttp servers (the main and
 * the admin listener) on sockets inherited from the master, a link to the
 * broker, and one coroutine per request.  Idle, it sits in epoll_wait with
 * no timer armed.
 */
#ifndef COFFER_WORKER_H
#define COFFER_WORKER_H

#include "src/config.h"
#include "src/listen.h"

/* Runs the worker until stopped; returns the process exit status. */
/* Worker 1's start-up tasks are done (worker/startup.c). */
void worker_startup_done(void);

int worker_main(struct config *cfg, int id, const struct listeners *ls, int ready_fd);

/* True once a graceful stop began (responses then close the connection). */
int worker_stopping(void);

/* This worker's configuration and event base. */
const struct config *worker_config(void);
struct event_base *worker_base(void);

#endif
