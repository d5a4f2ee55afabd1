/*
 * gccmd.c - `berth garbage-collect`, the offline collector, with
 * registry:2's command line:
 *
 *   berth garbage-collect [-d|--dry-run] [-m|--delete-untagged]
 *                         [-q|--quiet] [--grace-period DURATION]
 *                         [config.yml]
 *
 * It reads the same configuration as `berth serve` (the file, or the
 * one REGISTRY_CONFIGURATION_PATH names, then REGISTRY_* variables),
 * applies its retention rules and grace period, and prints what it
 * marks and deletes in registry:2's words, so scripts reading that
 * output keep working.  Like registry:2's, it expects no server to be
 * writing to the store meanwhile; the collector of a running berth
 * (POST /admin/gc) is the way to collect while serving.  A real run
 * takes the collector's lease (lease.h) first, and fails when a
 * running berth or another command holds it.
 */
#include "gccmd.h"
#include "config.h"
#include "gc.h"
#include "lease.h"
#include "log.h"
#include "retention.h"
#include "store.h"
#include "usage.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gccmd {
	bool dry_run;
	bool untagged;
	bool quiet;
	bool temporary_files;
	const char *grace; /* --grace-period, or NULL for the config's */
	const char *path;
};

static void gccmd_usage(FILE *out)
{
	fprintf(out,
		"usage: berth garbage-collect [options] [config.yml]\n"
		"\n"
		"Deletes blobs no manifest references, from a store no server "
		"is writing to.\n"
		"\n"
		"  -d, --dry-run          list what would be deleted, delete "
		"nothing\n"
		"  -m, --delete-untagged  delete manifests no tag reaches "
		"(never the\n"
		"                         children of a kept index or the "
		"referrers of a\n"
		"                         kept manifest)\n"
		"  -q, --quiet            do not list what is marked\n"
		"      --grace-period D   keep blobs newer than D (default:\n"
		"                         the configuration's gc.graceperiod,"
		" 1h)\n"
		"      --temporary-files  also remove temporary files that "
		"crashed\n"
		"                         writes left (a walk of the whole "
		"store)\n");
}

static int parse_args(int argc, char **argv, struct gccmd *c)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'd'},
		{"delete-untagged", no_argument, NULL, 'm'},
		{"quiet", no_argument, NULL, 'q'},
		{"grace-period", required_argument, NULL, 'g'},
		{"temporary-files", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "dmqh", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			c->dry_run = true;
			break;
		case 'm':
			c->untagged = true;
			break;
		case 'q':
			c->quiet = true;
			break;
		case 'g':
			c->grace = optarg;
			break;
		case 't':
			c->temporary_files = true;
			break;
		case 'h':
			gccmd_usage(stdout);
			return 1;
		default:
			gccmd_usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		gccmd_usage(stderr);
		return 2;
	}
	c->path = optind < argc ? argv[optind] : NULL;
	return 0;
}

static void on_mark(void *arg, const char *repo, bool manifest,
		    const char *digest)
{
	printf("%s: marking %s %s\n", repo, manifest ? "manifest" : "blob",
	       digest);
}

static void on_item(void *arg, enum gc_item kind, const char *repo,
		    const char *what, uint64_t bytes)
{
	switch (kind) {
	case GC_BLOB:
		printf("blob eligible for deletion: %s\n", what);
		break;
	case GC_EMPTY_DIR:
		printf("empty blob directory eligible for deletion: %s\n",
		       what);
		break;
	case GC_REPOSITORY:
		printf("repository eligible for deletion: %s\n", repo);
		break;
	case GC_TEMP:
		printf("temporary file eligible for deletion: %s\n", what);
		break;
	default:
		printf("%s: %s eligible for deletion: %s\n", repo,
		       gc_item_name(kind), what);
		break;
	}
}

