#!/usr/bin/env bash
# gc.sh - benchmarks garbage collection: `berth garbage-collect` against
# Debian's `docker-registry garbage-collect` on the same store.
#
#   bench/gc.sh              uses ./berth as it is
#
# The store is written once by tests/lifecycle/mkgcstore.py: 100,000
# blobs in registry:2's layout, across 250 repositories, with tagged,
# untagged and deleted images, multi-arch indexes, signatures, shared
# base layers, stray uploads and dangling links; every file dated a day
# back.  About one blob in seven is garbage.  On tmpfs under /dev/shm.
#
# First both collectors do a dry run and must name the same garbage, or
# the run stops.  Then, BENCH_GC_RUNS times, each collects a fresh copy
# of the store for real (docker-registry first, then berth), timed by
# wall clock and by CPU (user + system); afterwards the blobs left must
# be the store's minus the garbage, for both.  Both print what they mark
# and delete, to files, as they do by default.
#
# Prints a Markdown table: workload | berth | docker-registry | berth
# advantage | target | met?, the medians of the runs; the advantage is
# docker-registry's time divided by berth's.  The target is 10x for the
# wall-clock time of a real collection.  With BENCH_RESULTS set, also
# appends "berth.KEY=VALUE" and "registry.KEY=VALUE" lines to that file
# for bench/report.py.  A busy machine makes the figures worthless: the
# load average is shown at the start and the end.
#
# Settings (environment): BENCH_GC_BLOBS (100000), BENCH_GC_RUNS (3),
# BENCH_GC_DIR (/dev/shm), BENCH_STRICT=1 (exit 2 when the target is
# missed), BERTH, DOCKER_REGISTRY.  Needs python3 and about 3 GB free in
# BENCH_GC_DIR.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH_DIR")
BERTH=${BERTH:-$TOP/berth}
DOCKER_REGISTRY=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
BLOBS=${BENCH_GC_BLOBS:-100000}
RUNS=${BENCH_GC_RUNS:-3}
TARGET=10

WORK=$(mktemp -d "${BENCH_GC_DIR:-/dev/shm}/berth-gcbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

die() {
	echo "gc.sh: $*" >&2
	exit 1
}

# config ROOT - writes a registry:2 config for ROOT, prints its path.
config() {
	local path=$1.yml

	cat >"$path" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:1
EOF
	echo "$path"
}

# blobs ROOT - every blob digest whose data is in ROOT, sorted.
blobs() {
	(cd "$1/docker/registry/v2/blobs" &&
		find . -name data -type f | awk -F/ '{print "sha256:" $4}' |
		sort)
}

# eligible FILE - the digests of "blob eligible for deletion" lines.
eligible() {
	sed -n 's/^blob eligible for deletion: //p' "$1" | sort
}

# timed NAME CMD... - runs CMD, appending "NAME wall cpu" to $WORK/times.
timed() {
	local name=$1 t0 t1
	shift

	t0=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o "$WORK/cpu" "$@" >"$WORK/$name.out" \
		2>"$WORK/$name.err" || die "$name failed: $(tail -3 \
		"$WORK/$name.err")"
	t1=$(date +%s.%N)
	awk -v n="$name" -v a="$t0" -v b="$t1" '{ printf "%s %.3f %.3f\n",
		n, b - a, $1 + $2 }' "$WORK/cpu" >>"$WORK/times"
}

# median NAME FIELD - the median of a column of $WORK/times for NAME.
median() {
	awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$WORK/times" |
		sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

[ -x "$BERTH" ] || die "no executable $BERTH (make it first)"
[ -x "$DOCKER_REGISTRY" ] || die "no $DOCKER_REGISTRY (scripts/deps.sh test)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

echo "gc.sh: writing a store of $BLOBS blobs..." >&2
python3 "$TOP/tests/lifecycle/mkgcstore.py" "$WORK/store" "$BLOBS" --old \
	>"$WORK/store.json"
blobs "$WORK/store" >"$WORK/all"
CFG=$(config "$WORK/store")

echo "gc.sh: dry runs..." >&2
timed dry.registry "$DOCKER_REGISTRY" garbage-collect --dry-run "$CFG"
timed dry.berth "$BERTH" garbage-collect --dry-run "$CFG"
eligible "$WORK/dry.registry.out" >"$WORK/garbage"
eligible "$WORK/dry.berth.out" | cmp -s - "$WORK/garbage" ||
	die "berth and docker-registry disagree on what is garbage"
comm -23 "$WORK/all" "$WORK/garbage" >"$WORK/expected"

for run in $(seq "$RUNS"); do
	for tool in registry berth; do
		echo "gc.sh: run $run, $tool..." >&2
		rm -rf "$WORK/copy" "$WORK/copy.yml"
		cp -a "$WORK/store" "$WORK/copy"
		sync
		if [ "$tool" = registry ]; then
			timed gc.registry "$DOCKER_REGISTRY" garbage-collect \
				"$(config "$WORK/copy")"
		else
			timed gc.berth "$BERTH" garbage-collect \
				"$(config "$WORK/copy")"
		fi
		blobs "$WORK/copy" | cmp -s - "$WORK/expected" ||
			die "$tool left a different set of blobs"
	done
done

row() {
	local what=$1 key=$2 field=$3 target=$4
	local b r ratio met="-"

	b=$(median "$key.berth" "$field")
	r=$(median "$key.registry" "$field")
	ratio=$(awk -v b="$b" -v r="$r" 'BEGIN { printf "%.1f", r / b }')
	if [ -n "$target" ]; then
		met=$(awk -v x="$ratio" -v t="$target" \
			'BEGIN { print (x >= t ? "yes" : "**NO**") }')
		target="${target}x"
	else
		target="-"
	fi
	printf '| %s | %s s | %s s | %sx | %s | %s |\n' "$what" "$b" "$r" \
		"$ratio" "$target" "$met"
	if [ -n "${BENCH_RESULTS:-}" ]; then
		printf 'berth.%s_%s=%s\nregistry.%s_%s=%s\n' "$key" "$field" \
			"$b" "$key" "$field" "$r" >>"$BENCH_RESULTS"
	fi
}

GARBAGE=$(wc -l <"$WORK/garbage")
echo
echo "## Garbage collection: $BLOBS blobs, $GARBAGE garbage"
echo
echo "$(nproc) CPUs; load average $LOAD_START at the start," \
	"$(cut -d' ' -f1-3 /proc/loadavg) at the end; median of $RUNS runs."
echo
echo "| workload | berth | docker-registry | berth advantage | target | met? |"
echo "|---|---|---|---|---|---|"
row "collection, wall clock" gc 2 "$TARGET"
row "collection, CPU time" gc 3 ""
row "dry run, wall clock" dry 2 ""
row "dry run, CPU time" dry 3 ""

RATIO=$(awk -v b="$(median gc.berth 2)" -v r="$(median gc.registry 2)" \
	'BEGIN { printf "%.1f", r / b }')
if [ "${BENCH_STRICT:-0}" = 1 ] &&
	awk -v x="$RATIO" -v t="$TARGET" 'BEGIN { exit !(x < t) }'; then
	exit 2
fi
