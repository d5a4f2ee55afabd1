/*
 * layout.h - where registry:2 keeps each thing, as store keys.
 *
 * Every function returns a newly allocated key that the caller frees.
 * Arguments must already be validated (ref.h): repository names, tags and
 * digests that passed the spec's grammar cannot form "." or ".." parts.
 *
 *   blobs/<alg>/<2 hex>/<hex>/data                      blob bytes
 *   repositories/<name>/_layers/<alg>/<hex>/link        blob in repository
 *   repositories/<name>/_manifests/revisions/<alg>/<hex>/link
 *   repositories/<name>/_manifests/tags/<tag>/current/link
 *   repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
 *   repositories/<name>/_uploads/<id>/{data,startedat}
 *
 * all under "docker/registry/v2/".  Link objects hold "<alg>:<hex>" with
 * no newline.
 */
#ifndef BERTH_LAYOUT_H
#define BERTH_LAYOUT_H

#define LAYOUT_ROOT "docker/registry/v2"

struct digest;

char *layout_blob_data(const struct digest *d);
char *layout_blob_dir(const struct digest *d);
char *layout_repositories(void);
char *layout_repo(const char *repo);
char *layout_layer_link(const char *repo, const struct digest *d);
char *layout_revision_link(const char *repo, const struct digest *d);
char *layout_revisions_dir(const char *repo, const char *alg);
char *layout_tags_dir(const char *repo);
char *layout_tag_dir(const char *repo, const char *tag);
char *layout_tag_current(const char *repo, const char *tag);
char *layout_tag_index_link(const char *repo, const char *tag,
			    const struct digest *d);
char *layout_upload_dir(const char *repo, const char *id);
char *layout_upload_data(const char *repo, const char *id);
char *layout_upload_startedat(const char *repo, const char *id);
/* berth's own: which manifests name a subject, for the referrers API. */
char *layout_referrer_link(const char *repo, const struct digest *subject,
			   const struct digest *referrer);
char *layout_referrers_dir(const char *repo, const struct digest *subject);

#endif
