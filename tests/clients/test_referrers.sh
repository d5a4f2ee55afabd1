#!/usr/bin/env bash
# test_referrers.sh - artifacts with a subject and the referrers API, as
# oras and cosign use them; the checks themselves are in referrers.py.
. "$(dirname "$0")/lib.sh"

mapfile -t CHECKS < <(python3 "$CLIENTS_DIR/referrers.py" --list)

if ! start_server "$CLIENTS_SERVER" "$WORK/store"; then
	fail_unrun "$CLIENTS_SERVER did not start" "${CHECKS[@]}"
	finish
fi

python3 "$CLIENTS_DIR/referrers.py" "http://$(reg)" || CHECKS_FAILED=1
finish
