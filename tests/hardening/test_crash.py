"""Crash consistency: berth is killed with SIGKILL at random moments while
clients push blobs and images, move tags and delete, then restarted on
the same store and checked.

Every write that got a 2xx must be there and intact (blob bytes hash to
their digest, manifests by digest return their bytes, tags point to the
last acknowledged digest), nothing half-written may be visible (a blob
that does not match its digest, a link to a missing blob), and berth
must start cleanly each time.

Tags are moved by several clients at once, so which write wins is only
known where the writes did not overlap: a tag must hold the value of a
write that nothing acknowledged later superseded, or of a write still in
flight when berth died.  Where that leaves one candidate, the check is
exact.

HARDENING_CRASH_ROUNDS (default 20) and HARDENING_SEED set the number of
rounds and the seed; the seed is printed so a failing run can be
repeated with the same choices (the moment of each kill then differs by
scheduling only).
"""

import hashlib
import os
import random
import threading
import time

import berthtest as bt
import hardentest as ht
from berthtest import check

ROUNDS = int(os.environ.get("HARDENING_CRASH_ROUNDS", "20"))
WORKERS = 4
SHARED = "crash/shared"
SHARED_TAGS = ["t0", "t1", "t2"]
KILL_AFTER = (0.05, 1.2)      # seconds of traffic before SIGKILL

PRESENT, ABSENT, UNKNOWN = "present", "absent", "unknown"
ACKED, REJECTED, INFLIGHT = "acked", "rejected", "inflight"


class ServerGone(Exception):
    """The connection failed: berth was killed under the request."""


class Ledger:
    """What clients were told, and so what the store must hold."""

    def __init__(self):
        self.lock = threading.Lock()
        self.data = {}          # digest -> bytes (blobs and manifests)
        self.blobs = {}         # (repo, digest) -> state
        self.manifests = {}     # (repo, digest) -> state
        self.standalone = {}    # repo -> [digest] of deletable blobs
        self.own = {}           # repo -> [digest] of deletable manifests
        self.shared = []        # images pushed by digest to SHARED
        self.baseline = {t: None for t in SHARED_TAGS}
        self.writes = {t: [] for t in SHARED_TAGS}
        self.acks = 0           # 2xx answers to writes, in all rounds
        self.cut = 0            # requests cut short by a kill

    def set(self, table, key, state):
        with self.lock:
            table[key] = state

    def acked(self, table=None, key=None, state=None):
        with self.lock:
            self.acks += 1
            if table is not None:
                table[key] = state


class TagWrite:
    def __init__(self, digest):
        self.digest = digest
        self.start = time.monotonic()
        self.end = float("inf")
        self.status = INFLIGHT


def call(srv, method, target, **kw):
    try:
        return srv.request(method, target, timeout=15, record=False, **kw)
    except OSError as e:
        raise ServerGone(str(e))


def push_blob(srv, led, repo, data, rng):
    """Uploads data one of three ways; records the outcome."""
    d = bt.digest_of(data)
    led.data[d] = data
    led.set(led.blobs, (repo, d), UNKNOWN)
    how = rng.choice(["monolithic", "post-put", "chunked"])
    hdrs = {"Content-Type": "application/octet-stream"}
    if how == "monolithic":
        r = call(srv, "POST", bt.with_query(bt.uploads_path(repo),
                                            digest=d), body=data,
                 headers=hdrs)
    else:
        r = call(srv, "POST", bt.uploads_path(repo))
        check(r.status == 202, "start upload: %s" % r)
        loc = srv.resolve(r.header("Location"))
        body = data
        if how == "chunked" and len(data) > 1:
            cut = rng.randrange(1, len(data))
            r = call(srv, "PATCH", loc, body=data[:cut], headers=dict(
                    hdrs, **{"Content-Range": "0-%d" % (cut - 1)}))
            check(r.status == 202, "PATCH chunk: %s" % r)
            loc = srv.resolve(r.header("Location"))
            body = data[cut:]
        r = call(srv, "PUT", bt.with_query(loc, digest=d), body=body,
                 headers=hdrs)
    check(r.status == 201, "blob push (%s) answered %s" % (how, r))
    led.acked(led.blobs, (repo, d), PRESENT)
    return d


def push_manifest(srv, led, repo, ref, image):
    led.data[image.digest] = image.manifest
    r = call(srv, "PUT", bt.manifest_path(repo, ref), body=image.manifest,
             headers={"Content-Type": image.media_type})
    return r


