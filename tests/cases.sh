# shellcheck shell=bash
#
# cases.sh: the case machinery shared by tests/run.sh (through lib.sh),
# tests/modes.sh and tests/stress/run.sh (through stress/lib.sh), which
# source this file.
#
# A case is a function that returns 0 (pass), 1 (fail, reason in $why) or
# 77 (skipped, reason in $why); it may leave figures for its verdict line
# with figure.  The suite redefines case_cleanup, which stops whatever
# the case started, and may redefine case_reset, which clears its own
# per-case state before each case; it sets scratch to its scratch
# directory.

SKIP=77

passed=0
failed=0
skipped=0
why=""
figures=""		# "; "-separated figures a case reports
scratch=""		# the suite's scratch directory, removed on exit

# case_cleanup: stop whatever the case started; the suite redefines it.
case_cleanup() {
	:
}

# case_reset: the suite's per-case state, cleared before each case.
case_reset() {
	:
}

# On exit, stop what a case left running and remove the scratch directory.
cleanup() {
	case_cleanup
	[ -z "$scratch" ] || rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run NAME FUNCTION [ARG...]: run one case and print its verdict.
run() {
	local name=$1 status
	shift
	why=""
	figures=""
	case_reset
	"$@"
	status=$?
	case_cleanup
	case $status in
	0)
		echo "ok - $name${figures:+ ($figures)}"
		passed=$((passed + 1))
		;;
	"$SKIP")
		echo "SKIPPED - $name: $why"
		skipped=$((skipped + 1))
		;;
	*)
		echo "FAIL - $name: ${why:-failed}${figures:+ ($figures)}"
		failed=$((failed + 1))
		;;
	esac
}

# Print the totals line; exit 1 if anything failed.
summary() {
	local line="$passed passed, $failed failed"
	[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
	echo "$line"
	[ "$failed" -eq 0 ]
}

# fail REASON: record why the case failed; returns 1 for "|| return".
fail() {
	why=$*
	return 1
}

# skip REASON: record why the case was skipped; returns 77.
skip() {
	why=$*
	return "$SKIP"
}

# need TOOL...: skip the case unless every TOOL is installed.
need() {
	local t
	for t; do
		command -v "$t" >/dev/null 2>&1 || skip "no $t" || return
	done
}

# figure TEXT: add to what the verdict line reports.
figure() {
	figures="${figures:+$figures; }$*"
}
