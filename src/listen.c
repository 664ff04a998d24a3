/*
 * listen.c -- parse listen specs and open listening sockets.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "src/listen.h"
#include "src/util.h"

static int
parse_one(const char *s, size_t n, struct listen_addr *a, char *err, size_t errlen)
{
	char item[512];
	const char *colon;
	char *end;
	long port;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(item)) {
		snprintf(err, errlen, "empty or overlong address");
		return -1;
	}
	memcpy(item, s, n);
	item[n] = '\0';
	memset(a, 0, sizeof(*a));

	if (strncmp(item, "unix:", 5) == 0) {
		const char *path = item + 5;

		if (path[0] != '/') {
			snprintf(err, errlen, "\"%s\": a unix socket path must be absolute", item);
			return -1;
		}
		if (strlen(path) >= sizeof(a->path)) {
			snprintf(err, errlen, "\"%s\": socket path too long", item);
			return -1;
		}
		a->is_unix = 1;
		snprintf(a->path, sizeof(a->path), "%s", path);
		return 0;
	}
	if (item[0] == '[') {
		const char *close = strchr(item, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "\"%s\": expected [address]:port", item);
			return -1;
		}
		snprintf(a->host, sizeof(a->host), "%.*s", (int)(close - item - 1), item + 1);
		colon = close + 1;
	} else {
		colon = strrchr(item, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "\"%s\": expected host:port or unix:/path", item);
			return -1;
		}
		snprintf(a->host, sizeof(a->host), "%.*s", (int)(colon - item), item);
		if (strchr(a->host, ':') != NULL) {
			snprintf(err, errlen, "\"%s\": write IPv6 addresses as [address]:port", item);
			return -1;
		}
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port < 1 || port > 65535) {
		snprintf(err, errlen, "\"%s\": port must be 1-65535", item);
		return -1;
	}
	if (a->host[0] == '\0' || strcmp(a->host, "*") == 0)
		snprintf(a->host, sizeof(a->host), "0.0.0.0");
	a->port = (int)port;
	return 0;
}

int
listen_parse(const char *spec, struct listen_addr *out, int max, char *err, size_t errlen)
{
	int n = 0;
	const char *p = spec;

	if (spec == NULL || *spec == '\0')
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (n == max) {
			snprintf(err, errlen, "at most %d addresses", max);
			return -1;
		}
		if (parse_one(p, len, &out[n], err, errlen) < 0)
			return -1;
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return n;
}

void
listen_format(const struct listen_addr *a, char *buf, size_t len)
{
	if (a->is_unix)
		snprintf(buf, len, "unix:%s", a->path);
	else if (strchr(a->host, ':'))
		snprintf(buf, len, "[%s]:%d", a->host, a->port);
	else
		snprintf(buf, len, "%s:%d", a->host, a->port);
}

static int
open_unix(const struct listen_addr *a, unsigned mode, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(a->path);	/* a stale socket from a previous run */
	/* The umask makes the socket private from the moment it exists; the
	 * chmod then widens it to exactly mode. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || chmod(a->path, (mode_t)mode) < 0 || listen(fd, 1024) < 0) {
		snprintf(err, errlen, "unix:%s: %s", a->path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
listen_is_loopback(const struct listen_addr *a)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (a->is_unix || strcmp(a->host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, a->host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, a->host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

int
listen_all_loopback(const char *spec)
{
	struct listen_addr addrs[LISTEN_MAX];
	char err[256];
	int n = listen_parse(spec, addrs, LISTEN_MAX, err, sizeof(err));

	for (int i = 0; i < n; i++)
		if (!listen_is_loopback(&addrs[i]))
			return 0;
	return 1;
}

int
listen_open(const struct listen_addr *a, unsigned mode, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16], name[300];
	int fd = -1, one = 1, rc, saved = 0;

	if (a->is_unix)
		fd = open_unix(a, mode, err, errlen);
	else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		snprintf(port, sizeof(port), "%d", a->port);
		rc = getaddrinfo(a->host, port, &hints, &res);
		listen_format(a, name, sizeof(name));
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", name, gai_strerror(rc));
			return -1;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
			if (fd < 0) {
				saved = errno;
				continue;
			}
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    listen(fd, 1024) == 0)
				break;
			saved = errno;
			close(fd);
			fd = -1;
		}
		freeaddrinfo(res);
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", name, strerror(saved));
			return -1;
		}
	}
	if (fd >= 0 && fd_set_nonblock(fd) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
