#!/usr/bin/env bash
# run.sh - berth on S3: the backend's contract, real clients (skopeo,
# podman), two berths on one bucket, a gateway restart mid-push,
# registry:2 on the same bucket and the whole black-box suite, all
# against a Ceph radosgw started on loopback (ceph.sh).
#
# Prints "PASS s3:<name>" or "FAIL s3:<name>" per check, and the
# black-box suite's own lines as "PASS s3:blackbox:<name>".  When Ceph
# cannot start, every check is reported as failed, never skipped.
# tests/s3/README says how the black-box tests read the bucket.
#
# Environment: BERTH (default ./berth), S3_LOGS (tests/artifacts/s3).
set -u

S3_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(cd "$S3_DIR/../.." && pwd)
BERTH=$(cd "$REPO_DIR" && realpath -m "${BERTH:-./berth}")
S3_LOGS=${S3_LOGS:-$REPO_DIR/tests/artifacts/s3}
MKOCI="python3 $REPO_DIR/tests/clients/mkoci.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-s3.XXXXXX")
CEPH=$WORK/ceph
PIDS=()
FAILED=0

CHECKS=(store skopeo-roundtrip two-instances-chunked
	store-restart-mid-push registry2-reads-berth berth-reads-registry2
	podman-roundtrip gc-while-pushing gc-lease-race gc-lease-takeover
	gc-lease-holder-gone blackbox)

export REGISTRY_AUTH_FILE=$WORK/auth.json
echo '{}' >"$REGISTRY_AUTH_FILE"
mkdir -p "$S3_LOGS"

stop_servers() {
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
}

