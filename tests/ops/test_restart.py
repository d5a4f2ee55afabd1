"""Stopping berth in the middle of a large chunked push: the chunk in
flight either finishes within http.draintimeout or is cut off, and in
both cases the push goes on after a restart from the offset berth
reports, ending in a blob with the right digest and length."""

import hashlib
import http.client
import os
import signal
import time
import types

import opstest as ops
from opstest import bt, check

CHUNK = 16 << 20
SIZE = 256 << 20
# Chunks acknowledged before the signal.
ACKED = 5


def big_blob():
    """SIZE random bytes and their digest."""
    data = os.urandom(SIZE)
    return data, "sha256:" + hashlib.sha256(data).hexdigest()


def open_chunk(srv, loc, first, last):
    """Starts a PATCH of bytes first..last and returns its connection
    with the request head sent and no body yet."""
    conn = http.client.HTTPConnection(bt.HOST, srv.port, timeout=60)
    conn.putrequest("PATCH", loc)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Range", "%d-%d" % (first, last))
    conn.putheader("Content-Length", str(last - first + 1))
    conn.endheaders()
    return conn


def wait_exit(srv, within):
    """Waits for the process to end; checks it exited 0 on its own."""
    try:
        srv.returncode = srv.proc.wait(within)
    except Exception:
        srv.kill_quietly()
        raise bt.TestFailure("berth still running %ss after SIGTERM:\n%s"
                             % (within, srv.log_tail()))
    srv.check_exit()
    check(srv.returncode == 0, "berth exited with %s after SIGTERM" %
          srv.returncode)


def upload_offset(srv, loc):
    """The session's offset from GET on its URL (the Range header)."""
    r = srv.get(loc)
    bt.expect(r, 204, "upload status after the restart")
    rng = bt.expect_header(r, "Range", what="upload status")
    first, last = (int(x) for x in rng.split("-"))
    check(first == 0, "Range %r does not start at 0" % rng)
    return last + 1


def finish_push(srv, repo, loc, data, digest, offset):
    """Sends data from offset in chunks, closes with PUT, checks the
    blob and that the session is gone."""
    loc = patch_from(srv, loc, data, offset)
    r = srv.request("PUT", bt.with_query(loc, digest=digest), body=b"",
                    headers={"Content-Type": "application/octet-stream"})
    bt.check_blob_created(srv, r, repo, digest, "closing PUT")
    check_stored(srv, repo, digest, len(data))
    r = srv.get(loc)
    bt.expect_error(r, 404, ["BLOB_UPLOAD_UNKNOWN"], "the finished session")


def patch_from(srv, loc, data, offset):
    """PATCHes data[offset:] in CHUNK pieces; returns the last Location."""
    while offset < len(data):
        piece = data[offset:offset + CHUNK]
        end = offset + len(piece) - 1
        r = srv.request("PATCH", loc, body=piece, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": "%d-%d" % (offset, end)}, timeout=60)
        bt.expect(r, 202, "PATCH %d-%d" % (offset, end))
        bt.expect_header(r, "Range", "0-%d" % end, "PATCH")
        loc = srv.resolve(bt.expect_header(r, "Location"))
        offset = end + 1
    return loc


def check_stored(srv, repo, digest, size):
    """GET of the blob streams size bytes hashing to digest."""
    conn = http.client.HTTPConnection(bt.HOST, srv.port, timeout=60)
    try:
        conn.request("GET", bt.blob_path(repo, digest))
        r = conn.getresponse()
        check(r.status == 200, "GET blob -> %d" % r.status)
        h, n = hashlib.sha256(), 0
        while True:
            piece = r.read(1 << 20)
            if not piece:
                break
            h.update(piece)
            n += len(piece)
    finally:
        conn.close()
    check(n == size, "the blob has %d bytes, %d were pushed" % (n, size))
    check("sha256:" + h.hexdigest() == digest,
          "the blob's bytes do not hash to %s" % digest)


def push_half_a_chunk(drain, name):
    """berth with http.draintimeout drain, a session in a new repository
    holding the first ACKED chunks of a big blob, and a PATCH of the next
    chunk open with half of it sent."""
    p = types.SimpleNamespace()
    p.data, p.digest = big_blob()
    p.srv = bt.start_berth(env={"REGISTRY_HTTP_DRAINTIMEOUT": drain})
    p.repo = bt.unique(name)
    p.first, p.sent = ACKED * CHUNK, CHUNK // 2
    p.loc = patch_from(p.srv, bt.start_upload(p.srv, p.repo),
                       p.data[:p.first], 0)
    p.conn = open_chunk(p.srv, p.loc, p.first, p.first + CHUNK - 1)
    p.conn.send(p.data[p.first:p.first + p.sent])
    return p


def test_sigterm_mid_chunk_drains_then_push_resumes():
    p = push_half_a_chunk("30s", "ops/drain-push")
    srv, first = p.srv, p.first
    srv.proc.send_signal(signal.SIGTERM)

    # While it drains berth takes no new connection and keeps serving
    # the chunk in flight.
    ops.wait_for(lambda: ops.refused(srv.port), "berth to stop accepting")
    check(srv.alive(), "berth exited with a chunk in flight:\n%s" %
          srv.log_tail())
    p.conn.send(p.data[first + p.sent:first + CHUNK])
    r = p.conn.getresponse()
    r.read()
    p.conn.close()
    check(r.status == 202, "the chunk in flight got %d" % r.status)
    check(r.getheader("Range") == "0-%d" % (first + CHUNK - 1),
          "the chunk in flight: Range %r" % r.getheader("Range"))
    wait_exit(srv, bt.STOP_TIMEOUT)
    check("drain timeout reached" not in srv.log(),
          "berth cut the drain short:\n%s" % srv.log_tail())

    srv.restart()
    offset = upload_offset(srv, p.loc)
    check(offset == first + CHUNK, "after the restart the session is at "
          "%d, %d bytes were acknowledged" % (offset, first + CHUNK))
    finish_push(srv, p.repo, p.loc, p.data, p.digest, offset)
    srv.stop()


def test_sigterm_drain_timeout_keeps_session_resumable():
    # Half a chunk, then silence: the drain ends before the chunk does.
    p = push_half_a_chunk("1s", "ops/cut-push")
    srv, first, sent = p.srv, p.first, p.sent
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    wait_exit(srv, bt.STOP_TIMEOUT)
    p.conn.close()
    check("drain timeout reached" in srv.log(),
          "no word of the drain timing out:\n%s" % srv.log_tail())

    # What was acknowledged is kept, and of the cut chunk all that
    # arrived (berth had over a second to read it) or none of it; the
    # closing digest shows the kept bytes are the ones sent.
    srv.restart()
    offset = upload_offset(srv, p.loc)
    check(offset in (first, first + sent),
          "after the restart the session is at %d: %d bytes were "
          "acknowledged and %d more sent" % (offset, first, sent))
    finish_push(srv, p.repo, p.loc, p.data, p.digest, offset)
    srv.stop()
