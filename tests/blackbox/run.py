#!/usr/bin/env python3
"""run.py - runs berth's black-box HTTP tests against the real binary.

    tests/blackbox/run.py [SUBSTRING...]

Runs every test_* function of every test_*.py beside this file, or only
those whose name contains one of the substrings.  Each test prints one
line, "PASS blackbox:<name>" or "FAIL blackbox:<name>" followed by
indented details.  Exits 1 if any test failed.  $BERTH names the binary
(default ./berth); BERTH_KEEP=1 keeps the scratch directory.

With BERTH_S3_* set (see berthtest.py), every berth serves a prefix of
that S3 bucket, and the names read "s3:blackbox:<name>"; how the tests
that look at the store do so on a bucket is in tests/s3/README.

Other suites reuse the runner for their own directory and prefix:

    sys.path.insert(0, "tests/blackbox"); import run
    sys.exit(run.main(sys.argv[1:], here=MY_DIR, prefix="access"))
"""

import glob
import importlib
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import berthtest as bt  # noqa: E402

TEST_TIMEOUT = 120 if bt.SAN else 60
PREFIX = "blackbox"


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout("test still running after %ds" % TEST_TIMEOUT)


def discover(here):
    """(name, function) for every test, in file then definition order."""
    if here not in sys.path:
        sys.path.insert(0, here)
    found = []
    for path in sorted(glob.glob(os.path.join(here, "test_*.py"))):
        mod = importlib.import_module(
                os.path.splitext(os.path.basename(path))[0])
        for attr, fn in vars(mod).items():
            if attr.startswith("test_") and callable(fn):
                found.append((attr[len("test_"):], fn))
    names = [n for n, _ in found]
    dups = {n for n in names if names.count(n) > 1}
    if dups:
        sys.exit("duplicate test names: %s" % ", ".join(sorted(dups)))
    return found


def shared_mark():
    srv = bt.shared_if_started()
    return (srv, len(srv.log())) if srv is not None else (None, 0)


def after_test(started, mark):
    """Problems the test left behind: leftover servers, crashes, 4xx."""
    problems = list(bt.VIOLATIONS)
    for srv in bt.SERVERS[started:]:
        if srv is bt.shared_if_started():
            continue
        if srv.returncode is None and srv.proc.poll() is None:
            try:
                srv.stop()
            except AssertionError as e:
                problems.append(str(e))
        elif srv.sanitizer_report():
            problems.append("sanitizer report:\n" +
                            srv.log_tail(80))
    srv, offset = mark
    cur = bt.shared_if_started()
    if cur is not None and cur is not srv:
        offset = 0
    if cur is not None:
        healthy = answers(cur)
        if not healthy:
            settle(cur)
        if cur.sanitizer_report(offset):
            problems.append("sanitizer report from the shared "
                            "server:\n" + cur.log_tail(80))
        if not healthy:
            problems.append("the shared server stopped answering "
                            "(exit status %s):\n%s" % (
                                    cur.proc.poll(), cur.log_tail()))
            bt.forget_shared()
    return problems


def answers(srv):
    """Whether srv is running and answers GET /v2/ with 200."""
    if not srv.alive():
        return False
    try:
        return srv.request("GET", "/v2/", timeout=10,
                           record=False).status == 200
    except OSError:
        return False


def settle(srv):
    """Lets a dying server finish its report, then makes sure it is gone."""
    try:
        srv.proc.wait(10)
    except Exception:
        pass
    srv.kill_quietly()


def run_one(name, fn):
    """Runs one test; prints its line; returns True when it passed."""
    bt.VIOLATIONS.clear()
    started = len(bt.SERVERS)
    mark = shared_mark()
    details = []
    t0 = time.monotonic()
    signal.alarm(TEST_TIMEOUT)
    try:
        fn()
    except AssertionError as e:
        details.append(str(e))
    except Exception:
        details.append(traceback.format_exc())
    finally:
        signal.alarm(0)
    details += after_test(started, mark)
    if details:
        print("FAIL %s:%s" % (PREFIX, name))
        for d in details:
            for line in d.rstrip().splitlines():
                print("    " + line)
    else:
        print("PASS %s:%s" % (PREFIX, name))
    if os.environ.get("BERTH_TIMES"):
        print("    (%.2fs)" % (time.monotonic() - t0))
    sys.stdout.flush()
    return not details


def stop_shared():
    """Stops the shared server; a bad exit fails a test of its own."""
    srv = bt.shared_if_started()
    if srv is None:
        return True
    try:
        srv.stop()
        print("PASS %s:shared_server_clean_exit" % PREFIX)
        return True
    except AssertionError as e:
        print("FAIL %s:shared_server_clean_exit" % PREFIX)
        for line in str(e).splitlines():
            print("    " + line)
        return False


def main(argv, here=HERE, prefix="blackbox"):
    """Runs the tests in here whose names contain an argv substring."""
    global PREFIX
    PREFIX = prefix if bt.S3 is None else "s3:" + prefix
    if not os.access(bt.BERTH, os.X_OK):
        sys.exit("run.py: no executable %s (build it, or set BERTH)" %
                 bt.BERTH)
    signal.signal(signal.SIGALRM, on_alarm)
    tests = discover(here)
    if argv:
        tests = [(n, f) for n, f in tests if any(a in n for a in argv)]
    failed = 0
    for name, fn in tests:
        if not run_one(name, fn):
            failed += 1
    if not stop_shared():
        failed += 1
    for srv in bt.SERVERS:
        srv.kill_quietly()
    if failed and not os.environ.get("BERTH_KEEP"):
        print("%s: %d failed; logs kept in %s" % (
                PREFIX, failed, bt.base_dir()))
    elif os.environ.get("BERTH_KEEP"):
        print("%s: scratch kept in %s" % (PREFIX, bt.base_dir()))
    else:
        bt.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
