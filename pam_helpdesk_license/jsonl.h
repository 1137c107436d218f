/* SPDX-License-Identifier: BSD-3-Clause */
/* One strict reader for JSON Lines of flat objects, such as the event
 * log: {"key":"string" or integer or true/false/null, ...} and nothing
 * nested.  Anything else is refused, never half-read. */
#ifndef HL_JSONL_H
#define HL_JSONL_H

#include <stdbool.h>
#include <stddef.h>

#define HL_JSONL_FIELDS_MAX 32

enum hl_jsonl_type { HL_JSONL_STRING, HL_JSONL_NUMBER, HL_JSONL_BOOL,
		     HL_JSONL_NULL };

struct hl_jsonl_field {
	const char *key;		/* unescaped, NUL-terminated */
	const char *value;		/* strings unescaped; numbers as written */
	enum hl_jsonl_type type;
};

struct hl_jsonl_object {
	struct hl_jsonl_field fields[HL_JSONL_FIELDS_MAX];
	size_t count;
};

/*
 * Parses one line (without its newline) in place: keys and string values
 * are unescaped into line itself, which must stay alive while out is used.
 * Strings must be valid UTF-8 without NUL; numbers are integers.  Returns
 * true, or false for anything that is not exactly one flat object of at
 * most HL_JSONL_FIELDS_MAX distinct keys.
 */
bool hl_jsonl_parse(char *line, size_t len, struct hl_jsonl_object *out);

/* The field named key, or NULL. */
const struct hl_jsonl_field *hl_jsonl_get(const struct hl_jsonl_object *obj,
					  const char *key);

/* The value of the field named key when it is a string; else NULL. */
const char *hl_jsonl_string(const struct hl_jsonl_object *obj,
			    const char *key);

#endif
