#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The cost of a login through real libpam, side by side in one run:
#   - a pam_permit stack (the floor);
#   - bench/pam_bench_libs (links libgdbm and libconfig, does nothing):
#     what loading our module's libraries costs by itself;
#   - pam_faillock (account), and pam_limits with a "%bench maxlogins" rule
#     (the logins of all the pool's technicians, as a pool counts them)
#     with 0 and SIZES live sessions in utmp;
#   - pam_helpdesk_license (account + session) with an empty store and with
#     SIZES sessions held by live processes; as in production, its runtime
#     store is on tmpfs (a directory made in /dev/shm) and its durable
#     store on the disk (a directory made in /var/tmp);
#   - contention: K parallel drivers on a pool of 1 and a pool of 10, each
#     session held HOLD ms so that they overlap, then a check that no slot
#     was lost or duplicated;
#   - the admin tool's list and status with the largest size held
#     (bench/bench_tool.sh).
# Run as root from a build directory (make check builds the programs):
#   sh SRCDIR/bench/run-bench.sh [-r RUNS] [-n CYCLES] [-s "SIZES"]
#       [-k "WORKERS"] [-c CYCLES] [-w HOLD] [-t TOOL_RUNS] [-b SECONDS]
#       [-x CAP]
# -r  runs of each stack, interleaved (default 5); the table shows the
#     median of their medians and the spread of those medians
# -n  logins per run (default 300); -b stops a run after SECONDS (default
#     20), for stacks that get slow; a stack whose first login takes more
#     than a third of that is measured by that one login, and one whose
#     first login takes more than CAP seconds (default 180) is stopped and
#     reported as over CAP
# -s  held sessions (default "1000 10000"); -k parallel drivers (default
#     "2 8 32"), -c logins per driver (default 100), -w how long each of
#     their sessions stays open in ms (default 5); -t runs of each tool
#     command (default 10)
# It installs PAM services /etc/pam.d/hlbench-* for the run and removes
# them; users come from nss_wrapper, files live in a temporary directory.
# Numbers depend on the machine and its load: compare rows of one run.
set -eu
runs=5 cycles=300 sizes="1000 10000" workers="2 8 32" ccycles=100 \
	holdms=5 truns=10 budget=20 cap=180
while getopts r:n:s:k:c:w:t:b:x: opt; do
	case $opt in
	r) runs=$OPTARG ;;
	n) cycles=$OPTARG ;;
	s) sizes=$OPTARG ;;
	k) workers=$OPTARG ;;
	c) ccycles=$OPTARG ;;
	w) holdms=$OPTARG ;;
	t) truns=$OPTARG ;;
	b) budget=$OPTARG ;;
	x) cap=$OPTARG ;;
	*) exit 2 ;;
	esac
done
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=$(pwd)
login=$build/bench/bench_login
hold=$build/bench/bench_hold
tool=$build/helpdesk-license
module=$build/.libs/pam_helpdesk_license.so
libs=$build/bench/.libs/pam_bench_libs.so
for f in "$login" "$hold" "$tool" "$module" "$libs"; do
	[ -e "$f" ] || {
		echo "build first (make check builds the benchmarks): no $f" >&2
		exit 2
	}
done
# Its row would measure pam_permit if the linker had dropped them.
for lib in libgdbm libconfig; do
	readelf -d "$libs" | grep -q "NEEDED.*\[$lib\." || {
		echo "$libs does not link $lib" >&2
		exit 2
	}
done
[ "$(id -u)" = 0 ] || {
	echo "needs root: the stacks run as real /etc/pam.d services" >&2
	exit 77
}
nsswrapper=$(pkg-config --libs nss_wrapper)
largest=0
for n in $sizes; do
	[ "$n" -gt "$largest" ] && largest=$n
done

# One run at a time on a machine: the services have fixed names.
exec 9> /run/lock/hlbench.lock
flock -w 900 9 || { echo "another benchmark holds the lock" >&2; exit 1; }

holder= work= durable= runtime=
cleanup() {
	exec 8>&- 2>/dev/null || true
	[ -z "$holder" ] || wait "$holder" 2>/dev/null || true
	rm -f /etc/pam.d/hlbench-*
	for d in "$work" "$durable" "$runtime"; do
		[ -z "$d" ] || rm -rf "$d"
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
work=$(mktemp -d)
# Where production keeps them: the runtime store on tmpfs, the durable
# store on the disk.
durable=$(mktemp -d /var/tmp/hlbench.XXXXXX)
runtime=$(mktemp -d /dev/shm/hlbench.XXXXXX)

# Users: probe logs in, t00001... hold sessions (group bench), c1... contend
# (group contend).
{
	echo "probe:x:4999:5000::/nonexistent:/bin/false"
	awk -v n="$largest" 'BEGIN { for (i = 1; i <= n; i++)
		printf "t%05d:x:%d:5000::/nonexistent:/bin/false\n", i, 5000 + i }'
	awk 'BEGIN { for (i = 1; i <= 256; i++)
		printf "c%d:x:%d:5100::/nonexistent:/bin/false\n", i, 30000 + i }'
} > "$work/passwd"
printf 'bench:x:5000:\ncontend:x:5100:\n' > "$work/group"
export LD_PRELOAD="$nsswrapper" NSS_WRAPPER_PASSWD="$work/passwd" \
	NSS_WRAPPER_GROUP="$work/group"

