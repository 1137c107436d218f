#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite, as the README gives it:
#
#   ./tests/run-all.sh [--no-install]
#
# As root it first installs the Debian packages that the build and the tests
# need (apt-get); with --no-install, or when not root, they must already be
# installed.  Then, from the top of the source tree:
#
#   1. _build/       out-of-tree build with --enable-werror: make -j2, then
#                    make check (the tests one at a time)
#   2. _build-asan/  out-of-tree build with --enable-sanitizers (ASan and
#                    UBSan): make -j2 check (two tests at a time)
#   3. _build/       make distcheck (the tarball builds and passes its tests)
#   4. _build/       as root only: tests/e2e/sshd-e2e.sh, the module with a
#                    real sshd, real users and ssh clients
#   5. tests/stages/*.sh, in name order: the stages that need more than make
#                    check (see tests/stages/README)
#
# The build directories are made anew each run.  HL_BUILD_ROOT puts them
# somewhere other than the top of the source tree.
#
# The last line is "N passed, N failed": the automake test results of every
# make check above added up (ERROR and XPASS count as failed; a stage that
# broke before its tests could run counts as one failure).  The exit status
# is 0 only when every stage passed.

set -euo pipefail

PACKAGES="autoconf automake libtool pkg-config make gcc libc6-dev
	libpam0g-dev libconfig-dev libgdbm-dev libcmocka-dev
	libpam-wrapper libpamtest0-dev libnss-wrapper
	openssh-server openssh-client
	dpkg-dev debhelper lintian pamtester logrotate gdbmtool
	zlib1g-dev chromium python3 prometheus
	clang libclang-rt-dev valgrind strace
	postgresql libpq-dev"

install=yes
for arg in "$@"; do
	case "$arg" in
	--no-install) install=no ;;
	-h|--help)
		awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"
		exit 0 ;;
	*)
		echo "usage: $0 [--no-install]" >&2
		exit 2 ;;
	esac
done

srcdir=$(cd "$(dirname "$0")/.." && pwd)
root=${HL_BUILD_ROOT:-$srcdir}
cd "$srcdir"

passed=0
failed=0
broken=()

# Runs one stage; its output goes to the terminal and to LOG.
stage() {	# stage NAME LOG COMMAND...
	local name=$1 log=$2 rc=0
	shift 2
	echo
	echo "==== $name"
	"$@" 2>&1 | tee "$log" || rc=$?
	if [ "$rc" -ne 0 ]; then
		broken+=("$name")
		echo "==== $name: FAILED (exit status $rc)"
	fi
	return "$rc"
}

# A stage that runs tests: adds the "# PASS:", "# FAIL:", "# ERROR:" and
# "# XPASS:" lines of the automake summaries in its output to the totals.
# A failed stage without any summary (the build broke first) counts as one
# failure, so that a broken build never reads as "0 failed".
test_stage() {	# test_stage NAME BUILD-DIR LOG COMMAND...
	local name=$1 dir=$2 log=$3 rc=0 p f e x
	shift 3
	stage "$name" "$log" "$@" || rc=$?
	if [ "$rc" -ne 0 ]; then
		show_suite_logs "$dir"
	fi
	if ! grep -q '^# TOTAL:' "$log"; then
		if [ "$rc" -ne 0 ]; then
			failed=$((failed + 1))
			echo "$name: no test results (counted as 1 failed)"
		else
			echo "$name: WARNING: no test ran"
		fi
		return "$rc"
	fi
	p=$(sum_field PASS "$log")
	f=$(sum_field FAIL "$log")
	e=$(sum_field ERROR "$log")
	x=$(sum_field XPASS "$log")
	passed=$((passed + p))
	failed=$((failed + f + e + x))
	echo "$name: $p passed, $((f + e + x)) failed (FAIL $f, ERROR $e, XPASS $x)"
	if [ "$rc" -ne 0 ] && [ $((f + e + x)) -eq 0 ]; then
		# The tests passed but something around them did not.
		failed=$((failed + 1))
		echo "$name: failed outside the tests (counted as 1 failed)"
	fi
	return "$rc"
}

sum_field() {	# sum_field NAME LOG
	sed -n "s/^# $1: *\([0-9][0-9]*\).*/\1/p" "$2" | awk '{ s += $1 } END { print s + 0 }'
}

# The test-suite.log of a build whose make check failed, if it says so.
show_suite_logs() {	# show_suite_logs DIR
	local f="$1/test-suite.log"
	if [ -f "$f" ] && grep -qE '^# (FAIL|ERROR|XPASS): *[1-9]' "$f"; then
		echo "---- $f"
		cat "$f"
	fi
}

