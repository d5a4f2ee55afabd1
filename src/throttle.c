/*
 * throttle.c - a fixed-size, set-associative table of login failures.
 *
 * Keys are keyed hashes, so their bytes are uniform and an attacker
 * cannot aim many keys at one set; the first bytes pick the set.  Each
 * set has its own lock, so request threads rarely wait for each other,
 * and a table that has never seen a failure is not locked at all.
 */
#include "throttle.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define THROTTLE_SETS 512
#define THROTTLE_WAYS 8
#define NS 1000000000ull

struct slot {
	unsigned char key[THROTTLE_KEY_LEN];
	bool used;
	uint32_t failures;
	uint64_t last_ns;  /* time of the latest failure */
	uint64_t until_ns; /* locked out before this time */
};

struct tset {
	pthread_mutex_t lock;
	struct slot slots[THROTTLE_WAYS];
};

struct throttle {
	atomic_size_t used;
	struct tset sets[THROTTLE_SETS];
};

struct throttle *throttle_new(void)
{
	struct throttle *t = xcalloc(1, sizeof(*t));

	for (size_t i = 0; i < THROTTLE_SETS; i++)
		pthread_mutex_init(&t->sets[i].lock, NULL);
	return t;
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < THROTTLE_SETS; i++)
		pthread_mutex_destroy(&t->sets[i].lock);
	free(t);
}

static struct tset *set_of(struct throttle *t, const unsigned char *key)
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));
	return &t->sets[h % THROTTLE_SETS];
}

static struct slot *find(struct tset *s, const unsigned char *key)
{
	for (size_t i = 0; i < THROTTLE_WAYS; i++)
		if (s->slots[i].used &&
		    !memcmp(s->slots[i].key, key, THROTTLE_KEY_LEN))
			return &s->slots[i];
	return NULL;
}

static bool forgotten(const struct slot *e, uint64_t now_ns)
{
	return now_ns - e->last_ns > THROTTLE_FORGET * NS;
}

static void clear(struct throttle *t, struct slot *e)
{
	memset(e, 0, sizeof(*e));
	atomic_fetch_sub(&t->used, 1);
}

unsigned throttle_wait(struct throttle *t, const unsigned char *key,
		       uint64_t now_ns)
{
	struct tset *s;
	struct slot *e;
	unsigned wait = 0;

	if (atomic_load(&t->used) == 0)
		return 0;
	s = set_of(t, key);
	pthread_mutex_lock(&s->lock);
	e = find(s, key);
	if (e && forgotten(e, now_ns))
		clear(t, e);
	else if (e && now_ns < e->until_ns)
		wait = (unsigned)((e->until_ns - now_ns + NS - 1) / NS);
	pthread_mutex_unlock(&s->lock);
	return wait;
}

/* A free slot, else the one whose latest failure is oldest. */
static struct slot *claim(struct throttle *t, struct tset *s,
			  const unsigned char *key)
{
	struct slot *victim = &s->slots[0];

	for (size_t i = 0; i < THROTTLE_WAYS; i++) {
		struct slot *e = &s->slots[i];

		if (!e->used) {
			victim = e;
			break;
		}
		if (e->last_ns < victim->last_ns)
			victim = e;
	}
	if (victim->used)
		clear(t, victim);
	memcpy(victim->key, key, THROTTLE_KEY_LEN);
	victim->used = true;
	atomic_fetch_add(&t->used, 1);
	return victim;
}

/* 1, 2, 4 ... seconds for the failures after the free ones. */
static unsigned lock_for(uint32_t failures)
{
	uint32_t extra;

	if (failures <= THROTTLE_FREE)
		return 0;
	extra = failures - THROTTLE_FREE - 1;
	if (extra >= 31 || (1u << extra) > THROTTLE_MAX_LOCK)
		return THROTTLE_MAX_LOCK;
	return 1u << extra;
}

unsigned throttle_failed(struct throttle *t, const unsigned char *key,
			 uint64_t now_ns)
{
	struct tset *s = set_of(t, key);
	struct slot *e;
	unsigned lock;

	pthread_mutex_lock(&s->lock);
	e = find(s, key);
	if (e && forgotten(e, now_ns))
		e->failures = 0;
	if (!e)
		e = claim(t, s, key);

	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_ns = now_ns;
	lock = lock_for(e->failures);
	if (lock)
		e->until_ns = now_ns + lock * NS;
	pthread_mutex_unlock(&s->lock);
	return lock;
}

void throttle_succeeded(struct throttle *t, const unsigned char *key)
{
	struct tset *s;
	struct slot *e;

	if (atomic_load(&t->used) == 0)
		return;
	s = set_of(t, key);
	pthread_mutex_lock(&s->lock);
	e = find(s, key);
	if (e)
		clear(t, e);
	pthread_mutex_unlock(&s->lock);
}

size_t throttle_count(struct throttle *t)
{
	return atomic_load(&t->used);
}
