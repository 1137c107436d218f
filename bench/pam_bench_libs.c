/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A PAM module for the benchmark alone (bench/run-bench.sh), never
 * installed: it says yes to account and session and does nothing else,
 * but links libgdbm and libconfig as pam_helpdesk_license does.  Its row
 * is what loading those two libraries at every pam_start costs, apart
 * from anything our module does with them.
 */
#include "config.h"

#include <gdbm.h>
#include <libconfig.h>

#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_modules.h>

/* One reference to each library, never called: without it the linker
 * (--as-needed) would drop them, and the row would measure pam_permit.
 * "used": the compiler may not optimise the table away either. */
__attribute__((used)) static void *const linked[] = {
	(void *)gdbm_fd_open, (void *)config_init,
};

static int nothing(pam_handle_t *pamh, int flags, int argc,
		   const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
				const char **argv)
{
	return nothing(pamh, flags, argc, argv);
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	return nothing(pamh, flags, argc, argv);
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags,
				    int argc, const char **argv)
{
	return nothing(pamh, flags, argc, argv);
}
