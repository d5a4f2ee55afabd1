/*
 * htpasswd.c - loads password files and verifies passwords with
 * libxcrypt.
 *
 * A file becomes a sorted array of the users whose hash berth accepts;
 * every other line is skipped with a warning.  The array never changes
 * after loading: a changed file is loaded anew into another table, which
 * is what lets request threads share one without locks.
 *
 * Fingerprints are computed once per line at load time, so that asking
 * whether a session's credentials still hold costs no hashing.
 */
#include "htpasswd.h"
#include "log.h"
#include "util.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Far above any real user list; stops a wrong path eating memory. */
#define HTPASSWD_MAX_FILE (64 * 1024 * 1024)

struct htpasswd_user {
	char *name;
	char *hash;
	size_t line;
	unsigned char fingerprint[HTPASSWD_FINGERPRINT_LEN];
};

struct htpasswd {
	struct htpasswd_user *users; /* sorted by name, unique */
	size_t count;

	bool has_id; /* loaded from a file */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

bool htpasswd_name_valid(const char *name)
{
	size_t len = 0;

	if (!name || !*name || *name == '#' || !strcmp(name, "*"))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p <= ' ' || *p == 0x7f || *p == ':')
			return false;
		if (++len > HTPASSWD_NAME_MAX)
			return false;
	}
	return true;
}

/* ---- recognising hashes ---------------------------------------------- */

/* The alphabet crypt(3) encodes salts and hashes in. */
static bool is_crypt64(int c)
{
	return isalnum(c) || c == '.' || c == '/';
}

static bool all_crypt64(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_crypt64((unsigned char)s[i]))
			return false;
	return true;
}

/* "$2y$NN$" followed by 22 bytes of salt and 31 of hash. */
static bool bcrypt_well_formed(const char *h)
{
	int cost;

	if (strlen(h) != 60 || !isdigit((unsigned char)h[4]) ||
	    !isdigit((unsigned char)h[5]) || h[6] != '$')
		return false;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	return cost >= 4 && cost <= 31 && all_crypt64(h + 7, 53);
}

/*
 * What follows "$5$" or "$6$": an optional "rounds=N$", a salt of up to
 * 16 characters, '$' and the encoded digest of digest_len characters.
 */
static bool shacrypt_well_formed(const char *p, size_t digest_len)
{
	const char *salt_end;
	size_t rounds_len;

	if (!strncmp(p, "rounds=", 7)) {
		rounds_len = strspn(p + 7, "0123456789");
		if (rounds_len == 0 || rounds_len > 9 ||
		    p[7 + rounds_len] != '$')
			return false;
		p += 7 + rounds_len + 1;
	}
	salt_end = strchr(p, '$');
	if (!salt_end || salt_end - p > 16 || !all_crypt64(p, salt_end - p))
		return false;
	p = salt_end + 1;
	return strlen(p) == digest_len && all_crypt64(p, digest_len);
}

static bool is_bcrypt(const char *h)
{
	return !strncmp(h, "$2y$", 4) || !strncmp(h, "$2b$", 4) ||
	       !strncmp(h, "$2a$", 4);
}

/* Names for the hashes berth refuses, so a warning can say which. */
static const char *weak_scheme(const char *h)
{
	if (!strncmp(h, "$apr1$", 6))
		return "apr1-md5";
	if (!strncmp(h, "$1$", 3))
		return "md5-crypt";
	if (!strncmp(h, "{SHA}", 5))
		return "sha1";
	if (h[0] == '$')
		return "unsupported";
	if (strlen(h) == 13 && all_crypt64(h, 13))
		return "des-crypt";
	return "plain";
}

const char *htpasswd_scheme(const char *hash, bool *accepted)
{
	const char *name = NULL;
	bool ok = false;

	if (is_bcrypt(hash)) {
		name = "bcrypt";
		ok = bcrypt_well_formed(hash);
	} else if (!strncmp(hash, "$5$", 3)) {
		name = "sha256-crypt";
		ok = shacrypt_well_formed(hash + 3, 43);
	} else if (!strncmp(hash, "$6$", 3)) {
		name = "sha512-crypt";
		ok = shacrypt_well_formed(hash + 3, 86);
	}

	*accepted = ok;
	if (!name)
		return weak_scheme(hash);
	return ok ? name : "malformed";
}

/* ---- verifying ------------------------------------------------------- */

bool htpasswd_check_hash(const char *hash, const char *password)
{
	struct crypt_data *data;
	const char *out;
	bool accepted, match = false;
	size_t len = strlen(hash);

	htpasswd_scheme(hash, &accepted);
	if (!accepted)
		return false;

	/* Large (32 KiB), so not on a request thread's stack. */
	data = xcalloc(1, sizeof(*data));
	out = crypt_rn(password, hash, data, sizeof(*data));
	if (out && strlen(out) == len)
		match = CRYPTO_memcmp(out, hash, len) == 0;
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return match;
}

