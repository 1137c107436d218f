/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the license decision core (license.c), driven directly:
 * an hl_env with a fake /proc (so a test can "kill" a session's process or
 * reboot the host), users and groups from nss_wrapper, a real store in a
 * temporary directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <gdbm.h>

#include "admin.h"
#include "conf.h"
#include "eventlog.h"
#include "license.h"
#include "record.h"
#include "store.h"
#include "support.h"
#include "wrappers.h"

#define BOOT_A "0b5e11a2-1111-4222-8333-944455556666"
#define BOOT_B "0b5e11a2-1111-4222-8333-9444555577ff"

struct fixture {
	char dir[256];
	char proc[300];
	char store[300];
	char runtime[300];
	char events[300];
	char logged[8192];
	struct hl_logger log;
	struct hl_config cfg;
	struct hl_pool pools[2];
	struct hl_env env;
};

static time_t fixed_now(void)
{
	return 1764403200;	/* 2025-11-29 08:00 UTC */
}

static void capture(void *data, int priority, const char *message)
{
	struct fixture *f = data;
	size_t used = strlen(f->logged);

	(void)priority;
	snprintf(f->logged + used, sizeof(f->logged) - used, "%s\n", message);
}

/* A process of the fake /proc: its stat line with state and start time. */
static void fake_process(struct fixture *f, pid_t pid, char state,
			 unsigned long long start)
{
	char stat[512];

	snprintf(stat, sizeof(stat),
		 "%ld (sshd: a) b) %c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 "
		 "17 18 %llu 20 21\n", (long)pid, state, start);
	ts_fake_proc_file(f->proc, pid, "stat", stat);
}

static void kill_process(struct fixture *f, pid_t pid)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%ld/stat", f->proc, (long)pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%ld", f->proc, (long)pid);
	rmdir(path);
}

/* The audit session id of a process of the fake /proc. */
static void set_audit_session(struct fixture *f, pid_t pid, unsigned id)
{
	char text[32];

	snprintf(text, sizeof(text), "%u", id);
	ts_fake_proc_file(f->proc, pid, "sessionid", text);
}

static void set_boot(struct fixture *f, const char *boot_id)
{
	ts_fake_boot_id(f->proc, boot_id);
	memcpy(f->env.self.boot_id, boot_id, HL_BOOT_ID_LEN + 1);
}

/* The process that opens the next session. */
static void act_as(struct fixture *f, pid_t pid)
{
	fake_process(f, pid, 'S', 1000 + (unsigned long long)pid);
	f->env.self.pid = pid;
	f->env.self.start = 1000 + (unsigned long long)pid;
}

static char names_alice_s[] = "alice";
static char *names_alice[] = { names_alice_s };
static char names_callcentre_s[] = "callcentre";
static char *names_callcentre[] = { names_callcentre_s };
static char names_field_east_s[] = "field-east";
static char *names_field_east[] = { names_field_east_s };
static char names_carol_s[] = "carol";
static char *names_carol[] = { names_carol_s };
static char names_root_s[] = "root";
static char *names_root[] = { names_root_s };
static char names_admins_s[] = "helpdesk-admins";
static char *names_admins[] = { names_admins_s };
static char names_ignored_s[] = "systemd-user";
static char *names_ignored[] = { names_ignored_s };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[400];

	assert_non_null(f);
	ts_make_temp_dir(f->dir, sizeof(f->dir), NULL, "hl-license");
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
	snprintf(f->store, sizeof(f->store), "%s/store/licenses.db", f->dir);
	snprintf(f->runtime, sizeof(f->runtime), "%s/store/sessions.db",
		 f->dir);
	snprintf(f->events, sizeof(f->events), "%s/log/events.log", f->dir);
	snprintf(path, sizeof(path), "%s/sys/kernel/random", f->proc);
	ts_make_dirs(path);

	f->log.emit = capture;
	f->log.data = f;

	f->cfg.store = f->store;
	f->cfg.runtime_store = f->runtime;
	f->cfg.event_log = f->events;
	f->cfg.on_error = HL_ON_ERROR_DENY;
	f->cfg.unlicensed = HL_UNLICENSED_DENY;
	f->cfg.show_holders = true;
	f->cfg.lock_timeout = 5;
	f->cfg.ignore_services = (struct hl_names){ names_ignored, 1 };
	f->cfg.exempt_users = (struct hl_names){ names_root, 1 };
	f->cfg.exempt_groups = (struct hl_names){ names_admins, 1 };
	f->cfg.named.licenses = 1;
	f->cfg.named.users = (struct hl_names){ names_alice, 1 };
	f->cfg.named.groups = (struct hl_names){ names_callcentre, 1 };
	snprintf(f->pools[0].name, sizeof(f->pools[0].name), "field-east");
	f->pools[0].licenses = 1;
	f->pools[0].groups = (struct hl_names){ names_field_east, 1 };
	snprintf(f->pools[1].name, sizeof(f->pools[1].name), "field-west");
	f->pools[1].licenses = 2;
	f->pools[1].users = (struct hl_names){ names_carol, 1 };
	f->cfg.pools = f->pools;
	f->cfg.pool_count = 2;

	f->env.cfg = &f->cfg;
	f->env.log = &f->log;
	f->env.proc_root = f->proc;
	f->env.now = fixed_now;
	snprintf(f->env.host, sizeof(f->env.host), "helpdesk1");
	set_boot(f, BOOT_A);
	act_as(f, 100);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ts_remove_tree(f->dir);
	free(f);
	return 0;
}

static enum hl_verdict open_as(struct fixture *f, const char *user, pid_t pid,
			       struct hl_decision *d)
{
	struct hl_request req = { user, "sshd", "ssh", "192.0.2.7" };

	act_as(f, pid);
	assert_int_equal(hl_license_open(&f->env, &req, d), 0);
	return d->verdict;
}

static enum hl_verdict check_as(struct fixture *f, const char *user,
				struct hl_decision *d)
{
	struct hl_request req = { user, "sshd", "ssh", "192.0.2.7" };

	assert_int_equal(hl_license_check(&f->env, &req, d), 0);
	return d->verdict;
}

static enum hl_verdict close_as(struct fixture *f, const char *user, pid_t pid,
				const char *session_id)
{
	struct hl_request req = { user, "sshd", "ssh", "192.0.2.7" };
	struct hl_decision d;

	act_as(f, pid);
	assert_int_equal(hl_license_close(&f->env, &req, session_id, &d), 0);
	return d.verdict;
}

/* The file that holds key: Named allocations are durable, the rest (slots,
 * holders, sessions, lines, the outbox) belongs to this boot. */
