#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The Debian packages, from build to purge.  A stage of tests/run-all.sh (see
# tests/stages/README), as root:
#
#   tests/stages/70-package.sh [BUILD-DIR ASAN-BUILD-DIR]
#
# With BUILD-DIR, a configured build, it also checks that make install
# there puts the package's files at the package's paths.
# It copies the source tree to a temporary directory, builds the package
# there (dpkg-buildpackage -us -uc -b, without its tests), checks it with
# lintian, installs it with apt-get, and checks what it installed: files,
# owners and modes, the reap timer and service (systemd-analyze verify),
# the tmpfiles.d snippet, the pam-auth-update profile (present, disabled).
# It logs in through a PAM service of its own with the installed module
# (pamtester), reaps a session left open, rotates the event log with the
# installed logrotate rule, and enables the profile with pam-auth-update
# in a mount namespace of its own, where /etc/pam.d and pam-auth-update's
# state are copies: the machine's PAM stacks are never changed.  Then it
# removes the package (the store and the log stay), installs it again (they
# are kept) and purges it: nothing of it may be left.
#
# Then the upgrade from 0.2.0: it builds the 0.2.0 package from the
# project's history (commit 032e111, "NEWS: 0.2.0"), installs it, makes a
# Named allocation and keeps a concurrent session open through its module,
# installs this package over it with dpkg -i and checks that the
# allocation and the live session's slot are kept, that the first write
# migrates the store (schema 2) into the durable store and the runtime
# store under /run/helpdesk-license, and that the slot is freed when the
# session ends; then it purges the package again.  Without the project's
# git history (a tarball, as in make distcheck) it says so and leaves the
# upgrade out.
#
# The shared backend's daemon is a package of its own, helpdesk-licensed,
# so that a one-host site installs no libpq: the stage checks that the
# module's package neither depends on libpq nor links it, that the
# daemon's package holds the daemon, its man page, the schema and its unit
# (installed, not enabled) and depends on libpq5, that both install, the
# daemon runs, and that both purge leaving nothing.
#
# It creates the users hlpkg-east1, hlpkg-east2, hlpkg-named1 and
# hlpkg-outsider and the PAM service /etc/pam.d/hlpkg-test, and removes
# them at exit, with the package.  It will not run where the package, its
# configuration, its stores' or its log's directories exist already.
#
# The last line is "N passed, N failed", or "skipped: WHY" when it cannot
# run here.

set -uo pipefail
# In this shell, text goes to grep -q in a here-string, not a pipe: grep -q
# leaves at the first match, and under pipefail a writer it leaves behind
# dies of SIGPIPE, which fails a check that found what it looked for (or,
# negated, passes one that should fail).  A loaded machine makes it likely.

if [ "$(id -u)" -ne 0 ]; then
	echo "skipped: needs root"
	exit 0
fi
for cmd in dpkg-buildpackage dh lintian apt-get pamtester pam-auth-update \
	   logrotate systemd-analyze systemd-tmpfiles unshare gdbmtool; do
	if ! command -v "$cmd" >/dev/null; then
		echo "skipped: $cmd is not installed"
		exit 0
	fi
done

# One run at a time on a host: the package, the users and the PAM service
# are the host's.
exec 9>/run/lock/helpdesk-license-package.lock
flock 9

pkg=libpam-helpdesk-license
daemon_pkg=helpdesk-licensed
conf=/etc/security/helpdesk-license.conf
statedir=/var/lib/helpdesk-license
rundir=/run/helpdesk-license
logdir=/var/log/helpdesk-license
eventlog=$logdir/events.log
profile=/usr/share/pam-configs/helpdesk-license
service=hlpkg-test
pamfile=/etc/pam.d/$service
east=hlpkg-east1
east2=hlpkg-east2
named=hlpkg-named1
outsider=hlpkg-outsider
users=("$east" "$east2" "$named" "$outsider")
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
module=/lib/$multiarch/security/pam_helpdesk_license.so

for p in "$pkg" "$daemon_pkg"; do
	# Nothing (not known), "unknown ..." or "... not-installed": absent.
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" in
	"" | unknown* | *not-installed) ;;
	*)
		echo "skipped: $p is installed on this host; not touching it"
		exit 0
		;;
	esac
