# SPDX-License-Identifier: BSD-3-Clause
# What the benchmark scripts (run-bench.sh, run-bench-backend.sh) share;
# sourced.

# An awk function for their tables: the median of v[1..n], which it sorts
# (insertion sort: n is a handful of run medians).  Put it before the
# program: awk "$median_awk"'...'.
# shellcheck disable=SC2034 # used by the scripts that source this file
median_awk='
function median(v, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}'
