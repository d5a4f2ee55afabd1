"""Per-repository permissions: the access section's admins, groups,
anonymous pull and rules with '*' and '**', checked on pull, push,
delete, the catalog (paged) and cross-repository mounts; SIGHUP reloads
the rules; mistakes in the section stop berth at start.
"""

import signal
import time

import berthtest as bt
from berthtest import check, expect, expect_error

import accesstest as at
from accesstest import As, expect_challenge, expect_denied

USERS = {"root": "root-pw", "alice": "alice-pw", "bob": "bob-pw",
         "rita": "rita-pw", "eve": "eve-pw"}

ACCESS = """
access:
  admins: [root]
  groups:
    team-a: [alice, bob]
    readers: [rita]
  anonymous:
    - repositories: ["public/**"]
      actions: [pull]
  rules:
    - repositories: ["team-a/*"]
      groups: [team-a]
      actions: [pull, push]
    - repositories: ["team-a/*"]
      users: [alice]
      actions: [delete]
    - repositories: ["team-a/**", "public/**"]
      groups: [readers]
      actions: [pull]
    - repositories: ["public/**"]
      users: [alice]
      actions: [pull, push]
    - repositories: ["shared/*/cache"]
      users: ["*"]
      actions: [pull, push]
"""

# Every repository the admin fills in, and who may pull each.
REPOS = {
        "team-a/app": {"root", "alice", "bob", "rita"},
        "team-a/deep/x": {"root", "rita"},
        "public/base": {"root", "alice", "rita", "eve", "bob", None},
        "public/x/y": {"root", "alice", "rita", "eve", "bob", None},
        "secret/db": {"root"},
        "shared/foo/cache": {"root", "alice", "rita", "eve", "bob"},
}


class Fixture:
    """A server with the policy above and one image in every repo."""

    def __init__(self):
        self.srv = at.start_secured(USERS, extra=ACCESS)
        self.images = {}
        root = self.who("root")
        for repo in sorted(REPOS):
            img = bt.make_image(1)
            bt.push_image(root, repo, img, "v1")
            self.images[repo] = img

    def who(self, user):
        return As(self.srv, user, USERS[user]) if user else self.srv


def pull(client, repo, img):
    r1 = bt.get_manifest(client, repo, "v1")
    r2 = client.request("GET", bt.blob_path(repo, bt.digest_of(
            img.layers[0])))
    r3 = client.get("/v2/%s/tags/list" % repo)
    return r1, r2, r3


def test_permissions_pull_matrix():
    fx = Fixture()
    for repo, allowed in sorted(REPOS.items()):
        for user in sorted(USERS) + [None]:
            client = fx.who(user)
            what = "%s pulls %s" % (user or "anonymous", repo)
            for r in pull(client, repo, fx.images[repo]):
                if user in allowed:
                    expect(r, 200, what)
                elif user is None:
                    expect_challenge(r, what)
                else:
                    expect_denied(r, what)
    fx.srv.stop()


def test_permissions_push():
    fx = Fixture()
    # (user, repository, allowed)
    cases = [("alice", "team-a/new", True), ("bob", "team-a/app", True),
             ("alice", "team-a/deep/new", False),
             ("rita", "team-a/app", False), ("alice", "public/a/b/c", True),
             ("bob", "public/base", False), ("eve", "shared/e/cache", True),
             ("eve", "shared/e/f/cache", False),
             ("eve", "shared/cache", False), ("eve", "eve/own", False),
             ("root", "anything/at/all", True), (None, "public/base", False),
             (None, "team-a/app", False)]
    for user, repo, allowed in cases:
        client = fx.who(user)
        what = "%s pushes to %s" % (user or "anonymous", repo)
        r = client.request("POST", bt.uploads_path(repo))
        r2 = client.request("PUT", bt.manifest_path(repo, "v2"),
                            body=fx.images["public/base"].manifest,
                            headers={"Content-Type": bt.OCI_MANIFEST})
        if allowed:
            expect(r, 202, what)
            img = bt.make_image(1)
            bt.push_image(client, repo, img, "pushed")
            bt.check_manifest(client, repo, "pushed", img)
        elif user is None:
            expect_challenge(r, what)
            expect_challenge(r2, what + " (manifest)")
        else:
            expect_denied(r, what)
            expect_denied(r2, what + " (manifest)")
    fx.srv.stop()


def test_permissions_delete():
    fx = Fixture()
    img = fx.images["team-a/app"]
    target = bt.manifest_path("team-a/app", img.digest)
    blob = bt.blob_path("team-a/app", bt.digest_of(img.layers[0]))
    expect_denied(fx.who("bob").request("DELETE", target),
                  "bob (push, no delete) deletes")
    expect_denied(fx.who("rita").request("DELETE", blob),
                  "rita (pull only) deletes a blob")
    expect_challenge(fx.srv.request("DELETE", target),
                     "anonymous deletes")
    expect(bt.get_manifest(fx.who("bob"), "team-a/app", "v1"), 200,
           "the manifest is still there")
    expect(fx.who("alice").request("DELETE", blob), 202, "alice, blob")
    expect(fx.who("alice").request("DELETE", target), 202,
           "alice, manifest")
    expect(fx.who("root").request("DELETE", bt.manifest_path(
            "secret/db", fx.images["secret/db"].digest)), 202,
           "the admin deletes anywhere")
    expect_denied(fx.who("alice").request("DELETE", bt.manifest_path(
            "public/base", fx.images["public/base"].digest)),
                  "alice (pull and push) deletes in public")
    fx.srv.stop()


