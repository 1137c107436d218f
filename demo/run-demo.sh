#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The pam_helpdesk_license demo: builds the module, then drives real logins
# through libpam.  pam_wrapper lets an ordinary process run a PAM service of
# its own (so nothing under /etc/pam.d is touched) and nss_wrapper supplies
# the demo's technicians and groups (so no real account is created).
#
#   ./demo/run-demo.sh [--no-install]
#
# It also shows the admin tool, helpdesk-license, on the same store.
#
# As root it first installs the Debian packages it needs (apt-get); with
# --no-install, or when not root, it expects them to be there.  It builds
# out of tree in _build-demo/ and keeps everything else (config, store,
# event log) in a temporary directory that it removes when it ends.
# Exit status: 0 when every login went as described, 1 otherwise.

set -euo pipefail

PACKAGES="autoconf automake libtool pkg-config make gcc libc6-dev
	libpam0g-dev libconfig-dev libgdbm-dev libcmocka-dev
	libpam-wrapper libpamtest0-dev libnss-wrapper"

install=yes
for arg in "$@"; do
	case "$arg" in
	--no-install) install=no ;;
	-h|--help)
		awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"
		exit 0 ;;
	*)
		echo "usage: $0 [--no-install]" >&2
		exit 2 ;;
	esac
done

srcdir=$(cd "$(dirname "$0")/.." && pwd)
build="${HL_DEMO_BUILD:-$srcdir/_build-demo}"
work=""
held_pids=()
unexpected=0

# pam_wrapper copies the services into /tmp/pam.X (X a letter or digit,
# with a file "pid" naming its process) and removes it at exit; a process
# killed by a signal leaves it behind.
remove_wrapper_dir() {	# remove_wrapper_dir PID
	local dir
	for dir in /tmp/pam.?; do
		if [ -f "$dir/pid" ] && [ "$(cat "$dir/pid" 2>/dev/null)" = "$1" ]; then
			rm -rf "$dir"
		fi
	done
}

