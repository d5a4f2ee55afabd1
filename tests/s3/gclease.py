"""gclease.py - collections on one berth while another takes pushes, on
one bucket; the collector's lease seen from outside.

    gclease.py loop A_PORT B_PORT SECONDS GRACE
        collects on A back to back while pushing images to B, some
        reusing layers of earlier images and some deleted again at
        once (garbage for A); afterwards every image pulls intact, by
        tag and digest, through both, and the garbage is gone
    gclease.py race A_PORT B_PORT
        POST /admin/gc?wait=true to both at the same moment: one runs
        (200), the other answers 409 naming the holder; prints
        "WINNER_PORT HOLDER_PID"
    gclease.py post PORT QUERY [KILL_PID]
        POST /admin/gc?QUERY; prints the status, then the body; with
        KILL_PID, sends that process SIGKILL the moment the answer
        arrives (a collector killed while it holds the lease)

Only 127.0.0.1 is contacted.  Exits non-zero, saying why, on any
answer that is not the expected one.
"""
import hashlib
import json
import os
import random
import signal
import sys
import threading
import time

from chunked import request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class Failure(Exception):
    pass


def expect(got, want, what):
    if got != want:
        raise Failure("%s: status %d, expected %d" % (what, got, want))


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type, data):
    return {"mediaType": media_type, "digest": digest(data),
            "size": len(data)}


class Image:
    def __init__(self, layers):
        self.config = json.dumps({"architecture": "amd64", "os": "linux",
                                  "nonce": os.urandom(8).hex()}).encode()
        self.layers = layers
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, self.config),
            "layers": [descriptor(OCI_LAYER, b) for b in layers],
        }).encode()
        self.digest = digest(self.manifest)


def push_blob(port, repo, data, check_first):
    """Uploads data in one POST and PUT; with check_first, skips the
    upload when a HEAD says the repository has it, as docker does."""
    d = digest(data)
    if check_first:
        st, _, _ = request(port, "HEAD", "/v2/%s/blobs/%s" % (repo, d))
        if st == 200:
            return
    st, h, _ = request(port, "POST", "/v2/%s/blobs/uploads/" % repo)
    expect(st, 202, "POST upload")
    loc = h["location"]
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    st, _, _ = request(port, "PUT", "%s%sdigest=%s" % (loc, sep, d), data,
                       {"Content-Type": "application/octet-stream"})
    expect(st, 201, "PUT blob %s" % d)


def push(port, repo, ref, img, check_first=False):
    for b in [img.config] + img.layers:
        push_blob(port, repo, b, check_first)
    st, _, _ = request(port, "PUT", "/v2/%s/manifests/%s" % (repo, ref),
                       img.manifest, {"Content-Type": OCI_MANIFEST})
    expect(st, 201, "PUT manifest %s:%s" % (repo, ref))


def pull(port, repo, ref, img):
    st, h, body = request(port, "GET", "/v2/%s/manifests/%s" % (repo, ref),
                          headers={"Accept": OCI_MANIFEST})
    expect(st, 200, "GET manifest %s:%s on %d" % (repo, ref, port))
    if digest(body) != img.digest:
        raise Failure("%s:%s on %d: manifest %s, pushed %s" % (
            repo, ref, port, digest(body), img.digest))
    for b in [img.config] + img.layers:
        d = digest(b)
        st, _, data = request(port, "GET", "/v2/%s/blobs/%s" % (repo, d))
        expect(st, 200, "GET blob %s of %s:%s on %d" % (d, repo, ref, port))
        if digest(data) != d:
            raise Failure("blob %s of %s:%s on %d: got %s" % (
                d, repo, ref, port, digest(data)))


def collect(port, query="wait=true"):
    st, _, body = request(port, "POST", "/admin/gc?" + query)
    return st, json.loads(body) if body else None


class Collector(threading.Thread):
    """Collects on port back to back until told to stop."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.runs = 0
        self.deleted = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                st, report = collect(self.port)
                expect(st, 200, "POST /admin/gc on the collector")
                if report.get("status") != "done" or report["failed"]:
                    raise Failure("collection report: %s" % report)
                self.deleted += report["deleted"]["blobs"]
                self.runs += 1
        except Exception as e:  # reported by the caller
            self.error = e


def push_loop(b, seconds):
    """Pushes to b for seconds; returns (kept images, garbage layers)."""
    kept, garbage = {}, []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline or i < 6:
        repo = "loop/app%d" % (i % 3)
        layers = [os.urandom(4096 + i)]
        if kept and i % 2 == 0:  # a layer of an earlier image, kept
            old = random.choice(list(kept.values()))[1]
            layers.append(random.choice(old.layers))
        img = Image(layers)
        push(b, repo, "v%d" % i, img, check_first=i % 4 == 0)
        kept["v%d" % i] = (repo, img)
        if i % 3 == 2:  # pushed, then deleted: garbage for the collector
            junk = Image([os.urandom(5000 + i)])
            push(b, repo, junk.digest, junk)
            st, _, _ = request(b, "DELETE", "/v2/%s/manifests/%s" % (
                repo, junk.digest))
            expect(st, 202, "DELETE manifest")
            garbage.append((repo, junk.layers[0]))
        i += 1
    return kept, garbage


def loop(a, b, seconds, grace):
    gc = Collector(a)
    gc.start()
    try:
        kept, garbage = push_loop(b, seconds)
    finally:
        gc.stop.set()
        gc.join(120)
    if gc.error:
        raise Failure("collector: %s" % gc.error)
    if gc.runs < 2:
        raise Failure("only %d collections ran" % gc.runs)

    time.sleep(grace + 1)  # the garbage leaves the grace period
    st, report = collect(a)
    expect(st, 200, "the last collection")
    for tag, (repo, img) in kept.items():
        for port in (a, b):
            pull(port, repo, tag, img)
            pull(port, repo, img.digest, img)
    for repo, layer in garbage:
        st, _, _ = request(a, "HEAD", "/v2/%s/blobs/%s" % (
            repo, digest(layer)))
        expect(st, 404, "HEAD of a collected layer")
    print("%d images pushed and pulled intact, %d collections during the "
          "pushes deleted %d blobs, %d garbage layers gone" % (
              len(kept), gc.runs, gc.deleted, len(garbage)))


def race(a, b):
    barrier = threading.Barrier(2)
    got = {}

    def one(port):
        barrier.wait()
        got[port] = collect(port)

    ts = [threading.Thread(target=one, args=(p,)) for p in (a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    statuses = sorted(s for s, _ in got.values())
    if statuses != [200, 409]:
        raise Failure("statuses %s, expected one 200 and one 409: %s" % (
            statuses, got))
    winner = [p for p, (s, _) in got.items() if s == 200][0]
    err = [r for s, r in got.values() if s == 409][0]
    e = err["errors"][0]
    if e["code"] != "DENIED" or "holder" not in e.get("detail", {}):
        raise Failure("409 body does not name the holder: %s" % err)
    print(winner, e["detail"]["holder"]["pid"])


def main(argv):
    try:
        if argv[1] == "loop":
            loop(int(argv[2]), int(argv[3]), float(argv[4]),
                 float(argv[5]))
        elif argv[1] == "race":
            race(int(argv[2]), int(argv[3]))
        elif argv[1] == "post":
            st, body = collect(int(argv[2]), argv[3])
            if len(argv) > 4:
                os.kill(int(argv[4]), signal.SIGKILL)
            print(st)
            print(json.dumps(body))
        else:
            sys.exit(__doc__)
    except Failure as e:
        sys.exit("gclease: %s" % e)


if __name__ == "__main__":
    main(sys.argv)
