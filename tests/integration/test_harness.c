/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The harness checked against modules whose behaviour is known (pam_permit,
 * pam_deny, pam_debug, pam_echo), so that a
 * failure elsewhere is the module's, not the harness's.  It also pins down
 * what libpam does with PAM_IGNORE, which the service files rely on.
 */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define TRANSPARENT "[success=done ignore=done default=die]"

static void services(struct it_fixture *fx)
{
	it_service(fx, "permit",
		   "account required pam_permit.so\n"
		   "session required pam_permit.so\n");
	it_service(fx, "deny",
		   "account required pam_deny.so\n"
		   "session required pam_deny.so\n");
	it_service(fx, "ignore-transparent",
		   "account " TRANSPARENT " pam_debug.so acct=ignore\n"
		   "session " TRANSPARENT " pam_debug.so open_session=ignore "
		   "close_session=ignore\n");
	it_service(fx, "ignore-required",
		   "account required pam_debug.so acct=ignore\n"
		   "session required pam_debug.so open_session=ignore "
		   "close_session=ignore\n");
	it_service(fx, "codes-transparent",
		   "account " TRANSPARENT " pam_debug.so acct=user_unknown\n"
		   "session " TRANSPARENT " pam_debug.so "
		   "open_session=service_err close_session=success\n");
	it_service(fx, "echo",
		   "account required pam_permit.so\n"
		   "session required pam_permit.so\n"
		   "session optional pam_echo.so hello %u\n");
}

