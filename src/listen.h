/*
 * listen.h -- listening addresses: parsing "host:port" / "unix:/path"
 * specs and opening the sockets.
 *
 * The master opens every listening socket before forking, so workers inherit
 * them and a restart of a worker never drops the port.  The same parser
 * validates the config at load time, so a bad address is a FILE:LINE error
 * rather than a failure after fork.
 */
#ifndef COFFER_LISTEN_H
#define COFFER_LISTEN_H

#include <stddef.h>

#define LISTEN_MAX 8

struct listen_addr {
	int is_unix;
	char host[256];		/* numeric or name; "" never (defaults applied) */
	int port;
	char path[108];		/* for unix: */
};

/* The listening sockets a worker serves, opened by the master. */
struct listeners {
	int main_fd[LISTEN_MAX];
	int n_main;
	int admin_fd[LISTEN_MAX];
	int n_admin;
};

/* Parse one comma-separated list.  Returns the count (>= 0), or -1 with err. */
int listen_parse(const char *spec, struct listen_addr *out, int max,
		 char *err, size_t errlen);

/* Open (bind + listen, non-blocking, close-on-exec unset so children
 * inherit) one socket; a Unix socket gets mode (0666 for the public
 * listener, 0600 for the admin one).  -1 with err. */
int listen_open(const struct listen_addr *a, unsigned mode, char *err, size_t errlen);

/* 1 if a is reachable only from this host (a Unix socket, localhost,
 * 127.0.0.0/8, ::1), else 0. */
int listen_is_loopback(const struct listen_addr *a);
/* 1 if every address of a valid spec is loopback. */
int listen_all_loopback(const char *spec);

/* "127.0.0.1:8080" / "unix:/run/x.sock", for logs. */
void listen_format(const struct listen_addr *a, char *buf, size_t len);

#endif
