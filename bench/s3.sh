#!/usr/bin/env bash
# s3.sh - benchmarks berth against Debian's docker-registry (registry:2,
# distribution 2.8) on one S3 bucket: a Ceph radosgw on loopback, started
# by tests/s3/ceph.sh in a temporary directory and removed afterwards.
#
#   bench/s3.sh             uses ./berth as it is (make bench runs it)
#
# Both servers read the same config.yml (the s3 driver on the one
# bucket, redirects off so that each streams blobs itself, delete
# enabled, log level warn, access log off); each gets its own
# rootdirectory and port through REGISTRY_* variables.  Workloads:
#
#   1. a random blob of BENCH_BLOB_MB (1 GiB) pushed in one request
#      (POST ?digest= for berth, POST then one PUT for registry:2,
#      which ignores a POST body), berth's peak resident
#      memory (VmHWM) read after it: it must stay under 64 MiB, since
#      berth streams the body to the bucket in chunks;
#   2. a second random blob of the same size pushed in PATCHes of
#      BENCH_S3_CHUNK_MB (32 MiB) with Content-Range, then an empty PUT;
#   3. the first blob pulled with curl, BENCH_S3_PULLS (3) rounds in
#      which the servers take turns, the fastest counting; one pull from
#      each is checked against the digest;
#   4. manifest GET by tag, a small image pushed with skopeo, then wrk
#      with docker's Accept header over keep-alive connections.
#
# Every answer is checked; a wrong one stops the run.  Prints a Markdown
# table: workload | berth | docker-registry | berth advantage, the
# advantage being how many times better berth did (rates berth /
# docker-registry, seconds and memory the other way), then berth's
# VmHWM against its 64 MiB bound (VmHWM only grows, so the figure after
# both pushes covers both) and after the pulls, which stream each blob
# through a small buffer and should add little to it.  A busy machine makes the figures
# worthless: the load average is shown at the start and the end.
#
# Settings (environment): BENCH_BLOB_MB (1024), BENCH_S3_CHUNK_MB (32),
# BENCH_S3_PULLS (3), BENCH_WRK_SECONDS (10), BENCH_WRK_THREADS (2),
# BENCH_WRK_CONNECTIONS (32), BERTH, DOCKER_REGISTRY.  Needs the Ceph
# packages, wrk, curl, skopeo and python3, about 2 GiB free in /dev/shm
# and 6 GiB in TMPDIR (the OSD's sparse file).  Exits 1 when a
# measurement went wrong, 2 when berth's VmHWM passed its bound.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH_DIR")
BERTH=${BERTH:-$TOP/berth}
DOCKER_REGISTRY=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
BLOB_BYTES=$((${BENCH_BLOB_MB:-1024} * 1024 * 1024))
CHUNK_BYTES=$((${BENCH_S3_CHUNK_MB:-32} * 1024 * 1024))
PULLS=${BENCH_S3_PULLS:-3}
WRK_SECONDS=${BENCH_WRK_SECONDS:-10}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-32}
HWM_BOUND_KB=$((64 * 1024))
ACCEPT="application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json"

WORK=""
SHM=""
declare -A PID ADDR R	# servers by kind; R holds the results

die() {
	echo "bench/s3: $*" >&2
	exit 1
}

cleanup() {
	local k
	for k in "${!PID[@]}"; do
		kill "${PID[$k]}" 2>/dev/null || true
	done
	if [ -n "$WORK" ]; then
		"$TOP/tests/s3/ceph.sh" stop "$WORK/ceph" >/dev/null 2>&1 || true
		rm -rf "$WORK"
	fi
	[ -z "$SHM" ] || rm -rf "$SHM"
}

now() {
	date +%s.%N
}

