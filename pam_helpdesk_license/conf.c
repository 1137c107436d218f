/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration file, helpdesk-license.conf(5).
 *
 * The file is opened the trusted way (no symlink, owned by root, not
 * writable by group or others), read whole, and handed to libconfig.
 * Then every setting is checked in file order; each problem is logged as
 * "FILE:LINE: message" and checking goes on, so one run shows them all.
 * A configuration with any problem is refused as a whole.
 *
 * Nothing here is global or static-mutable: the module runs in threaded
 * daemons.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "conf.h"
#include "safefile.h"
#include "text.h"

#define DURATION_MAX (365u * 24 * 60 * 60)	/* 365 days, in seconds */
#define LICENSES_MAX 100000u			/* named or per pool */
#define CONF_SIZE_MAX (1024 * 1024)		/* bytes */
#define CURRENCY_MAX (sizeof(((struct hl_prices *)NULL)->currency) - 1)
#define WAIT_UNSET UINT_MAX			/* pool wait: take the default */
#define IDLE_TIMEOUT_MIN 60u			/* seconds; below it the tty's
						 * atime (kernel step 8 s) and
						 * a pause to read mislead */
#define VALUE_MAX 80				/* bytes of a value quoted back */

/* Known keys per level, for unknown-key checks and "did you mean". */
static const char *const top_keys[] = {
	"store", "runtime_store", "event_log", "on_error", "unlicensed", "show_holders",
	"lock_timeout", "wait", "ignore_services", "exempt", "named",
	"concurrent", "prices", "backend", NULL
};
static const char *const exempt_keys[] = { "users", "groups", NULL };
static const char *const named_keys[] = {
	"licenses", "users", "groups", "min_assignment", NULL
};
static const char *const pool_keys[] = {
	"pool", "licenses", "users", "groups", "wait", "idle_timeout", NULL
};
static const char *const prices_keys[] = {
	"named", "concurrent", "currency", NULL
};
static const char *const backend_keys[] = {
	"type", "conninfo", "password_file", "socket", "host", "heartbeat",
	"lease", "transaction_timeout", NULL
};

/* One load in progress. */
struct parse {
	const char *file;		/* for messages */
	const struct hl_logger *log;
	struct hl_config *cfg;
	unsigned problems;
	bool nomem;
	bool on_error_read;		/* the file's on_error was valid */
	unsigned open_string_line;	/* first string running over a line
					 * end, where it starts; 0: none */
};

/* Where a setting lives, to name it in messages. */
struct scope {
	const char *group;		/* "named", "exempt", "prices",
					 * "backend"; or NULL */
	unsigned pool_number;		/* 1-based place in concurrent; 0: none */
	const char *pool;		/* the pool's name when valid, else NULL */
};

static const struct scope top_scope = { NULL, 0, NULL };

/* ---- messages ---- */

static void problem_at(struct parse *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct parse *p, const config_setting_t *s,
		    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void vproblem(struct parse *p, unsigned line, const char *fmt,
		     va_list ap) __attribute__((format(printf, 3, 0)));

static void vproblem(struct parse *p, unsigned line, const char *fmt,
		     va_list ap)
{
	char message[1024];

	vsnprintf(message, sizeof(message), fmt, ap);
	hl_log(p->log, LOG_ERR, "%s:%u: %s", p->file, line, message);
	p->problems++;
}

static void problem_at(struct parse *p, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(p, line, fmt, ap);
	va_end(ap);
}

static void problem(struct parse *p, const config_setting_t *s,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(p, (unsigned)config_setting_source_line(s), fmt, ap);
	va_end(ap);
}

/* 'store', 'named.licenses', 'licenses' of pool 'east', 'wait' of pool #2 */
static const char *label(const struct scope *sc, const char *key, char *out,
			 size_t len)
{
	if (sc->pool_number != 0 && sc->pool != NULL)
		snprintf(out, len, "'%s' of pool '%s'", key, sc->pool);
	else if (sc->pool_number != 0)
		snprintf(out, len, "'%s' of pool #%u", key, sc->pool_number);
	else if (sc->group != NULL)
		snprintf(out, len, "'%s.%s'", sc->group, key);
	else
		snprintf(out, len, "'%s'", key);
	return out;
}

/* " in 'named'", " in pool 'east'", " in pool #2", or "" at the top. */
static const char *scope_name(const struct scope *sc, char *out, size_t len)
{
	if (sc->pool_number != 0 && sc->pool != NULL)
		snprintf(out, len, " in pool '%s'", sc->pool);
	else if (sc->pool_number != 0)
		snprintf(out, len, " in pool #%u", sc->pool_number);
	else if (sc->group != NULL)
		snprintf(out, len, " in '%s'", sc->group);
	else
		snprintf(out, len, "%s", "");
	return out;
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating-point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "true or false";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "nothing";
	}
}

/* A string value as messages show it: escaped, cut if long. */
static const char *shown(const char *text, char *out, size_t len)
{
	return hl_printable(text, out, len);
}

static void wrong_type(struct parse *p, const struct scope *sc,
		       const config_setting_t *s, const char *wanted)
{
	char where[160];

	problem(p, s, "%s must be %s, not %s",
		label(sc, config_setting_name(s), where, sizeof(where)),
		wanted, type_name(s));
}

/* ---- "did you mean" ---- */

/* Edit distance with transpositions (optimal string alignment), for short
 * keys; anything longer than 32 bytes is simply "far". */
