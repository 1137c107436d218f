#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

enum { STAT_GONE = -1, STAT_ERROR = -2 };

/* Reads a small /proc file into buf; length, STAT_GONE or STAT_ERROR. */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
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

/* State letter and start time of pid, from /proc/PID/stat. */
static int read_stat(const char *proc_root, pid_t pid, char *state,
		     unsigned long long *start)
{
	char path[256], buf[1024];
	char *p, *end;
	int n;

	snprintf(path, sizeof(path), "%s/%ld/stat", proc_root, (long)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* comm may hold ')' and spaces: the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return STAT_ERROR;
	p += 2;
	*state = *p;
	/* p is field 3; start time is field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return STAT_ERROR;
		p++;
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

int hl_process_identify(const char *proc_root, pid_t pid,
			struct hl_process *out)
{
	char state;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	if (read_stat(proc_root, pid, &state, &out->start) != 0)
		return -1;
	return hl_boot_id(proc_root, out->boot_id);
}

bool hl_session_stale(const char *proc_root, const char *boot_id,
		      const struct hl_session *session)
{
	unsigned long long start;
	char state;
	int rc;

	if (strcmp(session->boot_id, boot_id) != 0)
		return true;
	rc = read_stat(proc_root, session->pid, &state, &start);
	if (rc == STAT_GONE)
		return true;
	if (rc != 0)
		return false;	/* can't tell: never take a live session's slot */
	/* A zombie has ended its session; a new start time is another
	 * process under a reused pid. */
	return state == 'Z' || state == 'X' || start != session->start;
}
