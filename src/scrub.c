/*
 * scrub.c - hashes each blob's data and quarantines mismatches
 * (scrub.h).
 *
 * Blobs are read through the store's sequential reader, a megabyte at a
 * time, and hashed with the digest's own algorithm.  A corrupt blob is
 * moved with one rename, so a reader sees it whole or not at all.  An
 * upload of the same content racing with the move either finds the
 * blob gone and stores its own good copy, or finds the corrupt one still
 * in place and links it, after which the move takes it away and the
 * next push stores it again: never worse than serving the bad bytes.
 *
 * NEEDSWORK: a pass reads at full speed; on a busy disk it competes
 * with pulls.  A rate limit would let it run at a chosen pace.
 */
#include "scrub.h"
#include "digest.h"
#include "layout.h"
#include "log.h"
#include "lease.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRUB_CHUNK (1024 * 1024)

struct scrubber {
	struct store *st;
	const struct scrub_options *o;
	struct scrub_stats *stats;
	char *chunk;
};

static bool stopping(const struct scrubber *s)
{
	return s->o->stop && atomic_load(s->o->stop);
}

/* Hashes the data at key into got; 0 or a negative errno. */
static int hash_blob(struct scrubber *s, const char *key, enum digest_alg alg,
		     struct digest *got, uint64_t *size)
{
	struct store_reader *r;
	struct hasher *h;
	long n;
	int err = s->st->ops->reader_open(s->st, key, 0, &r);

	if (err)
		return err;
	h = hasher_new(alg);
	*size = 0;
	while ((n = store_read(r, s->chunk, SCRUB_CHUNK)) > 0) {
		hasher_update(h, s->chunk, (size_t)n);
		*size += (uint64_t)n;
	}
	hasher_final(h, got);
	hasher_free(h);
	store_reader_close(r);
	return n < 0 ? (int)n : 0;
}

static char *quarantine_key(const struct digest *d)
{
	return xasprintf("%s/quarantine/%s/%s/data", LAYOUT_ROOT,
			 digest_alg_name(d->alg), d->hex);
}

/* Moves the blob out of service; returns where, or NULL. */
static char *quarantine(struct scrubber *s, const char *key,
			const struct digest *d)
{
	char *to = quarantine_key(d);
	int err;

	if (s->o->report_only) {
		free(to);
		return NULL;
	}
	err = lease_held(s->o->lease) ? s->st->ops->move(s->st, key, to)
				      : -ESTALE;
	if (err == 0)
		return to;
	if (err != -ENOENT) {
		log_error("cannot quarantine corrupt blob key=%s err=\"%s\"",
			  key,
			  err == -ESTALE ? "lease lost" : store_strerror(err));
		s->stats->failed++;
	}
	free(to);
	return NULL;
}

static void check_blob(struct scrubber *s, const struct digest *d,
		       const char *key)
{
	char want[DIGEST_MAX_STR + 1], have[DIGEST_MAX_STR + 1];
	struct digest got;
	uint64_t size;
	char *moved;
	int err = hash_blob(s, key, d->alg, &got, &size);

	if (err == -ENOENT)
		return; /* collected meanwhile */
	if (err) {
		log_error("cannot read blob to scrub key=%s err=\"%s\"", key,
			  store_strerror(err));
		s->stats->failed++;
		return;
	}
	s->stats->blobs++;
	s->stats->bytes += size;
	if (digest_equal(&got, d))
		return;

	s->stats->corrupt++;
	digest_format(d, want);
	digest_format(&got, have);
	moved = quarantine(s, key, d);
	s->stats->quarantined += moved != NULL;
	log_error("blob content does not match its digest digest=%s "
		  "actual=%s bytes=%llu quarantine=%s",
		  want, have, (unsigned long long)size, moved ? moved : "-");
	if (s->o->on_bad)
		s->o->on_bad(s->o->arg, want, have, size, moved);
	free(moved);
}

/* Collects the names of a listing, so that no callback does I/O. */
struct names {
	char **v;
	size_t n;
};

static int on_name(void *arg, const char *name, bool is_dir)
{
	struct names *l = arg;

	if (!is_dir)
		return 0;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(name);
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int scrub_prefix(struct scrubber *s, const char *alg, const char *dir)
{
	struct names l = {0};
	int err = s->st->ops->list(s->st, dir, on_name, &l);

	for (size_t i = 0; i < l.n && !stopping(s); i++) {
		char text[DIGEST_MAX_STR + 16];
		struct digest d;
		char *key;

		snprintf(text, sizeof(text), "%s:%s", alg, l.v[i]);
		if (strlen(l.v[i]) > DIGEST_MAX_HEX ||
		    digest_parse(text, &d) != 0)
			continue;
		key = layout_blob_data(&d);
		check_blob(s, &d, key);
		free(key);
	}
	names_free(&l);
	return err == -ENOENT ? 0 : err;
}

static int scrub_alg(struct scrubber *s, const char *alg)
{
	char *top = xasprintf("%s/blobs/%s", LAYOUT_ROOT, alg);
	struct names l = {0};
	int err = s->st->ops->list(s->st, top, on_name, &l);

	if (err == -ENOENT)
		err = 0;
	for (size_t i = 0; i < l.n && !err && !stopping(s); i++) {
		char *dir = xasprintf("%s/%s", top, l.v[i]);

		err = scrub_prefix(s, alg, dir);
		free(dir);
	}
	names_free(&l);
	free(top);
	return err;
}

int scrub_run(struct store *st, const struct scrub_options *o,
	      struct scrub_stats *stats)
{
	struct scrubber s = {st, o, stats, NULL};
	uint64_t t0 = now_monotonic_ns();
	int err;

	memset(stats, 0, sizeof(*stats));
	s.chunk = xmalloc(SCRUB_CHUNK);
	err = scrub_alg(&s, "sha256");
	if (!err)
		err = scrub_alg(&s, "sha512");
	free(s.chunk);
	stats->seconds = (double)(now_monotonic_ns() - t0) / 1e9;
	if (err)
		log_error("scrub cannot list blobs err=\"%s\"",
			  store_strerror(err));
	return err;
}
