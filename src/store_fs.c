/*
 * store_fs.c - the filesystem storage backend.
 *
 * Keys map to paths below one root directory, and the tree holds exactly
 * what registry:2's "filesystem" driver keeps there: plain files and
 * directories, nothing else, so either server can serve the other's data.
 * Every operation resolves its key relative to a descriptor of the root
 * that stays open for the store's life.  Keys cannot hold "." or ".."
 * components, so no key names anything outside the root; symbolic links
 * an operator puts inside the tree are followed, as registry:2 follows
 * them, which lets parts of the tree live on other disks.
 *
 * Durability: put writes a temporary file next to the key, flushes it,
 * renames it over the key and flushes the directory, so readers see the
 * old object or the new one, whole; put_new links the temporary file to
 * the key instead, which fails when the key exists.  Directories created
 * on the way are flushed into their parents before anything is put in
 * them.  Temporary names start with FS_TMP_PREFIX; no registry name
 * starts with a dot, so they never clash with a key, keys may not use
 * them and list hides them.
 *
 * A crash can leave temporary files behind; sweep, which collections
 * call, removes those old enough that no write can still own them.
 *
 * Thread safety: threads share only the root descriptor, which never
 * changes, and an atomic counter that makes temporary names unique.
 */
#include "store.h"

#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FS_TMP_PREFIX ".tmp-"
#define FS_TMP_NAME_MAX 64
#define FS_DIR_MODE 0755
#define FS_FILE_MODE 0644

struct fs_store {
	struct store base;
	int root;		  /* directory descriptor of the root */
	long pid;		  /* these three make temporary names unique */
	uint64_t seed;		  /* random, so processes in other pid */
	atomic_uint_fast64_t seq; /* namespaces sharing the tree never clash */
};

struct fs_reader {
	struct store_reader base;
	int fd;
};

struct fs_writer {
	struct store_writer base;
	int fd;
	int dir;       /* the object's directory, to flush a new name */
	bool new_name; /* the name may not be on stable storage yet */
};

static struct fs_store *fs_store_of(struct store *s)
{
	return (struct fs_store *)s;
}

/*
 * The store's error for errno after a failed lookup: a path that runs
 * through a file names nothing, like a path through a missing directory.
 */
static int fs_err(void)
{
	int e = errno;

	if (e == ENOTDIR)
		return -ENOENT;
	return e ? -e : -EIO;
}

/* Whether a directory entry is hidden from list: ".", ".." and temps. */
static bool fs_name_hidden(const char *name)
{
	if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
		return true;
	return strncmp(name, FS_TMP_PREFIX, strlen(FS_TMP_PREFIX)) == 0;
}

/*
 * Whether key is one store.h allows: not empty, no leading, trailing or
 * doubled '/', no "." or ".." component, and no component that could be
 * one of our temporary names.
 */
static bool fs_key_valid(const char *key)
{
	const char *p = key;
	const char *end;
	size_t n;

	if (!key || !*key)
		return false;
	for (;;) {
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (strncmp(p, FS_TMP_PREFIX, strlen(FS_TMP_PREFIX)) == 0)
			return false;
		if (!*end)
			return true;
		p = end + 1;
	}
}

/*
 * Splits key at its last '/'.  Returns the base name, a pointer into key,
 * and sets *dir to a new string the caller frees, or NULL when the key
 * sits directly in the root.
 */
static const char *fs_split(const char *key, char **dir)
{
	const char *slash = strrchr(key, '/');

	if (!slash) {
		*dir = NULL;
		return key;
	}
	*dir = xstrndup(key, (size_t)(slash - key));
	return slash + 1;
}

static int fs_fsync_dir(int base, const char *dir)
{
	int fd = openat(base, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd == -1)
		return -errno;
	if (fsync(fd) == -1)
		err = -errno;
	close(fd);
	return err;
}

/* Flushes the directory holding path (relative to base) to disk. */
static int fs_sync_parent(int base, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *parent;
	int err;

	if (!slash)
		return fs_fsync_dir(base, ".");

	parent = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	err = fs_fsync_dir(base, parent);
	free(parent);
	return err;
}

