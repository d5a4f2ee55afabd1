"""A full disk: berth's store on an 8 MiB tmpfs, filled while clients push.

The tmpfs is mounted in a private mount namespace (`unshare -m`, which
needs root), so nothing outside the test sees it and it goes away with
berth.  The test reaches the files through /proc/<pid>/root.  A push
that runs out of space must fail with a 5xx and the spec's JSON error
body saying that storage is full; it must leave no blob, link or
temporary file behind and give back the space it took; pulls must keep
working while the disk is full; and once space is freed the same pushes
must succeed.
"""

import os
import subprocess

import berthtest as bt
import hardentest as ht
from berthtest import check, expect

SIZE_MB = 8
BLOB = 384 * 1024


class NamespacedServer(bt.Server):
    """berth in its own mount namespace, its store on a fresh tmpfs."""

    def __init__(self, mnt, *args):
        self.mnt = mnt
        super().__init__(*args)

    def _launch(self):
        script = ('mount -t tmpfs -o size=%dm,mode=0755 berth-fulldisk '
                  '"$1" && mkdir "$1/registry" && shift && exec "$@"'
                  % SIZE_MB)
        logf = open(self.logpath, "ab")
        try:
            self.proc = subprocess.Popen(
                    ["unshare", "-m", "--propagation", "private", "sh",
                     "-c", script, "sh", self.mnt, bt.BERTH] + self.args,
                    env=self.env, stdin=subprocess.DEVNULL, stdout=logf,
                    stderr=logf)
        finally:
            logf.close()
        self.returncode = None
        bt.SERVERS.append(self)

    def view(self, *parts):
        """A path in the tmpfs as this process can reach it."""
        return os.path.join("/proc/%d/root" % self.proc.pid,
                            self.mnt.lstrip("/"), *parts)

    def free(self):
        st = os.statvfs(self.view())
        return st.f_bavail * st.f_frsize


def start_on_tmpfs():
    check(os.geteuid() == 0, "the full-disk test mounts a tmpfs in a "
          "private mount namespace and must run as root")
    mnt = os.path.join(bt.scratch("fulldisk"), "mnt")
    os.makedirs(mnt)
    root = os.path.join(mnt, "registry")
    port = bt.free_port()
    env = bt.hermetic_env({
            "REGISTRY_HTTP_ADDR": "%s:%d" % (bt.HOST, port),
            "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": root,
            "REGISTRY_STORAGE_DELETE_ENABLED": "true"})
    logpath = os.path.join(bt.scratch("log"), "berth.log")
    srv = NamespacedServer(mnt, port, root, env, ["serve"], logpath)
    srv._launch()
    srv.wait_ready()
    check(os.path.ismount(srv.view()) and srv.free() <= SIZE_MB << 20,
          "the store is not on the %d MiB tmpfs" % SIZE_MB)
    return srv


def fill(srv, name, leave):
    """Grows a filler file in the tmpfs until only leave bytes are free."""
    path = srv.view(name)
    with open(path, "ab") as f:
        while srv.free() > leave:
            try:
                f.write(b"\0" * min(1 << 20, srv.free() - leave))
                f.flush()
            except OSError:
                break
    return path


def expect_full(r, what):
    """A clear answer to a write that found the disk full."""
    check(500 <= r.status < 600, "%s on a full disk: expected a 5xx, "
          "got:\n      %s" % (what, r))
    problem = bt.error_body_problem(r) if r.status != 507 else None
    doc = r.json()
    errs = doc.get("errors") if isinstance(doc, dict) else None
    check(isinstance(errs, list) and errs and isinstance(errs[0], dict),
          "%s: no spec error body (%s):\n      %s" % (what, problem, r))
    msg = (errs[0].get("message") or "").lower()
    check(errs[0].get("code") == "STORAGE_FULL" or "full" in msg or
          "space" in msg, "%s: the error does not say storage is "
          "full:\n      %s" % (what, r))
    check("full" in msg or "space" in msg, "%s: the message %r does "
          "not say storage is full" % (what, msg))


def try_push(srv, repo, data, how):
    """Pushes data one way; returns the answer that ended the push."""
    d = bt.digest_of(data)
    hdrs = {"Content-Type": "application/octet-stream"}
    if how == "monolithic":
        return srv.request("POST", bt.with_query(bt.uploads_path(repo),
                                                 digest=d),
                           body=data, headers=hdrs)
    r = srv.request("POST", bt.uploads_path(repo))
    if r.status != 202:
        return r
    loc = srv.resolve(r.header("Location"))
    if how == "chunked":
        r = srv.request("PATCH", loc, body=data, headers=dict(
                hdrs, **{"Content-Range": "0-%d" % (len(data) - 1)}))
        if r.status != 202:
            return r
        loc, data = srv.resolve(r.header("Location")), b""
    return srv.request("PUT", bt.with_query(loc, digest=d), body=data,
                       headers=hdrs)


