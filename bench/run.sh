#!/usr/bin/env bash
# run.sh - benchmarks berth against Debian's docker-registry (registry:2,
# distribution 2.8) on this machine, same workload, same conditions.
#
#   make bench              builds ./berth, then runs this
#   bench/run.sh            uses ./berth as it is
#
# Both servers get the same config.yml (filesystem store on tmpfs under
# /dev/shm, delete enabled, log level warn, access log off), on 127.0.0.1
# only, and each request goes to one server at a time.  Both stay up from
# their start to the end of the pulls (berth idles while docker-registry's
# manifest GETs are measured), so that the pushes and pulls can take turns
# and a change in what else the machine does hits both alike.  The
# workloads, in order:
#
#   1. manifest GET by tag: one small OCI image pushed, then wrk on
#      /v2/<repo>/manifests/v1 with docker's Accept header (keep-alive);
#   2. a 1 GiB random blob pushed in one request (push.py; registry:2,
#      which ignores a POST body, gets POST then one PUT of the file),
#      two rounds in which the servers take turns, the faster push of each
#      counting; before each push, dd writes the blob into tmpfs, the
#      speed the store's filesystem allows just then;
#   3. that blob pulled with curl, five rounds in which berth,
#      docker-registry and nginx serving the same file (what curl can read
#      from loopback at all), with sendfile like berth and without like
#      docker-registry, take turns, the fastest pull of each counting;
#      one more pull from each server is checked against the digest;
#   4. catalog and tags list on a store written straight to disk in
#      registry:2's layout (mkstore.py): every page with n=100 following
#      Link, the page after 90%, and the whole tag list in one answer.
#      pager.py follows and checks every answer; the tag-list requests it
#      sent are then timed again by wrk over one keep-alive connection
#      (bench/paths.lua), since Python's own cost per answer is close to
#      berth's.  registry:2 ignores n and last on the tags list, so its
#      walk is one answer, the same as the whole list;
#   5. resident memory (VmRSS, and of it RssAnon, the memory that is the
#      process's own rather than shared library pages) idle after start
#      and after the pushes.
#
# Every answer is checked (status, sizes, digests, names); a wrong one
# stops the run.  It prints a Markdown table, workload | berth |
# docker-registry | berth advantage | target | met?, where the advantage is
# how many times better berth is (rates berth/registry, seconds and memory
# registry/berth).  Figures from a busy machine are not worth keeping: the
# header shows the load average at the start and the end.
#
# Settings (environment): BENCH_BLOB_MB (1024), BENCH_WRK_SECONDS (10),
# BENCH_WRK_THREADS (2), BENCH_WRK_CONNECTIONS (32), BENCH_REPOS (10000),
# BENCH_TAGS (10000), BENCH_LIST_SECONDS (3, each wrk run on the tags
# list), BENCH_OUT (also write the table to this file),
# BENCH_STRICT=1 (exit 2 when a target is missed), BERTH, DOCKER_REGISTRY,
# NGINX (the binaries).  Needs wrk, curl, nginx, openssl, python3
# (scripts/deps.sh test installs them) and about 6 GB free in /dev/shm.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH_DIR")
BERTH=${BERTH:-$TOP/berth}
DOCKER_REGISTRY=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
NGINX=${NGINX:-/usr/sbin/nginx}
BLOB_BYTES=$(( ${BENCH_BLOB_MB:-1024} * 1024 * 1024 ))
WRK_SECONDS=${BENCH_WRK_SECONDS:-10}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-32}
REPOS=${BENCH_REPOS:-10000}
TAGS=${BENCH_TAGS:-10000}
LIST_SECONDS=${BENCH_LIST_SECONDS:-3}
PUSHES=2
PULLS=5
PULLERS="berth registry nginx nginx_copy"
SMALL_REPO=bench/app
BIG_REPO=bench/big
ACCEPT="application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws"

WORK=""
declare -A PID ADDR	# the servers running, by kind
SRV_ADDR=""	# the server the current workload talks to
STARTED=$(date +%s.%N)

# Ends the run with MESSAGE, and the log of any server that is gone.
die() {
	local kind
	echo "bench: $*" >&2
	for kind in "${!PID[@]}"; do
		kill -0 "${PID[$kind]}" 2>/dev/null || server_died "$kind"
	done
	exit 1
}

