/*
 * stressc: abusive RFC 868 clients for tests/stress/run.sh.
 *
 * Each mode prints one line of figures on stdout for the script to check,
 * exits 0 when it could do what it was asked (the figures say whether the
 * server behaved), 2 on a usage error, 4 when the client itself failed and
 * 5 (printing "busy") when the source port it was to bind is taken.
 * A watchdog alarm bounds every mode, so no case can hang on a helper.
 */

#define _DEFAULT_SOURCE		/* glibc and musl: BSD and POSIX 2008 APIs */

#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RFC868_EPOCH	2208988800UL	/* 1900-01-01 to 1970-01-01, seconds */
#define WATCHDOG_S	200	/* no mode may run longer than this */
#define CONNECT_MS	10000	/* a loopback connect, allowing SYN retries */
#define REPLY_MS	5000	/* a TCP answer in the soak, EOF included */
#define UDP_WAIT_MS	1000	/* a datagram answer in the soak */
#define CHUNK		65536	/* what a talkative client sends at a time */

/* One TCP client of the many a mode keeps. */
struct client {
	int	 fd;
	int	 connected;
	int	 got;		/* bytes of answer read so far */
	int	 eof;
	int	 gone;		/* closed by us */
	unsigned char buf[8];
	time_t	 t0;		/* wall clock at connect, to judge the value */
	long long start;	/* monotonic ms at connect */
	long long sent;		/* bytes a talkative client sent */
	long long closed_ms;	/* when its sending failed, ms after connect */
};

static volatile sig_atomic_t released;	/* SIGUSR1 or SIGTERM arrived */
static struct sockaddr_storage peer;	/* the server */
static socklen_t peerlen;

static void
usage(void)
{
	fprintf(stderr, "usage: stressc tcp1|udp1|hold|reset|talk|probe|flood|"
	    "load|raw|clocks|fdsetsize [arg ...] (see tests/stress/stressc.c)\n");
	exit(2);
}

/* Give up on a failure of our own: that is not the server's fault. */
static void
die(const char *what)
{
	fprintf(stderr, "stressc: %s: %s\n", what, strerror(errno));
	exit(4);
}

static void
on_release(int sig)
{
	(void)sig;
	released = 1;
}

/* Release on SIGUSR1 or SIGTERM, interrupting poll(); die on the watchdog. */
static void
set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_release;
	if (sigaction(SIGUSR1, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		die("sigaction");
	sa.sa_handler = SIG_IGN;	/* a reset peer must not kill us either */
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die("sigaction");
	alarm(WATCHDOG_S);
}

static long long
mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
mono_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime");
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned long
wire_value(const unsigned char b[4])
{
	return (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 |
	    (unsigned long)b[2] << 8 | (unsigned long)b[3];
}

/*
 * Does the wire value name an instant between lo and hi (unix seconds),
 * give or take a second for rounding?  Modulo 2^32: the value wraps in 2036.
 */
static int
value_between(const unsigned char b[4], time_t lo, time_t hi)
{
	uint32_t v = (uint32_t)wire_value(b);
	uint32_t from = (uint32_t)((unsigned long long)lo + RFC868_EPOCH - 1);

	return (uint32_t)(v - from) <= (uint32_t)(hi - lo + 2);
}

/* Numeric argument in lo..hi, or a usage error. */
static long
number(const char *arg, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, "stressc: %s: not a number in %ld..%ld\n",
		    arg, lo, hi);
		exit(2);
	}
	return v;
}

/* Set the server's address (numeric only: loopback is all we talk to). */
static void
set_peer(const char *host, const char *port)
{
	struct addrinfo hints, *res;
	int e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "stressc: %s port %s: %s\n", host, port,
		    gai_strerror(e));
		exit(2);
	}
	memcpy(&peer, res->ai_addr, res->ai_addrlen);
	peerlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
set_nonblocking(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		die("fcntl");
}

/* Start a non-blocking TCP connect to the server; -1 with errno if refused. */
static int
tcp_start(void)
{
	int fd;

	if ((fd = socket(peer.ss_family, SOCK_STREAM, 0)) == -1)
		return -1;
	set_nonblocking(fd);
	if (connect(fd, (struct sockaddr *)&peer, peerlen) == -1 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The outcome of a non-blocking connect, once it polled writable. */
static int
connect_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		return errno;
	return e;
}

/* Close so that the peer gets a reset, not a FIN. */
static void
reset_close(int fd)
{
	struct linger lg;

	lg.l_onoff = 1;
	lg.l_linger = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == -1)
		die("setsockopt SO_LINGER");
	close(fd);
}

