/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * No descriptor of the module leaks into the session: after each PAM call
 * (account, a granted open, a refused open, close, and on a store it
 * cannot read) the process has exactly the descriptors it had before,
 * each still naming the same file.  Through real libpam, in one process
 * that calls libpam itself, as sshd's session process does.
 *
 * Users and groups (tests/integration/passwd, group): carol and dave are
 * in field-east.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define EAST_ONE \
	"concurrent = ( { pool = \"field-east\"; licenses = 1;" \
	" groups = [ \"field-east\" ]; } );\n"

#define FDS_MAX 256

/* The open descriptors of this process, "N -> what it names", sorted by
 * number (the listing's own descriptor left out). */
struct fd_list {
	char entry[FDS_MAX][PATH_MAX + 32];
	size_t count;
};

static int fd_number(const char *entry)
{
	return atoi(entry);
}

static int by_number(const void *a, const void *b)
{
	return fd_number(a) - fd_number(b);
}

static void fd_list(struct fd_list *out)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;

	out->count = 0;
	if (dir == NULL)
		exit(90);
	while ((de = readdir(dir)) != NULL) {
		char path[64], target[PATH_MAX];
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		if (out->count == FDS_MAX)
			exit(91);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		snprintf(out->entry[out->count++], sizeof(out->entry[0]),
			 "%d -> %s", fd, target);
	}
	closedir(dir);
	qsort(out->entry, out->count, sizeof(out->entry[0]), by_number);
}

/* What the child found, for the test process. */
struct report {
	int rc[8];			/* the PAM codes, in step order */
	int steps;
	char differences[4096];		/* "after STEP: +N -> x, -M -> y" */
};

/* Appends to the report what is in one list and not in the other:
 * "after STEP: +N -> new, -M -> gone". */
static void compare(struct report *rep, const char *step,
		    const struct fd_list *before, const struct fd_list *after)
{
	size_t len = strlen(rep->differences);
	size_t room = sizeof(rep->differences) - len;
	char *out = rep->differences + len;
	bool first = true;

	for (int pass = 0; pass < 2; pass++) {
		const struct fd_list *a = pass == 0 ? after : before;
		const struct fd_list *b = pass == 0 ? before : after;

		for (size_t i = 0; i < a->count; i++) {
			bool found = false;
			int n;

			for (size_t j = 0; j < b->count && !found; j++)
				found = strcmp(a->entry[i], b->entry[j]) == 0;
			if (found)
				continue;
			if (first)
				n = snprintf(out, room, "\nafter %s: ", step);
			else
				n = snprintf(out, room, ", ");
			if (n < 0 || (size_t)n >= room)
				return;
			out += n;
			room -= (size_t)n;
			n = snprintf(out, room, "%c%s", pass == 0 ? '+' : '-',
				     a->entry[i]);
			if (n < 0 || (size_t)n >= room)
				return;
			out += n;
			room -= (size_t)n;
			first = false;
		}
	}
}

/* In a child of it_fork: carol logs in (account, open), dave is refused
 * (the pool's one license is carol's), carol logs out; the descriptors are
 * compared around each call. */
static void run_logins(struct report *rep)
{
	static struct it_result log;
	struct pam_conv conv = { it_conv, &log };
	pam_handle_t *carol = NULL, *dave = NULL;
	struct fd_list *before = malloc(sizeof(*before));
	struct fd_list *after = malloc(sizeof(*after));
	struct fd_list *first = malloc(sizeof(*first));

	struct passwd *pw;
	gid_t groups[64];
	int ngroups = 64;

	if (before == NULL || after == NULL || first == NULL)
		exit(92);
	/* nss_wrapper keeps its passwd and group files open once read (the
	 * C library's files backend does not): read them before the first
	 * listing, so what remains is the module's. */
	pw = getpwnam("carol");
	if (pw == NULL || getgrouplist("carol", pw->pw_gid, groups,
				       &ngroups) < 0 ||
	    getgrnam("field-east") == NULL)
		exit(94);
	fd_list(first);
	rep->rc[rep->steps++] = pam_start(IT_SERVICE, "carol", &conv, &carol);
	rep->rc[rep->steps++] = pam_start(IT_SERVICE, "dave", &conv, &dave);

#define STEP(name, call) do {					\
		fd_list(before);				\
		rep->rc[rep->steps++] = (call);			\
		fd_list(after);					\
		compare(rep, (name), before, after);		\
	} while (0)

	STEP("carol's account", pam_acct_mgmt(carol, 0));
	STEP("carol's open session", pam_open_session(carol, 0));
	STEP("dave's refused open session", pam_open_session(dave, 0));
	STEP("carol's close session", pam_close_session(carol, 0));
	STEP("dave's account", pam_acct_mgmt(dave, 0));
