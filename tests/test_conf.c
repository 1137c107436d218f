/* Unit tests of the configuration parser (conf.c). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define CONF_DIR TEST_DATA_DIR "/conf"
#define MAX_MESSAGES 32

/* ---- a logger that keeps what it is told ---- */

struct capture {
	char *messages[MAX_MESSAGES];
	int priorities[MAX_MESSAGES];
	size_t count;
};

static void capture_emit(void *data, int priority, const char *message)
{
	struct capture *cap = data;

	assert_true(cap->count < MAX_MESSAGES);
	cap->messages[cap->count] = strdup(message);
	assert_non_null(cap->messages[cap->count]);
	cap->priorities[cap->count] = priority;
	cap->count++;
}

static void capture_free(struct capture *cap)
{
	for (size_t i = 0; i < cap->count; i++)
		free(cap->messages[i]);
	cap->count = 0;
}

/* ---- a temporary directory for files the tests make ---- */

struct tmp {
	char dir[PATH_MAX];
	char *files[8];
	size_t count;
};

static void tmp_init(struct tmp *t)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(t->dir, sizeof(t->dir), "%s/test_conf.XXXXXX", base);
	assert_non_null(mkdtemp(t->dir));
	t->count = 0;
}

/* Names a file in the directory, to be removed by tmp_cleanup. */
static const char *tmp_path(struct tmp *t, const char *name)
{
	size_t len = strlen(t->dir) + strlen(name) + 2;
	char *path = malloc(len);

	assert_true(t->count < 8);
	assert_non_null(path);
	snprintf(path, len, "%s/%s", t->dir, name);
	t->files[t->count++] = path;
	return path;
}

