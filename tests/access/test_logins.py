"""htpasswd logins over raw HTTP: the Basic challenge, good and bad
passwords, unknown users, malformed headers, the file changed by `berth
user` while berth runs, throttled guessing, the accepted and refused hash
formats, registry:2's environment variables, and no password in the log.
"""

import base64
import hashlib
import os
import time

import berthtest as bt
from berthtest import check, expect, expect_error, expect_header

import accesstest as at
from accesstest import As, basic, expect_challenge

USERS = {"alice": "alice-Pa55-word", "bob": "b0b's other secret"}


def test_login_challenge_without_credentials():
    with at.start_secured(USERS) as srv:
        for target in ("/v2/", "/v2/_catalog", "/v2/lib/app/tags/list",
                       bt.manifest_path("lib/app", "v1"),
                       bt.uploads_path("lib/app")):
            method = "POST" if target.endswith("/uploads/") else "GET"
            expect_challenge(srv.request(method, target),
                             "%s %s without credentials" % (method, target))
        r = srv.head(bt.blob_path("lib/app", bt.digest_of(b"x")))
        expect(r, 401, "HEAD blob without credentials")
        expect_header(r, "WWW-Authenticate", 'Basic realm="%s"' % at.REALM)


def test_login_realm_is_quoted():
    realm = 'Team "A" \\ registry'
    srv = at.start_secured(USERS, realm=realm)
    r = srv.get("/v2/")
    expect(r, 401)
    expect_header(r, "WWW-Authenticate",
                  'Basic realm="Team \\"A\\" \\\\ registry"',
                  "a realm with a quote and a backslash")
    srv.stop()


def test_login_good_password():
    with at.start_secured(USERS) as srv:
        alice = As(srv, "alice", USERS["alice"])
        r = alice.get("/v2/")
        expect(r, 200, "GET /v2/ as alice")
        expect_header(r, "Docker-Distribution-API-Version",
                      "registry/2.0")
        # Without an access section every user may do everything.
        img = bt.make_image(1)
        bt.push_image(alice, "lib/app", img, "v1")
        bob = As(srv, "bob", USERS["bob"])
        bt.check_manifest(bob, "lib/app", "v1", img)
        expect(bob.request("DELETE", bt.manifest_path("lib/app",
                                                      img.digest)),
               202, "DELETE as bob")
        check(at.catalog(alice) == ["lib/app"], "catalog as alice")
        check(at.log_has(srv, r"user=alice method=PUT"),
              "the access log does not name the user")


def test_login_wrong_password_and_missing_user():
    with at.start_secured(USERS) as srv:
        cases = [("alice", "wrong"), ("alice", USERS["alice"] + "x"),
                 ("alice", USERS["alice"][:-1]), ("alice", ""),
                 ("Alice", USERS["alice"]), ("mallory", USERS["alice"]),
                 ("mallory", "")]
        for user, password in cases:
            r = srv.get("/v2/", headers={
                    "Authorization": basic(user, password)})
            expect_challenge(r, "%s with a wrong password" % user)
        # The right one still works: a handful of failures is no lockout.
        expect(As(srv, "alice", USERS["alice"]).get("/v2/_catalog"), 200)


def test_login_malformed_authorization():
    with at.start_secured(USERS) as srv:
        good = base64.b64encode(b"alice:" + USERS["alice"].encode())
        for value in ["Bearer " + good.decode(),
                      "Basic",
                      "Basic !!!not-base64!!!",
                      "Basic " + base64.b64encode(b"no-colon").decode(),
                      "Basic " + base64.b64encode(b":nouser").decode(),
                      "Basic " + base64.b64encode(
                              b"alice:" + b"x" * 2000).decode(),
                      "Basic " + base64.b64encode(
                              b"ali\x00ce:pw").decode()]:
            expect_challenge(srv.get("/v2/", headers={
                    "Authorization": value}), "Authorization %r" %
                             value[:40])
        # The scheme's name is case-insensitive (RFC 7235).
        expect(srv.get("/v2/", headers={
                "Authorization": "basic " + good.decode()}), 200,
               "lower-case scheme name")
        check(srv.alive(), "berth died on a malformed header")


