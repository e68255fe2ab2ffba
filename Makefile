.POSIX:

CC = cc
CFLAGS = -std=c99 -pedantic -Wall -Wextra -O2
LDFLAGS =
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man
# make check: AddressSanitizer and UndefinedBehaviorSanitizer, fatal at once.
SANFLAGS = -std=c99 -pedantic -Wall -Wextra -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all

all: timed

timed: timed.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ timed.c

tests/unit: tests/unit.c timed.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/unit.c

test: timed tests/unit
	tests/run.sh

timed-asan: timed.c
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ timed.c

tests/unit-asan: tests/unit.c timed.c
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ tests/unit.c

# The adversarial battery: about 2 minutes, some cases need root.
stress: timed
	CC='$(CC)' tests/stress/run.sh

# Side by side with OpenBSD inetd, xinetd and a naive server; needs root.
bench: timed
	tests/bench/run.sh

# Warnings as errors and static analysis, then the whole suite under the
# sanitizers and under valgrind.
check: timed tests/unit timed-asan tests/unit-asan
	tests/check.sh
	UNIT=tests/unit-asan TIMED=./timed-asan tests/run.sh
	TIMED_BIN="$$(pwd)/timed" UNIT="tests/valgrind.sh unit" \
	    TIMED=tests/valgrind.sh tests/run.sh

install: timed
	mkdir -p $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANPREFIX)/man8
	cp -f timed $(DESTDIR)$(PREFIX)/sbin/timed
	chmod 755 $(DESTDIR)$(PREFIX)/sbin/timed
	cp -f timed.8 $(DESTDIR)$(MANPREFIX)/man8/timed.8
	chmod 644 $(DESTDIR)$(MANPREFIX)/man8/timed.8

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/timed $(DESTDIR)$(MANPREFIX)/man8/timed.8

clean:
	rm -f timed tests/unit timed-asan tests/unit-asan

.PHONY: all test stress bench check install uninstall clean
