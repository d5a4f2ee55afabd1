/*
 * test_store.c - the filesystem store: what lands on disk, atomic and
 * bounded reads and writes, keys that cannot leave the root, and full or
 * read-only filesystems (in a private mount namespace, when the kernel
 * lets an unprivileged process have one).
 */
#include "check.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/berth-test-store-XXXXXX";
static char rootdir[256];
static struct store *st;

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh, empty store for each test, in a directory open must create. */
static void setup(void)
{
	rm_tree(rootdir);
	CHECK(store_fs_open(rootdir, &st) == 0);
}

static void teardown(void)
{
	st->ops->close(st);
	st = NULL;
}

static char *path_of(const char *key)
{
	return xasprintf("%s/%s", rootdir, key);
}

static int temps_found;

static int count_temp(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	if (strncmp(path + ftw->base, ".tmp-", 5) == 0)
		temps_found++;
	return 0;
}

/* Temporary files anywhere below dir. */
static int count_temps(const char *dir)
{
	temps_found = 0;
	nftw(dir, count_temp, 16, FTW_PHYS);
	return temps_found;
}

static bool get_is(const char *key, const char *want)
{
	struct buf b = BUF_INIT;
	bool ok;

	ok = st->ops->get(st, key, 1 << 20, &b) == 0 && b.len == strlen(want) &&
	     memcmp(b.data, want, b.len) == 0;
	buf_free(&b);
	return ok;
}

static int put_str(const char *key, const char *s)
{
	return st->ops->put(st, key, s, strlen(s));
}

static int mode_of(const char *key)
{
	struct stat sb;
	char *p = path_of(key);
	int r = stat(p, &sb);

	free(p);
	return r == -1 ? -1 : (int)(sb.st_mode & 07777);
}

static void test_open_creates_root(void)
{
	struct stat sb;

	setup();
	CHECK(stat(rootdir, &sb) == 0 && S_ISDIR(sb.st_mode));
	CHECK((sb.st_mode & 07777) == 0755);
	CHECK(st->ops->check(st) == 0);
	CHECK(count_temps(rootdir) == 0);
	teardown();

	/* Opening an existing root with a trailing slash works too. */
	char *slashed = xasprintf("%s/", rootdir);
	CHECK(store_fs_open(slashed, &st) == 0);
	free(slashed);
	CHECK(put_str("x", "1") == 0);
	CHECK(get_is("x", "1"));
	teardown();

	/* A root that is a file is refused. */
	char *file = xasprintf("%s/x", rootdir);
	struct store *s2 = NULL;
	CHECK(store_fs_open(file, &s2) == -ENOTDIR);
	CHECK(store_fs_open("", &s2) == -EINVAL);
	CHECK(s2 == NULL);
	free(file);
}

static void test_put_get(void)
{
	struct buf b = BUF_INIT;
	char disk[64];
	char *p;
	int fd;
	ssize_t n;

	setup();
	CHECK(put_str("a/b/c", "hello") == 0);
	CHECK(get_is("a/b/c", "hello"));

	/* A plain file holding exactly the bytes, as registry:2 keeps it. */
	p = path_of("a/b/c");
	fd = open(p, O_RDONLY);
	n = read(fd, disk, sizeof(disk));
	CHECK(n == 5 && memcmp(disk, "hello", 5) == 0);
	close(fd);
	free(p);
	CHECK(mode_of("a/b/c") == 0644);
	CHECK(mode_of("a/b") == 0755);
	CHECK(mode_of("a") == 0755);

	/* get appends to what the buffer holds. */
	buf_adds(&b, "x:");
	CHECK(st->ops->get(st, "a/b/c", 100, &b) == 0);
	CHECK_STR(b.data, "x:hello");
	buf_free(&b);

	/* Zero-length and binary objects. */
	CHECK(st->ops->put(st, "empty", "", 0) == 0);
	CHECK(get_is("empty", ""));
	CHECK(st->ops->put(st, "bin", "a\0b\n", 4) == 0);
	CHECK(st->ops->get(st, "bin", 4, &b) == 0);
	CHECK(b.len == 4 && memcmp(b.data, "a\0b\n", 4) == 0);
	buf_free(&b);

	CHECK(count_temps(rootdir) == 0);
	teardown();
}

