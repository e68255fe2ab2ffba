/*
 * timed: an RFC 868 ("Time Protocol") server over TCP and UDP.
 *
 * One process, one pselect() loop.  A TCP client gets the 32-bit count of
 * seconds since 1900-01-01 00:00 UTC, big-endian, and the connection is then
 * closed the RFC 868 way: the client first.  A UDP datagram gets the same
 * four bytes back.  See timed.8; ISC licence in LICENSE.
 */

#define _DEFAULT_SOURCE		/* glibc and musl: BSD and POSIX 2008 APIs */

#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define VERSION		"1.0"
#define DEFAULT_PORT	"8037"
#define RFC868_EPOCH	2208988800UL	/* 1900-01-01 to 1970-01-01, seconds */
#define CLOCK_SANE	1735689600	/* 2025-01-01: earlier means unset */
#define MAX_LISTENERS	64	/* sockets, TCP and UDP: 32 addresses */
#define LINGER_MS	3000	/* how long a served client may take to close */
#define GRACE_MS	2	/* most clients have closed by then: see conn_keep */
#define ACCEPT_BATCH	64	/* accepts per turn, so UDP is not starved */
#define UDP_BATCH	64	/* datagrams per turn, so TCP is not starved */
#define DRAIN_BYTES	65536	/* read at most this much per turn per client */
#define PAUSE_MS	100	/* accept() pause when no descriptor is left */
#define INETD_IDLE_MS	2000	/* -i on a UDP socket: exit after this quiet */
#define SD_LISTEN_FDS_START 3	/* systemd's first passed descriptor */
#define LOG_BUFSIZE	65536	/* log lines held while stdout is slow */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* BSD and macOS: SIGPIPE is ignored instead */
#endif
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT	0	/* every socket we read is non-blocking anyway */
#endif
#ifndef MSG_MORE
#define MSG_MORE	0	/* not Linux: the answer and FIN go separately */
#endif

struct listener {
	int	 fd;
	int	 type;		/* SOCK_STREAM or SOCK_DGRAM */
	int	 port;
	char	 name[INET6_ADDRSTRLEN + 16];
};

/* A served TCP client we wait on to close first. */
struct conn {
	int	 fd;
	int	 watched;	/* in the select() set; else not looked at yet */
	long long check_at;	/* monotonic ms: first look, when not watched */
	long long deadline;	/* monotonic ms: closed then, closed or not */
};

/* How a log descriptor can be written without blocking on its reader. */
enum out_kind { OUT_PLAIN, OUT_PIPE, OUT_SOCKET };

/* Messages about abuse or faults, each logged at most once a second. */
enum fault {
	F_ACCEPT, F_NOFD, F_CLOCK, F_REFUSED, F_SEND, F_RECV, F_PIDFILE, F_MAX
};

struct fault_log {
	long long last;		/* monotonic ms of the last line, 0 = never */
	unsigned long suppressed;
};

static volatile sig_atomic_t quit_signal;
static volatile sig_atomic_t stats_wanted;
static sigset_t wait_mask;	/* pselect()'s: the signals we act on unblocked */

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static struct conn conns[FD_SETSIZE];
static int nconns;
static struct fault_log faults[F_MAX];
static int quiet;
static int use_syslog;		/* -d and -i: stdout is not ours to write */
static int stdout_kind, stderr_kind;	/* enum out_kind, for write_nowait */
static char logbuf[LOG_BUFSIZE];	/* routine lines not yet written */
static size_t loglen;
static unsigned long log_dropped;	/* lines lost to a stalled stdout */
static int reuse_port;		/* -r */
static int exit_when_idle;	/* -i, or one connection handed over */
static int pidfile_fd = -1;
static const char *pidfile;
static int spare_fd = -1;	/* given up to accept() when out of descriptors */
static long long accept_paused_until;
static unsigned long served_tcp, served_udp, refused_udp, unsent;

static void
usage(FILE *f)
{
	(void)fprintf(f, "usage: timed [-46dhiqrTUV] [-a address] [-P pidfile] "
	    "[-p port] [-u user]\n");
}

static int
out_kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return OUT_PLAIN;
	if (S_ISSOCK(st.st_mode))
		return OUT_SOCKET;
	if (S_ISFIFO(st.st_mode))
		return OUT_PIPE;
	return OUT_PLAIN;	/* a file or terminal: the kernel keeps up */
}

/*
 * Write what a log descriptor takes now, never waiting for a reader that
 * has stopped reading.  O_NONBLOCK is not an option: it belongs to the open
 * file, which the shell and other programs share.  A socket has
 * MSG_DONTWAIT; a pipe that polls writable takes PIPE_BUF bytes without
 * blocking.  Returns the bytes written, or -1 (EAGAIN: full).
 */