# calc FORMAT EXPRESSION A [B] - EXPRESSION over a and b, printed so.
calc() {
	awk -v a="${3:-0}" -v b="${4:-0}" "BEGIN { printf \"$1\\n\", $2 }"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The one config.yml; rootdirectory and http.addr come per server.
write_config() {
	# shellcheck disable=SC1091 # written by ceph.sh start
	. "$WORK/ceph/env"
	cat >"$WORK/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
    regionendpoint: $S3_ENDPOINT
    accesskey: $S3_ACCESS
    secretkey: $S3_SECRET
    region: $S3_REGION
    bucket: $S3_BUCKET
    rootdirectory: /unset
    forcepathstyle: true
    secure: false
  redirect:
    disable: true
  delete:
    enabled: true
http:
  addr: 127.0.0.1:1
  secret: berth-bench-s3
EOF
}

# serve KIND BINARY - starts a server on its own prefix and waits for it.
serve() {
	local kind=$1 bin=$2 port
	port=$(free_port)
	env -i PATH="$PATH" HOME="$WORK" \
		REGISTRY_STORAGE_S3_ROOTDIRECTORY="/bench-$kind" \
		REGISTRY_HTTP_ADDR="127.0.0.1:$port" \
		"$bin" serve "$WORK/config.yml" >"$WORK/$kind.log" 2>&1 \
		</dev/null &
	PID[$kind]=$!
	ADDR[$kind]=127.0.0.1:$port
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
		sleep 0.1
	done
	tail "$WORK/$kind.log" >&2
	die "$kind did not start"
}

# proc_kb KIND FIELD - a /proc/PID/status figure of the server, in kB.
proc_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/${PID[$1]}/status" ||
		die "$1 is gone"
}

# make_blob FILE - BLOB_BYTES of random data; prints the digest's hex.
make_blob() {
	head -c "$BLOB_BYTES" /dev/urandom >"$1"
	sha256sum "$1" | cut -d' ' -f1
}

# push KIND REPO FILE DIGEST HOW - sends FILE as a blob and prints the
# seconds from the first request to the 201.  HOW is "post" (POST
# ?digest= with the body, berth), "post+put" (POST, then one PUT with
# the body: registry:2 ignores a POST body) or "patch" (PATCHes of
# CHUNK_BYTES with Content-Range, then an empty PUT).  Bodies go from
# the page cache with sendfile, so the client costs next to nothing.
push() {
	python3 - "${ADDR[$1]}" "$2" "$3" "sha256:$4" "$5" "$CHUNK_BYTES" \
		<<'EOF'
import http.client, os, sys, time, urllib.parse
addr, repo, path, digest, how, chunk = sys.argv[1:]
host, port = addr.rsplit(":", 1)
chunk, size = int(chunk), os.path.getsize(path)
c = http.client.HTTPConnection(host, int(port), timeout=900)
f = open(path, "rb")


def ask(method, target, off=0, n=0, hdrs=None):
    c.putrequest(method, target)
    c.putheader("Content-Type", "application/octet-stream")
    c.putheader("Content-Length", str(n))
    for k, v in (hdrs or {}).items():
        c.putheader(k, v)
    c.endheaders()
    if n:
        c.sock.sendfile(f, off, n)
    r = c.getresponse()
    r.read()
    return r.status, r.headers


def where(h):
    u = urllib.parse.urlsplit(h["Location"])
    return u.path + ("?" + u.query if u.query else "")


def close(loc, n):
    sep = "&" if "?" in loc else "?"
    return ask("PUT", "%s%sdigest=%s" % (loc, sep, digest), 0, n)


t0 = time.perf_counter()
uploads = "/v2/%s/blobs/uploads/" % repo
if how == "post":
    st, _ = ask("POST", uploads + "?digest=" + digest, 0, size)
else:
    st, h = ask("POST", uploads)
    assert st == 202, "POST answered %d" % st
    loc = where(h)
    if how == "post+put":
        st, _ = close(loc, size)
    else:
        for off in range(0, size, chunk):
            n = min(chunk, size - off)
            st, h = ask("PATCH", loc, off, n,
                        {"Content-Range": "%d-%d" % (off, off + n - 1)})
            assert st == 202, "PATCH at %d answered %d" % (off, st)
            loc = where(h)
        st, _ = close(loc, 0)
assert st == 201, "%s push answered %d" % (how, st)
print("%.6f" % (time.perf_counter() - t0))
EOF
}

