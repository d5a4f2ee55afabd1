#!/usr/bin/env python3
"""pager.py - times catalog and tag-list requests over one keep-alive
connection, checking every answer so a fast wrong one cannot score.

    pager.py walk HOST:PORT PATH KEY EXPECT
        GETs PATH, then each rel="next" Link until there is none.  KEY is
        the JSON list ("repositories" or "tags"); the lists together must
        hold EXPECT distinct names, each once.
    pager.py get HOST:PORT PATH KEY NAME
        GETs PATH once; its list must hold NAME.

Each mode repeats its work until at least --min-time seconds have passed
(at least once, at most --max-reps times) and prints one line:

    seconds=<median of the repetitions> reps=<n> requests=<per rep>
    entries=<names per rep>

--paths FILE writes the path of every request of the last repetition to
FILE, one a line, so that another client (wrk with bench/paths.lua) can
send the very same requests.

Only the requests are timed: the interpreter's start and the connection
setup are not, and reading and parsing the answer is part of every
client's cost, so it is in the time.  Exit status 1 on a wrong answer.
"""

import argparse
import http.client
import json
import re
import statistics
import sys
import time

LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def fetch(conn, path, key):
    """GETs PATH; returns (names, next path or None)."""
    conn.request("GET", path, headers={"Accept": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        sys.exit("pager: GET %s: status %d: %s" %
                 (path, resp.status, body[:200]))
    names = json.loads(body).get(key)
    if not isinstance(names, list):
        sys.exit("pager: GET %s: no \"%s\" list" % (path, key))
    link = resp.getheader("Link")
    m = LINK_NEXT.search(link) if link else None
    return names, (m.group(1) if m else None)


def walk(conn, path, key, expect, visited):
    """Follows the pages; returns (requests, entries) once checked."""
    seen, requests, total = set(), 0, 0
    expect = int(expect)
    while path:
        visited.append(path)
        names, path = fetch(conn, path, key)
        requests += 1
        total += len(names)
        seen.update(names)
        if requests > 2 * expect + 10:
            sys.exit("pager: more pages than names, Link loops")
    if total != len(seen) or total != expect:
        sys.exit("pager: walk gave %d names, %d distinct, want %s" %
                 (total, len(seen), expect))
    return requests, total


def get(conn, path, key, name, visited):
    visited.append(path)
    names, _ = fetch(conn, path, key)
    if name not in names:
        sys.exit("pager: GET %s: %s missing from the answer" % (path, name))
    return 1, len(names)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("walk", "get"))
    ap.add_argument("addr")
    ap.add_argument("path")
    ap.add_argument("key")
    ap.add_argument("arg")
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--max-reps", type=int, default=50)
    ap.add_argument("--paths")
    a = ap.parse_args()

    host, port = a.addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    conn.connect()
    work = walk if a.mode == "walk" else get

    times, start = [], time.monotonic()
    while True:
        visited = []
        t0 = time.perf_counter()
        requests, entries = work(conn, a.path, a.key, a.arg, visited)
        times.append(time.perf_counter() - t0)
        spent = time.monotonic() - start
        if spent >= a.min_time or len(times) >= a.max_reps:
            break
    conn.close()
    if a.paths:
        with open(a.paths, "w") as f:
            f.write("".join(p + "\n" for p in visited))
    print("seconds=%.6f reps=%d requests=%d entries=%d" %
          (statistics.median(times), len(times), requests, entries))


if __name__ == "__main__":
    main()