static ssize_t
write_nowait(int fd, int kind, const char *buf, size_t len)
{
	struct pollfd pfd;

	if (kind == OUT_SOCKET)
		return send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (kind == OUT_PIPE) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 0) == -1)
			return -1;
		if (pfd.revents == 0) {
			errno = EAGAIN;
			return -1;
		}
		if (len > PIPE_BUF)
			len = PIPE_BUF;
	}
	return write(fd, buf, len);
}

/*
 * A failure we cannot serve past, said like err(3): "timed: what: reason".
 * Under -i standard error may be the client's socket, so syslog only.
 */
static void
die(const char *fmt, ...)
{
	char what[256], line[512];
	int e = errno, n;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (use_syslog)
		syslog(LOG_ERR, "%s: %s", what, strerror(e));
	else {
		n = snprintf(line, sizeof(line), "timed: %s: %s\n", what,
		    strerror(e));
		if (n > 0)
			(void)write_nowait(STDERR_FILENO, stderr_kind, line,
			    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	exit(1);
}

/* Turn an instant into the 4 bytes on the wire, rounded to the second. */
static void
rfc868_encode(const struct timespec *ts, unsigned char out[4])
{
	long long sec = (long long)ts->tv_sec;
	uint32_t v;

	if (ts->tv_nsec >= 500000000L)
		sec++;
	/* The wire value wraps in 2036; unsigned arithmetic is modulo 2^32. */
	v = (uint32_t)((unsigned long long)sec + RFC868_EPOCH);
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
}

/* A clock before CLOCK_SANE was never set: RFC 868 then says send nothing. */
static int
clock_is_set(const struct timespec *ts)
{
	return (long long)ts->tv_sec >= CLOCK_SANE;
}

static long long
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime CLOCK_MONOTONIC");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Routine lines go to syslog, or to a buffer that log_flush() writes to
 * stdout once per loop turn; when it is full, lines are dropped and counted.
 */
static void
log_info(const char *fmt, ...)
{
	char line[512];
	size_t room = sizeof(logbuf) - loglen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (use_syslog) {
		(void)vsnprintf(line, sizeof(line), fmt, ap);
		syslog(LOG_INFO, "%s", line);
	} else {
		n = vsnprintf(logbuf + loglen, room, fmt, ap);
		if (n >= 0 && (size_t)n + 1 < room) {
			logbuf[loglen + (size_t)n] = '\n';
			loglen += (size_t)n + 1;
		} else
			log_dropped++;
	}
	va_end(ap);
}

/*
 * Write the buffered lines, as much as stdout takes now: a reader that
 * stalls costs log lines, not service.  The rest waits for the next turn.
 */
static void
log_flush(void)
{
	unsigned long dropped = log_dropped;
	ssize_t n;

	/* Lines are dropped only once the buffer is full: this goes after. */
	if (dropped > 0 && sizeof(logbuf) - loglen >= 128) {
		log_dropped = 0;
		log_info("%lu log lines dropped: standard output was not "
		    "being read", dropped);
	}
	while (loglen > 0) {
		n = write_nowait(STDOUT_FILENO, stdout_kind, logbuf, loglen);
		if (n > 0) {
			memmove(logbuf, logbuf + n, loglen - (size_t)n);
			loglen -= (size_t)n;
		} else if (n == -1 && errno == EINTR)
			continue;
		else {
			/* EAGAIN: try next turn; anything else: no one reads. */
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
				loglen = 0;
			return;
		}
	}
}

/* Fault lines go to stderr, at most one a second per kind. */
static void
log_fault(enum fault kind, const char *fmt, ...)
{
	struct fault_log *f = &faults[kind];
	long long now = now_ms();
	char line[512], more[64] = "", out[600];
	va_list ap;
	int n;

	if (f->last != 0 && now - f->last < 1000) {
		f->suppressed++;
		return;
	}
	f->last = now;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (f->suppressed > 0)
		(void)snprintf(more, sizeof(more), " (%lu similar suppressed)",
		    f->suppressed);
	f->suppressed = 0;
	if (use_syslog)
		syslog(LOG_WARNING, "%s%s", line, more);
	else if ((n = snprintf(out, sizeof(out), "timed: %s%s\n", line,
	    more)) > 0 && write_nowait(STDERR_FILENO, stderr_kind, out,
	    (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1) == -1)
		f->suppressed++;	/* stderr is not being read: say later */
}

/* Format an address as text, an IPv4-mapped IPv6 one as plain IPv4. */
static void
addr_text(const struct sockaddr *sa, char *host, size_t hostlen, int *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	struct in_addr v4;

	*port = 0;
	if (sa->sa_family == AF_INET) {
		*port = ntohs(sin->sin_port);
		inet_ntop(AF_INET, &sin->sin_addr, host, hostlen);
	} else if (sa->sa_family == AF_INET6) {
		*port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(&v4, &sin6->sin6_addr.s6_addr[12], sizeof(v4));
			inet_ntop(AF_INET, &v4, host, hostlen);
		} else
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, hostlen);
	} else
		(void)snprintf(host, hostlen, "?");
}

/* "[::]:37" or "127.0.0.1:37", for messages about our own sockets. */
static void
sockname_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int port;

	addr_text(sa, host, sizeof(host), &port);
	if (sa->sa_family == AF_INET6 && strchr(host, ':') != NULL)
		(void)snprintf(buf, len, "[%s]:%d", host, port);
	else
		(void)snprintf(buf, len, "%s:%d", host, port);
}

