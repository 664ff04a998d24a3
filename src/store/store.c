/*
 * store/store.c -- helpers every area of the store shares.
 */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "src/store/store.h"

/* [dev] clock_offset: zero outside tests (config.c refuses it in
 * production). */
static int64_t clock_offset_ms;

void
store_clock_set(int64_t offset_ms)
{
	clock_offset_ms = offset_ms;
}

const char *
store_time(char buf[STORE_TIME_LEN], int64_t offset_ms)
{
	return store_time_ms(buf, store_now_ms() + offset_ms);
}

const char *
store_time_ms(char buf[STORE_TIME_LEN], int64_t ms)
{
	struct tm tm;
	time_t t;

	if (ms < 0)
		ms = 0;
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	strftime(buf, STORE_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + 19, STORE_TIME_LEN - 19, ".%03uZ", (unsigned)((uint64_t)ms % 1000u));
	return buf;
}

int64_t
store_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + clock_offset_ms;
}
