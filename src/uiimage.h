/*
 * uiimage.h - the web UI's image page as one JSON document: the manifest
 * as stored, and for each image in it the layers, the config (entrypoint,
 * cmd, env, labels, ports, user), the history and the referrers.
 */
#ifndef BERTH_UIIMAGE_H
#define BERTH_UIIMAGE_H

#include <jansson.h>

struct registry;
struct reg_error;

/*
 * Builds the page of reference (a tag or a digest) in repo, reading
 * only what repo holds, as a pull would.  Returns a new JSON object (the
 * caller decrefs it), or NULL with e filled (MANIFEST_UNKNOWN...).
 * repo and reference must be valid (ref.h).
 */
json_t *uiimage_build(struct registry *reg, const char *repo,
		      const char *reference, struct reg_error *e);

#endif