/* A UDP socket of the server's family, bound to srcport if not 0. */
static int
udp_socket(int srcport)
{
	struct sockaddr_storage ss;
	int fd, on = 1;

	if ((fd = socket(peer.ss_family, SOCK_DGRAM, 0)) == -1)
		die("socket");
	if (srcport == 0)
		return fd;
	memcpy(&ss, &peer, sizeof(ss));
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)srcport);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)srcport);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		die("setsockopt SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&ss, peerlen) == -1) {
		if (errno != EADDRINUSE)
			die("bind source port");
		printf("busy\n");	/* another test's server has it */
		exit(5);
	}
	return fd;
}

/* poll() that treats EINTR as "nothing happened". */
static int
poll_some(struct pollfd *p, nfds_t n, int ms)
{
	int r = poll(p, n, ms);

	if (r == -1 && errno != EINTR)
		die("poll");
	return r == -1 ? 0 : r;
}

/*
 * Read what a client's answer holds so far; returns 1 once it is complete
 * (EOF, or an error such as a reset), 0 while more may come.
 */
static int
client_read(struct client *c)
{
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->buf + c->got, sizeof(c->buf) - (size_t)c->got,
		    MSG_DONTWAIT);
		if (n > 0) {
			c->got += (int)n;
			if (c->got == (int)sizeof(c->buf))
				return 1;	/* too much: an answer is 4 bytes */
			continue;
		}
		if (n == 0)
			c->eof = 1;
		else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return 1;
	}
}

/* Open n clients at once; returns how many connects were started. */
static int
clients_open(struct client *c, int n)
{
	int i, started = 0;

	for (i = 0; i < n; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].t0 = time(NULL);
		c[i].start = mono_ms();
		if ((c[i].fd = tcp_start()) == -1) {
			fprintf(stderr, "stressc: connect %d: %s\n", i,
			    strerror(errno));
			c[i].gone = 1;
			continue;
		}
		started++;
	}
	return started;
}

/*
 * Drive the clients until each is connected and, with want_answer, has its
 * answer (4 bytes or EOF), or ms pass.  With reset_answered, a client is
 * reset the moment it has read its 4 bytes.
 */
static void
clients_wait(struct client *c, int n, int want_answer, int reset_answered,
    int ms)
{
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	long long end = mono_ms() + ms;
	int i, waiting;

	if (p == NULL)
		die("calloc");
	do {
		waiting = 0;
		for (i = 0; i < n; i++) {
			p[i].fd = -1;
			if (c[i].gone)
				continue;
			if (!c[i].connected)
				p[i].events = POLLOUT;
			else if (want_answer && c[i].got < 4 && !c[i].eof)
				p[i].events = POLLIN;
			else
				continue;
			p[i].fd = c[i].fd;
			waiting++;
		}
		if (waiting == 0 || poll_some(p, (nfds_t)n, 100) == 0)
			continue;
		for (i = 0; i < n; i++) {
			if (p[i].fd == -1 || p[i].revents == 0)
				continue;
			if (!c[i].connected) {
				if (connect_error(c[i].fd) != 0) {
					close(c[i].fd);
					c[i].gone = 1;
				} else
					c[i].connected = 1;
				continue;
			}
			client_read(&c[i]);
			if (reset_answered && c[i].got >= 4) {
				reset_close(c[i].fd);
				c[i].gone = 1;
			}
		}
	} while (waiting > 0 && mono_ms() < end);
	free(p);
}

/* Count connected clients, answered ones (4 bytes) and right answers. */
static void
clients_count(const struct client *c, int n, time_t now, int *conn,
    int *answered, int *valid)
{
	int i;

	*conn = *answered = *valid = 0;
	for (i = 0; i < n; i++) {
		*conn += c[i].connected;
		if (c[i].got != 4)
			continue;
		(*answered)++;
		*valid += value_between(c[i].buf, c[i].t0, now);
	}
}

