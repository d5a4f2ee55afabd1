"""The secured setup that docs/security.md shows, run as written (only the
store, address, certificate and htpasswd paths changed): TLS verified
with the test CA, logins, the permissions its access section promises,
and CORS for its UI origin.
"""

import os
import re

import berthtest as bt
from berthtest import check, expect

import accesstest as at
from test_tls import TlsClient

DOC = os.path.join(at.REPO_ROOT, "docs", "security.md")
USERS = {"ops": "ops-doc-pw", "alice": "alice-doc-pw", "bob": "bob-doc-pw",
         "carl": "carl-doc-pw"}
UI = "https://ui.example.com"


def documented_config(values):
    with open(DOC) as f:
        text = f.read()
    m = re.search(r"```yaml\n(.*?)```", text, re.S)
    check(m is not None, "docs/security.md has no yaml block")
    cfg = m.group(1)
    for pattern, repl in (
            (r"rootdirectory: /var/lib/registry", "rootdirectory: {root}"),
            (r"addr: :443", "addr: 127.0.0.1:{port}"),
            (r"certificate: \S+", "certificate: %s" % values["cert"]),
            (r"key: \S+", "key: %s" % values["key"]),
            (r"path: /etc/berth/htpasswd", "path: %s" % values["htpasswd"])):
        found = len(re.findall(pattern, cfg))
        check(found == 1, "docs/security.md: %r found %d times" % (
                pattern, found))
        cfg = re.sub(pattern, lambda _: repl, cfg)
    return cfg


class DocServer:
    """Stands in for TlsServer: berth with config_yaml over HTTPS
    verified with ca."""

    def __init__(self, config_yaml, ca):
        self.ctx = ca.context()
        self.srv = bt.start_berth(wait=False, config_yaml=config_yaml)
        self.port = self.srv.port
        self.base = "https://127.0.0.1:%d" % self.port
        at.wait_up(self.srv, get=lambda p: self.request("GET", p,
                                                        timeout=2))

    def request(self, method, target, **kw):
        return at.https_request(self.port, method, target, self.ctx, **kw)


def test_docs_security_setup():
    ca = at.CA()
    cert, key = ca.issue(77)
    d = DocServer(documented_config({
            "cert": cert, "key": key,
            "htpasswd": at.make_htpasswd(USERS)}), ca)
    as_user = {u: TlsClient(d, u, pw) for u, pw in USERS.items()}
    anon = TlsClient(d)

    img = bt.make_image(1)
    bt.push_image(as_user["ops"], "public/base", img, "v1")
    bt.check_manifest(anon, "public/base", "v1", img)
    at.expect_challenge(anon.request("POST", bt.uploads_path("public/x")),
                        "anonymous push to public/",
                        realm="registry.example.com")

    bt.push_image(as_user["alice"], "team-a/app/db", img, "v1")
    bt.check_manifest(as_user["carl"], "team-a/app/db", "v1", img)
    at.expect_denied(as_user["carl"].request(
            "POST", bt.uploads_path("team-a/app")), "carl pushes to team-a")
    at.expect_denied(as_user["alice"].request(
            "POST", bt.uploads_path("other/app")), "alice pushes to other/")
    expect(as_user["bob"].request("DELETE", bt.manifest_path(
            "team-a/app/db", img.digest)), 202, "bob deletes in team-a")

    names = at.catalog(anon)
    check(names == ["public/base"], "anonymous catalog %r" % names)

    r = d.request("OPTIONS", "/v2/_catalog", headers={
            "Origin": UI, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
    expect(r, 204, "preflight from the documented UI origin")
    bt.expect_header(r, "Access-Control-Allow-Origin", UI)
    d.srv.stop()


def test_docs_readme_setup():
    with open(os.path.join(at.REPO_ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"## Securing it\n.*?```yaml\n(.*?)```", text, re.S)
    check(m is not None, "README.md has no yaml block under Securing it")
    ca = at.CA()
    cert, key = ca.issue(78)
    htpasswd = at.make_htpasswd({"alice": "a-pw", "ops": "o-pw",
                                 "zed": "z-pw"})
    cfg = m.group(1)
    for old, new in (("addr: :443", "addr: 127.0.0.1:{port}"),
                     ("/etc/letsencrypt/live/registry.example.com/"
                      "fullchain.pem", cert),
                     ("/etc/letsencrypt/live/registry.example.com/"
                      "privkey.pem", key),
                     ("/etc/berth/htpasswd", htpasswd)):
        check(cfg.count(old) == 1, "README.md: %r not found once" % old)
        cfg = cfg.replace(old, new)
    cfg = at.BASE_YAML.replace("http:\n  addr: 127.0.0.1:{port}\n",
                               "") + cfg
    d = DocServer(cfg, ca)
    img = bt.make_image(1)
    bt.push_image(TlsClient(d, "alice", "a-pw"), "team-a/x", img, "v1")
    bt.push_image(TlsClient(d, "ops", "o-pw"), "public/y", img, "v1")
    bt.check_manifest(TlsClient(d), "public/y", "v1", img)
    at.expect_denied(bt.get_manifest(TlsClient(d, "zed", "z-pw"),
                                     "team-a/x", "v1"), "zed in team-a")
    d.srv.stop()
