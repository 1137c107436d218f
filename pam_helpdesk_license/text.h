/* SPDX-License-Identifier: BSD-3-Clause */
/* Strings from outside: validation, and escaping for each place they go. */
#ifndef HL_TEXT_H
#define HL_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* A user name we accept: 1..HL_USER_MAX bytes, no control characters,
 * no '/', not "." or "..". */
bool hl_user_valid(const char *user);
/* A pool name we accept, in the config and in a record: 1..HL_POOL_NAME_MAX
 * bytes of [A-Za-z0-9._-]. */
bool hl_pool_name_valid(const char *pool);

/* A growing string; after an allocation failure it stays failed and
 * hl_buf_take returns NULL. */
struct hl_buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};

void hl_buf_init(struct hl_buf *buf);
void hl_buf_append(struct hl_buf *buf, const char *text, size_t len);
void hl_buf_puts(struct hl_buf *buf, const char *text);
void hl_buf_printf(struct hl_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The decimal digits of a number, as "%llu" and "%lld" would write them:
 * the numbers of records, journals and events, without parsing a format
 * for each. */
void hl_buf_unsigned(struct hl_buf *buf, unsigned long long value);
void hl_buf_signed(struct hl_buf *buf, long long value);
/* items (of size bytes each, *cap of them allocated) with room for need,
 * the room doubled so that adding one at a time costs no copy each time;
 * on failure items as they were and *failed set. */
void *hl_grow(void *items, size_t *cap, size_t need, size_t size,
	      bool *failed);
/* The length of the valid UTF-8 sequence at p and its code point in
 * *codepoint, or 0 if there is none. */
size_t hl_utf8_next(const unsigned char *p, unsigned *codepoint);
/* A character that changes or hides the display of text around it: C1
 * controls, bidi marks, embeddings, overrides and isolates (U+202E...),
 * zero-width characters.  Every output escapes these. */
bool hl_unicode_hidden(unsigned codepoint);
/* A JSON string literal, quotes included; invalid UTF-8 bytes become
 * U+FFFD so the result is always valid JSON, and hidden characters
 * (hl_unicode_hidden) are written as \uXXXX escapes. */
void hl_buf_json(struct hl_buf *buf, const char *text);
/* For syslog and terminals: printable ASCII kept, anything else \xNN. */
void hl_buf_printable(struct hl_buf *buf, const char *text);
/* The string (caller frees), or NULL after a failure. */
char *hl_buf_take(struct hl_buf *buf);
void hl_buf_free(struct hl_buf *buf);

/* hl_buf_printable into a fixed buffer, truncated with "..." if needed. */
const char *hl_printable(const char *text, char *out, size_t len);
/* The same for a log line, but a backslash stays as it is: text escaped
 * with hl_printable already passes unchanged, raw text cannot hold a
 * control byte (a forged line, a terminal sequence) any more. */
const char *hl_printable_line(const char *text, char *out, size_t len);

#endif
