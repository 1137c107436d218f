/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight.h"
#include "safefile.h"

/* Users or groups NSS enumerates for "did you mean": enough for every
 * local file, never a whole large directory. */
#define ENUMERATED_MAX 5000

/* ---- files ---- */

/* Write access is the module's (root's): another user cannot tell. */
static bool cannot_write(int dirfd, const char *name, int mode, int *err)
{
	if (geteuid() != 0 || faccessat(dirfd, name, mode, AT_EACCESS) == 0)
		return false;
	*err = errno;
	return true;
}

/* dir does not exist: the module makes it (0700) when its parent is a
 * directory it may write in. */
static bool dir_can_be_made(const char *what, const char *path,
			    const char *dir, char *why, size_t len)
{
	char parent[PATH_MAX], leaf[NAME_MAX + 1];
	int fd, err = ENOENT;

	if (hl_split_path(dir, parent, sizeof(parent), leaf, sizeof(leaf))) {
		fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			bool ok = !cannot_write(fd, ".", W_OK | X_OK, &err);

			close(fd);
			if (ok)
				return true;
			snprintf(why, len, "%s %s: directory %s does not exist "
				 "and can't be made in %s: %s", what, path, dir,
				 parent, strerror(err));
			return false;
		}
	}
	snprintf(why, len, "%s %s: directory %s: %s (only its last component "
		 "is made at first use)", what, path, dir, strerror(ENOENT));
	return false;
}

bool hl_preflight_file(const char *what, const char *path, bool owner_only,
		       char *why, size_t len)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], reason[256];
	struct stat st;
	bool ok = false;
	int dirfd, err;

	if (!hl_split_path(path, dir, sizeof(dir), base, sizeof(base))) {
		snprintf(why, len, "%s %s: not a file path", what, path);
		return false;
	}
	dirfd = hl_open_trusted_dir(dir, 0700, false, reason, sizeof(reason));
	if (dirfd < 0) {
		if (errno == ENOENT)
			return dir_can_be_made(what, path, dir, why, len);
		if (errno == EACCES && geteuid() != 0)
			return true;	/* root's directory: cannot tell */
		snprintf(why, len, "%s %s: directory %s: %s", what, path, dir,
			 reason);
		return false;
	}
	if (cannot_write(dirfd, ".", W_OK | X_OK, &err)) {
		snprintf(why, len, "%s %s: directory %s: %s", what, path, dir,
			 strerror(err));
	} else if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		/* Missing: made at first use. */
		ok = errno == ENOENT || (errno == EACCES && geteuid() != 0);
		if (!ok)
			snprintf(why, len, "%s %s: %s", what, path,
				 strerror(errno));
	} else if (S_ISLNK(st.st_mode)) {
		snprintf(why, len, "%s %s: is a symbolic link", what, path);
	} else if (!hl_check_stat(&st, S_IFREG, reason, sizeof(reason))) {
		snprintf(why, len, "%s %s: %s", what, path, reason);
	} else if (owner_only && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(why, len, "%s %s: open to group or others (mode %04o)",
			 what, path, (unsigned)(st.st_mode & 07777));
	} else if (cannot_write(dirfd, base, R_OK | W_OK, &err)) {
		snprintf(why, len, "%s %s: %s", what, path, strerror(err));
	} else {
		ok = true;
	}
	close(dirfd);
	return ok;
}

/* ---- users and groups ---- */

enum name_type { USER, GROUP };

/* A growing NULL-terminated list of names. */
struct known {
	char **names;
	size_t count;
	size_t cap;
	bool enumerated;
};

static void known_add(struct known *k, const char *name)
{
	char *copy;

	if (k->count + 1 >= k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		char **bigger = realloc(k->names, cap * sizeof(*bigger));

		if (bigger == NULL)
			return;		/* fewer suggestions, no harm */
		k->names = bigger;
		k->cap = cap;
	}
	copy = strdup(name);
	if (copy == NULL)
		return;
	k->names[k->count++] = copy;
	k->names[k->count] = NULL;
}

static void known_free(struct known *k)
{
	for (size_t i = 0; i < k->count; i++)
		free(k->names[i]);
	free(k->names);
}

