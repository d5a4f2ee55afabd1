/*
 * test_hashpipe.c - a stream hashed through the pipe, in pieces of any
 * size, gives the same digest as hashing it in one call.
 */
#include "check.h"
#include "digest.h"
#include "hashpipe.h"

#include <stdlib.h>

static void hash_in_pieces(const unsigned char *data, size_t len, size_t piece,
			   struct digest *out)
{
	struct hasher *h = hasher_new(DIGEST_SHA256);
	struct hash_pipe *p = hash_pipe_start(h);

	CHECK(p != NULL);
	for (size_t off = 0; off < len; off += piece)
		hash_pipe_push(p, data + off,
			       len - off < piece ? len - off : piece);
	hash_pipe_finish(p);
	hasher_final(h, out);
	hasher_free(h);
}

static void test_pieces_match_one_shot(void)
{
	static const size_t pieces[] = {1,	1000,	65536,
					524288, 524289, 3 * 1024 * 1024};
	size_t len = 9 * 1024 * 1024 + 123;
	unsigned char *data = malloc(len);
	struct digest want, got;

	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	digest_of(DIGEST_SHA256, data, len, &want);

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		hash_in_pieces(data, i == 0 ? 4096 : len, pieces[i], &got);
		if (i == 0)
			digest_of(DIGEST_SHA256, data, 4096, &want);
		CHECK(digest_equal(&want, &got));
		if (i == 0)
			digest_of(DIGEST_SHA256, data, len, &want);
	}
	free(data);
}

static void test_empty_stream(void)
{
	struct digest want, got;

	digest_of(DIGEST_SHA256, "", 0, &want);
	hash_in_pieces((const unsigned char *)"", 0, 1, &got);
	CHECK(digest_equal(&want, &got));
}

int main(void)
{
	RUN(test_pieces_match_one_shot);
	RUN(test_empty_stream);
	return check_done();
}
