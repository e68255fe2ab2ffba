#!/bin/bash
# run.sh: benchmark timed against OpenBSD inetd's and xinetd's built-in time
# services, the naive seed design and a minimal UDP server, on loopback only.
#
#   bash tests/bench/run.sh        (as root, for the peers and port 37)
#
# Servers take turns under the same load (A B C A B C ...) for ROUNDS rounds;
# the table gives the median of each figure and its ratio to timed's.  It
# goes to stdout and to tests/bench/last.txt (BENCH_OUT overrides).
# Knobs, from the environment: ROUNDS=3 SECS=2 BURST=2000 BURST_MS=5000
# CC=cc CFLAGS='-std=c99 -pedantic -Wall -Wextra -O2' PEERS=path/run-peer.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/tests/bench
out=${BENCH_OUT:-$bench/last.txt}
rounds=${ROUNDS:-3}
secs=${SECS:-2}
burst=${BURST:-2000}
burst_ms=${BURST_MS:-5000}
peers=${PEERS:-$top/../shared/peers/run-peer.sh}
cc=${CC:-cc}
read -r -a cflags <<<"${CFLAGS:--std=c99 -pedantic -Wall -Wextra -O2}"
hz=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/timed-bench.XXXXXX)
results=$work/results
: >"$results"
started=()		# every pid we started, stopped by cleanup
declare -A pid=() port=() skip=()

# Is this pid a live process (not gone, not a zombie)?
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# Stop what we started, by pid: TERM, up to 5 s, then KILL.
cleanup() {
	local p i
	for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
	for ((i = 0; i < 50; i++)); do
		local any=0
		for p in "${started[@]}"; do alive "$p" && any=1; done
		[[ $any == 0 ]] && break
		sleep 0.1
	done
	for p in "${started[@]}"; do
		alive "$p" && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() {
	"$cc" "${cflags[@]}" -o "$bench/$1" "$bench/$1.c"
}

# Set free to a port no TCP listener or UDP socket has, from 38037 up.
next_port=38037
free=
free_port() {
	local p
	for ((p = next_port; p < next_port + 1000; p++)); do
		if ! ss -Hltun "( sport = :$p )" | grep -q .; then
			next_port=$((p + 1))
			free=$p
			return 0
		fi
	done
	echo "run.sh: no free port from $next_port" >&2
	return 1
}

# Wait up to 5 s until NAME answers correctly over TCP (or UDP with -u).
ready() {
	local name=$1 i
	shift
	for ((i = 0; i < 50; i++)); do
		alive "${pid[$name]}" || return 1
		if "$bench/loadgen" -q "$@" -c 1 -d 0.2 -t 200 127.0.0.1 \
		    "${port[$name]}" | grep -q ' ok=[1-9]'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# Note a started server's pid, for measuring and for cleanup.
register() {
	local name=$1 p=$2
	pid[$name]=$p
	started+=("$p")
}

start_timed() {
	local name=$1 p
	if [[ ! -x $top/timed ]]; then
		skip[$name]="no ./timed"
		return 0
	fi
	free_port
	p=$free
	port[$name]=$p
	if [[ $name == timed ]]; then
		"$top/timed" -q -p "$p" -a 127.0.0.1 >/dev/null 2>"$work/$name.err" &
	else
		"$top/timed" -p "$p" -a 127.0.0.1 >"$work/$name.log" 2>"$work/$name.err" &
	fi
	register "$name" $!
	ready "$name" || skip[$name]="did not answer: $(head -c 200 "$work/$name.err")"
}

start_own() {
	local name=$1 flag=$2 p
	free_port
	p=$free
	port[$name]=$p
	"$bench/$name" "$p" >/dev/null 2>"$work/$name.err" &
	register "$name" $!
	# shellcheck disable=SC2086 # flag is empty or -u
	ready "$name" $flag || skip[$name]="did not answer: $(head -c 200 "$work/$name.err")"
}

start_peer() {
	local name=$1 p=$2 peer_pid
	port[$name]=$p
	if [[ $(id -u) != 0 ]]; then
		skip[$name]="needs root"
		return 0
	fi
	if [[ ! -r $peers ]]; then
		skip[$name]="no $peers"
		return 0
	fi
	if ss -Hltun "( sport = :$p )" | grep -q .; then
		skip[$name]="port $p in use"
		return 0
	fi
	if [[ $name == xinetd ]]; then
		peer_pid=$(sh "$peers" xinetd "$p" 2>"$work/$name.err") || peer_pid=
	else
		peer_pid=$(sh "$peers" "$name" 2>"$work/$name.err") || peer_pid=
	fi
	if [[ ! $peer_pid =~ ^[0-9]+$ ]]; then
		skip[$name]="could not start: $(head -c 200 "$work/$name.err")"
		return 0
	fi
	register "$name" "$peer_pid"
	ready "$name" || skip[$name]="did not answer"
}

# CPU ticks used so far by a process and its waited-for children.
proc_ticks() {
	local stat f
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return 0; }
	stat=${stat##*) }
	read -r -a f <<<"$stat"
	# fields 14-17 of stat(5): utime stime cutime cstime
	echo $((f[11] + f[12] + f[13] + f[14]))
}

# Non-idle CPU ticks of the whole machine, all CPUs, kernel and irq included.
machine_ticks() {
	local cpu user nice system idle iowait irq softirq steal rest
	read -r cpu user nice system idle iowait irq softirq steal rest </proc/stat
	: "$cpu" "$idle" "$iowait" "$rest"
	echo $((user + nice + system + irq + softirq + steal))
}

# measure TEST SERVER ROUND LOADGEN-OPTIONS...: one run, one results line.
measure() {
	local test=$1 name=$2 round=$3 s0 m0 line
	shift 3
	if ! alive "${pid[$name]}"; then
		skip[$name]="died during the benchmark"
		return 0
	fi
	s0=$(proc_ticks "${pid[$name]}")
	m0=$(machine_ticks)
	line=$("$bench/loadgen" -q "$@" 127.0.0.1 "${port[$name]}") ||
	    line="loadgen_failed=1"
	echo "$test $name $round $line srv_ticks=$(($(proc_ticks "${pid[$name]}") - s0))" \
	    "mach_ticks=$(($(machine_ticks) - m0))" >>"$results"
	sleep 0.2	# let the last connections close
}

# The servers of a test, in turn order.
servers_of() {
	case $1 in
	tcp50) echo timed timed-log openbsd-inetd xinetd naive ;;
	tcp*|burst) echo timed openbsd-inetd xinetd naive ;;
	udp50) echo timed xinetd udplimit ;;
	esac
}

