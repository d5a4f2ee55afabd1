"""Collections while berth serves: what goes, what stays, dry runs, the
grace period, empty repositories, usage, scheduling and the admin API."""

import berthtest as bt
import lifecycletest as lt
from berthtest import check, expect


def test_collection_frees_a_deleted_image():
    srv = lt.start()
    repo = bt.unique("gc/app")
    keep = bt.make_image(nlayers=2)
    gone = lt.image_sharing(keep)
    bt.push_image(srv, repo, keep, tag="keep")
    bt.push_image(srv, repo, gone, tag="gone")
    lt.delete_manifest(srv, repo, gone.digest)
    lt.age(srv.root)

    report = lt.collect(srv)
    own = {gone.digest, bt.digest_of(gone.config),
           bt.digest_of(gone.layers[1])}
    check(lt.items(report, "blobs") == own,
          "collected %s, expected %s" % (lt.items(report, "blobs"), own))
    check(report["deleted"]["layer_links"] == 2, report["deleted"])
    for d in own:
        check(not lt.has_blob(srv.root, d), "%s still on disk" % d)
    lt.pull(srv, repo, "keep", keep)
    # The link went with the blob: a client is not told it exists.
    r = srv.head(bt.blob_path(repo, bt.digest_of(gone.layers[1])))
    expect(r, 404, "HEAD of a collected layer")
    check((repo, bt.digest_of(gone.layers[1])) not in
          lt.layer_links(srv.root), "the layer link was left behind")


def test_dry_run_changes_nothing():
    srv = lt.start()
    repo = bt.unique("gc/dry")
    img = bt.make_image(nlayers=2)
    bt.push_image(srv, repo, img, tag="v1")
    lt.delete_manifest(srv, repo, img.digest)
    lt.age(srv.root)
    before = lt.files(srv.root)

    report = lt.collect(srv, dryrun=True)
    check(report["dry_run"] is True, report)
    check(len(lt.items(report, "blobs")) == 4, report["items"])
    check(lt.files(srv.root) == before, "a dry run changed the store")

    report = lt.collect(srv)
    check(len(lt.items(report, "blobs")) == 4, report["items"])
    check(lt.files(srv.root) != before, "the real run changed nothing")


def test_empty_repository_is_removed():
    srv = lt.start()
    repo = bt.unique("gc/empty") + "/deep"
    other = bt.unique("gc/stays")
    img = bt.make_image()
    bt.push_image(srv, repo, img, tag="v1")
    bt.push_image(srv, other, bt.make_image(), tag="v1")
    check(repo in lt.catalog(srv), "pushed repository not listed")
    lt.delete_manifest(srv, repo, img.digest)
    lt.age(srv.root)

    report = lt.collect(srv)
    check(repo in lt.items(report, "repositories"), report["items"])
    check(not lt.repo_exists(srv.root, repo), "repository still on disk")
    check(not lt.repo_exists(srv.root, repo.rsplit("/", 1)[0]),
          "the empty parent directory stayed")
    check(repo not in lt.catalog(srv), "catalog still lists it")
    check(other in lt.catalog(srv), "the other repository went too")
    # Pushing again makes it anew.
    bt.push_image(srv, repo, img, tag="v2")
    lt.pull(srv, repo, "v2", img)


def test_grace_period_keeps_a_layer_whose_manifest_is_late():
    srv = lt.start(grace="1h")
    repo = bt.unique("gc/grace")
    img = bt.make_image(nlayers=2)
    for b in img.blobs:
        bt.push_blob(srv, repo, b)
    # A layer pushed a day ago whose manifest never came, written as
    # the push would have left it (a push now would hold it for 1h).
    old = bt.random_bytes(300)
    h = bt.hex_of(bt.digest_of(old))
    lt.put_file(lt.v2(srv.root, "blobs", "sha256", h[:2], h, "data"), old,
                lt.DAY)
    lt.put_file(lt.v2(srv.root, "repositories", repo, "_layers", "sha256",
                      h, "link"), bt.digest_of(old).encode(), lt.DAY)

    report = lt.collect(srv)
    check(lt.items(report, "blobs") == {bt.digest_of(old)},
          "collected %s" % lt.items(report, "blobs"))
    check(report["young_blobs"] == 3, report)
    bt.push_manifest(srv, repo, "v1", img.manifest)
    lt.pull(srv, repo, "v1", img)