configure_build() {	# configure_build DIR CONFIGURE-OPTIONS...
	local dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$srcdir/configure" "$@")
}

if [ "$install" = yes ] && [ "$(id -u)" -eq 0 ]; then
	echo "==== installing the build and test dependencies (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086  # one word per package
	apt-get install -y -qq $PACKAGES >/dev/null
elif [ "$install" = yes ]; then
	echo "Not root: skipping apt-get; the build and test dependencies must be installed."
fi

# No colours: the summary lines are parsed.
export AM_COLOR_TESTS=no
logs=$(mktemp -d "${TMPDIR:-/tmp}/helpdesk-tests.XXXXXX")
trap 'rm -rf "$logs"' EXIT

if stage "autoreconf -fi" "$logs/autoreconf.log" autoreconf -fi; then
	# 1. The warning-free build and its tests.
	if stage "configure (_build, --enable-werror)" "$logs/configure.log" \
		configure_build "$root/_build" --enable-werror &&
	   stage "make (_build)" "$logs/make.log" make -C "$root/_build" -j2; then
		test_stage "make check (_build)" "$root/_build" "$logs/check.log" \
			make -C "$root/_build" check || true
	else
		failed=$((failed + 1))
	fi

	# 2. The sanitizer build runs the whole suite again.
	if stage "configure (_build-asan, --enable-sanitizers)" \
		"$logs/configure-asan.log" \
		configure_build "$root/_build-asan" --enable-sanitizers; then
		test_stage "make check (_build-asan)" "$root/_build-asan" \
			"$logs/check-asan.log" make -C "$root/_build-asan" -j2 check || true
	else
		failed=$((failed + 1))
	fi

	# 3. The release tarball builds, installs and passes its tests.
	if [ -f "$root/_build/Makefile" ]; then
		version=$(sed -n 's/^PACKAGE_VERSION = //p' "$root/_build/Makefile")
		test_stage "make distcheck (_build)" \
			"$root/_build/pam_helpdesk_license-$version/_build/sub" \
			"$logs/distcheck.log" make -C "$root/_build" distcheck || true
	fi
else
	failed=$((failed + 1))
fi

# A stage whose last line is "N passed, N failed": the counts go to the
# totals; a run that broke before it printed them counts as one failure.
# One that printed "skipped: why" and exited 0 counts as neither.
counted_stage() {	# counted_stage NAME LOG COMMAND...
	local name=$1 log=$2 rc=0 counts
	shift 2
	stage "$name" "$log" "$@" || rc=$?
	if [ "$rc" -eq 0 ] && grep -q '^skipped: ' "$log"; then
		echo "$name: $(grep '^skipped: ' "$log" | tail -n 1)"
		return
	fi
	counts=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' \
		"$log" | tail -n 1)
	if [ -z "$counts" ]; then
		failed=$((failed + 1))
		echo "$name: no test results (counted as 1 failed)"
		return
	fi
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
	echo "$name: ${counts% *} passed, ${counts#* } failed"
	if [ "$rc" -ne 0 ] && [ "${counts#* }" -eq 0 ]; then
		failed=$((failed + 1))
		echo "$name: failed outside the tests (counted as 1 failed)"
	fi
}

# 4. End to end with real OpenSSH (root only: it starts an sshd of its own
# and creates test users).
if [ "$(id -u)" != 0 ]; then
	echo
	echo "==== sshd end-to-end: skipped (needs root: it starts sshd and creates users)"
elif [ -f "$root/_build/.libs/pam_helpdesk_license.so" ] &&
     [ -x "$root/_build/helpdesk-license" ]; then
	counted_stage "sshd end-to-end (_build)" "$logs/e2e.log" \
		"$srcdir/tests/e2e/sshd-e2e.sh" \
		"$root/_build/.libs/pam_helpdesk_license.so" \
		"$root/_build/helpdesk-license"
else
	echo
	echo "==== sshd end-to-end: skipped (the _build build failed)"
fi

# 5. The other stages.  Each is called as "SCRIPT BUILD-DIR ASAN-BUILD-DIR"
# and ends with "N passed, N failed", or says "skipped: why" and exits 0.
for script in "$srcdir"/tests/stages/*.sh; do
	[ -e "$script" ] || continue
	name=$(basename "$script" .sh)
	counted_stage "$name" "$logs/$name.log" "$script" \
		"$root/_build" "$root/_build-asan"
done

echo
if [ ${#broken[@]} -eq 0 ]; then
	echo "All stages passed."
else
	echo "Failed stages:"
	for s in "${broken[@]}"; do
		echo "  - $s"
	done
fi
echo "$passed passed, $failed failed"
[ ${#broken[@]} -eq 0 ] && [ "$failed" -eq 0 ]
