/* SPDX-License-Identifier: BSD-3-Clause */
/* The built module exports the PAM entry points and nothing of the core:
 * a core symbol visible from a module loaded into sshd could collide with
 * another module's. */
#include "config.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

static void only_pam_sm_exported(void **state)
{
	void *module = dlopen(MODULE_PATH, RTLD_NOW | RTLD_LOCAL);

	(void)state;
	if (module == NULL)
		fail_msg("dlopen %s: %s", MODULE_PATH, dlerror());
	assert_non_null(dlsym(module, "pam_sm_acct_mgmt"));
	assert_non_null(dlsym(module, "pam_sm_open_session"));
	assert_non_null(dlsym(module, "pam_sm_close_session"));
	assert_null(dlsym(module, "pam_sm_authenticate"));
	assert_null(dlsym(module, "hl_license_open"));
	assert_null(dlsym(module, "hl_config_load"));
	assert_null(dlsym(module, "hl_store_open"));
	assert_null(dlsym(module, "hl_log"));
	dlclose(module);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_pam_sm_exported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
