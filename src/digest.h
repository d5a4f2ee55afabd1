/*
 * digest.h - content digests: parsing "<alg>:<hex>" and hashing streams.
 *
 * berth accepts the two algorithms the OCI image spec registers, sha256
 * and sha512.  Hashing goes through OpenSSL's EVP interface, which uses
 * the CPU's SHA extensions where present.
 */
#ifndef BERTH_DIGEST_H
#define BERTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

enum digest_alg { DIGEST_SHA256, DIGEST_SHA512 };

#define DIGEST_MAX_HEX 128
#define DIGEST_MAX_STR (7 + DIGEST_MAX_HEX) /* "sha512:" + hex */

struct digest {
	enum digest_alg alg;
	char hex[DIGEST_MAX_HEX + 1]; /* lowercase, NUL-terminated */
};

/*
 * Parses s as a digest.  Returns 0 and fills d, -1 when s does not match
 * the grammar "<alg>:<encoded>" (DIGEST_INVALID), or -2 when it is well
 * formed but names an algorithm berth does not support (UNSUPPORTED).
 */
int digest_parse(const char *s, struct digest *d);

/*
 * Sets OpenSSL up the way berth uses it; call it first thing in main(),
 * before any other thread starts and before any other OpenSSL call.
 * berth takes only digests, HMACs and random bytes from OpenSSL (TLS is
 * GnuTLS's), none of which the system's openssl.cnf configures, so that
 * file is read only when $OPENSSL_CONF names one on purpose.  Reading it
 * otherwise costs about half a MiB of resident memory.  Aborts if
 * OpenSSL cannot start.
 */
void digest_init(void);

/* "sha256" or "sha512". */
const char *digest_alg_name(enum digest_alg alg);

/* Writes "<alg>:<hex>" into out, which holds DIGEST_MAX_STR + 1 bytes. */
void digest_format(const struct digest *d, char *out);

bool digest_equal(const struct digest *a, const struct digest *b);

/* An incremental hasher; one per stream, not shared between threads. */
struct hasher;

struct hasher *hasher_new(enum digest_alg alg);
void hasher_update(struct hasher *h, const void *data, size_t len);
/* Finishes the hash into d; the hasher may not be updated afterwards. */
void hasher_final(struct hasher *h, struct digest *d);
/* Copies the running state, so a stream can be hashed on from here. */
struct hasher *hasher_dup(const struct hasher *h);
void hasher_free(struct hasher *h);

/* Hashes a whole buffer in one call. */
void digest_of(enum digest_alg alg, const void *data, size_t len,
	       struct digest *d);

#endif
