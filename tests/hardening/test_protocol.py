"""Requests that bend HTTP: smuggling attempts (Content-Length with
Transfer-Encoding, lengths that disagree), bytes that are not UTF-8
where berth echoes input in an error message, and method, case and path
tricks aimed at getting past authentication.

All of it goes over raw sockets, since client libraries refuse to send
most of it.
"""

import os
import sys
import time

import berthtest as bt
import hardentest as ht
from berthtest import check, expect

sys.path.insert(0, os.path.join(ht.REPO_ROOT, "tests", "access"))
import accesstest as at  # noqa: E402

def patch_head(srv):
    """The start of a PATCH to a new upload session: a request whose
    body berth reads, on a connection it keeps open afterwards."""
    loc = bt.start_upload(srv, "smuggle/app")
    return ("PATCH %s HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/octet-stream\r\n" % loc)


def smuggled(marker):
    return ("GET /v2/%s/tags/list HTTP/1.1\r\nHost: x\r\n\r\n" %
            marker).encode()


def test_pipelining_control():
    """The check below can see a hidden request: a well-framed PATCH
    followed by a pipelined GET gets two answers on one connection."""
    srv = bt.shared()
    marker = bt.unique("pipelined")
    data = (patch_head(srv) + "Content-Length: 4\r\n\r\n").encode() + \
        b"abcd" + smuggled(marker)
    resps, _ = ht.raw_exchange(srv, data, count=2)
    check(len(resps) == 2, "two pipelined requests got %d answers" %
          len(resps))
    check(resps[0].status == 202, "the PATCH: %s" % resps[0])
    check(resps[1].status == 404, "the pipelined GET: %s" % resps[1])
    check(ht.wait_until(lambda: marker in srv.log(), 3), "the pipelined "
          "request is not in the access log")


SMUGGLING = [
    # (name, head lines after the request line and Host, body, answers)
    ("content-length and chunked",
     "Content-Length: %(n)d\r\nTransfer-Encoding: chunked\r\n",
     "0\r\n\r\n%(s)s", (400,)),
    ("chunked and content-length",
     "Transfer-Encoding: chunked\r\nContent-Length: %(n)d\r\n",
     "0\r\n\r\n%(s)s", (400,)),
    ("two different content-lengths",
     "Content-Length: 0\r\nContent-Length: %(n)d\r\n", "%(s)s", (400,)),
    ("a content-length list", "Content-Length: 0, %(n)d\r\n", "%(s)s",
     (400,)),
    ("content-length with a plus", "Content-Length: +%(n)d\r\n", "%(s)s",
     (400,)),
    ("negative content-length", "Content-Length: -1\r\n", "%(s)s", (400,)),
    ("hexadecimal content-length", "Content-Length: 0x%(n)x\r\n", "%(s)s",
     (400,)),
    ("content-length with a space inside", "Content-Length: 1 %(n)d\r\n",
     "%(s)s", (400,)),
    ("an unknown transfer coding",
     "Transfer-Encoding: xchunked\r\nContent-Length: 0\r\n", "%(s)s",
     (400, 501)),
    ("identity then chunked",
     "Transfer-Encoding: identity, chunked\r\nContent-Length: %(n)d\r\n",
     "0\r\n\r\n%(s)s", (400, 501)),
    ("chunked twice", "Transfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n", "0\r\n\r\n%(s)s", (400, 501)),
    ("a space before the colon", "Transfer-Encoding : chunked\r\n"
     "Content-Length: %(n)d\r\n", "0\r\n\r\n%(s)s", (400,)),
    ("a folded transfer-encoding", "Transfer-Encoding:\r\n chunked\r\n"
     "Content-Length: %(n)d\r\n", "0\r\n\r\n%(s)s", (400,)),
    ("a chunk size past 64 bits", "Transfer-Encoding: chunked\r\n",
     "10000000000000000a\r\nabcdefghij\r\n0\r\n\r\n%(s)s", (400, 413)),
]


def test_request_smuggling():
    """Each ambiguously framed request gets 400 (501 for a coding berth
    does not know, 413 for a chunk too large to count) and the
    connection closes, so nothing hidden in its body is ever taken for
    a request of its own, whichever framing a proxy in front used."""
    srv = bt.shared()
    results, problems = [], []
    for name, head, body, answers in SMUGGLING:
        marker = bt.unique("smuggled")
        s = smuggled(marker).decode()
        n = len((body % {"s": s, "n": 0}).encode())
        text = body % {"s": s, "n": n}
        data = (patch_head(srv) + head % {"n": n} + "\r\n" +
                text).encode()
        resps, closed = ht.raw_exchange(srv, data, count=2, timeout=5)
        time.sleep(0.1)
        served = marker in srv.log()
        got = resps[0].status if resps else None
        results.append(str(got))
        if got not in answers:
            problems.append("%s: expected %s, got %s" % (
                    name, "/".join(map(str, answers)),
                    resps[0] if resps else "no answer"))
        if len(resps) > 1 or not closed or served:
            problems.append("%s: the connection went on after the "
                            "answer (%d answers, hidden request %s)" % (
                                    name, len(resps),
                                    "served" if served else "not served"))
    check(not problems, "\n".join(problems))
    ht.alive(srv, "smuggling attempts")
    ht.figures("request_smuggling", attempts=len(SMUGGLING),
               answers="/".join(results))


