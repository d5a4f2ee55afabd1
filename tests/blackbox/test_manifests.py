"""Manifests: every supported media type by tag and by digest, exact bytes
on the way back, the checks on upload (missing blobs and children, bad
JSON, mismatched digests), large manifests and the OCI-Subject header.
"""

import json

import berthtest as bt
from berthtest import check, expect, expect_error, expect_header


def put_raw(srv, repo, ref, body, media_type=bt.OCI_MANIFEST):
    return srv.request("PUT", bt.manifest_path(repo, ref), body=body,
                       headers={"Content-Type": media_type})


def manifest_absent(srv, repo, ref, what):
    expect_error(bt.get_manifest(srv, repo, ref), 404,
                 ("MANIFEST_UNKNOWN", "NAME_UNKNOWN"), what)


def test_manifest_oci_by_tag():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(2)
    d = bt.push_image(srv, repo, img, "v1")
    check(d == img.digest, "digest %s, expected %s" % (d, img.digest))
    bt.check_manifest(srv, repo, "v1", img)
    bt.check_manifest(srv, repo, img.digest, img)
    check(bt.tags(srv, repo) == ["v1"], "tags: %r" % bt.tags(srv, repo))
    for b in img.blobs:
        bt.check_blob(srv, repo, b)


def test_manifest_oci_by_digest():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(1)
    bt.push_image(srv, repo, img)
    bt.check_manifest(srv, repo, img.digest, img)
    tagged = bt.make_image(1)
    bt.push_image(srv, repo, tagged, "only")
    check(bt.tags(srv, repo) == ["only"],
          "a push by digest created a tag: %r" % bt.tags(srv, repo))


def test_manifest_docker_v2():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(2, media_type=bt.DOCKER_MANIFEST)
    bt.push_image(srv, repo, img, "docker")
    bt.check_manifest(srv, repo, "docker", img)
    bt.check_manifest(srv, repo, img.digest, img)


def test_manifest_oci_index():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    children = [bt.make_image(1), bt.make_image(1)]
    for c in children:
        bt.push_image(srv, repo, c)
    idx = bt.make_index(children)
    bt.push_manifest(srv, repo, "multi", idx.manifest, bt.OCI_INDEX)
    bt.check_manifest(srv, repo, "multi", idx)
    bt.check_manifest(srv, repo, idx.digest, idx)
    for c in children:
        bt.check_manifest(srv, repo, c.digest, c)


def test_manifest_docker_list():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    children = [bt.make_image(1, media_type=bt.DOCKER_MANIFEST)
                for _ in range(3)]
    for c in children:
        bt.push_image(srv, repo, c)
    lst = bt.make_index(children, media_type=bt.DOCKER_LIST)
    bt.push_manifest(srv, repo, "list", lst.manifest, bt.DOCKER_LIST)
    bt.check_manifest(srv, repo, "list", lst)
    bt.check_manifest(srv, repo, lst.digest, lst)


def test_manifest_many_tags():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(1)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    for i in range(4):
        bt.push_manifest(srv, repo, "test%d" % i, img.manifest)
    check(bt.tags(srv, repo) == ["test0", "test1", "test2", "test3"],
          "tags: %r" % bt.tags(srv, repo))
    for i in range(4):
        bt.check_manifest(srv, repo, "test%d" % i, img)


def test_manifest_retag():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    old = bt.make_image(1)
    new = bt.make_image(1)
    bt.push_image(srv, repo, old, "latest")
    bt.push_image(srv, repo, new, "latest")
    bt.check_manifest(srv, repo, "latest", new)
    bt.check_manifest(srv, repo, old.digest, old)
    check(bt.tags(srv, repo) == ["latest"], "tags: %r" % bt.tags(srv, repo))


def test_manifest_no_layers():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(0)
    bt.push_image(srv, repo, img, "empty")
    bt.check_manifest(srv, repo, "empty", img)


