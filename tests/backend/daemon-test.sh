#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# helpdesk-licensed against a real PostgreSQL that this script starts
# itself (tests/backend/pg.sh): two daemons, the hosts "h1" and "h2", each
# with its own configuration and socket, on one database.  As root:
#
#   tests/backend/daemon-test.sh DAEMON CLIENT
#
# DAEMON is the built helpdesk-licensed, CLIENT the built
# tests/backend/hl_backend_client.  HL_BACKEND_GUARD (default 120) bounds,
# in seconds, each wait for something to happen, only as a guard against
# a hang: nothing here waits a fixed time for something to be done.
#
# Output is TAP-like ("ok N - ...", "not ok N - ..." with the evidence),
# the last line "N passed, N failed"; exit status 0 only when every test
# passed.  Everything lives in a temporary directory, removed at exit.

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
. "$here/pg.sh"
. "$here/lib.sh"
need_args_and_root "HELPDESK-LICENSED HL_BACKEND_CLIENT" \
	"PostgreSQL as the postgres user, the daemon as root" 2 "$@"
daemon=$(abs "$1")
client=$2


sock() { echo "$T/run-$1/licensed.sock"; }
call() {	# HOST ARGS...: the client against HOST's daemon
	local host=$1
	shift
	"$client" "$(sock "$host")" "$@"
}

# The configuration of host NAME: heartbeat 1 s and lease 3 s so that a
# silent host loses its lease soon; TXN is its transaction_timeout.
write_config() {	# NAME TXN
	mkdir -p "$T/run-$1" "$T/state-$1"
	chmod 700 "$T/run-$1" "$T/state-$1"
	cat > "$T/$1.conf" <<-CONF
	store = "$T/state-$1/licenses.db";
	runtime_store = "$T/state-$1/sessions.db";
	event_log = "";
	concurrent = ( { pool = "support"; licenses = 1; users = [ "nobody" ]; } );
	backend = {
	  type = "postgresql";
	  conninfo = "$PG_CONNINFO";
	  password_file = "$T/password";
	  socket = "$(sock "$1")";
	  host = "$1";
	  heartbeat = 1;
	  lease = 3;
	  transaction_timeout = $2;
	};
	CONF
}

start_daemon() {	# NAME
	"$daemon" -c "$T/$1.conf" --foreground 2>> "$T/$1.log" &
	pid[$1]=$!
	eventually call "$1" ping
}

# A writer that holds its transaction open until released: CLIENT-ARGS
# after "write SPACE TIMEOUT --hold"; its output goes to $T/NAME.out.
hold() {	# NAME HOST SPACE TIMEOUT CHANGES...
	local name=$1 host=$2 space=$3 timeout=$4
	shift 4
	rm -f "$T/$name.fifo" "$T/$name.out"
	mkfifo "$T/$name.fifo"
	# The client itself in the background (not a function's subshell):
	# $! is the process a test kills.
	"$client" "$(sock "$host")" write "$space" "$timeout" --hold "$@" \
		< "$T/$name.fifo" > "$T/$name.out" 2>&1 &
	pid[$name]=$!
	exec {fd}> "$T/$name.fifo"
	eval "fd_$name=$fd"
}
release() {	# NAME: lets the held writer commit, and waits for it
	local fd_var="fd_$1" status
	echo go >&"${!fd_var}"
	exec {fd_var}>&-
	wait "${pid[$1]}"
	status=$?
	unset "pid[$1]"
	return "$status"
}
opened() { grep -q '^opened$' "$T/$1.out"; }
has_record() {	# HOST SPACE KEY=VALUE
	local records
	# Read whole before grep looks (grep -q in a pipe may cut it short).
	records=$(call "$1" read "$2") && grep -qxF "$3" <<< "$records"
}
database_up
write_config h1 30
write_config h2 3

# --- the schema ---
out=$("$daemon" -c "$T/h1.conf" --check 2>&1)
status=$?
evidence=$out
check "--check on an empty database says so and fails" \
	eval '[ $status = 1 ] && [[ "$out" == *"(version)"*"--migrate"* ]]'
