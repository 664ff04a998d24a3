/*
 * test_coro.c -- unit tests for src/coro.c.
 *
 * Ordinary behaviour (create, resume, yield, locals surviving switches,
 * the request data, the stack pool, deep stacks, floating-point control
 * state) runs in-process.  The failures that must kill the process -- a
 * stack overflow hitting the guard page, a yield while yielding is
 * forbidden or from the main context -- run in a forked child, and the
 * parent checks the signal that ended it.
 *
 * Run it under valgrind with --child-silent-after-fork=yes: the children
 * die on purpose, and their reports would only be noise.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/coro.h"
#include "tests/unit/test.h"

#define POOL_MAX 64

/* --- create, resume, finish --- */

static void
set_flag(void *arg)
{
	*(int *)arg = 1;
}

TEST(create_resume_finish)
{
	struct coro *c;
	int flag = 0, live;

	c = coro_create(set_flag, &flag);
	CHECK(c != NULL);
	coro_stats(&live, NULL, NULL);
	CHECK_EQ_INT(live, 1);
	CHECK_EQ_INT(flag, 0);			/* nothing runs before resume */
	CHECK_EQ_INT(coro_resume(c), 0);
	CHECK_EQ_INT(flag, 1);
	coro_stats(&live, NULL, NULL);
	CHECK_EQ_INT(live, 0);
	CHECK(coro_current() == NULL);
}

/* --- ping-pong order --- */

static char trace[64];
static size_t trace_len;

static void
trace_add(char ch)
{
	if (trace_len < sizeof(trace) - 1)
		trace[trace_len++] = ch;
}

static void
ping(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 3; i++) {
		trace_add('a' + i);
		coro_yield();
	}
	trace_add('z');
}

TEST(yield_order)
{
	struct coro *c;
	int r;

	trace_len = 0;
	memset(trace, 0, sizeof(trace));
	c = coro_create(ping, NULL);
	CHECK(c != NULL);
	trace_add('0');
	while ((r = coro_resume(c)) == 1)
		trace_add('.');
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_STR(trace, "0a.b.c.z");
}

/* --- many coroutines, shuffled --- */

#define MANY		1000
#define MANY_YIELDS	5

struct worker {
	int id;
	int steps;		/* times it ran past a yield */
	int errors;
	struct coro *self;
};

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void
many_fn(void *arg)
{
	struct worker *w = arg;
	uint64_t local[16];
	int i, k;

	for (k = 0; k < 16; k++)
		local[k] = mix((uint64_t)w->id * 16 + k);
	for (i = 0; i < MANY_YIELDS; i++) {
		coro_yield();
		w->steps++;
		for (k = 0; k < 16; k++)
			if (local[k] != mix((uint64_t)w->id * 16 + k))
				w->errors++;
		if (coro_current() != w->self ||
		    coro_get_data(coro_current()) != w)
			w->errors++;
	}
}

TEST(many_interleaved)
{
	static struct worker ws[MANY];
	static struct coro *cs[MANY];
	static int idx[MANY];
	uint64_t rng = 42;
	int n, i, j, resumes = 0, errors = 0, steps = 0, live;

	for (i = 0; i < MANY; i++) {
		ws[i] = (struct worker){ .id = i };
		cs[i] = coro_create(many_fn, &ws[i]);
		CHECK(cs[i] != NULL);
		if (cs[i] == NULL)
			return;
		ws[i].self = cs[i];
		coro_set_data(cs[i], &ws[i]);
		idx[i] = i;
	}
	coro_stats(&live, NULL, NULL);
	CHECK_EQ_INT(live, MANY);
	for (n = MANY; n > 0; ) {
		rng = mix(rng + 1);
		j = (int)(rng % (uint64_t)n);
		i = idx[j];
		resumes++;
		if (coro_resume(cs[i]) == 0) {
			CHECK_EQ_INT(ws[i].steps, MANY_YIELDS);
			idx[j] = idx[--n];
		}
	}
	for (i = 0; i < MANY; i++) {
		errors += ws[i].errors;
		steps += ws[i].steps;
	}
	CHECK_EQ_INT(errors, 0);
	CHECK_EQ_INT(steps, MANY * MANY_YIELDS);
	CHECK_EQ_INT(resumes, MANY * (MANY_YIELDS + 1));
	coro_stats(&live, NULL, NULL);
	CHECK_EQ_INT(live, 0);
}

