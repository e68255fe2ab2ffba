.POSIX:

CC = cc
CFLAGS = -std=c99 -pedantic -Wall -Wextra -O2
LDFLAGS =
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

all: timed

timed: timed.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ timed.c

tests/unit: tests/unit.c timed.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/unit.c

test: timed tests/unit
	tests/run.sh

install: timed
	mkdir -p $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANPREFIX)/man8
	cp -f timed $(DESTDIR)$(PREFIX)/sbin/timed
	chmod 755 $(DESTDIR)$(PREFIX)/sbin/timed
	cp -f timed.8 $(DESTDIR)$(MANPREFIX)/man8/timed.8
	chmod 644 $(DESTDIR)$(MANPREFIX)/man8/timed.8

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/timed $(DESTDIR)$(MANPREFIX)/man8/timed.8

clean:
	rm -f timed tests/unit

.PHONY: all test install uninstall clean
