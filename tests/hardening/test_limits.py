"""Hostile clients that try to exhaust berth: slow senders (slowloris),
connection floods, oversized request lines and headers, idle
connections, oversized manifests, and clients over their request rate.

The limits come from http.limits.* and http.ratelimit.* (set here
through their REGISTRY_* variables).  Every client in these tests comes
from 127.0.0.1, so a limit per client address applies to the well-
behaved client as well; tests of what slow clients do to others raise
that limit and check the connection model instead.
"""

import select
import socket
import time

import berthtest as bt
import hardentest as ht
from berthtest import check, expect, expect_error

# How long a well-behaved request may take while berth is under attack.
SERVED_WITHIN = 5.0 if bt.SAN else 2.0


class SlowClients:
    """n connections that each send a request head a byte at a time and
    never finish it."""

    HEAD = b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "

    def __init__(self, srv, n):
        self.socks = []
        for _ in range(n):
            try:
                s = ht.connect(srv, timeout=5)
                s.sendall(self.HEAD)
            except OSError:
                continue
            s.setblocking(False)
            self.socks.append(s)

    def _gone(self, s):
        try:
            return s.recv(4096, socket.MSG_PEEK) == b"" or True
        except BlockingIOError:
            return False
        except OSError:
            return True

    def trickle(self):
        """Sends one more header byte on every open connection."""
        for s in self.socks:
            try:
                s.send(b"a")
            except (BlockingIOError, OSError):
                pass

    def open_count(self):
        """How many connections berth still holds open."""
        return sum(1 for s in self.socks if not self._gone(s))

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def timed_get(srv, what):
    t0 = time.monotonic()
    r = srv.request("GET", "/v2/", timeout=SERVED_WITHIN * 3)
    took = time.monotonic() - t0
    expect(r, 200, what)
    return took


def test_slowloris_others_served():
    """300 slow clients hold connections; others are still served at once
    (berth gives each connection its own thread, so nobody queues)."""
    with bt.start_berth(env={
            "REGISTRY_HTTP_LIMITS_CONNECTIONSPERCLIENT": "1000"}) as srv:
        slow = SlowClients(srv, 300)
        held = slow.open_count()
        check(held >= 290, "berth took only %d of 300 connections under "
              "a limit of 1024" % held)
        worst = 0.0
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            slow.trickle()
            worst = max(worst, timed_get(srv, "GET /v2/ during slowloris"))
            time.sleep(0.25)
        repo = bt.unique("slow/")
        t0 = time.monotonic()
        bt.push_image(srv, repo, bt.make_image(1), "v1")
        push = time.monotonic() - t0
        check(worst <= SERVED_WITHIN, "a request took %.2fs while %d slow "
              "clients were connected" % (worst, held))
        still = slow.open_count()
        slow.close()
        ht.alive(srv, "slowloris")
        ht.figures("slowloris_others_served", slow_connections=held,
                   slow_still_open=still, worst_get_ms=int(worst * 1000),
                   image_push_ms=int(push * 1000))


def test_slowloris_per_client_capped():
    """One address cannot hold more connections than
    http.limits.connectionsperclient, and berth recovers once it lets
    go."""
    with bt.start_berth(env={
            "REGISTRY_HTTP_LIMITS_CONNECTIONSPERCLIENT": "16"}) as srv:
        slow = SlowClients(srv, 100)
        ht.wait_until(lambda: slow.open_count() <= 16, 3)
        held = slow.open_count()
        check(held <= 16, "one client holds %d connections over a limit "
              "of 16" % held)
        check(held >= 8, "berth took only %d slow connections under a "
              "limit of 16" % held)
        slow.close()
        took = 0.0
        for _ in range(5):
            ok = ht.wait_until(lambda: srv.request(
                    "GET", "/v2/", timeout=5).status == 200, 5)
            check(ok, "berth did not serve the client again after its "
                  "slow connections closed")
            took = max(took, timed_get(srv, "GET /v2/ after slowloris"))
        ht.figures("slowloris_per_client_capped", attempted=100,
                   held=held, limit=16)


