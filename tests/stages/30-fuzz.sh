#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Stage: the libFuzzer targets (tests/fuzz), each run for a bounded time
# from a copy of its seed corpus:
#
#   tests/stages/30-fuzz.sh BUILD-DIR ASAN-BUILD-DIR
#
# Builds tests/fuzz/fuzz_conf and fuzz_record with clang (ASan, UBSan,
# libFuzzer) from the core's sources and BUILD-DIR's config.h, then runs
# each for HL_FUZZ_SECONDS (default 60).  A crash, a leak, a sanitizer
# finding or a broken round-trip property fails the target; the input that
# did it is shown (base64), to be added to the seed corpus with its fix.
# Nothing is written into the source tree.
#
# Skipped when clang cannot build libFuzzer programs here.

set -uo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD-DIR [ASAN-BUILD-DIR]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
fuzzdir=$(cd "$(dirname "$0")/../fuzz" && pwd)
seconds=${HL_FUZZ_SECONDS:-60}

if ! command -v "${CC_FUZZ:-clang}" >/dev/null 2>&1; then
	echo "skipped: clang not found (the fuzz targets need clang and libFuzzer)"
	exit 0
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);
int LLVMFuzzerTestOneInput(const char *d, unsigned long n)
{ (void)d; (void)n; return 0; }' |
	"${CC_FUZZ:-clang}" -fsanitize=fuzzer -x c -o /dev/null - 2>/dev/null; then
	echo "skipped: ${CC_FUZZ:-clang} cannot link libFuzzer programs (libclang-rt-dev missing?)"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/helpdesk-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building the fuzz targets (clang, ASan, UBSan, libFuzzer)"
if ! CC=${CC_FUZZ:-clang} "$fuzzdir/build.sh" "$build" "$work/bin"; then
	echo "the fuzz targets did not build"
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0
failed=0
for target in conf record; do
	corpus=$work/corpus-$target
	mkdir -p "$corpus" "$work/artifacts-$target"
	cp "$fuzzdir/corpus/$target"/* "$corpus/"
	echo "fuzz_$target: ${seconds}s from $(find "$corpus" -type f | wc -l) seeds"
	# -timeout: an input taking a minute is a hang (not seconds: a busy
	# machine can stall one that long); -rss_limit_mb: a runaway
	# allocation; leaks are detected (LeakSanitizer) and fail.
	if LSAN_OPTIONS="suppressions=$fuzzdir/lsan.supp:print_suppressions=0" \
		"$work/bin/fuzz_$target" -max_total_time="$seconds" \
		-timeout=60 -rss_limit_mb=1024 -max_len=8192 \
		-dict="$fuzzdir/$target.dict" \
		-artifact_prefix="$work/artifacts-$target/" \
		-print_final_stats=1 "$corpus" >"$work/fuzz-$target.log" 2>&1; then
		grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' \
			"$work/fuzz-$target.log" | sed 's/^/  /'
		echo "PASS: fuzz_$target (corpus now $(find "$corpus" -type f | wc -l) inputs)"
		passed=$((passed + 1))
	else
		tail -n 40 "$work/fuzz-$target.log"
		echo "FAIL: fuzz_$target; the input that failed (base64):"
		for input in "$work/artifacts-$target"/*; do
			[ -f "$input" ] && base64 "$input"
		done
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
