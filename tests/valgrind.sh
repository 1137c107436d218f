#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Runs a test program under valgrind memcheck: the LOG_COMPILER of
# "make check-valgrind" (tests/valgrind.am) and of the valgrind stage.
#
#   tests/valgrind.sh PROGRAM [ARGS...]
#
# Any memory error, or a definite or indirect leak, in the program or in
# any process it forks or executes (the integration tests re-execute
# themselves under pam_wrapper and nss_wrapper, and run the admin tool)
# makes that process exit 97, which fails the test.  Suppressions
# (tests/valgrind.supp) cover third-party libraries only.
# HL_VALGRIND_FLAGS adds options (e.g. --track-fds=yes).

here=$(cd "$(dirname "$0")" && pwd)

# Tests of what valgrind's own signal machinery does not model (a
# job-control stop held back by a blocked mask) ask for this.
HL_UNDER_VALGRIND=1
export HL_UNDER_VALGRIND

# shellcheck disable=SC2086  # HL_VALGRIND_FLAGS is words
exec valgrind --tool=memcheck --quiet \
	--leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=97 \
	--trace-children=yes --child-silent-after-fork=no --vgdb=no \
	--suppressions="$here/valgrind.supp" --gen-suppressions=all \
	${HL_VALGRIND_FLAGS:-} "$@"