/* --- coro_current and the request data --- */

static struct coro *expect_self;
static int seen_self, seen_data, seen_data_after;

static void
current_fn(void *arg)
{
	seen_self = coro_current() == expect_self;
	seen_data = coro_get_data(coro_current()) == arg;
	coro_set_data(coro_current(), NULL);	/* a callee may change it */
	coro_yield();
	seen_data_after = coro_get_data(coro_current()) == NULL;
}

TEST(current_and_data)
{
	struct coro *c;
	int token;

	CHECK(coro_current() == NULL);
	CHECK(coro_get_data(coro_current()) == NULL);
	c = coro_create(current_fn, &token);
	CHECK(c != NULL);
	CHECK(coro_get_data(c) == NULL);	/* fresh, even from the pool */
	coro_set_data(c, &token);
	CHECK(coro_get_data(c) == &token);
	expect_self = c;
	CHECK_EQ_INT(coro_resume(c), 1);
	CHECK(coro_current() == NULL);		/* back in main */
	CHECK(coro_get_data(c) == NULL);
	CHECK_EQ_INT(coro_resume(c), 0);
	CHECK(seen_self);
	CHECK(seen_data);
	CHECK(seen_data_after);
}

/* --- the pool --- */

static void
noop(void *arg)
{
	(void)arg;
}

TEST(stack_reuse)
{
	struct coro *cs[8];
	uint64_t created, before;
	int i, round, live, pooled;

	/* Warm the pool with 8 stacks, then keep creating 8 at a time. */
	for (round = 0; round < 10; round++) {
		coro_stats(NULL, NULL, &before);
		for (i = 0; i < 8; i++)
			cs[i] = coro_create(noop, NULL);
		for (i = 0; i < 8; i++)
			CHECK_EQ_INT(coro_resume(cs[i]), 0);
		coro_stats(&live, &pooled, &created);
		CHECK_EQ_INT(live, 0);
		CHECK(pooled >= 8);
		if (round > 0)
			CHECK_EQ_INT(created, before);	/* no new mmap */
	}

	/* The pool is capped at POOL_MAX; the rest are unmapped. */
	{
		static struct coro *more[POOL_MAX + 10];

		for (i = 0; i < POOL_MAX + 10; i++)
			more[i] = coro_create(noop, NULL);
		coro_stats(&live, &pooled, NULL);
		CHECK_EQ_INT(live, POOL_MAX + 10);
		CHECK_EQ_INT(pooled, 0);
		for (i = 0; i < POOL_MAX + 10; i++)
			CHECK_EQ_INT(coro_resume(more[i]), 0);
		coro_stats(&live, &pooled, NULL);
		CHECK_EQ_INT(live, 0);
		CHECK_EQ_INT(pooled, POOL_MAX);
	}
}

/* --- a deep stack, with a yield at the bottom --- */

#define FRAME	4096
#define DEPTH	25		/* 25 * 4 KiB = 100 KiB of locals */

static int __attribute__((noinline))
recurse(int depth)
{
	char buf[FRAME];
	int ok, i;

	memset(buf, depth, sizeof(buf));
	if (depth == 0)
		coro_yield();
	ok = depth == 0 ? 0 : recurse(depth - 1);
	for (i = 0; i < FRAME; i++)
		if (buf[i] != (char)depth)
			return -1000;
	return ok < 0 ? ok : ok + 1;
}

static void
deep_fn(void *arg)
{
	*(int *)arg = recurse(DEPTH);
}

TEST(deep_recursion)
{
	struct coro *c;
	int result = -1;

	c = coro_create(deep_fn, &result);
	CHECK(c != NULL);
	CHECK_EQ_INT(coro_resume(c), 1);	/* suspended at the bottom */
	CHECK_EQ_INT(coro_resume(c), 0);
	CHECK_EQ_INT(result, DEPTH + 1);	/* every frame intact */
}

/* --- callee-saved registers survive on both sides --- */