# pull KIND [check] - fetches the first blob; prints seconds, or checks
# the bytes against the digest.
pull() {
	local url="http://${ADDR[$1]}/v2/bench/mono/blobs/sha256:$BLOB1" out
	if [ "${2:-}" = check ]; then
		[ "$(curl -fsS "$url" | sha256sum | cut -d' ' -f1)" = "$BLOB1" ] ||
			die "$1 returned other bytes for the blob"
		return
	fi
	out=$(curl -fsS -o /dev/null -w '%{size_download} %{time_total}' \
		"$url") || die "$1: pull failed"
	[ "${out% *}" = "$BLOB_BYTES" ] || die "$1: pulled ${out% *} bytes"
	echo "${out#* }"
}

# Pushes a small image with skopeo, then runs wrk on its manifest by
# tag after a one-second warm-up; records requests per second.
manifests() {
	local kind=$1 url out rps
	skopeo --insecure-policy copy -q --dest-tls-verify=false \
		"oci:$WORK/app:v1" "docker://${ADDR[$kind]}/bench/app:v1" ||
		die "$kind: skopeo push failed"
	url="http://${ADDR[$kind]}/v2/bench/app/manifests/v1"
	curl -fs -o /dev/null -H "Accept: $ACCEPT" "$url" ||
		die "$kind: manifest GET failed"
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d1s -H "Accept: $ACCEPT" \
		"$url" >/dev/null
	out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" \
		-H "Accept: $ACCEPT" "$url")
	if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
		echo "$out" >&2
		die "wrk saw errors from $kind"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	[ -n "$rps" ] || die "no Requests/sec in wrk's output"
	R[$kind.rps]=$rps
}

# row NAME BERTH REGISTRY FORMAT ADVANTAGE-EXPRESSION
row() {
	printf '| %s | %s | %s | %sx |\n' "$1" "$2" "$3" \
		"$(calc %.2f "$5" "${R[berth.$4]}" "${R[registry.$4]}")"
}

report() {
	local mb=$((BLOB_BYTES / 1048576)) k
	echo "S3 (Ceph ${R[ceph]} radosgw on loopback), ${mb} MiB blobs;"
	echo "$(nproc) CPUs, $(uname -sr); berth ${R[berth.version]},"
	echo "docker-registry ${R[registry.version]}; run ${R[date]}, \
$((SECONDS - R[t0])) s;"
	echo "load average ${R[load0]} at the start, ${R[load1]} at the end."
	echo
	echo "| workload | berth | docker-registry | berth advantage |"
	echo "|---|---|---|---|"
	for k in berth registry; do
		R[$k.mono_gbs]=$(calc %.3f 'a / b / 1e9' "$BLOB_BYTES" \
			"${R[$k.mono]}")
		R[$k.chunked_gbs]=$(calc %.3f 'a / b / 1e9' "$BLOB_BYTES" \
			"${R[$k.chunked]}")
		R[$k.pull_gbs]=$(calc %.3f 'a / b / 1e9' "$BLOB_BYTES" \
			"${R[$k.pull]}")
	done
	row "push, one request (${R[berth.mono_flow]} / \
${R[registry.mono_flow]}), s" "$(calc %.2f a "${R[berth.mono]}")" \
		"$(calc %.2f a "${R[registry.mono]}")" mono 'b / a'
	row "push, one request, GB/s" "${R[berth.mono_gbs]}" \
		"${R[registry.mono_gbs]}" mono_gbs 'a / b'
	row "push, PATCHes of $((CHUNK_BYTES / 1048576)) MiB, s" \
		"$(calc %.2f a "${R[berth.chunked]}")" \
		"$(calc %.2f a "${R[registry.chunked]}")" chunked 'b / a'
	row "push, PATCHes, GB/s" "${R[berth.chunked_gbs]}" \
		"${R[registry.chunked_gbs]}" chunked_gbs 'a / b'
	row "pull (curl), best of $PULLS, GB/s" "${R[berth.pull_gbs]}" \
		"${R[registry.pull_gbs]}" pull_gbs 'a / b'
	row "manifest GET by tag (wrk -t$WRK_THREADS -c$WRK_CONNECTIONS \
-d${WRK_SECONDS}s), req/s" "$(calc %.0f a "${R[berth.rps]}")" \
		"$(calc %.0f a "${R[registry.rps]}")" rps 'a / b'
	row "peak resident memory (VmHWM) over both pushes, MiB" \
		"$(calc %.1f 'a / 1024' "${R[berth.hwm]}")" \
		"$(calc %.1f 'a / 1024' "${R[registry.hwm]}")" hwm 'b / a'
	echo
	printf "berth's VmHWM: %s MiB after the one-request push, %s MiB \
after both, %s MiB after the pulls; bound 64 MiB: %s\n" \
		"$(calc %.1f 'a / 1024' "${R[berth.hwm_mono]}")" \
		"$(calc %.1f 'a / 1024' "${R[berth.hwm]}")" \
		"$(calc %.1f 'a / 1024' "${R[berth.hwm_pull]}")" \
		"$([ "${R[berth.hwm]}" -lt "$HWM_BOUND_KB" ] && echo met ||
			echo '**NOT MET**')"
}