cleanup() {
	local kind
	for kind in "${!PID[@]}"; do
		kill "${PID[$kind]}" 2>/dev/null || true
		wait "${PID[$kind]}" 2>/dev/null || true
	done
	if [ -n "$WORK" ]; then
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Appends "key=value" to the results.
put() {
	printf '%s=%s\n' "$1" "$2" >>"$WORK/results"
}

now() {
	date +%s.%N
}

# Prints the value of an arithmetic EXPRESSION over a, b and c, the
# arguments after it, with FORMAT: calc FORMAT EXPRESSION A [B [C]].
calc() {
	awk -v a="${3:-0}" -v b="${4:-0}" -v c="${5:-0}" \
		"BEGIN { printf \"$1\\n\", $2 }"
}

# Prints B - A for two `now` stamps.
elapsed() {
	calc %.6f 'b - a' "$1" "$2"
}

# Prints BYTES / SECONDS.
per_second() {
	calc %.1f 'a / b' "$1" "$2"
}

# Prints the smallest of its arguments (empty ones ignored).
least() {
	printf '%s\n' "$@" | grep . | sort -g | head -1
}

# Prints the value of NAME in a "name=value name=value" line.
field() {
	sed -n "s/.*\\<$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

sha256_of() {
	openssl dgst -sha256 -r "$1" | cut -d' ' -f1
}

# Prints a field (kB) of the status of the server KIND: proc_kb KIND
# FIELD.  A server that is gone ends the run with its log.
proc_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/${PID[$1]}/status" \
		2>/dev/null || server_died "$1"
}

# Records a proc_kb figure: proc_put KEY KIND FIELD.
proc_put() {
	local v
	v=$(proc_kb "$2" "$3")
	put "$1" "$v"
}

# Prints the CPU seconds (user + system, all threads) the server KIND has
# used.
proc_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{
		sub(/^.*\) /, "")	# the command name may hold blanks
		printf "%.2f\n", ($12 + $13) / hz }' "/proc/${PID[$1]}/stat" \
		2>/dev/null || server_died "$1"
}

check_tools() {
	local t
	for t in "$BERTH" "$DOCKER_REGISTRY" "$NGINX" wrk curl openssl \
		python3; do
		command -v "$t" >/dev/null ||
			die "$t is missing (scripts/deps.sh test installs it)"
	done
}

check_space() {
	local avail need
	avail=$(df --output=avail -B1 /dev/shm | tail -1)
	need=$(( 5 * BLOB_BYTES + 512 * 1024 * 1024 ))
	[ "$avail" -ge "$need" ] ||
		die "/dev/shm has $avail bytes free, the run needs $need"
}

machine_describe() {
	put nproc "$(nproc)"
	put cpu "$(awk -F': ' '/^model name/ { print $2; exit }' \
		/proc/cpuinfo)"
	put kernel "$(uname -r)"
	put load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
	put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
	put berth_version "$("$BERTH" --version)"
	put berth_rev "$(git -C "$TOP" describe --always --dirty 2>/dev/null ||
		echo unknown)"
	put registry_version "docker-registry $("$DOCKER_REGISTRY" --version |
		awk '{ print $NF }')"
	put wrk_version "wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')"
	put curl_version "$(curl --version | awk 'NR == 1 { print $2 }')"
	put nginx_version "$("$NGINX" -v 2>&1 | sed 's|.*/||')"
	put python_version "$(python3 -c 'import platform
print(platform.python_version())')"
}

# Writes the config.yml both servers read: registry:2's keys, which berth
# takes as they are.
config_write() {
	local file=$1 root=$2 port=$3
	cat >"$file" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
}

# Starts KIND (berth or registry) on the store ROOT and waits for its
# /v2/ to answer 200.  Sets PID[KIND], ADDR[KIND], SRV_ADDR and
# SRV_READY_S (seconds from the start to that first 200).
server_start() {
	local kind=$1 root=$2 port cfg bin t0 code pid
	port=$(free_port)
	cfg="$WORK/$kind.yml"
	config_write "$cfg" "$root" "$port"
	bin=$BERTH
	[ "$kind" = registry ] && bin=$DOCKER_REGISTRY

	t0=$(now)
	env -u REGISTRY_CONFIGURATION_PATH "$bin" serve "$cfg" \
		>>"$WORK/$kind.log" 2>&1 &
	pid=$!
	SRV_ADDR=127.0.0.1:$port
	PID[$kind]=$pid
	ADDR[$kind]=$SRV_ADDR
	for _ in $(seq 3000); do
		server_alive "$kind"
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
			"http://$SRV_ADDR/v2/" || true)
		if [ "$code" = 200 ]; then
			SRV_READY_S=$(elapsed "$t0" "$(now)")
			return 0
		fi
		sleep 0.01
	done
	die "$kind did not answer on $SRV_ADDR within 30 s"
}

