/*
 * metrics.c - lock-free counters behind metrics.h, rendered on demand.
 *
 * Labelled series live in fixed tables indexed by a hash of their label
 * text.  A request thread finds its series by probing; the first thread
 * to need a new one claims an empty slot with a compare-and-swap, writes
 * the labels and then publishes the slot, so lookups never take a lock
 * and a slot, once published, never changes its labels.  When a table is
 * full a reserved overflow series (route="overflow") takes the counts,
 * which keeps totals right and shows that the table needs to grow.
 *
 * Process figures (memory, descriptors, CPU) are read from /proc/self and
 * getrusage at render time: they cost nothing between scrapes.
 */
#include "metrics.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

#define ROUTE_MAX 32
#define KEY_MAX 96
#define REQUEST_SLOTS 512 /* powers of two: the hash is masked */
#define DURATION_SLOTS 64
#define COLLECTORS_MAX 8

/* Upper bounds of the latency buckets, in seconds: from a cached manifest
 * HEAD to a multi-gigabyte layer upload. */
static const double duration_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};

#define NBOUNDS 14
_Static_assert(sizeof(duration_bounds) == NBOUNDS * sizeof(double),
	       "NBOUNDS counts duration_bounds");

enum slot_state { SLOT_EMPTY = 0, SLOT_CLAIMED, SLOT_READY };

/*
 * One labelled series.  v[] holds a counter in v[0], or a histogram's
 * per-bucket (not cumulative) counts with the last one for +Inf, then
 * the sum in nanoseconds at v[NBOUNDS + 1].
 */
struct slot {
	int state;
	char key[KEY_MAX]; /* the labels as rendered: a="x",b="y" */
	uint64_t v[NBOUNDS + 2];
};

struct table {
	size_t cap;
	struct slot *slots;
	struct slot overflow;
};

static struct slot request_slots[REQUEST_SLOTS];
static struct slot duration_slots[DURATION_SLOTS];
static struct table requests = {
	REQUEST_SLOTS,
	request_slots,
	{SLOT_READY, "route=\"overflow\",method=\"OTHER\",status=\"0\"", {0}},
};
static struct table durations = {
	DURATION_SLOTS,
	duration_slots,
	{SLOT_READY, "route=\"overflow\"", {0}},
};

static uint64_t bytes_received;
static uint64_t bytes_sent;
static int64_t uploads_in_flight;
static uint64_t auth_failures;
static uint64_t gc_runs_ok;
static uint64_t gc_runs_failed;
static uint64_t gc_freed_blobs;
static uint64_t gc_freed_bytes;
static int64_t gc_last_run;

/* The storage gauges change rarely; a lock keeps count and delta apart. */
static pthread_mutex_t storage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t blobs, bytes;		      /* what is exported */
	int64_t pending_blobs, pending_bytes; /* changes during a count */
	bool counting;
	bool known; /* a count has finished */
	int64_t counted_at;
} storage;

static pthread_rwlock_t collectors_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct {
	metrics_collector_fn fn;
	void *arg;
} collectors[COLLECTORS_MAX];

#define ADD(p, n) __atomic_add_fetch((p), (n), __ATOMIC_RELAXED)
#define GET(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* ---- labelled series ------------------------------------------------- */

static uint32_t key_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Waits for a slot another thread is filling in, then reads its state. */
static int slot_wait(struct slot *s)
{
	int state;

	while ((state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE)) ==
	       SLOT_CLAIMED)
		sched_yield();
	return state;
}

/* Returns the series for key, creating it when there is room. */
static struct slot *table_get(struct table *t, const char *key)
{
	size_t mask = t->cap - 1;
	size_t i = key_hash(key) & mask;

