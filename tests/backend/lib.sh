# SPDX-License-Identifier: BSD-3-Clause
# What the backend's test scripts (daemon-test.sh, module-test.sh,
# partition.sh; churn.sh its daemon_wait) share,
# sourced after tests/tap.sh and tests/backend/pg.sh:
#   - T, a private temporary directory (mode 0711: the postgres user
#     passes through it), removed at exit with the private PostgreSQL;
#   - pid, NAME -> process the script started: each is woken (SIGCONT),
#     stopped (SIGTERM) and waited for at exit, and the pam_wrapper
#     directory a killed one left behind is removed (only 62 exist);
#   - eventually COMMAND...: polls every 0.1 s until it succeeds, false
#     after HL_BACKEND_GUARD seconds (default 120), a hang guard only;
#   - check DESCRIPTION COMMAND...: ok or not ok, with $evidence;
#   - daemon_wait, and the simulated hosts of logins (below);
#   - need_args_and_root and abs, for the scripts' own arguments.

# The scripts' arguments: USAGE WHY COUNT ARGS...: exits 2 with USAGE
# unless the first COUNT of ARGS are given, and with WHY unless root.
need_args_and_root() {
	local usage=$1 why=$2 count=$3 i
	shift 3
	for ((i = 1; i <= count; i++)); do
		if [ -z "${!i:-}" ]; then
			echo "usage: $0 $usage" >&2
			exit 2
		fi
	done
	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: must run as root ($why)" >&2
		exit 2
	fi
}
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
# The arguments of a test of the module on the backend, checked and made
# absolute into module, daemon and tool: WHY MODULE DAEMON TOOL.
need_module_daemon_tool() {
	need_args_and_root "MODULE HELPDESK-LICENSED HELPDESK-LICENSE" \
		"$1" 3 "${@:2}"
	module=$(abs "$2")
	daemon=$(abs "$3")
	tool=$(abs "$4")
}

guard=${HL_BACKEND_GUARD:-120}
lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d)
chmod 711 "$T"
declare -A pid

remove_wrapper_dir() {	# PID
	local dir
	for dir in /tmp/pam.?; do
		if [ -f "$dir/pid" ] && [ "$(cat "$dir/pid" 2> /dev/null)" = "$1" ]; then
			rm -rf "$dir"
		fi
	done
}

