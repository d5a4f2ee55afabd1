"""berthtest - start the real berth binary on loopback and talk to it.

The black-box suites (this directory, the real-client tests and later the
access and UI tests) import this module.  It starts berth processes with a
fresh store each, sends raw HTTP requests with http.client, checks the
spec's error format on every 4xx answer, and builds small random images to
push.  Only the Python 3 standard library is used, and only 127.0.0.1 is
ever contacted.

    srv = start_berth(env={...}, config_yaml="...")   # waits for GET /v2/
    r = srv.request("GET", "/v2/")
    srv.stop()                                         # SIGTERM, checks exit

The binary is $BERTH, default ./berth at the top of the tree.  A build
with sanitizers (a path containing "san", or BERTH_SAN=1) must exit 0
after SIGTERM; any sanitizer report in a server's output fails the test
that was running.

S3 mode: with BERTH_S3_ENDPOINT, BERTH_S3_ACCESS, BERTH_S3_SECRET,
BERTH_S3_BUCKET and BERTH_S3_REGION set (tests/s3/run.sh sets them for
the Ceph it starts), every berth serves a fresh prefix of that bucket
instead of a fresh directory.  A store's root is then a key prefix, and
tests look at the store through store_read(), store_write(),
store_files() and the like, which read the directory or the bucket.
"""

import gzip
import hashlib
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.parse

import s3store

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
BERTH = os.path.abspath(os.environ.get("BERTH") or
                        os.path.join(REPO_ROOT, "berth"))
SAN = os.environ.get("BERTH_SAN") == "1" or "san" in os.path.basename(
        os.path.dirname(BERTH)) or "san" in os.path.basename(BERTH)
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 30 if SAN else 15
READY_TIMEOUT = 20 if SAN else 10
STOP_TIMEOUT = 15

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ACCEPT_ALL = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST,
                        DOCKER_LIST])

EMPTY_JSON = b"{}"

# The spec's error codes and the few registry:2 adds (TAG_INVALID,
# MANIFEST_UNVERIFIED, RANGE_INVALID, PAGINATION_NUMBER_INVALID, UNKNOWN,
# UNAVAILABLE), which its clients already know; a 4xx body naming any
# other code is a violation.
ERROR_CODES = {
        "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID",
        "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
        "TAG_INVALID", "MANIFEST_UNVERIFIED", "RANGE_INVALID",
        "PAGINATION_NUMBER_INVALID", "UNKNOWN", "UNAVAILABLE",
}

# The bucket of S3 mode, None when berth serves directories.
S3 = s3store.Bucket.from_env()

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "ERROR: UndefinedBehaviorSanitizer")

# Every server started, so the runner can stop what a failed test left.
SERVERS = []
# Protocol problems noticed outside an explicit assertion (a 4xx body that
# is not the spec's JSON); the runner fails the current test on any.
VIOLATIONS = []

_base = None
_counter = 0


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    """Fails the running test with msg unless cond holds."""
    if not cond:
        raise TestFailure(msg)


def base_dir():
    """The suite's scratch directory; removed by the runner on success."""
    global _base
    if _base is None:
        _base = tempfile.mkdtemp(prefix="berth-blackbox-")
    return _base


def scratch(kind):
    """A new, empty directory under the scratch directory."""
    global _counter
    _counter += 1
    path = os.path.join(base_dir(), "%s-%d" % (kind, _counter))
    os.makedirs(path)
    return path


def unique(prefix="bt"):
    """A repository-name-safe string nobody else in this run uses."""
    global _counter
    _counter += 1
    return "%s%d%s" % (prefix, _counter,
                       "".join(random.choice("abcdefghijklmnopqrstuvwxyz")
                               for _ in range(4)))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hex_of(digest):
    return digest.split(":", 1)[1]


def random_bytes(n):
    return os.urandom(n)


