"""Blob uploads: monolithic, POST then PUT, chunked and streamed PATCHes,
upload status and cancellation, digest checks and cross-repository mounts.
"""

import threading
import uuid

import berthtest as bt
from berthtest import check, expect, expect_error, expect_header

OCTET = {"Content-Type": "application/octet-stream"}


def blob_absent(srv, repo, digest, what):
    r = srv.head(bt.blob_path(repo, digest))
    expect(r, 404, what)


def test_push_post_then_put():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(1000)
    d = bt.digest_of(data)
    blob_absent(srv, repo, d, "before the upload")

    r = srv.request("POST", bt.uploads_path(repo))
    expect(r, 202, "POST upload")
    loc = expect_header(r, "Location", what="POST upload")
    uid = expect_header(r, "Docker-Upload-UUID", what="POST upload")
    target = srv.resolve(loc)
    check(target.startswith(bt.uploads_path(repo)),
          "upload Location %r is not under %s" % (
                  loc, bt.uploads_path(repo)))
    check(uid and uid in target, "Docker-Upload-UUID %r is not in the "
          "Location %r" % (uid, loc))

    r = srv.request("PUT", bt.with_query(target, digest=d), body=data,
                    headers=OCTET)
    bt.check_blob_created(srv, r, repo, d, "PUT")
    bt.check_blob(srv, repo, data)

    expect_error(srv.get(target), 404, "BLOB_UPLOAD_UNKNOWN",
                 "status of a completed upload")
    r = srv.request("PUT", bt.with_query(target, digest=d), body=data,
                    headers=OCTET)
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "PUT to a completed upload")


def test_push_monolithic_post():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(777)
    d = bt.push_blob(srv, repo, data, "monolithic")
    bt.check_blob(srv, repo, data)
    r = srv.get(bt.blob_path(repo, d))
    check(r.body == data, "monolithic blob differs")


def test_push_two_sessions_differ():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    a = bt.start_upload(srv, repo)
    b = bt.start_upload(srv, repo)
    check(a != b, "two POSTs gave the same upload location %r" % a)


def test_push_chunked():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(300)
    d = bt.digest_of(data)
    loc = bt.start_upload(srv, repo)

    r = srv.request("PATCH", loc, body=data[:100], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "0-99"})
    expect(r, 202, "first chunk")
    expect_header(r, "Range", "0-99", "first chunk")
    expect_header(r, "Docker-Upload-UUID", what="first chunk")
    loc = srv.resolve(expect_header(r, "Location", what="first chunk"))

    r = srv.get(loc)
    expect(r, 204, "upload status")
    expect_header(r, "Range", "0-99", "upload status")
    expect_header(r, "Location", what="upload status")
    expect_header(r, "Docker-Upload-UUID", what="upload status")

    r = srv.request("PATCH", loc, body=data[100:250], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "100-249"})
    expect(r, 202, "second chunk")
    expect_header(r, "Range", "0-249", "second chunk")
    loc = srv.resolve(expect_header(r, "Location"))
    blob_absent(srv, repo, d, "before the closing PUT")

    r = srv.request("PUT", bt.with_query(loc, digest=d), body=data[250:],
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Range": "250-299"})
    bt.check_blob_created(srv, r, repo, d, "PUT with final chunk")
    bt.check_blob(srv, repo, data)


def test_push_chunked_many():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(200 * 1024 + 17)
    bt.push_blob(srv, repo, data, "chunked", chunk=64 * 1024)
    bt.check_blob(srv, repo, data)


def test_push_out_of_order_chunk():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(84)
    d = bt.digest_of(data)
    first = bt.start_upload(srv, repo)

    r = srv.request("PATCH", first, body=data[42:], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "42-83"})
    expect(r, 416, "a first chunk that does not start at 0")

    r = srv.request("PATCH", first, body=data[:42], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "0-41"})
    expect(r, 202, "first chunk")
    expect_header(r, "Range", "0-41")
    loc = srv.resolve(expect_header(r, "Location"))

    r = srv.request("PATCH", first, body=data[:42], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "0-41"})
    expect(r, 416, "the first chunk again")

    r = srv.request("PATCH", loc, body=data[50:], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "50-83"})
    expect(r, 416, "a chunk that leaves a gap")

    r = srv.get(first)
    expect(r, 204, "status after the rejected chunks")
    expect_header(r, "Range", "0-41", "status after the rejected chunks")
    loc = srv.resolve(expect_header(r, "Location"))

    r = srv.request("PATCH", loc, body=data[42:], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "42-83"})
    expect(r, 202, "second chunk")
    expect_header(r, "Range", "0-83")
    loc = srv.resolve(expect_header(r, "Location"))
    r = srv.request("PUT", bt.with_query(loc, digest=d), body=b"",
                    headers=OCTET)
    bt.check_blob_created(srv, r, repo, d, "closing PUT")
    bt.check_blob(srv, repo, data)


