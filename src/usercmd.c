/*
 * usercmd.c - `berth user add|passwd|del FILE NAME`.
 *
 * The file is edited as text, line by line, so comments, other users and
 * even lines berth cannot read survive untouched.  Edits are serialised
 * by a lock on the file's directory (the file itself is replaced, so it
 * cannot carry the lock) and land with a rename, so a running berth
 * reads either the old file or the new one, never half of each.
 */
#include "usercmd.h"
#include "htpasswd.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

enum user_op { OP_ADD, OP_PASSWD, OP_DEL };

/* The file as read: its text, and its mode and owner if it exists. */
struct pwfile {
	char *path; /* the real path, symbolic links resolved */
	char *text;
	size_t len;
	bool exists;
	struct stat st;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: berth user add FILE NAME      add a user\n"
		"       berth user passwd FILE NAME   set a user's password\n"
		"       berth user del FILE NAME      remove a user\n"
		"\n"
		"The password is asked for twice on a terminal, or read from\n"
		"the first line of standard input otherwise.  Hashes are\n"
		"bcrypt, cost 10 or BERTH_BCRYPT_COST.\n");
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("berth user: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the password ---------------------------------------------------- */

static struct termios saved_tty;

/* Gives the terminal its echo back if the prompt is interrupted. */
static void on_signal(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line into buf (cap bytes) without its line ending. */
static int read_line(char *buf, size_t cap)
{
	size_t len;

	if (!fgets(buf, (int)cap, stdin))
		return -ENODATA;
	len = strlen(buf);
	if (len == cap - 1 && buf[len - 1] != '\n' && !feof(stdin))
		return -E2BIG;
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return 0;
}

static int prompt(const char *question, char *buf, size_t cap)
{
	struct termios quiet;
	int rc;

	fputs(question, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &saved_tty) == -1)
		return -errno;
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1)
		return -errno;
	rc = read_line(buf, cap);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	fputc('\n', stderr);
	return rc;
}

/* Asks twice on a terminal; takes the first line of a pipe or file. */
static int get_password(char *pw, char *again, size_t cap)
{
	int rc;

	if (!isatty(STDIN_FILENO)) {
		rc = read_line(pw, cap);
	} else {
		rc = prompt("New password: ", pw, cap);
		if (rc == 0)
			rc = prompt("Retype new password: ", again, cap);
		if (rc == 0 && strcmp(pw, again)) {
			fail("the passwords do not match; nothing changed");
			return -EINVAL;
		}
	}

	if (rc == -ENODATA)
		fail("no password given on standard input");
	else if (rc == -E2BIG ||
		 (rc == 0 && strlen(pw) > HTPASSWD_BCRYPT_PASSWORD_MAX))
		fail("the password is longer than %d bytes, the most bcrypt "
		     "uses",
		     HTPASSWD_BCRYPT_PASSWORD_MAX);
	else if (rc < 0)
		fail("cannot read the password: %s", strerror(-rc));
	else if (!*pw)
		fail("the password is empty");
	else
		return 0;
	return rc < 0 ? rc : -EINVAL;
}

static int bcrypt_cost(unsigned *cost)
{
	const char *s = getenv("BERTH_BCRYPT_COST");
	char *end;
	long v;

	*cost = HTPASSWD_BCRYPT_COST;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 4 || v > 31) {
		fail("BERTH_BCRYPT_COST must be a whole number from 4 to 31, "
		     "got \"%s\"",
		     s);
		return -EINVAL;
	}
	*cost = (unsigned)v;
	return 0;
}

/* ---- the file -------------------------------------------------------- */

/* Resolves symbolic links so the rename replaces the real file. */
static char *real_path(const char *path)
{
	char *real = realpath(path, NULL);

	if (real) {
		char *copy = xstrdup(real);

		free(real);
		return copy;
	}
	return xstrdup(path);
}

