/*
 * mrefs.h - finds the digests a manifest references, fast.
 *
 * A collection reads every manifest in the store, and building a JSON
 * tree for each (jansson) costs more than everything else it does in
 * user space.  mrefs walks the text once without building anything and
 * reports the digests where registry:2 looks for references: config,
 * layers, blobs and subject of an image, manifests of an index, blobSum
 * of a schema 1 manifest's fsLayers.
 *
 * It checks the JSON as it goes and gives up (returns false) on
 * anything it is not sure about: malformed text, nesting deeper than it
 * follows, a key or digest it cannot decode.  Callers then parse the
 * manifest the slow way, so giving up never loses a reference.
 */
#ifndef BERTH_MREFS_H
#define BERTH_MREFS_H

#include <stdbool.h>
#include <stddef.h>

enum mref_kind { MREF_BLOB, MREF_CHILD, MREF_SUBJECT };

/* Receives one digest as written (len bytes, not NUL-terminated). */
typedef void (*mref_fn)(void *arg, enum mref_kind kind, const char *text,
			size_t len);

/*
 * Walks data (len bytes), calling fn per referenced digest.  Sets
 * *is_index when the top-level "manifests" is an array.  Returns true
 * when the whole text was a JSON object it could follow; false when it
 * gave up, after which what fn received must be discarded.
 */
bool mrefs_scan(const char *data, size_t len, mref_fn fn, void *arg,
		bool *is_index);

#endif