# Our module: one configuration and store per size; the pools of contention.
conf() { # NAME POOL LICENSES GROUP
	cat > "$work/$1.conf" <<EOF
store = "$durable/store-$1/licenses.db";
runtime_store = "$runtime/store-$1/sessions.db";
event_log = "$work/events-$1.log";
concurrent = ( { pool = "$2"; licenses = $3; groups = [ "$4" ]; } );
EOF
	chmod 600 "$work/$1.conf"
}
service() { # NAME ACCOUNT-LINE SESSION-LINE
	printf 'account required %s\nsession required %s\n' "$2" "$3" \
		> "/etc/pam.d/hlbench-$1"
}
service permit pam_permit.so pam_permit.so
service libs "$libs" "$libs"
mkdir -m 700 "$work/faillock"
service faillock "pam_faillock.so dir=$work/faillock" pam_permit.so
echo "%bench - maxlogins 1000000" > "$work/limits.conf"
service limits pam_permit.so "pam_limits.so conf=$work/limits.conf"
: > "$work/utmp-0"
stacks="permit libs faillock limits:0"
holding= ours=
for n in 0 $sizes; do
	conf "hl-$n" bench $((largest + 16)) bench
	service "hl-$n" "$module config=$work/hl-$n.conf" \
		"$module config=$work/hl-$n.conf"
	[ "$n" = 0 ] && continue
	stacks="$stacks limits:$n"
	ours="$ours hl-$n"
	holding="$holding -s $work/hl-$n.conf:$n -u $work/utmp-$n:$n"
done
stacks="$stacks hl-0$ours"
for p in 1 10; do
	conf "pool$p" "pool$p" "$p" contend
	service "pool$p" "$module config=$work/pool$p.conf" \
		"$module config=$work/pool$p.conf"
done

echo "# $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' \
	/proc/cpuinfo | head -1), Linux $(uname -r)," \
	"Debian $(cat /etc/debian_version 2>/dev/null || echo '?')," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# durable store on $(stat -f -c %T "$durable"), runtime store on" \
	"$(stat -f -c %T "$runtime")"

# The holders: live processes, with their sessions in the stores and utmp.
mkfifo "$work/hold"
start=$(date +%s%N)
# shellcheck disable=SC2086
"$hold" $holding "$largest" < "$work/hold" > "$work/ready" &
holder=$!
exec 8> "$work/hold"
until grep -q ready "$work/ready" 2>/dev/null; do
	kill -0 "$holder" 2>/dev/null || { echo "bench_hold failed" >&2; exit 1; }
	sleep 0.2
done
echo "# $largest holder processes, sessions written in" \
	"$((($(date +%s%N) - start) / 1000000)) ms"

# A single driver runs on one core (the last): a process that moves
# between cores makes every unmapping flush the TLB of both, which on a
# virtual machine costs more than what separates the stacks, and comes
# and goes with the scheduler.  The contention runs use every core.
pin=
if command -v taskset > /dev/null && [ "$(nproc)" -gt 1 ]; then
	pin="taskset -c $(($(nproc) - 1))"
fi
echo "# single logins run ${pin:-on any core (no taskset)}"

