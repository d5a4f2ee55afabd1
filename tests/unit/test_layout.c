/*
 * test_layout.c - the store keys must match registry:2's tree exactly,
 * byte for byte, or berth would not find data registry:2 wrote.
 */
#include "check.h"
#include "digest.h"
#include "layout.h"

#include <stdlib.h>

#define HEX256                                                                 \
	"0123456789abcdef0123456789abcdef"                                     \
	"0123456789abcdef0123456789abcdef"
#define HEX512                                                                 \
	"fedcba9876543210fedcba9876543210"                                     \
	"fedcba9876543210fedcba9876543210"                                     \
	"fedcba9876543210fedcba9876543210"                                     \
	"fedcba9876543210fedcba9876543210"
#define V2 "docker/registry/v2"

static struct digest d256;
static struct digest d512;

/* Checks that key equals want, then frees key. */
static void check_key(char *key, const char *want)
{
	CHECK_STR(key, want);
	free(key);
}

static void test_blobs(void)
{
	check_key(layout_blob_data(&d256),
		  V2 "/blobs/sha256/01/" HEX256 "/data");
	check_key(layout_blob_dir(&d256), V2 "/blobs/sha256/01/" HEX256);
	check_key(layout_blob_data(&d512),
		  V2 "/blobs/sha512/fe/" HEX512 "/data");
	check_key(layout_blob_dir(&d512), V2 "/blobs/sha512/fe/" HEX512);
}

static void test_repositories(void)
{
	check_key(layout_repositories(), V2 "/repositories");
	check_key(layout_repo("library/alpine"),
		  V2 "/repositories/library/alpine");
	check_key(layout_layer_link("a/b/c", &d256),
		  V2 "/repositories/a/b/c/_layers/sha256/" HEX256 "/link");
	check_key(layout_layer_link("x", &d512),
		  V2 "/repositories/x/_layers/sha512/" HEX512 "/link");
}

static void test_manifests(void)
{
	check_key(layout_revision_link("library/alpine", &d256),
		  V2 "/repositories/library/alpine/_manifests/revisions/"
		     "sha256/" HEX256 "/link");
	check_key(layout_revisions_dir("library/alpine", "sha512"),
		  V2 "/repositories/library/alpine/_manifests/revisions/"
		     "sha512");
}

static void test_tags(void)
{
	check_key(layout_tags_dir("r"), V2 "/repositories/r/_manifests/tags");
	check_key(layout_tag_dir("r", "v1.2_x-Y"),
		  V2 "/repositories/r/_manifests/tags/v1.2_x-Y");
	check_key(layout_tag_current("r/s", "latest"),
		  V2 "/repositories/r/s/_manifests/tags/latest/current/link");
	check_key(layout_tag_index_link("r/s", "latest", &d256), V2
		  "/repositories/r/s/_manifests/tags/latest/index/sha256/" HEX256
		  "/link");
}

static void test_uploads(void)
{
	const char *id = "6f1a1c5e-2b6d-4c4e-9f0a-0d9d1f2e3a4b";

	check_key(layout_upload_dir("r", id),
		  V2 "/repositories/r/_uploads/"
		     "6f1a1c5e-2b6d-4c4e-9f0a-0d9d1f2e3a4b");
	check_key(layout_upload_data("r", id),
		  V2 "/repositories/r/_uploads/"
		     "6f1a1c5e-2b6d-4c4e-9f0a-0d9d1f2e3a4b/data");
	check_key(layout_upload_startedat("r", id),
		  V2 "/repositories/r/_uploads/"
		     "6f1a1c5e-2b6d-4c4e-9f0a-0d9d1f2e3a4b/startedat");
}

static void test_referrers(void)
{
	check_key(layout_referrers_dir("a/b", &d256),
		  V2 "/repositories/a/b/_referrers/sha256/" HEX256);
	check_key(layout_referrer_link("a/b", &d256, &d512),
		  V2 "/repositories/a/b/_referrers/sha256/" HEX256
		     "/sha512/" HEX512 "/link");
}

/* Every key built from a repository lies under that repository's key. */
static void test_keys_nest(void)
{
	char *repo = layout_repo("n/m");
	char *keys[] = {
		layout_layer_link("n/m", &d256),
		layout_revision_link("n/m", &d256),
		layout_tag_current("n/m", "t"),
		layout_upload_data("n/m", "u"),
		layout_referrer_link("n/m", &d256, &d256),
	};
	size_t n = strlen(repo);

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		CHECK(strncmp(keys[i], repo, n) == 0 && keys[i][n] == '/');
		free(keys[i]);
	}
	free(repo);
}

int main(void)
{
	d256.alg = DIGEST_SHA256;
	strcpy(d256.hex, HEX256);
	d512.alg = DIGEST_SHA512;
	strcpy(d512.hex, HEX512);

	RUN(test_blobs);
	RUN(test_repositories);
	RUN(test_manifests);
	RUN(test_tags);
	RUN(test_uploads);
	RUN(test_referrers);
	RUN(test_keys_nest);
	return check_done();
}