static unsigned edit_distance(const char *a, const char *b)
{
	enum { N = 32 };
	unsigned d[N + 1][N + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > N || lb > N)
		return UINT_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *hl_near_miss(const char *key, const char *const *known)
{
	const char *best = NULL;
	unsigned best_distance = UINT_MAX;

	for (size_t i = 0; known[i] != NULL; i++) {
		unsigned d = edit_distance(key, known[i]);

		if (d < best_distance) {
			best_distance = d;
			best = known[i];
		}
	}
	if (best == NULL || best_distance > 2 ||
	    best_distance * 3 > strlen(best))
		return NULL;
	return best;
}

static void unknown_key(struct parse *p, const struct scope *sc,
			const config_setting_t *s, const char *const *known)
{
	const char *key = config_setting_name(s);
	const char *hint = hl_near_miss(key, known);
	char where[120];

	if (hint != NULL)
		problem(p, s, "unknown key '%s'%s (did you mean '%s'?)", key,
			scope_name(sc, where, sizeof(where)), hint);
	else
		problem(p, s, "unknown key '%s'%s", key,
			scope_name(sc, where, sizeof(where)));
}

/* ---- names lists ---- */

static void names_free(struct hl_names *names)
{
	for (size_t i = 0; i < names->count; i++)
		free(names->names[i]);
	free(names->names);
	names->names = NULL;
	names->count = 0;
}

/* Sets names to the NULL-terminated list. */
static bool names_set(struct parse *p, struct hl_names *names,
		      const char *const *list)
{
	size_t count = 0;

	names_free(names);
	while (list[count] != NULL)
		count++;
	names->names = calloc(count, sizeof(*names->names));
	if (names->names == NULL) {
		p->nomem = true;
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		names->names[i] = strdup(list[i]);
		if (names->names[i] == NULL) {
			names->count = i;
			p->nomem = true;
			return false;
		}
	}
	names->count = count;
	return true;
}

const struct hl_pool *hl_config_pool(const struct hl_config *cfg,
				     const char *name)
{
	for (size_t i = 0; i < cfg->pool_count; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	return NULL;
}

bool hl_names_contain(const struct hl_names *names, const char *name)
{
	if (names == NULL || name == NULL)
		return false;
	for (size_t i = 0; i < names->count; i++)
		if (strcmp(names->names[i], name) == 0)
			return true;
	return false;
}

/* users, groups, ignore_services: [ "a", "b" ] or ( "a", "b" ).  what is
 * "user", "group" or "service"; each must pass hl_user_valid. */
static void get_names(struct parse *p, const struct scope *sc,
		      const config_setting_t *s, const char *what,
		      struct hl_names *out)
{
	char where[160], value[VALUE_MAX];
	int length;

	label(sc, config_setting_name(s), where, sizeof(where));
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		problem(p, s, "%s must be a list of %s names like "
			"[ \"a\", \"b\" ], not %s", where, what, type_name(s));
		return;
	}
	names_free(out);
	length = config_setting_length(s);
	if (length <= 0)
		return;
	out->names = calloc((size_t)length, sizeof(*out->names));
	if (out->names == NULL) {
		p->nomem = true;
		return;
	}
	for (int i = 0; i < length; i++) {
		const config_setting_t *e = config_setting_get_elem(s,
							(unsigned)i);
		const char *name;

		if (e == NULL)
			continue;
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			problem(p, e, "item %d of %s must be a %s name in "
				"quotes, not %s", i + 1, where, what,
				type_name(e));
			continue;
		}
		name = config_setting_get_string(e);
		if (!hl_user_valid(name)) {
			problem(p, e, "bad %s name \"%s\" in %s", what,
				shown(name, value, sizeof(value)), where);
			continue;
		}
		out->names[out->count] = strdup(name);
		if (out->names[out->count] == NULL) {
			p->nomem = true;
			return;
		}
		out->count++;
	}
}

/* A users or groups key that names somebody, or that is wrong in a way
 * already reported: either way, not a missing membership. */
static bool members_given(const config_setting_t *s)
{
	if (s == NULL)
		return false;
	if (!config_setting_is_aggregate(s))
		return true;
	return config_setting_length(s) > 0;
}

/* ---- scalars ---- */

static bool get_integer(const config_setting_t *s, long long *value)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		*value = config_setting_get_int64(s);
		return true;
	default:
		return false;
	}
}

static void get_count(struct parse *p, const struct scope *sc,
		      const config_setting_t *s, unsigned min, unsigned *out)
{
	char where[160];
	long long value;

	if (!get_integer(s, &value)) {
		wrong_type(p, sc, s, "an integer");
		return;
	}
	if (value < (long long)min || value > (long long)LICENSES_MAX) {
		problem(p, s, "%s must be between %u and %u, not %lld",
			label(sc, config_setting_name(s), where, sizeof(where)),
			min, LICENSES_MAX, value);
		return;
	}
	*out = (unsigned)value;
}

bool hl_parse_duration(const char *text, unsigned *seconds)
{
	unsigned long long value = 0, unit = 1;
	const char *c = text;

	if (text == NULL || *c < '0' || *c > '9')
		return false;
	for (; *c >= '0' && *c <= '9'; c++) {
		value = value * 10 + (unsigned)(*c - '0');
		if (value > DURATION_MAX)
			return false;
	}
	switch (*c) {
	case '\0':
		break;
	case 's':
		c++;
		break;
	case 'm':
		unit = 60;
		c++;
		break;
	case 'h':
		unit = 60 * 60;
		c++;
		break;
	case 'd':
		unit = 24 * 60 * 60;
		c++;
		break;
	default:
		return false;
	}
	if (*c != '\0' || value > DURATION_MAX / unit)
		return false;
	if (seconds != NULL)
		*seconds = (unsigned)(value * unit);
	return true;
}

