/*
 * check.h - the unit tests' tiny harness.
 *
 * A test file defines static void functions and calls RUN(fn) for each
 * from main, then returns check_done().  Every RUN prints one line,
 * "PASS name" or "FAIL name", which tests/run-all.sh counts; a failed
 * CHECK prints where and what before it.
 */
#ifndef BERTH_CHECK_H
#define BERTH_CHECK_H

#include <ftw.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_failed_tests;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("  %s:%d: check failed: %s\n", __FILE__,        \
			       __LINE__, #cond);                               \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *check_a_ = (a), *check_b_ = (b);                   \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_)) {    \
			printf("  %s:%d: \"%s\" != \"%s\"\n", __FILE__,        \
			       __LINE__, check_a_ ? check_a_ : "(null)",       \
			       check_b_ ? check_b_ : "(null)");                \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define RUN(fn) check_run(#fn, fn)

static inline void check_run(const char *name, void (*fn)(void))
{
	int before = check_failures;

	fn();
	if (check_failures == before) {
		printf("PASS unit:%s\n", name);
	} else {
		printf("FAIL unit:%s\n", name);
		check_failed_tests++;
	}
	fflush(stdout);
}

static inline int check_rm_entry(const char *path, const struct stat *sb,
				 int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Removes a scratch directory and everything in it; 0 or -1. */
static inline int check_rmtree(const char *dir)
{
	return nftw(dir, check_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int check_done(void)
{
	return check_failed_tests ? 1 : 0;
}

#endif