static void
set_nonblocking(int fd, const char *what)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		die("fcntl O_NONBLOCK %s", what);
}

/*
 * Something to hold a descriptor with: /dev/null, or where a chroot or an
 * empty /dev has none, the root directory.
 */
static int
open_placeholder(void)
{
	int fd;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fd = open("/", O_RDONLY);
	return fd;
}

/*
 * Started with descriptor 0, 1 or 2 closed, the first socket we open would
 * take its place, and log lines or daemonize() would land on it.
 */
static void
fill_std_descriptors(void)
{
	int fd;

	do {
		if ((fd = open_placeholder()) == -1)
			die("/dev/null");
	} while (fd <= STDERR_FILENO);
	(void)close(fd);
}

/* Open, bind and (for TCP) listen on one address; warn and return -1 on failure. */
static int
listen_on(const struct addrinfo *ai, int v6only, char *name, size_t namelen)
{
	int fd, on = 1;

	sockname_text(ai->ai_addr, name, namelen);
	if ((fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)) == -1) {
		if (v6only || errno != EAFNOSUPPORT)	/* else: IPv4 fallback */
			warn("socket %s", name);
		return -1;
	}
	if (fd >= FD_SETSIZE)
		errx(1, "socket %s: descriptor %d beyond FD_SETSIZE", name, fd);
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
		warn("setsockopt IPV6_V6ONLY %s", name);
	/* TIME_WAIT from a previous run must not stop a restart. */
	if (ai->ai_socktype == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		warn("setsockopt SO_REUSEADDR %s", name);
#ifdef SO_REUSEPORT
	if (reuse_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		warn("setsockopt SO_REUSEPORT %s", name);
#endif
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		warn("bind %s", name);
		close(fd);
		return -1;
	}
	if (ai->ai_socktype == SOCK_STREAM && listen(fd, SOMAXCONN) == -1) {
		warn("listen %s", name);
		close(fd);
		return -1;
	}
	set_nonblocking(fd, name);
	return fd;
}

/*
 * Bind every address of host (all of them when host is NULL) for one
 * transport.  With no address and no family given, one dual-stack IPv6
 * socket serves both families; IPv4 alone where the system has no IPv6.
 * Returns how many sockets were bound.
 */
static int
listen_all(const char *host, const char *port, int family, int socktype)
{
	struct addrinfo hints, *res, *ai;
	int e, fd, n = 0, dualstack = (host == NULL && family == AF_UNSPEC);
	struct listener *l;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = dualstack ? AF_INET6 : family;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &res);
	if (e != 0 && dualstack) {
		hints.ai_family = AF_INET;
		e = getaddrinfo(host, port, &hints, &res);
	}
	if (e != 0)
		errx(1, "%s: %s", host ? host : "*", gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (nlisteners == MAX_LISTENERS)
			errx(1, "%s: too many addresses", host ? host : "*");
		l = &listeners[nlisteners];
		fd = listen_on(ai, !dualstack, l->name, sizeof(l->name));
		if (fd == -1 && dualstack && errno == EAFNOSUPPORT) {
			freeaddrinfo(res);
			return listen_all("0.0.0.0", port, AF_INET, socktype);
		}
		if (fd == -1)
			continue;
		l->fd = fd;
		l->type = socktype;
		l->port = (int)strtol(port, NULL, 10);	/* made by parse_port */
		nlisteners++;
		n++;
	}
	freeaddrinfo(res);
	return n;
}

/* Port number or service name, checked to be 1..65535. */
static int
parse_port(const char *arg)
{
	struct servent *se;
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	/* Digits only: strtol() would also take " 37" and "+37". */
	if (*arg >= '0' && *arg <= '9' && *end == '\0') {
		if (errno != 0 || v < 1 || v > 65535)
			return -1;
		return (int)v;
	}
	if (*end == '\0' || (se = getservbyname(arg, "tcp")) == NULL)
		return -1;
	return ntohs((uint16_t)se->s_port);
}

