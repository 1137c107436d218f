/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hl-login: one login through libpam, as sshd does it after the
 * technician has authenticated: the account step, then a session.
 *
 *   hl-login [-s SERVICE] [-t TTY] [-r RHOST] [-H FIFO] USER
 *
 * Without -H the session is closed again at once (a short login).
 * With -H the session stays open: hl-login creates FIFO.open once the
 * session is open, then waits until something is written to FIFO (or
 * it is closed), and only then logs out.  Run it in the background for a
 * session that must stay open while other logins are tried: the module
 * records the process that opened a session, so each login that stays
 * open needs its own process.
 *
 * What the module tells the technician (pam_error, pam_info) is printed
 * as the technician would see it.
 *
 * Exit status: 0 logged in (and out), 1 refused at the account step,
 * 2 refused at session open, 3 any other failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

static const char *user_name = "";

static const char *code_name(int code)
{
	switch (code) {
	case PAM_SUCCESS:	return "PAM_SUCCESS";
	case PAM_PERM_DENIED:	return "PAM_PERM_DENIED";
	case PAM_IGNORE:	return "PAM_IGNORE";
	case PAM_USER_UNKNOWN:	return "PAM_USER_UNKNOWN";
	case PAM_SERVICE_ERR:	return "PAM_SERVICE_ERR";
	case PAM_SYSTEM_ERR:	return "PAM_SYSTEM_ERR";
	case PAM_AUTH_ERR:	return "PAM_AUTH_ERR";
	case PAM_SESSION_ERR:	return "PAM_SESSION_ERR";
	default:		return "another PAM code";
	}
}

/* Prints each line of a message the way a terminal would show it. */
static void show(const char *text)
{
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);

		printf("      %s's screen | %.*s\n", user_name, len, line);
		line += len;
		if (*line == '\n')
			line++;
	}
}

static int conversation(int n, const struct pam_message **msg,
			struct pam_response **resp, void *data)
{
	struct pam_response *replies;

	(void)data;
	if (n <= 0)
		return PAM_CONV_ERR;
	replies = calloc((size_t)n, sizeof(*replies));
	if (replies == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			show(msg[i]->msg ? msg[i]->msg : "");
			break;
		default:
			/* No prompts in this demo: the technician has
			 * authenticated already. */
			free(replies);
			return PAM_CONV_ERR;
		}
	}
	fflush(stdout);
	*resp = replies;
	return PAM_SUCCESS;
}

/* Blocks until FIFO is written to or closed by the other side. */
static int hold(const char *fifo)
{
	char ready[4096], buf[64];
	int fd;

	if (snprintf(ready, sizeof(ready), "%s.open", fifo) >= (int)sizeof(ready))
		return -1;
	fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "hl-login: %s: %s\n", ready, strerror(errno));
		return -1;
	}
	dprintf(fd, "%ld\n", (long)getpid());
	close(fd);

	fd = open(fifo, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "hl-login: %s: %s\n", fifo, strerror(errno));
		return -1;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: hl-login [-s SERVICE] [-t TTY] [-r RHOST] "
		"[-H FIFO] USER\n");
	exit(3);
}

int main(int argc, char **argv)
{
	struct pam_conv conv = { conversation, NULL };
	const char *service = "sshd", *tty = "ssh", *rhost = NULL;
	const char *fifo = NULL;
	pam_handle_t *pamh = NULL;
	int opt, rc, status = 3;

	while ((opt = getopt(argc, argv, "s:t:r:H:")) != -1) {
		switch (opt) {
		case 's': service = optarg; break;
		case 't': tty = optarg; break;
		case 'r': rhost = optarg; break;
		case 'H': fifo = optarg; break;
		default: usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	user_name = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);

	rc = pam_start(service, user_name, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "hl-login: pam_start: %s\n",
			pam_strerror(pamh, rc));
		return 3;
	}
	if ((tty && pam_set_item(pamh, PAM_TTY, tty) != PAM_SUCCESS) ||
	    (rhost && pam_set_item(pamh, PAM_RHOST, rhost) != PAM_SUCCESS)) {
		fprintf(stderr, "hl-login: pam_set_item failed\n");
		goto out;
	}

	rc = pam_acct_mgmt(pamh, 0);
	printf("    %s: account step  -> %s\n", user_name, code_name(rc));
	if (rc != PAM_SUCCESS) {
		status = 1;
		goto out;
	}
	rc = pam_open_session(pamh, 0);
	printf("    %s: session open  -> %s\n", user_name, code_name(rc));
	if (rc != PAM_SUCCESS) {
		status = 2;
		goto out;
	}
	if (fifo) {
		printf("    %s: logged in (pid %ld), session stays open\n",
		       user_name, (long)getpid());
		if (hold(fifo) != 0) {
			pam_close_session(pamh, 0);
			goto out;
		}
	}
	rc = pam_close_session(pamh, 0);
	printf("    %s: session close -> %s (logged out)\n", user_name,
	       code_name(rc));
	status = rc == PAM_SUCCESS ? 0 : 3;
out:
	pam_end(pamh, rc);
	return status;
}
