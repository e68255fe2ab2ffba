#!/usr/bin/env bash
#
# run.sh: integration tests for timed.  Run from the top of the tree,
# after make; TIMED names the binary (default ./timed).  Prints one line
# per case and "N passed, N failed"; exits 1 if any case failed.

# As root, run in a network namespace of our own, so that port 37 and the
# others are ours alone, whatever else runs on the machine.
if [ "$(id -u)" = 0 ] && [ -z "${TIMED_TEST_NETNS:-}" ] &&
    unshare --net true 2>/dev/null; then
	export TIMED_TEST_NETNS=1
	exec unshare --net perl "$(dirname "$0")/netns.pl" bash "$0" "$@"
fi

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# --- TCP -------------------------------------------------------------

# tcp_answer HOST: nc gets exactly 4 bytes of the current time, then EOF.
tcp_answer() {
	start_timed "$TIMED" || return
	expect_answer nc tcp_nc "$1" "$srv_port" "$tmp/got"
}

# The server shuts down its side at once: EOF comes while ours is open.
tcp_eof_first() {
	start_timed "$TIMED" || return
	expect_answer client client tcp 127.0.0.1 "$srv_port"
}

# What a client sends is read and dropped, so close() sends no RST.
tcp_client_talks() {
	start_timed "$TIMED" || return
	expect_answer client client tcp 127.0.0.1 "$srv_port" 100
}

# linger MS WANT: a client idle MS ms after EOF finds the connection WANT
# ("open": the server still waits for it to close; "reset": it gave up).
linger() {
	local got
	start_timed "$TIMED" || return
	got=$(client idle 127.0.0.1 "$srv_port" "$1" 2>"$tmp/err") ||
	    fail "client: $(cat "$tmp/err")" || return
	[ "$got" = "$2" ] || fail "after $1 ms idle: '$got', want '$2'"
}

# --- UDP -------------------------------------------------------------

# udp_empty HOST: an empty datagram gets one 4-byte datagram back.
udp_empty() {
	start_timed "$TIMED" || return
	expect_answer client client udp "$1" "$srv_port" 0
}

# udp_one_byte HOST: nc's one-byte datagram gets 4 bytes back.
udp_one_byte() {
	start_timed "$TIMED" || return
	expect_answer nc udp_nc "$1" "$srv_port" "$tmp/got"
}

# Replies to ports below 1024 could start a loop with another service.
# A few tries, as another test run may hold the port we pick.
udp_low_port() {
	local status i
	need_root || return
	start_timed "$TIMED" || return
	for ((i = 0; i < 3; i++)); do
		udp_nc 127.0.0.1 "$srv_port" "$tmp/got" -p $((512 + RANDOM % 512))
		status=$?
		[ "$status" -eq 0 ] && break
	done
	expect_status "nc -p 512..1023" "$status" 0 || return
	expect_bytes 0 "$tmp/got"
}

# --- Unset clock -----------------------------------------------------

# Run timed as if its clock had never been set.  faketime preloads a
# library, which an AddressSanitizer build must be told to accept.
UNSET=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    faketime '2000-01-01 00:00:00')

unset_clock_tcp() {
	local status
	need faketime || return
	start_timed "${UNSET[@]}" "$TIMED" || return
	tcp_nc 127.0.0.1 "$srv_port" "$tmp/got"
	status=$?
	expect_status "nc (connection refused?)" "$status" 0 || return
	expect_bytes 0 "$tmp/got"
}

unset_clock_udp() {
	local status
	need faketime || return
	start_timed "${UNSET[@]}" "$TIMED" || return
	client udp 127.0.0.1 "$srv_port" 1 >"$tmp/got" 2>"$tmp/err"
	status=$?
	expect_bytes 0 "$tmp/got" || return
	expect_status client "$status" 3 || return
	# Not answered, so not logged as answered either.
	expect_no_line stdout '^datagram from' "$srv_out"
}

