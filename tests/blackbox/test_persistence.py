"""What survives a restart, and the on-disk layout: berth writes the same
files registry:2 writes, and serves a store that registry:2 wrote.
"""

import os
import re

import berthtest as bt
from berthtest import check, expect, expect_header

COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME = r"%s(?:/%s)*" % (COMPONENT, COMPONENT)
HEX = r"[a-f0-9]{64}"
LAYOUT = [
        r"blobs/sha256/[a-f0-9]{2}/%s/data" % HEX,
        r"repositories/%s/_layers/sha256/%s/link" % (NAME, HEX),
        r"repositories/%s/_manifests/revisions/sha256/%s/link" % (NAME, HEX),
        r"repositories/%s/_manifests/tags/[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
        r"/current/link" % NAME,
        r"repositories/%s/_manifests/tags/[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
        r"/index/sha256/%s/link" % (NAME, HEX),
        r"repositories/%s/_referrers/sha256/%s/sha256/%s/link" % (
                NAME, HEX, HEX),
        r"repositories/%s/_uploads/[A-Za-z0-9_-]+/.+" % NAME,
]


def test_persist_restart():
    with bt.start_berth() as srv:
        a, b = "keep/" + bt.unique("a"), "keep/" + bt.unique("b")
        imgs = [bt.make_image(2), bt.make_image(1),
                bt.make_image(1, media_type=bt.DOCKER_MANIFEST)]
        bt.push_image(srv, a, imgs[0], "v1")
        bt.push_manifest(srv, a, "latest", imgs[0].manifest)
        bt.push_image(srv, a, imgs[1])
        bt.push_image(srv, b, imgs[2], "docker")
        idx = bt.make_index(imgs[:2])
        bt.push_manifest(srv, a, "multi", idx.manifest, bt.OCI_INDEX)
        art = bt.make_artifact("application/vnd.example.sig",
                               subject=imgs[0])
        bt.push_image(srv, a, art)
        gone = bt.make_image(1)
        bt.push_image(srv, a, gone, "gone")
        expect(srv.request("DELETE", bt.manifest_path(a, gone.digest)),
               202, "DELETE before the restart")
        bt.push_manifest(srv, b, "untag", imgs[2].manifest,
                         bt.DOCKER_MANIFEST)
        expect(srv.request("DELETE", bt.manifest_path(b, "untag")), 202,
               "DELETE tag before the restart")

        srv.restart()

        check(bt.tags(srv, a) == ["latest", "multi", "v1"],
              "tags of %s after restart: %r" % (a, bt.tags(srv, a)))
        check(bt.tags(srv, b) == ["docker"],
              "tags of %s after restart: %r" % (b, bt.tags(srv, b)))
        r = srv.get("/v2/_catalog")
        expect(r, 200, "catalog after restart")
        check(r.json().get("repositories") == sorted([a, b]),
              "catalog after restart: %r" % r.json())
        bt.check_manifest(srv, a, "v1", imgs[0])
        bt.check_manifest(srv, a, imgs[1].digest, imgs[1])
        bt.check_manifest(srv, a, "multi", idx)
        bt.check_manifest(srv, b, "docker", imgs[2])
        for img in imgs:
            for blob in img.blobs:
                bt.check_blob(srv, b if img is imgs[2] else a, blob)
        expect(bt.get_manifest(srv, a, gone.digest), 404,
               "a deleted manifest came back")
        expect(bt.get_manifest(srv, a, "gone"), 404,
               "a deleted manifest's tag came back")
        r = srv.get("/v2/%s/referrers/%s" % (a, imgs[0].digest))
        expect(r, 200, "referrers after restart")
        check([m.get("digest") for m in r.json().get("manifests", [])] ==
              [art.digest], "referrers after restart: %s" % r)
        srv.stop()


def test_persist_upload_session():
    env = {"REGISTRY_HTTP_SECRET": "berth-blackbox-secret"}
    with bt.start_berth(env=env) as srv:
        repo = "keep/" + bt.unique()
        data = bt.random_bytes(5000)
        loc = bt.patch_chunks(srv, bt.start_upload(srv, repo),
                              data[:3000], 3000)
        srv.restart()
        r = srv.get(loc)
        expect(r, 204, "an acknowledged chunk after restart")
        expect_header(r, "Range", "0-2999", "upload after restart")
        loc = srv.resolve(r.header("Location"))
        r = srv.request("PATCH", loc, body=data[3000:], headers={
                "Content-Range": "3000-4999",
                "Content-Type": "application/octet-stream"})
        expect(r, 202, "second chunk after restart")
        loc = srv.resolve(r.header("Location"))
        d = bt.digest_of(data)
        r = srv.request("PUT", bt.with_query(loc, digest=d))
        bt.check_blob_created(srv, r, repo, d, "PUT after restart")
        bt.check_blob(srv, repo, data)
        srv.stop()


