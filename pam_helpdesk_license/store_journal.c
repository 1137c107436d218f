/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal of the GDBM store: a commit writes all its changes as one
 * record first, so that a writer after a kill completes it and a reader
 * overlays it (doc/STORE.md).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"
#include "text.h"

/* ---- The journal -------------------------------------------------------- */

/*
 * "hl-journal 1 COUNT LENGTH CRC\n" then LENGTH bytes of body, whose
 * CRC-32 (IEEE) is CRC in 8 lowercase hex digits.  The body holds COUNT
 * entries, "P KLEN VLEN\n" KEY VALUE "\n" for a put and "D KLEN\n" KEY "\n"
 * for a delete.  A journal that does not check out in every detail was
 * never completely written, and is ignored.
 */
static uint32_t crc32_update(uint32_t crc, const char *data, size_t len)
{
	/* Four bits at a time: every commit sums its journal, and a bit at
	 * a time was the largest cost of a commit. */
	static const uint32_t nibble[16] = {
		0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
		0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
		0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
		0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
	};

	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned char)data[i];
		crc = (crc >> 4) ^ nibble[crc & 15u];
		crc = (crc >> 4) ^ nibble[crc & 15u];
	}
	return ~crc;
}

char *store_journal_encode(const struct hl_store_records *cs)
{
	struct hl_buf body, out;
	char *text;

	hl_buf_init(&body);
	for (size_t i = 0; i < cs->count; i++) {
		const struct hl_store_record *c = &cs->items[i];

		if (c->value != NULL) {
			hl_buf_puts(&body, "P ");
			hl_buf_unsigned(&body, strlen(c->key));
			hl_buf_puts(&body, " ");
			hl_buf_unsigned(&body, strlen(c->value));
			hl_buf_puts(&body, "\n");
			hl_buf_puts(&body, c->key);
			hl_buf_puts(&body, c->value);
		} else {
			hl_buf_puts(&body, "D ");
			hl_buf_unsigned(&body, strlen(c->key));
			hl_buf_puts(&body, "\n");
			hl_buf_puts(&body, c->key);
		}
		hl_buf_puts(&body, "\n");
	}
	if (body.failed) {
		hl_buf_free(&body);
		return NULL;
	}
	hl_buf_init(&out);
	hl_buf_printf(&out, "%s %s %zu %zu %08lx\n", JOURNAL_MAGIC,
		      JOURNAL_VERSION, cs->count, body.len,
		      (unsigned long)crc32_update(0, body.data ? body.data : "",
						  body.len));
	hl_buf_append(&out, body.data ? body.data : "", body.len);
	hl_buf_free(&body);
	text = hl_buf_take(&out);
	return text;
}

/* Reads a decimal number ending in stop; advances *p past stop. */
static bool read_size(const char **p, const char *end, char stop, size_t *out)
{
	const char *s = *p;
	size_t value = 0;

	if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end &&
						 s[1] != stop))
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		size_t digit = (size_t)(*s - '0');

		if (value > (SIZE_MAX - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	if (s >= end || *s != stop)
		return false;
	*p = s + 1;
	*out = value;
	return true;
}

static bool read_word(const char **p, const char *end, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(end - *p) < len + 1 || memcmp(*p, word, len) != 0 ||
	    (*p)[len] != ' ')
		return false;
	*p += len + 1;
	return true;
}

static bool read_bytes(const char **p, const char *end, size_t len,
		       char **out)
{
	char *copy;

	if ((size_t)(end - *p) < len || memchr(*p, '\0', len) != NULL)
		return false;
	copy = malloc(len + 1);
	if (copy == NULL)
		return false;
	memcpy(copy, *p, len);
	copy[len] = '\0';
	*p += len;
	*out = copy;
	return true;
}

/* 0, or -1 when text is not a complete journal (*cs is then empty). */
static int journal_decode(const char *text, size_t len,
			  struct hl_store_records *cs)
{
	const char *p = text, *end = text + len, *body;
	size_t count, body_len, n;
	unsigned long crc = 0;
	int digits;

