/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "eventread.h"
#include "jsonl.h"
#include "safefile.h"
#include "text.h"

#define LINE_MAX_BYTES (64 * 1024)	/* an event line is far shorter */
#define SESSION_MAX 128
#define REASON_MAX 512

/* ---- interned strings ------------------------------------------------------ */

static size_t hash_text(const char *text)
{
	size_t h = 14695981039346656037ULL & SIZE_MAX;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * (sizeof(size_t) > 4 ? 1099511628211ULL & SIZE_MAX
						   : 16777619U);
	return h;
}

static bool strtab_grow(struct hl_strtab *tab)
{
	size_t nslots = tab->nslots ? tab->nslots * 2 : 256;
	int *slots = calloc(nslots, sizeof(*slots));

	if (slots == NULL)
		return false;
	for (size_t i = 0; i < tab->count; i++) {
		size_t at = hash_text(tab->strings[i]) & (nslots - 1);

		while (slots[at])
			at = (at + 1) & (nslots - 1);
		slots[at] = (int)i + 1;
	}
	free(tab->slots);
	tab->slots = slots;
	tab->nslots = nslots;
	return true;
}

int hl_strtab_find(const struct hl_strtab *tab, const char *text)
{
	if (tab->nslots == 0)
		return -1;
	for (size_t at = hash_text(text) & (tab->nslots - 1);
	     tab->slots[at]; at = (at + 1) & (tab->nslots - 1))
		if (strcmp(tab->strings[tab->slots[at] - 1], text) == 0)
			return tab->slots[at] - 1;
	return -1;
}

static int strtab_intern(struct hl_strtab *tab, const char *text)
{
	int found = hl_strtab_find(tab, text);
	size_t at;

	if (found >= 0)
		return found;
	if (tab->count >= INT_MAX - 1)
		return -1;
	/* At most half full, so probes stay short. */
	if ((tab->count + 1) * 2 > tab->nslots && !strtab_grow(tab))
		return -1;
	if (tab->count == tab->cap) {
		size_t cap = tab->cap ? tab->cap * 2 : 64;
		char **grown = realloc(tab->strings, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		tab->strings = grown;
		tab->cap = cap;
	}
	tab->strings[tab->count] = strdup(text);
	if (tab->strings[tab->count] == NULL)
		return -1;
	at = hash_text(text) & (tab->nslots - 1);
	while (tab->slots[at])
		at = (at + 1) & (tab->nslots - 1);
	tab->slots[at] = (int)tab->count + 1;
	return (int)tab->count++;
}

static void strtab_free(struct hl_strtab *tab)
{
	for (size_t i = 0; i < tab->count; i++)
		free(tab->strings[i]);
	free(tab->strings);
	free(tab->slots);
	memset(tab, 0, sizeof(*tab));
}

/* ---- times ------------------------------------------------------------------ */

static long long days_from_civil(int year, unsigned month, unsigned day)
{
	/* H. Hinnant's days_from_civil. */
	long long y = (long long)year - (month <= 2);
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (long long)doe - 719468;
}

/* n digits at *p into *out; advances *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char ch)
{
	if (**p != ch)
		return false;
	(*p)++;
	return true;
}

bool hl_parse_iso_time(const char *text, long long *ms, bool *date_only)
{
	static const unsigned char month_days[] =
		{ 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = text;
	int year, month, day, hour = 0, minute = 0, second = 0, milli = 0;
	int zh, zm, offset = 0;

	if (!digits(&p, 4, &year) || !expect(&p, '-') ||
	    !digits(&p, 2, &month) || !expect(&p, '-') ||
	    !digits(&p, 2, &day) || month < 1 || month > 12 || day < 1 ||
	    day > month_days[month - 1] ||
	    (month == 2 && day == 29 &&
	     !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))))
		return false;
	*date_only = *p == '\0';
	if (*p != '\0') {
		if ((*p != 'T' && *p != ' ') || !(p++, digits(&p, 2, &hour)) ||
		    !expect(&p, ':') || !digits(&p, 2, &minute) || hour > 23 ||
		    minute > 59)
			return false;
		if (*p == ':' && (!(p++, digits(&p, 2, &second)) || second > 60))
			return false;
		if (*p == '.' || *p == ',') {
			int scale = 100, n = 0;

			for (p++; *p >= '0' && *p <= '9'; p++, n++) {
				milli += (*p - '0') * scale;
				scale /= 10;
			}
			if (n == 0 || n > 9)
				return false;
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;

			if (!digits(&p, 2, &zh) || (*p == ':' && !(p++, 1)) ||
			    !digits(&p, 2, &zm) || zh > 23 || zm > 59)
				return false;
			offset = sign * (zh * 60 + zm) * 60;
		}
		if (*p != '\0')
			return false;
		if (second == 60)
			second = 59;	/* a leap second: close enough */
	}
	*ms = ((days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
		hour * 3600 + minute * 60 + second - offset) * 1000) + milli;
	return true;
}

