/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The PAM entry points: read the items, call the core, map its verdict to
 * a PAM code, clean up.  Everything else lives in the core (license.c).
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "conf.h"
#include "eventlog.h"
#include "license.h"
#include "log.h"
#include "text.h"

/* pam_set_data key of the session this handle opened. */
#define SESSION_DATA "pam_helpdesk_license.session"
/* pam_set_data key of a parsed configuration, followed by its path: a
 * stack line with another config= keeps a parse of its own. */
#define CONFIG_DATA "pam_helpdesk_license.config:"
/* pam_set_data key of what the first call learnt about this process. */
#define KNOWN_DATA "pam_helpdesk_license.process"

enum action { ACCOUNT, SESSION_OPEN, SESSION_CLOSE };

struct args {
	const char *config;
	bool debug;
};

static void emit_to_pam(void *data, int priority, const char *message)
{
	pam_syslog((pam_handle_t *)data, priority, "%s", message);
}

/* What a session open waiting in line needs from the PAM side. */
struct waiting_ctx {
	pam_handle_t *pamh;
	int flags;
};

/*
 * Every message to the technician goes through here.  An empty one is
 * never sent: a conversation shows it as a blank line or, through sshd's
 * buffered login messages, as a stray byte; PAM_SILENT sends nothing.
 */
static void say(pam_handle_t *pamh, int flags, int style, const char *message)
{
	if ((flags & PAM_SILENT) || message == NULL || *message == '\0')
		return;
	if (style == PAM_ERROR_MSG)
		pam_error(pamh, "%s", message);
	else
		pam_info(pamh, "%s", message);
}

static void tell_technician(void *data, const char *message)
{
	const struct waiting_ctx *ctx = data;

	say(ctx->pamh, ctx->flags, PAM_TEXT_INFO, message);
}

/*
 * The client's connection: the connected TCP sockets of this process (in
 * sshd, the [priv] monitor opening the session holds the client's).  They
 * are polled for a hangup while waiting in line, never read or written.
 */
static size_t client_connections(void *data, int *fds, size_t max)
{
	struct rlimit lim;
	size_t n = 0;
	int last = 1024;

	(void)data;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < (rlim_t)last)
		last = (int)lim.rlim_cur;
	for (int fd = 0; fd < last && n < max; fd++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		struct stat st;
		int type;
		socklen_t type_len = sizeof(type);

		if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 ||
		    type != SOCK_STREAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0 ||
		    (addr.ss_family != AF_INET && addr.ss_family != AF_INET6))
			continue;
		len = sizeof(addr);
		if (getpeername(fd, (struct sockaddr *)&addr, &len) != 0)
			continue;
		fds[n++] = fd;
	}
	return n;
}

static bool parse_args(const struct hl_logger *log, int argc,
		       const char **argv, struct args *args)
{
	bool ok = true;

	args->config = HL_CONFIG_FILE;
	args->debug = false;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "config=", 7) == 0 && argv[i][7] == '/')
			args->config = argv[i] + 7;
		else if (strcmp(argv[i], "debug") == 0)
			args->debug = true;
		else {
			hl_log(log, LOG_ERR,
			       "unknown module argument '%s' (known: "
			       "config=/ABSOLUTE/PATH, debug)", argv[i]);
			ok = false;
		}
	}
	return ok;
}

static const char *item(pam_handle_t *pamh, int type)
{
	const void *value = NULL;

	if (pam_get_item(pamh, type, &value) != PAM_SUCCESS || value == NULL)
		return "";
	return value;
}