static void
on_quit(int sig)
{
	quit_signal = sig;
}

static void
on_stats(int sig)
{
	(void)sig;
	stats_wanted = 1;
}

static void
set_signals(void)
{
	struct sigaction sa;
	sigset_t acted_on;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/*
	 * The signals we act on stay blocked but inside pselect(), so one
	 * cannot land between the loop's check of its flag and the wait.
	 */
	sigemptyset(&acted_on);
	sigaddset(&acted_on, SIGTERM);
	sigaddset(&acted_on, SIGINT);
	sigaddset(&acted_on, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &acted_on, &wait_mask) == -1)
		die("sigprocmask");
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGUSR1);
	sa.sa_handler = on_quit;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		die("sigaction");
	sa.sa_handler = on_stats;
	if (sigaction(SIGUSR1, &sa, NULL) == -1)
		die("sigaction");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigaction(SIGALRM, &sa, NULL) == -1)
		die("sigaction");
}

/* The current time as wire bytes; logs and returns -1 if the clock is unset. */
static int
current_time(unsigned char out[4])
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		die("clock_gettime CLOCK_REALTIME");
	if (clock_is_set(&ts)) {
		rfc868_encode(&ts, out);
		return 0;
	}
	unsent++;
	log_fault(F_CLOCK, "clock is not set (before 2025-01-01), "
	    "sending nothing as RFC 868 says");
	return -1;
}

/* Read and throw away what a client sent; 0 on EOF or error, 1 if open. */
static int
conn_drain(int fd)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (total < DRAIN_BYTES) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n == -1 && errno == EINTR)
			continue;
		return 0;
	}
	return 1;
}

static void
conn_close(int i)
{
	if (close(conns[i].fd) == -1)
		log_fault(F_RECV, "close: %s", strerror(errno));
	conns[i] = conns[--nconns];
}


/*
 * Keep a served client until it closes, or drain and close it now.  Most
 * clients close within a few milliseconds of reading their answer, so a
 * new connection is not polled by select() at once, turn after turn: it is
 * looked at once with recv() after GRACE_MS, and only a client still open
 * then is watched by select() until the deadline.
 */
static void
conn_keep(int fd, long long now)
{
	if (fd < FD_SETSIZE && nconns < FD_SETSIZE) {
		conns[nconns].fd = fd;
		conns[nconns].watched = 0;
		conns[nconns].check_at = now + GRACE_MS;
		conns[nconns].deadline = now + LINGER_MS;
		nconns++;
		return;
	}
	conn_drain(fd);
	close(fd);
}

/*
 * Send the time on a fresh connection, then half-close: the client sees EOF
 * at once and, as RFC 868 has it, closes first.  Returns -1 if the
 * connection is finished and closed already.
 */
static int
tcp_reply(int fd)
{
	unsigned char t[4];

	if (current_time(t) == -1) {
		conn_drain(fd);
		close(fd);
		return -1;
	}
	/*
	 * MSG_MORE holds the four bytes back (200 ms at most, on Linux) for
	 * shutdown() to send with the FIN in one segment: a packet, and the
	 * client's ACK of it, saved per client.
	 */
	if (send(fd, t, sizeof(t), MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE) !=
	    sizeof(t)) {
		close(fd);	/* reset by the client already */
		return -1;
	}
	served_tcp++;
	if (shutdown(fd, SHUT_WR) == -1) {
		close(fd);	/* the client has gone since */
		return -1;
	}
	return 0;
}

static void
log_peer(const char *what, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];
	int port;

	if (quiet)
		return;
	addr_text(sa, host, sizeof(host), &port);
	log_info("%s from %s port %d", what, host, port);
}

/*
 * Out of descriptors: give up the spare one so the waiting client can be
 * answered and closed at once.  Without a spare, stop accepting for a
 * moment rather than spin on a listener that stays readable.
 */
static void
accept_out_of_fds(int lfd, int e, long long now)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd;

	log_fault(F_NOFD, "accept: %s", strerror(e));
	if (spare_fd != -1) {
		close(spare_fd);
		fd = accept(lfd, (struct sockaddr *)&ss, &sslen);
		if (fd != -1) {
			log_peer("connection", (struct sockaddr *)&ss);
			if (tcp_reply(fd) == 0) {
				conn_drain(fd);
				close(fd);
			}
		}
		spare_fd = open_placeholder();
	}
	if (spare_fd == -1)
		accept_paused_until = now + PAUSE_MS;
}

/* An error that says the socket itself is wrong, not one client. */
static int
socket_broken(int e)
{
	return e == EBADF || e == ENOTSOCK || e == EINVAL || e == EOPNOTSUPP ||
	    e == EFAULT;
}

