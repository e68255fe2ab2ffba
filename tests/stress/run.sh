#!/usr/bin/env bash
#
# run.sh: the adversarial battery for timed ("make stress").  Run from the
# top of the tree after make; TIMED names the binary under test (default
# ./timed), TIMED_SRC the source the sanitizer builds are made from (default
# timed.c beside tests/), CC the compiler (default cc).  STRESS_SOAK sets the
# soak's length in seconds (60), STRESS_FLOOD the datagrams per flood
# (100000).  Every case talks to loopback only, on random ports in
# 40000..60000, and checks afterwards that timed is still running and
# answers TCP and UDP correctly.  One line per case, then
# "N passed, N failed"; exits 1 if any case failed.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SOAK=${STRESS_SOAK:-60}
FLOOD=${STRESS_FLOOD:-100000}
HZ=$(getconf CLK_TCK)
log_file=""		# stderr of the last abused server, for log_rate ...
log_out=""		# ... its stdout ...
log_t0=""		# ... and when it came up, in ms

# --- 1. descriptor exhaustion -------------------------------------------

# Under ulimit -n 32, 100 clients that neither read nor close: timed
# must sleep rather than spin, and every client must get its answer.
fd_exhaustion() {
	local out=$work/hold.exhaust n c0 c1 t0 t1 permille
	start_timed 32 "$TIMED" -a 127.0.0.1 || return
	note_log
	helper_bg "$out" 1024 hold 127.0.0.1 "$srv_port" 100 noread
	wait_line '^held' "$out" 150 || return
	up || return
	expect_fields "$line" connected=100 || return
	n=$(fds "$srv_pid")
	((n >= 30)) ||
	    fail "timed has $n descriptors open: it never ran out of its 32" ||
	    return
	c0=$(cpu_ticks "$srv_pid") t0=$(now_ms)
	sleep 3
	c1=$(cpu_ticks "$srv_pid") t1=$(now_ms)
	# Thousandths of one CPU: ticks are 1/HZ s.
	permille=$(((c1 - c0) * 1000 * 1000 / HZ / (t1 - t0)))
	figure "100 connections held, timed at $n/32 descriptors," \
	    "CPU $((permille / 10)).$((permille % 10))% over $((t1 - t0)) ms"
	((permille < 50)) ||
	    fail "timed used $((permille / 10))% of a CPU while out of descriptors" ||
	    return
	grep -q 'accept: Too many open files' "$srv_err" ||
	    fail "no 'accept: Too many open files' in stderr: EMFILE never hit" ||
	    return
	finish "$hpid" "$out" USR1 || return
	expect_fields "$line" answered=100 valid=100 || return
	after_abuse
}

# --- 2. FD_SETSIZE ------------------------------------------------------

# build_variant NAME FLAG...: compile $TIMED_SRC with FLAGs into $bin,
# once; skipped if the compiler cannot build anything with those flags.
build_variant() {
	local name=$1
	shift
	bin=$work/timed-$name
	[ -x "$bin" ] && return 0
	[ -r "$TIMED_SRC" ] || skip "no $TIMED_SRC" || return
	if ! "$CC" -std=c99 "$@" -o "$bin" "$TIMED_SRC" 2>"$work/cc-$name.err"
	then
		printf 'int main(void) { return 0; }\n' >"$work/empty.c"
		"$CC" "$@" -o "$work/empty" "$work/empty.c" 2>/dev/null ||
		    skip "$CC cannot build with $*" || return
		fail "$TIMED_SRC does not build with $*: $(head -n 1 "$work/cc-$name.err")"
	fi
}