/* Reads the file at real (a path from real_path), if there is one. */
static int read_pwfile(const char *real, struct pwfile *f)
{
	struct buf b = BUF_INIT;
	char chunk[8192];
	ssize_t n;
	int fd, rc = 0;

	f->path = xstrdup(real);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &f->st) == -1) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(f->st.st_mode)) {
		rc = -EISDIR; /* see read_failed */
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			goto out;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	buf_grow(&b, 0);
	f->exists = true;
	f->text = buf_detach(&b, &f->len);
out:
	buf_free(&b);
	close(fd);
	return rc;
}

static void pwfile_free(struct pwfile *f)
{
	if (f->text)
		OPENSSL_cleanse(f->text, f->len);
	free(f->text);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

/* Whether the line (len bytes, no newline) is name's, as berth reads. */
static bool line_is_user(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	return len > n && line[n] == ':' && !memcmp(line, name, n);
}

/*
 * Writes the new text into out: every line kept except name's, whose
 * first line becomes entry (if not NULL) and the rest go.  Returns how
 * many lines were name's.
 */
static size_t rewrite(const struct pwfile *f, const char *name,
		      const char *entry, struct buf *out)
{
	const char *p = f->text;
	size_t left = f->len, found = 0;

	while (left > 0) {
		const char *nl = memchr(p, '\n', left);
		size_t n = nl ? (size_t)(nl - p) : left;

		if (!line_is_user(p, n, name)) {
			buf_add(out, p, n);
			buf_add(out, "\n", 1);
		} else if (found++ == 0 && entry) {
			buf_addf(out, "%s\n", entry);
		}
		p += n + (nl != NULL);
		left -= n + (nl != NULL);
	}
	return found;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd == -1)
		return -errno;
	if (fsync(fd) == -1)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Replaces f's file with data: a temporary file beside it, with the old
 * file's mode and owner (0600 for a new one), synced, then renamed over
 * it, then the directory synced so the rename survives a crash.
 */
static int replace_file(const struct pwfile *f, const char *dir,
			const char *data, size_t len)
{
	char *tmp = xasprintf("%s.XXXXXX", f->path);
	mode_t mode = f->exists ? f->st.st_mode & 07777 : 0600;
	int fd, rc = 0;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	if (fchmod(fd, mode) == -1)
		rc = -errno;
	/* Only root can give the file away; anyone else keeps it. */
	if (rc == 0 && f->exists && geteuid() == 0 &&
	    fchown(fd, f->st.st_uid, f->st.st_gid) == -1)
		rc = -errno;
	if (rc == 0)
		rc = write_all(fd, data, len);
	if (rc == 0 && fsync(fd) == -1)
		rc = -errno;
	if (close(fd) == -1 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, f->path) == -1)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	else
		rc = sync_dir(dir);
	free(tmp);
	return rc;
}

/* The directory holding path, which berth locks while it edits. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static int lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return -errno;
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			int e = errno;

			close(fd);
			return -e;
		}
	}
	return fd;
}

/* ---- the command ----------------------------------------------------- */

static void read_failed(const char *path, int rc)
{
	if (rc == -EISDIR)
		fail("%s: not a regular file", path);
	else
		fail("%s: %s", path, strerror(-rc));
}

static size_t count_user_lines(const struct pwfile *f, const char *name)
{
	struct buf scratch = BUF_INIT;
	size_t n = rewrite(f, name, NULL, &scratch);

	OPENSSL_cleanse(scratch.data, scratch.len);
	buf_free(&scratch);
	return n;
}

/* Whether op makes sense for the file as it is; says why not. */
static int check_state(enum user_op op, const struct pwfile *f,
		       const char *path, const char *name)
{
	bool there = f->exists && count_user_lines(f, name) > 0;

	if (op == OP_ADD && there) {
		fail("user %s already exists in %s; use berth user passwd to "
		     "change the password",
		     name, path);
		return -EEXIST;
	}
	if (op != OP_ADD && !f->exists) {
		fail("%s: %s", path, strerror(ENOENT));
		return -ENOENT;
	}
	if (op != OP_ADD && !there) {
		fail("no user %s in %s", name, path);
		return -ENOENT;
	}
	return 0;
}