static const char *tmp_write(struct tmp *t, const char *name,
			     const char *text, size_t len, mode_t mode)
{
	const char *path = tmp_path(t, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

/* Copies from (a fixture's name in CONF_DIR, or a path). */
static const char *tmp_copy(struct tmp *t, const char *from,
			    const char *name, mode_t mode)
{
	char path[PATH_MAX], text[65536];
	FILE *f;
	size_t len;

	if (strchr(from, '/') == NULL) {
		snprintf(path, sizeof(path), "%s/%s", CONF_DIR, from);
		from = path;
	}
	f = fopen(from, "r");
	assert_non_null(f);
	len = fread(text, 1, sizeof(text), f);
	assert_true(len < sizeof(text));
	fclose(f);
	return tmp_write(t, name, text, len, mode);
}

static void tmp_cleanup(struct tmp *t)
{
	for (size_t i = 0; i < t->count; i++) {
		if (unlink(t->files[i]) != 0)
			assert_int_equal(errno, ENOENT);
		free(t->files[i]);
	}
	t->count = 0;
	assert_int_equal(rmdir(t->dir), 0);
}

/* Loads path; the messages must be exactly path followed by each of
 * expected (a NULL-terminated list of ":LINE: message" or ": why"). */
static int load_expecting(const char *path, const char *const *expected,
			  struct hl_config **cfg, enum hl_on_error *on_error)
{
	struct capture cap = { .count = 0 };
	struct hl_logger log = { capture_emit, &cap, true };
	size_t n = 0;
	int rc;

	rc = hl_config_load(path, &log, cfg, on_error);
	for (; expected != NULL && expected[n] != NULL; n++) {
		char want[2048];

		snprintf(want, sizeof(want), "%s%s", path, expected[n]);
		if (n >= cap.count)
			fail_msg("message %zu missing: %s", n + 1, want);
		assert_string_equal(cap.messages[n], want);
		assert_int_equal(cap.priorities[n], LOG_ERR);
	}
	if (cap.count != n)
		fail_msg("%zu messages, %zu expected; extra: %s", cap.count, n,
			 cap.messages[n]);
	capture_free(&cap);
	return rc;
}

/* A file that must be refused with exactly these messages; on_error is
 * what the caller must be told. */
static void refused(const char *path, const char *const *expected,
		    enum hl_on_error want_on_error)
{
	static struct hl_config untouched;
	struct hl_config *cfg = &untouched;	/* must come back NULL */
	enum hl_on_error on_error = (enum hl_on_error)42;

	assert_int_equal(load_expecting(path, expected, &cfg, &on_error), -1);
	assert_null(cfg);
	assert_int_equal(on_error, want_on_error);
}

/*
 * Fixtures are loaded from a 0600 copy: a checkout made with umask 002
 * has group-writable files, which the parser rightly refuses.
 */
static void refused_fixture(const char *name, const char *const *expected,
			    enum hl_on_error want_on_error)
{
	struct tmp t;

	tmp_init(&t);
	refused(tmp_copy(&t, name, name, 0600), expected, want_on_error);
	tmp_cleanup(&t);
}

static struct hl_config *loaded_fixture(const char *name,
					enum hl_on_error *on_error)
{
	struct hl_config *cfg = NULL;
	const char *path;
	struct tmp t;

	tmp_init(&t);
	path = tmp_copy(&t, name, "loaded.conf", 0600);
	assert_int_equal(load_expecting(path, NULL, &cfg, on_error), 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	tmp_cleanup(&t);
	return cfg;
}

static void assert_names(const struct hl_names *names,
			 const char *const *expected)
{
	size_t n = 0;

	for (; expected[n] != NULL; n++) {
		assert_true(n < names->count);
		assert_string_equal(names->names[n], expected[n]);
	}
	assert_int_equal(names->count, n);
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_NAMES ((const char *const[]){ NULL })
#define MESSAGES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- good files ---- */

static void test_full_example(void **state)
{
	enum hl_on_error on_error = HL_ON_ERROR_ALLOW;
	struct hl_config *cfg = loaded_fixture("good-full.conf", &on_error);
	const struct hl_pool *east, *west;

	(void)state;
	assert_int_equal(on_error, HL_ON_ERROR_DENY);
	assert_string_equal(cfg->store,
			    "/var/lib/helpdesk-license/licenses.db");
	assert_string_equal(cfg->event_log,
			    "/var/log/helpdesk-license/events.log");
	assert_int_equal(cfg->on_error, HL_ON_ERROR_DENY);
	assert_int_equal(cfg->unlicensed, HL_UNLICENSED_DENY);
	assert_true(cfg->show_holders);
	assert_int_equal(cfg->lock_timeout, 5);
	assert_int_equal(cfg->wait, 0);
	assert_names(&cfg->ignore_services, NAMES("systemd-user"));
	assert_names(&cfg->exempt_users, NAMES("root"));
	assert_names(&cfg->exempt_groups, NO_NAMES);

	assert_int_equal(cfg->named.licenses, 50);
	assert_names(&cfg->named.users, NAMES("alice", "bob"));
	assert_names(&cfg->named.groups, NAMES("callcentre"));
	assert_int_equal(cfg->named.min_assignment, 24 * 60 * 60);

	assert_int_equal(cfg->pool_count, 2);
	east = &cfg->pools[0];
	west = &cfg->pools[1];
	assert_string_equal(east->name, "field-east");
	assert_int_equal(east->licenses, 1);
	assert_names(&east->users, NO_NAMES);
	assert_names(&east->groups, NAMES("field-east"));
	assert_int_equal(east->wait, 0);
	assert_string_equal(west->name, "field-west");
	assert_int_equal(west->licenses, 2);
	assert_names(&west->users, NAMES("carol"));
	assert_names(&west->groups, NAMES("field-west"));
	assert_int_equal(west->wait, 30);

	assert_true(cfg->prices.set);
	assert_true(cfg->prices.named == 450.0);
	assert_true(cfg->prices.concurrent == 1100.0);
	assert_string_equal(cfg->prices.currency, "EUR");

	assert_true(hl_names_contain(&cfg->named.users, "bob"));
	assert_false(hl_names_contain(&cfg->named.users, "carol"));
	assert_false(hl_names_contain(&cfg->named.users, "bo"));
	assert_false(hl_names_contain(&east->users, "carol"));
	assert_false(hl_names_contain(NULL, "carol"));
	hl_config_free(cfg);
}

static void test_defaults(void **state)
{
	enum hl_on_error on_error = HL_ON_ERROR_ALLOW;
	struct hl_config *cfg = loaded_fixture("good-minimal.conf", &on_error);

	(void)state;
	assert_int_equal(on_error, HL_ON_ERROR_DENY);
	assert_string_equal(cfg->store, HL_STORE_FILE);
	assert_string_equal(cfg->event_log, HL_EVENT_LOG);
	assert_int_equal(cfg->on_error, HL_ON_ERROR_DENY);
	assert_int_equal(cfg->unlicensed, HL_UNLICENSED_DENY);
	assert_true(cfg->show_holders);
	assert_int_equal(cfg->lock_timeout, 5);
	assert_int_equal(cfg->wait, 0);
	assert_names(&cfg->ignore_services, NAMES("systemd-user", "cron", "atd"));
	assert_names(&cfg->exempt_users, NAMES("root"));
	assert_names(&cfg->exempt_groups, NO_NAMES);
	assert_int_equal(cfg->named.licenses, 0);
	assert_names(&cfg->named.users, NO_NAMES);
	assert_names(&cfg->named.groups, NO_NAMES);
	assert_int_equal(cfg->named.min_assignment, 0);
	assert_int_equal(cfg->pool_count, 0);
	assert_null(cfg->pools);
	assert_false(cfg->prices.set);
	assert_string_equal(cfg->prices.currency, "");
	assert_false(cfg->backend.enabled);
	assert_string_equal(cfg->backend.socket, HL_BACKEND_SOCKET);
	assert_int_equal(cfg->backend.heartbeat, 30);
	assert_int_equal(cfg->backend.lease, 150);
	hl_config_free(cfg);
	hl_config_free(NULL);
}

/* Other values and forms: "" event log, int64, lists, the pools' wait
 * from a top-level wait that comes after them. */
static void test_other_values(void **state)
{
	enum hl_on_error on_error = HL_ON_ERROR_DENY;
	struct hl_config *cfg = loaded_fixture("good-other.conf", &on_error);

	(void)state;
	assert_int_equal(on_error, HL_ON_ERROR_ALLOW);
	assert_int_equal(cfg->on_error, HL_ON_ERROR_ALLOW);
	assert_null(cfg->event_log);
	assert_string_equal(cfg->store, HL_STORE_FILE);
	assert_int_equal(cfg->wait, 45);
	assert_int_equal(cfg->pool_count, 3);
	assert_string_equal(cfg->pools[0].name, "a");
	assert_int_equal(cfg->pools[0].wait, 45);
	assert_string_equal(cfg->pools[1].name, "b.2_x-Y");
	assert_int_equal(cfg->pools[1].wait, 0);
	assert_string_equal(cfg->pools[2].name, "c");
	assert_int_equal(cfg->pools[2].licenses, 3);
	assert_int_equal(cfg->pools[2].wait, 120);
	assert_int_equal(cfg->pools[2].idle_timeout, 30 * 60);
	assert_int_equal(cfg->pools[0].idle_timeout, 0);	/* off */
	assert_names(&cfg->pools[2].users, NO_NAMES);
	assert_names(&cfg->pools[2].groups, NAMES("g3", "g4"));
	/* exempt.groups given, exempt.users keeps its default */
	assert_names(&cfg->exempt_users, NAMES("root"));
	assert_names(&cfg->exempt_groups, NAMES("wheel"));
	assert_names(&cfg->ignore_services, NO_NAMES);
	assert_int_equal(cfg->lock_timeout, 10);
	assert_int_equal(cfg->unlicensed, HL_UNLICENSED_IGNORE);
	assert_false(cfg->show_holders);
	assert_int_equal(cfg->named.licenses, 0);
	assert_true(cfg->prices.set);
	assert_true(cfg->prices.named == 450.0);
	assert_true(cfg->prices.concurrent == 0.0);
	assert_string_equal(cfg->prices.currency, "K\xc4\x8d");
	hl_config_free(cfg);
}

/* The example shipped in etc/ is valid, and its top-level settings are
 * the defaults, as it says. */
static void test_example_config(void **state)
{
	struct hl_config *example, *defaults;
	enum hl_on_error on_error;

	(void)state;
	example = loaded_fixture(TEST_DATA_DIR
				 "/../../etc/helpdesk-license.conf", &on_error);
	defaults = loaded_fixture("good-minimal.conf", &on_error);
	assert_string_equal(example->store, defaults->store);
	assert_string_equal(example->event_log, defaults->event_log);
	assert_int_equal(example->on_error, defaults->on_error);
	assert_int_equal(example->unlicensed, defaults->unlicensed);
	assert_int_equal(example->show_holders, defaults->show_holders);
	assert_int_equal(example->lock_timeout, defaults->lock_timeout);
	assert_int_equal(example->wait, defaults->wait);
	assert_names(&example->ignore_services, NAMES("systemd-user", "cron", "atd"));
	assert_names(&example->exempt_users, NAMES("root"));
	assert_names(&example->exempt_groups, NO_NAMES);
	assert_int_equal(example->named.licenses, 50);
	assert_int_equal(example->pool_count, 2);
	assert_int_equal(example->pools[0].wait, 0);
	assert_int_equal(example->pools[1].wait, 30);
	assert_true(example->prices.set);
	hl_config_free(example);
	hl_config_free(defaults);
}

/* on_error may be NULL; an empty [ ] of pools is no pool. */
static void test_null_on_error_and_empty_pools(void **state)
{
	static const char text[] = "concurrent = [ ];\n";
	struct capture cap = { .count = 0 };
	struct hl_logger log = { capture_emit, &cap, false };
	struct hl_config *cfg = NULL;
	struct tmp t;

	(void)state;
	tmp_init(&t);
	assert_int_equal(hl_config_load(tmp_write(&t, "empty.conf", text,
						  sizeof(text) - 1, 0600),
					&log, &cfg, NULL), 0);
	assert_int_equal(cap.count, 0);
	assert_non_null(cfg);
	assert_int_equal(cfg->pool_count, 0);
	hl_config_free(cfg);
	tmp_cleanup(&t);
}

/* ---- bad files: every problem, as FILE:LINE: message ---- */

#define DURATION_MUST "must be a duration (seconds, or a number followed " \
	"by s, m, h or d; at most 365d)"

#define SYNTAX_ERROR "syntax error (strings need double quotes: durations " \
	"are \"5m\" or an integer of seconds, names and paths are " \
	"\"quoted\"; each setting ends with ';')"

static void test_syntax_error(void **state)
{
	(void)state;
	/* on_error = "allow" comes first, but a file that does not parse
	 * gives deny. */
	refused_fixture("bad-syntax.conf", MESSAGES(":4: " SYNTAX_ERROR),
			HL_ON_ERROR_DENY);
}

/* An unquoted duration is a libconfig syntax error: the message says what
 * durations look like. */
static void test_unquoted_duration(void **state)
{
	static const char text[] = "store = \"/x/licenses.db\";\n"
		"wait = 5m;\n";
	struct tmp t;

	(void)state;
	tmp_init(&t);
	refused(tmp_write(&t, "wait.conf", text, sizeof(text) - 1, 0600),
		MESSAGES(":2: " SYNTAX_ERROR), HL_ON_ERROR_DENY);
	tmp_cleanup(&t);
}

/* A string left open swallows the lines after it, and libconfig notices
 * lines later: the message names the line where the string starts. */
static void test_unterminated_string(void **state)
{
	static const char text[] = "on_error = \"deny\";\n"
		"store = \"/x/licenses.db;\n"
		"event_log = \"/x/events.log\";\n"
		"lock_timeout = 5;\n"
		"wait = 0;\n"
		"named = { licenses = 1; users = [ \"alice\" ]; };\n";
	struct tmp t;

	(void)state;
	tmp_init(&t);
	refused(tmp_write(&t, "open.conf", text, sizeof(text) - 1, 0600),
		MESSAGES(":2: syntax error: the string that starts on this "
			 "line runs past the end of the line (a missing "
			 "closing quote?)"), HL_ON_ERROR_DENY);
	tmp_cleanup(&t);
}

/* Where the module writes the error event of a config it refuses. */
static void test_event_log_of_broken_config(void **state)
{
	static const char named[] = "event_log = \"/x/events.log\";\n"
		"named = { licences = 1; };\n";
	static const char off[] = "event_log = \"\";\nlock_timeout = -1;\n";
	static const char garbage[] = "event_log = \"/x/events.log\"\n{{\n";
	struct hl_logger quiet = { NULL, NULL, false };
	struct hl_config *cfg = NULL;
	char *event_log = NULL;
	struct stat st;
	struct tmp t;

	(void)state;
	tmp_init(&t);
	assert_int_equal(hl_config_load_or_event_log(
		tmp_write(&t, "named.conf", named, sizeof(named) - 1, 0600),
		&quiet, &cfg, NULL, &event_log), -1);
	assert_null(cfg);
	assert_non_null(event_log);
	assert_string_equal(event_log, "/x/events.log");
	free(event_log);

	assert_int_equal(hl_config_load_or_event_log(
		tmp_write(&t, "off.conf", off, sizeof(off) - 1, 0600),
		&quiet, &cfg, NULL, &event_log), -1);
	assert_null(event_log);

	/* Nothing readable: the built-in path, where it is installed. */
	assert_int_equal(hl_config_load_or_event_log(
		tmp_write(&t, "garbage.conf", garbage, sizeof(garbage) - 1,
			  0600), &quiet, &cfg, NULL, &event_log), -1);
	{
		char dir[PATH_MAX];
		const char *slash = strrchr(HL_EVENT_LOG, '/');

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - HL_EVENT_LOG),
			 HL_EVENT_LOG);
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
			assert_non_null(event_log);
			assert_string_equal(event_log, HL_EVENT_LOG);
		} else {
			assert_null(event_log);
		}
	}
	free(event_log);
	tmp_cleanup(&t);
}

static void test_unknown_key_top(void **state)
{
	(void)state;
	refused_fixture("bad-unknown-top.conf", MESSAGES(
		":2: unknown key 'stor' (did you mean 'store'?)",
		":3: unknown key 'colour'"), HL_ON_ERROR_DENY);
}

static void test_unknown_key_named(void **state)
{
	(void)state;
	refused_fixture("bad-unknown-named.conf", MESSAGES(
		":2: unknown key 'lisences' in 'named' "
		"(did you mean 'licenses'?)"), HL_ON_ERROR_DENY);
}

static void test_unknown_key_pool(void **state)
{
	(void)state;
	refused_fixture("bad-unknown-pool.conf", MESSAGES(
		":3: unknown key 'licences' in pool 'field-west' "
		"(did you mean 'licenses'?)",
		":3: pool 'field-west' has no 'licenses'"), HL_ON_ERROR_DENY);
}

static void test_wrong_type(void **state)
{
	(void)state;
	refused_fixture("bad-type.conf", MESSAGES(
		":1: 'show_holders' must be true or false, not a string",
		":2: 'lock_timeout' " DURATION_MUST
		", not a floating-point number",
		":3: 'named.licenses' must be an integer, not a string",
		":3: 'named.users' must be a list of user names like "
		"[ \"a\", \"b\" ], not a string",
		":4: 'exempt' must be a group { ... }, not an array [ ... ]",
		":5: 'prices.named' must be a number, not a string",
		":5: 'prices.currency' must be a string, not an integer",
		":6: 'concurrent' must be a list of pools "
		"( { pool = ...; }, ... ), not a group { ... }",
		":7: 'on_error' must be \"deny\" or \"allow\", not an integer"),
		HL_ON_ERROR_DENY);
}

static void test_out_of_range(void **state)
{
	(void)state;
	refused_fixture("bad-range.conf", MESSAGES(
		":1: 'named.licenses' must be between 0 and 100000, not -1",
		":3: 'licenses' of pool 'field-east' must be between 1 and "
		"100000, not 0",
		":4: 'licenses' of pool 'field-west' must be between 1 and "
		"100000, not 100001",
		":5: 'licenses' of pool 'field-north' must be between 1 and "
		"100000, not 9999999999",
		":7: 'prices.named' must be a number of 0 or more, not -450",
		":7: 'prices.currency' must be 1 to 15 printable characters, "
		"not \"EURO-DOLLAR-YEN!\"",
		":9: 'lock_timeout' " DURATION_MUST ", not 4294967301",
		":10: 'wait' " DURATION_MUST ", not 4294967297"),
		HL_ON_ERROR_DENY);
}

static void test_bad_pool_name(void **state)
{
	(void)state;
	refused_fixture("bad-pool-name.conf", MESSAGES(
		":2: bad pool name \"field east\" (1 to 64 of A-Z a-z 0-9 . _ -)",
		":3: bad pool name \"\" (1 to 64 of A-Z a-z 0-9 . _ -)",
		":4: pool #3 has no 'pool' name",
		":5: bad pool name \"a-name-that-is-far-too-long-for-a-pool-as-"
		"it-has-sixty-five-chars\" (1 to 64 of A-Z a-z 0-9 . _ -)",
		":6: bad pool name \"p/../../etc\" (1 to 64 of A-Z a-z 0-9 . _ -)"),
		HL_ON_ERROR_DENY);
}

static void test_duplicate_pool(void **state)
{
	(void)state;
	refused_fixture("bad-duplicate-pool.conf", MESSAGES(
		":4: pool 'field-east' is defined twice (first on line 2)"),
		HL_ON_ERROR_DENY);
}

static void test_bad_duration(void **state)
{
	(void)state;
	refused_fixture("bad-duration.conf", MESSAGES(
		":1: 'lock_timeout' " DURATION_MUST ", not \"5x\"",
		":2: 'wait' " DURATION_MUST ", not -1",
		":3: 'named.min_assignment' " DURATION_MUST ", not \"366d\"",
		":4: 'wait' of pool 'p' " DURATION_MUST ", not \"\""),
		HL_ON_ERROR_DENY);
}

/* A shared backend, every key given. */
static void test_backend(void **state)
{
	enum hl_on_error on_error;
	struct hl_config *cfg = loaded_fixture("good-backend.conf", &on_error);
	const struct hl_backend *b = &cfg->backend;

	(void)state;
	assert_true(b->enabled);
	assert_string_equal(b->conninfo, "host=db1,db2 dbname=helpdesk "
			    "user=helpdesk target_session_attrs=read-write");
	assert_string_equal(b->password_file,
			    "/etc/helpdesk-license/backend.password");
	assert_string_equal(b->socket, "/run/hl/licensed.sock");
	assert_string_equal(b->host, "jump-1.example");
	assert_int_equal(b->heartbeat, 10);
	assert_int_equal(b->lease, 60);
	assert_int_equal(b->transaction_timeout, 20);
	hl_config_free(cfg);
}

/* Every mistake in a backend section, each on its line; a password in
 * the conninfo is refused (it belongs in a root-only file). */
static void test_bad_backend(void **state)
{
	(void)state;
	refused_fixture("bad-backend.conf", MESSAGES(
		":2: 'backend.type' must be \"postgresql\", not \"mysql\"",
		":3: 'backend.conninfo' must not hold a password: put it in "
		"password_file (root's, mode 0600)",
		":4: 'backend.host' must be a host name of 1 to 64 letters, "
		"digits, '.', '-' or '_', not \"jump 1\"",
		":5: 'backend.heartbeat' must be at least 1s",
		":7: 'backend.socket' must be an absolute file path, not "
		"\"licensed.sock\"",
		":8: unknown key 'tls' in 'backend'",
		":6: backend lease (5s) must be at least two heartbeats "
		"(2 x 30s)"),
		HL_ON_ERROR_DENY);
}

/* idle_timeout: 0 turns it off, else a minute at least, whatever the
 * form. */
static void test_bad_idle_timeout(void **state)
{
	(void)state;
	refused_fixture("bad-idle-timeout.conf", MESSAGES(
		":2: 'idle_timeout' of pool 'a' must be 0 (off) or at least "
		"60s, not 59s",
		":3: 'idle_timeout' of pool 'b' must be 0 (off) or at least "
		"60s, not 30s",
		":4: 'idle_timeout' of pool 'c' " DURATION_MUST ", not \"soon\""),
		HL_ON_ERROR_DENY);
}

static void test_relative_paths(void **state)
{
	(void)state;
	refused_fixture("bad-relative-store.conf", MESSAGES(
		":1: 'store' must be an absolute file path, not \"licenses.db\"",
		":2: 'event_log' must be an absolute file path, or \"\" for "
		"none, not \"var/log/events.log\""), HL_ON_ERROR_DENY);
}

static void test_bad_names_and_members(void **state)
{
	(void)state;
	refused_fixture("bad-names.conf", MESSAGES(
		":1: bad user name \"a/b\" in 'exempt.users'",
		":1: bad user name \"ev\\x01l\" in 'exempt.users'",
		":1: bad group name \"\" in 'exempt.groups'",
		":2: item 2 of 'ignore_services' must be a service name in "
		"quotes, not an integer",
		":3: 'named' has 3 licenses but neither users nor groups to "
		"hold them",
		":5: pool 'empty' has neither users nor groups: nobody could "
		"use it",
		":6: pool 'empty-lists' has neither users nor groups: nobody "
		"could use it"), HL_ON_ERROR_DENY);
}

/* Every problem of the file, in file order; on_error still read. */
static void test_many_problems(void **state)
{
	(void)state;
	refused_fixture("bad-many.conf", MESSAGES(
		":4: unknown key 'lisences'",
		":5: 'named.licenses' must be between 0 and 100000, not -2",
		":6: 'lock_timeout' " DURATION_MUST ", not \"soon\"",
		":8: 'licenses' of pool 'field-east' must be between 1 and "
		"100000, not 0",
		":9: pool 'field-east' is defined twice (first on line 8)",
		":11: 'store' must be an absolute file path, not "
		"\"relative.db\""), HL_ON_ERROR_ALLOW);
}

static void test_bad_on_error_denies(void **state)
{
	(void)state;
	refused_fixture("bad-on-error.conf", MESSAGES(
		":2: 'on_error' must be \"deny\" or \"allow\", not \"maybe\"",
		":3: 'unlicensed' must be \"deny\" or \"ignore\", not "
		"\"allow\""), HL_ON_ERROR_DENY);
}

/* @include would read a file nobody checked: refused, and only real
 * include lines (not in comments or strings) are reported. */
static void test_include_refused(void **state)
{
	(void)state;
	refused_fixture("bad-include.conf", MESSAGES(
		":4: @include is not supported: keep the configuration in this "
		"one file",
		":5: @include is not supported: keep the configuration in this "
		"one file",
		":6: unknown key 'motd'"), HL_ON_ERROR_ALLOW);
}

/* ---- files that are not there or not trusted ---- */

static void test_missing_file(void **state)
{
	(void)state;
	refused(CONF_DIR "/does-not-exist.conf",
		MESSAGES(": No such file or directory"), HL_ON_ERROR_DENY);
}

static void test_directory_refused(void **state)
{
	(void)state;
	refused(CONF_DIR, MESSAGES(": not a regular file"), HL_ON_ERROR_DENY);
}

static void test_symlink_refused(void **state)
{
	struct tmp t;
	const char *real, *link;
	struct hl_config *cfg = NULL;

	(void)state;
	tmp_init(&t);
	/* The target itself is fine; only the link is refused. */
	real = tmp_copy(&t, "good-minimal.conf", "real.conf", 0644);
	link = tmp_path(&t, "link.conf");
	assert_int_equal(symlink(real, link), 0);
	refused(link, MESSAGES(": is a symbolic link"), HL_ON_ERROR_DENY);
	assert_int_equal(load_expecting(real, NULL, &cfg, NULL), 0);
	hl_config_free(cfg);
	tmp_cleanup(&t);
}

static void test_writable_refused(void **state)
{
	struct tmp t;

	(void)state;
	tmp_init(&t);
	/* on_error = "allow" inside does not count: the file is not
	 * trusted. */
	refused(tmp_copy(&t, "good-other.conf", "group.conf", 0664),
		MESSAGES(": writable by group or others (mode 0664)"),
		HL_ON_ERROR_DENY);
	refused(tmp_copy(&t, "good-other.conf", "other.conf", 0602),
		MESSAGES(": writable by group or others (mode 0602)"),
		HL_ON_ERROR_DENY);
	tmp_cleanup(&t);
}

static void test_nul_byte_refused(void **state)
{
	static const char text[] = "on_error = \"allow\";\nstore = \"/x\0y\";\n";
	struct tmp t;

	(void)state;
	tmp_init(&t);
	refused(tmp_write(&t, "nul.conf", text, sizeof(text) - 1, 0600),
		MESSAGES(":2: a NUL byte: this is not a text file"),
		HL_ON_ERROR_DENY);
	tmp_cleanup(&t);
}

static void test_huge_file_refused(void **state)
{
	size_t len = 1100 * 1024;
	char *text = malloc(len);
	struct tmp t;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < len; i++)
		text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'x';
	tmp_init(&t);
	refused(tmp_write(&t, "huge.conf", text, len, 0600),
		MESSAGES(": larger than 1024 KiB"), HL_ON_ERROR_DENY);
	tmp_cleanup(&t);
	free(text);
}

