#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Stage: helpdesk-license metrics read by a real Prometheus parser
# (promtool check metrics, from Debian's prometheus package), on an event
# log with every kind of event and label values that need escaping; the
# file written by --output the same; the Grafana dashboard is valid JSON;
# the bash completion loads and completes commands and pools.
#   tests/stages/45-metrics.sh BUILD-DIR ASAN-BUILD-DIR
set -u
build=${1:?usage: $0 BUILD-DIR ASAN-BUILD-DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
tool=$build/helpdesk-license
passed=0 failed=0

check() { # NAME COMMAND...
	name=$1
	shift
	if "$@"; then
		echo "ok: $name"
		passed=$((passed + 1))
	else
		echo "FAILED: $name"
		failed=$((failed + 1))
	fi
}

if ! command -v promtool >/dev/null 2>&1; then
	echo "skipped: promtool (Debian package prometheus) is not installed"
	exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hl-metrics.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP

cat > "$dir/hl.conf" <<CONF
store = "$dir/licenses.db";
runtime_store = "$dir/sessions.db";
event_log = "$dir/events.log";
named = { licenses = 1; users = [ "nina" ]; };
concurrent = ( { pool = "east"; licenses = 2; users = [ "ann", "cid" ]; },
	       { pool = "west"; licenses = 1; users = [ "bob" ]; wait = "5m"; } );
CONF
t='"time":"2026-11-02T08:00:00.000Z"'
cat > "$dir/events.log" <<LOG
{$t,"event":"grant","user":"ann","kind":"concurrent","pool":"east","slot":1,"session":"s1"}
{$t,"event":"grant","user":"nina","kind":"named","pool":null,"slot":null,"session":"s2"}
{$t,"event":"wait","user":"bob","kind":"concurrent","pool":"west","session":"s3"}
{$t,"event":"deny","user":"bob","kind":"concurrent","pool":"west","session":"s3","reason":"timeout"}
{$t,"event":"deny","user":"cid","kind":"concurrent","pool":"east","reason":"a \"quoted\" \\\\ reason"}
{$t,"event":"deny","user":"zed","kind":"named","reason":""}
{$t,"event":"reap","user":"ann","kind":"concurrent","pool":"east","slot":1,"session":"s1","reason":"process gone"}
not an event
LOG
chmod 600 "$dir/hl.conf" "$dir/events.log"

"$tool" -c "$dir/hl.conf" metrics > "$dir/stdout.prom" 2> "$dir/err"
check "metrics exits 0" [ $? = 0 ]
sed 's/^/| /' "$dir/err"
check "promtool check metrics accepts the output" \
	promtool check metrics < "$dir/stdout.prom"
check "the escaped reason is one series" \
	grep -qF 'helpdesk_license_refusals_total{pool="east",reason="a \"quoted\" \\ reason"} 1' \
	"$dir/stdout.prom"
check "the skipped line is counted" \
	grep -qF 'helpdesk_license_event_log_lines_skipped_total{cause="not_json"} 1' \
	"$dir/stdout.prom"
no_names() { ! grep -qE 'ann|bob|cid|nina|zed' "$1"; }
check "no technician named" no_names "$dir/stdout.prom"

"$tool" -c "$dir/hl.conf" metrics --output "$dir/helpdesk_license.prom"
check "metrics --output exits 0" [ $? = 0 ]
check "the file is what stdout was" cmp -s "$dir/stdout.prom" "$dir/helpdesk_license.prom"
check "promtool accepts the file" \
	promtool check metrics < "$dir/helpdesk_license.prom"
check "no temporary file is left" \
	[ "$(ls -A "$dir" | grep -c '^\.helpdesk_license')" = 0 ]

if command -v python3 >/dev/null 2>&1; then
	check "the Grafana dashboard is valid JSON" \
		python3 -m json.tool "$src/etc/grafana/helpdesk-license.json" \
		/dev/null
fi

if command -v bash >/dev/null 2>&1 &&
   make -s -C "$build" etc/bash-completion/helpdesk-license; then
	# The completion as bash runs it: COMP_WORDS and COMP_CWORD set,
	# the function called, COMPREPLY read.
	complete_words() { # CONFIG WORDS...
		bash -c '
			. "$1"; conf=$2; shift 2
			COMP_WORDS=(helpdesk-license -c "$conf" "$@")
			COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
			_helpdesk_license
			printf "%s\n" "${COMPREPLY[@]}"' sh \
			"$build/etc/bash-completion/helpdesk-license" "$@"
	}
	completes_to() { # EXPECTED CONFIG WORDS...
		want=$1
		shift
		[ "$(complete_words "$@" | sort | tr '\n' ' ')" = "$want" ]
	}
	check "completion offers the commands" \
		completes_to "metrics " "$dir/hl.conf" met
	check "completion offers the options of events" \
		completes_to "--follow " "$dir/hl.conf" events --fo
	check "completion offers the pools" \
		completes_to "east west " "$dir/hl.conf" events --pool ""
	check "completion offers the users of the configuration" \
		completes_to "ann " "$dir/hl.conf" check a
	check "completion offers --diff of check-config" \
		completes_to "--diff " "$dir/hl.conf" check-config --di
	check "completion offers a file after check-config --diff" \
		completes_to "$dir/hl.conf " "$dir/hl.conf" check-config \
		--diff "$dir/hl.co"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
