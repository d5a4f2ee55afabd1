"""Content management: deleting manifests by digest and tags by name, and
the refusal of every delete when storage.delete.enabled is off.
"""

import berthtest as bt
from berthtest import check, expect, expect_error


def test_delete_manifest_by_digest():
    srv = bt.shared()
    repo = "mgmt/" + bt.unique()
    img = bt.make_image(2)
    keep = bt.make_image(1)
    bt.push_image(srv, repo, img, "gone1")
    bt.push_manifest(srv, repo, "gone2", img.manifest)
    bt.push_image(srv, repo, keep, "keep")
    check(bt.tags(srv, repo) == ["gone1", "gone2", "keep"],
          "tags before: %r" % bt.tags(srv, repo))

    r = srv.request("DELETE", bt.manifest_path(repo, img.digest))
    expect(r, 202, "DELETE manifest by digest")
    expect_error(bt.get_manifest(srv, repo, img.digest), 404,
                 "MANIFEST_UNKNOWN", "GET deleted manifest")
    expect(srv.head(bt.manifest_path(repo, img.digest)), 404,
           "HEAD deleted manifest")
    for t in ("gone1", "gone2"):
        expect_error(bt.get_manifest(srv, repo, t), 404,
                     "MANIFEST_UNKNOWN", "GET tag of deleted manifest")
    check(bt.tags(srv, repo) == ["keep"],
          "tags after: %r" % bt.tags(srv, repo))
    bt.check_manifest(srv, repo, "keep", keep)
    for b in img.blobs:
        bt.check_blob(srv, repo, b)

    expect_error(srv.request("DELETE", bt.manifest_path(repo, img.digest)),
                 404, "MANIFEST_UNKNOWN", "second DELETE")
    bt.push_manifest(srv, repo, "back", img.manifest)
    bt.check_manifest(srv, repo, img.digest, img)


def test_delete_tag():
    srv = bt.shared()
    repo = "mgmt/" + bt.unique()
    img = bt.make_image(1)
    bt.push_image(srv, repo, img, "t1")
    bt.push_manifest(srv, repo, "t2", img.manifest)

    r = srv.request("DELETE", bt.manifest_path(repo, "t1"))
    expect(r, 202, "DELETE tag")
    expect_error(bt.get_manifest(srv, repo, "t1"), 404, "MANIFEST_UNKNOWN",
                 "GET deleted tag")
    bt.check_manifest(srv, repo, img.digest, img)
    bt.check_manifest(srv, repo, "t2", img)
    check(bt.tags(srv, repo) == ["t2"], "tags: %r" % bt.tags(srv, repo))
    expect_error(srv.request("DELETE", bt.manifest_path(repo, "t1")), 404,
                 "MANIFEST_UNKNOWN", "DELETE the tag again")


def test_delete_unknown_manifest():
    srv = bt.shared()
    repo = "mgmt/" + bt.unique()
    bt.push_image(srv, repo, bt.make_image(1), "x")
    d = bt.digest_of(b"never pushed")
    expect_error(srv.request("DELETE", bt.manifest_path(repo, d)), 404,
                 "MANIFEST_UNKNOWN", "DELETE unknown digest")
    expect_error(srv.request("DELETE", bt.manifest_path(repo, "nope")),
                 404, "MANIFEST_UNKNOWN", "DELETE unknown tag")
    missing = "mgmt/" + bt.unique("none")
    expect_error(srv.request("DELETE", bt.manifest_path(missing, d)), 404,
                 ("MANIFEST_UNKNOWN", "NAME_UNKNOWN"),
                 "DELETE in an unknown repository")


def check_deletes_refused(srv):
    repo = "mgmt/" + bt.unique()
    img = bt.make_image(1)
    bt.push_image(srv, repo, img, "v1")
    for target in (bt.manifest_path(repo, img.digest),
                   bt.manifest_path(repo, "v1"),
                   bt.blob_path(repo, bt.digest_of(img.layers[0]))):
        r = srv.request("DELETE", target)
        expect_error(r, 405, "UNSUPPORTED", "DELETE " + target)
    bt.check_manifest(srv, repo, "v1", img)
    bt.check_manifest(srv, repo, img.digest, img)
    for b in img.blobs:
        bt.check_blob(srv, repo, b)
    check(bt.tags(srv, repo) == ["v1"], "tags: %r" % bt.tags(srv, repo))
    loc = bt.start_upload(srv, repo)
    expect(srv.request("DELETE", loc), 204,
           "cancelling an upload stays allowed")


def test_delete_disabled():
    with bt.start_berth(env={"REGISTRY_STORAGE_DELETE_ENABLED":
                             "false"}) as srv:
        check_deletes_refused(srv)
        srv.stop()


def test_delete_disabled_by_default():
    with bt.start_berth(env={"REGISTRY_STORAGE_DELETE_ENABLED":
                             None}) as srv:
        check_deletes_refused(srv)
        srv.stop()
