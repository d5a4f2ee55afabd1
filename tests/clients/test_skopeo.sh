#!/usr/bin/env bash
# shellcheck disable=SC2317 # the t_ functions are called through check
# test_skopeo.sh - skopeo against berth: push, pull back, inspect, list
# tags, copy by digest and across repositories, delete, and a multi-arch
# image index copied with --all.
#
# The images are real OCI layouts built by mkoci.py, so every digest the
# registry hands back can be compared with the one computed locally.
. "$(dirname "$0")/lib.sh"

CHECKS=(skopeo-push skopeo-repush-skips-blobs skopeo-pull-roundtrip
	skopeo-inspect skopeo-inspect-raw skopeo-list-tags
	skopeo-copy-by-digest skopeo-copy-cross-repo skopeo-delete
	skopeo-multiarch-push skopeo-multiarch-platform
	skopeo-multiarch-pull skopeo-catalog)

if ! start_server "$CLIENTS_SERVER" "$WORK/store"; then
	fail_unrun "$CLIENTS_SERVER did not start" "${CHECKS[@]}"
	finish
fi

$MKOCI image "$WORK/app1" v1 app1 >"$WORK/app1.json"
$MKOCI image "$WORK/app2" v1 app2 >"$WORK/app2.json"
$MKOCI index "$WORK/multi" multi multi1 >"$WORK/multi.json"
APP1=$(json "$WORK/app1.json" 'j["manifest"]')
APP2=$(json "$WORK/app2.json" 'j["manifest"]')
MULTI=$(json "$WORK/multi.json" 'j["index"]')

# src_blob LAYOUT DIGEST - the file holding a blob of a local layout.
src_blob() {
	echo "$WORK/$1/blobs/sha256/${2#sha256:}"
}

t_push() {
	sk copy --dest-tls-verify=false "oci:$WORK/app1:v1" \
		"docker://$(reg)/test/app:1"
	sk copy --dest-tls-verify=false "oci:$WORK/app2:v1" \
		"docker://$(reg)/test/app:2"
}

# A second push of the same image must find every blob already there
# (skopeo asks with HEAD) and upload none of them again.
t_repush() {
	local out=$WORK/repush.out n

	sk --debug copy --dest-tls-verify=false "oci:$WORK/app1:v1" \
		"docker://$(reg)/test/app:latest" >"$out" 2>&1
	n=$(grep -c 'Skipping blob .*already present' "$out" || true)
	expect_eq "layers found on the second push" "$n" 2
	n=$(grep -c 'POST http.*/blobs/uploads/' "$out" || true)
	expect_eq "uploads started on the second push" "$n" 0
}

t_pull_roundtrip() {
	local want d

	sk copy --src-tls-verify=false "docker://$(reg)/test/app:1" \
		"oci:$WORK/out1:back"
	$MKOCI verify "$WORK/out1" >"$WORK/out1.json"
	expect_eq "pulled manifest" \
		"$(json "$WORK/out1.json" 'j["refs"]["back"]')" "$APP1"

	want=$(json "$WORK/app1.json" '" ".join([j["manifest"], j["config"]]
		+ j["layers"])')
	for d in $want; do
		grep -q "\"$d\"" "$WORK/out1.json" || die "blob $d not pulled"
	done
}

t_inspect() {
	local i=$WORK/inspect.json

	sk inspect --tls-verify=false "docker://$(reg)/test/app:1" >"$i"
	expect_eq Digest "$(json "$i" 'j["Digest"]')" "$APP1"
	expect_eq Layers "$(json "$i" 'j["Layers"]')" \
		"$(json "$WORK/app1.json" 'j["layers"]')"
	expect_eq Architecture "$(json "$i" 'j["Architecture"]')" amd64
	expect_eq Os "$(json "$i" 'j["Os"]')" linux
	expect_eq label "$(json "$i" 'j["Labels"]["seed"]')" app1
}

t_inspect_raw() {
	local config

	sk inspect --raw --tls-verify=false "docker://$(reg)/test/app:1" \
		>"$WORK/raw.json"
	cmp "$WORK/raw.json" "$(src_blob app1 "$APP1")"

	config=$(json "$WORK/app1.json" 'j["config"]')
	sk inspect --raw --config --tls-verify=false \
		"docker://$(reg)/test/app:1" >"$WORK/config.json"
	cmp "$WORK/config.json" "$(src_blob app1 "$config")"
}

t_list_tags() {
	sk list-tags --tls-verify=false "docker://$(reg)/test/app" \
		>"$WORK/tags.json"
	expect_eq tags "$(json "$WORK/tags.json" 'sorted(j["Tags"])')" \
		'["1", "2", "latest"]'
	expect_eq repository "$(json "$WORK/tags.json" 'j["Repository"]')" \
		"$(reg)/test/app"
}

