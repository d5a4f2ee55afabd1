#!/usr/bin/env python3
"""mkgcstore.py - writes a registry:2 store with garbage in it, by hand.

    mkgcstore.py ROOT BLOBS [--seed N] [--repos N] [--plain] [--old]

Creates ROOT/docker/registry/v2 as registry:2's filesystem driver lays it
out after a history of pushes and deletes, with about BLOBS blobs, for
the collection tests and the collection benchmark.  Writing the files
directly takes seconds where pushing over HTTP would take an hour.

Repositories app/r0000, app/r0001, ... receive images of a config and one
to four layers; a third of the layers come from a pool of base layers
that many images share.  Of the images:

  - most stay tagged;
  - some lose their tag to a newer push (untagged, still a revision);
  - some are deleted by digest (revision and tag gone: their own blobs
    are garbage);
  - some are multi-arch indexes over two child images pushed by digest;
  - some get a signature: an artifact manifest whose subject is the
    image, pushed by digest, with berth's referrer link.

Some blobs are uploaded and never referenced, and some layer links
point at blobs whose data is gone.  --plain leaves out indexes and
signatures, the two things collectors with the untagged policy disagree
on.  --old dates every file a day back, so no grace period protects it.

Prints a JSON summary: blobs written, repositories, images by kind.
"""

import argparse
import hashlib
import json
import os
import random
import sys
import time

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
SIG_TYPE = "application/vnd.example.signature.v1"
EMPTY = b"{}"


class Store:
    def __init__(self, root, rng):
        self.v2 = os.path.join(root, "docker", "registry", "v2")
        self.rng = rng
        self.blobs = set()
        self.counts = {}

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def put_blob(self, data):
        hexd = hashlib.sha256(data).hexdigest()
        d = os.path.join(self.v2, "blobs", "sha256", hexd[:2], hexd)
        if hexd not in self.blobs:
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "data"), "wb") as f:
                f.write(data)
            self.blobs.add(hexd)
        return "sha256:" + hexd

    def link(self, repo, *parts, digest):
        d = os.path.join(self.v2, "repositories", repo, *parts)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "link"), "w") as f:
            f.write(digest)

    def layer_link(self, repo, digest):
        self.link(repo, "_layers", "sha256", digest[7:], digest=digest)

    def revision(self, repo, digest):
        self.link(repo, "_manifests", "revisions", "sha256", digest[7:],
                  digest=digest)

    def tag(self, repo, tag, digest):
        self.link(repo, "_manifests", "tags", tag, "index", "sha256",
                  digest[7:], digest=digest)
        self.link(repo, "_manifests", "tags", tag, "current",
                  digest=digest)

    def untag(self, repo, tag):
        base = os.path.join(self.v2, "repositories", repo, "_manifests",
                            "tags", tag, "current")
        os.remove(os.path.join(base, "link"))
        os.rmdir(base)

    def unrevision(self, repo, digest):
        d = os.path.join(self.v2, "repositories", repo, "_manifests",
                         "revisions", "sha256", digest[7:])
        os.remove(os.path.join(d, "link"))
        os.rmdir(d)

    def referrer(self, repo, subject, digest):
        self.link(repo, "_referrers", "sha256", subject[7:], "sha256",
                  digest[7:], digest=digest)

    def random_blob(self, lo=64, hi=512):
        return self.rng.randbytes(self.rng.randint(lo, hi))


def descriptor(media_type, data, digest):
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


