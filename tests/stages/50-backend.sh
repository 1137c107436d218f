#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Stage: helpdesk-licensed, the shared backend's daemon, against a real
# PostgreSQL the test starts itself (tests/backend/daemon-test.sh), once
# with the -Werror build and once with the sanitizer build; the module and
# the tool on it (module-test.sh) and a network partition with a host's
# daemon alive (partition.sh); three hosts under churn, and a failover
# (churn.sh).  Needs root
# (PostgreSQL runs as the postgres user) and the PostgreSQL server.
#   tests/stages/50-backend.sh BUILD-DIR ASAN-BUILD-DIR
set -u
build=${1:?usage: $0 BUILD-DIR ASAN-BUILD-DIR}
asan=${2:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0

if [ "$(id -u)" != 0 ]; then
	echo "skipped: PostgreSQL runs as the postgres user, the daemon as root"
	exit 0
fi
. "$src/tests/backend/pg.sh"
if ! why=$(pg_installed); then
	echo "skipped: $why"
	exit 0
fi
if ! pg_daemon_built "$build"; then
	echo "skipped: $build was configured without the backend (no libpq)"
	exit 0
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
trap 'exit 1' INT TERM HUP

# Adds a TAP-like script's counts (in $out) to ours.
tally() {	# SCRIPT STATUS
	sed 's/^/| /' "$out"
	counts=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' "$out" | tail -n 1)
	if [ -z "$counts" ]; then
		echo "FAILED: $1 gave no results"
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
	if [ "$2" != 0 ] && [ "${counts#* }" = 0 ]; then
		echo "FAILED: $1 exited $2"
		failed=$((failed + 1))
	fi
}

run() {	# BUILD-DIR
	echo "building helpdesk-licensed in $1"
	if ! make -s -C "$1" helpdesk-licensed tests/backend/hl_backend_client; then
		echo "FAILED: helpdesk-licensed builds in $1"
		failed=$((failed + 1))
		return
	fi
	echo "running tests/backend/daemon-test.sh with $1"
	"$src/tests/backend/daemon-test.sh" "$1/helpdesk-licensed" \
		"$1/tests/backend/hl_backend_client" > "$out" 2>&1
	tally daemon-test.sh $?
}

# The module and the tool on the backend (tests/backend/module-test.sh),
# with the plain build: a sanitized module would need its runtime
# preloaded into the login driver.
module_test() {	# BUILD-DIR
	echo "running tests/backend/module-test.sh with $1"
	if ! make -s -C "$1" pam_helpdesk_license.la helpdesk-license; then
		echo "FAILED: the module and the tool build in $1"
		failed=$((failed + 1))
		return
	fi
	"$src/tests/backend/module-test.sh" "$1/.libs/pam_helpdesk_license.so" \
		"$1/helpdesk-licensed" "$1/helpdesk-license" > "$out" 2>&1
	tally module-test.sh $?
	# A network partition with host A's daemon alive
	# (tests/backend/partition.sh; a network namespace and a veth pair).
	echo "running tests/backend/partition.sh with $1"
	"$src/tests/backend/partition.sh" "$1/.libs/pam_helpdesk_license.so" \
		"$1/helpdesk-licensed" "$1/helpdesk-license" > "$out" 2>&1
	tally partition.sh $?
}

# Three hosts under churn (tests/backend/churn.sh): SIGKILLed sessions, a
# host that crashes, the database restarted; then the same with a
# synchronous standby promoted in place of a primary that went away.
# Each counts as one test: 0 over-grants, 0 seats left, the crashed
# host's seats back after its lease.
churn() {	# BUILD-DIR [--failover]
	echo "running tests/backend/churn.sh $2 with $1"
	if ! make -s -C "$1" helpdesk-licensed tests/backend/churn; then
		echo "FAILED: churn builds in $1"
		failed=$((failed + 1))
		return
	fi
	if "$src/tests/backend/churn.sh" $2 "$1/helpdesk-licensed" \
		"$1/tests/backend/churn" 60 > "$out" 2>&1; then
		grep '^churn: ' "$out" | sed 's/^/| /'
		passed=$((passed + 1))
	else
		sed 's/^/| /' "$out" | tail -n 60
		echo "FAILED: churn.sh $2"
		failed=$((failed + 1))
	fi
}

run "$build"
module_test "$build"
churn "$build" ""
churn "$build" --failover
if [ -n "$asan" ] && [ -f "$asan/Makefile" ] && pg_daemon_built "$asan"; then
	run "$asan"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