evidence=$("$daemon" -c "$T/h1.conf" --migrate 2>&1)
status=$?
spaces=$(pg_sql "SELECT version FROM hl_schema" 2>&1; pg_sql "SELECT space FROM hl_space ORDER BY space" 2>&1)
evidence+=$'\n'$spaces
check "--migrate creates the schema" \
	eval '[ $status = 0 ] && [ "$spaces" = "$(printf "1\ndurable\nruntime")" ]'
out=$("$daemon" -c "$T/h1.conf" --check 2>&1)
status=$?
evidence=$out
check "--check then passes" eval '[ $status = 0 ] && [ "$out" = "ok: schema version 1, host h1" ]'
evidence=$("$daemon" -c "$T/h1.conf" --migrate 2>&1)
check "--migrate again leaves version 1 alone" \
	eval '[[ "$evidence" == *"already"* ]] && [ "$(pg_sql "SELECT count(*) FROM hl_schema")" = 1 ]'

# --- two hosts, one database ---
start_daemon h1 && start_daemon h2
boot=$(cat /proc/sys/kernel/random/boot_id)
out=$(call h1 ping; call h2 ping)
evidence=$out
check "PING: each daemon names its host, boot id and schema version" \
	[ "$out" = "$(printf 'OK h1 %s 1\nOK h2 %s 1' "$boot" "$boot")" ]
evidence=$(stat -c '%a %U %F' "$(sock h1)" "$T/run-h1" 2>&1)
check "the socket is root's, mode 0600" \
	[ "$(stat -c '%a %U' "$(sock h1)")" = "600 root" ]

out=$(call h1 write runtime 5 put slot/support/0 alice put line/support "" 2>&1)
evidence=$out
# The order of the records is not the protocol's.
check "a write transaction commits" \
	[ "$(sort <<< "$out")" = "$(printf 'OK\nRECORDS 2\nhost/h1=%s\nhost/h2=%s' "$boot" "$boot")" ]
out=$(call h2 read runtime 2>&1)
evidence=$out
check "the next read, on the other host, sees its puts" \
	eval 'grep -qxF slot/support/0=alice <<< "$out" && grep -qxF line/support= <<< "$out" &&
	      [ "$(head -1 <<< "$out")" = "RECORDS 4" ]'
out=$(call h2 write runtime 5 del line/support put slot/support/0 bob 2>&1)
evidence=$out
out=$(call h1 read runtime 2>&1)
evidence+=$'\n'$out
check "a delete and an overwrite are seen by the next read" \
	eval 'grep -qxF slot/support/0=bob <<< "$out" && ! grep -q "^line/support=" <<< "$out"'
# The daemon sends a COMMIT's puts and deletes as one statement each:
# of one key's changes, the one sent last must still win.
out=$(call h1 write runtime 5 put twice/a 1 put twice/a 2 del twice/b \
	put twice/b 3 put twice/c 4 del twice/c 2>&1)
evidence=$out
out=$(call h2 read runtime 2>&1)
evidence+=$'\n'$out
check "of several changes of one key in a COMMIT, the last stands" \
	eval 'grep -qxF twice/a=2 <<< "$out" && grep -qxF twice/b=3 <<< "$out" &&
	      ! grep -q "^twice/c=" <<< "$out"'
call h1 write runtime 5 del twice/a del twice/b > /dev/null 2>&1
# A session's close commits "COMMIT N release": no wait for the server's
# flush, the same records.  Any other word is refused, nothing written.
out=$(call h1 write runtime 5 --as release put released/x 1 2>&1)
evidence=$out
out=$(call h2 read runtime 2>&1)
evidence+=$'\n'$out
check "a release commit is taken as any" \
	eval 'grep -qxF released/x=1 <<< "$out"'