#define DURATION_FORMS "a duration (seconds, or a number followed by s, m, " \
	"h or d; at most 365d)"

static void get_duration(struct parse *p, const struct scope *sc,
			 const config_setting_t *s, unsigned *out)
{
	char where[160], value[VALUE_MAX];
	long long number;

	label(sc, config_setting_name(s), where, sizeof(where));
	if (get_integer(s, &number)) {
		if (number < 0 || number > (long long)DURATION_MAX) {
			problem(p, s, "%s must be " DURATION_FORMS ", not %lld",
				where, number);
			return;
		}
		*out = (unsigned)number;
		return;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(p, sc, s, DURATION_FORMS);
		return;
	}
	if (!hl_parse_duration(config_setting_get_string(s), out))
		problem(p, s, "%s must be " DURATION_FORMS ", not \"%s\"", where,
			shown(config_setting_get_string(s), value,
			      sizeof(value)));
}

/* 0 turns it off; anything else must be at least IDLE_TIMEOUT_MIN. */
static void get_idle_timeout(struct parse *p, const struct scope *sc,
			     const config_setting_t *s, unsigned *out)
{
	unsigned seconds = 0;
	unsigned before = p->problems;
	char where[160];

	get_duration(p, sc, s, &seconds);
	if (p->problems != before)
		return;
	if (seconds != 0 && seconds < IDLE_TIMEOUT_MIN) {
		problem(p, s, "%s must be 0 (off) or at least %us, not %us",
			label(sc, config_setting_name(s), where, sizeof(where)),
			IDLE_TIMEOUT_MIN, seconds);
		return;
	}
	*out = seconds;
}

static void get_bool(struct parse *p, const struct scope *sc,
		     const config_setting_t *s, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		wrong_type(p, sc, s, "true or false");
		return;
	}
	*out = config_setting_get_bool(s) != 0;
}

/* One of two words; returns 0 or 1, or -1 after reporting. */
static int get_choice(struct parse *p, const struct scope *sc,
		      const config_setting_t *s, const char *first,
		      const char *second)
{
	char where[160], value[VALUE_MAX], wanted[64];
	const char *text;

	snprintf(wanted, sizeof(wanted), "\"%s\" or \"%s\"", first, second);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(p, sc, s, wanted);
		return -1;
	}
	text = config_setting_get_string(s);
	if (strcmp(text, first) == 0)
		return 0;
	if (strcmp(text, second) == 0)
		return 1;
	problem(p, s, "%s must be %s, not \"%s\"",
		label(sc, config_setting_name(s), where, sizeof(where)), wanted,
		shown(text, value, sizeof(value)));
	return -1;
}

/* store, event_log: an absolute path naming a file; with may_be_off, ""
 * gives NULL. */
static void get_path(struct parse *p, const struct scope *sc,
		     const config_setting_t *s, bool may_be_off, char **out)
{
	const char *wanted = may_be_off ? "an absolute file path, or \"\" "
					  "for none"
					: "an absolute file path";
	char where[160], value[VALUE_MAX];
	const char *text;
	size_t len;
	char *copy = NULL;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(p, sc, s, wanted);
		return;
	}
	text = config_setting_get_string(s);
	len = strlen(text);
	if (!(may_be_off && len == 0)) {
		bool ok = len > 1 && len < PATH_MAX && text[0] == '/' &&
			  text[len - 1] != '/';

		for (size_t i = 0; ok && i < len; i++)
			if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
				ok = false;
		if (!ok) {
			problem(p, s, "%s must be %s, not \"%s\"",
				label(sc, config_setting_name(s), where,
				      sizeof(where)),
				wanted, shown(text, value, sizeof(value)));
			return;
		}
		copy = strdup(text);
		if (copy == NULL) {
			p->nomem = true;
			return;
		}
	}
	free(*out);
	*out = copy;
}

static void get_price(struct parse *p, const struct scope *sc,
		      const config_setting_t *s, double *out)
{
	char where[160];
	long long number;
	double value;

	if (get_integer(s, &number))
		value = (double)number;
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		value = config_setting_get_float(s);
	else {
		wrong_type(p, sc, s, "a number");
		return;
	}
	if (!isfinite(value) || value < 0) {
		problem(p, s, "%s must be a number of 0 or more, not %g",
			label(sc, config_setting_name(s), where, sizeof(where)),
			value);
		return;
	}
	*out = value;
}

static void get_currency(struct parse *p, const struct scope *sc,
			 const config_setting_t *s, struct hl_prices *prices)
{
	char where[160], value[VALUE_MAX];
	const char *text;
	size_t len;
	bool ok;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(p, sc, s, "a string");
		return;
	}
	text = config_setting_get_string(s);
	len = strlen(text);
	ok = len >= 1 && len <= CURRENCY_MAX;
	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			ok = false;
	if (!ok) {
		problem(p, s, "%s must be 1 to %zu printable characters, "
			"not \"%s\"",
			label(sc, config_setting_name(s), where, sizeof(where)),
			CURRENCY_MAX, shown(text, value, sizeof(value)));
		return;
	}
	memcpy(prices->currency, text, len + 1);
}

/* ---- groups ---- */