/* Reads the file once without the lock, to fail before any prompt. */
static int precheck(enum user_op op, const char *path, const char *name)
{
	struct pwfile f = {0};
	char *real = real_path(path);
	int rc = read_pwfile(real, &f);

	if (rc < 0)
		read_failed(path, rc);
	else
		rc = check_state(op, &f, path, name);
	pwfile_free(&f);
	free(real);
	return rc;
}

/* Under the directory lock: read, check again, rewrite, replace. */
static int apply(enum user_op op, const char *path, const char *name,
		 const char *entry)
{
	struct pwfile f = {0};
	struct buf out = BUF_INIT;
	char *real = real_path(path), *dir = dir_of(real);
	int lock, rc;

	lock = lock_dir(dir);
	if (lock < 0) {
		rc = lock;
		fail("cannot lock %s: %s", dir, strerror(-rc));
		goto out;
	}
	rc = read_pwfile(real, &f);
	if (rc < 0) {
		read_failed(path, rc);
		goto out;
	}
	rc = check_state(op, &f, path, name);
	if (rc < 0)
		goto out;

	rewrite(&f, name, entry, &out);
	if (op == OP_ADD)
		buf_addf(&out, "%s\n", entry);
	rc = replace_file(&f, dir, out.data ? out.data : "", out.len);
	if (rc < 0)
		fail("cannot write %s: %s; nothing changed", path,
		     strerror(-rc));
out:
	if (out.data)
		OPENSSL_cleanse(out.data, out.len);
	buf_free(&out);
	pwfile_free(&f);
	if (lock >= 0)
		close(lock);
	free(dir);
	free(real);
	return rc;
}

static int parse_op(const char *s, enum user_op *op)
{
	static const char *const names[] = {"add", "passwd", "del"};

	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*op = (enum user_op)i;
			return 0;
		}
	return -1;
}

/* Builds "name:hash" from a password asked for now. */
static int make_entry(const char *name, char **entry)
{
	char pw[HTPASSWD_PASSWORD_MAX + 2], again[sizeof(pw)];
	char hash[128];
	unsigned cost;
	int rc;

	rc = bcrypt_cost(&cost);
	if (rc == 0)
		rc = get_password(pw, again, sizeof(pw));
	if (rc == 0) {
		rc = htpasswd_hash_bcrypt(pw, cost, hash, sizeof(hash));
		if (rc < 0)
			fail("cannot hash the password: %s", strerror(-rc));
	}
	if (rc == 0)
		*entry = xasprintf("%s:%s", name, hash);
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(again, sizeof(again));
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "help") || !strcmp(arg, "--help") ||
	       !strcmp(arg, "-h");
}

int usercmd_main(int argc, char **argv)
{
	static const char *const done[] = {
		"added %s to %s\n",
		"changed the password of %s in %s\n",
		"removed %s from %s\n",
	};
	const char *path, *name;
	char *entry = NULL;
	enum user_op op;
	int rc;

	if (argc == 2 && is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	if (argc != 4 || parse_op(argv[1], &op) < 0) {
		usage(stderr);
		return 2;
	}
	path = argv[2];
	name = argv[3];
	if (!htpasswd_name_valid(name)) {
		fail("invalid user name \"%s\": 1 to %d bytes without ':', "
		     "spaces or control characters, not starting with '#' "
		     "and not \"*\"",
		     name, HTPASSWD_NAME_MAX);
		return 1;
	}

	rc = precheck(op, path, name);
	if (rc == 0 && op != OP_DEL)
		rc = make_entry(name, &entry);
	if (rc == 0)
		rc = apply(op, path, name, entry);
	if (entry)
		OPENSSL_cleanse(entry, strlen(entry));
	free(entry);
	if (rc < 0)
		return 1;
	printf(done[op], name, path);
	return 0;
}
