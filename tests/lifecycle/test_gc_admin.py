"""Only administrators reach /admin/: the users access.admins lists, any
logged-in user when there is no access section, and without logins only
clients on the loopback address.  Others get 401 (anonymous, with a
challenge) or 403 DENIED, and nothing starts; a cookie session needs its
CSRF token, and a browser's cross-site POST is refused."""

import json
import os
import sys

import berthtest as bt
import lifecycletest as lt
from berthtest import check, expect

sys.path.insert(0, os.path.join(os.path.dirname(lt.HERE), "access"))
import accesstest as at  # noqa: E402

USERS = {"root": "root-secret", "dev": "dev-secret"}

# dev may push and delete everywhere, but is no administrator.
RULES = """
access:
  admins: [root]
  anonymous:
    - repositories: ["**"]
      actions: [pull]
  rules:
    - repositories: ["**"]
      users: [dev]
      actions: [pull, push, delete]
"""


def as_user(srv, user, password=None):
    return at.As(srv, user, password or USERS[user])


def runs(srv):
    """How many collections have finished, from the state root sees."""
    r = admin_get(as_user(srv, "root"))
    expect(r, 200, "GET /admin/gc as root")
    last = r.json()["last_run"]
    return 0 if last is None else last["finished"]


def admin_get(who, what="gc"):
    return who.request("GET", "/admin/" + what)


def admin_post(who, headers=None):
    return who.request("POST", "/admin/gc?wait=true", headers=headers)


def test_admin_endpoints_need_an_administrator():
    srv = at.start_secured(USERS, extra=RULES)
    root, dev = as_user(srv, "root"), as_user(srv, "dev")
    repo = bt.unique("admin/app")
    bt.push_image(dev, repo, bt.make_image(nlayers=1), tag="v1")

    for what in ("gc", "scrub", "usage"):
        expect(admin_get(root, what), 200, "GET /admin/%s as root" % what)
        at.expect_denied(admin_get(dev, what),
                         "GET /admin/%s as dev" % what)
        at.expect_challenge(srv.get("/admin/" + what),
                            "GET /admin/%s anonymously" % what)
    at.expect_challenge(admin_get(as_user(srv, "root", "wrong")),
                        "a wrong password")

    before = runs(srv)
    at.expect_denied(admin_post(dev), "POST /admin/gc as dev")
    at.expect_challenge(srv.request("POST", "/admin/gc"),
                        "POST /admin/gc anonymously")
    check(runs(srv) == before, "a refused request started a collection")
    r = admin_post(root)
    expect(r, 200, "POST /admin/gc as root")
    check(r.json()["status"] == "done", r.json())
    check(r.json()["finished"] is not None, r.json())


def test_without_an_access_section_every_user_is_an_administrator():
    srv = at.start_secured(USERS)
    for user in USERS:
        expect(admin_get(as_user(srv, user)), 200, "GET as " + user)
    at.expect_challenge(srv.get("/admin/usage"), "anonymous")


def login(srv, user):
    """A web UI session: (cookie header value, CSRF token)."""
    body = json.dumps({"user": user, "password": USERS[user]}).encode()
    r = srv.request("POST", "/ui/api/login", body=body,
                    headers={"Content-Type": "application/json"})
    expect(r, 200, "login as " + user)
    cookie = r.headers["Set-Cookie"].split(";")[0]
    return cookie, r.json()["csrf"]


def test_ui_sessions_need_an_administrator_and_the_csrf_token():
    srv = at.start_secured(USERS, extra=RULES)
    cookie, csrf = login(srv, "dev")
    r = srv.get("/admin/gc", headers={"Cookie": cookie})
    at.expect_denied(r, "GET /admin/gc with dev's session")
    r = srv.request("POST", "/admin/gc", headers={
            "Cookie": cookie, "X-CSRF-Token": csrf})
    at.expect_denied(r, "POST /admin/gc with dev's session")

    cookie, csrf = login(srv, "root")
    expect(srv.get("/admin/gc", headers={"Cookie": cookie}), 200,
           "GET /admin/gc with root's session")
    before = runs(srv)
    r = srv.request("POST", "/admin/gc", headers={"Cookie": cookie})
    at.expect_denied(r, "POST with root's session, no CSRF token")
    r = srv.request("POST", "/admin/gc", headers={
            "Cookie": cookie, "X-CSRF-Token": "0" * 64})
    at.expect_denied(r, "POST with root's session, a wrong token")
    check(runs(srv) == before, "a refused request started a collection")
    r = srv.request("POST", "/admin/gc?wait=true", headers={
            "Cookie": cookie, "X-CSRF-Token": csrf,
            "Sec-Fetch-Site": "same-origin"})
    expect(r, 200, "POST with root's session and token")


def test_without_logins_only_loopback_clients_are_administrators():
    srv = lt.start(config="""
version: 0.1
http:
  trustedproxies: [127.0.0.1]
""")
    expect(srv.get("/admin/gc"), 200, "GET from 127.0.0.1")
    r = srv.get("/admin/usage", headers={"X-Forwarded-For": "192.0.2.7"})
    bt.expect_error(r, 403, "DENIED", "a client behind a trusted proxy")
    check("loopback" in r.json()["errors"][0]["message"], r.json())
    expect(srv.get("/admin/usage", headers={"X-Forwarded-For": "::1"}),
           200, "a loopback client behind a trusted proxy")

    r = srv.request("POST", "/admin/gc", headers={
            "Sec-Fetch-Site": "cross-site"})
    bt.expect_error(r, 403, "DENIED", "a POST another site made")
    check(srv.get("/admin/gc").json()["last_run"] is None,
          "the cross-site POST started a collection")
    r = srv.request("POST", "/admin/gc?wait=true", headers={
            "Sec-Fetch-Site": "same-origin"})
    expect(r, 200, "a POST from berth's own page")