/* Accept and answer what waits on a listener; returns how many were served. */
static int
accept_clients(const struct listener *l, long long now)
{
	int lfd = l->fd;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int i, fd, n = 0;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		sslen = sizeof(ss);
		if ((fd = accept(lfd, (struct sockaddr *)&ss, &sslen)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EMFILE || errno == ENFILE) {
				accept_out_of_fds(lfd, errno, now);
				break;
			}
			/* ECONNABORTED, EPROTO, EINTR: that client is gone. */
			if (errno == ECONNABORTED || errno == EPROTO ||
			    errno == EINTR)
				continue;
			if (socket_broken(errno))
				die("accept %s", l->name);
			log_fault(F_ACCEPT, "accept %s: %s", l->name,
			    strerror(errno));
			break;	/* ENOBUFS and the like: next turn */
		}
		n++;
		log_peer("connection", (struct sockaddr *)&ss);
		if (tcp_reply(fd) == 0)
			conn_keep(fd, now);
	}
	return n;
}

/*
 * Why a datagram must not be answered, or NULL.  Replying to another
 * server's port (echo, chargen, time, or our own) could start an endless
 * exchange between the two; a broadcast or multicast source is forged.
 */
static const char *
udp_refusal(const struct sockaddr *sa, int ourport)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	uint32_t a;
	int port;

	if (sa->sa_family == AF_INET) {
		port = ntohs(sin->sin_port);
		a = ntohl(sin->sin_addr.s_addr);
	} else if (sa->sa_family == AF_INET6) {
		port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr))
			return "multicast source";
		if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			a = 1;
		else
			a = (uint32_t)sin6->sin6_addr.s6_addr[12] << 24 |
			    (uint32_t)sin6->sin6_addr.s6_addr[13] << 16 |
			    (uint32_t)sin6->sin6_addr.s6_addr[14] << 8 |
			    sin6->sin6_addr.s6_addr[15];
	} else
		return "unknown address family";
	if (port < 1024)
		return "source port below 1024";
	if (port == ourport)
		return "source port is the time service's own";
	if (a == 0 || a == 0xffffffffUL || (a >> 28) == 0xe)
		return "broadcast or multicast source";
	return NULL;
}

/* Answer the datagrams waiting on a socket, at most UDP_BATCH of them. */
static int
serve_udp(const struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned char t[4], buf[1];
	const char *why;
	char host[INET6_ADDRSTRLEN];
	int i, port, n = 0;

	for (i = 0; i < UDP_BATCH; i++) {
		sslen = sizeof(ss);
		/* A short buffer truncates the datagram: its content is unused. */
		if (recvfrom(l->fd, buf, sizeof(buf), MSG_DONTWAIT,
		    (struct sockaddr *)&ss, &sslen) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			/* An ICMP error for an earlier reply: not ours to mind. */
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			if (socket_broken(errno))
				die("recvfrom %s", l->name);
			log_fault(F_RECV, "recvfrom %s: %s", l->name,
			    strerror(errno));
			break;
		}
		n++;
		if ((why = udp_refusal((struct sockaddr *)&ss, l->port)) != NULL) {
			refused_udp++;
			addr_text((struct sockaddr *)&ss, host, sizeof(host), &port);
			log_fault(F_REFUSED, "refused datagram from %s port %d: %s",
			    host, port, why);
			continue;
		}
		if (current_time(t) == -1)
			continue;
		log_peer("datagram", (struct sockaddr *)&ss);
		if (sendto(l->fd, t, sizeof(t), MSG_NOSIGNAL | MSG_DONTWAIT,
		    (struct sockaddr *)&ss, sslen) == -1) {
			log_fault(F_SEND, "sendto: %s", strerror(errno));
			continue;
		}
		served_udp++;
	}
	return n;
}

/*
 * Close the connections whose client did not close in time, and take a
 * first look at those whose grace is over: closed, or to be watched.
 * Returns when the next of these is due (LLONG_MAX: none), in the same
 * pass, so the loop does not scan the table again for its timeout.
 */
static long long
conns_tend(long long now)
{
	long long due = LLONG_MAX;
	int i;

	/* Downwards: conn_close() moves the last entry, already seen, to i. */
	for (i = nconns - 1; i >= 0; i--) {
		if (conns[i].deadline <= now) {
			conn_close(i);
			continue;
		}
		if (!conns[i].watched && conns[i].check_at <= now) {
			if (!conn_drain(conns[i].fd)) {
				conn_close(i);
				continue;
			}
			conns[i].watched = 1;
		}
		if (conns[i].deadline < due)
			due = conns[i].deadline;
		if (!conns[i].watched && conns[i].check_at < due)
			due = conns[i].check_at;
	}
	return due;
}