# 1,500 connections held under ulimit -n 4096 by clients that do not
# close, against a build that aborts on FD_SET beyond FD_SETSIZE.
fd_setsize() {
	local variant=$1 out=$work/hold.$1 setsize n
	case $variant in
	asan)
		build_variant asan -g -O1 -fsanitize=address,undefined \
		    -fno-omit-frame-pointer || return
		;;
	fortify)
		build_variant fortify -D_FORTIFY_SOURCE=2 -O2 || return
		# glibc's FD_SET calls __fdelt_chk under _FORTIFY_SOURCE.
		grep -q __fdelt_chk "$bin" ||
		    skip "this libc does not check FD_SET under _FORTIFY_SOURCE" ||
		    return
		;;
	esac
	setsize=$("$SC" fdsetsize)
	start_timed 4096 env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    "$bin" -a 127.0.0.1 || return
	helper_bg "$out" 4096 hold 127.0.0.1 "$srv_port" 1500 read
	wait_line '^held' "$out" 300 || return
	up || return
	n=$(fds "$srv_pid")
	expect_fields "$line" connected=1500 answered=1500 || return
	figure "1500 connections held, timed at $n descriptors," \
	    "FD_SETSIZE $setsize"
	((n >= setsize - 8)) ||
	    fail "timed had $n descriptors open: FD_SETSIZE never reached" ||
	    return
	finish "$hpid" "$out" USR1 || return
	expect_fields "$line" answered=1500 valid=1500 || return
	after_abuse || return
	stop_pid "$srv_pid" TERM 50 || fail "timed did not exit on SIGTERM" ||
	    return
	! grep -Eq 'Sanitizer|runtime error|\*\*\*' "$srv_err" ||
	    fail "$(grep -Em 1 'Sanitizer|runtime error|\*\*\*' "$srv_err")" ||
	    return
	((st == 0)) || fail "timed exited $st: $(head -n 1 "$srv_err")"
}

# --- 3. reset storms ----------------------------------------------------

# 2,000 clients that reset their connection: 700 while timed is stopped
# (so before it accepts them; half of them send a FIN first, which makes
# timed's send() fail with EPIPE), 700 right after reading the answer, 600
# at once after connect().  No crash, no hang, no SIGPIPE, no leaked slot.
reset_storm() {
	local base early finrst late now lpid npid
	start_timed 4096 "$TIMED" -a 127.0.0.1 || return
	note_log
	base=$(fds "$srv_pid")
	kill -STOP "$srv_pid"
	early=$(helper 4096 reset 127.0.0.1 "$srv_port" 350 early)
	finrst=$(helper 4096 reset 127.0.0.1 "$srv_port" 350 finrst)
	kill -CONT "$srv_pid"
	expect_fields "$early" connected=350 reset=350 || return
	expect_fields "$finrst" connected=350 reset=350 || return
	helper_bg "$work/late" 4096 reset 127.0.0.1 "$srv_port" 700 late
	lpid=$hpid
	helper_bg "$work/now" 4096 reset 127.0.0.1 "$srv_port" 600 now
	npid=$hpid
	finish "$lpid" "$work/late" || return
	late=$line
	finish "$npid" "$work/now" || return
	now=$line
	up || return
	expect_fields "$late" connected=700 answered=700 valid=700 reset=700 ||
	    return
	expect_fields "$now" reset=600 || return
	fds_back "$base" 50 || return
	stats || return
	figure "2000 resets survived (350 before accept, 350 FIN then reset" \
	    "before accept, 700 after the answer, 600 at connect); timed $line"
	after_abuse
}

# An answer delivered is an answer served: a client that reads its 4
# bytes and resets before timed's shutdown(SHUT_WR) must still be counted
# in the SIGUSR1 line.  Under a storm this is a race; gdb makes it certain
# by holding timed at shutdown() until the client is done.
served_race() {
	local flag=$work/race.flag pidfile=$work/race.pid got tpid gdb_pid
	command -v gdb >/dev/null 2>&1 || skip "no gdb" || return
	start_timed 1024 gdb -q -batch -nx \
	    -ex 'set breakpoint pending on' \
	    -ex 'handle SIGUSR1 nostop noprint pass' \
	    -ex 'handle SIGTERM nostop noprint pass' \
	    -ex 'break shutdown' -ex run \
	    -ex "shell i=0; until [ -e '$flag' ] || [ \$i -ge 300 ]; do sleep 0.1; i=\$((i + 1)); done" \
	    -ex delete -ex continue \
	    --args "$TIMED" -a 127.0.0.1 -P "$pidfile"
	if ! alive "$srv_pid"; then
		grep -Eqi 'ptrace|not permitted' "$srv_out" "$srv_err" &&
		    skip "gdb may not trace here"
		return
	fi
	gdb_pid=$srv_pid
	read -r tpid <"$pidfile" && alive "$tpid" ||
	    fail "no timed pid in $pidfile" || return
	pids+=("$tpid")
	got=$(timeout 20 "$SC" reset 127.0.0.1 "$srv_port" 1 late)
	touch "$flag"
	grep -q '^Breakpoint 1, ' "$srv_out" ||
	    skip "timed never called shutdown()" || return
	expect_fields "$got" answered=1 valid=1 || return
	sleep 0.5
	srv_pid=$tpid
	stats && counters || return
	srv_pid=$gdb_pid
	figure "client: $got; timed: $line"
	((s_tcp == 1)) ||
	    fail "the client read its answer, but timed counts $s_tcp served"
}