static void test_put_respects_umask(void)
{
	mode_t old = umask(027);

	setup();
	CHECK(put_str("u/v", "x") == 0);
	CHECK(mode_of("u/v") == 0640);
	CHECK(mode_of("u") == 0750);
	teardown();
	umask(old);
}

static void test_put_overwrite(void)
{
	struct stat before, after;
	char *p;

	setup();
	CHECK(put_str("k/link", "sha256:old-and-longer") == 0);
	p = path_of("k/link");
	CHECK(stat(p, &before) == 0);
	CHECK(put_str("k/link", "sha256:new") == 0);
	CHECK(get_is("k/link", "sha256:new"));

	/* Replaced by rename, not rewritten in place: a new inode. */
	CHECK(stat(p, &after) == 0);
	CHECK(before.st_ino != after.st_ino);
	CHECK(count_temps(rootdir) == 0);
	free(p);

	/* A directory cannot be overwritten by an object. */
	CHECK(put_str("k/dir/x", "1") == 0);
	CHECK(put_str("k/dir", "2") < 0);
	CHECK(get_is("k/dir/x", "1"));
	CHECK(count_temps(rootdir) == 0);
	teardown();
}

static void test_get_max(void)
{
	char data[100];
	struct buf b = BUF_INIT;

	setup();
	memset(data, 'z', sizeof(data));
	CHECK(st->ops->put(st, "m", data, sizeof(data)) == 0);

	buf_adds(&b, "keep");
	CHECK(st->ops->get(st, "m", 99, &b) == -EFBIG);
	CHECK_STR(b.data, "keep");
	CHECK(st->ops->get(st, "m", 100, &b) == 0);
	CHECK(b.len == 104);
	buf_free(&b);
	teardown();
}

static void test_missing(void)
{
	struct buf b = BUF_INIT;
	struct store_stat ss;
	struct store_reader *r = NULL;

	setup();
	CHECK(st->ops->get(st, "no/such", 10, &b) == -ENOENT);
	CHECK(st->ops->stat(st, "no/such", &ss) == -ENOENT);
	CHECK(st->ops->reader_open(st, "nope", 0, &r) == -ENOENT);
	CHECK(st->ops->remove(st, "no/such") == -ENOENT);
	CHECK(st->ops->remove(st, "nope") == -ENOENT);
	CHECK(st->ops->move(st, "nope", "dest") == -ENOENT);
	CHECK(r == NULL);

	/* A path running through an object names nothing either. */
	CHECK(put_str("f", "file") == 0);
	CHECK(st->ops->get(st, "f/g", 10, &b) == -ENOENT);
	CHECK(st->ops->stat(st, "f/g", &ss) == -ENOENT);
	CHECK(st->ops->remove(st, "f/g") == -ENOENT);

	/* Reading a directory as an object is refused. */
	CHECK(put_str("d/x", "1") == 0);
	CHECK(st->ops->get(st, "d", 10, &b) == -EISDIR);
	CHECK(st->ops->reader_open(st, "d", 0, &r) == -EISDIR);
	CHECK(b.len == 0);
	teardown();
}

static void test_stat(void)
{
	struct store_stat ss;
	int64_t now = (int64_t)time(NULL);

	setup();
	CHECK(put_str("s/obj", "12345") == 0);
	CHECK(st->ops->stat(st, "s/obj", &ss) == 0);
	CHECK(ss.size == 5 && !ss.is_dir);
	CHECK(ss.mtime >= now - 5 && ss.mtime <= now + 5);

	CHECK(st->ops->stat(st, "s", &ss) == 0);
	CHECK(ss.is_dir && ss.size == 0);
	teardown();
}

struct listing {
	char names[16][32];
	bool dirs[16];
	int n;
	int stop_after; /* 0: never stop */
};

static int on_name(void *arg, const char *name, bool is_dir)
{
	struct listing *l = arg;

	if (l->n < 16) {
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
		l->dirs[l->n] = is_dir;
	}
	l->n++;
	return l->stop_after && l->n >= l->stop_after;
}

