#!/bin/sh
# valgrind.sh: run timed (or, as "valgrind.sh unit", the unit tests) under
# valgrind's memcheck for `make check`.  Any error makes the process exit 99,
# which the tests then see as a wrong exit status.  The tests may copy this
# script elsewhere, so TIMED_BIN gives timed's absolute path; a launcher
# that clears the environment must pass it on (systemd-socket-activate -E).
top=$(cd "$(dirname "$0")/.." && pwd)
prog=${TIMED_BIN:-$top/timed}
if [ "${1:-}" = unit ]; then
	prog=$top/tests/unit
	shift
fi
if [ ! -x "$prog" ]; then
	echo "valgrind.sh: $prog: not found; set TIMED_BIN" >&2
	exit 127
fi
exec valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite "$prog" "$@"
