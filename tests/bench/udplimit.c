/*
 * udplimit: the least a UDP time server can do, for the benchmark's upper
 * bound: a blocking recvfrom()/sendto() loop answering every datagram with
 * the 4 RFC 868 bytes.  Loopback only: udplimit PORT.
 * ISC licence in ../../LICENSE.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>

#include "bench.h"

int
main(int argc, char *argv[])
{
	struct sockaddr_storage from;
	socklen_t fromlen;
	unsigned char buf[1], t[4];
	int fd;

	fd = bind_loopback(SOCK_DGRAM, port_arg(argc, argv, "udplimit"));
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
