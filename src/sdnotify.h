/*
 * sdnotify.h - tells the service manager that started berth (systemd,
 * with Type=notify) that it is ready, reloading or stopping, and pings
 * its watchdog.
 *
 * The protocol is a datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (an abstract one when the name starts with
 * '@'), and the watchdog interval comes from $WATCHDOG_USEC.  Writing it
 * here rather than linking libsystemd keeps that library and its own
 * dependencies out of every berth process.
 */
#ifndef BERTH_SDNOTIFY_H
#define BERTH_SDNOTIFY_H

#include <stdint.h>

/*
 * Sends STATE, one or more "KEY=VALUE" lines such as "READY=1", to the
 * socket in $NOTIFY_SOCKET.  Returns 1 when sent, 0 when no manager asked
 * for notifications (the variable is unset or empty), or a negative errno:
 * -EAFNOSUPPORT for a socket name that is neither a path nor abstract,
 * -ENAMETOOLONG for one too long for an AF_UNIX address, or what socket()
 * or sendto() failed with.  Safe to call from any thread.
 */
int sdnotify_send(const char *state);

/*
 * Returns the watchdog interval in microseconds the manager asked this
 * process to keep ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or names
 * this process), or 0 when there is no watchdog or the values are not
 * numbers.
 */
uint64_t sdnotify_watchdog_usec(void);

#endif
