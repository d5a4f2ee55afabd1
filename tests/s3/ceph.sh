#!/bin/bash
# ceph.sh - a single-node Ceph cluster with an S3 gateway, on loopback.
#
#   ceph.sh start DIR   makes a monitor, one OSD on a sparse file and a
#                       radosgw in DIR (which must be empty or missing),
#                       creates the user and the bucket, and writes
#                       DIR/env with S3_ENDPOINT, S3_ACCESS, S3_SECRET,
#                       S3_REGION and S3_BUCKET for the tests
#   ceph.sh stop DIR    stops every daemon started in DIR
#   ceph.sh stop-rgw DIR / start-rgw DIR
#                       stop or restart the gateway alone
#
# Everything binds to 127.0.0.1 and lives in DIR; nothing outside it is
# touched.  Authentication between the daemons is off: they are one
# machine's processes talking over loopback, and cephx would only slow
# the start.
set -eu

ACCESS=berthtestaccess
SECRET=berthtestsecretkey0123456789
REGION=us-east-1
BUCKET=berth
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

write_conf() {
	local dir=$1 monport=$2 rgwport=$3

	cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon_host = 127.0.0.1:$monport
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_cluster_mode = crc
ms_service_mode = crc
ms_client_mode = crc
ms_mon_cluster_mode = crc
ms_mon_service_mode = crc
ms_mon_client_mode = crc
ms_bind_ipv6 = false
run_dir = $dir/run
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok
pid_file = $dir/run/\$name.pid
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
mon_max_pg_per_osd = 1000
mon_data_avail_crit = 0
mon_data_avail_warn = 0
paxos_propose_interval = 0.1
osd_crush_chooseleaf_type = 0
mon_warn_on_pool_no_redundancy = false
[mon.a]
mon_data = $dir/mon
[osd.0]
osd_data = $dir/osd
osd_objectstore = bluestore
bluestore_block_path = $dir/osd/block.img
bluestore_block_create = true
bluestore_block_size = 8589934592
bluestore_fsck_on_mkfs = false
osd_memory_target = 1073741824
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$rgwport
rgw_data = $dir/rgw
rgw_dns_name = 127.0.0.1
rgw_thread_pool_size = 64
EOF
}

# wait_for SECONDS CMD... - retries CMD until it succeeds.
wait_for() {
	local n=$(($1 * 10))

	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

start_mon() {
	local dir=$1 monport=$2

	monmaptool --create --clobber --fsid "$(sed -n 's/^fsid = //p' \
		"$dir/ceph.conf")" --addv a "[v2:127.0.0.1:$monport]" \
		"$dir/monmap" >/dev/null
	ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap"
	ceph-mon -c "$dir/ceph.conf" -i a
}

start_osd() {
	local dir=$1 id

	id=$(ceph -c "$dir/ceph.conf" osd create)
	ceph-osd -c "$dir/ceph.conf" -i "$id" --mkfs 2>>"$dir/log/mkfs.log"
	ceph-osd -c "$dir/ceph.conf" -i "$id"
}

start_rgw() {
	local dir=$1

	radosgw -c "$dir/ceph.conf" -n client.rgw.a
	wait_for 60 curl -sf "http://$(cat "$dir/rgw.addr")/"
}

make_bucket() {
	local dir=$1 addr

	addr=$(cat "$dir/rgw.addr")
	radosgw-admin -c "$dir/ceph.conf" user create --uid=berth \
		--display-name=berth --access-key=$ACCESS \
		--secret=$SECRET >/dev/null
	# curl signs the empty body only when told its hash.
	curl -sf -X PUT --aws-sigv4 "aws:amz:$REGION:s3" \
		-H "x-amz-content-sha256: $EMPTY_SHA256" \
		--user "$ACCESS:$SECRET" "http://$addr/$BUCKET" >/dev/null
}

start() {
	local dir=$1 monport rgwport

	mkdir -p "$dir"
	[ -z "$(ls -A "$dir")" ] || { echo "ceph.sh: $dir is not empty" >&2
		exit 1; }
	mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd" "$dir/rgw"
	monport=$(free_port)
	rgwport=$(free_port)
	echo "127.0.0.1:$rgwport" >"$dir/rgw.addr"
	write_conf "$dir" "$monport" "$rgwport"

	start_mon "$dir" "$monport"
	wait_for 30 ceph -c "$dir/ceph.conf" --connect-timeout 2 mon stat
	start_osd "$dir"
	start_rgw "$dir"
	make_bucket "$dir"
	cat >"$dir/env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$rgwport
S3_ACCESS=$ACCESS
S3_SECRET=$SECRET
S3_REGION=$REGION
S3_BUCKET=$BUCKET
EOF
}

# kill_daemon DIR NAME - stops one daemon by its pid file and waits.
kill_daemon() {
	local pidf="$1/run/$2.pid" pid

	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidf"
}

stop() {
	local dir=$1

	kill_daemon "$dir" client.rgw.a
	kill_daemon "$dir" osd.0
	kill_daemon "$dir" mon.a
}

case "${1:-}" in
start) start "$2" ;;
stop) stop "$2" ;;
stop-rgw) kill_daemon "$2" client.rgw.a ;;
start-rgw) start_rgw "$2" ;;
*) echo "usage: ceph.sh start|stop|stop-rgw|start-rgw DIR" >&2; exit 2 ;;
esac
