/*
 * ratelimit.c - buckets in a fixed table, so memory stays bounded
 * whatever the number of clients.
 *
 * A client's address hashes to one slot.  A slot held by another address
 * that has been quiet long enough to have refilled its bucket is taken
 * over, since forgetting a full bucket changes nothing; otherwise the two
 * share it, which can only make the limit stricter for both.
 */
#include "ratelimit.h"
#include "util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

struct bucket {
	char client[64];
	double tokens;
	uint64_t updated_ns;
};

struct ratelimit {
	double rate;  /* tokens a second */
	double burst; /* bucket size */
	pthread_mutex_t lock;
	struct bucket slots[SLOTS];
};

struct ratelimit *ratelimit_new(int rate, int burst)
{
	struct ratelimit *rl;

	if (rate <= 0)
		return NULL;
	rl = xcalloc(1, sizeof(*rl));
	rl->rate = rate;
	rl->burst = burst > 0 ? burst : 1;
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static size_t slot_of(const char *client)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *client; client++)
		h = (h ^ (unsigned char)*client) * 16777619u;
	return h % SLOTS;
}

static void refill(struct ratelimit *rl, struct bucket *b, uint64_t now)
{
	double elapsed = (double)(now - b->updated_ns) / 1e9;

	b->tokens += elapsed * rl->rate;
	if (b->tokens > rl->burst)
		b->tokens = rl->burst;
	b->updated_ns = now;
}

bool ratelimit_take(struct ratelimit *rl, const char *client,
		    unsigned *retry_after)
{
	uint64_t now = now_monotonic_ns();
	struct bucket *b;
	bool ok;

	if (!rl)
		return true;
	pthread_mutex_lock(&rl->lock);
	b = &rl->slots[slot_of(client)];
	if (strcmp(b->client, client) != 0) {
		refill(rl, b, now);
		if (!b->client[0] || b->tokens >= rl->burst) {
			snprintf(b->client, sizeof(b->client), "%s", client);
			b->tokens = rl->burst;
		}
	}
	refill(rl, b, now);
	ok = b->tokens >= 1;
	if (ok)
		b->tokens -= 1;
	else
		*retry_after = (unsigned)((1 - b->tokens) / rl->rate) + 1;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
