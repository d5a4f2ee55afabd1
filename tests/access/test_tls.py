"""TLS served by berth itself, with a CA made by openssl for the test:
clients that verify it get in and others do not, only TLS 1.2 and 1.3
are spoken (and 1.3 alone when asked), Location URLs say https, skopeo
pushes and pulls with the CA in a certificate directory, and a renewed
certificate on disk reaches new connections without a restart while
connections already open carry on.
"""

import http.client
import os
import shutil
import ssl
import subprocess
import time

import berthtest as bt
from berthtest import check, expect

import accesstest as at

USERS = {"tess": "tls-user-pw"}


class TlsServer:
    """berth serving HTTPS with a certificate of ca, kept at fixed paths
    (.cert, .key) so that a test can renew it in place."""

    def __init__(self, ca, serial=1, minimum=None, users=None):
        self.ca = ca
        self.ctx = ca.context()
        d = bt.scratch("tls-live")
        self.cert = os.path.join(d, "server.crt")
        self.key = os.path.join(d, "server.key")
        crt, key = ca.issue(serial)
        shutil.copy(crt, self.cert)
        shutil.copy(key, self.key)
        tls = "tls:\n  certificate: %s\n  key: %s\n" % (self.cert,
                                                        self.key)
        if minimum:
            tls += "  minimumtls: %s\n" % minimum
        if users:
            self.srv = at.start_secured(users, http_extra=tls, wait=False)
        else:
            self.srv = bt.start_berth(wait=False, config_yaml=(
                    at.BASE_YAML + at.indent(tls, 2)))
        self.port = self.srv.port
        self.base = "https://127.0.0.1:%d" % self.port
        at.wait_up(self.srv, get=lambda p: self.request("GET", p,
                                                        timeout=2))

    def request(self, method, target, **kw):
        return at.https_request(self.port, method, target, self.ctx, **kw)

    def connect(self, ctx=None):
        return http.client.HTTPSConnection(bt.HOST, self.port,
                                           context=ctx or self.ctx,
                                           timeout=bt.REQUEST_TIMEOUT)

    def stop(self):
        self.srv.stop()


class TlsClient:
    """Stands in for a server in berthtest's push helpers, over HTTPS;
    every Location must be an https URL of this server."""

    def __init__(self, tsrv, user=None, password=None):
        self.t = tsrv
        self.auth = at.basic(user, password) if user else None

    def request(self, method, target, body=None, headers=None, **kw):
        h = dict(headers or {})
        if self.auth:
            h.setdefault("Authorization", self.auth)
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = b"".join(body)
        return self.t.request(method, target, body=body, headers=h, **kw)

    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def head(self, target, **kw):
        return self.request("HEAD", target, **kw)

    def resolve(self, location):
        check(location.startswith(self.t.base + "/v2/"),
              "Location %r is not an https URL of %s" % (location,
                                                         self.t.base))
        return location[len(self.t.base):]


def curl(*args):
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w",
                        "%{http_code}", "--max-time", "10"] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_tls_clients_verify_the_ca():
    ca = at.CA()
    t = TlsServer(ca)
    url = t.base + "/v2/"
    rc, code, err = curl("--cacert", ca.cert, url)
    check(rc == 0 and code == "200", "curl --cacert: %d %s %s" % (
            rc, code, err))
    rc, code, err = curl("--cacert", ca.cert,
                         "https://localhost:%d/v2/" % t.port)
    check(rc == 0 and code == "200", "curl by name localhost: %d %s %s" %
          (rc, code, err))
    rc, code, err = curl(url)
    check(rc == 60, "curl without the CA: exit %d (%s), expected 60" % (
            rc, err))
    other = at.CA("another CA")
    rc, code, err = curl("--cacert", other.cert, url)
    check(rc == 60, "curl with another CA: exit %d (%s)" % (rc, err))

    try:
        at.https_request(t.port, "GET", "/v2/",
                         ssl.create_default_context())
        raise bt.TestFailure("the system CAs accepted the test CA's "
                             "certificate")
    except ssl.SSLCertVerificationError:
        pass

    # Plain HTTP on the TLS port gets no registry answer.
    rc, code, err = curl("http://127.0.0.1:%d/v2/" % t.port)
    check(code != "200", "plain HTTP answered 200 on the TLS port")
    expect(t.request("GET", "/v2/"), 200, "still serving after that")
    t.stop()