/* tcp1: one request; prints "BYTES VALUE", VALUE "-" unless 4 bytes came. */
static int
mode_tcp1(void)
{
	struct client c;

	clients_open(&c, 1);
	if (c.gone)
		return 4;
	clients_wait(&c, 1, 1, 0, 2000);
	while (c.connected && !c.eof && c.got == 4 && !c.gone) {
		struct pollfd p;	/* the EOF that follows the answer */

		p.fd = c.fd;
		p.events = POLLIN;
		if (poll_some(&p, 1, 2000) == 0 || client_read(&c))
			break;
	}
	if (!c.connected) {
		printf("noconnect -\n");
		return 3;
	}
	if (c.got == 4)
		printf("4 %lu%s\n", wire_value(c.buf), c.eof ? "" : " noeof");
	else
		printf("%d -\n", c.got);
	return c.got == 4 && c.eof ? 0 : 3;
}

/* udp1 [SRCPORT [LEN [WAIT_MS]]]: one datagram; "4 VALUE", "L -" or "none". */
static int
mode_udp1(int argc, char **argv)
{
	static unsigned char buf[65536];
	int srcport = argc > 0 ? (int)number(argv[0], 0, 65535) : 0;
	size_t len = argc > 1 ? (size_t)number(argv[1], 0, 65527) : 1;
	int ms = argc > 2 ? (int)number(argv[2], 1, 60000) : 2000;
	struct pollfd p;
	ssize_t n;

	p.fd = udp_socket(srcport);
	p.events = POLLIN;
	memset(buf, 'x', len);
	if (sendto(p.fd, buf, len, 0, (struct sockaddr *)&peer, peerlen) !=
	    (ssize_t)len)
		die("sendto");
	if (poll_some(&p, 1, ms) == 0) {
		printf("none\n");
		return 3;
	}
	if ((n = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT)) == -1)
		die("recv");
	if (n == 4)
		printf("4 %lu\n", wire_value(buf));
	else
		printf("%ld -\n", (long)n);
	return n == 4 ? 0 : 3;
}

/* Wait for SIGUSR1 or SIGTERM without a race against its arrival. */
static void
wait_release(void)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	while (!released)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/*
 * hold N read|noread: open N connections and keep them.  "read" clients
 * read their answer at once, "noread" ones only when released.  Prints
 * "held N connected C answered A" once all are up, waits for SIGUSR1,
 * then "answered A valid V eof E of N" and closes them all.
 */
static int
mode_hold(int argc, char **argv)
{
	struct client *c;
	int i, n, doread, conn, answered, valid, eof = 0;

	if (argc != 2)
		usage();
	n = (int)number(argv[0], 1, 100000);
	doread = strcmp(argv[1], "read") == 0;
	if ((c = calloc((size_t)n, sizeof(*c))) == NULL)
		die("calloc");
	clients_open(c, n);
	clients_wait(c, n, doread, 0, CONNECT_MS);
	clients_count(c, n, time(NULL), &conn, &answered, &valid);
	printf("held %d connected %d answered %d\n", n, conn, answered);
	fflush(stdout);
	wait_release();
	clients_wait(c, n, 1, 0, 10000);
	for (i = 0; i < n; i++) {
		if (!c[i].gone && !c[i].eof && c[i].got == 4)
			client_read(&c[i]);	/* the EOF after the answer */
		eof += c[i].eof;
		if (!c[i].gone)
			close(c[i].fd);
	}
	clients_count(c, n, time(NULL), &conn, &answered, &valid);
	printf("answered %d valid %d eof %d of %d\n", answered, valid, eof, n);
	return 0;
}

/*
 * reset N early|finrst|late|now: N clients that reset their connection.
 * early: once connected, before reading; finrst: the same after sending a
 * FIN, so that the server's end goes from CLOSE_WAIT to reset and its first
 * send() fails with EPIPE, the one error that raises SIGPIPE; late: right
 * after reading the answer; now: at once after connect(), maybe before the
 * handshake is done.
 */