unset_clock_logged() {
	need faketime || return
	start_timed "${UNSET[@]}" "$TIMED" || return
	tcp_nc 127.0.0.1 "$srv_port" "$tmp/got"
	wait_for 'clock' "$srv_err"
}

# --- Real clients ----------------------------------------------------

# rdate_answer [RDATE-ARG...]: Debian's rdate prints the time it got.
rdate_answer() {
	local before after out status
	need rdate || return
	start_timed "$TIMED" || return
	before=$(date +%s)
	out=$(timeout 10 rdate -p "$@" -o "$srv_port" 127.0.0.1 2>&1)
	status=$?
	after=$(date +%s)
	expect_status "rdate ($out)" "$status" 0 || return
	expect_ctime_now "$out" "$before" "$after"
}

# net_time PROTO: Perl's Net::Time returns unix time; it only uses port 37.
net_time() {
	local before after got
	need_root || return
	start_fixed 37 "$TIMED" || return
	before=$(date +%s)
	# shellcheck disable=SC2016  # $ARGV is perl's
	got=$(timeout 10 perl -MNet::Time=inet_time \
	    -e 'print inet_time("127.0.0.1", $ARGV[0], 5) // "undef"' "$1")
	after=$(date +%s)
	[[ $got =~ ^[0-9]+$ ]] || fail "inet_time returned '$got'" || return
	((got >= before - 1 && got <= after + 1)) ||
	    fail "inet_time returned $got, clock said $before..$after"
}

# busybox rdate: port 37 only.
busybox_rdate() {
	local before after out status
	need busybox || return
	need_root || return
	start_fixed 37 "$TIMED" || return
	before=$(date +%s)
	out=$(timeout 10 busybox rdate -p 127.0.0.1 2>&1)
	status=$?
	after=$(date +%s)
	expect_status "busybox rdate ($out)" "$status" 0 || return
	expect_ctime_now "$out" "$before" "$after"
}

# "-p time" is the service name for port 37.
port_by_name() {
	local before after
	need_root || return
	start_fixed time "$TIMED" || return
	before=$(date +%s)
	tcp_nc 127.0.0.1 37 "$tmp/got"
	after=$(date +%s)
	expect_time "$tmp/got" "$before" "$after"
}

# --- Logging ---------------------------------------------------------

still_waiting() {
	local n
	start_timed "$TIMED" || return
	sleep 3
	n=$(grep -c '^still waiting$' "$srv_out")
	((n >= 2 && n <= 4)) || fail "$n 'still waiting' lines in 3 s, want 2..4"
}

# The log names the client's own source port, picked below both the
# servers' ports and the kernel's ephemeral ones.
log_tcp_client() {
	local sport=$((10000 + RANDOM % 10000))
	start_timed "$TIMED" || return
	timeout 5 nc -N -p "$sport" 127.0.0.1 "$srv_port" </dev/null >"$tmp/got"
	expect_bytes 4 "$tmp/got" || return
	wait_for "^connection from 127\.0\.0\.1 port $sport\$" "$srv_out"
}

log_udp_client() {
	local sport=$((10000 + RANDOM % 10000))
	start_timed "$TIMED" || return
	udp_nc ::1 "$srv_port" "$tmp/got" -p "$sport"
	expect_bytes 4 "$tmp/got" || return
	wait_for "^datagram from ::1 port $sport\$" "$srv_out"
}

# -q: still serving, but no routine lines.
quiet() {
	start_timed "$TIMED" -q || return
	tcp_nc 127.0.0.1 "$srv_port" "$tmp/got"
	expect_bytes 4 "$tmp/got" || return
	udp_nc 127.0.0.1 "$srv_port" "$tmp/got"
	expect_bytes 4 "$tmp/got" || return
	sleep 2
	expect_no_line stdout '^still waiting' "$srv_out" || return
	expect_no_line stdout '^(connection|datagram) from' "$srv_out"
}