/* Text already read gets the same checks, under the name given. */
static void test_parse_text(void **state)
{
	static const char good[] = "lock_timeout = 9;\n"
		"concurrent = ( { pool = \"east\"; licenses = 2;"
		" groups = [ \"field-east\" ]; } );\n";
	static const char nul[] = "on_error = \"allow\";\nstore = \"/x\0y\";\n";
	struct capture cap = { .count = 0 };
	struct hl_logger log = { capture_emit, &cap, true };
	struct hl_config *cfg = NULL;
	enum hl_on_error on_error = (enum hl_on_error)42;

	(void)state;
	assert_int_equal(hl_config_parse("given.conf", good, sizeof(good) - 1,
					 &log, &cfg, &on_error), 0);
	assert_int_equal(cap.count, 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, "given.conf");
	assert_int_equal(cfg->lock_timeout, 9);
	assert_int_equal(cfg->pool_count, 1);
	assert_string_equal(cfg->pools[0].name, "east");
	assert_int_equal(cfg->pools[0].licenses, 2);
	hl_config_free(cfg);

	/* The NUL is found within len, not taken for the end of the text. */
	assert_int_equal(hl_config_parse("given.conf", nul, sizeof(nul) - 1,
					 &log, &cfg, &on_error), -1);
	assert_null(cfg);
	assert_int_equal(on_error, HL_ON_ERROR_DENY);
	assert_int_equal(cap.count, 1);
	assert_string_equal(cap.messages[0],
			    "given.conf:2: a NUL byte: this is not a text file");
	capture_free(&cap);

	/* A problem is reported under the given name. */
	assert_int_equal(hl_config_parse("given.conf", "lock_timeout = ", 15,
					 &log, &cfg, NULL), -1);
	assert_null(cfg);
	assert_int_equal(cap.count, 1);
	assert_true(strncmp(cap.messages[0], "given.conf:1: ", 14) == 0);
	capture_free(&cap);
}

