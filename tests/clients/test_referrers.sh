#!/usr/bin/env bash
# test_referrers.sh - artifacts with a subject and the referrers API, as
# oras and cosign use them; the checks themselves are in referrers.py.
. "$(dirname "$0")/lib.sh"

CHECKS=(referrers-push-image referrers-push-artifact referrers-list
	referrers-filter-artifacttype referrers-artifacttype-from-config
	referrers-index-subject referrers-unknown-subject
	referrers-delete-artifact referrers-bad-digest)

if ! start_server "$CLIENTS_SERVER" "$WORK/store"; then
	fail_unrun "$CLIENTS_SERVER did not start" "${CHECKS[@]}"
	finish
fi

python3 "$CLIENTS_DIR/referrers.py" "http://$(reg)" || CHECKS_FAILED=1
finish