server_died() {
	echo "bench: $1 exited; the end of its log:" >&2
	tail -20 "$WORK/$1.log" >&2
	unset "PID[$1]"
	exit 1
}

server_alive() {
	kill -0 "${PID[$1]}" 2>/dev/null || server_died "$1"
}

server_stop() {
	kill -TERM "${PID[$1]}" 2>/dev/null || true
	wait "${PID[$1]}" 2>/dev/null || true
	unset "PID[$1]" "ADDR[$1]"
}

# Pushes FILE as a blob of REPO to the registry at ADDR; prints
# "seconds=... status=... flow=...":  blob_push ADDR REPO FILE HEX.
blob_push() {
	python3 "$BENCH_DIR/push.py" "$1" "$2" "$3" "sha256:$4" ||
		die "push of $3 to $1 failed"
}

# Writes a one-layer OCI image into $WORK/img and prints its manifest's
# digest.  The same bytes go to both servers.
image_make() {
	local d="$WORK/img" cdig ldig diff
	mkdir -p "$d/root"
	printf 'berth bench\n' >"$d/root/hello.txt"
	tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$d/root" \
		-cf "$d/layer.tar" hello.txt
	gzip -n -c "$d/layer.tar" >"$d/layer.tgz"
	diff=$(sha256_of "$d/layer.tar")
	printf '%s%s%s' '{"architecture":"amd64","os":"linux",' \
		'"rootfs":{"type":"layers","diff_ids":' \
		'["sha256:'"$diff"'"]}}' >"$d/config.json"
	cdig=$(sha256_of "$d/config.json")
	ldig=$(sha256_of "$d/layer.tgz")
	cat >"$d/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
"config":{"mediaType":"application/vnd.oci.image.config.v1+json",\
"digest":"sha256:$cdig","size":$(stat -c %s "$d/config.json")},\
"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",\
"digest":"sha256:$ldig","size":$(stat -c %s "$d/layer.tgz")}]}
EOF
	echo "$cdig $ldig $(sha256_of "$d/manifest.json")"
}

# Pushes the image into the running server and checks a GET by tag with
# docker's Accept header returns it.
image_push() {
	local d="$WORK/img" cdig=$1 ldig=$2 mdig=$3 code got
	blob_push "$SRV_ADDR" "$SMALL_REPO" "$d/config.json" "$cdig" >/dev/null
	blob_push "$SRV_ADDR" "$SMALL_REPO" "$d/layer.tgz" "$ldig" >/dev/null
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary "@$d/manifest.json" \
		"http://$SRV_ADDR/v2/$SMALL_REPO/manifests/v1")
	[ "$code" = 201 ] || die "manifest PUT answered $code"

	got=$(curl -s -H "Accept: $ACCEPT" \
		"http://$SRV_ADDR/v2/$SMALL_REPO/manifests/v1" |
		openssl dgst -sha256 -r | cut -d' ' -f1)
	[ "$got" = "$mdig" ] || die "manifest GET by tag returned other bytes"
}

# Runs wrk on the manifest by tag; records requests/s.  A short warm-up
# run first, so neither server is measured while still faulting in pages.
manifest_bench() {
	local kind=$1 url out rps cpu0 cpu1 n
	url="http://$SRV_ADDR/v2/$SMALL_REPO/manifests/v1"
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d1s -H "Accept: $ACCEPT" \
		"$url" >/dev/null
	out="$WORK/$kind.wrk"
	cpu0=$(proc_cpu "$kind")
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" \
		-H "Accept: $ACCEPT" "$url" >"$out"
	cpu1=$(proc_cpu "$kind")
	if grep -q -e 'Non-2xx' -e 'Socket errors' "$out"; then
		cat "$out" >&2
		die "wrk saw errors from $kind"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	[ -n "$rps" ] || die "no Requests/sec in wrk's output"
	put "$kind.wrk_rps" "$rps"
	n=$(awk '/requests in/ { print $1 }' "$out")
	put "$kind.wrk_cpu_s" "$(calc %.9f '(b - a) / c' \
		"$cpu0" "$cpu1" "$n")"
	server_alive "$kind"
}

