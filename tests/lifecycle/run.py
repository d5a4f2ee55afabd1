#!/usr/bin/env python3
"""run.py - runs berth's storage lifecycle tests against the real binary.

    tests/lifecycle/run.py [SUBSTRING...]

Collections online and offline, the untagged policy, retention, usage,
quotas, scrub, pushes during collections, a kill -9 in the middle of a
collection, and agreement with Debian's docker-registry garbage-collect.
Every test_* function of every test_*.py beside this file, or those
whose name contains a substring, prints "PASS lifecycle:<name>" or
"FAIL lifecycle:<name>".  The runner is the black-box suite's.  $BERTH
names the binary (default ./berth), $DOCKER_REGISTRY the reference
registry (default /usr/bin/docker-registry).  Exits 1 if any failed.
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
    # Some tests build stores of thousands of blobs and run two
    # collectors over them.
    runner.TEST_TIMEOUT = 360 if bt.SAN else 180
    sys.exit(runner.main(sys.argv[1:], here=HERE, prefix="lifecycle"))
