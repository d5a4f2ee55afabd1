"""berth's collector against Debian's docker-registry garbage-collect on
the same stores: both must agree on what is garbage.  With
--delete-untagged, registry:2 also deletes the children of multi-arch
images and the signatures of kept ones; there berth must delete a subset,
exactly the same on stores without indexes and referrers, and keep
every image a tag reaches intact."""

import json
import os

import berthtest as bt
import lifecycletest as lt
from berthtest import check


def dry_runs(root, *flags):
    config = lt.write_config(root)
    status, out, err = lt.berth_gc(config, "-d", "-q", "--grace-period",
                                   "0s", *flags)
    check(status == 0, "berth garbage-collect failed: %s" % err)
    theirs = lt.eligible_blobs(lt.docker_registry_gc(config, "-d", *flags))
    return lt.eligible_blobs(out), theirs


def test_same_garbage_as_docker_registry():
    root = lt.make_store(3000, seed=11)
    ours, theirs = dry_runs(root)
    check(len(theirs) > 100, "the store has too little garbage")
    check(ours == theirs, "berth would delete %d blobs docker-registry "
          "keeps and keep %d it deletes" % (len(ours - theirs),
                                            len(theirs - ours)))

    # The real runs leave the same blobs.
    mine, other = root, lt.copy_store(root)
    status, out, err = lt.berth_gc(lt.write_config(mine), "-q",
                                   "--grace-period", "0s")
    check(status == 0, err)
    lt.docker_registry_gc(lt.write_config(other))
    check(lt.blobs(mine) == lt.blobs(other), "the stores differ after "
          "both collections")


def test_same_untagged_garbage_without_indexes():
    root = lt.make_store(3000, plain=True, seed=12)
    ours, theirs = dry_runs(root, "-m")
    check(len(theirs) > 100, "the store has too little garbage")
    check(ours == theirs, "berth would delete %d blobs docker-registry "
          "keeps and keep %d it deletes" % (len(ours - theirs),
                                            len(theirs - ours)))


def reachable(root):
    """Every blob a tag reaches: manifests, their blobs, index children
    and referrers, recursively; computed from the files alone."""
    repos = lt.v2(root, "repositories")
    keep = set()
    for dirpath, dirnames, filenames in os.walk(repos):
        if os.path.basename(dirpath) != "_manifests":
            continue
        repo = os.path.dirname(dirpath)
        todo = []
        tags = os.path.join(dirpath, "tags")
        for tag in os.listdir(tags) if os.path.isdir(tags) else []:
            link = os.path.join(tags, tag, "current", "link")
            if os.path.exists(link):
                todo.append(open(link).read().strip())
        while todo:
            d = todo.pop()
            if d in keep:
                continue
            keep.add(d)
            h = bt.hex_of(d)
            m = json.loads(bt.read_file(lt.v2(root, "blobs", "sha256",
                                              h[:2], h, "data")))
            for desc in [m.get("config")] + m.get("layers", []):
                if desc:
                    keep.add(desc["digest"])
            todo += [c["digest"] for c in m.get("manifests", [])]
            refs = os.path.join(repo, "_referrers", "sha256", h, "sha256")
            if os.path.isdir(refs):
                todo += ["sha256:" + r for r in os.listdir(refs)]
    return keep


def test_untagged_keeps_what_docker_registry_loses():
    root = lt.make_store(3000, seed=13)
    ours, theirs = dry_runs(root, "-m")
    check(ours < theirs, "berth should delete a strict subset of what "
          "docker-registry deletes with -m")
    lost = (theirs - ours) & reachable(root)
    check(lost == theirs - ours, "berth keeps %d blobs no tag reaches" %
          len((theirs - ours) - lost))

    want = reachable(root)
    status, out, err = lt.berth_gc(lt.write_config(root), "-m", "-q",
                                   "--grace-period", "0s")
    check(status == 0, err)
    missing = want - lt.blobs(root)
    check(not missing, "%d blobs a tag reaches are gone" % len(missing))


def test_store_pushed_through_berth():
    srv = lt.start()
    repo = bt.unique("compat/app")
    imgs = [bt.make_image(nlayers=2) for _ in range(4)]
    for i, img in enumerate(imgs):
        bt.push_image(srv, repo, img, tag="v%d" % i)
    index = bt.make_index(imgs[:2])
    bt.push_manifest(srv, repo, "multi", index.manifest, bt.OCI_INDEX)
    lt.delete_manifest(srv, repo, imgs[3].digest)
    lt.delete_manifest(srv, repo, "v2")
    bt.push_blob(srv, repo, bt.random_bytes(500))
    srv.stop()
    lt.age(srv.root)

    ours, theirs = dry_runs(srv.root)
    check(len(ours) == 5, "expected the deleted image and the stray "
          "blob, got %d" % len(ours))
    check(ours == theirs, "berth %s, docker-registry %s" % (ours, theirs))
