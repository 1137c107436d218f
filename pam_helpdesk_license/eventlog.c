/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventlog.h"
#include "safefile.h"
#include "text.h"

static void field(struct hl_buf *buf, const char *name, const char *value)
{
	if (value == NULL)
		return;
	hl_buf_puts(buf, ",\"");
	hl_buf_puts(buf, name);
	hl_buf_puts(buf, "\":");
	hl_buf_json(buf, value);
}

static void number(struct hl_buf *buf, const char *name,
		   unsigned long long value)
{
	hl_buf_puts(buf, ",\"");
	hl_buf_puts(buf, name);
	hl_buf_puts(buf, "\":");
	hl_buf_unsigned(buf, value);
}

static const char *const event_names[HL_EVENT_TYPES] = {
	[HL_EVENT_GRANT] = "grant", [HL_EVENT_JOIN] = "join",
	[HL_EVENT_DENY] = "deny", [HL_EVENT_RELEASE] = "release",
	[HL_EVENT_REAP] = "reap", [HL_EVENT_ADMIN_RELEASE] = "admin-release",
	[HL_EVENT_ASSIGN] = "assign", [HL_EVENT_UNASSIGN] = "unassign",
	[HL_EVENT_WAIT] = "wait", [HL_EVENT_ERROR] = "error",
};

const char *hl_event_name(enum hl_event_type type)
{
	return (unsigned)type < HL_EVENT_TYPES ? event_names[type] : NULL;
}

bool hl_event_type_of(const char *name, enum hl_event_type *type)
{
	for (unsigned k = 0; k < HL_EVENT_TYPES; k++)
		if (strcmp(name, event_names[k]) == 0) {
			*type = (enum hl_event_type)k;
			return true;
		}
	return false;
}

char *hl_event_format(const struct hl_event *event, const struct timespec *ts)
{
	struct hl_buf buf;
	struct tm tm;
	char when[64];

	if (gmtime_r(&ts->tv_sec, &tm) == NULL)
		return NULL;
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000L);

	hl_buf_init(&buf);
	hl_buf_puts(&buf, "{\"time\":");
	hl_buf_json(&buf, when);
	field(&buf, "event", event->event);
	field(&buf, "user", event->user);
	if (event->has_kind)
		field(&buf, "kind", event->kind == HL_KIND_NAMED ? "named"
								  : "concurrent");
	field(&buf, "pool", event->pool);
	if (event->slot > 0)
		number(&buf, "slot", event->slot);
	field(&buf, "service", event->service);
	field(&buf, "tty", event->tty);
	field(&buf, "rhost", event->rhost);
	field(&buf, "host", event->host);
	if (event->pid > 0)
		number(&buf, "pid", (unsigned long long)event->pid);
	if (event->start > 0)
		number(&buf, "start", event->start);
	field(&buf, "boot_id", event->boot_id);
	if (event->audit > 0)
		number(&buf, "audit", event->audit);
	field(&buf, "session", event->session);
	field(&buf, "reason", event->reason);
	if (event->has_idle)
		number(&buf, "idle", event->idle);
	hl_buf_puts(&buf, "}\n");
	return hl_buf_take(&buf);
}