/* Fill the select() set; returns the highest descriptor, or -1. */
static int
fill_fdset(fd_set *rfds, long long now)
{
	int i, maxfd = -1;

	FD_ZERO(rfds);
	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].type == SOCK_STREAM && now < accept_paused_until)
			continue;
		FD_SET(listeners[i].fd, rfds);
		if (listeners[i].fd > maxfd)
			maxfd = listeners[i].fd;
	}
	for (i = 0; i < nconns; i++) {
		if (!conns[i].watched)
			continue;
		FD_SET(conns[i].fd, rfds);
		if (conns[i].fd > maxfd)
			maxfd = conns[i].fd;
	}
	return maxfd;
}

/* How long select() may sleep: until the next tick, conn_due or unpause. */
static struct timespec
next_wakeup(long long idle_since, long long conn_due, long long now)
{
	struct timespec ts;
	long long wake = idle_since + 1000;

	if (conn_due < wake)
		wake = conn_due;
	if (accept_paused_until > now && accept_paused_until < wake)
		wake = accept_paused_until;
	if (wake < now)
		wake = now;
	ts.tv_sec = (time_t)((wake - now) / 1000);
	ts.tv_nsec = (long)((wake - now) % 1000 * 1000000);
	return ts;
}

static void
log_stats(void)
{
	log_info("served %lu tcp, %lu udp; refused %lu datagrams; "
	    "%lu unanswered (clock unset); %d connections open",
	    served_tcp, served_udp, refused_udp, unsent, nconns);
}

/*
 * pselect() lets a blocked signal in only when it has to wait: on a server
 * that always has work it would never come.  Let it in after a busy turn.
 */
static void
take_pending_signals(void)
{
	sigset_t pending, blocked;

	if (sigpending(&pending) == -1)
		die("sigpending");
	if (!sigismember(&pending, SIGTERM) && !sigismember(&pending, SIGINT) &&
	    !sigismember(&pending, SIGUSR1))
		return;
	if (sigprocmask(SIG_SETMASK, &wait_mask, &blocked) == -1 ||
	    sigprocmask(SIG_SETMASK, &blocked, NULL) == -1)
		die("sigprocmask");
}

/* The select() loop; returns on SIGTERM or SIGINT, or when -i is done. */
static void
serve(void)
{
	fd_set rfds;
	struct timespec ts;
	long long now, idle_since, last_request, conn_due;
	int i, maxfd, busy;

	idle_since = last_request = now_ms();
	while (!quit_signal) {
		if (stats_wanted) {
			stats_wanted = 0;
			log_stats();
		}
		now = now_ms();
		conn_due = conns_tend(now);
		if (exit_when_idle && nconns == 0 &&
		    (nlisteners == 0 || now - last_request >= INETD_IDLE_MS))
			break;
		if (spare_fd == -1)
			spare_fd = open_placeholder();
		if (now - idle_since >= 1000) {
			if (!quiet && !use_syslog)
				log_info("still waiting");
			idle_since = now;
		}
		maxfd = fill_fdset(&rfds, now);
		ts = next_wakeup(idle_since, conn_due, now);
		log_flush();
		switch (pselect(maxfd + 1, &rfds, NULL, NULL, &ts, &wait_mask)) {
		case -1:
			if (errno == EINTR)
				continue;
			die("pselect");
			break;
		case 0:
			break;
		default:
			take_pending_signals();
		}
		now = now_ms();
		for (i = nconns - 1; i >= 0; i--)
			if (conns[i].watched && FD_ISSET(conns[i].fd, &rfds) &&
			    !conn_drain(conns[i].fd))
				conn_close(i);
		busy = 0;
		for (i = 0; i < nlisteners; i++) {
			if (!FD_ISSET(listeners[i].fd, &rfds))
				continue;
			if (listeners[i].type == SOCK_STREAM)
				busy += accept_clients(&listeners[i], now);
			else
				busy += serve_udp(&listeners[i]);
		}
		if (busy)
			idle_since = last_request = now;
	}
}

/*
 * Serve a socket opened by someone else (inetd, xinetd, systemd): a TCP
 * listener, a UDP socket, or one TCP client connected already.
 */
