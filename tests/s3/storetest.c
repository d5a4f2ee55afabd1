/*
 * storetest.c - the S3 backend's contract, checked against a live store.
 *
 * Run by tests/s3/run.sh with S3_ENDPOINT, S3_ACCESS, S3_SECRET,
 * S3_REGION and S3_BUCKET set; every key goes below a fresh root
 * directory, so runs do not see each other.  Each check prints
 * "PASS s3:store_<name>" or "FAIL s3:store_<name>".
 */
#include "store.h"
#include "store_s3.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct store *st;
static int failed;

#define EXPECT(cond)                                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,     \
				#cond);                                        \
			return 1;                                              \
		}                                                              \
	} while (0)

static void run(const char *name, int (*fn)(void))
{
	int rc = fn();

	printf("%s s3:store_%s\n", rc ? "FAIL" : "PASS", name);
	fflush(stdout);
	failed += rc != 0;
}

static int put_get(void)
{
	struct buf b = {0};
	struct store_stat sst;

	EXPECT(st->ops->put(st, "a/b/c", "hello", 5) == 0);
	EXPECT(st->ops->get(st, "a/b/c", 100, &b) == 0);
	EXPECT(b.len == 5 && !memcmp(b.data, "hello", 5));
	b.len = 0;
	EXPECT(st->ops->get(st, "a/b/c", 4, &b) == -EFBIG);
	EXPECT(st->ops->put(st, "a/b/c", "bye", 3) == 0);
	b.len = 0;
	EXPECT(st->ops->get(st, "a/b/c", 100, &b) == 0 && b.len == 3);
	EXPECT(st->ops->get(st, "a/b/missing", 100, &b) == -ENOENT);
	EXPECT(st->ops->stat(st, "a/b/c", &sst) == 0 && sst.size == 3 &&
	       !sst.is_dir && sst.mtime > time(NULL) - 3600);
	EXPECT(st->ops->stat(st, "a/b", &sst) == 0 && sst.is_dir);
	EXPECT(st->ops->stat(st, "a/x", &sst) == -ENOENT);
	EXPECT(st->ops->put(st, "a/empty", "", 0) == 0);
	EXPECT(st->ops->stat(st, "a/empty", &sst) == 0 && sst.size == 0);
	buf_free(&b);
	return 0;
}

struct seen {
	char names[16][64];
	bool dirs[16];
	int n;
	int total;
};

static int on_name(void *arg, const char *name, bool is_dir)
{
	struct seen *s = arg;

	if (s->n < 16) {
		snprintf(s->names[s->n], 64, "%s", name);
		s->dirs[s->n++] = is_dir;
	}
	s->total++;
	return 0;
}

static bool has(const struct seen *s, const char *name, bool is_dir)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name) && s->dirs[i] == is_dir)
			return true;
	return false;
}

/* Names with characters the signature must encode in the prefix. */
static int list(void)
{
	struct seen s = {0};

	EXPECT(st->ops->put(st, "l/x y+z=~/f", "1", 1) == 0);
	EXPECT(st->ops->put(st, "l/x y+z=~/d/g", "1", 1) == 0);
	EXPECT(st->ops->put(st, "l/x y+z=~/e", "1", 1) == 0);
	EXPECT(st->ops->list(st, "l/x y+z=~", on_name, &s) == 0);
	EXPECT(s.total == 3 && has(&s, "f", false) && has(&s, "e", false) &&
	       has(&s, "d", true));
	EXPECT(st->ops->list(st, "l/none", on_name, &s) == -ENOENT);
	return 0;
}

/* More children than one page holds: continuation tokens. */
static int list_pages(void)
{
	struct seen s = {0};
	char key[64];

	for (int i = 0; i < 1003; i++) {
		snprintf(key, sizeof(key), "p/tag-%04d/link", i);
		EXPECT(st->ops->put(st, key, "x", 1) == 0);
	}
	EXPECT(st->ops->list(st, "p", on_name, &s) == 0);
	EXPECT(s.total == 1003);
	EXPECT(st->ops->remove(st, "p") == 0);
	EXPECT(st->ops->list(st, "p", on_name, &s) == -ENOENT);
	return 0;
}

