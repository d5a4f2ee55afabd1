"""registry:2 configuration keys and the command line: YAML and REGISTRY_*
precedence, read-only maintenance, extra headers, relative and external
URLs, unknown keys and bad values, --version and help.
"""

import os
import time

import berthtest as bt
from berthtest import check, expect, expect_error, expect_header

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

NO_ENV = dict.fromkeys(["REGISTRY_HTTP_ADDR",
                       "REGISTRY_STORAGE_DELETE_ENABLED"] +
                      list(bt.storage_env("unused")))

BASE_YAML = """version: 0.1
log:
  level: info
storage:
{storage}  delete:
    enabled: %s
http:
  addr: 127.0.0.1:{port}
"""


def test_config_yaml_only():
    with bt.start_berth(env=NO_ENV,
                        config_yaml=BASE_YAML % "true") as srv:
        repo = "cfg/" + bt.unique()
        img = bt.make_image(1)
        bt.push_image(srv, repo, img, "v1")
        check(bt.store_exists(bt.v2(srv.root, "repositories", repo)),
              "the YAML rootdirectory %s was not used" % srv.root)
        expect(srv.request("DELETE", bt.manifest_path(repo, "v1")), 202,
               "DELETE with delete.enabled: true in YAML")
        srv.stop()


def test_config_env_overrides_yaml():
    yaml_root = bt.new_root("yamlroot")
    text = (BASE_YAML % "false").replace(
            "{storage}", bt.storage_yaml(yaml_root)).replace(
            "addr: 127.0.0.1:{port}", "addr: 127.0.0.1:1")
    with bt.start_berth(config_yaml=text) as srv:
        repo = "cfg/" + bt.unique()
        img = bt.make_image(1)
        bt.push_image(srv, repo, img, "v1")
        check(bt.store_exists(bt.v2(srv.root, "repositories", repo)),
              "the root directory's REGISTRY_* variable did not win")
        check(bt.store_listdir(yaml_root) == [],
              "data went to the YAML root: %r" %
              bt.store_listdir(yaml_root))
        expect(srv.request("DELETE", bt.manifest_path(repo, "v1")), 202,
               "REGISTRY_STORAGE_DELETE_ENABLED=true over YAML false")
        srv.stop()

READONLY_YAML = """version: 0.1
storage:
{storage}  delete:
    enabled: true
  maintenance:
    readonly:
      enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def populate(root):
    """Pushes an image and starts an upload in a store at root.

    Returns the repository, the image and the upload's target.
    """
    with bt.start_berth(root=root) as srv:
        repo = "ro/" + bt.unique()
        img = bt.make_image(2)
        bt.push_image(srv, repo, img, "v1")
        upload = bt.patch_chunks(srv, bt.start_upload(srv, repo),
                                 b"0123456789", 10)
        srv.stop()
    return repo, img, upload


def test_config_readonly():
    root = bt.new_root()
    repo, img, upload = populate(root)
    text = READONLY_YAML
    with bt.start_berth(root=root, config_yaml=text) as srv:
        before = bt.store_snapshot(root)
        bt.check_manifest(srv, repo, "v1", img)
        for b in img.blobs:
            bt.check_blob(srv, repo, b)
        check(bt.tags(srv, repo) == ["v1"], "tags in read-only mode")
        r = srv.get("/v2/_catalog")
        expect(r, 200, "catalog in read-only mode")

        other = bt.make_image(1)
        d = bt.digest_of(other.config)
        refused = [
                ("POST", bt.uploads_path(repo), None),
                ("POST", bt.with_query(bt.uploads_path(repo), digest=d),
                 other.config),
                ("POST", bt.with_query(bt.uploads_path("ro/new"),
                                       mount=bt.digest_of(img.config),
                                       **{"from": repo}), None),
                ("PUT", bt.manifest_path(repo, "v2"), img.manifest),
                ("DELETE", bt.manifest_path(repo, img.digest), None),
                ("DELETE", bt.manifest_path(repo, "v1"), None),
                ("DELETE", bt.blob_path(repo, bt.digest_of(img.config)),
                 None),
                ("PATCH", upload, b"abc"),
                ("PUT", bt.with_query(upload, digest=bt.digest_of(
                        b"0123456789")), None),
                ("DELETE", upload, None),
        ]
        for method, target, body in refused:
            r = srv.request(method, target, body=body, headers={
                    "Content-Type": bt.OCI_MANIFEST})
            expect_error(r, 405, "UNSUPPORTED",
                         "%s %s in read-only mode" % (method, target))
        after = bt.store_snapshot(root)
        check(after == before, "read-only mode changed the store: %r" %
              sorted(set(after.items()) ^ set(before.items()))[:10])
        bt.check_manifest(srv, repo, "v1", img)
        srv.stop()


def test_config_http_headers():
    text = BASE_YAML % "true" + """  headers:
    X-Berth-Test: [hello]
    X-Content-Type-Options: [nosniff]
