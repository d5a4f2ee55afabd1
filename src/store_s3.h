/*
 * store_s3.h - opening the S3-compatible storage backend.
 */
#ifndef BERTH_STORE_S3_H
#define BERTH_STORE_S3_H

#include "s3.h"
#include "store.h"

struct store_s3_options {
	struct s3_options s3;
	const char *rootdirectory; /* prefix of every key; "" for none */
	size_t chunksize;	   /* writer buffer and part size; 0: 10 MiB */
	bool encrypt;		   /* ask for encryption at rest (AES256) */
	const char *storageclass;  /* e.g. "STANDARD"; NULL or "NONE": none */
};

/*
 * Opens the bucket in o as a store (nothing is sent yet; the check op
 * tells whether it answers).  Returns 0 with *out set, freed with its
 * close op, or -EINVAL with a reason in err.
 */
int store_s3_open(const struct store_s3_options *o, struct store **out,
		  char *err, size_t errlen);

#endif
