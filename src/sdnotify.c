/*
 * sdnotify.c - the service manager's readiness and watchdog protocol,
 * written by hand: see sdnotify.h.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Fills ADDR from the socket name NAME and returns the address length,
 * or a negative errno.  An abstract name ('@' for its leading NUL) is
 * exactly as long as its bytes, with no terminating NUL.
 */
static int sdnotify_address(const char *name, struct sockaddr_un *addr)
{
	size_t len = strlen(name);

	if (name[0] != '/' && name[0] != '@')
		return -EAFNOSUPPORT;
	if (len >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, name, len);
	if (name[0] == '@')
		addr->sun_path[0] = '\0';
	return (int)(offsetof(struct sockaddr_un, sun_path) + len);
}

int sdnotify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	int addrlen, fd, ret = 1;

	if (!name || !*name)
		return 0;
	addrlen = sdnotify_address(name, &addr);
	if (addrlen < 0)
		return addrlen;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&addr, (socklen_t)addrlen) == -1)
		ret = -errno;
	close(fd);
	return ret;
}

/* Parses a whole decimal number of VALUE into *N; -1 for anything else. */
static int sdnotify_number(const char *value, unsigned long long *n)
{
	char *end;

	if (!value || *value < '0' || *value > '9')
		return -1;
	errno = 0;
	*n = strtoull(value, &end, 10);
	if (errno || *end)
		return -1;
	return 0;
}

uint64_t sdnotify_watchdog_usec(void)
{
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long usec, owner;

	/* A watchdog set for a parent that exec'd berth is not berth's. */
	if (pid) {
		if (sdnotify_number(pid, &owner) == -1 ||
		    owner != (unsigned long long)getpid())
			return 0;
	}
	if (sdnotify_number(getenv("WATCHDOG_USEC"), &usec) == -1)
		return 0;
	return usec;
}
