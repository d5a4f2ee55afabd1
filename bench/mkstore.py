#!/usr/bin/env python3
"""mkstore.py - writes a registry:2 filesystem store for the listing bench.

    mkstore.py ROOT REPOS TAGS

Creates ROOT/docker/registry/v2 the way registry:2's filesystem driver
lays it out, directly on disk, because pushing 10,000 repositories over
HTTP would take minutes and measure the push path, not the listing one.

The store holds REPOS repositories named lib/r00000, lib/r00001, ...  Each
holds one small OCI image (config and one layer) tagged "latest", with the
_layers and revision links registry:2 writes on a push, so both servers
see complete repositories.  The repository in the middle (its name is
printed) instead holds TAGS tags t00000, t00001, ... all pointing at the
same manifest.  Every repository shares the three blobs.

Prints two lines: "tags_repo=NAME" and "last_before=NAME", the name of the
repository at position 9/10 of the catalog that a "page after 90%" request
passes as `last`.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def blob_put(v2, data):
    """Stores DATA under blobs/ and returns its digest "sha256:<hex>"."""
    hexd = hashlib.sha256(data).hexdigest()
    d = os.path.join(v2, "blobs", "sha256", hexd[:2], hexd)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "data"), "wb") as f:
        f.write(data)
    return "sha256:" + hexd


def small_image():
    """Returns (config, layer) bytes of a one-file OCI image."""
    content = b"berth listing bench\n"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        t.addfile(info, io.BytesIO(content))
    tar = raw.getvalue()
    layer = gzip.compress(tar, mtime=0)
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
    }, separators=(",", ":")).encode()
    return config, layer


def link(path, digest):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "link"), "w") as f:
        f.write(digest)


def repo_write(repos_dir, name, blobs, mdigest, tags):
    """Writes the links registry:2 keeps for one pushed repository."""
    top = os.path.join(repos_dir, name)
    for d in blobs:
        link(os.path.join(top, "_layers", "sha256", d[7:]), d)
    mdir = os.path.join(top, "_manifests")
    link(os.path.join(mdir, "revisions", "sha256", mdigest[7:]), mdigest)
    for tag in tags:
        tdir = os.path.join(mdir, "tags", tag)
        link(os.path.join(tdir, "current"), mdigest)
        link(os.path.join(tdir, "index", "sha256", mdigest[7:]), mdigest)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: mkstore.py ROOT REPOS TAGS")
    root, nrepos, ntags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if nrepos < 10 or ntags < 1:
        sys.exit("mkstore.py: need at least 10 repositories and 1 tag")

    v2 = os.path.join(root, "docker", "registry", "v2")
    config, layer = small_image()
    cdigest, ldigest = blob_put(v2, config), blob_put(v2, layer)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cdigest, "size": len(config)},
        "layers": [{"mediaType":
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": ldigest, "size": len(layer)}],
    }, separators=(",", ":")).encode()
    mdigest = blob_put(v2, manifest)

    repos_dir = os.path.join(v2, "repositories")
    names = ["lib/r%05d" % i for i in range(nrepos)]
    tags_repo = names[nrepos // 2]
    for name in names:
        tags = ["latest"]
        if name == tags_repo:
            tags = ["t%05d" % i for i in range(ntags)]
        repo_write(repos_dir, name, (cdigest, ldigest), mdigest, tags)

    print("tags_repo=%s" % tags_repo)
    print("last_before=%s" % names[nrepos * 9 // 10 - 1])


if __name__ == "__main__":
    main()
