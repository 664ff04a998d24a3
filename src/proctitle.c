/*
 * proctitle.c -- process titles on Linux, which has no setproctitle(3).
 *
 * ps and systemd-cgls read /proc/PID/cmdline, which is the memory that held
 * argv at exec, so the title is written over that memory.  The environment
 * strings follow argv there; they are copied away first (environ points
 * at the copies), so the title may use their room too.  top shows the short
 * name instead (comm, 15 bytes), set with PR_SET_NAME.  The master sets its
 * title, and every child sets its own right after fork, before it serves.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "src/proctitle.h"
#include "src/util.h"

extern char **environ;

static char *area;		/* argv[0] ... end of the last contiguous string */
static size_t area_len;

void
proctitle_init(int argc, char **argv)
{
	char *end;
	size_t n = 0;
	char **env;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end += strlen(argv[i]) + 1;
	for (; environ[n] != NULL; n++)
		if (environ[n] == end)
			end += strlen(environ[n]) + 1;
	env = xcalloc(n + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		env[i] = xstrdup(environ[i]);
	environ = env;
	area = argv[0];
	area_len = (size_t)(end - area);
}

void
proctitle_set(const char *fmt, ...)
{
	char title[64];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	prctl(PR_SET_NAME, title, 0, 0, 0);
	if (area == NULL || area_len < 2)
		return;
	len = strlen(title);
	if (len > area_len - 1)
		len = area_len - 1;
	memcpy(area, title, len);
	memset(area + len, '\0', area_len - len);
}
