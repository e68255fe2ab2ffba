#!/usr/bin/perl
# netns.pl CMD [ARG...]: bring up the loopback interface of the network
# namespace we are in (a new one, made by `unshare --net`), then exec CMD.
# Perl rather than ip(8), which a minimal system may lack.
use strict;
use warnings;
use Socket;

socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "netns.pl: socket: $!\n";
my $req = pack("Z16 x24", "lo");	# struct ifreq is 40 bytes
ioctl($s, 0x8913, $req) or die "netns.pl: SIOCGIFFLAGS lo: $!\n";
my (undef, $flags) = unpack("Z16 s", $req);
ioctl($s, 0x8914, pack("Z16 s x22", "lo", $flags | 1))	# IFF_UP
    or die "netns.pl: SIOCSIFFLAGS lo: $!\n";
exec { $ARGV[0] } @ARGV or die "netns.pl: $ARGV[0]: $!\n";