	for (size_t probes = 0; probes < t->cap; probes++, i = (i + 1) & mask) {
		struct slot *s = &t->slots[i];
		int state = slot_wait(s);
		int empty = SLOT_EMPTY;

		if (state == SLOT_EMPTY &&
		    __atomic_compare_exchange_n(&s->state, &empty, SLOT_CLAIMED,
						false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			snprintf(s->key, sizeof(s->key), "%s", key);
			__atomic_store_n(&s->state, SLOT_READY,
					 __ATOMIC_RELEASE);
			return s;
		}
		if (slot_wait(s) == SLOT_READY && !strcmp(s->key, key))
			return s;
	}
	return &t->overflow;
}

/* A route as a label: [a-z0-9_]{1,32}, or "other". */
static const char *route_label(const char *route)
{
	size_t n = route ? strlen(route) : 0;

	if (n == 0 || n > ROUTE_MAX)
		return "other";
	for (size_t i = 0; i < n; i++) {
		char c = route[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return "other";
	}
	return route;
}

static const char *method_label(const char *method)
{
	static const char *const known[] = {
		"GET",	 "HEAD",   "PUT",     "POST",
		"PATCH", "DELETE", "OPTIONS", NULL,
	};

	for (int i = 0; method && known[i]; i++)
		if (!strcmp(method, known[i]))
			return known[i];
	return "OTHER";
}

static size_t duration_bucket(double seconds)
{
	size_t i = 0;

	while (i < NBOUNDS && seconds > duration_bounds[i])
		i++;
	return i;
}

void metrics_observe_request(const char *route, const char *method, int status,
			     uint64_t bytes_in, uint64_t bytes_out,
			     double seconds)
{
	const char *r = route_label(route);
	char key[KEY_MAX];
	struct slot *s;

	if (status < 100 || status > 599)
		status = 0;
	if (!(seconds >= 0)) /* also catches NaN */
		seconds = 0;
	if (seconds > 1e9) /* keeps the nanosecond sum in range */
		seconds = 1e9;

	snprintf(key, sizeof(key), "route=\"%s\",method=\"%s\",status=\"%d\"",
		 r, method_label(method), status);
	ADD(&table_get(&requests, key)->v[0], 1);

	snprintf(key, sizeof(key), "route=\"%s\"", r);
	s = table_get(&durations, key);
	ADD(&s->v[duration_bucket(seconds)], 1);
	ADD(&s->v[NBOUNDS + 1], (uint64_t)(seconds * 1e9));

	ADD(&bytes_received, bytes_in);
	ADD(&bytes_sent, bytes_out);
}

/* ---- plain values ---------------------------------------------------- */

void metrics_upload_begin(void)
{
	ADD(&uploads_in_flight, 1);
}

void metrics_upload_end(void)
{
	ADD(&uploads_in_flight, -1);
}

void metrics_auth_failure(void)
{
	ADD(&auth_failures, 1);
}

void metrics_gc_run(bool ok, uint64_t blobs, uint64_t bytes)
{
	ADD(ok ? &gc_runs_ok : &gc_runs_failed, 1);
	ADD(&gc_freed_blobs, blobs);
	ADD(&gc_freed_bytes, bytes);
	__atomic_store_n(&gc_last_run, now_seconds(), __ATOMIC_RELAXED);
	metrics_storage_add(-(int64_t)blobs, -(int64_t)bytes);
}

void metrics_storage_add(int64_t blobs, int64_t bytes)
{
	pthread_mutex_lock(&storage_lock);
	storage.blobs += blobs;
	storage.bytes += bytes;
	if (storage.counting) {
		storage.pending_blobs += blobs;
		storage.pending_bytes += bytes;
	}
	pthread_mutex_unlock(&storage_lock);
}

void metrics_storage_count_begin(void)
{
	pthread_mutex_lock(&storage_lock);
	storage.counting = true;
	storage.pending_blobs = 0;
	storage.pending_bytes = 0;
	pthread_mutex_unlock(&storage_lock);
}

void metrics_storage_set(uint64_t blobs, uint64_t bytes, int64_t when)
{
	pthread_mutex_lock(&storage_lock);
	storage.blobs = (int64_t)blobs + storage.pending_blobs;
	storage.bytes = (int64_t)bytes + storage.pending_bytes;
	storage.counting = false;
	storage.pending_blobs = 0;
	storage.pending_bytes = 0;
	storage.known = true;
	storage.counted_at = when;
	pthread_mutex_unlock(&storage_lock);
}

/* ---- collectors ------------------------------------------------------ */

int metrics_add_collector(metrics_collector_fn fn, void *arg)
{
	int rc = -ENOSPC;

	pthread_rwlock_wrlock(&collectors_lock);
	for (int i = 0; i < COLLECTORS_MAX; i++) {
		if (!collectors[i].fn) {
			collectors[i].fn = fn;
			collectors[i].arg = arg;
			rc = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&collectors_lock);
	return rc;
}

void metrics_remove_collector(metrics_collector_fn fn, void *arg)
{
	pthread_rwlock_wrlock(&collectors_lock);
	for (int i = 0; i < COLLECTORS_MAX; i++) {
		if (collectors[i].fn == fn && collectors[i].arg == arg) {
			collectors[i].fn = NULL;
			collectors[i].arg = NULL;
		}
	}
	pthread_rwlock_unlock(&collectors_lock);
}

/* ---- rendering ------------------------------------------------------- */

void metrics_family(struct buf *out, const char *name, const char *type,
		    const char *help)
{
	buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_label_value(struct buf *out, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			buf_addf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_adds(out, "\\n");
		else
			buf_add(out, p, 1);
	}
}

/* A whole number: counters and most gauges, exact at any size. */
static void render_scalar(struct buf *out, const char *name, const char *type,
			  const char *help, int64_t value)
{
	metrics_family(out, name, type, help);
	buf_addf(out, "%s %lld\n", name, (long long)value);
}

/* Seconds, to the microsecond. */
static void render_seconds(struct buf *out, const char *name, const char *type,
			   const char *help, double value)
{
	metrics_family(out, name, type, help);
	buf_addf(out, "%s %.6f\n", name, value);
}

static void render_requests(struct buf *out)
{
	metrics_family(out, "berth_http_requests_total", "counter",
		       "Requests answered, by route, method and status.");
	for (size_t i = 0; i <= requests.cap; i++) {
		struct slot *s = i < requests.cap ? &requests.slots[i]
						  : &requests.overflow;
		uint64_t n = GET(&s->v[0]);

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) !=
			    SLOT_READY ||
		    n == 0)
			continue;
		buf_addf(out, "berth_http_requests_total{%s} %llu\n", s->key,
			 (unsigned long long)n);
	}
}

static void render_histogram(struct buf *out, const struct slot *s)
{
	const char *name = "berth_http_request_duration_seconds";
	uint64_t cumulative = 0;

	for (size_t b = 0; b <= NBOUNDS; b++) {
		cumulative += GET(&s->v[b]);
		if (b < NBOUNDS)
			buf_addf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name,
				 s->key, duration_bounds[b],
				 (unsigned long long)cumulative);
		else
			buf_addf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name,
				 s->key, (unsigned long long)cumulative);
	}
	buf_addf(out, "%s_sum{%s} %.9f\n", name, s->key,
		 (double)GET(&s->v[NBOUNDS + 1]) / 1e9);
	buf_addf(out, "%s_count{%s} %llu\n", name, s->key,
		 (unsigned long long)cumulative);
}