static bool want_group(struct parse *p, const struct scope *sc,
		       const config_setting_t *s)
{
	if (config_setting_is_group(s))
		return true;
	wrong_type(p, sc, s, "a group { ... }");
	return false;
}

static void parse_exempt(struct parse *p, const config_setting_t *g)
{
	const struct scope sc = { "exempt", 0, NULL };
	struct hl_config *cfg = p->cfg;

	if (!want_group(p, &top_scope, g))
		return;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g,
							(unsigned)i);
		const char *key = config_setting_name(s);

		if (strcmp(key, "users") == 0)
			get_names(p, &sc, s, "user", &cfg->exempt_users);
		else if (strcmp(key, "groups") == 0)
			get_names(p, &sc, s, "group", &cfg->exempt_groups);
		else
			unknown_key(p, &sc, s, exempt_keys);
	}
}

static void parse_named(struct parse *p, const config_setting_t *g)
{
	const struct scope sc = { "named", 0, NULL };
	struct hl_named *named = &p->cfg->named;

	if (!want_group(p, &top_scope, g))
		return;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g,
							(unsigned)i);
		const char *key = config_setting_name(s);

		if (strcmp(key, "licenses") == 0)
			get_count(p, &sc, s, 0, &named->licenses);
		else if (strcmp(key, "users") == 0)
			get_names(p, &sc, s, "user", &named->users);
		else if (strcmp(key, "groups") == 0)
			get_names(p, &sc, s, "group", &named->groups);
		else if (strcmp(key, "min_assignment") == 0)
			get_duration(p, &sc, s, &named->min_assignment);
		else
			unknown_key(p, &sc, s, named_keys);
	}
	if (named->licenses > 0 &&
	    !members_given(config_setting_get_member(g, "users")) &&
	    !members_given(config_setting_get_member(g, "groups")))
		problem(p, g, "'named' has %u licenses but neither users nor "
			"groups to hold them", named->licenses);
}

static void parse_prices(struct parse *p, const config_setting_t *g)
{
	const struct scope sc = { "prices", 0, NULL };
	struct hl_prices *prices = &p->cfg->prices;

	if (!want_group(p, &top_scope, g))
		return;
	prices->set = true;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g,
							(unsigned)i);
		const char *key = config_setting_name(s);

		if (strcmp(key, "named") == 0)
			get_price(p, &sc, s, &prices->named);
		else if (strcmp(key, "concurrent") == 0)
			get_price(p, &sc, s, &prices->concurrent);
		else if (strcmp(key, "currency") == 0)
			get_currency(p, &sc, s, prices);
		else
			unknown_key(p, &sc, s, prices_keys);
	}
}

/* backend.conninfo: one printable line, and never a password (the daemon
 * reads it from password_file, a root-only file: the configuration is
 * read by the admin tool and shown by check-config). */
static void get_conninfo(struct parse *p, const struct scope *sc,
			 const config_setting_t *s, char **out)
{
	char where[160];
	const char *text;
	size_t len;
	bool ok;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(p, sc, s, "a libpq connection string");
		return;
	}
	text = config_setting_get_string(s);
	len = strlen(text);
	ok = len >= 1 && len <= 4096;
	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			ok = false;
	label(sc, config_setting_name(s), where, sizeof(where));
	if (!ok) {
		problem(p, s, "%s must be a libpq connection string of 1 to "
			"4096 printable characters", where);
		return;
	}
	if (strstr(text, "password") != NULL) {
		problem(p, s, "%s must not hold a password: put it in "
			"password_file (root's, mode 0600)", where);
		return;
	}
	free(*out);
	*out = strdup(text);
	if (*out == NULL)
		p->nomem = true;
}

/* backend.type: the one kind of shared backend there is. */
static void get_type(struct parse *p, const struct scope *sc,
		     const config_setting_t *s)
{
	char where[160], value[VALUE_MAX];
	const char *text;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(p, sc, s, "\"postgresql\"");
		return;
	}
	text = config_setting_get_string(s);
	if (strcmp(text, "postgresql") != 0)
		problem(p, s, "%s must be \"postgresql\", not \"%s\"",
			label(sc, config_setting_name(s), where, sizeof(where)),
			shown(text, value, sizeof(value)));
}

/* backend.host: a host name (letters, digits, '.', '-', '_'). */
static void get_host(struct parse *p, const struct scope *sc,
		     const config_setting_t *s, char **out)
{
	char where[160], value[VALUE_MAX];
	const char *text;
	size_t len;
	bool ok;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(p, sc, s, "a host name");
		return;
	}
	text = config_setting_get_string(s);
	len = strlen(text);
	ok = len >= 1 && len <= HL_BACKEND_HOST_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)text[i]) || text[i] == '.' ||
		     text[i] == '-' || text[i] == '_';
	if (!ok) {
		problem(p, s, "%s must be a host name of 1 to %d letters, "
			"digits, '.', '-' or '_', not \"%s\"",
			label(sc, config_setting_name(s), where, sizeof(where)),
			HL_BACKEND_HOST_MAX, shown(text, value, sizeof(value)));
		return;
	}
	free(*out);
	*out = strdup(text);
	if (*out == NULL)
		p->nomem = true;
}

/* A duration of at least one second. */
static void get_period(struct parse *p, const struct scope *sc,
		       const config_setting_t *s, unsigned *out)
{
	unsigned seconds = 0, before = p->problems;
	char where[160];

	get_duration(p, sc, s, &seconds);
	if (p->problems != before)
		return;
	if (seconds == 0) {
		problem(p, s, "%s must be at least 1s",
			label(sc, config_setting_name(s), where, sizeof(where)));
		return;
	}
	*out = seconds;
}