# stdout is a pipe that timed shares with whatever writes to it after
# timed has gone: that writer must find the pipe as it was, blocking, and
# get all its bytes through to a reader that is slow to start.
shared_stdout_pipe() {
	local port=$((20000 + RANDOM % 12001)) pf=$tmp/shared.pid pipeline i p=""
	rm -f "$pf" "$tmp/go" "$tmp/head.status"
	{
		timeout 20 "$TIMED" -a 127.0.0.1 -p "$port" -P "$pf" 2>"$tmp/err"
		head -c 300000 /dev/zero 2>"$tmp/head.err"
		echo "$?" >"$tmp/head.status"
	} | {
		for ((i = 0; i < 100; i++)); do
			[ -e "$tmp/go" ] && break
			sleep 0.1
		done
		tr -cd '\000' | wc -c >"$tmp/count"
	} &
	pipeline=$!
	for ((i = 0; i < 50; i++)); do
		read -r p 2>/dev/null <"$pf" && [ -n "$p" ] && break
		sleep 0.1
	done
	[ -n "$p" ] && tcp_nc 127.0.0.1 "$port" "$tmp/got"
	[ -n "$p" ] && kill -TERM "$p"
	# head meets a full pipe before the reader starts.
	sleep 0.5
	touch "$tmp/go"
	wait "$pipeline"
	[ -n "$p" ] || fail "timed did not start: $(head -n 1 "$tmp/err")" ||
	    return
	expect_bytes 4 "$tmp/got" || return
	[ "$(cat "$tmp/head.status")" = 0 ] ||
	    fail "head exited $(cat "$tmp/head.status")" || return
	[ "$(($(cat "$tmp/count")))" -eq 300000 ] ||
	    fail "$(($(cat "$tmp/count"))) of head's 300000 bytes came through"
}

# --- Signals ---------------------------------------------------------

# stop_by SIGNAL: exit status 0, "exiting" as the last line.
stop_by() {
	start_timed "$TIMED" || return
	stop_timed "$1"
	expect_status timed "$srv_status" 0 || return
	[ "$(tail -n 1 "$srv_out")" = exiting ] ||
	    fail "last line '$(tail -n 1 "$srv_out")', want 'exiting'"
}

# --- Command line ----------------------------------------------------

# bad_usage ARG...: exit 2, one message and the usage line on stderr.
bad_usage() {
	local status
	timeout 5 "$TIMED" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect_status timed "$status" 2 || return
	expect_bytes 0 "$tmp/out" || return
	[ "$(wc -l <"$tmp/err")" -eq 2 ] ||
	    fail "stderr has $(wc -l <"$tmp/err") lines, want 2" || return
	[[ $(head -n 1 "$tmp/err") == "timed: "* ]] ||
	    fail "message '$(head -n 1 "$tmp/err")', want 'timed: ...'" ||
	    return
	[[ $(tail -n 1 "$tmp/err") == "usage: timed"* ]] ||
	    fail "no usage line on stderr"
}

# -i run by hand, with no socket on standard input: exit 1, and say why.
inetd_not_socket() {
	local status
	timeout 5 "$TIMED" -i </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect_status timed "$status" 1 || return
	expect_line stderr '^timed: -i: standard input: .*socket' "$tmp/err"
}

version() {
	local status
	timeout 5 "$TIMED" -V >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect_status timed "$status" 0 || return
	[[ $(cat "$tmp/out") =~ ^timed\ [0-9][^[:space:]]*$ ]] ||
	    fail "stdout '$(cat "$tmp/out")', want 'timed VERSION'" || return
	expect_bytes 0 "$tmp/err"
}

help_usage() {
	local status
	timeout 5 "$TIMED" -h >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect_status timed "$status" 0 || return
	[[ $(head -n 1 "$tmp/out") == "usage: timed "* ]] ||
	    fail "stdout '$(head -n 1 "$tmp/out")', want 'usage: timed ...'" ||
	    return
	expect_bytes 0 "$tmp/err"
}

