/*
 * lease.h - one holder at a time across berth processes sharing a store.
 *
 * Several berth instances may serve one bucket, and an operator may run
 * `berth garbage-collect` beside them.  Work that deletes from the store
 * (collections with their retention, scrubs that quarantine) takes a
 * lease first, so that two collectors never sweep at once.  A lease is
 * an object in the store, taken by creating it only if absent
 * (store_ops.put_new), renewed while the work runs and released at its
 * end.  A holder that dies (kill -9) leaves it behind; once it expires
 * the next taker takes over, and of several racing to take over exactly
 * one wins.  A taker on the holder's machine and in its pid namespace
 * sees at once when the holder's process is gone, and takes over then
 * (a restarted server need not wait out its own lease).
 *
 * Leases live at LEASE_ROOT/<name>/<generation>, a directory registry:2
 * never reads.  See lease.c for the protocol and what it assumes about
 * the instances' clocks.
 */
#ifndef BERTH_LEASE_H
#define BERTH_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_ROOT "docker/registry/v2/_berth/leases"

struct store;
struct lease;

/* Who holds a lease, as its object says. */
struct lease_holder {
	char host[256];	 /* the holder's host name */
	long pid;	 /* its process id there */
	char id[33];	 /* a random id of the holding process */
	char node[80];	 /* its boot and pid namespace, where pid means it */
	uint64_t take;	 /* which of that process's takes */
	int64_t started; /* when it took the lease, its clock, seconds */
	int64_t expires; /* when the lease lapses unless renewed */
	uint64_t generation;
};

/*
 * Takes the lease called name ("collector", "scrubber") on st for
 * duration seconds, renewing it on a thread of its own every quarter of
 * that until lease_drop.  Returns 0 with *out set; -EBUSY with *other
 * filled in (may be NULL) when another holds it; another negative errno
 * when the store failed.  st must outlive the lease.
 */
int lease_take(struct store *st, const char *name, int64_t duration,
	       struct lease **out, struct lease_holder *other);

/*
 * Whether l is still ours: renewed within the last half duration and not
 * taken over.  Work checks this before each deletion and stops when it
 * turns false.  l may be NULL, which is held (no lease needed).
 */
bool lease_held(const struct lease *l);

/* Stops renewing, marks the lease released and frees l (NULL: nothing). */
void lease_drop(struct lease *l);

/*
 * Describes h for a message, "host=H pid=P id=I since=T until=T", into
 * out of len bytes.
 */
void lease_holder_format(const struct lease_holder *h, char *out, size_t len);

#endif
