"""lifecycletest - helpers for the storage lifecycle tests.

Starts berth with collection settings, talks to its /admin/ endpoints,
looks at the store on disk (which blobs and links exist), moves file
times into the past so that no grace period protects them, builds
stores with mkgcstore.py, and runs `berth garbage-collect` and Debian's
`docker-registry garbage-collect` on them.  Only 127.0.0.1 is contacted.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "blackbox"))

import berthtest as bt  # noqa: E402
from berthtest import check, expect  # noqa: E402,F401

DOCKER_REGISTRY = os.environ.get("DOCKER_REGISTRY",
                                 "/usr/bin/docker-registry")
MKGCSTORE = os.path.join(HERE, "mkgcstore.py")
DAY = 86400


def start(grace="0s", env=None, config=None, root=None, log="info"):
    """berth with the given grace period and deletes enabled."""
    e = {"REGISTRY_STORAGE_MAINTENANCE_GC_GRACEPERIOD": grace,
         "REGISTRY_LOG_LEVEL": log}
    e.update(env or {})
    return bt.start_berth(env=e, config_yaml=config, root=root)


def admin(srv, method, what, **query):
    target = "/admin/%s" % what
    if query:
        target += "?" + urllib.parse.urlencode(query)
    return srv.request(method, target)


def collect(srv, dryrun=False, untagged=False):
    """Runs a collection through the admin endpoint; returns its report."""
    q = {"wait": "true"}
    if dryrun:
        q["dryrun"] = "true"
    if untagged:
        q["untagged"] = "true"
    r = admin(srv, "POST", "gc", **q)
    expect(r, 200, "POST /admin/gc")
    report = r.json()
    check(report.get("status") == "done", "collection failed: %s" % report)
    return report


def items(report, kind):
    """The names of one kind of item a collection report lists."""
    return {i["name"] for i in report["items"] if i["kind"] == kind}


def usage(srv, repo=None):
    r = admin(srv, "GET", "usage", **({"repository": repo} if repo else {}))
    expect(r, 200, "GET /admin/usage")
    return r.json()


def wait_for(what, fn, timeout=20):
    """Polls fn until it returns something true; returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise bt.TestFailure("timed out waiting for %s" % what)


# ---------------------------------------------------------------- the store

def v2(root, *parts):
    return os.path.join(root, "docker", "registry", "v2", *parts)


def blobs(root):
    """Digests of every blob whose data is on disk."""
    out = set()
    top = v2(root, "blobs", "sha256")
    if not os.path.isdir(top):
        return out
    for prefix in os.listdir(top):
        for hexd in os.listdir(os.path.join(top, prefix)):
            if os.path.exists(os.path.join(top, prefix, hexd, "data")):
                out.add("sha256:" + hexd)
    return out


def has_blob(root, digest):
    h = bt.hex_of(digest)
    return os.path.exists(v2(root, "blobs", "sha256", h[:2], h, "data"))


def layer_links(root):
    """(repository, digest) for every layer link in the store."""
    out = set()
    top = v2(root, "repositories")
    for dirpath, dirnames, filenames in os.walk(top):
        parts = os.path.relpath(dirpath, top).split(os.sep)
        if len(parts) >= 3 and parts[-3] == "_layers" and \
                "link" in filenames:
            repo = "/".join(parts[:-3])
            out.add((repo, "sha256:" + parts[-1]))
    return out


def repo_exists(root, repo):
    return os.path.isdir(v2(root, "repositories", repo))


def age(root, seconds=DAY, settle=True):
    """Moves every file and directory of the store seconds back.

    With settle, also waits until the requests made so far are in the
    past for the collector: a collection spares what a request held in
    the second before it began (gc.h), so tests that expect their
    pushes to be collectable must let that second pass.
    """
    when = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            os.utime(os.path.join(dirpath, n), (when, when))
    if settle:
        time.sleep(2.1)