static void render_durations(struct buf *out)
{
	metrics_family(out, "berth_http_request_duration_seconds", "histogram",
		       "Time from request line to last byte, by route.");
	for (size_t i = 0; i <= durations.cap; i++) {
		struct slot *s = i < durations.cap ? &durations.slots[i]
						   : &durations.overflow;
		uint64_t any = 0;

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_READY)
			continue;
		for (size_t b = 0; b <= NBOUNDS; b++)
			any += GET(&s->v[b]);
		if (any)
			render_histogram(out, s);
	}
}

static void render_http(struct buf *out)
{
	render_requests(out);
	render_durations(out);
	render_scalar(out, "berth_http_bytes_received_total", "counter",
		      "Request body bytes received.",
		      (int64_t)GET(&bytes_received));
	render_scalar(out, "berth_http_bytes_sent_total", "counter",
		      "Response body bytes sent.", (int64_t)GET(&bytes_sent));
	render_scalar(out, "berth_uploads_in_flight", "gauge",
		      "Upload requests receiving their body now.",
		      GET(&uploads_in_flight));
	render_scalar(out, "berth_auth_failures_total", "counter",
		      "Requests refused for missing or wrong credentials "
		      "or lacking permission.",
		      (int64_t)GET(&auth_failures));
}

static void render_gc(struct buf *out)
{
	metrics_family(out, "berth_gc_runs_total", "counter",
		       "Garbage-collection runs, by result.");
	buf_addf(out, "berth_gc_runs_total{result=\"ok\"} %llu\n",
		 (unsigned long long)GET(&gc_runs_ok));
	buf_addf(out, "berth_gc_runs_total{result=\"failed\"} %llu\n",
		 (unsigned long long)GET(&gc_runs_failed));
	render_scalar(out, "berth_gc_freed_blobs_total", "counter",
		      "Blobs removed by garbage collection.",
		      (int64_t)GET(&gc_freed_blobs));
	render_scalar(out, "berth_gc_freed_bytes_total", "counter",
		      "Bytes removed by garbage collection.",
		      (int64_t)GET(&gc_freed_bytes));
	render_scalar(out, "berth_gc_last_run_timestamp_seconds", "gauge",
		      "When the last garbage collection ended (0: never).",
		      GET(&gc_last_run));
}

