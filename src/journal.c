/*
 * journal.c - segment files, a cursor file and group commit.
 *
 *   <dir>/events-<16 hex digits>.log   records, one per line, in order
 *   <dir>/cursor                        "<segment hex> <offset>\n"
 *
 * Segments are numbered one after another.  Only the newest one takes
 * appends; when it passes SEGMENT_MAX a new one starts, after the old one
 * is flushed, so only the newest can end in a record cut short by a
 * crash, and opening cuts such a tail off.  Acknowledging rewrites the
 * cursor (write, flush, rename, flush the directory) and then removes the
 * segments wholly before it; a crash in between leaves segments that the
 * next open removes.
 *
 * An append writes its line under the lock and then waits until some
 * thread's fdatasync covers it: the first waiter flushes for everyone
 * who wrote before it started, so N requests landing together cost about
 * one flush, not N.
 */
#include "journal.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SEGMENT_MAX (8 * 1024 * 1024)
#define SEGMENT_FMT "events-%016" PRIx64 ".log"
#define SEGMENT_NAME_MAX 48
#define READ_CHUNK (JOURNAL_RECORD_MAX + 1)

struct journal {
	char *dir;
	int dirfd;
	pthread_mutex_t lock;
	pthread_cond_t synced_cond; /* a flush ended */
	pthread_cond_t avail;	    /* a record arrived, or a wake */
	bool woken;

	/* The writer side, under lock. */
	int wfd; /* the newest segment, O_APPEND */
	uint64_t wseg;
	uint64_t wsize;
	struct journal_pos synced; /* on stable storage up to here */
	bool syncing;

	/* The reader side; cursor and pending under lock. */
	struct journal_pos cursor;
	uint64_t pending;
	int rfd;
	uint64_t rseg;
	char *rbuf;
};

static bool pos_before(struct journal_pos a, struct journal_pos b)
{
	return a.seg < b.seg || (a.seg == b.seg && a.off < b.off);
}

static void segment_name(uint64_t seg, char name[SEGMENT_NAME_MAX])
{
	snprintf(name, SEGMENT_NAME_MAX, SEGMENT_FMT, seg);
}

/* ---- opening ----------------------------------------------------------- */

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir)
{
	char *path = xstrdup(dir);
	int err = 0;

	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			err = -errno;
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(path);
	return err;
}

/* Whether name is a segment's, "events-<16 hex digits>.log". */
static bool segment_number(const char *name, uint64_t *seq)
{
	char *end;

	if (strncmp(name, "events-", 7) ||
	    strspn(name + 7, "0123456789abcdef") != 16 ||
	    strcmp(name + 23, ".log"))
		return false;
	*seq = strtoull(name + 7, &end, 16);
	return end == name + 23;
}

/* The lowest and highest segment numbers present; false if none. */
static bool find_segments(struct journal *j, uint64_t *lo, uint64_t *hi)
{
	int fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd == -1 ? NULL : fdopendir(fd);
	struct dirent *e;
	bool found = false;

	if (!d) {
		if (fd != -1)
			close(fd);
		return false;
	}
	while ((e = readdir(d))) {
		uint64_t seq;

		if (!segment_number(e->d_name, &seq))
			continue;
		if (!found || seq < *lo)
			*lo = seq;
		if (!found || seq > *hi)
			*hi = seq;
		found = true;
	}
	closedir(d);
	return found;
}

static void read_cursor(struct journal *j, uint64_t first)
{
	char text[64] = "", *sep = NULL, *end = NULL;
	int fd = openat(j->dirfd, "cursor", O_RDONLY | O_CLOEXEC);
	uint64_t seg = 0, off = 0;
	ssize_t n = fd == -1 ? -1 : read(fd, text, sizeof(text) - 1);

	if (fd != -1)
		close(fd);
	if (n > 0) {
		seg = strtoull(text, &sep, 16);
		if (*sep == ' ')
			off = strtoull(sep + 1, &end, 10);
	}
	/* Written whole and renamed into place, so it is whole or absent. */
	j->cursor.seg = end && *end == '\n' ? seg : first;
	j->cursor.off = end && *end == '\n' ? off : 0;
}

