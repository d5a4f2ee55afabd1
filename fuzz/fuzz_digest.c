/*
 * fuzz_digest.c - digests as they arrive in URLs, query strings and
 * manifests (digest_parse).
 *
 * A digest names a file in the store, so one that parses must be
 * exactly the canonical "<alg>:<lowercase hex>" that digest_format
 * writes back, of the algorithm's exact length.  An input the parser
 * calls unsupported (-2) must still be well formed and name some other
 * algorithm.
 */
#include "digest.h"
#include "fuzz.h"

static bool is_lower_hex(const char *s)
{
	return strspn(s, "0123456789abcdef") == strlen(s);
}

static void check_parsed(const char *s, const struct digest *d)
{
	char again[DIGEST_MAX_STR + 1];
	struct digest d2;
	size_t hexlen = d->alg == DIGEST_SHA512 ? 128 : 64;

	FUZZ_CHECK(d->alg == DIGEST_SHA256 || d->alg == DIGEST_SHA512);
	FUZZ_CHECK(strlen(d->hex) == hexlen && is_lower_hex(d->hex));

	digest_format(d, again);
	FUZZ_CHECK(strcmp(again, s) == 0);
	FUZZ_CHECK(digest_parse(again, &d2) == 0 && digest_equal(d, &d2));
}

static void check_unsupported(const char *s)
{
	const char *colon = strchr(s, ':');

	FUZZ_CHECK(colon && colon > s && colon[1] != '\0');
	FUZZ_CHECK(strncmp(s, "sha256:", 7) != 0 &&
		   strncmp(s, "sha512:", 7) != 0);
	FUZZ_CHECK(!strchr(colon + 1, '/') && !strchr(colon + 1, ':'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	struct digest d;
	int rc;

	memset(&d, 0xa5, sizeof(d));
	rc = digest_parse(s, &d);
	FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
	if (rc == 0)
		check_parsed(s, &d);
	else if (rc == -2)
		check_unsupported(s);
	free(s);
	return 0;
}
