/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"

/* The owner a file must have: root, or the effective user when the caller
 * is not root (the test suite, or an admin trying a config of their own). */
static bool hl_owner_trusted(uid_t uid)
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

/* Whether a directory on the way to a file we write may be there: owned
 * by a trusted owner and, unless sticky (/tmp) or the last one, not
 * writable by group or others; the last one not writable by them at all. */
static bool check_walked(int fd, bool last, char *why, size_t len)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(why, len, "%s", strerror(errno));
		return false;
	}
	if (!last && (st.st_mode & S_ISVTX) && S_ISDIR(st.st_mode) &&
	    hl_owner_trusted(st.st_uid))
		return true;
	return hl_check_stat(&st, S_IFDIR, why, len);
}

/* The directory a file will be written into, opened O_DIRECTORY: walked
 * from / (or the working directory) one component at a time, following
 * no symlink but root's on the way and none at the end; every directory
 * on the way owned by root or the caller and not writable by group or
 * others unless sticky (/tmp), the last one not writable by them at all.
 * Returns the descriptor, or -1 with why filled in. */
static int hl_open_private_dir(const char *dir, char *why, size_t len)
{
	char copy[PATH_MAX], *save = NULL, *part, *next;
	int fd, sub;

	if (snprintf(copy, sizeof(copy), "%s", dir) >= (int)sizeof(copy)) {
		snprintf(why, len, "path too long");
		return -1;
	}
	fd = open(*dir == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		open_failed(why, len);
		return -1;
	}
	part = strtok_r(copy, "/", &save);
	for (; part; part = next) {
		struct stat st;

		next = strtok_r(NULL, "/", &save);
		if (strcmp(part, ".") == 0)
			continue;
		if (!check_walked(fd, false, why, len))
			goto fail;
		if (strcmp(part, "..") == 0) {
			snprintf(why, len, "has a \"..\" component");
			goto fail;
		}
		sub = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		/* A symlink on the way only if root made it (/var/run); the
		 * directory itself never. */
		if (sub < 0 && (errno == ELOOP || errno == ENOTDIR) &&
		    next != NULL &&
		    fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode) && st.st_uid == 0)
			sub = openat(fd, part, O_RDONLY | O_DIRECTORY |
				     O_CLOEXEC);
		else if (sub < 0 && errno == ENOTDIR &&
			 fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			 S_ISLNK(st.st_mode))
			errno = ELOOP;
		if (sub < 0) {
			open_failed(why, len);
			goto fail;
		}
		close(fd);
		fd = sub;
	}
	if (!check_walked(fd, true, why, len))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int hl_replace_file(const char *path, const char *data, size_t size,
		    mode_t mode, char *why, size_t len)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], temp[NAME_MAX + 1];
	struct stat st;
	size_t done = 0;
	int dirfd, fd = -1;

	if (!hl_split_path(path, dir, sizeof(dir), base, sizeof(base)) ||
	    strlen(base) > NAME_MAX - 16) {
		snprintf(why, len, "not a file path");
		return -1;
	}
	dirfd = hl_open_private_dir(dir, why, len);
	if (dirfd < 0)
		return -1;
	/* A new file of ours, never one found there: O_EXCL creates it or
	 * fails, whatever (link, FIFO, file) has that name. */
	for (int tries = 0; fd < 0 && tries < 100; tries++) {
		unsigned long long r;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (unsigned long long)getpid() * 2654435761u + tries;
		snprintf(temp, sizeof(temp), ".%s.%012llx", base,
			 r & 0xffffffffffffULL);
		fd = openat(dirfd, temp, O_WRONLY | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode & 0640);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		open_failed(why, len);
		close(dirfd);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !hl_check_stat(&st, S_IFREG, why, len))
		goto fail;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, len, "%s", strerror(n < 0 ? errno : EIO));
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		snprintf(why, len, "%s", strerror(errno));
		goto fail;
	}
	fd = -1;
	/* rename replaces whatever had the name (a FIFO, a link, a file
	 * someone left there) without opening it. */
	if (renameat(dirfd, temp, dirfd, base) != 0) {
		snprintf(why, len, "%s", strerror(errno));
		goto fail;
	}
	fsync(dirfd);
	close(dirfd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, temp, 0);
	close(dirfd);
	return -1;
}