static const char *file_of(const struct fixture *f, const char *key)
{
	return strcmp(key, "named") == 0 || strncmp(key, "named/", 6) == 0
		       ? f->store : f->runtime;
}

/* The value of key in the store, or NULL. */
static char *store_value(struct fixture *f, const char *key)
{
	struct hl_store *store;
	char *value = NULL;

	assert_int_equal(hl_store_open(file_of(f, key), HL_STORE_READ, 1, &f->log,
				       &store), HL_STORE_OK);
	if (hl_store_get(store, key, &value) != HL_STORE_OK)
		value = NULL;
	hl_store_close(store);
	return value;
}

static void assert_key_absent(struct fixture *f, const char *key)
{
	char *value = store_value(f, key);

	if (value != NULL)
		fail_msg("%s is still in the store: %s", key, value);
}

static int count_lines(const char *path, const char *needle)
{
	char line[4096];
	int n = 0;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, needle))
			n++;
	fclose(fp);
	return n;
}

/* ---- Named ---- */

static void named_sessions_share_one_allocation(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d1, d2;
	char *counter;

	assert_int_equal(open_as(f, "alice", 100, &d1), HL_GRANTED);
	assert_int_equal(d1.kind, HL_KIND_NAMED);
	assert_false(d1.joined);
	assert_int_equal(open_as(f, "alice", 101, &d2), HL_GRANTED);
	assert_int_equal(d2.kind, HL_KIND_NAMED);
	assert_true(d2.joined);
	counter = store_value(f, "named");
	assert_non_null(counter);
	assert_non_null(strstr(counter, "used 1"));
	free(counter);
	assert_int_equal(count_lines(f->events, "\"event\":\"grant\""), 1);
	assert_int_equal(count_lines(f->events, "\"event\":\"join\""), 1);
}

static void named_allocation_outlives_logout(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "alice", 100, &d), HL_GRANTED);
	assert_int_equal(close_as(f, "alice", 100, d.session_id), HL_GRANTED);
	/* bob is in callcentre: named-eligible, but the one license is
	 * alice's for good. */
	assert_int_equal(open_as(f, "bob", 200, &d), HL_DENIED);
	assert_non_null(strstr(d.message, "All 1 Named license is allocated"));
	assert_int_equal(check_as(f, "bob", &d), HL_DENIED);
}

static void named_allocation_freed_when_no_longer_eligible(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "alice", 100, &d), HL_GRANTED);
	/* alice leaves the named users: her allocation no longer counts. */
	f->cfg.named.users.count = 0;
	assert_int_equal(check_as(f, "bob", &d), HL_GRANTED);
	assert_int_equal(open_as(f, "bob", 200, &d), HL_GRANTED);
	assert_int_equal(d.kind, HL_KIND_NAMED);
	assert_key_absent(f, "named/alice");
	assert_int_equal(count_lines(f->events, "\"event\":\"unassign\""), 1);
}

/* ---- NSS errors ---- */

/* The lookups the seam makes fail, with EIO (LDAP or SSSD down). */
static const char *failing_user, *failing_group;

static int flaky_getpwnam(const char *name, struct passwd *pw, char *buf,
			  size_t len, struct passwd **found)
{
	*found = NULL;
	if (failing_user && strcmp(name, failing_user) == 0)
		return EIO;
	return getpwnam_r(name, pw, buf, len, found);
}

static int flaky_getgrnam(const char *name, struct group *gr, char *buf,
			  size_t len, struct group **found)
{
	*found = NULL;
	if (failing_group && strcmp(name, failing_group) == 0)
		return EIO;
	return getgrnam_r(name, gr, buf, len, found);
}

static void flaky_nss(struct fixture *f, const char *user, const char *group)
{
	failing_user = user;
	failing_group = group;
	f->env.getpwnam = flaky_getpwnam;
	f->env.getgrnam = flaky_getgrnam;
}

/* A lookup error is no "not a member" and no "unknown user": the decision
 * fails (on_error decides), logged with the error. */
static void lookup_error_fails_the_decision(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	f->cfg.unlicensed = HL_UNLICENSED_IGNORE;
	flaky_nss(f, NULL, "field-east");
	assert_int_equal(open_as(f, "dave", 300, &d), HL_STORE_FAILED);
	assert_int_equal(check_as(f, "dave", &d), HL_STORE_FAILED);
	assert_non_null(strstr(f->logged, "cannot look group field-east up"));
	assert_non_null(strstr(f->logged, strerror(EIO)));
	assert_key_absent(f, "holder/dave");

	flaky_nss(f, "dave", NULL);
	assert_int_equal(check_as(f, "dave", &d), HL_STORE_FAILED);
	assert_non_null(strstr(f->logged, "cannot look user dave up"));

	/* Once NSS answers again, dave is a member of field-east. */
	flaky_nss(f, NULL, NULL);
	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_string_equal(d.pool, "field-east");
}

/* The Named sweep frees nothing on a lookup error: bob's allocation stays
 * while his group cannot be looked up. */
static void named_kept_on_lookup_error(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;
	char *value;

	assert_int_equal(open_as(f, "bob", 200, &d), HL_GRANTED);
	assert_int_equal(d.kind, HL_KIND_NAMED);
	assert_int_equal(close_as(f, "bob", 200, d.session_id), HL_GRANTED);
	flaky_nss(f, NULL, "callcentre");
	/* alice is named-eligible by name; the one license looks full, so
	 * the sweep asks about bob. */
	assert_int_equal(open_as(f, "alice", 100, &d), HL_DENIED);
	value = store_value(f, "named/bob");
	assert_non_null(value);
	free(value);
	assert_int_equal(count_lines(f->events, "\"event\":\"unassign\""), 0);
	assert_non_null(strstr(f->logged, "keeping bob's Named license"));
	flaky_nss(f, NULL, NULL);
}

/* ---- Concurrent ---- */