# One login of each stack first, so that no run pays for a cold cache.  A
# stack whose one login takes more than a third of the budget is measured
# by that login alone; one that takes more than CAP seconds is reported as
# over CAP.
slow=
for s in $stacks; do
	name=${s%%:*}
	utmp=$work/utmp-${s#*:}
	[ "$name" = limits ] || utmp=/dev/null
	rc=0
	line=$(timeout "$cap" $pin "$login" -u "$utmp" "hlbench-$name" probe 1) ||
		rc=$?
	if [ "$rc" = 124 ]; then
		slow="$slow $s"
		echo "$s over=$cap" >> "$work/runs"
		continue
	fi
	[ "$rc" = 0 ] || { echo "$s: $line" >&2; exit 1; }
	us=$(echo "$line" | sed -n 's/.*median_us=\([0-9]*\).*/\1/p')
	if [ "$us" -gt $((budget * 1000000 / 3)) ]; then
		slow="$slow $s"
		echo "$s $line" >> "$work/runs"
	fi
done
r=1
while [ "$r" -le "$runs" ]; do
	for s in $stacks; do
		case " $slow " in *" $s "*) continue ;; esac
		name=${s%%:*}
		utmp=$work/utmp-${s#*:}
		[ "$name" = limits ] || utmp=/dev/null
		line=$($pin "$login" -t "$budget" -u "$utmp" "hlbench-$name" probe \
			"$cycles") || { echo "$s: $line" >&2; exit 1; }
		echo "$s $line" >> "$work/runs"
	done
	r=$((r + 1))
done

echo "# load after the logins: $(cut -d' ' -f1-3 /proc/loadavg)"

# Two figures of a login that the load does not move, each counted over
# 20 and over 40 logins, the difference over 20 (so the driver's own
# start counts for nothing); not for pam_limits with sessions in utmp
# (seconds a login).  Its system calls, with strace -c.
calls() { # STACK UTMP LOGINS
	strace -f -c -o "$work/calls" "$login" -u "$2" "hlbench-${1%%:*}" \
		probe "$3" > /dev/null 2>&1 &&
		awk '$NF == "total" { print $4 }' "$work/calls"
}
# Its instructions: callgrind counts what the login's process runs in
# user space (the kernel's work is in the system calls).  bench_login
# forks its logins' process: its count is the largest.
instructions() { # STACK UTMP LOGINS
	rm -f "$work"/callgrind.*
	valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.%p" \
		"$login" -u "$2" "hlbench-${1%%:*}" probe "$3" > /dev/null 2>&1 &&
		sed -n 's/^summary: *//p' "$work"/callgrind.* | sort -n | tail -1
}
per_login() { # COUNTER NAME: a "STACK NAME=N" line of runs per stack
	for s in $stacks; do
		case "$s" in limits:0) ;; limits:*) continue ;; esac
		case " $slow " in *" $s "*) continue ;; esac
		utmp=$work/utmp-${s#*:}
		[ "${s%%:*}" = limits ] || utmp=/dev/null
		few=$("$1" "$s" "$utmp" 20) && more=$("$1" "$s" "$utmp" 40) &&
			echo "$s $2=$(((more - few) / 20))" >> "$work/runs"
	done
}
if command -v strace > /dev/null; then
	per_login calls syscalls
fi
if command -v valgrind > /dev/null; then
	per_login instructions instructions
fi
echo
echo "## Login cost (pam_start ... pam_end), $runs runs of up to $cycles logins"
echo
awk -v stacks="$stacks" "$median_awk"'
function label(s,   n) {
	n = s; sub(/^[^:]*:?/, "", n)
	if (s == "permit") return "pam_permit (floor)"
	if (s == "libs") return "a module linking libgdbm and libconfig"
	if (s == "faillock") return "pam_faillock (account)"
	if (s ~ /^limits:/) return "pam_limits %group maxlogins, " n " in utmp"
	sub(/^hl-/, "", s)
	return "pam_helpdesk_license, " (s == 0 ? "empty store" : s " held")
}
{
	s = $1
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if ("over" in f) { over[s] = f["over"]; delete f; next }
	if ("syscalls" in f) { calls[s] = f["syscalls"]; delete f; next }
	if ("instructions" in f) { instr[s] = f["instructions"]; delete f; next }
	m[s, ++count[s]] = f["median_us"]
	cm[s, count[s]] = f["cpu_median_us"]
	logins[s] += f["cycles"]
	delete f
}
END {
	nstacks = split(stacks, order, " ")
	for (k = 1; k <= nstacks; k++) {
		s = order[k]; n = count[s]
		if (n == 0) continue
		for (i = 1; i <= n; i++) v[i] = m[s, i]
		med[s] = median(v, n)
		lo[s] = v[1]; hi[s] = v[n]
		for (i = 1; i <= n; i++) v[i] = cm[s, i]
		cpu[s] = median(v, n)
	}
	print "| stack | median µs | spread of run medians | ratio to floor | CPU µs | CPU ratio | system calls | thousand instructions | instructions ratio | logins |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (k = 1; k <= nstacks; k++) {
		s = order[k]; n = count[s]
		if (s in over) {
			printf "| %s | > %d s | (not finished) | > %.0f | | | | | | 0 |\n",
				label(s), over[s], over[s] * 1e6 / med["permit"]
			continue
		}
		spread = med[s] > 0 ? 100 * (hi[s] - lo[s]) / med[s] / 2 : 0
		if (n == 1)
			range = "(one run)"
		else
			range = sprintf("±%.0f%% (%.0f–%.0f)", spread, lo[s], hi[s])
		cpu_ratio = cpu["permit"] ? cpu[s] / cpu["permit"] : 0
		instr_k = instr_ratio = ""
		if (s in instr) {
			instr_k = sprintf("%.0f", instr[s] / 1000)
			if (instr["permit"] > 0)
				instr_ratio = sprintf("%.2f", instr[s] / instr["permit"])
		}
		printf "| %s | %.0f | %s | %.2f | %.0f | %.2f | %s | %s | %s | %d |\n",
			label(s), med[s], range, med[s] / med["permit"], cpu[s],
			cpu_ratio, (s in calls) ? calls[s] : "", instr_k,
			instr_ratio, logins[s]
	}
}' "$work/runs"