"""
    with bt.start_berth(config_yaml=text) as srv:
        repo = "cfg/" + bt.unique()
        data = bt.random_bytes(10)
        d = bt.push_blob(srv, repo, data)
        for r in (srv.get("/v2/"), srv.get(bt.blob_path(repo, d)),
                  srv.get(bt.manifest_path(repo, "missing"))):
            expect_header(r, "X-Berth-Test", "hello",
                          "configured header on %s" % r.target)
            expect_header(r, "X-Content-Type-Options", "nosniff",
                          "configured header on %s" % r.target)
        srv.stop()


def check_relative(srv, what, loc):
    check(loc.startswith("/v2/"), "%s: Location %r is not relative" % (
            what, loc))
    return srv.resolve(loc)


def test_config_relativeurls():
    with bt.start_berth(env={"REGISTRY_HTTP_RELATIVEURLS": "true"}) as srv:
        repo = "cfg/" + bt.unique()
        img = bt.make_image(1)
        data = img.layers[0]
        d = bt.digest_of(data)
        r = srv.request("POST", bt.uploads_path(repo))
        expect(r, 202, "POST upload")
        loc = check_relative(srv, "POST upload", r.header("Location"))
        r = srv.request("PATCH", loc, body=data, headers={
                "Content-Range": "0-%d" % (len(data) - 1)})
        expect(r, 202, "PATCH")
        loc = check_relative(srv, "PATCH", r.header("Location"))
        r = srv.get(loc)
        expect(r, 204, "upload status")
        check_relative(srv, "upload status", r.header("Location"))
        r = srv.request("PUT", bt.with_query(loc, digest=d))
        expect(r, 201, "PUT")
        check_relative(srv, "PUT blob", r.header("Location"))
        r = srv.request("POST", bt.with_query(bt.uploads_path(repo),
                                              digest=bt.digest_of(
                                                      img.config)),
                        body=img.config)
        expect(r, 201, "monolithic POST")
        check_relative(srv, "monolithic POST", r.header("Location"))
        r = srv.request("PUT", bt.manifest_path(repo, "v1"),
                        body=img.manifest,
                        headers={"Content-Type": bt.OCI_MANIFEST})
        expect(r, 201, "PUT manifest")
        check_relative(srv, "PUT manifest", r.header("Location"))
        r = srv.request("POST", bt.with_query(bt.uploads_path(repo + "m"),
                                              mount=d, **{"from": repo}))
        expect(r, 201, "mount")
        check_relative(srv, "mount", r.header("Location"))
        srv.stop()


def test_config_http_host():
    host = "https://registry.invalid:8443"
    with bt.start_berth(env={"REGISTRY_HTTP_HOST": host}) as srv:
        repo = "cfg/" + bt.unique()
        img = bt.make_image(1)

        def local(what, loc):
            check(loc and loc.startswith(host + "/v2/"),
                  "%s: Location %r is not under %s" % (what, loc, host))
            return loc[len(host):]

        r = srv.request("POST", bt.uploads_path(repo))
        expect(r, 202, "POST upload")
        loc = local("POST upload", r.header("Location"))
        data = img.config
        r = srv.request("PUT", bt.with_query(loc, digest=bt.digest_of(data)),
                        body=data)
        expect(r, 201, "PUT blob")
        local("PUT blob", r.header("Location"))
        r = srv.request("POST", bt.with_query(
                bt.uploads_path(repo), digest=bt.digest_of(img.layers[0])),
                body=img.layers[0])
        expect(r, 201, "monolithic POST")
        local("monolithic POST", r.header("Location"))
        r = srv.request("PUT", bt.manifest_path(repo, "v1"),
                        body=img.manifest,
                        headers={"Content-Type": bt.OCI_MANIFEST})
        expect(r, 201, "PUT manifest")
        local("PUT manifest", r.header("Location"))
        srv.stop()


def test_config_unknown_key():
    text = BASE_YAML % "true" + """nosuchsection:
  something: 1
