"""Log formats (text, json, logfmt), the access log and its switch, read
from what berth actually wrote."""

import json
import os
import re
import sys

import opstest as ops
from opstest import bt, check

sys.path.insert(0, os.path.join(os.path.dirname(ops.HERE), "access"))


def lines_of(srv):
    return [l for l in srv.log().splitlines() if l.strip()]


def push_and_pull(srv):
    repo = bt.unique("ops/log")
    image = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, image, tag="v1")
    bt.expect(bt.get_manifest(srv, repo, "v1"), 200)
    return repo, image


def json_records(srv):
    records = []
    for line in lines_of(srv):
        try:
            records.append(json.loads(line))
        except ValueError:
            check(False, "not a JSON log line: %r" % line)
    return records


def test_json_logs():
    srv = ops.start_ops(env={"REGISTRY_LOG_FORMATTER": "json"})
    repo, image = push_and_pull(srv)
    srv.stop()
    records = json_records(srv)
    for rec in records:
        check(isinstance(rec.get("time"), str) and
              rec.get("level") in ("error", "warn", "info", "debug") and
              isinstance(rec.get("msg"), str), "bad record: %s" % rec)

    puts = [r for r in records if r["msg"] == "access" and
            r.get("method") == "PUT" and
            r.get("path") == bt.manifest_path(repo, "v1")]
    check(len(puts) == 1, "access records of the manifest PUT: %s" % puts)
    put = puts[0]
    check(put.get("status") == 201 and put.get("client") == bt.HOST and
          put.get("bytes_in") == len(image.manifest) and
          isinstance(put.get("duration"), float),
          "manifest PUT record: %s" % put)
    check(put.get("repository") == repo and
          put.get("digest") == image.digest,
          "manifest PUT record lacks repository or digest: %s" % put)
    check(any(r["msg"] != "access" and r["level"] == "info"
              for r in records), "no operator record at all")


def test_logfmt_logs():
    srv = ops.start_ops(env={"REGISTRY_LOG_FORMATTER": "logfmt"})
    repo, image = push_and_pull(srv)
    srv.stop()
    shape = re.compile(r'^time=\S+ level=(error|warn|info|debug) msg=')
    for line in lines_of(srv):
        check(shape.match(line), "not a logfmt line: %r" % line)
    want = re.compile(r'^time=\S+ level=info msg=access client=%s .*'
                      r'method=GET path=%s status=200 ' % (
                              re.escape(bt.HOST),
                              re.escape(bt.manifest_path(repo, "v1"))))
    check(any(want.match(l) for l in lines_of(srv)),
          "no logfmt access line for the manifest GET")


def test_text_access_log():
    srv = ops.start_ops()
    repo, image = push_and_pull(srv)
    want = re.compile(r' access client=%s .*method=PUT path=%s status=201 '
                      r'bytes_in=%d ' % (re.escape(bt.HOST),
                                         re.escape(bt.manifest_path(
                                                 repo, "v1")),
                                         len(image.manifest)))
    ops.wait_for(lambda: any(want.search(l) for l in lines_of(srv)),
                 "the text access line of the manifest PUT")


def test_access_log_can_be_disabled():
    srv = ops.start_ops(env={"REGISTRY_LOG_ACCESSLOG_DISABLED": "true",
                             "REGISTRY_LOG_FORMATTER": "json"})
    push_and_pull(srv)
    srv.stop()
    records = json_records(srv)
    check(not [r for r in records if r["msg"] == "access"],
          "access records while the access log is disabled")
    check(any(r["level"] == "info" for r in records),
          "the operator log went quiet too")


def test_access_log_names_the_user_and_no_secret():
    import accesstest as at

    srv = at.start_secured({"loguser": "log-secret-pw"},
                           env={"REGISTRY_LOG_FORMATTER": "json"})
    who = at.As(srv, "loguser", "log-secret-pw")
    repo = bt.unique("ops/logauth")
    bt.push_image(who, repo, bt.make_image(nlayers=1), tag="t")
    srv.get("/v2/", headers={"Authorization":
                             at.basic("loguser", "not-the-pw")})
    srv.stop()
    records = json_records(srv)
    mine = [r for r in records if r["msg"] == "access" and
            r.get("path") == bt.manifest_path(repo, "t")]
    check(mine and all(r.get("user") == "loguser" for r in mine),
          "access records without the user: %s" % mine)
    at.log_secrets_check(srv, ["log-secret-pw", "not-the-pw"])