echo
hold_us=$((holdms * 1000))
echo "## Contention: parallel drivers, $ccycles logins each, sessions held $holdms ms"
echo
echo "| pool | drivers | logins | granted | refused | failed | median µs | slowest µs | most held at once | store after | left held by ended sessions | slots lost or duplicated | event log |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"
bad=0 badlog=0
for p in 1 10; do
	for k in $workers; do
		rm -rf "$durable/store-pool$p" "$runtime/store-pool$p" \
			"$work/events-pool$p.log"
		c_cycles=0 c_granted=0 c_refused=0 c_failed=1 c_median_us=0
		c_max_us=0 c_max_held=0 c_duplicated=0
		line=$("$login" -k "$k" -l "$p" -w "$hold_us" "hlbench-pool$p" c \
			"$ccycles") ||
			true
		eval "$(echo "$line" | tr ' ' '\n' |
			grep -E '^[a-z_0-9]+=[0-9.]+$' | sed 's/^/c_/')"
		conf=$work/pool$p.conf
		check=$("$hold" -C "$conf") && state=consistent ||
			state=INCONSISTENT
		status=$("$tool" -c "$conf" --json status)
		in_use=$(echo "$status" | sed -n 's/.*"in_use":\([0-9]*\).*/\1/p')
		stale=$(echo "$status" | sed -n 's/.*"stale":\([0-9]*\).*/\1/p')
		# Every driver has ended: what is still held belongs to a session
		# whose close failed.  Its slot is not lost if reclaiming stale
		# sessions gives it back, as the next login to a full pool does.
		if [ "$in_use" != 0 ]; then
			"$tool" -c "$conf" reap > /dev/null || true
			"$hold" -C "$conf" > /dev/null || state=INCONSISTENT
		fi
		after=$("$tool" -c "$conf" --json status |
			sed -n 's/.*"in_use":\([0-9]*\).*/\1/p')
		# Lost: still held after the reap, or a store whose counts
		# disagree.  Duplicated: more sessions open at once than licenses.
		lost=$after
		[ "$state" = consistent ] || lost=$((lost + 1))
		dup=$c_duplicated
		[ "$c_max_held" -le "$p" ] || dup=$((dup + 1))
		[ $((lost + dup)) = 0 ] || bad=$((bad + 1))
		# The event log: one grant (or join, when the technician's slot
		# is still held by a session whose close failed) per session
		# opened, one release per session closed, each line once.
		log=$work/events-pool$p.log
		opened=$(grep -c -E '"event":"(grant|join)"' "$log" || true)
		releases=$(grep -c '"event":"release"' "$log" || true)
		twice=$(grep -E '"event":"(grant|join|release)"' "$log" |
			sed -n 's/.*"event":"\([a-z]*\)".*"session":"\([0-9a-f]*\)".*/\1 \2/p' |
			sort | uniq -d | wc -l)
		if [ "$opened" = "$c_granted" ] && [ "$twice" = 0 ]; then
			events="$opened grants, $releases releases"
		else
			events="$opened grants for $c_granted sessions, $releases releases, $twice lines twice"
			badlog=$((badlog + 1))
		fi
		printf '| %s | %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s, %s in use | %s (%s stale) | %s | %s |\n' \
			"$p" "$k" "$c_cycles" "$c_granted" "$c_refused" \
			"$c_failed" "$c_median_us" "$c_max_us" "$c_max_held" \
			"$state" "$after" "$in_use" "$stale" "$((lost + dup))" \
			"$events"
		[ "$state" = consistent ] || echo "$check" >&2
	done
done

echo
echo "## Admin tool with $largest sessions held"
echo
sh "$here/bench_tool.sh" -c "$work/hl-$largest.conf" "$largest" "$truns"
echo
echo
echo "## Raw runs"
echo
sed 's/^/    /' "$work/runs"
echo
total=$(( $(echo $workers | wc -w) * 2 ))
echo "event log: $badlog of $total contention runs logged a session twice or not at all"
echo "contention: $bad of $total runs lost or duplicated a slot"
[ "$bad" = 0 ]
