"""Readiness: /readyz and the registry port when the store stops taking
writes.  The tests run as root, so permissions cannot make a directory
unwritable; a small tmpfs is remounted read-only or filled up instead."""

import os
import subprocess

import opstest as ops
from opstest import bt, check


class Tmpfs:
    """A tmpfs of size at a fresh scratch directory, unmounted on exit."""

    def __init__(self, size):
        check(os.geteuid() == 0, "this test mounts a tmpfs: run it as root")
        self.path = bt.scratch("tmpfs")
        self.mount("-t", "tmpfs", "-o", "size=%s,mode=0755" % size,
                   "tmpfs", self.path)
        self.root = os.path.join(self.path, "root")
        os.makedirs(self.root)

    def mount(self, *args):
        p = subprocess.run(["mount"] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(p.returncode == 0, "mount %s failed: %s" % (
                " ".join(args), p.stdout.decode("utf-8", "replace")))

    def remount(self, mode):
        self.mount("-o", "remount,%s" % mode, self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def readyz(srv):
    status, _, body = ops.debug_get(srv, "/readyz")
    return status, body


def wait_ready(srv, want, what):
    ops.wait_for(lambda: readyz(srv)[0] == want,
                 "/readyz to answer %d %s (last: %s)" % (
                         want, what, readyz(srv)), timeout=10)


def test_readiness_fails_on_a_read_only_store():
    with Tmpfs("8m") as fs:
        srv = ops.start_ops(root=fs.root)
        try:
            repo = bt.unique("ops/ro")
            image = bt.make_image(nlayers=1)
            bt.push_image(srv, repo, image, tag="before")
            wait_ready(srv, 200, "while the store is writable")

            fs.remount("ro")
            wait_ready(srv, 503, "once the store is read-only")
            status, body = readyz(srv)
            check("not writable" in body, "/readyz reason: %r" % body)
            status, _, body = ops.debug_get(srv, "/debug/health")
            check(status == 503 and '"storagedriver_filesystem"' in body,
                  "/debug/health -> %d %r" % (status, body))
            check(ops.debug_get(srv, "/healthz")[0] == 200,
                  "/healthz failed: the process is alive")

            # The registry port says why instead of failing half-way.
            r = srv.request("POST", bt.uploads_path(repo))
            bt.expect_error(r, 503, "UNAVAILABLE", "upload on a "
                            "read-only store")
            check("not writable" in r.body.decode("utf-8", "replace"),
                  "503 without the reason: %s" % r)
            # What is stored can still be read.
            bt.check_manifest(srv, repo, "before", image)

            fs.remount("rw")
            wait_ready(srv, 200, "once the store is writable again")
            bt.push_image(srv, repo, bt.make_image(nlayers=1), tag="after")
        finally:
            srv.stop()


def test_readiness_fails_on_a_full_store():
    with Tmpfs("2m") as fs:
        srv = ops.start_ops(root=fs.root)
        try:
            wait_ready(srv, 200, "with room in the store")
            filler = os.path.join(fs.path, "filler")
            chunk = b"\0" * 65536
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(chunk)
                        f.flush()
                except OSError:
                    pass
            wait_ready(srv, 503, "once the store is full")
            status, body = readyz(srv)
            check("not writable" in body and "space" in body,
                  "/readyz reason: %r" % body)

            os.unlink(filler)
            wait_ready(srv, 200, "once there is room again")
        finally:
            srv.stop()