def test_push_content_range_mismatch():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(100)
    loc = bt.patch_chunks(srv, bt.start_upload(srv, repo), data[:40], 40)

    r = srv.request("PATCH", loc, body=data[40:60], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "40-99"})
    expect(r, (400, 416), "Content-Range longer than the body")

    r = srv.get(loc)
    expect(r, 204, "status after the bad chunk")
    expect_header(r, "Range", "0-39", "a rejected chunk changed the "
                  "upload")


def test_push_streamed_patch():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(70000)
    d = bt.digest_of(data)
    loc = bt.start_upload(srv, repo)

    r = srv.request("PATCH", loc, body=bt.iter_chunks(data, 4096),
                    headers=OCTET)
    expect(r, 202, "PATCH with chunked transfer encoding")
    expect_header(r, "Range", "0-%d" % (len(data) - 1), "streamed PATCH")
    loc = srv.resolve(expect_header(r, "Location"))

    r = srv.request("PUT", bt.with_query(loc, digest=d), body=b"",
                    headers=OCTET)
    bt.check_blob_created(srv, r, repo, d, "closing PUT")
    bt.check_blob(srv, repo, data)


def test_push_patch_without_range():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(42)
    d = bt.digest_of(data)
    loc = bt.start_upload(srv, repo)

    r = srv.request("PATCH", loc, body=data, headers=OCTET)
    expect(r, 202, "PATCH without Content-Range")
    loc = srv.resolve(expect_header(r, "Location"))
    r = srv.request("PUT", bt.with_query(loc, digest=d), headers=OCTET)
    bt.check_blob_created(srv, r, repo, d, "closing PUT")
    bt.check_blob(srv, repo, data)


def test_push_large_streamed():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(3 * 1024 * 1024 + 5)
    bt.push_blob(srv, repo, data, "stream")
    r = srv.get(bt.blob_path(repo, bt.digest_of(data)))
    expect(r, 200, "GET large blob")
    check(bt.digest_of(r.body) == bt.digest_of(data),
          "large blob came back different (%d bytes)" % len(r.body))


def test_push_empty_blob():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    bt.push_blob(srv, repo, b"", "post-put")
    bt.check_blob(srv, repo, b"")


def test_push_existing_blob_again():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(500)
    bt.push_blob(srv, repo, data, "post-put")
    bt.push_blob(srv, repo, data, "monolithic")
    bt.push_blob(srv, repo, data, "chunked")
    bt.check_blob(srv, repo, data)


def test_push_upload_status():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    loc = bt.start_upload(srv, repo)
    r = srv.get(loc)
    expect(r, 204, "status of an empty upload")
    expect_header(r, "Location", what="status of an empty upload")
    rng = expect_header(r, "Range", what="status of an empty upload")
    check(rng in ("0-0", "0--1", "0-"), "odd Range %r for an empty "
          "upload" % rng)


