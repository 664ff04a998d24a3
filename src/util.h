/*
 * util.h -- small helpers shared by every process.
 *
 * Allocation failure is not a recoverable condition for a daemon of this
 * size: the x* allocators log and abort rather than thread NULL checks
 * through every caller.
 */
#ifndef COFFER_UTIL_H
#define COFFER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Monotonic clock in microseconds / milliseconds. */
uint64_t now_usec(void);
uint64_t now_msec(void);

/* A duration for libevent's timers: milliseconds / microseconds as a
 * struct timeval. */
struct timeval msec_tv(uint64_t ms);
struct timeval usec_tv(uint64_t usec);

/* Number of code points in s, which is valid UTF-8 (jansson checked). */
size_t utf8_len(const char *s);

/* 1 if s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF), else 0. */
int utf8_valid(const char *s, size_t n);

/* fcntl helpers: 0 ok, -1 with errno. */
int fd_set_nonblock(int fd);
int fd_set_cloexec(int fd);

/* Create a directory and its parents (mode for the last component). */
int mkdir_p(const char *path, unsigned mode);

#endif