/* ---- durations ---- */

static void test_parse_duration(void **state)
{
	static const struct {
		const char *text;
		unsigned seconds;
	} good[] = {
		{ "0", 0 }, { "5", 5 }, { "5s", 5 }, { "2m", 120 },
		{ "24h", 86400 }, { "1d", 86400 }, { "007s", 7 },
		{ "365d", 31536000 }, { "8760h", 31536000 },
		{ "525600m", 31536000 }, { "31536000", 31536000 },
		{ "31536000s", 31536000 },
	};
	static const char *const bad[] = {
		"", "s", "-1", "+1", " 5", "5 ", "5 s", "5x", "5ss", "5S",
		"1.5h", "0x10", "366d", "8761h", "31536001",
		"99999999999999999999999", "4294967296", "1d2h",
	};
	unsigned seconds;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		seconds = 12345;
		if (!hl_parse_duration(good[i].text, &seconds))
			fail_msg("\"%s\" refused", good[i].text);
		assert_int_equal(seconds, good[i].seconds);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		seconds = 12345;
		if (hl_parse_duration(bad[i], &seconds))
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(seconds, 12345);
	}
	assert_false(hl_parse_duration(NULL, &seconds));
	assert_true(hl_parse_duration("1m", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_other_values),
		cmocka_unit_test(test_example_config),
		cmocka_unit_test(test_null_on_error_and_empty_pools),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_unquoted_duration),
		cmocka_unit_test(test_unterminated_string),
		cmocka_unit_test(test_event_log_of_broken_config),
		cmocka_unit_test(test_unknown_key_top),
		cmocka_unit_test(test_unknown_key_named),
		cmocka_unit_test(test_unknown_key_pool),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_pool_name),
		cmocka_unit_test(test_duplicate_pool),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_bad_idle_timeout),
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_bad_backend),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_bad_names_and_members),
		cmocka_unit_test(test_many_problems),
		cmocka_unit_test(test_bad_on_error_denies),
		cmocka_unit_test(test_include_refused),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_directory_refused),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_writable_refused),
		cmocka_unit_test(test_nul_byte_refused),
		cmocka_unit_test(test_huge_file_refused),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test(test_parse_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
