"""The referrers API: descriptors of manifests whose subject is a digest,
artifactType filtering, empty answers, scoping and deletion.
"""

import urllib.parse

import berthtest as bt
from berthtest import check, expect, expect_error, expect_header

SBOM = "application/vnd.example.sbom.v1"
SIG = "application/vnd.example.signature.v1"
TYPED_CONFIG = "application/vnd.example.config.v1+json"
BUNDLE = "application/vnd.example.bundle.v1"


def referrers(srv, repo, digest, artifact_type=None):
    """GETs the referrers index; checks its envelope; returns (r, list)."""
    target = "/v2/%s/referrers/%s" % (repo, digest)
    if artifact_type is not None:
        target += "?" + urllib.parse.urlencode(
                {"artifactType": artifact_type})
    r = srv.get(target)
    expect(r, 200, "GET " + target)
    expect_header(r, "Content-Type", bt.OCI_INDEX, "referrers")
    doc = r.json()
    check(doc.get("schemaVersion") == 2, "schemaVersion %r" % (
            doc.get("schemaVersion"),))
    check(doc.get("mediaType") in (bt.OCI_INDEX, None),
          "mediaType %r" % doc.get("mediaType"))
    mans = doc.get("manifests")
    check(isinstance(mans, list), "manifests is not a list: %r" % doc)
    return r, mans


def by_digest(mans):
    out = {}
    for m in mans:
        check(m.get("digest") not in out, "duplicate %s" % m.get("digest"))
        out[m.get("digest")] = m
    return out


def check_descriptor(desc, image, artifact_type, annotations):
    what = "descriptor of %s" % image.digest[:19]
    check(desc.get("mediaType") == image.media_type, "%s: mediaType %r"
          % (what, desc.get("mediaType")))
    check(desc.get("size") == len(image.manifest), "%s: size %r, not %d"
          % (what, desc.get("size"), len(image.manifest)))
    check(desc.get("artifactType") == artifact_type,
          "%s: artifactType %r, expected %r" % (
                  what, desc.get("artifactType"), artifact_type))
    check((desc.get("annotations") or {}) == (annotations or {}),
          "%s: annotations %r, expected %r" % (
                  what, desc.get("annotations"), annotations))


def push_referrers(srv, repo):
    """A subject and four referrers of three kinds; returns them."""
    subject = bt.make_image(1)
    bt.push_image(srv, repo, subject, "app")
    typed = bt.make_artifact(SBOM, subject=subject,
                             annotations={"k": "sbom"})
    by_config = bt.make_artifact(None, config_type=TYPED_CONFIG,
                                 subject=subject,
                                 annotations={"k": "config"})
    sig = bt.make_artifact(SIG, subject=subject,
                           annotations={"k": "sig",
                                        "org.example.by": "me"})
    for a in (typed, by_config, sig):
        bt.push_image(srv, repo, a)
    idx = bt.make_index([typed, sig], subject=subject,
                        artifact_type=BUNDLE, annotations={"k": "index"})
    bt.push_manifest(srv, repo, idx.digest, idx.manifest, bt.OCI_INDEX)
    return subject, typed, by_config, sig, idx


def test_referrers_list():
    srv = bt.shared()
    repo = "refs/" + bt.unique()
    subject, typed, by_config, sig, idx = push_referrers(srv, repo)
    _, mans = referrers(srv, repo, subject.digest)
    got = by_digest(mans)
    want = {typed.digest, by_config.digest, sig.digest, idx.digest}
    check(set(got) == want, "referrers %r, expected %r" % (
            sorted(got), sorted(want)))
    check_descriptor(got[typed.digest], typed, SBOM, {"k": "sbom"})
    check_descriptor(got[by_config.digest], by_config, TYPED_CONFIG,
                     {"k": "config"})
    check_descriptor(got[sig.digest], sig, SIG,
                     {"k": "sig", "org.example.by": "me"})
    check_descriptor(got[idx.digest], idx, BUNDLE, {"k": "index"})

    _, mans = referrers(srv, repo, typed.digest)
    check(mans == [], "a manifest without referrers lists %r" % mans)