static void pool_of_one_one_at_a_time(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d, held;

	assert_int_equal(open_as(f, "dave", 300, &held), HL_GRANTED);
	assert_int_equal(held.kind, HL_KIND_CONCURRENT);
	assert_string_equal(held.pool, "field-east");
	assert_int_equal(held.slot, 1);

	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	assert_non_null(strstr(d.message, "All 1 license of pool field-east is in use"));
	assert_non_null(strstr(d.message, "held by dave since"));
	assert_non_null(strstr(d.message, "from 192.0.2.7"));
	assert_string_equal(d.reason, "all licenses in use");

	f->cfg.show_holders = false;
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	assert_null(strstr(d.message, "dave"));

	assert_int_equal(close_as(f, "dave", 300, held.session_id), HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
	assert_int_equal(count_lines(f->events, "\"event\":\"deny\""), 2);
	assert_int_equal(count_lines(f->events, "\"event\":\"release\""), 1);
}

static void pool_of_two(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	f->cfg.pools[1].users.count = 0;
	f->cfg.pools[1].groups = (struct hl_names){ names_field_east, 1 };
	f->cfg.pools[0].groups.count = 0;	/* field-east users: west only */
	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_string_equal(d.pool, "field-west");
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
	assert_int_equal(open_as(f, "frank", 500, &d), HL_DENIED);
	assert_non_null(strstr(d.message, "All 2 licenses of pool field-west are in use"));
	assert_non_null(strstr(d.message, "dave"));
	assert_non_null(strstr(d.message, "erin"));
}

static void sessions_of_one_technician_share_a_slot(void **state)
{
	struct fixture *f = *state;
	struct hl_decision a, b, d;

	assert_int_equal(open_as(f, "dave", 300, &a), HL_GRANTED);
	assert_int_equal(open_as(f, "dave", 301, &b), HL_GRANTED);
	assert_true(b.joined);
	assert_int_equal(b.slot, a.slot);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	assert_int_equal(close_as(f, "dave", 300, a.session_id), HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	/* The last session gives the slot back. */
	assert_int_equal(close_as(f, "dave", 301, b.session_id), HL_GRANTED);
	assert_key_absent(f, "holder/dave");
	assert_key_absent(f, "slot/field-east/1");
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
}

static void close_without_session_id_uses_process(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_int_equal(close_as(f, "dave", 300, NULL), HL_GRANTED);
	assert_key_absent(f, "holder/dave");
	/* Close is idempotent. */
	assert_int_equal(close_as(f, "dave", 300, NULL), HL_IGNORED);
	assert_int_equal(close_as(f, "nobody-held", 300, NULL), HL_IGNORED);
}

static void check_takes_nothing(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(check_as(f, "dave", &d), HL_GRANTED);
	assert_int_equal(check_as(f, "erin", &d), HL_GRANTED);
	assert_key_absent(f, "holder/dave");
	assert_key_absent(f, "holder/erin");
	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_int_equal(check_as(f, "erin", &d), HL_DENIED);
	assert_int_equal(check_as(f, "dave", &d), HL_GRANTED);
	assert_true(d.joined);
}

static void dead_holder_is_reclaimed(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	kill_process(f, 300);
	assert_int_equal(check_as(f, "erin", &d), HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
	assert_int_equal(count_lines(f->events, "\"reason\":\"process gone\""), 1);
	assert_key_absent(f, "holder/dave");
}

static void zombie_holder_is_reclaimed(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	fake_process(f, 300, 'Z', 1300);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
}

static void reused_pid_is_not_the_holder(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	fake_process(f, 300, 'S', 999999);	/* same pid, another process */
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
}

/* sshd's [priv] process opened the session and was killed; the user's
 * command runs on in the login's audit session. */
static void audit_session_keeps_slot_after_opener_dies(void **state)
{
	struct fixture *f = *state;
	struct hl_request req = { "dave", "sshd", "ssh", "192.0.2.7" };
	struct hl_decision d;

	act_as(f, 300);
	f->env.self.audit_session = 77;
	set_audit_session(f, 300, 77);
	assert_int_equal(hl_license_open(&f->env, &req, &d), 0);
	assert_int_equal(d.verdict, HL_GRANTED);
	f->env.self.audit_session = 0;

	fake_process(f, 301, 'S', 5000);	/* dave's shell */
	set_audit_session(f, 301, 77);
	kill_process(f, 300);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	assert_non_null(strstr(d.message, "held by dave"));

	fake_process(f, 301, 'Z', 5000);	/* a zombie is no session */
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
	assert_key_absent(f, "holder/dave");
}

static void audit_session_recorded_only_when_its_own(void **state)
{
	struct fixture *f = *state;
	struct hl_process p;

	/* fake_process gives every process parent 1. */
	fake_process(f, 1, 'S', 1);
	fake_process(f, 500, 'S', 7000);
	set_audit_session(f, 500, 9);
	assert_int_equal(hl_process_identify(f->proc, 500, &p), 0);
	assert_int_equal(p.audit_session, 9);

	set_audit_session(f, 1, 9);	/* inherited: shared with others */
	assert_int_equal(hl_process_identify(f->proc, 500, &p), 0);
	assert_int_equal(p.audit_session, 0);

	set_audit_session(f, 500, 4294967295U);	/* "unset" */
	set_audit_session(f, 1, 4294967295U);
	assert_int_equal(hl_process_identify(f->proc, 500, &p), 0);
	assert_int_equal(p.audit_session, 0);
}

static void earlier_boot_is_stale(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	set_boot(f, BOOT_B);	/* reboot; pid 300 happens to run again */
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
	assert_int_equal(count_lines(f->events, "\"reason\":\"earlier boot\""), 1);
}

static void lowered_licenses_throw_nobody_out(void **state)
{
	struct fixture *f = *state;
	struct hl_decision a, b, d;

	f->cfg.pools[1].groups = (struct hl_names){ names_field_east, 1 };
	f->cfg.pools[0].groups.count = 0;
	assert_int_equal(open_as(f, "dave", 300, &a), HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &b), HL_GRANTED);
	f->cfg.pools[1].licenses = 1;
	/* Both keep their slot; nobody new gets in until one is left. */
	assert_int_equal(open_as(f, "dave", 301, &d), HL_GRANTED);
	assert_true(d.joined);
	assert_int_equal(close_as(f, "dave", 300, a.session_id), HL_GRANTED);
	assert_int_equal(close_as(f, "dave", 301, d.session_id), HL_GRANTED);
	assert_int_equal(open_as(f, "frank", 500, &d), HL_DENIED);
	assert_non_null(strstr(d.message, "erin"));
	assert_int_equal(close_as(f, "erin", 400, b.session_id), HL_GRANTED);
	assert_int_equal(open_as(f, "frank", 500, &d), HL_GRANTED);
}

/* ---- not concerned, unknown, unlicensed ---- */

static void exempt_ignored_and_unknown(void **state)
{
	struct fixture *f = *state;
	struct hl_request req = { "dave", "systemd-user", "", "" };
	struct hl_decision d;
	char longname[300];

	assert_int_equal(hl_license_open(&f->env, &req, &d), 0);
	assert_int_equal(d.verdict, HL_IGNORED);
	assert_int_equal(open_as(f, "root", 100, &d), HL_IGNORED);
	assert_int_equal(open_as(f, "grace", 100, &d), HL_IGNORED); /* admins */
	assert_int_equal(open_as(f, "nosuchuser", 100, &d), HL_USER_UNKNOWN);
	assert_int_equal(open_as(f, "bad\nname", 100, &d), HL_USER_UNKNOWN);
	assert_int_equal(open_as(f, "../etc", 100, &d), HL_USER_UNKNOWN);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(open_as(f, longname, 100, &d), HL_USER_UNKNOWN);
	assert_int_equal(count_lines(f->events, "\"event\""), 0);
}

static void unlicensed_deny_or_ignore(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	assert_int_equal(open_as(f, "heidi", 600, &d), HL_DENIED);
	assert_non_null(strstr(d.message, "no help desk license"));
	assert_string_equal(d.reason, "unlicensed");
	f->cfg.unlicensed = HL_UNLICENSED_IGNORE;
	assert_int_equal(open_as(f, "heidi", 600, &d), HL_IGNORED);
	/* An entitled technician who finds everything taken is refused
	 * whatever unlicensed says. */
	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
}

static void wait_pool_passes_account(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;

	f->cfg.pools[0].wait = 30;
	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_int_equal(check_as(f, "erin", &d), HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
}

static void unusable_store_is_reported(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;
	char dir[400];

	snprintf(dir, sizeof(dir), "%s/store", f->dir);
	mkdir(dir, 0777);
	chmod(dir, 0777);	/* writable by anyone: refused */
	assert_int_equal(open_as(f, "dave", 300, &d), HL_STORE_FAILED);
	assert_non_null(strstr(d.message, "unavailable"));
	assert_int_equal(check_as(f, "dave", &d), HL_STORE_FAILED);
	assert_int_equal(close_as(f, "dave", 300, NULL), HL_STORE_FAILED);
}

static void hostile_fields_are_escaped(void **state)
{
	struct fixture *f = *state;
	struct hl_request req = { "dave", "sshd", "pts/1\n\"x\"",
				  "evil\r\nhost\x1b[31m" };
	struct hl_decision d;
	char line[4096];
	FILE *fp;

	act_as(f, 300);
	assert_int_equal(hl_license_open(&f->env, &req, &d), 0);
	assert_int_equal(d.verdict, HL_GRANTED);
	fp = fopen(f->events, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_null(fgets(line + strlen(line), 2, fp));	/* one line */
	fclose(fp);
	if (strstr(line, "\"tty\":\"pts/1\\n\\\"x\\\"\"") == NULL)
		fail_msg("tty not escaped as expected: %s", line);
	assert_non_null(strstr(line, "\\r\\nhost\\u001b[31m"));
	assert_null(strchr(f->logged, '\x1b'));
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	assert_null(strchr(d.message, '\x1b'));
	assert_non_null(strstr(d.message, "evil\\x0d\\x0ahost\\x1b[31m"));
}

/* A writer killed between its commit and its append leaves its lines in
 * the store's outbox: the next writer appends them, once. */
static void outbox_of_a_killed_writer_reaches_the_log(void **state)
{
	struct fixture *f = *state;
	struct hl_store *store;
	struct hl_decision d;
	struct stat st;
	char outbox[512];

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_int_equal(stat(f->events, &st), 0);
	snprintf(outbox, sizeof(outbox), "%llu %llu\n{\"event\":\"grant\","
		 "\"user\":\"ghost\",\"session\":\"lost\"}\n",
		 (unsigned long long)st.st_ino,
		 (unsigned long long)st.st_size);
	assert_int_equal(hl_store_open(f->runtime, HL_STORE_WRITE, 1, &f->log,
				       &store), HL_STORE_OK);
	assert_int_equal(hl_store_put(store, "outbox", outbox), HL_STORE_OK);
	assert_int_equal(hl_store_commit(store), HL_STORE_OK);
	hl_store_close(store);
	assert_int_equal(count_lines(f->events, "ghost"), 0);

	assert_int_equal(close_as(f, "dave", 300, d.session_id), HL_GRANTED);
	assert_int_equal(count_lines(f->events, "ghost"), 1);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
	assert_int_equal(count_lines(f->events, "ghost"), 1);
	/* The normal path writes each line once. */
	assert_int_equal(count_lines(f->events, "\"event\":\"grant\""), 3);
	assert_int_equal(count_lines(f->events, "\"event\":\"release\""), 1);
}

/* ---- reconciling records that disagree (after a repair) ---- */

/* Writes key (value NULL: deletes it) straight into the store, as a repair
 * that brought back an old record or left one out would leave it. */
static void tamper(struct fixture *f, const char *key, const char *value)
{
	struct hl_store *store;

	assert_int_equal(hl_store_open(file_of(f, key), HL_STORE_WRITE, 1,
				       &f->log, &store), HL_STORE_OK);
	if (value)
		assert_int_equal(hl_store_put(store, key, value), HL_STORE_OK);
	else
		assert_int_equal(hl_store_delete(store, key), HL_STORE_OK);
	assert_int_equal(hl_store_commit(store), HL_STORE_OK);
	hl_store_close(store);
}

/* A concurrent holding of a slot of pool, with a session of this boot
 * for each of the processes pids[0 .. n-1] (started as act_as says),
 * encoded; the caller frees it. */
static char *holding_text(const char *pool, unsigned slot, const pid_t *pids,
			  size_t n)
{
	struct hl_holding holding = { .kind = HL_KIND_CONCURRENT,
				      .slot = slot,
				      .since = fixed_now() };
	char empty[] = "", *text;

	snprintf(holding.pool, sizeof(holding.pool), "%s", pool);
	for (size_t i = 0; i < n; i++) {
		struct hl_session session = {
			.pid = pids[i],
			.start = 1000 + (unsigned long long)pids[i],
			.since = fixed_now()
		};

		snprintf(session.id, sizeof(session.id), "%032x",
			 (unsigned)pids[i]);
		memcpy(session.boot_id, BOOT_A, sizeof(session.boot_id));
		session.service = session.tty = session.rhost = session.host =
			empty;
		assert_int_equal(hl_holding_add_session(&holding, &session), 0);
	}
	text = hl_holding_encode(&holding);
	assert_non_null(text);
	hl_holding_free(&holding);
	return text;
}

/* A holder record of user claiming slot of pool, with one live session
 * of process pid. */
static void tamper_holder(struct fixture *f, const char *user,
			  const char *pool, unsigned slot, pid_t pid)
{
	char key[HL_KEY_MAX], *text;

	act_as(f, pid);
	text = holding_text(pool, slot, &pid, 1);
	hl_key_holder(key, sizeof(key), user);
	tamper(f, key, text);
	free(text);
}

static void tamper_counter(struct fixture *f, const char *key, unsigned used,
			   unsigned next, unsigned top)
{
	struct hl_counter counter = { used, next, top };
	char *text = hl_counter_encode(&counter, strcmp(key, "named") != 0);

	assert_non_null(text);
	tamper(f, key, text);
	free(text);
}

static void reconcile(struct fixture *f, struct hl_reconciled *done)
{
	struct hl_request req = { "helpdesk-license", "helpdesk-license", "",
				  "" };
	struct hl_decision d;

	assert_int_equal(hl_admin_reconcile(&f->env, &req, done, &d), 0);
	assert_int_equal(d.verdict, HL_GRANTED);
}

static void assert_value(struct fixture *f, const char *key,
			 const char *expected)
{
	char *value = store_value(f, key);

	if (value == NULL || strcmp(value, expected) != 0)
		fail_msg("%s: '%s', not '%s'", key, value ? value : "(absent)",
			 expected);
	free(value);
}

static unsigned holder_slot(struct fixture *f, const char *user)
{
	struct hl_holding holding;
	char key[HL_KEY_MAX], *text;
	unsigned slot;

	hl_key_holder(key, sizeof(key), user);
	text = store_value(f, key);
	assert_non_null(text);
	assert_int_equal(hl_holding_decode(text, &holding), 0);
	slot = holding.slot;
	hl_holding_free(&holding);
	free(text);
	return slot;
}

/* slot/POOL/1 names carol, whose holder record (an old copy) says slot 2:
 * slot 1 is freed by the orphan rule, slot 2 written back for her. */
static void reconcile_old_holder_record(void **state)
{
	struct fixture *f = *state;
	struct hl_reconciled done;
	struct hl_decision d;

	assert_int_equal(open_as(f, "carol", 200, &d), HL_GRANTED);
	assert_int_equal(d.slot, 1);
	tamper_holder(f, "carol", "field-west", 2, 200);
	reconcile(f, &done);
	assert_int_equal(done.slots_freed, 1);
	assert_int_equal(done.slots_restored, 1);
	assert_int_equal(done.holders_moved + done.holders_dropped, 0);
	assert_key_absent(f, "slot/field-west/1");
	assert_value(f, "slot/field-west/2", "carol");
	assert_value(f, "pool/field-west", "used 1\nnext 1\ntop 2");
	assert_int_equal(count_lines(f->events,
				     "slot without holder record"), 1);
	/* Her session still holds the slot, and ends with a release. */
	assert_int_equal(close_as(f, "carol", 200, NULL), HL_GRANTED);
	assert_key_absent(f, "slot/field-west/2");
	assert_key_absent(f, "holder/carol");
}

/* A holder record whose slot record was left out: written back, and the
 * counter recounted. */
static void reconcile_lost_slot_record(void **state)
{
	struct fixture *f = *state;
	struct hl_reconciled done;
	struct hl_decision d;

	assert_int_equal(open_as(f, "carol", 200, &d), HL_GRANTED);
	tamper(f, "slot/field-west/1", NULL);
	tamper_counter(f, "pool/field-west", 0, 1, 1);
	reconcile(f, &done);
	assert_int_equal(done.slots_restored, 1);
	assert_int_equal(done.counters_fixed, 1);
	assert_int_equal(done.slots_freed + done.holders_moved +
			 done.holders_dropped, 0);
	assert_value(f, "slot/field-west/1", "carol");
	assert_value(f, "pool/field-west", "used 1\nnext 2\ntop 1");
	assert_non_null(strstr(f->logged, "written back for its holder carol"));
	/* The pool has room for one more only. */
	assert_int_equal(open_as(f, "carol", 201, &d), HL_GRANTED);
	assert_true(d.joined);
}

/* Holders whose slot another holds: moved to a free slot while there is
 * one, then dropped with a reap of each session. */
static void reconcile_holder_without_slot(void **state)
{
	struct fixture *f = *state;
	struct hl_reconciled done;
	struct hl_decision d;
	const char *kept, *gone;
	char *value;

	assert_int_equal(open_as(f, "carol", 200, &d), HL_GRANTED);
	tamper_holder(f, "dave", "field-west", 1, 300);
	tamper_holder(f, "erin", "field-west", 7, 400);
	reconcile(f, &done);
	assert_int_equal(done.holders_moved, 1);
	assert_int_equal(done.holders_dropped, 1);
	assert_int_equal(done.slots_freed + done.slots_restored, 0);
	assert_value(f, "slot/field-west/1", "carol");
	/* Which of the two came first is the store's order: one moved to
	 * slot 2, the other dropped. */
	value = store_value(f, "holder/dave");
	kept = value ? "dave" : "erin";
	free(value);
	gone = strcmp(kept, "dave") == 0 ? "holder/erin" : "holder/dave";
	assert_key_absent(f, gone);
	assert_int_equal(holder_slot(f, kept), 2);
	assert_value(f, "slot/field-west/2", kept);
	assert_key_absent(f, "slot/field-west/7");
	assert_value(f, "pool/field-west", "used 2\nnext 1\ntop 2");
	/* The dropped holder's session ended in the event log. */
	assert_int_equal(count_lines(f->events, "holder without slot"), 1);
	/* The pool is full: two slots, two holders. */
	f->cfg.pools[1].groups = (struct hl_names){ names_field_east, 1 };
	f->cfg.pools[0].groups.count = 0;
	assert_int_equal(open_as(f, "frank", 500, &d), HL_DENIED);
}

/* A pool of one whose slot another holds: nowhere to move, dropped. */
static void reconcile_full_pool_drops_holder(void **state)
{
	struct fixture *f = *state;
	struct hl_reconciled done;
	struct hl_decision d;

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	tamper_holder(f, "erin", "field-east", 1, 400);
	reconcile(f, &done);
	assert_int_equal(done.holders_dropped, 1);
	assert_int_equal(done.holders_moved + done.slots_restored, 0);
	assert_key_absent(f, "holder/erin");
	assert_value(f, "slot/field-east/1", "dave");
	assert_int_equal(count_lines(f->events, "holder without slot"), 1);
}

/* A record holding bytes that are not one (reused space brought back by
 * a rebuild) is deleted, and what depended on it set right: the live
 * session it held is restored from the event log, into its slot. */
static void reconcile_unreadable_records(void **state)
{
	struct fixture *f = *state;
	struct hl_reconciled done;
	struct hl_decision d;

	assert_int_equal(open_as(f, "carol", 200, &d), HL_GRANTED);
	tamper(f, "holder/carol", "used 1\nnext 2\ntop 1");
	tamper(f, "named", "kind named");
	reconcile(f, &done);
	assert_int_equal(done.records_dropped, 2);
	assert_int_equal(done.sessions_restored, 1);
	assert_int_equal(done.slots_freed + done.over_allocated, 0);
	assert_int_equal(holder_slot(f, "carol"), 1);
	assert_value(f, "slot/field-west/1", "carol");
	assert_key_absent(f, "named");
	assert_non_null(strstr(f->logged, "holder/carol does not decode"));
	assert_non_null(strstr(f->logged, "restored from the event log"));
	/* Logins read the store again. */
	assert_int_equal(open_as(f, "carol", 201, &d), HL_GRANTED);
	assert_int_equal(open_as(f, "alice", 100, &d), HL_GRANTED);
	assert_value(f, "named", "used 1");
}

static bool count_line(void *arg, const struct hl_jsonl_object *obj)
{
	const struct hl_jsonl_field *n = hl_jsonl_get(obj, "n");

	assert_non_null(n);
	(*(unsigned *)arg) += (unsigned)atoi(n->value);
	return true;
}

/* The event log as the restore reads it: line by line, a malformed line,
 * one longer than any the module writes and a last line cut short are
 * skipped; what follows them is read. */
static void event_log_read_line_by_line(void **state)
{
	struct fixture *f = *state;
	enum { LONG = HL_EVENT_LINE_MAX + 100 };
	char path[400], *text = malloc(LONG + 200);
	unsigned sum = 0;
	size_t len = 0;

	assert_non_null(text);
	snprintf(path, sizeof(path), "%s/lines.log", f->dir);
	len += (size_t)sprintf(text + len, "{\"n\":1}\nnot json\n{\"n\":");
	memset(text + len, '1', LONG);
	len += LONG;
	len += (size_t)sprintf(text + len, "}\n{\"n\":10}\r\n{\"n\":100}");
	ts_write_file(path, text, len);
	assert_int_equal(hl_event_log_each(path, count_line, &sum, &f->log), 0);
	assert_int_equal(sum, 11);
	unlink(path);
	assert_int_equal(hl_event_log_each(path, count_line, &sum, &f->log), 1);
	free(text);
}

/* The named counter follows the named/USER records. */
static void reconcile_named_counter(void **state)
{
	struct fixture *f = *state;
	struct hl_reconciled done;
	struct hl_decision d;

	assert_int_equal(open_as(f, "alice", 100, &d), HL_GRANTED);
	assert_int_equal(d.kind, HL_KIND_NAMED);
	tamper_counter(f, "named", 3, 0, 0);
	reconcile(f, &done);
	assert_int_equal(done.counters_fixed, 1);
	assert_value(f, "named", "used 1");
	tamper_counter(f, "named", 0, 0, 0);
	reconcile(f, &done);
	assert_int_equal(done.counters_fixed, 1);
	assert_value(f, "named", "used 1");
}

/* reap runs the reconciliation; on a store that agrees, with holders
 * above lowered licenses and one of a pool no longer configured, it
 * writes nothing at all. */
static void reap_reconciles_and_leaves_agreeing_store(void **state)
{
	struct fixture *f = *state;
	struct hl_request req = { "helpdesk-license", "helpdesk-license", "",
				  "" };
	struct hl_listing reaped;
	struct hl_decision d;
	struct stat before, after;
	char *bytes_before, *bytes_after;
	size_t len;
	FILE *fp;

	f->cfg.pools[1].groups = (struct hl_names){ names_field_east, 1 };
	assert_int_equal(open_as(f, "alice", 100, &d), HL_GRANTED);
	assert_int_equal(open_as(f, "carol", 200, &d), HL_GRANTED);
	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
	tamper_holder(f, "frank", "gone", 1, 500);
	tamper(f, "slot/gone/1", "frank");
	f->cfg.pools[1].licenses = 1;

	/* A lost slot record: reap writes it back. */
	tamper(f, "slot/field-west/1", NULL);
	assert_int_equal(hl_admin_reap(&f->env, &req, &reaped, &d), 0);
	assert_int_equal(d.verdict, HL_GRANTED);
	assert_int_equal(reaped.count, 0);
	assert_int_equal(reaped.reconciled.slots_restored, 1);
	hl_listing_free(&reaped);
	assert_value(f, "slot/field-west/1", "carol");

	/* Now it agrees: a second reap changes not one byte. */
	assert_int_equal(stat(f->store, &before), 0);
	len = (size_t)before.st_size;
	bytes_before = malloc(len + 1);
	bytes_after = malloc(len + 1);
	assert_non_null(bytes_before);
	assert_non_null(bytes_after);
	fp = fopen(f->store, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(bytes_before, 1, len, fp), len);
	fclose(fp);
	assert_int_equal(hl_admin_reap(&f->env, &req, &reaped, &d), 0);
	assert_int_equal(d.verdict, HL_GRANTED);
	assert_int_equal(reaped.count, 0);
	assert_int_equal(reaped.reconciled.records_dropped +
			 reaped.reconciled.slots_freed +
			 reaped.reconciled.slots_restored +
			 reaped.reconciled.holders_moved +
			 reaped.reconciled.holders_dropped +
			 reaped.reconciled.counters_fixed, 0);
	hl_listing_free(&reaped);
	assert_int_equal(stat(f->store, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	fp = fopen(f->store, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(bytes_after, 1, len, fp), len);
	fclose(fp);
	assert_memory_equal(bytes_before, bytes_after, len);
	free(bytes_before);
	free(bytes_after);
	/* The holder of the gone pool is left to its sessions. */
	assert_value(f, "slot/gone/1", "frank");
	assert_int_equal(holder_slot(f, "frank"), 1);
}

/* nss_wrapper must be preloaded before main: re-exec once with it. */
/* ---- the two files -------------------------------------------------------- */

static char *slurp_file(const char *path, size_t *len, struct stat *st)
{
	assert_int_equal(stat(path, st), 0);
	return ts_slurp(path, len);
}

/* Only a change of Named allocation writes the durable file: a second
 * session of a Named technician, and its close, leave it byte for byte
 * and time stamp for time stamp; the sessions are in the runtime file. */
static void named_login_writes_nothing_durable(void **state)
{
	struct fixture *f = *state;
	struct hl_decision first, second;
	struct stat before, after;
	size_t len_before, len_after;
	char *bytes_before, *bytes_after, *value;

	assert_int_equal(open_as(f, "alice", 200, &first), HL_GRANTED);
	bytes_before = slurp_file(f->store, &len_before, &before);
	assert_int_equal(open_as(f, "alice", 201, &second), HL_GRANTED);
	assert_true(second.joined);
	assert_int_equal(close_as(f, "alice", 201, second.session_id),
			 HL_GRANTED);
	assert_int_equal(open_as(f, "dave", 300, &second), HL_GRANTED);
	bytes_after = slurp_file(f->store, &len_after, &after);
	assert_int_equal(len_before, len_after);
	assert_memory_equal(bytes_before, bytes_after, len_before);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	free(bytes_before);
	free(bytes_after);

	value = store_value(f, "named/alice");	/* the durable record */
	assert_non_null(value);
	assert_null(strstr(value, "session "));
	free(value);
	{
		struct hl_store *rt;

		assert_int_equal(hl_store_open(f->runtime, HL_STORE_READ, 1,
					       &f->log, &rt), HL_STORE_OK);
		assert_int_equal(hl_store_get(rt, "sessions/alice", &value),
				 HL_STORE_OK);
		hl_store_close(rt);
	}
	assert_non_null(strstr(value, first.session_id));
	free(value);
	/* And the allocation still has its session: closing it works. */
	assert_int_equal(close_as(f, "alice", 200, first.session_id),
			 HL_GRANTED);
}

struct copy_ctx {
	GDBM_FILE to;
};

static int copy_into_legacy(void *arg, const char *key, const char *value)
{
	struct copy_ctx *c = arg;
	char merged[8192];
	datum k = { (char *)key, (int)strlen(key) }, v;

	if (strncmp(key, "sessions/", 9) == 0) {
		/* 0.2 kept a Named technician's sessions in its record. */
		datum nk = { (char *)"named/alice", 11 };
		datum nv = gdbm_fetch(c->to, nk);

		assert_non_null(nv.dptr);
		snprintf(merged, sizeof(merged), "%.*s\n%s", nv.dsize,
			 nv.dptr, value);
		free(nv.dptr);
		key = "named/alice";
		k = (datum){ (char *)key, (int)strlen(key) };
		value = merged;
	}
	v.dptr = (char *)value;
	v.dsize = (int)strlen(value);
	assert_int_equal(gdbm_store(c->to, k, v, GDBM_REPLACE), 0);
	return 0;
}

/* A store of release 0.2 (one file, schema 1, sessions inside the Named
 * record) is read as it is, and migrated by the first writer: the Named
 * allocation stays durable, the live sessions and slots move to the
 * runtime file, waiting lines are dropped, and the holders keep what they
 * held. */
static void store_of_release_0_2_is_migrated(void **state)
{
	struct fixture *f = *state;
	struct hl_decision alice, dave, d;
	struct copy_ctx c = { 0 };
	struct hl_store *rt, *durable;
	char *value;
	GDBM_FILE legacy;
	datum k = { (char *)"schema", 6 }, v = { (char *)"1", 1 };
	datum lk = { (char *)"line/field-east", 15 };
	datum lv = { (char *)"waiter x", 8 };

	/* What 0.2 would have written, made from this release's two files. */
	assert_int_equal(open_as(f, "alice", 200, &alice), HL_GRANTED);
	assert_int_equal(open_as(f, "dave", 300, &dave), HL_GRANTED);
	assert_int_equal(hl_store_open(f->runtime, HL_STORE_READ, 1, &f->log,
				       &rt), HL_STORE_OK);
	legacy = gdbm_open(f->store, 0, GDBM_WRITER | GDBM_NOLOCK, 0600, NULL);
	assert_non_null(legacy);
	c.to = legacy;
	assert_int_equal(hl_store_foreach(rt, "", copy_into_legacy, &c), 0);
	hl_store_close(rt);
	assert_int_equal(gdbm_store(legacy, k, v, GDBM_REPLACE), 0);
	assert_int_equal(gdbm_store(legacy, lk, lv, GDBM_REPLACE), 0);
	gdbm_close(legacy);
	assert_int_equal(unlink(f->runtime), 0);

	/* Read as it is: dave's slot is taken, alice holds her allocation. */
	assert_int_equal(check_as(f, "erin", &d), HL_DENIED);
	assert_non_null(strstr(d.message, "held by dave"));

	/* The first write migrates it. */
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	assert_int_equal(hl_store_open(f->store, HL_STORE_READ, 1, &f->log,
				       &durable), HL_STORE_OK);
	assert_false(hl_store_legacy(durable));
	assert_int_equal(hl_store_get(durable, "holder/dave", &value),
			 HL_STORE_NOTFOUND);
	assert_int_equal(hl_store_get(durable, "line/field-east", &value),
			 HL_STORE_NOTFOUND);
	assert_int_equal(hl_store_get(durable, "named/alice", &value),
			 HL_STORE_OK);
	assert_null(strstr(value, "session "));
	free(value);
	hl_store_close(durable);
	value = store_value(f, "holder/dave");
	assert_non_null(value);
	free(value);
	assert_null(store_value(f, "line/field-east"));
	/* Both sessions go on, and close as they would have. */
	assert_int_equal(close_as(f, "alice", 200, alice.session_id),
			 HL_GRANTED);
	assert_int_equal(close_as(f, "dave", 300, dave.session_id),
			 HL_GRANTED);
	assert_int_equal(open_as(f, "erin", 400, &d), HL_GRANTED);
}

/* A journal left in the runtime file (a writer killed inside a commit):
 * the next writer checks the whole store before writing, and goes on. */
static void store_checked_after_a_commit_cut_short(void **state)
{
	struct fixture *f = *state;
	struct hl_decision d;
	GDBM_FILE db;
	datum k = { (char *)"journal", 7 };
	datum v = { (char *)"hl-journal 1 torn", 17 };

	assert_int_equal(open_as(f, "dave", 300, &d), HL_GRANTED);
	db = gdbm_open(f->runtime, 0, GDBM_WRITER | GDBM_NOLOCK, 0600, NULL);
	assert_non_null(db);
	assert_int_equal(gdbm_store(db, k, v, GDBM_REPLACE), 0);
	gdbm_close(db);
	f->logged[0] = '\0';
	assert_int_equal(open_as(f, "erin", 400, &d), HL_DENIED);
	assert_non_null(strstr(f->logged, "checked and compacted after a commit cut short: "
				"sound"));
	/* Once: the check found the journal gone the next time. */
	f->logged[0] = '\0';
	assert_int_equal(close_as(f, "dave", 300, NULL), HL_GRANTED);
	assert_null(strstr(f->logged, "checked after"));
}

/* The uids at the moment the grant is logged: the events go out while
 * the store lock is still held. */
struct uids_at_grant {
	uid_t real, effective, saved;
	int grants;
};

static void capture_uids(void *data, int priority, const char *message)
{
	struct uids_at_grant *at = data;

	(void)priority;
	if (strncmp(message, "grant:", 6) == 0 &&
	    getresuid(&at->real, &at->effective, &at->saved) == 0)
		at->grants++;
}

/* A login as su makes it (real uid the caller's, effective uid 0): while
 * the store lock is held the real and saved uids are 0, so the caller
 * cannot stop the process holding it; after, exactly the ones before.
 * Needs root; in a child, whose uids it changes. */
static void su_caller_cannot_signal_lock_holder(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t child;

	if (geteuid() != 0)
		skip();
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct hl_request req = { "carol", "su", "pts/1", "" };
		struct uids_at_grant at = { 1, 1, 1, 0 };
		struct hl_decision d;
		uid_t r, e, su;

		f->log.emit = capture_uids;
		f->log.data = &at;
		if (setresuid(4242, 0, 0) != 0)
			_exit(10);
		if (hl_license_open(&f->env, &req, &d) != 0 ||
		    d.verdict != HL_GRANTED || at.grants != 1)
			_exit(11);
		if (at.real != 0 || at.effective != 0 || at.saved != 0)
			_exit(12);
		if (getresuid(&r, &e, &su) != 0 || r != 4242 || e != 0 ||
		    su != 0)
			_exit(13);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A holding of user in field-west (holding_text), written straight into
 * the open store under prefix ("holder/" or "released/"). */
static void put_holding(struct hl_store *store, const char *prefix,
			const char *user, unsigned slot, const pid_t *pids,
			size_t n)
{
	char key[HL_KEY_MAX], *text = holding_text("field-west", slot, pids, n);

	snprintf(key, sizeof(key), "%s%s", prefix, user);
	assert_int_equal(hl_store_put(store, key, text), HL_STORE_OK);
	free(text);
}

/* A listing of more holders than one thread checks (list and status
 * spread the reads of /proc over threads, after the store's lock is given
 * back): each session is found stale exactly when its process is gone,
 * and a released holding keeps only its live sessions, or is not listed
 * once they have all ended. */
static void list_of_many_holders(void **state)
{
	enum { HOLDERS = 1200 };
	struct fixture *f = *state;
	struct hl_request req = { "helpdesk-license", "helpdesk-license", "",
				  "" };
	struct hl_listing listing;
	struct hl_decision d;
	struct hl_store *store;
	size_t holders = 0, released = 0;

	assert_int_equal(open_as(f, "carol", 100, &d), HL_GRANTED);
	assert_int_equal(
		hl_store_open(f->runtime, HL_STORE_WRITE, 1, &f->log, &store),
		HL_STORE_OK);
	/* Technician i has the processes 10000 + 2i and 10001 + 2i; the
	 * first is gone when i % 3 == 0, the second when i % 4 == 0.  Every
	 * fifth is a released holding. */
	for (unsigned i = 0; i < HOLDERS; i++) {
		pid_t pids[2] = { 10000 + 2 * (pid_t)i, 10001 + 2 * (pid_t)i };
		char user[32];

		snprintf(user, sizeof(user), "t%04u", i);
		for (size_t k = 0; k < 2; k++)
			if (i % (3 + k) != 0)
				fake_process(
					f, pids[k], 'S',
					1000 + (unsigned long long)pids[k]);
		put_holding(store, i % 5 == 0 ? "released/" : "holder/", user,
			    i + 1, pids, 2);
	}
	assert_int_equal(hl_store_commit(store), HL_STORE_OK);
	hl_store_close(store);

	assert_int_equal(hl_admin_list(&f->env, &req, &listing, &d), 0);
	assert_int_equal(d.verdict, HL_GRANTED);
	for (size_t n = 0; n < listing.count; n++) {
		const struct hl_listed *item = &listing.items[n];
		unsigned i;

		if (strcmp(item->user, "carol") == 0) {
			assert_false(item->stale[0]);
			continue;
		}
		assert_int_equal(sscanf(item->user, "t%4u", &i), 1);
		if (item->released) {
			/* Only the live sessions, and at least one. */
			released++;
			assert_int_equal(i % 5, 0);
			assert_int_equal(item->holding.session_count,
					 (i % 3 != 0) + (i % 4 != 0));
			for (size_t s = 0; s < item->holding.session_count;
			     s++) {
				assert_false(item->stale[s]);
				assert_true(item->holding.sessions[s].pid % 2 ==
							    0
						    ? i % 3 != 0
						    : i % 4 != 0);
			}
			continue;
		}
		holders++;
		assert_int_not_equal(i % 5, 0);
		assert_int_equal(item->holding.session_count, 2);
		assert_int_equal(item->stale[0], i % 3 == 0);
		assert_int_equal(item->stale[1], i % 4 == 0);
	}
	assert_int_equal(holders, HOLDERS - HOLDERS / 5);
	/* Released, less those whose both processes are gone (i % 60). */
	assert_int_equal(released, HOLDERS / 5 - HOLDERS / 60);
	hl_listing_free(&listing);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(named_sessions_share_one_allocation),
		T(named_allocation_outlives_logout),
		T(named_allocation_freed_when_no_longer_eligible),
		T(lookup_error_fails_the_decision),
		T(named_kept_on_lookup_error),
		T(pool_of_one_one_at_a_time),
		T(pool_of_two),
		T(sessions_of_one_technician_share_a_slot),
		T(close_without_session_id_uses_process),
		T(check_takes_nothing),
		T(dead_holder_is_reclaimed),
		T(zombie_holder_is_reclaimed),
		T(reused_pid_is_not_the_holder),
		T(audit_session_keeps_slot_after_opener_dies),
		T(audit_session_recorded_only_when_its_own),
		T(earlier_boot_is_stale),
		T(lowered_licenses_throw_nobody_out),
		T(exempt_ignored_and_unknown),
		T(unlicensed_deny_or_ignore),
		T(wait_pool_passes_account),
		T(unusable_store_is_reported),
		T(hostile_fields_are_escaped),
		T(outbox_of_a_killed_writer_reaches_the_log),
		T(reconcile_old_holder_record),
		T(reconcile_lost_slot_record),
		T(reconcile_holder_without_slot),
		T(reconcile_full_pool_drops_holder),
		T(reconcile_unreadable_records),
		T(event_log_read_line_by_line),
		T(reconcile_named_counter),
		T(reap_reconciles_and_leaves_agreeing_store),
		T(named_login_writes_nothing_durable),
		T(store_of_release_0_2_is_migrated),
		T(su_caller_cannot_signal_lock_holder),
		T(store_checked_after_a_commit_cut_short),
		T(list_of_many_holders),
#undef T
	};

	(void)argc;
	ts_run_wrapped(argv, TEST_DATA_DIR "/nss/passwd",
		       TEST_DATA_DIR "/nss/group", false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