NOT_UTF8 = ["%ff", "%c0%ae", "%ed%a0%80", "%80abc", "a%fe%ff"]


def test_non_utf8_inputs():
    """Bytes that are not UTF-8 in names, references, digests, upload
    ids, query parameters and headers get a 4xx with the spec's error
    body; berth echoes some of them in messages, which must still be
    valid JSON."""
    srv = bt.shared()
    repo = bt.unique("utf/")
    img = bt.make_image(1)
    bt.push_image(srv, repo, img, "v1")
    loc = bt.start_upload(srv, repo)
    tried = 0
    for x in NOT_UTF8:
        targets = [
            ("GET", "/v2/%s/tags/list" % x),
            ("GET", "/v2/%s/manifests/%s" % (repo, x)),
            ("PUT", "/v2/%s/manifests/%s" % (repo, x)),
            ("GET", "/v2/%s/blobs/sha256:%s" % (repo, x)),
            ("GET", "/v2/%s/blobs/uploads/%s" % (repo, x)),
            ("GET", "/v2/%s/tags/list?n=%s" % (repo, x)),
            ("GET", "/v2/%s/tags/list?last=%s" % (repo, x)),
            ("GET", "/v2/_catalog?n=1&last=%s" % x),
            ("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (
                    repo, x, x)),
            ("PUT", "%s?digest=%s" % (loc.split("?")[0], x)),
            ("GET", "/v2/%s/referrers/%s" % (repo, x)),
        ]
        for method, target in targets:
            body = img.manifest if method == "PUT" else b""
            data = ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    "Content-Length: %d\r\n\r\n" % (method, target,
                                                   len(body))).encode()
            check_refused(srv, data + body, "%s %s" % (method, target))
            tried += 1
    raw_bytes = bytes(range(0x80, 0x100))
    headers = [
        ("PUT", bt.manifest_path(repo, "h"), b"Content-Type: "
         b"application/vnd.oci.image.manifest.v1+json\xff\r\n",
         img.manifest),
        ("PATCH", loc, b"Content-Range: 0-\xff\r\n", b"x"),
        ("GET", bt.blob_path(repo, bt.digest_of(img.layers[0])),
         b"Range: bytes=\xc0\xae-1\r\n", b""),
        ("GET", bt.manifest_path(repo, "v1"), b"Accept: " + raw_bytes +
         b"\r\n", b""),
    ]
    for method, target, header, body in headers:
        data = ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                "Content-Length: %d\r\n" % (method, target, len(body))
                ).encode() + header + b"\r\n" + body
        resps, _ = ht.raw_exchange(srv, data)
        check(resps, "%s %s with %r: no answer; berth alive: %s" % (
                method, target, header, srv.alive()))
        check(resps[0].status < 500, "%s %s with %r: %s" % (
                method, target, header, resps[0]))
        tried += 1
    ht.alive(srv, "bytes that are not UTF-8")
    ht.figures("non_utf8_inputs", requests=tried)


def check_refused(srv, data, what):
    """A 4xx with the spec's error body, or (for a query parameter that
    only steers a listing) a 200 whose body is JSON."""
    resps, _ = ht.raw_exchange(srv, data)
    check(resps, "%s: no answer; berth alive: %s" % (what, srv.alive()))
    r = resps[0]
    if r.status == 200 and "?" in what and ("list" in what or
                                            "_catalog" in what):
        bt.json.loads(r.body.decode("utf-8"))
        return
    check(400 <= r.status < 500, "%s: expected a 4xx, got %s" % (what, r))
    fake = bt.Response("GET", what, r.status, r.reason,
                       _Headers(r), r.body)
    problem = bt.error_body_problem(fake)
    check(problem is None, "%s: %s: %s" % (what, problem, r))


class _Headers:
    def __init__(self, r):
        self.r = r

    def get(self, name, default=None):
        return self.r.header(name, default)


ACCESS = """access:
  admins: [alice]
  anonymous:
    - repositories: ["public/**"]
      actions: [pull]
"""