def test_referrers_index_without_artifact_type():
    srv = bt.shared()
    repo = "refs/" + bt.unique()
    subject = bt.make_image(1)
    bt.push_image(srv, repo, subject, "app")
    child = bt.make_image(1)
    bt.push_image(srv, repo, child)
    idx = bt.make_index([child], subject=subject)
    bt.push_manifest(srv, repo, idx.digest, idx.manifest, bt.OCI_INDEX)
    _, mans = referrers(srv, repo, subject.digest)
    check(len(mans) == 1, "referrers %r" % mans)
    check_descriptor(mans[0], idx, None, None)


def test_referrers_filter():
    srv = bt.shared()
    repo = "refs/" + bt.unique()
    subject, typed, by_config, sig, idx = push_referrers(srv, repo)
    for at, want in ((SBOM, [typed]), (TYPED_CONFIG, [by_config]),
                     (BUNDLE, [idx]), ("application/vnd.none", [])):
        r, mans = referrers(srv, repo, subject.digest, at)
        expect_header(r, "OCI-Filters-Applied", "artifactType",
                      "filter " + at)
        check(sorted(m["digest"] for m in mans) ==
              sorted(w.digest for w in want),
              "artifactType=%s gave %r" % (at, mans))


def test_referrers_empty():
    srv = bt.shared()
    repo = "refs/" + bt.unique()
    bt.push_image(srv, repo, bt.make_image(1), "x")
    r, mans = referrers(srv, repo, bt.digest_of(b"hello world"))
    check(mans == [], "unknown subject lists %r" % mans)
    check(r.header("OCI-Filters-Applied") is None,
          "OCI-Filters-Applied without a filter")


def test_referrers_missing_subject():
    srv = bt.shared()
    repo = "refs/" + bt.unique()
    ghost = bt.make_image(1)
    art = bt.make_artifact(SIG, subject=ghost, annotations={"k": "g"})
    for b in art.blobs:
        bt.push_blob(srv, repo, b)
    r = srv.request("PUT", bt.manifest_path(repo, art.digest),
                    body=art.manifest,
                    headers={"Content-Type": bt.OCI_MANIFEST})
    expect(r, 201, "a referrer whose subject was never pushed")
    expect_header(r, "OCI-Subject", ghost.digest)
    _, mans = referrers(srv, repo, ghost.digest)
    check([m.get("digest") for m in mans] == [art.digest],
          "referrers of a missing subject: %r" % mans)
    bt.push_image(srv, repo, ghost, "later")
    _, mans = referrers(srv, repo, ghost.digest)
    check([m.get("digest") for m in mans] == [art.digest],
          "referrers after the subject arrived: %r" % mans)


def test_referrers_after_delete():
    srv = bt.shared()
    repo = "refs/" + bt.unique()
    subject, typed, by_config, sig, idx = push_referrers(srv, repo)
    r = srv.request("DELETE", bt.manifest_path(repo, sig.digest))
    expect(r, 202, "DELETE a referrer")
    _, mans = referrers(srv, repo, subject.digest)
    got = set(by_digest(mans))
    check(got == {typed.digest, by_config.digest, idx.digest},
          "after deleting the signature: %r" % sorted(got))


def test_referrers_scoped_to_repo():
    srv = bt.shared()
    a = "refs/" + bt.unique("a")
    b = "refs/" + bt.unique("b")
    subject, typed, by_config, sig, idx = push_referrers(srv, a)
    bt.push_image(srv, b, subject, "app")
    _, mans = referrers(srv, b, subject.digest)
    check(mans == [], "repository B lists A's referrers: %r" % mans)


def test_referrers_invalid_digest():
    srv = bt.shared()
    repo = "refs/" + bt.unique()
    bt.push_image(srv, repo, bt.make_image(1), "x")
    for bad in ("sha256:xyz", "latest", "sha256:" + "0" * 63):
        r = srv.get("/v2/%s/referrers/%s" % (repo, bad))
        expect_error(r, 400, ("DIGEST_INVALID", "MANIFEST_INVALID"),
                     "referrers of " + bad)
