#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"

bool hl_owner_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

bool hl_check_stat(const struct stat *st, mode_t type, char *why, size_t len)
{
	if ((st->st_mode & S_IFMT) != type) {
		snprintf(why, len, "not a %s",
			 type == S_IFDIR ? "directory" : "regular file");
		return false;
	}
	if (!hl_owner_trusted(st->st_uid)) {
		snprintf(why, len, "owned by uid %lu, not root",
			 (unsigned long)st->st_uid);
		return false;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, len, "writable by group or others (mode %04o)",
			 (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}

static int checked_fd(int fd, mode_t type, char *why, size_t len)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		int saved = errno;

		snprintf(why, len, "%s", strerror(saved));
		close(fd);
		errno = saved;
		return -1;
	}
	if (!hl_check_stat(&st, type, why, len)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

static void open_failed(char *why, size_t len)
{
	/* O_NOFOLLOW reports a final symlink as ELOOP. */
	if (errno == ELOOP)
		snprintf(why, len, "is a symbolic link");
	else
		snprintf(why, len, "%s", strerror(errno));
}

int hl_open_trusted(const char *path, int flags, mode_t create_mode,
		    char *why, size_t len)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		      create_mode);

	if (fd < 0) {
		open_failed(why, len);
		return -1;
	}
	return checked_fd(fd, S_IFREG, why, len);
}

int hl_open_trusted_dir(const char *dir, mode_t mode, bool create,
			char *why, size_t len)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && create) {
		if (mkdir(dir, mode) != 0 && errno != EEXIST) {
			open_failed(why, len);
			return -1;
		}
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		/* A symlink to a directory fails O_DIRECTORY|O_NOFOLLOW
		 * with ENOTDIR or ELOOP. */
		struct stat st;

		if ((errno == ENOTDIR || errno == ELOOP) &&
		    lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			errno = ELOOP;
		open_failed(why, len);
		return -1;
	}
	return checked_fd(fd, S_IFDIR, why, len);
}

bool hl_split_path(const char *path, char *dir, size_t dirlen,
		   char *base, size_t baselen)
{
	const char *slash = strrchr(path, '/');
	size_t dlen;

	if (slash == NULL) {
		if (snprintf(dir, dirlen, ".") >= (int)dirlen)
			return false;
		return snprintf(base, baselen, "%s", path) < (int)baselen &&
		       *base != '\0';
	}
	dlen = slash == path ? 1 : (size_t)(slash - path);
	if (dlen >= dirlen)
		return false;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	return snprintf(base, baselen, "%s", slash + 1) < (int)baselen &&
	       *base != '\0';
}
