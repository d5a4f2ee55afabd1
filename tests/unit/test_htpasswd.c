/*
 * test_htpasswd.c - password files: the hashes berth accepts and those
 * it refuses, warnings that name users but never hashes, duplicates,
 * change detection and bcrypt hashing for the user command.
 */
#include "check.h"
#include "htpasswd.h"
#include "access_testutil.h"

#include <errno.h>

/* Independent of libxcrypt: OpenSSL's `passwd -5/-6` of "password". */
static const char sha256_password[] =
	"$5$berthsalt$UOtOp5a6H91OHLPEz7kK0xFa50pG7iy2nerSUfYUmM/";
static const char sha512_password[] =
	"$6$berthsalt$UhNIhnq9G4.tVMkB8Lnbhvnh6kIhtaRBq4bdHbWnjQdk1lF87Pt"
	"GIdymGMXMiVWy5P6uAHBMVDa8zMyvXFqRt1";
static const char sha512_rounds_password[] =
	"$6$rounds=5000$x$.7KcIn5.ZfkbYAJ0eR5aiXX.9cAoOEk.kCx3w6xY1EaxFjgM"
	"WuH6WyPufoidBlBiQ9OVWpzaDWwKtTA8cs5FF.";
/* The crypt_blowfish test vector for "U*U". */
static const char bcrypt_uu[] =
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
/* OpenSSL's `passwd -apr1` and `-1` of "password": refused. */
static const char apr1_password[] = "$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1";
static const char md5_password[] = "$1$abcdefgh$G//4keteveJp0qb8z2DxG/";

static void test_name_valid(void)
{
	char longest[HTPASSWD_NAME_MAX + 2];

	CHECK(htpasswd_name_valid("alice"));
	CHECK(htpasswd_name_valid("ci-bot.deploy_1@example.com"));
	CHECK(htpasswd_name_valid("a#b"));
	CHECK(!htpasswd_name_valid(""));
	CHECK(!htpasswd_name_valid(NULL));
	CHECK(!htpasswd_name_valid("al:ice"));
	CHECK(!htpasswd_name_valid("al ice"));
	CHECK(!htpasswd_name_valid("alice\t"));
	CHECK(!htpasswd_name_valid("al\nice"));
	CHECK(!htpasswd_name_valid("al\x7fice"));
	CHECK(!htpasswd_name_valid("#alice"));
	CHECK(!htpasswd_name_valid("*"));

	memset(longest, 'a', sizeof(longest));
	longest[HTPASSWD_NAME_MAX] = '\0';
	CHECK(htpasswd_name_valid(longest));
	longest[HTPASSWD_NAME_MAX] = 'a';
	longest[HTPASSWD_NAME_MAX + 1] = '\0';
	CHECK(!htpasswd_name_valid(longest));
}

static void test_fixed_hashes(void)
{
	bool ok;

	CHECK(htpasswd_check_hash(sha256_password, "password"));
	CHECK(!htpasswd_check_hash(sha256_password, "Password"));
	CHECK(htpasswd_check_hash(sha512_password, "password"));
	CHECK(!htpasswd_check_hash(sha512_password, "passwor"));
	CHECK(htpasswd_check_hash(sha512_rounds_password, "password"));
	CHECK(htpasswd_check_hash(bcrypt_uu, "U*U"));
	CHECK(!htpasswd_check_hash(bcrypt_uu, "U*V"));
	CHECK(!htpasswd_check_hash(bcrypt_uu, ""));

	CHECK_STR(htpasswd_scheme(sha256_password, &ok), "sha256-crypt");
	CHECK(ok);
	CHECK_STR(htpasswd_scheme(sha512_rounds_password, &ok), "sha512-crypt");
	CHECK(ok);
	CHECK_STR(htpasswd_scheme(bcrypt_uu, &ok), "bcrypt");
	CHECK(ok);
}

/* Every accepted scheme, hashed here by libxcrypt with a fresh salt. */
static void test_generated_hashes(void)
{
	static const struct {
		const char *prefix;
		unsigned long count;
	} schemes[] = {
		{"$2y$", 4},   {"$2b$", 4}, {"$2a$", 5},    {"$5$", 0},
		{"$5$", 1000}, {"$6$", 0},  {"$6$", 20000},
	};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		char *h = make_hash(schemes[i].prefix, schemes[i].count,
				    "s3cret pass");
		bool ok;

		htpasswd_scheme(h, &ok);
		CHECK(ok);
		CHECK(htpasswd_check_hash(h, "s3cret pass"));
		CHECK(!htpasswd_check_hash(h, "s3cret pasS"));
		CHECK(!htpasswd_check_hash(h, "s3cret pass "));
		if (!ok)
			printf("  scheme %s refused: %s\n", schemes[i].prefix,
			       h);
		free(h);
	}
}

