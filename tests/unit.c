/*
 * unit: tests of timed's pure functions, built with timed.c included so the
 * static helpers are reachable (its main is renamed out of the way).
 */

#define main timed_main
#include "../timed.c"
#undef main

static int passed, failed, skipped;

/* Days from 1970-01-01 to a civil date (proleptic Gregorian). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static struct timespec
utc(int y, int mo, int d, int h, int mi, int s, long ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(days_from_civil(y, (unsigned)mo, (unsigned)d) *
	    86400 + h * 3600 + mi * 60 + s);
	ts.tv_nsec = ns;
	return ts;
}

static void
check_encode(const char *name, struct timespec ts, uint32_t want)
{
	unsigned char b[4];
	uint32_t got;

	rfc868_encode(&ts, b);
	got = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	if (got == want) {
		printf("ok - encode %s\n", name);
		passed++;
	} else {
		printf("FAIL - encode %s: got 0x%08lx, want 0x%08lx\n", name,
		    (unsigned long)got, (unsigned long)want);
		failed++;
	}
}

static void
check(const char *name, int cond)
{
	printf("%s - %s\n", cond ? "ok" : "FAIL", name);
	if (cond)
		passed++;
	else
		failed++;
}

int
main(void)
{
	/* RFC 868's own examples. */
	check_encode("1970-01-01 (RFC 868: 2,208,988,800)",
	    utc(1970, 1, 1, 0, 0, 0, 0), 2208988800UL);
	check_encode("1976-01-01 (RFC 868: 2,398,291,200)",
	    utc(1976, 1, 1, 0, 0, 0, 0), 2398291200UL);
	check_encode("1980-01-01 (RFC 868: 2,524,521,600)",
	    utc(1980, 1, 1, 0, 0, 0, 0), 2524521600UL);
	check_encode("1983-05-01 (RFC 868: 2,629,584,000)",
	    utc(1983, 5, 1, 0, 0, 0, 0), 2629584000UL);
	check_encode("2026-01-01", utc(2026, 1, 1, 0, 0, 0, 0), 0xed003780UL);
	check_encode("2036-02-07 06:28:15, the last value",
	    utc(2036, 2, 7, 6, 28, 15, 0), 0xffffffffUL);
	check_encode("2036-02-07 06:28:16 wraps to 0",
	    utc(2036, 2, 7, 6, 28, 16, 0), 0);
	check_encode("2036-02-07 06:28:15.5 rounds up and wraps",
	    utc(2036, 2, 7, 6, 28, 15, 500000000L), 0);
	check_encode("rounding: .499999999 rounds down",
	    utc(2026, 1, 1, 0, 0, 0, 499999999L), 0xed003780UL);
	check_encode("rounding: .5 rounds up",
	    utc(2026, 1, 1, 0, 0, 0, 500000000L), 0xed003781UL);
	check_encode("rounding: .999999999 rounds up",
	    utc(2026, 1, 1, 0, 0, 0, 999999999L), 0xed003781UL);
	if (sizeof(time_t) >= 8) {
		check_encode("2038-01-19 03:14:08 (past 32-bit time_t)",
		    utc(2038, 1, 19, 3, 14, 8, 0), 0x03aa7e80UL);
		check_encode("2106-02-07 06:28:15",
		    utc(2106, 2, 7, 6, 28, 15, 0), 0x83aa7e7fUL);
		check_encode("2106-02-07 06:28:16 (past 32-bit unsigned)",
		    utc(2106, 2, 7, 6, 28, 16, 0), 0x83aa7e80UL);
	} else {
		printf("SKIPPED - encode after 2038: 32-bit time_t\n");
		skipped++;
	}

	check("clock unset in 1970",
	    !clock_is_set(&(struct timespec){ 0, 0 }));
	check("clock unset on 2024-12-31 23:59:59",
	    !clock_is_set(&(struct timespec){ utc(2024, 12, 31, 23, 59, 59, 0).tv_sec, 999999999L }));
	check("clock set on 2025-01-01",
	    clock_is_set(&(struct timespec){ utc(2025, 1, 1, 0, 0, 0, 0).tv_sec, 0 }));
	check("clock set after the 2036 wrap",
	    clock_is_set(&(struct timespec){ utc(2036, 2, 7, 6, 28, 16, 0).tv_sec, 0 }));

	check("port 37", parse_port("37") == 37);
	check("port 65535", parse_port("65535") == 65535);
	check("port service name time", parse_port("time") == 37);
	check("port 0 refused", parse_port("0") == -1);
	check("port 65536 refused", parse_port("65536") == -1);
	check("port -1 refused", parse_port("-1") == -1);
	check("port empty refused", parse_port("") == -1);
	check("port 12x refused", parse_port("12x") == -1);
	check("port ' 37' refused", parse_port(" 37") == -1);
	check("port +37 refused", parse_port("+37") == -1);
	check("port 99999999999999999999 refused",
	    parse_port("99999999999999999999") == -1);

	if (skipped)
		printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	else
		printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
