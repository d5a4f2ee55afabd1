/*
 * mrefs.c - a single pass over a manifest's JSON that reports the
 * digests it references (mrefs.h).
 *
 * A recursive descent over the grammar, with a role per level saying
 * what a value there means: the top-level object; a descriptor, whose
 * "digest" (or a schema 1 layer's "blobSum") is reported; a list of
 * descriptors; or anything else, which is only checked and skipped.
 * Strings are decoded only where a key or a digest must be compared;
 * an escape that decodes outside ASCII there makes the walk give up,
 * since no key it looks for and no digest contains one.
 */
#include "mrefs.h"

#include <string.h>

/* Deeper nesting is left to the slow parser. */
#define MREFS_DEPTH 64
/* Longer keys match nothing; longer digests are not digests. */
#define MREFS_KEY_MAX 32
#define MREFS_DIGEST_MAX 200

enum role { ROLE_SKIP, ROLE_TOP, ROLE_DESC, ROLE_LIST };

struct level {
	enum role role;
	enum mref_kind kind;
	bool fs; /* fsLayers: the digest is called blobSum */
};

struct walk {
	const char *p, *end;
	mref_fn fn;
	void *arg;
	bool *is_index;
};

static bool value(struct walk *w, struct level at, int depth);

static void ws(struct walk *w)
{
	while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' ||
				 *w->p == '\n' || *w->p == '\r'))
		w->p++;
}

static int hex4(const char *s)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* One escape after the backslash at w->p; -1 bad, else the character. */
static int escape(struct walk *w)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	char e;

	if (w->p >= w->end)
		return -1;
	e = *w->p++;
	if (e == 'u') {
		int v = w->end - w->p >= 4 ? hex4(w->p) : -1;

		w->p += 4;
		return v;
	}
	hit = strchr(from, e);
	return e && hit ? to[hit - from] : -1;
}

/*
 * Reads the string at w->p (its opening quote).  With out, decodes it
 * into out (cap bytes) and sets *n; *n > cap means it did not fit.
 * Returns false on malformed text or an undecodable escape in out.
 */
static bool string(struct walk *w, char *out, size_t cap, size_t *n)
{
	size_t len = 0;

	w->p++;
	while (w->p < w->end) {
		int c = (unsigned char)*w->p++;

		if (c == '"') {
			if (n)
				*n = len;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\' && ((c = escape(w)) < 0 || (out && c > 0x7f)))
			return false;
		if (out && len < cap)
			out[len] = (char)c;
		len += len <= cap;
	}
	return false;
}

static bool literal(struct walk *w)
{
	static const char *const words[] = {"true", "false", "null"};

	for (int i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);

		if ((size_t)(w->end - w->p) >= n &&
		    !memcmp(w->p, words[i], n)) {
			w->p += n;
			return true;
		}
	}
	return false;
}

static bool number(struct walk *w)
{
	const char *start = w->p;

	while (w->p < w->end && strchr("+-0123456789.eE", *w->p) && *w->p)
		w->p++;
	return w->p > start;
}

/* What a member of an object at level "at" named key means. */
static struct level member(struct level at, const char *key, size_t n)
{
	struct level skip = {ROLE_SKIP, MREF_BLOB, false};

#define KEY_IS(s) (n == sizeof(s) - 1 && !memcmp(key, s, n))
	if (at.role != ROLE_TOP)
		return skip;
	if (KEY_IS("config"))
		return (struct level){ROLE_DESC, MREF_BLOB, false};
	if (KEY_IS("layers") || KEY_IS("blobs"))
		return (struct level){ROLE_LIST, MREF_BLOB, false};
	if (KEY_IS("manifests"))
		return (struct level){ROLE_LIST, MREF_CHILD, false};
	if (KEY_IS("fsLayers"))
		return (struct level){ROLE_LIST, MREF_BLOB, true};
	if (KEY_IS("subject"))
		return (struct level){ROLE_DESC, MREF_SUBJECT, false};
#undef KEY_IS
	return skip;
}

/* The value of a descriptor's digest member: reported if a string. */
static bool digest_value(struct walk *w, struct level at)
{
	char text[MREFS_DIGEST_MAX];
	size_t n;

	if (w->p >= w->end || *w->p != '"')
		return value(w, (struct level){ROLE_SKIP, at.kind, false}, 0);
	if (!string(w, text, sizeof(text), &n) || n > sizeof(text))
		return false;
	w->fn(w->arg, at.kind, text, n);
	return true;
}

static bool object(struct walk *w, struct level at, int depth)
{
	char key[MREFS_KEY_MAX];
	const char *want = at.fs ? "blobSum" : "digest";
	size_t n;

	w->p++;
	ws(w);
	if (w->p < w->end && *w->p == '}') {
		w->p++;
		return true;
	}
	for (;;) {
		bool ok;

		ws(w);
		if (w->p >= w->end || *w->p != '"' ||
		    !string(w, key, sizeof(key), &n))
			return false;
		ws(w);
		if (w->p >= w->end || *w->p++ != ':')
			return false;
		ws(w);
		if (at.role == ROLE_DESC && n == strlen(want) &&
		    !memcmp(key, want, n)) {
			ok = digest_value(w, at);
		} else {
			struct level next = member(at, key, n);

			if (next.kind == MREF_CHILD && w->p < w->end &&
			    *w->p == '[')
				*w->is_index = true;
			ok = value(w, next, depth);
		}
		if (!ok)
			return false;
		ws(w);
		if (w->p >= w->end)
			return false;
		if (*w->p == '}') {
			w->p++;
			return true;
		}
		if (*w->p++ != ',')
			return false;
	}
}

static bool array(struct walk *w, struct level at, int depth)
{
	struct level item = at;

	item.role = at.role == ROLE_LIST ? ROLE_DESC : ROLE_SKIP;
	w->p++;
	ws(w);
	if (w->p < w->end && *w->p == ']') {
		w->p++;
		return true;
	}
	for (;;) {
		if (!value(w, item, depth))
			return false;
		ws(w);
		if (w->p >= w->end)
			return false;
		if (*w->p == ']') {
			w->p++;
			return true;
		}
		if (*w->p++ != ',')
			return false;
	}
}

static bool value(struct walk *w, struct level at, int depth)
{
	ws(w);
	if (w->p >= w->end || depth > MREFS_DEPTH)
		return false;
	switch (*w->p) {
	case '{':
		if (at.role == ROLE_LIST)
			at.role = ROLE_SKIP;
		return object(w, at, depth + 1);
	case '[':
		return array(w, at, depth + 1);
	case '"':
		return string(w, NULL, 0, NULL);
	case 't':
	case 'f':
	case 'n':
		return literal(w);
	default:
		return number(w);
	}
}

bool mrefs_scan(const char *data, size_t len, mref_fn fn, void *arg,
		bool *is_index)
{
	struct walk w = {data, data + len, fn, arg, is_index};
	struct level top = {ROLE_TOP, MREF_BLOB, false};

	*is_index = false;
	ws(&w);
	if (w.p >= w.end || *w.p != '{' || !object(&w, top, 1))
		return false;
	ws(&w);
	return w.p == w.end;
}
