/*
 * config.c - reads registry:2's config.yml and REGISTRY_* variables.
 *
 * Three steps.  libyaml turns the file into a small tree of mappings,
 * lists and scalars.  The environment then replaces nodes of that tree
 * where registry:2 would (REGISTRY_HTTP_ADDR is http.addr).  Finally each
 * row of config_keys[] looks up its dotted path in the tree, checks the
 * value and stores it in struct config; a key that is absent gets the
 * row's default, parsed like any other value.
 *
 * Supporting a key is adding a row: its path, a type that knows how to
 * check, store and release the value, the field, and the default.  The
 * same rows tell which REGISTRY_* names exist and which keys of the file
 * are unknown, so the three can never disagree.
 */
#include "config.h"
#include "acl.h"
#include "htpasswd.h"
#include "lifecycle.h"
#include "log.h"
#include "retention.h"
#include "usage.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <unistd.h>
#include <yaml.h>

extern char **environ;

/* A configuration file is small; refuse anything that is clearly not one. */
#define CONFIG_MAX_FILE (1024 * 1024)

/* Bounds on the tree, so aliases cannot expand into billions of nodes. */
#define CONFIG_MAX_NODES 100000
#define CONFIG_MAX_DEPTH 64

#define ENV_PREFIX "REGISTRY_"

/* ---- the generic tree ------------------------------------------------ */

enum cnode_kind { CNODE_NULL, CNODE_SCALAR, CNODE_LIST, CNODE_MAP };

struct cnode {
	enum cnode_kind kind;
	char *key;	     /* name in the parent mapping, else NULL */
	char *value;	     /* CNODE_SCALAR only */
	struct cnode **kids; /* list items or mapping entries in order */
	size_t nkids;
};

static struct cnode *cnode_new(enum cnode_kind kind)
{
	struct cnode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	return n;
}

static void cnode_free(struct cnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		cnode_free(n->kids[i]);
	free(n->kids);
	free(n->key);
	free(n->value);
	free(n);
}

static void cnode_add(struct cnode *parent, struct cnode *kid)
{
	parent->kids = xrealloc(parent->kids,
				(parent->nkids + 1) * sizeof(*parent->kids));
	parent->kids[parent->nkids++] = kid;
}

/* Returns the index of key in map (case-blind if asked), or -1. */
static ssize_t cnode_find(const struct cnode *map, const char *key,
			  size_t keylen, bool nocase)
{
	if (map->kind != CNODE_MAP)
		return -1;
	for (size_t i = 0; i < map->nkids; i++) {
		const char *k = map->kids[i]->key;

		if (strlen(k) != keylen)
			continue;
		if (nocase ? !strncasecmp(k, key, keylen)
			   : !strncmp(k, key, keylen))
			return (ssize_t)i;
	}
	return -1;
}

static struct cnode *cnode_child(const struct cnode *map, const char *key)
{
	ssize_t i = cnode_find(map, key, strlen(key), false);

	return i < 0 ? NULL : map->kids[i];
}

/* Returns the node at a dotted path, or NULL if any step is missing. */
static struct cnode *cnode_at(const struct cnode *root, const char *path)
{
	const struct cnode *n = root;

	while (n) {
		size_t len = strcspn(path, ".");
		ssize_t i = cnode_find(n, path, len, false);

		n = i < 0 ? NULL : n->kids[i];
		if (!path[len])
			break;
		path += len + 1;
	}
	return (struct cnode *)n;
}

/* Unlinks and returns the entry key of map, or NULL. */
static struct cnode *cnode_detach(struct cnode *map, const char *key)
{
	ssize_t i = cnode_find(map, key, strlen(key), false);
	struct cnode *kid;

	if (i < 0)
		return NULL;
	kid = map->kids[i];
	memmove(map->kids + i, map->kids + i + 1,
		(map->nkids - (size_t)i - 1) * sizeof(*map->kids));
	map->nkids--;
	return kid;
}

/* Puts value into map under key, replacing an entry of the same name. */
static void cnode_put(struct cnode *map, const char *key, struct cnode *value)
{
	ssize_t i = cnode_find(map, key, strlen(key), true);

	free(value->key);
	value->key = xstrdup(key);
	if (i < 0) {
		cnode_add(map, value);
		return;
	}
	cnode_free(map->kids[i]);
	map->kids[i] = value;
}

/* True if the subtree holds at least one non-empty scalar. */
static bool cnode_has_value(const struct cnode *n)
{
	if (n->kind == CNODE_SCALAR)
		return n->value[0] != '\0';
	for (size_t i = 0; i < n->nkids; i++)
		if (cnode_has_value(n->kids[i]))
			return true;
	return false;
}

/* ---- YAML to tree ---------------------------------------------------- */

struct loader {
	yaml_document_t doc;
	size_t nodes;
	char *err;
	size_t errlen;
};

static struct cnode *load_node(struct loader *ld, yaml_node_t *y,
			       const char *path, int depth);

static int yaml_line(const yaml_node_t *y)
{
	return (int)y->start_mark.line + 1;
}

