/*
 * store.c - opening the storage backend the configuration names.
 *
 * storage.<driver> picks the backend; each gets its settings from the
 * config here, so the backends themselves know nothing of config keys.
 */
#include "store.h"

#include "config.h"
#include "store_s3.h"

#include <errno.h>
#include <string.h>

static int store_open_s3(const struct config *cfg, struct store **out,
			 char *err, size_t errlen)
{
	struct store_s3_options o = {0};

	if (!cfg->s3_v4auth) {
		set_error(err, errlen,
			  "storage.s3.v4auth: berth signs with "
			  "AWS Signature Version 4 only; remove the key or "
			  "set it to true");
		return -EINVAL;
	}
	if (!cfg->s3_region || !*cfg->s3_region) {
		set_error(err, errlen, "storage.s3.region is required");
		return -EINVAL;
	}
	o.s3.accesskey = cfg->s3_accesskey;
	o.s3.secretkey = cfg->s3_secretkey;
	o.s3.region = cfg->s3_region;
	o.s3.endpoint = cfg->s3_regionendpoint;
	o.s3.bucket = cfg->s3_bucket;
	o.s3.secure = cfg->s3_secure;
	o.s3.pathstyle = cfg->s3_forcepathstyle;
	o.rootdirectory = cfg->s3_rootdirectory;
	o.chunksize = (size_t)cfg->s3_chunksize;
	o.encrypt = cfg->s3_encrypt;
	o.storageclass = cfg->s3_storageclass;
	return store_s3_open(&o, out, err, errlen);
}

int store_open(const struct config *cfg, struct store **out, char *err,
	       size_t errlen)
{
	int e;

	if (cfg->storage_driver && !strcmp(cfg->storage_driver, "s3"))
		return store_open_s3(cfg, out, err, errlen);

	e = store_fs_open(cfg->fs_rootdirectory, out);
	if (e)
		set_error(err, errlen, "cannot open storage root %s: %s",
			  cfg->fs_rootdirectory, store_strerror(e));
	return e;
}