# A second server on a busy port fails with a message naming the port.
port_in_use() {
	local status
	start_timed "$TIMED" || return
	timeout 5 "$TIMED" -p "$srv_port" >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect_status "second timed" "$status" 1 || return
	expect_line stderr ":$srv_port: Address already in use" "$tmp/err" ||
	    return
	kill -0 "$srv_pid" 2>/dev/null || fail "first server died"
}

# TIME_WAIT left by a served client must not block a restart.
restart() {
	local port
	start_timed "$TIMED" || return
	tcp_nc 127.0.0.1 "$srv_port" "$tmp/got"
	expect_bytes 4 "$tmp/got" || return
	stop_timed
	port=$srv_port
	start_on "$port" "$TIMED"
}

# --- Transports, families, addresses ---------------------------------

# serves_tcp HOST [TIMED-ARG...]: a server started with ARGs answers on HOST.
serves_tcp() {
	local host=$1 before after
	shift
	start_timed "$TIMED" "$@" || return
	before=$(date +%s)
	tcp_nc "$host" "$srv_port" "$tmp/got"
	after=$(date +%s)
	expect_time "$tmp/got" "$before" "$after"
}

serves_udp() {
	local host=$1 before after
	shift
	start_timed "$TIMED" "$@" || return
	before=$(date +%s)
	client udp "$host" "$srv_port" 1 >"$tmp/got" 2>"$tmp/err"
	after=$(date +%s)
	expect_time "$tmp/got" "$before" "$after"
}

# refuses_tcp HOST [TIMED-ARG...]: nothing answers TCP on HOST.
refuses_tcp() {
	local host=$1 status
	shift
	start_timed "$TIMED" "$@" || return
	tcp_nc "$host" "$srv_port" "$tmp/got"
	status=$?
	expect_bytes 0 "$tmp/got" || return
	[ "$status" -ne 0 ] || fail "nc connected"
}

# ignores_udp HOST [TIMED-ARG...]: nothing answers UDP on HOST.
ignores_udp() {
	local host=$1 status
	shift
	start_timed "$TIMED" "$@" || return
	client udp "$host" "$srv_port" 1 >"$tmp/got" 2>"$tmp/err"
	status=$?
	expect_bytes 0 "$tmp/got" || return
	expect_status client "$status" 3
}

# --- Load ------------------------------------------------------------

# Every one of 500 simultaneous clients gets the right time.
burst() {
	local before after value good=0 bad=""
	start_timed "$TIMED" -q || return
	before=$(date +%s)
	client burst 127.0.0.1 "$srv_port" 500 >"$tmp/got"
	after=$(date +%s)
	while read -r value; do
		if [[ $value =~ ^[0-9]+$ ]] && time_ok "$value" "$before" "$after"
		then
			good=$((good + 1))
		else
			bad=${bad:-$value}
		fi
	done <"$tmp/got"
	[ "$good" -eq 500 ] || fail "$good of 500 good, first bad: '$bad'"
}

# 200 clients that reset at once do not stop the server.
resets() {
	local before after status
	start_timed "$TIMED" -q || return
	client reset 127.0.0.1 "$srv_port" 200 2>"$tmp/err"
	status=$?
	expect_status "client ($(cat "$tmp/err"))" "$status" 0 || return
	kill -0 "$srv_pid" 2>/dev/null || fail "server died" || return
	before=$(date +%s)
	tcp_nc 127.0.0.1 "$srv_port" "$tmp/got"
	after=$(date +%s)
	expect_time "$tmp/got" "$before" "$after" || return
	stop_timed
	expect_status timed "$srv_status" 0
}

# --- The cases -------------------------------------------------------

if [ ! -x "$TIMED" ]; then
	echo "run.sh: $TIMED: not built" >&2
	exit 1
fi
for tool in nc od timeout perl setsid; do
	command -v "$tool" >/dev/null 2>&1 && continue
	echo "SKIPPED - all cases: no $tool"
	skipped=1
	summary
	exit
done

# UNIT may carry arguments ("tests/valgrind.sh unit").
# shellcheck disable=SC2086
suite ${UNIT:-tests/unit}