	memset(cs, 0, sizeof(*cs));
	if (!read_word(&p, end, JOURNAL_MAGIC) ||
	    !read_word(&p, end, JOURNAL_VERSION) ||
	    !read_size(&p, end, ' ', &count) ||
	    !read_size(&p, end, ' ', &body_len))
		return -1;
	for (digits = 0; digits < 8; digits++, p++) {
		if (p >= end)
			return -1;
		if (*p >= '0' && *p <= '9')
			crc = crc << 4 | (unsigned long)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			crc = crc << 4 | (unsigned long)(*p - 'a' + 10);
		else
			return -1;
	}
	if (p >= end || *p++ != '\n')
		return -1;
	body = p;
	if ((size_t)(end - body) != body_len ||
	    crc32_update(0, body, body_len) != crc || count == 0)
		return -1;
	for (n = 0; n < count; n++) {
		size_t klen, vlen;
		char *key = NULL, *value = NULL;
		bool put;

		if (end - p < 2 || (p[0] != 'P' && p[0] != 'D') || p[1] != ' ')
			goto bad;
		put = p[0] == 'P';
		p += 2;
		if (put) {
			if (!read_size(&p, end, ' ', &klen) ||
			    !read_size(&p, end, '\n', &vlen))
				goto bad;
		} else if (!read_size(&p, end, '\n', &klen)) {
			goto bad;
		}
		if (klen == 0 || !read_bytes(&p, end, klen, &key))
			goto bad;
		if (put && !read_bytes(&p, end, vlen, &value)) {
			free(key);
			goto bad;
		}
		if (p >= end || *p++ != '\n' || store_internal_key(key) ||
		    store_changes_set(cs, key, put ? value : NULL) != 0) {
			free(key);
			free(value);
			goto bad;
		}
		free(key);
		free(value);
	}
	/* Entries are written sorted and unique: a repeat is not ours. */
	if (p != end || cs->count != count)
		goto bad;
	return 0;
bad:
	hl_store_records_free(cs);
	return -1;
}

/* A journal left by a killed commit: a writer completes the commit, a
 * reader sees its changes as if staged.  An incomplete one is ignored
 * (and a writer removes it). */
int store_journal(struct hl_store *s, bool *replayed)
{
	struct hl_store_records cs;
	char *text;
	int rc = store_db_fetch(s, KEY_JOURNAL, &text);

	if (replayed != NULL)
		*replayed = false;
	if (rc == HL_STORE_NOTFOUND)
		return HL_STORE_OK;
	if (rc != HL_STORE_OK)
		return rc;
	/* Whole or torn, a journal means a writer was killed inside a
	 * commit, where GDBM may have been mid-update too. */
	if (s->mode == HL_STORE_WRITE)
		s->interrupted = true;
	rc = journal_decode(text, strlen(text), &cs);
	free(text);
	if (rc != 0) {
		hl_log(s->log, LOG_WARNING,
		       "store %s: ignoring an incomplete journal (a commit "
		       "that never finished writing it)%s", s->path,
		       s->mode == HL_STORE_WRITE ? "; removed" : "");
		if (s->mode != HL_STORE_WRITE)
			return HL_STORE_OK;
		rc = store_db_writable(s);
		return rc != HL_STORE_OK ? rc : store_db_delete_journal(s);
	}
	if (s->mode == HL_STORE_READ) {
		/* The overlay: not changes of the caller's. */
		s->staged = cs;
		return HL_STORE_OK;
	}
	rc = store_db_writable(s);
	if (rc == HL_STORE_OK)
		rc = store_db_apply(s, &cs);
	if (rc == HL_STORE_OK)
		rc = store_db_delete_journal(s);
	if (rc == HL_STORE_OK) {
		hl_log(s->log, LOG_NOTICE,
		       "store %s: completed an interrupted commit (%zu "
		       "change%s)",
		       s->path, cs.count, cs.count == 1 ? "" : "s");
		if (replayed != NULL)
			*replayed = true;
	}
	hl_store_records_free(&cs);
	return rc;
}
