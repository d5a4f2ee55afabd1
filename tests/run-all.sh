#!/usr/bin/env bash
# run-all.sh - runs every test suite of berth and sums up the result.
#
# Order: the unit tests (build/tests/test_*), the black-box suite against
# ./berth, the real-client suite (tests/clients), then the unit tests and
# the black-box suite again against the ASan/UBSan build in build-san/.
# It expects the binaries to be built already (`make test` does that).
#
# Every suite prints one line per test starting "PASS " or "FAIL ".  The
# sanitizer runs get "san:" put in front of the test name.  A suite that
# exits non-zero, times out or runs no test at all without printing a
# FAIL line of its own counts as one failure named after the suite.
# Everything is also written to tests/artifacts/test.log.  The last line
# is "N passed, N failed"; the exit status is 1 when anything failed.
set -u

cd "$(dirname "$0")/.." || exit 1

ARTIFACTS=tests/artifacts
LOG=$ARTIFACTS/test.log

# Per-suite limits, generous for a 2-core machine; a wedged suite must
# fail with a log rather than eat the whole CI budget.
UNIT_LIMIT=${UNIT_LIMIT:-180}
BLACKBOX_LIMIT=${BLACKBOX_LIMIT:-1200}
CLIENTS_LIMIT=${CLIENTS_LIMIT:-1500}

SAN_ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
SAN_UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Suites are Python or shell; unbuffered output keeps the log in order.
export PYTHONUNBUFFERED=1

# say LINE... - prints to the terminal and the log.
say() {
	printf '%s\n' "$@" | tee -a "$LOG"
}

# run_suite NAME PREFIX LIMIT CMD... - runs CMD with at most LIMIT
# seconds, putting PREFIX before every test name it prints, and adds one
# FAIL line of its own when CMD fails without saying which test failed.
run_suite() {
	local name=$1 prefix=$2 limit=$3
	local out rc
	shift 3

	say "== ${prefix}${name}: $*"
	out=$(mktemp)
	timeout --kill-after=30 "$limit" "$@" </dev/null 2>&1 |
		sed -u "s/^\(PASS\|FAIL\) /\1 ${prefix}/" |
		tee -a "$LOG" "$out"
	rc=${PIPESTATUS[0]}

	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		say "FAIL ${prefix}${name} (timed out after ${limit}s)"
	elif [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
		say "FAIL ${prefix}${name} (exited with status $rc)"
	elif [ "$rc" -eq 0 ] && ! grep -q '^\(PASS\|FAIL\) ' "$out"; then
		say "FAIL ${prefix}${name} (ran no test)"
	fi
	rm -f "$out"
}

# run_units DIR PREFIX - runs each unit-test binary found in DIR.
run_units() {
	local dir=$1 prefix=$2
	local t found=0

	for t in "$dir"/tests/test_*; do
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then
			continue
		fi
		found=1
		run_suite "unit:$(basename "$t")" "$prefix" "$UNIT_LIMIT" "$t"
	done
	[ "$found" -eq 1 ] ||
		say "FAIL ${prefix}unit (no test binaries in $dir/tests)"
}

mkdir -p "$ARTIFACTS"
: >"$LOG"

run_units build ""
BERTH=./berth run_suite blackbox "" "$BLACKBOX_LIMIT" \
	python3 tests/blackbox/run.py
BERTH=./berth run_suite clients "" "$CLIENTS_LIMIT" \
	tests/clients/run.sh
run_suite install "" 300 tests/install/test_install.sh
BERTH=./berth run_suite hardening "" 1200 python3 tests/hardening/run.py
BERTH=./berth run_suite access "" 1500 tests/access/run.sh
BERTH=./berth run_suite ops "" 1200 python3 tests/ops/run.py
BERTH=./berth run_suite lifecycle "" 1800 python3 tests/lifecycle/run.py
BERTH=./berth run_suite browser "" 600 node tests/browser/ui.mjs
# Its own checks and the whole black-box suite on a bucket: about 7
# minutes on a busy 2-core machine.
BERTH=./berth run_suite s3 "" 1500 tests/s3/run.sh

# The black-box suite reads berth's stderr for sanitizer reports and
# fails the test during which one appeared, so reports stay on stderr.
export ASAN_OPTIONS=$SAN_ASAN_OPTIONS
export UBSAN_OPTIONS=$SAN_UBSAN_OPTIONS
run_units build-san "san:"
BERTH=build-san/berth run_suite blackbox "san:" "$BLACKBOX_LIMIT" \
	python3 tests/blackbox/run.py
BERTH=build-san/berth run_suite browser "san:" 900 \
	node tests/browser/ui.mjs

passed=$(grep -c '^PASS ' "$LOG")
failed=$(grep -c '^FAIL ' "$LOG")
say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
