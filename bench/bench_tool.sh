#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Cost of the admin tool's reading commands (list and status, human and
# --json) on a store of HOLDERS live holders (default 5000), each holding a
# slot of one big pool.  Run from a build directory:
#   make check      # builds bench/bench_hold among the rest
#   sh SRCDIR/bench/bench_tool.sh [-c CONFIG] [HOLDERS] [RUNS]
# bench/bench_hold takes the slots through the core's session open, as
# logins would, for sleeping processes of its own that live while the tool
# runs, so every session is live and each stale check reads /proc for real.
# With -c, the store of CONFIG already holds HOLDERS such sessions and NSS
# already knows their users (bench/run-bench.sh arranges both).
# Prints the median wall time of each command, with hyperfine when it is
# installed, else with a loop of date +%s%N; and, when perf is installed,
# the median (and range) of the CPU time the tool itself used (perf stat
# -e task-clock), which a loaded machine moves far less than the wall
# time.  Numbers depend on the machine and its load: compare rows of one
# run.
set -eu
conf=
if [ "${1:-}" = -c ]; then
	conf=$2
	shift 2
fi
holders=${1:-5000}
runs=${2:-20}
tool=./helpdesk-license
fill=./bench/bench_hold
for f in "$tool" "$fill"; do
	[ -x "$f" ] || {
		echo "build first: make check (or make bench/bench_hold)" >&2
		exit 2
	}
done
work=$(mktemp -d)
filler=
cleanup() {
	exec 3>&-
	if [ -n "$filler" ]; then
		wait "$filler" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -z "$conf" ]; then
	# t00001... in group "bench".
	awk -v n="$holders" 'BEGIN { for (i = 1; i <= n; i++)
		printf "t%05d:x:%d:5000::/nonexistent:/bin/false\n", i, 5000 + i }' \
		> "$work/passwd"
	echo "bench:x:5000:" > "$work/group"
	conf=$work/helpdesk-license.conf
	cat > "$conf" <<EOF
store = "$work/store/licenses.db";
runtime_store = "$work/store/sessions.db";
event_log = "";
concurrent = ( { pool = "bench"; licenses = $((holders + 10)); groups = [ "bench" ]; } );
EOF
	chmod 600 "$conf"
	LD_PRELOAD=$(pkg-config --libs nss_wrapper)
	export LD_PRELOAD NSS_WRAPPER_PASSWD="$work/passwd" \
		NSS_WRAPPER_GROUP="$work/group"

	# Fill the store; bench_hold holds the sessions until fd 3 closes.
	mkfifo "$work/hold"
	"$fill" -s "$conf:$holders" "$holders" < "$work/hold" > "$work/ready" &
	filler=$!
	exec 3> "$work/hold"
	until grep -q ready "$work/ready" 2>/dev/null; do
		kill -0 "$filler" 2>/dev/null || {
			echo "bench/bench_hold failed" >&2
			exit 1
		}
		sleep 0.1
	done
fi

in_use=$("$tool" -c "$conf" --json status |
	sed -n 's/.*"in_use":\([0-9]*\).*/\1/p')
rows=$("$tool" -c "$conf" list | wc -l)
echo "admin tool on $holders live holders ($in_use in use; list prints" \
	"$rows lines), $runs runs per command"
[ "$in_use" = "$holders" ] || {
	echo "the store does not hold $holders slots" >&2
	exit 1
}

median_loop() {
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(date +%s%N)
		"$tool" -c "$conf" "$@" > /dev/null
		t1=$(date +%s%N)
		echo $((t1 - t0))
		i=$((i + 1))
	done | sort -n | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.1f\n", m / 1e6 }'
}

# Median (min-max) ms of CPU of the tool, "-" without perf.
cpu_median() {
	command -v perf > /dev/null || {
		echo -
		return
	}
	i=0
	while [ $i -lt "$runs" ]; do
		perf stat -x, -e task-clock "$tool" -c "$conf" "$@" 2>&1 \
			> /dev/null | awk -F, '/task-clock/ { print $1 }'
		i=$((i + 1))
	done | sort -n | awk '{ v[NR] = $1 }
		END { printf "%.0f (%.0f-%.0f)\n", v[int((NR + 1) / 2)], v[1],
			      v[NR] }'
}

printf '%-22s %12s %18s\n' "command" "median ms" "CPU ms"
for args in "list" "--json list" "status" "--json status"; do
	if command -v hyperfine > /dev/null; then
		# shellcheck disable=SC2086
		hyperfine --shell=none --warmup 2 --runs "$runs" \
			--export-json "$work/run.json" --style none \
			"$tool -c $conf $args" > /dev/null
		ms=$(sed -n 's/^ *"median": *\([0-9.e-]*\),*$/\1/p' \
			"$work/run.json" | awk '{ printf "%.1f", $1 * 1000 }')
	else
		# shellcheck disable=SC2086
		ms=$(median_loop $args)
	fi
	# shellcheck disable=SC2086
	cpu=$(cpu_median $args)
	printf '%-22s %12s %18s\n' "$args" "$ms" "$cpu"
done
