/* SPDX-License-Identifier: BSD-3-Clause */
/* helpdesk-license events: its options, the filter, the two ways to
 * print an event, and following the log across its rotation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "eventread.h"
#include "events.h"
#include "report.h"
#include "safefile.h"
#include "text.h"

#define PROGRAM "helpdesk-license"
#define LINE_MAX_BYTES (64 * 1024)	/* as the reader's */
/* How often a follower looks at the log when no inotify event comes: a
 * backstop for filesystems without inotify, not a timing assumption. */
#define FOLLOW_LOOK_MS 1000

enum { EXIT_NO = 1, EXIT_USAGE = 2 };
enum { OPT_SINCE = 256, OPT_POOL, OPT_USER, OPT_EVENT, OPT_LOG };

struct filter {
	const char *pool, *user;
	int type;		/* enum hl_logevent_type, or -1: any */
	bool has_since;
	long long since_ms;
};

struct events {
	struct filter filter;
	bool json;
	struct hl_buf line;	/* a line read in part */
	struct hl_buf out;
	unsigned long skipped;
};

#define events_fail(...) hl_command_fail("events", __VA_ARGS__)

static void events_usage(FILE *out)
{
	fprintf(out,
"usage: " PROGRAM " [-c FILE] events [--follow] [--pool P] [--user U]\n"
"                        [--event E] [--since T] [--json] [--log FILE]\n"
"\n"
"  -f, --follow       keep reading as events are appended, across rotation\n"
"  --pool P           only events of pool P\n"
"  --user U           only events of technician U\n"
"  --event E          only events of type E (grant, join, deny, release,\n"
"                     reap, admin-release, assign, unassign, wait, error)\n"
"  --since T          only events from T on: ISO 8601 (2026-11-02,\n"
"                     2026-11-02T08:00Z) or a duration ago (90s, 15m, 1h, 2d)\n"
"  --json             the matching lines as they stand in the log\n"
"  --log FILE         the event log (default: event_log of the configuration)\n");
}

/* --since: an ISO 8601 time, or a duration before now. */
static bool parse_since(const char *text, long long *ms)
{
	unsigned seconds;
	bool date_only;

	if (hl_parse_iso_time(text, ms, &date_only))
		return true;
	if (!hl_parse_duration(text, &seconds))
		return false;
	*ms = (long long)time(NULL) * 1000 - (long long)seconds * 1000;
	return true;
}

/* A string field of the line, or "" when absent or not a string. */
static const char *text_of(const struct hl_jsonl_object *obj, const char *key)
{
	const char *value = hl_jsonl_string(obj, key);

	return value != NULL ? value : "";
}

/* A column: escaped, padded to width, never cut (a log viewer loses
 * nothing); "-" when empty. */
static void column(struct hl_buf *buf, const char *text, int width)
{
	size_t start = buf->len;

	hl_buf_printable(buf, *text ? text : "-");
	for (int n = (int)(buf->len - start); n < width; n++)
		hl_buf_puts(buf, " ");
	hl_buf_puts(buf, " ");
}

static void human_header(struct hl_buf *buf)
{
	hl_buf_printf(buf, "%-19s %-13s %-12s %-20s %-8s %-7s %-15s %s\n",
		      "TIME", "EVENT", "USER", "LICENSE", "SERVICE", "TTY",
		      "FROM", "REASON");
}

static void human_line(struct hl_buf *buf, const struct hl_logevent *ev,
		       const struct hl_jsonl_object *obj)
{
	const struct hl_jsonl_field *slot = hl_jsonl_get(obj, "slot");
	time_t when = (time_t)(ev->ms / 1000);
	char at[32], license[128];
	size_t end;
	struct tm tm;

	localtime_r(&when, &tm);
	strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", &tm);
	if (ev->kind == HL_LOGEV_NAMED)
		snprintf(license, sizeof(license), "named");
	else if (slot && slot->type == HL_JSONL_NUMBER)
		snprintf(license, sizeof(license), "%s #%s",
			 text_of(obj, "pool"), slot->value);
	else
		snprintf(license, sizeof(license), "%s", text_of(obj, "pool"));
	column(buf, at, 19);
	column(buf, hl_logevent_name(ev->type), 13);
	column(buf, text_of(obj, "user"), 12);
	column(buf, license, 20);
	column(buf, text_of(obj, "service"), 8);
	column(buf, text_of(obj, "tty"), 7);
	column(buf, text_of(obj, "rhost"), 15);
	column(buf, text_of(obj, "reason"), 0);
	/* No trailing blanks. */
	end = buf->len;
	while (end > 0 && buf->data[end - 1] == ' ')
		end--;
	buf->len = end;
	if (buf->data)
		buf->data[end] = '\0';
	hl_buf_puts(buf, "\n");
}

