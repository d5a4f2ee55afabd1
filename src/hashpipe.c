/*
 * hashpipe.c - a single-producer, single-consumer ring of fixed slots
 * between a request thread and its hashing thread.
 */
#include "hashpipe.h"
#include "digest.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Pieces are gathered into large slots so the threads meet rarely: a
 * wake-up per 64 KiB piece cost more than the copy. */
#define SLOTS 8
#define SLOT_SIZE (512 * 1024)

struct slot {
	char *data;
	size_t len;
};

struct hash_pipe {
	struct hasher *hasher;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled;	/* a slot was queued, or done was set */
	pthread_cond_t emptied; /* a slot was hashed */
	struct slot slots[SLOTS];
	size_t head;  /* next slot to hash */
	size_t count; /* slots queued and not yet hashed */
	bool done;
	bool waiting;	      /* the worker sleeps for a slot */
	struct slot *filling; /* the producer's slot, not yet queued */
};

static void *run(void *arg)
{
	struct hash_pipe *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct slot *s;

		while (p->count == 0 && !p->done) {
			p->waiting = true;
			pthread_cond_wait(&p->filled, &p->lock);
			p->waiting = false;
		}
		if (p->count == 0)
			break;
		s = &p->slots[p->head];

		/* The producer never touches a queued slot, so the hash
		 * runs without the lock. */
		pthread_mutex_unlock(&p->lock);
		hasher_update(p->hasher, s->data, s->len);
		pthread_mutex_lock(&p->lock);

		p->head = (p->head + 1) % SLOTS;
		if (p->count-- == SLOTS)
			pthread_cond_signal(&p->emptied);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct hash_pipe *hash_pipe_start(struct hasher *h)
{
	struct hash_pipe *p = xcalloc(1, sizeof(*p));

	p->hasher = h;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->filled, NULL);
	pthread_cond_init(&p->emptied, NULL);
	for (size_t i = 0; i < SLOTS; i++)
		p->slots[i].data = xmalloc(SLOT_SIZE);

	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		for (size_t i = 0; i < SLOTS; i++)
			free(p->slots[i].data);
		free(p);
		return NULL;
	}
	return p;
}

/* Queues the slot being filled and wakes the worker if it sleeps. */
static void publish(struct hash_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	p->count++;
	if (p->waiting)
		pthread_cond_signal(&p->filled);
	pthread_mutex_unlock(&p->lock);
	p->filling = NULL;
}

/* Takes the next free slot, waiting while every slot is queued. */
static struct slot *next_free(struct hash_pipe *p)
{
	struct slot *s;

	pthread_mutex_lock(&p->lock);
	while (p->count == SLOTS)
		pthread_cond_wait(&p->emptied, &p->lock);
	s = &p->slots[(p->head + p->count) % SLOTS];
	pthread_mutex_unlock(&p->lock);

	/* The slot is the producer's until it is counted. */
	s->len = 0;
	return s;
}

void hash_pipe_push(struct hash_pipe *p, const void *data, size_t len)
{
	const char *in = data;

	while (len) {
		size_t n;

		if (!p->filling)
			p->filling = next_free(p);
		n = SLOT_SIZE - p->filling->len;
		if (n > len)
			n = len;
		memcpy(p->filling->data + p->filling->len, in, n);
		p->filling->len += n;
		if (p->filling->len == SLOT_SIZE)
			publish(p);
		in += n;
		len -= n;
	}
}

void hash_pipe_finish(struct hash_pipe *p)
{
	if (p->filling && p->filling->len)
		publish(p);
	pthread_mutex_lock(&p->lock);
	p->done = true;
	pthread_cond_signal(&p->filled);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);

	for (size_t i = 0; i < SLOTS; i++)
		free(p->slots[i].data);
	pthread_cond_destroy(&p->filled);
	pthread_cond_destroy(&p->emptied);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
