/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The re-execution under the wrappers (wrappers.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wrappers.h"

/* Where the wrappers are; "" lets the dynamic loader find them by name
 * (the Debian .pc files carry no libdir). */
#ifndef TS_PAM_WRAPPER_LIBDIR
#define TS_PAM_WRAPPER_LIBDIR ""
#endif
#ifndef TS_NSS_WRAPPER_LIBDIR
#define TS_NSS_WRAPPER_LIBDIR ""
#endif

#define TS_WRAPPED_ENV "HL_TEST_WRAPPED"

static int find_asan(struct dl_phdr_info *info, size_t size, void *data)
{
	char *path = data;

	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "/libasan.so")) {
		snprintf(path, PATH_MAX, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

static void wrapper_lib(char *out, size_t len, const char *libdir,
			const char *name)
{
	if (libdir[0])
		snprintf(out, len, "%s/%s", libdir, name);
	else
		snprintf(out, len, "%s", name);
}

void ts_run_wrapped(char **argv, const char *passwd, const char *group,
		    bool pam)
{
	char preload[4 * PATH_MAX + 16];
	char pam_wrapper[PATH_MAX] = "", nss_wrapper[PATH_MAX];
	char asan[PATH_MAX] = "";
	char self[PATH_MAX];
	const char *old;
	ssize_t len;

	/* A suite started under nohup (or by a runner that ignores SIGHUP)
	 * must not hand that on: sessions that ignore SIGHUP are never
	 * ended by it, and the tests that end them would wait forever.
	 * An ignored signal stays ignored across exec; a default one too. */
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (getenv(TS_WRAPPED_ENV) != NULL) {
		/* Only the test's own workers may set pam_wrapper up. */
		unsetenv("PAM_WRAPPER_SERVICE_DIR");
		return;
	}
	/* ASan wants its runtime first in the initial library list. */
	dl_iterate_phdr(find_asan, asan);
	if (asan[0] == '\0') {
		const char *opts = getenv("ASAN_OPTIONS");
		char buf[1024];

		snprintf(buf, sizeof(buf), "%s%sverify_asan_link_order=0",
			 opts ? opts : "", opts && *opts ? ":" : "");
		setenv("ASAN_OPTIONS", buf, 1);
	}
	if (pam)
		wrapper_lib(pam_wrapper, sizeof(pam_wrapper),
			    TS_PAM_WRAPPER_LIBDIR, "libpam_wrapper.so");
	wrapper_lib(nss_wrapper, sizeof(nss_wrapper), TS_NSS_WRAPPER_LIBDIR,
		    "libnss_wrapper.so");
	old = getenv("LD_PRELOAD");
	snprintf(preload, sizeof(preload), "%s%s%s%s%s%s%s", asan,
		 asan[0] ? " " : "", pam_wrapper, pam_wrapper[0] ? " " : "",
		 nss_wrapper, old && *old ? " " : "", old ? old : "");
	setenv("LD_PRELOAD", preload, 1);
	setenv("NSS_WRAPPER_PASSWD", passwd, 1);
	setenv("NSS_WRAPPER_GROUP", group, 1);
	setenv("NSS_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	if (pam)
		setenv("PAM_WRAPPER", "1", 1);
	unsetenv("PAM_WRAPPER_SERVICE_DIR");
	setenv(TS_WRAPPED_ENV, "1", 1);
	/* By the path the link names: under valgrind, /proc/self/exe itself
	 * is the tool, and only readlink gives the program's path. */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = '\0';
		execv(self, argv);
	}
	fprintf(stderr, "%s: cannot re-execute under the wrappers: %s\n",
		argv[0], strerror(errno));
	exit(99);
}
