/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The license decision (pam_helpdesk_license(8), "Decision") and session bookkeeping.  This is
 * the core: it never sees a pam_handle_t.  The PAM entry points and the
 * admin tool fill in an hl_env and an hl_request and map the verdict.
 */
#ifndef HL_LICENSE_H
#define HL_LICENSE_H

#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "proc.h"
#include "record.h"

/* How a session open that waits in line (a pool's wait) reaches the
 * technician; every member may be NULL. */
struct hl_waiting {
	/* Tells the technician something now (the module: PAM_TEXT_INFO). */
	void (*tell)(void *data, const char *message);
	/* Puts in fds (at most max) the descriptors whose hangup means the
	 * technician went away, such as the client's connection; they are
	 * polled, never read.  Returns how many. */
	size_t (*connections)(void *data, int *fds, size_t max);
	void *data;
};

struct hl_env {
	const struct hl_config *cfg;
	const struct hl_logger *log;
	const char *proc_root;		/* "/proc" */
	struct hl_process self;		/* the process opening the session */
	char host[256];			/* this host */
	time_t (*now)(void);		/* the clock; time() wrapper */
	const struct hl_waiting *waiting;	/* NULL: wait in silence */
	bool leave_damage;		/* report a damaged store, don't repair
					 * it (the admin tool: 'repair' does) */
	/* NSS, with getpwnam_r's and getgrnam_r's contract; NULL: those.
	 * A seam, so tests can make a lookup fail. */
	int (*getpwnam)(const char *name, struct passwd *pw, char *buf,
			size_t len, struct passwd **found);
	int (*getgrnam)(const char *name, struct group *gr, char *buf,
			size_t len, struct group **found);
};

struct hl_request {
	const char *user;		/* validated by the core */
	const char *service;		/* "" when unknown, never NULL */
	const char *tty;
	const char *rhost;
};

enum hl_verdict {
	HL_GRANTED,		/* a license is held (taken, joined, or named) */
	HL_DENIED,		/* refused: message says why */
	HL_IGNORED,		/* not concerned: ignored service, exempt,
				   unlicensed = ignore, nothing held at close */
	HL_USER_UNKNOWN,	/* no such user, or a name we refuse */
	HL_STORE_FAILED,	/* the store is unusable: on_error decides */
};

struct hl_decision {
	enum hl_verdict verdict;
	enum hl_kind kind;
	char pool[HL_POOL_NAME_MAX + 1];	/* concurrent */
	unsigned slot;				/* concurrent */
	bool joined;			/* joined a slot the user held already */
	char session_id[HL_SESSION_ID_LEN + 1];	/* open: the new session */
	unsigned waited;		/* open: seconds waited in line */
	char reason[128];		/* short, for logs and the tool */
	char message[2048];		/* for the technician; "" when none */
};

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

#endif