def test_usage_shared_and_exclusive():
    srv = lt.start()
    a, b = bt.unique("use/a"), bt.unique("use/b")
    one = bt.make_image(nlayers=2)
    two = lt.image_sharing(one)
    bt.push_image(srv, a, one, tag="v1")
    bt.push_image(srv, b, two, tag="v1")
    shared = len(one.layers[0])

    got = lt.wait_for("usage of both repositories", lambda: (
            lambda u: u if {a, b} <= {r["name"] for r in
                                      u["repositories"]} else None)(
            lt.usage(srv)))
    byname = {r["name"]: r for r in got["repositories"]}
    size_a = sum(map(len, one.blobs)) + len(one.manifest)
    size_b = sum(map(len, two.blobs)) + len(two.manifest)
    check(byname[a]["bytes"] == size_a, byname[a])
    check(byname[a]["shared_bytes"] == shared, byname[a])
    check(byname[a]["exclusive_bytes"] == size_a - shared, byname[a])
    check(byname[b]["exclusive_bytes"] == size_b - shared, byname[b])
    check(byname[a]["quota_bytes"] is None, byname[a])
    check(got["total"]["bytes"] >= size_a + size_b - shared, got["total"])

    one_repo = lt.usage(srv, a)
    check(one_repo["name"] == a and one_repo["bytes"] == size_a, one_repo)
    r = lt.admin(srv, "GET", "usage", repository="use/none")
    bt.expect_error(r, 404, "NAME_UNKNOWN", "usage of an unknown repo")

    # After a delete and a collection, b's bytes are exclusive to a.
    lt.delete_manifest(srv, b, two.digest)
    lt.age(srv.root)
    lt.collect(srv)
    got = lt.wait_for("usage after the collection", lambda: (
            lambda u: u if u["shared_bytes"] == 0 else None)(
            lt.usage(srv, a)))
    check(got["exclusive_bytes"] == size_a, got)


def test_reclaimable_estimate():
    srv = lt.start()
    repo = bt.unique("use/reclaim")
    img = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, img, tag="v1")
    lt.delete_manifest(srv, repo, img.digest)
    lt.age(srv.root)
    want = sum(map(len, img.blobs)) + len(img.manifest)
    got = lt.wait_for("a reclaimable estimate", lambda: (
            lambda t: t if t["reclaimable_bytes"] == want else None)(
            lt.usage(srv)["total"]), timeout=30)
    check(got["reclaimable_blobs"] == 3, got)
    state = lt.admin(srv, "GET", "gc").json()
    check(state["reclaimable_bytes"] == want, state)


def test_scheduled_collection():
    srv = lt.start(env={
            "REGISTRY_STORAGE_MAINTENANCE_GC_ENABLED": "true",
            "REGISTRY_STORAGE_MAINTENANCE_GC_INTERVAL": "1s"})
    repo = bt.unique("gc/sched")
    img = bt.make_image()
    bt.push_image(srv, repo, img, tag="v1")
    lt.delete_manifest(srv, repo, img.digest)
    lt.age(srv.root)
    lt.wait_for("a scheduled collection of the deleted image", lambda:
                not lt.has_blob(srv.root, img.digest), timeout=30)
    state = lt.admin(srv, "GET", "gc").json()
    check(state["scheduled"] is True and state["last_run"] is not None,
          state)
    check(state["interval_seconds"] == 1, state)
    check("collection done" in srv.log(), "no summary in the log")


def test_admin_answers():
    srv = lt.start(env={"REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED":
                        "true"})
    r = lt.admin(srv, "GET", "gc")
    expect(r, 200, "GET /admin/gc")
    check(r.json()["running"] is False, r.json())
    bt.expect_error(lt.admin(srv, "POST", "gc"), 403, "DENIED",
                    "a real collection on read-only storage")
    expect(lt.admin(srv, "POST", "gc", dryrun="true", wait="true"), 200,
           "a dry run on read-only storage")
    bt.expect_error(lt.admin(srv, "POST", "usage"), 405, "UNSUPPORTED",
                    "POST /admin/usage")
    bt.expect_error(lt.admin(srv, "GET", "nothing"), 404, "NAME_UNKNOWN",
                    "GET /admin/nothing")
    r = lt.admin(srv, "POST", "scrub")
    expect(r, (202, 409), "POST /admin/scrub")