static int
mode_reset(int argc, char **argv)
{
	struct client *c;
	int i, n, conn, answered, valid, resets = 0;

	if (argc != 2)
		usage();
	n = (int)number(argv[0], 1, 100000);
	if ((c = calloc((size_t)n, sizeof(*c))) == NULL)
		die("calloc");
	if (strcmp(argv[1], "now") == 0) {
		for (i = 0; i < n; i++) {
			if ((c[i].fd = tcp_start()) == -1)
				die("connect");
			reset_close(c[i].fd);
		}
		printf("reset %d of %d\n", n, n);
		return 0;
	}
	clients_open(c, n);
	if (strcmp(argv[1], "early") == 0 || strcmp(argv[1], "finrst") == 0)
		clients_wait(c, n, 0, 0, CONNECT_MS);
	else if (strcmp(argv[1], "late") == 0)
		clients_wait(c, n, 1, 1, CONNECT_MS);
	else
		usage();
	clients_count(c, n, time(NULL), &conn, &answered, &valid);
	for (i = 0; i < n; i++) {
		if (c[i].gone && c[i].got >= 4)
			resets++;	/* reset by clients_wait already */
		else if (!c[i].gone) {
			if (strcmp(argv[1], "finrst") == 0 &&
			    shutdown(c[i].fd, SHUT_WR) == -1)
				die("shutdown");
			reset_close(c[i].fd);
			resets += c[i].connected;
		}
	}
	printf("connected %d answered %d valid %d reset %d of %d\n",
	    conn, answered, valid, resets, n);
	return 0;
}

/* A talkative client's turn: read what came, send another chunk. */
static void
talk_turn(struct client *c, short revents, long long now)
{
	static char chunk[CHUNK];
	ssize_t n;

	if ((revents & POLLIN) && !c->eof)
		client_read(c);
	if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
		return;
	n = send(c->fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		c->sent += n;
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) {
		c->closed_ms = now - c->start;	/* the server closed on us */
		close(c->fd);
		c->gone = 1;
	}
}

/*
 * talk N SECS: N clients that send without pause until the server closes
 * on them (a send fails) or SECS pass.  Prints the answers, the least and
 * total bytes sent, and how long after connecting the server cut them off.
 */
static int
mode_talk(int argc, char **argv)
{
	struct client *c;
	struct pollfd *p;
	long long end, now, minsent = -1, total = 0, cmin = -1, cmax = -1;
	int i, n, closed = 0, conn, answered, valid;

	if (argc != 2)
		usage();
	n = (int)number(argv[0], 1, 10000);
	end = mono_ms() + 1000 * number(argv[1], 1, 100);
	if ((c = calloc((size_t)n, sizeof(*c))) == NULL ||
	    (p = calloc((size_t)n, sizeof(*p))) == NULL)
		die("calloc");
	clients_open(c, n);
	clients_wait(c, n, 0, 0, CONNECT_MS);
	while ((now = mono_ms()) < end) {
		for (i = closed = 0; i < n; i++) {
			p[i].fd = c[i].gone ? -1 : c[i].fd;
			p[i].events = POLLOUT | (c[i].eof ? 0 : POLLIN);
			closed += c[i].gone;
		}
		if (closed == n)
			break;
		if (poll_some(p, (nfds_t)n, 100) == 0)
			continue;
		for (i = 0; i < n; i++)
			if (p[i].fd != -1 && p[i].revents != 0)
				talk_turn(&c[i], p[i].revents, mono_ms());
	}
	clients_count(c, n, time(NULL), &conn, &answered, &valid);
	for (i = closed = 0; i < n; i++) {
		total += c[i].sent;
		if (minsent == -1 || c[i].sent < minsent)
			minsent = c[i].sent;
		if (!c[i].gone) {
			close(c[i].fd);
			continue;
		}
		closed++;
		if (cmin == -1 || c[i].closed_ms < cmin)
			cmin = c[i].closed_ms;
		if (c[i].closed_ms > cmax)
			cmax = c[i].closed_ms;
	}
	printf("clients %d connected %d answered %d valid %d minsent %lld "
	    "totalsent %lld closed %d close_ms %lld..%lld\n", n, conn, answered,
	    valid, minsent, total, closed, cmin, cmax);
	return 0;
}

/* One timed TCP request; returns microseconds taken, or -1 if unanswered. */
static long long
probe_once(int limit_ms)
{
	struct client c;
	long long t0 = mono_us();

	clients_open(&c, 1);
	if (c.gone)
		return -1;
	clients_wait(&c, 1, 1, 0, limit_ms);
	close(c.fd);
	if (c.got != 4 || !value_between(c.buf, c.t0, time(NULL)))
		return -1;
	return mono_us() - t0;
}

/*
 * probe INTERVAL_MS DURATION_MS LIMIT_MS: a TCP request every INTERVAL_MS
 * for DURATION_MS (0: until SIGUSR1).  Prints how many were answered, how
 * many took longer than LIMIT_MS, and the worst and mean time.
 */
