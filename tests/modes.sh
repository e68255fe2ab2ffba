#!/usr/bin/env bash
#
# modes.sh: tests for timed the way it runs in production: make install
# and uninstall, daemon mode (-d, -P), dropping privileges (-u), inetd
# mode (-i) under xinetd and OpenBSD inetd, systemd socket activation,
# port sharing (-r), and builds with gcc, clang and musl.  The inetd,
# xinetd and systemd configurations are those in timed.8's EXAMPLES, as
# written but for the path of timed and the port, and README.md must
# carry the same text.
#
# Run after make, from anywhere: tests/modes.sh.  TIMED names the binary
# (default: timed at the top of the tree).  Prints one line per case and
# "N passed, N failed[, N skipped]"; exits 1 if a case failed.  Cases that
# need root, or a tool that is missing, are skipped and say why.  xinetd
# and OpenBSD inetd are taken from PATH or from the unpacked packages that
# tests/modes-debs.sh leaves in MODES_DEBS (default /tmp/timed-modes-debs).
#
# Every server listens on 127.0.0.1 only, on a free port in 33000..39000,
# except the privilege cases, which need port 37: as root they get a
# network namespace of their own, where no one else's test can hold it.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1
top=$(dirname "$here")
TIMED=${TIMED:-$top/timed}
case $TIMED in
/*) ;;
*) TIMED=$PWD/$TIMED ;;
esac
MODES_DEBS=${MODES_DEBS:-/tmp/timed-modes-debs}
CFLAGS_STRICT="-std=c99 -pedantic -Wall -Wextra -Werror -O2"

# shellcheck source=tests/cases.sh
. "$here/cases.sh"

pids=()			# our children still to be stopped
pidfiles=()		# pid files of daemons (and helpers) we may have left
port=""			# set by launch and daemon
pid=""			# set by launch
client_ns=()		# set by launch37: prefix that runs rdate beside timed
dpid=""			# set by daemon: the daemon's pid ...
status=""		# ... and its launcher's exit status ...
launcher=""		# ... and pid ...
launch_ms=""		# ... and how long it took to return

[ -x "$TIMED" ] || { echo "modes.sh: $TIMED: not built (run make)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/timed-modes.XXXXXX") || exit 1
scratch=$tmp		# removed on exit (cases.sh)
# The user nobody runs a copy of timed from here: it must be able to.
chmod 755 "$tmp"
mkdir "$tmp/bin" && cp "$TIMED" "$tmp/bin/timed" && chmod 755 "$tmp/bin/timed" ||
    exit 1
bin=$tmp/bin/timed

# --- processes -------------------------------------------------------

# children PID: the pids of the children of PID.
children() {
	cat /proc/"$1"/task/*/children 2>/dev/null
}

# runs_timed PID: PID runs timed, by itself or under a wrapper: an
# argument of its command line is timed or ends in /timed.  Its name
# (comm) will not do, as make check runs timed under valgrind, whose
# process is called memcheck-amd64-.
runs_timed() {
	local arg args=()
	mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || return 1
	for arg in "${args[@]}"; do
		[[ $arg == timed || $arg == */timed ]] && return 0
	done
	return 1
}

# is_ours PID: PID is a live timed, or one of the helpers we start.
is_ours() {
	local comm
	read -r comm 2>/dev/null <"/proc/$1/comm" || return 1
	case $comm in
	timed | perl | xinetd | inetd | systemd-socket*) return 0 ;;
	esac
	runs_timed "$1"
}

# case_cleanup: stop every process this script started, and their
# children; run calls this after each case, and cleanup on exit.
case_cleanup() {
	local p c f
	for p in "${pids[@]}"; do
		for c in $(children "$p"); do
			is_ours "$c" && kill -KILL "$c" 2>/dev/null
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	pids=()
	for f in "${pidfiles[@]}"; do
		p=""
		read -r p 2>/dev/null <"$f"
		[ -n "$p" ] && is_ours "$p" && kill -KILL "$p" 2>/dev/null
	done
	pidfiles=()
}

# gone PID [TENTHS]: wait up to TENTHS/10 s (default 3 s) for PID to end.
gone() {
	local i
	for ((i = 0; i < ${2:-30}; i++)); do
		[ -e "/proc/$1" ] || return 0
		# A zombie child of ours is gone too, bar the reaping.
		[ "$(stat_field "$1" 0)" = Z ] && return 0
		sleep 0.1
	done
	return 1
}

# stop PID: SIGTERM, then SIGKILL after 3 s; reap it and forget it.
stop() {
	local i
	kill -TERM "$1" 2>/dev/null
	gone "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	for i in "${!pids[@]}"; do
		[ "${pids[i]}" = "$1" ] && unset 'pids[i]'
	done
}

# stat_field PID N: field N of /proc/PID/stat counted from the state (0),
# so ppid is 1, pgrp 2, session 3, tty_nr 4.
stat_field() {
	local line f
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	read -r -a f <<<"${line##*) }"
	echo "${f[$2]}"
}

# ms: the monotonic-enough wall clock in milliseconds.
ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# --- verdicts --------------------------------------------------------

# case_reset: before each case, rdate runs where we do.
case_reset() {
	client_ns=()
}

need_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	why="needs root"
	return "$SKIP"
}

# The prefix that runs a command as nobody:nogroup with no other groups
# when we are root; nothing (we are not root either) otherwise.
nobody=()
[ "$(id -u)" -eq 0 ] &&
    nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

# first_line FILE: the first line of FILE, for messages.
first_line() {
	head -n 1 "$1" 2>/dev/null
}

# --- ports -----------------------------------------------------------

