# shellcheck shell=bash
#
# lib.sh: helpers for tests/stress/run.sh, which sources this file.
#
# Cases are run by ../cases.sh's run, and may report figures with figure.
# Every process a case starts goes into $pids and is stopped by pid when
# the case ends, whatever happened.

TIMED=${TIMED:-./timed}
STRESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TIMED_SRC=${TIMED_SRC:-$STRESS/../../timed.c}
CC=${CC:-cc}
EPOCH=2208988800	# RFC 868: seconds from 1900-01-01 to 1970-01-01

# shellcheck source=tests/cases.sh
. "$STRESS/../cases.sh"

nsrv=0			# servers started so far, to name their files
pids=()			# processes of the current case still to be stopped
srv_pid=""		# the most recently started server ...
srv_port=""		# ... its port ...
srv_out=""		# ... its stdout ...
srv_err=""		# ... its stderr ...
srv_t0=""		# ... and when it was up, in ms
stamp_pid=""		# the reader of its stdout, with stamp_stdout set
st=""			# exit status from the last reap or stop_pid

work=$(mktemp -d "${TMPDIR:-/tmp}/timed-stress.XXXXXX") || exit 1
scratch=$work		# removed on exit (cases.sh)
SC=$work/stressc	# the C helper, built by build_helper

