/*
 * dmap.c - open-addressing hash tables of digests and of small numbers.
 *
 * The digests are cryptographic hashes, so their first bytes are already
 * uniformly spread and serve as the hash without further mixing.  Both
 * tables use linear probing and double before they are half full, which
 * keeps probe sequences short; nothing is ever removed from them.
 */
#include "dmap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct dmap {
	struct dmap_key *keys; /* by number */
	size_t count;
	size_t keys_cap;
	uint32_t *slots; /* number + 1, or 0 for a free slot */
	size_t cap;	 /* a power of two */
};

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Lowercase hex digits' values plus one; 0 for any other byte. */
static const uint8_t hexdigits[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,
	['6'] = 7,  ['7'] = 8,	['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/*
 * Called for every name a collection lists, hundreds of thousands of
 * times, hence the table and one check of all digits at the end.
 */
bool dmap_key_from_hex(enum digest_alg alg, const char *hex, size_t len,
		       struct dmap_key *k)
{
	const unsigned char *h = (const unsigned char *)hex;
	size_t n = alg == DIGEST_SHA512 ? 64 : 32;
	unsigned bad = 0;

	if (len != 2 * n)
		return false;
	k->alg = (uint8_t)alg;
	for (size_t i = 0; i < n; i++) {
		unsigned hi = hexdigits[h[2 * i]], lo = hexdigits[h[2 * i + 1]];

		bad |= !hi | !lo;
		k->raw[i] = (uint8_t)((hi - 1) << 4 | ((lo - 1) & 15));
	}
	memset(k->raw + n, 0, sizeof(k->raw) - n);
	return !bad;
}

/* Packs d into k.  Digests are validated lowercase hex (digest.h). */
static void dkey_of(const struct digest *d, struct dmap_key *k)
{
	size_t n = strlen(d->hex) / 2;

	memset(k, 0, sizeof(*k));
	k->alg = (uint8_t)d->alg;
	for (size_t i = 0; i < n; i++)
		k->raw[i] = (uint8_t)(hexval(d->hex[2 * i]) << 4 |
				      hexval(d->hex[2 * i + 1]));
}

static bool dkey_equal(const struct dmap_key *a, const struct dmap_key *b)
{
	/* The first bytes almost always differ; compare them first. */
	if (memcmp(a->raw, b->raw, 8) != 0)
		return false;
	return memcmp(a, b, sizeof(*a)) == 0;
}

static uint64_t dkey_hash(const struct dmap_key *k)
{
	uint64_t h;

	memcpy(&h, k->raw, sizeof(h));
	return h ^ k->alg;
}

struct dmap *dmap_new(void)
{
	struct dmap *m = xcalloc(1, sizeof(*m));

	m->cap = 64;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

void dmap_free(struct dmap *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->slots);
	free(m);
}

/* The slot holding k, or the free slot where it would go. */
static size_t dmap_slot(const struct dmap *m, const struct dmap_key *k)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)dkey_hash(k) & mask;

	while (m->slots[i] && !dkey_equal(&m->keys[m->slots[i] - 1], k))
		i = (i + 1) & mask;
	return i;
}

static void dmap_grow(struct dmap *m)
{
	uint32_t *old = m->slots;
	size_t old_cap = m->cap;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i])
			m->slots[dmap_slot(m, &m->keys[old[i] - 1])] = old[i];
	}
	free(old);
}

uint32_t dmap_add(struct dmap *m, const struct digest *d, bool *added)
{
	struct dmap_key k;

	dkey_of(d, &k);
	return dmap_add_key(m, &k, added);
}

uint32_t dmap_add_key(struct dmap *m, const struct dmap_key *key, bool *added)
{
	struct dmap_key k = *key;
	size_t i = dmap_slot(m, &k);

	if (m->slots[i]) {
		if (added)
			*added = false;
		return m->slots[i] - 1;
	}

	if (m->count == m->keys_cap) {
		m->keys_cap = m->keys_cap ? 2 * m->keys_cap : 64;
		m->keys = xrealloc(m->keys, m->keys_cap * sizeof(*m->keys));
	}
	m->keys[m->count] = k;
	m->slots[i] = (uint32_t)++m->count;
	if (2 * m->count > m->cap)
		dmap_grow(m);
	if (added)
		*added = true;
	return (uint32_t)(m->count - 1);
}

uint32_t dmap_find(const struct dmap *m, const struct digest *d)
{
	struct dmap_key k;
	size_t i;

	dkey_of(d, &k);
	i = dmap_slot(m, &k);
	return m->slots[i] ? m->slots[i] - 1 : DMAP_NONE;
}

size_t dmap_count(const struct dmap *m)
{
	return m->count;
}

void dmap_digest(const struct dmap *m, uint32_t i, struct digest *out)
{
	const struct dmap_key *k = &m->keys[i];
	size_t n = k->alg == DIGEST_SHA512 ? 64 : 32;

	out->alg = (enum digest_alg)k->alg;
	hex_encode(k->raw, n, out->hex);
}

void dmap_name_key(const char *kind, const char *name, struct digest *out)
{
	struct buf b = BUF_INIT;

	/* The NUL between the two keeps ("ab", "c") apart from ("a", "bc"). */
	buf_adds(&b, kind);
	buf_add(&b, "", 1);
	buf_adds(&b, name);
	digest_of(DIGEST_SHA256, b.data, b.len, out);
	buf_free(&b);
}

/* ---- idset ---- */

static uint64_t id_hash(uint32_t id)
{
	return (uint64_t)id * 0x9e3779b97f4a7c15ULL >> 17;
}

static size_t idset_slot(const struct idset *s, uint32_t id)
{
	size_t mask = s->cap - 1;
	size_t i = (size_t)id_hash(id) & mask;

	while (s->slots[i] && s->slots[i] != id + 1)
		i = (i + 1) & mask;
	return i;
}

static void idset_grow(struct idset *s)
{
	uint32_t *old = s->slots;
	size_t old_cap = s->cap;

	s->cap = s->cap ? 2 * s->cap : 16;
	s->slots = xcalloc(s->cap, sizeof(*s->slots));
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i])
			s->slots[idset_slot(s, old[i] - 1)] = old[i];
	}
	free(old);
}

bool idset_add(struct idset *s, uint32_t id)
{
	size_t i;

	if (2 * (s->count + 1) > s->cap)
		idset_grow(s);
	i = idset_slot(s, id);
	if (s->slots[i])
		return false;
	s->slots[i] = id + 1;
	s->count++;
	return true;
}

bool idset_has(const struct idset *s, uint32_t id)
{
	return s->cap && s->slots[idset_slot(s, id)] != 0;
}

void idset_free(struct idset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->count = 0;
}
