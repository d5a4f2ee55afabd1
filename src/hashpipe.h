/*
 * hashpipe.h - hashes a stream on a second thread while the caller goes
 * on receiving and storing it.
 *
 * A large blob upload spends most of its CPU time in SHA-256.  Handing
 * the hashing to another core lets receiving, writing and hashing run at
 * once, so a push runs near the speed of the hash alone.  The pipe copies
 * each piece into a bounded ring, so memory stays fixed whatever the
 * blob's size.
 */
#ifndef BERTH_HASHPIPE_H
#define BERTH_HASHPIPE_H

#include <stddef.h>

struct hasher;
struct hash_pipe;

/*
 * Starts a worker that feeds h.  h must not be touched until
 * hash_pipe_finish returns.  Returns NULL if no thread could be started;
 * the caller then hashes inline.
 */
struct hash_pipe *hash_pipe_start(struct hasher *h);

/* Queues a copy of data for hashing; waits while the ring is full. */
void hash_pipe_push(struct hash_pipe *p, const void *data, size_t len);

/* Waits until everything queued is hashed, then stops and frees p. */
void hash_pipe_finish(struct hash_pipe *p);

#endif
