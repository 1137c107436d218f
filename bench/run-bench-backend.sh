#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The cost of a login on the shared backend, side by side in one run with
# the same login on the local store and with pam_permit: a real PostgreSQL
# started for the run (tests/backend/pg.sh, a Unix socket, no TCP), one
# helpdesk-licensed daemon, and bench/bench_login doing pam_start ->
# account -> open -> close -> pam_end through real libpam.  Stacks run
# interleaved, R runs of up to N logins each; the table gives the median
# of the run medians (wall and CPU of the driver's process) and the
# difference to the local store.  The database's own work is in neither
# CPU figure (it is other processes): the wall time has it.
#
# As root, from a build directory (make check builds bench_login):
#   bash SRCDIR/bench/run-bench-backend.sh [-r RUNS] [-n LOGINS] [-a] [-t] [-w]
# -a: the server with synchronous_commit off, to see what waiting for the
#     WAL flush at each commit costs (never for production: a commit lost
#     in a crash of the server is a license handed out twice).
# -t: first count, with strace on the daemon, its store transactions and
#     its round trips to PostgreSQL (the writes that are not a reply to a
#     client) per login: figures the machine's load does not move.
# -w: then time, with strace -T on the driver, how long the module waits
#     for each of the daemon's answers in a login (the median of 200):
#     the records of the account's, the open's and the close's
#     transactions, and the open's and the close's commits.
#
# Numbers depend on the machine and its load: compare rows of one run.
set -euo pipefail
runs=5 cycles=300 async=false trace=false waits=false
while getopts r:n:atw opt; do
	case $opt in
	r) runs=$OPTARG ;;
	n) cycles=$OPTARG ;;
	a) async=true ;;
	t) trace=true ;;
	w) waits=true ;;
	*) exit 2 ;;
	esac