static int move_remove(void)
{
	struct buf b = {0};
	struct store_stat sst;

	EXPECT(st->ops->put(st, "m/src", "moved", 5) == 0);
	EXPECT(st->ops->move(st, "m/src", "m/dst/data") == 0);
	EXPECT(st->ops->stat(st, "m/src", &sst) == -ENOENT);
	EXPECT(st->ops->get(st, "m/dst/data", 10, &b) == 0 && b.len == 5);
	EXPECT(st->ops->move(st, "m/none", "m/x") == -ENOENT);
	EXPECT(st->ops->remove(st, "m") == 0);
	EXPECT(st->ops->stat(st, "m/dst/data", &sst) == -ENOENT);
	EXPECT(st->ops->remove(st, "m") == -ENOENT);
	buf_free(&b);
	return 0;
}

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 31 + seed) ^ (i >> 9));
}

/* Reads key from offset to the end and compares with want. */
static int read_back(const char *key, uint64_t offset, const char *want,
		     size_t len)
{
	struct store_reader *r;
	char *got = malloc(len);
	size_t at = 0;
	long n;

	EXPECT(st->ops->reader_open(st, key, offset, &r) == 0);
	EXPECT(r->size == len);
	at = offset;
	while ((n = store_read(r, got + at,
			       len - at > 100000 ? 100000 : len - at)) > 0)
		at += (size_t)n;
	EXPECT(n == 0 && at == len);
	EXPECT(!memcmp(got + offset, want + offset, len - offset));
	store_reader_close(r);
	free(got);
	return 0;
}

/*
 * Appends in pieces through writers opened one after another, as upload
 * requests do, then moves the result; sizes pick the copy path (big
 * segments) or the read-through path (small ones).
 */
static int append_case(const char *key, const char *to, size_t total,
		       size_t piece)
{
	char *data = malloc(total);
	struct store_writer *w;
	struct store_stat sst;

	fill(data, total, (unsigned)piece);
	for (size_t at = 0; at < total; at += piece) {
		size_t n = total - at < piece ? total - at : piece;

		EXPECT(st->ops->writer_open(st, key, true, &w) == 0);
		EXPECT(w->size == at);
		EXPECT(store_write(w, data + at, n) == 0);
		EXPECT(store_writer_commit(w) == 0);
		store_writer_close(w);
		EXPECT(st->ops->stat(st, key, &sst) == 0 && sst.size == at + n);
	}
	EXPECT(read_back(key, 0, data, total) == 0);
	EXPECT(read_back(key, total / 3, data, total) == 0);
	EXPECT(st->ops->move(st, key, to) == 0);
	EXPECT(st->ops->stat(st, key, &sst) == -ENOENT);
	EXPECT(st->ops->stat(st, to, &sst) == 0 && sst.size == total);
	EXPECT(read_back(to, 0, data, total) == 0);
	free(data);
	return 0;
}

static int append_copy(void)
{
	return append_case("u/1/data", "b/1/data", 23 << 20, 11 << 20);
}

static int append_stream(void)
{
	return append_case("u/2/data", "b/2/data", 7 << 20, 1 << 20);
}

static int append_empty(void)
{
	struct store_writer *w;
	struct store_stat sst;

	EXPECT(st->ops->writer_open(st, "u/3/data", true, &w) == 0);
	EXPECT(w->size == 0 && store_writer_commit(w) == 0);
	store_writer_close(w);
	/* As on a filesystem: an empty upload still leaves an object. */
	EXPECT(st->ops->stat(st, "u/3/data", &sst) == 0 && sst.size == 0);
	EXPECT(read_back("u/3/data", 0, "", 0) == 0);
	EXPECT(st->ops->put(st, "u/3/data", "ab", 2) == 0);
	EXPECT(st->ops->writer_open(st, "u/3/data", true, &w) == 0);
	EXPECT(w->size == 2 && store_write(w, "c", 1) == 0);
	EXPECT(store_writer_commit(w) == 0);
	store_writer_close(w);
	EXPECT(read_back("u/3/data", 0, "abc", 3) == 0);
	return 0;
}

