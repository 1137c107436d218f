#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A network partition with the daemon alive: two simulated hosts "A" and
# "B" on a real PostgreSQL (tests/backend/pg.sh), a pool of one license.
# A's daemon runs in a network namespace of this test and reaches
# PostgreSQL over TCP through a veth pair (an address of 198.18.0.0/15,
# the benchmarking range, on this machine only); B's over the Unix socket.
# Taking the veth link down cuts A off from the database while A's daemon
# and A's logins live on.  As root:
#
#   tests/backend/partition.sh MODULE DAEMON TOOL
#
# It shows: while A is cut off, a login on A follows on_error (deny) with
# "license database unreachable" and A's open session goes on; B is
# refused while A's lease is live; once A's lease (3 s here) has run out,
# B's login takes the seat; when the link is back A's daemon heartbeats
# again and A's old session no longer counts (the seat is B's), as
# helpdesk-licensed(8) and doc/RELIABILITY.md say.  Every wait polls a
# condition; HL_BACKEND_GUARD (default 120) bounds each, in seconds, only
# as a guard against a hang.
#
# Output is TAP-like ("ok N - ...", "not ok N - ..." with the evidence),
# the last line "N passed, N failed"; exit status 0 only when every test
# passed.  Everything lives in a temporary directory and the namespace,
# both removed at exit.

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
. "$here/pg.sh"
. "$here/lib.sh"
need_module_daemon_tool \
	"a network namespace, PostgreSQL as the postgres user" "$@"

