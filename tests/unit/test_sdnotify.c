/*
 * test_sdnotify.c - the service manager protocol: the datagram reaches the
 * socket $NOTIFY_SOCKET names (a path or an abstract name), nothing is sent
 * without one, bad names are refused, and the watchdog interval is read
 * only for this process.
 */
#include "check.h"
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Binds a datagram socket to NAME as $NOTIFY_SOCKET spells it. */
static int listener(const char *name)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memcpy(addr.sun_path, name, len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	if (fd == -1 ||
	    bind(fd, (struct sockaddr *)&addr,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) ==
		    -1) {
		perror("bind");
		return -1;
	}
	return fd;
}

/* Receives one datagram without waiting; "" when none is queued. */
static void receive(int fd, char *out, size_t size)
{
	ssize_t n = recv(fd, out, size - 1, MSG_DONTWAIT);

	out[n > 0 ? n : 0] = '\0';
}

static void test_path_socket(void)
{
	char dir[] = "/tmp/berth-sdnotify-XXXXXX", path[128], got[64];
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	CHECK(fd != -1);
	setenv("NOTIFY_SOCKET", path, 1);

	CHECK(sdnotify_send("READY=1") == 1);
	receive(fd, got, sizeof(got));
	CHECK_STR(got, "READY=1");
	CHECK(sdnotify_send("STOPPING=1") == 1);
	receive(fd, got, sizeof(got));
	CHECK_STR(got, "STOPPING=1");

	close(fd);
	unlink(path);
	rmdir(dir);
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void)
{
	char name[64], got[64];
	int fd;

	snprintf(name, sizeof(name), "@berth-sdnotify-%d", (int)getpid());
	fd = listener(name);
	CHECK(fd != -1);
	setenv("NOTIFY_SOCKET", name, 1);

	CHECK(sdnotify_send("WATCHDOG=1") == 1);
	receive(fd, got, sizeof(got));
	CHECK_STR(got, "WATCHDOG=1");

	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_no_manager(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK(sdnotify_send("READY=1") == 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK(sdnotify_send("READY=1") == 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_bad_socket(void)
{
	char long_name[200];

	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	CHECK(sdnotify_send("READY=1") == -EAFNOSUPPORT);

	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[0] = '/';
	long_name[sizeof(long_name) - 1] = '\0';
	setenv("NOTIFY_SOCKET", long_name, 1);
	CHECK(sdnotify_send("READY=1") == -ENAMETOOLONG);

	/* Nobody listens there: the error comes back, nothing blocks. */
	setenv("NOTIFY_SOCKET", "/nonexistent/berth-notify", 1);
	CHECK(sdnotify_send("READY=1") == -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog(void)
{
	char pid[32];

	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	CHECK(sdnotify_watchdog_usec() == 0);

	setenv("WATCHDOG_USEC", "30000000", 1);
	CHECK(sdnotify_watchdog_usec() == 30000000);

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(sdnotify_watchdog_usec() == 30000000);

	/* Meant for another process, e.g. a wrapper that exec'd berth. */
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(sdnotify_watchdog_usec() == 0);
	unsetenv("WATCHDOG_PID");

	setenv("WATCHDOG_USEC", "30s", 1);
	CHECK(sdnotify_watchdog_usec() == 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	CHECK(sdnotify_watchdog_usec() == 0);
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	RUN(test_path_socket);
	RUN(test_abstract_socket);
	RUN(test_no_manager);
	RUN(test_bad_socket);
	RUN(test_watchdog);
	return check_done();
}
