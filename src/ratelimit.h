/*
 * ratelimit.h - a token bucket per client address, so one client cannot
 * take the whole server: each gets rate requests a second on average and
 * may bunch up to burst of them.
 */
#ifndef BERTH_RATELIMIT_H
#define BERTH_RATELIMIT_H

#include <stdbool.h>

struct ratelimit;

/* Returns NULL when rate is 0 (no limit). */
struct ratelimit *ratelimit_new(int rate, int burst);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes one token for client; false when its bucket is empty, with the
 * whole seconds until the next token in *retry_after.
 */
bool ratelimit_take(struct ratelimit *rl, const char *client,
		    unsigned *retry_after);

#endif
