# SPDX-License-Identifier: BSD-3-Clause
# What the backend's TAP scripts (daemon-test.sh, module-test.sh) share,
# sourced after tests/tap.sh and tests/backend/pg.sh:
#   - T, a private temporary directory (mode 0711: the postgres user
#     passes through it), removed at exit with the private PostgreSQL;
#   - pid, NAME -> process the script started: each is woken (SIGCONT),
#     stopped (SIGTERM) and waited for at exit, and the pam_wrapper
#     directory a killed one left behind is removed (only 62 exist);
#   - eventually COMMAND...: polls every 0.1 s until it succeeds, false
#     after HL_BACKEND_GUARD seconds (default 120), a hang guard only;
#   - check DESCRIPTION COMMAND...: ok or not ok, with $evidence.

guard=${HL_BACKEND_GUARD:-120}
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
