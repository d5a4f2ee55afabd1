/*
 * lease.c - a lease object in the store, taken with a create-if-absent
 * write (lease.h).
 *
 * A lease is a directory of generations, LEASE_ROOT/<name>/<20 digits>,
 * each a small JSON record: holder, start, expiry, and whether it was
 * released.  Only the highest generation counts.  To take the lease a
 * process lists the generations, reads the highest, and when that is
 * released or expired creates the next one with put_new: of processes
 * racing to take over the same expired generation, one creation wins
 * and the others get -EEXIST.  The winner then lists again; should a
 * higher generation exist (a process that stalled between listing and
 * creating can create a generation pruned meanwhile), it gave way.
 * Winners prune the generations below their own; the highest is never
 * removed, which is what makes that second listing decide.
 *
 * A record also names the holder's machine and pid namespace (the
 * kernel's boot id and /proc/self/ns/pid): a taker there can tell that
 * the holder's process is gone, a server restarted after kill -9 say,
 * and take over without waiting for the expiry.  A pid reused since
 * only errs towards waiting.
 *
 * The holder renews by rewriting its record with a later expiry, every
 * quarter duration, after checking that no higher generation exists.
 * It treats the lease as lost once half a duration passed (by its own
 * monotonic clock) without a renewal, while others wait for the whole
 * duration by theirs before taking over: so this assumes the instances'
 * wall clocks agree within half the duration (NTP keeps them within a
 * second; the default duration is two minutes).  It also assumes a
 * listing shows every object written before it began, which S3 and
 * Ceph's gateway guarantee.
 */
#include "lease.h"

#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define LEASE_GEN_DIGITS 20
#define LEASE_RECORD_MAX 4096
#define LEASE_TRIES 4 /* listings raced by a prune before giving up */

struct lease {
	struct store *st;
	char *dir;
	int64_t duration;
	uint64_t generation;
	struct lease_holder me;
	atomic_uint_fast64_t renewed_ns; /* monotonic, last good renewal */
	atomic_bool lost;		 /* another generation took over */

	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	pthread_t thread;
	bool started;
};

/* ---- the process's identity ---- */

static char lease_process_id[33];
static char lease_node[80];
static pthread_once_t lease_id_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t lease_takes; /* tells one process's apart */

/*
 * Names where a pid means a process: the kernel's boot id and our pid
 * namespace.  Left empty when either cannot be read, which turns off
 * the check for a holder that died.
 */
static void lease_make_node(void)
{
	char boot[40] = "", ns[32] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);

	if (f && fgets(boot, sizeof(boot), f))
		boot[strcspn(boot, "\n")] = '\0';
	if (f)
		fclose(f);
	if (n <= 0 || !*boot)
		return;
	ns[n] = '\0';
	snprintf(lease_node, sizeof(lease_node), "%s/%s", boot, ns);
}

static void lease_make_id(void)
{
	unsigned char b[16] = {0};
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n == -1) {
			/* Unique enough with the clock: the pid is logged too. */
			uint64_t t = now_monotonic_ns() ^ (uint64_t)getpid();

			memcpy(b, &t, sizeof(t));
			break;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(lease_process_id + 2 * i, 3, "%02x", b[i]);
	lease_make_node();
}

static void lease_identity(struct lease_holder *h, int64_t duration)
{
	pthread_once(&lease_id_once, lease_make_id);
	memset(h, 0, sizeof(*h));
	if (gethostname(h->host, sizeof(h->host) - 1) == -1)
		snprintf(h->host, sizeof(h->host), "unknown");
	h->pid = (long)getpid();
	memcpy(h->id, lease_process_id, sizeof(h->id));
	memcpy(h->node, lease_node, sizeof(h->node));
	h->take = atomic_fetch_add(&lease_takes, 1) + 1;
	h->started = now_seconds();
	h->expires = h->started + duration;
}

/* ---- records ---- */

static char *lease_key(const struct lease *l, uint64_t gen)
{
	return xasprintf("%s/%0*" PRIu64, l->dir, LEASE_GEN_DIGITS, gen);
}

