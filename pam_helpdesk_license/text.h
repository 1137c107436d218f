/* Strings from outside: validation, and escaping for each place they go. */
#ifndef HL_TEXT_H
#define HL_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* A user name we accept: 1..HL_USER_MAX bytes, no control characters,
 * no '/', not "." or "..". */
bool hl_user_valid(const char *user);

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
/* A JSON string literal, quotes included; invalid UTF-8 bytes become
 * U+FFFD so the result is always valid JSON. */
void hl_buf_json(struct hl_buf *buf, const char *text);
/* For syslog and terminals: printable ASCII kept, anything else \xNN. */
void hl_buf_printable(struct hl_buf *buf, const char *text);
/* The string (caller frees), or NULL after a failure. */
char *hl_buf_take(struct hl_buf *buf);
void hl_buf_free(struct hl_buf *buf);

/* hl_buf_printable into a fixed buffer, truncated with "..." if needed. */
const char *hl_printable(const char *text, char *out, size_t len);

#endif