def test_manifest_extra_fields():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    config = bt.make_config(1)
    layer = bt.make_layer()
    m = {"schemaVersion": 2, "mediaType": bt.OCI_MANIFEST,
         "config": bt.descriptor(bt.OCI_CONFIG, config,
                                 newUnspecifiedField="aGVsbG8=",
                                 annotations={"a": "b"}),
         "layers": [bt.descriptor(bt.OCI_LAYER, layer)],
         "someFutureField": {"x": [1, 2, 3]}}
    img = bt.Image(bt.dump(m), bt.OCI_MANIFEST, [config, layer])
    bt.push_image(srv, repo, img, "extra")
    bt.check_manifest(srv, repo, "extra", img)


def test_manifest_missing_blob():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(2)
    bt.push_blob(srv, repo, img.config)
    bt.push_blob(srv, repo, img.layers[0])
    r = put_raw(srv, repo, "broken", img.manifest)
    expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN", "a layer is missing")
    manifest_absent(srv, repo, "broken", "tag of a rejected manifest")
    manifest_absent(srv, repo, img.digest, "a rejected manifest")

    img2 = bt.make_image(1)
    bt.push_blob(srv, repo, img2.layers[0])
    r = put_raw(srv, repo, "broken2", img2.manifest)
    expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN", "the config is missing")
    manifest_absent(srv, repo, img2.digest, "a rejected manifest")


def test_manifest_blob_in_other_repo():
    srv = bt.shared()
    a = "man/" + bt.unique("a")
    b = "man/" + bt.unique("b")
    img = bt.make_image(1)
    bt.push_image(srv, a, img, "v1")
    bt.push_blob(srv, b, bt.random_bytes(4))
    r = put_raw(srv, b, "v1", img.manifest)
    expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN",
                 "a manifest whose blobs live only in another repository")
    manifest_absent(srv, b, "v1", "rejected manifest in B")


def test_manifest_index_missing_child():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    have = bt.make_image(1)
    missing = bt.make_image(1)
    bt.push_image(srv, repo, have)
    for b in missing.blobs:
        bt.push_blob(srv, repo, b)
    for mt in (bt.OCI_INDEX, bt.DOCKER_LIST):
        idx = bt.make_index([have, missing], media_type=mt)
        r = put_raw(srv, repo, "idx", idx.manifest, mt)
        expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN",
                     "%s with a missing child" % mt)
        manifest_absent(srv, repo, idx.digest, "rejected index")
    manifest_absent(srv, repo, "idx", "tag of a rejected index")


def test_manifest_invalid():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    bt.push_image(srv, repo, bt.make_image(1), "ok")
    cfg = bt.make_config(0)
    bt.push_blob(srv, repo, cfg)
    invalid = ("MANIFEST_INVALID",)
    bad = [(b"blablabla", invalid), (b"{", invalid), (b"", invalid),
           (b"[]", invalid), (b"null", invalid),
           (json.dumps({"schemaVersion": 2, "mediaType": bt.OCI_MANIFEST,
                        "config": "nope", "layers": []}).encode(),
            invalid),
           (json.dumps({"schemaVersion": 2, "mediaType": bt.OCI_MANIFEST,
                        "config": bt.descriptor(bt.OCI_CONFIG, cfg),
                        "layers": [{"mediaType": bt.OCI_LAYER}]}).encode(),
            invalid),
           (json.dumps({"schemaVersion": 2, "mediaType": bt.OCI_MANIFEST,
                        "config": dict(bt.descriptor(bt.OCI_CONFIG, cfg),
                                       digest="sha256:123"),
                        "layers": []}).encode(),
            invalid + ("DIGEST_INVALID",))]
    for body, codes in bad:
        r = put_raw(srv, repo, "bad", body)
        expect_error(r, 400, codes, "PUT manifest %r" % body[:60])
    manifest_absent(srv, repo, "bad", "tag of invalid manifests")
    check(bt.tags(srv, repo) == ["ok"], "tags: %r" % bt.tags(srv, repo))

    r = put_raw(srv, repo, "sha256:totallywrong", b"blablabla")
    expect_error(r, (400, 404), tuple(bt.ERROR_CODES),
                 "conformance: PUT to sha256:totallywrong")