def leftovers(srv, digest):
    """What a failed push of digest left that a reader could trip on:
    its blob data, links naming it, temporary files.  An empty
    directory is not counted; it holds no bytes and names nothing."""
    root = srv.view("registry")
    h = bt.hex_of(digest)
    found = []
    if os.path.exists(bt.v2(root, "blobs", "sha256", h[:2], h, "data")):
        found.append("blob data of %s" % digest[:19])
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in filenames:
            if n.startswith(".tmp-"):
                found.append("temporary file %s" % os.path.join(rel, n))
            elif n == "link" and h in rel and "repositories" in rel:
                found.append("link %s" % os.path.join(rel, n))
    return found


def uploads(srv):
    """Files of upload sessions in the store, with their sizes."""
    root = srv.view("registry")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if "_uploads" in dirpath.split(os.sep):
            for n in filenames:
                p = os.path.join(dirpath, n)
                out.append("%s (%d bytes)" % (os.path.relpath(p, root),
                                              os.path.getsize(p)))
    return out or "no upload session files"


def check_pulls(srv, repo, img, what):
    bt.check_manifest(srv, repo, "v1", img)
    for b in img.blobs:
        bt.check_blob(srv, repo, b)
    expect(srv.get("/v2/_catalog"), 200, "catalog " + what)
    check(bt.tags(srv, repo) == ["v1"], "tags %s" % what)


def test_full_disk():
    srv = start_on_tmpfs()
    repo = "full/app"
    base = bt.make_image(1)
    bt.push_image(srv, repo, base, "v1")

    # Leave room for a few blobs, then push until the disk runs out.
    filler = fill(srv, "filler", 3 * BLOB // 2)
    failed = {}
    pushed = 0
    for i in range(12):
        how = ["monolithic", "post-put", "chunked"][i % 3]
        data = os.urandom(BLOB)
        before = srv.free()
        r = try_push(srv, repo, data, how)
        if r.status == 201:
            pushed += 1
            continue
        expect_full(r, "%s push of %d bytes" % (how, BLOB))
        failed[how] = data
        left = leftovers(srv, bt.digest_of(data))
        check(not left, "a %s push that failed left %s" % (how, left))
        expect(srv.head(bt.blob_path(repo, bt.digest_of(data))), 404,
               "HEAD of the blob whose push failed")
        check(srv.free() >= before - 64 * 1024, "a failed %s push kept "
              "%d bytes of space in %s" % (how, before - srv.free(),
                                           uploads(srv)))
        if len(failed) == 3:
            break
    check(pushed >= 1, "no push succeeded before the disk filled")
    check(len(failed) == 3, "pushes kept succeeding on a full disk "
          "(failed: %s)" % sorted(failed))

    # A manifest and a tag on a disk without one free byte.
    fill(srv, "filler2", 0)
    img = bt.make_image(1)
    img.blobs = base.blobs
    m = {"schemaVersion": 2, "mediaType": bt.OCI_MANIFEST,
         "config": bt.descriptor(bt.OCI_CONFIG, base.config),
         "layers": [bt.descriptor(bt.OCI_LAYER, l) for l in base.layers],
         "annotations": {"note": bt.unique("full")}}
    img = bt.Image(bt.dump(m), bt.OCI_MANIFEST, base.blobs)
    r = srv.request("PUT", bt.manifest_path(repo, "v2"), body=img.manifest,
                    headers={"Content-Type": bt.OCI_MANIFEST})
    expect_full(r, "manifest PUT")
    expect(srv.get(bt.manifest_path(repo, "v2"), headers={
            "Accept": bt.ACCEPT_ALL}), 404, "the tag whose PUT failed")
    expect(srv.get(bt.manifest_path(repo, img.digest), headers={
            "Accept": bt.ACCEPT_ALL}), 404, "the manifest whose PUT failed")
    check(not leftovers(srv, img.digest), "the failed manifest PUT left "
          "%s" % leftovers(srv, img.digest))
    check_pulls(srv, repo, base, "while the disk is full")
    ht.alive(srv, "a full disk")

    # Space back: the same pushes now work.
    os.unlink(filler)
    os.unlink(srv.view("filler2"))
    for how, data in sorted(failed.items()):
        r = try_push(srv, repo, data, how)
        bt.check_blob_created(srv, r, repo, bt.digest_of(data),
                              "%s push after space was freed" % how)
        bt.check_blob(srv, repo, data)
    bt.push_manifest(srv, repo, "v2", img.manifest)
    bt.check_manifest(srv, repo, "v2", img)
    scan = ht.scan_store(srv.view("registry"))
    srv.stop()
    ht.figures("full_disk", tmpfs_mib=SIZE_MB, pushes_before_full=pushed,
               failed_pushes_checked=len(failed) + 1,
               blobs_on_disk_hashed=scan["blobs"])