/* ---- lines ------------------------------------------------------------------ */

const char *hl_logevent_name(unsigned type)
{
	return type < HL_EVENT_TYPES ? hl_event_name((enum hl_event_type)type)
				     : NULL;
}

const char *hl_skip_cause_name(enum hl_skip_cause cause)
{
	static const char *const names[HL_SKIP_CAUSES] = {
		[HL_SKIP_NOT_JSON] = "not_json",
		[HL_SKIP_TOO_LONG] = "too_long",
		[HL_SKIP_TIME] = "bad_time",
		[HL_SKIP_EVENT] = "unknown_event",
		[HL_SKIP_USER] = "bad_user",
		[HL_SKIP_FIELD] = "bad_field",
		[HL_SKIP_NO_MEMORY] = "no_memory",
	};

	return (unsigned)cause < HL_SKIP_CAUSES ? names[cause] : "unknown";
}

/* A string of at most max bytes without control characters; empty only
 * when empty_ok. */
static bool plain_text(const char *text, size_t max, bool empty_ok)
{
	size_t len = strlen(text);

	if ((len == 0 && !empty_ok) || len > max)
		return false;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			return false;
	return true;
}

/* An optional string field: its index in tab; false when it is not a
 * plain string of at most max bytes (or out of memory: *nomem). */
static bool text_field(struct hl_strtab *tab, const struct hl_jsonl_field *f,
		       size_t max, bool empty_ok, int *index, bool *nomem)
{
	if (f->type != HL_JSONL_STRING || !plain_text(f->value, max, empty_ok))
		return false;
	*index = strtab_intern(tab, f->value);
	*nomem = *index < 0;
	return *index >= 0;
}

/* "idle": whole seconds, 0 up to INT_MAX (more is kept as INT_MAX:
 * decades of idle are as good as forever). */