#undef STEP

	pam_end(carol, PAM_SUCCESS);
	pam_end(dave, PAM_SUCCESS);
	fd_list(after);
	compare(rep, "pam_end", first, after);
	free(before);
	free(after);
	free(first);
}

static void run_child(struct it_fixture *fx, struct report *rep)
{
	int pfd[2], fds[1];
	pid_t pid;
	int status = 0;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		it_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	fds[0] = pfd[1];
	pid = it_fork(fx, fds, 1);
	if (pid == 0) {
		static struct report mine;

		run_logins(&mine);
		if (write(fds[0], &mine, sizeof(mine)) != sizeof(mine))
			exit(93);
		exit(0);
	}
	close(pfd[1]);
	memset(rep, 0, sizeof(*rep));
	if (!it_read_all(pfd[0], rep, sizeof(*rep))) {
		waitpid(pid, &status, 0);
		it_fail(__FILE__, __LINE__, "the login process ended early "
			"(status 0x%x)", status);
	}
	close(pfd[0]);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* 1. Logins granted and refused on a working store. */
static void no_descriptor_leaks(void **state)
{
	struct it_fixture *fx = *state;
	struct report rep;

	it_config(fx, EAST_ONE);
	run_child(fx, &rep);
	assert_int_equal(rep.steps, 7);
	assert_int_equal(rep.rc[0], PAM_SUCCESS);
	assert_int_equal(rep.rc[1], PAM_SUCCESS);
	assert_int_equal(rep.rc[2], PAM_SUCCESS);	/* carol's account */
	assert_int_equal(rep.rc[3], PAM_SUCCESS);	/* carol's session */
	assert_int_equal(rep.rc[4], PAM_PERM_DENIED);	/* dave: taken */
	assert_int_equal(rep.rc[5], PAM_SUCCESS);	/* carol's logout */
	assert_int_equal(rep.rc[6], PAM_SUCCESS);	/* dave: free again */
	if (rep.differences[0] != '\0')
		it_fail(__FILE__, __LINE__, "descriptors changed:%s",
			rep.differences);
}

/* 2. The same calls on a store that is not a GDBM file: the first
 * repairs it there and then (the damaged file kept beside it), the rest
 * go on as on a working store, and none leaves a descriptor behind. */
static void no_descriptor_leaks_on_damage(void **state)
{
	struct it_fixture *fx = *state;
	struct report rep;
	char garbage[4096];

	it_config(fx, EAST_ONE);
	it_write_garbage_store(fx, garbage, sizeof(garbage));
	run_child(fx, &rep);
	assert_int_equal(rep.steps, 7);
	assert_int_equal(rep.rc[2], PAM_SUCCESS);	/* repaired */
	assert_int_equal(rep.rc[3], PAM_SUCCESS);
	assert_int_equal(rep.rc[4], PAM_PERM_DENIED);
	assert_int_equal(rep.rc[5], PAM_SUCCESS);
	assert_int_equal(rep.rc[6], PAM_SUCCESS);
	if (rep.differences[0] != '\0')
		it_fail(__FILE__, __LINE__, "descriptors changed:%s",
			rep.differences);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(no_descriptor_leaks, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(no_descriptor_leaks_on_damage,
						it_setup, it_teardown),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
