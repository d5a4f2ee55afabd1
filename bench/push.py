#!/usr/bin/env python3
"""push.py - pushes one file as a blob in a single request and times it.

    push.py HOST:PORT REPO FILE DIGEST

Uses the one-request monolithic upload, POST
/v2/REPO/blobs/uploads/?digest=DIGEST with the file as the body, when the
registry takes it.  An untimed probe finds out: it POSTs the empty blob
that way and gets 201 if the registry stores it, or 202 with an upload
session if it ignores the body (registry:2 does).  Such a registry gets
the file in the other monolithic upload the distribution spec describes:
an empty POST for a session, then one PUT of the whole file to its
Location with ?digest=DIGEST.  Either way the body crosses the wire once.

The body is sent with sendfile(2) from the page cache, so the client costs
next to nothing and the time is the server's: from connecting to the last
byte of the final answer.  Prints one line:

    seconds=<float> status=<final status> flow=post|post+put

and exits 1 unless the blob was created (201).  curl -T cannot do this: it
appends the file's name to a URL ending in '/', and --data-binary reads the
whole file into memory before sending.
"""

import os
import socket
import sys
import time
import urllib.parse

EMPTY = ("sha256:e3b0c44298fc1c149afbf4c8996fb924"
         "27ae41e4649b934ca495991b7852b855")


def request(addr, method, target, fileobj=None, size=0):
    """Sends one request with FILEOBJ as its body; returns (status,
    headers dict with lowercase names)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        head = ("%s %s HTTP/1.1\r\nHost: %s\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" %
                (method, target, addr, size))
        sock.sendall(head.encode())
        if fileobj is not None and size:
            try:
                sock.sendfile(fileobj, 0, size)
            except (BrokenPipeError, ConnectionResetError):
                pass  # an early answer closed the connection; read it
        return response_read(sock)


def response_read(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    if not lines or len(lines[0].split()) < 2:
        sys.exit("push: no HTTP answer")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: push.py HOST:PORT REPO FILE DIGEST")
    addr, repo, path, digest = sys.argv[1:]
    size = os.path.getsize(path)
    start = "/v2/%s/blobs/uploads/?digest=%s" % (repo, digest)

    status, _ = request(addr, "POST",
                        "/v2/%s/blobs/uploads/?digest=%s" % (repo, EMPTY))
    if status not in (201, 202):
        sys.exit("push: probe POST answered %d" % status)
    flow = "post" if status == 201 else "post+put"

    with open(path, "rb") as f:
        t0 = time.perf_counter()
        if flow == "post":
            status, headers = request(addr, "POST", start, f, size)
        else:
            status, headers = request(addr, "POST",
                                      "/v2/%s/blobs/uploads/" % repo)
            if status != 202 or "location" not in headers:
                sys.exit("push: POST for a session answered %d" % status)
            loc = urllib.parse.urlsplit(headers["location"])
            sep = "&" if loc.query else ""
            target = "%s?%s%sdigest=%s" % (loc.path, loc.query, sep, digest)
            status, headers = request(addr, "PUT", target, f, size)
        seconds = time.perf_counter() - t0

    print("seconds=%.6f status=%d flow=%s" % (seconds, status, flow))
    sys.exit(0 if status == 201 else 1)


if __name__ == "__main__":
    main()