def test_method_and_case_tricks():
    """With logins on and anonymous pulls allowed only under public/,
    no spelling of a method, path or request target lets an anonymous
    client write anywhere or read private/."""
    with at.start_secured({"alice": "alice-pw"}, extra=ACCESS) as srv:
        alice = at.As(srv, "alice", "alice-pw")
        secret_tag = bt.unique("secret")
        img = bt.make_image(1)
        bt.push_image(alice, "private/app", img, secret_tag)
        bt.push_image(alice, "public/app", img, "v1")
        layer = bt.digest_of(img.layers[0])
        tried = 0

        # Writes under public/ in every spelling.
        for method in ("put", "Put", "pUT", "PUT ", "PUT\t"):
            data = ("%s /v2/public/app/manifests/evil HTTP/1.1\r\nHost: x"
                    "\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                    "Connection: close\r\n\r\n" % (
                            method, bt.OCI_MANIFEST, len(img.manifest))
                    ).encode() + img.manifest
            no_success(srv, data, "%r manifest PUT" % method)
            tried += 1
        for method, override in (("POST", "PUT"), ("GET", "DELETE"),
                                 ("HEAD", "DELETE"), ("GET", "PUT")):
            data = ("%s /v2/public/app/manifests/%s HTTP/1.1\r\nHost: x\r\n"
                    "X-HTTP-Method-Override: %s\r\nX-HTTP-Method: %s\r\n"
                    "X-Method-Override: %s\r\nConnection: close\r\n"
                    "Content-Length: 0\r\n\r\n" % (
                            method, img.digest, override, override,
                            override)).encode()
            ht.raw_exchange(srv, data, head=method == "HEAD")
            tried += 1
        for method in ("delete", "Delete", "DELETE"):
            data = ("%s /v2/public/app/manifests/%s HTTP/1.1\r\nHost: x\r\n"
                    "Connection: close\r\n\r\n" % (method, img.digest)
                    ).encode()
            no_success(srv, data, "anonymous %r" % method)
            tried += 1
        no_success(srv, b"POST /v2/public/app/blobs/uploads/ HTTP/1.1\r\n"
                   b"Host: x\r\nConnection: close\r\nContent-Length: 0"
                   b"\r\n\r\n", "anonymous upload under public/")
        tried += 1

        # Reads of private/ in every spelling.
        targets = [
            "/v2/private/app/tags/list", "/V2/private/app/tags/list",
            "//v2/private/app/tags/list", "/v2//private/app/tags/list",
            "/v2/private//app/tags/list", "/v2/private/app/tags/list/",
            "/v2/./private/app/tags/list", "/v2/PRIVATE/app/tags/list",
            "/v2/public/../private/app/tags/list",
            "/v2/public/%2e%2e/private/app/tags/list",
            "/v2/public%2f..%2fprivate/app/tags/list",
            "/v2/private/app/tags/list?x=/public/app",
            "/v2/private/app/tags/list#public",
            "/v2/public/app/../../private/app/tags/list",
            "http://127.0.0.1:%d/v2/private/app/tags/list" % srv.port,
            "/v2/private/app/manifests/" + secret_tag,
            "/v2/private/app/blobs/" + layer,
            "/v2/_catalog", "/v2/_catalog?n=100",
        ]
        methods = ["GET", "HEAD", "get", "OPTIONS", "TRACE", "PROPFIND"]
        for t in targets:
            for m in methods:
                for version in ("HTTP/1.1", "HTTP/1.0"):
                    data = ("%s %s %s\r\nHost: x\r\nConnection: close"
                            "\r\n\r\n" % (m, t, version)).encode()
                    resps, _ = ht.raw_exchange(srv, data, head=m == "HEAD")
                    tried += 1
                    if not resps:
                        continue
                    r = resps[0]
                    leak = secret_tag.encode() in r.body or \
                        b"private/app" in r.body
                    check(not leak, "%s %s %s: the answer shows private/ "
                          "to an anonymous client: %s" % (m, t, version, r))
                    if "_catalog" not in t:
                        check(not 200 <= r.status < 300, "%s %s %s: %s" % (
                                m, t, version, r))

        # HEAD answers like GET and tells nothing GET does not.
        for d in (layer, bt.digest_of(b"never pushed")):
            g = srv.request("GET", bt.blob_path("private/app", d),
                            record=False)
            h = srv.head(bt.blob_path("private/app", d))
            check(g.status == h.status == 401, "GET/HEAD of a private "
                  "blob anonymously: %d/%d" % (g.status, h.status))
        expect(alice.head(bt.blob_path("private/app", layer)), 200,
               "HEAD as alice")

        # Nothing was written or removed.
        expect(alice.get(bt.manifest_path("public/app", "evil")), 404,
               "the tag anonymous clients tried to push")
        bt.check_manifest(alice, "public/app", "v1", img)
        bt.check_manifest(alice, "private/app", secret_tag, img)
        ht.figures("method_and_case_tricks", requests=tried)


def no_success(srv, data, what):
    resps, _ = ht.raw_exchange(srv, data)
    if resps:
        check(not 200 <= resps[0].status < 300, "%s: %s" % (what,
                                                              resps[0]))
