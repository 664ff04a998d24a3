/*
 * coro.h -- request coroutines for the HTTP workers.
 *
 * Every HTTP request runs in its own coroutine, so handler and store code
 * read straight down: a PostgreSQL call sends a frame to the broker and
 * calls coro_yield(); when the reply arrives the worker's event loop calls
 * coro_resume() and the call returns with its result.
 *
 * The model is deliberately narrow, and the narrowness is what keeps it
 * cheap and easy to reason about:
 *
 *   - single-threaded: one worker process, one libevent loop, many
 *     coroutines;
 *   - asymmetric: only the main context (the event loop) resumes
 *     coroutines, and a coroutine only ever yields back to it, so there is
 *     never a chain of coroutines to unwind;
 *   - run to completion: a coroutine is never destroyed while suspended.
 *     A request whose client went away still finishes its work (its
 *     transaction commits or rolls back as it would have); only the
 *     response is dropped.
 *
 * Each coroutine gets an mmap'd stack with a PROT_NONE guard page below
 * it, so an overflow is a SIGSEGV rather than silent corruption.  Stacks of
 * finished coroutines are kept in a pool, so a worker in steady state makes
 * no system call to start a request's coroutine.
 *
 * The request context hangs off the running coroutine (coro_set_data), the
 * C counterpart of Node's AsyncLocalStorage: code anywhere below the
 * handler finds the request, and with it the transaction lease, through
 * coro_get_data(coro_current()).
 */
#ifndef COFFER_CORO_H
#define COFFER_CORO_H

#include <stddef.h>
#include <stdint.h>

#define CORO_STACK_DEFAULT	(256 * 1024)
#define CORO_STACK_MIN		(16 * 1024)

struct coro;
typedef void (*coro_fn)(void *arg);

/*
 * Once per process (each worker after fork).  stack_size is rounded up to
 * whole pages (CORO_STACK_DEFAULT if 0, at least CORO_STACK_MIN); the guard
 * page comes on top of it.  Up to pool_max finished coroutines' stacks are
 * kept for reuse.  Calling it again drops the pooled stacks; coroutines
 * still live keep the stack they have.
 */
void coro_init(size_t stack_size, int pool_max);
/* Free the pooled stacks.  No coroutine may be live (logged if one is). */
void coro_shutdown(void);

/* A new coroutine that will run fn(arg) when first resumed.  NULL if mmap
 * fails (logged). */
struct coro *coro_create(coro_fn fn, void *arg);
/*
 * From the main context only: run c until it yields or returns.  Returns 1
 * if c is suspended (yielded), 0 if it finished -- then c has been
 * released to the pool and must not be used.
 */
int coro_resume(struct coro *c);
/* From inside a coroutine only: suspend it and return to the main context. */
void coro_yield(void);
/* The running coroutine, NULL in the main context. */
struct coro *coro_current(void);

/* The request context.  coro_get_data(NULL) is NULL, so
 * coro_get_data(coro_current()) is safe in the main context too. */
void coro_set_data(struct coro *c, void *data);
void *coro_get_data(const struct coro *c);

/*
 * Debug guard: while the running coroutine's count is > 0, coro_yield()
 * logs and aborts (a SQLite transaction must never yield).  Counted per
 * coroutine; a no-op in the main context, which cannot yield anyway.  A
 * count driven below zero is an unbalanced caller: logged, abort().
 */
void coro_forbid_yield(int delta);

/*
 * Figures for /metrics: coroutines live (created, not yet finished), stacks
 * in the pool, and stacks ever mapped -- the last stops growing once the
 * pool covers the load, which is how to tell the pool is big enough.
 * Any pointer may be NULL.
 */
void coro_stats(int *live, int *pooled, uint64_t *created);

#endif
