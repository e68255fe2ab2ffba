/*
 * loadgen: a closed-loop load generator for RFC 868 time servers, for the
 * benchmark in tests/bench/run.sh.  Loopback addresses only.
 *
 *   TCP (default): C clients, each connects, reads to EOF, checks the reply
 *   is exactly 4 bytes within CLOCK_SLACK seconds of our clock, closes, and
 *   starts again, for the given number of seconds.
 *   UDP (-u): C requests outstanding, each an empty datagram from its own
 *   socket; no reply within the timeout counts as lost.
 *   Burst (-b): C clients connect at the same instant, once each.
 *
 * Prints one line of key=value pairs on stdout and, unless -q, a line for
 * people on stderr.  Latency percentiles cover correct replies only.
 * ISC licence in ../../LICENSE.
 */

#define _POSIX_C_SOURCE 200809L

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RFC868_EPOCH	2208988800UL	/* 1900-01-01 to 1970-01-01, seconds */
#define CLOCK_SLACK	2	/* seconds a reply may differ from our clock */
#define MAX_CLIENTS	100000
#define FD_SPARE	16	/* descriptors beyond one per client */
#define REPLY_MAX	8	/* bytes read per request; more than 4 is "long" */
#define UDP_DRAIN	64	/* stale datagrams thrown away before a request */
#define MAX_SAMPLES	(1UL << 24)	/* latencies kept: 64 MiB at most */
#define STUCK_US	1000000	/* in flight this long at the end: "stuck" */

enum mode { MODE_TCP, MODE_UDP, MODE_BURST };

enum outcome { OK, REFUSED, RESET, SHORT, LONG, WRONG, TIMEOUT, OTHER, NOUTCOME };

static const char *const outcome_name[NOUTCOME] = {
	"ok", "refused", "reset", "short", "long", "wrong", "timeout", "other"
};

/* One client: a TCP connection in flight, or a UDP socket and its request. */
struct slot {
	int	 fd;		/* -1: no socket */
	int	 busy;		/* a request is in flight */
	int64_t	 start;		/* monotonic us when the request began */
	size_t	 got;
	unsigned char buf[REPLY_MAX];
};

struct stats {
	unsigned long count[NOUTCOME];
	unsigned long abandoned;	/* in flight when the time was up */
	unsigned long stuck;		/* of those, waiting over STUCK_US */
	int64_t	 oldest;		/* us, the longest of those waits */
	uint32_t *lat;			/* us, correct replies only */
	size_t	 nlat, cap;
	int	 last_errno;		/* of the last "other" failure */
};

struct bench {
	enum mode mode;
	int	 nclients;
	double	 seconds;
	int	 timeout_ms;
	int	 quiet;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct slot *slots;
	struct pollfd *pfd;
	struct stats st;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: loadgen [-bqu] [-c clients] [-d seconds] "
	    "[-t timeout_ms] host port\n");
}

static int64_t
now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(1, "clock_gettime");
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Is the 4-byte big-endian reply within CLOCK_SLACK s of our own clock? */
static int
reply_is_right(const unsigned char b[4])
{
	struct timespec ts;
	uint32_t v, ours, diff;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(1, "clock_gettime");
	v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	/* Modulo 2^32 both ways, so the 2036 wrap needs no special case. */
	ours = (uint32_t)((unsigned long long)ts.tv_sec + RFC868_EPOCH);
	diff = v - ours;
	return diff <= CLOCK_SLACK || diff >= 0xffffffffUL - CLOCK_SLACK + 1;
}

static enum outcome
outcome_of_errno(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return REFUSED;
	case ECONNRESET:
	case EPIPE:
		return RESET;
	case ETIMEDOUT:
		return TIMEOUT;
	default:
		return OTHER;
	}
}

static void
sample_add(struct stats *st, uint32_t us)
{
	uint32_t *p;
	size_t cap;

	if (st->nlat == st->cap) {
		if (st->cap == MAX_SAMPLES)
			return;		/* the percentiles come from the first 16M */
		cap = st->cap ? st->cap * 2 : 65536;
		if ((p = realloc(st->lat, cap * sizeof(*p))) == NULL)
			err(1, "realloc");
		st->lat = p;
		st->cap = cap;
	}
	st->lat[st->nlat++] = us;
}