static void
adopt_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len, sslen = sizeof(ss);
	struct listener *l;
	int type, listening = 0, port;
	char host[INET6_ADDRSTRLEN];

	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		die("descriptor %d: getsockopt SO_TYPE", fd);
	if (fd >= FD_SETSIZE) {
		errno = EMFILE;
		die("descriptor %d: beyond FD_SETSIZE", fd);
	}
	len = sizeof(listening);
	if (type == SOCK_STREAM &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1)
		die("descriptor %d: getsockopt SO_ACCEPTCONN", fd);
	if (type == SOCK_STREAM && !listening) {
		if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == 0)
			log_peer("connection", (struct sockaddr *)&ss);
		if (tcp_reply(fd) == 0)
			conn_keep(fd, now_ms());
		exit_when_idle = 1;
		return;
	}
	if (type != SOCK_STREAM && type != SOCK_DGRAM) {
		errno = EPROTOTYPE;
		die("descriptor %d", fd);
	}
	if (nlisteners == MAX_LISTENERS) {
		errno = EMFILE;
		die("descriptor %d: more than %d sockets", fd, MAX_LISTENERS);
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1)
		die("descriptor %d: getsockname", fd);
	l = &listeners[nlisteners++];
	l->fd = fd;
	l->type = type;
	addr_text((struct sockaddr *)&ss, host, sizeof(host), &port);
	l->port = port;
	sockname_text((struct sockaddr *)&ss, l->name, sizeof(l->name));
	set_nonblocking(fd, l->name);
}

/*
 * Sockets passed by systemd socket activation (sd_listen_fds(3)): valid
 * only when LISTEN_PID names this process.  Returns how many.
 */
static int
adopt_systemd_sockets(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long n, fd;

	if (pid == NULL || fds == NULL ||
	    strtol(pid, &end, 10) != (long)getpid() || *end != '\0')
		return 0;
	errno = 0;
	n = strtol(fds, &end, 10);
	if (*end != '\0' || n < 1 || n > MAX_LISTENERS) {
		errno = EINVAL;
		die("LISTEN_FDS=%s", fds);
	}
	/* Not for our children, nor read twice. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
		adopt_socket((int)fd);
	return (int)n;
}

/* Write a pid to the pid file; -1 if it could not be written whole. */
static int
pidfile_write(pid_t pid)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
	if (n < 0 || write(pidfile_fd, buf, (size_t)n) != n)
		return -1;
	return 0;
}

/*
 * Detach from the terminal; called once every socket is bound.  The parent
 * returns only when the child is set up, writing the pid file first, so
 * that its exit status and the pid file tell the truth.
 */
static void
daemonize(void)
{
	int ready[2], fd;
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe(ready) == -1)
		die("pipe");
	switch (pid = fork()) {
	case -1:
		die("fork");
		break;
	case 0:
		break;
	default:
		(void)close(ready[1]);
		while ((n = read(ready[0], &c, 1)) == -1 && errno == EINTR)
			;
		if (n != 1)
			_exit(1);	/* the child said why on stderr */
		if (pidfile != NULL && pidfile_write(pid) == -1) {
			(void)kill(pid, SIGTERM);
			die("write %s", pidfile);
		}
		_exit(0);
	}
	(void)close(ready[0]);
	if (setsid() == -1)
		die("setsid");
	if (chdir("/") == -1)
		die("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		die("/dev/null");
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		die("dup2 /dev/null");
	if (fd > STDERR_FILENO)
		(void)close(fd);
	stdout_kind = stderr_kind = OUT_PLAIN;
	if (write(ready[1], "", 1) != 1)
		die("write to parent");
	(void)close(ready[1]);
}

/* Remove the pid file; if we may no longer (after -u), at least empty it. */
static void
pidfile_remove(void)
{
	if (unlink(pidfile) == -1 && ftruncate(pidfile_fd, 0) == -1)
		log_fault(F_PIDFILE, "%s: %s", pidfile, strerror(errno));
	close(pidfile_fd);
}

/* Become uid/gid for good; failing that, refuse to serve at all. */
static void
drop_privileges(const char *user, uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) == -1)
		die("setgroups %s", user);
	if (setgid(gid) == -1)
		die("setgid %s", user);
	if (setuid(uid) == -1)
		die("setuid %s", user);
	if (uid != 0 && setuid(0) != -1) {
		errno = EPERM;
		die("setuid %s: root privileges could be regained", user);
	}
}

static void
log_listening(void)
{
	char line[MAX_LISTENERS * (INET6_ADDRSTRLEN + 24)] = "listening on";
	size_t len = strlen(line);
	int i;

	for (i = 0; i < nlisteners && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s %s %s",
		    i ? "," : "", listeners[i].type == SOCK_STREAM ? "tcp" : "udp",
		    listeners[i].name);
	log_info("%s", line);
}

