/*
 * digest.c - content digests: the OCI image spec's digest grammar and
 * SHA-256/SHA-512 hashing through OpenSSL's EVP interface.
 *
 * Digests arrive from clients in URLs, query strings and manifests, so the
 * parser accepts exactly the spec's grammar and nothing looser.  Hashing
 * sits on the upload path of every blob; the EVP_MD objects are fetched
 * once per process because a fetch walks OpenSSL's provider tables and
 * would otherwise cost more than hashing a small chunk.
 */
#include "digest.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct hasher {
	EVP_MD_CTX *ctx;
	enum digest_alg alg;
	bool finished;
};

static EVP_MD *digest_md[2];
static pthread_once_t digest_md_once = PTHREAD_ONCE_INIT;

/*
 * OpenSSL only fails here when it is out of memory or misconfigured (a
 * provider without SHA-2); neither leaves berth able to verify content,
 * so such a failure is fatal, like running out of memory.
 */
static void digest_fatal(const char *what)
{
	fprintf(stderr, "berth: openssl %s failed\n", what);
	abort();
}

static void digest_md_fetch(void)
{
	digest_md[DIGEST_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
	digest_md[DIGEST_SHA512] = EVP_MD_fetch(NULL, "SHA512", NULL);
	if (!digest_md[DIGEST_SHA256] || !digest_md[DIGEST_SHA512])
		digest_fatal("EVP_MD_fetch");
}

/*
 * NEEDSWORK: the first digest, HMAC or random number makes OpenSSL start
 * its default provider, which touches about 2 MiB of libcrypto's pages
 * (most of berth's resident memory at rest); the random bytes berth
 * draws when it starts do that before any request.  Low-level SHA-256
 * and getrandom() would avoid it for filesystem registries without
 * logins, at the cost of a second way to hash.
 */
void digest_init(void)
{
	uint64_t opts = OPENSSL_INIT_NO_LOAD_CONFIG;

	if (getenv("OPENSSL_CONF"))
		opts = OPENSSL_INIT_LOAD_CONFIG;
	if (OPENSSL_init_crypto(opts, NULL) != 1)
		digest_fatal("OPENSSL_init_crypto");
}

static const EVP_MD *digest_md_get(enum digest_alg alg)
{
	pthread_once(&digest_md_once, digest_md_fetch);
	return digest_md[alg];
}

static size_t digest_hex_len(enum digest_alg alg)
{
	return alg == DIGEST_SHA512 ? 128 : 64;
}

const char *digest_alg_name(enum digest_alg alg)
{
	return alg == DIGEST_SHA512 ? "sha512" : "sha256";
}

static bool digest_is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool digest_is_encoded_char(char c)
{
	return digest_is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '=' ||
	       c == '_' || c == '-';
}

static bool digest_is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Matches the algorithm part, components of [a-z0-9]+ joined by one of
 * "+._-".  Returns the length matched up to the ':' or 0 when the text
 * does not match.
 */
static size_t digest_match_alg(const char *s)
{
	const char *p = s;

	for (;;) {
		if (!digest_is_lower_alnum(*p))
			return 0;
		while (digest_is_lower_alnum(*p))
			p++;
		if (*p == ':')
			return p - s;
		if (*p != '+' && *p != '.' && *p != '_' && *p != '-')
			return 0;
		p++;
	}
}

static bool digest_match_hex(const char *hex, size_t want)
{
	size_t n = 0;

	while (n <= want && hex[n]) {
		if (!digest_is_lower_hex(hex[n]))
			return false;
		n++;
	}
	return n == want && hex[n] == '\0';
}

int digest_parse(const char *s, struct digest *d)
{
	const char *enc;
	size_t alg_len;
	enum digest_alg alg;

	if (!s)
		return -1;
	alg_len = digest_match_alg(s);
	if (!alg_len)
		return -1;

	enc = s + alg_len + 1;
	if (!*enc)
		return -1;
	for (const char *p = enc; *p; p++)
		if (!digest_is_encoded_char(*p))
			return -1;

	if (alg_len == 6 && memcmp(s, "sha256", 6) == 0)
		alg = DIGEST_SHA256;
	else if (alg_len == 6 && memcmp(s, "sha512", 6) == 0)
		alg = DIGEST_SHA512;
	else
		return -2;

	/* The spec pins each registered algorithm's encoding exactly. */
	if (!digest_match_hex(enc, digest_hex_len(alg)))
		return -1;
	d->alg = alg;
	memcpy(d->hex, enc, digest_hex_len(alg) + 1);
	return 0;
}

void digest_format(const struct digest *d, char *out)
{
	snprintf(out, DIGEST_MAX_STR + 1, "%s:%s", digest_alg_name(d->alg),
		 d->hex);
}

bool digest_equal(const struct digest *a, const struct digest *b)
{
	return a->alg == b->alg && strcmp(a->hex, b->hex) == 0;
}

static void digest_from_raw(enum digest_alg alg, const unsigned char *raw,
			    unsigned int raw_len, struct digest *d)
{
	d->alg = alg;
	hex_encode(raw, raw_len, d->hex);
}

struct hasher *hasher_new(enum digest_alg alg)
{
	struct hasher *h = xcalloc(1, sizeof(*h));

	h->alg = alg;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx)
		digest_fatal("EVP_MD_CTX_new");
	if (!EVP_DigestInit_ex(h->ctx, digest_md_get(alg), NULL))
		digest_fatal("EVP_DigestInit_ex");
	return h;
}

void hasher_update(struct hasher *h, const void *data, size_t len)
{
	if (h->finished)
		digest_fatal("update after final (caller bug)");
	if (len && !EVP_DigestUpdate(h->ctx, data, len))
		digest_fatal("EVP_DigestUpdate");
}

void hasher_final(struct hasher *h, struct digest *d)
{
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int raw_len = 0;

	if (h->finished)
		digest_fatal("final called twice (caller bug)");
	if (!EVP_DigestFinal_ex(h->ctx, raw, &raw_len))
		digest_fatal("EVP_DigestFinal_ex");
	h->finished = true;
	digest_from_raw(h->alg, raw, raw_len, d);
}

struct hasher *hasher_dup(const struct hasher *h)
{
	struct hasher *copy = xcalloc(1, sizeof(*copy));

	if (h->finished)
		digest_fatal("dup after final (caller bug)");
	copy->alg = h->alg;
	copy->ctx = EVP_MD_CTX_new();
	if (!copy->ctx)
		digest_fatal("EVP_MD_CTX_new");
	if (!EVP_MD_CTX_copy_ex(copy->ctx, h->ctx))
		digest_fatal("EVP_MD_CTX_copy_ex");
	return copy;
}

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void digest_of(enum digest_alg alg, const void *data, size_t len,
	       struct digest *d)
{
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int raw_len = 0;

	if (!EVP_Digest(data, len, raw, &raw_len, digest_md_get(alg), NULL))
		digest_fatal("EVP_Digest");
	digest_from_raw(alg, raw, raw_len, d);
}
