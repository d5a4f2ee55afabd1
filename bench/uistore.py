#!/usr/bin/env python3
"""uistore.py - writes a registry:2 filesystem store for the web UI bench.

    uistore.py ROOT REPOS TAGS

Creates ROOT/docker/registry/v2 directly on disk, in registry:2's layout,
because pushing this much over HTTP would take far longer than the pages
being measured:

  * REPOS repositories ns000/app00000 ... spread over 100 namespaces, each
    with one tag "latest" pointing at one shared small image.  They hold
    only the tag's link, which is all the catalog reads of them: the
    other links would triple the store's size (every directory takes a
    block) for nothing this bench measures;
  * one more repository, big/app, with TAGS tags v<major>.<minor>.<patch>.
    Each tag has its own image (its own config, so its own creation time,
    in an order unrelated to the tag names); every fifth tag is instead a
    two-platform index (amd64, arm64) of two such images.  All images
    share one layer.

big/app has every link registry:2 writes on a push (_layers, revisions,
tag index), so its image pages can be read as a pull would.
"""

import gzip
import hashlib
import json
import os
import sys

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


class Store:
    def __init__(self, root):
        self.v2 = os.path.join(root, "docker", "registry", "v2")
        self.seen = set()

    def blob(self, data):
        """Stores data once; returns (digest, size)."""
        hexd = hashlib.sha256(data).hexdigest()
        if hexd not in self.seen:
            self.seen.add(hexd)
            write(os.path.join(self.v2, "blobs", "sha256", hexd[:2], hexd,
                               "data"), data)
        return "sha256:" + hexd, len(data)

    def link(self, repo, kind, digest):
        hexd = digest.split(":")[1]
        base = os.path.join(self.v2, "repositories", repo)
        if kind == "layer":
            path = os.path.join(base, "_layers", "sha256", hexd, "link")
        else:
            path = os.path.join(base, "_manifests", "revisions", "sha256",
                                hexd, "link")
        write(path, digest.encode())

    def tag(self, repo, tag, digest):
        hexd = digest.split(":")[1]
        base = os.path.join(self.v2, "repositories", repo, "_manifests",
                            "tags", tag)
        write(os.path.join(base, "index", "sha256", hexd, "link"),
              digest.encode())
        write(os.path.join(base, "current", "link"), digest.encode())


def image(st, repo, layer, arch, created):
    """Stores an image's config and manifest in repo; returns its
    descriptor fields (digest, size)."""
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": created,
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created": created,
                     "created_by": "/bin/sh -c #(nop) ADD file:x in /"}],
    }, separators=(",", ":")).encode()
    cd, cs = st.blob(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": cd, "size": cs},
        "layers": [{"mediaType": MT_LAYER, "digest": layer[0],
                    "size": layer[1]}],
    }, separators=(",", ":")).encode()
    md, ms = st.blob(manifest)
    st.link(repo, "layer", cd)
    st.link(repo, "layer", layer[0])
    st.link(repo, "manifest", md)
    return md, ms


def created_at(i, n):
    """A creation time for tag i, in an order unrelated to i."""
    k = (i * 7919) % n
    return "2024-%02d-%02dT%02d:%02d:00Z" % (1 + k // 2400 % 12,
                                             1 + k // 96 % 28,
                                             k // 4 % 24, k % 4 * 15)


def big_repo(st, layer, tags):
    repo = "big/app"
    for i in range(tags):
        tag = "v%d.%d.%d" % (i // 1000, i // 10 % 100, i % 10)
        when = created_at(i, tags)
        if i % 5:
            d, _ = image(st, repo, layer, "amd64", when)
        else:
            kids = [image(st, repo, layer, a, when) + (a,)
                    for a in ("amd64", "arm64")]
            index = json.dumps({
                "schemaVersion": 2, "mediaType": MT_INDEX,
                "manifests": [{"mediaType": MT_MANIFEST, "digest": kd,
                               "size": ks, "platform": {
                                   "os": "linux", "architecture": a}}
                              for kd, ks, a in kids],
            }, separators=(",", ":")).encode()
            d, _ = st.blob(index)
            st.link(repo, "manifest", d)
        st.tag(repo, tag, d)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: uistore.py ROOT REPOS TAGS")
    st = Store(sys.argv[1])
    repos, tags = int(sys.argv[2]), int(sys.argv[3])
    layer = st.blob(gzip.compress(b"berth ui bench layer\n" * 64, mtime=0))
    shared = image(st, "big/app", layer, "amd64", "2024-01-01T00:00:00Z")[0]
    link = shared.encode()
    for i in range(repos):
        repo = "ns%03d/app%05d" % (i % 100, i)
        write(os.path.join(st.v2, "repositories", repo, "_manifests", "tags",
                           "latest", "current", "link"), link)
    big_repo(st, layer, tags)
    print("repos=%d tags=%d" % (repos + 1, tags))


if __name__ == "__main__":
    main()
