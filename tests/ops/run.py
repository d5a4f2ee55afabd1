#!/usr/bin/env python3
"""run.py - runs berth's operations tests (metrics, health, logs,
notifications, stopping in the middle of a push and reloading in the
middle of a pull) against the real binary.

    tests/ops/run.py [SUBSTRING...]

Every test_* function of every test_*.py beside this file, or those whose
name contains a substring, prints "PASS ops:<name>" or "FAIL ops:<name>".
The runner is the black-box suite's (tests/blackbox/run.py) with this
directory and prefix.  The readiness tests mount a small tmpfs, so the
suite runs as root.  Exits 1 if any test failed.
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
    runner.TEST_TIMEOUT = 180 if bt.SAN else 90
    sys.exit(runner.main(sys.argv[1:], here=HERE, prefix="ops"))