# free_port: a random port in 33000..39000 that no local socket uses.
free_port() {
	local try p
	for ((try = 0; try < 20; try++)); do
		p=$((33000 + RANDOM % 6001))
		awk -v p="$(printf ':%04X' "$p")" \
		    'substr($2, length($2) - 4) == p { found = 1; exit }
		     END { exit !found }' \
		    /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 \
		    2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

# bound PROTO PORT: how many sockets listen (tcp) or are bound (udp) on
# 127.0.0.1:PORT.
bound() {
	local a
	a=$(printf '0100007F:%04X' "$2")
	if [ "$1" = tcp ]; then
		awk -v a="$a" '$2 == a && $4 == "0A" { n++ } END { print n + 0 }' \
		    /proc/net/tcp
	else
		awk -v a="$a" '$2 == a && $4 == "07" { n++ } END { print n + 0 }' \
		    /proc/net/udp
	fi
}

# wait_line PATTERN FILE [TENTHS]: wait (3 s) for an ERE line in FILE.
wait_line() {
	local i
	for ((i = 0; i < ${3:-30}; i++)); do
		grep -Eq -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no line matching '$1' in $(basename "$2")${4:+ ($4)}"
}

# launch NAME READY CMD [ARG...]: start CMD in the background on a free
# port (each @PORT@ in the arguments becomes the port number), output to
# $tmp/NAME.out and .err, and wait up to 5 s until it is ready: READY is
# "timed" (the "listening on" line), "tcp" or "udp" (the port is bound).
# A command that died saying "in use" is tried again on another port.
# Sets port and pid.  With prepare set to a function name, calls it with
# the port first (to write a configuration file).
prepare=""
launch() {
	local name=$1 ready=$2 try i out err
	shift 2
	out=$tmp/$name.out
	err=$tmp/$name.err
	for ((try = 0; try < 5; try++)); do
		port=$(free_port) || { fail "no free port"; return; }
		[ -n "$prepare" ] && { "$prepare" "$port" || return; }
		: >"$out"
		: >"$err"
		"${@//@PORT@/$port}" >"$out" 2>"$err" &
		pid=$!
		pids+=("$pid")
		for ((i = 0; i < 50; i++)); do
			case $ready in
			timed) grep -q '^listening on' "$out" && return 0 ;;
			*) [ "$(bound "$ready" "$port")" -gt 0 ] && return 0 ;;
			esac
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		stop "$pid"
		cat "$tmp/$name".log >>"$err" 2>/dev/null
		grep -q 'in use' "$err" || break
	done
	fail "$name did not start: $(first_line "$err")"
}

