"""accesstest - what berth's access tests share: htpasswd files made with
`berth user`, servers with logins, requests as a user, a throwaway CA
made with openssl, HTTPS requests that verify it, and the real clients
(skopeo, podman) run with private state.

It builds on tests/blackbox/berthtest.py (start_berth, requests, image
builders), so the same rules hold: only 127.0.0.1 is contacted, every
server is stopped by the runner, and a 4xx without the spec's error body
fails the running test.
"""

import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "blackbox"))

import berthtest as bt  # noqa: E402
from berthtest import check, expect  # noqa: E402

MKOCI = os.path.join(REPO_ROOT, "tests", "clients", "mkoci.py")
REALM = "berth access test"

# bcrypt at cost 4 keeps `berth user` fast; the server accepts any cost.
TEST_COST = "4"

CLIENT_TIMEOUT = 240 if bt.SAN else 150

BASE_YAML = """version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def basic(user, password):
    """The Authorization header value of a Basic login."""
    raw = ("%s:%s" % (user, password)).encode()
    return "Basic " + base64.b64encode(raw).decode()


def user_cmd(verb, path, name, password=None, cost=TEST_COST):
    """Runs `berth user VERB PATH NAME` with password on stdin.

    Returns (exit status, output).
    """
    env = bt.hermetic_env({"BERTH_BCRYPT_COST": cost})
    stdin = (password + "\n").encode() if password is not None else b""
    p = subprocess.run([bt.BERTH, "user", verb, path, name], env=env,
                       input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def user_ok(verb, path, name, password=None):
    rc, out = user_cmd(verb, path, name, password)
    check(rc == 0, "berth user %s %s failed (%d): %s" % (
            verb, name, rc, out))


def make_htpasswd(users, lines=()):
    """An htpasswd file in a scratch directory with users (name ->
    password) added by `berth user add`, then lines appended as they are.
    """
    path = os.path.join(bt.scratch("htpasswd"), "htpasswd")
    open(path, "w").close()
    for name, password in users.items():
        user_ok("add", path, name, password)
    if lines:
        with open(path, "a") as f:
            f.write("".join(l + "\n" for l in lines))
    return path


def indent(text, n):
    pad = " " * n
    return "".join(pad + l + "\n" for l in text.strip("\n").split("\n"))


def secured_yaml(htpasswd, http_extra="", extra="", realm=REALM):
    """A config with auth.htpasswd; http_extra goes under http:, extra
    (top-level YAML, such as an access section) at the end."""
    text = BASE_YAML
    if http_extra:
        text += indent(http_extra, 2)
    text += "auth:\n  htpasswd:\n    realm: %s\n    path: %s\n" % (
            json.dumps(realm), htpasswd)
    if extra:
        text += extra.strip("\n") + "\n"
    return text


def wait_up(srv, get=None, timeout=bt.READY_TIMEOUT):
    """Waits until srv answers /v2/ at all (200 or 401).

    get(path) -> Response does the asking; by default plain HTTP.
    """
    get = get or (lambda p: srv.request("GET", p, timeout=2, record=False))
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            srv.returncode = srv.proc.returncode
            raise bt.TestFailure("berth exited with %d before it was "
                                 "ready:\n%s" % (srv.returncode,
                                                 srv.log_tail()))
        try:
            r = get("/v2/")
            if r.status in (200, 401):
                return srv
            last = "GET /v2/ -> %d" % r.status
        except (OSError, ssl.SSLError) as e:
            last = str(e)
        time.sleep(0.05)
    srv.kill_quietly()
    raise bt.TestFailure("berth not ready after %ds (%s):\n%s" % (
            timeout, last, srv.log_tail()))


def start_secured(users, http_extra="", extra="", env=None, lines=(),
                  realm=REALM, wait=True):
    """Starts berth with logins for users (name -> password).

    The server gets .htpasswd (the file's path) and .users.
    """
    htpasswd = make_htpasswd(users, lines)
    srv = bt.start_berth(env=env, wait=False, config_yaml=secured_yaml(
            htpasswd, http_extra, extra, realm))
    srv.htpasswd = htpasswd
    srv.users = dict(users)
    if wait:
        wait_up(srv)
    return srv


def log_has(srv, pattern, timeout=3):
    """Whether berth's log matches the regular expression pattern,
    waiting up to timeout seconds for it to get there."""
    deadline = time.monotonic() + timeout
    while True:
        if re.search(pattern, srv.log()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class As:
    """A server seen as one user: every request carries a Basic login.

    Stands in for the server in berthtest's push and pull helpers.
    """

    def __init__(self, srv, user, password):
        self.srv = srv
        self.user = user
        self.auth = basic(user, password)

    def request(self, method, target, body=None, headers=None, **kw):
        h = dict(headers or {})
        h.setdefault("Authorization", self.auth)
        return self.srv.request(method, target, body=body, headers=h,
                                **kw)

    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def head(self, target, **kw):
        return self.request("HEAD", target, **kw)

    def resolve(self, location):
        return self.srv.resolve(location)


def expect_challenge(r, what="", realm=REALM):
    """Checks a 401 that asks for a Basic login in realm (by default the
    tests' own)."""
    bt.expect_error(r, 401, "UNAUTHORIZED", what)
    bt.expect_header(r, "WWW-Authenticate", 'Basic realm="%s"' % realm,
                     what)


def expect_denied(r, what=""):
    bt.expect_error(r, 403, "DENIED", what)


def catalog(srv, n=None):
    """Every repository srv (or an As) lists, following Link pages."""
    target = "/v2/_catalog" + ("?n=%d" % n if n else "")
    names = []
    for _ in range(1000):
        r = srv.get(target)
        expect(r, 200, "catalog")
        names += r.json().get("repositories") or []
        nxt = bt.parse_next_link(r)
        if nxt is None:
            return names
        target = srv.resolve(nxt)
    raise bt.TestFailure("catalog pages never end")


def log_secrets_check(srv, secrets):
    """Fails if any secret (or its Basic header form) is in berth's log."""
    text = srv.log()
    for s in secrets:
        check(s not in text, "a password reached berth's log: %r" % s)
        check(base64.b64encode(s.encode()).decode() not in text,
              "a password's base64 reached berth's log")


# -------------------------------------------------------------- TLS / CA

def openssl(*args, cwd=None):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    check(p.returncode == 0, "openssl %s failed:\n%s" % (
            " ".join(args), p.stdout.decode("utf-8", "replace")))
    return p.stdout.decode("utf-8", "replace")


class CA:
    """A certificate authority of its own, in a scratch directory.

    issue() makes server certificates for 127.0.0.1 and localhost.
    """

    def __init__(self, name="berth test CA"):
        self.dir = bt.scratch("ca")
        self.cert = os.path.join(self.dir, "ca.crt")
        self.key = os.path.join(self.dir, "ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key,
                "-out", self.cert, "-days", "2", "-subj", "/CN=" + name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        # skopeo and podman read a directory holding ca.crt.
        self.certs_dir = bt.scratch("certs.d")
        shutil.copy(self.cert, os.path.join(self.certs_dir, "ca.crt"))

    def issue(self, serial, dest_dir=None, names=("localhost",),
              ips=("127.0.0.1",)):
        """A new key and certificate with serial (an int); returns the
        (certificate, key) paths in dest_dir or a scratch directory."""
        d = dest_dir or bt.scratch("server-cert")
        base = os.path.join(d, "server-%d" % serial)
        ext = base + ".ext"
        san = ",".join(["DNS:" + n for n in names] +
                       ["IP:" + i for i in ips])
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n" % san)
        openssl("req", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                base + ".key", "-out", base + ".csr", "-subj",
                "/CN=" + names[0])
        openssl("x509", "-req", "-in", base + ".csr", "-CA", self.cert,
                "-CAkey", self.key, "-set_serial", str(serial), "-days",
                "2", "-out", base + ".crt", "-extfile", ext)
        return base + ".crt", base + ".key"

    def context(self):
        return ssl.create_default_context(cafile=self.cert)


def install_pair(crt, key, dest_crt, dest_key):
    """Replaces dest_crt and dest_key by copies of crt and key the way a
    renewal does: written beside, then renamed over, key first."""
    for src, dst in ((key, dest_key), (crt, dest_crt)):
        tmp = dst + ".new"
        shutil.copy(src, tmp)
        os.rename(tmp, dst)


def https_request(port, method, target, ctx, body=None, headers=None,
                  conn=None, host=bt.HOST, timeout=bt.REQUEST_TIMEOUT,
                  server_hostname=None):
    """One HTTPS request to host:port verified with ctx; a Response.

    A 4xx without the spec's error body is recorded as a violation.
    """
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection(host, port, context=ctx,
                                           timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=dict(
                headers or {}))
        raw = conn.getresponse()
        data = raw.read()
        resp = bt.Response(method, target, raw.status, raw.reason,
                           raw.headers, data)
    finally:
        if own:
            conn.close()
    bt._record(resp)
    return resp


def served_serial(port, host="127.0.0.1"):
    """The serial number (hex, upper case) of the certificate a new
    connection to host:port is given, read with openssl s_client."""
    p = subprocess.run(["openssl", "s_client", "-connect",
                        "%s:%d" % (host, port), "-servername",
                        "localhost"],
                       input=b"", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?"
                    rb"-----END CERTIFICATE-----", p.stdout, re.S)
    check(pem is not None, "no certificate from s_client:\n%s" %
          p.stdout.decode("utf-8", "replace")[-2000:])
    q = subprocess.run(["openssl", "x509", "-noout", "-serial"],
                       input=pem.group(0), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    out = q.stdout.decode().strip()
    check(out.startswith("serial="), "openssl x509 -serial: %s" % out)
    return out.split("=", 1)[1].upper()


def serial_hex(n):
    """How openssl prints serial n: upper-case hex, even length."""
    h = "%X" % n
    return h if len(h) % 2 == 0 else "0" + h


# ------------------------------------------------------------- clients

def run(cmd, env=None, timeout=CLIENT_TIMEOUT, stdin=b"", cwd=None):
    """Runs cmd; returns (exit status, output with stderr)."""
    try:
        p = subprocess.run(cmd, env=env, input=stdin, cwd=cwd,
                           stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise bt.TestFailure("%s still running after %ds:\n%s" % (
                " ".join(cmd[:3]), timeout,
                (e.output or b"").decode("utf-8", "replace")[-3000:]))
    return p.returncode, p.stdout.decode("utf-8", "replace")


def run_ok(cmd, what, **kw):
    rc, out = run(cmd, **kw)
    check(rc == 0, "%s failed (exit %d): %s\n%s" % (
            what, rc, " ".join(cmd), out[-3000:]))
    return out


def run_fails(cmd, what, **kw):
    rc, out = run(cmd, **kw)
    check(rc != 0, "%s succeeded but should not have: %s\n%s" % (
            what, " ".join(cmd), out[-3000:]))
    return out


class Clients:
    """skopeo and podman with their own state in a scratch directory:
    an empty credentials file, vfs storage, no system service."""

    def __init__(self):
        self.dir = bt.scratch("clients")
        self.authfile = os.path.join(self.dir, "auth.json")
        with open(self.authfile, "w") as f:
            f.write("{}")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("REGISTRY_")}
        self.env["REGISTRY_AUTH_FILE"] = self.authfile
        self.env["TMPDIR"] = bt.scratch("tmp")
        self.env["HOME"] = bt.scratch("home")
        self.podman_dir = None

    def skopeo(self, *args):
        return ["skopeo", "--command-timeout", "120s"] + list(args)

    def podman(self, *args):
        # podman refuses a run root longer than 50 characters, which a
        # scratch directory deep in a run can be.
        if self.podman_dir is None:
            self.podman_dir = tempfile.mkdtemp(prefix="berth-pm-")
        d = self.podman_dir
        return ["podman", "--root", os.path.join(d, "podman-root"),
                "--runroot", os.path.join(d, "podman-run"),
                "--tmpdir", os.path.join(d, "podman-tmp"),
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--events-backend", "file"] + list(args)

    def ok(self, cmd, what, **kw):
        return run_ok(cmd, what, env=self.env, **kw)

    def fails(self, cmd, what, **kw):
        return run_fails(cmd, what, env=self.env, **kw)

    def cleanup(self):
        """Removes podman's state (vfs layers can be large)."""
        if self.podman_dir is None:
            return
        subprocess.run(self.podman("system", "reset", "-f"),
                       env=self.env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(self.podman_dir, ignore_errors=True)
        self.podman_dir = None


def oci_image(tag, seed):
    """A real OCI layout built by mkoci.py; returns (dir, info dict)."""
    d = os.path.join(bt.scratch("oci"), "layout")
    out = run_ok(["python3", MKOCI, "image", d, tag, seed], "mkoci")
    return d, json.loads(out)


def rootfs_tar(seed):
    """A root filesystem tar for `podman import`; (path, info dict)."""
    path = os.path.join(bt.scratch("rootfs"), "rootfs.tar")
    out = run_ok(["python3", MKOCI, "rootfs", path, seed], "mkoci")
    return path, json.loads(out)


def free_port():
    with socket.socket() as s:
        s.bind((bt.HOST, 0))
        return s.getsockname()[1]
