#!/usr/bin/env bash
# test_install.sh - checks what `make install` puts on a machine and that
# it works there: the tree and its modes, both man pages, the systemd unit
# (systemd-analyze verify, its sandboxing score, and that berth makes no
# system call the unit's filter would refuse), the sysusers entry, the
# example configuration, as shipped and with every optional setting
# turned on, and the settings of the compose file.
#
# Prints "PASS install:<name>" or "FAIL install:<name>" per check, and
# "SKIP install:<name> (why)" when a tool it needs is missing.  Servers
# listen on 127.0.0.1 only and are stopped, and the temporary directory
# removed, however the script ends.  Exits 1 when a check failed.
#
# Environment: MAKE (default make).
set -u

cd "$(dirname "$0")/../.." || exit 1
REPO=$(pwd)
MAKE=${MAKE:-make}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-install.XXXXXX")
DEST=$WORK/dest
FAILED=0
SERVER_PID=""	# what was started: berth, or strace running it
BERTH_PID=""	# berth itself
RECEIVER_PID=""	# the events receiver of the full example

cleanup() {
	[ -z "$SERVER_PID" ] || kill -KILL "$SERVER_PID" 2>/dev/null
	[ -z "$RECEIVER_PID" ] || kill -KILL "$RECEIVER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# check NAME FN - runs FN in a subshell with errexit on and prints the
# verdict; a failure also shows the end of what FN printed.
check() {
	local name=$1 fn=$2 out=$WORK/check.out

	if (set -e; "$fn") >"$out" 2>&1; then
		echo "PASS install:$name"
	else
		echo "FAIL install:$name"
		tail -n 30 "$out" | sed 's/^/    /'
		FAILED=1
	fi
}

skip() {
	echo "SKIP install:$1 ($2)"
}

die() {
	echo "$*" >&2
	exit 1
}

# ---- helpers ------------------------------------------------------------

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# mode PATH - prints the permission bits in octal.
mode() {
	stat -c %a "$1"
}

# child_of PID - prints the process whose parent is PID.
child_of() {
	python3 -c 'import os, sys
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open("/proc/%s/stat" % p).read()
    except OSError:
        continue
    if stat.rsplit(")", 1)[1].split()[1] == sys.argv[1]:
        print(p)' "$1"
}

# start_server LOG CONFIG [STRACE_OUT] - starts the installed berth with
# CONFIG, under strace when STRACE_OUT is given, and waits until it
# accepts connections on $PORT.  Environment variables set by the caller
# reach it.
start_server() {
	local log=$1 config=$2 trace=${3:-}
	local bin=$DEST/usr/bin/berth

	if [ -n "$trace" ]; then
		strace -f -qq -o "$trace" "$bin" serve "$config" \
			>"$log" 2>&1 &
	else
		"$bin" serve "$config" >"$log" 2>&1 &
	fi
	SERVER_PID=$!
	BERTH_PID=$SERVER_PID
	for _ in $(seq 1 200); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			cat "$log"
			die "berth exited during start-up"
		fi
		if python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
			"$PORT" 2>/dev/null; then
			# strace stops its tracee and detaches on SIGTERM;
			# the signal must reach berth.
			[ -z "$trace" ] || BERTH_PID=$(child_of "$SERVER_PID")
			[ -n "$BERTH_PID" ] || die "berth's process not found"
			return 0
		fi
		sleep 0.05
	done
	cat "$log"
	die "berth did not listen on 127.0.0.1:$PORT"
}

# stop_server LOG - SIGTERM, then expects a clean exit with status 0.
stop_server() {
	local log=$1 rc=0

	kill -TERM "$BERTH_PID"
	wait "$SERVER_PID" || rc=$?
	SERVER_PID=""
	[ "$rc" -eq 0 ] || { cat "$log"; die "berth exited with $rc"; }
}

# quiet_log LOG - fails when the log has a warning or an error: an
# example that draws one is not a good example.
quiet_log() {
	if grep -E 'level=(warn|error)' "$1"; then
		die "the example configuration draws warnings or errors"
	fi
}

sha256() {
	sha256sum "$1" | cut -d' ' -f1
}

# push_pull URL CURL_ARGS... - pushes a small image to URL (the base of
# the API, ending in /v2) as the user CURL_ARGS give, pulls it back and
# compares, then deletes it.
push_pull() {
	local base=$1 layer=$WORK/layer config=$WORK/config manifest
	local ld cd md code fmt
	shift

	head -c 70000 /dev/urandom >"$layer"
	echo '{"architecture":"amd64","os":"linux"}' >"$config"
	ld=sha256:$(sha256 "$layer")
	cd=sha256:$(sha256 "$config")
	for f in "$layer" "$config"; do
		code=$(curl -sS -o /dev/null -w '%{http_code}' "$@" \
			-X POST --data-binary "@$f" \
			-H 'Content-Type: application/octet-stream' \
			"$base/team-a/app/blobs/uploads/?digest=sha256:$(sha256 "$f")")
		[ "$code" = 201 ] || die "blob push answered $code"
	done

	manifest=$WORK/manifest
	fmt='{"schemaVersion":2,"mediaType":"%s",'
	fmt+='"config":{"mediaType":"%s","digest":"%s","size":%d},'
	fmt+='"layers":[{"mediaType":"%s","digest":"%s","size":%d}]}'
	# shellcheck disable=SC2059 # the format is built just above
	printf "$fmt" \
		application/vnd.oci.image.manifest.v1+json \
		application/vnd.oci.image.config.v1+json "$cd" \
		"$(stat -c %s "$config")" \
		application/vnd.oci.image.layer.v1.tar+gzip "$ld" \
		"$(stat -c %s "$layer")" >"$manifest"
	md=sha256:$(sha256 "$manifest")
	code=$(curl -sS -o /dev/null -w '%{http_code}' "$@" -X PUT \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary "@$manifest" "$base/team-a/app/manifests/1")
	[ "$code" = 201 ] || die "manifest push answered $code"

	curl -sSf "$@" -o "$WORK/pulled" \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"$base/team-a/app/manifests/1"
	cmp "$manifest" "$WORK/pulled"
	curl -sSf "$@" -o "$WORK/pulled" "$base/team-a/app/blobs/$ld"
	cmp "$layer" "$WORK/pulled"
	curl -sSf "$@" "$base/team-a/app/tags/list" | grep -q '"1"'
	curl -sSf "$@" "$base/_catalog" | grep -q 'team-a/app'

	code=$(curl -sS -o /dev/null -w '%{http_code}' "$@" -X DELETE \
		"$base/team-a/app/manifests/$md")
	[ "$code" = 202 ] || die "manifest delete answered $code"
}

# ---- checks -------------------------------------------------------------

EXPECTED_TREE="usr/bin/berth 755
usr/lib/systemd/system/berth.service 644
usr/lib/sysusers.d/berth.conf 644
usr/share/doc/berth/config.example.yml 644
usr/share/doc/berth/configuration.md 644
usr/share/doc/berth/migrating.md 644
usr/share/doc/berth/operations.md 644
usr/share/man/man1/berth.1 644
usr/share/man/man5/berth-config.5 644"

# The staged tree is exactly the expected files with the expected modes,
# nothing outside PREFIX (no /etc, no /var), and the binary runs.
check_tree() {
	local got

	got=$(cd "$DEST" && find . -type f -printf '%P %m\n' | sort)
	if [ "$got" != "$EXPECTED_TREE" ]; then
		printf 'expected:\n%s\ngot:\n%s\n' "$EXPECTED_TREE" "$got"
		exit 1
	fi
	(cd "$DEST" && find . -mindepth 1 -type d -printf '%P %m\n') |
		while read -r dir m; do
			[ "$m" = 755 ] || die "directory /$dir has mode $m"
		done
	[ "$("$DEST/usr/bin/berth" --version)" = "berth $(cat VERSION)" ]
}

# The unit starts the installed binary with the config under /etc.
check_unit_paths() {
	local unit=$DEST/usr/lib/systemd/system/berth.service

	grep -qx 'ExecStart=/usr/bin/berth serve /etc/berth/config.yml' \
		"$unit"
	diff <(sed 's|^ExecStart=/usr/bin/berth |ExecStart=X |' "$unit") \
		<(sed 's|^ExecStart=/usr/bin/berth |ExecStart=X |' \
			contrib/systemd/berth.service)
}

# With the default PREFIX everything goes under /usr/local, and the
# unit names that binary; uninstall removes every file again.
check_local_prefix() {
	local d=$WORK/local

	env -u PREFIX $MAKE --no-print-directory -s install DESTDIR="$d" \
		>/dev/null
	[ -x "$d/usr/local/bin/berth" ]
	[ -f "$d/usr/local/share/man/man5/berth-config.5" ]
	grep -qx 'ExecStart=/usr/local/bin/berth serve /etc/berth/config.yml' \
		"$d/usr/local/lib/systemd/system/berth.service"
	[ -z "$(find "$d" -path "$d/usr/local" -prune -o -type f -print)" ]

	env -u PREFIX $MAKE --no-print-directory -s uninstall DESTDIR="$d" \
		>/dev/null
	if [ -n "$(find "$d" -type f)" ]; then
		find "$d" -type f
		die "uninstall left files behind"
	fi
}

# man_page FILE - renders without a single groff warning, within 80
# columns, and has the sections a reader looks for.
man_page() {
	local page=$1 text warnings

	warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	[ -z "$warnings" ] || die "groff warnings: $warnings"
	text=$(MANWIDTH=80 MAN_KEEP_FORMATTING=0 man -l "$page" 2>/dev/null |
		col -b)
	for section in NAME SYNOPSIS DESCRIPTION 'SEE ALSO'; do
		grep -qx "$section" <<<"$text" ||
			die "no $section section"
	done
	python3 -c 'import sys
wide = [l for l in sys.stdin.read().splitlines() if len(l) > 80]
print("\n".join(wide))
sys.exit(1 if wide else 0)' <<<"$text"
}

check_man_berth() {
	man_page "$DEST/usr/share/man/man1/berth.1"
}

check_man_config() {
	man_page "$DEST/usr/share/man/man5/berth-config.5"
}

# Prints the keys of src/config.c's table that set something, one a
# line: KEY and KEY_ARG rows and the written-out rows with a field.
config_keys() {
	python3 - <<'EOF'
import re
src = open("src/config.c").read()
table = re.search(r"config_keys\[\] = \{(.*?)\n\};", src, re.S).group(1)
for m in re.finditer(r'(KEY|KEY_ARG|NOKEY)\("([^"]+)"|\{"([^"]+)",[^}]*?'
                     r'(NOFIELD|FIELD)', table):
    if m.group(1) in ("KEY", "KEY_ARG"):
        print(m.group(2))
    elif m.group(4) == "FIELD":
        print(m.group(3))
EOF
}

# Every key berth reads is described in berth-config(5).
check_man_keys() {
	local page=docs/man/berth-config.5 key missing=""

	[ -n "$(config_keys)" ] || die "no keys found in src/config.c"
	for key in $(config_keys); do
		grep -qF -- "$key" "$page" || missing="$missing $key"
	done
	[ -z "$missing" ] || die "not in $page:$missing"
}

# example_full OUT - the example with every optional setting turned on:
# lines of '#' followed by a YAML key or list item at the indentation
# it would have (prose comments have one space after the '#').
example_full() {
	sed -E 's/^( *)#((  )*)([A-Za-z_-]+:( |$)|- )/\1\2\4/' \
		contrib/config.example.yml >"$1"
}

# Every key berth reads, other than those it accepts without effect, is
# in the example with every optional setting on.
check_example_keys() {
	local full=$WORK/full-keys.yml missing=""

	example_full "$full"
	python3 - "$full" >"$WORK/example-keys" <<'EOF'
import re, sys
stack = []
for line in open(sys.argv[1]):
    m = re.match(r"( *)([A-Za-z_-]+):", line)
    if not m or line.lstrip().startswith("#"):
        continue
    depth = len(m.group(1)) // 2
    stack = stack[:depth] + [m.group(2)]
    print(".".join(stack))
EOF
	for key in $(config_keys); do
		case $key in
		storage.s3.*) continue ;;	# the other driver, shown commented
		esac
		grep -qx -- "$key" "$WORK/example-keys" ||
			grep -qx -- "$key\..*" "$WORK/example-keys" ||
			missing="$missing $key"
	done
	[ -z "$missing" ] || die "not in contrib/config.example.yml:$missing"
}

