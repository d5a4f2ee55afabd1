#!/usr/bin/env bash
# run.sh - the real-client suite: skopeo, podman, referrers the way oras
# uses them, and on-disk compatibility with Debian's docker-registry, all
# against a berth started on a free loopback port (BERTH, default
# ./berth).  Prints a "PASS clients:<name>" or "FAIL clients:<name>" line
# per check and exits non-zero when any check failed.
#
# CLIENTS_SERVER=docker-registry runs the same tests against Debian's
# docker-registry instead, to check the tests themselves; the referrers
# tests fail there, as registry 2.8 has no referrers API.
set -u

cd "$(dirname "$0")/../.." || exit 1

CLIENTS_LOGS=${CLIENTS_LOGS:-$PWD/tests/artifacts/clients}
export CLIENTS_LOGS
rm -rf "$CLIENTS_LOGS"
mkdir -p "$CLIENTS_LOGS"

# A script that dies without naming a failed check still counts as one.
status=0
out=$(mktemp)
for t in test_skopeo.sh test_podman.sh test_referrers.sh test_compat.sh; do
	tests/clients/$t </dev/null 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		status=1
		grep -q '^FAIL ' "$out" ||
			echo "FAIL clients:${t%.sh} (exited with status $rc)"
	fi
done
rm -f "$out"
exit $status