/* Count a finished request; close its socket in TCP and burst modes. */
static void
slot_finish(struct bench *b, struct slot *s, enum outcome o, int e)
{
	int64_t t = now_us() - s->start;

	b->st.count[o]++;
	if (o == OTHER)
		b->st.last_errno = e;
	if (o == OK)
		sample_add(&b->st, t > UINT32_MAX ? UINT32_MAX : (uint32_t)t);
	s->busy = 0;
	if (b->mode != MODE_UDP && s->fd != -1) {
		if (close(s->fd) == -1)
			warn("close");
		s->fd = -1;
	}
}

/*
 * Drop a request still in flight when the time is up: it is neither right
 * nor wrong, but one waiting long (a SYN dropped by a full backlog, say)
 * is "stuck", and the longest wait is kept: latencies cover replies only.
 */
static void
slot_abandon(struct bench *b, struct slot *s)
{
	int64_t age = now_us() - s->start;

	b->st.abandoned++;
	if (age > STUCK_US)
		b->st.stuck++;
	if (age > b->st.oldest)
		b->st.oldest = age;
	s->busy = 0;
	if (close(s->fd) == -1)
		warn("close");
	s->fd = -1;
}

static int
open_socket(const struct bench *b, int type)
{
	int fd, fl;

	if ((fd = socket(b->addr.ss_family, type, 0)) == -1)
		return -1;
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		err(1, "fcntl O_NONBLOCK");
	return fd;
}

/* Start a TCP request: a non-blocking connect; the reply comes via poll(). */
static void
tcp_start(struct bench *b, struct slot *s)
{
	s->start = now_us();
	s->busy = 1;
	s->got = 0;
	if ((s->fd = open_socket(b, SOCK_STREAM)) == -1) {
		slot_finish(b, s, OTHER, errno);
		return;
	}
	if (connect(s->fd, (struct sockaddr *)&b->addr, b->addrlen) == -1 &&
	    errno != EINPROGRESS)
		slot_finish(b, s, outcome_of_errno(errno), errno);
}

/* What a TCP reply of s->got bytes, ended by EOF, counts as. */
static enum outcome
tcp_verdict(const struct slot *s)
{
	if (s->got < 4)
		return SHORT;
	if (s->got > 4)
		return LONG;
	return reply_is_right(s->buf) ? OK : WRONG;
}

/* Read what the server sent; finish the request at EOF or on an error. */
static void
tcp_readable(struct bench *b, struct slot *s)
{
	ssize_t n;
	int i;

	/* Each turn reads at least a byte or ends, so this bound is never hit. */
	for (i = 0; i < REPLY_MAX + 2; i++) {
		n = read(s->fd, s->buf + s->got, sizeof(s->buf) - s->got);
		if (n > 0) {
			s->got += (size_t)n;
			if (s->got == sizeof(s->buf)) {
				slot_finish(b, s, LONG, 0);
				return;
			}
			continue;
		}
		if (n == 0) {
			slot_finish(b, s, tcp_verdict(s), 0);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno != EINTR) {
			slot_finish(b, s, outcome_of_errno(errno), errno);
			return;
		}
	}
}

/* Send an empty datagram, first throwing away late replies to old ones. */
static void
udp_start(struct bench *b, struct slot *s)
{
	unsigned char junk[REPLY_MAX];
	int i;

	s->start = now_us();
	s->busy = 1;
	if (s->fd == -1) {
		if ((s->fd = open_socket(b, SOCK_DGRAM)) == -1) {
			slot_finish(b, s, OTHER, errno);
			return;
		}
		/* Connected: replies from anyone else are dropped by the kernel. */
		if (connect(s->fd, (struct sockaddr *)&b->addr, b->addrlen) == -1)
			err(1, "connect (udp)");
	}
	for (i = 0; i < UDP_DRAIN; i++)
		if (recv(s->fd, junk, sizeof(junk), 0) == -1 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
	if (send(s->fd, junk, 0, 0) == -1)
		slot_finish(b, s, outcome_of_errno(errno), errno);
}

static void
udp_readable(struct bench *b, struct slot *s)
{
	ssize_t n;

	n = recv(s->fd, s->buf, sizeof(s->buf), 0);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			slot_finish(b, s, outcome_of_errno(errno), errno);
		return;
	}
	if (n < 4)
		slot_finish(b, s, SHORT, 0);
	else if (n > 4)
		slot_finish(b, s, LONG, 0);
	else
		slot_finish(b, s, reply_is_right(s->buf) ? OK : WRONG, 0);
}

