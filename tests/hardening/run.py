#!/usr/bin/env python3
"""run.py - runs berth's hardening tests against the real binary: crashes
in the middle of writes, a full disk, and hostile clients.

    tests/hardening/run.py [SUBSTRING...]

Every test_* function of every test_*.py beside this file, or those whose
name contains a substring, prints "PASS hardening:<name>" or "FAIL
hardening:<name>"; tests that measure something print their figures on
indented lines after that.  The runner is the black-box suite's
(tests/blackbox/run.py) with this directory and prefix, and a longer
limit per test, since the crash test restarts berth many times.
$BERTH names the binary (default ./berth).  Exits 1 if any test failed.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BLACKBOX = os.path.join(os.path.dirname(HERE), "blackbox")
sys.path.insert(0, BLACKBOX)

import berthtest as bt  # noqa: E402

# Loaded by path: this file is also called run.py.
_spec = importlib.util.spec_from_file_location(
        "blackbox_run", os.path.join(BLACKBOX, "run.py"))
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

if __name__ == "__main__":
    runner.TEST_TIMEOUT = 900 if bt.SAN else 450
    sys.exit(runner.main(sys.argv[1:], here=HERE, prefix="hardening"))