# The namespace and the veth pair, named and numbered after this process
# so that two runs on one machine do not meet.
netns=hlpart$$
link_db=hlp$$d
link_a=hlp$$a
subnet=198.18.$(($$ % 250 + 1)).$(($$ / 250 % 64 * 4))
db_addr=${subnet%.*}.$((${subnet##*.} + 1))
a_addr=${subnet%.*}.$((${subnet##*.} + 2))
eval "lib_$(declare -f cleanup)"
cleanup() {
	lib_cleanup
	ip link del "$link_db" 2> /dev/null
	ip netns del "$netns" 2> /dev/null
}

if ! { ip netns add "$netns" &&
	ip link add "$link_db" type veth peer name "$link_a" netns "$netns" &&
	ip addr add "$db_addr/30" dev "$link_db" && ip link set "$link_db" up &&
	ip -n "$netns" addr add "$a_addr/30" dev "$link_a" &&
	ip -n "$netns" link set "$link_a" up && ip -n "$netns" link set lo up; }; then
	not_ok "a network namespace with a veth pair to it is made"
	tap_counts
	exit 1
fi

echo "# PostgreSQL also listens on $db_addr"
PG_LISTEN=$db_addr database_up
echo "host helpdesk helpdesk $a_addr/32 scram-sha-256" >> "$PG_DIR/data/pg_hba.conf"
pg_sql "SELECT pg_reload_conf()" > /dev/null
hosts_init "$module" "$daemon" "$tool" || {
	not_ok "the users, the login driver and pam_wrapper are ready"
	tap_counts
	exit 1
}
# A cut-off connection fails within seconds (the conninfo's own TCP
# timeouts, shorter than the daemon's defaults).
write_host A "host=$db_addr dbname=helpdesk user=helpdesk connect_timeout=2 tcp_user_timeout=2000"
write_host B
evidence=$("$daemon" -c "$T/B/helpdesk-license.conf" --migrate 2>&1)
check "the schema is created" [ $? = 0 ]
start_daemon A ip netns exec "$netns"
start_daemon B
evidence=$(tool A check-config)
check "A's daemon, in its namespace, reaches PostgreSQL over the veth link" \
	eval '[[ "$evidence" == *"helpdesk-licensed of host A"* ]]'

# a_live: A's heartbeat is within its lease (3 s), by the server's clock.
a_live() {
	[ "$(pg_sql "SELECT count(*) FROM hl_host WHERE host = 'A' AND
		heartbeat > statement_timestamp() - interval '3 seconds'")" = 1 ]
}
# a_heartbeat_after TIME: A has heartbeaten since TIME (the server's).
a_heartbeat_after() {
	[ "$(pg_sql "SELECT count(*) FROM hl_host WHERE host = 'A' AND
		heartbeat > '$1'::timestamptz")" = 1 ]
}

hold_login carol A carol
evidence=$(cat "$T/carol.out")
check "carol is granted the pool's one license on A" \
	grep -q "session open  -> PAM_SUCCESS" "$T/carol.out"
out=$(login B dave)
status=$?
evidence=$out
check "dave is refused on B: held by carol at A" \
	eval '[ $status = 1 ] && [[ "$out" == *"held by carol since"*" at A)"* ]]'

# --- the cut ---
ip link set "$link_db" down
echo "# the link from A to the database is down; A's daemon lives"

# (b) Refused while A's lease is live.  Were the machine so slow that the
# lease ran out before B's login ended, B could rightly get the seat: that
# is told apart by A's heartbeat after the login, not by a clock here.
out=$(login B dave)
status=$?
evidence=$out
if a_live; then
	check "B is refused while A's lease is live" \
		eval '[ $status = 1 ] && [[ "$out" == *"held by carol since"*" at A)"* ]]'
else
	echo "# A's lease ran out before B's login ended: its refusal is not checked"
fi

# (a) A's login follows on_error, with the reason; A's open session lives.
out=$(login A nina)
status=$?
evidence=$out
check "cut off, A refuses nina (on_error = deny): license database unreachable" \
	eval '[ $status = 1 ] && [[ "$out" == *"license database unreachable"* ]]'
evidence="carol's login process on A is gone"
check "carol's session on A goes on" kill -0 "${pid[carol]}"
check "A's daemon lives" kill -0 "${pid[daemon_A]}"

# (c) After A's lease, B's next login takes the seat.
evidence="dave stayed refused on B for ${guard}s after A was cut off"
check "after A's lease (3 s), dave's login on B takes the seat" \
	eventually login B dave
evidence=$(cat "$T/B/log/events.log")
check "B's login reaped carol's session of A: \"host gone\"" \
	eval 'grep "\"event\":\"reap\"" "$T/B/log/events.log" | grep "\"user\":\"carol\"" | grep "\"reason\":\"host gone\"" >/dev/null'
hold_login dave B dave
evidence=$(cat "$T/dave.out")
check "dave holds the seat on B" grep -q "session open  -> PAM_SUCCESS" "$T/dave.out"

# (d) The link back: A heartbeats again; its old session does not count.
healed=$(pg_sql "SELECT statement_timestamp()")
ip link set "$link_db" up
echo "# the link is back"
evidence="A's heartbeat did not come back within ${guard}s; $(tail -n 5 "$T/A/daemon.log")"
check "A's daemon heartbeats again" eventually a_heartbeat_after "$healed"
evidence=$(tool A check-config)
check "A's daemon answers again" \
	eval '[[ "$evidence" == *"helpdesk-licensed of host A"* ]]'
out=$(tool A list)
evidence=$out
check "list on A: the seat is dave's at B, carol's old session of A is gone" \
	eval 'grep -Eq "^field #1 +dave .* B +-$" <<< "$out" && ! grep -q carol <<< "$out"'
evidence="carol's login process on A is gone"
check "carol's session on A still runs (the host keeps it)" kill -0 "${pid[carol]}"
out=$(login A carol)
status=$?
evidence=$out
check "a new login of carol on A is refused: the seat is dave's at B" \
	eval '[ $status = 1 ] && [[ "$out" == *"held by dave since"*" at B)"* ]]'
out=$(login A nina)
status=$?
evidence=$out
check "nina logs in on A again" [ $status = 0 ]
logout carol
echo "# carol's old session on A ended (exit status $?)"
out=$(tool B list)
evidence=$out
check "its end leaves dave's seat at B alone" \
	grep -Eq "^field #1 +dave .* B +-$" <<< "$out"
evidence=$(cat "$T/dave.out")
check "dave logs out on B" logout dave

tap_counts