/* 0 known, ENOENT unknown, else the error of the lookup. */
static int look_up(enum name_type type, const char *name)
{
	long size = sysconf(type == USER ? _SC_GETPW_R_SIZE_MAX
					 : _SC_GETGR_R_SIZE_MAX);
	size_t len = size > 0 ? (size_t)size : 16384;
	int rc;

	for (;;) {
		char *buf = malloc(len);
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;
		bool found;

		if (buf == NULL)
			return ENOMEM;
		if (type == USER) {
			rc = getpwnam_r(name, &pw, buf, len, &pwp);
			found = pwp != NULL;
		} else {
			rc = getgrnam_r(name, &gr, buf, len, &grp);
			found = grp != NULL;
		}
		free(buf);
		if (rc == ERANGE && len < (1u << 24)) {
			len *= 2;
			continue;
		}
		if (found)
			return 0;
		/* "Not found" comes back as 0 or as one of these. */
		if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF ||
		    rc == EPERM)
			return ENOENT;
		return rc;
	}
}

/* The names NSS enumerates, up to ENUMERATED_MAX (the admin tool is one
 * thread: the get*ent cursor is its own). */
static void enumerate(enum name_type type, struct known *k)
{
	size_t n = 0;

	k->enumerated = true;
	if (type == USER) {
		struct passwd *pw;

		setpwent();
		while (n++ < ENUMERATED_MAX && (pw = getpwent()) != NULL)
			known_add(k, pw->pw_name);
		endpwent();
	} else {
		struct group *gr;

		setgrent();
		while (n++ < ENUMERATED_MAX && (gr = getgrent()) != NULL)
			known_add(k, gr->gr_name);
		endgrent();
	}
}

struct names_check {
	const struct hl_config *cfg;
	void (*warn)(void *data, const char *message);
	void *data;
	struct known known[2];		/* by enum name_type */
	unsigned warnings;
};

/* The lists of the config, with where they are, for one type. */
static void each_list(const struct hl_config *cfg, enum name_type type,
		      void (*fn)(struct names_check *, enum name_type,
				 const struct hl_names *, const char *),
		      struct names_check *c)
{
	char where[HL_POOL_NAME_MAX + 32];

	fn(c, type, type == USER ? &cfg->named.users : &cfg->named.groups,
	   type == USER ? "named.users" : "named.groups");
	for (size_t i = 0; i < cfg->pool_count; i++) {
		snprintf(where, sizeof(where), "%s of pool '%s'",
			 type == USER ? "users" : "groups", cfg->pools[i].name);
		fn(c, type, type == USER ? &cfg->pools[i].users
					 : &cfg->pools[i].groups, where);
	}
	fn(c, type, type == USER ? &cfg->exempt_users : &cfg->exempt_groups,
	   type == USER ? "exempt.users" : "exempt.groups");
}

/* Names of the config that NSS knows are candidates too (a group that a
 * directory does not enumerate may still be named right elsewhere). */
static void add_known(struct names_check *c, enum name_type type,
		      const struct hl_names *names, const char *where)
{
	(void)where;
	for (size_t i = 0; i < names->count; i++)
		if (!hl_names_contain(&(struct hl_names){ c->known[type].names,
							   c->known[type].count },
				      names->names[i]) &&
		    look_up(type, names->names[i]) == 0)
			known_add(&c->known[type], names->names[i]);
}

static void check_list(struct names_check *c, enum name_type type,
		       const struct hl_names *names, const char *where)
{
	const char *what = type == USER ? "user" : "group";
	char message[512];

	for (size_t i = 0; i < names->count; i++) {
		const char *name = names->names[i];
		const char *hint;
		int rc = look_up(type, name);

		if (rc == 0)
			continue;
		if (rc != ENOENT) {
			snprintf(message, sizeof(message), "%s '%s' in %s "
				 "could not be looked up: %s", what, name,
				 where, strerror(rc));
		} else {
			if (!c->known[type].enumerated)
				enumerate(type, &c->known[type]);
			hint = c->known[type].names
				       ? hl_near_miss(name,
						      (const char *const *)
							      c->known[type].names)
				       : NULL;
			snprintf(message, sizeof(message), "%s '%s' in %s is "
				 "unknown to NSS%s%s%s", what, name, where,
				 hint ? " (did you mean '" : "",
				 hint ? hint : "", hint ? "'?)" : "");
		}
		c->warn(c->data, message);
		c->warnings++;
	}
}

unsigned hl_preflight_names(const struct hl_config *cfg,
			    void (*warn)(void *data, const char *message),
			    void *data)
{
	struct names_check c = { cfg, warn, data, { { 0 }, { 0 } }, 0 };

	for (int type = USER; type <= GROUP; type++) {
		each_list(cfg, (enum name_type)type, add_known, &c);
		each_list(cfg, (enum name_type)type, check_list, &c);
		known_free(&c.known[type]);
	}
	return c.warnings;
}