static int
mode_probe(int argc, char **argv)
{
	long long start, next, us, worst = 0, sum = 0, duration;
	int interval, limit, probes = 0, answered = 0, late = 0;

	if (argc != 3)
		usage();
	interval = (int)number(argv[0], 1, 10000);
	duration = number(argv[1], 0, 150000);
	limit = (int)number(argv[2], 1, 10000);
	start = next = mono_ms();
	while (!released && (duration == 0 || mono_ms() - start < duration)) {
		probes++;
		if ((us = probe_once(2000)) >= 0) {
			answered++;
			sum += us;
			if (us > worst)
				worst = us;
			late += us > limit * 1000LL;
		}
		next += interval;
		while (!released && mono_ms() < next)
			poll_some(NULL, 0, (int)(next - mono_ms()));
	}
	printf("probes %d answered %d late %d worst_ms %.1f mean_ms %.2f\n",
	    probes, answered, late, worst / 1000.0,
	    answered ? sum / 1000.0 / answered : 0.0);
	return 0;
}

/* Read the answers waiting on a flooding socket; count good and bad ones. */
static void
flood_drain(int fd, time_t t0, long *good, long *bad)
{
	unsigned char b[64];
	ssize_t n;

	while ((n = recv(fd, b, sizeof(b), MSG_DONTWAIT)) >= 0) {
		if (n == 4 && value_between(b, t0, time(NULL)))
			(*good)++;
		else
			(*bad)++;
	}
}

/*
 * flood COUNT LEN [SRCPORT]: COUNT datagrams of LEN bytes, from SRCPORT if
 * given, as fast as send() takes them.  Prints what was sent, the answers
 * that came back and the rate.
 */
static int
mode_flood(int argc, char **argv)
{
	static unsigned char buf[65536];
	long count, len, sent = 0, good = 0, bad = 0;
	long long t0, ms;
	time_t wall0 = time(NULL);
	int fd, size = 1 << 22;
	struct pollfd p;

	if (argc != 2 && argc != 3)
		usage();
	count = number(argv[0], 1, 100000000);
	len = number(argv[1], 0, 65507);
	fd = udp_socket(argc > 2 ? (int)number(argv[2], 1, 65535) : 0);
	/* Room for many answers; the kernel caps it at net.core.rmem_max. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (connect(fd, (struct sockaddr *)&peer, peerlen) == -1)
		die("connect");
	p.fd = fd;
	t0 = mono_ms();
	while (sent < count) {
		if (send(fd, buf, (size_t)len, MSG_DONTWAIT) == len) {
			if (++sent % 64 == 0)
				flood_drain(fd, wall0, &good, &bad);
			continue;
		}
		if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
			p.events = POLLOUT;
			poll_some(&p, 1, 10);
		} else if (errno == ECONNREFUSED)
			continue;	/* an ICMP error: the server is not there */
		else
			die("send");
	}
	ms = mono_ms() - t0;
	p.events = POLLIN;
	while (poll_some(&p, 1, 500) > 0)
		flood_drain(fd, wall0, &good, &bad);
	printf("sent %ld answered %ld bad %ld ms %lld rate %.0f/s\n", sent, good,
	    bad, ms, ms > 0 ? sent * 1000.0 / ms : 0.0);
	return 0;
}

/* The soak's tallies. */
struct tally {
	long	 tcp_conn, tcp_ok, tcp_bad, tcp_timeout, tcp_connerr;
	long	 udp_sent, udp_ok, udp_bad, udp_lost;
};

/* Start one TCP request of the soak in a free slot. */
static void
load_tcp_start(struct client *c, struct tally *t)
{
	memset(c, 0, sizeof(*c));
	c->t0 = time(NULL);
	c->start = mono_ms();
	if ((c->fd = tcp_start()) == -1) {
		t->tcp_connerr++;	/* e.g. no ephemeral port left */
		c->gone = 1;
	}
}

/* Finish one TCP request of the soak (or count its failure) and close it. */
static void
load_tcp_done(struct client *c, struct tally *t, int timed_out)
{
	if (timed_out && c->connected)
		t->tcp_timeout++;
	else if (timed_out || !c->connected)
		t->tcp_connerr++;
	else if (c->got == 4 && c->eof &&
	    value_between(c->buf, c->t0, time(NULL)))
		t->tcp_ok++;
	else
		t->tcp_bad++;
	close(c->fd);
	c->gone = 1;
}

