#!/usr/bin/env bash
# shellcheck disable=SC2317 # the t_ functions are called through check
# test_compat.sh - berth and Debian's docker-registry (registry:2) take
# turns on the SAME storage directory, both ways.
#
# A store written by docker-registry (pushes, a cross-repository copy, a
# delete) is served by berth and must give back every image, tag and
# repository, and not the deleted one; berth then adds an image that
# docker-registry must serve.  A store written by berth the same way is
# served by docker-registry.  Finally the files themselves: every link
# file must be "sha256:<hex>" without a newline, the tree berth writes
# must be the one docker-registry writes for the same pushes, and
# docker-registry's garbage collector must keep what berth's images use.
. "$(dirname "$0")/lib.sh"

DR=docker-registry
OTHER=$CLIENTS_SERVER		# berth, unless checking the tests themselves

$MKOCI image "$WORK/app1" v1 app1 >"$WORK/app1.json"
$MKOCI image "$WORK/app2" v1 app2 >"$WORK/app2.json"
$MKOCI image "$WORK/app3" v1 app3 >"$WORK/app3.json"
$MKOCI index "$WORK/multi" multi multi1 >"$WORK/multi.json"
APP1=$(json "$WORK/app1.json" 'j["manifest"]')
APP2=$(json "$WORK/app2.json" 'j["manifest"]')
APP3=$(json "$WORK/app3.json" 'j["manifest"]')
MULTI=$(json "$WORK/multi.json" 'j["index"]')

# serve KIND DIR CHECK... - starts KIND on DIR, or fails the CHECKs that
# needed it and returns non-zero.
serve() {
	local kind=$1 dir=$2
	shift 2

	stop_server
	start_server "$kind" "$dir" && return 0
	fail_unrun "$kind did not start on $(basename "$dir")" "$@"
	return 1
}

# The same history for either server: two images and a multi-arch index
# pushed, one image copied to another repository, one image deleted.
t_populate() {
	local d=--dest-tls-verify=false

	sk copy "$d" "oci:$WORK/app1:v1" "docker://$(reg)/test/app:1"
	sk copy "$d" "oci:$WORK/app2:v1" "docker://$(reg)/test/app:2"
	sk copy "$d" --all "oci:$WORK/multi:multi" \
		"docker://$(reg)/test/multi:1"
	sk copy "$d" --src-tls-verify=false "docker://$(reg)/test/app:1" \
		"docker://$(reg)/other/x:latest"
	sk delete --tls-verify=false "docker://$(reg)/test/app@$APP2"
}

# pull_verify REPO:TAG WANT [--all] - pulls into a fresh layout, checks
# every blob against its digest and the top manifest against WANT.
pull_verify() {
	local ref=$1 want=$2 out

	shift 2
	out=$(mktemp -d "$WORK/pull.XXXXXX")
	sk copy "$@" --src-tls-verify=false "docker://$(reg)/$ref" \
		"oci:$out:got"
	$MKOCI verify "$out" >"$out.json"
	expect_eq "$ref pulled" "$(json "$out.json" 'j["refs"]["got"]')" \
		"$want"
}

t_images() {
	pull_verify test/app:1 "$APP1"
	pull_verify other/x:latest "$APP1"
	pull_verify test/multi:1 "$MULTI" --all
	sk inspect --raw --tls-verify=false "docker://$(reg)/test/multi:1" \
		>"$WORK/raw-multi"
	cmp "$WORK/raw-multi" "$WORK/multi/blobs/sha256/${MULTI#sha256:}"
}

# list_tags REPO - the sorted tags of REPO as a JSON list.
list_tags() {
	sk list-tags --tls-verify=false "docker://$(reg)/$1" |
		json - 'sorted(j["Tags"])'
}

t_tags() {
	expect_eq "test/app tags" "$(list_tags test/app)" '["1"]'
	expect_eq "test/multi tags" "$(list_tags test/multi)" '["1"]'
	expect_eq "other/x tags" "$(list_tags other/x)" '["latest"]'
}

t_catalog() {
	curl -fsS "http://$(reg)/v2/_catalog" >"$WORK/catalog.json"
	expect_eq catalog "$(json "$WORK/catalog.json" 'j["repositories"]')" \
		'["other/x", "test/app", "test/multi"]'
}

