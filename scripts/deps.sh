#!/bin/sh
# deps.sh - installs the Debian packages berth needs, if any are missing.
#
#   scripts/deps.sh build   what `make` needs: compiler and libraries
#   scripts/deps.sh test    that, plus the real clients and tools the
#                           test suites drive (skopeo, podman, Debian's
#                           docker-registry, curl, wrk, clang, nginx,
#                           chromium)
#
# It asks dpkg what is already installed and only runs apt-get (update,
# then install) when something is missing, so a second run is silent and
# quick.  It uses sudo only when not already root.
set -eu

# libcurl4-openssl-dev gives the headers and libcurl4 itself, which berth
# loads at run time for S3 and notifications (src/curlload.c).
BUILD_PKGS="gcc make pkg-config libc6-dev libmicrohttpd-dev libjansson-dev
libyaml-dev libssl-dev libcrypt-dev libgnutls28-dev libcurl4-openssl-dev"
TEST_PKGS="$BUILD_PKGS skopeo podman docker-registry python3 curl wrk clang
nginx chromium openssl man-db systemd strace libclang-rt-14-dev
ceph-mon ceph-osd radosgw"

usage() {
	echo "usage: $0 build|test" >&2
	exit 2
}

# Prints the packages of the list given that dpkg does not report as
# fully installed.
deps_missing() {
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) ||
			status=""
		case "$status" in
		*" ok installed") ;;
		*) printf '%s\n' "$pkg" ;;
		esac
	done
}

[ $# -eq 1 ] || usage
case "$1" in
build) wanted=$BUILD_PKGS ;;
test) wanted=$TEST_PKGS ;;
*) usage ;;
esac

# shellcheck disable=SC2086 # the lists are meant to split on blanks
missing=$(deps_missing $wanted | tr '\n' ' ')
missing=${missing% }
[ -n "$missing" ] || exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

echo "deps: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	-o Dpkg::Use-Pty=0 $missing >/dev/null