/* Weak hashes never verify, even with the right password. */
static void test_refused_schemes(void)
{
	static const struct {
		const char *hash, *scheme;
	} weak[] = {
		{apr1_password, "apr1-md5"},
		{md5_password, "md5-crypt"},
		{"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "sha1"},
		{"abJnggxhB/yWI", "des-crypt"},
		{"password", "plain"},
		{"$y$j9T$abc$def", "unsupported"},
		{"$2y$10$tooshort", "malformed"},
		{"$2y$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		 "malformed"},
		{"$5$salt$tooshort", "malformed"},
		{"$6$a$b$c", "malformed"},
	};

	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		bool ok = true;

		CHECK_STR(htpasswd_scheme(weak[i].hash, &ok), weak[i].scheme);
		CHECK(!ok);
		CHECK(!htpasswd_check_hash(weak[i].hash, "password"));
	}
}

static void test_parse_file(void)
{
	char *text, *log;
	struct htpasswd *h;

	text = malloc(4096);
	snprintf(text, 4096,
		 "# registry users\n"
		 "\n"
		 "alice:%s\n"
		 "bob:%s\r\n"
		 "  carol:%s  \n"
		 "dave:%s\n"
		 "erin:%s\n"
		 "no colon here\n"
		 ":%s\n"
		 "frank:\n"
		 "grace:$2y$10$broken\n"
		 "alice:%s\n"
		 "heidi:%s",
		 sha256_password, sha512_password, bcrypt_uu, apr1_password,
		 "plaintext", sha512_password, bcrypt_uu, sha512_password);

	capture_begin();
	h = htpasswd_parse(text, strlen(text), "users.htpasswd");
	log = capture_end();

	CHECK(htpasswd_count(h) == 4);
	CHECK(htpasswd_verify(h, "alice", "password"));
	CHECK(htpasswd_verify(h, "bob", "password"));
	CHECK(htpasswd_verify(h, "carol", "U*U"));
	CHECK(htpasswd_verify(h, "heidi", "password"));
	CHECK(!htpasswd_verify(h, "alice", "U*U")); /* first line wins */
	CHECK(!htpasswd_verify(h, "dave", "password"));
	CHECK(!htpasswd_verify(h, "erin", "plaintext"));
	CHECK(!htpasswd_verify(h, "nobody", "password"));
	CHECK(!htpasswd_verify(h, "grace", "anything"));
	CHECK(!htpasswd_verify(h, "", "password"));

	CHECK(strstr(log, "weak password hash") && strstr(log, "user=dave") &&
	      strstr(log, "scheme=apr1-md5"));
	CHECK(strstr(log, "user=erin scheme=plain"));
	CHECK(strstr(log, "malformed, skipping path=users.htpasswd line=8\n"));
	CHECK(strstr(log, "line=9\n"));
	CHECK(strstr(log, "line=10\n"));
	CHECK(strstr(log, "line=11 user=grace"));
	CHECK(strstr(log, "listed twice") && strstr(log, "line=12 "));
	CHECK(count_of(log, "level=warn") == 7);
	/* Warnings name users, never their hashes. */
	CHECK(!strstr(log, "abcdefgh") && !strstr(log, "plaintext") &&
	      !strstr(log, "berthsalt") && !strstr(log, "CCCC") &&
	      !strstr(log, "broken"));
	htpasswd_free(h);
	free(log);
	free(text);
}

static void test_parse_edge_lines(void)
{
	static const char text[] = "alice:$5$berthsalt$UOtOp5a6H91OHLPEz7kK"
				   "0xFa50pG7iy2nerSUfYUmM/\0junk\nbob\n";
	struct htpasswd *h;
	char *log;

	capture_begin();
	h = htpasswd_parse(text, sizeof(text) - 1, "f");
	log = capture_end();
	CHECK(htpasswd_count(h) == 0);
	CHECK(strstr(log, "path=f line=1\n") && strstr(log, "line=2\n"));
	htpasswd_free(h);
	free(log);

	h = htpasswd_parse("", 0, "empty");
	CHECK(htpasswd_count(h) == 0);
	CHECK(!htpasswd_verify(h, "alice", "password"));
	CHECK(!htpasswd_changed(h, "/nonexistent"));
	htpasswd_free(h);
}

/* A name that does not exist costs a hash too, or timing would tell. */
static void test_unknown_user_costs_a_hash(void)
{
	char *hash = make_hash("$2y$", 8, "right");
	char *text = malloc(256);
	struct htpasswd *h;
	double t0, known, unknown;

	snprintf(text, 256, "alice:%s\n", hash);
	h = htpasswd_parse(text, strlen(text), "t");
	t0 = seconds_now();
	CHECK(!htpasswd_verify(h, "alice", "wrong"));
	known = seconds_now() - t0;
	t0 = seconds_now();
	CHECK(!htpasswd_verify(h, "mallory", "wrong"));
	unknown = seconds_now() - t0;
	CHECK(unknown > known / 3);
	htpasswd_free(h);
	free(text);
	free(hash);
}

static void test_load_and_changed(void)
{
	char *dir = temp_dir(), *path, err[256];
	struct htpasswd *h = NULL;
	struct timespec times[2] = {{0, 0}, {0, UTIME_OMIT}};
	char *line = malloc(256);
	int rc;

	path = malloc(strlen(dir) + 16);
	sprintf(path, "%s/htpasswd", dir);
	rc = htpasswd_load(path, &h, err, sizeof(err));
	CHECK(rc == -ENOENT);
	CHECK(strstr(err, path) && strstr(err, "No such file"));

	rc = htpasswd_load(dir, &h, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, "not a regular file"));

	snprintf(line, 256, "alice:%s\n", sha256_password);
	write_text(path, line);
	rc = htpasswd_load(path, &h, err, sizeof(err));
	CHECK(rc == 0);
	if (rc == 0) {
		CHECK(htpasswd_count(h) == 1);
		CHECK(!htpasswd_changed(h, path));

		/* Same size, same inode, only the time differs. */
		times[0].tv_sec = 1000000000;
		times[1] = times[0];
		utimensat(AT_FDCWD, path, times, 0);
		CHECK(htpasswd_changed(h, path));
		htpasswd_free(h);
	}

	rc = htpasswd_load(path, &h, err, sizeof(err));
	CHECK(rc == 0 && !htpasswd_changed(h, path));
	snprintf(line, 256, "alice:%s\nbob:%s\n", sha256_password,
		 sha512_password);
	write_text(path, line);
	CHECK(htpasswd_changed(h, path));
	unlink(path);
	CHECK(htpasswd_changed(h, path));
	htpasswd_free(h);

	rmdir(dir);
	free(line);
	free(path);
	free(dir);
}

