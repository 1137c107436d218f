/* SPDX-License-Identifier: BSD-3-Clause */
/* The configuration file (helpdesk-license.conf(5)): one parser for the
 * module and the admin tool, so they can never disagree. */
#ifndef HL_CONF_H
#define HL_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "hl_types.h"
#include "log.h"

enum hl_on_error { HL_ON_ERROR_DENY, HL_ON_ERROR_ALLOW };
enum hl_unlicensed { HL_UNLICENSED_DENY, HL_UNLICENSED_IGNORE };

struct hl_names {
	char **names;
	size_t count;
};

struct hl_pool {
	char name[HL_POOL_NAME_MAX + 1];
	unsigned licenses;		/* >= 1 */
	struct hl_names users;
	struct hl_names groups;
	unsigned wait;			/* seconds in line; 0: refuse at once */
	unsigned idle_timeout;		/* seconds without tty input before a
					 * holder's license may go to a
					 * newcomer; 0: never */
};

struct hl_named {
	unsigned licenses;		/* 0: no Named licenses */
	struct hl_names users;
	struct hl_names groups;
	unsigned min_assignment;	/* seconds */
};

struct hl_prices {
	double named;
	double concurrent;
	char currency[16];
	bool set;
};

/* A shared backend (helpdesk-licensed(8)): the store is a PostgreSQL
 * database that this host's daemon speaks to; enabled false: the local
 * GDBM files.  conninfo and password_file are the daemon's alone. */
struct hl_backend {
	bool enabled;
	char *conninfo;			/* libpq connection string */
	char *password_file;		/* NULL: none */
	char *socket;			/* the daemon's Unix socket */
	char *host;			/* this host's name in the backend;
					 * NULL: gethostname() */
	unsigned heartbeat;		/* seconds between heartbeats */
	unsigned lease;			/* seconds a silent host keeps its
					 * sessions */
	unsigned transaction_timeout;	/* seconds a client may keep a
					 * transaction open without a word */
};

#define HL_BACKEND_HOST_MAX 64		/* bytes of backend.host */

struct hl_config {
	char *path;			/* the file this came from */
	char *store;			/* durable store: Named allocations */
	char *runtime_store;		/* this boot's slots, sessions, lines;
					 * its lock file serialises writers */
	char *event_log;		/* NULL when turned off with "" */
	enum hl_on_error on_error;
	enum hl_unlicensed unlicensed;
	bool show_holders;
	unsigned lock_timeout;		/* seconds */
	unsigned wait;			/* default wait of pools, seconds */
	struct hl_names ignore_services;
	struct hl_names exempt_users;
	struct hl_names exempt_groups;
	struct hl_named named;
	struct hl_pool *pools;		/* in config order */
	size_t pool_count;
	struct hl_prices prices;
	struct hl_backend backend;
};

/*
 * Read and validate path.  Each problem is logged at LOG_ERR as
 * "FILE:LINE: message" (every problem, not only the first).
 * Returns 0 and sets *out, or -1 when the file is missing, untrusted or
 * invalid; then *on_error holds the file's on_error when it could be read,
 * else HL_ON_ERROR_DENY.  on_error may be NULL.
 */
int hl_config_load(const char *path, const struct hl_logger *log,
		   struct hl_config **out, enum hl_on_error *on_error);
/* hl_config_load, and when it fails and event_log is not NULL,
 * *event_log is where an error event about it should go (malloc'd; NULL
 * for nowhere): the file's event_log setting when the file was trusted and
 * could be parsed, else the built-in default. */
int hl_config_load_or_event_log(const char *path, const struct hl_logger *log,
				struct hl_config **out,
				enum hl_on_error *on_error, char **event_log);
/* The same checks on a file's contents already read: len bytes, then a NUL
 * (a NUL within the len bytes is a problem); path names it in messages and
 * becomes cfg->path. */
int hl_config_parse(const char *path, const char *text, size_t len,
		    const struct hl_logger *log, struct hl_config **out,
		    enum hl_on_error *on_error);
void hl_config_free(struct hl_config *cfg);

/* The pool of cfg called name; NULL when cfg has none. */
const struct hl_pool *hl_config_pool(const struct hl_config *cfg,
				     const char *name);

/* Membership helpers on parsed lists. */
bool hl_names_contain(const struct hl_names *names, const char *name);

/* The word of known (NULL-terminated) nearest to word, when it is close
 * enough to be a typo of it; else NULL.  For "did you mean". */
const char *hl_near_miss(const char *word, const char *const *known);

/* "N", "Ns", "Nm", "Nh", "Nd" to seconds; false when malformed or too big. */
bool hl_parse_duration(const char *text, unsigned *seconds);

#endif