class Builder:
    def __init__(self, store, pool_size):
        self.s = store
        self.pool = [store.random_blob() for _ in range(pool_size)]

    def layer(self):
        if self.s.rng.random() < 0.33:
            return self.s.rng.choice(self.pool)
        return self.s.random_blob()

    def image(self, repo, docker=False):
        """Pushes blobs and manifest content; returns (digest, blobs)."""
        rng = self.s.rng
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "n": rng.random()}).encode()
        layers = [self.layer() for _ in range(rng.randint(1, 4))]
        ctype, ltype, mtype = ((DOCKER_CONFIG, DOCKER_LAYER,
                                DOCKER_MANIFEST) if docker else
                               (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST))
        cd = self.s.put_blob(config)
        self.s.layer_link(repo, cd)
        m = {"schemaVersion": 2, "mediaType": mtype,
             "config": descriptor(ctype, config, cd), "layers": []}
        for l in layers:
            d = self.s.put_blob(l)
            self.s.layer_link(repo, d)
            m["layers"].append(descriptor(ltype, l, d))
        body = json.dumps(m, indent=2).encode()
        md = self.s.put_blob(body)
        self.s.revision(repo, md)
        return md, body, mtype

    def index(self, repo):
        children = [self.image(repo) for _ in range(2)]
        m = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        for i, (d, body, mtype) in enumerate(children):
            desc = descriptor(mtype, body, d)
            desc["platform"] = {"architecture": ["amd64", "arm64"][i],
                                "os": "linux"}
            m["manifests"].append(desc)
        body = json.dumps(m, indent=2).encode()
        md = self.s.put_blob(body)
        self.s.revision(repo, md)
        return md

    def signature(self, repo, subject, subject_body, subject_type):
        ed = self.s.put_blob(EMPTY)
        self.s.layer_link(repo, ed)
        payload = self.s.random_blob(32, 64)
        pd = self.s.put_blob(payload)
        self.s.layer_link(repo, pd)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "artifactType": SIG_TYPE,
             "config": descriptor("application/vnd.oci.empty.v1+json",
                                  EMPTY, ed),
             "layers": [descriptor(SIG_TYPE, payload, pd)],
             "subject": descriptor(subject_type, subject_body, subject)}
        body = json.dumps(m, indent=2).encode()
        md = self.s.put_blob(body)
        self.s.revision(repo, md)
        self.s.referrer(repo, subject, md)
        return md


def push_one(b, repo, n, plain):
    """One step of a repository's history."""
    s = b.s
    r = s.rng.random()
    tag = "t%04d" % n
    if not plain and r < 0.05:
        s.tag(repo, tag, b.index(repo))
        s.count("indexes")
        return
    md, body, mtype = b.image(repo, docker=s.rng.random() < 0.3)
    if r < 0.65:
        s.tag(repo, tag, md)
        s.count("tagged")
        if not plain and s.rng.random() < 0.1:
            b.signature(repo, md, body, mtype)
            s.count("signatures")
    elif r < 0.80:
        s.tag(repo, tag, md)
        s.untag(repo, tag)
        s.count("untagged")
    elif r < 0.95:
        s.tag(repo, tag, md)
        s.untag(repo, tag)
        s.unrevision(repo, md)
        s.count("deleted")
    else:
        s.layer_link(repo, s.put_blob(s.random_blob()))
        s.count("orphan_uploads")


def dangling(b, repo):
    """A layer link whose blob data is gone, as registry:2 leaves."""
    d = b.s.put_blob(b.s.random_blob())
    b.s.layer_link(repo, d)
    hexd = d[7:]
    path = os.path.join(b.s.v2, "blobs", "sha256", hexd[:2], hexd)
    os.remove(os.path.join(path, "data"))
    os.rmdir(path)
    b.s.blobs.discard(hexd)
    b.s.count("dangling_links")


def age_everything(root, seconds):
    when = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), (when, when))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root")
    p.add_argument("blobs", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repos", type=int, default=0)
    p.add_argument("--plain", action="store_true")
    p.add_argument("--old", action="store_true")
    a = p.parse_args(argv)

    rng = random.Random(a.seed)
    s = Store(a.root, rng)
    nrepos = a.repos or max(1, a.blobs // 400)
    b = Builder(s, max(8, a.blobs // 50))
    repos = ["app/r%04d" % i for i in range(nrepos)]
    n = 0
    while len(s.blobs) < a.blobs:
        push_one(b, repos[n % nrepos], n, a.plain)
        if n % 97 == 0:
            dangling(b, repos[n % nrepos])
        n += 1
    if a.old:
        age_everything(a.root, 86400)
    s.counts["blobs"] = len(s.blobs)
    s.counts["repositories"] = nrepos
    print(json.dumps(s.counts, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