out=$(call h1 write runtime 5 --as later put released/y 1 2>&1)
evidence=$out
check "a COMMIT with another word is refused, nothing written" \
	eval '[[ "$out" == *"ERROR io expected COMMIT"* ]] &&
	      ! grep -q "^released/y=" <<< "$(call h2 read runtime 2>&1)"'
call h1 write runtime 5 del released/x > /dev/null 2>&1
out=$(call h1 read durable 2>&1)
evidence=$out
check "the durable space is apart and has no host records" [ "$out" = "RECORDS 0" ]
out=$(call h1 write runtime 5 put host/h3 x 2>&1)
evidence=$out
check "keys under host/ are refused" \
	eval '[[ "$out" == *"ERROR io "* ]] && [ "$(pg_sql "SELECT count(*) FROM hl_record")" = 1 ]'

# --- no descriptor kept per request ---
fds() { ls "/proc/${pid[$1]}/fd" | wc -l; }
many() {	# HOST COUNT: requests of every kind, one after the other
	for _ in $(seq "$2"); do
		call "$1" ping; call "$1" read runtime; call "$1" read durable
		call "$1" write durable 5 put many x del many
		call "$1" write runtime 5 put host/no x
	done > /dev/null 2>&1
}
many h2 5
before=$(fds h2)
many h2 40
after=$(fds h2)
evidence="descriptors before $before, after $after"
check "200 requests later the daemon holds no more descriptors" [ "$after" -le "$before" ]

# --- a client killed inside a write transaction ---
hold killed h1 runtime 5 put killed yes
eventually opened killed
kill -KILL "${pid[killed]}"
{ wait "${pid[killed]}"; } 2> /dev/null	# no "Killed" from bash
unset "pid[killed]"
# h1's transaction_timeout is 30 s: a writer that gets the lock within 20 s
# shows the rollback came from the close, not from the time limit.
out=$(call h2 write runtime 20 put after-kill yes 2>&1)
evidence=$out$'\n'$(cat "$T/h1.log")
check "a client killed in a write transaction frees the lock at once" \
	eval '[ "$(tail -1 <<< "$out")" = OK ]'
check "and left nothing" \
	eval '! has_record h1 runtime killed=yes && has_record h1 runtime after-kill=yes'

# --- two writers on two hosts ---
hold first h1 runtime 5 put order first
eventually opened first
out=$(call h2 write runtime 0 put order second 2>&1)
evidence=$out
check "a second writer on the other host with no wait gets ERROR timeout" \
	eval '[[ "$out" == "ERROR timeout "* ]]'
out=$(call h2 write runtime 1 put order second 2>&1)
evidence=$out
check "and with a 1 s wait too" eval '[[ "$out" == "ERROR timeout "* ]]'
call h2 write runtime 60 put order second > "$T/second.out" 2>&1 &
second=$!
# It waits for the row lock inside PostgreSQL: seen there, not guessed.
eventually eval '[ "$(pg_sql "SELECT count(*) FROM pg_stat_activity
	WHERE datname = '"'helpdesk'"' AND wait_event_type = '"'Lock'"'")" = 1 ]'
waited=$?
release first
first_status=$?
wait "$second"
second_status=$?
evidence="waited=$waited first=$first_status second=$second_status"$'\n'$(cat "$T/first.out" "$T/second.out")
check "the second waits for the first and reads what it committed" \
	eval '[ $waited = 0 ] && [ $first_status = 0 ] && [ $second_status = 0 ] &&
	      grep -qxF order=first "$T/second.out" && has_record h1 runtime order=second'

# --- more connections at once than the daemon keeps workers for ---
# A holder of h1's runtime lock and six writers of that space waiting for
# it in the daemon: seven connections served at once, more than the four
# kept workers, and the other space must still be answered.
threads() { sed -n 's/^Threads:[[:space:]]*//p' "/proc/${pid[h1]}/status"; }
hold busy h1 runtime 5 put busy yes
eventually opened busy
waiters=()
for i in 1 2 3 4 5 6; do
	call h1 write runtime 60 put "waiter$i" yes > "$T/waiter$i.out" 2>&1 &
	waiters+=($!)
