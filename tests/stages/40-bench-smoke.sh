#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Stage: the benchmark still runs (bench/run-bench.sh, see BENCHMARKS.md),
# once, with tiny sizes and a few logins: every stack logs in, the
# contention runs lose or duplicate no slot, the admin tool is timed, and
# the PAM services and store directories it made are gone after; then
# the same, tiny, for the shared backend's benchmark
# (bench/run-bench-backend.sh).  Nothing here is timed against a limit.
#   tests/stages/40-bench-smoke.sh BUILD-DIR ASAN-BUILD-DIR
set -u
build=${1:?usage: $0 BUILD-DIR ASAN-BUILD-DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0

check() { # NAME COMMAND...
	name=$1
	shift
	if "$@"; then
		echo "ok: $name"
		passed=$((passed + 1))
	else
		echo "FAILED: $name"
		failed=$((failed + 1))
	fi
}

if [ "$(id -u)" != 0 ]; then
	echo "skipped: the benchmark runs real /etc/pam.d services, as root"
	exit 0
fi
if ! pkg-config --exists nss_wrapper; then
	echo "skipped: nss_wrapper is not installed"
	exit 0
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
trap 'exit 1' INT TERM HUP

# What a benchmark installs or makes must be gone after it: its PAM
# services, and its stores' directories in /dev/shm and /var/tmp (those
# there before this stage are not ours to judge).
store_dirs() {
	ls -d /dev/shm/hlbench.* /var/tmp/hlbench.* 2> /dev/null
}
dirs_before=$(store_dirs)
nothing_left() {
	! ls /etc/pam.d/hlbench-* > /dev/null 2>&1 &&
		[ "$(store_dirs)" = "$dirs_before" ]
}

echo "building the benchmark programs in $build"
check "the benchmark builds" make -s -C "$build" bench/bench_login \
	bench/bench_hold bench/pam_bench_libs.la helpdesk-license \
	pam_helpdesk_license.la

echo "running bench/run-bench.sh, tiny"
(cd "$build" && sh "$src/bench/run-bench.sh" -r 2 -n 3 -s "10 40" \
	-k "2 4" -c 5 -t 2 -b 5) > "$out" 2>&1
status=$?
sed 's/^/| /' "$out"
check "run-bench.sh exits 0" [ "$status" = 0 ]

# Every stack of the table, each with logins done.
rows() {
	grep -c -E "^\| $1 \|.*\| [1-9][0-9]* \|\$" "$out"
}
check "the floor was measured" [ "$(rows 'pam_permit \(floor\)')" = 1 ]
check "pam_faillock was measured" [ "$(rows 'pam_faillock.*')" = 1 ]
check "the module linking libgdbm and libconfig was measured" \
	[ "$(rows 'a module linking libgdbm and libconfig')" = 1 ]
check "the stores were on the disk and on tmpfs" \
	grep -q '^# durable store on .*, runtime store on tmpfs$' "$out"
check "pam_limits at 0, 10 and 40 sessions" \
	[ "$(rows 'pam_limits %group maxlogins, (0|10|40) in utmp')" = 3 ]
check "our module empty, at 10 and 40 held" \
	[ "$(rows 'pam_helpdesk_license, (empty store|10 held|40 held)')" = 3 ]
# The system calls a login, counted with strace: the floor's and ours.
check "the system calls of a login were counted" \
	[ "$(grep -c -E '^\| (pam_permit \(floor\)|pam_helpdesk_license, empty store) \|([^|]*\|){5} [1-9][0-9]* \|([^|]*\|){2} [1-9][0-9]* \|$' \
		"$out")" = 2 ]
# And its instructions, counted with callgrind: the floor's is the unit.
check "the instructions of a login were counted" \
	[ "$(grep -c -E '^\| (pam_permit \(floor\) \|([^|]*\|){6} [1-9][0-9]* \| 1\.00|pam_helpdesk_license, empty store \|([^|]*\|){6} [1-9][0-9]* \| [1-9][0-9]*\.[0-9]{2}) \| [1-9][0-9]* \|$' \
		"$out")" = 2 ]
check "the holders held every session" \
	grep -q '^# 40 holder processes' "$out"

# Contention: 2 pools x 2 driver counts, each consistent, none lost.
check "4 contention runs, all consistent" \
	[ "$(grep -c -E \
	'^\| (1|10) \| [24] \|.* consistent, 0 in use \| [0-9]+ \([0-9]+ stale\) \| 0 \|' \
		"$out")" = 4 ]
check "no slot lost or duplicated" \
	grep -q '^contention: 0 of 4 runs lost or duplicated a slot$' "$out"
check "a pool of 1 refused someone (the drivers did compete)" \
	grep -q -E '^\| 1 \| 4 \| [0-9]+ \| [0-9]+ \| [1-9]' "$out"
# Wall time, then the tool's CPU time ("-" without perf).
check "the admin tool was timed" grep -q -E \
	'^--json status +[0-9.]+ +([0-9]+ \([0-9]+-[0-9]+\)|-)$' "$out"
check "no PAM service or store directory left behind" nothing_left

# The shared backend's benchmark, tiny, where the backend can run at all
# (as stage 50-backend decides): a PostgreSQL of its own, the daemon, and
# the three stacks side by side.  A login opens the runtime space three
# times (account, open, close): a store transaction more means a round
# trip more, which the benchmark's -t count shows.
. "$src/tests/backend/pg.sh"
if pg_installed > /dev/null && pg_daemon_built "$build"; then
	echo "running bench/run-bench-backend.sh, tiny"
	check "the daemon builds" make -s -C "$build" helpdesk-licensed
	(cd "$build" && bash "$src/bench/run-bench-backend.sh" -r 1 -n 3 -t -w) \
		> "$out" 2>&1
	status=$?
	sed 's/^/| /' "$out"
	check "run-bench-backend.sh exits 0" [ "$status" = 0 ]
	check "the floor, the local store and the backend were measured" \
		[ "$(grep -c -E '^\| (pam_permit \(floor\)|pam_helpdesk_license, (local store|shared backend \(daemon \+ PostgreSQL\))) \| [0-9]+ \|' \
			"$out")" = 3 ]
	check "three store transactions a login" grep -q -E \
		'^# per login: 3\.0 store transactions, [0-9]+\.[0-9] round trips to PostgreSQL$' \
		"$out"
	check "the module's five waits a login were timed" grep -q -E \
		'^# the module waits \(median µs of 200 logins\): account [0-9]+; open: records [0-9]+, commit [0-9]+; close: records [0-9]+, commit [0-9]+$' \
		"$out"
	check "the daemon's and the server's CPU were read" grep -q -E \
		'^CPU per backend login: the daemon [0-9]+ µs, the server [0-9]+ µs \([0-9]+ logins\)$' \
		"$out"
	check "no PAM service or store directory left behind by the backend's benchmark" \
		nothing_left
else
	echo "not run here: bench/run-bench-backend.sh (no PostgreSQL server, or $build without the backend)"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
