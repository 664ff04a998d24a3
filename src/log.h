/*
 * log.h -- the one logging idiom of coffer.
 *
 * Every process (master, broker, each worker) writes lines of the form
 *
 *     2026-11-27T19:55:00.123Z [1234 worker.1] info: listening on 127.0.0.1:8080
 *
 * to stderr (journald under systemd) or to [server] log_file.  The role tag
 * set with log_set_role() after a fork tells the processes apart.  Under
 * journald (JOURNAL_STREAM set and logging to stderr) the timestamp is left
 * out because the journal adds its own.
 *
 * Messages below the configured level cost one comparison.  Nothing here
 * allocates; a line longer than LOG_LINE_MAX is truncated.
 */
#ifndef COFFER_LOG_H
#define COFFER_LOG_H

#include <stdarg.h>

#define LOG_LINE_MAX 2048

/* Not LOG_INFO etc.: <syslog.h> owns those names. */
enum log_level {
	LL_ERROR = 0,
	LL_WARN = 1,
	LL_INFO = 2,
	LL_DEBUG = 3,
};

void log_set_role(const char *role);		/* "master", "broker", "worker.3" */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
const char *log_level_name(enum log_level level);
int log_level_parse(const char *s, enum log_level *out);	/* 0 ok, -1 unknown */

/* path NULL or "" means stderr.  Returns 0, or -1 with errno set. */
int log_open(const char *path);
/* SIGUSR1: reopen the same file (after logrotate moved it). */
int log_reopen(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LL_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_get_level() >= LL_DEBUG) log_msg(LL_DEBUG, __VA_ARGS__); } while (0)

/* Log at error level and exit(1).  For start-up failures only. */
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
