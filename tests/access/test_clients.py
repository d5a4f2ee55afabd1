"""Real clients with logins: podman login, push, pull and logout; skopeo
with --creds, --src-creds and --dest-creds; a push the access rules deny
fails with a message that says so; a copy between users falls back from
a mount the user may not make to a plain upload.

podman keeps its state in a scratch directory (vfs storage, no system
service) and needs root; both clients get an empty credentials file of
their own.
"""

import json
import os

import berthtest as bt
from berthtest import check, expect

import accesstest as at
from accesstest import As

USERS = {"alice": "alice-client-pw", "bob": "bob-client-pw",
         "eve": "eve-client-pw"}

ACCESS = """
access:
  admins: [alice]
  rules:
    - repositories: ["team/**"]
      users: [bob]
      actions: [pull]
    - repositories: ["eve/**"]
      users: [eve]
      actions: [pull, push]
"""


def reg(srv):
    return "127.0.0.1:%d" % srv.port


def test_clients_podman_login_push_pull():
    if os.getuid() != 0:
        raise bt.TestFailure("podman with vfs storage needs root here")
    srv = at.start_secured(USERS, extra=ACCESS)
    cl = at.Clients()
    try:
        podman_session(srv, cl)
    finally:
        cl.cleanup()
    srv.stop()
    at.log_secrets_check(srv, USERS.values())


def podman_session(srv, cl):
    pm = cl.podman
    tar, info = at.rootfs_tar("access-podman")
    local = "localhost/access/pod:1"
    remote = "%s/team/pod:1" % reg(srv)
    cl.ok(pm("import", tar, local), "podman import")
    image_id = cl.ok(pm("image", "inspect", "--format", "{{.Id}}", local),
                     "inspect").strip()

    out = cl.fails(pm("push", "--tls-verify=false", local,
                      "docker://" + remote), "push before login")
    check("authentication required" in out or "unauthorized" in out,
          "podman's error does not ask for a login:\n" + out[-1500:])

    out = cl.fails(pm("login", "--tls-verify=false", "-u", "alice", "-p",
                      "not-it", reg(srv)), "login with a wrong password")
    check("invalid username/password" in out or "unauthorized" in out,
          "podman's error for a wrong password:\n" + out[-1500:])

    out = cl.ok(pm("login", "--tls-verify=false", "-u", "alice", "-p",
                   USERS["alice"], reg(srv)), "podman login")
    check("Login Succeeded" in out, "podman login said:\n" + out)
    with open(cl.authfile) as f:
        check(reg(srv) in json.load(f).get("auths", {}),
              "the login is not in the credentials file")

    digest_file = os.path.join(cl.dir, "digest")
    cl.ok(pm("push", "--tls-verify=false", "--digestfile", digest_file,
             local, "docker://" + remote), "podman push as alice")
    with open(digest_file) as f:
        pushed = f.read().strip()
    r = bt.get_manifest(As(srv, "bob", USERS["bob"]), "team/pod", "1")
    expect(r, 200, "bob reads the pushed manifest")
    check(bt.digest_of(r.body) == pushed, "pushed digest differs")

    # bob may pull team/**, not push there.
    cl.ok(pm("logout", reg(srv)), "podman logout")
    cl.ok(pm("login", "--tls-verify=false", "-u", "bob",
             "--password-stdin", reg(srv)), "login --password-stdin",
          stdin=(USERS["bob"] + "\n").encode())
    cl.ok(pm("rmi", "-a", "-f"), "podman rmi")
    cl.ok(pm("pull", "--tls-verify=false", "docker://" + remote),
          "podman pull as bob")
    got = cl.ok(pm("image", "inspect", "--format", "{{.Id}}", remote),
                "inspect pulled").strip()
    check(got == image_id, "pulled image %s, pushed %s" % (got, image_id))
    out = cl.fails(pm("push", "--tls-verify=false", remote,
                      "docker://%s/team/bobs:1" % reg(srv)),
                   "bob pushes to team/")
    check("denied" in out.lower(),
          "a denied push does not say denied:\n" + out[-1500:])

    cl.ok(pm("logout", reg(srv)), "podman logout")
    cl.ok(pm("rmi", "-a", "-f"), "podman rmi")
    out = cl.fails(pm("pull", "--tls-verify=false", "docker://" + remote),
                   "pull after logout")
    check("authentication required" in out or "unauthorized" in out,
          "pull after logout:\n" + out[-1500:])


