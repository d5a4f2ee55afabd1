"""Service manager notifications, as systemd's Type=notify and WatchdogSec=
read them: berth sends READY=1 to $NOTIFY_SOCKET once it serves,
RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM, and
WATCHDOG=1 at half of $WATCHDOG_USEC; abstract socket names work too."""

import os
import signal
import socket
import time

import opstest as ops
from opstest import bt, check


def listen(name):
    """A datagram socket bound where $NOTIFY_SOCKET=name points."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:] if name.startswith("@") else name)
    sock.settimeout(0.2)
    return sock


def receive_until(sock, want, got, timeout=10):
    """Appends each datagram to got until one equals want."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            continue
        got.append(msg)
        if msg == want:
            return
    check(False, "no %s within %ss; got %r" % (want, timeout, got))


def test_notify_lifecycle():
    path = os.path.join(bt.scratch("notify"), "notify")
    sock = listen(path)
    got = []
    srv = bt.start_berth(env={"NOTIFY_SOCKET": path})
    receive_until(sock, "READY=1", got)
    check(got == ["READY=1"], "before READY=1: %r" % got)

    got.clear()
    srv.proc.send_signal(signal.SIGHUP)
    receive_until(sock, "READY=1", got)
    check(got == ["RELOADING=1", "READY=1"], "around SIGHUP: %r" % got)
    bt.expect(srv.get("/v2/"), 200, "after the reload")

    got.clear()
    srv.stop()
    receive_until(sock, "STOPPING=1", got, timeout=1)
    check("WATCHDOG=1" not in got, "pings without a watchdog: %r" % got)
    sock.close()


def test_notify_watchdog_abstract():
    name = "@berth-ops-notify-%d-%s" % (os.getpid(), bt.unique("w"))
    sock = listen(name)
    got = []
    srv = bt.start_berth(env={"NOTIFY_SOCKET": name,
                              "WATCHDOG_USEC": "400000"})
    receive_until(sock, "READY=1", got)

    # Half the interval is 0.2 s: a few pings arrive within 1.5 s.
    got.clear()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
    pings = got.count("WATCHDOG=1")
    check(pings >= 3, "%d watchdog pings in 1.5 s: %r" % (pings, got))
    srv.stop()
    sock.close()