static bool idle_seconds(const struct hl_jsonl_field *f, int *idle)
{
	const char *p = f->value;
	long long n = 0;

	if (f->type != HL_JSONL_NUMBER || *p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		n = n < INT_MAX ? n * 10 + (*p - '0') : INT_MAX;
	if (*p != '\0')
		return false;
	*idle = n < INT_MAX ? (int)n : INT_MAX;
	return true;
}

enum field_role { ROLE_OTHER, ROLE_TIME, ROLE_EVENT, ROLE_USER, ROLE_KIND,
		  ROLE_POOL, ROLE_SESSION, ROLE_REASON, ROLE_TEXT, ROLE_NUMBER,
		  ROLE_IDLE };

static enum field_role role_of(const char *key)
{
	static const struct { const char *key; enum field_role role; } roles[] = {
		{ "time", ROLE_TIME }, { "event", ROLE_EVENT },
		{ "user", ROLE_USER }, { "kind", ROLE_KIND },
		{ "pool", ROLE_POOL }, { "session", ROLE_SESSION },
		{ "reason", ROLE_REASON }, { "service", ROLE_TEXT },
		{ "tty", ROLE_TEXT }, { "rhost", ROLE_TEXT },
		{ "host", ROLE_TEXT }, { "slot", ROLE_NUMBER },
		{ "pid", ROLE_NUMBER }, { "idle", ROLE_IDLE },
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (key[0] == roles[i].key[0] &&
		    strcmp(key, roles[i].key) == 0)
			return roles[i].role;
	/* Other keys are a later version's: the line is read without them. */
	return ROLE_OTHER;
}

/* Reads field f, of role, into ev (time and user: the strings, checked
 * later); false when its value is not one the role takes. */
static bool read_field(struct hl_eventlog *log,
		       const struct hl_jsonl_field *f, enum field_role role,
		       struct hl_logevent *ev, const char **time,
		       const char **user, bool *nomem)
{
	bool string = f->type == HL_JSONL_STRING, ok = true;

	switch (role) {
	case ROLE_TIME: *time = string ? f->value : NULL; ok = string; break;
	case ROLE_USER: *user = string ? f->value : NULL; ok = string; break;
	case ROLE_EVENT: {
		enum hl_event_type type;

		if (string && hl_event_type_of(f->value, &type))
			ev->type = (unsigned char)type;
		break;
	}
	case ROLE_KIND:
		if (string && strcmp(f->value, "named") == 0)
			ev->kind = HL_LOGEV_NAMED;
		else if (string && strcmp(f->value, "concurrent") == 0)
			ev->kind = HL_LOGEV_CONCURRENT;
		else
			ok = false;
		break;
	case ROLE_POOL:
		ok = text_field(&log->names, f, 64, false, &ev->pool,
				nomem);
		break;
	case ROLE_SESSION:
		ok = text_field(&log->sessions, f, SESSION_MAX, false,
				&ev->session, nomem);
		break;
	case ROLE_REASON:
		/* An empty reason is a reason. */
		ok = text_field(&log->names, f, REASON_MAX, true,
				&ev->reason, nomem);
		break;
	case ROLE_TEXT: ok = string; break;
	case ROLE_NUMBER:
		ok = f->type == HL_JSONL_NUMBER && *f->value != '-';
		break;
	case ROLE_IDLE:
		ok = idle_seconds(f, &ev->idle);
		break;
	case ROLE_OTHER: break;
	}
	return ok;
}

bool hl_eventlog_parse_line(struct hl_eventlog *log, char *line, size_t len,
			    struct hl_logevent *ev,
			    struct hl_jsonl_object *obj,
			    enum hl_skip_cause *cause)
{
	enum { NO_EVENT = HL_EVENT_TYPES };
	const char *time = NULL, *user = NULL;
	bool date_only, nomem = false;

	memset(ev, 0, sizeof(*ev));
	ev->type = NO_EVENT;
	ev->pool = ev->session = ev->reason = ev->idle = HL_NONE;
	if (len == 0 || len > LINE_MAX_BYTES) {
		*cause = len ? HL_SKIP_TOO_LONG : HL_SKIP_NOT_JSON;
		return false;
	}
	if (!hl_jsonl_parse(line, len, obj)) {
		*cause = HL_SKIP_NOT_JSON;
		return false;
	}
	/* One pass over the fields: the log is long. */
	for (size_t i = 0; i < obj->count; i++) {
		const struct hl_jsonl_field *f = &obj->fields[i];
		enum field_role role = role_of(f->key);
		bool ok;

		/* Null is absent, as a log shipper writes it. */
		if (f->type == HL_JSONL_NULL)
			continue;
		ok = read_field(log, f, role, ev, &time, &user, &nomem);
		if (!ok) {
			*cause = nomem ? HL_SKIP_NO_MEMORY
			       : role == ROLE_TIME ? HL_SKIP_TIME
			       : role == ROLE_USER ? HL_SKIP_USER
						   : HL_SKIP_FIELD;
			return false;
		}
	}
	if (time == NULL || !hl_parse_iso_time(time, &ev->ms, &date_only) ||
	    date_only) {
		*cause = HL_SKIP_TIME;
		return false;
	}
	if (ev->type == NO_EVENT) {
		*cause = HL_SKIP_EVENT;
		return false;
	}
	if (user == NULL || !hl_user_valid(user)) {
		*cause = HL_SKIP_USER;
		return false;
	}
	ev->user = strtab_intern(&log->names, user);
	*cause = HL_SKIP_NO_MEMORY;
	return ev->user >= 0;
}

/* Counts a line skipped for cause. */
static void skip(struct hl_eventlog *log, enum hl_skip_cause cause)
{
	log->skipped++;
	log->skipped_by[cause]++;
}

bool hl_eventlog_add_line(struct hl_eventlog *log, char *line, size_t len)
{
	struct hl_jsonl_object obj;
	struct hl_logevent ev;
	enum hl_skip_cause cause;

	log->lines++;
	if (!hl_eventlog_parse_line(log, line, len, &ev, &obj, &cause)) {
		skip(log, cause);
		return false;
	}
	if (log->count == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 1024;
		struct hl_logevent *grown = realloc(log->events,
						    cap * sizeof(*grown));

		if (grown == NULL) {
			skip(log, HL_SKIP_NO_MEMORY);
			return false;
		}
		log->events = grown;
		log->cap = cap;
	}
	ev.order = (unsigned)log->count;
	log->events[log->count++] = ev;
	return true;
}

static int by_time(const void *a, const void *b)
{
	const struct hl_logevent *x = a, *y = b;

	if (x->ms != y->ms)
		return x->ms < y->ms ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void hl_eventlog_sort(struct hl_eventlog *log)
{
	/* Lines a killed writer left in its outbox reach the log later
	 * than lines written after them: time, not place, orders events. */
	if (log->count > 1)
		qsort(log->events, log->count, sizeof(*log->events), by_time);
}

void hl_eventlog_free(struct hl_eventlog *log)
{
	free(log->events);
	strtab_free(&log->names);
	strtab_free(&log->sessions);
	memset(log, 0, sizeof(*log));
}

/* ---- files ------------------------------------------------------------------ */

static void warnf(void (*warn)(const char *message), const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warnf(void (*warn)(const char *message), const char *fmt, ...)
{
	char message[2 * PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	warn(message);
}

/* One file, plain or gzip (gzdopen reads both), line by line. */
static void read_file(struct hl_eventlog *log, int fd, const char *name,
		      void (*warn)(const char *message))
{
	enum { CHUNK = 128 * 1024 };
	struct hl_buf line;
	char *chunk = malloc(CHUNK);
	bool too_long = false;
	gzFile gz;
	int n;

	gz = chunk ? gzdopen(fd, "rb") : NULL;
	if (gz == NULL) {
		warnf(warn, "%s: cannot read: %s", name,
		      chunk ? strerror(errno) : "out of memory");
		free(chunk);
		close(fd);
		return;
	}
	gzbuffer(gz, CHUNK);
	hl_buf_init(&line);
	log->files++;
	while ((n = gzread(gz, chunk, CHUNK)) > 0) {
		char *p = chunk, *end = chunk + n;

		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = (size_t)((nl ? nl : end) - p);

			if (!too_long && line.len + take <= LINE_MAX_BYTES)
				hl_buf_append(&line, p, take);
			else
				too_long = true;
			p += take;
			if (nl == NULL)
				break;
			p++;
			if (too_long || line.failed) {
				log->lines++;
				skip(log, too_long ? HL_SKIP_TOO_LONG
						   : HL_SKIP_NO_MEMORY);
			} else if (line.len > 0) {
				hl_eventlog_add_line(log, line.data, line.len);
			}
			line.len = 0;
			too_long = false;
		}
	}
	if (n < 0) {
		int errnum;
		const char *what = gzerror(gz, &errnum);

		warnf(warn, "%s: damaged, read up to the damage: %s", name,
		      errnum == Z_ERRNO ? strerror(errno) : what);
	}
	/* A last line without its newline: a write cut short, or one
	 * still being made; it is read if it is whole. */
	if (too_long || line.failed) {
		log->lines++;
		skip(log, too_long ? HL_SKIP_TOO_LONG : HL_SKIP_NO_MEMORY);
	} else if (line.len > 0) {
		hl_eventlog_add_line(log, line.data, line.len);
	}
	hl_buf_free(&line);
	free(chunk);
	gzclose(gz);
}

struct rotated {
	char *name;
	int numbered;		/* path.N: N; path-DATE: -1 */
};

/* Whether name is base.N[.gz] (*number = N) or base-DATE[.gz] (*number =
 * -1), DATE being digits with '-' or '_' between them. */
static bool rotated_name(const char *name, const char *base, int *number)
{
	size_t blen = strlen(base), len;
	const char *p;
	char *end;

	if (strncmp(name, base, blen) != 0 || (name[blen] != '.' &&
					       name[blen] != '-'))
		return false;
	p = name + blen + 1;
	len = strlen(p);
	if (len > 3 && strcmp(p + len - 3, ".gz") == 0)
		len -= 3;
	if (len == 0 || len > 32)
		return false;
	if (name[blen] == '.') {
		long n;

		if (p[0] < '1' || p[0] > '9')
			return false;
		errno = 0;
		n = strtol(p, &end, 10);
		if (errno || (size_t)(end - p) != len || n > INT_MAX)
			return false;
		*number = (int)n;
		return true;
	}
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (i > 0 && (p[i] == '-' || p[i] == '_'))))
			return false;
	*number = -1;
	return true;
}

/* Oldest first: dated files by their date, then numbered ones from the
 * highest number. */
static int oldest_first(const void *a, const void *b)
{
	const struct rotated *x = a, *y = b;

	if ((x->numbered < 0) != (y->numbered < 0))
		return x->numbered < 0 ? -1 : 1;
	if (x->numbered < 0)
		return strcmp(x->name, y->name);
	return x->numbered > y->numbered ? -1 : x->numbered < y->numbered;
}

static void read_one(struct hl_eventlog *log, int dirfd, const char *dir,
		     const char *name, bool missing_ok,
		     void (*warn)(const char *message))
{
	char path[2 * PATH_MAX], why[128];
	struct stat st;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (!(missing_ok && errno == ENOENT)) {
			warnf(warn, "%s/%s: %s", dir, name,
			      errno == ELOOP ? "is a symbolic link"
					     : strerror(errno));
		}
		return;
	}
	if (fstat(fd, &st) != 0 || !hl_check_stat(&st, S_IFREG, why, sizeof(why))) {
		warnf(warn, "%s/%s: not read: %s", dir, name, why);
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	read_file(log, fd, path, warn);
}

int hl_eventlog_read(const char *path, struct hl_eventlog *log,
		     void (*warn)(const char *message), char *why, size_t len)
{
	if (hl_eventlog_read_unsorted(path, log, warn, why, len) != 0)
		return -1;
	hl_eventlog_sort(log);
	return 0;
}

int hl_eventlog_read_unsorted(const char *path, struct hl_eventlog *log,
			      void (*warn)(const char *message), char *why,
			      size_t len)
{
	char dir[PATH_MAX], base[NAME_MAX + 1];
	struct rotated *rotated = NULL;
	size_t count = 0, cap = 0;
	struct dirent *entry;
	DIR *listing = NULL;
	int dirfd = -1, rc = -1;

	if (!hl_split_path(path, dir, sizeof(dir), base, sizeof(base))) {
		snprintf(why, len, "%s: not a file path", path);
		return -1;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT)
			return 0;	/* no log yet: nothing happened */
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	listing = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
	if (listing == NULL) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		goto out;
	}
	while ((entry = readdir(listing)) != NULL) {
		int number;

		if (!rotated_name(entry->d_name, base, &number))
			continue;
		if (count == cap) {
			struct rotated *grown;

			cap = cap ? cap * 2 : 16;
			grown = realloc(rotated, cap * sizeof(*grown));
			if (grown == NULL)
				goto nomem;
			rotated = grown;
		}
		rotated[count].name = strdup(entry->d_name);
		if (rotated[count].name == NULL)
			goto nomem;
		rotated[count++].numbered = number;
	}
	if (count > 1)
		qsort(rotated, count, sizeof(*rotated), oldest_first);
	for (size_t i = 0; i < count; i++)
		read_one(log, dirfd, dir, rotated[i].name, false, warn);
	read_one(log, dirfd, dir, base, true, warn);
	rc = 0;
	goto out;
nomem:
	snprintf(why, len, "out of memory");
out:
	for (size_t i = 0; i < count; i++)
		free(rotated[i].name);
	free(rotated);
	if (listing)
		closedir(listing);
	close(dirfd);
	return rc;
}