/* Cuts the newest segment after its last complete line. */
static int repair_tail(struct journal *j)
{
	char chunk[4096];
	struct stat st;
	off_t end, keep = 0;

	if (fstat(j->wfd, &st) == -1)
		return -errno;
	for (end = st.st_size; end > 0 && !keep;) {
		off_t start = end > (off_t)sizeof(chunk) ? end - sizeof(chunk)
							 : 0;
		ssize_t n = pread(j->wfd, chunk, (size_t)(end - start), start);

		if (n <= 0)
			return n == -1 ? -errno : -EIO;
		for (ssize_t i = n - 1; i >= 0 && !keep; i--)
			if (chunk[i] == '\n')
				keep = start + i + 1;
		end = start;
	}
	if (keep < st.st_size) {
		log_warn("event journal ends in a partial record, cutting it "
			 "dir=%s bytes=%lld",
			 j->dir, (long long)(st.st_size - keep));
		if (ftruncate(j->wfd, keep) == -1 || fsync(j->wfd) == -1)
			return -errno;
	}
	j->wsize = (uint64_t)keep;
	return 0;
}

static int open_segment(struct journal *j, uint64_t seg, bool create)
{
	char name[SEGMENT_NAME_MAX];
	int flags = O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0);
	int fd;

	segment_name(seg, name);
	fd = openat(j->dirfd, name, flags, 0600);
	if (fd == -1)
		return -errno;
	if (create && fsync(j->dirfd) == -1) {
		close(fd);
		return -errno;
	}
	j->wfd = fd;
	j->wseg = seg;
	return 0;
}

/* Counts the lines from the cursor to the end, for journal_pending. */
static int count_pending(struct journal *j)
{
	for (uint64_t seg = j->cursor.seg; seg <= j->wseg; seg++) {
		char name[SEGMENT_NAME_MAX], chunk[65536];
		off_t off = seg == j->cursor.seg ? (off_t)j->cursor.off : 0;
		ssize_t n;
		int fd;

		segment_name(seg, name);
		fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (fd == -1 && errno == ENOENT)
			continue;
		if (fd == -1)
			return -errno;
		while ((n = pread(fd, chunk, sizeof(chunk), off)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				j->pending += chunk[i] == '\n';
			off += n;
		}
		close(fd);
		if (n == -1)
			return -errno;
	}
	return 0;
}

/* Removes segments before seg, left by an acknowledgement cut short. */
static void remove_before(struct journal *j, uint64_t from, uint64_t seg)
{
	char name[SEGMENT_NAME_MAX];

	for (uint64_t s = from; s < seg; s++) {
		segment_name(s, name);
		if (unlinkat(j->dirfd, name, 0) == -1 && errno != ENOENT)
			log_warn("cannot remove delivered events file=%s/%s "
				 "err=\"%s\"",
				 j->dir, name, strerror(errno));
	}
}

static int journal_load(struct journal *j)
{
	uint64_t lo = 1, hi = 1;
	bool any = find_segments(j, &lo, &hi);
	int err;

	read_cursor(j, lo);
	if (any && lo < j->cursor.seg)
		remove_before(j, lo,
			      j->cursor.seg <= hi ? j->cursor.seg : hi + 1);
	if (!any || hi < j->cursor.seg) {
		/* Nothing after the cursor: start where it points. */
		hi = j->cursor.seg;
		j->cursor.off = 0;
	}

	err = open_segment(j, hi, true);
	if (!err)
		err = repair_tail(j);
	if (err)
		return err;
	if (j->cursor.seg == hi && j->cursor.off > j->wsize)
		j->cursor.off = j->wsize;
	j->synced.seg = j->wseg;
	j->synced.off = j->wsize;
	return count_pending(j);
}

int journal_open(const char *dir, struct journal **out)
{
	struct journal *j = xcalloc(1, sizeof(*j));
	int err;

	j->dir = xstrdup(dir);
	j->wfd = j->rfd = j->dirfd = -1;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->synced_cond, NULL);
	pthread_cond_init(&j->avail, NULL);

	err = make_dirs(dir);
	if (!err) {
		j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (j->dirfd == -1)
			err = -errno;
	}
	if (!err)
		err = journal_load(j);
	if (err) {
		log_error("cannot open event journal dir=%s err=\"%s\"", dir,
			  strerror(-err));
		journal_close(j);
		return err;
	}
	j->rbuf = xmalloc(READ_CHUNK);
	*out = j;
	return 0;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->wfd != -1)
		close(j->wfd);
	if (j->rfd != -1)
		close(j->rfd);
	if (j->dirfd != -1)
		close(j->dirfd);
	pthread_cond_destroy(&j->avail);
	pthread_cond_destroy(&j->synced_cond);
	pthread_mutex_destroy(&j->lock);
	free(j->rbuf);
	free(j->dir);
	free(j);
}

