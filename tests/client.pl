#!/usr/bin/env perl
#
# client.pl: RFC 868 test clients that need finer socket control than nc,
# for tests/run.sh.  Every mode is bounded in time.
#
#   client.pl tcp HOST PORT [NSEND]  connect, send NSEND bytes (default 0),
#                                    read until EOF without closing our side;
#                                    the bytes read go to stdout
#   client.pl udp HOST PORT LEN      send one LEN-byte datagram (LEN may be 0);
#                                    the reply goes to stdout
#   client.pl burst HOST PORT N      N connections at once, all left open until
#                                    each sees EOF; one line per connection:
#                                    the 32-bit value, or what went wrong
#   client.pl reset HOST PORT N      N times: connect, then close with a reset
#   client.pl idle HOST PORT MS      read until EOF, stay idle for MS ms,
#                                    then send a byte; prints "open" if the
#                                    server still took it, "reset" if the
#                                    server had closed the connection
#
# Exit status: 0 done, 3 no EOF / no reply in time, 4 socket error
# (message on stderr), 5 a second datagram came back, 2 usage.

use strict;
use warnings;
use Errno qw(EAGAIN EINPROGRESS EWOULDBLOCK);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use IO::Select;
use IO::Socket::IP;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_ERROR SO_LINGER
    inet_aton pack_sockaddr_in);
use Time::HiRes qw(time);

my $EOF_WAIT = 1.0;	# the server shuts down its side at once
my $SETTLE = 0.2;	# after sending, before reading
my $UDP_WAIT = 1.5;	# a reply on loopback takes microseconds
my $EXTRA_WAIT = 0.3;	# how long we look for a second, unwanted datagram
my $BURST_WAIT = 20;	# whole burst, allowing for SYN retransmits

binmode STDOUT;

sub usage {
	print STDERR "usage: client.pl tcp|udp|burst|reset host port [n]\n";
	exit 2;
}

# Connect over TCP or UDP, or die with exit status 4.
sub connect_to {
	my ($host, $port, $proto) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
	    Proto => $proto);
	unless ($s) {
		print STDERR "client.pl: connect $host $port: $@\n";
		exit 4;
	}
	binmode $s;
	return $s;
}

# Read until EOF, leaving our sending side open, so an EOF proves the
# server shut its side down rather than answering our own FIN.
sub tcp_mode {
	my ($host, $port, $nsend) = @_;
	my $s = connect_to($host, $port, 'tcp');
	my ($buf, $got) = ('', '');

	if ($nsend > 0) {
		my $n = syswrite($s, 'x' x $nsend);
		if (!defined $n || $n != $nsend) {
			print STDERR "client.pl: write: $!\n";
			exit 4;
		}
		# Let the bytes land, and any RST they provoke come back.
		select(undef, undef, undef, $SETTLE);
	}
	my $sel = IO::Select->new($s);
	my $deadline = time + $EOF_WAIT;
	for (;;) {
		my $left = $deadline - time;
		if ($left <= 0 || !$sel->can_read($left)) {
			print $got;
			print STDERR "client.pl: no EOF within ${EOF_WAIT}s\n";
			exit 3;
		}
		my $n = sysread($s, $buf, 4096);
		if (!defined $n) {
			print $got;
			print STDERR "client.pl: read: $!\n";
			exit 4;
		}
		last if $n == 0;
		$got .= $buf;
	}
	print $got;
	# Linux reports EOF if the FIN came before a RST; the RST still
	# leaves its error pending here.
	my $e = unpack('i', getsockopt($s, SOL_SOCKET, SO_ERROR));
	if ($e != 0) {
		local $! = $e;
		print STDERR "client.pl: reset after EOF: $!\n";
		exit 4;
	}
	close $s;
	exit 0;
}