/* Values kept live across a switch: at -O2 the compiler holds them in
 * callee-saved registers (rbx, rbp, r12-r15; x19-x28, d8-d15), which is
 * exactly what the switch must preserve.  The empty asm makes each value
 * opaque, so the compiler cannot keep the seed instead and recompute the
 * value after the call; both contexts then hold different values in the
 * same registers. */
static volatile long seed_l = 7;
static volatile double seed_d = 1.25;

#if defined(__x86_64__)
#define OPAQUE_D(x) __asm__ volatile ("" : "+x"(x))
#elif defined(__aarch64__)
#define OPAQUE_D(x) __asm__ volatile ("" : "+w"(x))
#else
#define OPAQUE_D(x) __asm__ volatile ("" : "+m"(x))
#endif
#define OPAQUE_L(x) __asm__ volatile ("" : "+r"(x))

#define REGS_SET(k)							\
	long a = seed_l * (3 + k), b = seed_l * (5 + k);		\
	long c = seed_l * (7 + k), d = seed_l * (11 + k);		\
	long e = seed_l * (13 + k);					\
	double p = seed_d * (3 + k), q = seed_d * (5 + k);		\
	double r = seed_d * (7 + k), s = seed_d * (11 + k);		\
	double t = seed_d * (13 + k), u = seed_d * (17 + k);		\
	double v = seed_d * (19 + k), w = seed_d * (23 + k);		\
	OPAQUE_L(a); OPAQUE_L(b); OPAQUE_L(c); OPAQUE_L(d); OPAQUE_L(e);	\
	OPAQUE_D(p); OPAQUE_D(q); OPAQUE_D(r); OPAQUE_D(s);		\
	OPAQUE_D(t); OPAQUE_D(u); OPAQUE_D(v); OPAQUE_D(w)

#define REGS_CHECK(k) (a == seed_l * (3 + k) && b == seed_l * (5 + k) &&	\
	c == seed_l * (7 + k) && d == seed_l * (11 + k) &&		\
	e == seed_l * (13 + k) && p == seed_d * (3 + k) &&		\
	q == seed_d * (5 + k) && r == seed_d * (7 + k) &&		\
	s == seed_d * (11 + k) && t == seed_d * (13 + k) &&		\
	u == seed_d * (17 + k) && v == seed_d * (19 + k) &&		\
	w == seed_d * (23 + k))

static void
regs_fn(void *arg)
{
	int *ok = arg, i;
	REGS_SET(100);

	for (i = 0; i < 3; i++) {
		coro_yield();
		if (!REGS_CHECK(100))
			*ok = 0;
	}
}

TEST(registers_preserved)
{
	struct coro *co;
	int ok = 1, main_ok = 1;
	REGS_SET(0);

	co = coro_create(regs_fn, &ok);
	CHECK(co != NULL);
	while (coro_resume(co) == 1)
		if (!REGS_CHECK(0))
			main_ok = 0;
	CHECK(REGS_CHECK(0));
	CHECK(main_ok);
	CHECK(ok);
}

/* --- floating-point control state is per context (x86_64) --- */

#if defined(__x86_64__)
#define MXCSR_RC_UP	0x4000		/* rounding control: toward +inf */
#define FPUCW_RC_UP	0x0800

static unsigned
get_fpucw(void)
{
	unsigned short cw;

	__asm__ volatile ("fnstcw %0" : "=m"(cw));
	return cw;
}

static void
set_fpucw(unsigned v)
{
	unsigned short cw = (unsigned short)v;

	__asm__ volatile ("fldcw %0" : : "m"(cw));
}

static unsigned fp_in_coro[2];

static void
fp_fn(void *arg)
{
	(void)arg;
	__builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | MXCSR_RC_UP);
	set_fpucw(get_fpucw() | FPUCW_RC_UP);
	coro_yield();
	fp_in_coro[0] = __builtin_ia32_stmxcsr();
	fp_in_coro[1] = get_fpucw();
	/* Leave the defaults behind for whoever runs on this stack next. */
	__builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() & ~0x6000u);
	set_fpucw(get_fpucw() & ~0x0c00u);
}

