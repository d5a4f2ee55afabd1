#!/usr/bin/env bash
# auth.sh - what logins cost: manifest GETs by tag with and without an
# htpasswd login, measured with wrk on the same image in the same store,
# with the same settings except the auth section.
#
#   bench/auth.sh            uses ./berth
#
# The user's hash is bcrypt at berth's default cost (10), as `berth user
# add` writes it, so without berth's cache of verified logins every
# request would pay tens of milliseconds.  Each server is measured
# BENCH_AUTH_ROUNDS times, alternating (anonymous, login, anonymous,
# login...), each run after a short warm-up; the best run of each counts,
# since other load on the machine only ever slows a run down.  Every
# answer must be a 2xx.
#
# Prints both rates and the ratio, whose target is at least 0.80, then
# the server's CPU time per request of each (the lowest of its runs),
# which other load on the machine disturbs much less, then the
# machine-readable lines auth.anon_rps=, auth.login_rps=, auth.ratio=,
# auth.anon_cpu_us=, auth.login_cpu_us= and auth.cpu_ratio=.
#
# Settings (environment): BERTH, BENCH_AUTH_ROUNDS (3), BENCH_WRK_SECONDS
# (10), BENCH_WRK_THREADS (2), BENCH_WRK_CONNECTIONS (32), BENCH_STRICT=1
# (exit 2 when the target is missed).  Needs wrk, curl, openssl, python3.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH_DIR")
BERTH=${BERTH:-$TOP/berth}
WRK_SECONDS=${BENCH_WRK_SECONDS:-10}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-32}
ROUNDS=${BENCH_AUTH_ROUNDS:-3}
TARGET=0.80
REPO=bench/auth
USER_NAME=bench
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ACCEPT="application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws"

WORK=""
SRV_PID=""

die() {
	echo "bench/auth: $*" >&2
	exit 1
}

cleanup() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
	if [ -n "$WORK" ]; then
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

sha256_of() {
	openssl dgst -sha256 -r "$1" | cut -d' ' -f1
}

# config_write FILE PORT LOGINS - the settings both servers share, and
# the auth section when LOGINS is 1.
config_write() {
	cat >"$1" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/store
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
EOF
	if [ "$3" = 1 ]; then
		cat >>"$1" <<EOF
auth:
  htpasswd:
    realm: bench
    path: $WORK/htpasswd
EOF
	fi
}

# server_start LOGINS - starts berth and waits for /v2/ to answer (200
# anonymous, 401 with logins).  Sets SRV_PID and ADDR.
server_start() {
	local port code want=200
	[ "$1" = 1 ] && want=401
	port=$(free_port)
	ADDR=127.0.0.1:$port
	config_write "$WORK/config-$1.yml" "$port" "$1"
	env -u REGISTRY_CONFIGURATION_PATH "$BERTH" serve \
		"$WORK/config-$1.yml" >>"$WORK/berth.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 300); do
		kill -0 "$SRV_PID" 2>/dev/null || {
			tail -20 "$WORK/berth.log" >&2
			die "berth exited"
		}
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
			"http://$ADDR/v2/" || true)
		[ "$code" = "$want" ] && return 0
		sleep 0.05
	done
	die "berth did not answer on $ADDR"
}

server_stop() {
	kill -TERM "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=""
}

# image_push - a one-layer OCI image pushed anonymously as $REPO:v1;
# prints the manifest's digest.
image_push() {
	local d="$WORK/img" f code
	mkdir -p "$d"
	head -c 2048 /dev/urandom | gzip -n >"$d/layer.tgz"
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":%s' \
		'"layers","diff_ids":["sha256:'"$(sha256_of "$d/layer.tgz")"'"]}}' \
		>"$d/config.json"
	for f in config.json layer.tgz; do
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
			-H 'Content-Type: application/octet-stream' \
			--data-binary "@$d/$f" "http://$ADDR/v2/$REPO/blobs/\
uploads/?digest=sha256:$(sha256_of "$d/$f")")
		[ "$code" = 201 ] || die "blob push answered $code"
	done
	cat >"$d/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
"config":{"mediaType":"application/vnd.oci.image.config.v1+json",\
"digest":"sha256:$(sha256_of "$d/config.json")",\
"size":$(stat -c %s "$d/config.json")},\
"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",\
"digest":"sha256:$(sha256_of "$d/layer.tgz")",\
"size":$(stat -c %s "$d/layer.tgz")}]}
EOF
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary "@$d/manifest.json" \
		"http://$ADDR/v2/$REPO/manifests/v1")
	[ "$code" = 201 ] || die "manifest PUT answered $code"
	sha256_of "$d/manifest.json"
}

