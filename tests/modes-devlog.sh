#!/usr/bin/env bash
#
# modes-devlog.sh DIR COMMAND [ARG...]: run COMMAND with a /dev/log of its
# own, so tests/modes.sh can read what timed sends to syslog(3).
#
# Run it under "unshare --mount --propagation private" as root: the /dev
# seen here is then a fresh tmpfs holding only the real null and a log
# socket whose datagrams are appended to DIR/syslog.  The host's /dev and
# any system logger are left alone.  The listener's pid goes to
# DIR/devlog.pid; it exits by itself after 60 s at most.

dir=$1
shift
mkdir -p "$dir/dev" || exit 1
# Keep a way to the real /dev/null, then cover /dev.
mount --bind /dev "$dir/dev" || exit 1
mount -t tmpfs -o mode=0755 tmpfs /dev || exit 1
: >/dev/null || exit 1
mount --bind "$dir/dev/null" /dev/null || exit 1
umount "$dir/dev" || exit 1

# shellcheck disable=SC2016  # perl code, not shell
perl -MIO::Socket::UNIX -e '
	alarm 60;
	my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => "/dev/log")
	    or die "modes-devlog: /dev/log: $!\n";
	open(my $f, ">>", $ARGV[0]) or die "modes-devlog: $ARGV[0]: $!\n";
	$f->autoflush(1);
	my $m;
	print $f "$m\n" while defined $s->recv($m, 8192);
' "$dir/syslog" </dev/null >/dev/null 2>"$dir/devlog.err" &
echo $! >"$dir/devlog.pid"
for ((i = 0; i < 50; i++)); do
	[ -S /dev/log ] && exec "$@"
	sleep 0.1
done
echo "modes-devlog: no /dev/log: $(cat "$dir/devlog.err")" >&2
exit 1
