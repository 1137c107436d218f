/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Idle sessions and their end (see terminate.h).
 *
 * A tty's atime is its last input (the kernel updates it on a read of
 * input, at most every 8 s): it is what w(1)'s IDLE column and
 * systemd-logind's StopIdleSessionSec= look at.  It is read with fstatat,
 * without opening the tty: the tty is never opened for reading, so the
 * module can never take a keystroke meant for the technician's shell.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "terminate.h"
#include "text.h"

/* ---- ttys ----------------------------------------------------------------- */

/* "N" with no sign, no leading zero, at most 9 digits. */
static bool tty_number(const char *text)
{
	size_t n = strspn(text, "0123456789");

	return n >= 1 && n <= 9 && text[n] == '\0' &&
	       (text[0] != '0' || n == 1);
}

bool hl_tty_device(const char *tty, char *path, size_t len)
{
	const char *name = tty;
	int n;

	if (tty == NULL)
		return false;
	if (strncmp(name, "/dev/", 5) == 0)
		name += 5;
	if (!((strncmp(name, "pts/", 4) == 0 && tty_number(name + 4)) ||
	      (strncmp(name, "tty", 3) == 0 && tty_number(name + 3))))
		return false;
	n = snprintf(path, len, "/dev/%s", name);
	return n > 0 && (size_t)n < len;
}

/* The /dev path of a tty device number: /dev/pts/N (major 136, as
 * devpts numbers them) or a virtual console /dev/ttyN (major 4, minor
 * 1-63); false for any other device. */
static bool tty_path(dev_t dev, char *path, size_t len)
{
	unsigned nr_major = major(dev), nr_minor = minor(dev);
	int n;

	if (nr_major == 136)
		n = snprintf(path, len, "/dev/pts/%u", nr_minor);
	else if (nr_major == 4 && nr_minor >= 1 && nr_minor <= 63)
		n = snprintf(path, len, "/dev/tty%u", nr_minor);
	else
		return false;
	return n > 0 && (size_t)n < len;
}

/* A tty found through the processes of a session: its device and the
 * user who must own it. */
struct found_tty {
	dev_t dev;
	uid_t owner;
};

typedef void tty_fn(void *arg, int fd, const struct stat *st);

/* Calls fn on path if it is a character device and, when want is not
 * NULL, the device want->dev owned by want->owner, never by root: with
 * its descriptor opened with flags (O_WRONLY to write to it), or, for
 * O_PATH, with -1 and its status alone (one fstatat, no open).  Whether
 * fn was called. */
static bool visit_tty(const char *path, int flags, const struct found_tty *want,
		      tty_fn *fn, void *arg)
{
	struct stat st;
	int fd = -1;
	bool ok;

	/* Not followed if a link: a device node is never one. */
	if (flags == O_PATH)
		ok = fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
	else
		ok = (fd = open(path, flags | O_NOCTTY | O_NOFOLLOW |
					      O_CLOEXEC)) >= 0 &&
		     fstat(fd, &st) == 0;
	ok = ok && S_ISCHR(st.st_mode) &&
	     (want == NULL || (st.st_rdev == want->dev &&
			       st.st_uid == want->owner && st.st_uid != 0));
	if (ok)
		fn(arg, fd, &st);
	if (fd >= 0)
		close(fd);
	return ok;
}

static void no_visit(void *arg, int fd, const struct stat *st)
{
	(void)arg;
	(void)fd;
	(void)st;
}

/* The ttys of a session whose PAM_TTY names none, as w(1) and
 * systemd-logind find them: the controlling ttys of the processes of its
 * audit session.  sshd opens the PAM session before it allocates the
 * pty, so the session's processes are the only way to its terminal. */
#define SESSION_TTYS_MAX 16

struct tty_walk {
	const char *proc_root;
	unsigned audit_session;
	struct found_tty ttys[SESSION_TTYS_MAX];
	size_t count;
};

/* Adds found to w's ttys if it is a /dev/pts/N or /dev/ttyN with that
 * device number, owned by its login uid; false when w is full. */
static bool add_tty(struct tty_walk *w, const struct found_tty *found)
{
	char path[64];

	for (size_t i = 0; i < w->count; i++)
		if (w->ttys[i].dev == found->dev)
			return true;
	if (!tty_path(found->dev, path, sizeof(path)) ||
	    !visit_tty(path, O_PATH, found, no_visit, NULL))
		return true;
	w->ttys[w->count++] = *found;
	return w->count < SESSION_TTYS_MAX;
}

