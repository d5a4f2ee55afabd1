#!/usr/bin/env bash
# auth.sh - what logins cost: manifest GETs by tag with and without an
# htpasswd login, measured with wrk on the same image in the same store,
# with the same settings except the auth section.
#
#   bench/auth.sh            uses ./berth
#
# The user's hash is bcrypt at berth's default cost (10), as `berth user
# add` writes it, so without berth's cache of verified logins every
# request would pay tens of milliseconds.  Each server is measured twice,
# alternating (anonymous, login, anonymous, login), after a short warm-up;
# the better run of each counts.  Every answer must be a 2xx.
#
# Prints both rates and the ratio, whose target is at least 0.80, then
# the machine-readable lines auth.anon_rps=, auth.login_rps= and
# auth.ratio=.  Settings (environment): BERTH, BENCH_WRK_SECONDS (10),
# BENCH_WRK_THREADS (2), BENCH_WRK_CONNECTIONS (32), BENCH_STRICT=1 (exit
# 2 when the target is missed).  Needs wrk, curl, openssl and python3.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH_DIR")
BERTH=${BERTH:-$TOP/berth}
WRK_SECONDS=${BENCH_WRK_SECONDS:-10}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-32}
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

# measure LOGINS - wrk on the manifest; prints requests/s.
measure() {
	local -a hdr=(-H "Accept: $ACCEPT") out
	local url="http://$ADDR/v2/$REPO/manifests/v1" rps
	if [ "$1" = 1 ]; then
		hdr+=(-H "Authorization: Basic $(printf '%s:%s' "$USER_NAME" \
			"$PASSWORD" | base64 -w0)")
	fi
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d1s "${hdr[@]}" "$url" \
		>/dev/null
	out="$WORK/wrk-$1.out"
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" \
		"${hdr[@]}" "$url" >"$out"
	if grep -q -e 'Non-2xx' -e 'Socket errors' "$out"; then
		cat "$out" >&2
		die "wrk saw errors (logins=$1)"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	[ -n "$rps" ] || die "no Requests/sec in wrk's output"
	echo "$rps"
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

anon1=$(run_one 0 "$digest")
login1=$(run_one 1 "$digest")
anon2=$(run_one 0 "$digest")
login2=$(run_one 1 "$digest")
anon=$(max "$anon1" "$anon2")
login=$(max "$login1" "$login2")
read -r ratio met <<<"$(python3 -c 'import sys
r = float(sys.argv[2]) / float(sys.argv[1])
print("%.3f %s" % (r, "met" if r >= float(sys.argv[3]) else "MISSED"))' \
	"$anon" "$login" "$TARGET")"

printf 'manifest GET, anonymous:    %10.0f req/s  (runs: %s, %s)\n' \
	"$anon" "$anon1" "$anon2"
printf 'manifest GET, with a login: %10.0f req/s  (runs: %s, %s)\n' \
	"$login" "$login1" "$login2"
printf 'login/anonymous: %s (target >= %s): %s\n' "$ratio" "$TARGET" \
	"$met"
echo "auth.anon_rps=$anon"
echo "auth.login_rps=$login"
echo "auth.ratio=$ratio"
if [ "$met" != met ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
	exit 2
fi