/* YAML's null: an empty plain scalar, "~" or "null" in any usual case. */
static bool yaml_is_null(const yaml_node_t *y)
{
	const char *v = (const char *)y->data.scalar.value;

	if (y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static struct cnode *load_scalar(yaml_node_t *y)
{
	struct cnode *n;

	if (yaml_is_null(y))
		return cnode_new(CNODE_NULL);
	n = cnode_new(CNODE_SCALAR);
	n->value = xstrndup((const char *)y->data.scalar.value,
			    y->data.scalar.length);
	return n;
}

static struct cnode *load_list(struct loader *ld, yaml_node_t *y,
			       const char *path, int depth)
{
	struct cnode *n = cnode_new(CNODE_LIST);
	yaml_node_item_t *it;

	for (it = y->data.sequence.items.start; it < y->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
		struct cnode *kid = load_node(ld, item, path, depth + 1);

		if (!kid) {
			cnode_free(n);
			return NULL;
		}
		cnode_add(n, kid);
	}
	return n;
}

/*
 * Adds one "key: value" pair to n.  Duplicate keys are refused: which of
 * two settings wins is a question an operator should not have to ask.
 * NEEDSWORK: YAML merge keys ("<<: *anchor") are taken as a plain key
 * named "<<" and reported as unknown; no registry:2 example uses them.
 */
static int load_pair(struct loader *ld, struct cnode *n, yaml_node_pair_t *p,
		     const char *path, int depth)
{
	yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);
	yaml_node_t *v = yaml_document_get_node(&ld->doc, p->value);
	struct cnode *kid;
	const char *key;
	char *kpath;

	if (!k || k->type != YAML_SCALAR_NODE) {
		set_error(ld->err, ld->errlen, "line %d: a key must be a name",
			  k ? yaml_line(k) : 0);
		return -EINVAL;
	}
	key = (const char *)k->data.scalar.value;
	kpath = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
	if (cnode_child(n, key)) {
		set_error(ld->err, ld->errlen, "line %d: duplicate key %s",
			  yaml_line(k), kpath);
		free(kpath);
		return -EINVAL;
	}

	kid = load_node(ld, v, kpath, depth + 1);
	free(kpath);
	if (!kid)
		return -EINVAL;
	kid->key = xstrdup(key);
	cnode_add(n, kid);
	return 0;
}

static struct cnode *load_map(struct loader *ld, yaml_node_t *y,
			      const char *path, int depth)
{
	struct cnode *n = cnode_new(CNODE_MAP);
	yaml_node_pair_t *p;

	for (p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top;
	     p++) {
		if (load_pair(ld, n, p, path, depth) < 0) {
			cnode_free(n);
			return NULL;
		}
	}
	return n;
}

static struct cnode *load_node(struct loader *ld, yaml_node_t *y,
			       const char *path, int depth)
{
	if (!y) {
		set_error(ld->err, ld->errlen, "malformed YAML document");
		return NULL;
	}
	if (depth > CONFIG_MAX_DEPTH || ++ld->nodes > CONFIG_MAX_NODES) {
		set_error(ld->err, ld->errlen,
			  "line %d: document too large or too deeply nested",
			  yaml_line(y));
		return NULL;
	}

	switch (y->type) {
	case YAML_SCALAR_NODE:
		return load_scalar(y);
	case YAML_SEQUENCE_NODE:
		return load_list(ld, y, path, depth);
	case YAML_MAPPING_NODE:
		return load_map(ld, y, path, depth);
	default:
		set_error(ld->err, ld->errlen, "line %d: empty YAML node",
			  yaml_line(y));
		return NULL;
	}
}

/* Describes a syntax error, with its position when that helps. */
static void yaml_report(const yaml_parser_t *parser, bool position, char *err,
			size_t errlen)
{
	const char *problem = parser->problem ? parser->problem : "error";

	if (parser->error == YAML_MEMORY_ERROR)
		set_error(err, errlen, "out of memory reading YAML");
	else if (parser->error == YAML_READER_ERROR)
		set_error(err, errlen, "byte %zu: %s", parser->problem_offset,
			  problem);
	else if (!position)
		set_error(err, errlen, "invalid YAML: %s", problem);
	else if (parser->context)
		set_error(err, errlen, "line %zu, column %zu: %s %s",
			  parser->problem_mark.line + 1,
			  parser->problem_mark.column + 1, problem,
			  parser->context);
	else
		set_error(err, errlen, "line %zu, column %zu: %s",
			  parser->problem_mark.line + 1,
			  parser->problem_mark.column + 1, problem);
}

/*
 * Parses the first YAML document in text into a tree.  An empty document
 * is a CNODE_NULL.  Returns NULL with err set on a syntax error, which
 * gives line and column if position is set.
 */
static struct cnode *yaml_to_tree(const char *text, size_t len, bool position,
				  char *err, size_t errlen)
{
	struct loader ld = {.err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_node_t *root;
	struct cnode *tree;

	if (!yaml_parser_initialize(&parser)) {
		set_error(err, errlen, "out of memory reading YAML");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &ld.doc)) {
		yaml_report(&parser, position, err, errlen);
		yaml_parser_delete(&parser);
		return NULL;
	}

	root = yaml_document_get_root_node(&ld.doc);
	tree = root ? load_node(&ld, root, "", 0) : cnode_new(CNODE_NULL);
	yaml_document_delete(&ld.doc);
	yaml_parser_delete(&parser);
	return tree;
}

/* ---- value checks ---------------------------------------------------- */

/* Writes "PATH: expected WHAT, got ..." describing n; returns -EINVAL. */
static int bad_value(const char *path, const struct cnode *n, const char *what,
		     char *err, size_t errlen)
{
	static const char *const kinds[] = {
		[CNODE_NULL] = "null",
		[CNODE_LIST] = "a list",
		[CNODE_MAP] = "a mapping",
	};

	if (n->kind == CNODE_SCALAR)
		set_error(err, errlen, "%s: expected %s, got \"%s\"", path,
			  what, n->value);
	else
		set_error(err, errlen, "%s: expected %s, got %s", path, what,
			  kinds[n->kind]);
	return -EINVAL;
}

/* YAML 1.1 booleans, which is what registry:2's YAML library accepts. */
static int parse_bool_word(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "y", NULL};
	static const char *const no[] = {"false", "no", "off", "n", NULL};

	for (int i = 0; yes[i]; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static bool port_ok(const char *s)
{
	long port = 0;

	if (!*s || strlen(s) > 5)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		port = port * 10 + (*s - '0');
	}
	return port >= 1 && port <= 65535;
}

/* Checks "[v6]" up to and including ']', returning what follows it. */
static const char *addr_skip_v6(const char *s)
{
	const char *p = s + 1;

	while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
		p++;
	if (p == s + 1)
		return NULL;
	if (*p == '%') { /* a zone, as in [fe80::1%eth0] */
		p++;
		while (isalnum((unsigned char)*p) || (*p && strchr("-_.", *p)))
			p++;
	}
	return *p == ']' ? p + 1 : NULL;
}

/* Accepts "host:port", ":port" and "[v6]:port" with port 1..65535. */
static bool addr_ok(const char *s)
{
	const char *p = s;

	if (*p == '[') {
		p = addr_skip_v6(p);
		if (!p)
			return false;
	} else {
		while (isalnum((unsigned char)*p) || (*p && strchr("-_.", *p)))
			p++;
	}
	return *p == ':' && port_ok(p + 1);
}

/* ---- types of keys --------------------------------------------------- */

/* How a REGISTRY_* name may continue past a key's own path. */
enum config_sub {
	SUB_NONE,   /* only the key itself */
	SUB_MAPKEY, /* the rest is one map key, case kept: headers */
	SUB_PATH,   /* the rest is a lower-case path: auth.x.path */
};

struct config_key;

struct config_type {
	/*
	 * Checks n (never CNODE_NULL) and stores it in c.  Returns 0, or
	 * -EINVAL with a message naming k->path in err.
	 */
	int (*parse)(struct config *c, const struct config_key *k,
		     const struct cnode *n, char *err, size_t errlen);
	/* Frees what parse stored; NULL when it stores nothing owned. */
	void (*release)(struct config *c, const struct config_key *k);
	enum config_sub sub;
};

struct config_key {
	const char *path; /* dotted, lower case, as in config.yml */
	const struct config_type *type;
	size_t offset;	 /* field in struct config, or NOFIELD */
	size_t aux;	 /* a second field, for types that need one */
	const char *def; /* default, parsed like a value; NULL: none */
	const void *arg; /* type-specific: words, bounds, message */
};

#define NOFIELD ((size_t)-1)

static void *field_of(struct config *c, const struct config_key *k)
{
	return k->offset == NOFIELD ? NULL : (char *)c + k->offset;
}

static int want_scalar(const struct config_key *k, const struct cnode *n,
		       const char *what, char *err, size_t errlen)
{
	if (n->kind == CNODE_SCALAR)
		return 0;
	return bad_value(k->path, n, what, err, errlen);
}

static void store_string(struct config *c, const struct config_key *k, char *s)
{
	char **field = field_of(c, k);

	if (!field) {
		free(s);
		return;
	}
	free(*field);
	*field = s;
}

static void release_string(struct config *c, const struct config_key *k)
{
	char **field = field_of(c, k);

	if (field) {
		free(*field);
		*field = NULL;
	}
}

static int parse_string(struct config *c, const struct config_key *k,
			const struct cnode *n, char *err, size_t errlen)
{
	if (want_scalar(k, n, "a string", err, errlen) < 0)
		return -EINVAL;
	store_string(c, k, xstrdup(n->value));
	return 0;
}

static const struct config_type type_string = {parse_string, release_string,
					       SUB_NONE};

static int parse_nonempty(struct config *c, const struct config_key *k,
			  const struct cnode *n, char *err, size_t errlen)
{
	if (n->kind != CNODE_SCALAR || !n->value[0])
		return bad_value(k->path, n, "a non-empty string", err, errlen);
	store_string(c, k, xstrdup(n->value));
	return 0;
}

static const struct config_type type_nonempty = {parse_nonempty, release_string,
						 SUB_NONE};

static int parse_version(struct config *c, const struct config_key *k,
			 const struct cnode *n, char *err, size_t errlen)
{
	if (n->kind != CNODE_SCALAR || strcmp(n->value, "0.1"))
		return bad_value(k->path, n, "0.1", err, errlen);
	store_string(c, k, xstrdup(n->value));
	return 0;
}

static const struct config_type type_version = {parse_version, release_string,
						SUB_NONE};

static int parse_bool(struct config *c, const struct config_key *k,
		      const struct cnode *n, char *err, size_t errlen)
{
	bool *field = field_of(c, k);
	bool v;

	if (n->kind != CNODE_SCALAR || parse_bool_word(n->value, &v) < 0)
		return bad_value(k->path, n, "true or false", err, errlen);
	if (field)
		*field = v;
	return 0;
}

static const struct config_type type_bool = {parse_bool, NULL, SUB_NONE};

/* Durations; arg non-NULL demands a positive one. */
static int parse_duration(struct config *c, const struct config_key *k,
			  const struct cnode *n, char *err, size_t errlen)
{
	int64_t *field = field_of(c, k);
	int64_t v;

	if (n->kind != CNODE_SCALAR || config_parse_duration(n->value, &v) < 0)
		return bad_value(k->path, n, "a duration such as 30s or 1h30m",
				 err, errlen);
	if (k->arg && v <= 0)
		return bad_value(k->path, n, "a duration of at least 1s", err,
				 errlen);
	if (field)
		*field = v;
	return 0;
}

static const struct config_type type_duration = {parse_duration, NULL,
						 SUB_NONE};

/*
 * How often the listing index is read again from storage: a duration,
 * 0 for never, or "auto".  Other instances may write the same bucket,
 * so auto means CONFIG_INDEX_REFRESH_S3 on s3; a filesystem is taken
 * to be this instance's alone, so never there.  select_driver has run.
 */
static int parse_refresh(struct config *c, const struct config_key *k,
			 const struct cnode *n, char *err, size_t errlen)
{
	int64_t *field = field_of(c, k);

	if (n->kind == CNODE_SCALAR && !strcmp(n->value, "auto")) {
		*field = !strcmp(c->storage_driver, "s3")
				 ? CONFIG_INDEX_REFRESH_S3
				 : 0;
		return 0;
	}
	return parse_duration(c, k, n, err, errlen);
}

static const struct config_type type_refresh = {parse_refresh, NULL, SUB_NONE};

struct int_range {
	long min, max;
};

static int parse_int(struct config *c, const struct config_key *k,
		     const struct cnode *n, char *err, size_t errlen)
{
	const struct int_range *r = k->arg;
	int *field = field_of(c, k);
	char what[64], *end;
	long v;

	snprintf(what, sizeof(what), "a whole number from %ld to %ld", r->min,
		 r->max);
	if (n->kind != CNODE_SCALAR)
		return bad_value(k->path, n, what, err, errlen);
	errno = 0;
	v = strtol(n->value, &end, 10);
	if (errno || end == n->value || *end || v < r->min || v > r->max)
		return bad_value(k->path, n, what, err, errlen);
	if (field)
		*field = (int)v;
	return 0;
}

static const struct config_type type_int = {parse_int, NULL, SUB_NONE};

/* Writes "a, b or c" for a NULL-terminated word list into out. */
static void join_words(const char *const *words, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; words[i] && used < len; i++) {
		const char *sep = i == 0 ? "" : words[i + 1] ? ", " : " or ";
		int k = snprintf(out + used, len - used, "%s%s", sep, words[i]);

		used += k > 0 ? (size_t)k : 0;
	}
}

/* One of the NULL-terminated words in arg, stored in lower case. */
static int parse_choice(struct config *c, const struct config_key *k,
			const struct cnode *n, char *err, size_t errlen)
{
	const char *const *words = k->arg;
	char what[128];

	for (int i = 0; n->kind == CNODE_SCALAR && words[i]; i++) {
		if (!strcasecmp(n->value, words[i])) {
			store_string(c, k, xstrdup(words[i]));
			return 0;
		}
	}
	join_words(words, what, sizeof(what));
	return bad_value(k->path, n, what, err, errlen);
}

static const struct config_type type_choice = {parse_choice, release_string,
					       SUB_NONE};

static int parse_loglevel(struct config *c, const struct config_key *k,
			  const struct cnode *n, char *err, size_t errlen)
{
	int *field = field_of(c, k);
	char word[16];
	int level = -1;

	if (n->kind == CNODE_SCALAR && strlen(n->value) < sizeof(word)) {
		for (size_t i = 0; i <= strlen(n->value); i++)
			word[i] = (char)tolower((unsigned char)n->value[i]);
		level = log_level_parse(word);
	}
	if (level < 0)
		return bad_value(k->path, n, "error, warn, info or debug", err,
				 errlen);
	*field = level;
	return 0;
}

static const struct config_type type_loglevel = {parse_loglevel, NULL,
						 SUB_NONE};

/* A listen address; arg non-NULL also allows "" (the listener is off). */
static int parse_addr(struct config *c, const struct config_key *k,
		      const struct cnode *n, char *err, size_t errlen)
{
	bool off = k->arg && n->kind == CNODE_SCALAR && !n->value[0];

	if (n->kind != CNODE_SCALAR || (!off && !addr_ok(n->value)))
		return bad_value(k->path, n, "host:port", err, errlen);
	store_string(c, k, xstrdup(n->value));
	return 0;
}