done
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=$(pwd)
login=$build/bench/bench_login
module=$build/.libs/pam_helpdesk_license.so
daemon=$build/helpdesk-licensed
for f in "$login" "$module" "$daemon"; do
	[ -e "$f" ] || { echo "build first (make check): no $f" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
. "$here/../tests/backend/pg.sh"

exec 9> /run/lock/hlbench.lock
flock -w 900 9 || { echo "another benchmark holds the lock" >&2; exit 1; }
work= runtime= dpid= spid=
cleanup() {
	[ -z "$spid" ] || { kill "$spid" 2> /dev/null; wait "$spid" 2> /dev/null || :; }
	[ -z "$dpid" ] || { kill "$dpid" 2> /dev/null; wait "$dpid" 2> /dev/null; }
	rm -f /etc/pam.d/hlbench-*
	pg_cleanup
	for d in "$work" "$runtime"; do
		[ -z "$d" ] || rm -rf "$d"
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
work=$(mktemp -d)
chmod 711 "$work"
runtime=$(mktemp -d /dev/shm/hlbench.XXXXXX)
rmdir "$runtime"

# Not with the benchmark's lock: the server would keep it after us.
pg_start "$work/pg" > /dev/null 9>&-
if $async; then
	pg_sql "ALTER SYSTEM SET synchronous_commit = off" &&
		pg_sql "SELECT pg_reload_conf()" > /dev/null
fi
printf '%s\n' "$PG_PASSWORD" > "$work/password"
chmod 600 "$work/password"
mkdir -m 700 "$work/run"
printf 'probe:x:4999:5000::/nonexistent:/bin/false\n' > "$work/passwd"
printf 'bench:x:5000:\n' > "$work/group"
# The driver runs on the last core, the server and the daemon on the
# first (as bench/run-bench.sh pins its single driver): a process that
# moves between the cores makes each unmapping flush the TLB of both,
# which on a virtual machine costs more than what separates the stacks.
pin= other=
if command -v taskset > /dev/null && [ "$(nproc)" -gt 1 ]; then
	pin="taskset -c $(($(nproc) - 1))"
	other="taskset -apc 0"
fi
# New server processes (one per connection) inherit the postmaster's,
# new daemon threads the daemon's.
[ -z "$other" ] || $other "$(head -1 "$work/pg/data/postmaster.pid")" > /dev/null
# The driver alone sees the technicians (nss_wrapper): PostgreSQL's own
# commands need the system's postgres user.
login() {
	# shellcheck disable=SC2086 # $pin and $wrap are words
	LD_PRELOAD=$(pkg-config --libs nss_wrapper) \
	NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
		$pin $wrap "$login" "$@"
}
wrap=
common="concurrent = ( { pool = \"bench\"; licenses = 16; groups = [ \"bench\" ]; } );"
cat > "$work/local.conf" <<EOF
store = "$work/local/licenses.db";
runtime_store = "$runtime/sessions.db";
event_log = "$work/events-local.log";
$common
EOF
cat > "$work/backend.conf" <<EOF
event_log = "$work/events-backend.log";
$common
backend = {
  type = "postgresql";
  conninfo = "$PG_CONNINFO";
  password_file = "$work/password";
  socket = "$work/run/licensed.sock";
  host = "bench";
};
EOF
chmod 600 "$work"/*.conf
"$daemon" -c "$work/backend.conf" --migrate > /dev/null
"$daemon" -c "$work/backend.conf" --foreground 2> "$work/daemon.log" 9>&- &
dpid=$!
[ -z "$other" ] || $other "$dpid" > /dev/null
tries=0
until [ -S "$work/run/licensed.sock" ]; do
	tries=$((tries + 1))
	[ "$tries" -lt 1200 ] || { cat "$work/daemon.log" >&2; exit 1; }
	sleep 0.1
done
service() { # NAME ACCOUNT-LINE SESSION-LINE
	printf 'account required %s\nsession required %s\n' "$2" "$3" \
		> "/etc/pam.d/hlbench-$1"
}
service permit pam_permit.so pam_permit.so
service local "$module config=$work/local.conf" "$module config=$work/local.conf"
service backend "$module config=$work/backend.conf" "$module config=$work/backend.conf"
stacks="permit local backend"

echo "# $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
	"Linux $(uname -r), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')" \
	"on a Unix socket (synchronous_commit $($async && echo off || echo on)), load $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $stacks; do	# warm up; each must grant
	line=$(login "hlbench-$s" probe 1)
	case $line in *granted=1*) ;; *) echo "$s: $line" >&2; exit 1 ;; esac
done
# The daemon's sends, while 20 logins run: a reply to a client starts
# with RECORDS, OK or ERROR; every other send starts a round trip to the
# server.
if $trace; then
	strace -f -e trace=sendto -e signal=none -s 8 -o "$work/strace" \
		-p "$dpid" 2> "$work/strace.err" &
	spid=$!
	tries=0
	until grep -q attached "$work/strace.err" 2> /dev/null; do
		tries=$((tries + 1))	# a hang guard only
		[ "$tries" -lt 600 ] || { echo "strace did not attach" >&2; exit 1; }
		sleep 0.1
	done
	login hlbench-backend probe 20 > /dev/null
	kill "$spid"
	wait "$spid" 2> /dev/null || :	# its status is the signal's
	spid=
	awk '/sendto\(/ { if ($0 ~ /"RECORDS/) opens++
		else if ($0 !~ /"(OK|ERROR)/) trips++ }
	     END { printf "# per login: %.1f store transactions, %.1f round trips to PostgreSQL\n",
			opens / 20, trips / 20 }' "$work/strace"
fi
# The module's waits: a transaction starts with a connect to the daemon's
# socket and ends with the close of that descriptor; each poll on it in
# between waits for an answer: the records, then (a writer's) the
# commit's.  A login's transactions are the account's, the open's and
# the close's, in that order.
if $waits; then
	wrap="strace -f -T -e trace=connect,poll,close -e signal=none -o $work/waits"
	login hlbench-backend probe 200 > /dev/null
	wrap=
	awk -v sock="$work/run/licensed.sock" "$median_awk"'
	function fd_of(line) { sub(/^[0-9]+ +[a-z]+\(\[?\{?(fd=)?/, "", line)
		sub(/[^0-9].*$/, "", line); return line }
	function took(line) { sub(/^.*</, "", line); sub(/>.*$/, "", line)
		return line * 1e6 }
	/ connect\(/ && index($0, "sun_path=\"" sock "\"") {
		fd = fd_of($0); step = 0; txn++; next }
	fd != "" && / close\(/ && fd_of($0) == fd { fd = ""; next }
	fd != "" && / poll\(/ && fd_of($0) == fd {
		k = ((txn - 1) % 3) "," step++
		v[k, ++n[k]] = took($0) }
	END {
		split("0,0 1,0 1,1 2,0 2,1", keys, " ")
		for (i = 1; i <= 5; i++) {
			for (j = 1; j <= n[keys[i]]; j++) w[j] = v[keys[i], j]
			m[i] = n[keys[i]] ? median(w, n[keys[i]]) : -1
		}
		printf "# the module waits (median µs of %d logins): account %.0f; open: records %.0f, commit %.0f; close: records %.0f, commit %.0f\n",
			txn / 3, m[1], m[2], m[3], m[4], m[5]
	}' "$work/waits"
fi
# CPU clock ticks so far: the daemon's (its ended threads included), the
# server's (the postmaster, the children it reaped, those alive).
hz=$(getconf CLK_TCK)
postmaster=$(head -1 "$PG_DIR/data/postmaster.pid")
ticks() { # PID [CHILDREN-TOO]: utime + stime [+ cutime + cstime]
	awk -v all="${2:-}" '{ sub(/^.*\) /, "")	# after "(comm) "
		print $12 + $13 + (all ? $14 + $15 : 0) }' "/proc/$1/stat" 2> /dev/null || echo 0
}
cpu_ticks() {
	local server child
	server=$(ticks "$postmaster" children)
	for child in $(pgrep -P "$postmaster"); do
		server=$((server + $(ticks "$child")))
	done
	echo "$(ticks "$dpid") $server"
}
spent_daemon=0 spent_server=0
for r in $(seq "$runs"); do
	for s in $stacks; do
		[ "$s" != backend ] || read -r d0 s0 < <(cpu_ticks)
		echo "$s $(login -t 20 "hlbench-$s" probe "$cycles")" >> "$work/runs"
		[ "$s" != backend ] || {
			read -r d1 s1 < <(cpu_ticks)
			spent_daemon=$((spent_daemon + d1 - d0))
			spent_server=$((spent_server + s1 - s0))
		}
	done
done
echo
echo "| stack | median µs | run medians | CPU µs | to the local store |"
echo "|---|---:|---|---:|---:|"
awk -v stacks="$stacks" "$median_awk"'
{
	s = $1
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	m[s, ++count[s]] = f["median_us"]; c[s, count[s]] = f["cpu_median_us"]
	if (f["granted"] != f["cycles"]) bad = bad " " s
	delete f
}
END {
	label["permit"] = "pam_permit (floor)"
	label["local"] = "pam_helpdesk_license, local store"
	label["backend"] = "pam_helpdesk_license, shared backend (daemon + PostgreSQL)"
	n = split(stacks, order, " ")
	for (k = 1; k <= n; k++) {
		s = order[k]
		for (i = 1; i <= count[s]; i++) v[i] = m[s, i]
		med[s] = median(v, count[s]); lo = v[1]; hi = v[count[s]]
		for (i = 1; i <= count[s]; i++) v[i] = c[s, i]
		cpu[s] = median(v, count[s])
		range[s] = sprintf("%.0f–%.0f", lo, hi)
	}
	for (k = 1; k <= n; k++) {
		s = order[k]
		d = s == "permit" ? "" : sprintf("%+.0f µs", med[s] - med["local"])
		printf "| %s | %.0f | %s | %.0f | %s |\n", label[s], med[s],
			range[s], cpu[s], d
	}
	if (bad != "") { print "not every login was granted:" bad > "/dev/stderr"; exit 1 }
}' "$work/runs"
awk -v hz="$hz" -v d="$spent_daemon" -v s="$spent_server" \
	'$1 == "backend" { for (i = 2; i <= NF; i++) if ($i ~ /^cycles=/) {
		split($i, kv, "="); n += kv[2] } }
	END { printf "\nCPU per backend login: the daemon %.0f µs, the server %.0f µs (%d logins)\n",
		d / hz / n * 1e6, s / hz / n * 1e6, n }' "$work/runs"