main() {
	local k i t best
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	for t in "$BERTH" "$DOCKER_REGISTRY" wrk curl skopeo radosgw openssl; do
		command -v "$t" >/dev/null || die "needs $t"
	done
	R[load0]=$(cut -d' ' -f1-3 /proc/loadavg)
	R[t0]=$SECONDS
	R[date]=$(date -u '+%Y-%m-%d %H:%M UTC')
	R[ceph]=$(radosgw --version | awk '{ print $3 }')
	R[berth.version]=$("$BERTH" --version | awk '{ print $2 }')
	R[registry.version]=$("$DOCKER_REGISTRY" --version | awk '{ print $3 }')
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-s3.XXXXXX")
	SHM=$(mktemp -d /dev/shm/berth-bench-s3.XXXXXX)

	echo "bench/s3: starting Ceph" >&2
	"$TOP/tests/s3/ceph.sh" start "$WORK/ceph" >"$WORK/ceph.out" 2>&1 ||
		{ tail "$WORK/ceph.out" >&2; die "Ceph did not start"; }
	write_config
	echo "bench/s3: writing two blobs" >&2
	BLOB1=$(make_blob "$SHM/blob1")
	BLOB2=$(make_blob "$SHM/blob2")
	python3 "$TOP/tests/clients/mkoci.py" image "$WORK/app" v1 bench \
		>/dev/null
	serve berth "$BERTH"
	serve registry "$DOCKER_REGISTRY"

	R[berth.mono_flow]=post
	R[registry.mono_flow]=post+put
	for k in berth registry; do
		echo "bench/s3: $k: push in one request" >&2
		R[$k.mono]=$(push "$k" bench/mono "$SHM/blob1" "$BLOB1" \
			"${R[$k.mono_flow]}") || die "$k: push failed"
		R[$k.hwm_mono]=$(proc_kb "$k" VmHWM)
	done
	for k in berth registry; do
		echo "bench/s3: $k: push in PATCHes" >&2
		R[$k.chunked]=$(push "$k" bench/chunked "$SHM/blob2" "$BLOB2" \
			patch) || die "$k: chunked push failed"
		R[$k.hwm]=$(proc_kb "$k" VmHWM)
	done
	for i in $(seq "$PULLS"); do
		for k in berth registry; do
			echo "bench/s3: $k: pull $i" >&2
			t=$(pull "$k")
			best=${R[$k.pull]:-$t}
			R[$k.pull]=$(calc %.6f 'a < b ? a : b' "$t" "$best")
		done
	done
	for k in berth registry; do
		R[$k.hwm_pull]=$(proc_kb "$k" VmHWM)
	done
	for k in berth registry; do
		pull "$k" check
		echo "bench/s3: $k: manifest GETs" >&2
		manifests "$k"
	done
	R[load1]=$(cut -d' ' -f1-3 /proc/loadavg)
	report
	[ "${R[berth.hwm]}" -lt "$HWM_BOUND_KB" ] || exit 2
}

main "$@"
