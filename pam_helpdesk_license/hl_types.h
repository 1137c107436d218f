/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The types every layer of the core shares: the limits of names and ids,
 * the kinds of license, the process that opens a session, and what a
 * caller hands the core (hl_env, hl_request) and gets back (hl_decision).
 * Nothing here depends on another header of the core, so any header can
 * include it without reaching up a layer.
 */
#ifndef HL_TYPES_H
#define HL_TYPES_H

#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define HL_USER_MAX 256			/* bytes, without the NUL */
#define HL_POOL_NAME_MAX 64		/* bytes, without the NUL */
#define HL_BOOT_ID_LEN 36
#define HL_SESSION_ID_LEN 32		/* hex digits */
#define HL_FIELD_MAX 1024		/* tty, rhost, host, service */

enum hl_kind { HL_KIND_NAMED, HL_KIND_CONCURRENT };

/* A process, told apart from a later one with the same pid. */
struct hl_process {
	pid_t pid;
	unsigned long long start;	/* field 22 of /proc/PID/stat */
	char boot_id[HL_BOOT_ID_LEN + 1];
	unsigned audit_session;		/* 0: none of its own (proc.c) */
	pid_t parent;			/* when it was identified */
};

struct hl_config;
struct hl_logger;

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

#endif
