#!/usr/bin/perl
#
# modes-activate.pl HOST PORT COMMAND [ARG...]: what systemd does for a
# socket unit with both ListenStream=PORT and ListenDatagram=PORT, which
# systemd-socket-activate cannot (its --datagram applies to every -l).
# Binds a TCP listener and a UDP socket on HOST:PORT, hands them over as
# descriptors 3 and 4 the sd_listen_fds(3) way, and execs COMMAND in this
# same process, so LISTEN_PID names it.  A wrapper that execs in turn
# (setpriv) keeps the pid too.

use strict;
use warnings;
use Socket qw(PF_INET SOCK_STREAM SOCK_DGRAM SOL_SOCKET SO_REUSEADDR
    SOMAXCONN inet_aton pack_sockaddr_in);
use POSIX ();

@ARGV >= 3 or die "usage: modes-activate.pl HOST PORT COMMAND [ARG...]\n";
my ($host, $port, @cmd) = @ARGV;
my $addr = pack_sockaddr_in($port, inet_aton($host) // die "$host: bad address\n");

socket(my $tcp, PF_INET, SOCK_STREAM, 0) or die "socket tcp: $!\n";
setsockopt($tcp, SOL_SOCKET, SO_REUSEADDR, 1) or die "SO_REUSEADDR: $!\n";
bind($tcp, $addr) or die "bind tcp $host:$port: $!\n";
listen($tcp, SOMAXCONN) or die "listen $host:$port: $!\n";
socket(my $udp, PF_INET, SOCK_DGRAM, 0) or die "socket udp: $!\n";
bind($udp, $addr) or die "bind udp $host:$port: $!\n";

# Park both out of the way, then place them; dup2(2) leaves close-on-exec
# off, unlike the descriptors perl opens itself.
POSIX::dup2(fileno($tcp), 100) // die "dup2: $!\n";
POSIX::dup2(fileno($udp), 101) // die "dup2: $!\n";
close($tcp);
close($udp);
POSIX::dup2(100, 3) // die "dup2: $!\n";
POSIX::dup2(101, 4) // die "dup2: $!\n";
POSIX::close(100);
POSIX::close(101);

$ENV{LISTEN_FDS} = 2;
$ENV{LISTEN_PID} = $$;
$ENV{LISTEN_FDNAMES} = 'timed.socket:timed.socket';
exec { $cmd[0] } @cmd or die "$cmd[0]: $!\n";