static char *lease_record(const struct lease_holder *h, bool released)
{
	json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:b}",
			      "host", h->host, "pid", (json_int_t)h->pid, "id",
			      h->id, "node", h->node, "take",
			      (json_int_t)h->take, "started",
			      (json_int_t)h->started, "expires",
			      (json_int_t)h->expires, "released", released);
	char *text = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return text;
}

/*
 * Reads generation gen into *h and *released.  A record that does not
 * parse counts as released: put writes whole objects, so only an
 * operator's hand makes one, and a lease nobody can read must not stop
 * collection for good.
 */
static int lease_read(struct lease *l, uint64_t gen, struct lease_holder *h,
		      bool *released)
{
	struct buf b = {0};
	char *key = lease_key(l, gen);
	const char *host = "?", *id = "?", *node = "";
	json_int_t pid = 0, take = 0, started = 0, expires = 0;
	int rel = 1;
	json_t *o = NULL;
	int err = l->st->ops->get(l->st, key, LEASE_RECORD_MAX, &b);

	if (err)
		goto out;
	o = json_loadb(b.data, b.len, 0, NULL);
	if (!o || json_unpack(o, "{s:s, s:I, s:s, s?s, s:I, s:I, s:I, s:b}",
			      "host", &host, "pid", &pid, "id", &id, "node",
			      &node, "take", &take, "started", &started,
			      "expires", &expires, "released", &rel) < 0) {
		log_warn("lease record does not parse, taken as released "
			 "key=%s",
			 key);
		rel = 1;
	}
	memset(h, 0, sizeof(*h));
	snprintf(h->host, sizeof(h->host), "%s", host);
	snprintf(h->id, sizeof(h->id), "%s", id);
	snprintf(h->node, sizeof(h->node), "%s", node);
	h->pid = (long)pid;
	h->take = (uint64_t)take;
	h->started = started;
	h->expires = expires;
	h->generation = gen;
	*released = rel;
out:
	json_decref(o);
	buf_free(&b);
	free(key);
	return err;
}

/* ---- generations ---- */

struct lease_gens {
	uint64_t highest;
	uint64_t *v;
	size_t n;
};

static int on_gen(void *arg, const char *name, bool is_dir)
{
	struct lease_gens *g = arg;
	char *end;
	uint64_t gen;

	if (is_dir || strlen(name) != LEASE_GEN_DIGITS)
		return 0;
	gen = strtoull(name, &end, 10);
	if (*end || gen == 0)
		return 0;
	g->v = xrealloc(g->v, (g->n + 1) * sizeof(*g->v));
	g->v[g->n++] = gen;
	if (gen > g->highest)
		g->highest = gen;
	return 0;
}

/* Lists the generations; none (0 as the highest) when the dir is new. */
static int lease_list(struct lease *l, struct lease_gens *g)
{
	int err;

	memset(g, 0, sizeof(*g));
	err = l->st->ops->list(l->st, l->dir, on_gen, g);
	return err == -ENOENT ? 0 : err;
}

/* Removes the generations below ours: only the highest one counts. */
static void lease_prune(struct lease *l, const struct lease_gens *g)
{
	for (size_t i = 0; i < g->n; i++) {
		char *key;

		if (g->v[i] >= l->generation)
			continue;
		key = lease_key(l, g->v[i]);
		l->st->ops->remove(l->st, key);
		free(key);
	}
}

/*
 * Whether a generation above ours exists, so we lost the lease.
 * Returns 0 with *lost set, or a store error.  With prune, removes the
 * older generations when we did not lose.
 */
static int lease_check(struct lease *l, bool *lost, bool prune,
		       struct lease_holder *other)
{
	struct lease_gens g;
	bool released;
	int err = lease_list(l, &g);

	*lost = !err && g.highest > l->generation;
	if (*lost && other && lease_read(l, g.highest, other, &released)) {
		memset(other, 0, sizeof(*other));
		snprintf(other->host, sizeof(other->host), "unknown");
		other->generation = g.highest;
	}
	if (!err && !*lost && prune)
		lease_prune(l, &g);
	free(g.v);
	return err;
}

/* ---- taking ---- */

/*
 * Whether h's process is known to be gone: it ran where its pid means
 * what ours would, and no such process exists now.  A reused pid only
 * makes us wait for the lease to expire.
 */
