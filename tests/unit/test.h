/*
 * test.h -- the unit-test harness: TAP output, one test per function.
 *
 *	TEST(parses_sizes) { CHECK(x == 1); CHECK_EQ_INT(a, b); CHECK_EQ_STR(s, "x"); }
 *	int main(void) { RUN(parses_sizes); return test_done(); }
 *
 * A failed CHECK prints the file, line and expression, marks the current
 * test failed and goes on (so one run shows every broken assertion).  Each
 * RUN prints "ok N - name" or "not ok N - name"; test_done() prints the
 * plan "1..N" and returns the exit status (0 when everything passed).
 * tests/run-unit counts these lines across every unit-test binary.
 */
#ifndef COFFER_TEST_H
#define COFFER_TEST_H

#include <stdio.h>
#include <string.h>

static int test_count, test_failed_total, test_cur_failed;

#define TEST(name) static void name(void)

#define RUN(name) do {							\
	test_cur_failed = 0;						\
	name();								\
	test_count++;							\
	if (test_cur_failed) test_failed_total++;			\
	printf("%sok %d - %s\n", test_cur_failed ? "not " : "",	\
	    test_count, #name);						\
	fflush(stdout);							\
} while (0)

/* Run one test function under a label of its own (e.g. per engine). */
#define RUN_AS(name, label) do {					\
	test_cur_failed = 0;						\
	name();								\
	test_count++;							\
	if (test_cur_failed) test_failed_total++;			\
	printf("%sok %d - %s\n", test_cur_failed ? "not " : "",	\
	    test_count, (label));					\
	fflush(stdout);							\
} while (0)

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

static inline int test_done(void)
{
	printf("1..%d\n", test_count);
	printf("# %d passed, %d failed\n", test_count - test_failed_total,
	    test_failed_total);
	return test_failed_total ? 1 : 0;
}

#endif
