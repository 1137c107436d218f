/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The license decision (pam_helpdesk_license(8), "Decision") and session bookkeeping.  This is
 * the core: it never sees a pam_handle_t.  The PAM entry points and the
 * admin tool fill in an hl_env and an hl_request and map the verdict.
 */
#ifndef HL_LICENSE_H
#define HL_LICENSE_H

#include "conf.h"
#include "hl_types.h"
#include "log.h"

/* account: the decision of a session open, taking nothing. */
int hl_license_check(const struct hl_env *env, const struct hl_request *req,
		     struct hl_decision *out);
/* The same decision for the admin tool's check: not a login, so nothing
 * is logged. */
int hl_license_preview(const struct hl_env *env, const struct hl_request *req,
		       struct hl_decision *out);
/* session open: take (or join) what the decision grants.  When every
 * license is taken and a pool of the technician's has a wait, waits in
 * that pool's line (first come, first served) for up to its wait, telling
 * the technician through env->waiting. */
int hl_license_open(const struct hl_env *env, const struct hl_request *req,
		    struct hl_decision *out);
/* session close: give back what session_id took.  session_id NULL or ""
 * means "the sessions of req->user opened by env->self". */
int hl_license_close(const struct hl_env *env, const struct hl_request *req,
		     const char *session_id, struct hl_decision *out);

/* Fills env->self, host, proc_root and now for the calling process. */
int hl_env_init(struct hl_env *env, const struct hl_config *cfg,
		const struct hl_logger *log);

/* What hl_env_init learns that stays true while the process runs, its
 * audit session aside: the PAM glue keeps it from one call of a login to
 * the next, so that a login reads the process's start time, the boot id
 * and the host name once.  self.pid 0: nothing known yet. */
struct hl_env_known {
	struct hl_process self;
	char host[256];
};

/* hl_env_init, from *known when it is this process's (then only the
 * audit session is read again); otherwise in full, and *known filled. */
int hl_env_init_known(struct hl_env *env, const struct hl_config *cfg,
		      const struct hl_logger *log, struct hl_env_known *known);

#endif
