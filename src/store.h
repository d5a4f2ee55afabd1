/*
 * store.h - the storage driver interface.
 *
 * Everything berth keeps lives in a store: a tree of objects addressed by
 * slash-separated keys relative to the store's root, such as
 * "docker/registry/v2/blobs/sha256/ab/ab12.../data".  The keys follow
 * registry:2's layout (layout.h builds them), so the same tree works for a
 * filesystem and for an object store.  A backend fills in a struct
 * store_ops; nothing above this interface opens a file or issues a system
 * call of its own.
 *
 * Keys never start or end with '/', never contain "." or ".." components
 * or empty components; callers build them only from validated names.
 *
 * Every operation returns 0 on success or a negative errno value:
 * -ENOENT when the object (or a parent) does not exist, -ENOSPC or -EDQUOT
 * when the store is full, -EROFS when it is read-only, -EIO for anything
 * else the backend could not do.
 *
 * Durability: put, put_new, move and store_writer_commit return only after
 * the data and the name are on stable storage, so a crash afterwards
 * loses nothing and a crash before leaves no partial object visible under
 * the key.
 */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct store;
struct store_reader;
struct store_writer;

struct store_stat {
	uint64_t size; /* bytes of an object; 0 for a directory */
	int64_t mtime; /* seconds since the epoch */
	bool is_dir;   /* the key names a prefix of other keys */
};

/* Called once per child name of a listed key; return non-zero to stop. */
typedef int (*store_list_fn)(void *arg, const char *name, bool is_dir);

/*
 * Called once per temporary file sweep removed (or, in a dry run, would
 * remove): its path relative to the store's root, which is not a key,
 * and the bytes its removal frees.
 */
typedef void (*store_sweep_fn)(void *arg, const char *path, uint64_t bytes);

struct store_ops {
	const char *name;

	/* Reads a whole object of at most max bytes into out (appended). */
	int (*get)(struct store *s, const char *key, size_t max,
		   struct buf *out);
	/* Replaces an object atomically and durably. */
	int (*put)(struct store *s, const char *key, const void *data,
		   size_t len);
	/*
	 * Creates an object atomically and durably only if no object has
	 * the key; -EEXIST, changing nothing, when one has.  Of callers
	 * racing for one key exactly one gets 0.  An S3 answer lost in
	 * transit can make a retry see its own object: callers that must
	 * know write something of their own into data and read it back
	 * after -EEXIST.
	 */
	int (*put_new)(struct store *s, const char *key, const void *data,
		       size_t len);
	int (*stat)(struct store *s, const char *key, struct store_stat *st);
	/* Lists the immediate children of key, in no particular order. */
	int (*list)(struct store *s, const char *key, store_list_fn fn,
		    void *arg);
	/* Renames an object atomically and durably, replacing any target. */
	int (*move)(struct store *s, const char *from, const char *to);
	/* Removes an object or a whole subtree; -ENOENT if nothing was. */
	int (*remove)(struct store *s, const char *key);

	int (*reader_open)(struct store *s, const char *key, uint64_t offset,
			   struct store_reader **out);
	/* Opens key for writing; append keeps existing bytes. */
	int (*writer_open)(struct store *s, const char *key, bool append,
			   struct store_writer **out);

	/* Reports whether the store answers and takes writes. */
	int (*check)(struct store *s);
	void (*close)(struct store *s);

	/*
	 * Makes a URL by which a client fetches the object key straight
	 * from the store with method ("GET"), without credentials, for
	 * expires seconds.  Nothing is sent: the caller has checked that
	 * the object exists.  Sets *url (the caller frees it) and returns
	 * 0, or -ENOTSUP when the store has no such URLs.
	 */
	int (*presign)(struct store *s, const char *key, const char *method,
		       int64_t expires, char **url);

	/*
	 * Removes the temporary files of writes a crash interrupted: every
	 * one anywhere in the store last modified before the time before
	 * (seconds since the epoch), telling fn of each.  A write keeps
	 * its temporary file only while it runs, so the caller passes a
	 * time long enough ago that no live write can own such a file.
	 * With dry_run nothing is removed and fn hears what would be.
	 * Files that cannot be removed are skipped; returns 0, or the
	 * first such error.  NULL for a store that makes no temporary
	 * objects.
	 */
	int (*sweep)(struct store *s, int64_t before, bool dry_run,
		     store_sweep_fn fn, void *arg);
};

struct store {
	const struct store_ops *ops;
};

/* A sequential reader.  size is the object's total size. */
struct store_reader_ops {
	/* Returns bytes read (0 at the end) or a negative errno. */
	long (*read)(struct store_reader *r, void *buf, size_t len);
	/* Returns a file descriptor positioned for zero-copy sends, or -1. */
	int (*fd)(struct store_reader *r);
	void (*close)(struct store_reader *r);
};

struct store_reader {
	const struct store_reader_ops *ops;
	uint64_t size;
	uint64_t offset; /* where the next read starts */
};

struct store_writer_ops {
	int (*write)(struct store_writer *w, const void *data, size_t len);
	/* Flushes everything written so far to stable storage. */
	int (*commit)(struct store_writer *w);
	void (*close)(struct store_writer *w);
};

struct store_writer {
	const struct store_writer_ops *ops;
	uint64_t size; /* bytes in the object, including appended ones */
};

/* Opens the filesystem backend rooted at dir, creating dir if needed. */
int store_fs_open(const char *dir, struct store **out);

struct config;

/*
 * Opens the backend cfg's storage section names (filesystem or s3).
 * Returns 0 with *out set, freed with its close op, or a negative errno
 * with a message for an operator in err.
 */
int store_open(const struct config *cfg, struct store **out, char *err,
	       size_t errlen);

static inline long store_read(struct store_reader *r, void *buf, size_t len)
{
	return r->ops->read(r, buf, len);
}

static inline int store_reader_fd(struct store_reader *r)
{
	return r->ops->fd ? r->ops->fd(r) : -1;
}

static inline void store_reader_close(struct store_reader *r)
{
	if (r)
		r->ops->close(r);
}

static inline int store_write(struct store_writer *w, const void *data,
			      size_t len)
{
	return w->ops->write(w, data, len);
}

static inline int store_writer_commit(struct store_writer *w)
{
	return w->ops->commit(w);
}

static inline void store_writer_close(struct store_writer *w)
{
	if (w)
		w->ops->close(w);
}

/* The presign op, or -ENOTSUP for a store that has none. */
static inline int store_presign(struct store *s, const char *key,
				const char *method, int64_t expires, char **url)
{
	if (!s->ops->presign)
		return -ENOTSUP;
	return s->ops->presign(s, key, method, expires, url);
}

/* Human-readable text for a negative errno from a store operation. */
const char *store_strerror(int err);

#endif
