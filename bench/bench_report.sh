#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Cost of "helpdesk-license report" on a year of events: TECHNICIANS
# technicians (default 200) over 365 days, about 500,000 lines written by
# bench/bench_report_gen (Named technicians, four pools, waits, refusals).
# Run from a build directory:
#   make helpdesk-license bench/bench_report_gen
#   sh SRCDIR/bench/bench_report.sh [TECHNICIANS] [RUNS]
# Times the text report, --json and --html on one plain log, then the text
# report on the same year rotated into 12 files, 11 of them gzip-compressed.
# Prints the median wall time of each, with hyperfine when it is installed,
# else with a loop of date +%s%N.  Numbers depend on the machine and its
# load: compare rows of one run.
#
# Measured on 2026-11-30: a 2-core AMD EPYC virtual machine, 23 GB, Debian
# 12, gcc -O2, shared with other builds (load average 13 to 70 during the
# runs, so wall times are noisy); 200 technicians, 365 days, 493,767 lines
# (123 MB), hyperfine medians over 7 runs:
#   report                                 6.5 s wall (4.4 s in a rerun)
#   report --json                          5.6 s
#   report --html                          3.7 s
#   report, 12 rotated files (11 gzip)     4.5 s
# CPU time of one text report: 1.59 s user + 0.26 s system, 53 MB peak
# memory: the rest of the wall time went waiting for a CPU.
set -eu
technicians=${1:-200}
runs=${2:-5}
tool=./helpdesk-license
gen=./bench/bench_report_gen
for f in "$tool" "$gen"; do
	[ -x "$f" ] || {
		echo "build first: make helpdesk-license bench/bench_report_gen" >&2
		exit 2
	}
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
mkdir -m 700 "$work/plain" "$work/rotated"

pools=""
for p in 1 2 3 4; do
	pools="$pools${pools:+, }{ pool = \"pool$p\"; licenses = $((technicians / 10)); users = [ \"x\" ]; }"
done
for kind in plain rotated; do
	cat > "$work/$kind.conf" <<CONF
store = "$work/licenses.db";
runtime_store = "$work/sessions.db";
event_log = "$work/$kind/events.log";
named = { licenses = $((technicians / 10)); users = [ "x" ]; };
concurrent = ( $pools );
prices = { named = 450.0; concurrent = 1100.0; currency = "EUR"; };
CONF
	chmod 600 "$work/$kind.conf"
done

"$gen" "$technicians" 365 > "$work/plain/events.log"
chmod 600 "$work/plain/events.log"
lines=$(wc -l < "$work/plain/events.log")
bytes=$(wc -c < "$work/plain/events.log")
echo "log: $lines lines, $bytes bytes, $technicians technicians, 365 days"

# logrotate's numbering: events.log.11.gz is the oldest, events.log.1 is
# not compressed yet (delaycompress), events.log is the current month.
split -n l/12 -d -a 2 "$work/plain/events.log" "$work/rotated/part."
for i in $(seq 0 11); do
	part=$(printf '%s/rotated/part.%02d' "$work" "$i")
	n=$((11 - i))
	if [ "$n" = 0 ]; then
		mv "$part" "$work/rotated/events.log"
	elif [ "$n" = 1 ]; then
		mv "$part" "$work/rotated/events.log.1"
	else
		gzip -c "$part" > "$work/rotated/events.log.$n.gz"
		rm "$part"
	fi
done
chmod 600 "$work"/rotated/*

until=--until=2026-01-06
plain="$tool -c $work/plain.conf report $until"
cases="report|$plain
report --json|$plain --json
report --html|$plain --html $work/report.html
report, 12 rotated files (11 gzip)|$tool -c $work/rotated.conf report $until"

$plain | tail -n 12

if command -v hyperfine >/dev/null 2>&1; then
	echo "$cases" | while IFS='|' read -r name command; do
		hyperfine -N -w 1 -r "$runs" --export-json "$work/h.json" \
			"$command" >/dev/null 2>&1
		median=$(sed -n 's/.*"median": *\([0-9.]*\).*/\1/p' "$work/h.json" | head -n 1)
		printf '%-40s median %.3f s over %s runs\n' "$name" "$median" "$runs"
	done
else
	echo "$cases" | while IFS='|' read -r name command; do
		times=""
		for r in $(seq "$runs"); do
			start=$(date +%s%N)
			$command >/dev/null
			end=$(date +%s%N)
			times="$times $(((end - start) / 1000000))"
		done
		median=$(echo $times | tr ' ' '\n' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
		printf '%-40s median %s ms over %s runs\n' "$name" "$median" "$runs"
	done
fi
