/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one way a test program puts itself under pam_wrapper and
 * nss_wrapper: it re-executes itself with the wrappers preloaded, so it
 * runs the same from "make check", by hand or under valgrind.
 */
#ifndef HL_TEST_WRAPPERS_H
#define HL_TEST_WRAPPERS_H

#include <stdbool.h>

/* Call early in main(), before any thread or child.  Unless the program
 * runs under the wrappers already (HL_TEST_WRAPPED in the environment),
 * re-executes it with:
 *   LD_PRELOAD  libasan first (a sanitizer build), then libpam_wrapper
 *               (pam true) and libnss_wrapper, then the LD_PRELOAD it had;
 *   NSS_WRAPPER_PASSWD, NSS_WRAPPER_GROUP  passwd and group;
 *   NSS_WRAPPER_DISABLE_DEEPBIND, PAM_WRAPPER_DISABLE_DEEPBIND  1 (ASan
 *               refuses the libc a wrapper would open with RTLD_DEEPBIND);
 *   ASAN_OPTIONS  verify_asan_link_order=0 added when libasan cannot come
 *               first (it is linked statically, or not at all);
 *   PAM_WRAPPER 1 (pam true); PAM_WRAPPER_SERVICE_DIR unset either way.
 * SIGHUP, SIGTERM and SIGINT are set to their defaults first (a suite run
 * under nohup would otherwise hand an ignored SIGHUP to every session).
 * Returns when already wrapped; exits with 99, a hard error for the test
 * driver, when the re-execution fails. */
void ts_run_wrapped(char **argv, const char *passwd, const char *group,
		    bool pam);

#endif