def test_idle_connection_closed():
    """A connection that sends nothing is closed after
    http.limits.idletimeout."""
    with bt.start_berth(env={"REGISTRY_HTTP_LIMITS_IDLETIMEOUT": "2s"}) \
            as srv:
        s = ht.connect(srv, timeout=15)
        t0 = time.monotonic()
        try:
            data = s.recv(1)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            data = None
        took = time.monotonic() - t0
        s.close()
        check(data == b"", "an idle connection was still open after 15s "
              "(idle timeout 2s)")
        check(took < 6, "an idle connection was closed after %.1fs, with "
              "an idle timeout of 2s" % took)
        ht.figures("idle_connection_closed", idletimeout_s=2,
                   closed_after_ms=int(took * 1000))


def test_slow_headers_deadline():
    """A client that sends its headers a byte a second, never finishing
    them, must be cut off: otherwise a few addresses, each within the
    per-client limit, hold every connection berth has for ever."""
    with bt.start_berth(env={"REGISTRY_HTTP_LIMITS_IDLETIMEOUT": "2s"}) \
            as srv:
        slow = SlowClients(srv, 4)
        check(slow.open_count() == 4, "berth refused 4 connections")
        t0 = time.monotonic()
        while slow.open_count() and time.monotonic() - t0 < 30:
            slow.trickle()
            time.sleep(1)
        left = slow.open_count()
        took = time.monotonic() - t0
        slow.close()
        check(left == 0, "%d connections that sent a header byte a second "
              "were still open after %ds (idle timeout 2s): slow "
              "headers are never cut off" % (left, int(took)))
        ht.figures("slow_headers_deadline", idletimeout_s=2,
                   cut_after_ms=int(took * 1000))


def test_connection_flood_bounded():
    """Past http.limits.connections berth closes new connections at
    once and its threads stay bounded; afterwards it serves normally."""
    with bt.start_berth(env={
            "REGISTRY_HTTP_LIMITS_CONNECTIONS": "40",
            "REGISTRY_HTTP_LIMITS_CONNECTIONSPERCLIENT": "1000"}) as srv:
        base = ht.thread_count(srv)
        flood = SlowClients(srv, 200)
        ht.wait_until(lambda: flood.open_count() <= 40, 3)
        held = flood.open_count()
        threads = ht.thread_count(srv)
        check(held <= 40, "berth holds %d connections over a limit of 40"
              % held)
        check(threads <= base + 40 + 4, "berth runs %d threads with 40 "
              "connections allowed (%d before the flood)" % (threads, base))
        flood.close()
        ok = ht.wait_until(lambda: srv.request(
                "GET", "/v2/", timeout=5).status == 200, 5)
        check(ok, "berth did not serve again after the flood")
        ht.figures("connection_flood_bounded", attempted=200, held=held,
                   limit=40, threads=threads, threads_before=base)


def raw(srv, data):
    resps, closed = ht.raw_exchange(srv, data)
    return resps[0] if resps else None


def expect_refused(srv, r, statuses, what):
    check(r is not None, "%s: berth closed the connection without an "
          "answer" % what)
    check(r.status in statuses, "%s: expected %s, got %s" % (
            what, "/".join(map(str, statuses)), r))
    ht.alive(srv, what)


def test_oversized_request_parts():
    """Oversized request lines and headers get an answer (414, 431 or
    400), not a crash; headers of a size real clients send still work."""
    srv = bt.shared()
    big = "a" * (100 * 1024)
    many = "".join("X-H%d: v\r\n" % i for i in range(10000))
    cases = [
        ("a 100 KiB request line", (414, 431, 400),
         "GET /v2/%s/tags/list HTTP/1.1\r\nHost: x\r\n" % big),
        ("a 100 KiB header", (431, 400),
         "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n" % big),
        ("10000 headers", (431, 400),
         "GET /v2/ HTTP/1.1\r\nHost: x\r\n%s" % many),
    ]
    got = []
    for what, statuses, head in cases:
        r = raw(srv, (head + "Connection: close\r\n\r\n").encode())
        expect_refused(srv, r, statuses, what)
        got.append(r.status)
    # A long bearer token or cookie is a few KiB.
    r = srv.request("GET", "/v2/", headers={"X-Token": "t" * 8192})
    expect(r, 200, "GET /v2/ with an 8 KiB header")
    ht.figures("oversized_request_parts", tried=len(cases),
               answers="/".join(map(str, got)))


