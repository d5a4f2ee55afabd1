/*
 * ref.c - matchers for the distribution spec's repository names and tags,
 * and parsers for the byte ranges of HTTP Range and Content-Range headers.
 *
 * All of this input comes straight from clients and ends up in file
 * paths and arithmetic on file offsets, so each matcher accepts exactly
 * its grammar: a name that passes cannot contain "..", an empty
 * component or any byte outside [a-z0-9._/-], and no number that passes
 * can have wrapped around.  The matchers are written by hand, one pass
 * over the input without backtracking, because they run on every request.
 */
#include "ref.h"

#include <string.h>
#include <strings.h>

static bool ref_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool ref_is_tag_char(char c)
{
	return ref_is_name_char(c) || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == '.' || c == '-';
}

static bool ref_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Matches one path component, [a-z0-9]+ joined by ".", "_", "__" or a
 * run of "-".  Returns the end of the component, or NULL when p does not
 * start one or a separator is not followed by [a-z0-9].
 */
static const char *ref_match_component(const char *p)
{
	for (;;) {
		if (!ref_is_name_char(*p))
			return NULL;
		while (ref_is_name_char(*p))
			p++;

		if (*p == '.') {
			p++;
		} else if (*p == '_') {
			p += p[1] == '_' ? 2 : 1;
		} else if (*p == '-') {
			while (*p == '-')
				p++;
		} else {
			return p;
		}
	}
}

bool ref_valid_name(const char *name)
{
	const char *p = name;

	if (!name || strnlen(name, REF_NAME_MAX + 1) > REF_NAME_MAX)
		return false;

	for (;;) {
		p = ref_match_component(p);
		if (!p)
			return false;
		if (*p == '\0')
			return true;
		if (*p != '/')
			return false;
		p++;
	}
}

bool ref_valid_tag(const char *tag)
{
	size_t n;

	if (!tag ||
	    !(ref_is_tag_char(tag[0]) && tag[0] != '.' && tag[0] != '-'))
		return false;
	for (n = 1; tag[n]; n++)
		if (n >= REF_TAG_MAX || !ref_is_tag_char(tag[n]))
			return false;
	return true;
}

/*
 * Reads the digits at *sp into *out and advances *sp past them.  A value
 * that does not fit saturates at UINT64_MAX when saturate is set (an
 * offset that large lies past the end of any object) and fails otherwise.
 * Returns 0, or -1 when there is no digit or the value overflows.
 */
static int ref_scan_u64(const char **sp, uint64_t *out, bool saturate)
{
	const char *p = *sp;
	uint64_t v = 0;
	bool overflow = false;

	if (!ref_is_digit(*p))
		return -1;
	for (; ref_is_digit(*p); p++) {
		unsigned digit = *p - '0';

		if (v > (UINT64_MAX - digit) / 10)
			overflow = true;
		else
			v = v * 10 + digit;
	}
	if (overflow && !saturate)
		return -1;

	*out = overflow ? UINT64_MAX : v;
	*sp = p;
	return 0;
}

int ref_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v;

	if (!s || ref_scan_u64(&s, &v, false) == -1 || *s != '\0')
		return -1;
	*out = v;
	return 0;
}

static const char *ref_skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Range units are case-insensitive (RFC 9110 section 14.1); whitespace is
 * allowed only around the whole value, where HTTP itself allows it.
 */
static const char *ref_skip_unit(const char *p, char sep)
{
	p = ref_skip_ows(p);
	if (strncasecmp(p, "bytes", 5) != 0 || p[5] != sep)
		return NULL;
	return p + 6;
}

/* Resolves a suffix range "-n": the last n bytes of the object. */
static int ref_suffix_range(uint64_t n, uint64_t size, uint64_t *first,
			    uint64_t *last)
{
	if (n == 0 || size == 0)
		return 1;
	*first = n >= size ? 0 : size - n;
	*last = size - 1;
	return 0;
}

int ref_parse_range(const char *header, uint64_t size, uint64_t *first,
		    uint64_t *last)
{
	const char *p;
	uint64_t a, b = UINT64_MAX;

	if (!header || !(p = ref_skip_unit(header, '=')))
		return -1;

	if (*p == '-') {
		p++;
		if (ref_scan_u64(&p, &a, true) == -1 || *ref_skip_ows(p))
			return -1;
		return ref_suffix_range(a, size, first, last);
	}

	if (ref_scan_u64(&p, &a, true) == -1 || *p++ != '-')
		return -1;
	if (ref_is_digit(*p) && ref_scan_u64(&p, &b, true) == -1)
		return -1;
	/* Anything left, such as a second range after ',', is not served. */
	if (*ref_skip_ows(p) != '\0' || b < a)
		return -1;

	if (a >= size)
		return 1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 0;
}

int ref_parse_content_range(const char *header, uint64_t *first, uint64_t *last)
{
	const char *p, *unit;
	uint64_t a, b, total;

	if (!header)
		return -1;
	p = ref_skip_ows(header);
	unit = ref_skip_unit(p, ' ');
	if (unit)
		p = unit;

	if (ref_scan_u64(&p, &a, false) == -1 || *p++ != '-' ||
	    ref_scan_u64(&p, &b, false) == -1 || b < a)
		return -1;

	/* The RFC form names the total length, or "*" when not yet known. */
	if (unit && *p == '/') {
		p++;
		if (*p == '*')
			p++;
		else if (ref_scan_u64(&p, &total, false) == -1 || b >= total)
			return -1;
	}
	if (*ref_skip_ows(p) != '\0')
		return -1;

	*first = a;
	*last = b;
	return 0;
}
