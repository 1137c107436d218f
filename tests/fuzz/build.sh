#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Builds the libFuzzer targets with clang, ASan and UBSan, straight from
# the core's sources (the normal build needs no clang):
#
#   tests/fuzz/build.sh BUILD-DIR OUT-DIR
#
# BUILD-DIR is a configured build (its config.h is used); the programs
# fuzz_conf and fuzz_record go to OUT-DIR.  CC overrides clang.

set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD-DIR OUT-DIR" >&2
	exit 2
fi
build=$1
out=$2
fuzzdir=$(cd "$(dirname "$0")" && pwd)
core=$(cd "$fuzzdir/../../pam_helpdesk_license" && pwd)
cc=${CC:-clang}

if [ ! -f "$build/config.h" ]; then
	echo "$0: $build/config.h: not a configured build" >&2
	exit 1
fi
mkdir -p "$out"

# -fno-sanitize-recover: a UBSan finding stops the run like a crash.
flags="-std=c11 -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-I$build -I$core $(pkg-config --cflags libconfig)"

# shellcheck disable=SC2046,SC2086  # flags and pkg-config's are words
"$cc" $flags -o "$out/fuzz_conf" "$fuzzdir/fuzz_conf.c" \
	"$core/conf.c" "$core/safefile.c" "$core/text.c" "$core/log.c" \
	"$core/record.c" $(pkg-config --libs libconfig)
# shellcheck disable=SC2086
"$cc" $flags -o "$out/fuzz_record" "$fuzzdir/fuzz_record.c" \
	"$core/record.c" "$core/text.c"
