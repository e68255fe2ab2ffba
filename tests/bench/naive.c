/*
 * naive: the seed design of timed, kept as the benchmark's baseline.
 * select() with a 1 s timeout over one TCP listener with a listen backlog
 * of 1; a blocking accept() once select() says the listener is readable;
 * write the 4 RFC 868 bytes; close.  Loopback only: naive PORT.
 * ISC licence in ../../LICENSE.
 */

#define _POSIX_C_SOURCE 200809L

#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RFC868_EPOCH	2208988800UL	/* 1900-01-01 to 1970-01-01, seconds */
#define BACKLOG		1	/* the seed's listen(2) backlog, on purpose */

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

static int
parse_port(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535) {
		fprintf(stderr, "usage: naive port\n");
		exit(2);
	}
	return (int)v;
}

static int
listen_loopback(int port)
{
	struct sockaddr_in sin;
	int fd, on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	if (fd >= FD_SETSIZE)
		errx(1, "socket: descriptor %d beyond FD_SETSIZE", fd);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		err(1, "setsockopt SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind 127.0.0.1:%d", port);
	if (listen(fd, BACKLOG) == -1)
		err(1, "listen 127.0.0.1:%d", port);
	return fd;
}

/* Accept one client (blocking), send it the time and close. */
static void
serve_one(int lfd)
{
	unsigned char t[4];
	int fd;

	if ((fd = accept(lfd, NULL, NULL)) == -1) {
		warn_limited("accept");
		return;
	}
	rfc868_now(t);
	if (write(fd, t, sizeof(t)) != (ssize_t)sizeof(t))
		warn_limited("write");
	if (close(fd) == -1)
		warn_limited("close");
}

int
main(int argc, char *argv[])
{
	struct timeval tv;
	fd_set rfds;
	int lfd, n;

	if (argc != 2) {
		fprintf(stderr, "usage: naive port\n");
		return 2;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal SIGPIPE");
	lfd = listen_loopback(parse_port(argv[1]));
	for (;;) {	/* until killed */
		FD_ZERO(&rfds);
		FD_SET(lfd, &rfds);
		tv.tv_sec = 1;
		tv.tv_usec = 0;
		if ((n = select(lfd + 1, &rfds, NULL, NULL, &tv)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "select");
		}
		if (n > 0 && FD_ISSET(lfd, &rfds))
			serve_one(lfd);
	}
}