/* One whole line of the log: printed when it is an event that matches. */
static void one_line(struct events *e, const char *line, size_t len)
{
	struct hl_eventlog scratch;	/* per line: a follower runs for days */
	struct hl_jsonl_object obj;
	struct hl_logevent ev;
	enum hl_skip_cause cause;
	const struct filter *f = &e->filter;
	char *copy;

	if (len == 0)
		return;
	copy = malloc(len + 1);
	if (copy == NULL) {
		e->skipped++;
		return;
	}
	memcpy(copy, line, len);
	copy[len] = '\0';
	memset(&scratch, 0, sizeof(scratch));
	if (!hl_eventlog_parse_line(&scratch, copy, len, &ev, &obj, &cause)) {
		e->skipped++;
	} else if ((f->type < 0 || ev.type == f->type) &&
		   (!f->has_since || ev.ms >= f->since_ms) &&
		   (f->user == NULL || strcmp(text_of(&obj, "user"), f->user) == 0) &&
		   (f->pool == NULL || strcmp(text_of(&obj, "pool"), f->pool) == 0)) {
		if (e->json) {
			hl_buf_append(&e->out, line, len);
			hl_buf_puts(&e->out, "\n");
		} else {
			human_line(&e->out, &ev, &obj);
		}
	}
	hl_eventlog_free(&scratch);
	free(copy);
}

/* Whatever was read: whole lines go out, the rest waits for its end. */
static void take(struct events *e, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t part = nl ? (size_t)(nl - data) : len;

		if (e->line.len + part <= LINE_MAX_BYTES)
			hl_buf_append(&e->line, data, part);
		else
			e->line.failed = true;	/* too long: skipped whole */
		if (nl == NULL)
			return;
		if (e->line.failed)
			e->skipped++;
		else
			one_line(e, e->line.data, e->line.len);
		e->line.len = 0;
		e->line.failed = false;
		data = nl + 1;
		len -= part + 1;
	}
}

static bool flush_out(struct events *e)
{
	bool ok = !e->out.failed;

	if (ok && e->out.len)
		ok = fwrite(e->out.data, 1, e->out.len, stdout) == e->out.len &&
		     fflush(stdout) == 0;
	e->out.len = 0;
	e->out.failed = false;
	return ok;
}

/* Reads fd to its end. */
static int drain(struct events *e, int fd)
{
	char chunk[64 * 1024];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		take(e, chunk, (size_t)n);
		if (!flush_out(e))
			return -2;
	}
	return 0;
}

/* The log opened as every file the tool trusts; -1 with errno ENOENT when
 * it is not there (yet). */
static int open_log(const char *path, bool quiet_missing)
{
	char why[PATH_MAX + 128];
	int fd = hl_open_trusted(path, O_RDONLY, 0, why, sizeof(why));

	if (fd < 0 && !(quiet_missing && errno == ENOENT))
		events_fail("%s", why);
	return fd;
}

/*
 * As tail -F: reads on from where it was; when the name leads to another
 * file (rotated: renamed, and a new one created), reads the old one to
 * its end and goes on with the new one from its start; when the file
 * shrank (truncated in place), reads it again from its start.  Woken by
 * inotify on the directory, and every FOLLOW_LOOK_MS besides.
 */