static const struct config_type type_addr = {parse_addr, release_string,
					     SUB_NONE};

static bool has_space_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

/*
 * An absolute http(s) URL or "".  Trailing slashes are dropped so that
 * callers can append "/v2/..." without doubling them.
 */
/* Stores a copy of v with any trailing '/' dropped (URLs, prefixes). */
static void store_without_trailing_slashes(struct config *c,
					   const struct config_key *k,
					   const char *v)
{
	size_t len = strlen(v);

	while (len > 0 && v[len - 1] == '/')
		len--;
	store_string(c, k, xstrndup(v, len));
}

static int parse_url(struct config *c, const struct config_key *k,
		     const struct cnode *n, char *err, size_t errlen)
{
	const char *v = n->value, *rest = NULL;

	if (n->kind == CNODE_SCALAR && !strncasecmp(v, "http://", 7))
		rest = v + 7;
	else if (n->kind == CNODE_SCALAR && !strncasecmp(v, "https://", 8))
		rest = v + 8;
	if (n->kind == CNODE_SCALAR && !v[0])
		rest = "";
	else if (!rest || !*rest || *rest == '/' || has_space_or_control(v))
		return bad_value(k->path, n,
				 "a URL starting with http:// or "
				 "https://",
				 err, errlen);

	store_without_trailing_slashes(c, k, v);
	return 0;
}

static const struct config_type type_url = {parse_url, release_string,
					    SUB_NONE};

/* A URL path prefix: "" or "/...", stored without trailing slashes. */
static int parse_prefix(struct config *c, const struct config_key *k,
			const struct cnode *n, char *err, size_t errlen)
{
	if (n->kind != CNODE_SCALAR || (n->value[0] && n->value[0] != '/') ||
	    has_space_or_control(n->value))
		return bad_value(k->path, n, "a path starting with /", err,
				 errlen);
	store_without_trailing_slashes(c, k, n->value);
	return 0;
}

static const struct config_type type_prefix = {parse_prefix, release_string,
					       SUB_NONE};

static int parse_net(struct config *c, const struct config_key *k,
		     const struct cnode *n, char *err, size_t errlen)
{
	if (n->kind == CNODE_SCALAR && !strcmp(n->value, "unix")) {
		set_error(err, errlen,
			  "%s: unix sockets are not supported, "
			  "use tcp",
			  k->path);
		return -EINVAL;
	}
	if (n->kind != CNODE_SCALAR || (strcmp(n->value, "tcp") && n->value[0]))
		return bad_value(k->path, n, "tcp", err, errlen);
	return 0;
}

static const struct config_type type_net = {parse_net, NULL, SUB_NONE};

/* ---- http.headers ---------------------------------------------------- */

static bool header_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) &&
		    !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static void header_clear(struct config_header *h)
{
	for (size_t i = 0; h->values && h->values[i]; i++)
		free(h->values[i]);
	free(h->values);
	free(h->name);
}

/*
 * Fills h from "Name: [v1, v2]".  registry:2 wants a list; a single
 * string is taken as a list of one, and a null as no values.
 */
static int header_from_node(struct config_header *h, const struct cnode *n,
			    const char *path, char *err, size_t errlen)
{
	const struct cnode *const *items = (const struct cnode **)n->kids;
	size_t count = n->kind == CNODE_LIST ? n->nkids : 0;

	if (n->kind == CNODE_SCALAR) {
		items = (const struct cnode *const *)&n;
		count = 1;
	} else if (n->kind == CNODE_MAP) {
		return bad_value(path, n, "a list of strings", err, errlen);
	}

	h->name = xstrdup(n->key);
	h->values = xcalloc(count + 1, sizeof(*h->values));
	for (size_t i = 0; i < count; i++) {
		const struct cnode *v = items[i];

		if (v->kind != CNODE_SCALAR || strpbrk(v->value, "\r\n"))
			return bad_value(path, v, "a list of one-line strings",
					 err, errlen);
		h->values[i] = xstrdup(v->value);
	}
	return 0;
}

static void release_headers(struct config *c, const struct config_key *k)
{
	struct config_header **field = field_of(c, k);
	size_t *count = (size_t *)((char *)c + k->aux);

	for (size_t i = 0; *field && i < *count; i++)
		header_clear(&(*field)[i]);
	free(*field);
	*field = NULL;
	*count = 0;
}

static int parse_headers(struct config *c, const struct config_key *k,
			 const struct cnode *n, char *err, size_t errlen)
{
	struct config_header **field = field_of(c, k);
	size_t *count = (size_t *)((char *)c + k->aux);
	int rc = 0;

	if (n->kind != CNODE_MAP)
		return bad_value(k->path, n,
				 "a mapping of header names to "
				 "lists of values",
				 err, errlen);

	release_headers(c, k);
	*field = xcalloc(n->nkids, sizeof(**field));
	for (size_t i = 0; i < n->nkids && rc == 0; i++) {
		const struct cnode *kid = n->kids[i];
		char *path = xasprintf("%s.%s", k->path, kid->key);

		if (!header_name_ok(kid->key)) {
			set_error(err, errlen, "%s: not a valid header name",
				  path);
			rc = -EINVAL;
		} else {
			rc = header_from_node(&(*field)[i], kid, path, err,
					      errlen);
		}
		*count = i + 1;
		free(path);
	}
	return rc;
}

static const struct config_type type_headers = {parse_headers, release_headers,
						SUB_MAPKEY};

/* A list of one-line strings; a single string is a list of one. */
static void release_strlist(struct config *c, const struct config_key *k)
{
	char ***field = field_of(c, k);

	for (size_t i = 0; *field && (*field)[i]; i++)
		free((*field)[i]);
	free(*field);
	*field = NULL;
}

static int parse_strlist(struct config *c, const struct config_key *k,
			 const struct cnode *n, char *err, size_t errlen)
{
	const struct cnode *const *items = (const struct cnode **)n->kids;
	size_t count = n->kind == CNODE_LIST ? n->nkids : 0;
	char ***field = field_of(c, k);

	if (n->kind == CNODE_SCALAR) {
		items = (const struct cnode *const *)&n;
		count = 1;
	} else if (n->kind != CNODE_LIST) {
		return bad_value(k->path, n, "a list of strings", err, errlen);
	}

	release_strlist(c, k);
	*field = xcalloc(count + 1, sizeof(**field));
	for (size_t i = 0; i < count; i++) {
		if (items[i]->kind != CNODE_SCALAR ||
		    strpbrk(items[i]->value, "\r\n"))
			return bad_value(k->path, items[i],
					 "a list of one-line strings", err,
					 errlen);
		(*field)[i] = xstrdup(items[i]->value);
	}
	return 0;
}

static const struct config_type type_strlist = {parse_strlist, release_strlist,
						SUB_NONE};

/* ---- sections berth knows but does not act on ------------------------ */

/* Known and deliberately unused, such as log.fields or health. */
static int parse_ignore(struct config *c, const struct config_key *k,
			const struct cnode *n, char *err, size_t errlen)
{
	return 0;
}

static const struct config_type type_ignore = {parse_ignore, NULL, SUB_PATH};

static const struct config_type type_ignore_map = {parse_ignore, NULL,
						   SUB_MAPKEY};

/*
 * A key moved elsewhere before the rows run (loglevel to log.level); its
 * row only makes the key and its REGISTRY_* name known.
 */
static const struct config_type type_moved = {parse_ignore, NULL, SUB_NONE};

static int parse_ignore_debug(struct config *c, const struct config_key *k,
			      const struct cnode *n, char *err, size_t errlen)
{
	log_debug("configuration key has no effect in berth key=%s", k->path);
	return 0;
}

static const struct config_type type_ignore_debug = {parse_ignore_debug, NULL,
						     SUB_PATH};

/* A registry:2 feature berth lacks but whose absence is harmless. */
static int parse_unsupported(struct config *c, const struct config_key *k,
			     const struct cnode *n, char *err, size_t errlen)
{
	log_warn("configuration section is not supported yet, ignoring "
		 "section=%s",
		 k->path);
	return 0;
}

static const struct config_type type_unsupported = {parse_unsupported, NULL,
						    SUB_PATH};

/*
 * A feature whose silent absence would mislead: an operator who asks for
 * TLS must not get plain HTTP.  arg is the message.
 */
static int parse_unavailable(struct config *c, const struct config_key *k,
			     const struct cnode *n, char *err, size_t errlen)
{
	if (!cnode_has_value(n))
		return 0;
	set_error(err, errlen, "%s: %s", k->path, (const char *)k->arg);
	return -EINVAL;
}

static const struct config_type type_unavailable = {parse_unavailable, NULL,
						    SUB_PATH};

/* Authentication types this build implements; see check_htpasswd. */
static const char *const auth_types[] = {"htpasswd", NULL};

static bool word_in(const char *const *words, const char *w)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(words[i], w))
			return true;
	return false;
}

/*
 * registry:2 needs both parameters of htpasswd.  The rows below the
 * "auth" row store them; this only makes sure they are there, and warns
 * about others, which the walk over known keys does not reach.
 */
