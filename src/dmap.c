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

#define RAW_MAX (DIGEST_MAX_HEX / 2)

struct dkey {
	uint8_t alg;
	uint8_t raw[RAW_MAX];
};

struct dmap {
	struct dkey *keys;  /* by number */
	size_t count;
	size_t keys_cap;
	uint32_t *slots;    /* number + 1, or 0 for a free slot */
	size_t cap;         /* a power of two */
};

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Packs d into k.  Digests are validated lowercase hex (digest.h). */
static void dkey_of(const struct digest *d, struct dkey *k)
{
	size_t n = strlen(d->hex) / 2;

	memset(k, 0, sizeof(*k));
	k->alg = (uint8_t)d->alg;
	for (size_t i = 0; i < n; i++)
		k->raw[i] = (uint8_t)(hexval(d->hex[2 * i]) << 4 |
				      hexval(d->hex[2 * i + 1]));
}

static uint64_t dkey_hash(const struct dkey *k)
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
static size_t dmap_slot(const struct dmap *m, const struct dkey *k)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)dkey_hash(k) & mask;

	while (m->slots[i] &&
	       memcmp(&m->keys[m->slots[i] - 1], k, sizeof(*k)) != 0)
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
	struct dkey k;
	size_t i;

	dkey_of(d, &k);
	i = dmap_slot(m, &k);
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
	struct dkey k;
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
	static const char hex[] = "0123456789abcdef";
	const struct dkey *k = &m->keys[i];
	size_t n = k->alg == DIGEST_SHA512 ? 64 : 32;

	out->alg = (enum digest_alg)k->alg;
	for (size_t j = 0; j < n; j++) {
		out->hex[2 * j] = hex[k->raw[j] >> 4];
		out->hex[2 * j + 1] = hex[k->raw[j] & 15];
	}
	out->hex[2 * n] = '\0';
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