/* Advance one TCP slot of the soak after poll() said something. */
static void
load_tcp_event(struct client *c, struct tally *t)
{
	if (!c->connected) {
		if (connect_error(c->fd) != 0) {
			load_tcp_done(c, t, 0);
			return;
		}
		c->connected = 1;
		t->tcp_conn++;
	}
	if (client_read(c))
		load_tcp_done(c, t, 0);
}

/* Send the next datagram of a UDP slot; "connected" means one is out. */
static void
load_udp_send(struct client *c, struct tally *t)
{
	c->t0 = time(NULL);
	c->start = mono_ms();
	if (send(c->fd, "x", 1, MSG_DONTWAIT) == 1) {
		t->udp_sent++;
		c->connected = 1;
	}
}

/* Read a UDP slot's answer. */
static void
load_udp_event(struct client *c, struct tally *t)
{
	unsigned char b[8];
	ssize_t n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);

	if (n == -1)
		return;
	if (n == 4 && value_between(b, c->t0, time(NULL)))
		t->udp_ok++;
	else
		t->udp_bad++;
	c->connected = 0;
}

/* Poll the soak's slots once; UDP slots come after the ntcp TCP ones. */
static void
load_turn(struct client *c, struct pollfd *p, int ntcp, int n, struct tally *t)
{
	long long now;
	int i;

	for (i = 0; i < n; i++) {
		p[i].fd = c[i].gone || (i >= ntcp && !c[i].connected) ?
		    -1 : c[i].fd;
		p[i].events = i < ntcp && !c[i].connected ? POLLOUT : POLLIN;
		p[i].revents = 0;
	}
	poll_some(p, (nfds_t)n, 50);
	now = mono_ms();
	for (i = 0; i < n; i++) {
		if (p[i].fd == -1)
			continue;
		if (i >= ntcp && p[i].revents)
			load_udp_event(&c[i], t);
		else if (p[i].revents)
			load_tcp_event(&c[i], t);
		else if (i < ntcp && now - c[i].start > REPLY_MS)
			load_tcp_done(&c[i], t, 1);
		else if (i >= ntcp && now - c[i].start > UDP_WAIT_MS) {
			t->udp_lost++;
			c[i].connected = 0;
		}
	}
}

/*
 * load SECS NTCP NUDP: NTCP concurrent TCP requests and NUDP UDP ones, each
 * replaced as soon as it is answered, for SECS seconds (or until SIGUSR1);
 * then the ones in flight are finished.  Prints the tallies.
 */
static int
mode_load(int argc, char **argv)
{
	struct tally t;
	struct client *c;
	struct pollfd *p;
	long long end, stop;
	int i, n, ntcp, busy, more;

	if (argc != 3)
		usage();
	end = mono_ms() + 1000 * number(argv[0], 1, 150);
	stop = end + REPLY_MS + 1000;
	ntcp = (int)number(argv[1], 0, 1000);
	n = ntcp + (int)number(argv[2], 0, 1000);
	memset(&t, 0, sizeof(t));
	if ((c = calloc((size_t)n + 1, sizeof(*c))) == NULL ||
	    (p = calloc((size_t)n + 1, sizeof(*p))) == NULL)
		die("calloc");
	for (i = 0; i < n; i++) {
		c[i].gone = i < ntcp;
		if (i >= ntcp && ((c[i].fd = udp_socket(0)) == -1 ||
		    connect(c[i].fd, (struct sockaddr *)&peer, peerlen) == -1))
			die("udp connect");
	}
	do {
		more = mono_ms() < end && !released;
		for (i = busy = 0; i < n; i++) {
			if (more && i < ntcp && c[i].gone)
				load_tcp_start(&c[i], &t);
			else if (more && i >= ntcp && !c[i].connected)
				load_udp_send(&c[i], &t);
			busy += i < ntcp ? !c[i].gone : c[i].connected;
		}
		load_turn(c, p, ntcp, n, &t);
	} while (more || (busy && mono_ms() < stop));
	printf("tcp connected %ld answered %ld bad %ld timeout %ld connerr %ld "
	    "udp sent %ld answered %ld bad %ld lost %ld\n",
	    t.tcp_conn, t.tcp_ok, t.tcp_bad, t.tcp_timeout, t.tcp_connerr,
	    t.udp_sent, t.udp_ok, t.udp_bad, t.udp_lost);
	return 0;
}

