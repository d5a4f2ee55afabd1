"""berth behind Debian's nginx with TLS, configured with the site that
docs/nginx.md documents (only addresses and file paths changed): skopeo
and podman push and pull through it, a layer far above nginx's default
body limit goes through whole, Location URLs name nginx's https address,
and X-Forwarded-* headers count only from http.trustedproxies.
"""

import http.client
import os
import re
import shutil
import signal
import subprocess
import time

import berthtest as bt
from berthtest import check, expect

import accesstest as at
from accesstest import As

DOC = os.path.join(at.REPO_ROOT, "docs", "nginx.md")
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
USERS = {"nina": "nginx-user-pw"}

# What the test changes in the documented site, each of which must be
# found there exactly once, so a changed document fails loudly here.
DOC_SITE_EDITS = [
        (r"server 127\.0\.0\.1:5000;", "server 127.0.0.1:{berth_port};"),
        (r"listen 443 ssl http2;", "listen 127.0.0.1:{port} ssl http2;"),
        (r"listen \[::\]:443 ssl http2;\n", ""),
        (r"ssl_certificate +\S+;", "ssl_certificate {cert};"),
        (r"ssl_certificate_key +\S+;", "ssl_certificate_key {key};"),
]

# Directives the document promises; checked in the block itself.
DOC_MUST_HAVE = [
        "client_max_body_size 0;", "proxy_request_buffering off;",
        "proxy_buffering off;", "proxy_read_timeout 900s;",
        "proxy_send_timeout 900s;", "client_body_timeout 900s;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host $http_host;",
]