static void parse_backend(struct parse *p, const config_setting_t *g)
{
	const struct scope sc = { "backend", 0, NULL };
	struct hl_backend *b = &p->cfg->backend;
	const config_setting_t *lease;

	if (!want_group(p, &top_scope, g))
		return;
	b->enabled = true;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g,
							(unsigned)i);
		const char *key = config_setting_name(s);

		if (strcmp(key, "type") == 0) {
			get_type(p, &sc, s);
		} else if (strcmp(key, "conninfo") == 0) {
			get_conninfo(p, &sc, s, &b->conninfo);
		} else if (strcmp(key, "password_file") == 0) {
			get_path(p, &sc, s, false, &b->password_file);
		} else if (strcmp(key, "socket") == 0) {
			get_path(p, &sc, s, false, &b->socket);
		} else if (strcmp(key, "host") == 0) {
			get_host(p, &sc, s, &b->host);
		} else if (strcmp(key, "heartbeat") == 0) {
			get_period(p, &sc, s, &b->heartbeat);
		} else if (strcmp(key, "lease") == 0) {
			get_period(p, &sc, s, &b->lease);
		} else if (strcmp(key, "transaction_timeout") == 0) {
			get_period(p, &sc, s, &b->transaction_timeout);
		} else {
			unknown_key(p, &sc, s, backend_keys);
		}
	}
	if (config_setting_get_member(g, "type") == NULL)
		problem(p, g, "backend needs a type (\"postgresql\")");
	if (config_setting_get_member(g, "conninfo") == NULL)
		problem(p, g, "backend needs a conninfo (a libpq connection "
			"string)");
	/* A lease shorter than two heartbeats loses a live host's sessions
	 * to one late heartbeat. */
	lease = config_setting_get_member(g, "lease");
	if (b->lease < 2 * b->heartbeat)
		problem(p, lease ? lease : g, "backend lease (%us) must be at "
			"least two heartbeats (2 x %us)", b->lease,
			b->heartbeat);
}

/* The pool's name first (messages about its other keys name it), then its
 * keys in file order. */
static void parse_pool(struct parse *p, const config_setting_t *g,
		       const config_setting_t *const *name_settings,
		       size_t index)
{
	struct hl_pool *pool = &p->cfg->pools[index];
	struct scope sc = { NULL, (unsigned)index + 1, NULL };
	const config_setting_t *name = config_setting_get_member(g, "pool");
	char value[VALUE_MAX], where[120];
	bool have_licenses = false;

	pool->wait = WAIT_UNSET;
	if (name == NULL) {
		problem(p, g, "pool #%u has no 'pool' name", sc.pool_number);
	} else if (config_setting_type(name) != CONFIG_TYPE_STRING) {
		wrong_type(p, &sc, name, "a pool name in quotes");
	} else if (!hl_pool_name_valid(config_setting_get_string(name))) {
		problem(p, name, "bad pool name \"%s\" (1 to %d of A-Z a-z "
			"0-9 . _ -)", shown(config_setting_get_string(name),
					    value, sizeof(value)),
			HL_POOL_NAME_MAX);
	} else {
		const char *text = config_setting_get_string(name);

		memcpy(pool->name, text, strlen(text) + 1);
		sc.pool = pool->name;
		for (size_t i = 0; i < index; i++) {
			if (name_settings[i] != NULL &&
			    strcmp(p->cfg->pools[i].name, text) == 0) {
				problem(p, name, "pool '%s' is defined twice "
					"(first on line %u)", text,
					(unsigned)config_setting_source_line(
						name_settings[i]));
				break;
			}
		}
	}

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g,
							(unsigned)i);
		const char *key = config_setting_name(s);

		if (strcmp(key, "pool") == 0)
			continue;
		if (strcmp(key, "licenses") == 0) {
			have_licenses = true;
			get_count(p, &sc, s, 1, &pool->licenses);
		} else if (strcmp(key, "users") == 0) {
			get_names(p, &sc, s, "user", &pool->users);
		} else if (strcmp(key, "groups") == 0) {
			get_names(p, &sc, s, "group", &pool->groups);
		} else if (strcmp(key, "wait") == 0) {
			get_duration(p, &sc, s, &pool->wait);
		} else if (strcmp(key, "idle_timeout") == 0) {
			get_idle_timeout(p, &sc, s, &pool->idle_timeout);
		} else {
			unknown_key(p, &sc, s, pool_keys);
		}
	}

	if (sc.pool != NULL)
		snprintf(where, sizeof(where), "pool '%s'", sc.pool);
	else
		snprintf(where, sizeof(where), "pool #%u", sc.pool_number);
	if (!have_licenses)
		problem(p, g, "%s has no 'licenses'", where);
	if (!members_given(config_setting_get_member(g, "users")) &&
	    !members_given(config_setting_get_member(g, "groups")))
		problem(p, g, "%s has neither users nor groups: nobody could "
			"use it", where);
}