static int upload_dir(void)
{
	struct seen s = {0};
	struct store_writer *w;

	EXPECT(st->ops->put(st, "u/4/startedat", "t", 1) == 0);
	EXPECT(st->ops->writer_open(st, "u/4/data", true, &w) == 0);
	EXPECT(store_write(w, "xyz", 3) == 0 && store_writer_commit(w) == 0);
	store_writer_close(w);
	EXPECT(st->ops->list(st, "u/4", on_name, &s) == 0);
	EXPECT(s.total == 2 && has(&s, "data", false) &&
	       has(&s, "startedat", false));
	EXPECT(st->ops->remove(st, "u/4") == 0);
	EXPECT(st->ops->list(st, "u/4", on_name, &s) == -ENOENT);
	return 0;
}

static int reader_offsets(void)
{
	struct store_reader *r;

	EXPECT(st->ops->put(st, "r/obj", "0123456789", 10) == 0);
	EXPECT(read_back("r/obj", 7, "0123456789", 10) == 0);
	EXPECT(read_back("r/obj", 10, "0123456789", 10) == 0);
	EXPECT(st->ops->reader_open(st, "r/obj", 11, &r) == -EINVAL);
	EXPECT(st->ops->reader_open(st, "r/none", 0, &r) == -ENOENT);
	return 0;
}

#define BIG_SIZE ((48 << 20) + 12345) /* read through a stream */

/* Puts the big object, once, and returns its bytes. */
static const char *big_object(void)
{
	static char *data;

	if (!data) {
		data = malloc(BIG_SIZE);
		fill(data, BIG_SIZE, 7);
		if (st->ops->put(st, "big/obj", data, BIG_SIZE))
			return NULL;
	}
	return data;
}

/* Reads key from offset to the end in pieces of step bytes. */
static int read_steps(const char *key, uint64_t offset, const char *want,
		      size_t len, size_t step)
{
	struct store_reader *r;
	char *got = malloc(step);
	uint64_t at = offset;
	long n;

	EXPECT(st->ops->reader_open(st, key, offset, &r) == 0);
	while ((n = store_read(r, got, step)) > 0) {
		EXPECT(at + (uint64_t)n <= len);
		EXPECT(!memcmp(got, want + at, (size_t)n));
		at += (uint64_t)n;
	}
	EXPECT(n == 0 && at == len && r->offset == len);
	EXPECT(store_read(r, got, step) == 0);
	store_reader_close(r);
	free(got);
	return 0;
}

/* A big object read whole, in an HTTP response's pieces and odd ones. */
static int reader_big_whole(void)
{
	const char *data = big_object();

	EXPECT(data);
	EXPECT(read_steps("big/obj", 0, data, BIG_SIZE, 256 * 1024) == 0);
	EXPECT(read_steps("big/obj", 0, data, BIG_SIZE, 1000003) == 0);
	return 0;
}

/* Ranges: starts around the point where one request takes the rest. */
static int reader_big_offsets(void)
{
	const char *data = big_object();
	const uint64_t starts[] = {1,
				   4095,
				   (20 << 20) + 1,
				   BIG_SIZE - (1 << 20) - 1,
				   BIG_SIZE - (1 << 20),
				   BIG_SIZE - (1 << 20) + 1,
				   BIG_SIZE - 1,
				   BIG_SIZE};

	EXPECT(data);
	for (size_t i = 0; i < sizeof(starts) / sizeof(*starts); i++)
		EXPECT(read_steps("big/obj", starts[i], data, BIG_SIZE,
				  65536 + 17) == 0);
	EXPECT(read_steps("big/obj", BIG_SIZE / 2, data, BIG_SIZE, 7 << 20) ==
	       0);
	return 0;
}

/* A reader that stops for a while: the store must wait for it. */
static int reader_big_slow(void)
{
	const char *data = big_object();
	struct store_reader *r;
	char got[4096];
	uint64_t at = 8 << 20;

	EXPECT(data);
	EXPECT(st->ops->reader_open(st, "big/obj", at, &r) == 0);
	for (int i = 0; i < 4; i++) {
		long n = store_read(r, got, sizeof(got));

		EXPECT(n > 0 && !memcmp(got, data + at, (size_t)n));
		at += (uint64_t)n;
		usleep(300 * 1000);
	}
	store_reader_close(r);
	EXPECT(read_steps("big/obj", at, data, BIG_SIZE, 1 << 20) == 0);
	return 0;
}