# Per-round values of METRIC for TEST and SERVER, one a line: "round value".
values() {
	awk -v t="$1" -v s="$2" -v m="$3" -v hz="$hz" '
	$1 == t && $2 == s {
		printf "%s ", $3
		for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (m == "srv_us" || m == "mach_us") {
			k = m == "srv_us" ? "srv_ticks" : "mach_ticks"
			print (v["ok"] > 0 ? v[k] * 1e6 / hz / v["ok"] : "nan")
		} else if (m == "fail")
			print v["refused"] + v["reset"] + v["short"] + v["long"] + \
			    v["wrong"] + v["timeout"] + v["other"]
		else
			print v[m]
	}' "$results"
}

median() {
	sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) exit
		print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

# Failure kinds summed over the rounds, the non-zero ones: "timeout=197".
failures() {
	awk -v t="$1" -v s="$2" '
	$1 == t && $2 == s {
		for (i = 4; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] ~ /^(refused|reset|short|long|wrong|timeout|other|stuck)$/)
				n[kv[1]] += kv[2]
		}
	}
	END {
		for (k in n)
			if (n[k] > 0) { printf "%s%s=%d", sep, k, n[k]; sep = " " }
	}' "$results"
}

# Median over rounds of SERVER's value / timed's value in the same round:
# the machine's speed drifts between rounds, alike for all in one round.
ratio() {
	join <(values "$1" "$2" "$3" | sort) <(values "$1" timed "$3" | sort) |
	    awk '$3 + 0 != 0 && $2 != "nan" { print $2 / $3 }' | median |
	    awk '{ printf "%.2f", $1 } END { if (NR == 0) print "n/a" }'
}

# row TEST METRIC LABEL FORMAT: one line per server of the test.
row() {
	local test=$1 metric=$2 label=$3 fmt=$4 name med vals
	for name in $(servers_of "$test"); do
		if [[ -n ${skip[$name]:-} ]]; then
			printf '%-34s %-14s %s\n' "$label" "$name" "skipped: ${skip[$name]}"
			label=
			continue
		fi
		vals=$(values "$test" "$name" "$metric" |
		    awk -v f="$fmt" '{ printf f " ", $2 }')
		med=$(values "$test" "$name" "$metric" | cut -d' ' -f2 | median)
		# shellcheck disable=SC2059 # the format is ours
		printf "%-34s %-14s $fmt %6s   %-26s %s\n" "$label" "$name" "${med:-0}" \
		    "$(ratio "$test" "$name" "$metric")" "$vals" \
		    "$(failures "$test" "$name")"
		label=
	done
}

