/*
 * test_access_usercmd.c - `berth user add|passwd|del` on temporary
 * files: what changes, what must not, refusals, passwords from a pipe
 * and from a terminal that must not echo them.
 *
 * Each command runs in a child process, as it would from a shell, with
 * standard input, output and error redirected.
 */
#include "check.h"
#include "htpasswd.h"
#include "usercmd.h"
#include "util.h"
#include "access_testutil.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>

struct run {
	int status; /* exit status */
	char *out;  /* standard output */
	char *err;  /* standard error */
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Reads what a child wrote to a temporary file. */
static char *slurp(FILE *f)
{
	long len = ftell(f);
	char *text = calloc(1, (size_t)len + 1);

	rewind(f);
	if (fread(text, 1, (size_t)len, f) != (size_t)len)
		text[0] = '\0';
	fclose(f);
	return text;
}

/* Runs `berth user ARGS` with input as its standard input. */
static struct run user_cmd(const char *input, int argc, char **argv)
{
	FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
	struct run r = {0};
	pid_t pid;

	fputs(input, in);
	fflush(in);
	rewind(in);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		dup2(fileno(in), STDIN_FILENO);
		dup2(fileno(out), STDOUT_FILENO);
		dup2(fileno(err), STDERR_FILENO);
		exit(usercmd_main(argc, argv));
	}
	waitpid(pid, &r.status, 0);
	r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
	fseek(out, 0, SEEK_END);
	fseek(err, 0, SEEK_END);
	r.out = slurp(out);
	r.err = slurp(err);
	fclose(in);
	return r;
}

static struct run user3(const char *input, const char *op, const char *file,
			const char *name)
{
	char *argv[] = {"user", (char *)op, (char *)file, (char *)name, NULL};

	return user_cmd(input, 4, argv);
}

/* The hash on name's line of text, or NULL; the caller frees it. */
static char *hash_of(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, name, n) && p[n] == ':')
			return strndup(p + n + 1, strcspn(p + n + 1, "\n"));
		if (!strchr(p, '\n'))
			break;
	}
	return NULL;
}

static int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || strlen(e->d_name) > 2;
	closedir(d);
	return n;
}

struct tmpfile_set {
	char *dir;
	char path[256];
};

static void set_open(struct tmpfile_set *s)
{
	s->dir = temp_dir();
	snprintf(s->path, sizeof(s->path), "%s/htpasswd", s->dir);
}

static void set_close(struct tmpfile_set *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	char p[512];

	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", s->dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(s->dir);
	free(s->dir);
}

/* ---- the tests -------------------------------------------------------- */