t_deleted() {
	local code

	code=$(curl -s -o /dev/null -w '%{http_code}' \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$(reg)/v2/test/app/manifests/$APP2")
	expect_eq "status of the deleted manifest" "$code" 404
}

t_add_app3() {
	sk copy --dest-tls-verify=false "oci:$WORK/app3:v1" \
		"docker://$(reg)/test/app:3"
}

t_reads_app3() {
	pull_verify test/app:3 "$APP3"
	pull_verify test/app:1 "$APP1"
	expect_eq "test/app tags" "$(list_tags test/app)" '["1", "3"]'
}

# layout_list STORE - one line per file of the registry tree: link files
# with their exact content (escaped, so a newline would show), blob data
# files by path.  Upload sessions are left out: they are transient.
layout_list() {
	python3 - "$1/docker/registry/v2" <<-'EOF'
	import os, sys
	root = sys.argv[1]
	for dirpath, dirnames, files in os.walk(root):
	    dirnames[:] = [d for d in dirnames if d != "_uploads"]
	    for f in files:
	        path = os.path.join(dirpath, f)
	        rel = os.path.relpath(path, root)
	        if f == "link":
	            with open(path, "rb") as fh:
	                print(rel, repr(fh.read()))
	        else:
	            print(rel)
	EOF
}

# Every link file holds "sha256:<64 hex>" and nothing else; a link named
# by a digest holds that digest; every blob's data matches its name.
t_link_format() {
	python3 - "$WORK/berth-store/docker/registry/v2" <<-'EOF'
	import hashlib, os, re, sys
	root = sys.argv[1]
	bad, links, blobs = [], 0, 0
	for dirpath, dirnames, files in os.walk(root):
	    dirnames[:] = [d for d in dirnames if d != "_uploads"]
	    for f in files:
	        path = os.path.join(dirpath, f)
	        rel = os.path.relpath(path, root)
	        data = open(path, "rb").read()
	        parent = os.path.basename(dirpath)
	        if f == "link":
	            links += 1
	            if not re.fullmatch(rb"sha256:[0-9a-f]{64}", data):
	                bad.append("%s holds %r" % (rel, data))
	            elif re.fullmatch(r"[0-9a-f]{64}", parent) and \
	                    data != b"sha256:" + parent.encode():
	                bad.append("%s holds %r" % (rel, data))
	        elif f == "data" and "/blobs/sha256/" in "/" + rel:
	            blobs += 1
	            if hashlib.sha256(data).hexdigest() != parent:
	                bad.append("%s does not match its digest" % rel)
	        else:
	            bad.append("unexpected file %s" % rel)
	print("%d link files, %d blobs" % (links, blobs))
	if not links or not blobs or bad:
	    sys.exit("\n".join(bad) or "no link files or blobs found")
	EOF
}

t_layout_matches() {
	layout_list "$WORK/berth-store" | sort >"$WORK/layout-berth"
	diff -u "$WORK/layout-dr" "$WORK/layout-berth"
}

# docker-registry's garbage collector marks what the stored manifests
# reference and deletes the rest; on berth's store it must keep every
# blob of the remaining images, which are then pulled in full.
t_gc() {
	local cfg=$WORK/gc-config.yml gcstore=$WORK/gc-store

	cp -a "$WORK/berth-store" "$gcstore"
	write_dr_config "$cfg"
	env -u REGISTRY_AUTH_FILE \
		REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$gcstore" \
		docker-registry garbage-collect "$cfg" >"$WORK/gc.out" 2>&1 ||
		{ cat "$WORK/gc.out"; die "garbage-collect failed"; }
	grep -i 'eligible for deletion' "$WORK/gc.out" || true
	touch "$WORK/gc-done"
}

t_gc_pull() {
	pull_verify test/app:1 "$APP1"
	pull_verify other/x:latest "$APP1"
	pull_verify test/multi:1 "$MULTI" --all
}

READS=(images tags catalog honours-delete)

# docker-registry writes, berth reads, berth writes, docker-registry reads.
if serve $DR "$WORK/dr-store" compat-dr-populate; then
	check compat-dr-populate t_populate
	stop_server
	layout_list "$WORK/dr-store" | sort >"$WORK/layout-dr"
fi
if serve "$OTHER" "$WORK/dr-store" "${READS[@]/#/compat-berth-reads-dr-}" \
	compat-berth-writes-dr-store; then
	check compat-berth-reads-dr-images t_images
	check compat-berth-reads-dr-tags t_tags
	check compat-berth-reads-dr-catalog t_catalog
	check compat-berth-reads-dr-honours-delete t_deleted
	check compat-berth-writes-dr-store t_add_app3
fi
if serve $DR "$WORK/dr-store" compat-dr-reads-berth-additions; then
	check compat-dr-reads-berth-additions t_reads_app3
fi

# berth writes, docker-registry reads.
if serve "$OTHER" "$WORK/berth-store" compat-berth-populate; then
	check compat-berth-populate t_populate
fi
if serve $DR "$WORK/berth-store" "${READS[@]/#/compat-dr-reads-berth-}"
then
	check compat-dr-reads-berth-images t_images
	check compat-dr-reads-berth-tags t_tags
	check compat-dr-reads-berth-catalog t_catalog
	check compat-dr-reads-berth-honours-delete t_deleted
fi
stop_server

# The files on disk.
check compat-link-format t_link_format
check compat-layout-matches-dr t_layout_matches
check compat-dr-gc-on-berth-store t_gc
if [ ! -f "$WORK/gc-done" ]; then
	fail_unrun "garbage-collect failed" compat-dr-gc-keeps-berth-images
elif serve $DR "$WORK/gc-store" compat-dr-gc-keeps-berth-images; then
	check compat-dr-gc-keeps-berth-images t_gc_pull
fi
finish
