#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end tests with real OpenSSH: a second sshd on 127.0.0.1 with a PAM
# service of its own that uses the built module, and real users, groups and
# ssh keys.  As root:
#
#   tests/e2e/sshd-e2e.sh MODULE TOOL
#
# MODULE is the built .libs/pam_helpdesk_license.so and TOOL the built
# helpdesk-license (or set HL_E2E_MODULE and HL_E2E_TOOL); HL_E2E_GUARD
# (default 120) bounds, in seconds, each wait for something to happen,
# only as a guard against a hang.  Needs openssh-server and
# openssh-client.
#
# It creates the users hltest-named1, hltest-east1 and hltest-east2, and
# for idle reclaim (pools with an idle_timeout of 60 s, the least there
# is) hltest-west1/2, hltest-north1/2 and hltest-south1/2, the groups
# hltest-callcentre, hltest-east, hltest-west, hltest-north and
# hltest-south, the PAM service
# /etc/pam.d/sshd-hltest and, if missing, /run/sshd; everything else
# (config, store, event log, keys, homes, sshd's config, host key and log)
# lives in a temporary directory.  All of it is removed at exit, also after
# a failure.  It refuses to start if any of those names exists already.
#
# Output is TAP-like ("ok N - ...", "not ok N - ..." with the evidence) and
# the last line is "N passed, N failed"; the exit status is 0 only when
# every test passed.

set -euo pipefail

module=${1:-${HL_E2E_MODULE:-}}
tool=${2:-${HL_E2E_TOOL:-}}
if [ -z "$module" ] || [ -z "$tool" ]; then
	echo "usage: $0 MODULE.so HELPDESK-LICENSE-TOOL" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "$0: must run as root (it starts sshd and creates users)" >&2
	exit 2
fi
module=$(realpath "$module")
tool=$(realpath "$tool")
for f in "$module" "$tool" /usr/sbin/sshd /usr/bin/ssh /usr/bin/ssh-keygen; do
	if [ ! -e "$f" ]; then
		echo "$0: $f not found" >&2
		exit 2
	fi
done

# One run at a time on a host: the users and the PAM service below have
# fixed names.  A second run waits for the first to finish.
exec 9>/run/lock/helpdesk-license-e2e.lock
flock 9

here=$(cd "$(dirname "$0")" && pwd)
service=sshd-hltest
pamfile=/etc/pam.d/$service
named_user=hltest-named1
east1=hltest-east1
east2=hltest-east2
users=("$named_user" "$east1" "$east2" hltest-west1 hltest-west2
	hltest-north1 hltest-north2 hltest-south1 hltest-south2)
groups=(hltest-callcentre hltest-east hltest-west hltest-north hltest-south)

for u in "${users[@]}"; do
	if getent passwd "$u" >/dev/null; then
		echo "$0: user $u exists already (left over?); not touching it" >&2
		exit 2
	fi
done
for g in "${groups[@]}"; do
	if getent group "$g" >/dev/null; then
		echo "$0: group $g exists already (left over?); not touching it" >&2
		exit 2
	fi
done
if [ -e "$pamfile" ]; then
	echo "$0: $pamfile exists already (left over?); not touching it" >&2
	exit 2
fi

# ---- cleanup: only what this script created -------------------------------

tmp=
sshd_pid=
made_run_sshd=no
made_pamfile=no
made_users=()
made_groups=()
bg_pids=()