static void test_add_creates_file(void)
{
	struct tmpfile_set s;
	struct run r;
	struct stat st;
	char *text, *h;

	set_open(&s);
	r = user3("first secret\n", "add", s.path, "alice");
	CHECK(r.status == 0);
	CHECK(strstr(r.out, "added alice to "));
	CHECK(!strstr(r.out, "first secret") && !strstr(r.err, "secret"));
	run_free(&r);

	text = read_text(s.path);
	CHECK(text && !strncmp(text, "alice:$2y$04$", 13));
	h = text ? hash_of(text, "alice") : NULL;
	CHECK(h && htpasswd_check_hash(h, "first secret"));
	CHECK(h && !htpasswd_check_hash(h, "first secret\n"));
	CHECK(stat(s.path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(files_in(s.dir) == 1);
	free(h);
	free(text);
	set_close(&s);
}

static const char existing[] =
	"# team registry\n"
	"alice:$6$berthsalt$UhNIhnq9G4.tVMkB8Lnbhvnh6kIhtaRBq4bdHbWnjQdk1lF8"
	"7PtGIdymGMXMiVWy5P6uAHBMVDa8zMyvXFqRt1\n"
	"dave:$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1\n"
	"not a user line\n"
	"  bob:$5$berthsalt$UOtOp5a6H91OHLPEz7kK0xFa50pG7iy2nerSUfYUmM/\n"
	"alice:$apr1$old$duplicate\n"
	"carol:$5$berthsalt$UOtOp5a6H91OHLPEz7kK0xFa50pG7iy2nerSUfYUmM/";

static void test_add_keeps_other_lines(void)
{
	struct tmpfile_set s;
	struct run r;
	char *text, *want;

	set_open(&s);
	write_text(s.path, existing);
	r = user3("pw\n", "add", s.path, "erin");
	CHECK(r.status == 0);
	run_free(&r);

	text = read_text(s.path);
	want = malloc(sizeof(existing) + 2);
	sprintf(want, "%s\n", existing);
	CHECK(text && !strncmp(text, want, strlen(want)));
	CHECK(text && !strncmp(text + strlen(want), "erin:$2y$04$", 12));
	CHECK(text && strlen(text) == strlen(want) + 66);
	free(want);
	free(text);

	/* Adding a user who exists changes nothing, even indented ones. */
	text = read_text(s.path);
	r = user3("pw\n", "add", s.path, "bob");
	CHECK(r.status == 1);
	CHECK(strstr(r.err, "user bob already exists in ") &&
	      strstr(r.err, "berth user passwd"));
	run_free(&r);
	want = read_text(s.path);
	CHECK(text && want && !strcmp(text, want));
	CHECK(files_in(s.dir) == 1);
	free(want);
	free(text);
	set_close(&s);
}

static void test_passwd(void)
{
	struct tmpfile_set s;
	struct run r;
	struct stat st;
	char *text, *h;

	set_open(&s);
	write_text(s.path, existing);
	chmod(s.path, 0640);
	r = user3("new password\r\n", "passwd", s.path, "alice");
	CHECK(r.status == 0);
	CHECK(strstr(r.out, "changed the password of alice in "));
	run_free(&r);

	text = read_text(s.path);
	h = text ? hash_of(text, "alice") : NULL;
	CHECK(h && htpasswd_check_hash(h, "new password"));
	/* The stale duplicate went; everything else is as it was. */
	CHECK(text && count_of(text, "alice:") == 1);
	CHECK(text && strstr(text, "# team registry\nalice:$2y$04$"));
	CHECK(text && strstr(text, "\ndave:$apr1$abcdefgh$FBwExRW4dCc8aL."
				   "OvjpIE1\nnot a user line\n  bob:$5$"));
	CHECK(text && strstr(text, "\ncarol:$5$berthsalt$UOtOp5a6H91OHLPE"
				   "z7kK0xFa50pG7iy2nerSUfYUmM/\n"));
	CHECK(stat(s.path, &st) == 0 && (st.st_mode & 0777) == 0640);
	free(h);
	free(text);

	/* The weak user can be given a strong hash this way. */
	r = user3("fresh\n", "passwd", s.path, "dave");
	CHECK(r.status == 0);
	run_free(&r);
	text = read_text(s.path);
	h = text ? hash_of(text, "dave") : NULL;
	CHECK(h && htpasswd_check_hash(h, "fresh"));
	free(h);
	free(text);

	r = user3("x\n", "passwd", s.path, "zoe");
	CHECK(r.status == 1 && strstr(r.err, "no user zoe in "));
	run_free(&r);
	CHECK(files_in(s.dir) == 1);
	set_close(&s);
}

static void test_del(void)
{
	struct tmpfile_set s;
	struct run r;
	char *text;

	set_open(&s);
	write_text(s.path, existing);
	r = user3("", "del", s.path, "alice");
	CHECK(r.status == 0 && strstr(r.out, "removed alice from "));
	run_free(&r);
	text = read_text(s.path);
	CHECK(text && !strstr(text, "alice"));
	CHECK(text && !strncmp(text, "# team registry\ndave:", 21));
	CHECK(text && strstr(text, "  bob:$5$") && strstr(text, "carol:"));
	free(text);

	r = user3("", "del", s.path, "alice");
	CHECK(r.status == 1 && strstr(r.err, "no user alice in "));
	run_free(&r);

	unlink(s.path);
	r = user3("", "del", s.path, "bob");
	CHECK(r.status == 1 && strstr(r.err, "No such file"));
	run_free(&r);
	r = user3("pw\n", "passwd", s.path, "bob");
	CHECK(r.status == 1 && strstr(r.err, "No such file"));
	run_free(&r);
	CHECK(files_in(s.dir) == 0);
	set_close(&s);
}

/* The command edits the real file behind a symbolic link. */
static void test_symlink(void)
{
	struct tmpfile_set s;
	struct run r;
	char link[300], *text;
	struct stat st;

	set_open(&s);
	write_text(s.path, "carol:$5$berthsalt$UOtOp5a6H91OHLPEz7kK0xFa50pG"
			   "7iy2nerSUfYUmM/\n");
	snprintf(link, sizeof(link), "%s/link", s.dir);
	CHECK(symlink(s.path, link) == 0);
	r = user3("pw\n", "add", link, "bob");
	CHECK(r.status == 0);
	run_free(&r);
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
	text = read_text(s.path);
	CHECK(text && strstr(text, "carol:") && strstr(text, "\nbob:$2y$"));
	free(text);
	set_close(&s);
}

static void test_refusals(void)
{
	static const char *const bad_names[] = {
		"a:b", "a b", "", "#x", "*", "tab\there",
	};
	struct tmpfile_set s;
	char *before, *after, *long_pw = malloc(200);
	struct run r;

	set_open(&s);
	write_text(s.path, existing);
	before = read_text(s.path);

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		r = user3("pw\n", "add", s.path, bad_names[i]);
		CHECK(r.status == 1 && strstr(r.err, "invalid user name"));
		run_free(&r);
	}

	r = user3("", "add", s.path, "zoe");
	CHECK(r.status == 1 && strstr(r.err, "no password given"));
	run_free(&r);
	r = user3("\nsecond line\n", "add", s.path, "zoe");
	CHECK(r.status == 1 && strstr(r.err, "the password is empty"));
	run_free(&r);
	memset(long_pw, 'x', 73);
	strcpy(long_pw + 73, "\n");
	r = user3(long_pw, "add", s.path, "zoe");
	CHECK(r.status == 1 && strstr(r.err, "longer than 72 bytes"));
	run_free(&r);

	setenv("BERTH_BCRYPT_COST", "3", 1);
	r = user3("pw\n", "add", s.path, "zoe");
	CHECK(r.status == 1 && strstr(r.err, "BERTH_BCRYPT_COST must be"));
	run_free(&r);
	setenv("BERTH_BCRYPT_COST", "4", 1);

	after = read_text(s.path);
	CHECK(before && after && !strcmp(before, after));
	CHECK(files_in(s.dir) == 1);

	/* A long password within bcrypt's 72 bytes is fine. */
	long_pw[72] = '\n';
	long_pw[73] = '\0';
	r = user3(long_pw, "add", s.path, "zoe");
	CHECK(r.status == 0);
	run_free(&r);

	free(after);
	free(before);
	free(long_pw);
	set_close(&s);
}

static void test_usage(void)
{
	char *none[] = {"user", NULL};
	char *help[] = {"user", "--help", NULL};
	char *bad_op[] = {"user", "rename", "/tmp/x", "a", NULL};
	char *extra[] = {"user", "add", "/tmp/x", "a", "b", NULL};
	struct run r;

	r = user_cmd("", 1, none);
	CHECK(r.status == 2 && strstr(r.err, "usage: berth user add"));
	run_free(&r);
	r = user_cmd("", 2, help);
	CHECK(r.status == 0 && strstr(r.out, "usage: berth user add"));
	run_free(&r);
	r = user_cmd("", 4, bad_op);
	CHECK(r.status == 2);
	run_free(&r);
	r = user_cmd("", 5, extra);
	CHECK(r.status == 2);
	run_free(&r);
}

/* ---- a terminal ------------------------------------------------------- */

/* Waits until the child turned echo off for its prompt. */
static bool wait_echo_off(int master)
{
	struct termios t;

	for (int i = 0; i < 5000; i++) {
		if (tcgetattr(master, &t) == 0 && !(t.c_lflag & ECHO))
			return true;
		usleep(1000);
	}
	return false;
}

/* Reads the child's standard error until it contains want. */
static bool wait_for(int fd, struct buf *seen, const char *want)
{
	char chunk[256];

	while (!seen->data || !strstr(seen->data, want)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			return false;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			return false;
		buf_add(seen, chunk, (size_t)n);
	}
	return true;
}

/*
 * Types two passwords at the prompts of `berth user add` on a pseudo
 * terminal.  Returns the exit status; *echo gets what the terminal
 * showed, which must not include the passwords.
 */
static int tty_add(const char *path, const char *pw1, const char *pw2,
		   char **echo, char **prompts)
{
	struct buf seen = BUF_INIT, shown = BUF_INIT;
	int master = posix_openpt(O_RDWR | O_NOCTTY), errpipe[2], status;
	char chunk[256];
	ssize_t n;
	pid_t pid;

	grantpt(master);
	unlockpt(master);
	CHECK(pipe(errpipe) == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int slave;

		setsid();
		slave = open(ptsname(master), O_RDWR);
		dup2(slave, STDIN_FILENO);
		dup2(errpipe[1], STDOUT_FILENO);
		dup2(errpipe[1], STDERR_FILENO);
		close(errpipe[0]);
		exit(usercmd_main(4, (char *[]){"user", "add", (char *)path,
						"tess", NULL}));
	}
	close(errpipe[1]);

	CHECK(wait_for(errpipe[0], &seen, "New password: "));
	CHECK(wait_echo_off(master));
	CHECK(write(master, pw1, strlen(pw1)) == (ssize_t)strlen(pw1));
	CHECK(wait_for(errpipe[0], &seen, "Retype new password: "));
	CHECK(wait_echo_off(master));
	CHECK(write(master, pw2, strlen(pw2)) == (ssize_t)strlen(pw2));
	waitpid(pid, &status, 0);

	while ((n = read(errpipe[0], chunk, sizeof(chunk))) > 0)
		buf_add(&seen, chunk, (size_t)n);
	fcntl(master, F_SETFL, O_NONBLOCK);
	while ((n = read(master, chunk, sizeof(chunk))) > 0)
		buf_add(&shown, chunk, (size_t)n);
	buf_add(&shown, "", 1);
	*echo = buf_detach(&shown, NULL);
	*prompts = buf_detach(&seen, NULL);
	close(errpipe[0]);
	close(master);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_terminal_prompt(void)
{
	struct tmpfile_set s;
	char *echo, *prompts, *text, *h;

	set_open(&s);
	CHECK(tty_add(s.path, "tty-secret\n", "tty-secret\n", &echo,
		      &prompts) == 0);
	CHECK(!strstr(echo, "tty-secret"));
	text = read_text(s.path);
	h = text ? hash_of(text, "tess") : NULL;
	CHECK(h && htpasswd_check_hash(h, "tty-secret"));
	free(h);
	free(text);
	free(echo);
	free(prompts);
	unlink(s.path);

	CHECK(tty_add(s.path, "one\n", "two\n", &echo, &prompts) == 1);
	CHECK(strstr(prompts, "the passwords do not match"));
	CHECK(access(s.path, F_OK) == -1 && errno == ENOENT);
	free(echo);
	free(prompts);
	set_close(&s);
}

int main(void)
{
	setenv("BERTH_BCRYPT_COST", "4", 1);
	RUN(test_add_creates_file);
	RUN(test_add_keeps_other_lines);
	RUN(test_passwd);
	RUN(test_del);
	RUN(test_symlink);
	RUN(test_refusals);
	RUN(test_usage);
	RUN(test_terminal_prompt);
	return check_done();
}