def link(path):
    data = bt.store_read(path)
    check(data is not None, "missing %s" % path)
    return data


def test_layout_registry2():
    with bt.start_berth() as srv:
        repo = "lay/out"
        img = bt.make_image(2)
        bt.push_image(srv, repo, img, "v1")
        root = srv.root
        for blob in img.blobs + [img.manifest]:
            h = bt.hex_of(bt.digest_of(blob))
            data = bt.v2(root, "blobs", "sha256", h[:2], h, "data")
            check(link(data) == blob,
                  "%s does not hold the blob's bytes" % data)
        for blob in img.blobs:
            d = bt.digest_of(blob)
            got = link(bt.v2(root, "repositories", repo, "_layers",
                             "sha256", bt.hex_of(d), "link"))
            check(got == d.encode(), "layer link holds %r" % got)
        h = bt.hex_of(img.digest)
        mans = bt.v2(root, "repositories", repo, "_manifests")
        for p in (os.path.join(mans, "revisions", "sha256", h, "link"),
                  os.path.join(mans, "tags", "v1", "current", "link"),
                  os.path.join(mans, "tags", "v1", "index", "sha256", h,
                               "link")):
            got = link(p)
            check(got == img.digest.encode(),
                  "%s holds %r, not %s" % (p, got, img.digest))

        newer = bt.make_image(1)
        bt.push_image(srv, repo, newer, "v1")
        got = link(os.path.join(mans, "tags", "v1", "current", "link"))
        check(got == newer.digest.encode(), "retag left current at %r"
              % got)
        for m in (img, newer):
            link(os.path.join(mans, "tags", "v1", "index", "sha256",
                              bt.hex_of(m.digest), "link"))

        expect(srv.request("DELETE", bt.manifest_path(repo, img.digest)),
               202, "DELETE manifest")
        check(not bt.store_exists(os.path.join(
                mans, "revisions", "sha256", h, "link")),
              "the revision link survived DELETE")
        check_layout(root)
        srv.stop()


def check_layout(root):
    """Every file under root is one registry:2 (or berth) names."""
    top = os.path.relpath(bt.v2(root), root)
    check(bt.store_exists(bt.v2(root)), "no %s" % bt.v2(root))
    strays = []
    for path in bt.store_files(root):
        rel = os.path.relpath(path, top)
        if rel.startswith("..") or not any(
                        re.fullmatch(p, rel) for p in LAYOUT):
            strays.append(path)
    check(not strays, "files registry:2's layout does not have: %r" %
          sorted(strays)[:10])


def write_registry2_store(root, repo, tag, img):
    """Lays img out under root exactly as registry:2 does."""
    write = bt.store_write
    for blob in img.blobs + [img.manifest]:
        h = bt.hex_of(bt.digest_of(blob))
        write(bt.v2(root, "blobs", "sha256", h[:2], h, "data"), blob)
    for blob in img.blobs:
        d = bt.digest_of(blob)
        write(bt.v2(root, "repositories", repo, "_layers", "sha256",
                    bt.hex_of(d), "link"), d.encode())
    h = bt.hex_of(img.digest)
    mans = bt.v2(root, "repositories", repo, "_manifests")
    write(os.path.join(mans, "revisions", "sha256", h, "link"),
          img.digest.encode())
    write(os.path.join(mans, "tags", tag, "current", "link"),
          img.digest.encode())
    write(os.path.join(mans, "tags", tag, "index", "sha256", h, "link"),
          img.digest.encode())


def test_layout_serves_registry2_store():
    root = bt.new_root()
    imgs = {"library/alpine": bt.make_image(2),
            "team/app": bt.make_image(1, media_type=bt.DOCKER_MANIFEST)}
    for repo, img in imgs.items():
        write_registry2_store(root, repo, "3.19", img)
    with bt.start_berth(root=root) as srv:
        r = srv.get("/v2/_catalog")
        expect(r, 200, "catalog of a registry:2 store")
        check(r.json().get("repositories") == sorted(imgs),
              "catalog of a registry:2 store: %r" % r.json())
        for repo, img in imgs.items():
            check(bt.tags(srv, repo) == ["3.19"], "tags of %s" % repo)
            bt.check_manifest(srv, repo, "3.19", img)
            for blob in img.blobs:
                bt.check_blob(srv, repo, blob)
        img = imgs["library/alpine"]
        r = srv.request("POST", bt.with_query(
                bt.uploads_path("library/copy"),
                mount=bt.digest_of(img.layers[0]),
                **{"from": "library/alpine"}))
        expect(r, 201, "mount from a registry:2 repository")
        newer = bt.make_image(1)
        bt.push_image(srv, "library/alpine", newer, "3.20")
        check(bt.tags(srv, "library/alpine") == ["3.19", "3.20"],
              "tags after a push: %r" % bt.tags(srv, "library/alpine"))
        check_layout(root)
        srv.stop()

