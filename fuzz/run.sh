#!/usr/bin/env bash
# run.sh - replays and runs berth's libFuzzer targets (`make fuzz`).
#
#   fuzz/run.sh [TARGET...]        default: every fuzz/fuzz_*.c
#
# For each target, built beforehand as $FUZZ_BUILD/fuzz_<target>:
#  1. replays every input in fuzz/regressions/<target>/ (crashes found
#     before, kept so that they stay fixed) and the seed corpus in
#     fuzz/corpus/<target>/;
#  2. fuzzes for $FUZZ_SECONDS seconds (default 30), starting from the
#     seeds and from $FUZZ_BUILD/corpus/<target>/, where new inputs
#     go (the tree's corpus stays small and hand-made).
# Prints "PASS fuzz:<target> executions=N ..." or "FAIL fuzz:<target>"
# with the report and where the crashing input was saved; the figures
# also go to $FUZZ_BUILD/stats.txt.  Exits 1 if any target failed.
set -u

cd "$(dirname "$0")/.." || exit 1

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
# A single input taking this long is a hang, reported like a crash.
FUZZ_INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT:-10}

STATS=$FUZZ_BUILD/stats.txt

# fail TARGET LOG WHAT - reports a failed target with its log's report.
fail() {
	local target=$1 log=$2 what=$3

	echo "FAIL fuzz:$target ($what)"
	grep -v '^INFO:\|^#[0-9]' "$log" | tail -n 40 | sed 's/^/    /'
}

# replay TARGET BIN - runs the kept regressions and the seeds once each.
replay() {
	local target=$1 bin=$2 log=$FUZZ_BUILD/logs/$1.replay
	local inputs=()

	if [ -d "fuzz/regressions/$target" ]; then
		mapfile -t inputs < <(find "fuzz/regressions/$target" -type f \
			! -name '.*' | sort)
	fi
	mapfile -t -O "${#inputs[@]}" inputs < <(find "fuzz/corpus/$target" \
		-type f ! -name '.*' | sort)
	[ "${#inputs[@]}" -gt 0 ] || return 0

	if ! "$bin" -timeout="$FUZZ_INPUT_TIMEOUT" "${inputs[@]}" \
		>"$log" 2>&1; then
		fail "$target" "$log" "a kept input fails again"
		return 1
	fi
}

# explore TARGET BIN - fuzzes for FUZZ_SECONDS and records the figures.
explore() {
	local target=$1 bin=$2 log=$FUZZ_BUILD/logs/$1.fuzz
	local work=$FUZZ_BUILD/corpus/$target
	local crashes=$FUZZ_BUILD/crashes/$target
	local rc execs speed corpus saved

	mkdir -p "$work" "$crashes"
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_INPUT_TIMEOUT" \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" "fuzz/corpus/$target" \
		>"$log" 2>&1
	rc=$?

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	corpus=$(find "$work" -type f | wc -l)
	if [ "$rc" -ne 0 ]; then
		saved=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
			tail -n 1)
		fail "$target" "$log" "exit status $rc"
		echo "    crashing input: ${saved:-none saved}"
		echo "    once fixed, keep it: cp ${saved:-INPUT}" \
			"fuzz/regressions/$target/"
		return 1
	fi
	if [ -z "$execs" ]; then
		fail "$target" "$log" "no final statistics"
		return 1
	fi

	echo "PASS fuzz:$target executions=$execs per_second=${speed:-?}" \
		"seconds=$FUZZ_SECONDS corpus=$corpus"
	printf '%s %s %s %s %s\n' "$target" "$execs" "${speed:-0}" \
		"$FUZZ_SECONDS" "$corpus" >>"$STATS"
}

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
	for f in fuzz/fuzz_*.c; do
		t=${f#fuzz/fuzz_}
		targets+=("${t%.c}")
	done
fi

mkdir -p "$FUZZ_BUILD/logs"
echo "# target executions per_second seconds corpus" >"$STATS"
failed=0
for t in "${targets[@]}"; do
	bin=$FUZZ_BUILD/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz:$t (no binary $bin; run make fuzz)"
		failed=$((failed + 1))
		continue
	fi
	if ! replay "$t" "$bin" || ! explore "$t" "$bin"; then
		failed=$((failed + 1))
	fi
done

echo "fuzz: ${#targets[@]} targets, $failed failed," \
	"$FUZZ_SECONDS s each; figures in $STATS"
[ "$failed" -eq 0 ]