/* Index of name in l, or -1. */
static int listed(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->n && i < 16; i++)
		if (strcmp(l->names[i], name) == 0)
			return i;
	return -1;
}

static void test_list(void)
{
	struct listing l = {0};
	char *tmp;
	int fd, i;

	setup();
	CHECK(put_str("tags/latest/current/link", "a") == 0);
	CHECK(put_str("tags/v1/current/link", "b") == 0);
	CHECK(put_str("tags/file", "c") == 0);

	/* A leftover temporary file, as a crash mid-put would leave. */
	tmp = path_of("tags/.tmp-1-00-7");
	fd = open(tmp, O_WRONLY | O_CREAT, 0644);
	CHECK(fd != -1);
	close(fd);
	free(tmp);

	CHECK(st->ops->list(st, "tags", on_name, &l) == 0);
	CHECK(l.n == 3);
	i = listed(&l, "latest");
	CHECK(i >= 0 && l.dirs[i]);
	i = listed(&l, "v1");
	CHECK(i >= 0 && l.dirs[i]);
	i = listed(&l, "file");
	CHECK(i >= 0 && !l.dirs[i]);

	/* The callback can stop the walk early. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	CHECK(st->ops->list(st, "tags", on_name, &l) == 0);
	CHECK(l.n == 1);

	/* Listing nothing and listing an object. */
	memset(&l, 0, sizeof(l));
	CHECK(st->ops->list(st, "none", on_name, &l) == -ENOENT);
	CHECK(st->ops->list(st, "tags/file", on_name, &l) == -ENOENT);
	CHECK(l.n == 0);

	/* An empty directory lists nothing, successfully. */
	CHECK(st->ops->remove(st, "tags/v1/current/link") == 0);
	CHECK(st->ops->list(st, "tags/v1/current", on_name, &l) == 0);
	CHECK(l.n == 0);
	teardown();
}

static void test_invalid_keys(void)
{
	const char *bad[] = {
		"",	"/",   "/abs",	     "trail/",	       "a//b",
		".",	"..",  "../escape",  "a/../../escape", "a/./b",
		"a/..", "./a", ".tmp-1-2-3", "a/.tmp-x",
	};
	struct store_reader *r = NULL;
	struct store_writer *w = NULL;
	struct store_stat ss;
	struct listing l = {0};
	struct buf b = BUF_INIT;
	struct stat sb;
	char *outside;

	setup();
	CHECK(put_str("ok", "1") == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *k = bad[i];

		CHECK(st->ops->put(st, k, "x", 1) == -EINVAL);
		CHECK(st->ops->get(st, k, 10, &b) == -EINVAL);
		CHECK(st->ops->stat(st, k, &ss) == -EINVAL);
		CHECK(st->ops->list(st, k, on_name, &l) == -EINVAL);
		CHECK(st->ops->remove(st, k) == -EINVAL);
		CHECK(st->ops->move(st, "ok", k) == -EINVAL);
		CHECK(st->ops->move(st, k, "ok2") == -EINVAL);
		CHECK(st->ops->reader_open(st, k, 0, &r) == -EINVAL);
		CHECK(st->ops->writer_open(st, k, true, &w) == -EINVAL);
	}
	CHECK(st->ops->put(st, NULL, "x", 1) == -EINVAL);
	CHECK(r == NULL && w == NULL && l.n == 0 && b.len == 0);

	/* Nothing was written outside the root or changed inside it. */
	outside = xasprintf("%s/root/escape", tmpdir);
	CHECK(stat(outside, &sb) == -1 && errno == ENOENT);
	free(outside);
	CHECK(get_is("ok", "1"));
	teardown();
}