static int check_htpasswd(const struct cnode *n, char *err, size_t errlen)
{
	static const char *const params[] = {"realm", "path", NULL};

	if (n->kind != CNODE_MAP && n->kind != CNODE_NULL)
		return bad_value("auth.htpasswd", n,
				 "a mapping with realm "
				 "and path",
				 err, errlen);
	for (int i = 0; params[i]; i++) {
		const struct cnode *p =
			n->kind == CNODE_MAP ? cnode_child(n, params[i]) : NULL;

		if (!p || p->kind == CNODE_NULL) {
			set_error(err, errlen, "auth.htpasswd.%s: required",
				  params[i]);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n->nkids; i++)
		if (!word_in(params, n->kids[i]->key))
			log_warn("unknown configuration key "
				 "key=auth.htpasswd.%s",
				 n->kids[i]->key);
	return 0;
}

/*
 * An auth section always fails unless its type is implemented: ignoring
 * it would leave a registry open that its operator believes protected.
 */
static int parse_auth(struct config *c, const struct config_key *k,
		      const struct cnode *n, char *err, size_t errlen)
{
	if (n->kind != CNODE_MAP || n->nkids == 0)
		return bad_value(k->path, n, "one authentication type", err,
				 errlen);
	if (n->nkids > 1) {
		set_error(err, errlen,
			  "%s: exactly one authentication type may "
			  "be configured, found %s and %s",
			  k->path, n->kids[0]->key, n->kids[1]->key);
		return -EINVAL;
	}
	if (!word_in(auth_types, n->kids[0]->key)) {
		set_error(err, errlen,
			  "%s: %s authentication is not available "
			  "in this build; berth supports htpasswd",
			  k->path, n->kids[0]->key);
		return -EINVAL;
	}
	return check_htpasswd(n->kids[0], err, errlen);
}

static const struct config_type type_auth = {parse_auth, NULL, SUB_PATH};

/* The realm goes into a WWW-Authenticate header, so one line only. */
static int parse_realm(struct config *c, const struct config_key *k,
		       const struct cnode *n, char *err, size_t errlen)
{
	bool control = false;

	for (const char *p = n->kind == CNODE_SCALAR ? n->value : ""; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			control = true;
	if (n->kind != CNODE_SCALAR || !n->value[0] || control)
		return bad_value(k->path, n, "a one-line, non-empty string",
				 err, errlen);
	store_string(c, k, xstrdup(n->value));
	return 0;
}

static const struct config_type type_realm = {parse_realm, release_string,
					      SUB_NONE};

/* ---- the access section ---------------------------------------------- */

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Names in access lists: users, "*" where allowed, groups. */
enum name_kind { NAME_USER, NAME_USER_OR_ALL, NAME_GROUP, NAME_PATTERN };

static bool name_ok(enum name_kind kind, const char *s)
{
	switch (kind) {
	case NAME_USER_OR_ALL:
		return !strcmp(s, "*") || htpasswd_name_valid(s);
	case NAME_PATTERN:
		return acl_pattern_valid(s);
	default:
		return htpasswd_name_valid(s);
	}
}

static const char *const name_what[] = {
	[NAME_USER] = "a list of user names",
	[NAME_USER_OR_ALL] = "a list of user names or \"*\"",
	[NAME_GROUP] = "a list of group names",
	[NAME_PATTERN] = ("a list of repository patterns such as "
			  "\"team/*\" or \"team/**\""),
};

/*
 * Reads a list of names into *out (NULL-terminated, always allocated).
 * A single string is a list of one and null an empty list, as for
 * http.headers.
 */
static int parse_names(const struct cnode *n, const char *path,
		       enum name_kind kind, char ***out, char *err,
		       size_t errlen)
{
	const struct cnode *const *items = (const struct cnode **)n->kids;
	size_t count = n->kind == CNODE_LIST ? n->nkids : 0;

	if (n->kind == CNODE_SCALAR) {
		items = (const struct cnode *const *)&n;
		count = 1;
	} else if (n->kind == CNODE_MAP) {
		return bad_value(path, n, name_what[kind], err, errlen);
	}

	strv_free(*out);
	*out = xcalloc(count + 1, sizeof(**out));
	for (size_t i = 0; i < count; i++) {
		const struct cnode *v = items[i];

		if (v->kind != CNODE_SCALAR || !name_ok(kind, v->value))
			return bad_value(path, v, name_what[kind], err, errlen);
		(*out)[i] = xstrdup(v->value);
	}
	return 0;
}

static int parse_actions(const struct cnode *n, const char *path, unsigned *out,
			 char *err, size_t errlen)
{
	static const char *const words[] = {"pull", "push", "delete", NULL};
	static const char what[] = "a list of pull, push or delete";
	const struct cnode *const *items = (const struct cnode **)n->kids;
	size_t count = n->kind == CNODE_LIST ? n->nkids : 0;

	if (n->kind == CNODE_SCALAR) {
		items = (const struct cnode *const *)&n;
		count = 1;
	}
	*out = 0;
	for (size_t i = 0; i < count; i++) {
		const struct cnode *v = items[i];
		int w = -1;

		for (int j = 0; v->kind == CNODE_SCALAR && words[j]; j++)
			if (!strcmp(v->value, words[j]))
				w = j;
		if (w < 0)
			return bad_value(path, v, what, err, errlen);
		*out |= 1u << w;
	}
	if (!*out)
		return bad_value(path, n, what, err, errlen);
	return 0;
}

/* Reads one key of a rule; anonymous rules name nobody. */
static int parse_rule_key(struct config_access_rule *r, const struct cnode *kid,
			  const char *path, bool anonymous, char *err,
			  size_t errlen)
{
	const char *key = kid->key;

	if (!strcmp(key, "repositories"))
		return parse_names(kid, path, NAME_PATTERN, &r->repositories,
				   err, errlen);
	if (!strcmp(key, "actions"))
		return parse_actions(kid, path, &r->actions, err, errlen);
	if (!anonymous && !strcmp(key, "users"))
		return parse_names(kid, path, NAME_USER_OR_ALL, &r->users, err,
				   errlen);
	if (!anonymous && !strcmp(key, "groups"))
		return parse_names(kid, path, NAME_GROUP, &r->groups, err,
				   errlen);

	/* A mistyped key would silently change who may do what. */
	set_error(err, errlen, "%s: unknown key; a rule has %s", path,
		  anonymous ? "repositories and actions"
			    : "repositories, users, groups and actions");
	return -EINVAL;
}

static int parse_rule(struct config_access_rule *r, const struct cnode *n,
		      const char *path, bool anonymous, char *err,
		      size_t errlen)
{
	int rc = 0;

	r->users = xcalloc(1, sizeof(*r->users));
	r->groups = xcalloc(1, sizeof(*r->groups));
	if (n->kind != CNODE_MAP)
		return bad_value(path, n,
				 "a mapping with repositories and "
				 "actions",
				 err, errlen);
	for (size_t i = 0; i < n->nkids && rc == 0; i++) {
		char *kpath = xasprintf("%s.%s", path, n->kids[i]->key);

		if (n->kids[i]->kind != CNODE_NULL)
			rc = parse_rule_key(r, n->kids[i], kpath, anonymous,
					    err, errlen);
		free(kpath);
	}
	if (rc < 0)
		return rc;

	if (!r->repositories || !r->repositories[0] || !r->actions) {
		set_error(err, errlen,
			  "%s: a rule needs repositories and "
			  "actions",
			  path);
		return -EINVAL;
	}
	if (!anonymous && !r->users[0] && !r->groups[0]) {
		set_error(err, errlen, "%s: a rule needs users or groups",
			  path);
		return -EINVAL;
	}
	return 0;
}

static void rules_free(struct config_access_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		strv_free(rules[i].repositories);
		strv_free(rules[i].users);
		strv_free(rules[i].groups);
	}
	free(rules);
}

static int parse_rules(const struct cnode *n, const char *path, bool anonymous,
		       struct config_access_rule **out, size_t *count,
		       char *err, size_t errlen)
{
	int rc = 0;

	if (n->kind != CNODE_LIST)
		return bad_value(path, n, "a list of rules", err, errlen);
	*out = xcalloc(n->nkids, sizeof(**out));
	for (size_t i = 0; i < n->nkids && rc == 0; i++) {
		char *ipath = xasprintf("%s[%zu]", path, i);

		rc = parse_rule(&(*out)[i], n->kids[i], ipath, anonymous, err,
				errlen);
		*count = i + 1;
		free(ipath);
	}
	return rc;
}

static int parse_groups(struct config_access *a, const struct cnode *n,
			char *err, size_t errlen)
{
	int rc = 0;

	if (n->kind != CNODE_MAP)
		return bad_value("access.groups", n,
				 "a mapping of group "
				 "names to lists of users",
				 err, errlen);
	a->groups = xcalloc(n->nkids, sizeof(*a->groups));
	for (size_t i = 0; i < n->nkids && rc == 0; i++) {
		const struct cnode *kid = n->kids[i];
		char *path = xasprintf("access.groups.%s", kid->key);

		a->groups[i].name = xstrdup(kid->key);
		a->groups_count = i + 1;
		if (!htpasswd_name_valid(kid->key)) {
			set_error(err, errlen, "%s: not a valid group name",
				  path);
			rc = -EINVAL;
		} else {
			rc = parse_names(kid, path, NAME_USER,
					 &a->groups[i].members, err, errlen);
		}
		free(path);
	}
	return rc;
}

static bool group_defined(const struct config_access *a, const char *name)
{
	for (size_t i = 0; i < a->groups_count; i++)
		if (!strcmp(a->groups[i].name, name))
			return true;
	return false;
}

/* A rule naming a group nobody defined is a typo that would deny. */
static int check_group_refs(const struct config_access *a, char *err,
			    size_t errlen)
{
	for (size_t i = 0; i < a->rules_count; i++)
		for (char **g = a->rules[i].groups; *g; g++)
			if (!group_defined(a, *g)) {
				set_error(err, errlen,
					  "access.rules[%zu].groups: "
					  "no group \"%s\" in access.groups",
					  i, *g);
				return -EINVAL;
			}
	return 0;
}

static int parse_access_key(struct config_access *a, const struct cnode *kid,
			    char *err, size_t errlen)
{
	const char *key = kid->key;

	if (!strcmp(key, "admins"))
		return parse_names(kid, "access.admins", NAME_USER, &a->admins,
				   err, errlen);
	if (!strcmp(key, "groups"))
		return parse_groups(a, kid, err, errlen);
	if (!strcmp(key, "anonymous"))
		return parse_rules(kid, "access.anonymous", true, &a->anonymous,
				   &a->anonymous_count, err, errlen);
	if (!strcmp(key, "rules"))
		return parse_rules(kid, "access.rules", false, &a->rules,
				   &a->rules_count, err, errlen);
	set_error(err, errlen,
		  "access.%s: unknown key; the access section has "
		  "admins, groups, anonymous and rules",
		  key);
	return -EINVAL;
}

static void release_access(struct config *c, const struct config_key *k)
{
	struct config_access **field = field_of(c, k);
	struct config_access *a = *field;

	if (!a)
		return;
	strv_free(a->admins);
	for (size_t i = 0; i < a->groups_count; i++) {
		free(a->groups[i].name);
		strv_free(a->groups[i].members);
	}
	free(a->groups);
	rules_free(a->anonymous, a->anonymous_count);
	rules_free(a->rules, a->rules_count);
	free(a);
	*field = NULL;
}

/*
 * berth's own section: who may pull, push and delete where.  It only
 * means something with logins, so without auth it is refused rather
 * than leaving a registry open that looks restricted.
 */
static int parse_access(struct config *c, const struct config_key *k,
			const struct cnode *n, char *err, size_t errlen)
{
	struct config_access **field = field_of(c, k);
	struct config_access *a;
	int rc = 0;

	if (!c->auth_htpasswd_path) {
		set_error(err, errlen,
			  "%s: needs auth.htpasswd; without auth "
			  "every request is allowed",
			  k->path);
		return -EINVAL;
	}
	if (n->kind != CNODE_MAP)
		return bad_value(k->path, n, "a mapping", err, errlen);

	release_access(c, k);
	a = *field = xcalloc(1, sizeof(*a));
	a->admins = xcalloc(1, sizeof(*a->admins));
	for (size_t i = 0; i < n->nkids && rc == 0; i++)
		if (n->kids[i]->kind != CNODE_NULL)
			rc = parse_access_key(a, n->kids[i], err, errlen);
	if (rc == 0)
		rc = check_group_refs(a, err, errlen);
	return rc;
}

static const struct config_type type_access = {parse_access, release_access,
					       SUB_PATH};

/* ---- notifications.endpoints ----------------------------------------- */

static const char *const notify_actions[] = {"push", "pull", "mount", "delete",
					     NULL};

/* registry:2's defaults for an endpoint that leaves them out. */
#define NOTIFY_DEFAULT_TIMEOUT_MS 1000
#define NOTIFY_DEFAULT_THRESHOLD 10
#define NOTIFY_DEFAULT_BACKOFF_MS 1000

static void endpoint_clear(struct config_notify_endpoint *e)
{
	free(e->name);
	free(e->url);
	for (size_t i = 0; e->headers && i < e->headers_count; i++)
		header_clear(&e->headers[i]);
	free(e->headers);
	strv_free(e->ignored_mediatypes);
	strv_free(e->ignored_actions);
}

static void release_endpoints(struct config *c, const struct config_key *k)
{
	struct config_notify_endpoint **field = field_of(c, k);
	size_t *count = (size_t *)((char *)c + k->aux);

	for (size_t i = 0; *field && i < *count; i++)
		endpoint_clear(&(*field)[i]);
	free(*field);
	*field = NULL;
	*count = 0;
}

/*
 * Appends the one-line strings of n (a list, or one string) to the
 * NULL-terminated *out; with words, each must be one of them.
 */
static int endpoint_strings(const struct cnode *n, const char *path,
			    const char *const *words, char ***out, char *err,
			    size_t errlen)
{
	const struct cnode *const *items = (const struct cnode **)n->kids;
	size_t count = n->kind == CNODE_LIST ? n->nkids : 0, have = 0;
	const char *what = words ? "a list of push, pull, mount or delete"
				 : "a list of one-line strings";

	if (n->kind == CNODE_SCALAR) {
		items = (const struct cnode *const *)&n;
		count = 1;
	} else if (n->kind == CNODE_MAP) {
		return bad_value(path, n, what, err, errlen);
	}

	while (*out && (*out)[have])
		have++;
	*out = xrealloc(*out, (have + count + 1) * sizeof(**out));
	(*out)[have] = NULL;
	for (size_t i = 0; i < count; i++) {
		const struct cnode *v = items[i];

		if (v->kind != CNODE_SCALAR || !v->value[0] ||
		    strpbrk(v->value, "\r\n") ||
		    (words && !word_in(words, v->value)))
			return bad_value(path, v, what, err, errlen);
		(*out)[have++] = xstrdup(v->value);
		(*out)[have] = NULL;
	}
	return 0;
}

/* Any one-line text; it names the queue directory too (notify.c). */
static int endpoint_name(struct config_notify_endpoint *e,
			 const struct cnode *n, const char *path, char *err,
			 size_t errlen)
{
	bool control = false;

	for (const char *p = n->kind == CNODE_SCALAR ? n->value : ""; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			control = true;
	if (n->kind != CNODE_SCALAR || !n->value[0] || control)
		return bad_value(path, n, "a one-line, non-empty name", err,
				 errlen);
	free(e->name);
	e->name = xstrdup(n->value);
	return 0;
}

static int endpoint_url(struct config_notify_endpoint *e, const struct cnode *n,
			const char *path, char *err, size_t errlen)
{
	const char *v = n->kind == CNODE_SCALAR ? n->value : "", *host = NULL;

	if (!strncasecmp(v, "http://", 7))
		host = v + 7;
	else if (!strncasecmp(v, "https://", 8))
		host = v + 8;
	if (!host || !*host || *host == '/' || has_space_or_control(v))
		return bad_value(path, n,
				 "a URL starting with http:// or "
				 "https://",
				 err, errlen);
	free(e->url);
	e->url = xstrdup(v);
	return 0;
}

/* timeout and backoff: a duration; 0 picks registry:2's default. */
static int endpoint_duration(const struct cnode *n, const char *path,
			     int64_t dflt, int64_t *out, char *err,
			     size_t errlen)
{
	int64_t ms;

	if (n->kind != CNODE_SCALAR ||
	    config_parse_duration_ms(n->value, &ms) < 0)
		return bad_value(path, n, "a duration such as 500ms or 2s", err,
				 errlen);
	*out = ms > 0 ? ms : dflt;
	return 0;
}

static int endpoint_threshold(const struct cnode *n, const char *path, int *out,
			      char *err, size_t errlen)
{
	char *end;
	long v;

	if (n->kind != CNODE_SCALAR)
		return bad_value(path, n, "a whole number from 0 to 1000", err,
				 errlen);
	errno = 0;
	v = strtol(n->value, &end, 10);
	if (errno || end == n->value || *end || v < 0 || v > 1000)
		return bad_value(path, n, "a whole number from 0 to 1000", err,
				 errlen);
	*out = v > 0 ? (int)v : NOTIFY_DEFAULT_THRESHOLD;
	return 0;
}

static int endpoint_headers(struct config_notify_endpoint *e,
			    const struct cnode *n, const char *path, char *err,
			    size_t errlen)
{
	int rc = 0;

	if (n->kind != CNODE_MAP)
		return bad_value(path, n,
				 "a mapping of header names to "
				 "lists of values",
				 err, errlen);
	e->headers = xcalloc(n->nkids, sizeof(*e->headers));
	for (size_t i = 0; i < n->nkids && rc == 0; i++) {
		const struct cnode *kid = n->kids[i];
		char *hpath = xasprintf("%s.%s", path, kid->key);

		if (!header_name_ok(kid->key)) {
			set_error(err, errlen, "%s: not a valid header name",
				  hpath);
			rc = -EINVAL;
		} else {
			rc = header_from_node(&e->headers[i], kid, hpath, err,
					      errlen);
		}
		e->headers_count = i + 1;
		free(hpath);
	}
	return rc;
}

/* ignore: {mediatypes: [...], actions: [...]}. */
static int endpoint_ignore(struct config_notify_endpoint *e,
			   const struct cnode *n, const char *path, char *err,
			   size_t errlen)
{
	int rc = 0;

	if (n->kind != CNODE_MAP)
		return bad_value(path, n,
				 "a mapping with mediatypes and "
				 "actions",
				 err, errlen);
	for (size_t i = 0; i < n->nkids && rc == 0; i++) {
		const struct cnode *kid = n->kids[i];
		char *kpath = xasprintf("%s.%s", path, kid->key);

		if (kid->kind == CNODE_NULL)
			;
		else if (!strcmp(kid->key, "mediatypes"))
			rc = endpoint_strings(kid, kpath, NULL,
					      &e->ignored_mediatypes, err,
					      errlen);
		else if (!strcmp(kid->key, "actions"))
			rc = endpoint_strings(kid, kpath, notify_actions,
					      &e->ignored_actions, err, errlen);
		else
			log_warn("unknown configuration key key=%s", kpath);
		free(kpath);
	}
	return rc;
}

/* Reads one key of an endpoint's mapping. */
static int endpoint_key(struct config_notify_endpoint *e,
			const struct cnode *kid, const char *path, char *err,
			size_t errlen)
{
	const char *key = kid->key;

	if (kid->kind == CNODE_NULL)
		return 0;
	if (!strcmp(key, "name"))
		return endpoint_name(e, kid, path, err, errlen);
	if (!strcmp(key, "url"))
		return endpoint_url(e, kid, path, err, errlen);
	if (!strcmp(key, "disabled"))
		return kid->kind == CNODE_SCALAR &&
				       parse_bool_word(kid->value,
						       &e->disabled) == 0
			       ? 0
			       : bad_value(path, kid, "true or false", err,
					   errlen);
	if (!strcmp(key, "headers"))
		return endpoint_headers(e, kid, path, err, errlen);
	if (!strcmp(key, "timeout"))
		return endpoint_duration(kid, path, NOTIFY_DEFAULT_TIMEOUT_MS,
					 &e->timeout_ms, err, errlen);
	if (!strcmp(key, "backoff"))
		return endpoint_duration(kid, path, NOTIFY_DEFAULT_BACKOFF_MS,
					 &e->backoff_ms, err, errlen);
	if (!strcmp(key, "threshold"))
		return endpoint_threshold(kid, path, &e->threshold, err,
					  errlen);
	if (!strcmp(key, "ignoredmediatypes"))
		return endpoint_strings(kid, path, NULL, &e->ignored_mediatypes,
					err, errlen);
	if (!strcmp(key, "ignore"))
		return endpoint_ignore(e, kid, path, err, errlen);
	log_warn("unknown configuration key key=%s", path);
	return 0;
}

static int endpoint_from_node(struct config_notify_endpoint *e,
			      const struct cnode *n, const char *path,
			      char *err, size_t errlen)
{
	e->timeout_ms = NOTIFY_DEFAULT_TIMEOUT_MS;
	e->threshold = NOTIFY_DEFAULT_THRESHOLD;
	e->backoff_ms = NOTIFY_DEFAULT_BACKOFF_MS;
	e->ignored_mediatypes = xcalloc(1, sizeof(char *));
	e->ignored_actions = xcalloc(1, sizeof(char *));
	if (n->kind != CNODE_MAP)
		return bad_value(path, n, "a mapping with name and url", err,
				 errlen);

	for (size_t i = 0; i < n->nkids; i++) {
		char *kpath = xasprintf("%s.%s", path, n->kids[i]->key);
		int rc = endpoint_key(e, n->kids[i], kpath, err, errlen);

		free(kpath);
		if (rc < 0)
			return rc;
	}
	if (!e->name || !e->url) {
		set_error(err, errlen, "%s: an endpoint needs a name and a url",
			  path);
		return -EINVAL;
	}
	return 0;
}

/*
 * The list of endpoints.  Names must differ: each has its own queue of
 * events on disk, found again by name after a restart.
 */
static int parse_endpoints(struct config *c, const struct config_key *k,
			   const struct cnode *n, char *err, size_t errlen)
{
	struct config_notify_endpoint **field = field_of(c, k);
	size_t *count = (size_t *)((char *)c + k->aux);

	if (n->kind != CNODE_LIST)
		return bad_value(k->path, n, "a list of endpoints", err,
				 errlen);
	release_endpoints(c, k);
	*field = xcalloc(n->nkids, sizeof(**field));
	for (size_t i = 0; i < n->nkids; i++) {
		struct config_notify_endpoint *e = &(*field)[i];
		char *path = xasprintf("%s[%zu]", k->path, i);
		int rc;

		*count = i + 1;
		rc = endpoint_from_node(e, n->kids[i], path, err, errlen);
		for (size_t j = 0; rc == 0 && j < i; j++) {
			if (strcmp((*field)[j].name, e->name))
				continue;
			set_error(err, errlen,
				  "%s: endpoint name \"%s\" is used "
				  "twice",
				  path, e->name);
			rc = -EINVAL;
		}
		free(path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct config_type type_endpoints = {parse_endpoints,
						  release_endpoints, SUB_NONE};

/* ---- values other modules check -------------------------------------- */

/* A string whose form the module using it knows. */
struct string_check {
	int (*check)(const char *value, char *why, size_t len);
};

static int parse_checked(struct config *c, const struct config_key *k,
			 const struct cnode *n, char *err, size_t errlen)
{
	const struct string_check *chk = k->arg;
	char why[200];

	if (n->kind != CNODE_SCALAR)
		return bad_value(k->path, n, "a string", err, errlen);
	if (chk->check(n->value, why, sizeof(why)) < 0) {
		set_error(err, errlen, "%s: %s", k->path, why);
		return -EINVAL;
	}
	store_string(c, k, xstrdup(n->value));
	return 0;
}

static const struct config_type type_checked = {parse_checked, release_string,
						SUB_NONE};

/*
 * A subtree handed to its module as JSON, every scalar a string, checked
 * by that module (whose messages name the key).
 */
struct tree_check {
	int (*check)(const json_t *tree, char *err, size_t errlen);
};

static json_t *cnode_json(const struct cnode *n)
{
	json_t *j = NULL;

	switch (n->kind) {
	case CNODE_NULL:
		return json_null();
	case CNODE_SCALAR:
		j = json_string(n->value);
		return j ? j : json_null();
	case CNODE_LIST:
		j = json_array();
		for (size_t i = 0; i < n->nkids; i++)
			json_array_append_new(j, cnode_json(n->kids[i]));
		return j;
	case CNODE_MAP:
		j = json_object();
		for (size_t i = 0; i < n->nkids; i++)
			json_object_set_new(j, n->kids[i]->key,
					    cnode_json(n->kids[i]));
		return j;
	}
	return json_null();
}

static void release_tree(struct config *c, const struct config_key *k)
{
	json_t **field = field_of(c, k);

	json_decref(*field);
	*field = NULL;
}

static int parse_tree(struct config *c, const struct config_key *k,
		      const struct cnode *n, char *err, size_t errlen)
{
	const struct tree_check *chk = k->arg;
	json_t *tree = cnode_json(n);

	if (chk->check(tree, err, errlen) < 0) {
		json_decref(tree);
		return -EINVAL;
	}
	release_tree(c, k);
	*(json_t **)field_of(c, k) = tree;
	return 0;
}

static const struct config_type type_tree = {parse_tree, release_tree,
					     SUB_NONE};

static const struct string_check window_form = {lifecycle_window_check};
static const struct tree_check retention_rules = {retention_check};
static const struct tree_check quota_rules = {usage_quota_check};

/* ---- storage drivers ------------------------------------------------- */

/* Keys of the storage section that configure storage, not a driver. */
static const char *const storage_params[] = {"maintenance", "cache", "delete",
					     "redirect",    "tag",   NULL};

/*
 * Drivers this build implements.  A new backend adds its name here and
 * replaces its "storage.NAME" row in config_keys[] with rows for its
 * parameters (storage.s3.bucket, ...).
 */
static const char *const storage_drivers[] = {"filesystem", "s3", NULL};

/*
 * Picks the driver: the one storage key that is not a storage_params
 * entry, or filesystem when there is none.
 */
static int select_driver(struct config *c, const struct cnode *root, char *err,
			 size_t errlen)
{
	const struct cnode *st = cnode_child(root, "storage");
	const char *found = NULL;

	for (size_t i = 0; st && st->kind == CNODE_MAP && i < st->nkids; i++) {
		const char *name = st->kids[i]->key;

		if (word_in(storage_params, name))
			continue;
		if (found) {
			set_error(err, errlen,
				  "storage: exactly one driver may "
				  "be configured, found \"%s\" and \"%s\"",
				  found, name);
			return -EINVAL;
		}
		found = name;
	}

	if (!found)
		found = "filesystem";
	if (!word_in(storage_drivers, found)) {
		set_error(err, errlen,
			  "storage: driver \"%s\" is not supported "
			  "by this build",
			  found);
		return -EINVAL;
	}
	c->storage_driver = xstrdup(found);
	return 0;
}

/* Known drivers this build lacks; select_driver reports them. */
static const struct config_type type_driver = {parse_ignore, NULL, SUB_PATH};

/* ---- the keys -------------------------------------------------------- */

static const char *const log_formatters[] = {"text", "json", "logfmt", NULL};
static const char *const tls_versions[] = {"tls1.2", "tls1.3", NULL};
static const char *const ui_delete_choices[] = {"auto", "true", "false", NULL};
static const struct int_range maxthreads_range = {25, INT_MAX};
/* S3 refuses parts under 5 MiB but the last. */
static const struct int_range s3_chunksize_range = {5 << 20, INT_MAX};
static const struct int_range connections_range = {1, 100000};
static const struct int_range rate_range = {0, 1000000};
static const int positive = 1;

#define FIELD(f) offsetof(struct config, f)
#define KEY(p, t, f, d)                                                        \
	{                                                                      \
		(p), &(t), FIELD(f), 0, (d), NULL                              \
	}
#define KEY_ARG(p, t, f, d, a)                                                 \
	{                                                                      \
		(p), &(t), FIELD(f), 0, (d), (a)                               \
	}
#define NOKEY(p, t, a)                                                         \
	{                                                                      \
		(p), &(t), NOFIELD, 0, NULL, (a)                               \
	}

/*
 * Every key berth reads, in the order they are checked: http.net before
 * http.addr, so "net: unix" is reported as such and not as a bad address.
 * Each field appears in at most one row, since rows release their field.
 */
static const struct config_key config_keys[] = {
	KEY("version", type_version, version, "0.1"),

	KEY("log.level", type_loglevel, log_level, "info"),
	KEY_ARG("log.formatter", type_choice, log_formatter, "text",
		log_formatters),
	KEY("log.accesslog.disabled", type_bool, log_accesslog_disabled,
	    "false"),
	NOKEY("log.fields", type_ignore_map, NULL),
	NOKEY("log.reportcaller", type_ignore, NULL),
	NOKEY("log.hooks", type_unsupported, NULL),
	NOKEY("loglevel", type_moved, NULL),

	NOKEY("http.net", type_net, NULL),
	KEY("http.addr", type_addr, http_addr, ":5000"),
	KEY("http.host", type_url, http_host, ""),
	KEY("http.prefix", type_prefix, http_prefix, ""),
	KEY("http.relativeurls", type_bool, http_relativeurls, "false"),
	KEY("http.secret", type_string, http_secret, ""),
	KEY("http.draintimeout", type_duration, http_draintimeout, "0"),
	{"http.headers", &type_headers, FIELD(http_headers),
	 FIELD(http_headers_count), NULL, NULL},
	KEY_ARG("http.debug.addr", type_addr, http_debug_addr, "", ""),
	KEY("http.debug.prometheus.enabled", type_bool, http_prometheus_enabled,
	    "false"),
	KEY("http.debug.prometheus.path", type_prefix, http_prometheus_path,
	    "/metrics"),
	NOKEY("http.http2", type_ignore, NULL),
	KEY("http.tls.certificate", type_string, http_tls_certificate, ""),
	KEY("http.tls.key", type_string, http_tls_key, ""),
	KEY_ARG("http.tls.minimumtls", type_choice, http_tls_minimum, "tls1.2",
		tls_versions),
	NOKEY("http.tls.clientcas", type_unavailable,
	      "client certificate authentication is not available; use "
	      "htpasswd logins"),
	NOKEY("http.tls.letsencrypt", type_unavailable,
	      "built-in Let's Encrypt is not available; let certbot or "
	      "uacme renew the files, berth reloads them when they change"),
	KEY("http.cors.origins", type_strlist, http_cors_origins, NULL),
	KEY("http.trustedproxies", type_strlist, http_trusted_proxies, NULL),
	KEY_ARG("http.limits.connections", type_int, http_max_connections,
		"1024", &connections_range),
	KEY_ARG("http.limits.connectionsperclient", type_int,
		http_max_client_connections, "64", &connections_range),
	KEY("http.limits.idletimeout", type_duration, http_idle_timeout, "60s"),
	KEY_ARG("http.ratelimit.rate", type_int, http_rate, "0", &rate_range),
	KEY_ARG("http.ratelimit.burst", type_int, http_burst, "100",
		&rate_range),

	KEY("storage.filesystem.rootdirectory", type_nonempty, fs_rootdirectory,
	    "/var/lib/registry"),
	KEY_ARG("storage.filesystem.maxthreads", type_int, fs_maxthreads, "100",
		&maxthreads_range),
	NOKEY("storage.inmemory", type_driver, NULL),
	KEY("storage.s3.accesskey", type_string, s3_accesskey, ""),
	KEY("storage.s3.secretkey", type_string, s3_secretkey, ""),
	KEY("storage.s3.region", type_string, s3_region, ""),
	KEY("storage.s3.regionendpoint", type_string, s3_regionendpoint, ""),
	KEY("storage.s3.bucket", type_string, s3_bucket, ""),
	KEY("storage.s3.rootdirectory", type_string, s3_rootdirectory, ""),
	KEY("storage.s3.secure", type_bool, s3_secure, "true"),
	KEY("storage.s3.v4auth", type_bool, s3_v4auth, "true"),
	KEY_ARG("storage.s3.chunksize", type_int, s3_chunksize, "10485760",
		&s3_chunksize_range),
	KEY("storage.s3.encrypt", type_bool, s3_encrypt, "false"),
	KEY("storage.s3.storageclass", type_string, s3_storageclass,
	    "STANDARD"),
	KEY("storage.s3.forcepathstyle", type_bool, s3_forcepathstyle, "false"),
	NOKEY("storage.azure", type_driver, NULL),
	NOKEY("storage.gcs", type_driver, NULL),
	NOKEY("storage.swift", type_driver, NULL),
	NOKEY("storage.oss", type_driver, NULL),
	KEY("storage.delete.enabled", type_bool, delete_enabled, "false"),
	KEY("storage.maintenance.uploadpurging.enabled", type_bool,
	    uploadpurging_enabled, "true"),
	KEY_ARG("storage.maintenance.uploadpurging.age", type_duration,
		uploadpurging_age, "168h", &positive),
	KEY_ARG("storage.maintenance.uploadpurging.interval", type_duration,
		uploadpurging_interval, "24h", &positive),
	KEY("storage.maintenance.uploadpurging.dryrun", type_bool,
	    uploadpurging_dryrun, "false"),
	KEY("storage.maintenance.readonly.enabled", type_bool, readonly,
	    "false"),
	KEY("storage.maintenance.gc.enabled", type_bool, gc_enabled, "false"),
	KEY_ARG("storage.maintenance.gc.interval", type_duration, gc_interval,
		"24h", &positive),
	KEY_ARG("storage.maintenance.gc.window", type_checked, gc_window, "",
		&window_form),
	KEY("storage.maintenance.gc.graceperiod", type_duration, gc_graceperiod,
	    "1h"),
	KEY("storage.maintenance.gc.deleteuntagged", type_bool,
	    gc_deleteuntagged, "false"),
	KEY("storage.maintenance.gc.dryrun", type_bool, gc_dryrun, "false"),
	KEY_ARG("storage.maintenance.lease.duration", type_duration,
		lease_duration, "2m", &positive),
	KEY("storage.maintenance.scrub.enabled", type_bool, scrub_enabled,
	    "false"),
	KEY_ARG("storage.maintenance.scrub.interval", type_duration,
		scrub_interval, "168h", &positive),
	KEY("storage.maintenance.usage.interval", type_duration, usage_interval,
	    "1h"),
	KEY_ARG("storage.maintenance.retention", type_tree, retention, NULL,
		&retention_rules),
	KEY_ARG("storage.maintenance.quotas", type_tree, quotas, NULL,
		&quota_rules),
	NOKEY("storage.cache", type_ignore_debug, NULL),
	KEY("storage.maintenance.index.refresh", type_refresh, index_refresh,
	    "auto"),
	KEY("storage.redirect.disable", type_bool, redirect_disable, "false"),
	NOKEY("storage.tag", type_ignore, NULL),

	NOKEY("auth", type_auth, NULL),
	KEY("auth.htpasswd.realm", type_realm, auth_htpasswd_realm, NULL),
	KEY("auth.htpasswd.path", type_nonempty, auth_htpasswd_path, NULL),
	{"access", &type_access, FIELD(access), 0, NULL, NULL},
	NOKEY("health", type_ignore, NULL),
	NOKEY("validation", type_ignore, NULL),
	NOKEY("compatibility", type_ignore, NULL),
	{"notifications.endpoints", &type_endpoints, FIELD(notify_endpoints),
	 FIELD(notify_endpoints_count), NULL, NULL},
	NOKEY("notifications.events", type_unsupported, NULL),
	NOKEY("redis", type_unsupported, NULL),
	NOKEY("proxy", type_unsupported, NULL),
	NOKEY("middleware", type_unsupported, NULL),
	NOKEY("reporting", type_unsupported, NULL),
	NOKEY("catalog", type_unsupported, NULL),
	NOKEY("policy", type_unsupported, NULL),

	KEY("ui.enabled", type_bool, ui_enabled, "true"),
	KEY("ui.title", type_string, ui_title, ""),
	KEY("title", type_string, ui_registry_title, ""),
	KEY_ARG("ui.delete", type_choice, ui_delete, "auto", ui_delete_choices),
	KEY("ui.pullhost", type_string, ui_pullhost, ""),
};

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* ---- environment overrides ------------------------------------------- */

struct comps {
	char **v;
	size_t n;
};

static void comps_add(struct comps *c, const char *s, size_t len)
{
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n++] = xstrndup(s, len);
}

static void comps_free(struct comps *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* Appends the parts of a dotted path (its first len bytes). */
static void comps_add_path(struct comps *c, const char *path, size_t len)
{
	while (len > 0) {
		size_t part = strcspn(path, ".");

		if (part > len)
			part = len;
		comps_add(c, path, part);
		path += part;
		len -= part;
		if (len > 0) {
			path++;
			len--;
		}
	}
}

/*
 * Compares the start of name with the first len bytes of a dotted path
 * spelled as registry:2 spells it in the environment: upper case, '_'
 * for '.'.  True if they match and name ends or goes on with '_' there.
 */
static bool env_match(const char *name, const char *path, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int up = toupper((unsigned char)path[i]);
		int want = path[i] == '.' ? '_' : up;

		if (name[i] != want)
			return false;
	}
	return name[len] == '\0' || name[len] == '_';
}

/* Adds what follows a matched key in a variable name, per the key type. */
static int env_add_rest(struct comps *out, const char *rest,
			enum config_sub sub)
{
	if (sub == SUB_MAPKEY) {
		if (!*rest)
			return -EINVAL;
		comps_add(out, rest, strlen(rest));
		return 0;
	}
	while (*rest) {
		size_t len = strcspn(rest, "_");
		char *p;

		if (len == 0)
			return -EINVAL;
		comps_add(out, rest, len);
		for (p = out->v[out->n - 1]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		rest += len + (rest[len] == '_');
	}
	return 0;
}

/*
 * Finds the tree path a variable name (without REGISTRY_) stands for: a
 * key, a section above keys, or a path below a key whose type allows it.
 * Key names never contain '_', so the match is unambiguous.  Returns 0
 * with out filled, or -ENOENT.
 */
static int env_resolve(const char *name, struct comps *out)
{
	const struct config_key *best = NULL;
	size_t nlen = strlen(name), bestlen = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		size_t len = strlen(k->path);

		if (nlen < len && k->path[nlen] == '.' &&
		    env_match(name, k->path, nlen)) {
			comps_add_path(out, k->path, nlen);
			return 0;
		}
		if (env_match(name, k->path, len) && len > bestlen &&
		    (!name[len] || k->type->sub != SUB_NONE)) {
			best = k;
			bestlen = len;
		}
	}

	if (!best)
		return -ENOENT;
	comps_add_path(out, best->path, bestlen);
	if (name[bestlen] &&
	    env_add_rest(out, name + bestlen + 1, best->type->sub) < 0) {
		comps_free(out);
		return -ENOENT;
	}
	return 0;
}

/*
 * registry:2 lets "storage: filesystem" and "auth: silly" name a type
 * without parameters.  Rewriting them as {filesystem: null} gives every
 * later step one shape to handle.
 */
static void tree_normalize(struct cnode *root)
{
	static const char *const typed[] = {"storage", "auth"};

	for (size_t i = 0; i < 2; i++) {
		struct cnode *n = cnode_child(root, typed[i]);
		struct cnode *kid;

		if (!n || n->kind != CNODE_SCALAR)
			continue;
		if (!n->value[0]) { /* "" names no type at all */
			n->kind = CNODE_NULL;
			continue;
		}
		kid = cnode_new(CNODE_NULL);
		kid->key = n->value;
		n->value = NULL;
		n->kind = CNODE_MAP;
		cnode_add(n, kid);
	}
}

/* Stores value at the path in comps, making mappings on the way. */
static void tree_set(struct cnode *root, const struct comps *path,
		     struct cnode *value)
{
	struct cnode *at = root;

	for (size_t i = 0; i + 1 < path->n; i++) {
		const char *key = path->v[i];
		ssize_t j = cnode_find(at, key, strlen(key), true);

		if (j < 0 || at->kids[j]->kind != CNODE_MAP) {
			cnode_put(at, key, cnode_new(CNODE_MAP));
			j = cnode_find(at, key, strlen(key), true);
		}
		at = at->kids[j];
	}
	cnode_put(at, path->v[path->n - 1], value);
}

/* Applies one "REGISTRY_NAME=value" to the tree. */
static int env_apply(struct cnode *root, const char *var, char *err,
		     size_t errlen)
{
	const char *eq = strchr(var, '=');
	struct comps path = {0};
	struct cnode *value;
	char sub[256];
	char *name;
	int rc = 0;

	if (!eq)
		return 0;
	name = xstrndup(var, (size_t)(eq - var));
	if (!strcmp(name, ENV_PREFIX "CONFIGURATION_PATH"))
		goto out;
	if (env_resolve(name + strlen(ENV_PREFIX), &path) < 0) {
		log_warn("unknown configuration environment variable, "
			 "ignoring name=%s",
			 name);
		goto out;
	}

	/* Like registry:2, the value is YAML: "true", "[a, b]", "{...}". */
	value = yaml_to_tree(eq + 1, strlen(eq + 1), false, sub, sizeof(sub));
	if (!value) {
		set_error(err, errlen, "%s: %s", name, sub);
		rc = -EINVAL;
		goto out;
	}
	tree_set(root, &path, value);
	tree_normalize(root);
out:
	comps_free(&path);
	free(name);
	return rc;
}

/* Orders variables by name alone, as registry:2 does. */
static int env_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a;
	const char *y = *(const char *const *)b;

	for (;; x++, y++) {
		int cx = *x == '=' ? 0 : (unsigned char)*x;
		int cy = *y == '=' ? 0 : (unsigned char)*y;

		if (cx != cy || !cx)
			return cx - cy;
	}
}

/*
 * Applies every REGISTRY_* variable, sorted by name so that a whole
 * section (REGISTRY_STORAGE) is replaced before the keys inside it
 * (REGISTRY_STORAGE_DELETE_ENABLED) are set.
 */
static int env_apply_all(struct cnode *root, char *const *env, char *err,
			 size_t errlen)
{
	const char **vars;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; env && env[i]; i++)
		n++;
	vars = xcalloc(n, sizeof(*vars));
	n = 0;
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], ENV_PREFIX, strlen(ENV_PREFIX)))
			vars[n++] = env[i];
	qsort(vars, n, sizeof(*vars), env_cmp);

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = env_apply(root, vars[i], err, errlen);
	free(vars);
	return rc;
}

