/* SPDX-License-Identifier: BSD-3-Clause */
/* helpdesk-license report: its options, its input and its outputs. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "safefile.h"

#define PROGRAM "helpdesk-license"
#define DAY_MS (86400LL * 1000)
#define LOGS_MAX 64			/* --log given again and again */

enum { EXIT_NO = 1, EXIT_USAGE = 2 };

enum { OPT_SINCE = 256, OPT_UNTIL, OPT_HTML, OPT_MAX_REFUSALS, OPT_WORKDAY,
       OPT_WORKING_HOURS, OPT_MIN_DAYS, OPT_LOG };

static const struct option report_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "json", no_argument, NULL, 'j' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "html", required_argument, NULL, OPT_HTML },
	{ "max-refusals", required_argument, NULL, OPT_MAX_REFUSALS },
	{ "workday", required_argument, NULL, OPT_WORKDAY },
	{ "working-hours", required_argument, NULL, OPT_WORKING_HOURS },
	{ "min-days", required_argument, NULL, OPT_MIN_DAYS },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void report_usage(FILE *out)
{
	fprintf(out,
"usage: " PROGRAM " [-c FILE] report [--since DATE] [--until DATE] [--json]\n"
"                        [--html FILE] [--max-refusals N] [--workday HOURS]\n"
"                        [--working-hours DAYS,HH:MM-HH:MM] [--min-days N]\n"
"                        [--log FILE]...\n"
"\n"
"  --since DATE       from DATE (YYYY-MM-DD or ISO 8601; default: the first event)\n"
"  --until DATE       to DATE (a date alone: its end; default: now)\n"
"  --json             one JSON document on stdout, for scripts\n"
"  --html FILE        also write a self-contained HTML page with charts\n"
"  --max-refusals N   the planner's target of refusals per pool (default 0)\n"
"  --workday HOURS    the working day of the planner's shares (default: the\n"
"                     length of the working hours)\n"
"  --working-hours DAYS,HH:MM-HH:MM\n"
"                     the working hours, UTC (default Mon-Fri,08:00-18:00)\n"
"  --min-days N       no advice on a log of fewer days (default 7)\n"
"  --log FILE         the event log (default: event_log of the configuration);\n"
"                     again for each host of a shared backend: one report\n"
"                     over all their events\n");
}