def test_permissions_catalog_lists_only_pullable():
    fx = Fixture()
    for user in sorted(USERS) + [None]:
        client = fx.who(user)
        want = sorted(r for r, allowed in REPOS.items() if user in allowed)
        for n in (None, 1, 2, 100):
            got = at.catalog(client, n)
            check(got == want, "%s's catalog (n=%s): %r, expected %r" % (
                    user or "anonymous", n, got, want))
    # /v2/ itself: open to logged-in users, and to anonymous ones since
    # anonymous users may pull somewhere.
    expect(fx.srv.get("/v2/"), 200, "anonymous /v2/ with public pull")
    expect(fx.who("eve").get("/v2/"), 200, "eve's /v2/")
    fx.srv.stop()


def test_permissions_bad_password_is_not_anonymous():
    fx = Fixture()
    r = bt.get_manifest(As(fx.srv, "alice", "not-her-password"),
                        "public/base", "v1")
    expect_challenge(r, "a wrong password on a public repository")
    r = bt.get_manifest(As(fx.srv, "nobody", "x"), "public/base", "v1")
    expect_challenge(r, "an unknown user on a public repository")
    fx.srv.stop()


def test_permissions_mount_needs_pull_on_source():
    fx = Fixture()
    secret = bt.digest_of(fx.images["secret/db"].layers[0])
    eve = fx.who("eve")
    r = eve.request("POST", bt.with_query(bt.uploads_path("shared/e/cache"),
                                          mount=secret, **{"from":
                                                           "secret/db"}))
    expect(r, 202, "eve mounts from secret/db: an upload session instead")
    check(r.header("Location"), "no upload Location")
    expect(eve.head(bt.blob_path("shared/e/cache", secret)), 404,
           "the secret blob became readable in eve's repository")

    # Where the source may be pulled, the mount happens.
    alice = fx.who("alice")
    layer = fx.images["team-a/app"].layers[0]
    r = alice.request("POST", bt.with_query(bt.uploads_path("public/m"),
                                            mount=bt.digest_of(layer),
                                            **{"from": "team-a/app"}))
    expect(r, 201, "alice mounts from team-a/app")
    bt.check_blob(alice, "public/m", layer)
    fx.srv.stop()


def test_permissions_reload_on_hup():
    fx = Fixture()
    eve = fx.who("eve")
    expect_denied(bt.get_manifest(eve, "secret/db", "v1"), "before")
    path = fx.srv.args[1]
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("users: [alice]\n      actions: [delete]",
                             "users: [alice, eve]\n      actions: [delete]")
                + """    - repositories: ["secret/*"]
      users: [eve]
      actions: [pull]
""")
    fx.srv.proc.send_signal(signal.SIGHUP)
    check(at.log_has(fx.srv, r"reload done"), "no reload:\n" +
          fx.srv.log_tail())
    expect(bt.get_manifest(eve, "secret/db", "v1"), 200, "after HUP")

    # A broken section is refused and the rules in force stay.
    with open(path, "w") as f:
        f.write(text.replace("groups: [readers]", "groups: [nosuchgroup]"))
    fx.srv.proc.send_signal(signal.SIGHUP)
    check(at.log_has(fx.srv, r"reload refused.*nosuchgroup"),
          "a broken reload is not reported:\n" + fx.srv.log_tail())
    time.sleep(0.2)
    expect(bt.get_manifest(eve, "secret/db", "v1"), 200,
           "after a refused reload")
    expect(bt.get_manifest(fx.who("rita"), "team-a/deep/x", "v1"), 200,
           "rita after a refused reload")
    fx.srv.stop()


def expect_start_refused(extra, message, users=None):
    srv = at.start_secured(users or USERS, extra=extra, wait=False)
    try:
        rc = srv.proc.wait(10)
    except Exception:
        srv.kill_quietly()
        raise bt.TestFailure("berth started with a bad access section")
    srv.returncode = rc
    check(rc != 0, "exit status 0 with a bad access section")
    check(message in srv.log(), "the error does not say %r:\n%s" % (
            message, srv.log_tail()))


def test_permissions_bad_sections_refused():
    expect_start_refused(ACCESS.replace("groups: [readers]",
                                        "groups: [readres]"),
                         'no group "readres"')
    expect_start_refused(ACCESS.replace("actions: [delete]",
                                        "actions: [delet]"),
                         "access.rules[1].actions")
    expect_start_refused(ACCESS.replace("users: [alice]\n",
                                        "user: [alice]\n", 1),
                         "access.rules[1].user: unknown key")
    expect_start_refused(ACCESS.replace('"team-a/*"', '"Team-A/*"', 1),
                         "access.rules[0].repositories")
    expect_start_refused(ACCESS.replace("anonymous:", "anonymus:"),
                         "access.anonymus: unknown key")

    # An access section without logins would look protected and not be.
    srv = bt.start_berth(wait=False, config_yaml=at.BASE_YAML + ACCESS)
    try:
        rc = srv.proc.wait(10)
    except Exception:
        srv.kill_quietly()
        raise bt.TestFailure("berth started with access but no auth")
    srv.returncode = rc
    check(rc != 0 and "access: needs auth.htpasswd" in srv.log(),
          "access without auth: exit %d\n%s" % (rc, srv.log_tail()))


def test_permissions_no_section_means_any_user():
    srv = at.start_secured({"u1": "p1", "u2": "p2"})
    img = bt.make_image(1)
    bt.push_image(As(srv, "u1", "p1"), "any/repo", img, "v1")
    u2 = As(srv, "u2", "p2")
    bt.check_manifest(u2, "any/repo", "v1", img)
    expect(u2.request("DELETE", bt.manifest_path("any/repo", img.digest)),
           202, "u2 deletes u1's image")
    expect_challenge(bt.get_manifest(srv, "any/repo", "v1"),
                     "anonymous without an access section")
    expect_error(srv.get("/v2/_catalog"), 401, "UNAUTHORIZED")
    srv.stop()