def hermetic_env(overrides):
    """The process environment without REGISTRY_*, plus overrides.

    An override whose value is None removes that variable.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REGISTRY_")}
    if SAN:
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


# ---------------------------------------------------------------- responses

class Response:
    """One HTTP answer: status, headers (case-insensitive), body bytes."""

    def __init__(self, method, target, status, reason, headers, body):
        self.method = method
        self.target = target
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise TestFailure("%s: body is not JSON (%s)" % (self, e))

    def error_codes(self):
        """The codes of a spec error body, [] when it is not one."""
        try:
            doc = json.loads(self.body.decode("utf-8"))
            return [e.get("code") for e in doc.get("errors", [])]
        except (ValueError, UnicodeDecodeError, AttributeError):
            return []

    def summary(self):
        body = self.body[:400]
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = repr(body)
        hdrs = "; ".join("%s: %s" % kv for kv in self.headers.items())
        return "%s %s -> %d %s\n      headers: %s\n      body: %s" % (
                self.method, self.target[:200], self.status, self.reason,
                hdrs, text)

    def __str__(self):
        return self.summary()


def error_body_problem(resp):
    """Why resp's body is not the spec's error JSON, or None."""
    ctype = resp.header("Content-Type", "")
    if not ctype.startswith("application/json"):
        return "Content-Type %r is not application/json" % ctype
    try:
        doc = json.loads(resp.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return "body is not JSON"
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), list):
        return "body has no \"errors\" array"
    if not doc["errors"]:
        return "\"errors\" is empty"
    for e in doc["errors"]:
        if not isinstance(e, dict):
            return "an error is not an object"
        code = e.get("code")
        if not isinstance(code, str) or not re.fullmatch(r"[A-Z_]+", code):
            return "code %r is not uppercase letters and _" % (code,)
        if code not in ERROR_CODES:
            return "code %r is not one of the spec's" % code
        if "message" in e and not isinstance(e["message"], str):
            return "message is not a string"
    return None


def expect(resp, status, what=""):
    """Checks resp.status is status (an int or a tuple of ints)."""
    ok = status if isinstance(status, tuple) else (status,)
    check(resp.status in ok, "%sexpected %s, got:\n      %s" % (
            what + ": " if what else "", "/".join(map(str, ok)), resp))
    return resp


def expect_error(resp, status, codes, what=""):
    """Checks an error answer: status, the spec's JSON, a code in codes."""
    expect(resp, status, what)
    if resp.method == "HEAD":
        return resp
    problem = error_body_problem(resp)
    check(problem is None, "%serror body: %s:\n      %s" % (
            what + ": " if what else "", problem, resp))
    if isinstance(codes, str):
        codes = (codes,)
    got = resp.error_codes()
    check(any(c in codes for c in got),
          "%sexpected error code %s, got %s:\n      %s" % (
                  what + ": " if what else "", "/".join(codes), got, resp))
    return resp


def expect_header(resp, name, value=None, what=""):
    """Checks resp has header name (equal to value when given)."""
    got = resp.header(name)
    check(got is not None, "%smissing header %s:\n      %s" % (
            what + ": " if what else "", name, resp))
    if value is not None:
        check(got == value, "%sheader %s is %r, expected %r:\n      %s" % (
                what + ": " if what else "", name, got, value, resp))
    return got


# ------------------------------------------------------------------ servers

