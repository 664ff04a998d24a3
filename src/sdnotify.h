/*
 * sdnotify.h -- the systemd notify protocol, without libsystemd.
 *
 * When NOTIFY_SOCKET is set (Type=notify), sd_notifyf() sends one datagram
 * such as "READY=1\nSTATUS=serving" to it; otherwise it does nothing.  The
 * protocol is a single sendto(2), so a dependency is not worth it.
 */
#ifndef COFFER_SDNOTIFY_H
#define COFFER_SDNOTIFY_H

void sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
