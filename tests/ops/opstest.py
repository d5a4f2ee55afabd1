"""opstest - what berth's operations tests share: a berth with its debug
listener, a Prometheus scrape parsed into numbers, and a webhook receiver
that records what berth sends it.

Only the Python 3 standard library is used, and only 127.0.0.1 is ever
contacted: the receiver listens there and berth is told to bypass any
proxy the environment names.
"""

import http.client
import http.server
import json
import os
import re
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "blackbox"))

import berthtest as bt  # noqa: E402
from berthtest import check  # noqa: E402

# berth must reach the receiver directly, whatever the environment says.
NO_PROXY_ENV = {"http_proxy": None, "https_proxy": None, "all_proxy": None,
                "HTTP_PROXY": None, "HTTPS_PROXY": None, "ALL_PROXY": None,
                "no_proxy": "127.0.0.1,localhost",
                "NO_PROXY": "127.0.0.1,localhost"}

# The envelope's media type, as registry:2 sends it.
ENVELOPE_TYPE = "application/vnd.docker.distribution.events.v1+json"


def start_ops(env=None, config_yaml=None, root=None, prometheus=True):
    """Starts berth with its debug listener on a free loopback port.

    The server gets .debug_port; it is ready when /v2/ and /healthz
    both answer.
    """
    port = bt.free_port()
    overrides = {"REGISTRY_HTTP_DEBUG_ADDR": "%s:%d" % (bt.HOST, port)}
    if prometheus:
        overrides["REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED"] = "true"
    overrides.update(NO_PROXY_ENV)
    overrides.update(env or {})
    srv = bt.start_berth(env=overrides, config_yaml=config_yaml, root=root)
    srv.debug_port = port
    wait_for(lambda: debug_get(srv, "/healthz")[0] == 200,
             "the debug listener to answer /healthz")
    return srv


def debug_get(srv, path, timeout=10):
    """GET path on the debug listener: (status, headers, body text)."""
    conn = http.client.HTTPConnection(bt.HOST, srv.debug_port,
                                      timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.headers, r.read().decode("utf-8", "replace")
    except OSError as e:
        return -1, {}, str(e)
    finally:
        conn.close()


def wait_for(cond, what, timeout=10, interval=0.05):
    """Polls cond() until true; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    check(cond(), "timed out after %ss waiting for %s" % (timeout, what))


def refused(port):
    """True when nothing accepts connections on 127.0.0.1:port."""
    try:
        socket.create_connection((bt.HOST, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """{'name{labels}': value} from the exposition; checks its syntax."""
    values = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        check(m is not None, "not an exposition line: %r" % line)
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in typed or family in typed,
              "sample %s comes before its # TYPE line" % name)
        values[name + (m.group(2) or "")] = float(m.group(3))
    return values


def scrape(srv):
    """The metrics as parse_metrics gives them."""
    status, headers, body = debug_get(srv, "/metrics")
    check(status == 200, "GET /metrics -> %s: %s" % (status, body[:300]))
    ctype = headers.get("Content-Type", "")
    check(ctype.startswith("text/plain; version=0.0.4"),
          "/metrics Content-Type is %r" % ctype)
    return parse_metrics(body)


def requests_total(values, route, method, status):
    return values.get('berth_http_requests_total{route="%s",method="%s",'
                      'status="%d"}' % (route, method, status), 0.0)


# ------------------------------------------------------------ the receiver

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with self.server.owner.lock:
            self.server.owner.conns.add(self.connection)

    def finish(self):
        with self.server.owner.lock:
            self.server.owner.conns.discard(self.connection)
        super().finish()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status = self.server.owner.status
        if status < 300:
            self.server.owner.record(self.path, self.headers, body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps every envelope.

    stop() closes it (berth then finds nobody listening); start() again
    listens on the same port.  status is what it answers; envelopes
    answered with 300 or more are not kept, as berth will send them
    again.
    """

    def __init__(self):
        self.port = bt.free_port()
        self.status = 202
        self.lock = threading.Lock()
        self.posts = []          # (path, headers, parsed envelope)
        self.conns = set()       # open connections, closed by stop()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return "http://%s:%d/events" % (bt.HOST, self.port)

    def start(self):
        for _ in range(50):
            try:
                self.server = http.server.ThreadingHTTPServer(
                        (bt.HOST, self.port), _Handler)
                break
            except OSError:
                time.sleep(0.1)
        check(self.server is not None,
              "cannot listen on port %d again" % self.port)
        self.server.owner = self
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stops listening and cuts kept-alive connections, so berth
        really finds the receiver gone."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.server = None
        with self.lock:
            for conn in self.conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def record(self, path, headers, body):
        try:
            doc = json.loads(body.decode("utf-8"))
        except ValueError:
            doc = {"unparsable": body[:200].decode("utf-8", "replace")}
        with self.lock:
            self.posts.append((path, dict(headers), doc))

    def events(self):
        """Every event received, in order, duplicates (resends) dropped."""
        out, seen = [], set()
        with self.lock:
            for _, _, doc in self.posts:
                for ev in doc.get("events", []):
                    if ev.get("id") in seen:
                        continue
                    seen.add(ev.get("id"))
                    out.append(ev)
        return out

    def wait_events(self, n, timeout=15):
        wait_for(lambda: len(self.events()) >= n,
                 "%d events at the receiver (have %d)" % (
                         n, len(self.events())), timeout)
        return self.events()


def notifications_yaml(receiver, extra="", name="hook"):
    """A config with one endpoint at receiver; extra goes in its item."""
    return ("version: 0.1\n"
            "notifications:\n"
            "  endpoints:\n"
            "    - name: %s\n"
            "      url: %s\n"
            "      headers:\n"
            "        Authorization: [Bearer ops-test-token]\n"
            "      timeout: 2s\n"
            "      threshold: 3\n"
            "      backoff: 200ms\n%s" % (name, receiver.url, extra))


def summary(events):
    """(action, target digest, target tag) of each event, for messages."""
    return [(e.get("action"), (e.get("target") or {}).get("digest"),
             (e.get("target") or {}).get("tag")) for e in events]
