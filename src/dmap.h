/*
 * dmap.h - sets of digests with dense numbers, and sets of those numbers.
 *
 * Collection, usage and scrub keep facts about every blob of a store,
 * hundreds of thousands of them.  A dmap gives each digest it is shown a
 * number, 0, 1, 2..., in the order they were added, so callers keep
 * their facts in plain arrays indexed by that number.  Digests are held
 * as raw bytes, half the memory of their hex text.
 *
 * An idset is a set of such numbers, for "which blobs does this
 * repository hold".  Neither is thread-safe; callers lock.
 */
#ifndef BERTH_DMAP_H
#define BERTH_DMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define DMAP_NONE UINT32_MAX

struct dmap;

/* A digest packed as a dmap keeps it: the algorithm and raw bytes. */
struct dmap_key {
	uint8_t alg;
	uint8_t raw[DIGEST_MAX_HEX / 2];
};

/*
 * Packs hex, the encoded part of a digest of algorithm alg, into k.
 * Returns false unless it is exactly the algorithm's length of
 * lowercase hex: what a valid directory name or digest holds.
 */
bool dmap_key_from_hex(enum digest_alg alg, const char *hex, size_t len,
		       struct dmap_key *k);
/* dmap_add for a packed digest. */
uint32_t dmap_add_key(struct dmap *m, const struct dmap_key *k, bool *added);

struct dmap *dmap_new(void);
void dmap_free(struct dmap *m);

/* The number of d, adding d first when absent; *added says which. */
uint32_t dmap_add(struct dmap *m, const struct digest *d, bool *added);
/* The number of d, or DMAP_NONE when it was never added. */
uint32_t dmap_find(const struct dmap *m, const struct digest *d);
/* How many digests were added: the numbers are 0 to count - 1. */
size_t dmap_count(const struct dmap *m);
/* Writes the digest numbered i (below dmap_count) into out. */
void dmap_digest(const struct dmap *m, uint32_t i, struct digest *out);

/*
 * A digest standing for a string, such as a repository or a tag, so
 * that names can be kept in a dmap too.  kind keeps different kinds of
 * names apart ("repo" and "tag").
 */
void dmap_name_key(const char *kind, const char *name, struct digest *out);

struct idset {
	uint32_t *slots; /* value + 1, or 0 for a free slot */
	size_t cap;	 /* a power of two, or 0 */
	size_t count;
};

#define IDSET_INIT                                                             \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Adds id; returns true when it was not there yet. */
bool idset_add(struct idset *s, uint32_t id);
bool idset_has(const struct idset *s, uint32_t id);
void idset_free(struct idset *s);

/* Loops over every id in the set, in no particular order. */
#define IDSET_FOREACH(s, id)                                                   \
	for (size_t idset_i_ = 0; idset_i_ < (s)->cap; idset_i_++)             \
		if (((id) = (s)->slots[idset_i_]) != 0 && ((id)--, 1))

#endif