static void
usage_error(const char *fmt, const char *arg)
{
	(void)fputs("timed: ", stderr);
	(void)fprintf(stderr, fmt, arg);
	(void)fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

/* In inetd mode descriptors 0-2 are the client's socket: keep only 0. */
static void
inetd_setup(void)
{
	socklen_t len = sizeof(int);
	int fd, type;

	/* Run by hand: then standard error is a person, not a client. */
	if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		use_syslog = 0;
		die("-i: standard input");
	}
	if ((fd = open("/dev/null", O_WRONLY)) == -1)
		die("/dev/null");
	if (dup2(fd, STDOUT_FILENO) == -1 || dup2(fd, STDERR_FILENO) == -1)
		die("dup2 /dev/null");
	if (fd > STDERR_FILENO)
		close(fd);
	adopt_socket(STDIN_FILENO);
	exit_when_idle = 1;
}

int
main(int argc, char *argv[])
{
	const char *host = NULL, *user = NULL;
	char port[8] = DEFAULT_PORT;
	struct passwd *pw;
	uid_t uid = 0;
	gid_t gid = 0;
	int ch, family = AF_UNSPEC, tcp = 1, udp = 1, detach = 0, inetd = 0;
	int p, i;
	char opt[3] = "-?";

	opterr = 0;	/* getopt's messages name argv[0], not "timed" */
	while ((ch = getopt(argc, argv, ":46a:dhiP:p:qrTUu:V")) != -1) {
		switch (ch) {
		case '4':
		case '6':
			p = ch == '4' ? AF_INET : AF_INET6;
			if (family != AF_UNSPEC && family != p)
				usage_error("%s", "-4 and -6 exclude each other");
			family = p;
			break;
		case 'a':
			if (*optarg == '\0')
				usage_error("%s", "-a: empty address");
			host = optarg;
			break;
		case 'd':
			detach = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'i':
			inetd = 1;
			break;
		case 'P':
			if (*optarg == '\0')
				usage_error("%s", "-P: empty file name");
			pidfile = optarg;
			break;
		case 'p':
			if ((p = parse_port(optarg)) == -1)
				usage_error("-p %s: not a port number (1-65535) "
				    "or service name", optarg);
			(void)snprintf(port, sizeof(port), "%d", p);
			break;
		case 'q':
			quiet = 1;
			break;
		case 'r':
#ifndef SO_REUSEPORT
			usage_error("%s", "-r: no SO_REUSEPORT on this system");
#endif
			reuse_port = 1;
			break;
		case 'T':
		case 'U':
			if ((ch == 'T' && !tcp) || (ch == 'U' && !udp))
				usage_error("%s", "-T and -U exclude each other");
			tcp = ch == 'T';
			udp = ch == 'U';
			break;
		case 'u':
			if ((pw = getpwnam(optarg)) == NULL)
				usage_error("-u %s: no such user", optarg);
			user = optarg;
			uid = pw->pw_uid;
			gid = pw->pw_gid;
			break;
		case 'V':
			printf("timed %s\n", VERSION);
			return 0;
		case ':':
			opt[1] = (char)optopt;
			usage_error("%s: needs an argument", opt);
			break;
		default:
			opt[1] = (char)optopt;
			usage_error("%s: unknown option", opt);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument: %s", argv[optind]);
	if (detach && inetd)
		usage_error("%s", "-d and -i exclude each other");
	/* -d changes directory to /, where a relative name means another file. */
	if (detach && pidfile != NULL && *pidfile != '/')
		usage_error("-P %s: not an absolute path", pidfile);

	fill_std_descriptors();
	stdout_kind = out_kind(STDOUT_FILENO);
	stderr_kind = out_kind(STDERR_FILENO);
	if (inetd) {
		use_syslog = 1;
		openlog("timed", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
	set_signals();
	if (inetd)
		inetd_setup();
	else if (adopt_systemd_sockets() == 0) {
		if (tcp && listen_all(host, port, family, SOCK_STREAM) == 0)
			return 1;
		if (udp && listen_all(host, port, family, SOCK_DGRAM) == 0)
			return 1;
	}
	if (pidfile != NULL && (pidfile_fd = open(pidfile,
	    O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		die("%s", pidfile);
	if (user != NULL)
		drop_privileges(user, uid, gid);
	if ((spare_fd = open_placeholder()) == -1)
		die("spare descriptor");
	/* Every failure so far reached the terminal; from here on, syslog. */
	if (detach) {
		daemonize();
		use_syslog = 1;
		openlog("timed", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	} else if (pidfile != NULL && pidfile_write(getpid()) == -1)
		die("write %s", pidfile);
	if (nlisteners > 0)
		log_listening();

	serve();

	for (i = 0; i < nlisteners; i++)
		close(listeners[i].fd);
	while (nconns > 0)
		conn_close(nconns - 1);
	if (pidfile != NULL)
		pidfile_remove();
	if (!exit_when_idle || quit_signal)
		log_info("exiting");
	log_flush();
	return 0;
}