/* An IPv4 + UDP datagram from 127.0.0.1:sport to 127.0.0.1:dport. */
static size_t
raw_datagram(unsigned char *pkt, int sport, int dport)
{
	static const unsigned char hdr[20] = {
		0x45, 0, 0, 29,		/* version, IHL, TOS, total length */
		0, 0, 0x40, 0,		/* id (kernel fills it), DF */
		64, IPPROTO_UDP, 0, 0,	/* TTL, protocol, checksum (kernel) */
		127, 0, 0, 1, 127, 0, 0, 1
	};

	memcpy(pkt, hdr, sizeof(hdr));
	pkt[20] = (unsigned char)(sport >> 8);
	pkt[21] = (unsigned char)sport;
	pkt[22] = (unsigned char)(dport >> 8);
	pkt[23] = (unsigned char)dport;
	pkt[24] = 0;
	pkt[25] = 9;			/* UDP length: header and one byte */
	pkt[26] = pkt[27] = 0;		/* no checksum, as IPv4 allows */
	pkt[28] = 'x';
	return 29;
}

/* Is this captured IPv4 packet a 4-byte UDP answer from sport to dport? */
static int
raw_is_answer(const unsigned char *b, ssize_t n, int sport, int dport)
{
	size_t ihl;

	if (n < 20 || (b[0] >> 4) != 4 || b[9] != IPPROTO_UDP)
		return 0;
	ihl = (size_t)(b[0] & 0x0f) * 4;
	if ((size_t)n < ihl + 8)
		return 0;
	b += ihl;
	return (b[0] << 8 | b[1]) == sport && (b[2] << 8 | b[3]) == dport &&
	    (b[4] << 8 | b[5]) == 12;
}

/*
 * raw PORT SRCPORT [WAIT_MS]: forge a datagram from 127.0.0.1:SRCPORT (0
 * and the server's own port included, which no socket can bind) and watch
 * loopback for an answer.  Prints "answered" or "none".
 */
static int
mode_raw(int argc, char **argv)
{
	unsigned char pkt[64], b[2048];
	struct sockaddr_in to;
	struct pollfd p;
	long long end;
	int port, sport, ms, tx;
	ssize_t n;

	if (argc < 2)
		usage();
	port = (int)number(argv[0], 1, 65535);
	sport = (int)number(argv[1], 0, 65535);
	ms = argc > 2 ? (int)number(argv[2], 1, 10000) : 500;
	if ((p.fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP)) == -1)
		die("raw socket");
	if ((tx = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) == -1)
		die("raw socket");
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(tx, pkt, raw_datagram(pkt, sport, port), 0,
	    (struct sockaddr *)&to, sizeof(to)) == -1)
		die("sendto raw");
	p.events = POLLIN;
	end = mono_ms() + ms;
	while (mono_ms() < end) {
		if (poll_some(&p, 1, (int)(end - mono_ms())) == 0)
			continue;
		if ((n = recv(p.fd, b, sizeof(b), MSG_DONTWAIT)) > 0 &&
		    raw_is_answer(b, n, port, sport)) {
			printf("answered\n");
			return 0;
		}
	}
	printf("none\n");
	return 0;
}

/* clocks: the wall clock (unix seconds) and monotonic ms, as we see them. */
static int
mode_clocks(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		die("clock_gettime");
	printf("%lld %lld\n", (long long)ts.tv_sec, mono_ms());
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *mode;

	if (argc < 2)
		usage();
	mode = argv[1];
	set_signals();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "fdsetsize") == 0)
		return printf("%d\n", FD_SETSIZE) < 0;
	if (strcmp(mode, "clocks") == 0)
		return mode_clocks();
	if (strcmp(mode, "raw") == 0)
		return mode_raw(argc - 2, argv + 2);
	if (argc < 4)
		usage();
	set_peer(argv[2], argv[3]);
	argc -= 4;
	argv += 4;
	if (strcmp(mode, "tcp1") == 0)
		return mode_tcp1();
	if (strcmp(mode, "udp1") == 0)
		return mode_udp1(argc, argv);
	if (strcmp(mode, "hold") == 0)
		return mode_hold(argc, argv);
	if (strcmp(mode, "reset") == 0)
		return mode_reset(argc, argv);
	if (strcmp(mode, "talk") == 0)
		return mode_talk(argc, argv);
	if (strcmp(mode, "probe") == 0)
		return mode_probe(argc, argv);
	if (strcmp(mode, "flood") == 0)
		return mode_flood(argc, argv);
	if (strcmp(mode, "load") == 0)
		return mode_load(argc, argv);
	usage();
	return 2;
}
