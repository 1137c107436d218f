#!/bin/sh
# Cost of a login (session open + close in the core) against the number of
# technicians already holding a slot.  Run from a build directory:
#   sh SRCDIR/bench/run-login-bench.sh [ROUNDS]
# Numbers depend on the machine and its load: compare rows of one run.
set -eu
rounds=${1:-2000}
bench=./bench/bench_login
[ -x "$bench" ] || { echo "build first: make bench/bench_login" >&2; exit 2; }
nsswrapper=$(pkg-config --libs nss_wrapper)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# "probe" comes first so that a lookup of it does not scan the others.
{
	echo "probe:x:4999:5000::/nonexistent:/bin/false"
	i=1
	while [ $i -le 10000 ]; do
		printf 't%05d:x:%d:5000::/nonexistent:/bin/false\n' $i $((5000 + i))
		i=$((i + 1))
	done
} > "$work/passwd"
echo "bench:x:5000:" > "$work/group"

echo "login cost (open + close), $rounds rounds, $(nproc) cores, $(uname -r)"
for holders in 0 1000 10000; do
	for run in 1 2 3; do
		rm -rf "$work/store"
		LD_PRELOAD=$nsswrapper NSS_WRAPPER_PASSWD=$work/passwd \
		NSS_WRAPPER_GROUP=$work/group \
			"$bench" "$work/store" $holders $rounds
	done
done