void hl_event_append_line(const char *path, const char *line,
			  const struct hl_logger *log)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], why[128] = "cannot stat";
	struct stat st;
	int dirfd = -1, fd = -1;
	ssize_t n;

	if (!hl_split_path(path, dir, sizeof(dir), base, sizeof(base))) {
		hl_log(log, LOG_ERR, "event log %s: not a file path", path);
		goto out;
	}
	dirfd = hl_open_trusted_dir(dir, 0700, true, why, sizeof(why));
	if (dirfd < 0) {
		hl_log(log, LOG_ERR, "event log directory %s: %s", dir, why);
		goto out;
	}
	fd = openat(dirfd, base,
		    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
		    O_NOCTTY, 0600);
	if (fd < 0) {
		hl_log(log, LOG_ERR, "event log %s: %s", path,
		       errno == ELOOP ? "is a symbolic link" : strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !hl_check_stat(&st, S_IFREG, why, sizeof(why))) {
		hl_log(log, LOG_ERR, "event log %s: %s", path, why);
		goto out;
	}
	/* Every technician's rhost and pid: no access for others (an adm
	 * group may read it). */
	if (st.st_mode & S_IRWXO) {
		hl_log(log, LOG_ERR, "event log %s: open to others (mode %04o): "
		       "chmod o-rwx it", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	/* One write, so concurrent writers never interleave within a line. */
	n = write(fd, line, strlen(line));
	if (n < 0 || (size_t)n != strlen(line))
		hl_log(log, LOG_ERR, "event log %s: short write: %s", path,
		       n < 0 ? strerror(errno) : "disk full?");
out:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
}

void hl_event_log_end(const char *path, unsigned long long *inode,
		      unsigned long long *size)
{
	struct stat st;

	*inode = 0;
	*size = 0;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		*inode = (unsigned long long)st.st_ino;
		*size = (unsigned long long)st.st_size;
	}
}

bool hl_event_log_has(const char *path, unsigned long long inode,
		      unsigned long long offset, const char *line)
{
	/* The lines of the transaction are among the first written after
	 * offset: a bounded read finds them. */
	enum { LOOK_AHEAD = 1 << 20 };
	char why[128];
	struct stat st;
	char *text = NULL;
	size_t want;
	ssize_t n;
	bool found = false;
	int fd;

	fd = hl_open_trusted(path, O_RDONLY, 0, why, sizeof(why));
	if (fd < 0)
		return false;
	/* inode 0: the log did not exist yet, and any file now is the one
	 * the lines went to. */
	if (fstat(fd, &st) != 0 ||
	    (inode != 0 && (unsigned long long)st.st_ino != inode) ||
	    (unsigned long long)st.st_size < offset)
		goto out;
	/* No more than the file holds: usually just the lines of the last
	 * transaction, a few hundred bytes. */
	want = (unsigned long long)st.st_size - offset < LOOK_AHEAD
		       ? (size_t)((unsigned long long)st.st_size - offset)
		       : LOOK_AHEAD;
	text = malloc(want + 1);
	if (text == NULL)
		goto out;
	n = pread(fd, text, want, (off_t)offset);
	if (n > 0) {
		text[n] = '\0';
		found = strstr(text, line) != NULL;
	}
out:
	free(text);
	close(fd);
	return found;
}

/* Calls fn with the line at line[0..len) unless it is malformed; false
 * once fn asked to stop. */
static bool each_line(char *line, size_t len,
		      bool (*fn)(void *arg, const struct hl_jsonl_object *obj),
		      void *arg)
{
	struct hl_jsonl_object obj;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (!hl_jsonl_parse(line, len, &obj))
		return true;
	return fn(arg, &obj);
}

void hl_event_text_each(char *text,
			bool (*fn)(void *arg, const struct hl_jsonl_object *obj),
			void *arg)
{
	char *nl;

	while ((nl = strchr(text, '\n')) != NULL &&
	       each_line(text, (size_t)(nl - text), fn, arg))
		text = nl + 1;
}

int hl_event_log_each(const char *path,
		      bool (*fn)(void *arg, const struct hl_jsonl_object *obj),
		      void *arg, const struct hl_logger *log)
{
	char why[128];
	char *buf;
	size_t have = 0;
	bool skipping = false, go_on = true;
	ssize_t n;
	int fd, rc = 0;

	fd = hl_open_trusted(path, O_RDONLY, 0, why, sizeof(why));
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		hl_log(log, LOG_ERR, "event log %s: %s", path, why);
		return -1;
	}
	buf = malloc(HL_EVENT_LINE_MAX + 1);
	if (buf == NULL) {
		hl_log(log, LOG_ERR, "event log %s: out of memory", path);
		close(fd);
		return -1;
	}
	while (go_on) {
		char *start = buf, *nl;

		n = read(fd, buf + have, HL_EVENT_LINE_MAX - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hl_log(log, LOG_ERR, "event log %s: %s", path,
			       strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		while (go_on && (nl = memchr(start, '\n',
					     have - (size_t)(start - buf)))) {
			if (!skipping)
				go_on = each_line(start, (size_t)(nl - start),
						  fn, arg);
			skipping = false;
			start = nl + 1;
		}
		have -= (size_t)(start - buf);
		memmove(buf, start, have);
		if (have == HL_EVENT_LINE_MAX) {
			/* A line longer than any the module writes: not
			 * ours, skipped to its end. */
			skipping = true;
			have = 0;
		}
	}
	/* A last line without its newline: a write cut short, skipped. */
	free(buf);
	close(fd);
	return rc;
}
