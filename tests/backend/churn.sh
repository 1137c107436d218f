#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Several hosts, one license count, under churn: a real PostgreSQL that
# this script starts (tests/backend/pg.sh), three helpdesk-licensed
# daemons (hosts "host1", "host2", "host3", each with its own
# configuration and socket) and tests/backend/churn driving logins on all
# three, with a host crash and a database restart in the middle.  With
# --failover the database is a primary and a streaming standby with
# synchronous commit; in the middle the primary is stopped and the standby
# promoted, and the daemons find it through a two-host conninfo
# (target_session_attrs=read-write).  As root:
#
#   tests/backend/churn.sh [--failover] DAEMON CHURN [SECONDS]
#
# Prints churn's figures; exit status 0 only when churn passed.

set -uo pipefail

failover=false
if [ "${1:-}" = --failover ]; then
	failover=true
	shift
fi
daemon=${1:-}
churn=${2:-}
seconds=${3:-60}
if [ -z "$daemon" ] || [ -z "$churn" ]; then
	echo "usage: $0 [--failover] HELPDESK-LICENSED CHURN [SECONDS]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pg.sh"
# T, pid[], guard and daemon_wait; the cleanup is churn's own, below.
. "$here/lib.sh"
daemon=$(cd "$(dirname "$daemon")" && pwd)/$(basename "$daemon")
churn=$(cd "$(dirname "$churn")" && pwd)/$(basename "$churn")
lease=10
standby=

cleanup() {
	local name
	for name in "${!pid[@]}"; do
		kill -KILL "${pid[$name]}" 2> /dev/null
		wait "${pid[$name]}" 2> /dev/null
	done
	if [ -n "$standby" ] && [ -f "$standby/data/postmaster.pid" ]; then
		(cd "$standby" && runuser -u postgres -- "$PG_BIN/pg_ctl" \
			-D "$standby/data" -m immediate -w stop) > /dev/null 2>&1
	fi
	pg_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

sock() { echo "$T/run-$1/licensed.sock"; }

write_config() {	# NAME
	mkdir -p "$T/run-$1"
	chmod 700 "$T/run-$1"
	cat > "$T/$1.conf" <<-CONF
	event_log = "";
	backend = {
	  type = "postgresql";
	  conninfo = "$conninfo";
	  password_file = "$T/password";
	  socket = "$(sock "$1")";
	  host = "$1";
	  heartbeat = 1;
	  lease = $lease;
	};
	CONF
	chmod 600 "$T/$1.conf"
}

# Starts host NAME's daemon and waits (polling, with a hang guard) until
# its socket answers.
start_daemon() {	# NAME
	"$daemon" -c "$T/$1.conf" --foreground 2>> "$T/$1.log" &
	pid[$1]=$!
	daemon_wait "$daemon" "$T/$1.conf" "$(sock "$1")" || {
		echo "churn.sh: the daemon of $1 did not start" >&2
		cat "$T/$1.log" >&2
		return 1
	}
}

echo "# starting PostgreSQL in $T/pg"
pg_start "$T/pg" || { cat "$T/pg/log/server.log" >&2; exit 1; }
conninfo=$PG_CONNINFO
if $failover; then
	# A standby on its own socket, synchronous: the primary confirms a
	# commit only once the standby has it.
	standby=$T/standby
	mkdir -p "$standby/socket" "$standby/log"
	chown postgres: "$standby" "$standby/socket" "$standby/log"
	echo "local replication postgres trust" >> "$PG_DIR/data/pg_hba.conf"
	pg_sql "ALTER SYSTEM SET synchronous_standby_names = 'standby'" &&
		pg_sql "SELECT pg_reload_conf()" > /dev/null || exit 1
	(cd "$standby" && runuser -u postgres -- "$PG_BIN/pg_basebackup" \
		-h "$PG_SOCKET_DIR" -U postgres -D "$standby/data" -R \
		-d "application_name=standby") || exit 1
	# The copy has the primary's synchronous_standby_names: once
	# promoted, with no standby of its own, it would wait for one at
	# every commit (Patroni's synchronous_mode manages this; here the
	# new primary goes on alone).
	printf "%s\n" "primary_conninfo = 'host=$PG_SOCKET_DIR user=postgres application_name=standby'" \
		"synchronous_standby_names = ''" >> "$standby/data/postgresql.auto.conf"
	(cd "$standby" && runuser -u postgres -- "$PG_BIN/pg_ctl" \
		-D "$standby/data" -l "$standby/log/server.log" \
		-o "-c listen_addresses='' -c unix_socket_directories='$standby/socket'" \
		start) > /dev/null || exit 1
	tries=0
	until [ "$(pg_sql "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ]; do
		tries=$((tries + 1))
		[ "$tries" -lt $((guard * 10)) ] || {
			echo "churn.sh: the standby did not become synchronous" >&2
			exit 1
		}
		sleep 0.1
	done
	echo "# a synchronous standby streams from the primary"
	conninfo="host=$PG_SOCKET_DIR,$standby/socket dbname=helpdesk user=helpdesk target_session_attrs=read-write"
fi
printf '%s\n' "$PG_PASSWORD" > "$T/password"
chmod 600 "$T/password"
for h in host1 host2 host3; do
	write_config "$h"
done
"$daemon" -c "$T/host1.conf" --migrate || exit 1
for h in host1 host2 host3; do
	start_daemon "$h" || exit 1
done

if $failover; then
	# The primary goes away at once (no checkpoint, as a crash), the
	# standby is promoted; the daemons reconnect to it.
	db_event="cd '$T/pg' && runuser -u postgres -- '$PG_BIN/pg_ctl' -D '$T/pg/data' -m immediate -w stop > /dev/null &&
		cd '$standby' && runuser -u postgres -- '$PG_BIN/pg_ctl' -D '$standby/data' -w promote > /dev/null"
else
	db_event=". '$here/pg.sh' && PG_DIR='$T/pg' PG_BIN='$PG_BIN' PG_SOCKET_DIR='$PG_SOCKET_DIR' pg_restart"
fi
# host3's daemon pid, for the crash: written when it starts again.
echo "${pid[host3]}" > "$T/host3.pid"
export HL_CHURN_LEASE=$lease
export HL_CHURN_CRASH_HOST="kill -KILL \$(cat '$T/host3.pid')"
export HL_CHURN_START_HOST="'$daemon' -c '$T/host3.conf' --foreground > /dev/null 2>> '$T/host3.log' & echo \$! > '$T/host3.pid';
	guard=$guard; $(declare -f daemon_wait)
	daemon_wait '$daemon' '$T/host3.conf' '$(sock host3)'"
export HL_CHURN_RESTART_DB=$db_event

"$churn" "$seconds" "$(sock host1)" host1 "$(sock host2)" host2 \
	"$(sock host3)" host3
status=$?
# The daemon started again by churn is not in pid[]: stop it too.
kill -KILL "$(cat "$T/host3.pid")" 2> /dev/null
if [ "$status" != 0 ]; then
	for h in host1 host2 host3; do
		echo "--- $h's daemon log (last lines)"
		tail -n 20 "$T/$h.log"
	done
fi
exit "$status"
