"""`berth garbage-collect`: registry:2's command line, its output, its
errors, and configuration mistakes in the lifecycle settings."""

import berthtest as bt
import lifecycletest as lt
from berthtest import check


def test_cli_dry_run_output():
    root = lt.make_store(600, plain=True, seed=21)
    config = lt.write_config(root)
    before = lt.files(root)
    status, out, err = lt.berth_gc(config, "--dry-run", "--grace-period",
                                   "0s")
    check(status == 0, err)
    check(lt.files(root) == before, "a dry run changed the store")
    eligible = lt.eligible_blobs(out)
    check(eligible, "no \"blob eligible for deletion\" lines")
    check(any(": marking manifest sha256:" in l for l in out),
          "no marking lines")
    summary = [l for l in out if "blobs marked," in l]
    check(len(summary) == 1 and summary[0].endswith(
            "%d blobs and 0 manifests eligible for deletion" %
            len(eligible)), "summary %r" % summary)

    status, quiet, err = lt.berth_gc(config, "-d", "-q", "--grace-period",
                                     "0s")
    check(not any("marking" in l for l in quiet), "-q still marks")
    check(lt.eligible_blobs(quiet) == eligible, "-q changed the result")

    status, out, err = lt.berth_gc(config, "-m", "--grace-period", "0s")
    check(status == 0, err)
    check(any(l.startswith("freed ") for l in out), out[-3:])
    check(not (lt.blobs(root) & eligible), "eligible blobs remain")


def test_cli_keeps_recent_blobs_by_default():
    root = lt.make_store(300, plain=True, seed=22)
    lt.age(root, 0)
    status, out, err = lt.berth_gc(lt.write_config(root), "-d")
    check(status == 0, err)
    check(not lt.eligible_blobs(out), "blobs inside the default grace "
          "period of 1h were eligible")


def test_cli_errors():
    status, out, err = lt.berth_gc("--no-such-flag")
    check(status == 2 and "usage: berth garbage-collect" in err, err)
    status, out, err = lt.berth_gc("/nonexistent/config.yml")
    check(status == 1 and "configuration error" in err, err)
    root = lt.make_store(100, plain=True)
    status, out, err = lt.berth_gc(lt.write_config(root), "--grace-period",
                                   "soon")
    check(status == 1 and "--grace-period" in err, err)


def test_config_mistakes_stop_the_server():
    cases = [
        ("retention:\n      - repositories: [a]\n        keeplast: many\n",
         "storage.maintenance.retention[0].keeplast"),
        ("retention:\n      - repositories: [a]\n",
         "give keeplast or olderthan"),
        ("retention:\n      - repositories: [a]\n        keeplast: 1\n"
         "        keeptags: \"(\"\n",
         "storage.maintenance.retention[0].keeptags"),
        ("quotas:\n      - repositories: [a]\n        limit: lots\n",
         "storage.maintenance.quotas[0].limit"),
        ("gc:\n      window: \"25:00-02:00\"\n",
         "storage.maintenance.gc.window"),
    ]
    for text, want in cases:
        config = "version: 0.1\nstorage:\n  maintenance:\n    " + text
        status, out = bt.run_berth(["serve", bt.write_config(
                config, 1, "/nonexistent")])
        check(status != 0 and want in out,
              "config %r: status %d, output %r" % (text, status, out))