/*
 * Creates directory path relative to base and any missing parents, like
 * mkdir -p, flushing each new name into its parent.  path is modified
 * while this runs and restored before it returns.
 *
 * A directory that already exists has its parent flushed too: it may have
 * just been made by a thread that has not flushed it yet, and what we put
 * inside must not outlive its name in a crash.
 *
 * NEEDSWORK: a thread that finds every directory present (and so never
 * gets here) can still write into one whose creator has not flushed it
 * yet.  Journaling filesystems (ext4, xfs) commit the mkdir together
 * with the later fsync; others could lose the object in that window.
 */
static int fs_mkdirs_at(int base, char *path)
{
	char *slash;
	int err;

	if (mkdirat(base, path, FS_DIR_MODE) == 0 || errno == EEXIST)
		return fs_sync_parent(base, path);
	if (errno != ENOENT)
		return -errno;

	slash = strrchr(path, '/');
	if (!slash || slash == path)
		return -ENOENT;
	*slash = '\0';
	err = fs_mkdirs_at(base, path);
	*slash = '/';
	if (err)
		return err;

	if (mkdirat(base, path, FS_DIR_MODE) == -1 && errno != EEXIST)
		return -errno;
	return fs_sync_parent(base, path);
}

/*
 * Opens directory dir of the store (NULL: the root itself) into *fd, a
 * new descriptor the caller closes.  With create, makes dir and its
 * parents first when they are missing.
 */
