/*
 * layout.c - builds the store keys of registry:2's on-disk layout.
 *
 * Every key starts with LAYOUT_ROOT, so a tree written by registry:2 can
 * be served by berth and the other way round.  The names "_layers",
 * "_manifests" and "_uploads" cannot clash with repository path
 * components, which must start with a letter or digit.
 *
 * berth adds one tree of its own for the referrers API:
 *
 *   repositories/<name>/_referrers/<subject alg>/<subject hex>/
 *       <alg>/<hex>/link
 *
 * One link per manifest whose "subject" names the given manifest, holding
 * "<alg>:<hex>" of the referring manifest, in the same two-level form as
 * the revision links.  Listing a subject's referrers is one list of the
 * subject's directory per algorithm.  registry:2 skips directories whose
 * names start with '_' when it walks the catalog, so it ignores this tree.
 */
#include "layout.h"

#include "digest.h"
#include "util.h"

/* "docker/registry/v2/repositories/<repo>" followed by rest. */
static char *layout_repo_key(const char *repo, const char *rest)
{
	return xasprintf("%s/repositories/%s%s", LAYOUT_ROOT, repo, rest);
}

char *layout_blob_data(const struct digest *d)
{
	return xasprintf("%s/blobs/%s/%.2s/%s/data", LAYOUT_ROOT,
			 digest_alg_name(d->alg), d->hex, d->hex);
}

char *layout_blob_dir(const struct digest *d)
{
	return xasprintf("%s/blobs/%s/%.2s/%s", LAYOUT_ROOT,
			 digest_alg_name(d->alg), d->hex, d->hex);
}

char *layout_repositories(void)
{
	return xasprintf("%s/repositories", LAYOUT_ROOT);
}

char *layout_repo(const char *repo)
{
	return layout_repo_key(repo, "");
}

char *layout_layer_link(const char *repo, const struct digest *d)
{
	return xasprintf("%s/repositories/%s/_layers/%s/%s/link", LAYOUT_ROOT,
			 repo, digest_alg_name(d->alg), d->hex);
}

char *layout_revision_link(const char *repo, const struct digest *d)
{
	return xasprintf("%s/repositories/%s/_manifests/revisions/%s/%s/link",
			 LAYOUT_ROOT, repo, digest_alg_name(d->alg), d->hex);
}

char *layout_revisions_dir(const char *repo, const char *alg)
{
	return xasprintf("%s/repositories/%s/_manifests/revisions/%s",
			 LAYOUT_ROOT, repo, alg);
}

char *layout_tags_dir(const char *repo)
{
	return layout_repo_key(repo, "/_manifests/tags");
}

char *layout_tag_dir(const char *repo, const char *tag)
{
	return xasprintf("%s/repositories/%s/_manifests/tags/%s", LAYOUT_ROOT,
			 repo, tag);
}

char *layout_tag_current(const char *repo, const char *tag)
{
	return xasprintf("%s/repositories/%s/_manifests/tags/%s/current/link",
			 LAYOUT_ROOT, repo, tag);
}

char *layout_tag_index_link(const char *repo, const char *tag,
			    const struct digest *d)
{
	return xasprintf("%s/repositories/%s/_manifests/tags/%s/index/%s/%s/"
			 "link",
			 LAYOUT_ROOT, repo, tag, digest_alg_name(d->alg),
			 d->hex);
}

char *layout_upload_dir(const char *repo, const char *id)
{
	return xasprintf("%s/repositories/%s/_uploads/%s", LAYOUT_ROOT, repo,
			 id);
}

char *layout_upload_data(const char *repo, const char *id)
{
	return xasprintf("%s/repositories/%s/_uploads/%s/data", LAYOUT_ROOT,
			 repo, id);
}

char *layout_upload_startedat(const char *repo, const char *id)
{
	return xasprintf("%s/repositories/%s/_uploads/%s/startedat",
			 LAYOUT_ROOT, repo, id);
}

char *layout_referrer_link(const char *repo, const struct digest *subject,
			   const struct digest *referrer)
{
	return xasprintf("%s/repositories/%s/_referrers/%s/%s/%s/%s/link",
			 LAYOUT_ROOT, repo, digest_alg_name(subject->alg),
			 subject->hex, digest_alg_name(referrer->alg),
			 referrer->hex);
}

char *layout_referrers_dir(const char *repo, const struct digest *subject)
{
	return xasprintf("%s/repositories/%s/_referrers/%s/%s", LAYOUT_ROOT,
			 repo, digest_alg_name(subject->alg), subject->hex);
}
