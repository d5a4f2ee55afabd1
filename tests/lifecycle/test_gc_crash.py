"""kill -9 in the middle of a collection, then a restart: nothing that
was referenced is lost, nothing points at what was deleted, and a
second run finishes the work."""

import signal
import subprocess
import time

import berthtest as bt
import lifecycletest as lt
from berthtest import check

BLOBS = 6000


def referenced(config, untagged):
    """(kept, garbage): what a dry run keeps and deletes."""
    flags = ["-d", "-q", "--grace-period", "0s"] + (["-m"] if untagged
                                                     else [])
    status, out, err = lt.berth_gc(config, *flags)
    check(status == 0, "dry run failed: %s" % err)
    garbage = lt.eligible_blobs(out)
    return garbage


def dangling(root):
    """Layer links whose blob data is not there."""
    return {(repo, d) for repo, d in lt.layer_links(root)
            if not lt.has_blob(root, d)}


def kill_after(cmd, env, marker, count, log=None):
    """Starts cmd, kills it with SIGKILL once marker appeared count times
    in its stderr; returns how many times it appeared."""
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = 0
    try:
        for line in p.stderr:
            if marker in line.decode("utf-8", "replace"):
                seen += 1
                if seen >= count:
                    p.send_signal(signal.SIGKILL)
                    break
    finally:
        p.kill()
        p.wait()
    return seen


def check_after_crash(root, before_blobs, garbage, old_dangling,
                      sweeping=True):
    now = lt.blobs(root)
    lost = (before_blobs - garbage) - now
    check(not lost, "%d referenced blobs lost, e.g. %s" % (
            len(lost), sorted(lost)[:3]))
    deleted = before_blobs - now
    if sweeping:
        check(deleted, "killed before it deleted any blob")
        check(deleted < garbage, "the collection finished before the kill")
    new_dangling = dangling(root) - old_dangling
    check(not new_dangling, "links to deleted blobs were left: %s" %
          sorted(new_dangling)[:3])


def crash_and_finish(untagged, marker, count):
    root = lt.make_store(BLOBS, seed=3)
    config = lt.write_config(root)
    garbage = referenced(config, untagged)
    before = lt.blobs(root)
    old_dangling = dangling(root)

    env = bt.hermetic_env({"REGISTRY_LOG_LEVEL": "debug"})
    cmd = [bt.BERTH, "garbage-collect", "-q", "--grace-period", "0s"] + \
          (["-m"] if untagged else []) + [config]
    seen = kill_after(cmd, env, marker, count)
    check(seen >= count, "the collector ended before it was killed")
    check_after_crash(root, before, garbage, old_dangling,
                      sweeping="blob" in marker)

    # A server restarted on the store serves, and its collection
    # finishes the work.
    srv = lt.start(root=root)
    report = lt.collect(srv, untagged=untagged)
    check(report["deleted"]["blobs"] > 0, report["deleted"])
    check(lt.blobs(root) == before - garbage,
          "after the second run the store differs from the plan")
    check(not dangling(root), "dangling layer links stayed")
    again = lt.collect(srv, dryrun=True, untagged=untagged)
    check(again["items"] == [], "a third run still finds %s" %
          again["items"][:3])


def test_kill_while_sweeping_blobs():
    # Early in the sweep: the collector logs faster than this reads its
    # pipe, so a late mark can let it finish before the kill lands.
    crash_and_finish(False, "collected kind=blob ", 50)


def test_kill_while_deleting_untagged_manifests():
    crash_and_finish(True, "collected kind=manifest ", 40)


def test_kill_the_server_during_an_online_collection():
    root = lt.make_store(BLOBS, seed=4)
    config = lt.write_config(root)
    garbage = referenced(config, False)
    before = lt.blobs(root)
    old_dangling = dangling(root)

    srv = lt.start(root=root, log="debug")
    lt.admin(srv, "POST", "gc")
    deadline = time.monotonic() + 60
    while srv.log().count("collected kind=blob ") < 100:
        check(time.monotonic() < deadline, "the collection never started")
        time.sleep(0.005)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.returncode = -9
    check_after_crash(root, before, garbage, old_dangling)

    srv = lt.start(root=root)
    lt.collect(srv)
    check(lt.blobs(root) == before - garbage, "the second run did not "
          "finish the work")
    check(not dangling(root), "dangling layer links stayed")