cleanup() {
	local pid
	for pid in "${held_pids[@]}"; do
		if kill "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			remove_wrapper_dir "$pid"
		fi
	done
	if [ -n "$work" ]; then
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- output ----------------------------------------------------------------

if [ -t 1 ]; then
	bold=$(printf '\033[1m'); green=$(printf '\033[32m')
	red=$(printf '\033[31m'); plain=$(printf '\033[0m')
else
	bold=""; green=""; red=""; plain=""
fi

step_no=0
step() {
	step_no=$((step_no + 1))
	printf '\n%s%d. %s%s\n' "$bold" "$step_no" "$*" "$plain"
}

# Prints plain words, wrapped and indented.
explain() {
	printf '%s\n' "$*" | fold -s -w 74 | sed -e 's/ *$//' -e 's/^/   /'
}

# Compares a login's exit status with the one the story needs:
# 0 logged in, 1 refused at the account step, 2 refused at session open.
expect() {	# expect WHAT STATUS WANTED-STATUS
	if [ "$2" = "$3" ]; then
		printf '   %s-> as expected: %s%s\n' "$green" "$1" "$plain"
	else
		printf '   %s-> UNEXPECTED: wanted "%s", but the login ended with status %s (wanted %s)%s\n' \
			"$red" "$1" "$2" "$3" "$plain"
		unexpected=$((unexpected + 1))
	fi
}

die() {
	printf '%srun-demo: %s%s\n' "$red" "$*" "$plain" >&2
	exit 1
}

# ---- packages and build -----------------------------------------------------

if [ "$install" = yes ] && [ "$(id -u)" -eq 0 ]; then
	echo "Installing the build dependencies (apt-get) ..."
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086  # one word per package
	apt-get install -y -qq $PACKAGES >/dev/null
elif [ "$install" = yes ]; then
	echo "Not root: skipping apt-get; the build dependencies must be installed."
fi

mkdir -p "$build"
log="$build/demo-build.log"
: >"$log"
echo "Building the module out of tree in ${build#"$srcdir"/}/ (log: ${log#"$srcdir"/}) ..."
(cd "$srcdir" && autoreconf -fi) >>"$log" 2>&1 ||
	{ cat "$log"; die "autoreconf failed"; }
if [ ! -f "$build/Makefile" ]; then
	(cd "$build" && "$srcdir/configure") >>"$log" 2>&1 ||
		{ cat "$log"; die "configure failed"; }
fi
make -C "$build" -j2 pam_helpdesk_license.la helpdesk-license >>"$log" 2>&1 ||
	{ tail -n 60 "$log"; die "building the module and the admin tool failed"; }
module="$build/.libs/pam_helpdesk_license.so"
[ -f "$module" ] || die "$module was not built"
[ -x "$build/helpdesk-license" ] || die "$build/helpdesk-license was not built"

work=$(mktemp -d "${TMPDIR:-/tmp}/helpdesk-demo.XXXXXX")
chmod 0700 "$work"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -o "$work/hl-login" \
	"$srcdir/demo/hl-login.c" -lpam >>"$log" 2>&1 ||
	{ tail -n 30 "$log"; die "building the login driver failed"; }

wrapper_libdir=$(pkg-config --variable=libdir pam_wrapper 2>/dev/null || true)
nss_libdir=$(pkg-config --variable=libdir nss_wrapper 2>/dev/null || true)
pam_wrapper_so="${wrapper_libdir:-/usr/lib/x86_64-linux-gnu}/libpam_wrapper.so"
nss_wrapper_so="${nss_libdir:-/usr/lib/x86_64-linux-gnu}/libnss_wrapper.so"
[ -f "$pam_wrapper_so" ] || die "$pam_wrapper_so missing (package libpam-wrapper)"
[ -f "$nss_wrapper_so" ] || die "$nss_wrapper_so missing (package libnss-wrapper)"

# ---- the demo's world: users, groups, configuration, PAM service -------------

cat >"$work/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
alice:x:2001:2001:Alice, call centre:/nonexistent:/bin/bash
bob:x:2002:2001:Bob, call centre:/nonexistent:/bin/bash
frank:x:2011:2011:Frank, field technician (east):/nonexistent:/bin/bash
fiona:x:2012:2011:Fiona, field technician (east):/nonexistent:/bin/bash
uma:x:2021:2021:Uma, no license:/nonexistent:/bin/bash
EOF
cat >"$work/group" <<'EOF'
root:x:0:
callcentre:x:2001:alice,bob
field-east:x:2011:frank,fiona
staff:x:2021:uma
EOF

config="$work/helpdesk-license.conf"
cat >"$config" <<EOF
# The demo's helpdesk-license.conf (see helpdesk-license.conf(5)).
store        = "$work/state/licenses.db";
runtime_store = "$work/run/sessions.db";
event_log    = "$work/log/events.log";
on_error     = "deny";
unlicensed   = "deny";
show_holders = true;
exempt = { users = [ "root" ]; groups = [ ]; };

# Call-centre operators: 2 Named licenses, one per operator, kept.
named = {
  licenses = 2;
  groups   = [ "callcentre" ];
};

# Field technicians share ONE concurrent license: one of them at a time.
concurrent = (
  { pool = "field-east"; licenses = 1; groups = [ "field-east" ]; }
);
EOF
# The module refuses a config anyone but its owner could change.
chmod 0600 "$config" "$work/passwd" "$work/group"

mkdir "$work/pam.d"
# libpam wants an "other" service to fall back on; nothing here uses it.
printf '%s\n' 'account required pam_deny.so' 'session required pam_deny.so' \
	>"$work/pam.d/other"
cat >"$work/pam.d/sshd" <<EOF
# As in the example etc/pam.d/sshd-helpdesk, without the authentication
# (the demo's technicians have authenticated already).
account  required  pam_permit.so
account  required  $module config=$config
session  required  $module config=$config
EOF

# The login driver under pam_wrapper and nss_wrapper.  env execs it, so a
# login started in the background has the pid in $!.
login_cmd=(env LD_PRELOAD="$pam_wrapper_so $nss_wrapper_so"
	PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d"
	NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group"
	"$work/hl-login")

login() {	# login [hl-login options] USER
	"${login_cmd[@]}" "$@"
}

# The admin tool, on the demo's configuration and users.
admin() {	# admin COMMAND [ARGS]
	local rc=0
	printf '   # helpdesk-license %s\n' "$*"
	env LD_PRELOAD="$nss_wrapper_so" \
		NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
		"$build/helpdesk-license" -c "$config" "$@" 2>&1 |
		sed -e 's/^/   /' -e 's/ *$//' || rc=$?
	return "$rc"
}

# A login in its own process, whose session stays open until logout NAME.
declare -A held
hold_login() {	# hold_login NAME [hl-login options] USER
	local name=$1 fifo="$work/$1.ctl" pid i
	shift
	rm -f "$fifo" "$fifo.open"
	mkfifo -m 0600 "$fifo"
	"${login_cmd[@]}" -H "$fifo" "$@" &
	pid=$!
	held[$name]=$pid
	held_pids+=("$pid")
	for ((i = 0; i < 300; i++)); do
		[ -e "$fifo.open" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	local rc=0
	wait "$pid" || rc=$?
	unset "held[$name]"
	return $((rc == 0 ? 3 : rc))
}

logout() {	# logout NAME: the technician logs out; returns hl-login's status
	local pid=${held[$1]:-} rc=0
	if [ -z "$pid" ]; then
		echo "    ($1 is not logged in)"
		return 3
	fi
	printf 'logout\n' >"$work/$1.ctl"
	wait "$pid" || rc=$?
	unset "held[$1]"
	return "$rc"
}

crash() {	# crash NAME: the login's process dies without closing
	local pid=${held[$1]:-}
	if [ -z "$pid" ]; then
		echo "    ($1 is not logged in)"
		return 0
	fi
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	unset "held[$1]"
	remove_wrapper_dir "$pid"
}

# ---- the story ----------------------------------------------------------------

cat <<EOF

${bold}pam_helpdesk_license demo${plain}

The help desk host has two kinds of licenses:
  - 2 Named licenses for the call centre (group callcentre: alice, bob).
    A Named license belongs to one technician, who can always log in.
  - 1 concurrent license for the pool field-east (frank, fiona). Only ONE
    field technician can be logged in at a time, whoever it is.
  - uma has no license at all.
Every login below is a real one through libpam: the account step, then the
session, as sshd does after authentication.

The configuration:
EOF
sed -e '/^#/d' -e 's/^/   | /' -e 's/ *$//' "$config"

rc=0
step "alice (call centre) logs in"
login -r alice-pc.example -t pts/1 alice || rc=$?
explain "alice is in group callcentre and a Named license is free, so one is \
allocated to her. It stays hers after she logs out: her next login, from \
anywhere, with any number of sessions, is always let in."
expect "alice is let in" "$rc" 0

rc=0
step "frank (field-east) logs in and stays logged in"
hold_login frank -r tablet-07.example -t pts/2 frank || rc=$?
explain "The pool field-east has one license and it was free: frank takes it."
expect "frank is let in" "$rc" 0

rc=0
step "frank opens a second session (another terminal) and closes it again"
login -r tablet-07.example -t pts/3 frank || rc=$?
explain "A technician never takes two licenses: the second session joins the \
license frank already holds. Closing it does not give the license back, \
because his first session is still open."
expect "frank's second session is let in" "$rc" 0

rc=0
step "fiona (field-east) tries to log in while frank is logged in"
login -r laptop-12.example -t pts/4 fiona || rc=$?
explain "This is what \"concurrent\" means: the pool's single license is held \
by frank, so fiona is refused at the account step, before any shell could \
start. The module's message tells her who holds the license and since when."
expect "fiona is refused at the account step" "$rc" 1

rc=0
step "the administrator looks: who holds what, and what would fiona get?"
explain "helpdesk-license, the admin tool, reads the same configuration and \
store as the module."
admin list || rc=$?
echo
admin status || rc=$?
echo
rc2=0
admin check fiona || rc2=$?
expect "the tool shows the licenses" "$rc" 0
expect "check says fiona would be refused (exit status 1)" "$rc2" 1

rc=0
step "frank logs out"
logout frank || rc=$?
explain "His last session closed, so the field-east license is free again."
expect "frank logs out cleanly" "$rc" 0

rc=0
step "fiona tries again, and stays logged in"
hold_login fiona -r laptop-12.example -t pts/4 fiona || rc=$?
explain "Now the license is free, so fiona gets it."
expect "fiona is let in" "$rc" 0

rc=0
step "uma, who has no license of any kind, tries to log in"
login -r desk-3.example -t pts/5 uma || rc=$?
explain "uma is neither a named technician nor in a pool. With \
unlicensed = \"deny\" she is refused (with \"ignore\" this module would stay \
out of her way and leave the decision to the rest of the PAM stack)."
expect "uma is refused at the account step" "$rc" 1

rc=0
step "fiona's login process dies without logging out (kill -9)"
crash fiona
explain "Nothing closed her session: the store still says she holds the \
field-east license. The module recorded which process opened the session \
(pid and start time), so it can tell that the session is gone. The admin \
tool sees it already (the STALE column):"
admin status || true
echo
hold_login frank -r tablet-07.example -t pts/2 frank || rc=$?
explain "frank logs in: the pool looks full, so the module checks the holder, \
finds her process gone, reclaims the license (a \"reap\" event) and gives \
it to frank. A crash or a reboot never locks a pool."
expect "frank is let in after the reclaim" "$rc" 0

step "the administrator looks again"
rc=0
admin status || rc=$?
expect "the tool shows the licenses" "$rc" 0

step "the event log ($(basename "$work")/log/events.log)"
explain "One JSON object per line: every grant, join, refusal, release and \
reclaim. The same events go to syslog (authpriv)."
if [ -s "$work/log/events.log" ]; then
	sed 's/^/   /' "$work/log/events.log"
else
	printf '   %s(the event log is empty or missing)%s\n' "$red" "$plain"
	unexpected=$((unexpected + 1))
fi

step "who holds what now"
rc=0
admin list || rc=$?
explain "alice keeps her Named license with no session open; frank holds the \
field-east license with the session he is still logged in with."
expect "the tool lists the holders" "$rc" 0
logout frank >/dev/null || true

echo
if [ "$unexpected" -eq 0 ]; then
	echo "${green}Demo finished: every login went as described.${plain}"
else
	echo "${red}Demo finished with $unexpected unexpected result(s).${plain}"
	exit 1
fi
