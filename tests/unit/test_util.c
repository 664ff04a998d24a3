/*
 * test_util.c -- the small shared helpers: UTF-8 checking (every path,
 * query and cursor passes through it) and the rate limiter's buckets,
 * shared across processes as the workers share them.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/ratelimit.h"
#include "src/util.h"
#include "tests/unit/test.h"

static int
valid(const char *s)
{
	return utf8_valid(s, strlen(s));
}

TEST(utf8_accepts_well_formed)
{
	CHECK(valid(""));
	CHECK(valid("plain ascii"));
	CHECK(valid("\xc3\xa9"));			/* e acute */
	CHECK(valid("\xe2\x98\x83"));			/* snowman */
	CHECK(valid("\xf0\x9f\x92\xb0"));		/* money bag, 4 bytes */
	CHECK(valid("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	CHECK(valid("\xed\x9f\xbf"));			/* U+D7FF, below surrogates */
}

TEST(utf8_refuses_malformed)
{
	CHECK(!valid("\xff"));
	CHECK(!valid("\x80"));				/* lone continuation */
	CHECK(!valid("\xc3"));				/* cut short */
	CHECK(!valid("\xc3\x28"));			/* bad continuation */
	CHECK(!valid("\xc0\xaf"));			/* overlong '/' */
	CHECK(!valid("\xe0\x80\xaf"));			/* overlong, 3 bytes */
	CHECK(!valid("\xf0\x80\x80\xaf"));		/* overlong, 4 bytes */
	CHECK(!valid("\xed\xa0\x80"));			/* U+D800, a surrogate */
	CHECK(!valid("\xf4\x90\x80\x80"));		/* past U+10FFFF */
	CHECK(!valid("\xf5\x80\x80\x80"));
	CHECK(utf8_valid("a\0b", 3));			/* NUL is a code point */
}

TEST(utf8_len_counts_code_points)
{
	CHECK_EQ_INT((int)utf8_len("abc"), 3);
	CHECK_EQ_INT((int)utf8_len("\xc3\xa9t\xc3\xa9"), 3);
	CHECK_EQ_INT((int)utf8_len("\xf0\x9f\x92\xb0"), 1);
}

TEST(bucket_allows_its_burst_then_refuses)
{
	uint64_t k = ratelimit_key(RL_TOKEN, 4242, NULL);

	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(ratelimit_take(k, 1, 5), 0);
	CHECK(ratelimit_take(k, 1, 5) >= 1);
	/* A rate of 0 is no limit at all. */
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(ratelimit_take(k, 0, 1), 0);
}

TEST(buckets_are_per_key_and_kind)
{
	uint64_t t = ratelimit_key(RL_TOKEN, 7, NULL);
	uint64_t s = ratelimit_key(RL_SESSION, 7, NULL);
	uint64_t a = ratelimit_key(RL_ADDRESS, 0, "127.0.0.7");
	uint64_t b = ratelimit_key(RL_ADDRESS, 0, "127.0.0.8");

	CHECK(t != s && s != a && a != b);
	CHECK(ratelimit_key(RL_TOKEN, 8, NULL) != t);
	CHECK_EQ_INT(ratelimit_take(t, 1, 1), 0);
	CHECK(ratelimit_take(t, 1, 1) >= 1);
	CHECK_EQ_INT(ratelimit_take(s, 1, 1), 0);
	CHECK_EQ_INT(ratelimit_take(a, 1, 1), 0);
	CHECK_EQ_INT(ratelimit_take(b, 1, 1), 0);
}

TEST(buckets_are_shared_across_processes)
{
	uint64_t k = ratelimit_key(RL_SESSION, 99, NULL);
	pid_t pid;
	int status;

	/* The child (another worker) spends the whole burst. */
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			if (ratelimit_take(k, 1, 3) != 0)
				_exit(1);
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(ratelimit_take(k, 1, 3) >= 1);
}

TEST(table_pressure_never_wrongly_refuses)
{
	/* Far more keys than slots: a key that has not used its burst is
	 * never refused, whatever happened to the slots. */
	for (int64_t id = 1; id <= 200000; id++)
		if (ratelimit_take(ratelimit_key(RL_TOKEN, 1000000 + id, NULL), 1, 2) != 0) {
			CHECK(!"a fresh key was refused");
			break;
		}
}

int
main(void)
{
	if (ratelimit_init() < 0)
		return 1;
	RUN(utf8_accepts_well_formed);
	RUN(utf8_refuses_malformed);
	RUN(utf8_len_counts_code_points);
	RUN(bucket_allows_its_burst_then_refuses);
	RUN(buckets_are_per_key_and_kind);
	RUN(buckets_are_shared_across_processes);
	RUN(table_pressure_never_wrongly_refuses);
	return test_done();
}