static void parse_concurrent(struct parse *p, const config_setting_t *list)
{
	const config_setting_t **name_settings = NULL;
	struct hl_config *cfg = p->cfg;
	int length;

	/* An empty [ ] is an array; a non-empty array cannot hold groups. */
	if (!config_setting_is_list(list) &&
	    !(config_setting_is_array(list) &&
	      config_setting_length(list) == 0)) {
		wrong_type(p, &top_scope, list,
			   "a list of pools ( { pool = ...; }, ... )");
		return;
	}
	for (size_t i = 0; i < cfg->pool_count; i++) {
		names_free(&cfg->pools[i].users);
		names_free(&cfg->pools[i].groups);
	}
	free(cfg->pools);
	cfg->pools = NULL;
	cfg->pool_count = 0;

	length = config_setting_length(list);
	if (length <= 0)
		return;
	cfg->pools = calloc((size_t)length, sizeof(*cfg->pools));
	name_settings = calloc((size_t)length, sizeof(*name_settings));
	if (cfg->pools == NULL || name_settings == NULL) {
		p->nomem = true;
		goto out;
	}
	cfg->pool_count = (size_t)length;
	for (int i = 0; i < length; i++) {
		const config_setting_t *g = config_setting_get_elem(list,
							(unsigned)i);

		cfg->pools[i].wait = WAIT_UNSET;
		if (!config_setting_is_group(g)) {
			problem(p, g, "item %d of 'concurrent' must be a pool "
				"{ pool = ...; licenses = ...; }, not %s",
				i + 1, type_name(g));
			continue;
		}
		parse_pool(p, g, name_settings, (size_t)i);
		if (cfg->pools[i].name[0] != '\0')
			name_settings[i] = config_setting_get_member(g, "pool");
	}
out:
	free(name_settings);
}

static void parse_top(struct parse *p, const config_setting_t *root)
{
	struct hl_config *cfg = p->cfg;
	const struct scope *sc = &top_scope;
	unsigned runtime_line = 0;

	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root,
							(unsigned)i);
		const char *key = config_setting_name(s);
		int choice;

		if (strcmp(key, "store") == 0) {
			get_path(p, sc, s, false, &cfg->store);
		} else if (strcmp(key, "runtime_store") == 0) {
			get_path(p, sc, s, false, &cfg->runtime_store);
			runtime_line = config_setting_source_line(s);
		} else if (strcmp(key, "event_log") == 0) {
			get_path(p, sc, s, true, &cfg->event_log);
		} else if (strcmp(key, "on_error") == 0) {
			choice = get_choice(p, sc, s, "deny", "allow");
			if (choice >= 0) {
				cfg->on_error = choice ? HL_ON_ERROR_ALLOW
						       : HL_ON_ERROR_DENY;
				p->on_error_read = true;
			}
		} else if (strcmp(key, "unlicensed") == 0) {
			choice = get_choice(p, sc, s, "deny", "ignore");
			if (choice >= 0)
				cfg->unlicensed = choice ? HL_UNLICENSED_IGNORE
							 : HL_UNLICENSED_DENY;
		} else if (strcmp(key, "show_holders") == 0) {
			get_bool(p, sc, s, &cfg->show_holders);
		} else if (strcmp(key, "lock_timeout") == 0) {
			get_duration(p, sc, s, &cfg->lock_timeout);
		} else if (strcmp(key, "wait") == 0) {
			get_duration(p, sc, s, &cfg->wait);
		} else if (strcmp(key, "ignore_services") == 0) {
			get_names(p, sc, s, "service", &cfg->ignore_services);
		} else if (strcmp(key, "exempt") == 0) {
			parse_exempt(p, s);
		} else if (strcmp(key, "named") == 0) {
			parse_named(p, s);
		} else if (strcmp(key, "concurrent") == 0) {
			parse_concurrent(p, s);
		} else if (strcmp(key, "prices") == 0) {
			parse_prices(p, s);
		} else if (strcmp(key, "backend") == 0) {
			parse_backend(p, s);
		} else {
			unknown_key(p, sc, s, top_keys);
		}
	}
	/* The top-level wait may come after the pools in the file. */
	for (size_t i = 0; i < cfg->pool_count; i++)
		if (cfg->pools[i].wait == WAIT_UNSET)
			cfg->pools[i].wait = cfg->wait;
	/* Two files, never one: each is opened, checked and locked. */
	if (runtime_line && cfg->store && cfg->runtime_store &&
	    strcmp(cfg->store, cfg->runtime_store) == 0)
		problem_at(p, runtime_line, "runtime_store must not be the "
			   "same file as store");
}

/* ---- the file ---- */

static bool word_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '*' || c == '.' ||
	       c == '+' || c == '-';
}

/* An integer literal without the L suffix that does not fit in an int. */
static bool int_overflows(const char *word, size_t len)
{
	char copy[32];
	bool hex = len > 2 && word[0] == '0' && (word[1] == 'x' || word[1] == 'X');
	size_t i = hex ? 2 : (word[0] == '-' || word[0] == '+') ? 1 : 0;

	if (i >= len)
		return false;
	for (size_t j = i; j < len; j++) {
		char c = word[j];

		if (!((c >= '0' && c <= '9') ||
		      (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))))
			return false;
	}
	if (len >= sizeof(copy))
		return true;	/* widening an integer that fits is harmless */
	memcpy(copy, word, len);
	copy[len] = '\0';
	errno = 0;
	if (hex) {
		unsigned long long value = strtoull(copy, NULL, 16);

		return errno != 0 || value > INT_MAX;
	} else {
		long long value = strtoll(copy, NULL, 10);

		return errno != 0 || value < INT_MIN || value > INT_MAX;
	}
}

