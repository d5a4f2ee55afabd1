/*
 * manifest.h - reading the manifests and indexes clients push.
 *
 * berth stores a manifest's bytes exactly as pushed; this module only
 * checks that they are what their media type says and extracts what the
 * registry must verify or index: the blobs and child manifests it
 * references, its subject, and its artifact type.
 */
#ifndef BERTH_MANIFEST_H
#define BERTH_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST                                                     \
	"application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST                                                         \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

enum manifest_kind { MANIFEST_IMAGE, MANIFEST_INDEX };

struct manifest_ref {
	struct digest digest;
	int64_t size;
	char *media_type; /* may be NULL */
};

struct manifest {
	enum manifest_kind kind;
	char *media_type;    /* effective: mediaType field or the PUT's type */
	char *artifact_type; /* artifactType, else config.mediaType; or NULL */
	bool has_subject;
	struct digest subject;
	/* For an image: config first (if any), then layers, all blobs. */
	struct manifest_ref *blobs;
	size_t blobs_count;
	/* For an index: the child manifests. */
	struct manifest_ref *children;
	size_t children_count;
	char *annotations_json; /* "annotations" object re-serialised, or NULL */
};

/*
 * Parses and validates a manifest.  content_type is the request's
 * Content-Type (may be NULL); it must agree with the document's mediaType
 * when both are present.  Returns a new manifest (free with
 * manifest_free), or NULL with a person-readable reason in err.
 */
struct manifest *manifest_parse(const char *data, size_t len,
				const char *content_type, char *err,
				size_t errlen);

void manifest_free(struct manifest *m);

/* True for the four manifest media types berth serves. */
bool manifest_type_known(const char *media_type);

#endif