def wait_status(fn, status, what, timeout=3.0):
    """Polls fn() until it answers status; the htpasswd file is looked at
    again at most once a second, so a change may take that long."""
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r.status == status:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise bt.TestFailure("%s: still %d after %.0fs, expected %d" % (
                    what, r.status, timeout, status))
        time.sleep(0.1)


def test_login_file_changes_without_restart():
    with at.start_secured(USERS) as srv:
        pid = srv.proc.pid
        carol = "carol-n3w-pass"

        def as_user(user, password):
            return lambda: srv.get("/v2/_catalog", headers={
                    "Authorization": basic(user, password)})

        expect_challenge(as_user("carol", carol)(), "carol before add")
        at.user_ok("add", srv.htpasswd, "carol", carol)
        wait_status(as_user("carol", carol), 200, "carol after add")

        # alice logs in (and is cached), then her password changes: the
        # cached login must go with the old file.
        old = USERS["alice"]
        expect(as_user("alice", old)(), 200, "alice, old password")
        expect(as_user("alice", old)(), 200, "alice, old password again")
        at.user_ok("passwd", srv.htpasswd, "alice", "alice-second-pw")
        wait_status(as_user("alice", old), 401, "alice's old password")
        expect(as_user("alice", "alice-second-pw")(), 200,
               "alice's new password")

        at.user_ok("del", srv.htpasswd, "bob")
        wait_status(as_user("bob", USERS["bob"]), 401, "bob after del")
        expect(as_user("carol", carol)(), 200, "carol after bob's del")

        check(srv.proc.pid == pid and srv.alive(), "berth restarted")
        check(at.log_has(srv, r"htpasswd reloaded"),
              "no reload in the log:\n" + srv.log_tail())


def test_login_unreadable_file_keeps_users():
    with at.start_secured(USERS) as srv:
        alice = As(srv, "alice", USERS["alice"])
        expect(alice.get("/v2/"), 200)
        os.rename(srv.htpasswd, srv.htpasswd + ".away")
        time.sleep(1.2)
        for _ in range(3):
            expect(As(srv, "bob", USERS["bob"]).get("/v2/"), 200,
                   "bob while the file is gone")
            time.sleep(0.4)
        check(at.log_has(srv, r"htpasswd reload failed"),
              "the failed reload is not logged:\n" + srv.log_tail())
        os.rename(srv.htpasswd + ".away", srv.htpasswd)
        at.user_ok("del", srv.htpasswd, "bob")
        wait_status(lambda: As(srv, "bob", USERS["bob"]).get("/v2/"), 401,
                    "bob removed once the file is back")


def test_login_throttled_per_client_and_user():
    with at.start_secured(USERS) as srv:
        bad = {"Authorization": basic("alice", "guess")}

        def attempt():
            return srv.get("/v2/", headers=bad)

        # A few mistakes are free.
        failures = 0
        r = attempt()
        while r.status == 401 and failures < 20:
            failures += 1
            r = attempt()
        check(failures >= 3, "locked out after only %d failures" %
              failures)
        expect_error(r, 429, "TOOMANYREQUESTS", "guessing alice")
        first = int(expect_header(r, "Retry-After"))
        check(1 <= first <= 5, "first Retry-After %d" % first)

        # Locked out means locked out, even with the right password.
        expect_error(As(srv, "alice", USERS["alice"]).get("/v2/"), 429,
                     "TOOMANYREQUESTS", "the right password while locked")
        # Another user from the same client is not affected.
        expect(As(srv, "bob", USERS["bob"]).get("/v2/"), 200,
               "bob while alice is locked out")

        # After the wait, one more wrong guess locks for longer.
        time.sleep(first + 0.2)
        expect_challenge(attempt(), "a guess after the lockout")
        r = attempt()
        expect_error(r, 429, "TOOMANYREQUESTS", "second lockout")
        second = int(expect_header(r, "Retry-After"))
        check(second > first, "the lockout did not grow: %d then %d" % (
                first, second))

        # Patience and the right password get alice in, and forgiven.
        time.sleep(second + 0.2)
        expect(As(srv, "alice", USERS["alice"]).get("/v2/"), 200,
               "alice after waiting")
        expect_challenge(attempt(), "one guess after a success")
        check(at.log_has(srv, r"login failed user=alice"),
              "failed logins are not logged")


