"""Path traversal in repository names, tags, digests and upload ids, and
upload sessions that cannot be guessed or used from another repository.

Every traversal attempt is sent byte for byte over a raw socket (a
client library would normalise "..") in plain, percent-encoded,
double-encoded, overlong-UTF-8 and doubled-slash forms.  A sentinel
directory beside the store holds a secret: no answer may contain it,
nothing outside the store may change, and nothing inside it may get a
name a traversal would leave.
"""

import os
import re
import uuid

import berthtest as bt
import hardentest as ht
from berthtest import check, expect, expect_error

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                   r"-[0-9a-f]{12}")
# What berth's own store entries are made of.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")

DOTS = ["..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%252e%252e",
        "%c0%ae%c0%ae", "..%00", "..;"]
SEPS = ["/", "%2f", "%2F", "//", "%252f", "\\", "%5c"]


def escapes():
    """Ways of climbing six levels up and into the sentinel directory."""
    out = []
    for d in DOTS:
        for s in SEPS:
            out.append(s.join([d] * 6) + s + "sentinel")
    out += ["legit/app/../../../../../../sentinel",
            "legit//app//..//..//..//..//..//..//sentinel",
            "legit/app%2f..%2f..%2f..%2f..%2f..%2f..%2fsentinel",
            "/etc/passwd", "%2fetc%2fpasswd", "..", "%2e%2e",
            "./legit/app", "legit/./app", "legit/app/."]
    return out


def request(method, target, body=b"", ctype="application/octet-stream"):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (
            method, target)
    if method in ("PUT", "PATCH", "POST"):
        head += "Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype,
                                                                  len(body))
    return head.encode() + b"\r\n" + (body if method != "HEAD" else b"")


class Attack:
    def __init__(self, srv, secret):
        self.srv = srv
        self.secret = secret.encode()
        self.tried = 0

    def send(self, method, target, body=b"", ctype=None):
        data = request(method, target, body, ctype or
                       "application/octet-stream")
        resps, _ = ht.raw_exchange(self.srv, data, head=method == "HEAD")
        self.tried += 1
        what = "%s %s" % (method, target[:160])
        check(resps, "%s: no answer; berth alive: %s" % (
                what, self.srv.alive()))
        r = resps[0]
        check(400 <= r.status < 500, "%s: expected a 4xx, got %s" % (
                what, r))
        check(self.secret not in r.body, "%s: the answer holds the "
              "sentinel's secret" % what)
        return r


