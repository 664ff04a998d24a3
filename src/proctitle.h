/*
 * proctitle.h -- the name each process shows in ps, top and systemd-cgls:
 * "cofferd: master", "cofferd: broker", "cofferd: worker 3".
 */
#ifndef COFFER_PROCTITLE_H
#define COFFER_PROCTITLE_H

/* Once, first thing in main(): claims the memory of argv (and of the
 * environment, which is copied elsewhere) for the title. */
void proctitle_init(int argc, char **argv);

/* Set the title (cut to the room argv had, which a title of this size
 * never reaches). */
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
