/*
 * udplimit: the least a UDP time server can do, for the benchmark's upper
 * bound: a blocking recvfrom()/sendto() loop answering every datagram with
 * the 4 RFC 868 bytes.  Loopback only: udplimit PORT.
 * ISC licence in ../../LICENSE.
 */

#define _POSIX_C_SOURCE 200809L

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
#include <unistd.h>

#define RFC868_EPOCH	2208988800UL	/* 1900-01-01 to 1970-01-01, seconds */

/* Per-datagram faults, printed at most once a second. */
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
		fprintf(stderr, "usage: udplimit port\n");
		exit(2);
	}
	return (int)v;
}

static int
bind_loopback(int port)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind 127.0.0.1:%d", port);
	return fd;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_storage from;
	socklen_t fromlen;
	unsigned char buf[1], t[4];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: udplimit port\n");
		return 2;
	}
	fd = bind_loopback(parse_port(argv[1]));
	for (;;) {	/* until killed */
		fromlen = sizeof(from);
		/* A 1-byte buffer truncates any payload: RFC 868 ignores it. */
		if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
		    &fromlen) == -1) {
			if (errno != EINTR)
				warn_limited("recvfrom");
			continue;
		}
		rfc868_now(t);
		if (sendto(fd, t, sizeof(t), 0, (struct sockaddr *)&from,
		    fromlen) == -1)
			warn_limited("sendto");
	}
}
