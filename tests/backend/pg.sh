# SPDX-License-Identifier: BSD-3-Clause
# A private PostgreSQL for the tests of the shared backend, sourced:
#
#   pg_start DIR   initdb and start a server in DIR (a fresh directory
#                  whose parents the postgres user can search),
#                  as the postgres system user (PostgreSQL refuses root),
#                  on a Unix socket in DIR/socket and no TCP (TCP too on
#                  the addresses in PG_LISTEN, when set); then a role
#                  "helpdesk" with password $PG_PASSWORD owning a database
#                  "helpdesk".  Sets PG_DIR, PG_SOCKET_DIR, PG_CONNINFO.
#   pg_stop        stop it (fast: open transactions are rolled back)
#   pg_restart     stop and start it again, the same data
#   pg_sql SQL     run SQL in the database as the superuser; prints rows
#   pg_cleanup     stop it if it runs and remove DIR: the caller's EXIT
#                  trap calls it
#   pg_installed   whether this machine can run one: the server's
#                  binaries and the postgres user; if not, says why
#   pg_daemon_built BUILD
#                  whether BUILD has the daemon (configured with libpq)
#
# Waits poll pg_isready with a hang guard (PG_WAIT_MAX tries, 0.1 s
# apart), never a fixed sleep.  Needs root, the postgres user and the
# PostgreSQL server binaries.

PG_PASSWORD=helpdesk-test-password
PG_WAIT_MAX=${PG_WAIT_MAX:-600}

pg_bin() {	# the directory of initdb and pg_ctl
	local dir
	for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
	done
	dir=$(dirname "$(command -v pg_ctl 2>/dev/null)")
	[ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
	return 1
}

pg_installed() {
	pg_bin > /dev/null && id postgres > /dev/null 2>&1 && return 0
	echo "the PostgreSQL server (Debian package postgresql) is not installed"
	return 1
}

# A build configured without libpq has no rule for the daemon.
pg_daemon_built() {	# BUILD
	make -s -n -C "$1" helpdesk-licensed > /dev/null 2>&1
}

pg_as() {	# COMMAND... as the postgres user, from a directory it may read
	(cd "$PG_DIR" && runuser -u postgres -- "$@")
}

pg_wait_ready() {
	local tries=0
	until pg_as "$PG_BIN/pg_isready" -q -h "$PG_SOCKET_DIR" -d postgres; do
		tries=$((tries + 1))
		if [ "$tries" -ge "$PG_WAIT_MAX" ]; then
			echo "pg.sh: the server did not become ready" >&2
			return 1
		fi
		sleep 0.1
	done
}

pg_server_start() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log/server.log" \
		-o "-c listen_addresses='${PG_LISTEN:-}' -c unix_socket_directories='$PG_SOCKET_DIR'" \
		start > /dev/null && pg_wait_ready
}

pg_start() {	# DIR
	PG_DIR=$1
	PG_BIN=$(pg_bin) || { echo "pg.sh: no PostgreSQL server here" >&2; return 1; }
	PG_SOCKET_DIR=$PG_DIR/socket
	PG_CONNINFO="host=$PG_SOCKET_DIR dbname=helpdesk user=helpdesk"
	mkdir -p "$PG_DIR/data" "$PG_SOCKET_DIR" "$PG_DIR/log"
	chmod 755 "$PG_DIR"
	chown postgres: "$PG_DIR/data" "$PG_SOCKET_DIR" "$PG_DIR/log"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres \
		--auth-local=trust --auth-host=reject > "$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log" >&2
		return 1
	}
	# The daemon's role must give its password; the superuser is trusted.
	cat > "$PG_DIR/data/pg_hba.conf" <<-HBA
	local all postgres trust
	local all all scram-sha-256
	HBA
	pg_server_start || return 1
	PG_DB=postgres pg_sql "CREATE ROLE helpdesk LOGIN PASSWORD '$PG_PASSWORD'" &&
	pg_as "$PG_BIN/createdb" -h "$PG_SOCKET_DIR" -U postgres \
		-O helpdesk helpdesk
}

pg_sql() {	# SQL
	pg_as "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
		-h "$PG_SOCKET_DIR" -U postgres -d "${PG_DB:-helpdesk}" -c "$1"
}

pg_stop() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop > /dev/null
}

pg_restart() {
	pg_stop && pg_server_start
}

pg_cleanup() {
	[ -n "${PG_DIR:-}" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop \
			> /dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}