def test_manifest_digest_mismatch():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(1)
    other = bt.make_image(1)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    r = put_raw(srv, repo, other.digest, img.manifest)
    expect_error(r, 400, "DIGEST_INVALID", "PUT by a digest of other bytes")
    manifest_absent(srv, repo, other.digest, "under the claimed digest")
    manifest_absent(srv, repo, img.digest, "under its own digest")


def test_manifest_4mib():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    config = bt.make_config(1)
    layer = bt.make_layer()
    m = {"schemaVersion": 2, "mediaType": bt.OCI_MANIFEST,
         "config": bt.descriptor(bt.OCI_CONFIG, config),
         "layers": [bt.descriptor(bt.OCI_LAYER, layer)],
         "annotations": {"pad": ""}}
    target = 4 * 1024 * 1024 - 64
    pad = target - len(bt.dump(m))
    m["annotations"]["pad"] = "x" * pad
    img = bt.Image(bt.dump(m), bt.OCI_MANIFEST, [config, layer])
    check(abs(len(img.manifest) - target) < 8, "bad padding")
    bt.push_image(srv, repo, img, "big")
    bt.check_manifest(srv, repo, "big", img)


def test_manifest_subject_header():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    subject = bt.make_image(1)
    bt.push_image(srv, repo, subject, "base")
    art = bt.make_artifact("application/vnd.example.sig", subject=subject)
    for b in art.blobs:
        bt.push_blob(srv, repo, b)
    r = put_raw(srv, repo, art.digest, art.manifest)
    expect(r, 201, "PUT a manifest with a subject")
    expect_header(r, "OCI-Subject", subject.digest, "PUT with subject")

    r = put_raw(srv, repo, "plain", subject.manifest)
    expect(r, 201, "PUT without subject")
    check(r.header("OCI-Subject") is None,
          "OCI-Subject on a manifest without subject: %s" % r)


def test_manifest_unknown():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    bt.push_image(srv, repo, bt.make_image(1), "there")
    d = bt.digest_of(b"no such manifest")
    for ref in ("nothere", d):
        expect_error(bt.get_manifest(srv, repo, ref), 404,
                     "MANIFEST_UNKNOWN", "GET manifest " + ref)
        r = srv.head(bt.manifest_path(repo, ref),
                     headers={"Accept": bt.ACCEPT_ALL})
        expect(r, 404, "HEAD manifest " + ref)
    missing = "man/" + bt.unique("none")
    expect_error(bt.get_manifest(srv, missing, "latest"), 404,
                 ("MANIFEST_UNKNOWN", "NAME_UNKNOWN"),
                 "GET manifest of an unknown repository")


def test_manifest_blob_is_not_manifest():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(1)
    bt.push_image(srv, repo, img, "v1")
    expect_error(bt.get_manifest(srv, repo, bt.digest_of(img.layers[0])),
                 404, "MANIFEST_UNKNOWN", "a layer fetched as a manifest")


def test_manifest_content_type_params():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(1)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    r = srv.request("PUT", bt.manifest_path(repo, "p"), body=img.manifest,
                    headers={"Content-Type": bt.OCI_MANIFEST +
                             "; charset=utf-8"})
    expect(r, 201, "PUT with a Content-Type parameter")
    bt.check_manifest(srv, repo, "p", img)


def test_manifest_content_type_mismatch():
    srv = bt.shared()
    repo = "man/" + bt.unique()
    img = bt.make_image(1)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    for ctype in (bt.DOCKER_MANIFEST, bt.OCI_INDEX):
        r = put_raw(srv, repo, "mixed", img.manifest, ctype)
        expect_error(r, 400, "MANIFEST_INVALID",
                     "an OCI manifest sent as %s" % ctype)
    manifest_absent(srv, repo, img.digest, "a manifest sent with the "
                    "wrong Content-Type")