static void test_move(void)
{
	struct buf b = BUF_INIT;

	setup();
	CHECK(put_str("up/id/data", "blob bytes") == 0);
	CHECK(st->ops->move(st, "up/id/data", "blobs/sha256/ab/abc/data") == 0);
	CHECK(get_is("blobs/sha256/ab/abc/data", "blob bytes"));
	CHECK(st->ops->get(st, "up/id/data", 100, &b) == -ENOENT);
	CHECK(mode_of("blobs/sha256/ab/abc") == 0755);

	/* An existing target is replaced. */
	CHECK(put_str("src", "new") == 0);
	CHECK(put_str("dst", "old") == 0);
	CHECK(st->ops->move(st, "src", "dst") == 0);
	CHECK(get_is("dst", "new"));

	/* A missing source leaves the target alone. */
	CHECK(st->ops->move(st, "src", "dst") == -ENOENT);
	CHECK(get_is("dst", "new"));

	/* Directories move whole. */
	CHECK(put_str("t1/a/b", "deep") == 0);
	CHECK(st->ops->move(st, "t1/a", "t2/x/a") == 0);
	CHECK(get_is("t2/x/a/b", "deep"));
	CHECK(count_temps(rootdir) == 0);
	teardown();
}

static void test_remove(void)
{
	struct store_stat ss;

	setup();
	CHECK(put_str("r/one", "1") == 0);
	CHECK(put_str("r/sub/two", "2") == 0);
	CHECK(put_str("r/sub/deeper/three", "3") == 0);
	CHECK(put_str("keep/x", "x") == 0);

	/* A single object; its directory stays. */
	CHECK(st->ops->remove(st, "r/one") == 0);
	CHECK(st->ops->stat(st, "r/one", &ss) == -ENOENT);
	CHECK(st->ops->stat(st, "r", &ss) == 0 && ss.is_dir);

	/* A subtree. */
	CHECK(st->ops->remove(st, "r") == 0);
	CHECK(st->ops->stat(st, "r", &ss) == -ENOENT);
	CHECK(st->ops->remove(st, "r") == -ENOENT);
	CHECK(get_is("keep/x", "x"));
	teardown();
}

/* A symbolic link inside the tree is removed, not what it points to. */
static void test_remove_does_not_follow_links(void)
{
	char *target = xasprintf("%s/precious", tmpdir);
	char *link = NULL;
	struct stat sb;
	int fd;

	setup();
	mkdir(target, 0755);
	link = xasprintf("%s/file", target);
	fd = open(link, O_WRONLY | O_CREAT, 0644);
	CHECK(fd != -1);
	close(fd);
	free(link);
	CHECK(put_str("dir/x", "1") == 0);
	link = path_of("dir/link");
	CHECK(symlink(target, link) == 0);

	CHECK(st->ops->remove(st, "dir") == 0);
	CHECK(lstat(link, &sb) == -1);
	free(link);
	link = xasprintf("%s/file", target);
	CHECK(stat(link, &sb) == 0);
	free(link);
	rm_tree(target);
	free(target);
	teardown();
}

static void test_reader(void)
{
	struct store_reader *r = NULL;
	char buf[32];
	long n;
	int fd;

	setup();
	CHECK(put_str("obj", "0123456789") == 0);

	CHECK(st->ops->reader_open(st, "obj", 0, &r) == 0);
	CHECK(r->size == 10 && r->offset == 0);
	n = store_read(r, buf, sizeof(buf));
	CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0);
	CHECK(r->offset == 10);
	CHECK(store_read(r, buf, sizeof(buf)) == 0);
	store_reader_close(r);

	/* At an offset, through read and through the descriptor. */
	CHECK(st->ops->reader_open(st, "obj", 4, &r) == 0);
	CHECK(r->size == 10 && r->offset == 4);
	fd = store_reader_fd(r);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_CUR) == 4);
	n = store_read(r, buf, 3);
	CHECK(n == 3 && memcmp(buf, "456", 3) == 0 && r->offset == 7);
	CHECK(pread(fd, buf, 2, 8) == 2 && memcmp(buf, "89", 2) == 0);
	store_reader_close(r);

	/* At the end there is nothing to read; beyond it is an error. */
	CHECK(st->ops->reader_open(st, "obj", 10, &r) == 0);
	CHECK(store_read(r, buf, sizeof(buf)) == 0);
	store_reader_close(r);
	r = NULL;
	CHECK(st->ops->reader_open(st, "obj", 11, &r) == -EINVAL);
	CHECK(r == NULL);
	teardown();
}

