#!/usr/bin/env bash
# run.sh - the access suite: logins, permissions, CORS, TLS, nginx in
# front and real clients with credentials (tests/access/run.py), then CORS
# in a real browser (tests/browser/cors.mjs: Debian's chromium driven by
# playwright-core).  Every check prints "PASS access:<name>" or "FAIL
# access:<name>"; exits non-zero when any failed.
#
# BERTH names the binary (default ./berth).  The browser part needs
# node_modules (npm ci) and /usr/bin/chromium (scripts/deps.sh test);
# without them it fails rather than being skipped.
set -u

cd "$(dirname "$0")/../.." || exit 1
export BERTH=${BERTH:-./berth}
export PYTHONUNBUFFERED=1

status=0

python3 tests/access/run.py || status=1

out=$(mktemp)
node tests/browser/cors.mjs 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	status=1
	grep -q '^FAIL ' "$out" ||
		echo "FAIL access:cors_browser (exited with status $rc)"
fi
rm -f "$out"
exit $status