# Writes the blob into a new tmpfs file with dd and prints the seconds:
# what the store's filesystem can absorb just then.  Deleting the copy
# right away also leaves both servers the same warm pages to write into;
# in a virtual machine, pages the host has not backed yet cost several
# times the copy itself.
tmpfs_write() {
	local t0 s
	t0=$(now)
	dd if="$WORK/www/blob" of="$WORK/tmpfs-probe" bs=1M 2>/dev/null
	s=$(elapsed "$t0" "$(now)")
	rm -f "$WORK/tmpfs-probe"
	echo "$s"
}

# Workload 2: PUSHES rounds in which berth and docker-registry take turns
# pushing the big blob, each push into a repository of its own and after
# a tmpfs write.  Records each server's fastest push (seconds, GB/s, how it
# was sent), the fastest tmpfs write before it and the server's CPU
# seconds per push, which is what a loaded machine disturbs least.
pushes_compare() {
	local kind i out s dd cpu0 cpu1
	local -A best ddbest cpu flow
	for i in $(seq "$PUSHES"); do
		for kind in berth registry; do
			dd=$(tmpfs_write)
			cpu0=$(proc_cpu "$kind")
			out=$(blob_push "${ADDR[$kind]}" "$BIG_REPO$i" \
				"$WORK/www/blob" "$BLOB_DIGEST")
			cpu1=$(proc_cpu "$kind")
			cpu[$kind]=$(calc %.2f 'a + c - b' "${cpu[$kind]:-0}" \
				"$cpu0" "$cpu1")
			s=$(field seconds "$out")
			best[$kind]=$(least "$s" "${best[$kind]:-}")
			ddbest[$kind]=$(least "$dd" "${ddbest[$kind]:-}")
			flow[$kind]=$(field flow "$out")
		done
	done
	for kind in berth registry; do
		s=${best[$kind]}
		put "$kind.push_s" "$s"
		put "$kind.push_bps" "$(per_second "$BLOB_BYTES" "$s")"
		put "$kind.push_flow" "${flow[$kind]}"
		put "$kind.push_cpu_s" \
			"$(calc %.2f 'a / b' "${cpu[$kind]}" "$PUSHES")"
		put "$kind.tmpfs_bps" \
			"$(per_second "$BLOB_BYTES" "${ddbest[$kind]}")"
		server_alive "$kind"
		proc_put "$kind.rss_push_kb" "$kind" VmRSS
		proc_put "$kind.anon_push_kb" "$kind" RssAnon
	done
}

# Pulls URL once with curl into /dev/null; prints the seconds.  The pull
# must be a 200 of exactly the blob's size.
pull_once() {
	local url=$1 out code size s
	out=$(curl -s -o /dev/null \
		-w '%{http_code} %{size_download} %{time_total}' "$url")
	read -r code size s <<<"$out"
	[ "$code" = 200 ] || die "GET $url answered $code"
	[ "$size" = "$BLOB_BYTES" ] ||
		die "GET $url gave $size bytes, not $BLOB_BYTES"
	echo "$s"
}

blob_url() {
	if [ "${1#nginx}" != "$1" ]; then
		echo "http://${ADDR[$1]}/blob"
	else
		local blob="${BIG_REPO}1/blobs/sha256:$BLOB_DIGEST"
		echo "http://${ADDR[$1]}/v2/$blob"
	fi
}

