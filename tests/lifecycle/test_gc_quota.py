"""Quotas refuse a push that would take a repository over its limit,
with 403 DENIED and a message that names the quota; scrub finds a
corrupted blob and stops serving it."""

import os

import berthtest as bt
import lifecycletest as lt
from berthtest import check, expect

QUOTA = """
version: 0.1
storage:
  maintenance:
    quotas:
      - repositories: ["team/**"]
        limit: 16KiB
"""


def upload(srv, repo, data):
    """POST then PUT one blob; returns the PUT's answer, whatever it is."""
    loc = bt.start_upload(srv, repo)
    return srv.request("PUT", bt.with_query(loc, digest=bt.digest_of(data)),
                       body=data, headers={
                               "Content-Type": "application/octet-stream"})


def test_quota_refuses_a_push_over_the_limit():
    srv = lt.start(config=QUOTA)
    repo, other = bt.unique("team/app"), bt.unique("free/app")
    img = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, img, tag="v1")

    big = bt.random_bytes(16 * 1024)
    r = upload(srv, repo, big)
    bt.expect_error(r, 403, "DENIED", "push over quota")
    msg = r.json()["errors"][0]["message"]
    for part in ("quota", "16.0 KiB", repo, "team/**"):
        check(part in msg, "message %r does not say %r" % (msg, part))
    check(not lt.has_blob(srv.root, bt.digest_of(big)),
          "the refused blob was stored")
    r = srv.head(bt.blob_path(repo, bt.digest_of(big)))
    expect(r, 404, "HEAD of the refused blob")

    # Other repositories have no quota; a blob already held costs nothing.
    bt.push_blob(srv, other, big)
    bt.push_blob(srv, repo, img.layers[0])
    bt.push_blob(srv, repo, bt.random_bytes(1024))

    # Making room: delete, collect, and the push goes through.
    lt.delete_manifest(srv, repo, img.digest)
    lt.age(srv.root)
    lt.collect(srv)
    bt.push_blob(srv, repo, big)
    got = lt.usage(srv, repo)
    check(got["quota_bytes"] == 16 * 1024, got)


def test_quota_counts_a_push_in_progress():
    srv = lt.start(config=QUOTA, grace="1h")
    repo = bt.unique("team/layers")
    for _ in range(3):
        bt.push_blob(srv, repo, bt.random_bytes(5 * 1024))
    # 15 KiB of layers whose manifest has not come yet.
    bt.expect_error(upload(srv, repo, bt.random_bytes(2 * 1024)), 403,
                    "DENIED", "the fourth layer")


def test_scrub_finds_and_quarantines_a_corrupt_blob():
    srv = lt.start()
    repo = bt.unique("scrub/app")
    img = bt.make_image(nlayers=2)
    bt.push_image(srv, repo, img, tag="v1")
    bad = bt.digest_of(img.layers[1])
    h = bt.hex_of(bad)
    path = lt.v2(srv.root, "blobs", "sha256", h[:2], h, "data")
    with open(path, "r+b") as f:
        f.seek(10)
        f.write(b"\xff" * 8)

    r = lt.admin(srv, "POST", "scrub", wait="true")
    expect(r, 200, "POST /admin/scrub")
    report = r.json()
    check(report["corrupt"] == 1 and report["quarantined"] == 1, report)
    check(report["blobs"] >= 4, report)
    check([b["digest"] for b in report["bad"]] == [bad], report["bad"])
    check(report["bad"][0]["quarantine"].endswith(h + "/data"), report)
    check(os.path.exists(lt.v2(srv.root, "quarantine", "sha256", h,
                               "data")), "nothing in the quarantine")
    check("blob content does not match its digest" in srv.log(),
          "the corruption was not logged")

    bt.expect_error(srv.get(bt.blob_path(repo, bad)), 404, "BLOB_UNKNOWN",
                    "GET of the corrupt blob")
    bt.check_blob(srv, repo, img.layers[0])
    state = lt.admin(srv, "GET", "scrub").json()
    check(state["last_run"]["corrupt"] == 1, state)

    # Pushing the layer again repairs the image.
    bt.push_blob(srv, repo, img.layers[1])
    lt.pull(srv, repo, "v1", img)
    r = lt.admin(srv, "POST", "scrub", wait="true")
    check(r.json()["corrupt"] == 0, r.json())