/* pam_end's cleanup of what we keep with pam_set_data: plain memory. */
static void free_data(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

/* The calling process's identity, read once per PAM handle (see
 * hl_env_init_known); without memory to keep it, read at each call. */
static int env_init(pam_handle_t *pamh, struct hl_env *env,
		    const struct hl_config *cfg, const struct hl_logger *log)
{
	const void *kept = NULL;
	struct hl_env_known *known;

	if (pam_get_data(pamh, KNOWN_DATA, &kept) == PAM_SUCCESS &&
	    kept != NULL)
		return hl_env_init_known(env, cfg, log, (void *)kept);
	known = calloc(1, sizeof(*known));
	if (known == NULL)
		return hl_env_init(env, cfg, log);
	if (hl_env_init_known(env, cfg, log, known) != 0) {
		free(known);
		return -1;
	}
	if (pam_set_data(pamh, KNOWN_DATA, known, free_data) != PAM_SUCCESS)
		free(known);
	return 0;
}

static void free_config(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	hl_config_free(data);
}

/*
 * The configuration at path, parsed once per PAM handle: account, session
 * open and session close of one login share the first parse (kept with
 * pam_set_data, freed by pam_end).  A file changed between those calls
 * takes effect at the next login, not halfway through this one.  A parse
 * that failed is not kept: each call reports it.  On failure *on_error is
 * what the file asked for, as far as it could be read.
 */
static int load_config(pam_handle_t *pamh, const char *path,
		       const struct hl_logger *log,
		       const struct hl_config **cfg, enum hl_on_error *on_error,
		       char **event_log)
{
	struct hl_config *parsed = NULL;
	const void *kept = NULL;
	char key[sizeof(CONFIG_DATA) + PATH_MAX];

	*cfg = NULL;
	if ((size_t)snprintf(key, sizeof(key), "%s%s", CONFIG_DATA, path) >=
	    sizeof(key)) {
		*on_error = HL_ON_ERROR_DENY;
		pam_syslog(pamh, LOG_ERR, "config= path too long");
		return -1;
	}
	if (pam_get_data(pamh, key, &kept) == PAM_SUCCESS && kept != NULL) {
		*cfg = kept;
		*on_error = (*cfg)->on_error;
		return 0;
	}
	/* A broken file: where its error event goes (see config_broken). */
	if (hl_config_load_or_event_log(path, log, &parsed, on_error,
					event_log) != 0)
		return -1;
	*on_error = parsed->on_error;
	/* Kept, pam_end frees it; not kept, it is ours to free. */
	if (pam_set_data(pamh, key, parsed, free_config) != PAM_SUCCESS) {
		hl_config_free(parsed);
		pam_syslog(pamh, LOG_ERR, "cannot keep the parsed "
			   "configuration: out of memory");
		return -1;
	}
	*cfg = parsed;
	return 0;
}

/* on_error: what an unusable config or store means for the login.  The
 * user name is a valid one (hl_user_valid) or "". */
static int unusable(const struct hl_logger *log, enum hl_on_error on_error,
		    int deny_code, const char *user, const char *what)
{
	if (on_error == HL_ON_ERROR_ALLOW) {
		hl_log(log, LOG_CRIT,
		       "%s unusable: on_error = allow lets %s in without "
		       "a license check", what, *user ? user : "the user");
		return PAM_SUCCESS;
	}
	hl_log(log, LOG_ERR, "%s unusable: refusing (on_error = deny)", what);
	return deny_code;
}

/*
 * A broken config refuses everyone (under on_error = deny): tell the user
 * in one line rather than "Error in service module", and put an error
 * event where the admin looks when syslog goes nowhere.  event_log: the
 * broken file's own, or the built-in default when it can't be read.
 */
static void config_broken(pam_handle_t *pamh, int flags, enum action action,
			  enum hl_on_error on_error, const char *user,
			  const char *event_log, const struct hl_logger *log)
{
	struct hl_event ev = {
		.event = hl_event_name(HL_EVENT_ERROR), .user = user,
		.service = item(pamh, PAM_SERVICE), .tty = item(pamh, PAM_TTY),
		.rhost = item(pamh, PAM_RHOST), .pid = getpid(),
		.reason = "configuration unusable (see syslog or "
			  "helpdesk-license check-config)",
	};
	struct timespec now;
	char *line;

	if (action == SESSION_CLOSE)
		return;
	if (on_error == HL_ON_ERROR_DENY)
		say(pamh, flags, PAM_ERROR_MSG, "The help desk license "
		    "configuration is broken; please tell your administrator.");
	if (event_log == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	line = hl_event_format(&ev, &now);
	if (line != NULL)
		hl_event_append_line(event_log, line, log);
	free(line);
}

/* Asks the core for the decision of action. */
static void decide(pam_handle_t *pamh, enum action action,
		   const struct hl_env *env, const struct hl_request *req,
		   struct hl_decision *decision)
{
	const void *session_id = NULL;

	switch (action) {
	case ACCOUNT:
		hl_license_check(env, req, decision);
		break;
	case SESSION_OPEN:
		hl_license_open(env, req, decision);
		break;
	case SESSION_CLOSE:
		if (pam_get_data(pamh, SESSION_DATA, &session_id) != PAM_SUCCESS)
			session_id = NULL;
		hl_license_close(env, req, session_id, decision);
		break;
	}
}

/* The PAM code of the decision, with what the technician is told. */
static int pam_code(pam_handle_t *pamh, int flags, enum action action,
		    const struct hl_config *cfg, const struct hl_logger *log,
		    const char *user, const struct hl_decision *decision)
{
	int rc;

	switch (decision->verdict) {
	case HL_GRANTED:
		rc = PAM_SUCCESS;
		if (action == SESSION_OPEN) {
			char *id = strdup(decision->session_id);

			if (id == NULL || pam_set_data(pamh, SESSION_DATA, id,
						       free_data) != PAM_SUCCESS) {
				/* Close still finds it by process identity. */
				free(id);
				pam_syslog(pamh, LOG_WARNING,
					   "cannot remember the session id");
			}
		}
		break;
	case HL_DENIED:
		say(pamh, flags, PAM_ERROR_MSG, decision->message);
		rc = PAM_PERM_DENIED;
		break;
	case HL_IGNORED:
		/* Close never fails a logout because nothing was held. */
		rc = action == SESSION_CLOSE ? PAM_SUCCESS : PAM_IGNORE;
		break;
	case HL_USER_UNKNOWN:
		rc = PAM_USER_UNKNOWN;
		break;
	case HL_STORE_FAILED:
	default:
		if (cfg->on_error == HL_ON_ERROR_DENY && action != SESSION_CLOSE)
			say(pamh, flags, PAM_ERROR_MSG, decision->message);
		rc = unusable(log, cfg->on_error, PAM_SYSTEM_ERR, user,
			      "license store");
		break;
	}
	return rc;
}

static int run(pam_handle_t *pamh, int flags, int argc, const char **argv,
	       enum action action)
{
	struct hl_logger log = { .emit = emit_to_pam, .data = pamh };
	const struct hl_config *cfg = NULL;
	enum hl_on_error on_error = HL_ON_ERROR_DENY;
	struct hl_decision decision;
	struct hl_request req;
	struct hl_env env;
	struct args args;
	struct waiting_ctx waiting_ctx = { .pamh = pamh, .flags = flags };
	const struct hl_waiting waiting = { .tell = tell_technician,
					    .connections = client_connections,
					    .data = &waiting_ctx };
	const char *user = NULL;
	char *event_log = NULL;

	if (!parse_args(&log, argc, argv, &args))
		return unusable(&log, on_error, PAM_SERVICE_ERR, "",
				"module arguments");
	log.debug = args.debug;
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL) {
		pam_syslog(pamh, LOG_ERR, "cannot determine the user");
		return PAM_USER_UNKNOWN;
	}
	/* A name no account can have is refused before on_error could let
	 * it in: no failure of ours makes it valid. */
	if (!hl_user_valid(user)) {
		hl_log(&log, LOG_ERR, "invalid user name '%s'", user);
		return PAM_USER_UNKNOWN;
	}
	if (load_config(pamh, args.config, &log, &cfg, &on_error,
			&event_log) != 0) {
		config_broken(pamh, flags, action, on_error, user, event_log,
			      &log);
		free(event_log);
		return unusable(&log, on_error, PAM_SERVICE_ERR, user,
				"configuration");
	}
	if (env_init(pamh, &env, cfg, &log) != 0)
		return unusable(&log, cfg->on_error, PAM_SYSTEM_ERR, user,
				"process identity");
	env.waiting = &waiting;
	req.user = user;
	req.service = item(pamh, PAM_SERVICE);
	req.tty = item(pamh, PAM_TTY);
	req.rhost = item(pamh, PAM_RHOST);

	decide(pamh, action, &env, &req, &decision);
	hl_log(&log, LOG_DEBUG, "%s: user %s: %s",
	       action == ACCOUNT ? "account" :
	       action == SESSION_OPEN ? "open" : "close",
	       user, decision.reason);

	return pam_code(pamh, flags, action, cfg, &log, user, &decision);
}

int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
				const char **argv)
{
	return run(pamh, flags, argc, argv, ACCOUNT);
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	return run(pamh, flags, argc, argv, SESSION_OPEN);
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
				    const char **argv)
{
	return run(pamh, flags, argc, argv, SESSION_CLOSE);
}