# The example as shipped: berth starts with it without a warning, and a
# push, pull and delete work (delete switched on from the environment).
check_example() {
	local conf=$WORK/example.yml log=$WORK/example.log trace=""

	sed "s|/var/lib/registry|$WORK/store-plain|" \
		contrib/config.example.yml >"$conf"
	mkdir -p "$WORK/store-plain"
	PORT=$(free_port)
	[ -z "$STRACE" ] || trace=$WORK/trace-plain
	REGISTRY_HTTP_ADDR=127.0.0.1:$PORT \
		REGISTRY_STORAGE_DELETE_ENABLED=true \
		start_server "$log" "$conf" "$trace"
	push_pull "http://127.0.0.1:$PORT/v2"
	stop_server "$log"
	quiet_log "$log"
}

# make_tls DIR - a CA and a certificate for 127.0.0.1 signed by it.
make_tls() {
	local dir=$1

	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -days 2 -subj /CN=berth-test-ca \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=127.0.0.1 -keyout "$dir/privkey.pem" \
		-out "$dir/req.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/ext"
	openssl x509 -req -in "$dir/req.csr" -CA "$dir/ca.pem" \
		-CAkey "$dir/ca.key" -CAcreateserial -days 2 \
		-extfile "$dir/ext" -out "$dir/fullchain.pem" 2>/dev/null
}