static void test_writer(void)
{
	struct store_writer *w = NULL;
	struct store_stat ss;

	setup();
	CHECK(st->ops->writer_open(st, "up/u1/data", true, &w) == 0);
	CHECK(w->size == 0);
	CHECK(store_write(w, "abc", 3) == 0);
	CHECK(store_write(w, "def", 3) == 0);
	CHECK(w->size == 6);
	CHECK(store_writer_commit(w) == 0);
	CHECK(store_write(w, "g", 1) == 0);
	CHECK(store_writer_commit(w) == 0);
	store_writer_close(w);
	CHECK(get_is("up/u1/data", "abcdefg"));
	CHECK(mode_of("up/u1/data") == 0644);

	/* Appending keeps what is there. */
	CHECK(st->ops->writer_open(st, "up/u1/data", true, &w) == 0);
	CHECK(w->size == 7);
	CHECK(store_write(w, "hi", 2) == 0);
	CHECK(w->size == 9);
	CHECK(store_writer_commit(w) == 0);
	store_writer_close(w);
	CHECK(get_is("up/u1/data", "abcdefghi"));

	/* Not appending starts over. */
	CHECK(st->ops->writer_open(st, "up/u1/data", false, &w) == 0);
	CHECK(w->size == 0);
	CHECK(store_write(w, "new", 3) == 0);
	CHECK(store_writer_commit(w) == 0);
	store_writer_close(w);
	CHECK(get_is("up/u1/data", "new"));
	CHECK(st->ops->stat(st, "up/u1/data", &ss) == 0 && ss.size == 3);

	/* A directory is not a writable object. */
	w = NULL;
	CHECK(st->ops->writer_open(st, "up/u1", true, &w) == -EISDIR);
	CHECK(w == NULL);
	teardown();
}

/* Large appends in uneven chunks arrive whole and in order. */
static void test_writer_large(void)
{
	size_t total = 8u << 20, off = 0, chunk;
	unsigned char *data = xmalloc(total);
	struct store_writer *w;
	struct buf b = BUF_INIT;

	setup();
	for (size_t i = 0; i < total; i++)
		data[i] = (unsigned char)(i * 7 + i / 4096);
	CHECK(st->ops->writer_open(st, "big/data", true, &w) == 0);
	for (int k = 0; off < total; k++) {
		chunk = 32 * 1024 + (size_t)(k % 5) * 200 * 1024 + (size_t)k;
		if (chunk > total - off)
			chunk = total - off;
		CHECK(store_write(w, data + off, chunk) == 0);
		off += chunk;
	}
	CHECK(w->size == total);
	CHECK(store_writer_commit(w) == 0);
	store_writer_close(w);

	CHECK(st->ops->get(st, "big/data", total, &b) == 0);
	CHECK(b.len == total && memcmp(b.data, data, total) == 0);
	buf_free(&b);
	free(data);
	teardown();
}

static void test_strerror(void)
{
	CHECK(strstr(store_strerror(-ENOSPC), "space") != NULL);
	CHECK(strstr(store_strerror(-EROFS), "read-only") != NULL);
	CHECK(strcmp(store_strerror(-ENOENT), store_strerror(ENOENT)) == 0);
	CHECK(store_strerror(-ETIMEDOUT) != NULL);
	CHECK(store_strerror(-99999) != NULL);
}

#define THREADS 8
#define ROUNDS 40
#define SHARED_LEN 8192

struct worker {
	pthread_t tid;
	int id;
	int failures;
};

/* Each thread keeps replacing one shared object with its own pattern
 * and writing keys of its own; readers must only ever see one whole. */
static void *worker_run(void *arg)
{
	struct worker *wk = arg;
	char data[SHARED_LEN];
	struct buf b = BUF_INIT;
	char key[64];

	memset(data, 'a' + wk->id, sizeof(data));
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(key, sizeof(key), "c/t%d/r%d/link", wk->id, i);
		if (put_str(key, key) != 0)
			wk->failures++;
		if (st->ops->put(st, "c/shared", data, sizeof(data)) != 0)
			wk->failures++;

		buf_reset(&b);
		if (st->ops->get(st, "c/shared", SHARED_LEN, &b) != 0 ||
		    b.len != SHARED_LEN)
			wk->failures++;
		else
			for (size_t j = 1; j < b.len; j++)
				if (b.data[j] != b.data[0]) {
					wk->failures++;
					break;
				}
	}
	buf_free(&b);
	return NULL;
}