def test_login_no_password_in_log():
    with at.start_secured(USERS) as srv:
        secrets = list(USERS.values()) + ["wrong-guess-123",
                                          "carol-sekrit-9"]
        alice = As(srv, "alice", USERS["alice"])
        bt.push_image(alice, "lib/log", bt.make_image(1), "v1")
        for pw in ("wrong-guess-123", "carol-sekrit-9"):
            expect(srv.get("/v2/", headers={
                    "Authorization": basic("alice", pw)}), 401)
        at.user_ok("add", srv.htpasswd, "carol", "carol-sekrit-9")
        wait_status(lambda: As(srv, "carol", "carol-sekrit-9").get("/v2/"),
                    200, "carol")
        srv.stop()
        at.log_secrets_check(srv, secrets)
        # Nor any hash from the file.
        text = srv.log()
        with open(srv.htpasswd) as f:
            for line in f:
                h = line.strip().split(":", 1)[1]
                check(h not in text, "a password hash reached the log")


def apr1_hash(password):
    return at.openssl("passwd", "-apr1", password).strip()


def test_login_weak_hashes_refused_with_warning():
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(
            b"sha-pass").digest()).decode()
    lines = ["apr:" + apr1_hash("apr-pass"), "shaone:" + sha,
             "plainuser:plain-pass", "des:" + "ab01FAX.bQRSU"]
    srv = at.start_secured({"good": "good-pass"}, lines=lines)
    for user, scheme in (("apr", "apr1"), ("shaone", "sha"),
                         ("plainuser", "plain"), ("des", "")):
        check(at.log_has(srv, r"level=warn .*weak.* user=%s\b.*scheme=%s" %
                         (user, scheme)),
              "no start-up warning naming %s:\n%s" % (user,
                                                      srv.log_tail()))
    for user, pw in (("apr", "apr-pass"), ("shaone", "sha-pass"),
                     ("plainuser", "plain-pass")):
        expect_challenge(srv.get("/v2/", headers={
                "Authorization": basic(user, pw)}),
                "%s with its right password" % user)
    expect(As(srv, "good", "good-pass").get("/v2/"), 200, "a bcrypt user")
    srv.stop()
    at.log_secrets_check(srv, ["apr-pass", "sha-pass", "plain-pass"])


def test_login_strong_hash_formats():
    # bcrypt's $2a$ and $2b$ give the same hash as $2y$ for such
    # passwords; SHA-crypt ($5$, $6$) comes from openssl.
    src = at.make_htpasswd({"x": "bcrypt-pw"})
    with open(src) as f:
        y = f.read().strip().split(":", 1)[1]
    check(y.startswith("$2y$04$"), "berth user wrote %r" % y[:7])
    lines = ["b2a:" + "$2a$" + y[4:], "b2b:" + "$2b$" + y[4:],
             "sha256:" + at.openssl("passwd", "-5", "sha256-pw").strip(),
             "sha512:" + at.openssl("passwd", "-6", "sha512-pw").strip()]
    srv = at.start_secured({"b2y": "bcrypt-pw"}, lines=lines)
    for user, pw in (("b2y", "bcrypt-pw"), ("b2a", "bcrypt-pw"),
                     ("b2b", "bcrypt-pw"), ("sha256", "sha256-pw"),
                     ("sha512", "sha512-pw")):
        expect(As(srv, user, pw).get("/v2/"), 200, "%s login" % user)
        expect_challenge(As(srv, user, pw + "!").get("/v2/"),
                         "%s with a wrong password" % user)
    check("weak" not in srv.log(), "warnings for strong hashes:\n" +
          srv.log_tail())
    srv.stop()