done
# Serving all seven: the main thread, the heartbeat, seven busy workers
# and one started to wait for the next (a worker is started only when the
# last waiting one takes a connection).
eventually eval '[ "$(threads)" -ge 10 ]'
served=$?
out=$(call h1 read durable 2>&1)
evidence="served=$served threads=$(threads)"$'\n'$out
check "seven connections at once are served, and the other space too" \
	eval '[ $served = 0 ] && [[ "$out" == "RECORDS "* ]]'
release busy
busy_status=$?
waited_ok=0
for i in "${!waiters[@]}"; do
	wait "${waiters[$i]}" && waited_ok=$((waited_ok + 1))
done
evidence="holder=$busy_status waiters OK: $waited_ok"$'\n'$(cat "$T"/waiter*.out)
check "then the six waiting writers commit, one after the other" \
	eval '[ $busy_status = 0 ] && [ $waited_ok = 6 ] &&
	      has_record h1 runtime waiter6=yes'

# --- a client silent beyond transaction_timeout (h2: 3 s) ---
hold silent h2 runtime 5 put silent yes
eventually opened silent
out=$(call h1 write runtime "$guard" put after-silent yes 2>&1)
evidence=$out
check "a silent client's transaction is rolled back after transaction_timeout" \
	eval '[ "$(tail -1 <<< "$out")" = OK ]'
release silent
evidence=$(cat "$T/silent.out")
check "and its late COMMIT is not taken" \
	eval '! has_record h1 runtime silent=yes && grep -q "silent too long" "$T/h2.log"'

# --- leases ---
out=$(call h1 read runtime)
evidence=$out
check "both hosts' host/<name> records are there" \
	eval 'grep -qxF "host/h1=$boot" <<< "$out" && grep -qxF "host/h2=$boot" <<< "$out"'
kill -STOP "${pid[h2]}"
eventually eval '! has_record h1 runtime "host/h2=$boot"'
gone=$?
out=$(call h1 read runtime)
evidence="gone=$gone"$'\n'$out
check "a stopped host's record is gone once its lease (3 s) ran out" \
	eval '[ $gone = 0 ] && grep -qxF "host/h1=$boot" <<< "$out"'
kill -CONT "${pid[h2]}"
evidence=
check "and back with its next heartbeat" eventually has_record h1 runtime "host/h2=$boot"

# --- only root ---
cp "$client" "$T/client"
chmod 755 "$T/client"
chmod 711 "$T/run-h1"
chmod 666 "$(sock h1)"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/client" "$(sock h1)" ping 2>&1)
evidence=$out$'\n'$(tail -3 "$T/h1.log")
check "a peer that is not root is closed without a word" \
	eval '[ "$out" = closed ] && grep -q "refused a connection of uid $(id -u nobody)" "$T/h1.log"'
chmod 600 "$(sock h1)"
chmod 700 "$T/run-h1"

# --- PostgreSQL restarts, and goes away ---
pg_restart
out=$(call h1 write runtime 5 put after-restart yes 2>&1)
evidence=$out$'\n'$(tail -3 "$T/h1.log")
check "after a PostgreSQL restart the next transaction succeeds" \
	eval '[ "$(tail -1 <<< "$out")" = OK ] && has_record h2 runtime after-restart=yes'
pg_stop
out=$(call h1 ping 2>&1; call h1 write runtime 5 put down yes 2>&1; call h2 read durable 2>&1)
evidence=$out
check "while it is down: ERROR unavailable" \
	eval '[ "$(grep -c "^ERROR unavailable " <<< "$out")" = 3 ]'
pg_server_start
evidence=
check "once it is back, transactions succeed again" \
	eventually call h1 write runtime 5 put back yes

# --- schema of another version ---
pg_sql "UPDATE hl_schema SET version = 2"
out=$(call h1 read runtime 2>&1; "$daemon" -c "$T/h1.conf" --migrate 2>&1; echo "migrate=$?")
evidence=$out
check "a newer schema: ERROR version, and --migrate refuses it" \
	eval '[[ "$out" == "ERROR version "* ]] && [[ "$out" == *"refused"*"migrate=1" ]]'