t_copy_by_digest() {
	sk copy --src-tls-verify=false "docker://$(reg)/test/app@$APP2" \
		"oci:$WORK/out2:bydigest"
	$MKOCI verify "$WORK/out2" >"$WORK/out2.json"
	expect_eq "manifest copied by digest" \
		"$(json "$WORK/out2.json" 'j["refs"]["bydigest"]')" "$APP2"
}

# Copying inside one registry lets skopeo mount blobs from the source
# repository; the result must be the same image under the new name.
t_copy_cross_repo() {
	sk copy --src-tls-verify=false --dest-tls-verify=false \
		"docker://$(reg)/test/app@$APP1" \
		"docker://$(reg)/test/mirror:1"
	sk inspect --raw --tls-verify=false "docker://$(reg)/test/mirror:1" \
		>"$WORK/mirror.json"
	expect_eq "mirrored manifest" "$(sha256_of "$WORK/mirror.json")" \
		"$APP1"
	sk copy --src-tls-verify=false "docker://$(reg)/test/mirror:1" \
		"oci:$WORK/out4:m"
	$MKOCI verify "$WORK/out4" >/dev/null
}

t_delete() {
	sk delete --tls-verify=false "docker://$(reg)/test/app:2"

	sk list-tags --tls-verify=false "docker://$(reg)/test/app" \
		>"$WORK/tags2.json"
	expect_eq "tags after delete" \
		"$(json "$WORK/tags2.json" 'sorted(j["Tags"])')" \
		'["1", "latest"]'
	if sk inspect --raw --tls-verify=false \
		"docker://$(reg)/test/app@$APP2" >/dev/null 2>&1; then
		die "deleted manifest $APP2 can still be fetched"
	fi
	sk inspect --raw --tls-verify=false "docker://$(reg)/test/app:1" \
		>"$WORK/after-delete.json"
	cmp "$WORK/after-delete.json" "$(src_blob app1 "$APP1")"
}

t_multiarch_push() {
	sk copy --all --dest-tls-verify=false "oci:$WORK/multi:multi" \
		"docker://$(reg)/test/multi:1"
	sk inspect --raw --tls-verify=false "docker://$(reg)/test/multi:1" \
		>"$WORK/multi-raw.json"
	cmp "$WORK/multi-raw.json" "$(src_blob multi "$MULTI")"
}

t_multiarch_platform() {
	local arch want i

	for arch in amd64 arm64; do
		i=$WORK/m-$arch.json
		want=$(json "$WORK/multi.json" \
			"[i['layers'] for i in j['images']
			  if i['arch'] == '$arch'][0]")
		sk inspect --tls-verify=false --override-os linux \
			--override-arch "$arch" \
			"docker://$(reg)/test/multi:1" >"$i"
		expect_eq "index digest" "$(json "$i" 'j["Digest"]')" "$MULTI"
		expect_eq "$arch layers" "$(json "$i" 'j["Layers"]')" "$want"
		expect_eq "$arch config" "$(json "$i" 'j["Architecture"]')" \
			"$arch"
		expect_eq "$arch label" "$(json "$i" 'j["Labels"]["seed"]')" \
			"multi1-$arch"
	done
}

t_multiarch_pull() {
	local want d

	sk copy --all --src-tls-verify=false "docker://$(reg)/test/multi:1" \
		"oci:$WORK/out3:m"
	$MKOCI verify "$WORK/out3" >"$WORK/out3.json"
	expect_eq "pulled index" "$(json "$WORK/out3.json" 'j["refs"]["m"]')" \
		"$MULTI"
	want=$(json "$WORK/multi.json" '" ".join(d for i in j["images"]
		for d in [i["manifest"], i["config"]] + i["layers"])')
	for d in $want; do
		grep -q "\"$d\"" "$WORK/out3.json" || die "blob $d not pulled"
	done
}

t_catalog() {
	curl -fsS "http://$(reg)/v2/_catalog" >"$WORK/catalog.json"
	expect_eq catalog "$(json "$WORK/catalog.json" 'j["repositories"]')" \
		'["test/app", "test/mirror", "test/multi"]'
}

check skopeo-push t_push
check skopeo-repush-skips-blobs t_repush
check skopeo-pull-roundtrip t_pull_roundtrip
check skopeo-inspect t_inspect
check skopeo-inspect-raw t_inspect_raw
check skopeo-list-tags t_list_tags
check skopeo-copy-by-digest t_copy_by_digest
check skopeo-copy-cross-repo t_copy_cross_repo
check skopeo-delete t_delete
check skopeo-multiarch-push t_multiarch_push
check skopeo-multiarch-platform t_multiarch_platform
check skopeo-multiarch-pull t_multiarch_pull
check skopeo-catalog t_catalog
finish