cleanup() {
	local rc=$? p u i
	set +e
	# Our sshd's connection processes, then the listener itself.
	if [ -n "$sshd_pid" ]; then
		for p in $(pgrep -P "$sshd_pid"); do
			kill -KILL "$p" 2>/dev/null
		done
		kill -TERM "$sshd_pid" 2>/dev/null
	fi
	for p in "${bg_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for u in "${made_users[@]}"; do
		pkill -KILL -u "$u" 2>/dev/null
	done
	if [ -n "$sshd_pid" ]; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$sshd_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$sshd_pid" 2>/dev/null
		wait "$sshd_pid" 2>/dev/null
	fi
	for p in "${bg_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	for u in "${made_users[@]}"; do
		for ((i = 0; i < 50; i++)); do
			pgrep -u "$u" >/dev/null || break
			sleep 0.1
		done
		userdel -f "$u" >/dev/null 2>&1 || echo "cleanup: userdel $u failed" >&2
	done
	for g in "${made_groups[@]}"; do
		groupdel "$g" >/dev/null 2>&1 || echo "cleanup: groupdel $g failed" >&2
	done
	[ "$made_pamfile" = yes ] && rm -f "$pamfile"
	[ "$made_run_sshd" = yes ] && rmdir /run/sshd 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- TAP ---------------------------------------------------------------------

# shellcheck source=../tap.sh
. "$here/../tap.sh"

# Bounded wait: true once COMMAND succeeds, false after SECONDS.  The
# bound only guards against a hang: what a test expects to happen soon is
# told apart by what happened (an event's reason, an exit status), never by
# how long it took, so a loaded machine does not fail it.
guard=${HL_E2E_GUARD:-120}
wait_until() {	# wait_until SECONDS COMMAND...
	local limit=$(($1 * 10)) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

not_running() { ! kill -0 "$1" 2>/dev/null; }

listening() {	# listening PORT: our sshd listens on PORT
	grep -q "Server listening on 127.0.0.1 port $1" "$tmp/sshd.log"
}

up_or_gone() {	# up_or_gone PORT: our sshd listens, or has exited
	listening "$1" || not_running "$sshd_pid"
}

# ---- the temporary directory: homes, keys, config, store, sshd ---------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hltest-e2e.XXXXXX")
# Traversable, so that sshd (as the user) reaches the homes inside.
chmod 0755 "$tmp"
mkdir -m 0700 "$tmp/state" "$tmp/keys"
mkdir -m 0755 "$tmp/home" "$tmp/bin"

for g in "${groups[@]}"; do
	groupadd "$g"
	made_groups+=("$g")
done

# useradd SUPPLEMENTARY-GROUP NAME: home in $tmp, key in $tmp/keys.
add_user() {
	local group=$1 u=$2 home=$tmp/home/$2
	useradd -M -N -g nogroup -G "$group" -d "$home" -s /bin/sh "$u"
	made_users+=("$u")
	ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$tmp/keys/$u"
	install -d -m 0755 -o "$u" -g nogroup "$home"
	install -d -m 0700 -o "$u" -g nogroup "$home/.ssh"
	install -m 0600 -o "$u" -g nogroup "$tmp/keys/$u.pub" \
		"$home/.ssh/authorized_keys"
}
add_user hltest-callcentre "$named_user"
add_user hltest-east "$east1"
add_user hltest-east "$east2"
for g in west north south; do
	add_user "hltest-$g" "hltest-${g}1"
	add_user "hltest-$g" "hltest-${g}2"
done

config=$tmp/helpdesk-license.conf
sed -e "s|@STATE@|$tmp/state|g" "$here/helpdesk-license.conf.in" >"$config"
chown root:root "$config"
chmod 0600 "$config"

# The PAM service: "full" (account and session) or "session" (session only).
write_pam() {	# write_pam full|session
	local account_line="account    required     $module config=$config"
	[ "$1" = full ] || account_line="# (no account line: session only)"
	sed -e "s|@ACCOUNT@|$account_line|" \
	    -e "s|@MODULE@|$module|" -e "s|@CONFIG@|$config|" \
		"$here/pam-sshd-hltest.in" >"$tmp/pam.new"
	chmod 0644 "$tmp/pam.new"
	mv -f "$tmp/pam.new" "$pamfile"
	made_pamfile=yes
}
write_pam full

if [ ! -d /run/sshd ]; then
	mkdir -m 0755 /run/sshd
	made_run_sshd=yes
fi

ssh-keygen -q -t ed25519 -N '' -C hltest-host -f "$tmp/ssh_host_ed25519_key"
ln -s /usr/sbin/sshd "$tmp/bin/$service"

# sshd on a random high port: try another one if it is taken (sshd then
# exits without "Server listening").
port=
for attempt in 1 2 3 4 5; do
	p=$((20000 + RANDOM % 40000))
	sed -e "s|@PORT@|$p|" -e "s|@TMP@|$tmp|g" \
		-e "s|@USERS@|${users[*]}|" \
		"$here/sshd_config.in" >"$tmp/sshd_config"
	: >"$tmp/sshd.log"
	"$tmp/bin/$service" -D -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
	sshd_pid=$!
	wait_until "$guard" up_or_gone "$p" || true
	if listening "$p" && ! not_running "$sshd_pid"; then
		port=$p
		break
	fi
	kill -TERM "$sshd_pid" 2>/dev/null || true
	wait "$sshd_pid" 2>/dev/null || true
	sshd_pid=
done
if [ -z "$port" ]; then
	echo "Bail out! sshd did not start:"
	sed 's/^/#   /' "$tmp/sshd.log"
	exit 1
fi
echo "# sshd ($tmp/bin/$service) on 127.0.0.1 port $port, PAM service $service"

# ---- clients -------------------------------------------------------------------

ssh_as() {	# ssh_as USER COMMAND: bounded; stdin is the caller's; a
		# pty (ssh -tt) when $tty is set
	timeout "${limit:-30}" ssh -F /dev/null ${tty:+-tt} -i "$tmp/keys/$1" \
		-o BatchMode=yes -o IdentitiesOnly=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o ConnectTimeout=10 \
		-p "$port" "$1@127.0.0.1" "$2"
}

# Runs one client: its exit status in $rc, output in $out, errors in $err.
client() {	# client USER COMMAND
	rc=0
	ssh_as "$1" "$2" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# A session held open: the remote command says "started", then waits for a
# line on its standard input, which comes from a fifo this script holds.
# With $tty set it runs on a pty (ssh -tt), and its shell echoes each line
# typed on it ("got LINE") until "go" (see release).
declare -A hold_fd hold_pid
hold() {	# hold NAME USER
	local fd command='echo started; read line; echo ended'
	# shellcheck disable=SC2016 # the remote shell expands $line
	[ -z "${tty:-}" ] ||
		command='echo started; while read line && [ "$line" != go ]; do echo "got $line"; done'
	mkfifo "$tmp/$1.in"
	limit=${limit:-60} ssh_as "$2" "$command" \
		<"$tmp/$1.in" >"$tmp/$1.out" 2>"$tmp/$1.err" &
	hold_pid[$1]=$!
	bg_pids+=("$!")
	# Read-write: never blocks, and keeps the fifo open for writing.
	exec {fd}<>"$tmp/$1.in"
	hold_fd[$1]=$fd
	# A pty ends its lines with \r\n.
	wait_until "$guard" grep -Eq $'^started\r?$' "$tmp/$1.out"
}

# Lets the held session end; true when its client exits 0 in time.
release() {	# release NAME
	local fd=${hold_fd[$1]} pid=${hold_pid[$1]} rc=0
	echo go >&"$fd"
	exec {fd}>&-
	wait_until "$guard" not_running "$pid" || return 1
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
}


# JSON without jq: field names are stable, user names here need no escapes.
json_has_user() {	# json_has_user USER <JSON
	grep -Eq "\"user\"[[:space:]]*:[[:space:]]*\"$1\""
}

holds() {	# holds USER: the tool lists USER as a holder
	"$tool" -c "$config" --json list | json_has_user "$1"
}

not_holding() {	# not_holding USER: the tool works and does not list USER
	local json
	json=$("$tool" -c "$config" --json list) && ! json_has_user "$1" <<<"$json"
}

log_since() {	# log_since LINE: sshd's log from line LINE on
	tail -n "+$1" "$tmp/sshd.log"
}

log_lines() { wc -l <"$tmp/sshd.log"; }

held_evidence() {	# held_evidence NAME
	echo "client pid ${hold_pid[$1]}; stdout:"
	cat "$tmp/$1.out"
	echo "stderr:"
	cat "$tmp/$1.err"
	echo "sshd log:"
	tail -n 20 "$tmp/sshd.log"
}

# ---- the tests -----------------------------------------------------------------

# A Named technician logs in.
client "$named_user" 'echo in'
if [ "$rc" -eq 0 ] && [ "$out" = in ]; then
	ok "a Named technician logs in"
else
	not_ok "a Named technician logs in" "exit $rc" "stdout: $out" \
		"stderr: $err" "$(tail -n 20 "$tmp/sshd.log")"
fi

# A technician of a pool of 1 logs in and keeps a session open.
if hold a "$east1"; then
	ok "a technician of a pool of 1 logs in and keeps the session open"
else
	not_ok "a technician of a pool of 1 logs in and keeps the session open" \
		"$(held_evidence a)"
fi

# The admin tool shows the holder, by its whole name.
list_user_ok() {	# list_user_ok LIST USER: the pool's row names USER
	awk -v u="$2" '$1 == "hltest-east" && $2 == "#1" && $3 == u {
		found = 1
	} END { exit !found }' <<<"$1"
}
list=$("$tool" -c "$config" list 2>&1) || true
json=$("$tool" -c "$config" --json list 2>&1) || true
if list_user_ok "$list" "$east1" &&
   json_has_user "$east1" <<<"$json"; then
	ok "helpdesk-license list (and --json) shows the holder of the pool"
else
	not_ok "helpdesk-license list (and --json) shows the holder of the pool" \
		"list:" "$list" "--json list:" "$json"
fi

# Another technician of the pool is refused by the account step: sshd
# sends the module's message (as a banner: the client's stderr) and closes
# the connection before any session.
line=$(log_lines)
client "$east2" 'echo in'
slog=$(log_since "$line")
if [ "$rc" -eq 255 ] && [ -z "$out" ] &&
   grep -q "pool hltest-east" <<<"$err" && grep -q "held by $east1" <<<"$err" &&
   grep -q "Connection closed" <<<"$err" &&
   grep -q "Access denied for user $east2 by PAM account configuration" \
	<<<"$slog"; then
	ok "a second technician of the pool is refused at account (ssh exit 255)"
else
	not_ok "a second technician of the pool is refused at account (ssh exit 255)" \
		"exit $rc" "stdout: $out" "stderr: $err" "sshd log:" "$slog"
fi

# With the module in the session stack only, the refusal comes at session
# open: sshd runs no command, exits 254 and sends the module's message.
write_pam session
line=$(log_lines)
client "$east2" 'echo in'
slog=$(log_since "$line")
write_pam full
# sshd prints the PAM messages it kept (display_loginmsg) on the session's
# standard output, and runs no command.
if [ "$rc" -eq 254 ] && ! grep -qx in <<<"$out" &&
   grep -q "pool hltest-east" <<<"$out" && grep -q "held by $east1" <<<"$out" &&
   grep -q "pam_open_session(): Permission denied" <<<"$slog"; then
	ok "session-only stack: the refused command exits 254 with the module's message"
else
	not_ok "session-only stack: the refused command exits 254 with the module's message" \
		"exit $rc" "stdout: $out" "stderr: $err" "sshd log:" "$slog"
fi

# The holder's second session joins the slot.
if hold b "$east1"; then
	ok "the holder's second concurrent session joins the slot"
else
	not_ok "the holder's second concurrent session joins the slot" \
		"$(held_evidence b)"
fi

# The first session ends: the second one still holds the slot.
if release a; then
	client "$east2" 'echo in'
	if [ "$rc" -eq 255 ] && holds "$east1"; then
		ok "after the holder's first session ends, the slot is still held"
	else
		not_ok "after the holder's first session ends, the slot is still held" \
			"exit $rc" "stdout: $out" "stderr: $err" \
			"$("$tool" -c "$config" list 2>&1)"
	fi
else
	not_ok "after the holder's first session ends, the slot is still held" \
		"the first session did not end cleanly" "$(held_evidence a)"
fi

# The last session ends: the other technician gets in.  sshd closes the PAM
# session after the client has seen the exit status: wait (bounded) until
# the slot is free.
if release b && wait_until "$guard" not_holding "$east1"; then
	client "$east2" 'echo in'
	if [ "$rc" -eq 0 ] && [ "$out" = in ]; then
		ok "after the holder's last session ends, the other technician gets in"
	else
		not_ok "after the holder's last session ends, the other technician gets in" \
			"exit $rc" "stdout: $out" "stderr: $err" \
			"$(tail -n 20 "$tmp/sshd.log")"
	fi
else
	not_ok "after the holder's last session ends, the other technician gets in" \
		"the slot was not given back" "$(held_evidence b)" \
		"$("$tool" -c "$config" list 2>&1)"
fi

# A session killed without closing never keeps the slot.
if hold c "$east1"; then
	# The privileged monitor ("sshd-hltest: USER [priv]") opened the PAM session;
	# kill it first, so that nothing closes the session, then the rest.
	priv=$(pgrep -P "$sshd_pid" -f "^$service: $east1 \\[priv\\]" || true)
	if [ -n "$priv" ]; then
		kill -KILL $priv
		pkill -KILL -u "$east1" || true
		wait_until "$guard" not_running "${hold_pid[c]}" || true
		wait_until "$guard" eval '! kill -0 $priv 2>/dev/null' || true
		line=$(log_lines)
		client "$east2" 'echo in'
		if [ "$rc" -eq 0 ] && [ "$out" = in ] &&
		   grep -q '"event": *"reap".*"'"$east1"'"\|"user": *"'"$east1"'".*"event": *"reap"' \
			"$tmp/state/events.log"; then
			ok "a session killed with SIGKILL does not keep the slot (reaped)"
		else
			not_ok "a session killed with SIGKILL does not keep the slot (reaped)" \
				"exit $rc" "stdout: $out" "stderr: $err" \
				"sshd log:" "$(log_since "$line")" \
				"events:" "$(tail -n 5 "$tmp/state/events.log")"
		fi
	else
		not_ok "a session killed with SIGKILL does not keep the slot (reaped)" \
			"no '$service: $east1 [priv]' process found" \
			"$(pgrep -a -P "$sshd_pid")"
	fi
else
	not_ok "a session killed with SIGKILL does not keep the slot (reaped)" \
		"the session did not open" "$(held_evidence c)"
fi

# sshd's [priv] monitor, which opened the PAM session, is SIGKILLed while
# the user's command runs on: the session lives on in its audit session
# (pam_loginuid gave it one), so the slot stays held; once the user's
# processes are gone too, the slot is reclaimed.
name="a session whose sshd [priv] is killed keeps its slot while its processes run"
if hold d "$east1"; then
	priv=$(pgrep -P "$sshd_pid" -f "^$service: $east1 \\[priv\\]" || true)
	if [ -n "$priv" ]; then
		kill -KILL $priv
		wait_until "$guard" eval '! kill -0 $priv 2>/dev/null' || true
		client "$east2" 'echo in'
		kept_rc=$rc kept_err=$err
		if [ "$kept_rc" -eq 255 ] && holds "$east1" &&
		   pgrep -u "$east1" >/dev/null &&
		   grep -q "held by $east1" <<<"$kept_err"; then
			pkill -KILL -u "$east1" || true
			wait_until "$guard" not_running "${hold_pid[d]}" || true
			wait_until "$guard" eval '! pgrep -u "$east1" >/dev/null' || true
			client "$east2" 'echo in'
			if [ "$rc" -eq 0 ] && [ "$out" = in ]; then
				ok "$name, and not after"
			else
				not_ok "$name, and not after" \
					"after the user's processes were killed:" \
					"exit $rc" "stdout: $out" "stderr: $err" \
					"$("$tool" -c "$config" list 2>&1)"
			fi
		else
			not_ok "$name, and not after" \
				"with [priv] killed, east2: exit $kept_rc, stderr: $kept_err" \
				"$east1's processes: $(pgrep -a -u "$east1" || echo none)" \
				"$("$tool" -c "$config" list 2>&1)"
			pkill -KILL -u "$east1" || true
		fi
	else
		not_ok "$name, and not after" \
			"no '$service: $east1 [priv]' process found" \
			"$(pgrep -a -P "$sshd_pid")"
	fi
else
	not_ok "$name, and not after" "the session did not open" \
		"$(held_evidence d)"
fi
# ---- waiting in line: the pool gets a wait ----------------------------------
# A second technician's ssh blocks at session open (sshd's [priv] monitor
# waits in the module) and gets in as soon as the first logs out; a client
# that goes away while waiting leaves the line at once.
wait_events() {	# wait_events EVENT USER [TEXT]: lines of the event log
	grep -F "\"event\":\"$1\"" "$tmp/state/events.log" |
		grep -F "\"user\":\"$2\"" | grep -cF "${3:-\"event\"}" || true
}
waiting_first() {	# waiting_first USER: first in the pool's line
	grep -qF "{\"pool\":\"hltest-east\",\"place\":1,\"user\":\"$1\"" \
		<<<"$("$tool" -c "$config" --json status)"
}
nobody_waits() { grep -qF '"waiting":[]' <<<"$("$tool" -c "$config" --json status)"; }
cp "$config" "$tmp/config.nowait"
sed -i -e 's|groups = \[ "hltest-east" \]; }|groups = [ "hltest-east" ]; wait = "60s"; }|' \
	"$config"
if wait_until "$guard" not_holding "$east1" && wait_until "$guard" not_holding "$east2" &&
   grep -q 'wait = "60s"' "$config" && hold w1 "$east1"; then
	limit=90 ssh_as "$east2" 'echo in' </dev/null >"$tmp/w2.out" 2>"$tmp/w2.err" &
	w2_pid=$!
	bg_pids+=("$w2_pid")
	if wait_until "$guard" waiting_first "$east2" && ! not_running "$w2_pid" &&
	   release w1 && wait_until "$guard" not_running "$w2_pid"; then
		w2_rc=0
		wait "$w2_pid" || w2_rc=$?
		# sshd shows the module's messages only once the session
		# has opened: they must carry no NUL byte with them.
		if [ "$w2_rc" -eq 0 ] && grep -qx in "$tmp/w2.out" &&
		   [ "$(cat "$tmp/w2.out" "$tmp/w2.err" | tr -cd '\000' | wc -c)" -eq 0 ] &&
		   [ "$(wait_events wait "$east2")" -eq 1 ] &&
		   [ "$(wait_events grant "$east2")" -ge 1 ]; then
			ok "with a wait, a second technician's ssh waits and gets in when the first logs out"
		else
			not_ok "with a wait, a second technician's ssh waits and gets in when the first logs out" \
				"exit $w2_rc" "stdout: $(od -c "$tmp/w2.out" | head -n 20)" \
				"stderr: $(od -c "$tmp/w2.err" | head -n 20)" \
				"events:" "$(tail -n 6 "$tmp/state/events.log")"
		fi
	else
		not_ok "with a wait, a second technician's ssh waits and gets in when the first logs out" \
			"the second client did not wait, or did not end" \
			"stdout: $(cat "$tmp/w2.out")" "stderr: $(cat "$tmp/w2.err")" \
			"$("$tool" -c "$config" status 2>&1)" \
			"$(tail -n 20 "$tmp/sshd.log")"
	fi
else
	not_ok "with a wait, a second technician's ssh waits and gets in when the first logs out" \
		"the pool was not free, or the first session did not open" \
		"$("$tool" -c "$config" list 2>&1)"
fi
# The waiting client is killed: its connection drops, the line empties.
if wait_until "$guard" not_holding "$east2" && hold w3 "$east1"; then
	limit=90 ssh_as "$east2" 'echo in' </dev/null >"$tmp/w4.out" 2>"$tmp/w4.err" &
	w4_pid=$!
	bg_pids+=("$w4_pid")
	if wait_until "$guard" waiting_first "$east2"; then
		# The client (under timeout, in a subshell): TERM reaches ssh.
		pkill -TERM -P "$w4_pid" 2>/dev/null || true
		if wait_until "$guard" nobody_waits &&
		   [ "$(wait_events deny "$east2" '"reason":"disconnected"')" -eq 1 ]; then
			ok "a waiting client that goes away leaves the line at once (deny disconnected)"
		else
			not_ok "a waiting client that goes away leaves the line at once (deny disconnected)" \
				"$("$tool" -c "$config" status 2>&1)" \
				"events:" "$(tail -n 6 "$tmp/state/events.log")"
		fi
	else
		not_ok "a waiting client that goes away leaves the line at once (deny disconnected)" \
			"the client did not wait" "stderr: $(cat "$tmp/w4.err")"
	fi
	release w3 || true
else
	not_ok "a waiting client that goes away leaves the line at once (deny disconnected)" \
		"the pool was not free, or the first session did not open"
fi
cp "$tmp/config.nowait" "$config"

# ---- idle reclaim through sshd -------------------------------------------------
# sshd opens the PAM session before it allocates the pty and names the
# terminal "ssh": the module finds the session's ttys through the
# processes of its audit session.  Three pools with an idle_timeout of 60 s
# (the least the configuration takes), run side by side so that the wait
# for idleness is spent once: in west the idle holder loses the license to
# a newcomer, in north the holder types before the newcomer comes, in south
# the holder has no terminal (ssh host command).  A Named technician with
# an idle terminal looks on.  The waits poll what the tool shows (idle_s,
# from the ttys' access times), bounded by idle_timeout + the guard only
# against a hang.
idle_limit=$((guard * 3 + 180))	# the held clients' own hang guard
hold_tty() {	# hold_tty NAME USER: held on a pty (ssh -tt)
	tty=yes limit=$idle_limit hold "$1" "$2"
}
idle_of() {	# idle_of USER: the tool's idle_s of USER's license
	"$tool" -c "$config" --json list |
		grep -o "\"user\":\"$1\",\"since\":\"[^\"]*\",\"idle_s\":[0-9a-z]*" |
		sed 's/.*"idle_s"://'
}
idle_at_least() {	# idle_at_least USER SECONDS
	local idle
	idle=$(idle_of "$1")
	[ -n "$idle" ] && [ "$idle" != null ] && [ "$idle" -ge "$2" ]
}
idle_below() {	# idle_below USER SECONDS
	local idle
	idle=$(idle_of "$1")
	[ -n "$idle" ] && [ "$idle" != null ] && [ "$idle" -lt "$2" ]
}
forget_hold() {	# forget_hold NAME: its client is gone; close its fifo
	local fd=${hold_fd[$1]}
	exec {fd}>&-
}
idle_evidence() {
	echo "tool list:"
	"$tool" -c "$config" list 2>&1
	echo "events:"
	tail -n 8 "$tmp/state/events.log"
}

# Each one held even when another failed: the checks below use them all.
held=yes
hold_tty ia hltest-west1 || held=no
hold_tty ib hltest-north1 || held=no
limit=$idle_limit hold ic hltest-south1 || held=no
hold_tty id "$named_user" || held=no
if [ "$held" = yes ]; then
	ok "technicians of pools with an idle_timeout log in (ssh -tt, and a command without a tty)"
else
	not_ok "technicians of pools with an idle_timeout log in (ssh -tt, and a command without a tty)" \
		"$(held_evidence ia)" "$(held_evidence ib)" \
		"$(held_evidence ic)" "$(held_evidence id)"
fi

# Both ssh -tt holders idle past the idle_timeout, as the tool sees it;
# the one without a terminal never idle (null).
if wait_until $((60 + guard)) idle_at_least hltest-west1 60 &&
   wait_until "$guard" idle_at_least hltest-north1 60 &&
   [ "$(idle_of hltest-south1)" = null ]; then
	ok "an ssh -tt session with no input is idle to the module; one without a tty never"
else
	not_ok "an ssh -tt session with no input is idle to the module; one without a tty never" \
		"west1: $(idle_of hltest-west1), north1: $(idle_of hltest-north1), south1: $(idle_of hltest-south1)" \
		"$(idle_evidence)"
fi

# north: the holder types (input on its pty, which its shell reads) and
# keeps the license.
name="an idle ssh -tt holder who types keeps the license (newcomer refused)"
echo typed >&"${hold_fd[ib]}"
if wait_until "$guard" grep -q '^got typed' "$tmp/ib.out" &&
   wait_until "$guard" idle_below hltest-north1 60; then
	client hltest-north2 'echo in'
	if [ "$rc" -eq 255 ] && grep -q "held by hltest-north1" <<<"$err" &&
	   ! not_running "${hold_pid[ib]}"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc" "stdout: $out" "stderr: $err" \
			"$(held_evidence ib)" "$(idle_evidence)"
	fi
else
	not_ok "$name" "the typed line did not reach the shell, or the tool" \
		"does not see the input: idle_s $(idle_of hltest-north1)" \
		"$(held_evidence ib)"
fi

# west: the newcomer gets the idle holder's license; the holder's
# connection ends with the line saying why and who took it.
name="a newcomer takes an idle ssh -tt holder's license; the holder is told and cut off"
client hltest-west2 'echo in'
west2_rc=$rc west2_out=$out west2_err=$err
if [ "$west2_rc" -eq 0 ] && [ "$west2_out" = in ] &&
   wait_until "$guard" not_running "${hold_pid[ia]}" &&
   grep -q "no input for" "$tmp/ia.out" &&
   grep -q "pool hltest-west) went to hltest-west2" "$tmp/ia.out" &&
   [ "$(wait_events reap hltest-west1 '"reason":"idle')" -eq 1 ]; then
	ok "$name"
	echo "# hltest-west1 saw: $(grep -o 'helpdesk-license: no input for[^*]*' "$tmp/ia.out" | head -n 1)"
else
	not_ok "$name" "west2: exit $west2_rc, stdout: $west2_out, stderr: $west2_err" \
		"$(held_evidence ia)" "$(idle_evidence)"
fi
forget_hold ia

# south: a holder without a terminal is never idle: the newcomer is
# refused, the session runs on.
name="an ssh session without a tty is never reclaimed (newcomer refused)"
client hltest-south2 'echo in'
if [ "$rc" -eq 255 ] && grep -q "held by hltest-south1" <<<"$err" &&
   ! not_running "${hold_pid[ic]}" &&
   [ "$(wait_events reap hltest-south1)" -eq 0 ]; then
	ok "$name"
else
	not_ok "$name" "exit $rc" "stdout: $out" "stderr: $err" \
		"$(held_evidence ic)" "$(idle_evidence)"
fi

# The Named technician, as idle, was not touched: its session ends as
# it was asked to.
name="a Named technician's idle ssh -tt session is never touched"
if ! not_running "${hold_pid[id]}" && release id &&
   ! grep -q "helpdesk-license" "$tmp/id.out" &&
   [ "$(wait_events reap "$named_user")" -eq 0 ]; then
	ok "$name"
else
	not_ok "$name" "$(held_evidence id)" "$(idle_evidence)"
fi
if release ib && release ic; then
	ok "the idle tests' other sessions end cleanly"
else
	not_ok "the idle tests' other sessions end cleanly" \
		"$(held_evidence ib)" "$(held_evidence ic)"
fi

# Every session that started ended in the event log (pam_helpdesk_license(8), "The event log").  The
# last client may exit before sshd closes its PAM session: wait (bounded).
events=$tmp/state/events.log
count_events() {	# count_events EVENT...
	local alt
	alt=$(IFS='|'; echo "$*")
	grep -Ec "\"event\"[[:space:]]*:[[:space:]]*\"($alt)\"" "$events" || true
}
balanced() {
	starts=$(count_events grant join)
	ends=$(count_events release reap admin-release)
	[ "$starts" -gt 0 ] && [ "$starts" -eq "$ends" ]
}
if wait_until "$guard" balanced; then
	ok "the event log ends every session that started ($starts)"
else
	not_ok "the event log ends every session that started" \
		"grant+join: $starts, release+reap+admin-release: $ends" \
		"$(cat "$events")"
fi

tap_counts