# --- 4. silent clients ---------------------------------------------------

# 200 clients read their answer and never close: timed must give their
# slots back about 3 s (LINGER_MS) after serving them.
silent_clients() {
	local out=$work/hold.silent base peak t0
	start_timed 4096 "$TIMED" -a 127.0.0.1 || return
	base=$(fds "$srv_pid")
	t0=$(now_ms)
	helper_bg "$out" 1024 hold 127.0.0.1 "$srv_port" 200 read
	wait_line '^held' "$out" 50 || return
	up || return
	peak=$(fds "$srv_pid")
	expect_fields "$line" connected=200 answered=200 || return
	((peak == base + 200)) ||
	    fail "timed holds $peak descriptors with 200 clients, want $((base + 200))" ||
	    return
	fds_back "$base" 60 || return
	took=$(($(now_ms) - t0))
	alive "$hpid" || fail "the clients quit early" || return
	figure "200 clients held; timed back from $peak to $base descriptors" \
	    "${took} ms after they connected"
	((took >= 2500)) ||
	    fail "connections closed after $took ms, before the 3 s deadline" ||
	    return
	stats || return
	[[ $line == *"; 0 connections open" ]] ||
	    fail "after the deadline: $line" || return
	finish "$hpid" "$out" USR1 || return
	expect_fields "$line" answered=200 valid=200 eof=200 || return
	after_abuse
}

# --- 5. talkative clients ------------------------------------------------

