# SPDX-License-Identifier: BSD-3-Clause
# TAP-like results for the shell test scripts, sourced by them:
# "ok N - WHAT", "not ok N - WHAT" with the evidence indented below it, and
# at the end "1..N" and the counts line "N passed, N failed".

n=0
passed=0
failed=0

ok() {		# ok DESCRIPTION
	n=$((n + 1))
	passed=$((passed + 1))
	echo "ok $n - $1"
}

not_ok() {	# not_ok DESCRIPTION EVIDENCE...
	local what=$1
	shift
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $what"
	if [ $# -gt 0 ]; then
		printf '%s\n' "$@" | sed 's/^/#   /'
	fi
}

# The plan and the counts; the status is 0 only when every test passed.
tap_counts() {
	echo "1..$n"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