/* Orders by name, then by line, so the first of duplicates comes first. */
static int user_cmp(const void *a, const void *b)
{
	const struct htpasswd_user *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int user_cmp_name(const void *a, const void *b)
{
	const struct htpasswd_user *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static const struct htpasswd_user *find_user(const struct htpasswd *h,
					     const char *name)
{
	struct htpasswd_user key = {.name = (char *)name};

	if (!h->count)
		return NULL;
	return bsearch(&key, h->users, h->count, sizeof(key), user_cmp_name);
}

bool htpasswd_verify(const struct htpasswd *h, const char *user,
		     const char *password)
{
	const struct htpasswd_user *u = find_user(h, user);

	if (u)
		return htpasswd_check_hash(u->hash, password);

	/*
	 * Pay for a hash anyway, against some real user's, so that a wrong
	 * name answers no faster than a wrong password.  The result is
	 * thrown away: this user does not exist.
	 */
	if (h->count)
		htpasswd_check_hash(h->users[0].hash, password);
	return false;
}

int htpasswd_hash_bcrypt(const char *password, unsigned cost, char *out,
			 size_t outlen)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hash;
	int rc = 0;

	if (cost < 4 || cost > 31 ||
	    strlen(password) > HTPASSWD_BCRYPT_PASSWORD_MAX)
		return -EINVAL;
	/* A NULL entropy source makes libxcrypt read the kernel's. */
	if (!crypt_gensalt_rn("$2y$", cost, NULL, 0, setting, sizeof(setting)))
		return -EIO;

	data = xcalloc(1, sizeof(*data));
	hash = crypt_rn(password, setting, data, sizeof(*data));
	if (!hash || hash[0] == '*' || strlen(hash) >= outlen)
		rc = -EIO;
	else
		memcpy(out, hash, strlen(hash) + 1);
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return rc;
}

/* ---- fingerprints ---------------------------------------------------- */

static unsigned char fingerprint_key[32];
static pthread_once_t fingerprint_once = PTHREAD_ONCE_INIT;

/*
 * Without random bytes no session could be told apart from a forged
 * one either, so berth stops as it does when memory runs out.
 */
static void fingerprint_key_init(void)
{
	if (RAND_bytes(fingerprint_key, sizeof(fingerprint_key)) != 1) {
		log_error("no random bytes for the htpasswd fingerprint key");
		abort();
	}
}

/* HMAC-SHA256 of name, a NUL and hash: the NUL keeps the two apart. */
static void fingerprint_of(struct htpasswd_user *u)
{
	size_t nlen = strlen(u->name), hlen = strlen(u->hash);
	unsigned char *msg = xmalloc(nlen + 1 + hlen);
	unsigned int n = HTPASSWD_FINGERPRINT_LEN;

	pthread_once(&fingerprint_once, fingerprint_key_init);
	memcpy(msg, u->name, nlen + 1);
	memcpy(msg + nlen + 1, u->hash, hlen);
	if (!HMAC(EVP_sha256(), fingerprint_key, sizeof(fingerprint_key), msg,
		  nlen + 1 + hlen, u->fingerprint, &n))
		abort();
	OPENSSL_cleanse(msg, nlen + 1 + hlen);
	free(msg);
}

bool htpasswd_fingerprint(const struct htpasswd *h, const char *user,
			  unsigned char out[HTPASSWD_FINGERPRINT_LEN])
{
	const struct htpasswd_user *u = find_user(h, user);

	if (!u)
		return false;
	memcpy(out, u->fingerprint, HTPASSWD_FINGERPRINT_LEN);
	return true;
}

/* ---- parsing --------------------------------------------------------- */

struct parser {
	struct htpasswd *h;
	size_t cap;
	const char *origin;
};

static char *trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

static void add_user(struct parser *p, const char *name, const char *hash,
		     size_t line)
{
	struct htpasswd *h = p->h;

	if (h->count == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		h->users = xrealloc(h->users, p->cap * sizeof(*h->users));
	}
	h->users[h->count].name = xstrdup(name);
	h->users[h->count].hash = xstrdup(hash);
	h->users[h->count].line = line;
	h->count++;
}

/* Takes one line (modified in place); the reasons to skip it are logged. */
static void parse_line(struct parser *p, char *line, size_t lineno)
{
	char *colon, *hash;
	const char *scheme;
	bool accepted;

	line = trim(line);
	if (!*line || *line == '#')
		return;
	colon = strchr(line, ':');
	if (colon)
		*colon = '\0';
	if (!colon || !htpasswd_name_valid(line) || !*trim(colon + 1)) {
		log_warn("htpasswd line malformed, skipping path=%s line=%zu",
			 p->origin, lineno);
		return;
	}

	hash = trim(colon + 1);
	scheme = htpasswd_scheme(hash, &accepted);
	if (accepted)
		add_user(p, line, hash, lineno);
	else if (!strcmp(scheme, "malformed"))
		log_warn("htpasswd line malformed, skipping path=%s line=%zu "
			 "user=%s",
			 p->origin, lineno, line);
	else
		log_warn("htpasswd user has a weak password hash and cannot "
			 "log in; set a new password with berth user passwd "
			 "path=%s line=%zu user=%s scheme=%s",
			 p->origin, lineno, line, scheme);
}

/* Sorts the users and keeps the first line of any name listed twice. */
static void drop_duplicates(struct htpasswd *h, const char *origin)
{
	size_t kept = 0;

	if (!h->count)
		return;
	qsort(h->users, h->count, sizeof(*h->users), user_cmp);
	for (size_t i = 0; i < h->count; i++) {
		struct htpasswd_user *u = &h->users[i];

		if (kept && !strcmp(h->users[kept - 1].name, u->name)) {
			log_warn("htpasswd user listed twice, using the first "
				 "path=%s line=%zu user=%s",
				 origin, u->line, u->name);
			OPENSSL_cleanse(u->hash, strlen(u->hash));
			free(u->name);
			free(u->hash);
			continue;
		}
		h->users[kept++] = *u;
	}
	h->count = kept;
}

struct htpasswd *htpasswd_parse(const char *text, size_t len,
				const char *origin)
{
	struct parser p = {.h = xcalloc(1, sizeof(struct htpasswd)),
			   .origin = origin};
	size_t lineno = 0;

	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		char *line = xstrndup(text, n);

		/* A NUL would cut the line short and hide what follows. */
		if (memchr(text, '\0', n))
			log_warn("htpasswd line malformed, skipping path=%s "
				 "line=%zu",
				 origin, ++lineno);
		else
			parse_line(&p, line, ++lineno);
		OPENSSL_cleanse(line, n);
		free(line);
		text += n + (nl != NULL);
		len -= n + (nl != NULL);
	}
	drop_duplicates(p.h, origin);
	for (size_t i = 0; i < p.h->count; i++)
		fingerprint_of(&p.h->users[i]);
	return p.h;
}

