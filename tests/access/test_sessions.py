"""Web UI sessions and the htpasswd file: a session ends, on /ui/api/ and
/v2/ alike, once its user is given a new password or removed with `berth
user`, while other users' sessions go on; a configuration reload keeps
sessions, and the access rules they are judged by are the reloaded ones.
"""

import json
import signal
import time

import berthtest as bt
from berthtest import check, expect

import accesstest as at

USERS = {"alice": "alice-Pa55-word", "bob": "bob-builder-pw"}

RULES = """
access:
  admins: [bob]
  rules:
    - repositories: ["**"]
      users: [alice, bob]
      actions: [pull]
"""


def login(srv, user, password):
    """Logs in through the UI's API; returns the response and, on 200,
    the Cookie header value of the session."""
    body = json.dumps({"user": user, "password": password}).encode()
    r = srv.request("POST", "/ui/api/login", body=body, record=False,
                    headers={"Content-Type": "application/json"})
    if r.status != 200:
        return r, None
    return r, r.headers["Set-Cookie"].split(";")[0]


def login_ok(srv, user, password):
    r, cookie = login(srv, user, password)
    expect(r, 200, "login as " + user)
    return cookie


def with_cookie(srv, cookie, target):
    """GET target with the session cookie.  /ui/api/ answers errors in
    its own JSON, not the registry's, so only /v2/ answers are held to
    the spec's error body."""
    return srv.get(target, headers={"Cookie": cookie},
                   record=target.startswith("/v2/"))


def expect_ui_401(r, what):
    """A /ui/api/ answer that asks the page to log in."""
    expect(r, 401, what)
    check(r.json()["code"] == "UNAUTHORIZED", "%s: %r" % (what, r.json()))


def expect_session_works(srv, cookie, who):
    expect(with_cookie(srv, cookie, "/ui/api/repositories"), 200,
           "/ui/api/repositories with %s's session" % who)
    expect(with_cookie(srv, cookie, "/v2/_catalog"), 200,
           "/v2/_catalog with %s's session" % who)
    info = with_cookie(srv, cookie, "/ui/api/info").json()
    check(info["user"] == who, "/ui/api/info says user %r" % info["user"])


def expect_session_ended(srv, cookie, who):
    """Waits for the session to end (berth looks at the htpasswd file at
    most once a second), then checks both APIs refuse it."""
    deadline = time.monotonic() + 3
    while with_cookie(srv, cookie, "/ui/api/repositories").status != 401:
        check(time.monotonic() < deadline,
              "%s's session still works after 3s" % who)
        time.sleep(0.1)
    expect_ui_401(with_cookie(srv, cookie, "/ui/api/repositories"),
                  "%s's old session on /ui/api/" % who)
    at.expect_challenge(with_cookie(srv, cookie, "/v2/_catalog"),
                        "%s's old session on /v2/" % who)
    at.expect_challenge(with_cookie(srv, cookie, "/v2/"),
                        "%s's old session on /v2/" % who)
    info = with_cookie(srv, cookie, "/ui/api/info").json()
    check(info["user"] is None and info["csrf"] is None,
          "/ui/api/info with an ended session: %r" % info)


def test_session_ends_with_a_new_password():
    with at.start_secured(USERS) as srv:
        alice = login_ok(srv, "alice", USERS["alice"])
        bob = login_ok(srv, "bob", USERS["bob"])
        expect_session_works(srv, alice, "alice")

        at.user_ok("passwd", srv.htpasswd, "alice", "alice-second-pw")
        expect_session_ended(srv, alice, "alice")
        expect_session_works(srv, bob, "bob")
        check(at.log_has(srv, r"web ui session ended.* user=alice"),
              "the end is not logged:\n" + srv.log_tail())

        r, _ = login(srv, "alice", USERS["alice"])
        expect_ui_401(r, "the old password")
        again = login_ok(srv, "alice", "alice-second-pw")
        expect_session_works(srv, again, "alice")
        expect_session_ended(srv, alice, "alice")
        at.log_secrets_check(srv, ["alice-second-pw", USERS["alice"]])


def test_session_ends_when_the_user_is_removed():
    with at.start_secured(USERS) as srv:
        alice = login_ok(srv, "alice", USERS["alice"])
        bob = login_ok(srv, "bob", USERS["bob"])
        expect_session_works(srv, bob, "bob")

        at.user_ok("del", srv.htpasswd, "bob")
        expect_session_ended(srv, bob, "bob")
        expect_session_works(srv, alice, "alice")
        r, _ = login(srv, "bob", USERS["bob"])
        expect_ui_401(r, "bob after del")

        # Added back with the same password: a new login, not the old
        # session, is what lets him in.
        at.user_ok("add", srv.htpasswd, "bob", USERS["bob"])
        time.sleep(1.2)
        expect_ui_401(with_cookie(srv, bob, "/ui/api/repositories"),
                      "bob's session after add")
        expect_session_works(srv, login_ok(srv, "bob", USERS["bob"]), "bob")


def test_session_kept_by_reload_and_judged_by_new_rules():
    with at.start_secured(USERS) as srv:
        alice = login_ok(srv, "alice", USERS["alice"])
        expect(with_cookie(srv, alice, "/admin/usage"), 200,
               "alice is an administrator without an access section")

        path = srv.args[1]
        with open(path, "a") as f:
            f.write(RULES)
        srv.proc.send_signal(signal.SIGHUP)
        check(at.log_has(srv, r"reload done"),
              "no reload:\n" + srv.log_tail())

        expect_session_works(srv, alice, "alice")
        at.expect_denied(with_cookie(srv, alice, "/admin/usage"),
                         "alice once bob alone is an administrator")