def put_file(path, data, seconds):
    """Writes a store file by hand, dated seconds back."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    when = time.time() - seconds
    os.utime(path, (when, when))
    os.utime(os.path.dirname(path), (when, when))


def age_tag(root, repo, tag, seconds):
    """Makes tag look pushed seconds ago."""
    when = time.time() - seconds
    path = v2(root, "repositories", repo, "_manifests", "tags", tag,
              "current", "link")
    os.utime(path, (when, when))


def files(root):
    """Every file under the store with its size, to compare states."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = os.path.getsize(p)
    return out


def make_store(blob_count, plain=False, seed=1):
    """A store written by mkgcstore.py, aged a day; returns its root."""
    root = os.path.join(bt.scratch("gcstore"), "root")
    args = [sys.executable, MKGCSTORE, root, str(blob_count), "--old",
            "--seed", str(seed)]
    if plain:
        args.append("--plain")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return root


def copy_store(root):
    dst = os.path.join(bt.scratch("gccopy"), "root")
    shutil.copytree(root, dst, symlinks=True)
    return dst


def write_config(root, extra=""):
    """A registry:2 config.yml for offline collectors on root."""
    path = os.path.join(bt.scratch("gcconfig"), "config.yml")
    with open(path, "w") as f:
        f.write("version: 0.1\nlog:\n  level: warn\n"
                "storage:\n  filesystem:\n    rootdirectory: %s\n"
                "  delete:\n    enabled: true\n%s"
                "http:\n  addr: 127.0.0.1:1\n" % (root, extra))
    return path


def berth_gc(config, *flags, timeout=120):
    """Runs `berth garbage-collect`; returns (status, stdout lines)."""
    p = subprocess.run([bt.BERTH, "garbage-collect"] + list(flags) +
                       [config], env=bt.hermetic_env({}),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    check(not any(m in err for m in bt.SANITIZER_MARKS),
          "sanitizer report:\n" + err)
    return p.returncode, out.splitlines(), err


def docker_registry_gc(config, *flags, timeout=300):
    """Runs Debian's collector; returns its output lines."""
    p = subprocess.run([DOCKER_REGISTRY, "garbage-collect"] + list(flags) +
                       [config], env=bt.hermetic_env({}),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    check(p.returncode == 0, "docker-registry garbage-collect failed:\n%s"
          % out[-2000:])
    return out.splitlines()


def eligible_blobs(lines):
    """The digests of "blob eligible for deletion: D" lines."""
    mark = "blob eligible for deletion: "
    return {l[len(mark):].strip() for l in lines if l.startswith(mark)}


# ------------------------------------------------------------------ images

def pull(srv, repo, ref, image):
    """Checks image pulls intact from repo:ref, every blob included."""
    bt.check_manifest(srv, repo, ref, image)
    for b in image.blobs:
        bt.check_blob(srv, repo, b)


def manifest_gone(srv, repo, digest):
    r = bt.get_manifest(srv, repo, digest)
    bt.expect_error(r, 404, "MANIFEST_UNKNOWN", "GET %s@%s" % (repo,
                                                                digest))


def referrers(srv, repo, digest):
    r = srv.get("/v2/%s/referrers/%s" % (repo, digest))
    expect(r, 200, "referrers of %s" % digest)
    return {m["digest"] for m in r.json().get("manifests", [])}


def delete_manifest(srv, repo, ref):
    r = srv.request("DELETE", bt.manifest_path(repo, ref))
    expect(r, 202, "DELETE %s:%s" % (repo, ref))


def catalog(srv):
    r = srv.get("/v2/_catalog")
    expect(r, 200, "catalog")
    return r.json().get("repositories") or []


def image_sharing(layer_of):
    """A new image whose first layer is layer_of's first layer."""
    img = bt.make_image(nlayers=2)
    m = json.loads(img.manifest)
    shared = layer_of.layers[0]
    m["layers"][0] = bt.descriptor(bt.OCI_LAYER, shared)
    blobs = [img.config, shared, img.layers[1]]
    return bt.Image(bt.dump(m), img.media_type, blobs)