def test_login_registry2_environment():
    htpasswd = at.make_htpasswd(USERS)
    srv = bt.start_berth(wait=False, env={
            "REGISTRY_AUTH": "htpasswd",
            "REGISTRY_AUTH_HTPASSWD_REALM": at.REALM,
            "REGISTRY_AUTH_HTPASSWD_PATH": htpasswd})
    at.wait_up(srv)
    expect_challenge(srv.get("/v2/"), "registry:2 variables")
    expect(As(srv, "bob", USERS["bob"]).get("/v2/"), 200)
    srv.stop()


def test_login_htpasswd_missing_at_start():
    cfg = at.secured_yaml("/nonexistent/berth/htpasswd")
    srv = bt.start_berth(wait=False, config_yaml=cfg)
    try:
        rc = srv.proc.wait(10)
    except Exception:
        srv.kill_quietly()
        raise bt.TestFailure("berth started without its htpasswd file")
    srv.returncode = rc
    check(rc != 0, "exit status 0 without the htpasswd file")
    check("/nonexistent/berth/htpasswd" in srv.log(),
          "the error does not name the file:\n" + srv.log_tail())


def test_login_user_command():
    # A file berth creates is for its owner's eyes only.
    fresh = os.path.join(bt.scratch("htpasswd"), "new-file")
    at.user_ok("add", fresh, "first", "first-pass")
    check(os.stat(fresh).st_mode & 0o777 == 0o600,
          "a new file has mode %o" % os.stat(fresh).st_mode)

    # An existing file keeps its mode, its comments and other users.
    path = at.make_htpasswd({})
    with open(path, "w") as f:
        f.write("# kept as written\nold:{SHA}abc=\n")
    os.chmod(path, 0o640)
    at.user_ok("add", path, "new", "new-pass")
    with open(path) as f:
        text = f.read()
    check(text.startswith("# kept as written\nold:{SHA}abc=\n"),
          "other lines changed:\n" + text)
    check(text.count("\n") == 3 and "\nnew:$2y$04$" in text,
          "new user line:\n" + text)
    check(os.stat(path).st_mode & 0o777 == 0o640,
          "the file's mode became %o" % os.stat(path).st_mode)

    before = text
    for verb, name, pw, why in (
            ("add", "new", "again", "already exists"),
            ("passwd", "ghost", "pw", "no user"),
            ("del", "ghost", None, "no user"),
            ("add", "bad:name", "pw", "invalid user name"),
            ("add", "empty", "", "empty"),
            ("add", "toolong", "x" * 73, "")):
        rc, out = at.user_cmd(verb, path, name, pw)
        check(rc == 1, "berth user %s %s: exit %d: %s" % (
                verb, name, rc, out))
        check(why in out, "berth user %s %s said %r" % (verb, name, out))
        with open(path) as f:
            check(f.read() == before, "a failed %s changed the file" %
                  verb)
    rc, out = at.user_cmd("frobnicate", path, "x", "pw")
    check(rc == 2, "an unknown verb: exit %d" % rc)

    # The stored hash verifies, with berth's own server.
    at.user_ok("passwd", path, "new", "changed-pass")
    srv = bt.start_berth(wait=False, config_yaml=at.secured_yaml(path))
    at.wait_up(srv)
    expect(As(srv, "new", "changed-pass").get("/v2/"), 200)
    expect_challenge(As(srv, "new", "new-pass").get("/v2/"))
    srv.stop()
    at.user_ok("del", path, "new")
    with open(path) as f:
        check(f.read() == "# kept as written\nold:{SHA}abc=\n",
              "del did not restore the file")