/* ---- appending --------------------------------------------------------- */

/* Starts the next segment once the current one is on disk. Lock held. */
static int rotate(struct journal *j)
{
	int old = j->wfd, err;

	while (j->syncing)
		pthread_cond_wait(&j->synced_cond, &j->lock);
	if (fdatasync(old) == -1)
		return -errno;
	j->synced.seg = j->wseg;
	j->synced.off = j->wsize;

	err = open_segment(j, j->wseg + 1, true);
	if (err) {
		j->wfd = old;
		return err;
	}
	close(old);
	j->wsize = 0;
	j->synced.seg = j->wseg;
	j->synced.off = 0;
	return 0;
}

/* Writes rec and a newline; on failure takes any partial line back. */
static int write_line(struct journal *j, const char *rec, size_t len)
{
	struct iovec iov[2] = {{(void *)rec, len}, {"\n", 1}};
	size_t total = len + 1, done = 0;

	while (done < total) {
		ssize_t n = writev(j->wfd, iov, 2);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n == -1 ? -errno : -EIO;

			if (done && ftruncate(j->wfd, (off_t)j->wsize) == -1)
				log_error("cannot take back a partial event "
					  "dir=%s",
					  j->dir);
			return err;
		}
		done += (size_t)n;
		for (int i = 0; i < 2 && n > 0; i++) {
			size_t step = (size_t)n < iov[i].iov_len
					      ? (size_t)n
					      : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + step;
			iov[i].iov_len -= step;
			n -= (ssize_t)step;
		}
	}
	j->wsize += total;
	return 0;
}

/* Waits until a flush covers mine, flushing itself if nobody is. */
static int sync_upto(struct journal *j, struct journal_pos mine)
{
	while (pos_before(j->synced, mine)) {
		struct journal_pos target = {j->wseg, j->wsize};
		int fd = j->wfd, rc;

		if (j->syncing) {
			pthread_cond_wait(&j->synced_cond, &j->lock);
			continue;
		}
		j->syncing = true;
		pthread_mutex_unlock(&j->lock);
		rc = fdatasync(fd);
		pthread_mutex_lock(&j->lock);
		j->syncing = false;
		pthread_cond_broadcast(&j->synced_cond);
		if (rc == -1)
			return -errno;
		if (pos_before(j->synced, target))
			j->synced = target;
	}
	return 0;
}

int journal_append(struct journal *j, const char *rec, size_t len)
{
	struct journal_pos mine;
	int err = 0;

	if (len == 0 || memchr(rec, '\n', len))
		return -EINVAL;
	if (len > JOURNAL_RECORD_MAX)
		return -E2BIG;

	pthread_mutex_lock(&j->lock);
	if (j->wsize > 0 && j->wsize + len + 1 > SEGMENT_MAX)
		err = rotate(j);
	if (!err)
		err = write_line(j, rec, len);
	if (err)
		goto out;

	mine.seg = j->wseg;
	mine.off = j->wsize;
	j->pending++;
	pthread_cond_broadcast(&j->avail);
	err = sync_upto(j, mine);
out:
	pthread_mutex_unlock(&j->lock);
	return err;
}

/* ---- reading ----------------------------------------------------------- */

/* Makes rfd the segment seg; -ENOENT when it is gone. */
static int reader_open(struct journal *j, uint64_t seg)
{
	char name[SEGMENT_NAME_MAX];

	if (j->rfd != -1 && j->rseg == seg)
		return 0;
	if (j->rfd != -1)
		close(j->rfd);
	segment_name(seg, name);
	j->rfd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
	j->rseg = seg;
	return j->rfd == -1 ? -errno : 0;
}