/*
 * The text libconfig gets, prepared for two of its 1.5 habits:
 *
 * - It opens the file named by an "@include" line with fopen(), past every
 *   check made on this one.  Such lines (found as its scanner finds them:
 *   at the start of a line, outside strings and comments) are reported and
 *   turned into comments, so the rest of the file is still checked.
 * - It squeezes an integer without the L suffix into 32 bits, silently:
 *   4294967297 would read as 1.  Such integers get their L, so they read as
 *   what was written and the range checks see the real value.
 *
 * Returns a new string, or NULL when out of memory.
 */
static char *prepare_text(struct parse *p, const char *text)
{
	enum { CODE, STRING, COMMENT } state = CODE;
	size_t len = strlen(text);
	char *out = malloc(len * 2 + 1), *o = out;
	unsigned line = 1, string_line = 0;
	bool line_start = true;

	if (out == NULL) {
		p->nomem = true;
		return NULL;
	}
	for (const char *c = text; *c != '\0'; c++) {
		if (line_start && state == CODE) {
			size_t blanks = strspn(c, " \t");

			if (strncmp(c + blanks, "@include", 8) == 0) {
				size_t n = strcspn(c, "\n");

				problem_at(p, line, "@include is not supported:"
					   " keep the configuration in this "
					   "one file");
				memcpy(o, c, n);
				o[blanks] = '#';
				o += n;
				c += n - 1;
				line_start = false;
				continue;
			}
		}
		line_start = false;
		switch (state) {
		case CODE:
			if (word_char(*c) && (c == text || !word_char(c[-1]))) {
				size_t n = 1;

				while (word_char(c[n]))
					n++;
				memcpy(o, c, n);
				o += n;
				if (int_overflows(c, n))
					*o++ = 'L';
				c += n - 1;
				continue;
			}
			if (*c == '"') {
				state = STRING;
				string_line = line;
			} else if (c[0] == '/' && c[1] == '*') {
				state = COMMENT;
				*o++ = *c++;
			} else if (*c == '#' || (c[0] == '/' && c[1] == '/')) {
				while (c[1] != '\0' && c[1] != '\n')
					*o++ = *c++;
			}
			break;
		case STRING:
			if (*c == '\\' && c[1] != '\0') {
				*o++ = *c++;
			} else if (*c == '"') {
				state = CODE;
			} else if (*c == '\n' && p->open_string_line == 0) {
				p->open_string_line = string_line;
			}
			break;
		case COMMENT:
			if (c[0] == '*' && c[1] == '/') {
				state = CODE;
				*o++ = *c++;
			}
			break;
		}
		*o++ = *c;
		if (*c == '\n') {
			line++;
			line_start = true;
		}
	}
	*o = '\0';
	return out;
}

/* The whole file, NUL-terminated, its length in *length; NULL after
 * reporting why. */
static char *read_file(struct parse *p, int fd, size_t *length)
{
	size_t len = 0, cap = 4096;
	char *text = malloc(cap);

	if (text == NULL) {
		p->nomem = true;
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *bigger;

			if (cap >= CONF_SIZE_MAX) {
				hl_log(p->log, LOG_ERR, "%s: larger than %d "
				       "KiB", p->file, CONF_SIZE_MAX / 1024);
				p->problems++;
				goto fail;
			}
			bigger = realloc(text, cap * 2);
			if (bigger == NULL) {
				p->nomem = true;
				goto fail;
			}
			text = bigger;
			cap *= 2;
		}
		n = read(fd, text + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			char buf[128];

			hl_log(p->log, LOG_ERR, "%s: %s", p->file,
			       strerror_r(errno, buf, sizeof(buf)));
			p->problems++;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	*length = len;
	return text;
fail:
	free(text);
	return NULL;
}

/* False, after reporting where, when text holds a NUL byte. */
static bool text_file(struct parse *p, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	unsigned line = 1;

	if (nul == NULL)
		return true;
	for (const char *c = text; c < nul; c++)
		if (*c == '\n')
			line++;
	problem_at(p, line, "a NUL byte: this is not a text file");
	return false;
}

static struct hl_config *config_with_defaults(struct parse *p,
					      const char *path)
{
	struct hl_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL) {
		p->nomem = true;
		return NULL;
	}
	cfg->path = strdup(path);
	cfg->store = strdup(HL_STORE_FILE);
	cfg->runtime_store = strdup(HL_RUNTIME_STORE_FILE);
	cfg->event_log = strdup(HL_EVENT_LOG);
	cfg->on_error = HL_ON_ERROR_DENY;
	cfg->unlicensed = HL_UNLICENSED_DENY;
	cfg->show_holders = true;
	cfg->lock_timeout = 5;
	cfg->wait = 0;
	cfg->backend.socket = strdup(HL_BACKEND_SOCKET);
	cfg->backend.heartbeat = 30;
	cfg->backend.lease = 150;
	cfg->backend.transaction_timeout = 30;
	if (cfg->path == NULL || cfg->store == NULL ||
	    cfg->runtime_store == NULL || cfg->event_log == NULL ||
	    cfg->backend.socket == NULL)
		p->nomem = true;
	/* Batch jobs are no logins, though cron and atd share common-account
	 * with them: a pam-auth-update profile must not license them. */
	names_set(p, &cfg->ignore_services,
		  (const char *const[]){ "systemd-user", "cron", "atd", NULL });
	names_set(p, &cfg->exempt_users, (const char *const[]){ "root", NULL });
	return cfg;
}

/* hl_config_parse's work; partial, when not NULL, receives on failure the
 * config as far as it was read (NULL when the text was no config at
 * all). */
static int parse_config(const char *path, const char *raw, size_t len,
			const struct hl_logger *log, struct hl_config **out,
			enum hl_on_error *on_error,
			struct hl_config **partial);