# After its close(), the server's kernel answers our data with a RST.
sub idle_mode {
	my ($host, $port, $ms) = @_;
	my $s = connect_to($host, $port, 'tcp');
	my $buf;

	my $sel = IO::Select->new($s);
	my $deadline = time + $EOF_WAIT;
	for (;;) {
		my $left = $deadline - time;
		if ($left <= 0 || !$sel->can_read($left)) {
			print STDERR "client.pl: no EOF within ${EOF_WAIT}s\n";
			exit 3;
		}
		my $n = sysread($s, $buf, 4096);
		if (!defined $n) {
			print STDERR "client.pl: read: $!\n";
			exit 4;
		}
		last if $n == 0;
	}
	select(undef, undef, undef, $ms / 1000);
	$SIG{PIPE} = 'IGNORE';
	my $n = syswrite($s, 'x');
	select(undef, undef, undef, $SETTLE);
	my $e = unpack('i', getsockopt($s, SOL_SOCKET, SO_ERROR));
	print defined $n && $e == 0 ? "open\n" : "reset\n";
	exit 0;
}

# One datagram out, exactly one back.
sub udp_mode {
	my ($host, $port, $len) = @_;
	my $s = connect_to($host, $port, 'udp');
	my $reply;

	unless (defined send($s, 'x' x $len, 0)) {
		print STDERR "client.pl: send: $!\n";
		exit 4;
	}
	my $sel = IO::Select->new($s);
	exit 3 unless $sel->can_read($UDP_WAIT);
	# A refused port (ICMP unreachable) also wakes us, as a failed recv.
	exit 3 unless defined recv($s, $reply, 65536, 0);
	print $reply;
	if ($sel->can_read($EXTRA_WAIT)) {
		print STDERR "client.pl: a second datagram came back\n";
		exit 5;
	}
	exit 0;
}

# A raw non-blocking IPv4 socket with its connect under way.
sub start_connect {
	my ($addr) = @_;
	my $s;

	socket($s, PF_INET, SOCK_STREAM, 0) or die "client.pl: socket: $!\n";
	my $fl = fcntl($s, F_GETFL, 0) or die "client.pl: fcntl: $!\n";
	fcntl($s, F_SETFL, $fl | O_NONBLOCK) or die "client.pl: fcntl: $!\n";
	connect($s, $addr) or $! == EINPROGRESS
	    or die "client.pl: connect: $!\n";
	return $s;
}

# All N connections are opened before any is read, so the server sees
# them queued together.
sub burst_mode {
	my ($host, $port, $n) = @_;
	my $addr = pack_sockaddr_in($port, inet_aton($host));
	my (%sock, %got, %result);
	my $sel = IO::Select->new;

	for my $i (1 .. $n) {
		my $s = start_connect($addr);
		$sock{fileno $s} = $s;
		$got{fileno $s} = '';
		$sel->add($s);
	}
	my $deadline = time + $BURST_WAIT;
	while ($sel->count > 0 && time < $deadline) {
		for my $s ($sel->can_read($deadline - time)) {
			my $fd = fileno $s;
			my $buf;
			my $r = sysread($s, $buf, 64);
			next if !defined $r && ($! == EAGAIN || $! == EWOULDBLOCK);
			if (!defined $r) {
				$result{$fd} = "error $!";
			} elsif ($r > 0) {
				$got{$fd} .= $buf;
				next;
			} elsif (length $got{$fd} == 4) {
				$result{$fd} = unpack('N', $got{$fd});
			} else {
				$result{$fd} = 'short ' . length $got{$fd};
			}
			$sel->remove($s);
			close $s;
		}
	}
	for my $fd (sort { $a <=> $b } keys %sock) {
		print defined $result{$fd} ? $result{$fd} : 'timeout', "\n";
	}
	exit 0;
}

# SO_LINGER {on, 0 s} turns close() into an immediate RST.
sub reset_mode {
	my ($host, $port, $n) = @_;

	for my $i (1 .. $n) {
		my $s = connect_to($host, $port, 'tcp');
		setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0))
		    or die "client.pl: setsockopt SO_LINGER: $!\n";
		close $s;
	}
	exit 0;
}

my ($mode, $host, $port, $n) = @ARGV;
usage() unless defined $port && $port =~ /^\d+$/;
$n = 0 unless defined $n;
usage() unless $n =~ /^\d+$/;
tcp_mode($host, $port, $n) if $mode eq 'tcp';
udp_mode($host, $port, $n) if $mode eq 'udp';
burst_mode($host, $port, $n) if $mode eq 'burst';
reset_mode($host, $port, $n) if $mode eq 'reset';
idle_mode($host, $port, $n) if $mode eq 'idle';
usage();
