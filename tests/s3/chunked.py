"""chunked.py - a chunked blob upload split across two registries.

    chunked.py split A_PORT B_PORT REPO   POST and one PATCH to A, the
                                          second PATCH and the PUT to B,
                                          then GET the blob from A (and
                                          the store it redirects to)
    chunked.py begin PORT REPO            starts an upload; prints where
    chunked.py patch PORT LOCATION        one PATCH; prints its status

Exits non-zero, saying why, when any answer is not what the
distribution spec asks for.
"""
import hashlib
import http.client
import os
import sys
import urllib.parse


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def fetch(port, path):
    """GETs path, following berth's redirect to the store as clients do;
    the store is on loopback too."""
    st, h, body = request(port, "GET", path)
    if st != 307:
        return st, body
    url = urllib.parse.urlsplit(h["location"])
    if url.hostname != "127.0.0.1":
        sys.exit("redirect off loopback: %s" % h["location"])
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    c.request("GET", url.path + "?" + url.query)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def path_of(location):
    if location.startswith("http"):
        return "/" + location.split("/", 3)[3]
    return location


def start(port, repo):
    st, h, _ = request(port, "POST", "/v2/%s/blobs/uploads/" % repo)
    if st != 202:
        sys.exit("POST upload: status %d" % st)
    return path_of(h["location"])


def patch(port, loc, data, first):
    end = first + len(data) - 1
    st, h, body = request(port, "PATCH", loc, data, {
        "Content-Type": "application/octet-stream",
        "Content-Range": "%d-%d" % (first, end)})
    return st, h, body


def split(a, b, repo):
    one = os.urandom(6 << 20)
    two = os.urandom(3 << 20 | 12345)
    digest = "sha256:" + hashlib.sha256(one + two).hexdigest()

    loc = start(a, repo)
    st, h, body = patch(a, loc, one, 0)
    if st != 202:
        sys.exit("PATCH to A: status %d %s" % (st, body[:200]))
    loc = path_of(h["location"])
    st, h, body = patch(b, loc, two, len(one))
    if st != 202:
        sys.exit("PATCH to B: status %d %s" % (st, body[:200]))
    if h.get("range") != "0-%d" % (len(one) + len(two) - 1):
        sys.exit("PATCH to B: Range %s" % h.get("range"))
    loc = path_of(h["location"])
    sep = "&" if "?" in loc else "?"
    st, h, body = request(b, "PUT", loc + sep + "digest=" + digest)
    if st != 201:
        sys.exit("PUT to B: status %d %s" % (st, body[:200]))

    st, body = fetch(a, "/v2/%s/blobs/%s" % (repo, digest))
    if st != 200 or body != one + two:
        sys.exit("GET from A: status %d, %d bytes" % (st, len(body)))


def patch_once(port, loc):
    st, _, _ = patch(port, loc, os.urandom(1 << 20), 0)
    print(st)


if __name__ == "__main__":
    if sys.argv[1] == "split":
        split(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "begin":
        print(start(int(sys.argv[2]), sys.argv[3]))
    elif sys.argv[1] == "patch":
        patch_once(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
