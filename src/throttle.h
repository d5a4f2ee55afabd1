/*
 * throttle.h - slows password guessing: failed logins per key (a keyed
 * hash of client address and user name) earn a growing lockout.
 *
 * The first THROTTLE_FREE failures cost nothing; each one after that
 * locks the key out for twice as long as the one before, from 1 second
 * up to THROTTLE_MAX_LOCK.  A success, or THROTTLE_FORGET without a
 * failure, clears the key.  The table has a fixed size: when it is full
 * the key whose last failure is oldest makes room.  Safe to use from any
 * number of threads.
 */
#ifndef BERTH_THROTTLE_H
#define BERTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define THROTTLE_KEY_LEN 32
#define THROTTLE_FREE 5
#define THROTTLE_MAX_LOCK 900 /* seconds */
#define THROTTLE_FORGET 3600  /* seconds */

struct throttle;

struct throttle *throttle_new(void);
void throttle_free(struct throttle *t);

/*
 * Returns 0 if key may try to log in at now_ns (a monotonic clock in
 * nanoseconds), else the whole seconds, at least 1, until it may.
 */
unsigned throttle_wait(struct throttle *t, const unsigned char *key,
		       uint64_t now_ns);

/* Counts a failure; returns the lockout it starts, in seconds, or 0. */
unsigned throttle_failed(struct throttle *t, const unsigned char *key,
			 uint64_t now_ns);

/* Forgets key's failures after a successful login. */
void throttle_succeeded(struct throttle *t, const unsigned char *key);

/* Keys currently remembered; for tests and metrics. */
size_t throttle_count(struct throttle *t);

#endif