# Workload 3: berth, docker-registry and nginx with and without sendfile
# take turns, PULLS rounds, so that a change in what else the machine
# does hits all alike.
# Records each one's fastest pull, and the servers' CPU seconds per pull;
# then one untimed pull from each server is checked against the digest.
pulls_compare() {
	local kind s got cpu1
	local -A best cpu0
	for kind in berth registry; do
		cpu0[$kind]=$(proc_cpu "$kind")
	done
	for _ in $(seq "$PULLS"); do
		for kind in $PULLERS; do
			s=$(pull_once "$(blob_url "$kind")")
			best[$kind]=$(least "$s" "${best[$kind]:-}")
		done
	done
	for kind in berth registry; do
		cpu1=$(proc_cpu "$kind")
		put "$kind.pull_cpu_s" "$(calc %.3f '(b - a) / c' \
			"${cpu0[$kind]}" "$cpu1" "$PULLS")"
	done
	for kind in $PULLERS; do
		s=${best[$kind]}
		put "$kind.pull_s" "$s"
		put "$kind.pull_bps" "$(per_second "$BLOB_BYTES" "$s")"
	done
	for kind in berth registry; do
		got=$(curl -s "$(blob_url "$kind")" | openssl dgst -sha256 -r |
			cut -d' ' -f1)
		[ "$got" = "$BLOB_DIGEST" ] ||
			die "$kind returned other blob bytes"
	done
}

# Workload 1, and memory at rest, against one fresh server on an empty
# store.  The server stays up for the pushes and pulls.
blob_group() {
	local kind=$1 store="$WORK/store-$1"
	mkdir -p "$store"
	server_start "$kind" "$store"
	sleep 1
	proc_put "$kind.rss_idle_kb" "$kind" VmRSS
	proc_put "$kind.anon_idle_kb" "$kind" RssAnon

	# shellcheck disable=SC2086 # three digests, split on purpose
	image_push $IMAGE
	manifest_bench "$kind"
}

# Runs pager.py; records its seconds (and, for KEY_requests/_entries,
# how many requests and names one repetition took).  The paths it
# requested go to $WORK/KIND.KEY.paths for wrk_paths.
pager() {
	local kind=$1 key=$2 out
	shift 2
	out=$(python3 "$BENCH_DIR/pager.py" "$@" \
		--paths "$WORK/$kind.$key.paths") ||
		die "$kind: listing check failed: $*"
	put "$kind.${key}_s" "$(field seconds "$out")"
	put "$kind.${key}_requests" "$(field requests "$out")"
	put "$kind.${key}_entries" "$(field entries "$out")"
}

# Sends the requests pager.py made for KEY again and again with wrk, one
# connection, for LIST_SECONDS, and records the seconds one pass over them
# takes (the mean: requests in the pass divided by requests per second)
# as KIND.NEW_KEY_s: wrk_paths KIND KEY NEW_KEY.
wrk_paths() {
	local kind=$1 paths="$WORK/$1.$2.paths" out rps n
	out=$(wrk -t1 -c1 -d"${LIST_SECONDS}s" -s "$BENCH_DIR/paths.lua" \
		"http://$SRV_ADDR" -- "$paths")
	if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
		echo "$out" >&2
		die "wrk saw errors from $kind on $paths"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	[ -n "$rps" ] || die "no Requests/sec in wrk's output"
	n=$(grep -c . "$paths")
	put "$kind.${3}_s" "$(calc %.9f 'b / a' "$rps" "$n")"
}

# Workload 4 against one fresh server on the listing store.
list_group() {
	local kind=$1 store="$WORK/list" tr="/v2/$TAGS_REPO/tags/list"
	local tag_last tag_next repo_next
	tag_last=$(printf 't%05d' $(( TAGS * 9 / 10 - 1 )))
	tag_next=$(printf 't%05d' $(( TAGS * 9 / 10 )))
	repo_next=$(printf 'lib/r%05d' $(( REPOS * 9 / 10 )))

	server_start "$kind" "$store"
	put "$kind.list_ready_s" "$SRV_READY_S"
	pager "$kind" catalog_walk walk "$SRV_ADDR" '/v2/_catalog?n=100' \
		repositories "$REPOS"
	pager "$kind" catalog_page get "$SRV_ADDR" \
		"/v2/_catalog?n=100&last=$LAST_REPO" repositories "$repo_next"
	pager "$kind" tags_walk_py walk "$SRV_ADDR" "$tr?n=100" tags "$TAGS"
	pager "$kind" tags_page_py get "$SRV_ADDR" \
		"$tr?n=100&last=$tag_last" tags "$tag_next"
	pager "$kind" tags_all_py get "$SRV_ADDR" "$tr" tags "$tag_last"
	wrk_paths "$kind" tags_walk_py tags_walk
	wrk_paths "$kind" tags_page_py tags_page
	wrk_paths "$kind" tags_all_py tags_all
	server_alive "$kind"
	server_stop "$kind"
}