static bool lease_holder_gone(const struct lease_holder *h)
{
	if (!*lease_node || strcmp(h->node, lease_node) || h->pid <= 0)
		return false;
	return kill((pid_t)h->pid, 0) == -1 && errno == ESRCH;
}

/*
 * Finds the generation to create: one above the highest when that is
 * released, expired, or held by a process that is gone.  Returns 0 with *next set, -EBUSY with *other
 * filled in, -EAGAIN when the highest vanished under a prune.
 */
static int lease_next(struct lease *l, uint64_t *next,
		      struct lease_holder *other)
{
	struct lease_gens g;
	bool released = true;
	int err = lease_list(l, &g);

	free(g.v);
	if (err)
		return err;
	if (g.highest) {
		err = lease_read(l, g.highest, other, &released);
		if (err == -ENOENT)
			return -EAGAIN;
		if (err)
			return err;
	}
	/* Times are whole seconds: the second of expiry still counts. */
	if (!released && other->expires >= now_seconds() &&
	    !lease_holder_gone(other))
		return -EBUSY;
	if (!released)
		log_warn("lease expired or its holder is gone, taking it over "
			 "lease=%s host=%s pid=%ld id=%s",
			 l->dir, other->host, other->pid, other->id);
	*next = g.highest + 1;
	return 0;
}

/*
 * Creates generation gen.  -EEXIST when another did first, unless the
 * record there is ours (an answer lost in transit, then a retry).
 */
static int lease_create(struct lease *l, uint64_t gen,
			struct lease_holder *other)
{
	char *key = lease_key(l, gen);
	char *text = lease_record(&l->me, false);
	bool released;
	int err = l->st->ops->put_new(l->st, key, text, strlen(text));

	if (err == -EEXIST && lease_read(l, gen, other, &released) == 0 &&
	    !strcmp(other->id, l->me.id) && other->take == l->me.take)
		err = 0;
	free(text);
	free(key);
	return err;
}

/*
 * Another created generation gen first: it holds the lease, unless it
 * released it already (then try again) or gen was pruned meanwhile.
 */
static int lease_winner(struct lease *l, uint64_t gen,
			struct lease_holder *other)
{
	bool released;
	int err = lease_read(l, gen, other, &released);

	if (err == -ENOENT || (!err && released))
		return -EAGAIN;
	return err ? err : -EBUSY;
}

/* One attempt: list, read, create, check.  As lease_take. */
static int lease_try(struct lease *l, struct lease_holder *other)
{
	uint64_t gen;
	bool lost;
	int err = lease_next(l, &gen, other);

	if (err)
		return err;
	l->generation = gen;
	l->me.generation = gen;
	err = lease_create(l, gen, other);
	if (err == -EEXIST)
		return lease_winner(l, gen, other);
	if (err)
		return err;

	err = lease_check(l, &lost, true, other);
	if (!err && lost) {
		char *key = lease_key(l, gen);
		char *text = lease_record(&l->me, true);

		/* Below the highest, nobody reads it; released is tidier. */
		l->st->ops->put(l->st, key, text, strlen(text));
		free(text);
		free(key);
		return -EBUSY;
	}
	return err;
}

/* ---- renewing ---- */

/*
 * Renews the lease: -ESTALE when it is lost.  Once the holder has gone
 * half a duration without a renewal it gives the lease up for good: by
 * the time a late renewal lands the record may have expired and been
 * taken over right after our check, which the check cannot see.
 */
static int lease_renew(struct lease *l)
{
	struct lease_holder me = l->me;
	bool lost = !lease_held(l);
	char *key, *text;
	int err = lost ? 0 : lease_check(l, &lost, false, NULL);

	if (err)
		return err;
	if (lost) {
		atomic_store(&l->lost, true);
		return -ESTALE;
	}
	me.expires = now_seconds() + l->duration;
	key = lease_key(l, l->generation);
	text = lease_record(&me, false);
	err = l->st->ops->put(l->st, key, text, strlen(text));
	if (!err)
		atomic_store(&l->renewed_ns, now_monotonic_ns());
	free(text);
	free(key);
	return err;
}