# start_receiver PORT OUT - an HTTP server on 127.0.0.1:PORT that
# answers every POST with 200 and appends its body, one line, to OUT.
start_receiver() {
	python3 -c 'import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$1" "$2" &
	RECEIVER_PID=$!
}

# The example with every optional setting on (HTTPS, logins, access
# rules, CORS, events, a prefix...), paths moved into the test's
# directory and events sent to a receiver on loopback: berth starts
# without a warning, anonymous pulls are allowed, a push needs a login,
# an admin can push, pull and delete, the receiver hears of the push,
# and the debug listener serves health checks and metrics.
check_example_full() {
	local conf=$WORK/full.yml log=$WORK/full.log trace="" etc=$WORK/etc
	local base code rport dport

	example_full "$conf"
	rport=$(free_port)
	sed -i "s|/etc/berth/|$etc/|g; s|/var/lib/registry|$WORK/store-full|
		s|^\( *url:\).*|\1 http://127.0.0.1:$rport/events|" "$conf"
	grep -q "url: http://127.0.0.1:$rport/events" "$conf"
	start_receiver "$rport" "$WORK/events"
	mkdir -p "$WORK/store-full"
	make_tls "$etc/tls"
	echo 'correct horse' | BERTH_BCRYPT_COST=4 \
		"$DEST/usr/bin/berth" user add "$etc/htpasswd" alice >/dev/null

	PORT=$(free_port)
	dport=$(free_port)
	[ -z "$STRACE" ] || trace=$WORK/trace-full
	# The example's optional read-only switch would refuse the push.
	REGISTRY_HTTP_ADDR=127.0.0.1:$PORT \
		REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:$dport \
		REGISTRY_STORAGE_DELETE_ENABLED=true \
		REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=false \
		start_server "$log" "$conf" "$trace"

	base=https://127.0.0.1:$PORT/registry/v2
	curl -sSf --cacert "$etc/tls/ca.pem" "$base/" >/dev/null
	code=$(curl -sS -o /dev/null -w '%{http_code}' \
		--cacert "$etc/tls/ca.pem" -X POST \
		"$base/team-a/app/blobs/uploads/")
	[ "$code" = 401 ] || die "anonymous push answered $code, not 401"
	push_pull "$base" --cacert "$etc/tls/ca.pem" -u 'alice:correct horse'

	for _ in $(seq 1 100); do
		grep -qE '"action": ?"push"' "$WORK/events" 2>/dev/null &&
			break
		sleep 0.1
	done
	grep -E '"action": ?"push"' "$WORK/events" | grep -q team-a/app ||
		die "the events receiver heard of no push to team-a/app"

	curl -sSf "http://127.0.0.1:$dport/healthz" >/dev/null
	curl -sSf "http://127.0.0.1:$dport/readyz" >/dev/null
	curl -sSf "http://127.0.0.1:$dport/metrics" |
		grep -q '^berth_http_requests_total{' ||
		die "no berth_http_requests_total on /metrics"
	stop_server "$log"
	quiet_log "$log"
}