void hl_command_fail(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM ": ", stderr);
	if (command != NULL)
		fprintf(stderr, "%s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define report_fail(...) hl_command_fail("report", __VA_ARGS__)

static void warn_stderr(const char *message)
{
	char shown[PATH_MAX + 256];

	report_fail("%s", hl_printable(message, shown, sizeof(shown)));
}

void hl_emit_stderr(void *data, int priority, const char *message)
{
	(void)data;
	if (priority <= LOG_WARNING)
		fprintf(stderr, PROGRAM ": %s\n", message);
}

bool hl_subcommand_wanted(int argc, char **argv, const char *name)
{
	/* The options of any command that take a value: skipped with it. */
	static const char *const with_value[] = {
		"-c", "--config", "-p", "--pool", "-o", "--output", "--since",
		"--until", "--html", "--max-refusals", "--workday",
		"--working-hours", "--min-days", "--log", "--user", "--event",
		NULL
	};

	for (int i = 1; i < argc; i++) {
		bool skip = false;

		if (strcmp(argv[i], "--") == 0)
			return i + 1 < argc && strcmp(argv[i + 1], name) == 0;
		if (argv[i][0] != '-')
			return strcmp(argv[i], name) == 0;
		for (size_t k = 0; with_value[k]; k++)
			skip |= strcmp(argv[i], with_value[k]) == 0;
		if (skip)
			i++;
	}
	return false;
}

static bool parse_date(const char *text, bool end, long long *ms)
{
	bool date_only;

	if (!hl_parse_iso_time(text, ms, &date_only))
		return false;
	if (end && date_only)
		*ms += DAY_MS;	/* --until a date: all of that day */
	return true;
}

static int write_html(const char *path, const struct hl_report *report)
{
	struct hl_buf buf;
	char *text, why[256];
	int rc = 0;

	hl_buf_init(&buf);
	hl_report_html(report, &buf);
	text = hl_buf_take(&buf);
	if (text == NULL) {
		report_fail("out of memory");
		return EXIT_NO;
	}
	if (hl_replace_file(path, text, strlen(text), 0640, why,
			    sizeof(why)) != 0) {
		report_fail("%s: %s", path, why);
		rc = EXIT_NO;
	}
	free(text);
	return rc;
}

/* What the command line asks of the report. */
struct report_args {
	struct hl_report_options opt;
	const char *config, *html;
	const char *log_paths[LOGS_MAX];
	size_t log_count;
	bool json;
};

/* One option of the report into *args: -1 to go on, else the exit status. */
static int report_option(int c, struct report_args *args)
{
	struct hl_report_options *opt = &args->opt;
	char *end;

	switch (c) {
	case 'c': args->config = optarg; break;
	case 'j': args->json = true; break;
	case OPT_HTML: args->html = optarg; break;
	case OPT_LOG:
		if (args->log_count == LOGS_MAX) {
			report_fail("at most %d event logs", LOGS_MAX);
			return EXIT_USAGE;
		}
		args->log_paths[args->log_count++] = optarg;
		break;
	case OPT_SINCE:
	case OPT_UNTIL:
		if (!parse_date(optarg, c == OPT_UNTIL,
				c == OPT_SINCE ? &opt->since_ms
					       : &opt->until_ms)) {
			report_fail("%s: not a date (YYYY-MM-DD or ISO "
				    "8601)", optarg);
			return EXIT_USAGE;
		}
		*(c == OPT_SINCE ? &opt->has_since : &opt->has_until) = true;
		break;
	case OPT_MAX_REFUSALS: {
		unsigned long n;

		errno = 0;
		n = strtoul(optarg, &end, 10);
		if (errno || *end || end == optarg || *optarg == '-' ||
		    n > UINT_MAX) {
			report_fail("--max-refusals %s: not a count", optarg);
			return EXIT_USAGE;
		}
		opt->max_refusals = (unsigned)n;
		break;
	}
	case OPT_WORKDAY:
		errno = 0;
		opt->workday_hours = strtod(optarg, &end);
		if (errno || *end || end == optarg ||
		    !(opt->workday_hours > 0 && opt->workday_hours <= 24)) {
			report_fail("--workday %s: hours, more than 0 "
				    "and at most 24", optarg);
			return EXIT_USAGE;
		}
		break;
	case OPT_WORKING_HOURS:
		if (!hl_report_parse_hours(optarg, &opt->hours)) {
			report_fail("--working-hours %s: not days and "
				    "hours such as Mon-Fri,08:00-18:00",
				    optarg);
			return EXIT_USAGE;
		}
		break;
	case OPT_MIN_DAYS:
		errno = 0;
		opt->min_days = strtod(optarg, &end);
		if (errno || *end || end == optarg ||
		    !(opt->min_days >= 0 && opt->min_days <= 3660)) {
			report_fail("--min-days %s: days, 0 to 3660",
				    optarg);
			return EXIT_USAGE;
		}
		break;
	case 'h': report_usage(stdout); return 0;
	default: report_usage(stderr); return EXIT_USAGE;
	}
	return -1;
}

/*
 * Several logs (one per host of a shared backend) are one log: each read
 * adds its events, ordered by time with the others.  False, said on
 * stderr, when one cannot be read.
 */
static bool read_event_logs(const struct report_args *args,
			    struct hl_eventlog *log)
{
	char why[PATH_MAX + 128];

	for (size_t i = 0; i < args->log_count; i++) {
		if (hl_eventlog_read_unsorted(args->log_paths[i], log,
					      warn_stderr, why,
					      sizeof(why)) == 0)
			continue;
		/* The event log is root's (mode 0600 in a 0700 directory). */
		report_fail("%s%s", why, strstr(why, strerror(EACCES)) &&
					      geteuid() != 0
					      ? ": run it as root" : "");
		return false;
	}
	hl_eventlog_sort(log);
	return true;
}

/* The report on stdout, as text or JSON: the exit status. */
static int print_report(const struct hl_report *report, bool json)
{
	struct hl_buf out;
	char *text;

	hl_buf_init(&out);
	if (json)
		hl_report_json(report, &out);
	else
		hl_report_text(report, &out);
	text = hl_buf_take(&out);
	if (text == NULL) {
		report_fail("out of memory");
		return EXIT_NO;
	}
	fputs(text, stdout);
	free(text);
	return fflush(stdout) == 0 ? 0 : EXIT_NO;
}

int hl_report_main(int argc, char **argv, const char *default_config)
{
	struct report_args args = {
		.opt = {
			.hours = HL_REPORT_HOURS_DEFAULT,
			.min_days = HL_REPORT_MIN_DAYS,
			.min_logins = HL_REPORT_MIN_LOGINS,
		},
		.config = default_config,
	};
	struct hl_logger logger = { .emit = hl_emit_stderr };
	struct hl_config *cfg = NULL;
	struct hl_eventlog log;
	struct hl_report *report = NULL;
	struct timespec now;
	char why[PATH_MAX + 128];
	int c, rc = EXIT_NO;

	memset(&log, 0, sizeof(log));
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:jh", report_options, NULL)) != -1) {
		int status = report_option(c, &args);

		if (status >= 0)
			return status;
	}
	if (argc - optind != 1 || strcmp(argv[optind], "report") != 0) {
		report_fail("takes no argument");
		report_usage(stderr);
		return EXIT_USAGE;
	}
	if (hl_config_load(args.config, &logger, &cfg, NULL) != 0) {
		report_fail("%s: the configuration is not usable (see above)",
			    args.config);
		return EXIT_NO;
	}
	if (args.log_count == 0 && cfg->event_log != NULL)
		args.log_paths[args.log_count++] = cfg->event_log;
	if (args.log_count == 0) {
		report_fail("%s turns the event log off: there is nothing to "
			    "report on", args.config);
		goto out;
	}
	if (!read_event_logs(&args, &log))
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	args.opt.now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	report = hl_report_build(cfg, &log, &args.opt, why, sizeof(why));
	if (report == NULL) {
		report_fail("%s", why);
		rc = strstr(why, "period") ? EXIT_USAGE : EXIT_NO;
		goto out;
	}
	if (args.html && write_html(args.html, report) != 0)
		goto out;
	rc = print_report(report, args.json);
out:
	hl_report_free(report);
	hl_eventlog_free(&log);
	hl_config_free(cfg);
	return rc;
}
