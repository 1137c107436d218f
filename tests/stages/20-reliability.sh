#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Stage: reliability (doc/RELIABILITY.md), the long runs and the parts
# that need root.
#
#   20-reliability.sh BUILD-DIR ASAN-BUILD-DIR
#
#   1. stress: 40 processes for 60 s over pools of 1 and 3 licenses, some
#      killed mid-session, the invariants checked throughout;
#   2. crash: 300 writers killed inside their commits (half after a random
#      delay, half cut at a write of the commit), both store files in the
#      temporary directory (a disk), then 300 more on tmpfs (/dev/shm);
#      after each kill the next login must be granted (repairing in place),
#      the store sound, no Named allocation lost, no pool over-granted;
#   3. locking (root only): an unprivileged user ("nobody") can neither
#      read the store nor open its lock file to block logins, whether the
#      store directory is the 0700 one the tool makes or one an
#      administrator made 0755, and a lock file opened to others is
#      refused; and a held lock makes a writer give up after lock_timeout.
#
# HL_REL_SECONDS and HL_REL_ROUNDS shorten or lengthen 1 and 2.  Prints
# the figures of each part and ends with "N passed, N failed".
set -u

build=${1:?usage: $0 BUILD-DIR ASAN-BUILD-DIR}
seconds=${HL_REL_SECONDS:-60}
rounds=${HL_REL_ROUNDS:-300}
passed=0
failed=0
tmp=
holder=

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for prog in tests/reliability/stress tests/reliability/crash helpdesk-license; do
	if [ ! -x "$build/$prog" ]; then
		echo "$build/$prog is not built (make check builds it)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

# --- 1. races ---------------------------------------------------------------
echo "== stress: 40 processes, $seconds s"
if "$build/tests/reliability/stress" "$seconds" 40; then
	pass "stress"
else
	fail "stress"
fi

# --- 2. crashes -------------------------------------------------------------
echo "== crash: $rounds rounds in ${TMPDIR:-/tmp}"
if "$build/tests/reliability/crash" "$rounds" 20000; then
	pass "crash in ${TMPDIR:-/tmp}"
else
	fail "crash in ${TMPDIR:-/tmp}"
fi
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	echo "== crash: $rounds rounds on tmpfs (/dev/shm)"
	if TMPDIR=/dev/shm "$build/tests/reliability/crash" "$rounds" 20000
	then
		pass "crash on tmpfs"
	else
		fail "crash on tmpfs"
	fi
fi

# --- 3. locking (root) ------------------------------------------------------
expect_denied() {
	case "$1" in
	*"Permission denied"*) pass "locking ($dirmode): $2" ;;
	*) fail "locking ($dirmode): $2, but not for lack of permission: $1" ;;
	esac
}

locking() {
	tool="$build/helpdesk-license"
	tmp=$(mktemp -d /tmp/hlrel-stage.XXXXXX) || return 1
	chmod 0755 "$tmp"
	conf="$tmp/helpdesk-license.conf"
	cat > "$conf" <<EOF
store = "$tmp/store/licenses.db";
runtime_store = "$tmp/store/sessions.db";
event_log = "$tmp/log/events.log";
lock_timeout = "2s";
named = { licenses = 1; users = [ "daemon" ]; };
EOF
	chmod 0644 "$conf"

	for dirmode in made-by-the-tool 0755; do
		rm -rf "$tmp/store"
		if [ "$dirmode" = 0755 ]; then
			mkdir -m 0755 "$tmp/store"
		fi
		"$tool" -c "$conf" assign daemon >/dev/null &&
		"$tool" -c "$conf" unassign --force daemon >/dev/null ||
			{ fail "locking ($dirmode): the store cannot be made"; continue; }
		store="$tmp/store/licenses.db"
		echo "== locking, store directory $dirmode:" \
			"$(stat -c '%a %U' "$tmp/store") ;" \
			"store $(stat -c '%a %U' "$store");" \
			"lock $(stat -c '%a %U' "$store.lock")"
		as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"

		# Refused for the right reason: the permissions, not a typo.
		if out=$($as_nobody cat "$store" 2>&1 >/dev/null); then
			fail "locking ($dirmode): nobody can read the store"
		else
			expect_denied "$out" "nobody cannot read the store"
		fi
		for mode in -s -x; do
			if out=$($as_nobody flock -n "$mode" "$store.lock" \
				true 2>&1); then
				fail "locking ($dirmode): nobody can take the" \
					"lock ($mode)"
			else
				expect_denied "$out" \
					"nobody cannot take the lock ($mode)"
			fi
		done
		if $as_nobody touch "$tmp/store/x" 2>/dev/null; then
			fail "locking ($dirmode): nobody can write in the" \
				"store directory"
		else
			pass "locking ($dirmode): nobody cannot write in the" \
				"store directory"
		fi
		out=$($as_nobody timeout 30 "$tool" -c "$conf" list 2>&1)
		rc=$?
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
			pass "locking ($dirmode): list as nobody refused (exit" \
				"$rc): $(echo "$out" | head -1)"
		else
			fail "locking ($dirmode): list as nobody: exit $rc: $out"
		fi
		# And after all that, the lock is free for a login.
		if timeout 30 "$tool" -c "$conf" assign daemon >/dev/null &&
		   timeout 30 "$tool" -c "$conf" unassign --force daemon \
			>/dev/null; then
			pass "locking ($dirmode): a writer after nobody's tries"
		else
			fail "locking ($dirmode): a writer after nobody's tries"
		fi
	done

	# Files an administrator opened to others (here in the 0755
	# directory): refused, so nobody can hold the lock of a store in use.
	chmod 0644 "$tmp/store/licenses.db.lock"
	out=$(timeout 30 "$tool" -c "$conf" assign daemon 2>&1)
	case "$?:$out" in
	1:*"open to group or others"*)
		pass "locking: a lock file others can read is refused" ;;
	*)	fail "locking: a lock file others can read: $out" ;;
	esac
	chmod 0600 "$tmp/store/licenses.db.lock"

	# The wait is bounded by lock_timeout (2 s here): a writer facing a
	# held lock gives up, saying the store is busy.  The bound checked
	# is loose on purpose (the machine may be busy): 30 s.
	flock -x "$tmp/store/licenses.db.lock" sleep 60 &
	holder=$!
	sleep 1
	start=$(date +%s.%N)
	out=$(timeout 30 "$tool" -c "$conf" assign daemon 2>&1)
	rc=$?
	end=$(date +%s.%N)
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	holder=
	took=$(echo "$end $start" | awk '{ printf "%.1f", $1 - $2 }')
	echo "== lock held: assign gave exit $rc after $took s" \
		"(lock_timeout 2 s): $out"
	case "$rc:$out" in
	124:*)	fail "lock_timeout: assign still waiting after 30 s" ;;
	1:*busy*) pass "lock_timeout: assign gave up after $took s, busy" ;;
	*)	fail "lock_timeout: assign gave exit $rc: $out" ;;
	esac
	rm -rf "$tmp"
	tmp=
}

if [ "$(id -u)" -ne 0 ]; then
	echo "== locking: not run (needs root to act as another user)"
elif ! id nobody >/dev/null 2>&1; then
	echo "== locking: not run (no user nobody)"
else
	# One run at a time on the machine: our files and users are ours.
	exec 9>/tmp/hlrel-stage.lock
	if flock -w 600 9; then
		locking
	else
		fail "locking: another run holds /tmp/hlrel-stage.lock"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