static int follow(struct events *e, const char *path, int fd)
{
	char dir[PATH_MAX], base[NAME_MAX + 1];
	int watch = -1, rc;

	if (hl_split_path(path, dir, sizeof(dir), base, sizeof(base))) {
		watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (watch >= 0 &&
		    inotify_add_watch(watch, dir, IN_MODIFY | IN_CREATE |
				      IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
				      IN_CLOSE_WRITE) < 0) {
			close(watch);
			watch = -1;
		}
	}
	for (;;) {
		struct stat by_name, opened;
		struct pollfd p = { watch, POLLIN, 0 };
		char events_buf[4096];

		if (fd >= 0 && (rc = drain(e, fd)) != 0)
			break;
		if (poll(&p, watch >= 0 ? 1 : 0, FOLLOW_LOOK_MS) > 0)
			while (read(watch, events_buf, sizeof(events_buf)) > 0)
				;	/* what changed is looked at below */
		if (fd < 0) {
			fd = open_log(path, true);
			continue;
		}
		if (fstat(fd, &opened) != 0) {
			rc = -1;
			break;
		}
		if (stat(path, &by_name) == 0 &&
		    (by_name.st_ino != opened.st_ino ||
		     by_name.st_dev != opened.st_dev)) {
			/* Rotated: what was appended to the old file first. */
			if ((rc = drain(e, fd)) != 0)
				break;
			close(fd);
			fd = open_log(path, true);
			e->line.len = 0;
		} else if (lseek(fd, 0, SEEK_CUR) > opened.st_size) {
			lseek(fd, 0, SEEK_SET);	/* truncated in place */
			e->line.len = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	if (watch >= 0)
		close(watch);
	if (rc == -1)
		events_fail("%s: %s", path, strerror(errno));
	return EXIT_NO;
}

/* What the command line asks besides the filter and the format. */
struct events_args {
	const char *config, *log_path;
	bool follow;
};

/* One option into *e and *args: -1 to go on, else the exit status. */
static int events_option(int c, struct events *e, struct events_args *args)
{
	switch (c) {
	case 'c': args->config = optarg; break;
	case 'j': e->json = true; break;
	case 'f': args->follow = true; break;
	case OPT_POOL: e->filter.pool = optarg; break;
	case OPT_USER: e->filter.user = optarg; break;
	case OPT_LOG: args->log_path = optarg; break;
	case OPT_EVENT:
		for (unsigned k = 0; hl_logevent_name(k); k++)
			if (strcmp(optarg, hl_logevent_name(k)) == 0)
				e->filter.type = (int)k;
		if (e->filter.type < 0) {
			events_fail("--event %s: not an event type", optarg);
			return EXIT_USAGE;
		}
		break;
	case OPT_SINCE:
		if (!parse_since(optarg, &e->filter.since_ms)) {
			events_fail("--since %s: not a time (ISO 8601) "
				    "nor a duration (90s, 15m, 1h, 2d)",
				    optarg);
			return EXIT_USAGE;
		}
		e->filter.has_since = true;
		break;
	case 'h': events_usage(stdout); return 0;
	default: events_usage(stderr); return EXIT_USAGE;
	}
	return -1;
}

/* The log read once to its end (no --follow): the exit status. */
static int read_once(struct events *e, int fd, const char *log_path)
{
	int rc = EXIT_NO;

	switch (drain(e, fd)) {
	case 0:
		/* A last line without its newline: read if it is whole. */
		if (e->line.len && !e->line.failed)
			one_line(e, e->line.data, e->line.len);
		rc = flush_out(e) ? 0 : EXIT_NO;
		break;
	case -1:
		events_fail("%s: %s", log_path, strerror(errno));
		break;
	default:
		break;
	}
	if (e->skipped)
		events_fail("%s: %lu line%s skipped (not an event)", log_path,
			    e->skipped, e->skipped == 1 ? "" : "s");
	return rc;
}

int hl_events_main(int argc, char **argv, const char *default_config)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "user", required_argument, NULL, OPT_USER },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hl_logger logger = { .emit = hl_emit_stderr };
	struct events_args args = { .config = default_config };
	struct hl_config *cfg = NULL;
	struct events e;
	int c, fd = -1, rc = EXIT_NO;

	memset(&e, 0, sizeof(e));
	e.filter.type = -1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:jfh", options, NULL)) != -1) {
		int status = events_option(c, &e, &args);

		if (status >= 0)
			return status;
	}
	if (argc - optind != 1 || strcmp(argv[optind], "events") != 0) {
		events_fail("takes no argument");
		events_usage(stderr);
		return EXIT_USAGE;
	}
	if (args.log_path == NULL) {
		if (hl_config_load(args.config, &logger, &cfg, NULL) != 0) {
			events_fail("%s: the configuration is not usable (see "
				    "above)", args.config);
			return EXIT_NO;
		}
		args.log_path = cfg->event_log;
		if (args.log_path == NULL) {
			events_fail("%s turns the event log off", args.config);
			goto out;
		}
	}
	hl_buf_init(&e.line);
	hl_buf_init(&e.out);
	fd = open_log(args.log_path, args.follow);
	if (fd < 0 && !args.follow)
		goto out;
	if (!e.json) {
		human_header(&e.out);
		if (!flush_out(&e))
			goto out;
	}
	if (args.follow) {
		rc = follow(&e, args.log_path, fd);
		fd = -1;
		goto out;
	}
	rc = read_once(&e, fd, args.log_path);
out:
	if (fd >= 0)
		close(fd);
	hl_buf_free(&e.line);
	hl_buf_free(&e.out);
	hl_config_free(cfg);
	return rc;
}