/*
 * The deprecated top-level "loglevel" counts only when log.level is not
 * given, as in registry:2.
 */
static void tree_alias_loglevel(struct cnode *root)
{
	struct cnode *old = cnode_detach(root, "loglevel");
	const struct cnode *cur = cnode_at(root, "log.level");
	struct comps path = {0};

	if (!old)
		return;
	if (cur && cur->kind != CNODE_NULL) {
		cnode_free(old);
		return;
	}
	comps_add_path(&path, "log.level", strlen("log.level"));
	tree_set(root, &path, old);
	comps_free(&path);
}

/* ---- from tree to struct config -------------------------------------- */

enum path_kind { PATH_UNKNOWN, PATH_KEY, PATH_SECTION };

/* Whether a dotted path is a key, a section holding keys, or unknown. */
static enum path_kind path_lookup(const char *path)
{
	enum path_kind kind = PATH_UNKNOWN;
	size_t len = strlen(path);

	for (size_t i = 0; i < NKEYS; i++) {
		const char *p = config_keys[i].path;

		if (!strcmp(p, path))
			return PATH_KEY;
		if (!strncmp(p, path, len) && p[len] == '.')
			kind = PATH_SECTION;
	}
	return kind;
}

/*
 * Warns about every key of map (at path, NULL for the top) that no row
 * knows, and fails if a section holding keys is not a mapping.
 */
