#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Stage: the whole "make check" under valgrind memcheck, in a fresh plain
# build (no sanitizers: valgrind and ASan do not mix):
#
#   tests/stages/35-valgrind.sh BUILD-DIR ASAN-BUILD-DIR
#
# The build goes to a new _build-valgrind.XXXXXX next to BUILD-DIR and is
# removed at the end.  "make check-valgrind" (tests/valgrind.am) runs every test program
# through tests/valgrind.sh: a memory error or a definite or indirect leak
# in any process of a test fails that test.  One line per test program:
# its result and the valgrind reports in its log.  Skipped when valgrind
# is not installed.

set -uo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD-DIR [ASAN-BUILD-DIR]" >&2
	exit 2
fi
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
root=$(cd "$(dirname "$1")" && pwd)
# The whole stage is bounded: a hang fails it rather than stalls the suite.
limit=${HL_VALGRIND_TIMEOUT:-1500}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "skipped: valgrind not installed"
	exit 0
fi

build=$(mktemp -d "$root/_build-valgrind.XXXXXX") || exit 1
trap 'rm -rf "$build"' EXIT

echo "configure and make ($build)"
if ! (cd "$build" && "$srcdir/configure" >configure.log 2>&1 &&
      make -j2 >make.log 2>&1 && make -j2 check TESTS= >>make.log 2>&1); then
	tail -n 30 "$build/configure.log" "$build/make.log" 2>/dev/null
	echo "the build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

echo "make check-valgrind (at most ${limit}s)"
start=$(date +%s)
# Two test programs at a time; the integration tests' own timeouts are
# raised, as everything runs many times slower under valgrind.
HL_IT_TIMEOUT=600 timeout "$limit" make -C "$build" -j2 check-valgrind \
	>"$build/check.log" 2>&1
rc=$?
echo "  $(($(date +%s) - start))s, make exit status $rc"

passed=0
failed=0
for trs in $(find "$build" -name '*.trs' | sort); do
	log=${trs%.trs}.log
	name=${trs#"$build"/}
	name=${name%.trs}
	result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	reports=$(grep -cE '^==[0-9]+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function|.* are (definitely|indirectly) lost)' \
		"$log" 2>/dev/null)
	echo "  $result: $name (valgrind reports: ${reports:-0})"
	if [ "$result" = PASS ] || [ "$result" = SKIP ] || [ "$result" = XFAIL ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "---- $name.log (the valgrind reports)"
		grep -E '^==[0-9]+==' "$log" | head -n 60
	fi
done
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	tail -n 30 "$build/check.log"
	echo "make check-valgrind failed outside the tests (or timed out)"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