static void *lease_main(void *arg)
{
	struct lease *l = arg;
	uint64_t period_ns = (uint64_t)l->duration * 1000000000ULL / 4;
	struct timespec ts;
	int err;

	pthread_mutex_lock(&l->lock);
	while (!l->stopping && !atomic_load(&l->lost)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(period_ns / 1000000000ULL);
		ts.tv_nsec += (long)(period_ns % 1000000000ULL);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->wake, &l->lock, &ts);
		if (l->stopping)
			break;
		pthread_mutex_unlock(&l->lock);
		err = lease_renew(l);
		if (err == -ESTALE)
			log_error("lease lost, not renewed in time or taken "
				  "over, stopping lease=%s generation=%" PRIu64,
				  l->dir, l->generation);
		else if (err)
			log_error("cannot renew lease lease=%s err=\"%s\"",
				  l->dir, store_strerror(err));
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

static struct lease *lease_new(struct store *st, const char *name,
			       int64_t duration)
{
	struct lease *l = xcalloc(1, sizeof(*l));
	pthread_condattr_t ca;

	l->st = st;
	l->dir = xasprintf("%s/%s", LEASE_ROOT, name);
	l->duration = duration > 0 ? duration : 1;
	lease_identity(&l->me, l->duration);
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	return l;
}

static void lease_free(struct lease *l)
{
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l->dir);
	free(l);
}

int lease_take(struct store *st, const char *name, int64_t duration,
	       struct lease **out, struct lease_holder *other)
{
	struct lease_holder scratch;
	struct lease *l = lease_new(st, name, duration);
	int err = -EAGAIN;

	if (!other)
		other = &scratch;
	atomic_store(&l->renewed_ns, now_monotonic_ns());
	for (int i = 0; i < LEASE_TRIES && err == -EAGAIN; i++)
		err = lease_try(l, other);
	if (err == -EAGAIN)
		err = -EBUSY;
	if (!err && pthread_create(&l->thread, NULL, lease_main, l) == 0)
		l->started = true;
	else if (!err)
		err = -EAGAIN;
	if (err) {
		lease_free(l);
		return err;
	}
	log_info("lease taken lease=%s generation=%" PRIu64 " duration=%llds",
		 l->dir, l->generation, (long long)l->duration);
	*out = l;
	return 0;
}

bool lease_held(const struct lease *l)
{
	uint64_t half_ns;

	if (!l)
		return true;
	half_ns = (uint64_t)l->duration * 1000000000ULL / 2;
	if (atomic_load(&l->lost))
		return false;
	return now_monotonic_ns() - atomic_load(&l->renewed_ns) < half_ns;
}

/* Marks our generation released, unless another took the lease over. */
static void lease_release(struct lease *l)
{
	char *key, *text;
	bool lost = atomic_load(&l->lost);
	int err = lost ? 0 : lease_check(l, &lost, false, NULL);

	/* A lost lease is another's now: its record is not ours to touch. */
	if (err || lost) {
		log_warn("lease not released, it lapses when it expires "
			 "lease=%s lost=%d",
			 l->dir, lost);
		return;
	}
	key = lease_key(l, l->generation);
	text = lease_record(&l->me, true);
	err = l->st->ops->put(l->st, key, text, strlen(text));
	if (err)
		log_warn("cannot release lease, it lapses when it expires "
			 "lease=%s err=\"%s\"",
			 l->dir, store_strerror(err));
	else
		log_info("lease released lease=%s generation=%" PRIu64, l->dir,
			 l->generation);
	free(text);
	free(key);
}

void lease_drop(struct lease *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_broadcast(&l->wake);
	pthread_mutex_unlock(&l->lock);
	if (l->started)
		pthread_join(l->thread, NULL);

	lease_release(l);
	lease_free(l);
}

void lease_holder_format(const struct lease_holder *h, char *out, size_t len)
{
	char since[32], until[32];

	format_rfc3339(h->started, since);
	format_rfc3339(h->expires, until);
	snprintf(out, len, "host=%s pid=%ld id=%s since=%s until=%s", h->host,
		 h->pid, h->id, since, until);
}