/* Codes reach the test as the stack returns them. */
static void known_codes(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result res;
	int h;

	services(fx);
	w = it_worker(fx);
	it_acct(w, "permit", "alice", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	it_open(w, "permit", "alice", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	it_close(w, res.handle, &res);
	it_assert_rc(&res, PAM_SUCCESS);

	it_acct(w, "deny", "alice", &res);
	it_assert_rc(&res, PAM_AUTH_ERR);
	it_open(w, "deny", "alice", &res);
	it_assert_rc(&res, PAM_SESSION_ERR);

	it_acct(w, "codes-transparent", "alice", &res);
	it_assert_rc(&res, PAM_USER_UNKNOWN);
	h = it_start(w, "codes-transparent", "alice", NULL, NULL);
	it_open_on(w, h, &res);
	it_assert_rc(&res, PAM_SERVICE_ERR);
	it_end(w, h);
	it_workers_finish(fx);
}

/* libpam: a lone "required" module returning PAM_IGNORE makes the stack
 * fail with PAM_PERM_DENIED; "ignore=done" lets PAM_IGNORE through. */
static void ignore_in_stacks(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result res;

	services(fx);
	w = it_worker(fx);
	it_acct(w, "ignore-transparent", "alice", &res);
	it_assert_rc(&res, PAM_IGNORE);
	it_open(w, "ignore-transparent", "alice", &res);
	it_assert_rc(&res, PAM_IGNORE);
	it_acct(w, "ignore-required", "alice", &res);
	it_assert_rc(&res, PAM_PERM_DENIED);
	it_open(w, "ignore-required", "alice", &res);
	it_assert_rc(&res, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* Messages through the worker's conversation and through libpamtest's. */
static void messages(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase cases[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
	};
	char messages[IT_MSG_MAX];
	struct it_worker *w;
	struct it_result res;

	services(fx);
	w = it_worker(fx);
	it_open(w, "echo", "carol", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	it_assert_msg(&res, "hello carol");
	assert_int_equal(res.infos, 1);
	it_workers_finish(fx);

	assert_int_equal(it_pamtest(fx, "echo", "dave", cases, 2, messages,
				    sizeof(messages)), PAMTEST_ERR_OK);
	assert_string_equal(messages, "hello dave");
}

/* The conversation counts a message with no text (it_assert_rc fails on
 * it): what the module must never send. */
static void empty_message_counted(void **state)
{
	const struct pam_message info = { PAM_TEXT_INFO, "" };
	const struct pam_message error = { PAM_ERROR_MSG, "in use" };
	const struct pam_message *msgs[] = { &info, &error };
	struct pam_response *resp = NULL;
	struct it_result res;

	(void)state;
	memset(&res, 0, sizeof(res));
	assert_int_equal(it_conv(2, msgs, &resp, &res), PAM_SUCCESS);
	free(resp);
	assert_int_equal(res.empty, 1);
	assert_int_equal(res.infos, 1);
	assert_int_equal(res.errors, 1);
}

/* Workers are separate processes; a killed one leaves nothing in /tmp. */
static void workers_are_processes(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *a, *b;
	struct it_result res;
	char dir[32];
	int left = 0;

	services(fx);
	a = it_worker(fx);
	b = it_worker(fx);
	assert_int_not_equal(it_worker_pid(a), it_worker_pid(b));
	assert_int_not_equal(it_worker_pid(a), getpid());
	it_open(a, "permit", "carol", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	it_open(b, "permit", "dave", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	it_worker_kill(a);
	it_workers_finish(fx);
	for (const char *c = "0123456789abcdefghijklmnopqrstuvwxyz"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"; *c; c++) {
		char pidfile[48];
		char *text;

		snprintf(dir, sizeof(dir), "/tmp/pam.%c", *c);
		snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
		text = it_read_file(pidfile, NULL);
		if (text != NULL && (atol(text) == (long)it_worker_pid(a) ||
				     atol(text) == (long)it_worker_pid(b)))
			left++;
		free(text);
	}
	assert_int_equal(left, 0);
}

/* nss_wrapper serves the fixtures, odd names included. */
static void users_and_groups(void **state)
{
	struct passwd *pw;
	struct group *gr;
	char longname[301];

	(void)state;
	pw = getpwnam("tech05");
	assert_non_null(pw);
	assert_int_equal(pw->pw_gid, 3005);
	gr = getgrnam("field-east");
	assert_non_null(gr);
	assert_string_equal(gr->gr_mem[0], "carol");
	gr = getgrnam("helpdesk-admins");
	assert_non_null(gr);
	assert_string_equal(gr->gr_mem[0], "frank");
	assert_non_null(getpwnam("ctl\tuser"));
	assert_non_null(getpwnam("slash/user"));
	memset(longname, 'l', 300);
	longname[300] = '\0';
	assert_non_null(getpwnam(longname));
	assert_null(getpwnam("nosuchuser"));
}

/* The re-execution under the wrappers (ts_run_wrapped) gave this program
 * what every wrapped test gets: both wrappers preloaded, deepbind off for
 * both (ASan refuses a libc opened with RTLD_DEEPBIND), the fixtures. */
static void wrapped_environment(void **state)
{
	static const char *const ones[] = {
		"HL_TEST_WRAPPED", "PAM_WRAPPER",
		"NSS_WRAPPER_DISABLE_DEEPBIND", "PAM_WRAPPER_DISABLE_DEEPBIND",
	};
	const char *preload = getenv("LD_PRELOAD");

	(void)state;
	for (size_t i = 0; i < sizeof(ones) / sizeof(ones[0]); i++) {
		const char *value = getenv(ones[i]);

		if (value == NULL || strcmp(value, "1") != 0)
			it_fail(__FILE__, __LINE__, "%s is %s, not 1", ones[i],
				value ? value : "unset");
	}
	assert_non_null(preload);
	assert_non_null(strstr(preload, "libpam_wrapper.so"));
	assert_non_null(strstr(preload, "libnss_wrapper.so"));
	assert_string_equal(getenv("NSS_WRAPPER_PASSWD"),
			    HL_IT_SRCDIR "/passwd");
	assert_string_equal(getenv("NSS_WRAPPER_GROUP"),
			    HL_IT_SRCDIR "/group");
}

/* The JSON reader used on the event log. */
static void json_reader(void **state)
{
	static const char *const good[] = {
		"{}",
		"{\"a\":\"b\",\"n\":-12.5e3,\"t\":true,\"z\":null}\n",
		"{\"s\":\"q\\\"\\\\\\u0041\\n\",\"o\":{\"x\":[1,2,{}]}}",
		"{\"u\":\"caf\xc3\xa9\"}",
	};
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
		"{\"a\":01}", "{\"a\":\"x\ty\"}", "{\"a\":\"\\x\"}",
		"{\"a\":1}{", "{\"a\":1,\"a\":2}", "{\"a\":\"\xff\"}",
		"{'a':1}", "{\"a\":tru}",
	};
	struct it_json json;
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (it_json_parse(good[i], strlen(good[i]), &json, why,
				  sizeof(why)) != 0)
			it_fail(__FILE__, __LINE__, "rejected %s: %s",
				good[i], why);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (it_json_parse(bad[i], strlen(bad[i]), &json, why,
				  sizeof(why)) == 0)
			it_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
	}
	assert_int_equal(it_json_parse(good[2], strlen(good[2]), &json, why,
				       sizeof(why)), 0);
	assert_string_equal(it_json_get(&json, "s")->value, "q\"\\A\n");
	assert_int_equal(it_json_get(&json, "o")->type, 'o');
	assert_true(it_iso8601_utc_ms("2026-11-29T22:19:31.123Z"));
	assert_false(it_iso8601_utc_ms("2026-11-29T22:19:31Z"));
	assert_false(it_iso8601_utc_ms("2026-11-29 22:19:31.123"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(known_codes, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(ignore_in_stacks, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(messages, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(workers_are_processes,
						it_setup, it_teardown),
		cmocka_unit_test(empty_message_counted),
		cmocka_unit_test(users_and_groups),
		cmocka_unit_test(json_reader),
		cmocka_unit_test(wrapped_environment),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
