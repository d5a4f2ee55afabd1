/*
 * test_digest.c - digest parsing against the OCI grammar, and hashing
 * against published SHA-2 test vectors, whole and in pieces.
 */
#include "check.h"
#include "digest.h"

#include <pthread.h>
#include <stdlib.h>

#define SHA256_EMPTY                                                           \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC                                                             \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_448                                                             \
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA256_MILLION_A                                                       \
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define SHA512_EMPTY                                                           \
	"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"     \
	"47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_ABC                                                             \
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"     \
	"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

#define MSG_448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

static void test_vectors_one_shot(void)
{
	struct digest d;

	digest_of(DIGEST_SHA256, "", 0, &d);
	CHECK(d.alg == DIGEST_SHA256);
	CHECK_STR(d.hex, SHA256_EMPTY);
	digest_of(DIGEST_SHA256, "abc", 3, &d);
	CHECK_STR(d.hex, SHA256_ABC);
	digest_of(DIGEST_SHA256, MSG_448, strlen(MSG_448), &d);
	CHECK_STR(d.hex, SHA256_448);

	digest_of(DIGEST_SHA512, "", 0, &d);
	CHECK(d.alg == DIGEST_SHA512);
	CHECK_STR(d.hex, SHA512_EMPTY);
	digest_of(DIGEST_SHA512, "abc", 3, &d);
	CHECK_STR(d.hex, SHA512_ABC);
}

static void test_vectors_hasher(void)
{
	struct hasher *h;
	struct digest d;

	h = hasher_new(DIGEST_SHA256);
	hasher_final(h, &d);
	hasher_free(h);
	CHECK_STR(d.hex, SHA256_EMPTY);

	h = hasher_new(DIGEST_SHA512);
	hasher_update(h, "a", 1);
	hasher_update(h, "", 0);
	hasher_update(h, "bc", 2);
	hasher_final(h, &d);
	hasher_free(h);
	CHECK(d.alg == DIGEST_SHA512);
	CHECK_STR(d.hex, SHA512_ABC);
}

/* A million 'a's fed in uneven pieces that straddle SHA block edges. */
static void test_million_a_in_pieces(void)
{
	static const size_t pieces[] = {1, 63, 64, 65, 127, 1000, 4096, 7};
	size_t len = 1000000, done = 0, i = 0;
	char *buf = malloc(len);
	struct hasher *h = hasher_new(DIGEST_SHA256);
	struct digest d;

	memset(buf, 'a', len);
	while (done < len) {
		size_t n = pieces[i++ % 8];

		if (n > len - done)
			n = len - done;
		hasher_update(h, buf + done, n);
		done += n;
	}
	hasher_final(h, &d);
	hasher_free(h);
	CHECK_STR(d.hex, SHA256_MILLION_A);

	digest_of(DIGEST_SHA256, buf, len, &d);
	CHECK_STR(d.hex, SHA256_MILLION_A);
	free(buf);
}

/* Every split point of a message gives the one-shot digest. */
static void test_incremental_equals_one_shot(void)
{
	const char *msg = MSG_448 MSG_448 MSG_448;
	size_t len = strlen(msg);
	struct digest whole, part;

	for (int alg = DIGEST_SHA256; alg <= DIGEST_SHA512; alg++) {
		digest_of(alg, msg, len, &whole);
		for (size_t cut = 0; cut <= len; cut++) {
			struct hasher *h = hasher_new(alg);

			hasher_update(h, msg, cut);
			hasher_update(h, msg + cut, len - cut);
			hasher_final(h, &part);
			hasher_free(h);
			CHECK(digest_equal(&whole, &part));
		}
	}
}

/* A copy hashes on independently of its original. */
static void test_dup_continues(void)
{
	struct hasher *h = hasher_new(DIGEST_SHA256);
	struct hasher *copy;
	struct digest a, b, want_abc, want_abx;

	digest_of(DIGEST_SHA256, "abc", 3, &want_abc);
	digest_of(DIGEST_SHA256, "abx", 3, &want_abx);

	hasher_update(h, "ab", 2);
	copy = hasher_dup(h);
	hasher_update(h, "c", 1);
	hasher_update(copy, "x", 1);
	hasher_final(copy, &b);
	hasher_final(h, &a);
	CHECK(digest_equal(&a, &want_abc));
	CHECK(digest_equal(&b, &want_abx));
	CHECK_STR(a.hex, SHA256_ABC);
	hasher_free(h);
	hasher_free(copy);

	h = hasher_new(DIGEST_SHA512);
	hasher_update(h, "abc", 3);
	copy = hasher_dup(h);
	hasher_free(h);
	hasher_final(copy, &b);
	hasher_free(copy);
	CHECK_STR(b.hex, SHA512_ABC);
}

