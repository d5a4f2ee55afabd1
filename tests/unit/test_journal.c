/*
 * test_journal.c - the on-disk event queue: order, acknowledgement,
 * reopening, repair of a cut record, segment rotation and concurrent
 * appends.
 */
#include "check.h"
#include "journal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

static char *temp_dir(void)
{
	char tmpl[] = "/tmp/berth-journal-XXXXXX";
	char *dir = mkdtemp(tmpl);

	return dir ? xasprintf("%s/q/endpoint", dir) : NULL;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes what temp_dir made: the journal's directory and its parents. */
static void remove_tree(const char *dir)
{
	char *top = xstrdup(dir);

	*strrchr(top, '/') = '\0';
	*strrchr(top, '/') = '\0';
	if (nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		printf("  could not remove %s\n", top);
	free(top);
}

static int append_str(struct journal *j, const char *s)
{
	return journal_append(j, s, strlen(s));
}

/* Reads everything pending (without acknowledging) into a string. */
static char *read_all(struct journal *j, size_t max, size_t *count,
		      struct journal_pos *next)
{
	struct buf b = BUF_INIT;

	CHECK(journal_read(j, max, 1 << 20, &b, count, next) == 0);
	buf_add(&b, "", 0);
	return buf_detach(&b, NULL);
}

static int segment_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "events-", 7);
	if (d)
		closedir(d);
	return n;
}

static void test_order_and_ack(void)
{
	char *dir = temp_dir();
	struct journal *j = NULL;
	struct journal_pos next;
	size_t count;
	char *text;

	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	CHECK(journal_pending(j) == 0);
	text = read_all(j, 10, &count, &next);
	CHECK(count == 0 && !strcmp(text, ""));
	free(text);

	CHECK(append_str(j, "{\"n\":1}") == 0);
	CHECK(append_str(j, "{\"n\":2}") == 0);
	CHECK(append_str(j, "{\"n\":3}") == 0);
	CHECK(journal_pending(j) == 3);

	text = read_all(j, 2, &count, &next);
	CHECK(count == 2);
	CHECK_STR(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);
	/* Not acknowledged: the same two again. */
	text = read_all(j, 2, &count, &next);
	CHECK_STR(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);

	CHECK(journal_ack(j, &next, count) == 0);
	CHECK(journal_pending(j) == 1);
	text = read_all(j, 10, &count, &next);
	CHECK(count == 1);
	CHECK_STR(text, "{\"n\":3}\n");
	free(text);
	journal_close(j);
	remove_tree(dir);
	free(dir);
}

static void test_bad_records_refused(void)
{
	char *dir = temp_dir();
	struct journal *j = NULL;
	char *big = xcalloc(1, JOURNAL_RECORD_MAX + 2);

	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	memset(big, 'x', JOURNAL_RECORD_MAX + 1);
	CHECK(journal_append(j, "", 0) == -EINVAL);
	CHECK(append_str(j, "two\nlines") == -EINVAL);
	CHECK(journal_append(j, big, JOURNAL_RECORD_MAX + 1) == -E2BIG);
	CHECK(journal_append(j, big, JOURNAL_RECORD_MAX) == 0);
	CHECK(journal_pending(j) == 1);
	free(big);
	journal_close(j);
	remove_tree(dir);
	free(dir);
}

static void test_reopen_keeps_unacknowledged(void)
{
	char *dir = temp_dir();
	struct journal *j = NULL;
	struct journal_pos next;
	size_t count;
	char *text;

	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	append_str(j, "a");
	append_str(j, "b");
	append_str(j, "c");
	text = read_all(j, 1, &count, &next);
	CHECK(journal_ack(j, &next, count) == 0);
	free(text);
	journal_close(j);

	j = NULL;
	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	CHECK(journal_pending(j) == 2);
	append_str(j, "d");
	text = read_all(j, 10, &count, &next);
	CHECK_STR(text, "b\nc\nd\n");
	free(text);
	journal_close(j);
	remove_tree(dir);
	free(dir);
}

static void test_cut_record_repaired(void)
{
	char *dir = temp_dir();
	struct journal *j = NULL;
	struct journal_pos next;
	char *seg, *text;
	size_t count;
	int fd;

	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	append_str(j, "first");
	append_str(j, "second");
	journal_close(j);

	/* A crash in the middle of a write leaves a line without its end. */
	seg = xasprintf("%s/events-0000000000000001.log", dir);
	fd = open(seg, O_WRONLY | O_APPEND);
	CHECK(fd != -1);
	CHECK(write(fd, "{\"cut", 5) == 5);
	close(fd);

	j = NULL;
	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	CHECK(journal_pending(j) == 2);
	append_str(j, "third");
	text = read_all(j, 10, &count, &next);
	CHECK_STR(text, "first\nsecond\nthird\n");
	CHECK(count == 3);
	free(text);
	free(seg);
	journal_close(j);
	remove_tree(dir);
	free(dir);
}

