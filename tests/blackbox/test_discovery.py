"""Content discovery: tag lists and the catalog, sorted, paginated with
n, last and Link headers; unknown repositories.
"""

import urllib.parse

import berthtest as bt
from berthtest import check, expect, expect_error


def tag_repo(srv, repo, names):
    img = bt.make_image(1)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    for t in names:
        bt.push_manifest(srv, repo, t, img.manifest)
    return img


def page(srv, target, key):
    r = srv.get(target)
    expect(r, 200, "GET " + target)
    return r, r.json().get(key) or []


def check_next_link(r, path, n, last):
    """The Link header names path with n and last, or fails."""
    link = bt.parse_next_link(r)
    check(link is not None, "no Link header on a partial page:\n      %s"
          % r)
    u = urllib.parse.urlsplit(link)
    check(u.path == path, "Link path %r is not %r" % (u.path, path))
    q = urllib.parse.parse_qs(u.query)
    check(q.get("n") == [str(n)], "Link %r does not carry n=%d" % (
            link, n))
    check(q.get("last") == [last], "Link %r does not carry last=%s" % (
            link, last))
    return link


def walk_pages(srv, first, key, n, limit=20):
    """Follows Link headers from first; returns every item seen."""
    seen = []
    target = first
    for _ in range(limit):
        r, items = page(srv, target, key)
        check(len(items) <= n, "%s: %d items for n=%d" % (
                target, len(items), n))
        check(items == sorted(items), "%s: not sorted: %r" % (
                target, items))
        seen += items
        link = bt.parse_next_link(r)
        if link is None:
            return seen
        target = link
    raise bt.TestFailure("pagination did not end after %d pages" % limit)


def test_tags_list_sorted():
    srv = bt.shared()
    repo = "disc/" + bt.unique()
    names = ["v2", "latest", "V10", "1.0", "a_b", "a-b", "a.b", "Z"]
    tag_repo(srv, repo, names)
    r = srv.get("/v2/%s/tags/list" % repo)
    expect(r, 200, "tags/list")
    doc = r.json()
    check(doc.get("name") == repo, "name %r" % doc.get("name"))
    check(doc.get("tags") == sorted(names),
          "tags %r, expected %r" % (doc.get("tags"), sorted(names)))
    check(r.header("Link") is None, "Link on a complete list: %s" % r)


def test_tags_list_paginated():
    srv = bt.shared()
    repo = "disc/" + bt.unique()
    names = ["t%d" % i for i in range(7)]
    tag_repo(srv, repo, names)
    path = "/v2/%s/tags/list" % repo

    r, items = page(srv, path + "?n=2", "tags")
    check(items == ["t0", "t1"], "n=2: %r" % items)
    check_next_link(r, path, 2, "t1")

    r, items = page(srv, path + "?n=2&last=t1", "tags")
    check(items == ["t2", "t3"], "n=2&last=t1: %r" % items)
    r, items = page(srv, path + "?last=t4", "tags")
    check(items == ["t5", "t6"], "last=t4: %r" % items)
    r, items = page(srv, path + "?n=3&last=t5", "tags")
    check(items == ["t6"], "n=3&last=t5: %r" % items)
    check(r.header("Link") is None, "Link on the last page: %s" % r)
    r, items = page(srv, path + "?n=0", "tags")
    check(items == [], "n=0 gave %r" % items)
    check(r.header("Link") is None, "Link with n=0: %s" % r)
    r, items = page(srv, path + "?n=100", "tags")
    check(items == names, "n=100: %r" % items)
    r, items = page(srv, path + "?last=zzz", "tags")
    check(items == [], "last after every tag: %r" % items)

    seen = walk_pages(srv, path + "?n=3", "tags", 3)
    check(seen == names, "following Link headers gave %r" % seen)


def test_tags_list_bad_n():
    srv = bt.shared()
    repo = "disc/" + bt.unique()
    tag_repo(srv, repo, ["a"])
    for q in ("n=-1", "n=abc"):
        r = srv.get("/v2/%s/tags/list?%s" % (repo, q))
        expect(r, (200, 400), "tags/list?" + q)
        if r.status == 200:
            check(r.json().get("tags") == ["a"], "?%s: %s" % (q, r))


def test_tags_list_unknown_repo():
    srv = bt.shared()
    repo = "disc/" + bt.unique("none")
    expect_error(srv.get("/v2/%s/tags/list" % repo), 404, "NAME_UNKNOWN",
                 "tags/list of an unknown repository")


def test_catalog():
    with bt.start_berth() as srv:
        r = srv.get("/v2/_catalog")
        expect(r, 200, "empty catalog")
        check(r.json().get("repositories") in ([], None),
              "empty registry lists %s" % r.body[:200])
        repos = ["zeta", "alpha", "library/busybox", "a/b/c", "mid-dle",
                 "alpha/nested"]
        for name in repos:
            tag_repo(srv, name, ["latest"])
        want = sorted(repos)
        r = srv.get("/v2/_catalog")
        expect(r, 200, "catalog")
        check(r.json().get("repositories") == want,
              "catalog %r, expected %r" % (r.json(), want))

        r, items = page(srv, "/v2/_catalog?n=2", "repositories")
        check(items == want[:2], "n=2: %r" % items)
        check_next_link(r, "/v2/_catalog", 2, want[1])
        r, items = page(srv, "/v2/_catalog?n=2&last=%s" % want[1],
                        "repositories")
        check(items == want[2:4], "n=2&last=%s: %r" % (want[1], items))
        seen = walk_pages(srv, "/v2/_catalog?n=2", "repositories", 2)
        check(seen == want, "following Link headers gave %r" % seen)
        r, items = page(srv, "/v2/_catalog?n=0", "repositories")
        check(items == [], "n=0 gave %r" % items)
        srv.stop()


def test_catalog_excludes_rejected_push():
    with bt.start_berth() as srv:
        tag_repo(srv, "real", ["v1"])
        bad = bt.make_image(1)
        r = srv.request("PUT", bt.manifest_path("rejected", "v1"),
                        body=bad.manifest,
                        headers={"Content-Type": bt.OCI_MANIFEST})
        expect(r, 400, "manifest with missing blobs")
        r = srv.get("/v2/_catalog")
        expect(r, 200, "catalog")
        got = r.json().get("repositories")
        check("real" in got, "catalog %r lacks 'real'" % got)
        check("rejected" not in got, "catalog lists a repository whose "
              "only push was rejected: %r" % got)
        srv.stop()