static void test_hash_bcrypt(void)
{
	char hash[128], long_pw[HTPASSWD_BCRYPT_PASSWORD_MAX + 2];
	bool ok;

	CHECK(htpasswd_hash_bcrypt("hunter2", 4, hash, sizeof(hash)) == 0);
	CHECK(!strncmp(hash, "$2y$04$", 7) && strlen(hash) == 60);
	CHECK_STR(htpasswd_scheme(hash, &ok), "bcrypt");
	CHECK(htpasswd_check_hash(hash, "hunter2"));
	CHECK(!htpasswd_check_hash(hash, "hunter3"));

	CHECK(htpasswd_hash_bcrypt("x", 3, hash, sizeof(hash)) == -EINVAL);
	CHECK(htpasswd_hash_bcrypt("x", 32, hash, sizeof(hash)) == -EINVAL);
	CHECK(htpasswd_hash_bcrypt("x", 4, hash, 20) == -EIO);

	memset(long_pw, 'p', sizeof(long_pw));
	long_pw[HTPASSWD_BCRYPT_PASSWORD_MAX] = '\0';
	CHECK(htpasswd_hash_bcrypt(long_pw, 4, hash, sizeof(hash)) == 0);
	long_pw[HTPASSWD_BCRYPT_PASSWORD_MAX] = 'p';
	long_pw[HTPASSWD_BCRYPT_PASSWORD_MAX + 1] = '\0';
	CHECK(htpasswd_hash_bcrypt(long_pw, 4, hash, sizeof(hash)) == -EINVAL);
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_name_valid);
	RUN(test_fixed_hashes);
	RUN(test_generated_hashes);
	RUN(test_refused_schemes);
	RUN(test_parse_file);
	RUN(test_parse_edge_lines);
	RUN(test_unknown_user_costs_a_hash);
	RUN(test_load_and_changed);
	RUN(test_hash_bcrypt);
	return check_done();
}