done
for f in "$conf" "$statedir" "$rundir" "$logdir" "$pamfile"; do
	if [ -e "$f" ]; then
		echo "skipped: $f exists already; not touching it"
		exit 0
	fi
done
for u in "${users[@]}"; do
	if getent passwd "$u" >/dev/null; then
		echo "skipped: user $u exists already (left over?); not touching it"
		exit 0
	fi
done

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
tmp=
made_users=()
made_pamfile=no
installed=no
holder=
export DEBIAN_FRONTEND=noninteractive

cleanup() {
	local rc=$? u
	set +e
	[ -n "$old_build" ] && wait "$old_build"
	# The session kept open for the upgrade test, if a check broke off.
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder"
	if [ "$installed" = yes ] && dpkg-query -W "$pkg" >/dev/null 2>&1; then
		apt-get -o DPkg::Lock::Timeout=600 purge -y -qq "$daemon_pkg" "$pkg" >/dev/null 2>&1 ||
			echo "cleanup: purging $pkg failed" >&2
	fi
	for u in "${made_users[@]}"; do
		userdel -f "$u" >/dev/null 2>&1 || echo "cleanup: userdel $u failed" >&2
	done
	[ "$made_pamfile" = yes ] && rm -f "$pamfile"
	[ -n "$tmp" ] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hlpkg.XXXXXX")

# ---- TAP ---------------------------------------------------------------------

# shellcheck source=../tap.sh
. "$srcdir/tests/tap.sh"

check() {	# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$what"
	else
		not_ok "$what" "$out"
	fi
}
finish() {
	tap_counts
	exit
}

# mode_is PATH OWNER:GROUP MODE
mode_is() {
	local got
	got=$(stat -c '%U:%G %a' "$1") || return 1
	[ "$got" = "$2 $3" ] || { echo "$1: $got, want $2 $3"; return 1; }
}

# The files of the host that the package must leave as they were.
host_state() {
	sha256sum /etc/pam.d/common-* 2>&1
	ls /var/lib/pam 2>&1
	cat /var/lib/pam/seen 2>/dev/null
	ls /etc/systemd/system/timers.target.wants 2>/dev/null
}

# ---- build -------------------------------------------------------------------

# The 0.2.0 package, for the upgrade test: built from the project's
# history meanwhile.
old_commit=032e111
old_build=
if [ -e "$srcdir/.git" ]; then
	mkdir -p "$tmp/old/src"
	(git -C "$srcdir" archive "$old_commit" | tar -x -C "$tmp/old/src" &&
	 cd "$tmp/old/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) \
		>"$tmp/old/build.log" 2>&1 &
	old_build=$!
else
	echo "# no upgrade test: $srcdir has no .git to build 0.2.0 from (a release tarball?)"
fi

# A copy of the tree: the build never writes into the source tree.
mkdir "$tmp/src"
if git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 cp --parents -t "$tmp/src") 2>"$tmp/copy.log"
else
	(cd "$srcdir" && tar --exclude='./_build*' -cf - .) | tar -C "$tmp/src" -xf -
fi
echo "# building the package (a few minutes)"
if (cd "$tmp/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) \
	>"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds the packages"
else
	not_ok "dpkg-buildpackage -us -uc -b builds the packages" \
		"$(tail -n 30 "$tmp/build.log")"
	finish
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
version=$(dpkg-parsechangelog -l "$tmp/src/debian/changelog" -S Version)
deb=$tmp/${pkg}_${version}_$arch.deb
daemon_deb=$tmp/${daemon_pkg}_${version}_$arch.deb
check "both packages are built: $pkg and $daemon_pkg" test -f "$deb" -a -f "$daemon_deb"
old_deb=
if [ -n "$old_build" ]; then
	if wait "$old_build"; then
		old_deb=$tmp/old/${pkg}_$(dpkg-parsechangelog -l "$tmp/old/src/debian/changelog" -S Version)_$arch.deb
		ok "the 0.2.0 package builds from the project's history (commit $old_commit)"
	else
		not_ok "the 0.2.0 package builds from the project's history (commit $old_commit)" \
			"$(tail -n 30 "$tmp/old/build.log")"
	fi
	old_build=
fi
changes=${deb%.deb}.changes

# Every tag that lintian would report is fixed or overridden with a reason
# (debian/*.lintian-overrides).  lintian leaves its caches (mldbm-elf-*)
# in TMPDIR: in ours they go with it.
if out=$(TMPDIR=$tmp lintian --fail-on error,warning,info --pedantic "$changes" 2>&1) &&
   ! grep -q '^[EWIP]: ' <<<"$out"; then
	ok "lintian --pedantic: no tag"
else
	not_ok "lintian --pedantic: no tag" "$out"
fi

# deb_listing DEB: the paths DEB holds, one a line
deb_listing() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|'; }
# missing_from LISTING PATH...: the PATHs that LISTING lacks, each after a
# space.
missing_from() {
	local listing=$1 f
	shift
	for f; do
		grep -qxF -- "$f" <<<"$listing" || printf ' %s' "$f"
	done
}

listing=$(deb_listing "$deb")
missing=$(missing_from "$listing" "$module" /usr/sbin/helpdesk-license \
	 /usr/share/man/man8/pam_helpdesk_license.8.gz \
	 /usr/share/man/man8/helpdesk-license.8.gz \
	 /usr/share/man/man5/helpdesk-license.conf.5.gz \
	 /usr/share/doc/$pkg/examples/helpdesk-license.conf \
	 /usr/share/doc/$pkg/examples/sshd-helpdesk \
	 /lib/systemd/system/helpdesk-license-reap.service \
	 /lib/systemd/system/helpdesk-license-reap.timer \
	 /lib/systemd/system/helpdesk-license-metrics.service \
	 /lib/systemd/system/helpdesk-license-metrics.timer \
	 /usr/share/bash-completion/completions/helpdesk-license \
	 /usr/share/doc/$pkg/examples/helpdesk-license.json \
	 /usr/lib/tmpfiles.d/helpdesk-license.conf \
	 /etc/logrotate.d/helpdesk-license "$profile" "$conf")
if [ -z "$missing" ] && ! grep -q '\.la$' <<<"$listing"; then
	ok "the package holds the module, the tool, the man pages and the system files"
else
	not_ok "the package holds the module, the tool, the man pages and the system files" \
		"missing:$missing"
fi

# A one-host site: the module's package brings no libpq, and holds no
# daemon.
depends=$(dpkg-deb -f "$deb" Depends)
if [ -n "$depends" ] && ! grep -q libpq <<<"$depends" &&
   ! grep -q 'helpdesk-licensed\|schema\.sql' <<<"$listing"; then
	ok "$pkg depends on no libpq and holds no daemon"
else
	not_ok "$pkg depends on no libpq and holds no daemon" "Depends: $depends"
fi
daemon_listing=$(deb_listing "$daemon_deb")
missing=$(missing_from "$daemon_listing" /usr/sbin/helpdesk-licensed \
	/usr/share/man/man8/helpdesk-licensed.8.gz \
	/usr/share/helpdesk-license/schema.sql \
	/lib/systemd/system/helpdesk-licensed.service)
if [ -z "$missing" ]; then
	ok "$daemon_pkg holds the daemon, its man page, the schema and its unit"
else
	not_ok "$daemon_pkg holds the daemon, its man page, the schema and its unit" \
		"missing:$missing"
fi
depends=$(dpkg-deb -f "$daemon_deb" Depends)
if grep -q '\blibpq5\b' <<<"$depends" &&
   grep -qF "$pkg (= $version)" <<<"$depends"; then
	ok "$daemon_pkg depends on libpq5 and on $pkg of its own version"
else
	not_ok "$daemon_pkg depends on libpq5 and on $pkg of its own version" \
		"Depends: $depends"
fi

# make install puts the same files at the same paths, given Debian's
# prefix and sysconfdir (the suite's build, when there is one).
builddir=${1:-}
if [ -n "$builddir" ] && [ -f "$builddir/Makefile" ]; then
	if make -C "$builddir" install DESTDIR="$tmp/destdir" prefix=/usr \
		sysconfdir=/etc >"$tmp/install.log" 2>&1; then
		# The union of both packages (a build without libpq has no
		# daemon: then the daemon's package is left out), less what
		# only the packages have; their man pages compressed.
		installed_files=$(cd "$tmp/destdir" && find . ! -type d | sed 's|^\.||' | sort)
		union=$listing
		if [ -e "$tmp/destdir/usr/sbin/helpdesk-licensed" ]; then
			union=$(printf '%s\n%s\n' "$listing" "$daemon_listing")
		fi
		packaged_files=$(printf '%s\n' "$union" | grep -v '/$' |
			grep -v "^/usr/share/doc/\|^/usr/share/lintian/\|^$conf\$" |
			sed 's|^\(/usr/share/man/.*\)\.gz$|\1|' | sort)
		if [ "$installed_files" = "$packaged_files" ]; then
			ok "make install (prefix /usr, sysconfdir /etc) installs the packages' files"
		else
			not_ok "make install (prefix /usr, sysconfdir /etc) installs the packages' files" \
				"$(diff <(echo "$installed_files") <(echo "$packaged_files"))"
		fi
	else
		not_ok "make install (prefix /usr, sysconfdir /etc) installs the packages' files" \
			"$(tail -n 20 "$tmp/install.log")"
	fi
fi

# ---- install -----------------------------------------------------------------

before=$(host_state)
installed=yes
if out=$(apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$deb" 2>&1); then
	ok "apt-get install ./$(basename "$deb")"
else
	not_ok "apt-get install ./$(basename "$deb")" "$out"
	finish
fi
check "the stores' and the log's directories are root's, mode 0700" \
	sh -c "$(declare -f mode_is); mode_is $statedir root:root 700 &&
		mode_is $rundir root:root 700 && mode_is $logdir root:root 700"
check "the configuration is a root-owned conffile, mode 0644" \
	sh -c "$(declare -f mode_is); mode_is $conf root:root 644 &&
		dpkg-query -W -f='\${Conffiles}' $pkg | grep -q ' $conf '"
check "the configuration as installed is valid" helpdesk-license check-config
check "the module exports its PAM entry points only" \
	sh -c "nm -D --defined-only $module | awk '{ print \$3 }' |
		grep -v '^_' | sort | tr '\n' ' ' |
		grep -qx 'pam_sm_acct_mgmt pam_sm_close_session pam_sm_open_session '"
if out=$(grep -l pam_helpdesk_license /etc/pam.d/common-* 2>&1); then
	not_ok "installing leaves the profile disabled: no common-* file names the module" "$out"
else
	ok "installing leaves the profile disabled: no common-* file names the module"
fi
check "the profile is Default: no, in account and (interactive) session only" \
	sh -c "grep -qx 'Default: no' $profile &&
		grep -qx 'Session-Interactive-Only: yes' $profile &&
		! grep -q '^Auth\|^Password' $profile"
check "the reap timer and service are valid units (systemd-analyze verify)" \
	systemd-analyze verify --man=no \
		/lib/systemd/system/helpdesk-license-reap.timer \
		/lib/systemd/system/helpdesk-license-reap.service
check "the metrics timer and service are valid units (systemd-analyze verify)" \
	systemd-analyze verify --man=no \
		/lib/systemd/system/helpdesk-license-metrics.timer \
		/lib/systemd/system/helpdesk-license-metrics.service
check "the metrics service writes the node exporter's textfile" \
	grep -qx 'ExecStart=/usr/sbin/helpdesk-license metrics --output /var/lib/prometheus/node-exporter/helpdesk_license.prom' \
		/lib/systemd/system/helpdesk-license-metrics.service
check "the reap service runs helpdesk-license reap, and may write the store and the log" \
	sh -c "grep -qx 'ExecStart=/usr/sbin/helpdesk-license reap' /lib/systemd/system/helpdesk-license-reap.service &&
		grep -q '^ReadWritePaths=.*$statedir' /lib/systemd/system/helpdesk-license-reap.service &&
		grep -q '^ReadWritePaths=.*$logdir' /lib/systemd/system/helpdesk-license-reap.service"
# Without systemd as init, deb-systemd-helper still enables the timer.
if [ -d /run/systemd/system ]; then
	check "the reap timer is enabled" systemctl is-enabled helpdesk-license-reap.timer
	check "the metrics timer is enabled" systemctl is-enabled helpdesk-license-metrics.timer
else
	check "the reap timer is enabled" \
		test -L /etc/systemd/system/timers.target.wants/helpdesk-license-reap.timer
	check "the metrics timer is enabled" \
		test -L /etc/systemd/system/timers.target.wants/helpdesk-license-metrics.timer
fi
mkdir "$tmp/root"
check "the tmpfiles.d snippet makes the three directories root's, mode 0700" \
	sh -c "$(declare -f mode_is); systemd-tmpfiles --root=$tmp/root --create /usr/lib/tmpfiles.d/helpdesk-license.conf &&
		mode_is $tmp/root$statedir root:root 700 && mode_is $tmp/root$rundir root:root 700 &&
		mode_is $tmp/root$logdir root:root 700"

# ---- logins through the installed module -----------------------------------

for u in "${users[@]}"; do
	useradd --system --no-create-home --shell /usr/sbin/nologin "$u" &&
		made_users+=("$u")
done
# The licenses of this test: the installed store and event log, one pool.
cat >"$tmp/test.conf" <<EOF
unlicensed = "deny";
concurrent = ( { pool = "hlpkg"; licenses = 1; users = [ "$east" ]; } );
EOF
chmod 0644 "$tmp/test.conf"
made_pamfile=yes
cat >"$pamfile" <<EOF
# pam_helpdesk_license's package test: remove if found.
auth     required pam_permit.so
account  required $module config=$tmp/test.conf
account  required pam_permit.so
session  required $module config=$tmp/test.conf
session  required pam_permit.so
EOF

check "$east logs in (account, session open and close)" \
	pamtester "$service" "$east" acct_mgmt open_session close_session
if out=$(pamtester "$service" "$outsider" acct_mgmt 2>&1); then
	not_ok "$outsider, who holds no license, is refused" "$out"
else
	ok "$outsider, who holds no license, is refused"
fi
check "the event log is root's, mode 0600, with $east's grant and release" \
	sh -c "$(declare -f mode_is); mode_is $eventlog root:root 600 &&
		grep -q '\"event\":\"grant\",\"user\":\"$east\".*\"service\":\"$service\"' $eventlog &&
		grep -q '\"event\":\"release\",\"user\":\"$east\"' $eventlog"
check "the installed module links no libpq (ldd)" sh -c "ldd $module >$tmp/ldd.out && ! grep -q libpq $tmp/ldd.out"
check "the store is root's, mode 0600" \
	sh -c "$(declare -f mode_is); mode_is $statedir/licenses.db root:root 600"

# A session that never closes: pamtester exits holding it.  The timer's
# command gives the license back.
pamtester "$service" "$east" open_session >/dev/null 2>&1
if grep -q "$east" <<<"$(helpdesk-license -c "$tmp/test.conf" list)"; then
	ok "a session left open holds $east's license"
else
	not_ok "a session left open holds $east's license" \
		"$(helpdesk-license -c "$tmp/test.conf" list 2>&1)"
fi
check "reap gives it back" \
	sh -c "helpdesk-license -c $tmp/test.conf reap | grep -q $east &&
		! helpdesk-license -c $tmp/test.conf list | grep -q $east &&
		grep -q '\"event\":\"reap\",\"user\":\"$east\"' $eventlog"

# The installed logrotate rule, forced twice with a login in between: the
# names "report" reads, and the module's writes go to the new file.
state=$tmp/logrotate.state
rotate() { logrotate -f -s "$state" /etc/logrotate.d/helpdesk-license; }
first=$(wc -l <"$eventlog")
if out=$(rotate 2>&1) &&
   pamtester "$service" "$east" acct_mgmt open_session close_session >/dev/null 2>&1 &&
   out=$(rotate 2>&1); then
	ok "logrotate rotates the event log with the installed rule"
else
	not_ok "logrotate rotates the event log with the installed rule" "$out"
fi
check "rotated: events.log.1, events.log.2.gz, and a new events.log root's, mode 0600" \
	sh -c "$(declare -f mode_is); mode_is $eventlog root:root 600 &&
		test -s $eventlog.1 && test -s $eventlog.2.gz &&
		test \$(zcat $eventlog.2.gz | wc -l) -eq $first &&
		grep -q '\"event\":\"grant\",\"user\":\"$east\"' $eventlog.1 &&
		test \$(ls $logdir | wc -l) -eq 3"

# ---- the pam-auth-update profile, enabled in a namespace of our own ---------

# /etc/pam.d, pam-auth-update's state and debconf's database are copies
# mounted over the host's, in a mount namespace that ends with the
# command: the host's PAM stacks never change.  There, the test's
# configuration is the installed one, and "cron" is a service like
# Debian's cron.
cp -a /etc/pam.d "$tmp/pam.d"
cp -a /var/lib/pam "$tmp/var-lib-pam"
mkdir "$tmp/debconf"
cp -a /var/cache/debconf/config.dat /var/cache/debconf/templates.dat "$tmp/debconf/"
cat >"$tmp/pam.d/cron" <<EOF
@include common-auth
@include common-account
@include common-session-noninteractive
EOF
cat >"$tmp/pam.d/$service-common" <<EOF
@include common-auth
@include common-account
@include common-session
EOF
cat >"$tmp/namespace.sh" <<EOF
set -e
mount --bind $tmp/pam.d /etc/pam.d
mount --bind $tmp/var-lib-pam /var/lib/pam
mount --bind $tmp/debconf /var/cache/debconf
mount --bind $tmp/test.conf $conf
pam-auth-update --enable helpdesk-license
echo "account: \$(grep -c pam_helpdesk_license.so /etc/pam.d/common-account)"
echo "session: \$(grep -c pam_helpdesk_license.so /etc/pam.d/common-session)"
echo "noninteractive: \$(grep -c pam_helpdesk_license.so /etc/pam.d/common-session-noninteractive || true)"
echo "auth: \$(grep -c pam_helpdesk_license.so /etc/pam.d/common-auth || true)"
pamtester $service-common $east acct_mgmt open_session close_session >/dev/null 2>&1 && echo "east: in" || echo "east: refused"
pamtester $service-common $outsider acct_mgmt >/dev/null 2>&1 && echo "outsider: in" || echo "outsider: refused"
pamtester $service-common root acct_mgmt open_session close_session >/dev/null 2>&1 && echo "root: in" || echo "root: refused"
pamtester cron $outsider acct_mgmt open_session close_session >/dev/null 2>&1 && echo "cron: in" || echo "cron: refused"
EOF
ns=$(unshare --mount --propagation private sh "$tmp/namespace.sh" 2>&1)
expect_ns() {	# expect_ns DESCRIPTION LINE
	if grep -qxF "$2" <<<"$ns"; then
		ok "$1"
	else
		not_ok "$1" "$ns"
	fi
}
expect_ns "pam-auth-update --enable adds the module to common-account" "account: 1"
expect_ns "... and to common-session" "session: 1"
expect_ns "... not to common-session-noninteractive" "noninteractive: 0"
expect_ns "... not to common-auth" "auth: 0"
expect_ns "through common-*: a technician with a license logs in" "east: in"
expect_ns "through common-*: a user without a license is refused" "outsider: refused"
expect_ns "through common-*: root, exempt, logs in" "root: in"
expect_ns "cron, ignored by default, runs the job of a user without a license" "cron: in"
if out=$(grep -l pam_helpdesk_license /etc/pam.d/common-* 2>&1); then
	not_ok "the host's common-* files are untouched" "$out"
else
	ok "the host's common-* files are untouched"
fi

# ---- remove, install again, purge ------------------------------------------

store_inode=$(stat -c %i "$statedir/licenses.db")
check "apt-get remove" apt-get -o DPkg::Lock::Timeout=600 remove -y -qq "$pkg"
check "after remove: the store, the event log and the configuration are kept" \
	sh -c "test -f $statedir/licenses.db && test -f $eventlog.2.gz && test -f $conf &&
		! test -e $module && ! test -e $profile"
check "installed again, it keeps the store" \
	sh -c "apt-get -o DPkg::Lock::Timeout=600 install -y -qq $deb >/dev/null &&
		test \$(stat -c %i $statedir/licenses.db) = $store_inode &&
		test -f $eventlog.2.gz"
# purge [PACKAGE...]: apt-get purge (the module's package by default), and
# nothing of the packages may be left.
purge() {
	local files left= f p pkgs=("${@:-$pkg}")
	files=$(for p in "${pkgs[@]}"; do dpkg -L "$p"; done |
		while read -r f; do [ -d "$f" ] || echo "$f"; done)
	check "apt-get purge ${pkgs[*]}" apt-get -o DPkg::Lock::Timeout=600 purge -y -qq "${pkgs[@]}"
	for p in "${pkgs[@]}"; do
		dpkg-query -W "$p" >/dev/null 2>&1 && left="$left $p(dpkg)"
		[ -e "/usr/share/doc/$p" ] && left="$left /usr/share/doc/$p"
	done
	for f in $files "$statedir" "$rundir" "$logdir" "$conf" \
		 /etc/systemd/system/timers.target.wants/helpdesk-license-reap.timer \
		 /etc/systemd/system/timers.target.wants/helpdesk-license-metrics.timer \
		 /var/lib/systemd/deb-systemd-helper-enabled/helpdesk-license-reap.timer.dsh-also \
		 /var/lib/systemd/deb-systemd-helper-enabled/helpdesk-license-metrics.timer.dsh-also \
		 /etc/systemd/system/multi-user.target.wants/helpdesk-licensed.service \
		 /var/lib/systemd/deb-systemd-helper-enabled/helpdesk-licensed.service.dsh-also \
		 /var/lib/systemd/deb-systemd-helper-masked/helpdesk-licensed.service; do
		[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
	done
	if [ -z "$left" ]; then
		ok "after purge nothing of ${pkgs[*]} is left"
	else
		not_ok "after purge nothing of ${pkgs[*]} is left" "left:$left"
	fi
}
purge

# ---- the shared backend's daemon, its own package -----------------------------

if out=$(apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$deb" "$daemon_deb" 2>&1); then
	ok "apt-get install ./$(basename "$deb") ./$(basename "$daemon_deb")"
else
	not_ok "apt-get install ./$(basename "$deb") ./$(basename "$daemon_deb")" "$out"
fi
check "helpdesk-licensed --help runs" sh -c "helpdesk-licensed --help | grep -q '^usage: helpdesk-licensed'"
check "it finds its configuration's want of a backend section, and says so" \
	sh -c "! helpdesk-licensed --check >$tmp/check.out 2>&1 && grep -q backend $tmp/check.out"
check "the installed module still links no libpq" sh -c "! ldd $module | grep -q libpq"
check "the daemon's unit is valid (systemd-analyze verify)" \
	systemd-analyze verify --man=no /lib/systemd/system/helpdesk-licensed.service
# Not enabled: the configuration has no backend section yet.
if [ -d /run/systemd/system ]; then
	check "the daemon's unit is not enabled (nor running)" \
		sh -c "! systemctl is-enabled helpdesk-licensed.service && ! systemctl is-active helpdesk-licensed.service"
else
	check "the daemon's unit is not enabled" \
		test ! -e /etc/systemd/system/multi-user.target.wants/helpdesk-licensed.service
fi
check "the schema is installed for reference" \
	grep -q 'CREATE TABLE hl_record' /usr/share/helpdesk-license/schema.sql
purge "$daemon_pkg" "$pkg"

# ---- upgrade from 0.2.0 ----------------------------------------------------

# The licenses of the upgrade test, as 0.2.0 and this release both read
# them: the default stores (0.2.0's one file, then migrated), one Named
# license, and a pool of one slot for two technicians.
cat >"$tmp/upgrade.conf" <<EOF
unlicensed = "deny";
named = { licenses = 1; users = [ "$named" ]; };
concurrent = ( { pool = "hlpkg"; licenses = 1; users = [ "$east", "$east2" ]; } );
EOF
chmod 0644 "$tmp/upgrade.conf"
# pam_exec's prompt for a password holds pamtester between its open_session
# and its close_session: pamtester reads the answer from its standard input.
cat >"$pamfile" <<EOF
# pam_helpdesk_license's package test: remove if found.
auth     required pam_exec.so expose_authtok quiet /bin/cat
account  required $module config=$tmp/upgrade.conf
account  required pam_permit.so
session  required $module config=$tmp/upgrade.conf
session  required pam_permit.so
EOF

hl() { helpdesk-license -c "$tmp/upgrade.conf" "$@"; }
# holds LICENSE USER: list shows USER holding LICENSE, "named" or a pool
# (its rows begin "POOL#SLOT", or "POOL #SLOT" in 0.2.0's columns).
holds() {
	hl list | awk -v lic="$1" -v user="$2" '
		index($0, lic) == 1 && substr($0, length(lic) + 1, 1) ~ /[ #]/ {
			for (i = 2; i <= NF; i++)
				if ($i == user)
					found = 1
		}
		END { exit !found }'
}
# logs_in USER: USER logs in (account, session open and close)
logs_in() { pamtester "$service" "$1" acct_mgmt open_session close_session; }
# fetch FILE KEY: the value of KEY in the GDBM file FILE
fetch() { printf 'fetch "%s"\n' "$2" | gdbmtool -q -r -l "$1" 2>&1; }
schema() { fetch "$statedir/licenses.db" schema; }
# runtime_holds USER: the runtime store, root's, mode 0600, records USER's
# concurrent slot
runtime_holds() {
	mode_is "$rundir/sessions.db" root:root 600 &&
		grep -q '^kind concurrent' <<<"$(fetch "$rundir/sessions.db" "holder/$1")"
}
# denials USER: the count of USER's deny events that tell no error
denials() {
	grep "\"event\":\"deny\",\"user\":\"$1\"" "$eventlog" | grep -vc '"reason":"error"'
}
# refused USER: USER's login is refused, for want of a license, not for an
# error (a deny event with another reason).
refused() {
	local before
	before=$(denials "$1")
	! logs_in "$1" && [ "$(denials "$1")" -gt "$before" ]
}

upgrade() {
	local deadline rc
	if ! out=$(apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$old_deb" 2>&1); then
		not_ok "apt-get install the 0.2.0 package" "$out"
		return
	fi
	installed=yes
	ok "apt-get install the 0.2.0 package"
	check "0.2.0: $named logs in" logs_in "$named"
	check "0.2.0: $named holds a Named allocation" holds named "$named"

	# $east's session, open until a line comes down the pipe.
	mkfifo "$tmp/hold"
	pamtester "$service" "$east" acct_mgmt open_session authenticate close_session \
		<"$tmp/hold" >"$tmp/hold.log" 2>&1 &
	holder=$!
	exec 8>"$tmp/hold"
	# Polled; the bound of 60 s only guards against a hang.
	deadline=$((SECONDS + 60))
	until holds hlpkg "$east" || ! kill -0 "$holder" 2>/dev/null ||
	      [ "$SECONDS" -gt "$deadline" ]; do
		sleep 0.1
	done
	check "0.2.0: a session of $east is open, holding the pool's one slot" holds hlpkg "$east"
	check "0.2.0: $east2 is refused while it lives" refused "$east2"
	check "0.2.0: the store has schema 1" test "$(schema)" = 1

	if out=$(dpkg -i "$deb" 2>&1); then
		ok "dpkg -i installs $version over 0.2.0"
	else
		not_ok "dpkg -i installs $version over 0.2.0" "$out"
	fi
	check "the session opened through 0.2.0's module lives on" kill -0 "$holder"
	check "the upgrade made the runtime store's directory, root's, mode 0700" \
		sh -c "$(declare -f mode_is); mode_is $rundir root:root 700"
	check "$named's Named allocation is kept" holds named "$named"
	check "$east's live session keeps its slot" holds hlpkg "$east"
	check "$east2 is refused while $east's session lives" refused "$east2"
	check "$named logs in again, through the new module" logs_in "$named"
	check "after the first write, the durable store has schema 2" test "$(schema)" = 2
	check "the runtime store is under $rundir, root's, mode 0600, with $east's slot" \
		runtime_holds "$east"
	check "after the migration, $named's allocation is listed" holds named "$named"
	check "after the migration, $east's slot is listed" holds hlpkg "$east"

	# The session ends: the answer to the prompt, then close_session by
	# 0.2.0's module, still loaded in pamtester.
	echo secret >&8
	exec 8>&-
	rc=0
	wait "$holder" || rc=$?
	holder=
	if holds hlpkg "$east"; then
		echo "# $east's session ended (pamtester: exit status $rc), its slot still held: reap"
		hl reap | sed 's/^/# /'
	else
		echo "# $east's session ended (pamtester: exit status $rc), its slot released on close"
	fi
	if holds hlpkg "$east"; then
		not_ok "after $east's session ends, its slot is freed" "$(hl list 2>&1)"
	else
		ok "after $east's session ends, its slot is freed"
	fi
	check "$east2 then logs in" logs_in "$east2"
	check "$named's Named allocation is still there" holds named "$named"
	purge
}
if [ -n "$old_deb" ]; then
	upgrade
fi
after=$(host_state)
if [ "$before" = "$after" ]; then
	ok "the host's PAM stacks and pam-auth-update's state are as before"
else
	not_ok "the host's PAM stacks and pam-auth-update's state are as before" \
		"$(diff <(echo "$before") <(echo "$after"))"
fi

finish