def push_image(srv, led, repo, rng):
    img = bt.make_image(1)
    for b in img.blobs:
        push_blob(srv, led, repo, b, rng)
    led.set(led.manifests, (repo, img.digest), UNKNOWN)
    r = push_manifest(srv, led, repo, img.digest, img)
    check(r.status == 201, "manifest push answered %s" % r)
    led.acked(led.manifests, (repo, img.digest), PRESENT)
    return img


def op_blob(srv, led, repo, rng):
    size = rng.choice([rng.randrange(0, 1024), rng.randrange(1024, 65536),
                       rng.randrange(65536, 1 << 20)])
    d = push_blob(srv, led, repo, os.urandom(size), rng)
    with led.lock:
        led.standalone.setdefault(repo, []).append(d)


def op_image(srv, led, repo, rng):
    img = push_image(srv, led, repo, rng)
    with led.lock:
        led.own.setdefault(repo, []).append(img.digest)


def op_shared_image(srv, led, repo, rng):
    img = push_image(srv, led, SHARED, rng)
    with led.lock:
        led.shared.append(img)


def op_tag(srv, led, repo, rng):
    with led.lock:
        if not led.shared:
            return
        img = rng.choice(led.shared)
    tag = rng.choice(SHARED_TAGS)
    w = TagWrite(img.digest)
    with led.lock:
        led.writes[tag].append(w)
    try:
        r = push_manifest(srv, led, SHARED, tag, img)
    finally:
        w.end = time.monotonic()
    w.status = ACKED if r.status == 201 else REJECTED
    check(r.status == 201, "tag %s answered %s" % (tag, r))
    led.acked()


def op_delete(srv, led, repo, rng):
    """Deletes one of the repository's untagged manifests or blobs."""
    with led.lock:
        kind = rng.choice(["manifest", "blob"])
        pool = (led.own if kind == "manifest" else led.standalone).get(
                repo, [])
        table = led.manifests if kind == "manifest" else led.blobs
        live = [d for d in pool if table.get((repo, d)) == PRESENT]
        if not live:
            return
        d = rng.choice(live)
        pool.remove(d)
        table[(repo, d)] = UNKNOWN
    path = (bt.manifest_path if kind == "manifest" else bt.blob_path)(
            repo, d)
    r = call(srv, "DELETE", path)
    check(r.status == 202, "DELETE %s answered %s" % (path, r))
    led.acked(table, (repo, d), ABSENT)


OPS = [(op_blob, 3), (op_image, 2), (op_shared_image, 2), (op_tag, 4),
       (op_delete, 2)]


def worker(srv, led, repo, rng, stop, errors):
    ops = [op for op, weight in OPS for _ in range(weight)]
    while not stop.is_set():
        try:
            rng.choice(ops)(srv, led, repo, rng)
        except ServerGone:
            with led.lock:
                led.cut += 1
            return
        except AssertionError as e:
            # An error answer while berth was being killed is not a
            # verdict on berth; one while it ran is.
            if srv.alive():
                errors.append(str(e))
            return


def candidates(led, tag):
    """Digests the tag may hold now, and whether that is exactly one."""
    writes = led.writes[tag]
    acked = [w for w in writes if w.status == ACKED]
    latest_start = max([w.start for w in acked], default=float("-inf"))
    out = set()
    if not acked:
        out.add(led.baseline[tag])
    for w in writes:
        if w.status == REJECTED:
            continue
        # A write that ended before an acknowledged one began is
        # superseded; an in-flight write never ended.
        if w.end >= latest_start or w.status == INFLIGHT:
            out.add(w.digest)
    return out


def verify_blobs(srv, led, counts):
    for (repo, d), state in sorted(led.blobs.items()):
        r = call(srv, "GET", bt.blob_path(repo, d))
        if state == PRESENT:
            check(r.status == 200, "acknowledged blob %s@%s: %s" % (
                    repo, d[:19], r))
            counts["blobs"] += 1
        elif state == ABSENT:
            check(r.status == 404, "deleted blob %s@%s: %s" % (
                    repo, d[:19], r))
            counts["deletes"] += 1
        else:
            check(r.status in (200, 404), "blob %s@%s: %s" % (
                    repo, d[:19], r))
        if r.status == 200:
            check(hashlib.sha256(r.body).hexdigest() == bt.hex_of(d),
                  "blob %s@%s: served bytes do not hash to the digest" % (
                          repo, d[:19]))
        led.blobs[(repo, d)] = PRESENT if r.status == 200 else ABSENT