static int config_walk(const struct cnode *map, const char *path, char *err,
		       size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; i < map->nkids && rc == 0; i++) {
		const struct cnode *kid = map->kids[i];
		char *kpath = path ? xasprintf("%s.%s", path, kid->key)
				   : xstrdup(kid->key);

		switch (path_lookup(kpath)) {
		case PATH_KEY:
			break;
		case PATH_SECTION:
			if (kid->kind == CNODE_MAP)
				rc = config_walk(kid, kpath, err, errlen);
			else if (kid->kind != CNODE_NULL)
				rc = bad_value(kpath, kid, "a mapping", err,
					       errlen);
			break;
		case PATH_UNKNOWN:
			log_warn("unknown configuration key key=%s", kpath);
			break;
		}
		free(kpath);
	}
	return rc;
}

/* Runs every row over the tree, defaults standing in for absent keys. */
static int config_extract(struct config *c, const struct cnode *root, char *err,
			  size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const struct cnode *n = cnode_at(root, k->path);
		struct cnode dflt = {.kind = CNODE_SCALAR};

		if (!n || n->kind == CNODE_NULL) {
			if (!k->def)
				continue;
			dflt.value = (char *)k->def;
			n = &dflt;
		}
		if (k->type->parse(c, k, n, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

/* Reads the file's text into a tree whose root is a mapping. */
static struct cnode *config_read_tree(const char *yaml, size_t len, char *err,
				      size_t errlen)
{
	struct cnode *root = yaml_to_tree(yaml ? yaml : "", yaml ? len : 0,
					  true, err, errlen);

	if (!root)
		return NULL;
	if (root->kind == CNODE_NULL)
		root->kind = CNODE_MAP;
	if (root->kind != CNODE_MAP) {
		set_error(err, errlen,
			  "configuration must be a mapping of "
			  "sections, got a %s",
			  root->kind == CNODE_LIST ? "list" : "string");
		cnode_free(root);
		return NULL;
	}
	tree_normalize(root);
	return root;
}

static int config_build(struct config *c, struct cnode *root, char *err,
			size_t errlen)
{
	const struct cnode *version = cnode_at(root, "version");

	if (!version || version->kind == CNODE_NULL)
		log_warn("configuration has no version, assuming version=0.1");

	if (select_driver(c, root, err, errlen) < 0)
		return -EINVAL;
	if (config_walk(root, NULL, err, errlen) < 0)
		return -EINVAL;
	return config_extract(c, root, err, errlen);
}

struct config *config_parse(const char *yaml, size_t len, char *const *env,
			    char *err, size_t errlen)
{
	struct config *c = NULL;
	struct cnode *root;

	set_error(err, errlen, "%s", "");
	root = config_read_tree(yaml, len, err, errlen);
	if (!root)
		return NULL;
	if (env_apply_all(root, env, err, errlen) < 0)
		goto out;
	tree_alias_loglevel(root);

	c = xcalloc(1, sizeof(*c));
	if (config_build(c, root, err, errlen) < 0) {
		config_free(c);
		c = NULL;
	}
out:
	cnode_free(root);
	return c;
}

/* Reads a whole file of at most CONFIG_MAX_FILE bytes into *text. */
static int read_file(const char *path, char **text, size_t *len, char *err,
		     size_t errlen)
{
	struct buf b = BUF_INIT;
	char chunk[8192];
	int fd, rc = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		set_error(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			set_error(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (b.len + (size_t)n > CONFIG_MAX_FILE) {
			rc = -EFBIG;
			set_error(err, errlen,
				  "%s: larger than %d bytes, not a "
				  "configuration file",
				  path, CONFIG_MAX_FILE);
			goto out;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	buf_grow(&b, 0);
	*text = buf_detach(&b, len);
out:
	close(fd);
	buf_free(&b);
	return rc;
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
	struct config *c;
	char sub[512];
	char *text;
	size_t len;

	if (!path || !*path)
		path = getenv(ENV_PREFIX "CONFIGURATION_PATH");
	if (!path || !*path)
		return config_parse("", 0, environ, err, errlen);

	if (read_file(path, &text, &len, err, errlen) < 0)
		return NULL;
	c = config_parse(text, len, environ, sub, sizeof(sub));
	if (!c)
		set_error(err, errlen, "%s: %s", path, sub);
	free(text);
	return c;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (config_keys[i].type->release)
			config_keys[i].type->release(c, &config_keys[i]);
	free(c->storage_driver);
	free(c);
}

/* ---- durations ------------------------------------------------------- */

/* A unit is mult * 10^exp nanoseconds. */
static const struct duration_unit {
	const char *name;
	int64_t mult;
	int exp;
} duration_units[] = {
	{"ns", 1, 0}, {"us", 1, 3}, {"\xc2\xb5s", 1, 3}, {"\xce\xbcs", 1, 3},
	{"ms", 1, 6}, {"s", 1, 9},  {"m", 6, 10},	 {"h", 36, 11},
};

static const struct duration_unit *duration_unit(const char *s, size_t len)
{
	for (size_t i = 0;
	     i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		const char *name = duration_units[i].name;

		if (strlen(name) == len && !strncmp(name, s, len))
			return &duration_units[i];
	}
	return NULL;
}

static int64_t pow10i(int exp)
{
	int64_t v = 1;

	while (exp-- > 0)
		v *= 10;
	return v;
}

/* Reads the digits s[0..n) into *v; -1 on overflow. */
static int read_digits(const char *s, size_t n, int64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = s[i] - '0';

		if (*v > (INT64_MAX - d) / 10)
			return -1;
		*v = *v * 10 + d;
	}
	return 0;
}

/*
 * Parses one "<number><unit>" term at *sp into nanoseconds and moves *sp
 * past it.  Fraction digits finer than a nanosecond are dropped, which
 * keeps the arithmetic exact in 64 bits.
 */
static int duration_term(const char **sp, int64_t *ns)
{
	const char *s = *sp, *frac, *unit;
	const struct duration_unit *u;
	size_t nint, nfrac = 0, ulen, keep;
	int64_t whole, part, scale;

	nint = strspn(s, "0123456789");
	frac = s + nint;
	if (*frac == '.')
		nfrac = strspn(frac + 1, "0123456789");
	unit = *frac == '.' ? frac + 1 + nfrac : frac;
	ulen = strcspn(unit, "0123456789.");
	u = duration_unit(unit, ulen);
	if ((nint == 0 && nfrac == 0) || !u)
		return -1;

	scale = u->mult * pow10i(u->exp);
	if (read_digits(s, nint, &whole) < 0 || whole > INT64_MAX / scale)
		return -1;
	keep = nfrac < (size_t)u->exp ? nfrac : (size_t)u->exp;
	read_digits(frac + 1, keep, &part);
	part *= u->mult * pow10i(u->exp - (int)keep);
	if (whole * scale > INT64_MAX - part)
		return -1;

	*ns = whole * scale + part;
	*sp = unit + ulen;
	return 0;
}

/* A whole duration in nanoseconds; see config_parse_duration. */
static int duration_ns(const char *s, int64_t *total)
{
	*total = 0;
	if (!s)
		return -1;
	if (*s == '+')
		s++;
	if (!strcmp(s, "0"))
		return 0;
	if (!*s)
		return -1;

	while (*s) {
		int64_t ns;

		if (duration_term(&s, &ns) < 0 || ns > INT64_MAX - *total)
			return -1;
		*total += ns;
	}
	return 0;
}

int config_parse_duration(const char *s, int64_t *seconds)
{
	int64_t ns;

	if (duration_ns(s, &ns) < 0)
		return -1;
	*seconds = ns / 1000000000;
	return 0;
}

int config_parse_duration_ms(const char *s, int64_t *ms)
{
	int64_t ns;

	if (duration_ns(s, &ns) < 0)
		return -1;
	*ms = ns / 1000000;
	return 0;
}
