/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc.h"
#include "text.h"

enum { STAT_GONE = -1, STAT_ERROR = -2 };

/* Reads a small /proc file into buf; length, STAT_GONE or STAT_ERROR. */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? STAT_GONE
							 : STAT_ERROR;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? STAT_GONE : STAT_ERROR;
	buf[n] = '\0';
	return (int)n;
}

/* proc_root/PID/NAME into path, the pid's digits written by hand: a
 * listing builds one such path per session.  STAT_GONE for a pid that
 * names no process (not above 0), STAT_ERROR when path is too short. */
static int proc_path(const char *proc_root, pid_t pid, const char *name,
		     char *path, size_t len)
{
	size_t root = strlen(proc_root), tail = strlen(name);
	char digits[16];
	size_t n = 0;

	if (pid <= 0)
		return STAT_GONE;
	for (unsigned long v = (unsigned long)pid; v > 0; v /= 10)
		digits[n++] = (char)('0' + v % 10);
	if (root + n + tail + 3 > len)
		return STAT_ERROR;
	memcpy(path, proc_root, root);
	path[root++] = '/';
	while (n > 0)
		path[root++] = digits[--n];
	path[root++] = '/';
	memcpy(path + root, name, tail + 1);
	return 0;
}

/* Reads the small file proc_root/PID/NAME into buf, as read_small. */
static int read_pid_file(const char *proc_root, pid_t pid, const char *name,
			 char *buf, size_t len)
{
	char path[256];
	int rc = proc_path(proc_root, pid, name, path, sizeof(path));

	return rc < 0 ? rc : read_small(path, buf, len);
}

/* State letter, parent and start time of pid, from /proc/PID/stat; and
 * its controlling tty (field 7, tty_nr) when tty_nr is not NULL.  One
 * open, read and close, into a buffer on the stack: the listing's check
 * of every live session, and the module's of the sessions it meets. */
