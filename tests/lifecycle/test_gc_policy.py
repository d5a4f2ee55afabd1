"""The untagged policy and retention rules on multi-arch images with
referrers: what no tag reaches goes, but never the children of a kept
index nor the referrers of a kept manifest."""

import berthtest as bt
import lifecycletest as lt
from berthtest import check

SIG = "application/vnd.example.signature.v1"
SBOM = "application/vnd.example.sbom.v1"


class MultiArch:
    """An index over two images, tagged, with a signature of the index,
    a signature of one child and an SBOM of that signature."""

    def __init__(self, srv, repo, tag):
        self.children = [bt.make_image(nlayers=1) for _ in range(2)]
        for c in self.children:
            bt.push_image(srv, repo, c)
        self.index = bt.make_index(self.children)
        bt.push_manifest(srv, repo, tag, self.index.manifest, bt.OCI_INDEX)
        self.sig = bt.make_artifact(SIG, subject=self.index)
        self.child_sig = bt.make_artifact(SIG, subject=self.children[0])
        self.sbom = bt.make_artifact(SBOM, subject=self.child_sig)
        for a in (self.sig, self.child_sig, self.sbom):
            bt.push_image(srv, repo, a)

    def images(self):
        return self.children + [self.sig, self.child_sig, self.sbom]

    def check_intact(self, srv, repo, tag):
        bt.check_manifest(srv, repo, tag, self.index)
        for img in self.images():
            lt.pull(srv, repo, img.digest, img)
        check(lt.referrers(srv, repo, self.index.digest) ==
              {self.sig.digest}, "the index lost its signature")
        check(lt.referrers(srv, repo, self.children[0].digest) ==
              {self.child_sig.digest}, "the child lost its signature")
        check(lt.referrers(srv, repo, self.child_sig.digest) ==
              {self.sbom.digest}, "the signature lost its SBOM")

    def check_gone(self, srv, repo):
        for img in [self.index] + self.images():
            lt.manifest_gone(srv, repo, img.digest)
            for b in img.blobs:
                check(not lt.has_blob(srv.root, bt.digest_of(b)) or
                      b == bt.EMPTY_JSON, "a blob of a deleted image "
                      "stayed")


def test_untagged_policy_keeps_children_and_referrers():
    srv = lt.start()
    repo = bt.unique("pol/multi")
    multi = MultiArch(srv, repo, "latest")
    orphan = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, orphan)               # by digest only
    orphan_sig = bt.make_artifact(SIG, subject=orphan)
    bt.push_image(srv, repo, orphan_sig)
    old = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, old, tag="v1")
    new = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, new, tag="v1")       # old loses its tag
    lt.age(srv.root)

    report = lt.collect(srv, untagged=True)
    gone = {orphan.digest, orphan_sig.digest, old.digest}
    check(lt.items(report, "manifests") == gone,
          "deleted manifests %s, expected %s" % (
                  lt.items(report, "manifests"), gone))
    multi.check_intact(srv, repo, "latest")
    lt.pull(srv, repo, "v1", new)
    for img in (orphan, orphan_sig, old):
        lt.manifest_gone(srv, repo, img.digest)
    for b in orphan.blobs + old.blobs:
        check(not lt.has_blob(srv.root, bt.digest_of(b)),
              "a blob of an untagged image stayed")

    # Nothing more to do on a second run.
    report = lt.collect(srv, untagged=True)
    check(report["items"] == [], "second run: %s" % report["items"])


def test_untagged_kept_without_policy():
    srv = lt.start()
    repo = bt.unique("pol/keep")
    img = bt.make_image()
    bt.push_image(srv, repo, img)
    lt.age(srv.root)
    report = lt.collect(srv)
    check(report["deleted"]["manifests"] == 0, report["deleted"])
    lt.pull(srv, repo, img.digest, img)


def test_untagged_policy_spares_recent_pushes():
    srv = lt.start(grace="1h")
    repo = bt.unique("pol/recent")
    children = [bt.make_image(nlayers=1) for _ in range(2)]
    for c in children:
        bt.push_image(srv, repo, c)  # the index is not pushed yet
    report = lt.collect(srv, untagged=True)
    check(report["deleted"]["manifests"] == 0, report["deleted"])
    index = bt.make_index(children)
    bt.push_manifest(srv, repo, "latest", index.manifest, bt.OCI_INDEX)
    for c in children:
        lt.pull(srv, repo, c.digest, c)


RETENTION = """
version: 0.1
storage:
  maintenance:
    retention:
      - repositories: ["ret/**"]
        keeplast: 2
        keeptags: "^stable$"
      - repositories: ["old/**"]
        olderthan: 48h
"""


def test_retention_rules():
    srv = lt.start(config=RETENTION)
    repo, free = bt.unique("ret/app"), bt.unique("free")
    images = {}
    for i, tag in enumerate(["t1", "stable", "t2", "t3", "t4"]):
        images[tag] = bt.make_image(nlayers=1)
        bt.push_image(srv, repo, images[tag], tag=tag)
    bt.push_image(srv, free, bt.make_image(), tag="t1")
    lt.age(srv.root)
    for i, tag in enumerate(["t1", "stable", "t2", "t3", "t4"]):
        lt.age_tag(srv.root, repo, tag, 10 * (6 - i) * 3600)

    report = lt.collect(srv, dryrun=True)
    check(lt.items(report, "tags") == {"t1", "t2"},
          "dry run would expire %s" % lt.items(report, "tags"))
    check(sorted(bt.tags(srv, repo)) == ["stable", "t1", "t2", "t3", "t4"],
          "a dry run removed tags")

    report = lt.collect(srv)
    check(lt.items(report, "tags") == {"t1", "t2"}, report["items"])
    check(sorted(bt.tags(srv, repo)) == ["stable", "t3", "t4"],
          "tags left: %s" % bt.tags(srv, repo))
    for tag in ("t1", "t2"):
        lt.manifest_gone(srv, repo, images[tag].digest)
    for tag in ("stable", "t3", "t4"):
        lt.pull(srv, repo, tag, images[tag])
    check(bt.tags(srv, free) == ["t1"], "an ungoverned repository lost tags")


def test_retention_by_age_on_multi_arch():
    srv = lt.start(config=RETENTION)
    repo = bt.unique("old/multi")
    aged = MultiArch(srv, repo, "2023")
    recent = MultiArch(srv, repo, "2024")
    lt.age(srv.root)
    lt.age_tag(srv.root, repo, "2023", 72 * 3600)
    lt.age_tag(srv.root, repo, "2024", 24 * 3600)

    report = lt.collect(srv)
    check(lt.items(report, "tags") == {"2023"}, report["items"])
    check(len(lt.items(report, "manifests")) == 6, report["items"])
    check(bt.tags(srv, repo) == ["2024"], bt.tags(srv, repo))
    recent.check_intact(srv, repo, "2024")
    aged.check_gone(srv, repo)
