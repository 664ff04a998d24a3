/*
 * cofferd.c -- command line entry point.
 *
 *	cofferd [-c FILE]	run in the foreground (systemd Type=notify)
 *	cofferd -t [-c FILE]	check the config and exit 0, or 1 with FILE:LINE
 *	cofferd -V		print the version
 *	cofferd -h		usage
 *
 * Exit status: 0 normal stop or a good check; 1 bad config or a start-up
 * failure; 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "src/config.h"
#include "src/log.h"
#include "src/master.h"
#include "src/proctitle.h"
#include "src/util.h"

#ifndef COFFER_SYSCONFDIR
#define COFFER_SYSCONFDIR "/etc"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cofferd [-c FILE]     run in the foreground\n"
	    "       cofferd -t [-c FILE]  check the configuration and exit\n"
	    "       cofferd -V            print the version\n"
	    "       cofferd -h            this help\n"
	    "The default FILE is %s/coffer/cofferd.conf.  See cofferd(8), cofferd.conf(5).\n",
	    COFFER_SYSCONFDIR);
}

/* libevent's own warnings go through the one logging idiom. */
static void
libevent_log(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("libevent: %s", msg);
		break;
	default:
		log_error("libevent: %s", msg);
		break;
	}
}

int
main(int argc, char **argv)
{
	const char *path = COFFER_SYSCONFDIR "/coffer/cofferd.conf";
	struct config *cfg;
	char err[CONFIG_ERR_MAX];
	int opt, test_only = 0;

	proctitle_init(argc, argv);
	while ((opt = getopt(argc, argv, "c:tVh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'V':
			printf("cofferd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	event_set_log_callback(libevent_log);
	cfg = xcalloc(1, sizeof(*cfg));
	if (config_load(cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(cfg);
		return 1;
	}
	if (test_only) {
		fprintf(stderr, "cofferd: configuration file %s is valid\n", path);
		config_free(cfg);
		free(cfg);
		return 0;
	}
	return master_run(cfg);
}
