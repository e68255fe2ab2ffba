/*
 * bench.h: what naive.c and udplimit.c, the benchmark's own servers,
 * share: the RFC 868 encoding, the port argument and a loopback socket.
 * Define _POSIX_C_SOURCE before including it.
 * ISC licence in ../../LICENSE.
 */

#ifndef BENCH_H
#define BENCH_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RFC868_EPOCH	2208988800UL	/* 1900-01-01 to 1970-01-01, seconds */

/* Per-client faults, printed at most once a second. */
static void
warn_limited(const char *what)
{
	static time_t last;
	time_t now = time(NULL);

	if (now == last)
		return;
	last = now;
	warn("%s", what);
}

/* The current time as the 4 RFC 868 bytes, big-endian. */
static void
rfc868_now(unsigned char out[4])
{
	struct timespec ts;
	uint32_t v;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(1, "clock_gettime");
	v = (uint32_t)((unsigned long long)ts.tv_sec + RFC868_EPOCH);
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
}

/* The one argument, a port; anything else prints "usage: NAME port". */
static int
port_arg(int argc, char *argv[], const char *name)
{
	char *end;
	long v = 0;

	if (argc == 2) {
		errno = 0;
		v = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || errno != 0)
			v = 0;
	}
	if (v < 1 || v > 65535) {
		fprintf(stderr, "usage: %s port\n", name);
		exit(2);
	}
	return (int)v;
}

/*
 * A socket of TYPE bound to 127.0.0.1:PORT.  A listener takes
 * SO_REUSEADDR, so that a run can follow one that left TIME_WAIT behind.
 */
static int
bind_loopback(int type, int port)
{
	struct sockaddr_in sin;
	int fd, on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, type, 0)) == -1)
		err(1, "socket");
	if (type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		err(1, "setsockopt SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind 127.0.0.1:%d", port);
	return fd;
}

#endif /* BENCH_H */
