"""Blob reads: GET and HEAD, byte ranges, unknown blobs, repository
scoping of blobs, and blob deletion.
"""

import berthtest as bt
from berthtest import check, expect, expect_error, expect_header


def test_blob_get_head():
    srv = bt.shared()
    repo = "blobs/" + bt.unique()
    data = bt.random_bytes(4321)
    d = bt.push_blob(srv, repo, data)
    r = srv.get(bt.blob_path(repo, d))
    expect(r, 200, "GET blob")
    check(r.body == data, "GET blob: body differs")
    expect_header(r, "Content-Length", str(len(data)))
    expect_header(r, "Docker-Content-Digest", d)
    r = srv.head(bt.blob_path(repo, d))
    expect(r, 200, "HEAD blob")
    check(r.body == b"", "HEAD blob returned a body")
    expect_header(r, "Content-Length", str(len(data)), "HEAD blob")
    expect_header(r, "Docker-Content-Digest", d, "HEAD blob")


def test_blob_range():
    srv = bt.shared()
    repo = "blobs/" + bt.unique()
    data = bt.random_bytes(1000)
    d = bt.push_blob(srv, repo, data)
    size = len(data)
    cases = [("bytes=0-9", 0, 9), ("bytes=100-199", 100, 199),
             ("bytes=990-", 990, 999), ("bytes=-25", 975, 999),
             ("bytes=500-5000", 500, 999), ("bytes=999-999", 999, 999)]
    for spec, a, b in cases:
        r = srv.get(bt.blob_path(repo, d), headers={"Range": spec})
        expect(r, 206, "Range: " + spec)
        expect_header(r, "Content-Range", "bytes %d-%d/%d" % (a, b, size),
                      "Range: " + spec)
        expect_header(r, "Content-Length", str(b - a + 1),
                      "Range: " + spec)
        check(r.body == data[a:b + 1], "Range %s: wrong bytes" % spec)


def test_blob_range_unsatisfiable():
    srv = bt.shared()
    repo = "blobs/" + bt.unique()
    data = bt.random_bytes(100)
    d = bt.push_blob(srv, repo, data)
    for spec in ("bytes=100-", "bytes=200-300"):
        r = srv.get(bt.blob_path(repo, d), headers={"Range": spec})
        expect(r, 416, "Range: %s of a 100-byte blob" % spec)
        got = r.header("Content-Range")
        if got is not None:
            check(got == "bytes */100", "416 Content-Range %r" % got)
    r = srv.get(bt.blob_path(repo, d))
    expect(r, 200, "GET after the bad ranges")
    check(r.body == data, "blob changed")


def test_blob_unknown():
    srv = bt.shared()
    repo = "blobs/" + bt.unique()
    bt.push_blob(srv, repo, bt.random_bytes(10))
    d = bt.digest_of(b"hello world")
    expect_error(srv.get(bt.blob_path(repo, d)), 404, "BLOB_UNKNOWN",
                 "GET unknown blob")
    expect(srv.head(bt.blob_path(repo, d)), 404, "HEAD unknown blob")
    missing = "blobs/" + bt.unique("none")
    expect_error(srv.get(bt.blob_path(missing, d)), 404,
                 ("BLOB_UNKNOWN", "NAME_UNKNOWN"),
                 "GET blob of an unknown repository")


def test_blob_not_in_other_repo():
    srv = bt.shared()
    a = "blobs/" + bt.unique("a")
    b = "blobs/" + bt.unique("b")
    bt.push_blob(srv, b, bt.random_bytes(5))
    data = bt.random_bytes(100)
    d = bt.push_blob(srv, a, data)
    expect_error(srv.get(bt.blob_path(b, d)), 404, "BLOB_UNKNOWN",
                 "GET a blob through a repository that lacks it")
    expect(srv.head(bt.blob_path(b, d)), 404,
           "HEAD a blob through a repository that lacks it")


def test_blob_delete():
    srv = bt.shared()
    repo = "blobs/" + bt.unique()
    keep = bt.random_bytes(30)
    data = bt.random_bytes(300)
    bt.push_blob(srv, repo, keep)
    d = bt.push_blob(srv, repo, data)
    r = srv.request("DELETE", bt.blob_path(repo, d))
    expect(r, 202, "DELETE blob")
    expect_error(srv.get(bt.blob_path(repo, d)), 404, "BLOB_UNKNOWN",
                 "GET deleted blob")
    expect(srv.head(bt.blob_path(repo, d)), 404, "HEAD deleted blob")
    expect_error(srv.request("DELETE", bt.blob_path(repo, d)), 404,
                 "BLOB_UNKNOWN", "second DELETE")
    bt.check_blob(srv, repo, keep)
    bt.push_blob(srv, repo, data)
    bt.check_blob(srv, repo, data)


def test_blob_delete_unknown():
    srv = bt.shared()
    repo = "blobs/" + bt.unique()
    bt.push_blob(srv, repo, bt.random_bytes(3))
    d = bt.digest_of(bt.random_bytes(8))
    expect_error(srv.request("DELETE", bt.blob_path(repo, d)), 404,
                 "BLOB_UNKNOWN", "DELETE unknown blob")


def test_blob_delete_scoped_to_repo():
    srv = bt.shared()
    a = "blobs/" + bt.unique("a")
    b = "blobs/" + bt.unique("b")
    data = bt.random_bytes(200)
    d = bt.push_blob(srv, a, data)
    bt.push_blob(srv, b, data)
    expect(srv.request("DELETE", bt.blob_path(a, d)), 202, "DELETE in A")
    expect(srv.head(bt.blob_path(a, d)), 404, "HEAD in A after delete")
    bt.check_blob(srv, b, data)
