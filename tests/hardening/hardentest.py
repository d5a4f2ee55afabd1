"""hardentest - what berth's hardening tests share beyond berthtest:
raw HTTP over sockets (for requests no well-behaved client library would
send), figures printed beside the PASS line, and checks of a store on
disk.

Only 127.0.0.1 is ever contacted, as in the rest of the suites.
"""

import hashlib
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "blackbox"))

import berthtest as bt  # noqa: E402
from berthtest import check  # noqa: E402

HEX64 = re.compile(r"[a-f0-9]{64}")


def figures(test, **values):
    """Prints a test's measurements on one indented line."""
    text = " ".join("%s=%s" % kv for kv in values.items())
    print("    figures hardening:%s %s" % (test, text))
    sys.stdout.flush()


# ---------------------------------------------------------------- raw HTTP

def connect(srv, timeout=10):
    """A plain TCP connection to srv's port on 127.0.0.1."""
    s = socket.create_connection((bt.HOST, srv.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (lowercased name, value)
        self.body = body

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def __str__(self):
        return "%d %s %r %r" % (self.status, self.reason, self.headers,
                                self.body[:300])


class Reader:
    """Reads HTTP/1.1 responses off one socket, keeping what follows."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise bt.TestFailure("connection closed inside a body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _chunked(self):
        body = b""
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                while self._line() not in (b"", None):
                    pass
                return body
            body += self._exactly(size)
            self._exactly(2)

    def response(self, head=False):
        """The next response, or None when the server closed first."""
        line = self._line()
        if line is None:
            return None
        parts = line.decode("latin-1").split(" ", 2)
        check(len(parts) >= 2 and parts[0].startswith("HTTP/1."),
              "not an HTTP status line: %r" % line)
        status = int(parts[1])
        headers = []
        while True:
            h = self._line()
            check(h is not None, "connection closed inside headers")
            if h == b"":
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers.append((k.strip().lower(), v.strip()))
        resp = RawResponse(status, parts[2] if len(parts) > 2 else "",
                           headers, b"")
        if head or status in (204, 304) or 100 <= status < 200:
            return resp
        if (resp.header("transfer-encoding") or "").lower() == "chunked":
            resp.body = self._chunked()
        elif resp.header("content-length") is not None:
            resp.body = self._exactly(int(resp.header("content-length")))
        else:
            while self._fill():
                pass
            resp.body, self.buf = self.buf, b""
        return resp


def raw_exchange(srv, data, count=1, timeout=10, head=False):
    """Sends data on a new connection and reads up to count responses.

    Returns (responses, closed): closed says whether the server closed
    the connection after the last response read (checked by waiting
    briefly for more bytes).
    """
    s = connect(srv, timeout)
    try:
        s.sendall(data)
        rd = Reader(s)
        out = []
        for _ in range(count):
            try:
                r = rd.response(head)
            except socket.timeout:
                break
            if r is None:
                break
            out.append(r)
        s.settimeout(1.5)
        try:
            closed = rd.closed or (not rd.buf and not rd._fill())
        except socket.timeout:
            closed = False
        return out, closed
    finally:
        s.close()


def alive(srv, what):
    """Checks srv still runs and answers GET /v2/ on a new connection."""
    check(srv.alive(), "berth died after %s:\n%s" % (what, srv.log_tail()))
    r = srv.request("GET", "/v2/", timeout=10)
    check(r.status == 200, "GET /v2/ after %s: %s" % (what, r))


def thread_count(srv):
    """The number of threads of the berth process."""
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def wait_until(cond, timeout, step=0.05):
    """Polls cond() until it is true or timeout seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


# ------------------------------------------------------------ on-disk store

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


def scan_store(root):
    """Checks what a reader of the store on disk could see.

    Every blob's data must hash to the digest it is filed under, and
    every link must hold a whole "sha256:<hex>" naming a blob whose data
    exists.  Temporary files (".tmp-...") are counted, not judged: the
    store hides them.  Returns a dict of counts; raises on a problem.
    """
    v2 = bt.v2(root)
    counts = {"blobs": 0, "links": 0, "temp_files": 0, "temp_bytes": 0}
    blobs = os.path.join(v2, "blobs", "sha256")
    for dirpath, dirnames, filenames in os.walk(v2):
        rel = os.path.relpath(dirpath, v2)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name.startswith(".tmp-"):
                counts["temp_files"] += 1
                counts["temp_bytes"] += os.path.getsize(path)
                continue
            if "_uploads" in rel.split(os.sep):
                continue
            if rel.startswith("blobs") and name == "data":
                want = os.path.basename(dirpath)
                got = sha256_file(path)
                check(got == want, "blob %s on disk hashes to %s: a "
                      "partial or corrupt blob is visible" % (want, got))
                counts["blobs"] += 1
            elif name == "link":
                with open(path, "rb") as f:
                    text = f.read().decode("latin-1")
                m = re.fullmatch(r"sha256:([a-f0-9]{64})", text)
                check(m is not None, "link %s holds %r, not a whole "
                      "digest" % (os.path.relpath(path, v2), text))
                data = os.path.join(blobs, m.group(1)[:2], m.group(1),
                                    "data")
                check(os.path.isfile(data), "link %s names %s, whose "
                      "data is missing" % (os.path.relpath(path, v2),
                                           text))
                counts["links"] += 1
    return counts


def snapshot(path, exclude=None):
    """{relative path: (size, mtime_ns, sha256)} of files under path,
    and the directories as (None, None, None), skipping exclude."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        if exclude:
            dirnames[:] = [d for d in dirnames
                           if os.path.join(dirpath, d) != exclude]
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), path)] = (
                    None, None, None)
        for n in filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = (st.st_size, st.st_mtime_ns,
                                             sha256_file(p))
    return out