/* ---- files ----------------------------------------------------------- */

static int read_all(int fd, size_t size, char **text, size_t *len)
{
	struct buf b = BUF_INIT;
	char chunk[16384];
	ssize_t n;

	buf_grow(&b, size);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || b.len + (size_t)n > HTPASSWD_MAX_FILE) {
			int e = n == -1 ? errno : EFBIG;

			OPENSSL_cleanse(b.data, b.len);
			buf_free(&b);
			return -e;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	buf_grow(&b, 0);
	*text = buf_detach(&b, len);
	return 0;
}

int htpasswd_load(const char *path, struct htpasswd **out, char *err,
		  size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		rc = -errno;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EISDIR;
		set_error(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > HTPASSWD_MAX_FILE) {
		rc = -EFBIG;
		goto out;
	}
	rc = read_all(fd, (size_t)st.st_size, &text, &len);
	if (rc < 0)
		goto out;

	*out = htpasswd_parse(text, len, path);
	(*out)->has_id = true;
	(*out)->dev = st.st_dev;
	(*out)->ino = st.st_ino;
	(*out)->size = st.st_size;
	(*out)->mtime = st.st_mtim;
	(*out)->ctime = st.st_ctim;
	OPENSSL_cleanse(text, len);
	free(text);
out:
	if (rc < 0 && rc != -EISDIR)
		set_error(err, errlen, "%s: %s", path, strerror(-rc));
	if (fd != -1)
		close(fd);
	return rc;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool htpasswd_changed(const struct htpasswd *h, const char *path)
{
	struct stat st;

	if (!h->has_id)
		return false;
	if (stat(path, &st) == -1)
		return true;
	return st.st_dev != h->dev || st.st_ino != h->ino ||
	       st.st_size != h->size || !same_time(&st.st_mtim, &h->mtime) ||
	       !same_time(&st.st_ctim, &h->ctime);
}

size_t htpasswd_count(const struct htpasswd *h)
{
	return h->count;
}

void htpasswd_free(struct htpasswd *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->count; i++) {
		OPENSSL_cleanse(h->users[i].hash, strlen(h->users[i].hash));
		free(h->users[i].name);
		free(h->users[i].hash);
	}
	free(h->users);
	free(h);
}
