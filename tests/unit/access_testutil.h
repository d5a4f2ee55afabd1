/*
 * access_testutil.h - helpers shared by the access, htpasswd and user
 * command tests: capturing log lines, temporary files and hashes.
 */
#ifndef BERTH_ACCESS_TESTUTIL_H
#define BERTH_ACCESS_TESTUTIL_H

#include "log.h"

#include <crypt.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static FILE *capture_file;
static int capture_saved = -1;

/* Sends log lines (standard error) to a temporary file until _end. */
static inline void capture_begin(void)
{
	fflush(stderr);
	log_threshold = LVL_DEBUG;
	capture_file = tmpfile();
	capture_saved = dup(STDERR_FILENO);
	dup2(fileno(capture_file), STDERR_FILENO);
}

/* Returns what was logged since capture_begin; the caller frees it. */
static inline char *capture_end(void)
{
	char *text;
	long len;

	fflush(stderr);
	log_threshold = LVL_ERROR;
	dup2(capture_saved, STDERR_FILENO);
	close(capture_saved);
	len = ftell(capture_file);
	text = calloc(1, (size_t)len + 1);
	rewind(capture_file);
	if (fread(text, 1, (size_t)len, capture_file) != (size_t)len)
		text[0] = '\0';
	fclose(capture_file);
	return text;
}

static inline int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* A fresh directory under /tmp; the caller frees the name. */
static inline char *temp_dir(void)
{
	char *dir = strdup("/tmp/berth-access-XXXXXX");

	if (!mkdtemp(dir))
		abort();
	return dir;
}

static inline void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

/* Reads a whole small file; the caller frees it.  NULL if missing. */
static inline char *read_text(const char *path)
{
	char *text = calloc(1, 65536);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd == -1) {
		free(text);
		return NULL;
	}
	n = read(fd, text, 65535);
	close(fd);
	if (n < 0)
		text[0] = '\0';
	return text;
}

/* Hashes password with libxcrypt's own salt for prefix at count. */
static inline char *make_hash(const char *prefix, unsigned long count,
			      const char *password)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data;
	const char *h;

	memset(&data, 0, sizeof(data));
	if (!crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof(setting)))
		abort();
	h = crypt_rn(password, setting, &data, sizeof(data));
	if (!h || h[0] == '*')
		abort();
	return strdup(h);
}

static inline double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