/* Start a new request on every idle slot (TCP and UDP modes). */
static void
start_idle(struct bench *b)
{
	int i;

	for (i = 0; i < b->nclients; i++)
		if (!b->slots[i].busy) {
			if (b->mode == MODE_UDP)
				udp_start(b, &b->slots[i]);
			else
				tcp_start(b, &b->slots[i]);
		}
}

/* Fill the poll set; returns ms until the earliest timeout or end, or -1 if idle. */
static int
fill_pollset(struct bench *b, int64_t now, int64_t end)
{
	int64_t wake = end, t;
	int i, busy = 0;

	for (i = 0; i < b->nclients; i++) {
		b->pfd[i].fd = b->slots[i].busy ? b->slots[i].fd : -1;
		b->pfd[i].events = POLLIN;
		b->pfd[i].revents = 0;
		if (!b->slots[i].busy)
			continue;
		busy = 1;
		t = b->slots[i].start + (int64_t)b->timeout_ms * 1000;
		if (t < wake)
			wake = t;
	}
	if (!busy)
		return -1;
	t = wake > now ? (wake - now + 999) / 1000 : 0;
	return t > INT_MAX ? INT_MAX : (int)t;
}

/* Handle what poll() reported and the requests that ran out of time. */
static void
handle_events(struct bench *b)
{
	int64_t now = now_us(), limit = (int64_t)b->timeout_ms * 1000;
	struct slot *s;
	int i;

	for (i = 0; i < b->nclients; i++) {
		s = &b->slots[i];
		if (!s->busy)
			continue;
		if (b->pfd[i].revents != 0) {
			if (b->mode == MODE_UDP)
				udp_readable(b, s);
			else
				tcp_readable(b, s);
		}
		if (s->busy && now - s->start >= limit)
			slot_finish(b, s, TIMEOUT, 0);
	}
}

/*
 * The poll() loop, until end.  In the closed-loop modes every finished
 * request is followed at once by the next; a burst ends when all are done.
 */
static void
run(struct bench *b, int64_t end)
{
	int64_t now;
	int wait, i;

	while ((now = now_us()) < end) {
		if (b->mode != MODE_BURST)
			start_idle(b);
		if ((wait = fill_pollset(b, now, end)) == -1)
			break;
		if (poll(b->pfd, (nfds_t)b->nclients, wait) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		handle_events(b);
	}
	for (i = 0; i < b->nclients; i++) {
		if (b->slots[i].busy) {
			if (b->mode == MODE_BURST)
				slot_finish(b, &b->slots[i], TIMEOUT, 0);
			else
				slot_abandon(b, &b->slots[i]);
		}
	}
}

/* Every client connects in one tight loop; then wait for all replies. */
static void
run_burst(struct bench *b)
{
	int64_t t0;
	int i;

	for (i = 0; i < b->nclients; i++)
		if ((b->slots[i].fd = open_socket(b, SOCK_STREAM)) == -1)
			err(1, "socket (client %d of %d)", i + 1, b->nclients);
	t0 = now_us();
	for (i = 0; i < b->nclients; i++) {
		/* The clock starts for all at once: "slowest" is since t0. */
		b->slots[i].start = t0;
		b->slots[i].busy = 1;
		if (connect(b->slots[i].fd, (struct sockaddr *)&b->addr,
		    b->addrlen) == -1 && errno != EINPROGRESS)
			slot_finish(b, &b->slots[i], outcome_of_errno(errno),
			    errno);
	}
	run(b, t0 + (int64_t)b->timeout_ms * 1000);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile, p in thousandths; the samples are sorted. */
static uint32_t
percentile(const struct stats *st, unsigned p)
{
	uint64_t rank;

	if (st->nlat == 0)
		return 0;
	rank = ((uint64_t)st->nlat * p + 999) / 1000;
	return st->lat[rank > 0 ? rank - 1 : 0];
}

static void
report(struct bench *b, double elapsed)
{
	static const char *const mode_name[] = { "tcp", "udp", "burst" };
	const struct stats *st = &b->st;
	double rps = elapsed > 0 ? st->count[OK] / elapsed : 0;
	int i;

	qsort(st->lat, st->nlat, sizeof(*st->lat), cmp_u32);
	printf("mode=%s clients=%d seconds=%.3f rps=%.1f", mode_name[b->mode],
	    b->nclients, elapsed, rps);
	for (i = 0; i < NOUTCOME; i++)
		printf(" %s=%lu", outcome_name[i], st->count[i]);
	printf(" abandoned=%lu stuck=%lu oldest_us=%lld", st->abandoned,
	    st->stuck, (long long)st->oldest);
	printf(" p50_us=%lu p99_us=%lu p999_us=%lu max_us=%lu\n",
	    (unsigned long)percentile(st, 500),
	    (unsigned long)percentile(st, 990), (unsigned long)percentile(st, 999),
	    (unsigned long)percentile(st, 1000));
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	if (b->quiet)
		return;
	fprintf(stderr, "loadgen: %s, %d clients, %.1f s: %lu correct, %.0f/s; "
	    "latency us p50 %lu p99 %lu p99.9 %lu max %lu; failed:",
	    mode_name[b->mode], b->nclients, elapsed, st->count[OK], rps,
	    (unsigned long)percentile(st, 500), (unsigned long)percentile(st, 990),
	    (unsigned long)percentile(st, 999), (unsigned long)percentile(st, 1000));
	for (i = 1; i < NOUTCOME; i++)
		fprintf(stderr, " %s %lu", outcome_name[i], st->count[i]);
	if (st->count[OTHER] > 0)
		fprintf(stderr, " (last: %s)", strerror(st->last_errno));
	if (st->stuck > 0)
		fprintf(stderr, "; %lu waited over %d s (longest %lld us)",
		    st->stuck, STUCK_US / 1000000, (long long)st->oldest);
	fputc('\n', stderr);
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	return sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
}

/* Resolve a numeric host and port; only loopback addresses are targets. */
static void
resolve(struct bench *b, const char *host, const char *port)
{
	struct addrinfo hints, *res;
	int e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = b->mode == MODE_UDP ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(2, "%s port %s: %s", host, port, gai_strerror(e));
	if (!is_loopback(res->ai_addr))
		errx(2, "%s: not a loopback address; this is a local benchmark",
		    host);
	memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
	b->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* One descriptor per client and a few more; raise the limit if need be. */
static void
raise_nofile(int nclients)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)nclients + FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
		return;
	if (rl.rlim_cur == RLIM_INFINITY)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_max = need;	/* only root may do this */
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "setrlimit RLIMIT_NOFILE to %lu", (unsigned long)need);
}