cleanup() {
	stop_servers
	"$S3_DIR/ceph.sh" stop "$CEPH" >/dev/null 2>&1
	cp "$CEPH"/log/*.log "$S3_LOGS/" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# check NAME FN - runs FN in a subshell with errexit and prints a verdict.
check() {
	local name=$1 out=$WORK/check.out rc
	shift
	# Not in an if: that would switch errexit off inside the subshell.
	# The servers a check starts are known to its subshell only, which
	# stops them as it ends.
	(set -e; trap stop_servers EXIT; "$@") >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "PASS s3:$name"
	else
		echo "FAIL s3:$name"
		tail -n 20 "$out" | sed 's/^/    /'
		FAILED=$((FAILED + 1))
	fi
}

# s3_env ROOT - the variables that put a server on the bucket at ROOT.
s3_env() {
	echo REGISTRY_STORAGE=s3 \
		REGISTRY_STORAGE_S3_REGIONENDPOINT="$S3_ENDPOINT" \
		REGISTRY_STORAGE_S3_ACCESSKEY="$S3_ACCESS" \
		REGISTRY_STORAGE_S3_SECRETKEY="$S3_SECRET" \
		REGISTRY_STORAGE_S3_REGION="$S3_REGION" \
		REGISTRY_STORAGE_S3_BUCKET="$S3_BUCKET" \
		REGISTRY_STORAGE_S3_ROOTDIRECTORY="$1" \
		REGISTRY_STORAGE_S3_FORCEPATHSTYLE=true \
		REGISTRY_STORAGE_S3_SECURE=false \
		REGISTRY_STORAGE_DELETE_ENABLED=true
}

# serve KIND ROOT VAR [NAME=VALUE...] - starts berth or docker-registry
# on ROOT of the bucket, with any settings given, and stores its port in
# VAR.
serve() {
	local kind=$1 root=$2 var=$3 port log pid cmd
	shift 3
	port=$(free_port)
	log=$S3_LOGS/$kind-$port.log
	if [ "$kind" = berth ]; then
		cmd=("$BERTH" serve)
	else
		printf 'version: 0.1\nstorage:\n  s3: {}\nhttp:\n  addr: x\n' \
			>"$WORK/dr.yml"
		cmd=(docker-registry serve "$WORK/dr.yml")
	fi
	# shellcheck disable=SC2046 # s3_env gives separate words
	env -i PATH="$PATH" HOME="$WORK" $(s3_env "$root") \
		REGISTRY_HTTP_ADDR="127.0.0.1:$port" "$@" \
		"${cmd[@]}" >"$log" 2>&1 </dev/null &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" && break
		sleep 0.1
	done
	curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" ||
		{ tail "$log"; return 1; }
	printf -v "$var" '%s' "$port"
}

sk() {
	skopeo --insecure-policy "$@"
}

push() {
	sk copy --dest-tls-verify=false "oci:$WORK/$1:v1" \
		"docker://127.0.0.1:$2/$3"
}

pull_verify() {
	rm -rf "$WORK/back"
	sk copy --src-tls-verify=false "docker://127.0.0.1:$1/$2" \
		"oci:$WORK/back:v1"
	$MKOCI verify "$WORK/back"
}

t_store() {
	cc -std=gnu11 -D_GNU_SOURCE -include unistd.h -I"$REPO_DIR/src" \
		"$S3_DIR/storetest.c" $(ls "$REPO_DIR"/build/*.o |
		grep -v /main.o) $(pkg-config --libs libmicrohttpd jansson \
		yaml-0.1 libcrypto libxcrypt gnutls) \
		-lpthread -ldl -o "$WORK/storetest"
	"$WORK/storetest" | tee "$WORK/store.out"
	! grep -q ^FAIL "$WORK/store.out"
}

t_skopeo() {
	local p
	serve berth rt p
	push app1 "$p" app/one:1
	pull_verify "$p" app/one:1
	curl -fs "http://127.0.0.1:$p/v2/_catalog" | grep -q app/one
}

t_two() {
	local a b
	serve berth two a
	serve berth two b
	python3 "$S3_DIR/chunked.py" split "$a" "$b" split/blob
	push app2 "$b" split/app:1
	pull_verify "$a" split/app:1
}

t_restart() {
	local p st loc
	serve berth restart p
	loc=$(python3 "$S3_DIR/chunked.py" begin "$p" down/app)
	"$S3_DIR/ceph.sh" stop-rgw "$CEPH"
	st=$(python3 "$S3_DIR/chunked.py" patch "$p" "$loc" || true)
	"$S3_DIR/ceph.sh" start-rgw "$CEPH"
	echo "status while the gateway was down: $st"
	case "$st" in 5??) ;; *) return 1 ;; esac
	# berth says it is unavailable until its storage check passes again.
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$p/v2/" && break
		sleep 0.1
	done
	push app1 "$p" down/app:1
	pull_verify "$p" down/app:1
}

t_r2_reads() {
	local b r
	serve berth shared b
	push app1 "$b" from/berth:1
	serve docker-registry shared r
	pull_verify "$r" from/berth:1
}

t_reads_r2() {
	local b r
	serve docker-registry shared2 r
	push app2 "$r" from/registry2:1
	serve berth shared2 b
	pull_verify "$b" from/registry2:1
	curl -fs "http://127.0.0.1:$b/v2/from/registry2/tags/list" |
		grep -q '"1"'
}

# podman keeps all its state in WORK (vfs storage, no service).
pm() {
	podman --root "$WORK/podman-root" --runroot "$WORK/podman-run" \
		--tmpdir "$WORK/podman-tmp" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file "$@"
}

# An image imported from a root filesystem tar goes to berth on the
# bucket, is removed locally and pulled back: same image ID, same layer
# diff ID, same manifest digest.
t_podman() {
	local p img=localhost/berth-s3/pod:1 remote id diffid want

	[ "$(id -u)" -eq 0 ] || { echo "podman needs root here"; return 1; }
	serve berth podman p
	remote=127.0.0.1:$p/s3/pod:1
	diffid=$($MKOCI rootfs "$WORK/rootfs.tar" s3pod |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["diff_id"])')
	pm import "$WORK/rootfs.tar" "$img"
	id=$(pm image inspect --format '{{.Id}}' "$img")
	pm push --tls-verify=false --digestfile "$WORK/pod.digest" \
		"$img" "docker://$remote"
	pm rmi -a -f
	if pm image exists "$img"; then
		echo "the image is still there after rmi"
		return 1
	fi
	pm pull --tls-verify=false "docker://$remote"
	want="$id $diffid $(cat "$WORK/pod.digest")"
	diff <(echo "$want") <(pm image inspect --format \
		'{{.Id}} {{index .RootFS.Layers 0}} {{.Digest}}' "$remote")
}

# run_blackbox - the black-box suite with every berth on a fresh prefix
# of the bucket; it prints its own PASS and FAIL lines.
run_blackbox() {
	local rc

	BERTH_S3_ENDPOINT=$S3_ENDPOINT BERTH_S3_ACCESS=$S3_ACCESS \
		BERTH_S3_SECRET=$S3_SECRET BERTH_S3_BUCKET=$S3_BUCKET \
		BERTH_S3_REGION=$S3_REGION BERTH=$BERTH \
		python3 "$REPO_DIR/tests/blackbox/run.py" </dev/null 2>&1 |
		tee "$WORK/blackbox.out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		FAILED=$((FAILED + 1))
		grep -q '^FAIL ' "$WORK/blackbox.out" ||
			echo "FAIL s3:blackbox (exited with status $rc)"
	fi
}

CHECKS+=(blob-redirect blob-redirect-disabled two-instances-see-tags)

ACCEPT_MANIFESTS=(-H 'Accept: application/vnd.oci.image.manifest.v1+json'
	-H 'Accept: application/vnd.docker.distribution.manifest.v2+json')

# layer_of PORT REPO TAG - the digest of the image's first layer.
layer_of() {
	curl -fs "${ACCEPT_MANIFESTS[@]}" \
		"http://127.0.0.1:$1/v2/$2/manifests/$3" | python3 -c \
		'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])'
}

# digest_of PORT REPO TAG [GET] - where the tag points, as a HEAD (or a
# GET) tells.
digest_of() {
	local how=(-I)
	[ "${4:-}" != GET ] || how=(-o /dev/null -D -)
	curl -fs "${how[@]}" "${ACCEPT_MANIFESTS[@]}" \
		"http://127.0.0.1:$1/v2/$2/manifests/$3" |
		tr -d '\r' | sed -n 's/^docker-content-digest: //Ip'
}

# same_bytes FILE DIGEST - FILE hashes to DIGEST.
same_bytes() {
	[ "sha256:$(sha256sum <"$1" | cut -d' ' -f1)" = "$2" ]
}

# A blob GET goes to the store by a presigned URL: the exact bytes, a
# range of them, a tampered signature refused by the store itself, HEAD
# answered by berth, and skopeo following the redirects.
t_redirect() {
	local p d code url bad before
	serve berth redir p
	push app1 "$p" redir/app:1
	d=$(layer_of "$p" redir/app 1)
	read -r code url < <(curl -s -o /dev/null \
		-w '%{http_code} %{redirect_url}\n' \
		"http://127.0.0.1:$p/v2/redir/app/blobs/$d")
	echo "GET blob: $code $url"
	[ "$code" = 307 ]
	case "$url" in "$S3_ENDPOINT"/*X-Amz-Expires=1200*X-Amz-Signature=*) ;;
	*) return 1 ;; esac

	curl -fs -o "$WORK/blob" "$url"
	same_bytes "$WORK/blob" "$d"
	curl -fs -H 'Range: bytes=3-10' -o "$WORK/range" "$url"
	cmp "$WORK/range" <(tail -c +4 "$WORK/blob" | head -c 8)

	if [ "${url: -1}" = 0 ]; then bad=${url%?}1; else bad=${url%?}0; fi
	code=$(curl -s -o /dev/null -w '%{http_code}' "$bad")
	echo "tampered signature: $code"
	[ "$code" = 403 ]

	code=$(curl -s -o /dev/null -I -w '%{http_code}' \
		"http://127.0.0.1:$p/v2/redir/app/blobs/$d")
	[ "$code" = 200 ]

	# skopeo fetches the config and the layer by redirect.
	redirects() {
		grep -c 'method=GET path=/v2/redir/app/blobs/.* status=307' \
			"$S3_LOGS/berth-$p.log"
	}
	before=$(redirects)
	pull_verify "$p" redir/app:1
	[ "$(redirects)" -ge $((before + 2)) ]
}

# storage.redirect.disable: berth serves the bytes itself.
t_redirect_off() {
	local p d code
	serve berth redir-off p REGISTRY_STORAGE_REDIRECT_DISABLE=true
	push app1 "$p" redir/off:1
	d=$(layer_of "$p" redir/off 1)
	code=$(curl -s -o "$WORK/blob" -w '%{http_code}' \
		"http://127.0.0.1:$p/v2/redir/off/blobs/$d")
	echo "GET blob: $code"
	[ "$code" = 200 ]
	same_bytes "$WORK/blob" "$d"
	pull_verify "$p" redir/off:1
}

# The bound two berths on one bucket promise with an index refresh of
# REFRESH seconds: the interval plus one walk of this small bucket.
REFRESH=2
BOUND=$((REFRESH + 2))

# within PORT PATH PATTERN [absent] - polls berth's PATH until its answer
# holds PATTERN (or no longer does), failing after BOUND seconds.
within() {
	local t0=$EPOCHREALTIME body took
	while :; do
		took=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }")
		if ! body=$(curl -fs "http://127.0.0.1:$1$2"); then
			body="(no answer)"
		elif [ -z "${4:-}" ]; then
			grep -qF -- "$3" <<<"$body" && break
		else
			grep -qF -- "$3" <<<"$body" || break
		fi
		if awk "BEGIN { exit !($took > $BOUND) }"; then
			echo "$2 after ${BOUND}s: $body"
			return 1
		fi
		sleep 0.2
	done
	echo "$2 ${4:-has} $3 after ${took}s"
}

# A tag pushed, moved and deleted through one berth, as another sees it.
t_refresh() {
	local a b d1 d2 set=REGISTRY_STORAGE_MAINTENANCE_INDEX_REFRESH=${REFRESH}s
	serve berth multi a "$set"
	serve berth multi b "$set"

	push app1 "$a" multi/app:1
	within "$b" /v2/multi/app/tags/list '"1"'
	within "$b" /v2/_catalog '"multi/app"'
	d1=$(digest_of "$a" multi/app 1)
	within "$b" "/ui/api/tags?repo=multi/app" "$d1"

	push app2 "$a" multi/app:1
	d2=$(digest_of "$a" multi/app 1)
	[ -n "$d2" ] && [ "$d1" != "$d2" ]
	[ "$(digest_of "$b" multi/app 1)" = "$d2" ]
	[ "$(digest_of "$b" multi/app 1 GET)" = "$d2" ]
	within "$b" "/ui/api/tags?repo=multi/app" "$d2"

	curl -fs -X DELETE "http://127.0.0.1:$a/v2/multi/app/manifests/1"
	within "$b" /v2/multi/app/tags/list '"1"' absent
	within "$b" "/ui/api/tags?repo=multi/app" "$d2" absent
}

# Collections across two berths on one bucket: a lease of LEASE seconds
# and a grace period of GRACE, both short for the test.
LEASE=10
GRACE=8
GC_SET=("REGISTRY_STORAGE_MAINTENANCE_LEASE_DURATION=${LEASE}s"
	"REGISTRY_STORAGE_MAINTENANCE_GC_GRACEPERIOD=${GRACE}s"
	REGISTRY_STORAGE_REDIRECT_DISABLE=true)

# stop_these PID... - stops servers this check started, or finds dead, and
# forgets them, so that nothing stops them twice.
stop_these() {
	local keep=() p q gone
	for p in "${PIDS[@]}"; do
		gone=
		for q in "$@"; do [ "$p" = "$q" ] && gone=1; done
		[ -n "$gone" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
	kill "$@" 2>/dev/null || true
}

# Collections back to back on one berth while the other takes pushes,
# some reusing layers, some deleted at once: the grace period, read from
# the bucket's times, keeps what the other is pushing, every image pulls
# intact through both, and the garbage goes.
t_gc_loop() {
	local a b
	serve berth gclease a "${GC_SET[@]}"
	serve berth gclease b "${GC_SET[@]}"
	python3 "$S3_DIR/gclease.py" loop "$a" "$b" 30 "$GRACE"
	stop_these "${PIDS[@]: -2}"
}

# POST /admin/gc to two berths at once: one collects, the other answers
# 409 naming the first as the holder of the lease.
t_gc_race() {
	local a b pa pb winner holder
	serve berth gclease a "${GC_SET[@]}"
	pa=${PIDS[-1]}
	serve berth gclease b "${GC_SET[@]}"
	pb=${PIDS[-1]}
	read -r winner holder < <(python3 "$S3_DIR/gclease.py" race "$a" "$b")
	echo "winner: port $winner, holder named: pid $holder"
	if [ "$winner" = "$a" ]; then [ "$holder" = "$pa" ]; else
		[ "$winner" = "$b" ] && [ "$holder" = "$pb" ]; fi
	stop_these "$pa" "$pb"
}

# A collector killed with -9 on another machine (here: in a pid
# namespace of its own) leaves its lease: the other berth and the
# offline command are refused, naming it, until the lease expires; then
# the other takes it over and collects.
t_gc_takeover() {
	local a b pa pb out rc
	printf '#!/bin/sh\nexec unshare --pid --fork --kill-child %q "$@"\n' \
		"$BERTH" >"$WORK/berth-elsewhere"
	chmod +x "$WORK/berth-elsewhere"
	BERTH=$WORK/berth-elsewhere serve berth gclease a "${GC_SET[@]}"
	pa=${PIDS[-1]}
	serve berth gclease b "${GC_SET[@]}"
	pb=${PIDS[-1]}
	[ "$(python3 "$S3_DIR/gclease.py" post "$a" "" "$pa" | sed -n 1p)" = 202 ]
	wait "$pa" || true
	out=$(python3 "$S3_DIR/gclease.py" post "$b" wait=true)
	echo "$out"
	[ "$(head -n 1 <<<"$out")" = 409 ]
	grep -q '"holder": {"host"' <<<"$out"
	# shellcheck disable=SC2046 # s3_env gives separate words
	out=$(env -i PATH="$PATH" $(s3_env gclease) "$BERTH" \
		garbage-collect 2>&1) && rc=0 || rc=$?
	echo "$out"
	[ "$rc" = 1 ] && grep -q "another collector is running" <<<"$out"

	sleep $((LEASE + 1))
	out=$(python3 "$S3_DIR/gclease.py" post "$b" wait=true)
	[ "$(head -n 1 <<<"$out")" = 200 ]
	grep -q '"status": "done"' <<<"$out"
	grep -q "lease expired or its holder is gone, taking it over" \
		"$S3_LOGS/berth-$b.log"
	stop_these "$pa" "$pb"
}

# On the same machine a collector's death is plain at once: a berth
# killed with -9 mid-collection leaves a lease the other takes over
# without waiting for it to expire.
t_gc_holder_gone() {
	local a b pa pb out
	serve berth gclease a "${GC_SET[@]}"
	pa=${PIDS[-1]}
	serve berth gclease b "${GC_SET[@]}"
	pb=${PIDS[-1]}
	[ "$(python3 "$S3_DIR/gclease.py" post "$a" "" "$pa" | sed -n 1p)" = 202 ]
	wait "$pa" || true
	out=$(python3 "$S3_DIR/gclease.py" post "$b" wait=true)
	[ "$(head -n 1 <<<"$out")" = 200 ]
	grep -q "holder is gone, taking it over.*pid=$pa" \
		"$S3_LOGS/berth-$b.log"
	stop_these "$pa" "$pb"
}

if ! "$S3_DIR/ceph.sh" start "$CEPH" >"$WORK/ceph.out" 2>&1; then
	tail -n 20 "$WORK/ceph.out" | sed 's/^/    /'
	for c in "${CHECKS[@]}"; do
		echo "FAIL s3:$c (ceph did not start)"
	done
	exit 1
fi
set -a
# shellcheck disable=SC1091
. "$CEPH/env"
set +a

$MKOCI image "$WORK/app1" v1 s3app1 >/dev/null
$MKOCI image "$WORK/app2" v1 s3app2 >/dev/null

check store t_store
check skopeo-roundtrip t_skopeo
check two-instances-chunked t_two
check store-restart-mid-push t_restart
check registry2-reads-berth t_r2_reads
check berth-reads-registry2 t_reads_r2
check blob-redirect t_redirect
check blob-redirect-disabled t_redirect_off
check two-instances-see-tags t_refresh
check podman-roundtrip t_podman
check gc-while-pushing t_gc_loop
check gc-lease-race t_gc_race
check gc-lease-takeover t_gc_takeover
check gc-lease-holder-gone t_gc_holder_gone
run_blackbox
[ "$FAILED" -eq 0 ]
