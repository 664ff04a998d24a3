/*
 * test.h -- the unit-test harness: TAP output, one test per function.
 *
 *	TEST(parses_sizes) { CHECK(x == 1); CHECK_EQ_INT(a, b); CHECK_EQ_STR(s, "x"); }
 *	int main(void) { RUN(parses_sizes); return test_done(); }
 *
 * A failed CHECK prints the file, line and expression, marks the current
 * test failed and goes on (so one run shows every broken assertion).  Each
 * RUN prints "ok N - name" or "not ok N - name"; test_done() prints the
 * plan "1..N" and returns the exit status (0 when nothing failed).
 * tests/run-unit counts these lines across every unit-test binary.
 *
 * A test that cannot run here is skipped, never passed in silence: SKIP()
 * in its body, or test_skip() for one that is not run at all, prints TAP's
 * "ok N - name # SKIP reason".  A skip is not a failure (the exit status
 * stays 0) and is not counted as passed either; tests/run-unit reports the
 * skips apart.  A CHECK that failed before the SKIP still fails the test.
 *
 * Tests that share a set-up (a database, a broker) are listed in a
 * test_case table, so the set-up can run them all, or skip them all by
 * name when it cannot be had (tests/unit/pgtest.h for PostgreSQL).
 */
#ifndef COFFER_TEST_H
#define COFFER_TEST_H

#include <stdio.h>
#include <string.h>

static int test_count, test_failed_total, test_skipped_total;
static int test_cur_failed;
static const char *test_cur_skip;	/* the reason, once SKIP() ran */

#define TEST(name) static void name(void)

/* One test's TAP line, from the state its run left. */
static inline void
test_report(const char *label)
{
	test_count++;
	if (test_cur_failed) {
		test_failed_total++;
		printf("not ok %d - %s\n", test_count, label);
	} else if (test_cur_skip != NULL) {
		test_skipped_total++;
		printf("ok %d - %s # SKIP %s\n", test_count, label,
		    test_cur_skip);
	} else
		printf("ok %d - %s\n", test_count, label);
	fflush(stdout);
}

/* Run one test function under a label of its own (e.g. per engine). */
#define RUN_AS(name, label) do {					\
	test_cur_failed = 0;						\
	test_cur_skip = NULL;						\
	name();								\
	test_report(label);						\
} while (0)

#define RUN(name) RUN_AS(name, #name)

/* In a test body: stop here, and report the test skipped for reason. */
#define SKIP(reason) do {						\
	test_cur_skip = (reason);					\
	return;								\
} while (0)

/* Report a test that is not run at all as skipped. */
static inline void
test_skip(const char *label, const char *reason)
{
	test_cur_failed = 0;
	test_cur_skip = reason;
	test_report(label);
}

/* Report a test that could not run, because its set-up failed, as failed. */
static inline void
test_fail(const char *label, const char *why)
{
	printf("# %s: %s\n", label, why);
	test_cur_failed = 1;
	test_cur_skip = NULL;
	test_report(label);
}

/* Tests sharing a set-up; a table ends with { NULL, NULL }. */
struct test_case {
	const char	*name;
	void		(*fn)(void);
};

#define TEST_CASE(fn)		{ #fn, fn }
#define TEST_CASE_AS(fn, label)	{ (label), fn }

/* Run every case of the table, or, when skip is not NULL, skip each. */
static inline void
test_run_cases(const struct test_case *tc, const char *skip)
{
	for (; tc->fn != NULL; tc++) {
		if (skip != NULL)
			test_skip(tc->name, skip);
		else
			RUN_AS(tc->fn, tc->name);
	}
}

/* Every case of the table reported failed (its set-up failed). */
static inline void
test_fail_cases(const struct test_case *tc, const char *why)
{
	for (; tc->fn != NULL; tc++)
		test_fail(tc->name, why);
}

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("# %s:%d: CHECK(%s) failed\n", __FILE__,		\
		    __LINE__, #cond);					\
		test_cur_failed = 1;					\
	}								\
} while (0)

#define CHECK_EQ_INT(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		printf("# %s:%d: %s == %s failed: %lld != %lld\n",	\
		    __FILE__, __LINE__, #a, #b, a_, b_);		\
		test_cur_failed = 1;					\
	}								\
} while (0)

#define CHECK_EQ_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {		\
		printf("# %s:%d: %s == %s failed: \"%s\" != \"%s\"\n",	\
		    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",	\
		    b_ ? b_ : "(null)");				\
		test_cur_failed = 1;					\
	}								\
} while (0)

/* The plan and the totals; the exit status is 1 when a test failed. */
static inline int
test_done(void)
{
	printf("1..%d\n", test_count);
	printf("# %d passed, %d failed, %d skipped\n",
	    test_count - test_failed_total - test_skipped_total,
	    test_failed_total, test_skipped_total);
	return test_failed_total ? 1 : 0;
}

#endif
