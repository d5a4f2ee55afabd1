"""SIGHUP while a large pull streams: a user and a CORS origin added
take effect, the pull goes on to its last byte, and the log says what
changed; a setting only a restart can change is refused and the old one
keeps serving."""

import hashlib
import http.client
import os
import signal
import sys
import threading
import time

import opstest as ops
from opstest import bt, check

sys.path.insert(0, os.path.join(os.path.dirname(ops.HERE), "access"))

import accesstest as at  # noqa: E402

OLD_ORIGIN = "https://ui.example"
NEW_ORIGIN = "https://new-ui.example"
USERS = {"olga": "reload-old-pw"}
NEW_USER, NEW_PASSWORD = "nils", "reload-new-pw"

SIZE = 64 << 20
# The client reads this much, then pauses: about three seconds in all.
READ = 1 << 20
PAUSE = 0.05


def cors_yaml(origins):
    return "cors:\n  origins: [%s]\n" % ", ".join(origins)


def rewrite_config(srv, text):
    """Replaces the configuration file berth was started with."""
    path = srv.args[-1]
    text = text.replace("{port}", str(srv.port)).replace("{root}",
                                                         srv.root)
    with open(path + ".new", "w") as f:
        f.write(text)
    os.replace(path + ".new", path)


def preflight(srv, origin):
    return srv.request("OPTIONS", "/v2/", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})


def allowed_origin(r):
    return r.header("Access-Control-Allow-Origin")


class SlowPull(threading.Thread):
    """GETs a blob, reading READ bytes every PAUSE seconds."""

    def __init__(self, srv, path, auth):
        super().__init__(daemon=True)
        self.srv, self.path, self.auth = srv, path, auth
        self.status = None
        self.received = 0
        self.digest = None
        self.error = None

    def run(self):
        h = hashlib.sha256()
        conn = http.client.HTTPConnection(bt.HOST, self.srv.port,
                                          timeout=60)
        try:
            conn.request("GET", self.path,
                         headers={"Authorization": self.auth})
            r = conn.getresponse()
            self.status = r.status
            while True:
                piece = r.read(READ)
                if not piece:
                    break
                h.update(piece)
                self.received += len(piece)
                time.sleep(PAUSE)
            self.digest = "sha256:" + h.hexdigest()
        except OSError as e:
            self.error = e
        finally:
            conn.close()


def test_sighup_adds_user_and_origin_while_a_pull_streams():
    srv = at.start_secured(USERS, http_extra=cors_yaml([OLD_ORIGIN]))
    old = at.As(srv, "olga", USERS["olga"])
    repo = bt.unique("ops/reload")
    data = os.urandom(SIZE)
    digest = bt.push_blob(old, repo, data, "monolithic")

    check(allowed_origin(preflight(srv, NEW_ORIGIN)) is None,
          "the new origin is allowed before the reload")
    at.expect_challenge(at.As(srv, NEW_USER, NEW_PASSWORD).get("/v2/"),
                        "the new user before the reload")

    pull = SlowPull(srv, bt.blob_path(repo, digest), old.auth)
    pull.start()
    ops.wait_for(lambda: pull.received >= 4 * READ or not pull.is_alive(),
                 "the pull to get going")

    at.user_ok("add", srv.htpasswd, NEW_USER, NEW_PASSWORD)
    rewrite_config(srv, at.secured_yaml(
            srv.htpasswd, http_extra=cors_yaml([OLD_ORIGIN, NEW_ORIGIN])))
    srv.proc.send_signal(signal.SIGHUP)
    check(at.log_has(srv, r"reload done"), "no reload:\n" +
          srv.log_tail())
    check(pull.is_alive() and pull.received < SIZE,
          "the pull was over before the reload (%d bytes): the test "
          "proves nothing" % pull.received)

    # The new settings hold while the pull still streams.
    bt.expect(at.As(srv, NEW_USER, NEW_PASSWORD).get("/v2/"), 200,
              "the new user after the reload")
    r = preflight(srv, NEW_ORIGIN)
    bt.expect(r, (200, 204), "preflight from the new origin")
    check(allowed_origin(r) == NEW_ORIGIN, "the new origin got "
          "Access-Control-Allow-Origin %r" % allowed_origin(r))
    check(allowed_origin(preflight(srv, OLD_ORIGIN)) == OLD_ORIGIN,
          "the old origin lost its CORS answer")
    check(at.log_has(srv, r'reload changed CORS origins '
                     r'key=http\.cors\.origins origins="%s %s"' % (
                             OLD_ORIGIN, NEW_ORIGIN)),
          "the log does not name the new origins:\n" + srv.log_tail())
    check(at.log_has(srv, r"htpasswd \w+ path=\S+ users=2"),
          "the log does not count the new user:\n" + srv.log_tail())

    pull.join(60)
    check(pull.error is None and pull.status == 200,
          "the pull: status %s, error %s" % (pull.status, pull.error))
    check(pull.received == SIZE, "the pull got %d bytes of %d" % (
            pull.received, SIZE))
    check(pull.digest == digest, "the pulled bytes hash to %s, not %s" % (
            pull.digest, digest))
    check(not at.log_has(srv, r"aborted=true", timeout=0),
          "a request was cut off:\n" + srv.log_tail())
    srv.stop()


def test_sighup_refuses_what_needs_a_restart():
    # The address comes from the file alone, so that the file can move it.
    srv = at.start_secured(USERS, http_extra=cors_yaml([OLD_ORIGIN]),
                           env={"REGISTRY_HTTP_ADDR": None})
    elsewhere = bt.free_port()
    text = at.secured_yaml(srv.htpasswd,
                           http_extra=cors_yaml([OLD_ORIGIN, NEW_ORIGIN]))
    rewrite_config(srv, text.replace("127.0.0.1:{port}",
                                     "127.0.0.1:%d" % elsewhere))
    srv.proc.send_signal(signal.SIGHUP)
    check(at.log_has(srv, r"reload done"), "no reload:\n" +
          srv.log_tail())
    check(at.log_has(srv, r"reload cannot change this setting, restart "
                     r"to apply key=http\.addr"),
          "the address change is not refused in the log:\n" +
          srv.log_tail())
    at.expect_challenge(srv.get("/v2/"), "the old address")
    check(ops.refused(elsewhere), "berth listens on the new address")
    # What a reload can change was applied all the same.
    check(allowed_origin(preflight(srv, NEW_ORIGIN)) == NEW_ORIGIN,
          "the origin added with the refused address is not allowed")

    # A file berth cannot read is refused as a whole.
    rewrite_config(srv, "http: [unbalanced\n")
    srv.proc.send_signal(signal.SIGHUP)
    check(at.log_has(srv, r"reload refused, configuration kept"),
          "the broken file is not refused in the log:\n" + srv.log_tail())
    check(srv.alive(), "berth exited on a broken reload")
    at.expect_challenge(srv.get("/v2/"), "after the refused reload")
    check(allowed_origin(preflight(srv, NEW_ORIGIN)) == NEW_ORIGIN,
          "the refused reload undid the last good one")
    srv.stop()

