# shellcheck shell=bash
#
# lib.sh: helpers for tests/run.sh, which sources this file.
#
# Cases are run by cases.sh's run.  Each case starts its own timed on a
# free loopback port, talks to it under a timeout and stops it by pid.

TIMED=${TIMED:-./timed}
TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EPOCH=2208988800	# RFC 868: seconds from 1900-01-01 to 1970-01-01

# shellcheck source=tests/cases.sh
. "$TESTS/cases.sh"

nsrv=0			# servers started so far, to name their log files
pids=()			# servers of the current case still to be stopped
srv_pid=""		# the most recently started server ...
srv_port=""		# ... the port it listens on ...
srv_out=""		# ... its stdout ...
srv_err=""		# ... and its stderr
srv_status=""		# exit status from the last stop_timed
have_ipv6=""		# can we bind ::1? "yes", "no", or "" for not tried

tmp=$(mktemp -d "${TMPDIR:-/tmp}/timed-test.XXXXXX") || exit 1
scratch=$tmp		# removed on exit (cases.sh)

# halt PID SIGNAL: send SIGNAL to the server started as PID, wait up to 5 s
# for its process group to end, then kill what is left; returns PID's exit
# status.  A wrapper that forks timed (faketime does) gets its child
# signalled instead, so that it can clean up after it.
halt() {
	local pid=$1 child i
	child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
	kill -s "$2" "${child%% *}" 2>/dev/null || kill -s "$2" "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 -- "-$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid"
}

# Stop whatever servers are still running; run calls this after each case,
# and cleanup on exit.
case_cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		halt "$pid" TERM 2>/dev/null
	done
	pids=()
}

# suite CMD [ARG...]: run another suite (the unit tests, modes.sh), show
# its lines and add its closing "N passed, N failed[, N skipped]" to ours.
# A suite that ends without that line counts as one failure.
suite() {
	local line last="" p f s
	while IFS= read -r line; do
		[ -n "$last" ] && printf '%s\n' "$last"
		last=$line
	done < <("$@" 2>&1)
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	else
		[ -n "$last" ] && printf '%s\n' "$last"
		echo "FAIL - $*: no closing line"
		failed=$((failed + 1))
	fi
}

# need_root: skip the case unless we may bind port 37.
need_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	why="port 37 needs root"
	return "$SKIP"
}

# with_ipv6 CMD [ARG...]: run a case that needs IPv6 loopback, or skip it.
with_ipv6() {
	if [ -z "$have_ipv6" ]; then
		have_ipv6=no
		perl -MIO::Socket::IP -e \
		    'exit !IO::Socket::IP->new(LocalHost => "::1", Proto => "udp")' &&
		    have_ipv6=yes
	fi
	[ "$have_ipv6" = yes ] || { why="no IPv6 on loopback"; return "$SKIP"; }
	"$@"
}

# start_on PORT CMD [ARG...]: run "CMD ARG... -p PORT" in the background
# and wait up to 5 s for its "listening on" line.  Sets srv_*.  setsid
# gives it a process group of its own, so that signals to the group also
# reach a timed forked by a wrapper such as faketime.
start_on() {
	local port=$1 i
	shift
	nsrv=$((nsrv + 1))
	# shellcheck disable=SC2034  # read by the cases in run.sh
	srv_port=$port
	srv_out=$tmp/out.$nsrv
	srv_err=$tmp/err.$nsrv
	: >"$srv_out"
	: >"$srv_err"
	setsid "$@" -p "$port" >"$srv_out" 2>"$srv_err" &
	srv_pid=$!
	pids+=("$srv_pid")
	for ((i = 0; i < 50; i++)); do
		grep -q '^listening on' "$srv_out" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "server did not start: $(head -n 1 "$srv_err")"
}

# start_timed CMD [ARG...]: start_on a random port in 20000..32000,
# trying another port if that one was taken.
start_timed() {
	local i
	for ((i = 0; i < 5; i++)); do
		start_on $((20000 + RANDOM % 12001)) "$@" && return 0
		grep -q 'in use' "$srv_err" || return 1
	done
	return 1
}

# start_fixed PORT CMD [ARG...]: start_on a fixed port such as 37, waiting
# up to 5 s for another test run to free it; skip if it stays busy.
start_fixed() {
	local i
	for ((i = 0; i < 10; i++)); do
		start_on "$@" && return 0
		grep -q 'in use' "$srv_err" || return 1
		sleep 0.5
	done
	why="port $1 stays in use"
	return "$SKIP"
}

# stop_timed [SIGNAL]: halt the last server with SIGNAL (TERM); sets
# srv_status.
stop_timed() {
	local i
	halt "$srv_pid" "${1:-TERM}"
	# shellcheck disable=SC2034  # read by the cases in run.sh
	srv_status=$?
	for i in "${!pids[@]}"; do
		[ "${pids[i]}" = "$srv_pid" ] && unset 'pids[i]'
	done
}

