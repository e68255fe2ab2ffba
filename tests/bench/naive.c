/*
 * naive: the seed design of timed, kept as the benchmark's baseline.
 * select() with a 1 s timeout over one TCP listener with a listen backlog
 * of 1; a blocking accept() once select() says the listener is readable;
 * write the 4 RFC 868 bytes; close.  Loopback only: naive PORT.
 * ISC licence in ../../LICENSE.
 */

#define _POSIX_C_SOURCE 200809L

#include <sys/select.h>
#include <sys/time.h>

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "bench.h"

#define BACKLOG		1	/* the seed's listen(2) backlog, on purpose */

/* The listener on 127.0.0.1:PORT, which select() must be able to watch. */
static int
listen_loopback(int port)
{
	int fd;

	fd = bind_loopback(SOCK_STREAM, port);
	if (fd >= FD_SETSIZE)
		errx(1, "socket: descriptor %d beyond FD_SETSIZE", fd);
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
	int lfd, n, port;

	port = port_arg(argc, argv, "naive");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal SIGPIPE");
	lfd = listen_loopback(port);
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
