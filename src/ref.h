/*
 * ref.h - the OCI distribution spec's grammars for untrusted input:
 * repository names, tags, references and HTTP ranges.
 *
 * Everything here is pure: no allocation, no I/O, safe on any input.
 */
#ifndef BERTH_REF_H
#define BERTH_REF_H

#include <stdbool.h>
#include <stdint.h>

#define REF_NAME_MAX 255
#define REF_TAG_MAX 128

/*
 * A repository name: path components of [a-z0-9]+ joined by separators
 * ".", "_", "__" or runs of "-", components joined by "/", at most
 * REF_NAME_MAX bytes in all.
 */
bool ref_valid_name(const char *name);

/* A tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
bool ref_valid_tag(const char *tag);

/*
 * Parses a "Range: bytes=<first>-<last>" request header for an object of
 * size bytes.  Accepts "bytes=a-b", "bytes=a-" and the suffix "bytes=-n".
 * Returns 0 with the inclusive range in *first and *last, 1 when the header
 * is well formed but cannot be satisfied (416), -1 when it is malformed or
 * asks for several ranges (serve the whole object).
 */
int ref_parse_range(const char *header, uint64_t size, uint64_t *first,
		    uint64_t *last);

/*
 * Parses a chunk's "Content-Range: <first>-<last>" header (the spec's
 * form, without a unit; "bytes <first>-<last>/<total>" is also taken).
 * Returns 0 with the inclusive range, -1 when malformed or last < first.
 */
int ref_parse_content_range(const char *header, uint64_t *first,
			    uint64_t *last);

/* Parses a non-negative decimal integer that fits in uint64_t. */
int ref_parse_u64(const char *s, uint64_t *out);

#endif