class Server:
    """A berth process serving on 127.0.0.1:port over store root."""

    def __init__(self, port, root, env, args, logpath):
        self.port = port
        self.root = root
        self.env = env
        self.args = args
        self.logpath = logpath
        self.url = "http://%s:%d" % (HOST, port)
        self.proc = None
        self.returncode = None
        self.checked_upto = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc and self.returncode is None:
            if exc[0] is None:
                self.stop()
            else:
                self.kill_quietly()

    def _launch(self):
        logf = open(self.logpath, "ab")
        try:
            self.proc = subprocess.Popen(
                    [BERTH] + self.args, env=self.env,
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        finally:
            logf.close()
        self.returncode = None
        SERVERS.append(self)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Polls GET /v2/ until 200; fails if berth exits first."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise TestFailure("berth exited with %d before it was "
                                  "ready:\n%s" % (rc, self.log_tail()))
            try:
                r = self.request("GET", "/v2/", timeout=2,
                                 record=False)
                if r.status == 200:
                    return
                last = "GET /v2/ -> %d" % r.status
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        self.kill_quietly()
        raise TestFailure("berth not ready after %ds (%s):\n%s" % (
                timeout, last, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """Everything berth wrote to stdout and stderr so far."""
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        text = self.log().splitlines()
        return "\n".join("      | " + l for l in text[-lines:])

    def sanitizer_report(self, since=0):
        """Sanitizer findings in the log after offset since, or None."""
        text = self.log()[since:]
        if any(m in text for m in SANITIZER_MARKS):
            return text
        return None

    def stop(self):
        """SIGTERM, then checks the exit status and the sanitizers.

        Returns the exit status; raises TestFailure on a bad exit.
        """
        if self.proc is None or self.returncode is not None:
            return self.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = -9
            raise TestFailure("berth did not exit within %ds of "
                              "SIGTERM:\n%s" % (STOP_TIMEOUT,
                                                self.log_tail()))
        self.returncode = rc
        self.check_exit()
        return rc

    def check_exit(self):
        rc = self.returncode
        report = self.sanitizer_report()
        check(report is None, "sanitizer report from berth:\n%s" %
              self.log_tail(80))
        allowed = (0,) if SAN else (0, -signal.SIGTERM)
        check(rc in allowed, "berth exited with status %s after "
              "SIGTERM:\n%s" % (rc, self.log_tail()))

    def kill_quietly(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.returncode = self.proc.returncode

    def restart(self):
        """Stops berth and starts it again on the same root.

        It listens on a new port (the old one may linger in
        TIME_WAIT), so keep request targets, not absolute URLs.
        """
        self.stop()
        self.port = free_port()
        self.url = "http://%s:%d" % (HOST, self.port)
        self.env["REGISTRY_HTTP_ADDR"] = "%s:%d" % (HOST, self.port)
        self._launch()
        self.wait_ready()
        return self

    # -- HTTP

    def resolve(self, location):
        """Turns a Location into a request target on this server.

        Relative locations are resolved against the server's URL;
        an absolute one must name this server (never contacts others).
        """
        check(location, "empty Location")
        full = urllib.parse.urljoin(self.url + "/", location)
        u = urllib.parse.urlsplit(full)
        check(u.scheme == "http" and u.netloc == "%s:%d" % (
                HOST, self.port),
              "Location %r does not point at this server %s" % (
                      location, self.url))
        return u.path + ("?" + u.query if u.query else "")

    def request(self, method, target, body=None, headers=None,
                timeout=REQUEST_TIMEOUT, record=True, conn=None):
        """Sends one request; target is a path or a URL of this server.

        body is bytes, or an iterable of bytes sent with chunked
        transfer encoding.  A 4xx answer whose body is not the spec's
        error JSON is recorded in VIOLATIONS.  Pass conn to reuse a
        keep-alive connection (see connect()).
        """
        if "://" in target:
            target = self.resolve(target)
        hdrs = dict(headers or {})
        own = conn is None
        if own:
            conn = http.client.HTTPConnection(HOST, self.port,
                                              timeout=timeout)
        try:
            chunked = body is not None and not isinstance(
                    body, (bytes, bytearray))
            conn.request(method, target, body=body, headers=hdrs,
                         encode_chunked=chunked)
            raw = conn.getresponse()
            data = raw.read()
            resp = Response(method, target, raw.status, raw.reason,
                            raw.headers, data)
        finally:
            if own:
                conn.close()
        if record:
            _record(resp)
        return resp

    def connect(self, timeout=REQUEST_TIMEOUT):
        """A keep-alive connection for several request(conn=...)."""
        return http.client.HTTPConnection(HOST, self.port,
                                          timeout=timeout)

    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def head(self, target, **kw):
        return self.request("HEAD", target, **kw)


def _record(resp):
    if 400 <= resp.status < 500 and resp.method != "HEAD":
        problem = error_body_problem(resp)
        if problem is not None:
            VIOLATIONS.append("4xx answer without the spec's error "
                              "body (%s):\n      %s" % (problem, resp))


def write_config(config_yaml, port, root):
    """Writes config text to a file, substituting {port}, {root} and
    {storage} (the driver's section for root, see storage_yaml()).

    In S3 mode a text that names the filesystem driver itself fails the
    test: berth would refuse two drivers, and the test would not be
    about the bucket.
    """
    path = os.path.join(scratch("config"), "config.yml")
    check(S3 is None or not re.search(r"^\s*filesystem:", config_yaml,
                                      re.M),
          "the test's config names the filesystem driver; in S3 mode "
          "it must use {storage}")
    text = config_yaml.replace("{port}", str(port)).replace(
            "{storage}", storage_yaml(root)).replace("{root}", root)
    with open(path, "w") as f:
        f.write(text)
    return path


def start_berth(env=None, config_yaml=None, root=None, args=None,
                wait=True):
    """Starts `berth serve [config]` on a free loopback port.

    env overrides the defaults (address, a fresh root, deletes enabled);
    a None value unsets a variable.  config_yaml is written to a file
    and passed as the config argument.  root reuses a store directory.
    args replaces ["serve", config].  With wait, returns once GET /v2/
    answers 200.  Retries on another port if the address was taken.
    """
    for attempt in range(3):
        srv = _spawn(env, config_yaml, root, args)
        if not wait:
            return srv
        try:
            srv.wait_ready()
            return srv
        except TestFailure:
            if attempt < 2 and "in use" in srv.log().lower():
                srv.kill_quietly()
                continue
            raise
    raise TestFailure("no free port")


def _spawn(env, config_yaml, root, args):
    port = free_port()
    if root is None:
        root = new_root()
    overrides = {
            "REGISTRY_HTTP_ADDR": "%s:%d" % (HOST, port),
            "REGISTRY_STORAGE_DELETE_ENABLED": "true",
    }
    overrides.update(storage_env(root))
    overrides.update(env or {})
    if args is None:
        args = ["serve"]
        if config_yaml is not None:
            args.append(write_config(config_yaml, port, root))
    logpath = os.path.join(scratch("log"), "berth.log")
    srv = Server(port, root, hermetic_env(overrides), args, logpath)
    srv._launch()
    return srv


def run_berth(args, env=None, timeout=20):
    """Runs berth to completion (CLI checks); returns (status, output).

    Fails if berth has not exited within timeout seconds.
    """
    try:
        p = subprocess.run([BERTH] + args, env=hermetic_env(env),
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        raise TestFailure("berth %s still running after %ds:\n%s" % (
                " ".join(args), timeout, out))
    out = p.stdout.decode("utf-8", "replace")
    if any(m in out for m in SANITIZER_MARKS):
        raise TestFailure("sanitizer report:\n" + out)
    return p.returncode, out


_shared = None


def shared():
    """The suite's default server (deletes enabled), started once.

    Tests that use it must pick their own repository names (unique()).
    """
    global _shared
    if _shared is None or not _shared.alive():
        _shared = start_berth()
    return _shared


def shared_if_started():
    return _shared


def forget_shared():
    global _shared
    _shared = None


# ------------------------------------------------------------------- images

def make_layer(files=2, size=512):
    """A gzip'd tar of a few random files, as an image layer."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(files):
            data = random_bytes(random.randint(size // 2, size))
            info = tarfile.TarInfo("data/file%d-%s" % (
                    i, unique("f")))
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def make_config(nlayers, docker=False):
    """An image config whose rootfs lists nlayers (random) diff ids."""
    cfg = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["BERTH_TEST=" + unique("c")]},
            "rootfs": {"type": "layers", "diff_ids": [
                    "sha256:" + hashlib.sha256(random_bytes(16)).hexdigest()
                    for _ in range(nlayers)]},
    }
    return json.dumps(cfg, indent=2).encode()


def descriptor(media_type, data, **extra):
    d = {"mediaType": media_type, "digest": digest_of(data),
         "size": len(data)}
    d.update(extra)
    return d


def dump(obj):
    """Manifest bytes; indented so a re-serialising server shows up."""
    return json.dumps(obj, indent=3).encode()


class Image:
    """A manifest with its blobs, ready to push or compare."""

    def __init__(self, manifest, media_type, blobs):
        self.manifest = manifest
        self.media_type = media_type
        self.blobs = blobs        # config first, then layers
        self.digest = digest_of(manifest)

    @property
    def config(self):
        return self.blobs[0]

    @property
    def layers(self):
        return self.blobs[1:]

    def descriptor(self):
        return descriptor(self.media_type, self.manifest)


def make_image(nlayers=None, media_type=OCI_MANIFEST, annotations=None,
               subject=None, artifact_type=None, config_type=None):
    """A small random valid image: a config and 1-2 gzip layers.

    media_type picks OCI (default) or DOCKER_MANIFEST.  subject is an
    Image (or descriptor dict) the manifest refers to.
    """
    if nlayers is None:
        nlayers = random.randint(1, 2)
    docker = media_type == DOCKER_MANIFEST
    config = make_config(nlayers, docker)
    layers = [make_layer() for _ in range(nlayers)]
    ctype = config_type or (DOCKER_CONFIG if docker else OCI_CONFIG)
    ltype = DOCKER_LAYER if docker else OCI_LAYER
    m = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        m["artifactType"] = artifact_type
    m["config"] = descriptor(ctype, config)
    m["layers"] = [descriptor(ltype, l) for l in layers]
    if subject is not None:
        m["subject"] = subject.descriptor() if isinstance(
                subject, Image) else subject
    if annotations:
        m["annotations"] = annotations
    return Image(dump(m), media_type, [config] + layers)


def make_artifact(artifact_type=None, config_type=OCI_EMPTY, subject=None,
                  annotations=None, nlayers=1):
    """An OCI artifact manifest (empty or typed config, small layers)."""
    config = EMPTY_JSON if config_type == OCI_EMPTY else dump(
            {"kind": unique("cfg")})
    layers = [random_bytes(64) for _ in range(nlayers)]
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        m["artifactType"] = artifact_type
    m["config"] = descriptor(config_type, config)
    m["layers"] = [descriptor(artifact_type or "application/octet-stream",
                              l) for l in layers]
    if subject is not None:
        m["subject"] = subject.descriptor() if isinstance(
                subject, Image) else subject
    if annotations:
        m["annotations"] = annotations
    return Image(dump(m), OCI_MANIFEST, [config] + layers)


def make_index(children, media_type=OCI_INDEX, subject=None,
               artifact_type=None, annotations=None):
    """An image index (or Docker manifest list) over children Images."""
    m = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        m["artifactType"] = artifact_type
    plats = [("amd64", "linux"), ("arm64", "linux"), ("s390x", "linux")]
    m["manifests"] = []
    for i, child in enumerate(children):
        d = child.descriptor()
        arch, osname = plats[i % len(plats)]
        d["platform"] = {"architecture": arch, "os": osname}
        m["manifests"].append(d)
    if subject is not None:
        m["subject"] = subject.descriptor() if isinstance(
                subject, Image) else subject
    if annotations:
        m["annotations"] = annotations
    return Image(dump(m), media_type, [])


# --------------------------------------------------------------- push/pull

def blob_path(repo, digest):
    return "/v2/%s/blobs/%s" % (repo, digest)


def uploads_path(repo):
    return "/v2/%s/blobs/uploads/" % repo


def manifest_path(repo, ref):
    return "/v2/%s/manifests/%s" % (repo, ref)


def start_upload(srv, repo):
    """POST an upload session; returns its Location as a request target."""
    r = srv.request("POST", uploads_path(repo))
    expect(r, 202, "start upload")
    loc = expect_header(r, "Location", what="start upload")
    return srv.resolve(loc)


def with_query(target, **params):
    """target with params added to its query string."""
    sep = "&" if "?" in target else "?"
    return target + sep + urllib.parse.urlencode(params)


def check_blob_created(srv, r, repo, digest, what):
    """Checks a 201 answer that completed a blob upload."""
    expect(r, 201, what)
    loc = expect_header(r, "Location", what=what)
    check(srv.resolve(loc).split("?")[0] == blob_path(repo, digest),
          "%s: Location %r is not the blob's URL %s" % (
                  what, loc, blob_path(repo, digest)))
    expect_header(r, "Docker-Content-Digest", digest, what)


def push_blob(srv, repo, data, how="post-put", chunk=None):
    """Uploads data to repo and checks the answers; returns the digest.

    how: "monolithic" (POST ?digest=), "post-put", "chunked" (PATCHes
    of chunk bytes with Content-Range, then PUT) or "stream" (one PATCH
    with chunked transfer encoding, then PUT).
    """
    d = digest_of(data)
    if how == "monolithic":
        r = srv.request("POST", with_query(uploads_path(repo), digest=d),
                        body=bytes(data), headers={
                                "Content-Type": "application/octet-stream"})
        check_blob_created(srv, r, repo, d, "monolithic POST")
        return d
    loc = start_upload(srv, repo)
    if how == "chunked":
        loc = patch_chunks(srv, loc, data, chunk or max(1, len(data) // 3))
        body = b""
    elif how == "stream":
        r = srv.request("PATCH", loc, body=iter_chunks(data, 8192),
                        headers={"Content-Type":
                                 "application/octet-stream"})
        expect(r, 202, "streamed PATCH")
        loc = srv.resolve(expect_header(r, "Location"))
        body = b""
    else:
        body = bytes(data)
    r = srv.request("PUT", with_query(loc, digest=d), body=body, headers={
            "Content-Type": "application/octet-stream"})
    check_blob_created(srv, r, repo, d, "closing PUT")
    return d


def iter_chunks(data, size):
    for i in range(0, len(data), size):
        yield bytes(data[i:i + size])


def patch_chunks(srv, loc, data, chunk):
    """Sends data as ordered PATCH chunks; returns the last Location."""
    for off in range(0, len(data), chunk):
        piece = bytes(data[off:off + chunk])
        end = off + len(piece) - 1
        r = srv.request("PATCH", loc, body=piece, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": "%d-%d" % (off, end)})
        expect(r, 202, "PATCH chunk %d-%d" % (off, end))
        expect_header(r, "Range", "0-%d" % end, "PATCH chunk")
        loc = srv.resolve(expect_header(r, "Location"))
    return loc


def push_manifest(srv, repo, ref, body, media_type=OCI_MANIFEST):
    """PUTs a manifest by tag or digest, checks the 201; returns digest."""
    d = digest_of(body)
    r = srv.request("PUT", manifest_path(repo, ref), body=body,
                    headers={"Content-Type": media_type})
    expect(r, 201, "PUT manifest %s:%s" % (repo, ref))
    loc = expect_header(r, "Location", what="PUT manifest")
    check(srv.resolve(loc).split("?")[0] == manifest_path(repo, d),
          "PUT manifest: Location %r is not %s" % (
                  loc, manifest_path(repo, d)))
    expect_header(r, "Docker-Content-Digest", d, "PUT manifest")
    return d


def push_image(srv, repo, image, tag=None, how="post-put"):
    """Pushes an Image's blobs and manifest (by tag, else by digest)."""
    for b in image.blobs:
        push_blob(srv, repo, b, how)
    return push_manifest(srv, repo, tag or image.digest, image.manifest,
                         image.media_type)


def get_manifest(srv, repo, ref, accept=ACCEPT_ALL):
    return srv.request("GET", manifest_path(repo, ref),
                       headers={"Accept": accept})


def check_manifest(srv, repo, ref, image):
    """GET and HEAD repo:ref return exactly image's bytes and headers."""
    for method in ("GET", "HEAD"):
        r = srv.request(method, manifest_path(repo, ref),
                        headers={"Accept": ACCEPT_ALL})
        what = "%s manifest %s:%s" % (method, repo, ref)
        expect(r, 200, what)
        if method == "GET":
            check(r.body == image.manifest,
                  "%s: body differs from what was pushed" % what)
        expect_header(r, "Content-Type", image.media_type, what)
        expect_header(r, "Docker-Content-Digest", image.digest, what)
        expect_header(r, "Content-Length", str(len(image.manifest)),
                      what)


def check_blob(srv, repo, data):
    """GET and HEAD of the blob give its bytes, length and digest."""
    d = digest_of(data)
    for method in ("GET", "HEAD"):
        r = srv.request(method, blob_path(repo, d))
        what = "%s blob %s@%s" % (method, repo, d[:19])
        expect(r, 200, what)
        if method == "GET":
            check(r.body == data, "%s: body differs" % what)
        expect_header(r, "Content-Length", str(len(data)), what)
        expect_header(r, "Docker-Content-Digest", d, what)


def tags(srv, repo):
    r = srv.get("/v2/%s/tags/list" % repo)
    expect(r, 200, "tags/list " + repo)
    doc = r.json()
    check(doc.get("name") == repo, "tags/list name %r is not %r" % (
            doc.get("name"), repo))
    return doc.get("tags") or []


def parse_next_link(resp):
    """The target of a Link: <...>; rel="next" header, or None."""
    link = resp.header("Link")
    if link is None:
        return None
    m = re.fullmatch(r'\s*<([^>]+)>\s*;\s*rel="?next"?\s*', link)
    check(m is not None, "malformed Link header %r" % link)
    return m.group(1)


# ------------------------------------------------------------------ stores

# A probe berth's storage check writes and removes at once; a listing
# taken at that moment sees it.  It is no part of the registry's data.
S3_PROBE = ".berth-check"

_s3_run = None


def s3_run_prefix():
    """The bucket prefix under which this run's stores live."""
    global _s3_run
    if _s3_run is None:
        _s3_run = "blackbox-%d-%s" % (os.getpid(), unique("run"))
    return _s3_run


def new_root(kind="store"):
    """A fresh, empty store root: a new directory, or in S3 mode a
    prefix of the bucket nobody has used."""
    global _counter
    if S3 is None:
        root = os.path.join(scratch(kind), "root")
        os.makedirs(root)
        return root
    _counter += 1
    return "%s/%s-%d/root" % (s3_run_prefix(), kind, _counter)


def storage_env(root):
    """The REGISTRY_* variables that put berth's store at root.

    In S3 mode berth serves blobs itself rather than redirecting to the
    bucket, so that the tests read its answers (lengths, digests,
    ranges) and not the gateway's.
    """
    if S3 is None:
        return {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": root}
    return {
            "REGISTRY_STORAGE_REDIRECT_DISABLE": "true",
            "REGISTRY_STORAGE_S3_REGIONENDPOINT": S3.endpoint,
            "REGISTRY_STORAGE_S3_ACCESSKEY": S3.access,
            "REGISTRY_STORAGE_S3_SECRETKEY": S3.secret,
            "REGISTRY_STORAGE_S3_REGION": S3.region,
            "REGISTRY_STORAGE_S3_BUCKET": S3.bucket,
            "REGISTRY_STORAGE_S3_ROOTDIRECTORY": root,
            "REGISTRY_STORAGE_S3_FORCEPATHSTYLE": "true",
            "REGISTRY_STORAGE_S3_SECURE": "false",
    }


def storage_yaml(root):
    """The same as storage_env(root), as the driver's lines of a
    config.yml's storage section (two spaces in, ending in a newline)."""
    if S3 is None:
        return "  filesystem:\n    rootdirectory: %s\n" % root
    keys = ("regionendpoint", "accesskey", "secretkey", "region",
            "bucket", "rootdirectory", "forcepathstyle", "secure")
    env = storage_env(root)
    lines = ["  redirect:", "    disable: true", "  s3:"] + [
            "    %s: %s" % (k, env["REGISTRY_STORAGE_S3_" + k.upper()])
            for k in keys]
    return "\n".join(lines) + "\n"


def _s3_prefix(loc):
    return loc.rstrip("/") + "/"


def store_read(loc):
    """The bytes of the file (object) at loc, or None when absent.

    loc is a path under a store root, such as v2(root, ...) gives.
    """
    if S3 is not None:
        return S3.get(loc)
    try:
        return read_file(loc)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def store_write(loc, data):
    """Writes a file (object) at loc, making directories as needed."""
    if S3 is not None:
        S3.put(loc, data)
        return
    os.makedirs(os.path.dirname(loc), exist_ok=True)
    with open(loc, "wb") as f:
        f.write(data)


def store_exists(loc):
    """Whether loc is a file or a directory; on a bucket, an object or
    the prefix of one."""
    if S3 is None:
        return os.path.exists(loc)
    return S3.exists(loc) or bool(S3.list(_s3_prefix(loc)))


def store_listdir(loc):
    """The sorted names directly under the directory (prefix) loc;
    [] when there is none."""
    if S3 is None:
        return sorted(os.listdir(loc)) if os.path.isdir(loc) else []
    pre = _s3_prefix(loc)
    return sorted({k[len(pre):].split("/", 1)[0]
                   for k in S3.keys(pre)})


def store_snapshot(loc):
    """{relative path: fingerprint} of everything under loc, to tell
    whether a store changed: file hashes and directories, or object
    sizes and ETags."""
    if S3 is not None:
        pre = _s3_prefix(loc)
        return {k[len(pre):]: v for k, v in S3.list(pre).items()
                if k[len(pre):] != S3_PROBE}
    snap = {}
    for rel in tree(loc):
        full = os.path.join(loc, rel)
        snap[rel] = "dir" if os.path.isdir(full) else hashlib.sha256(
                read_file(full)).hexdigest()
    return snap


def store_files(loc):
    """The relative paths of the files (objects) under loc, a set."""
    if S3 is not None:
        return set(store_snapshot(loc))
    return {rel for rel in tree(loc)
            if not os.path.isdir(os.path.join(loc, rel))}


# ------------------------------------------------------------- disk checks

def tree(path):
    """Every file and directory under path, relative, as a set."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        for n in dirnames + filenames:
            out.add(os.path.normpath(os.path.join(rel, n)))
    return out


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def v2(root, *parts):
    return os.path.join(root, "docker", "registry", "v2", *parts)


def cleanup():
    """Removes the scratch directory."""
    global _base
    if _base is not None:
        shutil.rmtree(_base, ignore_errors=True)
        _base = None