/* Bytes readable in seg: up to what was written, for the newest. */
static uint64_t segment_end(struct journal *j, struct journal_pos end,
			    uint64_t seg)
{
	struct stat st;

	if (seg == end.seg)
		return end.off;
	return fstat(j->rfd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/*
 * Takes the complete lines of one chunk read at *pos into out.  Returns
 * the bytes consumed; 0 means the chunk held no whole line.
 */
static size_t take_lines(const char *chunk, size_t n, size_t max_records,
			 size_t max_bytes, struct buf *out, size_t *count)
{
	size_t used = 0;

	while (used < n && *count < max_records &&
	       (*count == 0 || out->len < max_bytes)) {
		const char *nl = memchr(chunk + used, '\n', n - used);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - (chunk + used)) + 1;
		buf_add(out, chunk + used, len);
		used += len;
		(*count)++;
	}
	return used;
}

int journal_read(struct journal *j, size_t max_records, size_t max_bytes,
		 struct buf *out, size_t *count, struct journal_pos *next)
{
	struct journal_pos pos, end;

	pthread_mutex_lock(&j->lock);
	pos = j->cursor;
	end.seg = j->wseg;
	end.off = j->wsize;
	pthread_mutex_unlock(&j->lock);

	*count = 0;
	while (pos_before(pos, end) && *count < max_records &&
	       (*count == 0 || out->len < max_bytes)) {
		int err = reader_open(j, pos.seg);
		uint64_t stop;
		ssize_t n;
		size_t used;

		if (err == -ENOENT && pos.seg < end.seg) {
			pos.seg++, pos.off = 0;
			continue;
		}
		if (err)
			return err;
		stop = segment_end(j, end, pos.seg);
		if (pos.off >= stop) {
			if (pos.seg == end.seg)
				break;
			pos.seg++, pos.off = 0;
			continue;
		}

		n = pread(j->rfd, j->rbuf,
			  stop - pos.off < READ_CHUNK ? stop - pos.off
						      : READ_CHUNK,
			  (off_t)pos.off);
		if (n <= 0)
			return n == -1 ? -errno : -EIO;
		used = take_lines(j->rbuf, (size_t)n, max_records, max_bytes,
				  out, count);
		if (used == 0) {
			/* No line end before the segment's: not a record. */
			log_error("event journal holds a broken record, "
				  "skipping it dir=%s segment=%" PRIu64
				  " offset=%" PRIu64,
				  j->dir, pos.seg, pos.off);
			used = (size_t)n;
		}
		pos.off += used;
	}
	*next = pos;
	return 0;
}

static int write_cursor(struct journal *j, const struct journal_pos *pos)
{
	char text[64];
	int n = snprintf(text, sizeof(text), "%016" PRIx64 " %" PRIu64 "\n",
			 pos->seg, pos->off);
	int fd = openat(j->dirfd, "cursor.tmp",
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = 0;

	if (fd == -1)
		return -errno;
	errno = EIO; /* what a short write reports */
	if (write(fd, text, (size_t)n) != n || fdatasync(fd) == -1)
		err = -errno;
	if (close(fd) == -1 && !err)
		err = -errno;
	if (!err && renameat(j->dirfd, "cursor.tmp", j->dirfd, "cursor") == -1)
		err = -errno;
	if (!err && fsync(j->dirfd) == -1)
		err = -errno;
	return err;
}

int journal_ack(struct journal *j, const struct journal_pos *next, size_t count)
{
	uint64_t from;
	int err = write_cursor(j, next);

	if (err)
		return err;
	pthread_mutex_lock(&j->lock);
	from = j->cursor.seg;
	j->cursor = *next;
	j->pending -= count <= j->pending ? count : j->pending;
	pthread_mutex_unlock(&j->lock);

	if (j->rfd != -1 && j->rseg < next->seg) {
		close(j->rfd);
		j->rfd = -1;
	}
	remove_before(j, from, next->seg);
	return 0;
}

uint64_t journal_pending(struct journal *j)
{
	uint64_t n;

	pthread_mutex_lock(&j->lock);
	n = j->pending;
	pthread_mutex_unlock(&j->lock);
	return n;
}

bool journal_wait(struct journal *j, unsigned timeout_ms)
{
	struct timespec until;
	bool any;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}

	pthread_mutex_lock(&j->lock);
	while (!j->pending && !j->woken)
		if (pthread_cond_timedwait(&j->avail, &j->lock, &until) ==
		    ETIMEDOUT)
			break;
	j->woken = false;
	any = j->pending > 0;
	pthread_mutex_unlock(&j->lock);
	return any;
}

void journal_wake(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	j->woken = true;
	pthread_cond_broadcast(&j->avail);
	pthread_mutex_unlock(&j->lock);
}