# 20 clients that send without pause: the server must read and drop it all
# without blocking (a probe client is answered within 100 ms meanwhile) and
# close on them at the 3 s deadline.
talkative() {
	local out=$work/talk probe need rmem wmem
	read -r _ _ rmem 2>/dev/null </proc/sys/net/ipv4/tcp_rmem || rmem=6291456
	read -r _ _ wmem 2>/dev/null </proc/sys/net/ipv4/tcp_wmem || wmem=4194304
	# More than the socket buffers hold: proof that the server reads.
	need=$((rmem + wmem))
	start_timed 4096 "$TIMED" -a 127.0.0.1 || return
	helper_bg "$out" 1024 talk 127.0.0.1 "$srv_port" 20 8
	sleep 0.5
	probe=$(helper 1024 probe 127.0.0.1 "$srv_port" 10 2000 100)
	finish "$hpid" "$out" || return
	figure "talkers: $line; probe: $probe"
	up || return
	expect_fields "$line" connected=20 answered=20 valid=20 closed=20 ||
	    return
	(($(field minsent "$line") > need)) ||
	    fail "a talker sent only $(field minsent "$line") bytes," \
	    "not more than the $need the socket buffers hold" || return
	local range
	range=$(field close_ms "$line")
	((${range%..*} >= 2500 && ${range#*..} <= 5000)) ||
	    fail "talkers cut off after ${range} ms, want 2500..5000" || return
	(($(field probes "$probe") >= 50)) ||
	    fail "only $(field probes "$probe") probes" || return
	expect_fields "$probe" answered="$(field probes "$probe")" late=0 ||
	    return
	after_abuse
}

# --- 6. UDP abuse ----------------------------------------------------------

# udp_refused HOST SRCPORT: a datagram from SRCPORT gets no answer.  If
# another test holds that port, try again for 3 s, then leave it out:
# returns 2 and adds the port to $busy.
udp_refused() {
	local got i
	for ((i = 0; i < 10; i++)); do
		got=$("$SC" udp1 "$1" "$srv_port" "$2" 1 300 2>&1)
		[ "$got" = busy ] || break
		sleep 0.3
	done
	if [ "$got" = busy ]; then
		busy="$busy $1:$2"
		return 2
	fi
	[ "$got" = none ] || fail "datagram from $1 port $2: got '$got'"
}

# refused_total FILE: refused datagrams the log lines of FILE account for,
# each line one plus the similar ones it says were suppressed before it.
refused_total() {
	awk '/refused datagram/ {
		n++
		if (match($0, /\([0-9]+ similar suppressed\)/))
			n += substr($0, RSTART + 1, RLENGTH - 21)
	} END { print n + 0 }' "$1"
}

# From ports 0, 7, 13, 19, 37, 1023 and the server's own: no answer; from
# 1024: an answer; a 64 KiB datagram: 4 bytes; a flood: TCP still served.
udp_abuse() {
	local hosts=(127.0.0.1) host p want=0 r0 r1 got t0 probe flood refl busy=""
	[ "$(id -u)" -eq 0 ] ||
	    skip "binding ports below 1024 and raw sockets need root" || return
	start_timed 4096 "$TIMED" || return	# dual-stack: v4-mapped too
	note_log
	grep -q 'udp \[::\]' "$srv_out" && hosts+=(::1)
	stats && counters || return
	r0=$s_refused
	for host in "${hosts[@]}"; do
		for p in 7 13 19 37 1023; do
			udp_refused "$host" "$p"
			case $? in
			0) want=$((want + 1)) ;;
			1) return 1 ;;
			esac
		done
		# The control: an answer can come, so "none" above meant it.
		got=$("$SC" udp1 "$host" "$srv_port" 1024 1 2000 2>&1)
		[ "${got%% *}" = 4 ] ||
		    fail "datagram from $host port 1024 not answered: '$got'" ||
		    return
	done
	for p in 0 "$srv_port"; do
		got=$("$SC" raw "$srv_port" "$p" 300 2>&1)
		[ "$got" = none ] ||
		    fail "forged datagram from port $p: '$got'" || return
		want=$((want + 1))
	done
	p=$((40000 + RANDOM % 20001))
	((p != srv_port)) || p=$((p + 1))
	got=$("$SC" raw "$srv_port" "$p" 2000 2>&1)
	[ "$got" = answered ] ||
	    fail "forged control datagram from port $p not seen answered:" \
	    "'$got'" || return
	stats && counters || return
	((s_refused - r0 == want)) ||
	    fail "timed counted $((s_refused - r0)) refused datagrams, want $want" ||
	    return
	figure "refused $want datagrams from ports 0 7 13 19 37 1023 and its own" \
	    "(${hosts[*]})${busy:+; source ports in use elsewhere, left out:$busy}"

	t0=$(date +%s)
	got=$("$SC" udp1 127.0.0.1 "$srv_port" 0 65507)
	[ "${got%% *}" = 4 ] && time_ok "${got##* }" "$t0" "$(date +%s)" ||
	    fail "65507-byte datagram over IPv4: '$got'" || return
	if [ "${#hosts[@]}" -gt 1 ]; then
		got=$("$SC" udp1 ::1 "$srv_port" 0 65527)
		[ "${got%% *}" = 4 ] && time_ok "${got##* }" "$t0" "$(date +%s)" ||
		    fail "65527-byte datagram over IPv6: '$got'" || return
	fi
	# RFC 868's request is an empty datagram.
	got=$("$SC" udp1 127.0.0.1 "$srv_port" 0 0)
	[ "${got%% *}" = 4 ] && time_ok "${got##* }" "$t0" "$(date +%s)" ||
	    fail "empty datagram: '$got'" || return
	figure "64 KiB and empty datagrams answered"

	stats && counters || return
	r0=$s_udp r1=$s_refused
	helper_bg "$work/probe" 1024 probe 127.0.0.1 "$srv_port" 10 0 100
	sleep 0.2
	flood=$(helper 1024 flood 127.0.0.1 "$srv_port" "$FLOOD" 1)
	refl=$(helper 1024 flood 127.0.0.1 "$srv_port" "$FLOOD" 1 1023)
	stats && counters || return
	expect_fields "$flood" sent="$FLOOD" bad=0 || return
	expect_fields "$refl" sent="$FLOOD" answered=0 bad=0 || return
	figure "flood: $flood, timed answered $((s_udp - r0));" \
	    "flood from port 1023: $refl, timed refused $((s_refused - r1))"
	# A burst of $FLOOD lasts a fraction of a second: go on ten times longer.
	r0=$s_udp
	flood=$(helper 1024 flood 127.0.0.1 "$srv_port" "$((FLOOD * 10))" 1)
	finish "$hpid" "$work/probe" USR1 || return
	probe=$line
	up && stats && counters || return
	expect_fields "$flood" sent="$((FLOOD * 10))" bad=0 || return
	figure "sustained flood: $flood, timed answered $((s_udp - r0));" \
	    "TCP probes during the floods: $probe"
	(($(field probes "$probe") >= 1)) || fail "no probe ran" || return
	expect_fields "$probe" answered="$(field probes "$probe")" late=0 ||
	    return
	# One more refusal after a quiet second, to flush the suppressed count.
	sleep 1.1
	udp_refused 127.0.0.1 1023 || return
	stats && counters || return
	got=$(refused_total "$srv_err")
	((got == s_refused)) ||
	    fail "stderr accounts for $got refused datagrams," \
	    "timed counted $s_refused" || return
	after_abuse "${hosts[@]}"
}