static void *hash_in_thread(void *arg)
{
	struct digest *d = arg;
	struct hasher *h = hasher_new(DIGEST_SHA512);

	hasher_update(h, "abc", 3);
	hasher_final(h, d);
	hasher_free(h);
	return NULL;
}

/* The algorithm tables are set up once, whichever thread comes first. */
static void test_threads(void)
{
	pthread_t t[8];
	struct digest d[8];

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, hash_in_thread, &d[i]);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_STR(d[i].hex, SHA512_ABC);
	}
}

static void test_parse_accepts(void)
{
	struct digest d;
	char out[DIGEST_MAX_STR + 1];

	CHECK(digest_parse("sha256:" SHA256_ABC, &d) == 0);
	CHECK(d.alg == DIGEST_SHA256);
	CHECK_STR(d.hex, SHA256_ABC);
	digest_format(&d, out);
	CHECK_STR(out, "sha256:" SHA256_ABC);

	CHECK(digest_parse("sha512:" SHA512_ABC, &d) == 0);
	CHECK(d.alg == DIGEST_SHA512);
	CHECK_STR(d.hex, SHA512_ABC);
	digest_format(&d, out);
	CHECK_STR(out, "sha512:" SHA512_ABC);
	CHECK(strlen(out) == DIGEST_MAX_STR);

	CHECK_STR(digest_alg_name(DIGEST_SHA256), "sha256");
	CHECK_STR(digest_alg_name(DIGEST_SHA512), "sha512");
}

/* Malformed digests: -1, whatever the algorithm. */
static void test_parse_rejects(void)
{
	static const char *const bad[] = {
		"",
		"sha256",
		"sha256:",
		":" SHA256_ABC,
		"sha256" SHA256_ABC,
		/* the registered algorithms pin length and case */
		"sha256:" SHA256_ABC "0",
		"sha256:ba7816bf",
		"sha256:BA7816BF8F01CFEA414140DE5DAE2223"
		"B00361A396177A9CB410FF61F20015AD",
		"sha256:ba7816bf8f01cfea414140de5dae2223"
		"b00361a396177a9cb410ff61f20015aD",
		"sha256:ga7816bf8f01cfea414140de5dae2223"
		"b00361a396177a9cb410ff61f20015ad",
		"sha512:" SHA256_ABC,
		"sha512:" SHA512_ABC "00",
		/* the general grammar */
		"SHA256:" SHA256_ABC,
		"sha256:" SHA256_ABC " ",
		" sha256:" SHA256_ABC,
		"sha256::" SHA256_ABC,
		"sha256:ab/cd",
		"sha256:ab+cd",
		"sha256:ab%2fcd",
		"-sha256:abc",
		"sha256-:abc",
		"sha+:abc",
		"sha__256:abc",
		"sha256:abc\n",
		"foo:",
		"foo:ab cd",
		"Foo:abc",
		"../sha256:abc",
		"sha256:../../etc",
	};
	struct digest d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (digest_parse(bad[i], &d) != -1) {
			printf("  accepted bad digest \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK(digest_parse(NULL, &d) == -1);
}

/* Well formed but not sha256/sha512: -2. */
static void test_parse_unsupported(void)
{
	static const char *const unsupported[] = {
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha384:abc",
		"blake3:" SHA256_ABC,
		"multihash+base58:"
		"QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
		"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
		"a.b_c-d+e:A=_-",
		"sha1:a",
	};
	struct digest d;

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]);
	     i++) {
		if (digest_parse(unsupported[i], &d) != -2) {
			printf("  wrong result for \"%s\"\n", unsupported[i]);
			CHECK(0);
		}
	}
}

static void test_equal(void)
{
	struct digest a, b;

	CHECK(digest_parse("sha256:" SHA256_ABC, &a) == 0);
	CHECK(digest_parse("sha256:" SHA256_EMPTY, &b) == 0);
	CHECK(!digest_equal(&a, &b));
	CHECK(digest_parse("sha256:" SHA256_ABC, &b) == 0);
	CHECK(digest_equal(&a, &b));
	CHECK(digest_parse("sha512:" SHA512_ABC, &b) == 0);
	CHECK(!digest_equal(&a, &b));
}

int main(void)
{
	RUN(test_vectors_one_shot);
	RUN(test_vectors_hasher);
	RUN(test_million_a_in_pieces);
	RUN(test_incremental_equals_one_shot);
	RUN(test_dup_continues);
	RUN(test_threads);
	RUN(test_parse_accepts);
	RUN(test_parse_rejects);
	RUN(test_parse_unsupported);
	RUN(test_equal);
	return check_done();
}