static bool tty_walk_one(void *arg, pid_t pid)
{
	struct tty_walk *w = arg;
	struct found_tty found;

	if (hl_proc_audit_session(w->proc_root, pid) != w->audit_session ||
	    hl_proc_tty(w->proc_root, pid, &found.dev, &found.owner) != 0 ||
	    found.owner == 0)
		return true;
	return add_tty(w, &found);
}

void hl_tty_map_init(struct hl_tty_map *map, const char *proc_root)
{
	memset(map, 0, sizeof(*map));
	map->proc_root = proc_root;
}

void hl_tty_map_free(struct hl_tty_map *map)
{
	free(map->entries);
	hl_tty_map_init(map, map->proc_root);
}

static bool tty_map_one(void *arg, pid_t pid)
{
	struct hl_tty_map *map = arg;
	struct hl_tty_map_entry e;

	/* The tty first: most processes have none, one read each. */
	if (hl_proc_tty(map->proc_root, pid, &e.dev, &e.owner) != 0 ||
	    e.owner == 0 ||
	    (e.audit_session = hl_proc_audit_session(map->proc_root,
						     pid)) == 0)
		return true;
	map->entries = hl_grow(map->entries, &map->allocated, map->count + 1,
			       sizeof(*map->entries), &map->failed);
	if (map->failed)
		return false;
	e.pid = pid;
	map->entries[map->count++] = e;
	return true;
}