pg_sql "UPDATE hl_schema SET version = 1"

# --- SIGTERM with a transaction open ---
hold stopping h1 runtime 5 put stopping yes
eventually opened stopping
kill -TERM "${pid[h1]}"
wait "${pid[h1]}"
status=$?
unset "pid[h1]"
release stopping
evidence="status=$status"$'\n'$(cat "$T/stopping.out")
check "SIGTERM: exit 0, the socket removed" \
	eval '[ $status = 0 ] && [ ! -e "$(sock h1)" ]'
check "and the open transaction rolled back" \
	eval '! has_record h2 runtime stopping=yes && [ "$(tail -1 <<< "$(call h2 write runtime 20 2>&1)")" = OK ]'

# --- starting ---
out=$("$daemon" -c "$T/h2.conf" 2>&1)
status=$?
evidence="status=$status"$'\n'$out
check "a second daemon on a socket that is served refuses to start" \
	eval '[ $status = 1 ] && [[ "$out" == *"another helpdesk-licensed listens"* ]]'
write_config h3 30
"$daemon" -c "$T/h3.conf"
status=$?
# No polling: when the command returns, the socket must answer.
out=$(call h3 ping 2>&1)
evidence="status=$status"$'\n'$out
check "without --foreground it detaches once its socket listens" \
	eval '[ $status = 0 ] && [ "$out" = "OK h3 $boot 1" ]'
h3=$(pgrep -f -- "-c $T/h3.conf\$")
[ -n "$h3" ] && pid[h3]=$h3 && kill -TERM "$h3"
evidence="pid=$h3"
check "and goes on SIGTERM, its socket removed" \
	eventually eval '[ ! -e "$(sock h3)" ] && ! kill -0 "$h3"'
unset "pid[h3]"
# systemd's Type=notify: READY=1 on $NOTIFY_SOCKET once the socket listens.
"$client" "$T/notify.sock" await-ready > "$T/notify.out" 2>&1 &
npid=$!
eventually grep -q '^listening$' "$T/notify.out"
NOTIFY_SOCKET=$T/notify.sock "$daemon" -c "$T/h3.conf" --foreground \
	2>> "$T/h3.log" &
pid[h3]=$!
wait "$npid"
# No polling: once it said READY=1, the socket must answer.
out=$(call h3 ping 2>&1)
evidence=$(cat "$T/notify.out")$'\n'$out
check "with NOTIFY_SOCKET it says READY=1 once its socket listens" \
	eval '[ "$(sed -n 2p "$T/notify.out")" = READY=1 ] && [ "$out" = "OK h3 $boot 1" ]'
kill -TERM "${pid[h3]}"
wait "${pid[h3]}"
unset "pid[h3]"
chmod 640 "$T/password"
out=$("$daemon" -c "$T/h3.conf" --check 2>&1)
status=$?
evidence=$out
check "a password file others may read is refused" \
	eval '[ $status = 1 ] && [[ "$out" == *"password file"*"0600"* ]]'
chmod 600 "$T/password"
printf 'event_log = "";\n' > "$T/plain.conf"
out=$("$daemon" -c "$T/plain.conf" --foreground 2>&1)
status=$?
evidence=$out
check "a configuration without a backend section is refused" \
	eval '[ $status = 1 ] && [[ "$out" == *"no backend section"* ]]'

kill -TERM "${pid[h2]}"
wait "${pid[h2]}"
status=$?
unset "pid[h2]"
evidence=$(grep -h -A20 -E 'Sanitizer|runtime error' "$T/h1.log" "$T/h2.log")
# (h3 logged only to syslog, detached.)
check "no sanitizer report from either daemon (a sanitizer build)" \
	eval '[ $status = 0 ] && [ -z "$evidence" ]'

tap_counts
