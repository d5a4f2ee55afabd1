/*
 * scrub.h - re-hashes every stored blob and takes corrupt ones out of
 * service.
 *
 * A blob whose bytes no longer hash to its digest (a bad disk, a stray
 * write) is moved out of blobs/ to
 *
 *   docker/registry/v2/quarantine/<alg>/<hex>/data
 *
 * where an operator can inspect it.  From then on the registry answers
 * BLOB_UNKNOWN for it (or MANIFEST_UNKNOWN for a manifest), as for any
 * blob whose content is gone, so no client is served bytes that fail
 * verification; the next push of the same content stores it afresh,
 * which repairs the images using it.  registry:2 ignores the quarantine
 * directory.
 */
#ifndef BERTH_SCRUB_H
#define BERTH_SCRUB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lease;
struct store;

/*
 * The lease (lease.h) a scrub that may quarantine holds: its own, not
 * the collector's, so that a long scrub holds up no collection.
 */
#define SCRUB_LEASE "scrubber"

struct scrub_stats {
	size_t blobs;	    /* blobs hashed */
	uint64_t bytes;	    /* bytes read */
	size_t corrupt;	    /* blobs whose content does not match */
	size_t quarantined; /* of those, moved out of service */
	size_t failed;	    /* blobs that could not be read or moved */
	double seconds;
};

/*
 * Called per corrupt blob: its digest, the digest of what is stored,
 * its size, and where it was moved (NULL when it was not moved: report
 * only, or the move failed; the next pass tries again).
 */
typedef void (*scrub_bad_fn)(void *arg, const char *digest, const char *actual,
			     uint64_t size, const char *quarantine);

struct scrub_options {
	bool report_only;	 /* find corrupt blobs but move nothing */
	const atomic_bool *stop; /* ends the pass early; may be NULL */
	/* Held for the pass; moves stop once it is lost.  May be NULL. */
	const struct lease *lease;
	scrub_bad_fn on_bad; /* may be NULL */
	void *arg;
};

/*
 * One pass over every blob of st.  Returns 0 with *stats filled, or a
 * negative errno when the blob directories could not be listed.
 */
int scrub_run(struct store *st, const struct scrub_options *o,
	      struct scrub_stats *stats);

#endif