static long
parse_long(const char *arg, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		warnx("%s %s: not a number from %ld to %ld", what, arg, min, max);
		usage(stderr);
		exit(2);
	}
	return v;
}

static double
parse_seconds(const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (*arg == '\0' || *end != '\0' || errno != 0 || !(v >= 0.1) ||
	    v > 3600) {
		warnx("-d %s: not a number of seconds from 0.1 to 3600", arg);
		usage(stderr);
		exit(2);
	}
	return v;
}

int
main(int argc, char *argv[])
{
	struct bench b;
	int64_t t0;
	int ch, i;

	memset(&b, 0, sizeof(b));
	b.nclients = 1;
	b.seconds = 2;
	b.timeout_ms = -1;
	while ((ch = getopt(argc, argv, "bc:d:hqt:u")) != -1) {
		switch (ch) {
		case 'b':
		case 'u':
			if (b.mode != MODE_TCP) {
				warnx("-b and -u exclude each other");
				usage(stderr);
				return 2;
			}
			b.mode = ch == 'b' ? MODE_BURST : MODE_UDP;
			break;
		case 'c':
			b.nclients = (int)parse_long(optarg, "-c", 1, MAX_CLIENTS);
			break;
		case 'd':
			b.seconds = parse_seconds(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'q':
			b.quiet = 1;
			break;
		case 't':
			b.timeout_ms = (int)parse_long(optarg, "-t", 1, 600000);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	if (b.timeout_ms == -1)
		b.timeout_ms = b.mode == MODE_UDP ? 1000 :
		    b.mode == MODE_TCP ? 5000 : 10000;
	resolve(&b, argv[optind], argv[optind + 1]);
	raise_nofile(b.nclients);
	if ((b.slots = calloc((size_t)b.nclients, sizeof(*b.slots))) == NULL ||
	    (b.pfd = calloc((size_t)b.nclients, sizeof(*b.pfd))) == NULL)
		err(1, "calloc");
	for (i = 0; i < b.nclients; i++)
		b.slots[i].fd = -1;

	t0 = now_us();
	if (b.mode == MODE_BURST)
		run_burst(&b);
	else
		run(&b, t0 + (int64_t)(b.seconds * 1e6));
	report(&b, (now_us() - t0) / 1e6);
	return 0;
}