# Starts nginx as KIND serving the blob file, with sendfile on or off:
# nginx_start KIND on|off.  With sendfile it shows what curl reads from
# loopback at all when the server sends from the page cache, as berth
# does; without it, when the server copies through a buffer, as
# docker-registry does.  The two differ: with sendfile, the client's copy
# out of the socket is the first to read the file's pages.
nginx_start() {
	local kind=$1 port dir="$WORK/$1"
	port=$(free_port)
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $WORK/$kind.log warn;
events { worker_connections 64; }
http {
	access_log off;
	sendfile $2;
	tcp_nopush on;
	output_buffers 2 256k;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	server {
		listen 127.0.0.1:$port;
		root $WORK/www;
	}
}
EOF
	"$NGINX" -p "$dir" -e "$WORK/$kind.log" -c "$dir/nginx.conf" &
	PID[$kind]=$!
	ADDR[$kind]=127.0.0.1:$port
	for _ in $(seq 500); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		server_alive "$kind"
		sleep 0.01
	done
	die "$kind did not answer on 127.0.0.1:$port within 5 s"
}

# One core's SHA-256 speed as openssl measures it, in bytes/s.
sha256_speed() {
	openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null |
		awk '$1 == "sha256" { v = $2 } END { sub(/k$/, "", v);
			printf "%.0f\n", v * 1000 }'
}

main() {
	local t0 out
	check_tools
	check_space
	WORK=$(mktemp -d /dev/shm/berth-bench.XXXXXX)
	: >"$WORK/results"
	machine_describe
	put blob_bytes "$BLOB_BYTES"
	put repos "$REPOS"
	put tags "$TAGS"
	put wrk_args "-t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECONDS}s"

	echo "bench: SHA-256 speed of one core (openssl speed)" >&2
	put sha256_bps "$(sha256_speed)"

	echo "bench: writing a $BLOB_BYTES-byte random blob" >&2
	mkdir -p "$WORK/www"
	openssl rand -out "$WORK/www/blob" "$BLOB_BYTES"
	BLOB_DIGEST=$(sha256_of "$WORK/www/blob")
	IMAGE=$(image_make)

	for kind in berth registry; do
		echo "bench: $kind: manifest GET" >&2
		blob_group "$kind"
	done
	echo "bench: blob pushes, berth and docker-registry in turn" >&2
	pushes_compare
	echo "bench: blob pulls, berth, docker-registry and nginx in turn" >&2
	nginx_start nginx on
	nginx_start nginx_copy off
	pulls_compare
	for kind in berth registry; do
		server_alive "$kind"
		proc_put "$kind.hwm_kb" "$kind" VmHWM
		server_stop "$kind"
		rm -rf "$WORK/store-$kind"
	done
	server_stop nginx
	server_stop nginx_copy

	echo "bench: writing $REPOS repositories and $TAGS tags" >&2
	t0=$(now)
	out=$(python3 "$BENCH_DIR/mkstore.py" "$WORK/list" "$REPOS" "$TAGS")
	TAGS_REPO=$(sed -n 's/^tags_repo=//p' <<<"$out")
	LAST_REPO=$(sed -n 's/^last_before=//p' <<<"$out")
	echo "bench: store written in $(elapsed "$t0" "$(now)") s" >&2
	for kind in berth registry; do
		echo "bench: $kind: catalog and tags list" >&2
		list_group "$kind"
	done

	put load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
	put elapsed "$(printf '%.0f' "$(elapsed "$STARTED" "$(now)")")"
	echo >&2
	python3 "$BENCH_DIR/report.py" "$WORK/results" >"$WORK/report.md"
	cat "$WORK/report.md"
	if [ -n "${BENCH_OUT:-}" ]; then
		cp "$WORK/report.md" "$BENCH_OUT"
	fi
	if [ "${BENCH_STRICT:-0}" = 1 ]; then
		python3 "$BENCH_DIR/report.py" --strict "$WORK/results" \
			>/dev/null || exit 2
	fi
	more_benches
}

# The figures other parts of berth answer for, each script printing its
# own: logins against anonymous pulls, the web UI's pages on a large
# store, and garbage collection against docker-registry's.
more_benches() {
	local b

	for b in auth ui gc; do
		echo
		echo "== bench/$b.sh"
		"$BENCH_DIR/$b.sh" || echo "bench/$b.sh failed" >&2
	done
}

main "$@"