# holder PORT: who listens on TCP port PORT, as "COMM (pid PID)".
holder() {
	local inode f
	inode=$(awk -v p="$(printf ':%04X' "$1")" \
	    'substr($2, length($2) - 4) == p && $4 == "0A" { print $10; exit }' \
	    /proc/net/tcp /proc/net/tcp6)
	[ -n "$inode" ] || return
	for f in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "socket:[$inode]" ] || continue
		f=${f#/proc/}
		echo "$(cat "/proc/${f%%/*}/comm" 2>/dev/null) (pid ${f%%/*})"
		return
	done
}

# Bring up the loopback interface of a new network namespace (SIOCGIFFLAGS,
# SIOCSIFFLAGS; struct ifreq is 40 bytes), then exec the arguments.
# shellcheck disable=SC2016  # perl code, not shell
LO_UP='use Socket;
socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
my $r = pack("Z16 x24", "lo");
ioctl($s, 0x8913, $r) or die "SIOCGIFFLAGS lo: $!\n";
my (undef, $f) = unpack("Z16 s", $r);
ioctl($s, 0x8914, pack("Z16 s x22", "lo", $f | 1))
    or die "SIOCSIFFLAGS lo: $!\n";
exec { $ARGV[0] } @ARGV or die "$ARGV[0]: $!\n";'

# launch37 NAME CMD [ARG...]: start CMD (a timed on port 37) in the
# background and wait for its "listening on" line.  Where we can, it runs
# in a network namespace of its own, whose port 37 no one else can hold,
# and rdate_ok follows it there (client_ns).  Otherwise others' tests may
# hold port 37 for a moment, so "in use" is retried after a short sleep;
# if it stays in use for 3 s, the case is skipped.
launch37() {
	local name=$1 try i out=$tmp/$1.out err=$tmp/$1.err netns=()
	shift
	port=37
	if command -v unshare nsenter perl >/dev/null 2>&1 &&
	    unshare --net true 2>/dev/null; then
		netns=(unshare --net perl -e "$LO_UP")
	fi
	for ((try = 0; try < 6; try++)); do
		: >"$out"
		: >"$err"
		"${netns[@]}" "$@" >"$out" 2>"$err" &
		pid=$!
		pids+=("$pid")
		for ((i = 0; i < 50; i++)); do
			if grep -q '^listening on' "$out"; then
				[ ${#netns[@]} -eq 0 ] ||
				    client_ns=(nsenter --net="/proc/$pid/ns/net")
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		stop "$pid"
		grep -q 'in use' "$err" || break
		sleep 0.5
	done
	if grep -q 'in use' "$err"; then
		why="port 37 held by another program for 3 s: $(holder 37)"
		return "$SKIP"
	fi
	fail "$name did not start: $(first_line "$err")"
}

# daemon NAME CMD [ARG...]: run CMD, a "timed -d" launcher, on a free
# port (@PORT@) with the pid file NAME.pid (@PIDFILE@) in $piddir (default
# $tmp), retrying on another port if that one was in use.  Sets port,
# status, launcher, launch_ms and, once the pid file names it (2 s at
# most), dpid.
daemon() {
	local name=$1 try i t0 pf=${piddir:-$tmp}/$1.pid args
	shift
	pidfiles+=("$pf")
	dpid=""
	for ((try = 0; try < 5; try++)); do
		port=$(free_port) || { fail "no free port"; return; }
		args=("${@//@PORT@/$port}")
		t0=$(ms)
		"${args[@]//@PIDFILE@/$pf}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
		launcher=$!
		wait "$launcher"
		status=$?
		launch_ms=$(($(ms) - t0))
		[ "$status" -eq 1 ] && grep -q 'in use' "$tmp/$name.err" && continue
		break
	done
	[ "$status" -eq 0 ] || return 0
	for ((i = 0; i < 20; i++)); do
		read -r dpid 2>/dev/null <"$pf" && [ -n "$dpid" ] && return 0
		sleep 0.1
	done
}

# --- clients ---------------------------------------------------------

# rdate_ok [-u] PORT: rdate fetches the time from 127.0.0.1:PORT (TCP, or
# UDP with -u) and it is the clock's, give or take a second.
rdate_ok() {
	local args=(-p) before after out t
	if [ "$1" = -u ]; then
		args+=(-u)
		shift
	fi
	[ "$1" = 37 ] || args+=(-o "$1")
	before=$(date +%s)
	out=$(TZ=UTC "${client_ns[@]}" timeout 5 rdate "${args[@]}" 127.0.0.1 2>&1)
	t=$?
	after=$(date +%s)
	[ "$t" -eq 0 ] ||
	    fail "rdate ${args[*]} 127.0.0.1 exited $t: ${out:-no output}" || return
	t=$(TZ=UTC date -d "$out" +%s 2>/dev/null) ||
	    fail "rdate ${args[*]} printed '$out'" || return
	((t >= before - 1 && t <= after + 1)) ||
	    fail "rdate ${args[*]} got '$out', $((t - before)) s from the clock"
}

# proc_ids PID: the Uid, Gid and Groups lines of PID, one string.
proc_ids() {
	grep -E '^(Uid|Gid|Groups):' "/proc/$1/status" | tr -s '\t ' ' ' |
	    tr '\n' ';'
}

# --- make install / uninstall ----------------------------------------

# mk LOG TARGET [VAR=VALUE...]: make TARGET at the top of the tree, with
# umask 077 so that modes come from the Makefile, not from the umask.
mk() {
	local log=$1
	shift
	(umask 077 && make -C "$top" "$@") >"$log" 2>&1 ||
	    fail "make $*: $(tail -n 1 "$log")"
}

# installed DIR BIN MAN: DIR holds exactly BIN (mode 755 or 555, and it
# runs) and MAN (mode 644 or 444), nothing else.
installed() {
	local dir=$1 b=$1$2 m=$1$3 mode files
	[ -f "$b" ] || fail "no ${b#"$dir"}" || return
	[ -f "$m" ] || fail "no ${m#"$dir"}" || return
	mode=$(stat -c %a "$b")
	[[ $mode == [75]55 ]] || fail "${b#"$dir"} has mode $mode" || return
	mode=$(stat -c %a "$m")
	[[ $mode == [64]44 ]] || fail "${m#"$dir"} has mode $mode" || return
	"$b" -V | grep -q '^timed ' || fail "${b#"$dir"} -V: $("$b" -V 2>&1)" ||
	    return
	files=$(find "$dir" ! -type d | sort | tr '\n' ' ')
	[ "$files" = "$b $m " ] ||
	    fail "files installed: ${files//"$dir"/}, want ${2} ${3}"
}

# uninstalled DIR: no file is left under DIR.
uninstalled() {
	local files
	files=$(find "$1" ! -type d | tr '\n' ' ')
	[ -z "$files" ] || fail "left behind: ${files//"$1"/}"
}

install_prefix_usr() {
	need make || return
	mk "$tmp/install.log" install DESTDIR="$tmp/d1" PREFIX=/usr || return
	installed "$tmp/d1" /usr/sbin/timed /usr/share/man/man8/timed.8
}

uninstall_prefix_usr() {
	need make || return
	mk "$tmp/install.log" install DESTDIR="$tmp/d2" PREFIX=/usr || return
	mk "$tmp/uninstall.log" uninstall DESTDIR="$tmp/d2" PREFIX=/usr ||
	    return
	uninstalled "$tmp/d2"
}

install_default_prefix() {
	need make || return
	mk "$tmp/install.log" install DESTDIR="$tmp/d3" || return
	installed "$tmp/d3" /usr/local/sbin/timed \
	    /usr/local/share/man/man8/timed.8 || return
	mk "$tmp/uninstall.log" uninstall DESTDIR="$tmp/d3" || return
	uninstalled "$tmp/d3"
}

install_manprefix() {
	need make || return
	mk "$tmp/install.log" install DESTDIR="$tmp/d4" PREFIX=/opt/timed \
	    MANPREFIX=/usr/share/man || return
	installed "$tmp/d4" /opt/timed/sbin/timed \
	    /usr/share/man/man8/timed.8 || return
	mk "$tmp/uninstall.log" uninstall DESTDIR="$tmp/d4" PREFIX=/opt/timed \
	    MANPREFIX=/usr/share/man || return
	uninstalled "$tmp/d4"
}

# --- daemon mode -----------------------------------------------------

# The launcher returns 0 at once, says nothing, and the daemon serves.
daemon_returns() {
	need rdate || return
	daemon d "$bin" -d -a 127.0.0.1 -p @PORT@ -P @PIDFILE@
	[ "$status" -eq 0 ] ||
	    fail "timed -d exited $status: $(first_line "$tmp/d.err")" || return
	((launch_ms < 1000)) || fail "timed -d took $launch_ms ms" || return
	[ -n "$dpid" ] || fail "pid file empty after 2 s" || return
	[ ! -s "$tmp/d.out" ] || fail "stdout: $(first_line "$tmp/d.out")" ||
	    return
	[ ! -s "$tmp/d.err" ] || fail "stderr: $(first_line "$tmp/d.err")" ||
	    return
	rdate_ok "$port" || return
	rdate_ok -u "$port"
}

# The pid file names a live timed that has left our process tree and has
# a session of its own, with no controlling terminal.
daemon_pidfile() {
	local comm ppid sid tty
	daemon d "$bin" -d -a 127.0.0.1 -p @PORT@ -P @PIDFILE@
	[ "$status" -eq 0 ] || fail "timed -d exited $status" || return
	[ -n "$dpid" ] || fail "pid file empty after 2 s" || return
	# The command line, not the name: make check runs timed under valgrind.
	comm=$(tr '\0' ' ' 2>/dev/null <"/proc/$dpid/cmdline")
	[[ $comm == *"timed -d "* ]] ||
	    fail "pid file says $dpid, which is '$comm'" ||
	    return
	ppid=$(stat_field "$dpid" 1)
	sid=$(stat_field "$dpid" 3)
	tty=$(stat_field "$dpid" 4)
	# The launcher has exited: the parent is init or a subreaper.
	[ "$ppid" != "$launcher" ] && [ "$ppid" != "$$" ] ||
	    fail "parent is $ppid, the launcher or this shell" || return
	[ "$sid" = "$dpid" ] || fail "session $sid, not its own ($dpid)" ||
	    return
	[ "$tty" = 0 ] || fail "controlling terminal $tty"
}

# Standard descriptors on /dev/null (char 1:3), working directory /.
daemon_detached() {
	local fd dev cwd
	daemon d "$bin" -d -a 127.0.0.1 -p @PORT@ -P @PIDFILE@
	[ "$status" -eq 0 ] && [ -n "$dpid" ] ||
	    fail "timed -d exited $status, pid '$dpid'" || return
	for fd in 0 1 2; do
		dev=$(stat -L -c '%F %t:%T' "/proc/$dpid/fd/$fd" 2>&1)
		[ "$dev" = "character special file 1:3" ] ||
		    fail "fd $fd is $(readlink "/proc/$dpid/fd/$fd")" || return
	done
	cwd=$(readlink "/proc/$dpid/cwd")
	[ "$cwd" = / ] || fail "working directory $cwd"
}

# SIGTERM: the daemon exits and removes its pid file.
daemon_sigterm() {
	daemon d "$bin" -d -a 127.0.0.1 -p @PORT@ -P @PIDFILE@
	[ "$status" -eq 0 ] && [ -n "$dpid" ] ||
	    fail "timed -d exited $status, pid '$dpid'" || return
	kill -TERM "$dpid"
	gone "$dpid" || fail "still running 3 s after SIGTERM" || return
	[ ! -e "$tmp/d.pid" ] || fail "pid file left: '$(cat "$tmp/d.pid")'"
}

# std_closed FD CMD [ARG...]: run CMD with descriptor FD (0 or 1) closed.
std_closed() {
	local fd=$1
	shift
	case $fd in
	0) "$@" <&- ;;
	1) "$@" >&- ;;
	esac
}

# Started with descriptor FD closed, so that its first socket would take
# that number, timed -d still serves TCP and UDP, and SIGTERM ends it.
daemon_std_closed() {
	need rdate || return
	daemon d std_closed "$1" "$bin" -d -a 127.0.0.1 -p @PORT@ -P @PIDFILE@
	[ "$status" -eq 0 ] && [ -n "$dpid" ] ||
	    fail "timed -d exited $status, pid '$dpid': $(first_line "$tmp/d.err")" ||
	    return
	rdate_ok "$port" || return
	rdate_ok -u "$port" || return
	kill -TERM "$dpid"
	gone "$dpid" || fail "still running 3 s after SIGTERM"
}

# When timed -d returns, its pid file already holds the daemon's pid
# (systemd's PIDFile= and start-stop-daemon read it at once).  Read with
# a builtin right away, 30 times over, as the window is narrow.
daemon_pidfile_ready() {
	local i j p empty=0 pf=$tmp/race.pid
	pidfiles+=("$pf")
	port=$(free_port) || fail "no free port" || return
	for ((i = 0; i < 30; i++)); do
		"$bin" -d -a 127.0.0.1 -p "$port" -P "$pf" 2>"$tmp/race.err" ||
		    fail "timed -d exited $?: $(first_line "$tmp/race.err")" ||
		    return
		p=""
		read -r p <"$pf"
		[ -n "$p" ] || empty=$((empty + 1))
		for ((j = 0; j < 20; j++)); do
			[ -n "$p" ] && break
			sleep 0.1
			read -r p <"$pf"
		done
		[ -n "$p" ] || fail "pid file still empty after 2 s" || return
		kill -TERM "$p"
		gone "$p" || fail "daemon $p did not exit" || return
	done
	[ "$empty" -eq 0 ] ||
	    fail "pid file empty when timed -d returned, $empty times in 30"
}

# With -d, what goes to syslog (facility daemon) and nothing else: a
# private /dev/log catches it (tests/modes-devlog.sh).
daemon_syslog() {
	local log=$tmp/sl/syslog
	need_root || return
	need unshare perl rdate || return
	mkdir -p "$tmp/sl"
	pidfiles+=("$tmp/sl/devlog.pid")
	daemon sl unshare --mount --propagation private \
	    bash "$here/modes-devlog.sh" "$tmp/sl" \
	    "$bin" -d -a 127.0.0.1 -p @PORT@ -P @PIDFILE@
	[ "$status" -eq 0 ] && [ -n "$dpid" ] ||
	    fail "timed -d exited $status, pid '$dpid': $(first_line "$tmp/sl.err")" ||
	    return
	[ ! -s "$tmp/sl.out" ] && [ ! -s "$tmp/sl.err" ] ||
	    fail "printed: $(cat "$tmp/sl.out" "$tmp/sl.err" | head -n 1)" || return
	rdate_ok "$port" || return
	# <30> is LOG_DAEMON | LOG_INFO.
	wait_line "^<30>.*timed\[$dpid\]: listening on tcp 127\.0\.0\.1:$port, udp 127\.0\.0\.1:$port\$" "$log" || return
	wait_line "^<30>.*timed\[$dpid\]: connection from 127\.0\.0\.1 port" "$log"
}

# A port in use stops -d before it forks, and stderr says so.
daemon_bind_fails() {
	local held
	launch hold timed "$bin" -a 127.0.0.1 -p @PORT@ || return
	held=$port
	timeout 5 "$bin" -d -a 127.0.0.1 -p "$held" -P "$tmp/b.pid" \
	    >"$tmp/b.out" 2>"$tmp/b.err"
	status=$?
	pidfiles+=("$tmp/b.pid")
	[ "$status" -eq 1 ] || fail "exited $status, want 1" || return
	grep -q "^timed: bind 127\.0\.0\.1:$held: Address already in use\$" \
	    "$tmp/b.err" ||
	    fail "stderr: '$(first_line "$tmp/b.err")'"
}

# -P must be absolute with -d, which changes directory to /.
daemon_relative_pidfile() {
	port=$(free_port) || fail "no free port" || return
	(cd "$tmp" && timeout 5 "$bin" -d -a 127.0.0.1 -p "$port" -P rel.pid \
	    >"$tmp/rel.out" 2>"$tmp/rel.err")
	status=$?
	pidfiles+=("$tmp/rel.pid")
	[ "$status" -eq 2 ] || fail "exited $status, want 2" || return
	grep -q '^timed: -P rel.pid: not an absolute path$' "$tmp/rel.err" ||
	    fail "stderr: '$(first_line "$tmp/rel.err")'" || return
	grep -q '^usage: timed ' "$tmp/rel.err" || fail "no usage line"
}

# A pid file that cannot be created stops -d, and stderr says why.
daemon_pidfile_error() {
	port=$(free_port) || fail "no free port" || return
	timeout 5 "$bin" -d -a 127.0.0.1 -p "$port" -P "$tmp/no/such/dir.pid" \
	    >"$tmp/pe.out" 2>"$tmp/pe.err"
	status=$?
	[ "$status" -eq 1 ] || fail "exited $status, want 1" || return
	grep -q "^timed: .*$tmp/no/such/dir\.pid.*: No such file or directory\$" \
	    "$tmp/pe.err" ||
	    fail "exit 1, but stderr is '$(first_line "$tmp/pe.err")'"
}

# A privilege drop that fails under -d must not pass for success: the
# launcher exits 1 and stderr names setgroups.
daemon_drop_fails() {
	need setpriv || return
	port=$(free_port) || fail "no free port" || return
	timeout 5 "${nobody[@]}" "$bin" -d -a 127.0.0.1 -p "$port" -u root \
	    >"$tmp/df.out" 2>"$tmp/df.err"
	status=$?
	[ "$status" -eq 1 ] ||
	    fail "exited $status, want 1; stderr '$(first_line "$tmp/df.err")'" ||
	    return
	grep -q '^timed: setgroups root: Operation not permitted$' \
	    "$tmp/df.err" ||
	    fail "stderr: '$(first_line "$tmp/df.err")'"
}

# -d -u nobody: the daemon runs as nobody and, unable to remove its pid
# file from a root-owned directory on SIGTERM, empties it.
daemon_user_pidfile() {
	need_root || return
	mkdir -m 755 "$tmp/run"
	piddir=$tmp/run daemon u "$bin" -d -a 127.0.0.1 -p @PORT@ -P @PIDFILE@ \
	    -u nobody
	[ "$status" -eq 0 ] && [ -n "$dpid" ] ||
	    fail "timed -d exited $status, pid '$dpid'" || return
	grep -q '^Uid:[[:space:]]*65534[[:space:]]' "/proc/$dpid/status" ||
	    fail "runs as $(proc_ids "$dpid")" || return
	kill -TERM "$dpid"
	gone "$dpid" || fail "still running 3 s after SIGTERM" || return
	[ ! -s "$tmp/run/u.pid" ] ||
	    fail "pid file still says '$(cat "$tmp/run/u.pid")'"
}

# --- privileges ------------------------------------------------------

# As root on port 37 with -u nobody: uid, gid and groups are nobody's,
# the supplementary groups it started with (4, 24) dropped.
user_nobody_ids() {
	local ids want
	need_root || return
	need setpriv || return
	launch37 u37 setpriv --groups=4,24 "$bin" -a 127.0.0.1 -p 37 -u nobody ||
	    return
	ids=$(proc_ids "$pid")
	want="Uid: 65534 65534 65534 65534;Gid: 65534 65534 65534 65534;Groups: 65534 ;"
	[ "$ids" = "$want" ] ||
	    [ "$ids" = "${want/Groups: 65534 ;/Groups: ;}" ] ||
	    fail "got '$ids'"
}

user_nobody_tcp() {
	need_root || return
	need rdate || return
	launch37 u37 "$bin" -a 127.0.0.1 -p 37 -u nobody || return
	rdate_ok 37
}

user_nobody_udp() {
	need_root || return
	need rdate || return
	launch37 u37 "$bin" -a 127.0.0.1 -p 37 -u nobody || return
	rdate_ok -u 37
}

user_unknown() {
	timeout 5 "$bin" -a 127.0.0.1 -p 33000 -u nosuchuser \
	    >"$tmp/nu.out" 2>"$tmp/nu.err"
	status=$?
	[ "$status" -eq 2 ] || fail "exited $status, want 2" || return
	grep -q '^timed: -u nosuchuser: no such user$' "$tmp/nu.err" ||
	    fail "stderr: '$(first_line "$tmp/nu.err")'"
}

# Not root, -u root: setgroups(2) is refused, and timed will not serve.
user_not_root_setgroups() {
	need setpriv || return
	port=$(free_port) || fail "no free port" || return
	timeout 5 "${nobody[@]}" "$bin" -a 127.0.0.1 -p "$port" -u root \
	    >"$tmp/sg.out" 2>"$tmp/sg.err"
	status=$?
	[ "$status" -eq 1 ] || fail "exited $status, want 1" || return
	grep -q '^timed: setgroups root: Operation not permitted$' \
	    "$tmp/sg.err" || fail "stderr: '$(first_line "$tmp/sg.err")'"
}

# Not root: port 37 cannot be bound.
user_not_root_port37() {
	local low
	need setpriv || return
	low=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null)
	if [ -n "$low" ] && [ "$low" -le 37 ]; then
		why="net.ipv4.ip_unprivileged_port_start is $low"
		return "$SKIP"
	fi
	timeout 5 "${nobody[@]}" "$bin" -a 127.0.0.1 -p 37 \
	    >"$tmp/p37.out" 2>"$tmp/p37.err"
	status=$?
	[ "$status" -eq 1 ] || fail "exited $status, want 1" || return
	grep -q '^timed: bind 127\.0\.0\.1:37: Permission denied$' \
	    "$tmp/p37.err" || fail "stderr: '$(first_line "$tmp/p37.err")'"
}

# --- the examples in timed.8 -----------------------------------------

# The configurations in the EXAMPLES section of timed.8 are run as
# written: each is taken from the page, and only the path of timed (the
# one make install gives it) and the port are changed.  README.md must
# carry the same text.  Each is known by the line just above its display.
EXAMPLE_BIN=/usr/local/sbin/timed
EX_INETD='.Pq OpenBSD inetd :'
EX_XINETD='.Cm id :'
EX_SOCKET='.Pa timed.socket :'
EX_SERVICE='.Pa timed.service :'

# example AFTER FILE: write to FILE the .Bd -literal display right after
# the line AFTER in the EXAMPLES section of timed.8.  A roff escape or
# request inside it fails the case, as this is no roff renderer.
example() {
	local err
	err=$(awk -v after="$1" '
	/^\.Sh / { if (body) exit; ex = $0 == ".Sh EXAMPLES"; next }
	!ex { next }
	body && $0 == ".Ed" { done = 1; exit }
	body && (/\\/ || /^[.\047]/) { bad = $0; exit }
	body { print; next }
	armed && /^\.Bd -literal/ { body = 1; next }
	{ armed = $0 == after }
	END {
		if (bad != "")
			print "roff in the display after \"" after "\": " \
			    bad >"/dev/stderr"
		else if (!done)
			print "no .Bd -literal display right after \"" after \
			    "\" in EXAMPLES" >"/dev/stderr"
		else
			exit 0
		exit 1
	}' "$top/timed.8" 2>&1 >"$2") || fail "timed.8: ${err:-awk failed}"
}

# readme_same AFTER: README.md has, as an indented code block, the
# display after AFTER in timed.8, line for line but for indentation.
readme_same() {
	local err
	example "$1" "$tmp/ex" || return
	err=$(awk -v wantfile="$tmp/ex" -v after="$1" '
	function strip(s) { sub(/^[ \t]+/, "", s); return s }
	function end_block() {
		if (inblock && cur == want)
			found = 1
		inblock = 0
		cur = pend = ""
	}
	BEGIN {
		while ((getline l <wantfile) > 0)
			want = want strip(l) "\n"
		blank = 1
	}
	{ seen[strip($0)] = 1 }
	/^[ \t]*$/ { if (inblock) pend = pend "\n"; blank = 1; next }
	/^(    |\t)/ && (inblock || blank) {
		inblock = 1
		cur = cur pend strip($0) "\n"
		pend = ""
		next
	}
	{ end_block(); blank = 0 }
	END {
		end_block()
		if (found)
			exit 0
		n = split(want, w, "\n")
		for (i = 1; i < n; i++)
			if (!(w[i] in seen)) {
				print "README.md lacks \"" w[i] "\" (timed.8, after \"" \
				    after "\")"
				exit 1
			}
		print "README.md has no code block equal to the display after \"" \
		    after "\" in timed.8"
		exit 1
	}' "$top/README.md" 2>&1) || fail "${err:-awk failed}"
}

# --- inetd mode ------------------------------------------------------

# find_inetd NAME: the path of xinetd or OpenBSD inetd, from MODES_DEBS
# (tests/modes-debs.sh) first, then PATH; sets LD_LIBRARY_PATH for an
# unpacked one.  Skips the case when there is none.
find_inetd() {
	local r=$MODES_DEBS/root d
	inetd_bin=""
	if [ -x "$r/usr/sbin/$1" ]; then
		inetd_bin=$r/usr/sbin/$1
		for d in "$r"/lib/*-linux-gnu "$r"/usr/lib/*-linux-gnu; do
			[ -d "$d" ] && LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
		done
		export LD_LIBRARY_PATH
	else
		inetd_bin=$(command -v "$1" 2>/dev/null ||
		    command -v "/usr/sbin/$1" 2>/dev/null)
	fi
	[ -n "$inetd_bin" ] && return 0
	why="no $1 (apt-get install $1, or run tests/modes-debs.sh)"
	[ "$1" = inetd ] && why="no inetd (run tests/modes-debs.sh for openbsd-inetd)"
	return "$SKIP"
}

# xinetd_conf PORT: the xinetd services of timed.8 as written, but with
# $bin for /usr/local/sbin/timed and on 127.0.0.1:PORT: port, bind and
# type UNLISTED (a service off its /etc/services port needs it) added.
xinetd_conf() {
	local err
	example "$EX_XINETD" "$tmp/xinetd.ex" || return
	err=$(awk -v port="$1" -v from="$EXAMPLE_BIN" -v to="$bin" '
	/^[ \t]*server[ \t]*=/ && (i = index($0, from)) {
		$0 = substr($0, 1, i - 1) to substr($0, i + length(from))
		servers++
	}
	{ print }
	/^[ \t]*\{[ \t]*$/ {
		print "\ttype = UNLISTED\n\tport = " port "\n\tbind = 127.0.0.1"
		services++
	}
	END {
		if (services && servers == services)
			exit 0
		print services + 0 " services, " servers + 0 " with server = " \
		    from >"/dev/stderr"
		exit 1
	}' "$tmp/xinetd.ex" 2>&1 >"$tmp/xinetd.conf") ||
	    fail "timed.8's xinetd example: $err"
}

# launch_inetd CONF LOG NAME CMD [ARG...]: launch (see there) an inetd
# as NAME, with CONF writing its configuration for the port, and wait
# for its UDP socket too; LOG is where it says why it has none.
launch_inetd() {
	local conf=$1 log=$2 name=$3 inetd=${4##*/} i
	shift 3
	prepare=$conf
	launch "$name" tcp "$@"
	i=$?
	prepare=""
	[ "$i" -eq 0 ] || return "$i"
	for ((i = 0; i < 30; i++)); do
		[ "$(bound udp "$port")" -gt 0 ] && return 0
		sleep 0.1
	done
	fail "$inetd bound no UDP socket: $(first_line "$log")"
}

