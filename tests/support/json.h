/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one JSON reader of the tests: strict (RFC 8259: UTF-8 checked,
 * surrogate pairs joined, duplicate member names refused), it builds a
 * tree of the tool's --json documents and of event log lines alike.  No
 * cmocka in it: the callers decide what a failure is.
 */
#ifndef HL_TEST_JSON_H
#define HL_TEST_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum jtype { J_NULL, J_BOOL, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

struct jv {
	enum jtype type;
	char *key;		/* a member of an object: its name */
	char *text;		/* string: decoded; number: as written */
	size_t len;
	bool truth;
	struct jv *first;	/* array elements, object members */
	struct jv *next;
};

/* One JSON document of len bytes and nothing but white space around it:
 * the tree (free it with jv_free), or NULL and in why the reason and the
 * byte where it was found. */
struct jv *ts_json_parse(const char *text, size_t len, char *why,
			 size_t why_len);
/* Frees v, its siblings after it and everything under them. */
void jv_free(struct jv *v);

/* obj's member key (obj an object), or NULL. */
const struct jv *jget(const struct jv *obj, const char *key);
/* How many elements or members v has (0 for NULL). */
size_t jcount(const struct jv *v);
/* The first element or member of obj's member key, or NULL. */
const struct jv *jfirst(const struct jv *obj, const char *key);
/* obj's member key is the literal true. */
bool jtrue(const struct jv *obj, const char *key);
/* obj's member key if it is a string, or NULL. */
const char *jstr(const struct jv *obj, const char *key);
/* obj's member key if it is a number (atol), or -1. */
long jnum(const struct jv *obj, const char *key);

/* Length of the valid UTF-8 sequence at p (shortest form, no surrogates,
 * at most U+10FFFF) before end, or 0. */
size_t ts_utf8_len(const unsigned char *p, const unsigned char *end);

#endif