def test_clients_skopeo_creds():
    srv = at.start_secured(USERS, extra=ACCESS)
    cl = at.Clients()
    sk = cl.skopeo
    layout, info = at.oci_image("v1", "access-skopeo")
    alice = "alice:" + USERS["alice"]
    dest = "docker://%s/team/app:v1" % reg(srv)

    out = cl.fails(sk("copy", "--dest-tls-verify=false",
                      "oci:%s:v1" % layout, dest), "skopeo without creds")
    check("authentication required" in out or "unauthorized" in out,
          "skopeo without creds:\n" + out[-1500:])
    out = cl.fails(sk("copy", "--dest-tls-verify=false", "--dest-creds",
                      "alice:wrong", "oci:%s:v1" % layout, dest),
                   "skopeo with a wrong password")
    check("unauthorized" in out or "authentication required" in out,
          "skopeo with a wrong password:\n" + out[-1500:])

    cl.ok(sk("copy", "--dest-tls-verify=false", "--dest-creds", alice,
             "oci:%s:v1" % layout, dest), "skopeo push as alice")
    insp = json.loads(cl.ok(sk("inspect", "--tls-verify=false", "--creds",
                               "bob:" + USERS["bob"], "--raw", dest),
                            "inspect as bob"))
    check(insp["config"]["digest"] == info["config"],
          "inspected config %s, pushed %s" % (insp["config"]["digest"],
                                              info["config"]))
    back = os.path.join(bt.scratch("oci-back"), "layout")
    cl.ok(sk("copy", "--src-tls-verify=false", "--src-creds",
             "bob:" + USERS["bob"], dest, "oci:%s:back" % back),
          "skopeo pull as bob")
    got = at.run_ok(["python3", at.MKOCI, "verify", back], "verify")
    check(info["manifest"] in got, "pulled manifest differs:\n" + got)
    tags = json.loads(cl.ok(sk("list-tags", "--tls-verify=false",
                               "--creds", "bob:" + USERS["bob"],
                               "docker://%s/team/app" % reg(srv)),
                            "list-tags"))
    check(tags.get("Tags") == ["v1"], "tags %r" % tags)

    # eve may not read team/: her copy of it is refused at the source...
    out = cl.fails(sk("copy", "--src-tls-verify=false", "--src-creds",
                      "eve:" + USERS["eve"], dest,
                      "oci:%s:eve" % back), "eve pulls team/app")
    check("denied" in out.lower(), "eve's pull:\n" + out[-1500:])
    # ...and her push into team/ is denied with a clear message.
    out = cl.fails(sk("copy", "--dest-tls-verify=false", "--dest-creds",
                      "eve:" + USERS["eve"], "oci:%s:v1" % layout,
                      "docker://%s/team/eves:v1" % reg(srv)),
                   "eve pushes to team/")
    # skopeo first asks with HEAD, whose answer has no body to quote.
    check("denied" in out.lower() or "403 (forbidden)" in out.lower(),
          "eve's push:\n" + out[-1500:])

    # alice reads team/app, eve writes eve/app: skopeo tries to mount
    # the layers from team/app, which eve may not read, so berth must
    # take a plain upload instead, and the copy still works.
    cl.ok(sk("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
             "--src-creds", alice, "--dest-creds", "eve:" + USERS["eve"],
             dest, "docker://%s/eve/app:v1" % reg(srv)),
          "copy from team/app (alice) to eve/app (eve)")
    eve = As(srv, "eve", USERS["eve"])
    r = bt.get_manifest(eve, "eve/app", "v1")
    expect(r, 200, "eve reads her copy")
    check(bt.digest_of(r.body) == info["manifest"], "copied digest")
    for layer in info["layers"]:
        expect(eve.head(bt.blob_path("eve/app", layer)), 200,
               "eve's copy of layer %s" % layer[:19])
    srv.stop()
    at.log_secrets_check(srv, USERS.values())