def store_names_safe(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            check(SAFE_NAME.fullmatch(n) and ".." not in n, "the store "
                  "has an entry named %r in %s" % (n, os.path.relpath(
                          dirpath, root)))


def test_path_traversal():
    base = bt.scratch("traversal")
    root = os.path.join(base, "root")
    sentinel = os.path.join(base, "sentinel")
    os.makedirs(root)
    os.makedirs(sentinel)
    secret = "BERTH-SENTINEL-" + bt.unique("s")
    with open(os.path.join(sentinel, "secret"), "w") as f:
        f.write(secret)
    with bt.start_berth(root=root) as srv:
        img = bt.make_image(1)
        bt.push_image(srv, "legit/app", img, "latest")
        before = ht.snapshot(base, exclude=root)
        layer = bt.digest_of(img.layers[0])
        att = Attack(srv, secret)
        for e in escapes():
            attack_name(att, e, img, layer)
            attack_reference(att, e, img)
            attack_digest(srv, att, e, layer)
            attack_upload(srv, att, e)
        ht.alive(srv, "path traversal attempts")
        check(ht.snapshot(base, exclude=root) == before, "files outside "
              "the store changed")
        store_names_safe(root)
        r = srv.get("/v2/_catalog")
        check(r.json().get("repositories") == ["legit/app"], "catalog "
              "after traversal attempts: %r" % r.json())
        bt.check_manifest(srv, "legit/app", "latest", img)
    ht.figures("path_traversal", requests=att.tried,
               escape_forms=len(escapes()))


def attack_name(att, e, img, layer):
    att.send("GET", "/v2/%s/tags/list" % e)
    att.send("GET", "/v2/%s/manifests/latest" % e)
    att.send("HEAD", "/v2/%s/manifests/latest" % e)
    att.send("PUT", "/v2/%s/manifests/latest" % e, img.manifest,
             bt.OCI_MANIFEST)
    att.send("DELETE", "/v2/%s/manifests/%s" % (e, img.digest))
    att.send("GET", "/v2/%s/blobs/%s" % (e, layer))
    att.send("DELETE", "/v2/%s/blobs/%s" % (e, layer))
    att.send("POST", "/v2/%s/blobs/uploads/" % e)
    att.send("POST", "/v2/%s/blobs/uploads/?digest=%s" % (
            e, bt.digest_of(b"x")), b"x")
    att.send("POST", "/v2/legit/app/blobs/uploads/?mount=%s&from=%s" % (
            layer, e))
    att.send("GET", "/v2/%s/referrers/%s" % (e, img.digest))


def attack_reference(att, e, img):
    att.send("GET", "/v2/legit/app/manifests/%s" % e)
    att.send("HEAD", "/v2/legit/app/manifests/%s" % e)
    att.send("PUT", "/v2/legit/app/manifests/%s" % e, img.manifest,
             bt.OCI_MANIFEST)
    att.send("DELETE", "/v2/legit/app/manifests/%s" % e)


def attack_digest(srv, att, e, layer):
    for d in ("sha256:" + e, e, "sha256:" + bt.hex_of(layer) + "/" + e):
        att.send("GET", "/v2/legit/app/blobs/%s" % d)
        att.send("HEAD", "/v2/legit/app/blobs/%s" % d)
        att.send("DELETE", "/v2/legit/app/blobs/%s" % d)
        att.send("GET", "/v2/legit/app/manifests/%s" % d)
        att.send("POST", "/v2/legit/app/blobs/uploads/?mount=%s"
                 "&from=legit/app" % d)
    loc = bt.start_upload(srv, "legit/app")
    att.send("PUT", bt.with_query(loc, digest="x") .replace(
            "digest=x", "digest=sha256:" + e), b"data")


def attack_upload(srv, att, e):
    ids = [e, "%s/%s" % (uuid.uuid4(), e), "%s%%2f%s" % (uuid.uuid4(), e)]
    for i in ids:
        target = "/v2/legit/app/blobs/uploads/%s" % i
        att.send("GET", target)
        att.send("PATCH", target, b"data")
        att.send("PUT", target + "?digest=" + bt.digest_of(b"data"),
                 b"data")
        att.send("DELETE", target)


def session_id(srv, repo):
    r = srv.request("POST", bt.uploads_path(repo))
    expect(r, 202, "start upload")
    loc = srv.resolve(r.header("Location"))
    sid = loc.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    check(r.header("Docker-Upload-UUID") in (None, sid), "Location %s "
          "and Docker-Upload-UUID %s differ" % (loc, r.header(
                  "Docker-Upload-UUID")))
    return sid, loc


def test_upload_sessions_unguessable():
    """Session ids are random UUIDs: version 4, all different, their
    hex digits evenly spread."""
    srv = bt.shared()
    repo = bt.unique("ids/")
    ids = [session_id(srv, repo)[0] for _ in range(300)]
    for i in ids:
        check(UUID4.fullmatch(i), "upload id %r is not a random (version "
              "4) UUID" % i)
    check(len(set(ids)) == len(ids), "upload ids repeat")
    # 30 random hex digits per id; each digit should come up 1/16 of
    # the time.  Counters, timestamps or a weak generator skew this.
    digits = "".join(i.replace("-", "")[:12] + i.replace("-", "")[13:16] +
                     i.replace("-", "")[17:] for i in ids)
    counts = [digits.count(c) for c in "0123456789abcdef"]
    expected = len(digits) / 16
    check(all(0.75 * expected < c < 1.25 * expected for c in counts),
          "hex digits of upload ids are unevenly spread: %s" % counts)
    prefixes = {i[:8] for i in ids}
    check(len(prefixes) == len(ids), "upload ids share their first 8 "
          "digits")
    for i in ids[:50]:
        expect(srv.request("DELETE", "%s%s" % (bt.uploads_path(repo), i)),
               204, "cancel upload")
    ht.figures("upload_sessions_unguessable", ids=len(ids),
               digit_counts_min=min(counts), digit_counts_max=max(counts))


def test_upload_session_bound_to_repository():
    """A session started in one repository is unknown in every other:
    it cannot be read, written, finished or cancelled from there, and
    it still works where it was started."""
    srv = bt.shared()
    a, b = bt.unique("owner/"), bt.unique("other/")
    data = os.urandom(3000)
    d = bt.digest_of(data)
    sid, loc = session_id(srv, a)
    r = srv.request("PATCH", loc, body=data[:1000], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "0-999"})
    expect(r, 202, "first chunk")
    loc = srv.resolve(r.header("Location"))
    other = "%s%s" % (bt.uploads_path(b), sid)
    for repo in (b, a + "/x", a.split("/")[0]):
        other = "%s%s" % (bt.uploads_path(repo), sid)
        expect_error(srv.get(other), 404, "BLOB_UPLOAD_UNKNOWN",
                     "GET the session from " + repo)
        expect_error(srv.request("PATCH", other, body=data[1000:2000],
                                 headers={"Content-Range": "1000-1999",
                                          "Content-Type":
                                          "application/octet-stream"}),
                     404, "BLOB_UPLOAD_UNKNOWN", "PATCH from " + repo)
        expect_error(srv.request("PUT", bt.with_query(other, digest=d),
                                 body=data[1000:]), 404,
                     "BLOB_UPLOAD_UNKNOWN", "PUT from " + repo)
        expect_error(srv.request("DELETE", other), 404,
                     "BLOB_UPLOAD_UNKNOWN", "DELETE from " + repo)
    guessed = "%s%s" % (bt.uploads_path(a), uuid.uuid4())
    expect_error(srv.get(guessed), 404, "BLOB_UPLOAD_UNKNOWN",
                 "a UUID berth never issued")
    r = srv.get(loc)
    expect(r, 204, "the session where it was started")
    bt.expect_header(r, "Range", "0-999", "the session after the attempts")
    r = srv.request("PUT", bt.with_query(loc, digest=d), body=data[1000:],
                    headers={"Content-Type": "application/octet-stream"})
    bt.check_blob_created(srv, r, a, d, "finishing the session")
    expect_error(srv.head(bt.blob_path(b, d)), 404, "BLOB_UNKNOWN",
                 "the blob in the other repository")