def test_push_cancel_upload():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(64)
    d = bt.digest_of(data)
    loc = bt.patch_chunks(srv, bt.start_upload(srv, repo), data, 64)

    r = srv.request("DELETE", loc)
    expect(r, 204, "DELETE upload")
    expect_error(srv.get(loc), 404, "BLOB_UPLOAD_UNKNOWN",
                 "status of a cancelled upload")
    r = srv.request("PATCH", loc, body=data, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "64-127"})
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "PATCH after cancel")
    r = srv.request("PUT", bt.with_query(loc, digest=d), headers=OCTET)
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "PUT after cancel")
    expect_error(srv.request("DELETE", loc), 404, "BLOB_UPLOAD_UNKNOWN",
                 "second DELETE")
    blob_absent(srv, repo, d, "cancelled upload")


def test_push_wrong_digest():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(256)
    wrong = bt.digest_of(b"something else " + data)
    loc = bt.start_upload(srv, repo)

    r = srv.request("PUT", bt.with_query(loc, digest=wrong), body=data,
                    headers=OCTET)
    expect_error(r, 400, "DIGEST_INVALID", "PUT with the wrong digest")
    blob_absent(srv, repo, wrong, "blob under the claimed digest")
    blob_absent(srv, repo, bt.digest_of(data), "blob under its own digest")

    r = srv.request("POST", bt.with_query(bt.uploads_path(repo),
                                          digest=wrong),
                    body=data, headers=OCTET)
    expect_error(r, 400, "DIGEST_INVALID", "monolithic POST, wrong digest")
    blob_absent(srv, repo, wrong, "after monolithic POST")
    blob_absent(srv, repo, bt.digest_of(data), "after monolithic POST")


def test_push_digest_missing_or_malformed():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    data = bt.random_bytes(32)
    loc = bt.start_upload(srv, repo)
    r = srv.request("PUT", loc, body=data, headers=OCTET)
    expect_error(r, 400, ("DIGEST_INVALID", "BLOB_UPLOAD_INVALID"),
                 "closing PUT without ?digest=")
    for bad in ("sha256:xyz", "sha256:" + "a" * 63, "nodigest",
                "sha256:" + "A" * 64):
        loc = bt.start_upload(srv, repo)
        r = srv.request("PUT", bt.with_query(loc, digest=bad),
                        body=data, headers=OCTET)
        expect_error(r, 400, "DIGEST_INVALID", "PUT ?digest=" + bad)


def test_push_unknown_upload():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    bt.start_upload(srv, repo)
    loc = bt.uploads_path(repo) + str(uuid.uuid4())
    d = bt.digest_of(b"x")
    expect_error(srv.get(loc), 404, "BLOB_UPLOAD_UNKNOWN", "GET")
    r = srv.request("PATCH", loc, body=b"x", headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "0-0"})
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "PATCH")
    r = srv.request("PUT", bt.with_query(loc, digest=d), body=b"x",
                    headers=OCTET)
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "PUT")
    expect_error(srv.request("DELETE", loc), 404, "BLOB_UPLOAD_UNKNOWN",
                 "DELETE")
    blob_absent(srv, repo, d, "after PUT to an unknown upload")


def test_push_upload_of_other_repo():
    srv = bt.shared()
    a = "push/" + bt.unique("a")
    b = "push/" + bt.unique("b")
    bt.start_upload(srv, b)
    data = bt.random_bytes(50)
    d = bt.digest_of(data)
    loc = bt.start_upload(srv, a)
    other = loc.replace("/v2/%s/" % a, "/v2/%s/" % b, 1)
    check(other != loc, "cannot rewrite %r to repository %s" % (loc, b))

    expect_error(srv.get(other), 404, "BLOB_UPLOAD_UNKNOWN",
                 "GET A's upload through B")
    r = srv.request("PATCH", other, body=data, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "0-49"})
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "PATCH A's upload via B")
    r = srv.request("PUT", bt.with_query(other, digest=d), body=data,
                    headers=OCTET)
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "PUT A's upload via B")
    blob_absent(srv, b, d, "blob in B")
    expect_error(srv.request("DELETE", other), 404, "BLOB_UPLOAD_UNKNOWN",
                 "DELETE A's upload via B")

    r = srv.request("PUT", bt.with_query(loc, digest=d), body=data,
                    headers=OCTET)
    bt.check_blob_created(srv, r, a, d, "A's upload after B's attempts")


