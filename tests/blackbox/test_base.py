"""The base endpoint, routes that do not exist, and HTTP behaviour real
clients rely on: keep-alive connections across errors and bodies.
"""

import berthtest as bt
from berthtest import check, expect, expect_error, expect_header


def test_api_version():
    srv = bt.shared()
    r = srv.get("/v2/")
    expect(r, 200, "GET /v2/")
    expect_header(r, "Docker-Distribution-API-Version", "registry/2.0",
                  "GET /v2/")
    r = srv.head("/v2/")
    expect(r, 200, "HEAD /v2/")
    expect_header(r, "Docker-Distribution-API-Version", "registry/2.0",
                  "HEAD /v2/")
    r = srv.get("/v2")
    expect(r, (200, 301, 404), "GET /v2 without the slash")


def test_unknown_routes():
    srv = bt.shared()
    for method, target in (("GET", "/v2/a/b/notaroute"),
                           ("GET", "/v2/repo/blobs"),
                           ("PUT", "/v2/repo/tags/list"),
                           ("GET", "/v2/repo/manifests/")):
        r = srv.request(method, target, body=b"" if method == "PUT"
                        else None)
        check(400 <= r.status < 500, "%s %s gave %d:\n      %s" % (
                method, target, r.status, r))


def test_keepalive_across_errors():
    srv = bt.shared()
    repo = "base/" + bt.unique()
    img = bt.make_image(1)
    conn = srv.connect()
    try:
        for b in img.blobs:
            d = bt.digest_of(b)
            r = srv.request("POST", bt.with_query(bt.uploads_path(repo),
                                                  digest=d),
                            body=b, conn=conn)
            expect(r, 201, "monolithic POST on a kept connection")
        r = srv.request("PUT", bt.manifest_path(repo, "v1"),
                        body=b"not json at all " * 100,
                        headers={"Content-Type": bt.OCI_MANIFEST},
                        conn=conn)
        expect_error(r, 400, "MANIFEST_INVALID", "bad manifest")
        r = srv.request("POST", bt.with_query(
                bt.uploads_path(repo), digest=bt.digest_of(b"other")),
                body=bt.random_bytes(5000), conn=conn)
        expect_error(r, 400, "DIGEST_INVALID", "wrong digest")
        r = srv.request("GET", bt.blob_path(repo, bt.digest_of(b"no")),
                        conn=conn)
        expect_error(r, 404, "BLOB_UNKNOWN", "unknown blob")
        r = srv.request("PUT", bt.manifest_path(repo, "v1"),
                        body=img.manifest,
                        headers={"Content-Type": bt.OCI_MANIFEST},
                        conn=conn)
        expect(r, 201, "manifest after errors on the same connection")
        r = srv.request("HEAD", bt.manifest_path(repo, "v1"),
                        headers={"Accept": bt.ACCEPT_ALL}, conn=conn)
        expect(r, 200, "HEAD on the same connection")
        r = srv.request("GET", bt.manifest_path(repo, "v1"),
                        headers={"Accept": bt.ACCEPT_ALL}, conn=conn)
        expect(r, 200, "GET after HEAD on the same connection")
        check(r.body == img.manifest, "manifest differs")
    finally:
        conn.close()


def test_error_body_format():
    srv = bt.shared()
    repo = "base/" + bt.unique()
    answers = [
            srv.get(bt.blob_path(repo, bt.digest_of(b"x"))),
            srv.get(bt.manifest_path(repo, "nope")),
            srv.get("/v2/%s/tags/list" % repo),
            srv.get(bt.uploads_path(repo) + "0123-not-an-upload"),
            srv.request("PUT", bt.manifest_path(repo, "v1"), body=b"{",
                        headers={"Content-Type": bt.OCI_MANIFEST}),
    ]
    for r in answers:
        check(400 <= r.status < 500, "expected a 4xx: %s" % r)
        problem = bt.error_body_problem(r)
        check(problem is None, "%s:\n      %s" % (problem, r))
        for e in r.json()["errors"]:
            check(isinstance(e.get("message"), str) and e["message"],
                  "error without a message: %s" % r)
