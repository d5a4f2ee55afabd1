"""Names, tags and digests the spec's grammar rejects, and path traversal:
no request may create or touch a file outside the store, or a file in
the store that the layout does not name.
"""

import os

import berthtest as bt
from berthtest import check, expect, expect_error

INVALID_NAMES = ["Upper", "a/B", "-lead", "trail-", "a..b", ".hidden",
                 "a_", "a/-b", "a@b", "a:b", "a/", "_a", "a//b", "a/./b",
                 "a/../b"]


def check_name_refused(r, what):
    """400 NAME_INVALID, or 404 with the spec's error body."""
    expect(r, (400, 404), what)
    if r.status == 400:
        expect_error(r, 400, "NAME_INVALID", what)


def test_name_invalid():
    srv = bt.shared()
    data = bt.random_bytes(16)
    d = bt.digest_of(data)
    for name in INVALID_NAMES:
        check_name_refused(srv.get("/v2/%s/tags/list" % name),
                           "tags/list of %r" % name)
        r = srv.request("POST", bt.with_query(bt.uploads_path(name),
                                              digest=d),
                        body=data)
        check_name_refused(r, "monolithic push to %r" % name)
        check_name_refused(srv.request("POST", bt.uploads_path(name)),
                           "POST upload to %r" % name)
    r = srv.get("/v2/_catalog")
    expect(r, 200, "catalog")
    listed = r.json().get("repositories") or []
    bad = [n for n in listed if n.rstrip("/") in INVALID_NAMES or
           n.lower() != n]
    check(not bad, "catalog lists invalid names %r" % bad)


def test_name_valid_forms():
    srv = bt.shared()
    u = bt.unique("n")
    for name in (u + "/a__b", u + "/a--b", u + "/a.b_c-d", u + "/x/y/z/w",
                 u + "/0"):
        img = bt.make_image(1)
        bt.push_image(srv, name, img, "v1")
        bt.check_manifest(srv, name, "v1", img)


def test_name_length():
    srv = bt.shared()
    u = bt.unique("l")
    ok = u + "/" + "b" * (255 - len(u) - 1)
    check(len(ok) == 255, "bad test name")
    data = bt.random_bytes(8)
    bt.push_blob(srv, ok, data, "monolithic")
    bt.check_blob(srv, ok, data)
    long = ok + "c"
    r = srv.request("POST", bt.uploads_path(long))
    expect_error(r, 400, "NAME_INVALID", "POST upload, 256-char name")


def test_tag_invalid():
    srv = bt.shared()
    repo = "names/" + bt.unique()
    img = bt.make_image(1)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    for tag in ("-bad", ".bad", "a" * 129, "bad!tag", "bad%2Btag",
                "ba*d"):
        r = srv.request("PUT", bt.manifest_path(repo, tag),
                        body=img.manifest,
                        headers={"Content-Type": bt.OCI_MANIFEST})
        expect_error(r, 400, ("TAG_INVALID", "MANIFEST_INVALID"),
                     "PUT manifest with tag %r" % tag[:40])
    r = srv.get("/v2/%s/tags/list" % repo)
    check(r.status == 404 or (r.json().get("tags") or []) == [],
          "invalid tags were stored: %s" % r)
    ok = "_" + "a" * 127
    bt.push_manifest(srv, repo, ok, img.manifest)
    check(bt.tags(srv, repo) == [ok], "tags %r" % bt.tags(srv, repo))


def test_digest_invalid():
    srv = bt.shared()
    repo = "names/" + bt.unique()
    bt.push_image(srv, repo, bt.make_image(1), "v1")
    for bad in ("sha256:xyz", "sha256:" + "a" * 63, "sha256:" + "A" * 64,
                "sha256:" + "a" * 65, "sha256:", "md5:" + "a" * 32,
                "sha256:" + "g" * 64):
        path = bt.blob_path(repo, bad)
        expect_error(srv.get(path), 400, "DIGEST_INVALID", "GET " + path)
        expect(srv.head(path), 400, "HEAD " + path)
        expect_error(srv.request("DELETE", path), 400, "DIGEST_INVALID",
                     "DELETE " + path)
        r = srv.request("POST", bt.with_query(bt.uploads_path(repo),
                                              digest=bad),
                        body=b"abc")
        expect_error(r, 400, "DIGEST_INVALID", "monolithic ?digest=" + bad)
        r = bt.get_manifest(srv, repo, bad)
        expect(r, (400, 404), "GET manifest " + bad)
        if r.status == 400:
            expect_error(r, 400, ("DIGEST_INVALID", "MANIFEST_INVALID",
                                  "TAG_INVALID"),
                         "GET manifest " + bad)


