#!/usr/bin/env bash
# ui.sh - times the web UI's JSON API pages on a large store.
#
#   bench/ui.sh            uses ./berth (BERTH names another binary)
#
# Writes a registry:2 store straight to disk (uistore.py): BENCH_UI_REPOS
# repositories (100000) in 100 namespaces, plus big/app with
# BENCH_UI_TAGS tags (10000), each its own image or two-platform index.
# Then starts berth on 127.0.0.1 and, with curl, asks two pages at once
# (while berth fills its caches in the background: the catalog answers
# at once with big repositories' sizes pending, but sorting 10,000 tags
# by date must read every image config), waits until the caches are
# filled, and asks each page once ("first": the caches are full but the
# page itself was never built) and BENCH_UI_ROUNDS times more (11).
# Every answer's status is checked, and the totals the pages report are
# compared with what was written.
#
# Prints a Markdown table: page | first ms | median ms | target | met?.
# The target, 50 ms, applies to the median.  Settings (environment):
# BENCH_UI_DIR puts the store there and keeps it for the next run
# (default: a new directory under /tmp, removed afterwards; the store
# takes about 3 GB, mostly directory blocks, and 700,000 inodes);
# BENCH_UI_OUT also writes the table to this file; BENCH_STRICT=1 exits
# 2 when a target is missed.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH_DIR")
BERTH=${BERTH:-$TOP/berth}
REPOS=${BENCH_UI_REPOS:-100000}
TAGS=${BENCH_UI_TAGS:-10000}
ROUNDS=${BENCH_UI_ROUNDS:-11}
TARGET_MS=50

WORK=${BENCH_UI_DIR:-}
OWN_WORK=0
if [ -z "$WORK" ]; then
	WORK=$(mktemp -d /tmp/berth-uibench.XXXXXX)
	OWN_WORK=1
fi
PID=

cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	if [ "$OWN_WORK" = 1 ]; then
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

if [ ! -d "$WORK/root/docker" ]; then
	echo "ui bench: writing $REPOS repositories and $TAGS tags" \
		"to $WORK/root" >&2
	python3 "$BENCH_DIR/uistore.py" "$WORK/root" "$REPOS" "$TAGS" >&2
fi

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
rm -f "$WORK/htpasswd"
echo bench-password | BERTH_BCRYPT_COST=4 "$BERTH" user add \
	"$WORK/htpasswd" viewer >/dev/null
# Anonymous users may pull everything; viewer a fifth of it, so that
# the catalog is filtered by rules for one and not the other.
cat >"$WORK/config.yml" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/root
http:
  addr: 127.0.0.1:$PORT
auth:
  htpasswd:
    realm: bench
    path: $WORK/htpasswd
access:
  anonymous:
    - repositories: ["**"]
      actions: [pull]
  rules:
    - repositories: ["ns01*/**", "ns02*/**", "big/**"]
      users: [viewer]
      actions: [pull]
YAML
env -u REGISTRY_HTTP_ADDR "$BERTH" serve "$WORK/config.yml" \
	>"$WORK/berth.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
	if curl -fs -o /dev/null "$URL/v2/"; then
		break
	fi
	if ! kill -0 "$PID" 2>/dev/null; then
		echo "ui bench: berth exited:" >&2
		cat "$WORK/berth.log" >&2
		exit 1
	fi
	sleep 0.1
done

