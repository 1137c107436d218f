#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The module and the admin tool on the shared backend, end to end: a real
# PostgreSQL (tests/backend/pg.sh), two simulated hosts "A" and "B" on
# it, each with its own helpdesk-licensed, socket, configuration and event
# log, and logins through the built module and real libpam under
# pam_wrapper and nss_wrapper (demo/hl-login.c drives them; a login that
# stays open is a process of its own).  As root:
#
#   tests/backend/module-test.sh MODULE DAEMON TOOL
#
# MODULE is the built pam_helpdesk_license.so, DAEMON helpdesk-licensed,
# TOOL helpdesk-license.  HL_BACKEND_GUARD (default 120) bounds, in
# seconds, each wait for something to happen, only as a guard against a
# hang: nothing here waits a fixed time for something to be done.
#
# Output is TAP-like ("ok N - ...", "not ok N - ..." with the evidence),
# the last line "N passed, N failed"; exit status 0 only when every test
# passed.  Everything lives in a temporary directory, removed at exit.

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
. "$here/pg.sh"
. "$here/lib.sh"
need_module_daemon_tool \
	"PostgreSQL as the postgres user, the daemon as root" "$@"
database_up
hosts_init "$module" "$daemon" "$tool" || {
	not_ok "the users, the login driver and pam_wrapper are ready"
	tap_counts
	exit 1
}
write_host A
write_host B
evidence=$("$daemon" -c "$T/A/helpdesk-license.conf" --migrate 2>&1)
check "the schema is created" [ $? = 0 ]
start_daemon A
start_daemon B

out=$(tool A check-config)
evidence=$out
check "check-config asks the daemon, which answers for host A" \
	eval '[[ "$out" == *"valid"*"helpdesk-licensed of host A, boot "*", schema version 1)"* ]]'

# --- one pool of 1 for both hosts ---
hold_login carol A carol
evidence=$(cat "$T/carol.out")
check "carol is granted the pool's one license on A" grep -q "session open  -> PAM_SUCCESS" "$T/carol.out"
out=$(login B dave)
status=$?
evidence=$out
check "dave is refused on B: the license is held by carol on A" \
	eval '[ $status = 1 ] && [[ "$out" == *"held by carol since"*" at A)"* ]]'
out=$(tool B list)
evidence=$out
check "list on B shows carol's session with its HOST, A" \
	eval 'grep -q " HOST FROM" <<< "$(head -1 <<< "$out")" && grep -Eq "^field #1 +carol .* A +-$" <<< "$out"'
logout carol
out=$(login B dave)
status=$?
evidence=$out
check "once carol logs out on A, dave is granted on B" [ $status = 0 ]

# --- a host whose daemon falls silent loses its sessions ---
hold_login carol A carol
out=$(login B dave)
status=$?
evidence=$out
check "dave is refused on B while A's daemon heartbeats" [ $status = 1 ]
kill -STOP "${pid[daemon_A]}"
evidence="dave stayed refused on B for ${guard}s after A's daemon stopped"
check "after A's lease (3 s) runs out, dave's login on B takes the license" \
	eventually login B dave
evidence=$(cat "$T/B/log/events.log")
check "B's login reaped carol's session of A: \"host gone\"" \
	eval 'grep "\"event\":\"reap\"" "$T/B/log/events.log" | grep "\"user\":\"carol\"" | grep "\"reason\":\"host gone\"" >/dev/null'
kill -CONT "${pid[daemon_A]}"
logout carol

# --- a Named allocation is the same on every host ---
out=$(login A nina)
evidence=$out
out=$(tool B list)
evidence+=$'\n'$out
check "nina's Named allocation, made on A, is seen on B" \
	grep -Eq "^named +nina " <<< "$out"
out=$(login B nina)
status=$?
evidence=$out
check "and nina logs in on B under it" [ $status = 0 ]

# --- the administrator's tools ---
out=$(tool B repair)
status=$?
evidence=$out
check "repair leaves the database to PostgreSQL and exits 0" \
	eval '[ $status = 0 ] && [[ "$out" == *"PostgreSQL keeps it sound"* ]]'

# --- no daemon ---
kill -TERM "${pid[daemon_B]}"
wait "${pid[daemon_B]}"
unset "pid[daemon_B]"
out=$(login B dave)
status=$?
evidence=$out
check "without its daemon, B refuses (on_error = deny): license database unreachable" \
	eval '[ $status = 1 ] && [[ "$out" == *"license database unreachable: helpdesk-licensed is not running"* ]]'
out=$(tool B check-config)
status=$?
evidence=$out
check "check-config says the daemon does not answer, and fails" \
	eval '[ $status = 1 ] && [[ "$out" == *"systemctl start helpdesk-licensed"* ]]'

tap_counts