MAIN_CONF = """worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{
    worker_connections 256;
}}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""


def documented_site():
    """The ```nginx block of docs/nginx.md."""
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    check(len(blocks) == 1, "docs/nginx.md has %d nginx blocks, not 1" %
          len(blocks))
    return blocks[0]


def site_for_test(values):
    site = documented_site()
    for directive in DOC_MUST_HAVE:
        check(directive in site, "docs/nginx.md lacks %r" % directive)
    for pattern, repl in DOC_SITE_EDITS:
        found = len(re.findall(pattern, site))
        check(found == 1, "docs/nginx.md: %r found %d times" % (pattern,
                                                                 found))
        site = re.sub(pattern, lambda m: repl.format(**values), site)
    return site


class Nginx:
    """nginx in the foreground, all its files in a scratch directory."""

    def __init__(self, ca, berth_port):
        self.prefix = bt.scratch("nginx")
        # Workers run as nobody and need to reach their temp dirs.
        os.chmod(bt.base_dir(), 0o711)
        os.chmod(self.prefix, 0o755)
        os.makedirs(os.path.join(self.prefix, "tmp"))
        self.port = at.free_port()
        cert, key = ca.issue(31, self.prefix)
        values = {"berth_port": berth_port, "port": self.port,
                  "cert": cert, "key": key}
        with open(os.path.join(self.prefix, "site.conf"), "w") as f:
            f.write(site_for_test(values))
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(MAIN_CONF.format(prefix=self.prefix))
        self.errlog = os.path.join(self.prefix, "error.log")
        self.base = "https://127.0.0.1:%d" % self.port
        self.ctx = ca.context()
        self.proc = None

    def cmd(self, *extra):
        return [NGINX, "-p", self.prefix, "-c", self.conf, "-e",
                self.errlog] + list(extra)

    def start(self):
        at.run_ok(self.cmd("-t"), "nginx -t")
        self.proc = subprocess.Popen(self.cmd("-g", "daemon off;"),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            check(self.proc.poll() is None, "nginx exited:\n" +
                  self.log_tail())
            try:
                r = self.request("GET", "/v2/", timeout=2)
                if r.status in (200, 401):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise bt.TestFailure("nginx not answering:\n" + self.log_tail())

    def request(self, method, target, **kw):
        return at.https_request(self.port, method, target, self.ctx, **kw)

    def log_tail(self):
        try:
            with open(self.errlog) as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return "(no error log)"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Via:
    """Requests through nginx as a user; every Location must be an
    https URL of nginx."""

    def __init__(self, ngx, user, password):
        self.ngx = ngx
        self.auth = at.basic(user, password)

    def request(self, method, target, body=None, headers=None, **kw):
        h = dict(headers or {})
        h.setdefault("Authorization", self.auth)
        return self.ngx.request(method, target, body=body, headers=h,
                                **kw)

    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def head(self, target, **kw):
        return self.request("HEAD", target, **kw)

    def resolve(self, location):
        check(location.startswith(self.ngx.base + "/v2/"),
              "Location %r is not nginx's URL %s" % (location,
                                                     self.ngx.base))
        return location[len(self.ngx.base):]


def start_behind_proxy(proxies="[127.0.0.1]"):
    return at.start_secured(USERS, http_extra="trustedproxies: %s" %
                            proxies)


def test_nginx_documented_site_passes_nginx_t():
    ca = at.CA()
    ngx = Nginx(ca, 5000)
    out = at.run_ok(ngx.cmd("-t"), "nginx -t on the documented site")
    check("test is successful" in out, out)


def test_nginx_locations_and_large_layer():
    ca = at.CA()
    srv = start_behind_proxy()
    with Nginx(ca, srv.port) as ngx:
        nina = Via(ngx, "nina", USERS["nina"])
        at.expect_challenge(ngx.request("GET", "/v2/"),
                            "through nginx without a login")
        r = nina.request("POST", bt.uploads_path("px/app"))
        expect(r, 202, "POST through nginx")
        nina.resolve(r.header("Location"))

        img = bt.make_image(2)
        bt.push_image(nina, "px/app", img, "v1", how="chunked")
        bt.check_manifest(nina, "px/app", "v1", img)

        # 24 MiB in one PUT and again streamed in one chunked PATCH:
        # nginx's default limit is 1 MiB.
        big = os.urandom(24 << 20)
        digest = bt.push_blob(nina, "px/app", big, how="monolithic")
        r = nina.get(bt.blob_path("px/app", digest), timeout=120)
        expect(r, 200, "GET the large blob")
        check(bt.digest_of(r.body) == digest, "the large blob changed")
        big2 = os.urandom(8 << 20)
        loc = bt.start_upload(nina, "px/app")
        conn = http.client.HTTPSConnection(bt.HOST, ngx.port,
                                           context=ngx.ctx, timeout=120)
        try:
            conn.request("PATCH", loc, body=bt.iter_chunks(big2, 1 << 20),
                         headers={"Authorization": nina.auth,
                                  "Content-Type":
                                  "application/octet-stream"},
                         encode_chunked=True)
            raw = conn.getresponse()
            raw.read()
            check(raw.status == 202, "streamed PATCH -> %d" % raw.status)
            loc = nina.resolve(raw.getheader("Location"))
        finally:
            conn.close()
        d2 = bt.digest_of(big2)
        r = nina.request("PUT", bt.with_query(loc, digest=d2), body=b"")
        bt.check_blob_created(nina, r, "px/app", d2, "closing PUT")
    srv.stop()


def forged_location(port, source, host="berth.example"):
    """The Location berth gives a POST from source that claims, through
    X-Forwarded-*, to have come over https for host."""
    conn = http.client.HTTPConnection(bt.HOST, port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.request("POST", bt.uploads_path("px/forged"), headers={
                "Authorization": at.basic("nina", USERS["nina"]),
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": host})
        r = conn.getresponse()
        r.read()
        check(r.status == 202, "POST -> %d" % r.status)
        return r.getheader("Location")
    finally:
        conn.close()


def test_nginx_forwarded_headers_only_from_trusted():
    srv = start_behind_proxy("[127.0.0.2/32]")
    untrusted = forged_location(srv.port, "127.0.0.1")
    check(untrusted.startswith("http://127.0.0.1:%d/v2/" % srv.port),
          "forged headers from an untrusted peer were used: %r" %
          untrusted)
    trusted = forged_location(srv.port, "127.0.0.2")
    check(trusted.startswith("https://berth.example/v2/"),
          "headers from a trusted proxy were ignored: %r" % trusted)
    srv.stop()

    srv = start_behind_proxy("[127.0.0.1]")
    loc = forged_location(srv.port, "127.0.0.1", "bad host/x")
    check(loc.startswith("https://127.0.0.1:%d/v2/" % srv.port),
          "a malformed X-Forwarded-Host was used: %r" % loc)
    srv.stop()


def test_nginx_skopeo_and_podman():
    if os.getuid() != 0:
        raise bt.TestFailure("podman with vfs storage needs root here")
    ca = at.CA()
    srv = start_behind_proxy()
    cl = at.Clients()
    creds = "nina:" + USERS["nina"]
    with Nginx(ca, srv.port) as ngx:
        addr = "127.0.0.1:%d" % ngx.port
        layout, info = at.oci_image("v1", "nginx-skopeo")
        dest = "docker://%s/px/skopeo:v1" % addr
        cl.ok(cl.skopeo("copy", "--dest-cert-dir", ca.certs_dir,
                        "--dest-creds", creds, "oci:%s:v1" % layout, dest),
              "skopeo push through nginx")
        back = os.path.join(bt.scratch("oci-back"), "layout")
        cl.ok(cl.skopeo("copy", "--src-cert-dir", ca.certs_dir,
                        "--src-creds", creds, dest, "oci:%s:back" % back),
              "skopeo pull through nginx")
        got = at.run_ok(["python3", at.MKOCI, "verify", back], "verify")
        check(info["manifest"] in got, "pulled manifest differs")

        pm = cl.podman
        try:
            tar, _ = at.rootfs_tar("nginx-podman")
            local = "localhost/px/pod:1"
            remote = "%s/px/pod:1" % addr
            cl.ok(pm("import", tar, local), "podman import")
            image_id = cl.ok(pm("image", "inspect", "--format", "{{.Id}}",
                                local), "inspect").strip()
            cl.ok(pm("login", "--cert-dir", ca.certs_dir, "-u", "nina",
                     "--password-stdin", addr), "podman login via nginx",
                  stdin=(USERS["nina"] + "\n").encode())
            cl.ok(pm("push", "--cert-dir", ca.certs_dir, local,
                     "docker://" + remote), "podman push through nginx")
            cl.ok(pm("rmi", "-a", "-f"), "podman rmi")
            cl.ok(pm("pull", "--cert-dir", ca.certs_dir,
                     "docker://" + remote), "podman pull through nginx")
            got = cl.ok(pm("image", "inspect", "--format", "{{.Id}}",
                           remote), "inspect pulled").strip()
            check(got == image_id, "pulled %s, pushed %s" % (got,
                                                             image_id))
        finally:
            cl.cleanup()
    # berth saw every request from nginx, and over plain HTTP.
    r = bt.get_manifest(As(srv, "nina", USERS["nina"]), "px/pod", "1")
    expect(r, 200, "the image podman pushed, straight from berth")
    srv.stop()
    check("client=127.0.0.1 user=nina method=PUT" in srv.log(),
          "berth's log has no push from nginx")
