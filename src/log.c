/*
 * log.c -- line-oriented logging to stderr or a file.
 *
 * Each line is written with one write(2) so lines from the master, the
 * broker and the workers, which share the file descriptor after fork,
 * never interleave mid-line (O_APPEND keeps whole writes together).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "src/log.h"

static enum log_level cur_level = LL_INFO;
static char role[32] = "cofferd";
static int log_fd = STDERR_FILENO;
static char *log_path;
static int with_time = -1;	/* -1: decide on first use */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_set_role(const char *r)
{
	snprintf(role, sizeof(role), "%s", r);
}

void
log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level
log_get_level(void)
{
	return cur_level;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_open(const char *path)
{
	int fd;

	if (path == NULL || *path == '\0') {
		if (log_fd != STDERR_FILENO)
			close(log_fd);
		log_fd = STDERR_FILENO;
		free(log_path);
		log_path = NULL;
		with_time = -1;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	if (log_path != path) {
		char *copy = strdup(path);
		free(log_path);
		log_path = copy;
	}
	with_time = 1;
	return 0;
}

int
log_reopen(void)
{
	if (log_path == NULL)
		return 0;
	return log_open(log_path);
}

/*
 * Append msg to line[n..max) with control characters escaped (\n, \t,
 * \xHH), so that text from outside (a provider's user name, a path) can
 * neither forge a log line nor send a terminal escape.  Returns the new n.
 */
static size_t
escape(char *line, size_t n, size_t max, const char *msg)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		unsigned char c = *p;

		if (c >= 0x20 && c != 0x7f) {
			if (n + 1 > max)
				break;
			line[n++] = (char)c;
			continue;
		}
		if (n + 4 > max)
			break;
		line[n++] = '\\';
		if (c == '\n')
			line[n++] = 'n';
		else if (c == '\t')
			line[n++] = 't';
		else {
			line[n++] = 'x';
			line[n++] = hex[c >> 4];
			line[n++] = hex[c & 0xf];
		}
	}
	return n;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	int r;

	if (level > cur_level)
		return;
	if (with_time < 0)
		with_time = getenv("JOURNAL_STREAM") == NULL;
	if (with_time) {
		struct timeval tv;
		struct tm tm;

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03dZ ",
		    (int)(tv.tv_usec / 1000));
		n += (size_t)r;
	}
	r = snprintf(line + n, sizeof(line) - n, "[%d %s] %s: ", (int)getpid(),
	    role, log_level_name(level));
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		char msg[LOG_LINE_MAX];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		n = escape(line, n, sizeof(line) - 1, msg);
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* A failed log write has nowhere to be reported. */
	while (write(log_fd, line, n) < 0 && errno == EINTR)
		;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
