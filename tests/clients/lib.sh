# shellcheck shell=bash
# lib.sh - shared by the real-client tests; sourced, not run.
#
# Gives each test script a private temporary directory, starts and stops
# registries on free loopback ports (berth, or Debian's docker-registry
# for the compatibility tests and for checking the tests themselves), and
# runs named checks that print "PASS clients:<name>" or "FAIL
# clients:<name>".  Servers and the temporary directory are removed on
# exit however the script ends.
#
# Environment:
#   BERTH           the berth binary (default ./berth)
#   CLIENTS_SERVER  "berth" (default) or "docker-registry": which server
#                   plays berth's part, so that the tests can be checked
#                   against the reference registry
#   CLIENTS_LOGS    where server logs are kept (tests/artifacts/clients)

CLIENTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CLIENTS_DIR/../.." && pwd)
BERTH=$(cd "$REPO_DIR" && realpath -m "${BERTH:-./berth}")
CLIENTS_SERVER=${CLIENTS_SERVER:-berth}
CLIENTS_LOGS=${CLIENTS_LOGS:-$REPO_DIR/tests/artifacts/clients}
export MKOCI="python3 $CLIENTS_DIR/mkoci.py"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-clients.XXXXXX")
SERVER_PID=""
SERVER_PORT=""
SERVER_LOG=""
SERVER_DEATH_TOLD=""
CHECKS_FAILED=0

# Keeps skopeo and podman away from any credentials of the user.  The
# servers are started without it: to them it would be a config override.
export REGISTRY_AUTH_FILE=$WORK/auth.json
echo '{}' >"$REGISTRY_AUTH_FILE"

mkdir -p "$CLIENTS_LOGS"

lib_cleanup() {
	local pid

	if [ -f "$WORK/pids" ]; then
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null
		done <"$WORK/pids"
	fi
	rm -rf "$WORK"
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM HUP

# die MESSAGE - ends the current check (it runs in a subshell) as failed.
die() {
	echo "$*" >&2
	exit 1
}

# check NAME FN [ARGS...] - runs FN in a subshell with errexit on and
# prints the verdict; a failure also shows the end of FN's output.
check() {
	local name=$1 out rc
	shift

	out=$WORK/check.out
	(set -e; "$@") >"$out" 2>&1
	rc=$?

	if [ "$rc" -eq 0 ]; then
		echo "PASS clients:$name"
	else
		echo "FAIL clients:$name"
		tail -n 40 "$out" | sed 's/^/  | /'
		server_gone
		CHECKS_FAILED=1
	fi
}

# server_gone - after a failure, tells whether the server died under the
# check, with the end of its log, since that is then the real story.
# Said once per server: the checks after it fail for the same reason.
server_gone() {
	[ -n "$SERVER_PID" ] && [ -z "$SERVER_DEATH_TOLD" ] || return 0
	kill -0 "$SERVER_PID" 2>/dev/null && return 0
	echo "  | the server is no longer running; the end of its log:"
	tail -n 20 "$SERVER_LOG" | sed 's/^/  | /'
	SERVER_DEATH_TOLD=1
}

# fail_unrun REASON NAME... - fails checks that cannot run because a step
# they build on failed, so that they are counted rather than forgotten.
fail_unrun() {
	local reason=$1 name
	shift

	for name in "$@"; do
		echo "FAIL clients:$name (not run: $reason)"
	done
	CHECKS_FAILED=1
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# write_dr_config FILE - a minimal config for Debian's docker-registry:
# no auth section (its packaged config has one), deletes enabled.  The
# address and root directory come from the environment at start.
write_dr_config() {
	cat >"$1" <<-'EOF'
	version: 0.1
	log:
	  level: info
	storage:
	  filesystem:
	    rootdirectory: /nonexistent
	  delete:
	    enabled: true
	  maintenance:
	    uploadpurging:
	      enabled: false
	http:
	  addr: 127.0.0.1:0
	EOF
}

# start_server KIND DIR - starts KIND ("berth" or "docker-registry") on a
# free port serving the store DIR; sets SERVER_PID, SERVER_PORT and
# SERVER_LOG.  Returns non-zero when it does not answer /v2/ in time.
start_server() {
	local kind=$1 dir=$2

	for _ in 1 2 3; do
		if start_server_once "$kind" "$dir"; then
			return 0
		fi
		stop_server
	done
	echo "$kind did not start; its log:" >&2
	tail -n 20 "$SERVER_LOG" >&2
	return 1
}

start_server_once() {
	local kind=$1 dir=$2 name
	local -a cmd unset

	case "$kind" in
	berth) cmd=("$BERTH" serve) ;;
	docker-registry)
		write_dr_config "$WORK/dr-config.yml"
		cmd=(docker-registry serve "$WORK/dr-config.yml")
		;;
	*) die "unknown server kind $kind" ;;
	esac

	SERVER_PORT=$(free_port)
	SERVER_LOG=$CLIENTS_LOGS/$(basename "$0" .sh)-$kind-$SERVER_PORT.log
	# Only the settings given here may reach the server.
	for name in $(compgen -e); do
		case "$name" in
		REGISTRY_*) unset+=(-u "$name") ;;
		esac
	done

	mkdir -p "$dir"
	env "${unset[@]}" REGISTRY_HTTP_ADDR="127.0.0.1:$SERVER_PORT" \
		REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$dir" \
		REGISTRY_STORAGE_DELETE_ENABLED=true \
		"${cmd[@]}" >"$SERVER_LOG" 2>&1 </dev/null &
	SERVER_PID=$!
	SERVER_DEATH_TOLD=""
	echo "$SERVER_PID" >>"$WORK/pids"

	for _ in $(seq 100); do
		if curl -fsS -o /dev/null --max-time 2 \
			"http://127.0.0.1:$SERVER_PORT/v2/" 2>/dev/null; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_server - stops the server started last, politely first, and waits
# for it so that the store is quiet before another server opens it.
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=""
}

# reg - the registry address skopeo and podman are given.
reg() {
	echo "127.0.0.1:$SERVER_PORT"
}

# sk ARGS... - skopeo talking plain HTTP to the loopback registry.
sk() {
	skopeo --command-timeout 120s "$@"
}

# json FILE EXPR - prints the Python expression EXPR evaluated with j =
# the JSON document in FILE ("-" for stdin).
json() {
	python3 -c 'import json, sys
f = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
j = json.load(f)
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$@"
}

# sha256_of FILE - prints "sha256:<hex>" of FILE's content.
sha256_of() {
	echo "sha256:$(sha256sum <"$1" | cut -d' ' -f1)"
}

# expect_eq WHAT GOT WANT - dies unless GOT equals WANT.
expect_eq() {
	[ "$2" = "$3" ] || die "$1: got '$2', want '$3'"
}

# finish - the script's exit status: non-zero if any check failed.
finish() {
	stop_server
	exit "$CHECKS_FAILED"
}