run "tcp 127.0.0.1: 4 bytes of now, then EOF" tcp_answer 127.0.0.1
run "tcp ::1: 4 bytes of now, then EOF" with_ipv6 tcp_answer ::1
run "tcp: EOF comes before the client closes" tcp_eof_first
run "tcp: client sends 100 bytes, still a clean EOF" tcp_client_talks
run "tcp: server waits for a slow client to close" linger 500 open
run "tcp: server gives up on a client after ~3 s" linger 4500 reset
run "udp 127.0.0.1: empty datagram answered" udp_empty 127.0.0.1
run "udp ::1: empty datagram answered" with_ipv6 udp_empty ::1
run "udp 127.0.0.1: one-byte datagram answered" udp_one_byte 127.0.0.1
run "udp ::1: one-byte datagram answered" with_ipv6 udp_one_byte ::1
run "udp: no reply to a source port below 1024" udp_low_port
run "unset clock: tcp gets 0 bytes" unset_clock_tcp
run "unset clock: udp gets no reply" unset_clock_udp
run "unset clock: stderr says why" unset_clock_logged
run "rdate over tcp" rdate_answer
run "rdate over udp" rdate_answer -u
run "Net::Time inet_time over tcp" net_time tcp
run "Net::Time inet_time over udp" net_time udp
run "busybox rdate" busybox_rdate
run "-p time is port 37" port_by_name
run "log: 'still waiting' once a second" still_waiting
run "log: 'connection from 127.0.0.1 port N'" log_tcp_client
run "log: 'datagram from ::1 port N'" with_ipv6 log_udp_client
run "-q: no routine log lines" quiet
run "stdout pipe: a later writer to it still blocks, loses nothing" shared_stdout_pipe
run "SIGTERM: exit 0, 'exiting'" stop_by TERM
run "SIGINT: exit 0, 'exiting'" stop_by INT
run "bad usage: -p 0" bad_usage -p 0
run "bad usage: -p 70000" bad_usage -p 70000
run "bad usage: -p nosuchservice" bad_usage -p nosuchservice
run "bad usage: -z" bad_usage -z
run "bad usage: -p with no argument" bad_usage -p
run "bad usage: -p ' 80'" bad_usage -p ' 80'
run "bad usage: -p +80" bad_usage -p +80
run "bad usage: extra operand" bad_usage -p 8037 extra
run "bad usage: -T with -U" bad_usage -T -U
run "bad usage: -4 with -6" bad_usage -4 -6
run "-V prints the version" version
run "-h prints usage" help_usage
run "-i with no socket on stdin: exit 1, stderr says so" inetd_not_socket
run "port in use: exit 1, port named" port_in_use
run "restart on the port just served" restart
run "-T serves tcp" serves_tcp 127.0.0.1 -T
run "-T ignores udp" ignores_udp 127.0.0.1 -T
run "-U serves udp" serves_udp 127.0.0.1 -U
run "-U refuses tcp" refuses_tcp 127.0.0.1 -U
run "-4 serves 127.0.0.1" serves_tcp 127.0.0.1 -4
run "-4 refuses ::1" with_ipv6 refuses_tcp ::1 -4
run "-6 serves ::1" with_ipv6 serves_tcp ::1 -6
run "-6 refuses 127.0.0.1" with_ipv6 refuses_tcp 127.0.0.1 -6
run "-a 127.0.0.1 serves tcp" serves_tcp 127.0.0.1 -a 127.0.0.1
run "-a 127.0.0.1 serves udp" serves_udp 127.0.0.1 -a 127.0.0.1
run "-a 127.0.0.1 refuses ::1" with_ipv6 refuses_tcp ::1 -a 127.0.0.1
run "-a ::1 serves ::1" with_ipv6 serves_tcp ::1 -a ::1
run "burst of 500 connections all answered" burst
run "200 resets, still serving" resets

# Install, -d, -u, -i, systemd sockets, -r, other compilers.
suite "$TESTS/modes.sh"
summary
