/*
 * test_s3.c - presigned URLs for S3 (Signature Version 4 in the query
 * string): AWS's published example reproduced byte for byte, and the
 * parts an S3-compatible store on its own endpoint depends on: path
 * style, key encoding, the expiry's bounds and what the signature covers.
 */
#include "check.h"
#include "s3.h"

#include <stdlib.h>

/* 2013-05-24T00:00:00Z, the time of AWS's example. */
#define AWS_EXAMPLE_TIME 1369353600

static struct s3 *open_s3(const char *endpoint, const char *bucket,
			  bool pathstyle)
{
	struct s3_options o = {
		.accesskey = "AKIAIOSFODNN7EXAMPLE",
		.secretkey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.region = "us-east-1",
		.endpoint = endpoint,
		.bucket = bucket,
		.secure = true,
		.pathstyle = pathstyle,
	};
	struct s3 *c = NULL;
	char err[256];

	CHECK(s3_open(&o, &c, err, sizeof(err)) == 0);
	return c;
}

/* The value of query parameter name in url, or NULL; caller frees. */
static char *param(const char *url, const char *name)
{
	const char *q = strchr(url, '?');
	size_t n = strlen(name);

	while (q) {
		q++;
		if (!strncmp(q, name, n) && q[n] == '=')
			return strndup(q + n + 1, strcspn(q + n + 1, "&"));
		q = strchr(q, '&');
	}
	return NULL;
}

/*
 * AWS's documentation of query-string authentication presigns a GET of
 * test.txt in examplebucket for a day and shows the whole URL.
 */
static void aws_example(void)
{
	struct s3 *c = open_s3("", "examplebucket", false);
	char *url = s3_presign(c, "GET", "test.txt", 86400, AWS_EXAMPLE_TIME);

	CHECK_STR(url,
		  "https://examplebucket.s3.amazonaws.com/test.txt"
		  "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		  "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
		  "us-east-1%2Fs3%2Faws4_request"
		  "&X-Amz-Date=20130524T000000Z"
		  "&X-Amz-Expires=86400"
		  "&X-Amz-SignedHeaders=host"
		  "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4"
		  "c265957d157751f604d404");
	free(url);
	s3_close(c);
}

/* An own endpoint by address: the bucket goes in the path. */
static void path_style_endpoint(void)
{
	struct s3 *c = open_s3("http://127.0.0.1:7480", "reg", false);
	char *url = s3_presign(c, "GET", "root/docker/a b+c", 1200,
			       AWS_EXAMPLE_TIME);
	char *sig = param(url, "X-Amz-Signature");

	CHECK(!strncmp(url, "http://127.0.0.1:7480/reg/root/docker/a%20b%2Bc?",
		       strlen("http://127.0.0.1:7480/reg/root/docker/"
			      "a%20b%2Bc?")));
	CHECK(sig && strlen(sig) == 64 &&
	      strspn(sig, "0123456789abcdef") == 64);
	free(sig);
	sig = param(url, "X-Amz-Expires");
	CHECK_STR(sig, "1200");
	free(sig);
	free(url);
	s3_close(c);
}

/* SigV4 allows at most a week; asking for more gets a week. */
static void expiry_bounds(void)
{
	struct s3 *c = open_s3("http://127.0.0.1:7480", "reg", true);
	char *url = s3_presign(c, "GET", "k", 30 * 86400, AWS_EXAMPLE_TIME);
	char *v = param(url, "X-Amz-Expires");

	CHECK_STR(v, "604800");
	free(v);
	free(url);

	url = s3_presign(c, "GET", "k", 0, AWS_EXAMPLE_TIME);
	v = param(url, "X-Amz-Expires");
	CHECK_STR(v, "1");
	free(v);
	free(url);
	s3_close(c);
}

/* Method, key, time and expiry are all signed: each changes it. */
static void signature_covers_request(void)
{
	struct s3 *c = open_s3("http://127.0.0.1:7480", "reg", true);
	char *base = s3_presign(c, "GET", "k", 1200, AWS_EXAMPLE_TIME);
	char *other[4] = {
		s3_presign(c, "HEAD", "k", 1200, AWS_EXAMPLE_TIME),
		s3_presign(c, "GET", "j", 1200, AWS_EXAMPLE_TIME),
		s3_presign(c, "GET", "k", 1200, AWS_EXAMPLE_TIME + 1),
		s3_presign(c, "GET", "k", 1201, AWS_EXAMPLE_TIME),
	};
	char *sig = param(base, "X-Amz-Signature");
	char *again = s3_presign(c, "GET", "k", 1200, AWS_EXAMPLE_TIME);

	CHECK_STR(again, base);
	for (size_t i = 0; i < 4; i++) {
		char *s = param(other[i], "X-Amz-Signature");

		CHECK(s && sig && strcmp(s, sig));
		free(s);
		free(other[i]);
	}
	free(sig);
	free(again);
	free(base);
	s3_close(c);
}

int main(void)
{
	RUN(aws_example);
	RUN(path_style_endpoint);
	RUN(expiry_bounds);
	RUN(signature_covers_request);
	return check_done();
}