/* Where an error event about a refused config goes: the file's own
 * event_log when the file was trusted and parsed that far, else the
 * built-in default (the best guess when nothing could be read), but only
 * where it is installed: no directory is made on a guess. */
static void guess_event_log(const struct hl_config *partial,
			    char **event_log)
{
	char dir[PATH_MAX], base[NAME_MAX + 1];
	struct stat st;

	if (partial != NULL) {
		*event_log = partial->event_log ? strdup(partial->event_log)
						: NULL;
		return;
	}
	*event_log = NULL;
	if (hl_split_path(HL_EVENT_LOG, dir, sizeof(dir), base, sizeof(base)) &&
	    lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		*event_log = strdup(HL_EVENT_LOG);
}

int hl_config_load_or_event_log(const char *path, const struct hl_logger *log,
				struct hl_config **out,
				enum hl_on_error *on_error, char **event_log)
{
	struct parse p = { path, log, NULL, 0, false, false, 0 };
	struct hl_config *partial = NULL;
	char why[256];
	char *raw;
	size_t len;
	int fd, rc = -1;

	*out = NULL;
	if (on_error != NULL)
		*on_error = HL_ON_ERROR_DENY;
	if (event_log != NULL)
		*event_log = NULL;
	fd = hl_open_trusted(path, O_RDONLY, 0, why, sizeof(why));
	if (fd < 0) {
		hl_log(log, LOG_ERR, "%s: %s", path, why);
		goto out;
	}
	raw = read_file(&p, fd, &len);
	close(fd);
	if (raw == NULL)
		goto out;
	rc = parse_config(path, raw, len, log, out, on_error,
			  event_log != NULL ? &partial : NULL);
	free(raw);
out:
	if (rc != 0 && event_log != NULL)
		guess_event_log(partial, event_log);
	hl_config_free(partial);
	return rc;
}

int hl_config_load(const char *path, const struct hl_logger *log,
		   struct hl_config **out, enum hl_on_error *on_error)
{
	return hl_config_load_or_event_log(path, log, out, on_error, NULL);
}

int hl_config_parse(const char *path, const char *raw, size_t len,
		    const struct hl_logger *log, struct hl_config **out,
		    enum hl_on_error *on_error)
{
	return parse_config(path, raw, len, log, out, on_error, NULL);
}

/* libconfig's "syntax error" alone leaves the reader guessing: say what
 * the usual causes look like. */
static void parse_failed(struct parse *p, const config_t *lc)
{
	const char *text = config_error_text(lc);

	if (text == NULL)
		text = "cannot be parsed";
	if (p->open_string_line != 0) {
		problem_at(p, p->open_string_line, "%s: the string that "
			   "starts on this line runs past the end of the line "
			   "(a missing closing quote?)", text);
		return;
	}
	if (strcmp(text, "syntax error") == 0) {
		problem_at(p, (unsigned)config_error_line(lc), "%s (strings "
			   "need double quotes: durations are \"5m\" or an "
			   "integer of seconds, names and paths are "
			   "\"quoted\"; each setting ends with ';')", text);
		return;
	}
	problem_at(p, (unsigned)config_error_line(lc), "%s", text);
}

static int parse_config(const char *path, const char *raw, size_t len,
			const struct hl_logger *log, struct hl_config **out,
			enum hl_on_error *on_error,
			struct hl_config **partial)
{
	struct parse p = { path, log, NULL, 0, false, false, 0 };
	config_t lc;
	char *text = NULL;
	int rc = -1;

	*out = NULL;
	if (partial != NULL)
		*partial = NULL;
	if (on_error != NULL)
		*on_error = HL_ON_ERROR_DENY;
	config_init(&lc);
	config_set_options(&lc, config_get_options(&lc) &
			   ~CONFIG_OPTION_AUTOCONVERT);

	if (!text_file(&p, raw, len))
		goto out;
	text = prepare_text(&p, raw);
	if (text == NULL)
		goto out;

	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		parse_failed(&p, &lc);
		goto out;
	}

	p.cfg = config_with_defaults(&p, path);
	if (p.cfg != NULL && !p.nomem)
		parse_top(&p, config_root_setting(&lc));
	if (p.cfg != NULL && p.on_error_read && on_error != NULL)
		*on_error = p.cfg->on_error;
	if (p.nomem) {
		hl_log(log, LOG_ERR, "%s: out of memory", path);
		goto out;
	}
	if (p.problems > 0)
		goto out;
	*out = p.cfg;
	p.cfg = NULL;
	rc = 0;
out:
	if (partial != NULL && !p.nomem) {
		*partial = p.cfg;
		p.cfg = NULL;
	}
	hl_config_free(p.cfg);
	config_destroy(&lc);
	free(text);
	return rc;
}

void hl_config_free(struct hl_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->store);
	free(cfg->runtime_store);
	free(cfg->event_log);
	free(cfg->backend.conninfo);
	free(cfg->backend.password_file);
	free(cfg->backend.socket);
	free(cfg->backend.host);
	names_free(&cfg->ignore_services);
	names_free(&cfg->exempt_users);
	names_free(&cfg->exempt_groups);
	names_free(&cfg->named.users);
	names_free(&cfg->named.groups);
	for (size_t i = 0; i < cfg->pool_count; i++) {
		names_free(&cfg->pools[i].users);
		names_free(&cfg->pools[i].groups);
	}
	free(cfg->pools);
	free(cfg);
}