# Stop what the current case started: TERM, a moment's grace, then KILL.
# run calls this after each case, and cleanup on exit.
case_cleanup() {
	local pid i left
	((${#pids[@]} == 0)) && return
	kill -TERM "${pids[@]}" 2>/dev/null
	for ((i = 0; i < 20; i++)); do
		left=0
		for pid in "${pids[@]}"; do
			alive "$pid" && left=1
		done
		((left)) || break
		sleep 0.05
	done
	kill -KILL "${pids[@]}" 2>/dev/null
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	pids=()
}

now_ms() {
	date +%s%3N
}

# zombie PID: has the process exited, waiting to be reaped?
zombie() {
	local line
	read -r line 2>/dev/null <"/proc/$1/stat" || return 0
	line=${line##*) }
	[ "${line%% *}" = Z ]
}

# alive PID: is the process running (not gone, not a zombie)?
alive() {
	kill -0 "$1" 2>/dev/null && ! zombie "$1"
}

# forget PID: take a process that has been reaped off the list.
forget() {
	local i
	for i in "${!pids[@]}"; do
		[ "${pids[i]}" = "$1" ] && unset 'pids[i]'
	done
	pids=("${pids[@]}")
}

# reap PID: wait for a process that has exited; its status goes to $st.
reap() {
	wait "$1" 2>/dev/null
	st=$?
	forget "$1"
}

# stop_pid PID [SIGNAL [TENTHS]]: signal a process (TERM), give it TENTHS
# tenths of a second (50) to exit, then kill it; status in $st.  Returns 1
# if it had to be killed.
stop_pid() {
	local pid=$1 sig=${2:-TERM} tenths=${3:-50} i
	kill -s "$sig" "$pid" 2>/dev/null
	# Reaped at once, a killed job is not reported on stderr by bash.
	if [ "$sig" = KILL ]; then
		reap "$pid"
		return 0
	fi
	for ((i = 0; i < tenths; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		reap "$pid"
		return 1
	fi
	reap "$pid"
}

# fds PID: how many descriptors the process has open.
fds() {
	local f=("/proc/$1/fd/"*)
	echo "${#f[@]}"
}

# rss PID: its resident set, in kB.
rss() {
	local key value
	while read -r key value _; do
		[ "$key" = VmRSS: ] && echo "$value" && return
	done <"/proc/$1/status"
}

# cpu_ticks PID: user plus system time, in clock ticks.
cpu_ticks() {
	local line f
	read -r line <"/proc/$1/stat" || return 1
	read -r -a f <<<"${line##*) }"
	# After "pid (comm) ", utime and stime are the 12th and 13th fields.
	echo $((f[11] + f[12]))
}

# build_helper: compile stressc.c with $CC into the work directory.
build_helper() {
	"$CC" -std=c99 -pedantic -Wall -Wextra -O2 -o "$SC" \
	    "$STRESS/stressc.c" 2>"$work/cc.err" ||
	    fail "cannot build stressc.c: $(head -n 1 "$work/cc.err")"
}

# helper NOFILE ARG...: run the C helper under ulimit -n NOFILE and a
# timeout, in the foreground.
helper() {
	local nofile=$1
	shift
	(ulimit -n "$nofile" && exec timeout 150 "$SC" "$@")
}

# helper_bg FILE NOFILE ARG...: the same in the background, stdout to FILE;
# the pid goes to $hpid (and $pids).
helper_bg() {
	local file=$1 nofile=$2
	shift 2
	(ulimit -n "$nofile" && exec "$SC" "$@") >"$file" 2>"$file.err" &
	hpid=$!
	pids+=("$hpid")
}

# wait_line PATTERN FILE [TENTHS]: wait (50 tenths) for an ERE in FILE;
# the matching line goes to $line.
wait_line() {
	local i
	for ((i = 0; i < ${3:-50}; i++)); do
		line=$(grep -Es -m 1 -- "$1" "$2") && return 0
		sleep 0.1
	done
	fail "no '$1' in $(basename "$2"): $(tail -c 200 "$2" "$2.err" 2>/dev/null | tr '\n' ' ')"
}

# finish PID FILE [SIGNAL]: wait (20 s) for a helper to exit, after
# SIGNAL if given; its last line of output goes to $line.
finish() {
	local i
	[ -n "${3:-}" ] && kill -s "$3" "$1"
	for ((i = 0; i < 200; i++)); do
		alive "$1" || break
		sleep 0.1
	done
	stop_pid "$1" TERM 1 ||
	    fail "helper did not finish: $(head -c 200 "$2.err")" || return
	line=$(tail -n 1 "$2")
	[ -n "$line" ] || fail "helper said nothing: $(head -c 200 "$2.err")"
}

# expect_fields TEXT NAME=VALUE...: each NAME in TEXT is followed by VALUE.
expect_fields() {
	local text=$1 pair
	shift
	for pair in "$@"; do
		[ "$(field "${pair%%=*}" "$text")" = "${pair#*=}" ] ||
		    fail "want ${pair%%=*} ${pair#*=} in '$text'" || return
	done
}

# field NAME TEXT: the word that follows the word NAME in TEXT.
field() {
	local name=$1 w prev=""
	for w in $2; do
		[ "$prev" = "$name" ] && echo "$w" && return
		prev=$w
	done
	echo "?"
}

# close_inherited: close every descriptor above 2 that this (sub)shell
# inherited, so the server starts with 0, 1 and 2 only, as under inetd or
# systemd, and its descriptor counts mean what they say.
close_inherited() {
	local f n
	for f in "/proc/$BASHPID/fd/"*; do
		n=${f##*/}
		((n > 2)) && exec {n}>&-
	done
	return 0
}

# start_timed NOFILE CMD [ARG...]: run "CMD ARG... -p PORT" under
# ulimit -n NOFILE on a random port in 40000..60000, trying another if
# that one is taken, and wait up to 5 s for "listening on".  With
# stamp_stdout set, each stdout line is prefixed with the monotonic ms it
# arrived at.  Sets srv_*.
start_timed() {
	local nofile=$1 i out
	shift
	for _ in 1 2 3 4 5 6 7 8; do
		nsrv=$((nsrv + 1))
		srv_port=$((40000 + RANDOM % 20001))
		srv_out=$work/out.$nsrv
		srv_err=$work/err.$nsrv
		out=$srv_out
		if [ -n "${stamp_stdout:-}" ]; then
			out=$work/fifo.$nsrv
			mkfifo "$out" || fail "mkfifo" || return
			perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -ne \
			    'BEGIN { $| = 1 }
			    printf "%d %s", clock_gettime(CLOCK_MONOTONIC) * 1000, $_' \
			    <"$out" >"$srv_out" &
			stamp_pid=$!
			pids+=("$stamp_pid")
		fi
		(ulimit -n "$nofile" && close_inherited &&
		    exec "$@" -p "$srv_port") >"$out" 2>"$srv_err" &
		srv_pid=$!
		pids+=("$srv_pid")
		for ((i = 0; i < 50; i++)); do
			if grep -qs 'listening on' "$srv_out"; then
				# shellcheck disable=SC2034  # for run.sh
				srv_t0=$(now_ms)
				return 0
			fi
			alive "$srv_pid" || break
			sleep 0.1
		done
		stop_pid "$srv_pid" KILL 1
		grep -q 'in use' "$srv_err" ||
		    fail "timed did not start: $(head -n 1 "$srv_err")" || return
	done
	fail "no free port in 8 tries"
}

# time_ok VALUE BEFORE AFTER: is the 32-bit RFC 868 VALUE a time between
# unix times BEFORE and AFTER, give or take 2 s?  Modulo 2^32, since the
# wire value wraps in 2036.
time_ok() {
	local diff
	diff=$((($1 - $2 - EPOCH) & 0xffffffff))
	((diff >= 1 << 31)) && diff=$((diff - (1 << 32)))
	((diff >= -2 && diff <= $3 - $2 + 2))
}

# ask PROTO HOST [OFFSET]: one tcp1 or udp1 request; fails unless the
# answer is 4 bytes holding the wall clock plus OFFSET seconds.
ask() {
	local proto=$1 host=$2 off=${3:-0} got before after
	before=$(($(date +%s) + off))
	got=$(timeout 10 "$SC" "$proto" "$host" "$srv_port")
	after=$(($(date +%s) + off))
	[ "${got%% *}" = 4 ] && [ "${got#4 }" = "${got##* }" ] ||
	    fail "$proto request to $host: got '${got:-nothing}'" || return
	time_ok "${got##* }" "$before" "$after" ||
	    fail "$proto request to $host: ${got##* } is not $((before + EPOCH))"
}

# up: the server is still running; if not, say how it ended.
up() {
	alive "$srv_pid" && return 0
	stop_pid "$srv_pid" KILL 1
	if ((st > 128)); then
		fail "timed died of signal $((st - 128))" \
		    "($(kill -l "$((st - 128))" 2>/dev/null)):" \
		    "$(tail -n 2 "$srv_err" | tr '\n' ' ')"
	else
		fail "timed exited $st: $(tail -n 2 "$srv_err" | tr '\n' ' ')"
	fi
}

# after_abuse [HOST...]: the server is still running and answers a normal
# TCP and UDP request correctly (on 127.0.0.1 unless hosts are given).
after_abuse() {
	local host
	up || return
	# With TIMED an ASan or UBSan build, a report is a failure too.
	! grep -Eq 'Sanitizer|runtime error' "$srv_err" ||
	    fail "$(grep -Em 1 'Sanitizer|runtime error' "$srv_err")" || return
	for host in "${@:-127.0.0.1}"; do
		ask tcp1 "$host" || return
		ask udp1 "$host" || return
	done
}

# stats: SIGUSR1 the server and wait for its new "served" line, in $line.
stats() {
	local before i
	before=$(grep -c 'served [0-9]' "$srv_out")
	kill -USR1 "$srv_pid"
	for ((i = 0; i < 30; i++)); do
		(($(grep -c 'served [0-9]' "$srv_out") > before)) && break
		sleep 0.1
	done
	line=$(grep 'served [0-9]' "$srv_out" | tail -n 1)
	[ -n "$line" ] || fail "no 'served' line after SIGUSR1"
}

# term_wait HUNDREDTHS: SIGTERM the server and wait up to HUNDREDTHS of a
# second for it to exit; the ms it took (or waited) go to $took.
term_wait() {
	local t0 i
	t0=$(now_ms)
	kill -TERM "$srv_pid"
	for ((i = 0; i < $1; i++)); do
		alive "$srv_pid" || break
		sleep 0.01
	done
	took=$(($(now_ms) - t0))
}

# fds_back BASE TENTHS: wait for the server to be back to BASE descriptors;
# the ms it took go to $took.
fds_back() {
	local t0 i
	t0=$(now_ms)
	for ((i = 0; i < $2; i++)); do
		(($(fds "$srv_pid") <= $1)) && break
		sleep 0.1
	done
	took=$(($(now_ms) - t0))
	(($(fds "$srv_pid") <= $1)) ||
	    fail "$(fds "$srv_pid") descriptors open after $((took / 1000)) s, want $1"
}

# counters: parse the "served" line in $line into s_tcp, s_udp, s_refused.
# shellcheck disable=SC2034  # for run.sh
counters() {
	[[ $line =~ served\ ([0-9]+)\ tcp,\ ([0-9]+)\ udp\;\ refused\ ([0-9]+) ]] ||
	    fail "cannot parse '$line'" || return
	s_tcp=${BASH_REMATCH[1]}
	s_udp=${BASH_REMATCH[2]}
	s_refused=${BASH_REMATCH[3]}
}

# log_kinds FILE: count the server's stderr lines by the kind of fault
# (timed.c's enum fault), one "KIND COUNT" line each.
log_kinds() {
	awk '
	/^timed: accept: Too many open files/ { n["nofd"]++; next }
	/^timed: accept:/ { n["accept"]++; next }
	/^timed: clock is not set/ { n["clock"]++; next }
	/^timed: refused datagram/ { n["refused"]++; next }
	/^timed: sendto:/ { n["send"]++; next }
	/^timed: (recvfrom|close)/ { n["recv"]++; next }
	{ n["other"]++ }
	END { for (k in n) print k, n[k] }' "$1"
}