def marker_paths(top, marker, limit_depth=None):
    """Paths under top whose name contains marker."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            if marker in n:
                found.append(os.path.join(dirpath, n))
        if limit_depth is not None:
            depth = dirpath[len(top):].count(os.sep)
            if depth >= limit_depth:
                dirnames[:] = []
    return found


def traversal_requests(repo, marker, data):
    """(method, target, body) that must all be refused."""
    d = bt.digest_of(data)
    img = bt.make_image(0)
    up = ["..", "../..", "/".join([".."] * 4), "/".join([".."] * 8),
          "/".join([".."] * 12)]
    names = [u + "/" + marker for u in up]
    names += ["%2e%2e/" + marker, "/".join(["%2e%2e"] * 9) + "/" + marker,
              "%2E%2E%2F%2E%2E%2F" + marker, "a/../../" + marker,
              "a//" + marker, "/" + marker, ".", "..", marker + "/..",
              marker + "/.", "./" + marker, repo + "/../../../" + marker]
    reqs = []
    for n in names:
        reqs.append(("POST", bt.with_query(bt.uploads_path(n),
                                           digest=d), data))
        reqs.append(("POST", bt.uploads_path(n), None))
        reqs.append(("PUT", bt.manifest_path(n, "latest"),
                     img.manifest))
        reqs.append(("GET", "/v2/%s/tags/list" % n, None))
        reqs.append(("GET", bt.blob_path(n, d), None))
    for ref in ("..", "%2e%2e", "..%2F..%2F" + marker, "../" + marker,
                "%2E%2E%2F%2E%2E%2F%2E%2E%2F" + marker):
        reqs.append(("PUT", bt.manifest_path(repo, ref), img.manifest))
        reqs.append(("GET", bt.manifest_path(repo, ref), None))
        reqs.append(("DELETE", bt.manifest_path(repo, ref), None))
    uploads = bt.uploads_path(repo)
    for uid in ("..", "%2e%2e", "..%2F..%2F" + marker,
                "%2e%2e%2f%2e%2e%2f%2e%2e%2f" + marker, "." ):
        reqs.append(("PATCH", uploads + uid, data))
        reqs.append(("PUT", bt.with_query(uploads + uid, digest=d),
                     data))
        reqs.append(("GET", uploads + uid, None))
        reqs.append(("DELETE", uploads + uid, None))
    for dg in ("sha256:..%2F..%2F" + marker, "sha256:%2e%2e",
               "sha256/../../" + marker):
        reqs.append(("GET", bt.blob_path(repo, dg), None))
        reqs.append(("DELETE", bt.blob_path(repo, dg), None))
        reqs.append(("POST", uploads + "?digest=" + dg, data))
    return reqs


def test_path_traversal():
    jail = bt.new_root("jail")
    root = os.path.join(jail, "j1", "j2", "j3", "root")
    if bt.S3 is None:
        os.makedirs(root)
    marker = bt.unique("escape")
    data = bt.random_bytes(100)
    with bt.start_berth(root=root) as srv:
        repo = "jailed/repo"
        img = bt.make_image(1)
        bt.push_image(srv, repo, img, "v1")
        before = bt.store_snapshot(jail)
        for method, target, body in traversal_requests(repo, marker,
                                                        data):
            r = srv.request(method, target, body=body, headers={
                    "Content-Type": "application/octet-stream"})
            check(r.status in (400, 404, 405),
                  "a traversal attempt was not refused:\n      %s"
                  % r)
        after = bt.store_snapshot(jail)
        check(after == before, "traversal attempts changed the store:"
              "\n      added %r\n      removed %r\n      rewrote %r" % (
                      sorted(set(after) - set(before))[:10],
                      sorted(set(before) - set(after))[:10],
                      sorted(k for k in before if k in after and
                             after[k] != before[k])[:10]))
        stray = marker_paths(bt.base_dir(), marker)
        if bt.S3 is not None:
            stray += [k for k in bt.S3.keys("") if marker in k]
        for top in ("/", "/tmp", os.getcwd(),
                    os.path.dirname(bt.base_dir())):
            stray += [os.path.join(top, n) for n in os.listdir(top)
                      if marker in n]
        check(not stray, "files created outside the store: %r" % stray)
        bt.check_manifest(srv, repo, "v1", img)
        srv.stop()
