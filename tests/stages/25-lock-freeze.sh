#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Stage: a user cannot freeze the store lock (doc/RELIABILITY.md).
#
#   25-lock-freeze.sh BUILD-DIR ASAN-BUILD-DIR
#
# su and sudo run the module as root but keep their caller as the real
# uid, and kill(2) lets a user signal such a process.  The attack: start a
# setuid-root login (tests/reliability/setuid_client, installed setuid
# root in a private directory) as an unprivileged user ("nobody"), wait a
# random 0-30 ms, send it SIGSTOP as that user, and hope it holds the
# store lock: then every login times out until root kills it.
#
# The client logs in HL_FREEZE_ROUNDS times (10), so that the moment
# falls within its run, as within su's.
#
# Each try then runs a login as root (lock_timeout 2 s) while the stopped
# client stays stopped.  A try counts as blocked only when that login
# reports the lock timeout while the client is stopped holding the lock:
# no timing decides it (a timeout with the client not stopped is tried
# again, up to 5 times, as a hang guard).  Then the client is killed.
# Pass: no try blocked.  HL_FREEZE_TRIES sets the number of tries (1000).
#
# Needs root, the user nobody, setpriv, and a directory on a filesystem
# that allows setuid programs (the build directory, else /tmp).
set -u

build=${1:?usage: $0 BUILD-DIR ASAN-BUILD-DIR}
build=$(cd "$build" && pwd) || exit 1
tries=${HL_FREEZE_TRIES:-1000}
rounds=${HL_FREEZE_ROUNDS:-10}
passed=0
failed=0
tmp=
client_pid=

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

cleanup() {
	if [ -n "$client_pid" ]; then
		kill -KILL "$client_pid" 2>/dev/null
		kill -CONT "$client_pid" 2>/dev/null
		wait "$client_pid" 2>/dev/null
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

client="$build/tests/reliability/setuid_client"
if [ ! -x "$client" ]; then
	echo "$client is not built (make check builds it)"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "skipped: needs root (a setuid-root program and another user)"
	exit 0
fi
if ! id nobody >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
	echo "skipped: needs the user nobody and setpriv"
	exit 0
fi
group=$(id -gn nobody)
as_user="setpriv --reuid=nobody --regid=$group --clear-groups"

# A directory nobody can reach, on a filesystem that honours setuid.
for parent in "$build" "${TMPDIR:-/tmp}"; do
	case " $(findmnt -n -o OPTIONS -T "$parent" | tr , ' ') " in
	*" nosuid "*) continue ;;
	esac
	$as_user test -x "$parent" || continue
	tmp=$(mktemp -d "$parent/hl-lock-freeze.XXXXXX") || exit 1
	break
done
if [ -z "$tmp" ]; then
	echo "skipped: no directory nobody can reach on a filesystem that" \
		"allows setuid programs"
	exit 0
fi
chmod 0755 "$tmp"
# Only nobody's group may run the setuid program.
mkdir -m 0750 "$tmp/bin" && chgrp "$group" "$tmp/bin" &&
	install -m 4750 -o root -g "$group" "$client" "$tmp/bin/client" ||
	{ echo "cannot install the client"; echo "0 passed, 1 failed"; exit 1; }
store="$tmp/store/licenses.db"

# The store, made by a first login.
"$tmp/bin/client" "$store" nobody 30 >/dev/null 2>&1
case $? in
0) ;;
*) fail "a first login as root does not go through"
   echo "$passed passed, $failed failed"; exit 1 ;;
esac
# Every lock file of the store (the durable and the runtime file's).
lock_inos=$(stat -c %i "$tmp"/store/*.lock | paste -sd '|')

# Without a process of their own, for speed: state_of sets $state to the
# state letter of a process ("" when it is gone); nap sleeps on a FIFO
# nobody writes.
state_of() {
	local line=
	read -r line 2>/dev/null < "/proc/$1/stat"
	line=${line##*) }
	state=${line%% *}
}
mkfifo -m 0600 "$tmp/nap" && exec {nap_fd}<>"$tmp/nap" || exit 1
nap() { read -r -t "$1" -u "$nap_fd"; }
holds_lock() {	# whether pid holds a flock on a lock file of the store
	grep -Eq "FLOCK +ADVISORY +(READ|WRITE) +$1 [0-9a-f]+:[0-9a-f]+:($lock_inos) " \
		/proc/locks
}

echo "== $tries tries: start the setuid client as nobody, wait 0-30 ms," \
	"SIGSTOP it as nobody, log in as root (lock_timeout 2 s)"
sent=0 refused=0 gone=0 stopped=0 stopped_holding=0 blocked=0 errors=0
for ((i = 1; i <= tries; i++)); do
	$as_user "$tmp/bin/client" "$store" nobody 30 "$rounds" \
		>/dev/null 2>&1 &
	client_pid=$!
	printf -v ms %02d $((RANDOM % 31))
	nap "0.0$ms"
	case $($as_user kill -STOP "$client_pid" 2>&1) in
	"")	sent=$((sent + 1)) ;;
	*"not permitted"*) refused=$((refused + 1)) ;;
	*)	gone=$((gone + 1)) ;;
	esac
	holding=no
	state_of "$client_pid"
	if [ "$state" = T ]; then
		stopped=$((stopped + 1))
		if holds_lock "$client_pid"; then
			stopped_holding=$((stopped_holding + 1))
			holding=yes
		fi
	fi
	for attempt in 1 2 3 4 5; do
		out=$("$tmp/bin/client" "$store" nobody 2 2>&1)
		rc=$?
		[ "$rc" -eq 2 ] || break
		state_of "$client_pid"
		if [ "$holding" = yes ] && [ "$state" = T ]; then
			rc=blocked
			break
		fi
	done
	case $rc in
	0|1) ;;
	blocked)
		blocked=$((blocked + 1))
		[ "$blocked" -le 3 ] && echo "   try $i blocked: $out" ;;
	*)	errors=$((errors + 1))
		[ "$errors" -le 3 ] &&
			echo "   try $i: login as root failed (exit $rc): $out" ;;
	esac
	kill -KILL "$client_pid" 2>/dev/null
	kill -CONT "$client_pid" 2>/dev/null
	wait "$client_pid" 2>/dev/null
	client_pid=
	[ $((i % 100)) -eq 0 ] && echo "   $i tries: $blocked blocked"
done
echo "== SIGSTOP sent $sent, refused $refused, client gone $gone;" \
	"client stopped $stopped" \
	"times, $stopped_holding of them holding the lock; logins as root" \
	"blocked $blocked of $tries, failed otherwise $errors"
if [ "$blocked" -eq 0 ]; then
	pass "no login blocked by a stopped setuid client ($tries tries)"
else
	fail "$blocked of $tries logins blocked by a client stopped by its user"
fi
if [ "$errors" -eq 0 ]; then
	pass "every login as root answered"
else
	fail "$errors logins as root failed otherwise"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
