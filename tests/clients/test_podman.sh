#!/usr/bin/env bash
# shellcheck disable=SC2317 # the t_ functions are called through check
# test_podman.sh - podman against berth: an image imported from a root
# filesystem tar is pushed (gzip and zstd layers), removed locally and
# pulled back, and must come back as the same image: same image ID
# (config digest), same layer diff ID, same manifest digest.
#
# podman keeps all its state in the temporary directory (vfs storage, no
# system service); no container is run.
. "$(dirname "$0")/lib.sh"

CHECKS=(podman-import podman-push podman-rmi podman-pull
	podman-pulled-image-matches podman-push-zstd)

if [ "$(id -u)" -ne 0 ]; then
	fail_unrun "podman tests need root" "${CHECKS[@]}"
	finish
fi
if ! start_server "$CLIENTS_SERVER" "$WORK/store"; then
	fail_unrun "$CLIENTS_SERVER did not start" "${CHECKS[@]}"
	finish
fi

pm() {
	podman --root "$WORK/podman-root" --runroot "$WORK/podman-run" \
		--tmpdir "$WORK/podman-tmp" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file "$@"
}

LOCAL=localhost/berth-test/pod:1
REMOTE=$(reg)/test/pod:1
$MKOCI rootfs "$WORK/rootfs.tar" pod1 >"$WORK/rootfs.json"
DIFF_ID=$(json "$WORK/rootfs.json" 'j["diff_id"]')

# inspect_field REF GO-TEMPLATE - one field of a local image.
inspect_field() {
	pm image inspect --format "$2" "$1"
}

t_import() {
	pm import "$WORK/rootfs.tar" "$LOCAL"
	inspect_field "$LOCAL" '{{.Id}}' >"$WORK/image-id"
	expect_eq "layers of the imported image" \
		"$(inspect_field "$LOCAL" '{{json .RootFS.Layers}}')" \
		"[\"$DIFF_ID\"]"
}

t_push() {
	local digest

	pm push --tls-verify=false --digestfile "$WORK/pushed-digest" \
		"$LOCAL" "docker://$REMOTE"
	digest=$(curl -fsS -o /dev/null -D - \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$(reg)/v2/test/pod/manifests/1" |
		tr -d '\r' | sed -n 's/^docker-content-digest: //Ip')
	expect_eq "manifest digest the registry reports" "$digest" \
		"$(cat "$WORK/pushed-digest")"
}

t_rmi() {
	pm rmi -a -f
	if pm image exists "$LOCAL"; then
		die "image still present after rmi"
	fi
	expect_eq "images left" "$(pm images -q | wc -l)" 0
}

t_pull() {
	pm pull --tls-verify=false "docker://$REMOTE"
	pm image exists "$REMOTE"
}

t_pulled_matches() {
	expect_eq "image ID" "$(inspect_field "$REMOTE" '{{.Id}}')" \
		"$(cat "$WORK/image-id")"
	expect_eq "layer diff IDs" \
		"$(inspect_field "$REMOTE" '{{json .RootFS.Layers}}')" \
		"[\"$DIFF_ID\"]"
	expect_eq "manifest digest" "$(inspect_field "$REMOTE" '{{.Digest}}')" \
		"$(cat "$WORK/pushed-digest")"
}

# zstd layers are opaque blobs to a registry; the image must survive the
# trip all the same, with the layer media type podman chose.  A fresh
# image, since podman would reuse the gzip layer it already pushed.
t_push_zstd() {
	local zlocal=localhost/berth-test/pod:zstd zremote types config

	zremote=$(reg)/test/pod:zstd
	$MKOCI rootfs "$WORK/rootfs2.tar" pod2 >"$WORK/rootfs2.json"
	pm import "$WORK/rootfs2.tar" "$zlocal"
	pm push --tls-verify=false --compression-format zstd \
		--digestfile "$WORK/zstd-digest" "$zlocal" "docker://$zremote"

	curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$(reg)/v2/test/pod/manifests/zstd" >"$WORK/zstd.json"
	expect_eq "zstd manifest digest" "$(sha256_of "$WORK/zstd.json")" \
		"$(cat "$WORK/zstd-digest")"
	types=$(json "$WORK/zstd.json" '[l["mediaType"] for l in j["layers"]]')
	expect_eq "layer media types" "$types" \
		'["application/vnd.oci.image.layer.v1.tar+zstd"]'
	config=$(json "$WORK/zstd.json" 'j["config"]["digest"]')

	pm rmi -a -f
	pm pull --tls-verify=false "docker://$zremote"
	expect_eq "zstd image ID" "sha256:$(inspect_field "$zremote" '{{.Id}}')" \
		"$config"
	expect_eq "zstd layer diff IDs" \
		"$(inspect_field "$zremote" '{{json .RootFS.Layers}}')" \
		"[\"$(json "$WORK/rootfs2.json" 'j["diff_id"]')\"]"
}

check podman-import t_import
check podman-push t_push
check podman-rmi t_rmi
check podman-pull t_pull
check podman-pulled-image-matches t_pulled_matches
check podman-push-zstd t_push_zstd
finish
