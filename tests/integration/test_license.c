/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a login gets (pam_helpdesk_license(8), "Decision" and "Stale sessions"), through real libpam: Named
 * licenses, concurrent pools, sessions of one technician, account as a dry
 * run, dead holders, and the logins the module is not concerned with.
 *
 * Users and groups (tests/integration/passwd, group):
 *   alice            no group of ours          (named by user)
 *   bob              callcentre                (named by group)
 *   carol, dave      field-east
 *   erin             field-east, field-west
 *   frank            field-east, helpdesk-admins
 *   gina             nothing at all
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NAMED_ONE \
	"named = { licenses = 1; users = [ \"alice\" ];" \
	" groups = [ \"callcentre\" ]; };\n"
#define EAST_ONE \
	"concurrent = ( { pool = \"field-east\"; licenses = 1;" \
	" groups = [ \"field-east\" ]; } );\n"

/* 1. A Named technician may have any number of sessions: all granted, and
 * they take one allocation (bob, named-eligible, finds the only Named
 * license taken). */
static void named_several_sessions(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result a, b, c, r;

	it_config(fx, NAMED_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "alice", &a);
	it_assert_rc(&a, PAM_SUCCESS);
	it_open(w1, IT_SERVICE, "alice", &b);
	it_assert_rc(&b, PAM_SUCCESS);
	it_open(w2, IT_SERVICE_REQUIRED, "alice", &c);
	it_assert_rc(&c, PAM_SUCCESS);
	it_acct(w3, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);

	it_open(w3, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	assert_true(r.errors >= 1);

	it_close(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w1, b.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w2, c.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* 2. A Named allocation outlives the session: after alice logged in and
 * out, bob (named-eligible, licenses = 1) is refused, even with
 * unlicensed = ignore, and alice still gets in. */
static void named_kept_after_logout(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	it_config(fx, "unlicensed = \"ignore\";\n" NAMED_ONE);
	w1 = it_worker(fx);
	it_open(w1, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w1, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_worker_exit(w1);

	w2 = it_worker(fx);
	it_acct(w2, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_open(w2, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	assert_true(r.errors >= 1);

	it_open(w2, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* A group of 3,000 members (a 27 KB entry, more than a fixed NSS buffer
 * holds) is read whole: its members are members, and with unlicensed =
 * ignore the second of a pool of one is refused, not let in unlicensed. */
static void pool_of_a_big_group(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder, *other;
	struct it_result r;

	it_config(fx, "unlicensed = \"ignore\";\n"
		  "concurrent = ( { pool = \"big\"; licenses = 1;"
		  " groups = [ \"field-big\" ]; } );\n");
	holder = it_worker(fx);
	other = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(other, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	/* Not a member: unlicensed, ignored. */
	it_open(other, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_IGNORE);
}

/* 3. A pool of one license: one technician at a time.  The refused one is
 * told the pool, its number of licenses and who holds it from where. */
static void pool_of_one(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder, *other;
	struct it_result r;
	int h;

	it_config(fx, "show_holders = true;\n" EAST_ONE);
	holder = it_worker(fx);
	other = it_worker(fx);
	h = it_start(holder, IT_SERVICE, "carol", "pts/7", "198.51.100.7");
	it_open_on(holder, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);

	it_open(other, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	assert_int_equal(r.errors, 1);
	it_assert_msg(&r, "field-east");
	it_assert_msg(&r, "1 license");
	it_assert_msg(&r, "carol");
	it_assert_msg(&r, "since");
	it_assert_msg(&r, "198.51.100.7");

	it_close(holder, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(other, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	assert_int_equal(r.errors, 0);
	it_workers_finish(fx);
}

/* 4. A pool of two licenses: two technicians in, the third refused. */
static void pool_of_two(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result a, r;

	it_config(fx, "show_holders = true;\n"
		  "concurrent = ( { pool = \"field-west\"; licenses = 2;"
		  " users = [ \"carol\", \"dave\" ];"
		  " groups = [ \"field-west\" ]; } );\n");
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &a);
	it_assert_rc(&a, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);

	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "field-west");
	it_assert_msg(&r, "2 licenses");
	it_assert_msg(&r, "carol");
	it_assert_msg(&r, "dave");

	it_close(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* 5. One technician's sessions (two processes, two services) share one
 * slot until the last of them closes. */
static void sessions_share_one_slot(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result a, b, r;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &a);
	it_assert_rc(&a, PAM_SUCCESS);
	it_open(w2, IT_SERVICE_REQUIRED, "carol", &b);
	it_assert_rc(&b, PAM_SUCCESS);

	it_open(w3, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	it_close(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	it_close(w2, b.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* 6. account is a dry run: it takes nothing, and it refuses when the slot
 * is held by a live session. */
static void account_takes_nothing(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	it_config(fx, "show_holders = true;\n" EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_acct(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_acct(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_acct(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_acct(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);

	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_acct(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "field-east");
	it_assert_msg(&r, "carol");
	/* carol's next session would join her slot. */
	it_acct(w2, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* 7. A holder killed with SIGKILL never closes its session: the slot is
 * reclaimed when another technician needs it. */
static void killed_holder_reclaimed(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	it_worker_kill(w1);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	/* dave holds it now: carol's new login is refused. */
	w3 = it_worker(fx);
	it_open(w3, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* 8a. No license at all, unlicensed = deny: refused with a message. */
static void unlicensed_deny(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;

	it_config(fx, "unlicensed = \"deny\";\n" NAMED_ONE EAST_ONE);
	w = it_worker(fx);
	it_acct(w, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	assert_true(r.errors >= 1);
	it_open(w, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	assert_true(r.errors >= 1);
	it_workers_finish(fx);
}

/* 8b. No license at all, unlicensed = ignore: not concerned. */
static void unlicensed_ignore(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;

	it_config(fx, "unlicensed = \"ignore\";\n" NAMED_ONE EAST_ONE);
	w = it_worker(fx);
	it_acct(w, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_open(w, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_IGNORE);
	assert_int_equal(r.errors, 0);
	it_workers_finish(fx);
}

/* 8c. An exempt user is never licensed: PAM_IGNORE even when the pool is
 * full, and nothing taken when it is free. */
static void exempt_user(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result a, r;

	it_config(fx, "exempt = { users = [ \"erin\" ]; groups = [ ]; };\n"
		  EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_acct(w1, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_open(w1, IT_SERVICE, "erin", &a);
	it_assert_rc(&a, PAM_IGNORE);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w1, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_IGNORE);
	assert_int_equal(r.errors, 0);
	it_workers_finish(fx);
}

/* 8d. A member of an exempt group likewise. */
static void exempt_group(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	it_config(fx, "exempt = { users = [ ];"
		  " groups = [ \"helpdesk-admins\" ]; };\n" EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_acct(w1, IT_SERVICE, "frank", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_open(w1, IT_SERVICE, "frank", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w1, IT_SERVICE, "frank", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_workers_finish(fx);
}

/* 8e. A service in ignore_services: not concerned, nothing taken. */
static void ignored_service(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	it_config(fx, "ignore_services = [ \"" IT_SERVICE_IGNORED "\" ];\n"
		  EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_acct(w1, IT_SERVICE_IGNORED, "carol", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_open(w1, IT_SERVICE_IGNORED, "carol", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	/* The pool is full, the ignored service still does not care. */
	it_open(w1, IT_SERVICE_IGNORED, "carol", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* A refusal under PAM_SILENT says nothing to the user. */
static void refusal_silent(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase cases[] = {
		pam_test_flags(PAMTEST_ACCOUNT, PAM_PERM_DENIED, PAM_SILENT),
		pam_test_flags(PAMTEST_OPEN_SESSION, PAM_PERM_DENIED,
			       PAM_SILENT),
	};
	char messages[IT_MSG_MAX];
	struct it_worker *w;
	struct it_result r;

	it_config(fx, "show_holders = true;\n" EAST_ONE);
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	assert_int_equal(it_pamtest(fx, IT_SERVICE, "dave", cases, 2,
				    messages, sizeof(messages)),
			 PAMTEST_ERR_OK);
	if (messages[0])
		it_fail(__FILE__, __LINE__, "PAM_SILENT, yet the user was "
			"told: %s", messages);
	it_workers_finish(fx);
}

/* Close gives back what that session took, once: closing it again (or a
 * third time, after someone else took the slot) succeeds and frees
 * nothing of anybody else's. */
static void close_is_idempotent(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result a, r;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &a);
	it_assert_rc(&a, PAM_SUCCESS);
	it_close_on(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close_on(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* A Named license comes first: a named technician who is also in a pool
 * leaves the pool's slot to the others. */
static void named_before_pool(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;

	it_config(fx, "named = { licenses = 1; users = [ \"carol\" ]; };\n"
		  EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* A technician in two pools gets the next pool, in config order, when the
 * first is full; refused, the message names both pools. */
static void next_pool_when_first_full(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3, *w4;
	struct it_result r;

	it_config(fx, "show_holders = true;\n"
		  "concurrent = (\n"
		  " { pool = \"field-east\"; licenses = 1;"
		  " groups = [ \"field-east\" ]; },\n"
		  " { pool = \"field-west\"; licenses = 1;"
		  " users = [ \"gina\" ]; groups = [ \"field-west\" ]; }\n"
		  ");\n");
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	w4 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "erin", &r);		/* east full: west */
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "field-west");
	it_assert_msg(&r, "erin");
	it_open(w4, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "field-east");
	it_workers_finish(fx);

	/* Both full for erin (a member of both): both named. */
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "field-east");
	it_assert_msg(&r, "field-west");
	it_workers_finish(fx);
}

/* A Named allocation counts only while its user is named-eligible: once
 * alice leaves the named users, bob gets the license. */
static void named_user_removed(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;

	it_config(fx, "named = { licenses = 1; users = [ \"alice\" ];"
		  " groups = [ \"callcentre\" ]; };\n");
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	it_config(fx, "named = { licenses = 1; users = [ ];"
		  " groups = [ \"callcentre\" ]; };\n");
	it_open(w, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* Lowering named.licenses below the allocations in force stops new
 * allocations and throws nobody out. */
static void named_licenses_lowered(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;

	it_config(fx, "named = { licenses = 2;"
		  " users = [ \"alice\", \"bob\", \"carol\" ]; };\n");
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_SUCCESS);

	it_config(fx, "named = { licenses = 1;"
		  " users = [ \"alice\", \"bob\", \"carol\" ]; };\n");
	it_open(w, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* Reclaiming is per session: when one of carol's two sessions dies, her
 * slot stays hers until the other one closes. */
static void killed_one_of_two_sessions(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result b, r;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "carol", &b);
	it_assert_rc(&b, PAM_SUCCESS);
	it_worker_kill(w1);
	it_open(w3, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_close(w2, b.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* A session of an earlier boot is stale even when a process of its pid
 * runs (pam_helpdesk_license(8), "Stale sessions"): carol's session, recorded under another boot id,
 * is reclaimed for dave.  Needs root (a mount namespace). */
static void earlier_boot_reclaimed(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;

	if (geteuid() != 0)
		skip();
	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	if (it_worker_boot_id(w1, "01234567-89ab-cdef-0123-456789abcdef"))
		skip();
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* A Named allocation persists across reboots (pam_helpdesk_license(8), "Decision"): alice's
 * allocation made under an earlier boot still counts, so bob is refused,
 * while her stale session is no reason to free it.  Needs root. */
static void named_survives_reboot(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	if (geteuid() != 0)
		skip();
	it_config(fx, NAMED_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	if (it_worker_boot_id(w1, "01234567-89ab-cdef-0123-456789abcdef"))
		skip();
	it_open(w1, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_open(w2, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* Another process under the holder's pid: as root, the next pid is set
 * (/proc/sys/kernel/ns_last_pid) so that a new process gets the pid of
 * carol's killed worker.  Returns it, or -1 when the pid went elsewhere. */
static pid_t impostor(pid_t want)
{
	for (int tries = 0; tries < 50; tries++) {
		char text[32];
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
		int n = snprintf(text, sizeof(text), "%ld", (long)want - 1);
		pid_t pid;

		if (fd < 0)
			return -1;
		if (write(fd, text, (size_t)n) != n) {
			close(fd);
			return -1;
		}
		close(fd);
		pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid == want)
			return pid;
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	return -1;
}

/* Returns once a process forked now starts at a later clock tick than
 * start.  The start time in /proc/PID/stat counts clock ticks (CLK_TCK,
 * normally 10 ms): on a fast machine a login, a kill and a fork all fit
 * in one tick.  A fresh child is forked, its start time read (it stays a
 * zombie until reaped), until the counter has moved on; the deadline is
 * only a guard against a hang. */
static void after_start_tick(unsigned long long start)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		unsigned long long probe = 0;
		bool read_ok;
		char state;
		pid_t pid = fork();

		if (pid < 0)
			it_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
		if (pid == 0)
			_exit(0);
		read_ok = it_proc_stat(pid, &state, &probe);
		waitpid(pid, NULL, 0);
		if (!read_ok)
			it_fail(__FILE__, __LINE__, "cannot read the start "
				"time of process %ld", (long)pid);
		if (probe > start)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 60)
			it_fail(__FILE__, __LINE__, "the start-time clock did "
				"not move past %llu in 60 s", start);
		poll(NULL, 0, 1);
	}
}

/* A reused pid is not mistaken for the holder (pam_helpdesk_license(8)):
 * carol's worker is killed and another process gets its pid; the session
 * is still stale (the process start time differs) and dave gets the slot.
 * The impostor is forked only once the start-time clock has moved past
 * carol's: a pid is reused only after the kernel went through pid_max
 * others, never within one tick.  Needs root. */
static void reused_pid_not_mistaken(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;
	unsigned long long holder_start, other_start;
	pid_t holder, other;
	char st;

	if (geteuid() != 0)
		skip();
	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	holder = it_worker_pid(w1);
	assert_true(it_proc_stat(holder, &st, &holder_start));
	it_worker_kill(w1);
	after_start_tick(holder_start);
	other = impostor(holder);
	if (other < 0)
		skip();
	if (!it_proc_stat(other, &st, &other_start) ||
	    other_start <= holder_start) {
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);
		it_fail(__FILE__, __LINE__, "the process under carol's pid "
			"%ld does not start later than hers (%llu)",
			(long)holder, holder_start);
	}
	it_open(w2, IT_SERVICE, "dave", &r);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* Membership through the primary group alone (tech01 and tech02 have
 * field-race as primary group and are listed in no group entry). */
static void pool_by_primary_group(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	it_config(fx, "concurrent = ( { pool = \"field-race\"; licenses = 1;"
		  " groups = [ \"field-race\" ]; } );\n");
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_open(w1, IT_SERVICE, "tech01", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "tech02", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "field-race");
	it_workers_finish(fx);
}

/* The configuration is parsed once per PAM handle: replaced by a broken
 * file after account, it is not read again by the session open and close
 * of that login, while a new login reads it (and finds it broken). */
static void config_parsed_once_per_handle(void **state)
{
	struct it_fixture *fx = *state;
	static const char broken[] = "this is not a configuration\n";
	struct it_worker *w1, *w2;
	struct it_result r;
	int h;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	h = it_start(w1, IT_SERVICE, "carol", NULL, NULL);
	it_acct_on(w1, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_write_file(fx->conf, broken, sizeof(broken) - 1, 0600);
	it_open_on(w1, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close_on(w1, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_end(w1, h);
	if (it_stderr_contains(fx, "configuration unusable"))
		it_fail(__FILE__, __LINE__, "the login read the replaced "
			"configuration");
	it_acct(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SERVICE_ERR);
	if (!it_stderr_contains(fx, "configuration unusable"))
		it_fail(__FILE__, __LINE__, "a new login did not read the "
			"replaced configuration");
	it_workers_finish(fx);
}

/* Two stack lines with different config= on one handle: each line has a
 * parse of its own.  The first config licenses carol, the second has no
 * pool (carol is unlicensed there, refused). */
static void config_per_stack_line(void **state)
{
	struct it_fixture *fx = *state;
	char other[PATH_MAX + 16], service[3 * PATH_MAX + 256];
	char body[2 * PATH_MAX + 64];
	struct it_worker *w;
	struct it_result r;
	int n;

	snprintf(other, sizeof(other), "%s/other.conf", fx->dir);
	snprintf(service, sizeof(service),
		 "account [success=ok default=die] %s config=%s\n"
		 "account [success=done ignore=done default=die] %s "
		 "config=%s\n", HL_IT_MODULE, fx->conf, HL_IT_MODULE, other);
	it_service(fx, "hl-two", service);
	it_config(fx, EAST_ONE);
	n = snprintf(body, sizeof(body), "store = \"%s\"; runtime_store = "
		     "\"%s\";\nevent_log = \"%s\";\n", fx->store, fx->runtime,
		     fx->event_log);
	it_write_file(other, body, (size_t)n, 0600);
	w = it_worker(fx);
	it_acct(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_acct(w, "hl-two", "carol", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		TEST(named_several_sessions),
		TEST(named_kept_after_logout),
		TEST(pool_of_one),
		TEST(pool_of_a_big_group),
		TEST(pool_of_two),
		TEST(sessions_share_one_slot),
		TEST(account_takes_nothing),
		TEST(killed_holder_reclaimed),
		TEST(unlicensed_deny),
		TEST(unlicensed_ignore),
		TEST(exempt_user),
		TEST(exempt_group),
		TEST(ignored_service),
		TEST(pool_by_primary_group),
		TEST(refusal_silent),
		TEST(close_is_idempotent),
		TEST(named_before_pool),
		TEST(next_pool_when_first_full),
		TEST(named_user_removed),
		TEST(named_licenses_lowered),
		TEST(killed_one_of_two_sessions),
		TEST(earlier_boot_reclaimed),
		TEST(named_survives_reboot),
		TEST(reused_pid_not_mistaken),
		TEST(config_parsed_once_per_handle),
		TEST(config_per_stack_line),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