cleanup() {
	local name
	for name in "${!pid[@]}"; do
		kill -CONT "${pid[$name]}" 2> /dev/null
		kill -TERM "${pid[$name]}" 2> /dev/null
		wait "${pid[$name]}" 2> /dev/null
		remove_wrapper_dir "${pid[$name]}"
	done
	pg_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

eventually() {
	local tries=0
	until "$@" > /dev/null 2>&1; do
		tries=$((tries + 1))
		[ "$tries" -lt $((guard * 10)) ] || return 1
		sleep 0.1
	done
}

check() {	# DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what" "${evidence:-}"; fi
	evidence=
}

# database_up: the private PostgreSQL in $T/pg (pg_start) and the
# daemons' password file, $T/password; else "not ok", the counts, exit 1.
database_up() {
	echo "# starting PostgreSQL in $T/pg"
	if ! pg_start "$T/pg"; then
		not_ok "a private PostgreSQL starts" "$(cat "$T/pg/log/server.log" 2> /dev/null)"
		tap_counts
		exit 1
	fi
	printf '%s\n' "$PG_PASSWORD" > "$T/password"
	chmod 600 "$T/password"
}

# daemon_wait DAEMON CONFIG SOCKET: polls, 0.1 s apart, until DAEMON
# --check reaches the database with CONFIG and SOCKET exists; false after
# $guard seconds (a hang guard only).  Plain sh, so that a command string
# run by sh -c can carry it: "$(declare -f daemon_wait); daemon_wait ...".
daemon_wait() {
	local tries=0
	until "$1" -c "$2" --check > /dev/null 2>&1 && [ -S "$3" ]; do
		tries=$((tries + 1))
		[ "$tries" -lt $((guard * 10)) ] || return 1
		sleep 0.1
	done
}

# --- hosts for logins (module-test.sh, partition.sh) ---------------------
#
# hosts_init MODULE DAEMON TOOL: the users (nss_wrapper's passwd and
# group), the login driver (demo/hl-login.c) and the libraries of real
# libpam under pam_wrapper.  Then each simulated host NAME has its own
# configuration, socket, event log and PAM service under $T/NAME:
#   write_host NAME [CONNINFO]  (heartbeat 1 s, lease 3 s, on_error deny;
#                               CONNINFO defaults to $PG_CONNINFO)
#   start_daemon NAME [COMMAND...]  its daemon (run through COMMAND, such
#                               as ip netns exec NS), pid[daemon_NAME]
#   login HOST [hl-login options] USER, tool HOST ARGS...,
#   hold_login NAME HOST USER (a session open until logout NAME).
hosts_init() {	# MODULE DAEMON TOOL
	local lib wrapper_libdir nss_libdir
	module=$1 daemon=$2 tool=$3
	wrapper_libdir=$(pkg-config --variable=libdir pam_wrapper 2> /dev/null || true)
	nss_libdir=$(pkg-config --variable=libdir nss_wrapper 2> /dev/null || true)
	pam_wrapper_so=${wrapper_libdir:-/usr/lib/x86_64-linux-gnu}/libpam_wrapper.so
	nss_wrapper_so=${nss_libdir:-/usr/lib/x86_64-linux-gnu}/libnss_wrapper.so
	for lib in "$pam_wrapper_so" "$nss_wrapper_so"; do
		[ -f "$lib" ] || { echo "$lib missing" >&2; return 1; }
	done
	cat > "$T/passwd" <<-'EOF2'
	root:x:0:0:root:/root:/bin/bash
	carol:x:2001:2001::/nonexistent:/bin/bash
	dave:x:2002:2001::/nonexistent:/bin/bash
	nina:x:2003:2003::/nonexistent:/bin/bash
	EOF2
	cat > "$T/group" <<-'EOF2'
	root:x:0:
	field:x:2001:carol,dave
	office:x:2003:nina
	EOF2
	cc -std=c11 -O2 -o "$T/hl-login" "$lib_dir/../../demo/hl-login.c" -lpam
}

# Host NAME: its own files (unused with the backend, but named inside the
# test's directory), socket, event log and PAM service; heartbeat 1 s and
# lease 3 s, so that a silent host loses its sessions soon.
write_host() {	# NAME [CONNINFO]
	local h=$1 conninfo=${2:-$PG_CONNINFO}
	mkdir -p "$T/$h/run" "$T/$h/state" "$T/$h/log" "$T/$h/sock" "$T/$h/pam.d"
	chmod 700 "$T/$h/run" "$T/$h/state" "$T/$h/sock"
	cat > "$T/$h/helpdesk-license.conf" <<-CONF
	store = "$T/$h/state/licenses.db";
	runtime_store = "$T/$h/run/sessions.db";
	event_log = "$T/$h/log/events.log";
	on_error = "deny";
	unlicensed = "deny";
	show_holders = true;
	lock_timeout = 5;
	exempt = { users = [ "root" ]; groups = [ ]; };
	named = { licenses = 1; groups = [ "office" ]; };
	concurrent = ( { pool = "field"; licenses = 1; groups = [ "field" ]; } );
	backend = {
	  type = "postgresql";
	  conninfo = "$conninfo";
	  password_file = "$T/password";
	  socket = "$T/$h/sock/licensed.sock";
	  host = "$h";
	  heartbeat = 1;
	  lease = 3;
	};
	CONF
	chmod 600 "$T/$h/helpdesk-license.conf"
	printf '%s\n' 'account required pam_deny.so' 'session required pam_deny.so' \
		> "$T/$h/pam.d/other"
	printf '%s\n' 'account required pam_permit.so' \
		"account required $module config=$T/$h/helpdesk-license.conf" \
		"session required $module config=$T/$h/helpdesk-license.conf" \
		> "$T/$h/pam.d/sshd"
}

start_daemon() {	# NAME [COMMAND...]
	local h=$1
	shift
	"$@" "$daemon" -c "$T/$h/helpdesk-license.conf" --foreground 2>> "$T/$h/daemon.log" &
	pid[daemon_$h]=$!
	eventually tool "$h" check-config
}

login() {	# HOST [hl-login options] USER: one login, its output on stdout
	local h=$1
	shift
	env LD_PRELOAD="$pam_wrapper_so $nss_wrapper_so" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/$h/pam.d" \
		NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
		"$T/hl-login" "$@" 2>&1
}

tool() {	# HOST ARGS...: the admin tool of HOST
	local h=$1
	shift
	env LD_PRELOAD="$nss_wrapper_so" \
		NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
		"$tool" -c "$T/$h/helpdesk-license.conf" "$@" 2>&1
}

# A login whose session stays open until logout NAME.
hold_login() {	# NAME HOST USER
	local name=$1 h=$2 user=$3 ctl="$T/$1.ctl"
	rm -f "$ctl" "$ctl.open"
	mkfifo -m 600 "$ctl"
	env LD_PRELOAD="$pam_wrapper_so $nss_wrapper_so" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/$h/pam.d" \
		NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
		"$T/hl-login" -H "$ctl" "$user" > "$T/$name.out" 2>&1 &
	pid[$name]=$!
	eventually test -e "$ctl.open"
}

logout() {	# NAME
	local status
	# Opened read-write, the pipe does not block when the login has
	# ended already (refused, say): nothing then reads it.
	echo logout 1<> "$T/$1.ctl"
	wait "${pid[$1]}"
	status=$?
	unset "pid[$1]"
	return "$status"
}
