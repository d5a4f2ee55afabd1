/*
 * fuzz_authorization.c - the Authorization header of every request
 * when logins are on (access_basic_parse).
 *
 * Input: the decode buffer's size in decimal on the first line (none
 * or garbage means the largest berth uses), the header after it.  The
 * buffer is a heap block of exactly that size, so writing one byte too
 * many trips AddressSanitizer.  A header that parses must give a
 * non-empty user without ':' and both strings inside the buffer; and
 * the rest of the input, taken as "user:password" and encoded as a
 * client would, must parse back to exactly those two strings.
 */
#include "access.h"
#include "fuzz.h"
#include "ref.h"

#include <openssl/evp.h>

#define FUZZ_MAX_BUF 8192

static size_t buffer_size(const char *line)
{
	uint64_t n;

	if (ref_parse_u64(line, &n) != 0 || n == 0 || n > FUZZ_MAX_BUF)
		return ACCESS_BASIC_MAX + 1;
	return (size_t)n;
}

static void check_parsed(const char *buf, size_t buflen, const char *user,
			 const char *password)
{
	size_t cap = buflen - 1 < ACCESS_BASIC_MAX ? buflen - 1
						   : ACCESS_BASIC_MAX;

	FUZZ_CHECK(user == buf);
	FUZZ_CHECK(*user && !strchr(user, ':'));
	FUZZ_CHECK(password == user + strlen(user) + 1);
	FUZZ_CHECK(strlen(user) + 1 + strlen(password) <= cap);
}

/* "Basic " and the base64 of cred, as a client sends it. */
static char *encode_header(const char *cred, size_t len)
{
	char *h = malloc(6 + 4 * ((len + 2) / 3) + 1);

	if (!h)
		abort();
	strcpy(h, "Basic ");
	EVP_EncodeBlock((unsigned char *)h + 6, (const unsigned char *)cred,
			(int)len);
	return h;
}

/* Credentials a client may send must come back as they went in. */
static void check_round_trip(const char *cred, size_t buflen)
{
	const char *colon = strchr(cred, ':'), *user, *password;
	size_t len = strlen(cred);
	char *header, *buf;
	int rc;

	if (!colon || colon == cred || len > ACCESS_BASIC_MAX ||
	    len > buflen - 1)
		return;
	header = encode_header(cred, len);
	buf = malloc(buflen);
	if (!buf)
		abort();

	rc = access_basic_parse(header, buf, buflen, &user, &password);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(strncmp(user, cred, (size_t)(colon - cred)) == 0 &&
		   user[colon - cred] == '\0');
	FUZZ_CHECK(strcmp(password, colon + 1) == 0);
	free(header);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rest;
	size_t rest_len, buflen;
	const char *user = NULL, *password = NULL;
	char *line, *header, *buf;

	fuzz_split(data, size, '\n', &line, &rest, &rest_len);
	buflen = buffer_size(line);
	header = fuzz_cstring(rest, rest_len);
	buf = malloc(buflen);
	if (!buf)
		abort();

	if (access_basic_parse(header, buf, buflen, &user, &password) == 0)
		check_parsed(buf, buflen, user, password);
	check_round_trip(header, buflen);

	free(buf);
	free(header);
	free(line);
	return 0;
}