def test_push_mount():
    srv = bt.shared()
    src = "mount/" + bt.unique("src")
    dst = "mount/" + bt.unique("dst")
    data = bt.random_bytes(400)
    d = bt.push_blob(srv, src, data)
    blob_absent(srv, dst, d, "before the mount")

    r = srv.request("POST", bt.with_query(bt.uploads_path(dst), mount=d,
                                          **{"from": src}))
    bt.check_blob_created(srv, r, dst, d, "mount")
    bt.check_blob(srv, dst, data)
    bt.check_blob(srv, src, data)


def test_push_mount_missing():
    srv = bt.shared()
    src = "mount/" + bt.unique("src")
    dst = "mount/" + bt.unique("dst")
    elsewhere = "mount/" + bt.unique("other")
    bt.push_blob(srv, src, bt.random_bytes(10))
    data = bt.random_bytes(300)
    d = bt.push_blob(srv, elsewhere, data)

    r = srv.request("POST", bt.with_query(bt.uploads_path(dst), mount=d,
                                          **{"from": src}))
    expect(r, 202, "mount of a blob the source repository lacks")
    loc = srv.resolve(expect_header(r, "Location"))
    check(loc.startswith(bt.uploads_path(dst)),
          "mount fallback Location %r is not an upload in %s" % (loc, dst))
    expect_header(r, "Docker-Upload-UUID", what="mount fallback")
    blob_absent(srv, dst, d, "a blob mounted from a repository that "
                "does not have it")

    r = srv.request("PUT", bt.with_query(loc, digest=d), body=data,
                    headers=OCTET)
    bt.check_blob_created(srv, r, dst, d, "upload on the new session")

    unknown = bt.digest_of(b"never pushed " + data)
    r = srv.request("POST", bt.with_query(bt.uploads_path(dst),
                                          mount=unknown,
                                          **{"from": src}))
    expect(r, 202, "mount of an unknown blob")
    expect_header(r, "Location", what="mount of an unknown blob")

    r = srv.request("POST", bt.with_query(bt.uploads_path(dst),
                                          mount=unknown))
    expect(r, 202, "mount of an unknown blob without from")
    expect_header(r, "Location", what="mount without from")
    r = srv.request("POST", bt.with_query(bt.uploads_path(dst + "x"),
                                          mount=d))
    expect(r, (201, 202), "mount of a known blob without from")


def test_push_concurrent():
    srv = bt.shared()
    repo = "push/" + bt.unique()
    same = bt.random_bytes(40000)
    blobs = [bt.random_bytes(20000 + i) for i in range(6)]
    errors = []

    def worker(data, how):
        try:
            bt.push_blob(srv, repo, data, how)
        except Exception as e:
            errors.append("%s: %s" % (how, e))

    jobs = [(same, h) for h in ("post-put", "monolithic", "chunked",
                                "stream")]
    jobs += [(b, "chunked" if i % 2 else "post-put")
             for i, b in enumerate(blobs)]
    threads = [threading.Thread(target=worker, args=j, daemon=True)
               for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(bt.REQUEST_TIMEOUT * 4)
    check(not any(t.is_alive() for t in threads),
          "concurrent pushes still running")
    check(not errors, "concurrent pushes failed:\n" + "\n".join(errors))
    for b in [same] + blobs:
        bt.check_blob(srv, repo, b)
