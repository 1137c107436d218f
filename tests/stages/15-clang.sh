#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Stage: the warning-free build with clang.  The source tree is configured
# in a build directory of its own with CC=clang --enable-werror, built
# (make -j2) and tested (make -j2 check); the directory is removed at the
# end.  The build counts as one check, each test of make check as one more.
#
#   15-clang.sh BUILD-DIR ASAN-BUILD-DIR
#
# The last line is "N passed, N failed", or "skipped: WHY" without clang.
set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v clang >/dev/null 2>&1; then
	echo "skipped: clang is not installed"
	exit 0
fi
if [ ! -x "$srcdir/configure" ]; then
	echo "FAIL: no configure in $srcdir (run autoreconf -fi)"
	echo "0 passed, 1 failed"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hl-clang.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
log="$work/check.log"

clang --version | head -n 1
if ! (cd "$work" && CC=clang "$srcdir/configure" --enable-werror \
		>configure.log 2>&1); then
	tail -n 30 "$work/configure.log"
	echo "FAIL: configure with CC=clang"
	echo "0 passed, 1 failed"
	exit 1
fi
if ! make -C "$work" -j2 >"$work/make.log" 2>&1; then
	grep -E 'error|warning' "$work/make.log" | head -n 40
	echo "FAIL: make with clang and -Werror"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "PASS: make with clang and -Werror"

AM_COLOR_TESTS=no make -C "$work" -j2 check >"$log" 2>&1
rc=$?
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP|XFAIL): ' "$log"
count() {	# count FIELD: the automake summary's "# FIELD: N"
	n=$(sed -n "s/^# $1: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1)
	echo "${n:-0}"
}
passed=$(($(count PASS) + 1))
failed=$(($(count FAIL) + $(count ERROR) + $(count XPASS)))
if [ "$rc" -ne 0 ]; then
	[ -f "$work/test-suite.log" ] && cat "$work/test-suite.log"
	if [ "$failed" -eq 0 ]; then
		echo "FAIL: make check failed outside its tests"
		tail -n 30 "$log"
		failed=1
	fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
