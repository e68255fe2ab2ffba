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

clean:
	rm -f timed tests/unit

.PHONY: all test clean
