/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tests' JSON reader (json.h): strict RFC 8259, one document.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

size_t ts_utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

struct jp {
	const char *p, *end, *start;
	char why[160];
	int depth;
};

void jv_free(struct jv *v)
{
	while (v != NULL) {
		struct jv *next = v->next;

		jv_free(v->first);
		free(v->key);
		free(v->text);
		free(v);
		v = next;
	}
}

static void *jp_error(struct jp *in, const char *what)
{
	if (in->why[0] == '\0')
		snprintf(in->why, sizeof(in->why), "%s at byte %ld", what,
			 (long)(in->p - in->start));
	return NULL;
}

static void jp_ws(struct jp *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' ||
				   *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

static int jp_hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string literal, decoded into a malloc'd buffer (*len bytes, NUL
 * added). */
static char *jp_string(struct jp *in, size_t *len)
{
	size_t cap = (size_t)(in->end - in->p) + 1, used = 0;
	char *out;

	if (in->p >= in->end || *in->p != '"')
		return jp_error(in, "string expected");
	out = malloc(cap);
	if (out == NULL)
		return jp_error(in, "no memory");
	in->p++;
	for (;;) {
		unsigned char c;

		if (in->p >= in->end) {
			free(out);
			return jp_error(in, "unterminated string");
		}
		c = (unsigned char)*in->p;
		if (c == '"') {
			in->p++;
			break;
		}
		if (c < 0x20) {
			free(out);
			return jp_error(in,
					"raw control character in a string");
		}
		if (c != '\\') {
			size_t n = ts_utf8_len((const unsigned char *)in->p,
					       (const unsigned char *)in->end);

			if (n == 0) {
				free(out);
				return jp_error(in, "invalid UTF-8");
			}
			memcpy(out + used, in->p, n);
			used += n;
			in->p += n;
			continue;
		}
		if (in->end - in->p < 2) {
			free(out);
			return jp_error(in, "bad escape");
		}
		switch (in->p[1]) {
		case '"': out[used++] = '"'; break;
		case '\\': out[used++] = '\\'; break;
		case '/': out[used++] = '/'; break;
		case 'b': out[used++] = '\b'; break;
		case 'f': out[used++] = '\f'; break;
		case 'n': out[used++] = '\n'; break;
		case 'r': out[used++] = '\r'; break;
		case 't': out[used++] = '\t'; break;
		case 'u': {
			int hi, lo = -1;
			unsigned cp;

			if (in->end - in->p < 6 ||
			    (hi = jp_hex4(in->p + 2)) < 0) {
				free(out);
				return jp_error(in, "bad \\u escape");
			}
			if (hi >= 0xdc00 && hi <= 0xdfff) {
				free(out);
				return jp_error(in, "lone low surrogate");
			}
			if (hi >= 0xd800 && hi <= 0xdbff) {
				if (in->end - in->p < 12 || in->p[6] != '\\' ||
				    in->p[7] != 'u' ||
				    (lo = jp_hex4(in->p + 8)) < 0xdc00 ||
				    lo > 0xdfff) {
					free(out);
					return jp_error(in,
							"lone high surrogate");
				}
				cp = 0x10000 + (((unsigned)hi - 0xd800) << 10) +
				     ((unsigned)lo - 0xdc00);
				in->p += 6;
			} else {
				cp = (unsigned)hi;
			}
			/* Escapes are at least as long as what they stand
			 * for: the buffer is big enough. */
			used += utf8_put(out + used, cp);
			in->p += 4;
			break;
		}
		default:
			free(out);
			return jp_error(in, "bad escape");
		}
		in->p += 2;
	}
	out[used] = '\0';
	*len = used;
	return out;
}

static bool jp_digits(struct jp *in)
{
	const char *start = in->p;

	while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
		in->p++;
	return in->p > start;
}

static struct jv *jp_value(struct jp *in);

static struct jv *jp_new(struct jp *in, enum jtype type)
{
	struct jv *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return jp_error(in, "no memory");
	v->type = type;
	return v;
}

static struct jv *jp_container(struct jp *in, bool object)
{
	struct jv *v = jp_new(in, object ? J_OBJECT : J_ARRAY), **tail;
	char close = object ? '}' : ']';