# check_get LOGINS DIGEST - one GET must return the image, and with
# logins a request without them must be refused.
check_get() {
	local -a auth=()
	[ "$1" = 1 ] && auth=(-u "$USER_NAME:$PASSWORD")
	got=$(curl -s "${auth[@]}" -H "Accept: $ACCEPT" \
		"http://$ADDR/v2/$REPO/manifests/v1" | openssl dgst -sha256 -r |
		cut -d' ' -f1)
	[ "$got" = "$2" ] || die "manifest GET returned other bytes"
	if [ "$1" = 1 ]; then
		code=$(curl -s -o /dev/null -w '%{http_code}' \
			"http://$ADDR/v2/$REPO/manifests/v1")
		[ "$code" = 401 ] || die "no login needed with auth on ($code)"
	fi
}

# cpu_ticks - user plus system clock ticks the server has used so far.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$SRV_PID/stat"
}

# measure LOGINS - wrk on the manifest; prints requests/s and the
# server's CPU microseconds per request, which other load on the machine
# disturbs much less than the rate.
measure() {
	local -a hdr=(-H "Accept: $ACCEPT")
	local url="http://$ADDR/v2/$REPO/manifests/v1" out rps n t0 t1
	if [ "$1" = 1 ]; then
		hdr+=(-H "Authorization: Basic $(printf '%s:%s' "$USER_NAME" \
			"$PASSWORD" | base64 -w0)")
	fi
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d1s "${hdr[@]}" "$url" \
		>/dev/null
	out="$WORK/wrk-$1.out"
	t0=$(cpu_ticks)
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" \
		"${hdr[@]}" "$url" >"$out"
	t1=$(cpu_ticks)
	if grep -q -e 'Non-2xx' -e 'Socket errors' "$out"; then
		cat "$out" >&2
		die "wrk saw errors (logins=$1)"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	[ -n "$rps" ] || die "no Requests/sec in wrk's output"
	n=$(awk '/ requests in / { print $1 }' "$out")
	python3 -c 'import os, sys
t0, t1, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hz = os.sysconf("SC_CLK_TCK")
print(sys.argv[4], "%.1f" % ((t1 - t0) * 1e6 / hz / n))' "$t0" "$t1" "$n" \
		"$rps"
}

# run_one LOGINS DIGEST - a fresh server, checked, measured, stopped.
run_one() {
	local rps
	server_start "$1"
	check_get "$1" "$2"
	rps=$(measure "$1")
	server_stop
	echo "$rps"
}

max() {
	python3 -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' \
		"$@"
}

min() {
	python3 -c 'import sys; print(min(float(a) for a in sys.argv[1:]))' \
		"$@"
}

for t in "$BERTH" wrk curl openssl python3; do
	command -v "$t" >/dev/null || die "$t is missing"
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-auth.XXXXXX")
mkdir -p "$WORK/store"
printf '%s\n' "$PASSWORD" |
	env -u BERTH_BCRYPT_COST "$BERTH" user add "$WORK/htpasswd" \
	"$USER_NAME" >/dev/null 2>&1 || die "berth user add failed"

server_start 0
digest=$(image_push)
server_stop

anon_runs=()
login_runs=()
anon_cpu=()
login_cpu=()
for _ in $(seq "$ROUNDS"); do
	read -r rps cpu <<<"$(run_one 0 "$digest")"
	anon_runs+=("$rps")
	anon_cpu+=("$cpu")
	read -r rps cpu <<<"$(run_one 1 "$digest")"
	login_runs+=("$rps")
	login_cpu+=("$cpu")
done
anon=$(max "${anon_runs[@]}")
login=$(max "${login_runs[@]}")
anon_us=$(min "${anon_cpu[@]}")
login_us=$(min "${login_cpu[@]}")
read -r ratio met cpu_ratio <<<"$(python3 -c 'import sys
a, l, t, au, lu = (float(x) for x in sys.argv[1:])
r = l / a
print("%.3f %s %.3f" % (r, "met" if r >= t else "MISSED", au / lu))' \
	"$anon" "$login" "$TARGET" "$anon_us" "$login_us")"

printf 'manifest GET, anonymous:    %10.0f req/s  (runs: %s)\n' \
	"$anon" "${anon_runs[*]}"
printf 'manifest GET, with a login: %10.0f req/s  (runs: %s)\n' \
	"$login" "${login_runs[*]}"
printf 'login/anonymous: %s (target >= %s): %s\n' "$ratio" "$TARGET" \
	"$met"
printf 'server CPU per request: anonymous %s us, with a login %s us ' \
	"$anon_us" "$login_us"
printf '(anonymous/login %s)\n' "$cpu_ratio"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "auth.anon_rps=$anon"
echo "auth.login_rps=$login"
echo "auth.ratio=$ratio"
echo "auth.anon_cpu_us=$anon_us"
echo "auth.login_cpu_us=$login_us"
echo "auth.cpu_ratio=$cpu_ratio"
if [ "$met" != met ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
	exit 2
fi