static void summary(const struct gccmd *c, const struct gc_stats *s)
{
	char freed[32], young[32], temp[32];

	usage_format_size(s->freed, freed);
	usage_format_size(s->young_bytes, young);
	usage_format_size(s->temp_bytes, temp);
	printf("\n%zu blobs marked, %zu blobs and %zu manifests eligible for "
	       "deletion\n",
	       s->marked, s->count[GC_BLOB], s->count[GC_MANIFEST]);
	printf("%s %s: %zu blobs, %zu manifests, %zu tags, %zu layer links, "
	       "%zu referrer links, %zu repositories; %zu blobs (%s) inside "
	       "the grace period kept; %.2fs\n",
	       c->dry_run ? "would free" : "freed", freed, s->count[GC_BLOB],
	       s->count[GC_MANIFEST], s->count[GC_TAG], s->count[GC_LAYER_LINK],
	       s->count[GC_REFERRER], s->count[GC_REPOSITORY], s->young, young,
	       s->seconds);
	if (c->temporary_files)
		printf("%s %s: %zu temporary files crashed writes left\n",
		       c->dry_run ? "would free" : "freed", temp,
		       s->count[GC_TEMP]);
}

/* Sets the options from the configuration and the command line. */
static int options(const struct gccmd *c, const struct config *cfg,
		   struct gc_options *o, struct retention **rt)
{
	char err[512];

	memset(o, 0, sizeof(*o));
	o->dry_run = c->dry_run;
	o->delete_untagged = c->untagged;
	o->temporary_files = c->temporary_files;
	o->grace = cfg->gc_graceperiod;
	if (c->grace && config_parse_duration(c->grace, &o->grace) < 0) {
		fprintf(stderr,
			"berth: --grace-period: expected a duration "
			"such as 1h or 0s, got \"%s\"\n",
			c->grace);
		return -1;
	}
	if (retention_parse(cfg->retention, rt, err, sizeof(err)) < 0) {
		fprintf(stderr, "berth: configuration error: %s\n", err);
		return -1;
	}
	o->retention = *rt;
	o->on_item = on_item;
	o->on_mark = c->quiet ? NULL : on_mark;
	return 0;
}

/*
 * Takes the collector's lease, so that no berth serving the store
 * collects at the same time.  Returns 0, or -1 having said why.
 */
static int take_lease(struct store *st, const struct config *cfg,
		      struct lease **lease)
{
	struct lease_holder h;
	char who[512];
	int err = lease_take(st, GC_LEASE, cfg->lease_duration, lease, &h);

	if (err == -EBUSY) {
		lease_holder_format(&h, who, sizeof(who));
		fprintf(stderr,
			"berth: another collector is running on this store "
			"(%s); nothing was deleted.  Run again when it is "
			"done, or after the lease expires.\n",
			who);
		return -1;
	}
	if (err) {
		fprintf(stderr,
			"berth: cannot take the collector's lease: %s; "
			"nothing was deleted\n",
			store_strerror(err));
		return -1;
	}
	return 0;
}

static int collect(const struct gccmd *c, const struct config *cfg)
{
	struct retention *rt = NULL;
	struct lease *lease = NULL;
	struct store *st = NULL;
	struct gc_options o;
	struct gc_stats s;
	char msg[512];
	int err, rc = 1;

	if (options(c, cfg, &o, &rt) < 0)
		goto out;
	err = store_open(cfg, &st, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "berth: %s\n", msg);
		goto out;
	}
	if (!o.dry_run && take_lease(st, cfg, &lease) < 0)
		goto out;
	o.lease = lease;
	err = gc_run(st, &o, &s);
	if (err) {
		fprintf(stderr,
			"berth: failed to mark: %s; nothing was "
			"deleted\n",
			store_strerror(err));
		goto out;
	}
	summary(c, &s);
	if (s.failed)
		fprintf(stderr,
			"berth: %zu deletions failed (see the log); "
			"run again to finish\n",
			s.failed);
	rc = s.failed ? 1 : 0;
out:
	lease_drop(lease);
	if (st)
		st->ops->close(st);
	retention_free(rt);
	return rc;
}

int gccmd_main(int argc, char **argv)
{
	struct gccmd c = {0};
	struct config *cfg;
	char err[512];
	int rc = parse_args(argc, argv, &c);

	if (rc)
		return rc == 1 ? 0 : rc;
	cfg = config_load(c.path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "berth: configuration error: %s\n", err);
		return 1;
	}
	log_threshold = (enum log_level)cfg->log_level;
	rc = collect(&c, cfg);
	config_free(cfg);
	return rc;
}