def send_until_answered(srv, head, pieces):
    """Sends head, then the body pieces until berth answers, as a client
    that watches for an early answer does.  Returns (response, bytes of
    body sent)."""
    s = ht.connect(srv, timeout=15)
    rd = ht.Reader(s)
    sent = 0
    try:
        s.sendall(head)
        for piece in pieces:
            ready, _, _ = select.select([s], [], [], 0)
            if ready:
                break
            try:
                s.sendall(piece)
            except OSError:
                break
            sent += len(piece)
        try:
            return rd.response(), sent
        except OSError:
            return None, sent
    finally:
        s.close()


def test_manifest_size_limit():
    """A manifest over 4 MiB is refused with 413: at once when its length
    is announced, and when it is chunked, with the answer reaching a
    client that stops sending on an early answer; nothing is stored."""
    srv = bt.shared()
    repo = bt.unique("big/")
    img = bt.make_image(1)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    doc = bt.json.loads(img.manifest)
    doc["annotations"] = {"pad": "x" * (5 << 20)}
    body = bt.json.dumps(doc).encode()
    target = bt.manifest_path(repo, "big")

    head = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
            "Content-Length: %d\r\n\r\n" % (target, bt.OCI_MANIFEST,
                                              len(body))).encode()
    r, sent = send_until_answered(srv, head, [])
    check(r is not None and r.status == 413, "a PUT announcing a 5 MiB "
          "manifest, before its body: expected 413, got %s" % r)
    check(b"MANIFEST_INVALID" in r.body, "413 without MANIFEST_INVALID: "
          "%s" % r)

    head = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % (
                    target, bt.OCI_MANIFEST)).encode()
    pieces = [b"%x\r\n%s\r\n" % (len(c), c)
              for c in bt.iter_chunks(body, 65536)] + [b"0\r\n\r\n"]
    r, sent = send_until_answered(srv, head, pieces)
    check(r is not None and r.status == 413, "a chunked 5 MiB manifest: "
          "expected 413, got %s after %d bytes" % (r, sent))

    expect_error(srv.get(target, headers={"Accept": bt.ACCEPT_ALL}), 404,
                 "MANIFEST_UNKNOWN", "the oversized manifest's tag")
    ht.alive(srv, "oversized manifests")
    ht.figures("manifest_size_limit", body_bytes=len(body),
               chunked_bytes_sent_before_413=sent)


def test_rate_limit_per_client():
    """Over http.ratelimit.rate a client gets 429 TOOMANYREQUESTS with
    Retry-After; within the burst and after waiting it is served."""
    with bt.start_berth(env={"REGISTRY_HTTP_RATELIMIT_RATE": "5",
                             "REGISTRY_HTTP_RATELIMIT_BURST": "10"}) as srv:
        statuses, limited = [], None
        conn = srv.connect()
        t0 = time.monotonic()
        for _ in range(40):
            r = srv.request("GET", "/v2/", conn=conn, record=False)
            statuses.append(r.status)
            if r.status == 429 and limited is None:
                limited = r
        took = time.monotonic() - t0
        conn.close()
        # The burst, plus what the rate refilled while the requests ran.
        allowed = 10 + int(5 * took) + 1
        check(statuses[:8] == [200] * 8, "the first requests of a burst "
              "of 10 were refused: %s" % statuses)
        check(statuses.count(200) <= allowed and 429 in statuses,
              "%d of 40 requests in %.2fs were served at 5 a second with "
              "a burst of 10: %s" % (statuses.count(200), took, statuses))
        check(set(statuses) <= {200, 429}, "unexpected answers: %s" %
              statuses)
        expect_error(limited, 429, "TOOMANYREQUESTS", "over the rate")
        wait = limited.header("Retry-After", "")
        check(wait.isdigit() and 1 <= int(wait) <= 60, "Retry-After %r "
              "is not a number of seconds" % wait)
        time.sleep(int(wait) + 0.2)
        expect(srv.request("GET", "/v2/"), 200, "GET after Retry-After")
        ht.figures("rate_limit_per_client", sent=40,
                   refused=statuses.count(429), retry_after=wait)


def test_no_rate_limit_by_default():
    """Without http.ratelimit.rate nobody gets 429, however fast."""
    srv = bt.shared()
    conn = srv.connect()
    statuses = [srv.request("GET", "/v2/", conn=conn).status
                for _ in range(300)]
    conn.close()
    check(statuses == [200] * 300, "answers without a rate limit: %s" %
          sorted(set(statuses)))