# time_ms PATH [USER] - one GET (as USER); prints milliseconds, fails
# unless 200.
time_ms() {
	local out code secs auth=()
	if [ -n "${2:-}" ]; then
		auth=(-u "$2:bench-password")
	fi
	out=$(curl -s "${auth[@]}" -o /dev/null -w '%{http_code} %{time_total}' \
		"$URL$1")
	code=${out% *}
	secs=${out#* }
	if [ "$code" != 200 ]; then
		echo "ui bench: $1 answered $code" >&2
		exit 1
	fi
	python3 -c "print('%.1f' % ($secs * 1000))"
}

median() {
	sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

# expect PATH KEY VALUE - checks a number in the page's JSON.
expect() {
	local got
	got=$(curl -s "$URL$1" | python3 -c \
		"import json, sys; print(json.load(sys.stdin)['$2'])")
	if [ "$got" != "$3" ]; then
		echo "ui bench: $1 says $2=$got, want $3" >&2
		exit 1
	fi
}

ROWS=()
MISSED=0

# Waits until berth says its caches are filled; prints how long it took.
wait_filled() {
	local line
	for _ in $(seq 1 6000); do
		line=$(grep -m1 'web ui caches filled' "$WORK/berth.log" || true)
		if [ -n "$line" ]; then
			echo "$line" | sed 's/.* ms=\([0-9]*\).*/\1/'
			return
		fi
		sleep 0.1
	done
	echo "ui bench: caches not filled after 10 minutes" >&2
	exit 1
}

# page NAME PATH [USER] - once, then ROUNDS more.
page() {
	local name=$1 path=$2 user=${3:-} cold warm met
	cold=$(time_ms "$path" "$user")
	warm=$(for _ in $(seq 1 "$ROUNDS"); do time_ms "$path" "$user"; done |
		median)
	met=yes
	if python3 -c "import sys; sys.exit(0 if $warm < $TARGET_MS else 1)"
	then :; else
		met=no
		MISSED=1
	fi
	ROWS+=("| $name | $cold | $warm | < $TARGET_MS ms | $met |")
}

BIG=repo=big/app
EARLY_CATALOG=$(time_ms "/ui/api/repositories?page=1&per_page=50")
EARLY_DATE=$(time_ms "/ui/api/tags?repo=big/app&sort=date")
FILL_MS=$(wait_filled)
# A tag in the middle that is an index (every fifth one is).
MID=$(python3 -c "i = $TAGS // 10 * 5
print('v%d.%d.%d' % (i // 1000, i // 10 % 100, i % 10))")
LINKS=$WORK/root/docker/registry/v2/repositories/big/app/_manifests/tags
page "catalog, first page of $((REPOS + 1)) repositories" \
	"/ui/api/repositories?page=1&per_page=50"
page "catalog, page 1000" "/ui/api/repositories?page=1000&per_page=50"
page "catalog search (\"app0424\")" "/ui/api/repositories?q=app0424"
page "catalog search matching 1% (\"ns042/\")" \
	"/ui/api/repositories?q=ns042/&page=3"
page "$TAGS tags by name, first page" "/ui/api/tags?$BIG&sort=name"
page "$TAGS tags by version, page 100" \
	"/ui/api/tags?$BIG&sort=version&page=100"
page "$TAGS tags by date, first page" "/ui/api/tags?$BIG&sort=date"
page "$TAGS tags by date, last page" \
	"/ui/api/tags?$BIG&sort=date&order=asc&page=$(( (TAGS + 49) / 50 ))"
page "$TAGS tags filtered (\"v7.\")" "/ui/api/tags?$BIG&q=v7.&sort=date"
page "tags sharing a digest (delete dialog)" \
	"/ui/api/tags?$BIG&digest=$(cat "$LINKS/$MID/current/link")"
page "image page, two-platform index" "/ui/api/image?$BIG&ref=$MID"
page "catalog with big/app on the page" "/ui/api/repositories?q=big/"
page "catalog filtered by access rules, page 3" \
	"/ui/api/repositories?page=3" viewer
page "catalog filtered by access rules, search" \
	"/ui/api/repositories?q=app0424" viewer

expect "/ui/api/repositories?per_page=1" total $((REPOS + 1))
expect "/ui/api/tags?$BIG&per_page=1" total "$TAGS"

{
	echo
	echo "web UI API, $((REPOS + 1)) repositories, $TAGS tags in one" \
		"(load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	echo "| page | first ms | median ms of $ROUNDS | target | met? |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "Right after start, while the caches filled (which took" \
		"$FILL_MS ms, in the background): catalog first page" \
		"$EARLY_CATALOG ms (big repositories' sizes pending)," \
		"$TAGS tags by date $EARLY_DATE ms (every image config read)."
} | tee ${BENCH_UI_OUT:+"$BENCH_UI_OUT"}

if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$MISSED" = 1 ]; then
	exit 2
fi