# compose_env - prints the environment of contrib/compose.yml's berth
# service as NAME=value lines, quotes removed.
compose_env() {
	awk '/^    environment:/ { on = 1; next }
		on && /^      [A-Z_]+:/ {
			name = $1; sub(/:$/, "", name)
			value = $0; sub(/^ *[A-Z_]+: */, "", value)
			gsub(/^"|"$/, "", value)
			print name "=" value
			next
		}
		on && !/^ *#/ && !/^      / { on = 0 }' contrib/compose.yml
}

# The settings of contrib/compose.yml, over the image's configuration
# (the example): berth takes them without a warning, serves HTTPS with
# the mounted certificate, wants a login from the mounted htpasswd file,
# and lets that user push, pull and delete.
check_compose() {
	local log=$WORK/compose.log line base code

	[ -n "$(compose_env)" ] || die "no environment in contrib/compose.yml"
	make_tls "$WORK/certs"
	mv "$WORK/certs/fullchain.pem" "$WORK/certs/domain.crt"
	mv "$WORK/certs/privkey.pem" "$WORK/certs/domain.key"
	mkdir -p "$WORK/auth" "$WORK/store-compose"
	echo 'battery staple' | BERTH_BCRYPT_COST=4 \
		"$DEST/usr/bin/berth" user add "$WORK/auth/htpasswd" bob >/dev/null

	while IFS= read -r line; do
		line=${line//=\/certs\//=$WORK\/certs\/}
		line=${line//=\/auth\//=$WORK\/auth\/}
		# shellcheck disable=SC2163 # line is NAME=value
		export "$line"
	done < <(compose_env)
	PORT=$(free_port)
	export REGISTRY_HTTP_ADDR=127.0.0.1:$PORT
	REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:$(free_port)
	export REGISTRY_HTTP_DEBUG_ADDR
	export REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$WORK/store-compose
	start_server "$log" "$REPO/contrib/config.example.yml"

	base=https://127.0.0.1:$PORT/v2
	code=$(curl -sS -o /dev/null -w '%{http_code}' \
		--cacert "$WORK/certs/ca.pem" "$base/")
	[ "$code" = 401 ] || die "/v2/ without a login answered $code"
	push_pull "$base" --cacert "$WORK/certs/ca.pem" -u 'bob:battery staple'
	stop_server "$log"
	quiet_log "$log"
}

# A copy of the installed unit whose ExecStart is the staged binary, as
# systemd-analyze verify wants the program to exist.
staged_unit() {
	mkdir -p "$WORK/unit"
	sed "s|^ExecStart=/usr/bin/berth |ExecStart=$DEST/usr/bin/berth |" \
		"$DEST/usr/lib/systemd/system/berth.service" \
		>"$WORK/unit/berth.service"
	echo "$WORK/unit/berth.service"
}

# systemd accepts the unit, and finds the man pages it names.
check_systemd_verify() {
	local unit out

	unit=$(staged_unit)
	out=$(MANPATH=$DEST/usr/share/man systemd-analyze verify "$unit" 2>&1)
	[ -z "$out" ] || die "$out"
}

# The sandboxing holds up: systemd's own exposure score stays at 2.0 or
# below ("OK"; a service without any sandboxing scores 9.6).
check_systemd_sandbox() {
	local unit

	unit=$(staged_unit)
	systemd-analyze security --offline=true --man=no --threshold=20 \
		"$unit" >"$WORK/security" 2>&1 ||
		{ tail -n 3 "$WORK/security"; exit 1; }
	tail -n 1 "$WORK/security"
}

# systemd-sysusers creates the berth user the unit runs as, with the
# store as its home and no login shell.
check_sysusers() {
	local root=$WORK/sysroot

	mkdir -p "$root/etc"
	systemd-sysusers --root="$root" \
		"$DEST/usr/lib/sysusers.d/berth.conf" >/dev/null 2>&1
	grep -E '^berth:x:[0-9]+:[0-9]+:[^:]*:/var/lib/registry:/usr/sbin/nologin$' \
		"$root/etc/passwd"
	grep -q '^berth:x:' "$root/etc/group"
}

# Every system call berth made while serving both examples is one the
# unit's SystemCallFilter allows: @system-service without @privileged
# and @resources, plus the calls the unit names one by one.  A call
# outside it would fail with EPERM in production.
check_syscalls() {
	local denied

	[ -s "$WORK/trace-plain" ] && [ -s "$WORK/trace-full" ] ||
		die "no strace output from the example runs"
	denied=$(python3 - "$WORK/trace-plain" "$WORK/trace-full" <<'EOF'
import re, subprocess, sys
text = subprocess.run(["systemd-analyze", "syscall-filter"],
                      capture_output=True, text=True, check=True).stdout
groups, cur = {}, None
for line in text.splitlines():
    if line.startswith("@"):
        cur = groups.setdefault(line.strip(), set())
    elif cur is not None and line.strip() and \
            not line.strip().startswith("#"):
        cur.add(line.strip())

def expand(name, seen=()):
    out = set()
    for item in groups[name]:
        if item.startswith("@"):
            if item not in seen:
                out |= expand(item, seen + (name,))
        else:
            out.add(item)
    return out

allowed = (expand("@system-service") | expand("@default")) - \
    ((expand("@privileged") | expand("@resources")) - expand("@default"))
for line in open("contrib/systemd/berth.service"):
    m = re.match(r"SystemCallFilter=([a-z0-9_ ]+)$", line.strip())
    if m:
        allowed |= set(m.group(1).split())
used = set()
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
        if m:
            used.add(m.group(1))
print(" ".join(sorted(used - allowed)))
EOF
)
	[ -z "$denied" ] || die "refused by the unit's filter: $denied"
}

# ---- main ---------------------------------------------------------------

if ! $MAKE --no-print-directory -s install DESTDIR="$DEST" PREFIX=/usr \
	>"$WORK/make.log" 2>&1; then
	echo "FAIL install:make-install"
	tail -n 30 "$WORK/make.log" | sed 's/^/    /'
	exit 1
fi
echo "PASS install:make-install"

STRACE=""
if command -v strace >/dev/null && strace -f -qq -o /dev/null true; then
	STRACE=1
fi

check tree check_tree
check unit-paths check_unit_paths
check local-prefix check_local_prefix
if command -v man >/dev/null; then
	check man-berth check_man_berth
	check man-berth-config check_man_config
else
	skip man-pages "man is not installed"
fi
check man-keys check_man_keys
check example-keys check_example_keys
check example check_example
if command -v openssl >/dev/null; then
	check example-full check_example_full
	check compose check_compose
else
	skip example-full "openssl is not installed"
	skip compose "openssl is not installed"
fi

if command -v systemd-analyze >/dev/null; then
	check systemd-verify check_systemd_verify
	check systemd-sandbox check_systemd_sandbox
	if [ -n "$STRACE" ] && [ -f "$WORK/trace-full" ]; then
		check syscalls check_syscalls
	else
		skip syscalls "strace is not installed or cannot trace"
	fi
else
	skip systemd "systemd-analyze is not installed"
fi
if command -v systemd-sysusers >/dev/null; then
	check sysusers check_sysusers
else
	skip sysusers "systemd-sysusers is not installed"
fi

exit "$FAILED"