TEST(fp_control_per_context)
{
	unsigned mxcsr, fpucw;
	struct coro *c;

	mxcsr = __builtin_ia32_stmxcsr();
	fpucw = get_fpucw();
	c = coro_create(fp_fn, NULL);
	CHECK_EQ_INT(coro_resume(c), 1);
	/* The coroutine's rounding mode did not leak into main... */
	CHECK_EQ_INT(__builtin_ia32_stmxcsr() & 0x6000, mxcsr & 0x6000);
	CHECK_EQ_INT(get_fpucw() & 0x0c00, fpucw & 0x0c00);
	CHECK_EQ_INT(coro_resume(c), 0);
	/* ...and the coroutine got its own back. */
	CHECK_EQ_INT(fp_in_coro[0] & 0x6000, MXCSR_RC_UP);
	CHECK_EQ_INT(fp_in_coro[1] & 0x0c00, FPUCW_RC_UP);
}
#endif

/* --- coro_forbid_yield that balances out lets the yield through --- */

static void
forbid_balanced_fn(void *arg)
{
	coro_forbid_yield(1);
	coro_forbid_yield(1);
	coro_forbid_yield(-2);
	coro_yield();
	*(int *)arg = 1;
}

TEST(forbid_yield_balanced)
{
	struct coro *c;
	int done = 0;

	c = coro_create(forbid_balanced_fn, &done);
	CHECK_EQ_INT(coro_resume(c), 1);
	CHECK_EQ_INT(coro_resume(c), 0);
	CHECK_EQ_INT(done, 1);
	coro_forbid_yield(1);		/* no-op in the main context */
	coro_forbid_yield(-1);
}

/* --- failures that kill the process, in a child --- */

/* Run fn in a forked child (stderr silenced: it logs on purpose); return
 * the signal that killed it, 0 if it exited. */
static int
child_signal(void (*fn)(void))
{
	int status, fd;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, 2);
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static volatile int overflow_limit = 1 << 30;

static int __attribute__((noinline))
overflow(int n)
{
	volatile char buf[1024];

	buf[0] = (char)n;
	if (n >= overflow_limit)
		return 0;
	return overflow(n + 1) + buf[0];
}

static void
overflow_fn(void *arg)
{
	*(int *)arg = overflow(0);
}

static void
overflow_child(void)
{
	struct coro *c;
	int r;

	/* Sanitizers catch SIGSEGV to print a report and exit(1); the test
	 * is about what the kernel does, so take the default action. */
	signal(SIGSEGV, SIG_DFL);
	coro_shutdown();
	coro_init(CORO_STACK_MIN, 0);
	c = coro_create(overflow_fn, &r);
	if (c != NULL)
		coro_resume(c);
}

TEST(guard_page_segv)
{
	CHECK_EQ_INT(child_signal(overflow_child), SIGSEGV);
}

static void
forbidden_fn(void *arg)
{
	(void)arg;
	coro_forbid_yield(1);
	coro_yield();
}

static void
forbidden_child(void)
{
	struct coro *c;

	c = coro_create(forbidden_fn, NULL);
	if (c != NULL)
		coro_resume(c);
}

TEST(forbid_yield_aborts)
{
	CHECK_EQ_INT(child_signal(forbidden_child), SIGABRT);
}

static void
yield_in_main_child(void)
{
	coro_yield();
}

TEST(yield_in_main_aborts)
{
	CHECK_EQ_INT(child_signal(yield_in_main_child), SIGABRT);
}

int
main(void)
{
	int live, pooled;

	coro_init(0, POOL_MAX);
	RUN(create_resume_finish);
	RUN(yield_order);
	RUN(many_interleaved);
	RUN(current_and_data);
	RUN(stack_reuse);
	RUN(deep_recursion);
	RUN(registers_preserved);
#if defined(__x86_64__)
	RUN(fp_control_per_context);
#endif
	RUN(forbid_yield_balanced);
	RUN(guard_page_segv);
	RUN(forbid_yield_aborts);
	RUN(yield_in_main_aborts);
	coro_shutdown();
	coro_stats(&live, &pooled, NULL);
	if (live != 0 || pooled != 0)
		printf("# after shutdown: live %d pooled %d\n", live, pooled);
	return test_done();
}