static int compare_entries(const void *a, const void *b)
{
	const struct hl_tty_map_entry *x = a, *y = b;

	if (x->audit_session != y->audit_session)
		return x->audit_session < y->audit_session ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The first entry of audit session id in the sorted map: each session of
 * a listing finds its ttys without going through every process's. */
static size_t tty_map_first(const struct hl_tty_map *map, unsigned id)
{
	size_t low = 0, high = map->count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (map->entries[mid].audit_session < id)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/* Makes the walk of map the first time; false when it cannot serve. */
static bool tty_map_ready(struct hl_tty_map *map)
{
	if (!map->read) {
		map->read = true;
		if (hl_boot_id(map->proc_root, map->boot_id) != 0)
			map->boot_id[0] = '\0';
		if (hl_proc_each(map->proc_root, tty_map_one, map) != 0 &&
		    !map->failed)
			map->count = 0;
		/* By pid within an audit session: the order of the walk. */
		if (!map->failed && map->count > 1)
			qsort(map->entries, map->count, sizeof(*map->entries),
			      compare_entries);
	}
	return !map->failed;
}

void hl_tty_map_prepare(struct hl_tty_map *map,
			const struct hl_holding *holding)
{
	char path[64];

	for (size_t i = 0; i < holding->session_count && !map->read; i++)
		if (holding->sessions[i].audit_session != 0 &&
		    !hl_tty_device(holding->sessions[i].tty, path,
				   sizeof(path)))
			tty_map_ready(map);
}

/* The ttys of session found through its processes (above) in w: how
 * many.  None without an audit session, which is what proves a process
 * to be the session's, nor for a session of another boot (its audit
 * session id may be another login's now). */
static size_t process_ttys(const char *proc_root, struct hl_tty_map *map,
			   const struct hl_session *session, struct tty_walk *w)
{
	char boot_id[HL_BOOT_ID_LEN + 1];

	memset(w, 0, sizeof(*w));
	w->proc_root = proc_root;
	w->audit_session = session->audit_session;
	if (session->audit_session == 0)
		return 0;
	if (map != NULL && tty_map_ready(map)) {
		if (strcmp(map->boot_id, session->boot_id) != 0)
			return 0;
		for (size_t i = tty_map_first(map, session->audit_session);
		     i < map->count &&
		     map->entries[i].audit_session == session->audit_session;
		     i++) {
			const struct hl_tty_map_entry *e = &map->entries[i];
			struct found_tty found = { e->dev, e->owner };

			if (!add_tty(w, &found))
				break;
		}
		return w->count;
	}
	if (hl_boot_id(proc_root, boot_id) != 0 ||
	    strcmp(boot_id, session->boot_id) != 0 ||
	    hl_proc_each(proc_root, tty_walk_one, w) != 0)
		w->count = 0;
	return w->count;
}

/* Calls fn on each tty of session, as visit_tty does with flags: the one PAM_TTY names, else those of its processes,
 * looked up in map when it is not NULL (none when proc_root is NULL).
 * Returns how many ttys fn saw. */
static size_t each_tty(const char *proc_root, struct hl_tty_map *map,
		       const struct hl_session *session, int flags, tty_fn *fn,
		       void *arg)
{
	struct tty_walk w;
	char path[64];
	size_t seen = 0;

	if (hl_tty_device(session->tty, path, sizeof(path)))
		return visit_tty(path, flags, NULL, fn, arg) ? 1 : 0;
	if (proc_root == NULL)
		return 0;
	process_ttys(proc_root, map, session, &w);
	for (size_t i = 0; i < w.count; i++)
		if (tty_path(w.ttys[i].dev, path, sizeof(path)) &&
		    visit_tty(path, flags, &w.ttys[i], fn, arg))
			seen++;
	return seen;
}

static void latest_input(void *arg, int fd, const struct stat *st)
{
	time_t *latest = arg;

	(void)fd;
	if (st->st_atime > *latest)
		*latest = st->st_atime;
}

int hl_session_last_input(const char *proc_root,
			  const struct hl_session *session, time_t *when)
{
	time_t latest = 0;

	if (each_tty(proc_root, NULL, session, O_PATH, latest_input, &latest) == 0)
		return -1;
	*when = latest;
	return 0;
}

long hl_session_idle(const struct hl_session *session, time_t now)
{
	time_t latest = 0;

	if (each_tty(NULL, NULL, session, O_PATH, latest_input, &latest) == 0)
		return -1;
	return now > latest ? (long)(now - latest) : 0;
}

static long holding_idle(const char *proc_root, struct hl_tty_map *map,
			 const struct hl_holding *holding, time_t now,
			 time_t *inputs)
{
	time_t latest = 0;
	bool every = holding->session_count > 0;

	for (size_t i = 0; i < holding->session_count; i++) {
		time_t input = 0;

		/* A login's tty is new (devpts) or was read from (the
		 * password): its atime is never older than the login. */
		if (each_tty(proc_root, map, &holding->sessions[i], O_PATH,
			     latest_input, &input) == 0) {
			every = false;
			if (inputs == NULL)
				break;
		}
		if (inputs != NULL)
			inputs[i] = input;
		if (input > latest)
			latest = input;
	}
	if (!every)
		return -1;
	return now > latest ? (long)(now - latest) : 0;
}

long hl_holding_idle_inputs(struct hl_tty_map *ttys,
			    const struct hl_holding *holding, time_t now,
			    time_t *inputs)
{
	return holding_idle(ttys != NULL ? ttys->proc_root : NULL, ttys,
			    holding, now, inputs);
}

long hl_holding_idle(const char *proc_root, const struct hl_holding *holding,
		     time_t now)
{
	return holding_idle(proc_root, NULL, holding, now, NULL);
}

static void write_message(void *arg, int fd, const struct stat *st)
{
	const char *message = arg;
	size_t len = strlen(message), done = 0;

	(void)st;
	while (done < len) {
		ssize_t n = write(fd, message + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
}

void hl_session_tell(const char *proc_root, const struct hl_session *session,
		     const char *message)
{
	/* Non-blocking: a tty stopped with ^S must not stop the login. */
	each_tty(proc_root, NULL, session, O_WRONLY | O_NONBLOCK, write_message,
		 (void *)message);
}

/* ---- signals ------------------------------------------------------------- */

/* Whether any of pid's uids (real, effective, saved, file system) is 0,
 * or they cannot be read: either way it is not signalled. */
static bool root_or_unknown(const char *proc_root, pid_t pid)
{
	char buf[4096], *line;
	unsigned long uid[4];

	if (hl_proc_read(proc_root, pid, "status", buf, sizeof(buf)) <= 0)
		return true;
	line = strstr(buf, "\nUid:");
	if (line == NULL ||
	    sscanf(line, "\nUid: %lu %lu %lu %lu", &uid[0], &uid[1], &uid[2],
		   &uid[3]) != 4)
		return true;
	for (int i = 0; i < 4; i++)
		if (uid[i] == 0)
			return true;
	return false;
}

/* Whether pid is, right now, a live process of session that may be
 * signalled (see terminate.h). */
static bool proven(const char *proc_root, const struct hl_session *session,
		   pid_t pid)
{
	unsigned long long start;

	if (pid <= 1 || pid == getpid() ||
	    hl_proc_start(proc_root, pid, &start) != 0)
		return false;
	if (session->audit_session != 0) {
		if (hl_proc_audit_session(proc_root, pid) !=
		    session->audit_session)
			return false;
	} else if (pid != session->pid || start != session->start) {
		return false;	/* another process under a reused pid */
	}
	return !root_or_unknown(proc_root, pid);
}

/* Signals pid if it is proven to be the session's.  Through a pidfd taken
 * before the proof, so that the pid cannot be reused between the two. */
static bool signal_one(const char *proc_root,
		       const struct hl_session *session, pid_t pid, int sig)
{
	bool sent = false;
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0) {
		if (proven(proc_root, session, pid))
			sent = syscall(SYS_pidfd_send_signal, fd, sig, NULL,
				       0) == 0;
		close(fd);
		return sent;
	}
	if (errno != ENOSYS)
		return false;	/* gone (ESRCH), or can't tell */
#endif
	if (proven(proc_root, session, pid))
		sent = kill(pid, sig) == 0;
	return sent;
}

struct signalling {
	const char *proc_root;
	const struct hl_session *session;
	const struct tty_walk *on;	/* NULL, or only processes on these */
	int sig;
	int count;
};

/* Whether pid's controlling tty is one of w's. */
static bool on_ttys(const char *proc_root, const struct tty_walk *w, pid_t pid)
{
	uid_t login_uid;
	dev_t dev;

	if (hl_proc_tty(proc_root, pid, &dev, &login_uid) != 0)
		return false;
	for (size_t i = 0; i < w->count; i++)
		if (w->ttys[i].dev == dev)
			return true;
	return false;
}

static bool signal_each(void *arg, pid_t pid)
{
	struct signalling *s = arg;

	if (s->on == NULL || on_ttys(s->proc_root, s->on, pid))
		s->count += signal_one(s->proc_root, s->session, pid, s->sig);
	return true;
}

/* hl_session_signal, to the processes on the ttys of on only (when not
 * NULL: those still go through every check of signal_one). */
static int signal_session(const char *proc_root,
			  const struct hl_session *session,
			  const struct tty_walk *on, int sig)
{
	struct signalling s = { proc_root, session, on, sig, 0 };
	char boot_id[HL_BOOT_ID_LEN + 1];

	/* A session of another boot has no process left. */
	if (hl_boot_id(proc_root, boot_id) != 0 ||
	    strcmp(boot_id, session->boot_id) != 0)
		return 0;
	if (session->audit_session == 0)
		return signal_one(proc_root, session, session->pid, sig) ? 1 : 0;
	hl_proc_each(proc_root, signal_each, &s);
	return s.count;
}

int hl_session_signal(const char *proc_root, const struct hl_session *session,
		      int sig)
{
	return signal_session(proc_root, session, NULL, sig);
}

/* The short-lived process that sends the SIGKILL: detached (a grandchild,
 * reparented to init, in a session of its own so that the hangup of the
 * caller's terminal does not end it), holding no descriptor of the
 * caller's. */
static void kill_after_grace(const char *proc_root,
			     const struct hl_session *session, unsigned grace)
{
	struct timespec pause = { .tv_sec = (time_t)grace };
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	for (int i = 0; i < 3 && fd >= 0; i++)
		dup2(fd, i);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
		for (long i = 3, max = sysconf(_SC_OPEN_MAX); i < max && i < 65536; i++)
			close((int)i);
	setsid();
	signal(SIGHUP, SIG_IGN);
	while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
		;
	hl_session_signal(proc_root, session, SIGKILL);
}

int hl_session_end(const char *proc_root, const struct hl_session *session,
		   const char *message, unsigned grace)
{
	struct tty_walk ttys;
	char path[64];
	pid_t child;
	int status;

	if (message)
		hl_session_tell(proc_root, session, message);
	/* ttys found through the session's processes (sshd's session): the
	 * hangup goes to the processes on them, as a hangup of the terminal
	 * would.  sshd's own process (no controlling tty, it dies of a
	 * SIGHUP) then passes the line on to the client before it ends the
	 * connection; what is left goes with the SIGKILL. */
	if (!hl_tty_device(session->tty, path, sizeof(path)) &&
	    process_ttys(proc_root, NULL, session, &ttys) > 0)
		signal_session(proc_root, session, &ttys, SIGHUP);
	else
		hl_session_signal(proc_root, session, SIGHUP);
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		if (fork() == 0)
			kill_after_grace(proc_root, session, grace);
		_exit(0);
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}
