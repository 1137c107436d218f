/* SPDX-License-Identifier: BSD-3-Clause */
/* The built module exports the PAM entry points and nothing of the core:
 * a core symbol visible from a module loaded into sshd could collide with
 * another module's.  And it carries a login's code only: the admin
 * commands (admin.c, preflight.c) are the tool's, in a library the module
 * does not link (doc/HACKING.md).  Internal names are not exported, so the
 * second check reads the .so's own symbol table (.symtab).  The third:
 * where the linker can, its relocations are made read-only once done. */
#include "config.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* What the symbol table of the module holds. */
struct symbols {
	unsigned total;
	unsigned admin;		/* names of the admin library's code */
	char first_admin[128];
	bool store_open;	/* hl_store_open: a login's, always there */
	bool store_repair;	/* hl_store_repair: a login repairs in place */
};

/* The admin library's names (admin.c, preflight.c). */
static bool admin_name(const char *name)
{
	static const char *const prefixes[] = { "hl_admin_", "hl_preflight_",
						"hl_listing_free", NULL };

	for (size_t i = 0; prefixes[i] != NULL; i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static void symbol_seen(struct symbols *seen, const char *name)
{
	seen->total++;
	if (admin_name(name)) {
		if (seen->admin++ == 0)
			strncpy(seen->first_admin, name,
				sizeof(seen->first_admin) - 1);
	}
	if (strcmp(name, "hl_store_open") == 0)
		seen->store_open = true;
	if (strcmp(name, "hl_store_repair") == 0)
		seen->store_repair = true;
}

/* Whether len bytes from offset lie inside a file of size bytes. */
static bool fits(size_t size, uint64_t offset, uint64_t len)
{
	return offset <= size && len <= size - offset;
}

/* The header of the 64-bit ELF file mapped at file (size bytes). */
static const Elf64_Ehdr *elf_header(const unsigned char *file, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)file;

	assert_true(size >= sizeof(*eh));
	assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
	assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
	return eh;
}

/* Walks the .symtab of a 64-bit ELF file mapped at file (size bytes),
 * checking every offset against size. */
static void read_symtab(const unsigned char *file, size_t size,
			struct symbols *seen)
{
	const Elf64_Ehdr *eh = elf_header(file, size);
	const Elf64_Shdr *sh;

	assert_int_equal(eh->e_shentsize, sizeof(*sh));
	assert_true(fits(size, eh->e_shoff,
			 (uint64_t)eh->e_shnum * sizeof(*sh)));
	sh = (const void *)(file + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *strtab;
		const char *names;

		if (sh[i].sh_type != SHT_SYMTAB)
			continue;
		assert_true(sh[i].sh_link < eh->e_shnum);
		strtab = &sh[sh[i].sh_link];
		assert_true(fits(size, sh[i].sh_offset, sh[i].sh_size));
		assert_true(fits(size, strtab->sh_offset, strtab->sh_size) &&
			    strtab->sh_size > 0);
		names = (const char *)file + strtab->sh_offset;
		assert_int_equal(names[strtab->sh_size - 1], '\0');
		for (size_t at = 0; at + sizeof(Elf64_Sym) <= sh[i].sh_size;
		     at += sizeof(Elf64_Sym)) {
			const Elf64_Sym *sym =
				(const void *)(file + sh[i].sh_offset + at);

			assert_true(sym->st_name < strtab->sh_size);
			symbol_seen(seen, names + sym->st_name);
		}
	}
}

/* The module's file, mapped; *size its length. */
static const unsigned char *map_module(size_t *size)
{
	struct stat st;
	void *file;
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fail_msg("open %s", MODULE_PATH);
	assert_int_equal(fstat(fd, &st), 0);
	file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	assert_true(file != MAP_FAILED);
	*size = (size_t)st.st_size;
	return file;
}

static void no_admin_code(void **state)
{
	struct symbols seen;
	size_t size;
	const unsigned char *file = map_module(&size);

	(void)state;
	memset(&seen, 0, sizeof(seen));
	read_symtab(file, size, &seen);
	munmap((void *)file, size);

	/* The table was read (the build keeps it): a login's code is in. */
	assert_true(seen.total > 0);
	assert_true(seen.store_open);
	assert_true(seen.store_repair);
	if (seen.admin > 0)
		fail_msg("the module carries %u symbol(s) of the admin "
			 "library, %s first", seen.admin, seen.first_admin);
}

/* A PT_GNU_RELRO segment, and the dynamic section asks for every
 * relocation at load (DF_BIND_NOW or DF_1_NOW): with both, the loader
 * makes the GOT read-only before the module runs. */
static void relocations_read_only(void **state)
{
	size_t size;
	const unsigned char *file;
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph;
	bool relro = false, now = false;

	(void)state;
#ifndef HL_LINK_RELRO_NOW
	skip(); /* the linker could not: configure said so */
#endif
	file = map_module(&size);
	eh = elf_header(file, size);
	assert_int_equal(eh->e_phentsize, sizeof(*ph));
	assert_true(fits(size, eh->e_phoff,
			 (uint64_t)eh->e_phnum * sizeof(*ph)));
	ph = (const void *)(file + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_GNU_RELRO)
			relro = true;
		if (ph[i].p_type != PT_DYNAMIC)
			continue;
		assert_true(fits(size, ph[i].p_offset, ph[i].p_filesz));
		for (size_t at = 0; at + sizeof(Elf64_Dyn) <= ph[i].p_filesz;
		     at += sizeof(Elf64_Dyn)) {
			const Elf64_Dyn *d =
				(const void *)(file + ph[i].p_offset + at);

			if ((d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_BIND_NOW)) ||
			    (d->d_tag == DT_FLAGS_1 && (d->d_un.d_val & DF_1_NOW)))
				now = true;
		}
	}
	munmap((void *)file, size);
	if (!relro)
		fail_msg("%s has no PT_GNU_RELRO segment", MODULE_PATH);
	if (!now)
		fail_msg("%s binds its symbols lazily", MODULE_PATH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_pam_sm_exported),
		cmocka_unit_test(no_admin_code),
		cmocka_unit_test(relocations_read_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