# --- 7. log flooding -------------------------------------------------------

# note_log: let the next log_rate case judge this case's server.
note_log() {
	log_file=$srv_err
	log_out=$srv_out
	log_t0=$srv_t0
}

# log_rate [PATTERN]: the server of the case before wrote at most one
# stderr line a second per kind of fault, at most 3 a second in all, and
# (if given) some line matching PATTERN.
log_rate() {
	local secs limit total=0 kind n over="" file=$log_file
	log_file=""
	[ -n "$file" ] && [ -e "$file" ] ||
	    fail "the case before did not start timed" || return
	secs=$((($(now_ms) - log_t0 + 999) / 1000))
	limit=$((secs + 1))
	while read -r kind n; do
		total=$((total + n))
		((n <= limit)) || over="$over $kind:$n"
	done < <(log_kinds "$file")
	figure "$total stderr lines in $secs s; stdout $(wc -l <"$log_out") lines"
	[ -z "$over" ] ||
	    fail "more than $limit lines in $secs s of one kind:$over" || return
	((total <= 3 * limit)) ||
	    fail "$total lines in $secs s, more than 3 a second" || return
	[ -z "${1:-}" ] || grep -Eq -- "$1" "$file" ||
	    fail "no stderr line matching '$1'"
}

# --- 8. soak ---------------------------------------------------------------