# start_xinetd: xinetd in the foreground on a free port, TCP and UDP up;
# it logs to xi.log (there is no defaults section to say so).
start_xinetd() {
	need_root || return
	need rdate || return
	find_inetd xinetd || return
	launch_inetd xinetd_conf "$tmp/xi.log" xi "$inetd_bin" -dontfork \
	    -f "$tmp/xinetd.conf" -pidfile "$tmp/xinetd.pid" \
	    -filelog "$tmp/xi.log"
}

xinetd_tcp() {
	start_xinetd || return
	rdate_ok "$port"
}

xinetd_udp() {
	start_xinetd || return
	rdate_ok -u "$port"
}

# spawned PARENT: the pid of the timed PARENT started (1 s at most).
spawned() {
	local i c
	for ((i = 0; i < 10; i++)); do
		for c in $(children "$1"); do
			runs_timed "$c" && { echo "$c"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

# -i on a TCP connection: timed waits for the client to close, then
# exits at once (not at its 3 s deadline).  Times count from the answer,
# as timed may take a second to start under valgrind.
inetd_tcp_exits() {
	local fd child n t0
	start_xinetd || return
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" ||
	    fail "cannot connect to 127.0.0.1:$port" || return
	n=$(timeout 5 head -c 4 <&"$fd" | wc -c)
	t0=$(ms)
	[ "$n" -eq 4 ] || { exec {fd}<&-; fail "got $n bytes, want 4"; return; }
	child=$(spawned "$pid") ||
	    { exec {fd}<&-; fail "no timed child of xinetd"; return; }
	sleep 0.5
	[ -e "/proc/$child" ] ||
	    { exec {fd}<&-; fail "timed -i exited before the client closed"; return; }
	exec {fd}<&-
	gone "$child" 10 ||
	    fail "timed -i still running 1 s after the client closed" || return
	(($(ms) - t0 < 2500)) ||
	    fail "exited only $(($(ms) - t0)) ms after the answer"
}

# -i on a UDP socket (wait): timed answers, then exits after ~2 s quiet.
inetd_udp_idle() {
	local child t0 t
	start_xinetd || return
	rdate_ok -u "$port" || return
	t0=$(ms)
	child=$(spawned "$pid") || fail "no timed child of xinetd" || return
	gone "$child" 50 || fail "timed -i still running after 5 s" || return
	t=$(($(ms) - t0))
	((t >= 1500 && t <= 3500)) ||
	    fail "exited $t ms after the answer, want about 2000"
}

# inetd_conf PORT: the inetd.conf lines of timed.8 as written, but with
# 127.0.0.1:PORT for the service time and $bin for /usr/local/sbin/timed.
inetd_conf() {
	local err
	example "$EX_INETD" "$tmp/inetd.ex" || return
	err=$(awk -v port="$1" -v from="$EXAMPLE_BIN" -v to="$bin" '
	/^[ \t]*(#|$)/ { print; next }
	!/^time[ \t]/ || !(i = index($0, from)) { bad = $0; exit }
	{
		print "127.0.0.1:" port substr($0, 5, i - 5) to \
		    substr($0, i + length(from))
		n++
	}
	END {
		if (bad == "" && n)
			exit 0
		print "want \"time ... " from " ...\", got \"" bad "\"" \
		    >"/dev/stderr"
		exit 1
	}' "$tmp/inetd.ex" 2>&1 >"$tmp/inetd.conf") ||
	    fail "timed.8's inetd.conf lines: $err"
}

start_inetd() {
	need_root || return
	need rdate || return
	find_inetd inetd || return
	launch_inetd inetd_conf "$tmp/in.err" in "$inetd_bin" -d "$tmp/inetd.conf"
}

inetd_tcp() {
	start_inetd || return
	rdate_ok "$port"
}

inetd_udp() {
	start_inetd || return
	rdate_ok -u "$port"
}

# --- systemd socket activation ---------------------------------------

# systemd-socket-activate, like systemd, gives the command it starts no
# environment but TERM, PATH, HOME, the LISTEN_ variables and what -E
# names.  -E passes on what a wrapper in TIMED reads: TIMED_BIN, where
# tests/valgrind.sh (copied to $bin) finds timed, and the sanitizers'
# options.
sd_env=()
for v in TIMED_BIN ASAN_OPTIONS UBSAN_OPTIONS; do
	[ -n "${!v+set}" ] && sd_env+=(-E "$v")
done

# Accept=no, ListenStream=: timed adopts the listener, opens nothing else.
sd_tcp() {
	need systemd-socket-activate rdate || return
	launch sd tcp systemd-socket-activate "${sd_env[@]}" \
	    -l "127.0.0.1:@PORT@" "$bin" || return
	rdate_ok "$port" || return
	wait_line '^listening on' "$tmp/sd.out" || return
	grep -qx "listening on tcp 127\.0\.0\.1:$port" "$tmp/sd.out" ||
	    fail "timed said '$(grep '^listening' "$tmp/sd.out")'"
}

# ListenDatagram=: timed adopts the UDP socket, opens nothing else.
sd_udp() {
	need systemd-socket-activate rdate || return
	launch sd udp systemd-socket-activate "${sd_env[@]}" --datagram \
	    -l "127.0.0.1:@PORT@" "$bin" || return
	rdate_ok -u "$port" || return
	wait_line '^listening on' "$tmp/sd.out" || return
	grep -qx "listening on udp 127\.0\.0\.1:$port" "$tmp/sd.out" ||
	    fail "timed said '$(grep '^listening' "$tmp/sd.out")'"
}

# Accept=yes: one timed per connection, handed the connected socket as
# fd 3; it answers, opens no socket of its own, and exits.
sd_accept() {
	local child
	need systemd-socket-activate rdate || return
	launch sd tcp systemd-socket-activate "${sd_env[@]}" -a \
	    -l "127.0.0.1:@PORT@" "$bin" || return
	rdate_ok "$port" || return
	wait_line '^connection from 127\.0\.0\.1 port' "$tmp/sd.out" || return
	! grep -q '^listening on' "$tmp/sd.out" ||
	    fail "timed opened its own sockets: $(grep '^listening' "$tmp/sd.out")" ||
	    return
	for child in $(children "$pid"); do
		gone "$child" 20 || fail "timed $child still running 2 s later" ||
		    return
	done
}

# units DIR: timed.socket and timed.service of timed.8 in DIR, as written
# but with $bin in ExecStart=, as systemd-analyze verify wants it to exist.
units() {
	mkdir -p "$1" || return
	example "$EX_SOCKET" "$1/timed.socket" || return
	example "$EX_SERVICE" "$tmp/service.ex" || return
	awk -v from="ExecStart=$EXAMPLE_BIN" -v to="ExecStart=$bin" '
	index($0, from) == 1 { $0 = to substr($0, length(from) + 1); n++ }
	{ print }
	END { exit !n }' "$tmp/service.ex" >"$1/timed.service" ||
	    fail "timed.8's timed.service has no ExecStart=$EXAMPLE_BIN"
}

# verify [OPTION...]: systemd-analyze verify on the units, which must
# exit 0 and say nothing about them.
verify() {
	local said
	units "$tmp/units" || return
	timeout 60 systemd-analyze verify "$@" "$tmp/units/timed.socket" \
	    "$tmp/units/timed.service" >"$tmp/verify.out" 2>&1
	status=$?
	said=$(grep -E 'timed\.(socket|service)' "$tmp/verify.out" | head -n 1)
	[ -z "$said" ] || fail "${said//"$tmp/units/"/}" || return
	[ "$status" -eq 0 ] ||
	    fail "exited $status: $(first_line "$tmp/verify.out")"
}

sd_verify() {
	need systemd-analyze || return
	verify --man=no
}

# Documentation=man:timed(8) is this page: man(1) sees only it.
sd_verify_man() {
	need systemd-analyze man || return
	mkdir -p "$tmp/man/man8" && cp "$top/timed.8" "$tmp/man/man8/" ||
	    fail "cannot copy timed.8" || return
	MANPATH=$tmp/man verify --man=yes
}

# unit_cmd: ExecStart= of timed.8's timed.service, with $bin for
# /usr/local/sbin/timed, in unit_cmd, once timed.8's timed.socket is
# found to ask for no more than the stand-in for systemd does: a TCP
# listener and a UDP socket on one port.
unit_cmd=()
unit_cmd() {
	local socket port exec
	example "$EX_SOCKET" "$tmp/socket.ex" || return
	example "$EX_SERVICE" "$tmp/service.ex" || return
	socket=$(awk '/^\[/ { s = $0; next } s == "[Socket]" && NF' \
	    "$tmp/socket.ex" | sort)
	port=${socket##*ListenStream=}
	[ "$socket" = "ListenDatagram=$port"$'\n'"ListenStream=$port" ] ||
	    fail "timed.8's timed.socket: [Socket] is not just ListenStream= and ListenDatagram= of one port" ||
	    return
	exec=$(sed -n 's/^ExecStart=//p' "$tmp/service.ex")
	case $exec in
	*[\"\'\\%\$]* | *$'\n'*)
		fail "timed.8's timed.service: ExecStart=$exec: more than words to split"
		return
		;;
	"$EXAMPLE_BIN" | "$EXAMPLE_BIN "*) ;;
	*)
		fail "timed.8's timed.service: ExecStart=$exec, not $EXAMPLE_BIN"
		return
		;;
	esac
	read -r -a unit_cmd <<<"$bin${exec#"$EXAMPLE_BIN"}"
}

# timed.8's timed.socket and timed.service: the TCP listener and the UDP
# socket on one port handed over by a stand-in for systemd, which
# systemd-socket-activate cannot do (its --datagram applies to every -l),
# and ExecStart= run as nobody if we are root (DynamicUser=yes).
sd_units() {
	need perl rdate || return
	[ ${#nobody[@]} -eq 0 ] || need setpriv || return
	unit_cmd || return
	launch sdb timed perl "$here/modes-activate.pl" 127.0.0.1 @PORT@ \
	    "${nobody[@]}" "${unit_cmd[@]}" || return
	grep -qx "listening on tcp 127\.0\.0\.1:$port, udp 127\.0\.0\.1:$port" \
	    "$tmp/sdb.out" ||
	    fail "timed said '$(grep '^listening' "$tmp/sdb.out")'" || return
	rdate_ok "$port" || return
	rdate_ok -u "$port"
}

# LISTEN_PID names another process: the variables are not for us, so
# timed opens its own sockets (and leaves fd 3, not a socket, alone).
sd_other_pid() {
	need rdate || return
	launch lp timed env LISTEN_PID=1 LISTEN_FDS=1 \
	    "$bin" -a 127.0.0.1 -p @PORT@ 3</dev/null || return
	grep -qx "listening on tcp 127\.0\.0\.1:$port, udp 127\.0\.0\.1:$port" \
	    "$tmp/lp.out" ||
	    fail "timed said '$(grep '^listening' "$tmp/lp.out")'" || return
	rdate_ok "$port" || return
	rdate_ok -u "$port"
}

# --- -r --------------------------------------------------------------

# Two timed -r on one port both start and both listen.
reuseport_shared() {
	local first
	need rdate || return
	launch r1 timed "$bin" -r -a 127.0.0.1 -p @PORT@ || return
	first=$pid
	: >"$tmp/r2.out"
	"$bin" -r -a 127.0.0.1 -p "$port" >"$tmp/r2.out" 2>"$tmp/r2.err" &
	pid=$!
	pids+=("$pid")
	wait_line '^listening on' "$tmp/r2.out" 50 \
	    "stderr: $(first_line "$tmp/r2.err")" || return
	kill -0 "$first" 2>/dev/null || fail "the first one died" || return
	[ "$(bound tcp "$port")" -eq 2 ] ||
	    fail "$(bound tcp "$port") TCP listeners on the port, want 2" ||
	    return
	[ "$(bound udp "$port")" -eq 2 ] ||
	    fail "$(bound udp "$port") UDP sockets on the port, want 2" ||
	    return
	rdate_ok "$port" || return
	rdate_ok -u "$port"
}

# Without -r the second timed on a port fails.
reuseport_needed() {
	launch r1 timed "$bin" -a 127.0.0.1 -p @PORT@ || return
	timeout 5 "$bin" -a 127.0.0.1 -p "$port" >"$tmp/r2.out" 2>"$tmp/r2.err"
	status=$?
	[ "$status" -eq 1 ] || fail "second one exited $status, want 1" ||
	    return
	grep -q "^timed: bind 127\.0\.0\.1:$port: Address already in use\$" \
	    "$tmp/r2.err" || fail "stderr: '$(first_line "$tmp/r2.err")'"
}

# --- portability -----------------------------------------------------

# build CC: CC builds timed.c with every warning an error, and says nothing.
build() {
	need "$1" || return
	# shellcheck disable=SC2086  # CFLAGS_STRICT is a list of words
	"$1" $CFLAGS_STRICT -o "$tmp/timed-$1" "$top/timed.c" \
	    >"$tmp/cc-$1.out" 2>&1 ||
	    fail "$1 failed: $(first_line "$tmp/cc-$1.out")" || return
	[ ! -s "$tmp/cc-$1.out" ] ||
	    fail "$1 said: $(first_line "$tmp/cc-$1.out")"
}

# The musl build answers over TCP, and it is musl that it runs on.
musl_serves() {
	need musl-gcc rdate || return
	if [ ! -x "$tmp/timed-musl-gcc" ]; then
		build musl-gcc || return
	fi
	launch musl timed "$tmp/timed-musl-gcc" -a 127.0.0.1 -p @PORT@ ||
	    return
	grep -q 'musl' "/proc/$pid/maps" ||
	    fail "not running on musl's libc" || return
	rdate_ok "$port"
}

run "make install DESTDIR PREFIX=/usr: sbin/timed 755, man8/timed.8 644" install_prefix_usr
run "make uninstall DESTDIR PREFIX=/usr: both files gone" uninstall_prefix_usr
run "make install: PREFIX defaults to /usr/local" install_default_prefix
run "make install: MANPREFIX places the man page" install_manprefix
run "-d: returns 0 at once, prints nothing, daemon serves" daemon_returns
run "-d: pid file names a session leader, parent gone" daemon_pidfile
run "-d: fds 0-2 are /dev/null, cwd is /" daemon_detached
run "-d: SIGTERM removes the pid file" daemon_sigterm
run "-d started with stdin closed: serves TCP and UDP" daemon_std_closed 0
run "-d started with stdout closed: serves TCP and UDP" daemon_std_closed 1
run "-d: pid file written before timed -d returns" daemon_pidfile_ready
run "-d: logs go to syslog, facility daemon" daemon_syslog
run "-d: port in use: 'timed: bind' on stderr, exit 1" daemon_bind_fails
run "-d: relative -P exits 2" daemon_relative_pidfile
run "-d: pid file cannot be created: stderr says why, exit 1" daemon_pidfile_error
run "-d: failed privilege drop: stderr says why, exit 1" daemon_drop_fails
run "-d -u nobody: SIGTERM empties the pid file it cannot remove" daemon_user_pidfile
run "-u nobody on port 37: uid, gid and groups are nobody's" user_nobody_ids
run "-u nobody on port 37: serves TCP" user_nobody_tcp
run "-u nobody on port 37: serves UDP" user_nobody_udp
run "-u nosuchuser: exit 2 with a message" user_unknown
run "not root, -u root: setgroups fails, exit 1" user_not_root_setgroups
run "not root, port 37: bind Permission denied, exit 1" user_not_root_port37
run "xinetd stream nowait: timed -i answers TCP" xinetd_tcp
run "xinetd dgram wait: timed -i answers UDP" xinetd_udp
run "-i TCP: exits as soon as the client closes" inetd_tcp_exits
run "-i UDP: exits after about 2 s quiet" inetd_udp_idle
run "OpenBSD inetd stream nowait: timed -i answers TCP" inetd_tcp
run "OpenBSD inetd dgram wait: timed -i answers UDP" inetd_udp
run "README.md: inetd.conf lines as in timed.8" readme_same "$EX_INETD"
run "README.md: xinetd services as in timed.8" readme_same "$EX_XINETD"
run "README.md: timed.socket as in timed.8" readme_same "$EX_SOCKET"
run "README.md: timed.service as in timed.8" readme_same "$EX_SERVICE"
run "systemd-socket-activate: TCP listener adopted" sd_tcp
run "systemd-socket-activate --datagram: UDP socket adopted" sd_udp
run "systemd-socket-activate -a: connection on fd 3 answered, then exit" sd_accept
run "timed.8's timed.socket and timed.service: TCP and UDP adopted" sd_units
run "LISTEN_PID of another process: own sockets opened" sd_other_pid
run "systemd-analyze verify: timed.8's units exit 0, say nothing" sd_verify
run "systemd-analyze verify: Documentation=man:timed(8) is timed.8" sd_verify_man
run "-r: two servers share one port" reuseport_shared
run "no -r: a second server on the port exits 1" reuseport_needed
run "gcc $CFLAGS_STRICT: no warnings" build gcc
run "clang $CFLAGS_STRICT: no warnings" build clang
run "musl-gcc $CFLAGS_STRICT: no warnings" build musl-gcc
run "musl build serves TCP" musl_serves
summary
