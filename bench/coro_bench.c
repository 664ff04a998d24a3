/*
 * coro_bench.c -- what a request coroutine costs.
 *
 *	coro_bench [scale]
 *
 * Measures, in nanoseconds per operation:
 *
 *   - one switch with coro.c (a coro_resume + coro_yield round trip,
 *     halved), i.e. the whole API path, not just the assembly;
 *   - one switch with glibc swapcontext, the same ping-pong done by hand,
 *     for comparison (it makes a sigprocmask system call every time);
 *   - coro_create + running to completion, with the stack from the pool
 *     (the steady state of a worker) and without a pool (mmap, mprotect
 *     and munmap every time: what the pool saves).
 *
 * Each figure is the best of five runs, to keep scheduler noise out.
 * `scale` multiplies the iteration counts (default 1).  Results and the
 * machine they came from are recorded in bench/coro_bench.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#include "src/coro.h"

#define RUNS	5

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- coro.c switch --- */

static volatile int stop;

static void
pingpong(void *arg)
{
	(void)arg;
	while (!stop)
		coro_yield();
}

static double
bench_coro_switch(long n)
{
	struct coro *c;
	uint64_t t0, t1;
	long i;

	stop = 0;
	if ((c = coro_create(pingpong, NULL)) == NULL)
		exit(1);
	coro_resume(c);			/* warm: stack touched, in cache */
	t0 = now_ns();
	for (i = 0; i < n; i++)
		coro_resume(c);
	t1 = now_ns();
	stop = 1;
	coro_resume(c);
	return (double)(t1 - t0) / (2.0 * (double)n);
}

/* --- glibc swapcontext --- */

static ucontext_t uc_main, uc_co;

static void
uc_pingpong(void)
{
	for (;;)
		swapcontext(&uc_co, &uc_main);
}

static double
bench_swapcontext(long n)
{
	static char stack[64 * 1024];
	uint64_t t0, t1;
	long i;

	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = stack;
	uc_co.uc_stack.ss_size = sizeof(stack);
	uc_co.uc_link = NULL;
	makecontext(&uc_co, uc_pingpong, 0);
	swapcontext(&uc_main, &uc_co);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		swapcontext(&uc_main, &uc_co);
	t1 = now_ns();
	/* uc_co is left suspended; its static stack needs no cleanup. */
	return (double)(t1 - t0) / (2.0 * (double)n);
}

/* --- create + finish --- */

static void
noop(void *arg)
{
	(void)arg;
}

static double
bench_create(long n, int pool_max)
{
	struct coro *c;
	uint64_t t0, t1;
	long i;

	coro_init(0, pool_max);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if ((c = coro_create(noop, NULL)) == NULL)
			exit(1);
		coro_resume(c);
	}
	t1 = now_ns();
	return (double)(t1 - t0) / (double)n;
}

static double
best(double (*fn)(long), long n)
{
	double b = 1e30, v;
	int r;

	for (r = 0; r < RUNS; r++)
		if ((v = fn(n)) < b)
			b = v;
	return b;
}

static double create_pooled(long n) { return bench_create(n, 64); }
static double create_unpooled(long n) { return bench_create(n, 0); }

int
main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;

	if (scale < 1)
		scale = 1;
	coro_init(0, 64);
	printf("%-40s %10s\n", "operation", "ns/op");
#ifdef CORO_UCONTEXT
	printf("%-40s %10.1f\n", "switch, coro.c (ucontext fallback)",
#else
	printf("%-40s %10.1f\n", "switch, coro.c (assembly)",
#endif
	    best(bench_coro_switch, 10000000 * scale));
	printf("%-40s %10.1f\n", "switch, glibc swapcontext",
	    best(bench_swapcontext, 1000000 * scale));
	printf("%-40s %10.1f\n", "create+finish, pooled stack",
	    best(create_pooled, 1000000 * scale));
	printf("%-40s %10.1f\n", "create+finish, no pool (mmap/munmap)",
	    best(create_unpooled, 100000 * scale));
	coro_shutdown();
	return 0;
}