	if (v == NULL)
		return NULL;
	if (++in->depth > 64) {
		jv_free(v);
		return jp_error(in, "nested too deep");
	}
	tail = &v->first;
	in->p++;
	jp_ws(in);
	if (in->p < in->end && *in->p == close) {
		in->p++;
		in->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		struct jv *item;

		jp_ws(in);
		if (object) {
			key = jp_string(in, &klen);
			if (key == NULL)
				goto fail;
			if (strlen(key) != klen) {
				free(key);
				jp_error(in, "NUL in a member name");
				goto fail;
			}
			for (struct jv *m = v->first; m; m = m->next) {
				if (strcmp(m->key, key) == 0) {
					free(key);
					jp_error(in, "duplicate member name");
					goto fail;
				}
			}
			jp_ws(in);
			if (in->p >= in->end || *in->p != ':') {
				free(key);
				jp_error(in, "':' expected");
				goto fail;
			}
			in->p++;
			jp_ws(in);
		}
		item = jp_value(in);
		if (item == NULL) {
			free(key);
			goto fail;
		}
		item->key = key;
		*tail = item;
		tail = &item->next;
		jp_ws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == close) {
			in->p++;
			in->depth--;
			return v;
		}
		jp_error(in, object ? "',' or '}' expected"
				    : "',' or ']' expected");
		goto fail;
	}
fail:
	jv_free(v);
	return NULL;
}

static struct jv *jp_value(struct jp *in)
{
	static const char *const words[] = { "true", "false", "null" };
	const char *start = in->p;
	struct jv *v;

	jp_ws(in);
	start = in->p;
	if (in->p >= in->end)
		return jp_error(in, "value expected");
	switch (*in->p) {
	case '{':
		return jp_container(in, true);
	case '[':
		return jp_container(in, false);
	case '"':
		v = jp_new(in, J_STRING);
		if (v != NULL && (v->text = jp_string(in, &v->len)) == NULL) {
			jv_free(v);
			return NULL;
		}
		return v;
	case 't':
	case 'f':
	case 'n':
		for (size_t i = 0; i < 3; i++) {
			size_t l = strlen(words[i]);

			if ((size_t)(in->end - in->p) >= l &&
			    memcmp(in->p, words[i], l) == 0) {
				in->p += l;
				v = jp_new(in, i < 2 ? J_BOOL : J_NULL);
				if (v != NULL)
					v->truth = i == 0;
				return v;
			}
		}
		return jp_error(in, "bad literal");
	default:
		break;
	}
	/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
	if (*in->p == '-')
		in->p++;
	if (in->p < in->end && *in->p == '0')
		in->p++;
	else if (in->p >= in->end || *in->p < '1' || *in->p > '9' ||
		 !jp_digits(in))
		return jp_error(in, "value expected");
	if (in->p < in->end && *in->p == '.') {
		in->p++;
		if (!jp_digits(in))
			return jp_error(in, "digit expected");
	}
	if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
		in->p++;
		if (in->p < in->end && (*in->p == '+' || *in->p == '-'))
			in->p++;
		if (!jp_digits(in))
			return jp_error(in, "digit expected");
	}
	v = jp_new(in, J_NUMBER);
	if (v == NULL)
		return NULL;
	v->len = (size_t)(in->p - start);
	v->text = strndup(start, v->len);
	if (v->text == NULL) {
		jv_free(v);
		return jp_error(in, "no memory");
	}
	return v;
}

struct jv *ts_json_parse(const char *text, size_t len, char *why,
			 size_t why_len)
{
	struct jp in = { .p = text, .end = text + len, .start = text };
	struct jv *v = jp_value(&in);

	if (v != NULL) {
		jp_ws(&in);
		if (in.p != in.end) {
			jv_free(v);
			v = jp_error(&in, "text after the document");
		}
	}
	snprintf(why, why_len, "%s", in.why);
	return v;
}

const struct jv *jget(const struct jv *obj, const char *key)
{
	if (obj == NULL || obj->type != J_OBJECT)
		return NULL;
	for (const struct jv *m = obj->first; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

size_t jcount(const struct jv *v)
{
	size_t n = 0;

	for (const struct jv *m = v ? v->first : NULL; m; m = m->next)
		n++;
	return n;
}

const struct jv *jfirst(const struct jv *obj, const char *key)
{
	const struct jv *v = jget(obj, key);

	return v ? v->first : NULL;
}

bool jtrue(const struct jv *obj, const char *key)
{
	const struct jv *v = jget(obj, key);

	return v != NULL && v->type == J_BOOL && v->truth;
}

const char *jstr(const struct jv *obj, const char *key)
{
	const struct jv *v = jget(obj, key);

	return v && v->type == J_STRING ? v->text : NULL;
}

long jnum(const struct jv *obj, const char *key)
{
	const struct jv *v = jget(obj, key);

	return v && v->type == J_NUMBER ? atol(v->text) : -1;
}