/* Until a first count has finished the gauges are unknown: left out. */
static void render_storage(struct buf *out)
{
	int64_t blobs, bytes, at;
	bool known;

	pthread_mutex_lock(&storage_lock);
	blobs = storage.blobs;
	bytes = storage.bytes;
	at = storage.counted_at;
	known = storage.known;
	pthread_mutex_unlock(&storage_lock);

	if (!known)
		return;
	render_scalar(out, "berth_storage_blobs", "gauge",
		      "Blobs in the store.", blobs);
	render_scalar(out, "berth_storage_bytes", "gauge",
		      "Bytes of blobs in the store.", bytes);
	render_scalar(out, "berth_storage_counted_timestamp_seconds", "gauge",
		      "When the store's blobs were last counted in full.", at);
}

static void render_collectors(struct buf *out)
{
	pthread_rwlock_rdlock(&collectors_lock);
	for (int i = 0; i < COLLECTORS_MAX; i++)
		if (collectors[i].fn)
			collectors[i].fn(collectors[i].arg, out);
	pthread_rwlock_unlock(&collectors_lock);
}

/* ---- the process ----------------------------------------------------- */

/* Open descriptors, not counting the one used to list them. */
static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* The first line of a /proc file into line; false if unreadable. */
static bool read_line(const char *path, char *line, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(line, (int)len, f) != NULL;
	fclose(f);
	return ok;
}

/* When the system booted, from /proc/stat's "btime" line, or 0. */
static unsigned long long boot_time(void)
{
	unsigned long long btime = 0;
	FILE *f = fopen("/proc/stat", "re");
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "btime ", 6))
			btime = strtoull(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return btime;
}

/* Seconds since the epoch at which this process started, or 0. */
static double start_time(void)
{
	char line[1024], *p, *save = NULL;
	unsigned long long ticks = 0, btime = boot_time();
	int field = 2;

	/* The command name (field 2) may hold spaces: count after it.
	 * starttime is field 22, in clock ticks since boot. */
	p = read_line("/proc/self/stat", line, sizeof(line))
		    ? strrchr(line, ')')
		    : NULL;
	for (p = p ? strtok_r(p + 1, " ", &save) : NULL; p;
	     p = strtok_r(NULL, " ", &save))
		if (++field == 22)
			ticks = strtoull(p, NULL, 10);
	if (!btime || !ticks)
		return 0;
	return (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

static void render_process(struct buf *out)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long vsz = 0, rss = 0;
	struct rlimit rl;
	struct rusage ru;
	char line[256], *end;
	long fds = count_fds();

	/* statm: total and resident size, in pages. */
	if (read_line("/proc/self/statm", line, sizeof(line))) {
		vsz = strtoull(line, &end, 10);
		rss = strtoull(end, NULL, 10);
	}
	render_scalar(out, "process_resident_memory_bytes", "gauge",
		      "Resident memory size in bytes.",
		      (int64_t)(rss * (unsigned long long)page));
	render_scalar(out, "process_virtual_memory_bytes", "gauge",
		      "Virtual memory size in bytes.",
		      (int64_t)(vsz * (unsigned long long)page));
	if (fds >= 0)
		render_scalar(out, "process_open_fds", "gauge",
			      "Open file descriptors.", fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		render_scalar(out, "process_max_fds", "gauge",
			      "Limit on open file descriptors.",
			      (int64_t)rl.rlim_cur);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		render_seconds(out, "process_cpu_seconds_total", "counter",
			       "User and system CPU time spent, in seconds.",
			       (double)ru.ru_utime.tv_sec +
				       (double)ru.ru_stime.tv_sec +
				       (ru.ru_utime.tv_usec +
					ru.ru_stime.tv_usec) /
					       1e6);
	render_seconds(out, "process_start_time_seconds", "gauge",
		       "Start time of the process since the epoch, in seconds.",
		       start_time());
}

void metrics_render(struct buf *out)
{
	metrics_family(out, "berth_build_info", "gauge",
		       "The running berth's version; always 1.");
	buf_adds(out, "berth_build_info{version=\"");
	metrics_label_value(out, BERTH_VERSION);
	buf_adds(out, "\"} 1\n");

	render_http(out);
	render_storage(out);
	render_gc(out);
	render_collectors(out);
	render_process(out);
}
