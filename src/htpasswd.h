/*
 * htpasswd.h - Apache-style password files: "name:hash" per line.
 *
 * A loaded file is an immutable table of the users who may log in, so
 * any number of threads can verify passwords against it at once.  Only
 * strong hashes are accepted: bcrypt ($2y$, $2b$, $2a$) and SHA-crypt
 * ($5$, $6$), checked by libxcrypt.  Users with any other hash (MD5
 * $apr1$, {SHA}, DES, plain text) cannot log in; loading warns about them
 * by name, and about malformed lines by number, never showing a hash.
 *
 * Each user also has a fingerprint: a keyed digest of the name and hash
 * under a key drawn once per process and kept only in its memory.  Two
 * tables loaded in one process give a user the same fingerprint exactly
 * when the line is the same, so a session can tell that the password it
 * logged in with is still the one in force without keeping the hash.
 */
#ifndef BERTH_HTPASSWD_H
#define BERTH_HTPASSWD_H

#include <stdbool.h>
#include <stddef.h>

/* Longest user name and password berth accepts, in bytes. */
#define HTPASSWD_NAME_MAX 255
#define HTPASSWD_PASSWORD_MAX 1024

/* bcrypt reads only this many bytes of a password. */
#define HTPASSWD_BCRYPT_PASSWORD_MAX 72

#define HTPASSWD_BCRYPT_COST 10

#define HTPASSWD_FINGERPRINT_LEN 32

struct htpasswd;

/*
 * True if name can be a user name: 1 to HTPASSWD_NAME_MAX bytes, no ':',
 * no white space or control characters, not starting with '#' (which
 * would make the line a comment), and not "*" (which access rules read
 * as "every user").
 */
bool htpasswd_name_valid(const char *name);

/*
 * Reads the file at path.  Returns 0 and a table in *out that the caller
 * frees with htpasswd_free, or a negative errno with a message naming
 * the path in err.  A file without any usable user is not an error (the
 * result lets nobody in); warnings go to the log.
 */
int htpasswd_load(const char *path, struct htpasswd **out, char *err,
		  size_t errlen);

/* The same from text in memory; origin names it in warnings. */
struct htpasswd *htpasswd_parse(const char *text, size_t len,
				const char *origin);

void htpasswd_free(struct htpasswd *h);

/* How many users may log in. */
size_t htpasswd_count(const struct htpasswd *h);

/*
 * True if the file at path is no longer the one h was loaded from: its
 * inode, size, modification or change time differ, or it is gone.
 * Always false for a table made by htpasswd_parse.
 */
bool htpasswd_changed(const struct htpasswd *h, const char *path);

/*
 * Copies the fingerprint of user's line in h into out and returns true,
 * or returns false when h has no such user.  Costs a binary search and
 * a memcpy: no hashing, no file access.  Without the process's key the
 * fingerprint tells nothing about the password or its hash.
 */
bool htpasswd_fingerprint(const struct htpasswd *h, const char *user,
			  unsigned char out[HTPASSWD_FINGERPRINT_LEN]);

/*
 * Checks password for user with a full hash computation (tens of
 * milliseconds for bcrypt).  An unknown user costs about as much as a
 * known one, so timing does not tell which names exist.
 */
bool htpasswd_verify(const struct htpasswd *h, const char *user,
		     const char *password);

/*
 * Verifies password against one hash string of an accepted scheme;
 * false for any other scheme.  Exposed for tests and the user command.
 */
bool htpasswd_check_hash(const char *hash, const char *password);

/*
 * The scheme of a hash as berth names it in warnings ("bcrypt",
 * "sha256-crypt", "apr1-md5", ...), and whether berth accepts it.
 * Malformed hashes of an accepted scheme are "malformed".
 */
const char *htpasswd_scheme(const char *hash, bool *accepted);

/*
 * Hashes password with bcrypt ($2y$) at cost (4 to 31) into out, which
 * holds at least 128 bytes.  Returns 0, -EINVAL for a bad cost or a
 * password longer than HTPASSWD_BCRYPT_PASSWORD_MAX, or -EIO if
 * libxcrypt fails.
 */
int htpasswd_hash_bcrypt(const char *password, unsigned cost, char *out,
			 size_t outlen);

#endif
