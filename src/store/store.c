/*
 * store/store.c -- helpers every area of the store shares.
 */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "src/store/store.h"

const char *
store_time(char buf[STORE_TIME_LEN], int64_t offset_ms)
{
	struct timeval tv;
	struct tm tm;
	int64_t ms;
	time_t t;

	gettimeofday(&tv, NULL);
	ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + offset_ms;
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	strftime(buf, STORE_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + 19, STORE_TIME_LEN - 19, ".%03uZ", (unsigned)((uint64_t)ms % 1000u));
	return buf;
}