static void test_segments_rotate_and_go(void)
{
	char *dir = temp_dir();
	struct journal *j = NULL;
	char *rec = xmalloc(40001);
	size_t total = 0, n = 260;
	bool in_order = true;

	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	for (size_t i = 0; i < n; i++) {
		memset(rec, 'a' + (int)(i % 26), 40000);
		snprintf(rec, 12, "%010zu:", i);
		rec[11] = 'x';
		CHECK(journal_append(j, rec, 40000) == 0);
	}
	CHECK(segment_files(dir) >= 2);

	while (total < n) {
		struct buf b = BUF_INIT;
		struct journal_pos next;
		size_t count;

		CHECK(journal_read(j, 7, 100000, &b, &count, &next) == 0);
		if (count == 0)
			break;
		for (size_t k = 0; k < count; k++) {
			const char *line = b.data + k * 40001;

			if ((size_t)strtoul(line, NULL, 10) != total + k ||
			    line[40000] != '\n')
				in_order = false;
		}
		CHECK(journal_ack(j, &next, count) == 0);
		total += count;
		buf_free(&b);
	}
	CHECK(total == n);
	CHECK(in_order);
	CHECK(journal_pending(j) == 0);
	CHECK(segment_files(dir) == 1); /* delivered segments removed */
	free(rec);
	journal_close(j);

	/* Reopening after everything was acknowledged finds nothing. */
	j = NULL;
	CHECK(journal_open(dir, &j) == 0);
	CHECK(j && journal_pending(j) == 0);
	journal_close(j);
	remove_tree(dir);
	free(dir);
}

#define WRITERS 8
#define PER_WRITER 300

struct writer_arg {
	struct journal *j;
	int id;
};

static void *writer(void *arg)
{
	struct writer_arg *w = arg;
	char rec[32];

	for (int i = 0; i < PER_WRITER; i++) {
		snprintf(rec, sizeof(rec), "%d %d", w->id, i);
		if (append_str(w->j, rec) != 0)
			printf("  append failed\n");
	}
	return NULL;
}

static void test_concurrent_appends(void)
{
	char *dir = temp_dir();
	struct journal *j = NULL;
	struct writer_arg args[WRITERS];
	pthread_t t[WRITERS];
	int last[WRITERS], seen = 0;
	bool ordered = true;
	struct journal_pos next;
	size_t count;
	char *text, *line;

	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	for (int i = 0; i < WRITERS; i++) {
		args[i].j = j;
		args[i].id = i;
		last[i] = -1;
		pthread_create(&t[i], NULL, writer, &args[i]);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	CHECK(journal_pending(j) == WRITERS * PER_WRITER);

	text = read_all(j, 100000, &count, &next);
	CHECK(count == WRITERS * PER_WRITER);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *end;
		long id = strtol(line, &end, 10);
		long n = *end == ' ' ? strtol(end + 1, &end, 10) : -1;

		if (*end || id < 0 || id >= WRITERS || n != last[id] + 1)
			ordered = false;
		else
			last[id] = (int)n;
		seen++;
	}
	CHECK(ordered);
	CHECK(seen == WRITERS * PER_WRITER);
	free(text);
	journal_close(j);
	remove_tree(dir);
	free(dir);
}

static void *late_append(void *arg)
{
	usleep(100000);
	append_str(arg, "late");
	return NULL;
}

static void test_wait_and_wake(void)
{
	char *dir = temp_dir();
	struct journal *j = NULL;
	uint64_t t0;
	pthread_t t;

	CHECK(journal_open(dir, &j) == 0);
	if (!j)
		return;
	t0 = now_monotonic_ns();
	CHECK(!journal_wait(j, 50));
	CHECK(now_monotonic_ns() - t0 >= 40000000);

	journal_wake(j);
	t0 = now_monotonic_ns();
	CHECK(!journal_wait(j, 5000));
	CHECK(now_monotonic_ns() - t0 < 1000000000);

	pthread_create(&t, NULL, late_append, j);
	CHECK(journal_wait(j, 5000));
	pthread_join(t, NULL);
	journal_close(j);
	remove_tree(dir);
	free(dir);
}

int main(void)
{
	RUN(test_order_and_ack);
	RUN(test_bad_records_refused);
	RUN(test_reopen_keeps_unacknowledged);
	RUN(test_cut_record_repaired);
	RUN(test_segments_rotate_and_go);
	RUN(test_concurrent_appends);
	RUN(test_wait_and_wake);
	return check_done();
}
