#!/bin/sh
# Runs each unit-test binary named on the command line; each prints one
# PASS or FAIL line per test.  Exits non-zero if any binary failed.
status=0
for t in "$@"; do
	"$t" || status=1
done
exit $status
