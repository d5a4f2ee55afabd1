#!/usr/bin/env python3
"""mkoci.py - builds small but real OCI image layouts for the client tests.

    mkoci.py image DIR TAG SEED [ARCH]    one image, two gzip'd tar layers
    mkoci.py index DIR TAG SEED           an image index of two platforms
    mkoci.py rootfs FILE SEED             an uncompressed root filesystem tar
    mkoci.py verify DIR                   checks every blob of a layout

Everything is derived from SEED, so the same arguments always give the
same bytes and therefore the same digests, and different seeds give
different images.  "image" and "index" write the OCI layout (oci-layout,
index.json naming TAG, blobs/sha256/...) that `skopeo copy oci:DIR:TAG`
reads, and print a JSON summary of the digests on stdout for the tests to
compare against what comes back from a registry.  "verify" recomputes the
sha256 of every blob in a layout and prints the summary of index.json.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
EPOCH = 1700000000


def noise(seed, size):
    """Returns size bytes that look random (so gzip cannot shrink them)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(("%s:%d" % (seed, counter)).encode()).digest()
        counter += 1
    return bytes(out[:size])


def make_tar(entries):
    """Makes a deterministic tar from (path, bytes-or-None-for-dir, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data, mode in entries:
            info = tarfile.TarInfo(path)
            info.mtime = EPOCH
            info.mode = mode
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def base_layer(seed):
    """A small root filesystem: directories, text files, a script."""
    return make_tar([
        ("bin", None, 0o755),
        ("bin/hello", b"#!/bin/sh\necho hello from %s\n" % seed.encode(),
         0o755),
        ("etc", None, 0o755),
        ("etc/os-release", b"NAME=berth-test\nID=berth-test\n", 0o644),
        ("etc/hostname", b"berth-%s\n" % seed.encode(), 0o644),
        ("app", None, 0o755),
    ])


def data_layer(seed, size):
    """A layer with one file of incompressible data of about size bytes."""
    return make_tar([
        ("app", None, 0o755),
        ("app/data.bin", noise(seed, size), 0o644),
        ("app/README", b"test data for seed %s\n" % seed.encode(), 0o644),
    ])


class Layout:
    """An OCI image layout being written in a directory."""

    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def put(self, data, media_type):
        """Stores data as a blob; returns its descriptor."""
        digest = hashlib.sha256(data).hexdigest()
        path = os.path.join(self.root, "blobs", "sha256", digest)
        with open(path, "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + digest,
                "size": len(data)}

    def put_json(self, obj, media_type):
        data = json.dumps(obj, indent=2, sort_keys=True).encode()
        return self.put(data, media_type)

    def finish(self, desc, tag):
        desc = dict(desc, annotations={REF_NAME: tag})
        index = {"schemaVersion": 2, "manifests": [desc]}
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump(index, f, indent=2)


def write_image(layout, seed, arch):
    """Writes one image's layers, config and manifest; returns a summary."""
    layers, diff_ids = [], []
    for tar in (base_layer(seed), data_layer(seed, 256 * 1024)):
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        layers.append(layout.put(gzip_bytes(tar), MT_LAYER))
    config = {
        "created": "2023-11-14T22:13:20Z",
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/hello"],
                   "Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z",
                     "created_by": "mkoci.py layer %d" % i}
                    for i in range(len(layers))],
    }
    cdesc = layout.put_json(config, MT_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                "config": cdesc, "layers": layers,
                "annotations": {"org.example.seed": seed}}
    mdesc = layout.put_json(manifest, MT_MANIFEST)
    mdesc["platform"] = {"architecture": arch, "os": "linux"}
    return {"manifest": mdesc["digest"], "config": cdesc["digest"],
            "layers": [l["digest"] for l in layers], "diff_ids": diff_ids,
            "arch": arch, "descriptor": mdesc}


def cmd_image(root, tag, seed, arch="amd64"):
    layout = Layout(root)
    summary = write_image(layout, seed, arch)
    desc = dict(summary.pop("descriptor"))
    desc.pop("platform")
    layout.finish(desc, tag)
    return summary


def cmd_index(root, tag, seed):
    layout = Layout(root)
    images = [write_image(layout, "%s-%s" % (seed, arch), arch)
              for arch in ("amd64", "arm64")]
    index = {"schemaVersion": 2, "mediaType": MT_INDEX,
             "manifests": [img.pop("descriptor") for img in images]}
    idesc = layout.put_json(index, MT_INDEX)
    layout.finish(idesc, tag)
    return {"index": idesc["digest"], "images": images}


def cmd_rootfs(path, seed):
    tar = make_tar([
        ("bin", None, 0o755),
        ("bin/true", b"#!/bin/sh\nexit 0\n", 0o755),
        ("etc", None, 0o755),
        ("etc/motd", b"rootfs %s\n" % seed.encode(), 0o644),
        ("srv", None, 0o755),
        ("srv/blob", noise(seed, 64 * 1024), 0o644),
    ])
    with open(path, "wb") as f:
        f.write(tar)
    return {"diff_id": "sha256:" + hashlib.sha256(tar).hexdigest()}


def cmd_verify(root):
    """Fails on any blob whose content does not match its name."""
    blobs = os.path.join(root, "blobs", "sha256")
    for name in sorted(os.listdir(blobs)):
        with open(os.path.join(blobs, name), "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != name:
            sys.exit("blob %s has content with digest %s" % (name, got))
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)
    return {"refs": {m.get("annotations", {}).get(REF_NAME, ""): m["digest"]
                     for m in index["manifests"]},
            "blobs": sorted("sha256:" + n for n in os.listdir(blobs))}


def main(argv):
    commands = {"image": (cmd_image, 3, 4), "index": (cmd_index, 3, 3),
                "rootfs": (cmd_rootfs, 2, 2), "verify": (cmd_verify, 1, 1)}
    if len(argv) < 2 or argv[1] not in commands:
        sys.exit(__doc__)
    fn, least, most = commands[argv[1]]
    if not least <= len(argv) - 2 <= most:
        sys.exit(__doc__)
    json.dump(fn(*argv[2:]), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main(sys.argv)