# client MODE HOST PORT [N]: tests/client.pl (see there), under a timeout.
client() {
	timeout 30 perl "$TESTS/client.pl" "$@"
}

# tcp_nc HOST PORT FILE: fetch over TCP with nc, bytes to FILE; nc's status.
tcp_nc() {
	timeout 5 nc -N "$1" "$2" </dev/null >"$3" 2>"$3.err"
}

# udp_nc HOST PORT FILE [NC-ARG...]: send a one-byte datagram with nc,
# reply to FILE; nc's status.
udp_nc() {
	local host=$1 port=$2 file=$3
	shift 3
	printf x | timeout 5 nc -u -w1 "$@" "$host" "$port" >"$file" 2>"$file.err"
}

# wait_for PATTERN FILE: wait up to 3 s for an extended regexp in FILE.
wait_for() {
	local i
	for ((i = 0; i < 30; i++)); do
		grep -Eq -- "$1" "$2" && return 0
		sleep 0.1
	done
	fail "no line matching '$1' in $(basename "$2")"
}

# time_ok VALUE BEFORE AFTER: is the 32-bit RFC 868 VALUE a time between
# unix times BEFORE and AFTER, give or take a second for rounding?
time_ok() {
	local value=$1 before=$2 after=$3 diff
	# Modulo 2^32, since the wire value wraps in 2036.
	diff=$(((value - before - EPOCH) & 0xffffffff))
	((diff >= 1 << 31)) && diff=$((diff - (1 << 32)))
	((diff >= -1 && diff <= after - before + 1))
}

# expect_time FILE BEFORE AFTER: FILE is exactly 4 bytes, big-endian,
# holding a time between BEFORE and AFTER.
expect_time() {
	local file=$1 before=$2 after=$3 n b value
	n=$(($(wc -c <"$file")))
	[ "$n" -eq 4 ] || fail "got $n bytes, want 4" || return
	read -r -a b < <(od -An -tu1 "$file")
	value=$(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]))
	time_ok "$value" "$before" "$after" ||
	    fail "got $value, want $((before + EPOCH))..$((after + EPOCH))"
}

# expect_answer WHAT CMD [ARG...]: CMD, a client of the server with its
# stdout in $tmp/got and stderr in $tmp/err (or files of its own, as
# tcp_nc and udp_nc take), exits 0 and leaves in $tmp/got 4 bytes of the
# time it ran at.  A failure names it WHAT, with what it said on stderr.
expect_answer() {
	local what=$1 before after status
	shift
	before=$(date +%s)
	"$@" >"$tmp/got" 2>"$tmp/err"
	status=$?
	after=$(date +%s)
	[ -s "$tmp/err" ] && what="$what ($(cat "$tmp/err"))"
	expect_status "$what" "$status" 0 || return
	expect_time "$tmp/got" "$before" "$after"
}

# expect_bytes N FILE: FILE holds exactly N bytes.
expect_bytes() {
	local n
	n=$(($(wc -c <"$2")))
	[ "$n" -eq "$1" ] || fail "got $n bytes, want $1"
}

# expect_status WHAT GOT WANT: an exit status is what it should be.
expect_status() {
	[ "$2" -eq "$3" ] || fail "$1 exited $2, want $3"
}

# expect_line WHAT PATTERN FILE: some line of FILE matches PATTERN (ERE).
expect_line() {
	grep -Eq -- "$2" "$3" || fail "$1: no line matching '$2'"
}

# expect_no_line WHAT PATTERN FILE: no line of FILE matches PATTERN (ERE).
expect_no_line() {
	! grep -Eq -- "$2" "$3" || fail "$1: unexpected '$(grep -Em1 -- "$2" "$3")'"
}

# expect_ctime_now TEXT BEFORE AFTER: TEXT ends in a ctime(3)-style local
# date, maybe with a zone ("Wed Dec  3 15:53:07 [UTC ]2025"), between
# unix times BEFORE and AFTER.
expect_ctime_now() {
	local date t re
	re='[A-Z][a-z]{2} [A-Z][a-z]{2} +[0-9]+ [0-9:]{8}( [A-Za-z0-9+-]+)? [0-9]{4}'
	date=$(printf '%s\n' "$1" | grep -Eo "$re" | tail -n 1)
	[ -n "$date" ] || fail "no date in '$1'" || return
	t=$(date -d "$date" +%s) || fail "date cannot parse '$date'" || return
	((t >= $2 - 1 && t <= $3 + 1)) ||
	    fail "'$date' is $((t - $2))s from the clock"
}
