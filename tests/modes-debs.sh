#!/bin/sh
#
# modes-debs.sh [DIR]: fetch Debian's xinetd and openbsd-inetd (and the
# libwrap0 both link) with apt-get download and unpack them under DIR/root
# (default /tmp/timed-modes-debs), where tests/modes.sh looks for them.
# Nothing is installed system-wide and no service starts; the two packages
# conflict with each other, so they could not both be installed anyway.
set -eu
dir=${1:-${MODES_DEBS:-/tmp/timed-modes-debs}}
mkdir -p "$dir/root"
cd "$dir"
for pkg in libwrap0 xinetd openbsd-inetd; do
	[ -e ".$pkg" ] && continue
	if ! apt-get download "$pkg" >/dev/null 2>&1; then
		apt-get update -q >/dev/null
		apt-get download "$pkg" >/dev/null
	fi
	for deb in "$pkg"_*.deb; do
		dpkg -x "$deb" root
	done
	touch ".$pkg"
done
echo "$dir/root"