table() {
	echo "timed benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr)," \
	    "$(nproc) CPUs, loopback; load average before: $load_before"
	if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 0.5) }'; then
		echo "WARNING: the machine was busy before the run (load > 0.5):" \
		    "figures are less reliable"
	fi
	echo "$rounds rounds, ${secs} s per run, servers in turn; figures are" \
	    "medians over rounds;"
	echo "ratio = median over rounds of server / timed in the same round" \
	    "(the label says whether higher or lower is better)"
	echo "CPU/req: server = its utime+stime (+children) / correct replies;" \
	    "machine = all non-idle CPU incl. loadgen, kernel, irq / correct replies"
	echo
	printf '%-34s %-14s %9s %6s   %-26s %s\n' test server median ratio \
	    "per round" "failures (all rounds)"
	row tcp1 rps "TCP req/s C=1 (higher better)" "%9.0f"
	row tcp50 rps "TCP req/s C=50 (higher better)" "%9.0f"
	row tcp500 rps "TCP req/s C=500 (higher better)" "%9.0f"
	row tcp50 p99_us "TCP p99 us C=50 (lower better)" "%9.0f"
	row tcp50 srv_us "server CPU us/req C=50 (lower)" "%9.1f"
	row tcp50 mach_us "machine CPU us/req C=50 (lower)" "%9.1f"
	row burst ok "burst $burst: correct (higher)" "%9.0f"
	row burst max_us "burst: slowest correct us (lower)" "%9.0f"
	row udp50 rps "UDP req/s C=50 (higher better)" "%9.0f"
	row udp50 srv_us "UDP server CPU us/req (lower)" "%9.1f"
	row udp50 mach_us "UDP machine CPU us/req (lower)" "%9.1f"
	echo
	echo "timed-log is timed with logging on (stdout to a file), timed is timed -q."
	echo "burst: $burst clients connect at once, each waits up to ${burst_ms} ms;" \
	    "slowest is from the burst's start."
	echo "failures: kinds summed over rounds; stuck = requests unanswered" \
	    "for over 1 s when a run ended (naive: SYNs dropped by its backlog"
	echo "of 1, retried after 1 s, 3 s...); latencies and slowest cover" \
	    "correct replies only."
	echo "openbsd-inetd refuses UDP from loopback, so xinetd is the UDP peer;" \
	    "xinetd reads and drops one more datagram after each reply, so"
	echo "concurrent UDP requests to it are lost (1 s timeout each)." \
	    "udplimit is a bare recvfrom/sendto loop, naive the seed design."
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cd "$top"
if [[ -f timed.c && ( ! -x timed || timed.c -nt timed ) ]]; then
	if [[ -f Makefile ]]; then make timed >&2; else "$cc" "${cflags[@]}" -o timed timed.c; fi
fi
for prog in loadgen naive udplimit; do build "$prog"; done

start_timed timed
start_timed timed-log
start_peer openbsd-inetd 37
free_port
start_peer xinetd "$free"
start_own naive ""
start_own udplimit -u

echo "run.sh: $rounds rounds; about $((rounds * (20 * secs + 15))) s" >&2
for ((r = 1; r <= rounds; r++)); do
	for test in tcp1 tcp50 tcp500 burst udp50; do
		for name in $(servers_of "$test"); do
			[[ -n ${skip[$name]:-} ]] && continue
			echo "run.sh: round $r $test $name" >&2
			case $test in
			tcp1) measure "$test" "$name" "$r" -c 1 -d "$secs" ;;
			tcp50) measure "$test" "$name" "$r" -c 50 -d "$secs" ;;
			tcp500) measure "$test" "$name" "$r" -c 500 -d "$secs" ;;
			burst) measure "$test" "$name" "$r" -b -c "$burst" -t "$burst_ms" ;;
			udp50) measure "$test" "$name" "$r" -u -c 50 -d "$secs" ;;
			esac
		done
	done
done

table | tee "$out"
echo "run.sh: table written to $out" >&2