# check_load TEXT: a load helper's tallies say every request was answered.
check_load() {
	expect_fields "$1" answered="$(field connected "$1")" bad=0 timeout=0 \
	    connerr=0 lost=0 || return
	if [ "$(field answered "${1#*udp}")" != "$(field sent "$1")" ] ||
	    [ "$(field bad "${1#*udp}")" != 0 ]; then
		fail "UDP not all answered: $1"
	fi
}

# A minute of TCP and UDP as fast as one client can: afterwards timed has
# the descriptors it started with and the RSS it had after a warm-up (which
# may touch a few pages first), and every request was answered.
soak() {
	local fd0 rss0 fd1 rss1 fd2 rss2 warm main tcp udp
	start_timed 4096 "$TIMED" -q -a 127.0.0.1 || return
	fd0=$(fds "$srv_pid") rss0=$(rss "$srv_pid")
	warm=$(helper 1024 load 127.0.0.1 "$srv_port" 3 16 4)
	check_load "$warm" || return
	sleep 4
	fd1=$(fds "$srv_pid") rss1=$(rss "$srv_pid")
	main=$(helper 1024 load 127.0.0.1 "$srv_port" "$SOAK" 16 4)
	sleep 4
	up || return
	fd2=$(fds "$srv_pid") rss2=$(rss "$srv_pid")
	stats && counters || return
	figure "$SOAK s: $main; fds $fd0 at start, $fd1 after warm-up," \
	    "$fd2 after soak; VmRSS $rss0 kB at start, $rss1 kB after" \
	    "warm-up, $rss2 kB after soak; timed $line"
	check_load "$main" || return
	tcp=$(($(field connected "$warm") + $(field connected "$main")))
	udp=$(($(field answered "${warm#*udp}") + $(field answered "${main#*udp}")))
	((s_tcp == tcp && s_udp == udp)) ||
	    fail "clients made $tcp TCP and $udp UDP requests; timed $line" ||
	    return
	((fd2 == fd0)) || fail "descriptors went from $fd0 to $fd2" || return
	((rss2 == rss1)) || fail "VmRSS went from $rss1 kB to $rss2 kB" ||
	    return
	# The warm-up may touch a few pages for the first time, no more.
	((rss1 - rss0 <= 64)) ||
	    fail "VmRSS grew from $rss0 kB to $rss1 kB in the warm-up" || return
	after_abuse
}

# --- 9. signals --------------------------------------------------------------

# SIGHUP and SIGALRM change nothing.
ignored_signals() {
	start_timed 1024 "$TIMED" -a 127.0.0.1 || return
	kill -HUP "$srv_pid" && kill -ALRM "$srv_pid" &&
	    kill -HUP "$srv_pid" && kill -ALRM "$srv_pid" || return
	sleep 0.5
	after_abuse
}

# SIGUSR1 logs exactly one line with the right counters.
usr1_stats() {
	local n
	start_timed 1024 "$TIMED" -a 127.0.0.1 || return
	ask tcp1 127.0.0.1 && ask tcp1 127.0.0.1 && ask tcp1 127.0.0.1 &&
	    ask udp1 127.0.0.1 && ask udp1 127.0.0.1 || return
	stats || return
	sleep 0.5
	n=$(grep -c 'served' "$srv_out")
	figure "$line"
	((n == 1)) || fail "$n 'served' lines after one SIGUSR1" || return
	[[ $line =~ ^served\ 3\ tcp,\ 2\ udp\;\ refused\ 0\ datagrams\;\ 0\ unanswered\ \(clock\ unset\)\;\ [0-3]\ connections\ open$ ]] ||
	    fail "want 'served 3 tcp, 2 udp; refused 0 ...', got '$line'"
}

# SIGTERM in the middle of a burst, with 50 served clients lingering that
# will not close: exit 0 within a second, "exiting" last on stdout.
term_burst() {
	local took
	start_timed 4096 "$TIMED" -a 127.0.0.1 || return
	helper_bg "$work/hold.term" 1024 hold 127.0.0.1 "$srv_port" 50 read
	wait_line '^held' "$work/hold.term" 50 || return
	helper_bg "$work/burst" 1024 load 127.0.0.1 "$srv_port" 10 32 8
	sleep 1
	(($(grep -c 'connection from' "$srv_out") > 100)) ||
	    fail "no burst going on" || return
	term_wait 300
	stop_pid "$srv_pid" KILL 1
	figure "exited $st after $took ms with $(grep -c 'connection from' "$srv_out") connections served"
	((st == 0)) || fail "exit status $st, want 0" || return
	((took <= 1000)) || fail "took $took ms to exit" || return
	[ "$(tail -n 1 "$srv_out")" = exiting ] ||
	    fail "last line '$(tail -n 1 "$srv_out")', want 'exiting'"
}

# 20 clients that send without pause keep a connection readable at every
# turn, so pselect() never has to wait: SIGTERM must still end timed
# within a second, not at the talkers' 3 s deadline.
term_busy() {
	start_timed 4096 "$TIMED" -a 127.0.0.1 || return
	helper_bg "$work/talk.term" 1024 talk 127.0.0.1 "$srv_port" 20 8
	sleep 0.5
	(($(grep -c 'connection from' "$srv_out") >= 20)) ||
	    fail "the talkers did not all connect" || return
	term_wait 300
	stop_pid "$srv_pid" KILL 1
	figure "exited $st after $took ms"
	((st == 0)) || fail "exit status $st, want 0" || return
	((took <= 1000)) || fail "took $took ms to exit"
}

# --- 10. clock faults ---------------------------------------------------------

# faketime_lib: where libfaketime is, in $ftlib.
faketime_lib() {
	local f
	for f in /usr/lib/*/faketime/libfaketime.so.1 \
	    /usr/lib/faketime/libfaketime.so.1 \
	    /usr/local/lib/faketime/libfaketime.so.1; do
		[ -r "$f" ] && ftlib=$f && return 0
	done
	skip "no libfaketime (Debian package faketime)"
}

# set_offset SECONDS: move timed's faked wall clock, atomically.
set_offset() {
	printf '%+d\n' "$1" >"$ftfile.new" && mv "$ftfile.new" "$ftfile"
}

# The wall clock jumps back and forth under libfaketime, the monotonic
# clock is left alone: answers follow the wall clock, the "still waiting"
# ticks and the linger deadline keep to the monotonic one.
clock_faults() {
	local ft out off got t0 real mono base tconn took="" gaps
	faketime_lib || return
	ftfile=$work/faketime.rc
	ft=(env LD_PRELOAD="$ftlib" FAKETIME_TIMESTAMP_FILE="$ftfile"
	    FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1
	    ASAN_OPTIONS=verify_asan_link_order=0)
	set_offset 86400
	read -r real mono <<<"$("$SC" clocks)"
	read -r t0 got <<<"$("${ft[@]}" "$SC" clocks)"
	((t0 - real >= 86399 && t0 - real <= 86401 && got - mono < 1000)) ||
	    skip "libfaketime does not fake as asked here" || return

	set_offset 0
	stamp_stdout=1 start_timed 1024 "${ft[@]}" "$TIMED" -a 127.0.0.1 ||
	    return
	# 2036-12 is past the 2036-02-07 wrap of the 32-bit value.
	for off in -3600 86400 -2592000 315360000 0; do
		set_offset "$off"
		ask tcp1 127.0.0.1 "$off" && ask udp1 127.0.0.1 "$off" ||
		    fail "at offset $off s: $why" || return
	done
	# Before 2025 timed takes the clock as unset: RFC 868 says send nothing.
	off=$((1717200000 - $(date +%s)))
	set_offset "$off"
	got=$("$SC" tcp1 127.0.0.1 "$srv_port")
	[ "$got" = "0 -" ] || fail "clock in 2024: TCP got '$got'" || return
	got=$("$SC" udp1 127.0.0.1 "$srv_port" 0 1 500)
	[ "$got" = none ] || fail "clock in 2024: UDP got '$got'" || return
	set_offset 0
	grep -q 'clock is not set' "$srv_err" ||
	    fail "no 'clock is not set' line" || return
	figure "answers followed offsets -1 h, +1 d, -30 d, +10 y, 0;" \
	    "nothing sent with the clock in 2024"

	out=$work/hold.clock
	base=$(fds "$srv_pid")
	helper_bg "$out" 1024 hold 127.0.0.1 "$srv_port" 20 read
	wait_line '^held' "$out" 50 || return
	tconn=$(now_ms)
	for off in -3600 86400 -86400 3600 -60 31536000 -31536000 0 -7200 \
	    7200 0; do
		set_offset "$off"
		(($(fds "$srv_pid") <= base)) && [ -z "$took" ] &&
		    took=$(($(now_ms) - tconn))
		sleep 0.5
	done
	[ -n "$took" ] || fail "linger deadline never came" || return
	finish "$hpid" "$out" USR1 || return
	# Gaps between "still waiting" lines after the clients connected.
	gaps=$(awk '/connection from/ { last = $1; n = 0 }
	    / still waiting$/ && last { if (n++) printf "%d ", $1 - prev; prev = $1 }' \
	    "$srv_out")
	figure "20 lingering clients released after $took ms;" \
	    "still-waiting gaps (ms): $gaps"
	((took >= 2500 && took <= 4500)) ||
	    fail "linger took $took ms under clock jumps, want about 3000" ||
	    return
	local g count=0
	for g in $gaps; do
		count=$((count + 1))
		((g >= 900 && g <= 1300)) ||
		    fail "'still waiting' came $g ms after the last one" || return
	done
	((count >= 3)) || fail "only $count still-waiting gaps: '$gaps'" ||
	    return
	after_abuse
}

# STRESS_ONLY=ERE runs only the cases whose name matches.
if [ -n "${STRESS_ONLY:-}" ]; then
	eval "real_$(declare -f run)"
	run() {
		[[ $1 =~ $STRESS_ONLY ]] && real_run "$@"
	}
fi

# --- 11. a stalled log reader -------------------------------------------------

# Whatever reads timed's stdout (a pipe to a logger, journald) stops
# reading, while clients go on asking: each request is a log line, and
# stdout blocks.  timed must go on answering, and SIGTERM must still end it.
stalled_stdout() {
	local got took answered=ok ended=ok
	stamp_stdout=1 start_timed 1024 "$TIMED" -a 127.0.0.1 || return
	kill -STOP "$stamp_pid"
	got=$(helper 1024 load 127.0.0.1 "$srv_port" 2 4 2)
	figure "reader stopped: $got"
	up || return
	check_load "$got" && after_abuse || answered=$why
	term_wait 100
	alive "$srv_pid" && ended="SIGTERM did not end it in $took ms (in $(
	    cat "/proc/$srv_pid/wchan" 2>/dev/null))"
	stop_pid "$srv_pid" KILL 1
	[ "$ended" != ok ] || ((st == 0)) || ended="exit status $st, want 0"
	if [ "$answered" != ok ] || [ "$ended" != ok ]; then
		fail "answers: $answered; exit: $ended"
	fi
}

# stalled_stderr_case FD: the body of stalled_stderr, with the pipe's
# only reader open as FD, in this shell, which does not read it.
stalled_stderr_case() {
	timeout 1 cat /dev/zero 1>&"$1"
	# shellcheck disable=SC2016  # sh expands them, not this shell
	start_timed 1024 sh -c 'exec "$@" 2>"$0"' "$work/stderr.fifo" \
	    "$TIMED" -a 127.0.0.1 || return
	udp_refused 127.0.0.1 1023
	case $? in
	1) return 1 ;;
	2) skip "source port 1023 is in use elsewhere" || return ;;
	esac
	after_abuse
}

# Whatever reads timed's stderr stops reading, its pipe full, and a
# datagram from port 1023 is refused, which is a fault line on stderr:
# timed must not block on it, but go on answering TCP and UDP.
stalled_stderr() {
	local fd status
	[ "$(id -u)" -eq 0 ] || skip "binding port 1023 needs root" || return
	mkfifo "$work/stderr.fifo" || fail "mkfifo" || return
	exec {fd}<>"$work/stderr.fifo"
	stalled_stderr_case "$fd"
	status=$?
	exec {fd}<&-
	return "$status"
}

build_helper || {
	echo "FAIL - build: $why"
	echo "0 passed, 1 failed"
	exit 1
}
[ -x "$TIMED" ] || {
	echo "FAIL - $TIMED: not an executable (run make first)"
	echo "0 passed, 1 failed"
	exit 1
}

run "descriptor exhaustion (ulimit -n 32, 100 clients)" fd_exhaustion
run "log rate under descriptor exhaustion" log_rate 'accept: Too many'
run "FD_SETSIZE with 1500 clients (ASan+UBSan build)" fd_setsize asan
run "FD_SETSIZE with 1500 clients (_FORTIFY_SOURCE build)" fd_setsize fortify
run "reset storm (2000 clients)" reset_storm
run "log rate under the reset storm" log_rate
run "served counter: answer read, then reset before shutdown() (gdb)" \
    served_race
run "silent clients (200)" silent_clients
run "talkative clients (20)" talkative
run "UDP abuse" udp_abuse
run "log rate under UDP abuse" log_rate 'similar suppressed'
run "signals: SIGHUP and SIGALRM ignored" ignored_signals
run "signals: SIGUSR1 logs one served line" usr1_stats
run "signals: SIGTERM during a burst" term_burst
run "signals: SIGTERM while talkers keep every turn busy" term_busy
run "clock faults under libfaketime" clock_faults
run "stalled stdout reader" stalled_stdout
run "stalled stderr reader, then a refused datagram" stalled_stderr
run "soak (${SOAK} s)" soak
summary