static void test_concurrent(void)
{
	struct worker wk[THREADS];
	char key[64];

	setup();
	for (int i = 0; i < THREADS; i++) {
		wk[i].id = i;
		wk[i].failures = 0;
		pthread_create(&wk[i].tid, NULL, worker_run, &wk[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(wk[i].tid, NULL);
		CHECK(wk[i].failures == 0);
	}

	for (int i = 0; i < THREADS; i++) {
		snprintf(key, sizeof(key), "c/t%d/r%d/link", i, ROUNDS - 1);
		CHECK(get_is(key, key));
	}
	CHECK(count_temps(rootdir) == 0);
	teardown();
}

/*
 * Puts this process into its own mount namespace, via a user namespace
 * when not privileged.  Returns false when the kernel will not allow it.
 */
static bool enter_private_mounts(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int fd;

	if (unshare(CLONE_NEWNS) == -1) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == -1)
			return false;
		fd = open("/proc/self/setgroups", O_WRONLY);
		if (fd != -1) {
			(void)!write(fd, "deny", 4);
			close(fd);
		}
		snprintf(map, sizeof(map), "0 %d 1", (int)uid);
		fd = open("/proc/self/uid_map", O_WRONLY);
		if (fd == -1 || write(fd, map, strlen(map)) == -1)
			return false;
		close(fd);
		snprintf(map, sizeof(map), "0 %d 1", (int)gid);
		fd = open("/proc/self/gid_map", O_WRONLY);
		if (fd == -1 || write(fd, map, strlen(map)) == -1)
			return false;
		close(fd);
	}
	/* Keep the mounts below from showing up outside. */
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

/* Fills the writer's filesystem with 4 KiB appends until it is full. */
static void fill_up(struct store_writer *w)
{
	char page[4096];
	int err = 0;

	memset(page, 'f', sizeof(page));
	for (int i = 0; i < 4096 && !err; i++)
		err = store_write(w, page, sizeof(page));
	CHECK(err == -ENOSPC);
}

/* Runs in a child with a 256 KiB tmpfs as the store's root. */
static void full_and_readonly(const char *mnt)
{
	size_t big_len = 1u << 20;
	char *big = xcalloc(1, big_len);
	struct store_writer *w;
	struct stat sb;
	uint64_t before;
	char *p;

	CHECK(store_fs_open(mnt, &st) == 0);
	CHECK(put_str("a/obj", "old") == 0);

	/* A put that does not fit fails and changes nothing. */
	CHECK(st->ops->put(st, "a/obj", big, big_len) == -ENOSPC);
	CHECK(get_is("a/obj", "old"));
	CHECK(st->ops->put(st, "b/new", big, big_len) == -ENOSPC);
	CHECK(count_temps(mnt) == 0);

	/* A chunk that does not fit is not half appended. */
	CHECK(st->ops->writer_open(st, "up/data", true, &w) == 0);
	CHECK(store_write(w, big, 16384) == 0);
	CHECK(store_writer_commit(w) == 0);
	CHECK(store_write(w, big, big_len) == -ENOSPC);
	CHECK(w->size == 16384);
	p = xasprintf("%s/up/data", mnt);
	CHECK(stat(p, &sb) == 0 && sb.st_size == 16384);

	/* Full to the last page, the health check says so. */
	fill_up(w);
	before = w->size;
	CHECK(stat(p, &sb) == 0 && (uint64_t)sb.st_size == before);
	CHECK(store_writer_commit(w) == 0);
	store_writer_close(w);
	CHECK(st->ops->check(st) == -ENOSPC);
	CHECK(count_temps(mnt) == 0);
	free(p);

	/* Read-only: writes fail with -EROFS, reads still work. */
	CHECK(st->ops->remove(st, "up") == 0);
	CHECK(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
	CHECK(st->ops->check(st) == -EROFS);
	CHECK(put_str("a/obj", "new") == -EROFS);
	CHECK(get_is("a/obj", "old"));
	teardown();
	free(big);
}

/*
 * Runs fn in a child process with a small tmpfs mounted at mnt.  Returns
 * the child's exit status: 0 when its checks passed, 77 when it could not
 * mount, -1 when it died.
 */
static int with_small_tmpfs(const char *mnt, void (*fn)(const char *))
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		check_failures = 0;
		if (!enter_private_mounts() ||
		    mount("berth-test", mnt, "tmpfs", 0, "size=256k") == -1)
			_exit(77);
		if (fn)
			fn(mnt);
		fflush(stdout);
		_exit(check_failures ? 1 : 0);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *tmpfs_dir(void)
{
	char *mnt = xasprintf("%s/tmpfs", tmpdir);

	mkdir(mnt, 0755);
	return mnt;
}

static bool can_mount_tmpfs(void)
{
	char *mnt = tmpfs_dir();
	int status = with_small_tmpfs(mnt, NULL);

	free(mnt);
	return status == 0;
}

static void test_full_filesystem(void)
{
	char *mnt = tmpfs_dir();

	CHECK(with_small_tmpfs(mnt, full_and_readonly) == 0);
	rmdir(mnt);
	free(mnt);
}

/* ---- sweeping temporary files ---- */

#define SWEEP_OLD 7200 /* seconds before now: what a crash left long ago */

struct swept {
	char paths[8][128];
	uint64_t bytes[8];
	int n;
};

static void on_swept(void *arg, const char *path, uint64_t bytes)
{
	struct swept *w = arg;

	if (w->n < 8) {
		snprintf(w->paths[w->n], sizeof(w->paths[0]), "%s", path);
		w->bytes[w->n] = bytes;
	}
	w->n++;
}

/* The bytes sweep reported for path, or -1 when it did not report it. */
static long long swept_bytes(const struct swept *w, const char *path)
{
	for (int i = 0; i < w->n && i < 8; i++)
		if (!strcmp(w->paths[i], path))
			return (long long)w->bytes[i];
	return -1;
}

/* Sets the modification time of rel, below the root, age seconds back. */
static void age_path(const char *rel, int64_t age)
{
	struct timespec ts[2];
	char *p = path_of(rel);

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age;
	ts[1] = ts[0];
	CHECK(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == 0);
	free(p);
}

/* Writes a file of len bytes at rel, below the root, age seconds old. */
static void plant(const char *rel, size_t len, int64_t age)
{
	char *p = path_of(rel);
	char data[4096];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd != -1 && len <= sizeof(data));
	memset(data, 'x', sizeof(data));
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
	free(p);
	age_path(rel, age);
}

static bool exists(const char *rel)
{
	char *p = path_of(rel);
	bool ok = access(p, F_OK) == 0;

	free(p);
	return ok;
}

/*
 * A store with objects, temporary files a crash left an age ago in
 * the root and in deep directories, a fresh one a write still owns, a
 * temporary name linked to its object, and a directory that only looks
 * like a temporary file.
 */
static void plant_crash_leftovers(void)
{
	char *obj, *tmp, *dir;

	CHECK(put_str("blobs/ab/abcd/data", "layer bytes") == 0);
	CHECK(put_str("repos/r/_layers/sha256/abcd/link", "sha256:abcd") == 0);
	plant(".tmp-1-root", 10, SWEEP_OLD);
	plant("blobs/ab/abcd/.tmp-1-blob", 300, SWEEP_OLD);
	plant("repos/r/_layers/sha256/abcd/.tmp-1-link", 71, SWEEP_OLD);
	plant("repos/r/_layers/sha256/abcd/.tmp-2-fresh", 71, 0);

	obj = path_of("blobs/ab/abcd/data");
	tmp = path_of("blobs/ab/abcd/.tmp-1-linked");
	CHECK(link(obj, tmp) == 0);
	age_path("blobs/ab/abcd/.tmp-1-linked", SWEEP_OLD);
	dir = path_of("repos/.tmp-1-dir");
	CHECK(mkdir(dir, 0755) == 0);
	age_path("repos/.tmp-1-dir", SWEEP_OLD);
	free(obj);
	free(tmp);
	free(dir);
}

static void test_sweep_dry_run(void)
{
	struct swept w = {0};

	setup();
	plant_crash_leftovers();
	CHECK(st->ops->sweep(st, time(NULL) - 3600, true, on_swept, &w) == 0);

	CHECK(w.n == 4);
	CHECK(swept_bytes(&w, ".tmp-1-root") == 10);
	CHECK(swept_bytes(&w, "blobs/ab/abcd/.tmp-1-blob") == 300);
	CHECK(swept_bytes(&w, "repos/r/_layers/sha256/abcd/.tmp-1-link") == 71);
	CHECK(swept_bytes(&w, "blobs/ab/abcd/.tmp-1-linked") == 0);
	CHECK(count_temps(rootdir) == 6);
	teardown();
}

static void test_sweep_removes_only_old_temps(void)
{
	struct swept w = {0};

	setup();
	plant_crash_leftovers();
	CHECK(st->ops->sweep(st, time(NULL) - 3600, false, on_swept, &w) == 0);

	CHECK(w.n == 4);
	CHECK(!exists(".tmp-1-root"));
	CHECK(!exists("blobs/ab/abcd/.tmp-1-blob"));
	CHECK(!exists("blobs/ab/abcd/.tmp-1-linked"));
	CHECK(!exists("repos/r/_layers/sha256/abcd/.tmp-1-link"));
	CHECK(exists("repos/r/_layers/sha256/abcd/.tmp-2-fresh"));
	CHECK(exists("repos/.tmp-1-dir"));
	CHECK(get_is("blobs/ab/abcd/data", "layer bytes"));
	CHECK(get_is("repos/r/_layers/sha256/abcd/link", "sha256:abcd"));

	/* Nothing is left for a second run. */
	w.n = 0;
	CHECK(st->ops->sweep(st, time(NULL) - 3600, false, on_swept, &w) == 0);
	CHECK(w.n == 0);
	teardown();
}

/*
 * Parts of the tree may live on other disks behind symbolic links, which
 * the sweep follows; a link back up the tree does not trap it.
 */
static void test_sweep_follows_links_once(void)
{
	struct swept w = {0};
	char *other = xasprintf("%s/other", tmpdir);
	char *link_path;

	setup();
	rm_tree(other);
	CHECK(mkdir(other, 0755) == 0);
	link_path = path_of("blobs");
	CHECK(symlink(other, link_path) == 0);
	CHECK(put_str("blobs/ab/abcd/data", "layer bytes") == 0);
	plant("blobs/ab/.tmp-1-far", 5, SWEEP_OLD);
	free(link_path);
	link_path = path_of("blobs/ab/loop");
	CHECK(symlink("..", link_path) == 0);

	CHECK(st->ops->sweep(st, time(NULL) - 3600, false, on_swept, &w) == 0);
	CHECK(w.n == 1);
	CHECK(swept_bytes(&w, "blobs/ab/.tmp-1-far") == 5);
	CHECK(!exists("blobs/ab/.tmp-1-far"));
	CHECK(get_is("blobs/ab/abcd/data", "layer bytes"));
	teardown();
	rm_tree(other);
	free(link_path);
	free(other);
}

int main(void)
{
	umask(022);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(rootdir, sizeof(rootdir), "%s/root/nested", tmpdir);

	RUN(test_open_creates_root);
	RUN(test_put_get);
	RUN(test_put_respects_umask);
	RUN(test_put_overwrite);
	RUN(test_get_max);
	RUN(test_missing);
	RUN(test_stat);
	RUN(test_list);
	RUN(test_invalid_keys);
	RUN(test_move);
	RUN(test_remove);
	RUN(test_remove_does_not_follow_links);
	RUN(test_reader);
	RUN(test_writer);
	RUN(test_writer_large);
	RUN(test_strerror);
	RUN(test_concurrent);
	RUN(test_sweep_dry_run);
	RUN(test_sweep_removes_only_old_temps);
	RUN(test_sweep_follows_links_once);
	if (can_mount_tmpfs())
		RUN(test_full_filesystem);
	else
		printf("SKIP unit:test_full_filesystem "
		       "(no private mount namespace)\n");

	rm_tree(tmpdir);
	return check_done();
}