def s_client(port, version_flag):
    """Whether openssl s_client completes a handshake with version_flag,
    with every old cipher allowed on the client's side."""
    p = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % port, version_flag, "-cipher",
                        "DEFAULT:@SECLEVEL=0"],
                       input=b"", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    out = p.stdout.decode("utf-8", "replace")
    return p.returncode == 0 and "BEGIN CERTIFICATE" in out, out


def negotiated(t, lowest, highest):
    ctx = t.ca.context()
    ctx.minimum_version = lowest
    ctx.maximum_version = highest
    conn = t.connect(ctx)
    try:
        conn.request("GET", "/v2/")
        r = conn.getresponse()
        r.read()
        check(r.status == 200, "GET /v2/ -> %d" % r.status)
        return conn.sock.version()
    finally:
        conn.close()


def test_tls_versions():
    ca = at.CA()
    # The client can speak TLS 1.1: shown against openssl's own server.
    d = bt.scratch("s_server")
    crt, key = ca.issue(7, d)
    port = at.free_port()
    ref = subprocess.Popen(["openssl", "s_server", "-accept",
                            "127.0.0.1:%d" % port, "-cert", crt, "-key",
                            key, "-tls1_1", "-cipher",
                            "DEFAULT:@SECLEVEL=0", "-www"],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        ok = False
        for _ in range(50):
            ok, out = s_client(port, "-tls1_1")
            if ok:
                break
            time.sleep(0.1)
        check(ok, "the TLS 1.1 client does not work even against "
              "openssl s_server:\n" + out[-1500:])
    finally:
        ref.kill()
        ref.wait()

    t = TlsServer(ca)
    ok, out = s_client(t.port, "-tls1_1")
    check(not ok, "berth accepted TLS 1.1:\n" + out[-1500:])
    ok, out = s_client(t.port, "-tls1")
    check(not ok, "berth accepted TLS 1.0")
    check(negotiated(t, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
          == "TLSv1.2", "TLS 1.2 not negotiated")
    check(negotiated(t, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
          == "TLSv1.3", "TLS 1.3 not negotiated")
    url = t.base + "/v2/"
    for flags in (["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]):
        rc, code, err = curl("--cacert", ca.cert, *flags, url)
        check(rc == 0 and code == "200", "curl %s: %d %s %s" % (
                " ".join(flags), rc, code, err))
    t.stop()

    # minimumtls: tls1.3 leaves 1.2 out.
    t = TlsServer(ca, minimum="tls1.3")
    rc, code, err = curl("--cacert", ca.cert, "--tlsv1.2", "--tls-max",
                         "1.2", t.base + "/v2/")
    check(rc != 0, "TLS 1.2 accepted with minimumtls tls1.3")
    check(negotiated(t, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
          == "TLSv1.3", "TLS 1.3 not negotiated with minimumtls")
    t.stop()


def test_tls_push_pull_and_https_locations():
    ca = at.CA()
    t = TlsServer(ca, users=USERS)
    anon = TlsClient(t)
    at.expect_challenge(anon.get("/v2/"), "no credentials over TLS")
    tess = TlsClient(t, "tess", USERS["tess"])
    img = bt.make_image(2)
    bt.push_image(tess, "tls/app", img, "v1", how="chunked")
    bt.check_manifest(tess, "tls/app", "v1", img)
    for layer in img.layers:
        bt.check_blob(tess, "tls/app", layer)
    t.stop()


def test_tls_skopeo_with_cert_dir():
    ca = at.CA()
    t = TlsServer(ca, users=USERS)
    cl = at.Clients()
    layout, info = at.oci_image("v1", "tls-skopeo")
    dest = "docker://127.0.0.1:%d/tls/skopeo:v1" % t.port
    creds = "tess:" + USERS["tess"]

    out = cl.fails(cl.skopeo("copy", "--dest-creds", creds,
                             "oci:%s:v1" % layout, dest),
                   "skopeo without the CA")
    check("certificate" in out and ("unknown authority" in out or
                                    "verify" in out),
          "skopeo's error does not say why:\n" + out[-1500:])

    cl.ok(cl.skopeo("copy", "--dest-cert-dir", ca.certs_dir,
                    "--dest-creds", creds, "oci:%s:v1" % layout, dest),
          "skopeo push over https")
    back = os.path.join(bt.scratch("oci-back"), "layout")
    cl.ok(cl.skopeo("copy", "--src-cert-dir", ca.certs_dir,
                    "--src-creds", creds, dest, "oci:%s:back" % back),
          "skopeo pull over https")
    got = at.run_ok(["python3", at.MKOCI, "verify", back], "verify")
    check(info["manifest"] in got, "pulled manifest differs:\n" + got)

    out = cl.fails(cl.skopeo("inspect", "--cert-dir", ca.certs_dir,
                             "--creds", "tess:wrong", dest),
                   "skopeo with a wrong password")
    check("unauthorized" in out.lower() or "401" in out,
          "skopeo's error does not say unauthorized:\n" + out[-1500:])
    t.stop()


def wait_serial(t, want, timeout=5):
    """Polls new connections until they get serial want."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = at.served_serial(t.port)
        if got == want:
            return
        time.sleep(0.2)
    raise bt.TestFailure("new connections still get serial %s, not %s" % (
            got, want))


def peer_serial(conn):
    return conn.sock.getpeercert()["serialNumber"].upper()


def test_tls_certificate_renewal_without_restart():
    ca = at.CA()
    t = TlsServer(ca, serial=0x1001)
    pid = t.srv.proc.pid
    check(at.served_serial(t.port) == at.serial_hex(0x1001),
          "first serial")

    # A keep-alive connection opened before the renewal.
    conn = t.connect()
    conn.request("GET", "/v2/")
    r = conn.getresponse()
    r.read()
    check(r.status == 200, "GET before the renewal -> %d" % r.status)
    check(peer_serial(conn) == at.serial_hex(0x1001), "keep-alive serial")

    crt, key = ca.issue(0x2002)
    at.install_pair(crt, key, t.cert, t.key)
    wait_serial(t, at.serial_hex(0x2002))
    expect(t.request("GET", "/v2/"), 200, "a verified request after it")

    conn.request("GET", "/v2/_catalog")
    r = conn.getresponse()
    r.read()
    check(r.status == 200, "the old connection after the renewal -> %d" %
          r.status)
    check(peer_serial(conn) == at.serial_hex(0x1001),
          "the open connection changed certificate")
    conn.close()

    # A broken renewal is refused and the last good certificate stays.
    time.sleep(1.1)
    with open(t.cert, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64\n")
    time.sleep(1.1)
    check(at.served_serial(t.port) == at.serial_hex(0x2002),
          "a broken certificate file replaced the good one")
    check(at.log_has(t.srv, r"certificate reload failed"),
          "the failed reload is not logged:\n" + t.srv.log_tail())

    # A key that does not match the certificate is refused too.
    crt3, key3 = ca.issue(0x3003)
    _, key4 = ca.issue(0x4004)
    at.install_pair(crt3, key4, t.cert, t.key)
    time.sleep(1.2)
    check(at.served_serial(t.port) == at.serial_hex(0x2002),
          "a certificate with the wrong key was taken")
    expect(t.request("GET", "/v2/"), 200, "verified after the mismatch")

    at.install_pair(crt3, key3, t.cert, t.key)
    wait_serial(t, at.serial_hex(0x3003))
    check(t.srv.proc.pid == pid and t.srv.alive(), "berth restarted")
    t.stop()


def test_tls_bad_files_at_start():
    ca = at.CA()
    crt, key = ca.issue(5)
    _, other_key = ca.issue(6)
    for cert_path, key_path, says in (
            ("/nonexistent/server.crt", key, "/nonexistent/server.crt"),
            (crt, "/nonexistent/server.key", "/nonexistent/server.key"),
            (crt, other_key, "")):
        tls = "tls:\n  certificate: %s\n  key: %s\n" % (cert_path,
                                                        key_path)
        srv = bt.start_berth(wait=False, config_yaml=(
                at.BASE_YAML + at.indent(tls, 2)))
        try:
            rc = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill_quietly()
            raise bt.TestFailure("berth started with %s / %s" % (
                    cert_path, key_path))
        srv.returncode = rc
        check(rc != 0, "exit 0 with %s / %s" % (cert_path, key_path))
        check(says in srv.log() and "level=error" in srv.log(),
              "the error does not name %r:\n%s" % (says, srv.log_tail()))