def verify_manifests(srv, led, counts):
    for (repo, d), state in sorted(led.manifests.items()):
        r = call(srv, "GET", bt.manifest_path(repo, d),
                 headers={"Accept": bt.ACCEPT_ALL})
        if state == PRESENT:
            check(r.status == 200, "acknowledged manifest %s@%s: %s" % (
                    repo, d[:19], r))
            counts["manifests"] += 1
        elif state == ABSENT:
            check(r.status == 404, "deleted manifest %s@%s: %s" % (
                    repo, d[:19], r))
            counts["deletes"] += 1
        else:
            check(r.status in (200, 404), "manifest %s@%s: %s" % (
                    repo, d[:19], r))
        if r.status == 200:
            check(r.body == led.data[d], "manifest %s@%s: served bytes "
                  "differ from those pushed" % (repo, d[:19]))
        led.manifests[(repo, d)] = PRESENT if r.status == 200 else ABSENT


def verify_tags(srv, led, counts):
    listed = set()
    r = call(srv, "GET", "/v2/%s/tags/list" % SHARED)
    if r.status == 200:
        listed = set(r.json().get("tags") or [])
    for tag in SHARED_TAGS:
        allowed = candidates(led, tag)
        r = call(srv, "GET", bt.manifest_path(SHARED, tag),
                 headers={"Accept": bt.ACCEPT_ALL})
        check(r.status in (200, 404), "tag %s: %s" % (tag, r))
        got = r.header("Docker-Content-Digest") if r.status == 200 else None
        check(got in allowed, "tag %s holds %s; the writes allow only %s"
              % (tag, got, sorted(map(str, allowed))))
        if got is not None:
            check(r.body == led.data[got], "tag %s: bytes differ from "
                  "the manifest pushed as %s" % (tag, got))
        check((got is not None) == (tag in listed), "tag %s is %s the "
              "tags list %s" % (tag, "missing from" if got else "in",
                                sorted(listed)))
        counts["tags_exact" if len(allowed) == 1 else "tags_among"] += 1
        led.baseline[tag] = got
        led.writes[tag] = []


def start_clean(root):
    srv = bt.start_berth(root=root)
    log = srv.log()
    check("level=error" not in log, "berth logged errors while starting "
          "on a store left by SIGKILL:\n%s" % srv.log_tail())
    return srv


def test_crash_consistency():
    seed = int(os.environ.get("HARDENING_SEED") or
               time.time_ns() % 1000000007)
    print("    hardening:crash_consistency seed=%d rounds=%d "
          "(HARDENING_SEED=%d repeats the choices)" % (seed, ROUNDS, seed))
    rng = random.Random(seed)
    root = os.path.join(bt.scratch("crash"), "root")
    os.makedirs(root)
    led = Ledger()
    counts = {"blobs": 0, "manifests": 0, "deletes": 0, "tags_exact": 0,
              "tags_among": 0}
    disk = {"blobs": 0, "links": 0, "temp_files": 0}
    srv = start_clean(root)
    survived = 0
    for rnd in range(ROUNDS):
        stop, errors = threading.Event(), []
        threads = [threading.Thread(target=worker, args=(
                srv, led, "crash/w%d" % i,
                random.Random(seed * 1000 + rnd * 10 + i), stop, errors))
                for i in range(WORKERS)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(*KILL_AFTER))
        srv.kill_quietly()
        stop.set()
        for t in threads:
            t.join(30)
        check(not errors, "round %d: berth refused a write while "
              "running:\n%s" % (rnd, "\n".join(errors)))

        srv = start_clean(root)
        verify_blobs(srv, led, counts)
        verify_manifests(srv, led, counts)
        verify_tags(srv, led, counts)
        scan = ht.scan_store(root)
        disk["blobs"] += scan["blobs"]
        disk["links"] += scan["links"]
        disk["temp_files"] = scan["temp_files"]
        survived += 1
    srv.stop()
    ht.figures("crash_consistency", seed=seed, rounds_survived=survived,
               acked_writes=led.acks, requests_cut_by_kill=led.cut,
               acked_blobs_checked=counts["blobs"],
               acked_manifests_checked=counts["manifests"],
               acked_deletes_checked=counts["deletes"],
               tags_checked_exactly=counts["tags_exact"],
               tags_checked_among_racing_writes=counts["tags_among"],
               blob_files_hashed=disk["blobs"],
               links_checked=disk["links"],
               temp_files_left=disk["temp_files"])