static int read_stat(const char *proc_root, pid_t pid, char *state,
		     pid_t *parent, unsigned long long *start, int *tty_nr)
{
	char buf[1024];
	char *p, *end;
	long ppid;
	int n;

	n = read_pid_file(proc_root, pid, "stat", buf, sizeof(buf));
	if (n < 0)
		return n;
	/* comm may hold ')' and spaces: the fields start after the last ')'. */
	p = memrchr(buf, ')', (size_t)n);
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return STAT_ERROR;
	p += 2;
	*state = *p;
	if (p[1] != ' ')
		return STAT_ERROR;
	errno = 0;
	ppid = strtol(p + 2, &end, 10);
	if (errno != 0 || end == p + 2 || *end != ' ' || ppid < 0)
		return STAT_ERROR;
	*parent = (pid_t)ppid;
	/* p is field 3; tty_nr is field 7, start time field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return STAT_ERROR;
		p++;
		if (field + 1 == 7 && tty_nr != NULL) {
			long nr;

			errno = 0;
			nr = strtol(p, &end, 10);
			if (errno != 0 || end == p || *end != ' ' ||
			    nr < INT_MIN || nr > INT_MAX)
				return STAT_ERROR;
			*tty_nr = (int)nr;
		}
	}
	errno = 0;
	*start = strtoull(p, &end, 10);
	if (errno != 0 || end == p || (*end != ' ' && *end != '\n' && *end))
		return STAT_ERROR;
	return 0;
}

int hl_boot_id(const char *proc_root, char out[HL_BOOT_ID_LEN + 1])
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/sys/kernel/random/boot_id", proc_root);
	if (read_small(path, buf, sizeof(buf)) < HL_BOOT_ID_LEN)
		return -1;
	for (int i = 0; i < HL_BOOT_ID_LEN; i++) {
		char c = buf[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      c == '-'))
			return -1;
	}
	memcpy(out, buf, HL_BOOT_ID_LEN);
	out[HL_BOOT_ID_LEN] = '\0';
	return 0;
}

/* An audit id of pid, /proc/PID/NAME: its audit session id ("sessionid")
 * or login uid ("loginuid").  -1 when it has none or it cannot be read:
 * the kernel uses 4294967295 for "unset". */
static long long read_audit_id(const char *proc_root, pid_t pid,
			       const char *name)
{
	char buf[32], *end;
	unsigned long id;

	if (read_pid_file(proc_root, pid, name, buf, sizeof(buf)) <= 0)
		return -1;
	errno = 0;
	id = strtoul(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\0' && *end != '\n') ||
	    id >= 4294967295UL || buf[0] == '-')
		return -1;
	return (long long)id;
}

/* The audit session id of pid, 0 when it has none or it cannot be read:
 * the kernel never hands out 0. */
static unsigned read_audit_session(const char *proc_root, pid_t pid)
{
	long long id = read_audit_id(proc_root, pid, "sessionid");

	return id > 0 ? (unsigned)id : 0;
}

int hl_proc_read(const char *proc_root, pid_t pid, const char *name,
		 char *buf, size_t len)
{
	int n = read_pid_file(proc_root, pid, name, buf, len);

	return n < 0 ? -1 : n;
}

int hl_proc_start(const char *proc_root, pid_t pid, unsigned long long *start)
{
	pid_t parent;
	char state;

	if (read_stat(proc_root, pid, &state, &parent, start, NULL) != 0)
		return -1;
	return state == 'Z' || state == 'X' ? -1 : 0;
}

unsigned hl_proc_audit_session(const char *proc_root, pid_t pid)
{
	return read_audit_session(proc_root, pid);
}

int hl_proc_tty(const char *proc_root, pid_t pid, dev_t *tty,
		uid_t *login_uid)
{
	unsigned long long start;
	unsigned nr_major, nr_minor;
	long long login;
	pid_t parent;
	char state;
	int nr;

	if (read_stat(proc_root, pid, &state, &parent, &start, &nr) != 0 ||
	    state == 'Z' || state == 'X' || nr <= 0)
		return -1;
	login = read_audit_id(proc_root, pid, "loginuid");
	if (login < 0)
		return -1;
	/* The kernel's encoding of a device number in tty_nr. */
	nr_major = ((unsigned)nr >> 8) & 0xfffu;
	nr_minor = ((unsigned)nr & 0xffu) | (((unsigned)nr >> 12) & 0xfff00u);
	*tty = makedev(nr_major, nr_minor);
	*login_uid = (uid_t)login;
	return 0;
}

int hl_process_identify(const char *proc_root, pid_t pid,
			struct hl_process *out)
{
	pid_t parent;
	char state;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	if (read_stat(proc_root, pid, &state, &parent, &out->start, NULL) != 0)
		return -1;
	out->parent = parent;
	hl_process_audit_refresh(proc_root, out);
	return hl_boot_id(proc_root, out->boot_id);
}

void hl_process_audit_refresh(const char *proc_root, struct hl_process *p)
{
	unsigned audit = read_audit_session(proc_root, p->pid);

	/* Only an audit session that began in this process (pam_loginuid
	 * earlier in the stack) is the login's own; one inherited from the
	 * parent is shared with processes that are not this login's. */
	p->audit_session =
		audit != 0 && read_audit_session(proc_root, p->parent) != audit
			? audit
			: 0;
}

int hl_proc_each(const char *proc_root, bool (*fn)(void *arg, pid_t pid),
		 void *arg)
{
	DIR *dir = opendir(proc_root);
	struct dirent *entry;
	bool more = true;

	if (dir == NULL)
		return -1;
	while (more && (entry = readdir(dir)) != NULL) {
		char *end;
		long number;

		if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
			continue;
		errno = 0;
		number = strtol(entry->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || number > INT_MAX)
			continue;
		more = fn(arg, (pid_t)number);
	}
	closedir(dir);
	return 0;
}

struct live_audit_walk {
	const char *proc_root;
	unsigned only;
	bool (*fn)(void *arg, unsigned id);
	void *arg;
};

static bool live_audit_one(void *arg, pid_t pid)
{
	struct live_audit_walk *w = arg;
	unsigned long long start;
	unsigned id = read_audit_session(w->proc_root, pid);
	pid_t parent;
	char state;

	if (id == 0 || (w->only != 0 && id != w->only))
		return true;
	if (read_stat(w->proc_root, pid, &state, &parent, &start, NULL) != 0 ||
	    state == 'Z' || state == 'X')
		return true;
	return !w->fn(w->arg, id);
}

/* Calls fn with the audit session id of each live process that has one
 * (only id only, unless 0) until fn returns true.  -1: proc_root cannot
 * be read. */
static int walk_live_audit(const char *proc_root, unsigned only,
			   bool (*fn)(void *arg, unsigned id), void *arg)
{
	struct live_audit_walk w = { proc_root, only, fn, arg };

	return hl_proc_each(proc_root, live_audit_one, &w);
}

static bool found_one(void *arg, unsigned id)
{
	(void)id;
	*(bool *)arg = true;
	return true;
}

static bool scan_add(void *arg, unsigned id)
{
	struct hl_audit_scan *scan = arg;
	bool failed = false;

	scan->ids = hl_grow(scan->ids, &scan->allocated, scan->count + 1,
			    sizeof(*scan->ids), &failed);
	if (failed) {
		scan->unknown = true;
		return true;
	}
	scan->ids[scan->count++] = id;
	return false;
}

static int compare_ids(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* Whether a live process of this boot belongs to audit session id: from
 * scan when there is one (read on its first use), else from a walk of
 * proc_root of its own.  When proc_root cannot be read, yes: never take
 * a live session's slot. */
static bool audit_session_alive(const char *proc_root, unsigned id,
				struct hl_audit_scan *scan)
{
	bool alive = false;

	if (scan == NULL)
		return walk_live_audit(proc_root, id, found_one, &alive) != 0 ||
		       alive;
	if (!scan->done) {
		scan->done = true;
		if (walk_live_audit(proc_root, 0, scan_add, scan) != 0)
			scan->unknown = true;
		else if (scan->count > 1)
			qsort(scan->ids, scan->count, sizeof(*scan->ids),
			      compare_ids);
	}
	return scan->unknown || bsearch(&id, scan->ids, scan->count,
					sizeof(*scan->ids), compare_ids);
}

void hl_audit_scan_free(struct hl_audit_scan *scan)
{
	free(scan->ids);
	memset(scan, 0, sizeof(*scan));
}

bool hl_session_stale_scan(const char *proc_root, const char *boot_id,
			   const struct hl_session *session,
			   struct hl_audit_scan *scan)
{
	unsigned long long start;
	pid_t parent;
	char state;
	int rc;

	if (strcmp(session->boot_id, boot_id) != 0)
		return true;
	rc = read_stat(proc_root, session->pid, &state, &parent, &start,
		       NULL);
	if (rc != 0 && rc != STAT_GONE)
		return false;	/* can't tell: never take a live session's slot */
	/* A zombie has ended its session; a new start time is another
	 * process under a reused pid. */
	if (rc == 0 && state != 'Z' && state != 'X' && start == session->start)
		return false;
	/* The process that opened the session is gone (sshd's [priv]
	 * monitor killed, say), but the session lives on while a process of
	 * its audit session runs. */
	return session->audit_session == 0 ||
	       !audit_session_alive(proc_root, session->audit_session, scan);
}

bool hl_session_stale(const char *proc_root, const char *boot_id,
		      const struct hl_session *session)
{
	return hl_session_stale_scan(proc_root, boot_id, session, NULL);
}

/* One line of /proc/locks, such as
 *   "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
 * (a waiter has "->" after the number): true and the holder's pid when
 * it is a flock held on dev:ino. */
static bool flock_line_holds(char *line, unsigned long major_want,
			     unsigned long minor_want, unsigned long long ino,
			     pid_t *pid)
{
	char *save = NULL, *field[6], *end;
	unsigned long major_at, minor_at;
	unsigned long long ino_at;
	long number;
	int n = 0;

	for (char *tok = strtok_r(line, " \t\n", &save); tok && n < 6;
	     tok = strtok_r(NULL, " \t\n", &save))
		field[n++] = tok;
	/* number: FLOCK ADVISORY READ|WRITE pid major:minor:inode */
	if (n < 6 || strcmp(field[1], "FLOCK") != 0 ||
	    (strcmp(field[3], "READ") != 0 && strcmp(field[3], "WRITE") != 0))
		return false;
	errno = 0;
	number = strtol(field[4], &end, 10);
	if (errno != 0 || *end != '\0' || number <= 0 || number > INT_MAX)
		return false;
	major_at = strtoul(field[5], &end, 16);
	if (*end != ':')
		return false;
	minor_at = strtoul(end + 1, &end, 16);
	if (*end != ':')
		return false;
	ino_at = strtoull(end + 1, &end, 10);
	if (*end != '\0' || major_at != major_want || minor_at != minor_want ||
	    ino_at != ino)
		return false;
	*pid = (pid_t)number;
	return true;
}

int hl_flock_holder(const char *proc_root, dev_t dev, ino_t ino,
		    struct hl_lock_holder *out)
{
	char path[256], line[512], comm[64];
	bool found = false;
	FILE *fp;
	int fd;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/locks", proc_root);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return -1;
	}
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = flock_line_holds(line, major(dev), minor(dev),
					 (unsigned long long)ino, &out->pid);
	fclose(fp);
	if (!found)
		return -1;
	/* comm is the holder's to set (prctl): printable before it reaches
	 * a log or a terminal. */
	if (read_pid_file(proc_root, out->pid, "comm", comm, sizeof(comm)) >
	    0) {
		comm[strcspn(comm, "\n")] = '\0';
		hl_printable(comm, out->command, sizeof(out->command));
	}
	return 0;
}