static int fs_dir_open(struct fs_store *s, const char *dir, bool create,
		       int *fd)
{
	const char *path = dir ? dir : ".";
	char *copy;
	int err;

	*fd = openat(s->root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd != -1)
		return 0;
	if (!create || errno != ENOENT)
		return create ? -errno : fs_err();

	copy = xstrdup(path);
	err = fs_mkdirs_at(s->root, copy);
	free(copy);
	if (err)
		return err;

	*fd = openat(s->root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *fd == -1 ? -errno : 0;
}

/* Writes all of data to fd, retrying short writes. */
static int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Creates a new temporary file in directory dfd, its name in name.
 * Returns the open descriptor or a negative errno.
 */
static int fs_tmp_create(struct fs_store *s, int dfd,
			 char name[FS_TMP_NAME_MAX])
{
	uint64_t seq;
	int fd;

	for (int tries = 0; tries < 16; tries++) {
		seq = atomic_fetch_add(&s->seq, 1);
		snprintf(name, FS_TMP_NAME_MAX, "%s%ld-%016" PRIx64 "-%" PRIu64,
			 FS_TMP_PREFIX, s->pid, s->seed, seq);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    FS_FILE_MODE);
		if (fd != -1)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/*
 * Writes data to a new temporary file in dfd and flushes it.  Returns 0
 * with its name in name, or a negative errno with no file left behind.
 */
static int fs_tmp_write(struct fs_store *s, int dfd, const void *data,
			size_t len, char name[FS_TMP_NAME_MAX])
{
	int fd = fs_tmp_create(s, dfd, name);
	int err;

	if (fd < 0)
		return fd;

	err = fs_write_all(fd, data, len);
	if (!err && fdatasync(fd) == -1)
		err = -errno;
	if (close(fd) == -1 && !err)
		err = -errno;

	if (err)
		unlinkat(dfd, name, 0);
	return err;
}

/*
 * Writes data to a temporary file beside key and flushes it, then gives
 * it the name: rename(2) replaces an object, link(2) fails with EEXIST
 * instead, so that of racing creators one wins.  Either way the file is
 * whole and on disk before it has the name.
 */
static int fs_put_as(struct store *st, const char *key, const void *data,
		     size_t len, bool replace)
{
	struct fs_store *s = fs_store_of(st);
	char tmp[FS_TMP_NAME_MAX];
	const char *base;
	char *dir = NULL;
	int dfd = -1;
	int err;

	if (!fs_key_valid(key))
		return -EINVAL;
	base = fs_split(key, &dir);
	err = fs_dir_open(s, dir, true, &dfd);
	if (err)
		goto out;

	err = fs_tmp_write(s, dfd, data, len, tmp);
	if (err)
		goto out;

	if (replace && renameat(dfd, tmp, dfd, base) == -1)
		err = -errno;
	if (!replace && linkat(dfd, tmp, dfd, base, 0) == -1)
		err = -errno;
	if (err || !replace)
		unlinkat(dfd, tmp, 0);

	if (!err && fsync(dfd) == -1)
		err = -errno;
out:
	if (dfd != -1)
		close(dfd);
	free(dir);
	return err;
}

static int fs_put(struct store *st, const char *key, const void *data,
		  size_t len)
{
	return fs_put_as(st, key, data, len, true);
}

static int fs_put_new(struct store *st, const char *key, const void *data,
		      size_t len)
{
	return fs_put_as(st, key, data, len, false);
}

/*
 * Appends fd's contents to out, failing with -EFBIG (and out unchanged)
 * once more than max bytes arrive.  hint is the expected size.
 */
static int fs_read_all(int fd, size_t hint, size_t max, struct buf *out)
{
	size_t start = out->len;
	ssize_t n;
	int err = 0;

	buf_grow(out, hint + 1);
	for (;;) {
		if (out->cap - out->len <= 1)
			buf_grow(out, 64 * 1024);
		n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len - start > max) {
			err = -EFBIG;
			break;
		}
	}

	if (err)
		out->len = start;
	out->data[out->len] = '\0';
	return err;
}

static int fs_get(struct store *st, const char *key, size_t max,
		  struct buf *out)
{
	struct fs_store *s = fs_store_of(st);
	struct stat sb;
	int fd;
	int err;

	if (!fs_key_valid(key))
		return -EINVAL;
	fd = openat(s->root, key, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return fs_err();

	if (fstat(fd, &sb) == -1) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		err = -EFBIG;
		goto out;
	}

	err = fs_read_all(fd, (size_t)sb.st_size, max, out);
out:
	close(fd);
	return err;
}

static int fs_stat(struct store *st, const char *key, struct store_stat *out)
{
	struct fs_store *s = fs_store_of(st);
	struct stat sb;

	if (!fs_key_valid(key))
		return -EINVAL;
	if (fstatat(s->root, key, &sb, 0) == -1)
		return fs_err();

	out->is_dir = S_ISDIR(sb.st_mode);
	out->size = out->is_dir ? 0 : (uint64_t)sb.st_size;
	out->mtime = (int64_t)sb.st_mtim.tv_sec;
	return 0;
}

/*
 * Whether entry de of the directory dfd is a directory: 1 or 0, or -1
 * when it vanished while we looked.  Symbolic links count as what they
 * point to.
 */
static int fs_entry_is_dir(int dfd, const struct dirent *de)
{
	struct stat sb;

	if (de->d_type == DT_DIR)
		return 1;
	if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
		return 0;
	if (fstatat(dfd, de->d_name, &sb, 0) == -1)
		return errno == ENOENT ? -1 : 0;
	return S_ISDIR(sb.st_mode) ? 1 : 0;
}

static int fs_list(struct store *st, const char *key, store_list_fn fn,
		   void *arg)
{
	struct fs_store *s = fs_store_of(st);
	struct dirent *de;
	DIR *dir;
	int fd;
	int is_dir;
	int err = 0;

	if (!fs_key_valid(key))
		return -EINVAL;
	fd = openat(s->root, key, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return fs_err();
	dir = fdopendir(fd);
	if (!dir) {
		err = -errno;
		close(fd);
		return err;
	}

	while ((errno = 0, de = readdir(dir))) {
		if (fs_name_hidden(de->d_name))
			continue;
		is_dir = fs_entry_is_dir(fd, de);
		if (is_dir < 0)
			continue;
		if (fn(arg, de->d_name, is_dir))
			break;
	}
	if (!de && errno)
		err = -errno;

	closedir(dir);
	return err;
}

/* Whether keys a and b sit in the same directory. */
static bool fs_same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/');
	const char *sb = strrchr(b, '/');
	size_t na = sa ? (size_t)(sa - a) : 0;
	size_t nb = sb ? (size_t)(sb - b) : 0;

	return na == nb && strncmp(a, b, na) == 0;
}

/*
 * Renames from to to, making to's parents when rename says a directory
 * is missing but from is there.
 */
static int fs_rename(struct fs_store *s, const char *from, const char *to)
{
	struct stat sb;
	char *dir = NULL;
	int err;

	if (renameat(s->root, from, s->root, to) == 0)
		return 0;
	if (errno != ENOENT)
		return fs_err();
	if (fstatat(s->root, from, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return fs_err();

	fs_split(to, &dir);
	err = dir ? fs_mkdirs_at(s->root, dir) : -ENOENT;
	free(dir);
	if (err)
		return err;

	if (renameat(s->root, from, s->root, to) == -1)
		return fs_err();
	return 0;
}

static int fs_move(struct store *st, const char *from, const char *to)
{
	struct fs_store *s = fs_store_of(st);
	int err;

	if (!fs_key_valid(from) || !fs_key_valid(to))
		return -EINVAL;
	err = fs_rename(s, from, to);
	if (err)
		return err;

	err = fs_sync_parent(s->root, to);
	if (!err && !fs_same_dir(from, to))
		err = fs_sync_parent(s->root, from);
	return err;
}

static int fs_remove_at(int dfd, const char *name);

/* Removes everything inside directory name of dfd, not following links. */
static int fs_empty_dir(int dfd, const char *name)
{
	struct dirent *de;
	DIR *dir;
	int fd;
	int err = 0;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -errno;
	dir = fdopendir(fd);
	if (!dir) {
		err = -errno;
		close(fd);
		return err;
	}

	while ((errno = 0, de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = fs_remove_at(fd, de->d_name);
		if (err && err != -ENOENT)
			break;
		err = 0;
	}
	if (!de && errno)
		err = -errno;

	closedir(dir);
	return err;
}

/*
 * Removes directory name of dfd with everything in it.  Files a
 * concurrent put adds while we empty it make the rmdir fail, so a few
 * passes are made before giving up.
 */
static int fs_remove_tree(int dfd, const char *name)
{
	int err;

	for (int pass = 0; pass < 3; pass++) {
		err = fs_empty_dir(dfd, name);
		if (err)
			return err;
		if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != ENOTEMPTY && errno != EEXIST)
			return -errno;
	}
	return -ENOTEMPTY;
}

/* Removes the file, link or directory tree name of dfd. */
static int fs_remove_at(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0)
		return 0;
	if (errno == EISDIR || errno == EPERM)
		return fs_remove_tree(dfd, name);
	return fs_err();
}

static int fs_remove(struct store *st, const char *key)
{
	struct fs_store *s = fs_store_of(st);
	const char *base;
	char *dir = NULL;
	int dfd = -1;
	int err;

	if (!fs_key_valid(key))
		return -EINVAL;
	base = fs_split(key, &dir);
	err = fs_dir_open(s, dir, false, &dfd);
	if (err)
		goto out;

	err = fs_remove_at(dfd, base);
	if (!err && fsync(dfd) == -1)
		err = -errno;
out:
	if (dfd != -1)
		close(dfd);
	free(dir);
	return err;
}

static long fs_reader_read(struct store_reader *r, void *buf, size_t len)
{
	struct fs_reader *fr = (struct fs_reader *)r;
	ssize_t n;

	do
		n = read(fr->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -errno;

	r->offset += (uint64_t)n;
	return (long)n;
}

static int fs_reader_fd(struct store_reader *r)
{
	return ((struct fs_reader *)r)->fd;
}

static void fs_reader_close(struct store_reader *r)
{
	struct fs_reader *fr = (struct fs_reader *)r;

	close(fr->fd);
	free(fr);
}

static const struct store_reader_ops fs_reader_ops = {
	.read = fs_reader_read,
	.fd = fs_reader_fd,
	.close = fs_reader_close,
};

/*
 * Opens key for reading from offset, which may be at most the object's
 * size (-EINVAL beyond it).  The reader's fd op hands out the reader's
 * own descriptor, positioned at offset: whoever takes it must not close
 * it (dup it instead), and reads through it do not advance r->offset.
 */
static int fs_reader_open(struct store *st, const char *key, uint64_t offset,
			  struct store_reader **out)
{
	struct fs_store *s = fs_store_of(st);
	struct fs_reader *r;
	struct stat sb;
	int fd;
	int err = 0;

	if (!fs_key_valid(key))
		return -EINVAL;
	fd = openat(s->root, key, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return fs_err();

	if (fstat(fd, &sb) == -1)
		err = -errno;
	else if (S_ISDIR(sb.st_mode))
		err = -EISDIR;
	else if (offset > (uint64_t)sb.st_size)
		err = -EINVAL;
	if (!err && offset && lseek(fd, (off_t)offset, SEEK_SET) == -1)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}

	r = xcalloc(1, sizeof(*r));
	r->base.ops = &fs_reader_ops;
	r->base.size = (uint64_t)sb.st_size;
	r->base.offset = offset;
	r->fd = fd;
	*out = &r->base;
	return 0;
}

/*
 * Writes len bytes at the end of the object.  On failure the object is
 * cut back to its size before the call, so a failed chunk leaves nothing
 * behind and the client can retry from the same offset.
 */
static int fs_writer_write(struct store_writer *w, const void *data, size_t len)
{
	struct fs_writer *fw = (struct fs_writer *)w;
	struct stat sb;
	int err = fs_write_all(fw->fd, data, len);

	if (!err) {
		w->size += len;
		return 0;
	}

	if (ftruncate(fw->fd, (off_t)w->size) == -1 ||
	    lseek(fw->fd, (off_t)w->size, SEEK_SET) == -1) {
		log_warn("cannot undo failed write err=%s",
			 store_strerror(-errno));
		if (fstat(fw->fd, &sb) == 0)
			w->size = (uint64_t)sb.st_size;
	}
	return err;
}

static int fs_writer_commit(struct store_writer *w)
{
	struct fs_writer *fw = (struct fs_writer *)w;

	if (fdatasync(fw->fd) == -1)
		return -errno;
	if (fw->new_name) {
		if (fsync(fw->dir) == -1)
			return -errno;
		fw->new_name = false;
	}
	return 0;
}

static void fs_writer_close(struct store_writer *w)
{
	struct fs_writer *fw = (struct fs_writer *)w;

	close(fw->fd);
	close(fw->dir);
	free(fw);
}

static const struct store_writer_ops fs_writer_ops = {
	.write = fs_writer_write,
	.commit = fs_writer_commit,
	.close = fs_writer_close,
};

/*
 * Opens name in dfd for writing, creating it if missing.  Sets *created
 * when this call made the file, whose name then still needs flushing.
 */
static int fs_writer_file(int dfd, const char *name, bool append, bool *created)
{
	int flags = O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
	int fd;

	for (int tries = 0; tries < 4; tries++) {
		fd = openat(dfd, name, flags);
		if (fd != -1 || errno != ENOENT)
			break;
		fd = openat(dfd, name, flags | O_CREAT | O_EXCL, FS_FILE_MODE);
		if (fd != -1) {
			*created = true;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	return fd == -1 ? -errno : fd;
}

static int fs_writer_open(struct store *st, const char *key, bool append,
			  struct store_writer **out)
{
	struct fs_store *s = fs_store_of(st);
	struct fs_writer *w;
	struct stat sb;
	const char *base;
	char *dir = NULL;
	bool created = false;
	int dfd = -1;
	int fd = -1;
	int err;

	if (!fs_key_valid(key))
		return -EINVAL;
	base = fs_split(key, &dir);
	err = fs_dir_open(s, dir, true, &dfd);
	if (err)
		goto out;

	fd = fs_writer_file(dfd, base, append, &created);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (fstat(fd, &sb) == -1) {
		err = -errno;
		goto out;
	}

	w = xcalloc(1, sizeof(*w));
	w->base.ops = &fs_writer_ops;
	w->base.size = (uint64_t)sb.st_size;
	w->fd = fd;
	w->dir = dfd;
	w->new_name = created;
	*out = &w->base;
	fd = dfd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (dfd != -1)
		close(dfd);
	free(dir);
	return err;
}

/* ---- temporary files a crash left behind ---- */

/*
 * The deepest directory sweep enters.  Keys are far shallower; the bound
 * only stops a walk that symbolic links would lead round in circles
 * where the check against the directories above misses the loop.
 */
#define FS_SWEEP_DEPTH 256

struct fs_sweep {
	int64_t before;
	bool dry_run;
	store_sweep_fn fn;
	void *arg;
	struct buf path; /* the directory walked, relative to the root */
	int depth;	 /* entries in dev and ino: the directories above */
	dev_t dev[FS_SWEEP_DEPTH];
	ino_t ino[FS_SWEEP_DEPTH];
	int err; /* the first failure */
};

static void fs_sweep_failed(struct fs_sweep *w, const char *name, int err)
{
	log_warn("cannot sweep temporary files path=%s%s%s err=\"%s\"",
		 w->path.data, w->path.len ? "/" : "", name,
		 store_strerror(err));
	if (!w->err)
		w->err = err;
}

/*
 * Removes temporary file name of directory dfd if it is old enough.  A
 * file put_new linked to its key before the crash shares its data with
 * the object, so removing that name frees nothing.
 */
static void fs_sweep_file(struct fs_sweep *w, int dfd, const char *name)
{
	struct stat sb;
	uint64_t bytes;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			fs_sweep_failed(w, name, -errno);
		return;
	}
	if (!S_ISREG(sb.st_mode) || (int64_t)sb.st_mtim.tv_sec >= w->before)
		return;

	if (!w->dry_run && unlinkat(dfd, name, 0) == -1) {
		if (errno != ENOENT)
			fs_sweep_failed(w, name, -errno);
		return;
	}

	bytes = sb.st_nlink > 1 ? 0 : (uint64_t)sb.st_size;
	if (!w->path.len) {
		w->fn(w->arg, name, bytes);
		return;
	}
	buf_addf(&w->path, "/%s", name);
	w->fn(w->arg, w->path.data, bytes);
	w->path.len -= strlen(name) + 1;
	w->path.data[w->path.len] = '\0';
}

static void fs_sweep_dir(struct fs_sweep *w, int fd);

/* Whether directory sb is one the walk is already inside. */
static bool fs_sweep_seen(const struct fs_sweep *w, const struct stat *sb)
{
	for (int i = 0; i < w->depth; i++)
		if (w->dev[i] == sb->st_dev && w->ino[i] == sb->st_ino)
			return true;
	return false;
}

/*
 * Sweeps directory fd, which this call closes, unless the walk is
 * inside it already or too deep.
 */
static void fs_sweep_enter(struct fs_sweep *w, int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) == -1 || fs_sweep_seen(w, &sb) ||
	    w->depth == FS_SWEEP_DEPTH) {
		close(fd);
		return;
	}

	w->dev[w->depth] = sb.st_dev;
	w->ino[w->depth] = sb.st_ino;
	w->depth++;
	fs_sweep_dir(w, fd);
	w->depth--;
}

/* Walks subdirectory name of dfd, following a symbolic link to one. */
static void fs_sweep_subdir(struct fs_sweep *w, int dfd, const char *name)
{
	size_t len = w->path.len;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			fs_sweep_failed(w, name, -errno);
		return;
	}

	buf_addf(&w->path, "%s%s", len ? "/" : "", name);
	fs_sweep_enter(w, fd);
	w->path.len = len;
	w->path.data[len] = '\0';
}

/* Sweeps directory fd, which this call closes, and everything below. */
static void fs_sweep_dir(struct fs_sweep *w, int fd)
{
	struct dirent *de;
	DIR *dir = fdopendir(fd);

	if (!dir) {
		fs_sweep_failed(w, "", -errno);
		close(fd);
		return;
	}

	while ((errno = 0, de = readdir(dir))) {
		if (!strncmp(de->d_name, FS_TMP_PREFIX, strlen(FS_TMP_PREFIX)))
			fs_sweep_file(w, fd, de->d_name);
		else if (!fs_name_hidden(de->d_name) &&
			 fs_entry_is_dir(fd, de) == 1)
			fs_sweep_subdir(w, fd, de->d_name);
	}
	if (!de && errno)
		fs_sweep_failed(w, "", -errno);

	closedir(dir);
}

/*
 * Walks the whole tree: temporary files sit beside whatever was put,
 * in blob, repository, upload and lease directories and in the root.
 * Uploads append to their data in place, so no temporary file lives
 * longer than one put of data held in memory.  The root is opened
 * afresh so that reading it moves no offset the store shares.
 */
static int fs_sweep(struct store *st, int64_t before, bool dry_run,
		    store_sweep_fn fn, void *arg)
{
	struct fs_store *s = fs_store_of(st);
	struct fs_sweep *w;
	int fd;
	int err;

	w = xcalloc(1, sizeof(*w));
	w->before = before;
	w->dry_run = dry_run;
	w->fn = fn;
	w->arg = arg;
	buf_adds(&w->path, "");
	fd = openat(s->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		fs_sweep_failed(w, "", -errno);
	else
		fs_sweep_enter(w, fd);

	err = w->err;
	buf_free(&w->path);
	free(w);
	return err;
}

/*
 * Creates, writes and removes a small file in the root, which fails when
 * the filesystem is gone, read-only, full or not ours to write.
 */
static int fs_check(struct store *st)
{
	struct fs_store *s = fs_store_of(st);
	char tmp[FS_TMP_NAME_MAX];
	int fd;
	int err;

	fd = fs_tmp_create(s, s->root, tmp);
	if (fd < 0)
		return fd;

	err = fs_write_all(fd, "berth\n", 6);
	if (close(fd) == -1 && !err)
		err = -errno;
	if (unlinkat(s->root, tmp, 0) == -1 && !err)
		err = -errno;
	return err;
}

static void fs_close(struct store *st)
{
	struct fs_store *s = fs_store_of(st);

	if (!s)
		return;
	close(s->root);
	free(s);
}

/* Files have no URL a client could fetch them by: berth serves them. */
static int fs_presign(struct store *st, const char *key, const char *method,
		      int64_t expires, char **url)
{
	(void)st;
	(void)key;
	(void)method;
	(void)expires;
	*url = NULL;
	return -ENOTSUP;
}

static const struct store_ops fs_ops = {
	.name = "filesystem",
	.get = fs_get,
	.put = fs_put,
	.put_new = fs_put_new,
	.stat = fs_stat,
	.list = fs_list,
	.move = fs_move,
	.remove = fs_remove,
	.reader_open = fs_reader_open,
	.writer_open = fs_writer_open,
	.check = fs_check,
	.close = fs_close,
	.presign = fs_presign,
	.sweep = fs_sweep,
};

static uint64_t fs_random_seed(void)
{
	uint64_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		return seed;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^
	       (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
}

/*
 * Opens the filesystem store rooted at dir, creating dir and its parents
 * when missing.  Returns 0 with *out set (free with its close op) or a
 * negative errno: -EINVAL for an empty path, -ENOTDIR when dir is not a
 * directory, whatever mkdir or open said otherwise.
 */
int store_fs_open(const char *dir, struct store **out)
{
	struct fs_store *s;
	char *path;
	size_t n;
	int fd;
	int err = 0;

	if (!dir || !*dir)
		return -EINVAL;
	path = xstrdup(dir);
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		err = fs_mkdirs_at(AT_FDCWD, path);
		if (!err)
			fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (!err && fd == -1)
		err = -errno;
	free(path);
	if (err)
		return err;

	s = xcalloc(1, sizeof(*s));
	s->base.ops = &fs_ops;
	s->root = fd;
	s->pid = (long)getpid();
	s->seed = fs_random_seed();
	atomic_init(&s->seq, 0);
	*out = &s->base;
	return 0;
}

static const struct {
	int err;
	const char *text;
} store_errors[] = {
	{ENOENT, "no such object"},
	{ENOSPC, "no space left in storage"},
	{EDQUOT, "storage quota exceeded"},
	{EROFS, "storage is read-only"},
	{EIO, "storage input/output error"},
	{EINVAL, "invalid storage key or argument"},
	{EFBIG, "object too large"},
	{EACCES, "storage permission denied"},
	{EPERM, "storage operation not permitted"},
	{EISDIR, "key names a directory"},
	{ENOTDIR, "key runs through an object"},
	{ENOTEMPTY, "directory not empty"},
	{EEXIST, "object already exists"},
	{EMFILE, "too many open files"},
	{ENFILE, "too many open files in system"},
	{ENAMETOOLONG, "storage key too long"},
	{ELOOP, "too many symbolic links in storage path"},
	{ENOMEM, "out of memory"},
};

/*
 * Returns a constant, human-readable text for err, a negative errno from
 * a store operation (positive values are taken too).
 */
const char *store_strerror(int err)
{
	const char *text;

	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	for (size_t i = 0; i < sizeof(store_errors) / sizeof(*store_errors);
	     i++)
		if (store_errors[i].err == err)
			return store_errors[i].text;

	text = strerrordesc_np(err);
	return text ? text : "unknown storage error";
}