/* How many entries a /proc/self directory has. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Readers closed after a few bytes, as when a client goes away. */
static int reader_closed_early(void)
{
	const char *data = big_object();
	struct store_reader *r;
	char got[16];
	int fds, tasks;

	EXPECT(data);
	/* The thread's kept connection is open before the count. */
	EXPECT(read_steps("big/obj", BIG_SIZE - 100, data, BIG_SIZE, 64) == 0);
	fds = count_entries("/proc/self/fd");
	tasks = count_entries("/proc/self/task");
	for (int i = 0; i < 40; i++) {
		EXPECT(st->ops->reader_open(st, "big/obj", (uint64_t)i * 1000,
					    &r) == 0);
		EXPECT(store_read(r, got, sizeof(got)) == sizeof(got));
		EXPECT(!memcmp(got, data + i * 1000, sizeof(got)));
		store_reader_close(r);
	}
	EXPECT(st->ops->reader_open(st, "big/obj", 0, &r) == 0);
	store_reader_close(r);
	/* Each stream's connection went with it: no descriptor stays. */
	EXPECT(count_entries("/proc/self/fd") == fds);
	EXPECT(count_entries("/proc/self/task") == tasks);
	return 0;
}

/* Create-only-if-absent: a conditional PUT the gateway must honour. */
static int put_new(void)
{
	struct buf b = {0};

	EXPECT(st->ops->put_new(st, "new/one", "first", 5) == 0);
	EXPECT(st->ops->put_new(st, "new/one", "second", 6) == -EEXIST);
	EXPECT(st->ops->get(st, "new/one", 100, &b) == 0);
	EXPECT(b.len == 5 && !memcmp(b.data, "first", 5));
	EXPECT(st->ops->remove(st, "new/one") == 0);
	EXPECT(st->ops->put_new(st, "new/one", "third", 5) == 0);
	b.len = 0;
	EXPECT(st->ops->get(st, "new/one", 100, &b) == 0);
	EXPECT(b.len == 5 && !memcmp(b.data, "third", 5));
	buf_free(&b);
	return 0;
}

struct racer {
	pthread_barrier_t *start;
	int result;
};

static void *put_new_racer(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	r->result = st->ops->put_new(st, "new/raced", "x", 1);
	return NULL;
}

/* Of several racing creators exactly one wins; the rest get -EEXIST. */
static int put_new_race(void)
{
	enum { RACERS = 6 };
	pthread_barrier_t start;
	struct racer r[RACERS];
	pthread_t t[RACERS];
	int won = 0, lost = 0;

	pthread_barrier_init(&start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){&start, -1};
		pthread_create(&t[i], NULL, put_new_racer, &r[i]);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		won += r[i].result == 0;
		lost += r[i].result == -EEXIST;
	}
	pthread_barrier_destroy(&start);
	EXPECT(won == 1 && lost == RACERS - 1);
	return 0;
}

static int check(void)
{
	EXPECT(st->ops->check(st) == 0);
	return 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v) {
		fprintf(stderr, "storetest: %s is not set\n", name);
		exit(2);
	}
	return v;
}

int main(void)
{
	struct store_s3_options o = {0};
	char root[64], err[256];

	snprintf(root, sizeof(root), "storetest-%ld-%d", (long)time(NULL),
		 (int)getpid());
	o.s3.endpoint = env("S3_ENDPOINT");
	o.s3.accesskey = env("S3_ACCESS");
	o.s3.secretkey = env("S3_SECRET");
	o.s3.region = env("S3_REGION");
	o.s3.bucket = env("S3_BUCKET");
	o.rootdirectory = root;
	o.chunksize = 5 << 20;
	if (store_s3_open(&o, &st, err, sizeof(err))) {
		fprintf(stderr, "storetest: %s\n", err);
		return 2;
	}

	run("check", check);
	run("put_get", put_get);
	run("list", list);
	run("list_pages", list_pages);
	run("move_remove", move_remove);
	run("reader_offsets", reader_offsets);
	run("append_copy", append_copy);
	run("append_stream", append_stream);
	run("append_empty", append_empty);
	run("upload_dir", upload_dir);
	run("reader_big_whole", reader_big_whole);
	run("reader_big_offsets", reader_big_offsets);
	run("reader_big_slow", reader_big_slow);
	run("reader_closed_early", reader_closed_early);
	run("put_new", put_new);
	run("put_new_race", put_new_race);
	st->ops->close(st);
	return failed ? 1 : 0;
}