"""
    text = text.replace("{storage}", "{storage}    nosuchfsoption: 7\n")
    with bt.start_berth(config_yaml=text) as srv:
        bt.push_image(srv, "cfg/" + bt.unique(), bt.make_image(1), "v1")
        log = srv.log()
        check("nosuchsection" in log,
              "no warning naming the unknown key:\n" + srv.log_tail())
        check("nosuchfsoption" in log,
              "no warning naming the unknown nested key:\n" +
              srv.log_tail())
        srv.stop()


def serve_env():
    env = {"REGISTRY_HTTP_ADDR": "127.0.0.1:%d" % bt.free_port()}
    env.update(bt.storage_env(bt.new_root()))
    return env


def test_config_invalid_env_value():
    env = serve_env()
    env["REGISTRY_STORAGE_DELETE_ENABLED"] = "maybe"
    rc, out = bt.run_berth(["serve"], env=env, timeout=10)
    check(rc != 0, "berth accepted delete.enabled=maybe:\n" + out)
    check("storage.delete.enabled" in out or
          "REGISTRY_STORAGE_DELETE_ENABLED" in out,
          "the error does not name the key:\n" + out)


def write_yaml(text):
    path = os.path.join(bt.scratch("config"), "config.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_config_invalid_yaml_value():
    env = serve_env()
    text = (BASE_YAML % "maybe").replace(
            "{storage}", bt.storage_yaml(bt.new_root())).replace(
            "{port}", "1")
    rc, out = bt.run_berth(["serve", write_yaml(text)], env=env, timeout=10)
    check(rc != 0, "berth accepted delete.enabled: maybe:\n" + out)
    check("delete.enabled" in out,
          "the error does not name the key:\n" + out)


def test_config_malformed_yaml():
    env = serve_env()
    rc, out = bt.run_berth(["serve", write_yaml(
            "version: 0.1\nstorage: [unclosed\n  - : :\n")], env=env,
            timeout=10)
    check(rc != 0, "berth accepted malformed YAML:\n" + out)
    check(out.strip() != "", "no message for malformed YAML")


def test_config_missing_file():
    env = serve_env()
    path = os.path.join(bt.base_dir(), "does-not-exist.yml")
    rc, out = bt.run_berth(["serve", path], env=env, timeout=10)
    check(rc != 0, "berth started without its config file:\n" + out)
    check("does-not-exist.yml" in out, "the error does not name the "
          "file:\n" + out)


def test_cli_version():
    rc, out = bt.run_berth(["--version"])
    check(rc == 0, "--version exited %d:\n%s" % (rc, out))
    path = os.path.join(REPO_ROOT, "VERSION")
    if os.path.exists(path):
        with open(path) as f:
            want = f.read().strip()
        check(want in out, "--version printed %r, not %s" % (out, want))
    else:
        check(any(c.isdigit() for c in out), "no version in %r" % out)


def test_cli_help():
    rc, out = bt.run_berth(["help"])
    check(rc == 0, "help exited %d:\n%s" % (rc, out))
    check("serve" in out, "help does not mention serve:\n" + out)
    check("usage" in out.lower(), "help prints no usage:\n" + out)


def test_cli_unknown_command():
    rc, out = bt.run_berth(["frobnicate"], timeout=10)
    check(rc != 0, "an unknown command exited 0:\n" + out)
    check(out.strip() != "", "no message for an unknown command")


PURGE_YAML = """version: 0.1
storage:
{storage}  maintenance:
    uploadpurging:
      enabled: true
      age: 1s
      interval: 1s
      dryrun: %s
http:
  addr: 127.0.0.1:{port}
"""


def upload_dirs(root, repo):
    return bt.store_listdir(bt.v2(root, "repositories", repo, "_uploads"))


def test_config_upload_purging():
    with bt.start_berth(config_yaml=PURGE_YAML % "false") as srv:
        repo = "cfg/" + bt.unique()
        data = bt.random_bytes(100)
        bt.push_blob(srv, repo, data)
        loc = bt.patch_chunks(srv, bt.start_upload(srv, repo),
                              b"abandoned", 9)
        check(upload_dirs(srv.root, repo), "no upload directory")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if srv.get(loc).status == 404:
                break
            time.sleep(0.25)
        expect_error(srv.get(loc), 404, "BLOB_UPLOAD_UNKNOWN",
                     "an upload older than uploadpurging.age")
        check(upload_dirs(srv.root, repo) == [],
              "purged upload left %r" % upload_dirs(srv.root, repo))
        bt.check_blob(srv, repo, data)
        srv.stop()


def test_config_upload_purging_dryrun():
    with bt.start_berth(config_yaml=PURGE_YAML % "true") as srv:
        repo = "cfg/" + bt.unique()
        loc = bt.patch_chunks(srv, bt.start_upload(srv, repo),
                              b"kept", 4)
        time.sleep(3)
        r = srv.get(loc)
        expect(r, 204, "an upload after a dry run")
        expect_header(r, "Range", "0-3", "an upload after a dry run")
        check(len(upload_dirs(srv.root, repo)) == 1, "dry run removed "
              "the upload")
        srv.stop()
