"""Pushes while collections run back to back: every image a push
completed pulls intact afterwards, including images that reuse layers
which were garbage (unreferenced and old) when the collection began."""

import threading
import time

import berthtest as bt
import lifecycletest as lt
from berthtest import check

ROUNDS = 40


class Collector(threading.Thread):
    """Runs collections with the untagged policy until told to stop."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.stop = threading.Event()
        self.runs = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                lt.collect(self.srv, untagged=self.runs % 2 == 1)
                self.runs += 1
        except Exception as e:  # reported by the test
            self.error = e


def garbage_layers(srv, repo, n):
    """Layers of deleted images, dated a day back: collectable now."""
    layers = []
    for _ in range(n):
        img = bt.make_image(nlayers=2)
        bt.push_image(srv, repo, img, tag="tmp")
        lt.delete_manifest(srv, repo, img.digest)
        layers += img.layers
    lt.age(srv.root)
    return layers


def push_reusing(srv, repo, tag, old_layer, check_first):
    """Pushes an image whose first layer is old_layer.  With check_first
    it asks whether the layer exists and skips its upload, as docker
    does; otherwise it uploads it again."""
    img = bt.make_image(nlayers=2)
    base = bt.Image(img.manifest, img.media_type, img.blobs)
    import json
    m = json.loads(img.manifest)
    m["layers"][0] = bt.descriptor(bt.OCI_LAYER, old_layer)
    img = bt.Image(bt.dump(m), img.media_type,
                   [base.config, old_layer, base.layers[1]])
    for b in img.blobs:
        if check_first and srv.head(bt.blob_path(
                repo, bt.digest_of(b))).status == 200:
            continue
        bt.push_blob(srv, repo, b)
    bt.push_manifest(srv, repo, tag, img.manifest)
    return img


def test_pushes_survive_collections_in_a_loop():
    srv = lt.start(grace="30s")
    repo = bt.unique("race/app")
    old = garbage_layers(srv, repo, ROUNDS // 2)
    gc = Collector(srv)
    gc.start()
    pushed = {}
    try:
        for i in range(ROUNDS):
            tag = "v%d" % i
            pushed[tag] = push_reusing(srv, repo, tag, old[i % len(old)],
                                       check_first=i % 2 == 0)
            if i % 5 == 4:  # some churn: retag an older image away
                bt.push_manifest(srv, repo, "v%d" % (i - 4),
                                 pushed[tag].manifest)
                pushed["v%d" % (i - 4)] = pushed[tag]
    finally:
        time.sleep(0.2)
        gc.stop.set()
        gc.join(60)
    check(gc.error is None, "a collection failed: %s" % gc.error)
    check(gc.runs >= 5, "only %d collections ran" % gc.runs)

    lt.collect(srv, untagged=True)
    for tag, img in pushed.items():
        lt.pull(srv, repo, tag, img)
