"""Metrics and health answers on the debug listener, after a known
sequence of pushes, pulls, mounts and deletes."""

import os
import sys
import time

import opstest as ops
from opstest import bt, check

sys.path.insert(0, os.path.join(os.path.dirname(ops.HERE), "access"))


def delta(before, after, key):
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_follow_a_known_sequence():
    srv = ops.start_ops()
    repo, other = bt.unique("ops/metrics"), bt.unique("ops/mounted")
    image = bt.make_image(nlayers=1)
    layer = image.layers[0]
    before = ops.scrape(srv)

    bt.push_image(srv, repo, image, tag="v1")             # 2 POST, 2 PUT
    for _ in range(2):                                     # 2 GET manifest
        bt.expect(bt.get_manifest(srv, repo, "v1"), 200)
    bt.expect(srv.head(bt.manifest_path(repo, "v1"),       # 1 HEAD manifest
                       headers={"Accept": bt.ACCEPT_ALL}), 200)
    bt.expect(srv.get(bt.blob_path(repo, bt.digest_of(layer))), 200)
    missing = bt.digest_of(b"not pushed anywhere")
    bt.expect(srv.get(bt.blob_path(repo, missing)), 404)   # 1 GET 404
    r = srv.request("POST", bt.with_query(bt.uploads_path(other),
                                          mount=bt.digest_of(layer),
                                          **{"from": repo}))
    bt.expect(r, 201, "mount")                             # POST 201
    bt.expect(srv.request("DELETE", bt.manifest_path(repo, image.digest)),
              202, "delete manifest")
    after = ops.scrape(srv)

    expected = [
            ("blob_upload", "POST", 202, 2), ("blob_upload", "PUT", 201, 2),
            ("blob_upload", "POST", 201, 1),
            ("manifest", "PUT", 201, 1), ("manifest", "GET", 200, 2),
            ("manifest", "HEAD", 200, 1), ("manifest", "DELETE", 202, 1),
            ("blob", "GET", 200, 1), ("blob", "GET", 404, 1),
    ]
    for route, method, status, n in expected:
        got = (ops.requests_total(after, route, method, status) -
               ops.requests_total(before, route, method, status))
        check(got == n, "berth_http_requests_total{route=%s,method=%s,"
              "status=%d} went up by %s, not %d" % (route, method, status,
                                                   got, n))

    sent = sum(len(b) for b in image.blobs) + len(image.manifest)
    got = delta(before, after, "berth_http_bytes_received_total")
    check(got == sent, "bytes received went up by %s, %d were sent" % (
            got, sent))
    got = delta(before, after, "berth_http_bytes_sent_total")
    want = 2 * len(image.manifest) + len(layer)
    check(got >= want, "bytes sent went up by %s, at least %d were "
          "served" % (got, want))
    hist = 'berth_http_request_duration_seconds_count{route="manifest"}'
    check(delta(before, after, hist) == 5, "%s went up by %s, not 5" % (
            hist, delta(before, after, hist)))
    check(after.get("berth_uploads_in_flight") == 0,
          "uploads in flight: %s" % after.get("berth_uploads_in_flight"))


def test_storage_gauges_count_blobs():
    srv = ops.start_ops()
    # The first full count of the empty store runs as berth starts.
    ops.wait_for(lambda: "berth_storage_blobs" in ops.scrape(srv),
                 "berth_storage_blobs to appear")
    check(ops.scrape(srv)["berth_storage_blobs"] == 0, "empty store "
          "has %s blobs" % ops.scrape(srv)["berth_storage_blobs"])
    image = bt.make_image(nlayers=2)
    bt.push_image(srv, bt.unique("ops/gauge"), image, tag="t")
    bt.push_image(srv, bt.unique("ops/gauge"), image, tag="t")  # no new
    values = ops.scrape(srv)
    blobs = len(image.blobs) + 1                  # and the manifest
    size = sum(len(b) for b in image.blobs) + len(image.manifest)
    check(values.get("berth_storage_blobs") == blobs,
          "berth_storage_blobs is %s, %d distinct blobs were pushed" % (
                  values.get("berth_storage_blobs"), blobs))
    check(values.get("berth_storage_bytes") == size,
          "berth_storage_bytes is %s, they hold %d bytes" % (
                  values.get("berth_storage_bytes"), size))

    # A restart counts the store again and finds the same.
    srv.restart()
    ops.wait_for(lambda: ops.scrape(srv).get("berth_storage_blobs") ==
                 blobs, "the recount after a restart")
    check(ops.scrape(srv).get("berth_storage_bytes") == size,
          "bytes after restart: %s" % ops.scrape(srv).get(
                  "berth_storage_bytes"))


def test_process_and_build_metrics():
    srv = ops.start_ops()
    values = ops.scrape(srv)
    for name in ("process_resident_memory_bytes", "process_open_fds",
                 "process_max_fds", "process_cpu_seconds_total",
                 "process_start_time_seconds"):
        check(values.get(name, 0) > 0, "%s is %s" % (name,
                                                     values.get(name)))
    pid_fds = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
    check(abs(values["process_open_fds"] - pid_fds) <= 8,
          "process_open_fds %s, /proc says %d" % (
                  values["process_open_fds"], pid_fds))
    check(any(k.startswith("berth_build_info{version=") for k in values),
          "no berth_build_info")


def test_health_endpoints():
    srv = ops.start_ops(prometheus=False)
    status, _, body = ops.debug_get(srv, "/healthz")
    check(status == 200, "/healthz -> %d %s" % (status, body))
    status, _, body = ops.debug_get(srv, "/readyz")
    check(status == 200 and body == "ready\n",
          "/readyz -> %d %r" % (status, body))
    status, _, body = ops.debug_get(srv, "/debug/health")
    check(status == 200 and body == "{}",
          "/debug/health -> %d %r" % (status, body))
    status, _, body = ops.debug_get(srv, "/metrics")
    check(status == 404, "/metrics with prometheus off -> %d" % status)
    r = srv.get("/metrics")
    check(r.status == 404, "/metrics on the registry port -> %d" % r.status)


def test_prometheus_path_setting():
    srv = ops.start_ops(env={
            "REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH": "/internal/prom"})
    status, headers, body = ops.debug_get(srv, "/internal/prom")
    check(status == 200, "/internal/prom -> %d" % status)
    ops.parse_metrics(body)
    check("berth_http_requests_total" in body, "no request counts")
    check(ops.debug_get(srv, "/metrics")[0] == 404,
          "/metrics still answers with another path configured")


def test_auth_failures_counted():
    import accesstest as at

    port = bt.free_port()
    env = {"REGISTRY_HTTP_DEBUG_ADDR": "%s:%d" % (bt.HOST, port),
           "REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED": "true"}
    srv = at.start_secured({"ops": "right-password"}, env=env)
    srv.debug_port = port
    key = "berth_auth_failures_total"
    before = ops.scrape(srv).get(key)
    check(before is not None, "no %s" % key)

    # A bare challenge is how every client starts: not a failure.
    at.expect_challenge(srv.get("/v2/"), "no credentials")
    check(ops.scrape(srv)[key] == before, "a challenge counted as a "
          "failure")
    r = srv.get("/v2/", headers={"Authorization":
                                 at.basic("ops", "wrong-password")})
    bt.expect(r, 401, "wrong password")
    r = srv.get("/v2/", headers={"Authorization":
                                 at.basic("nobody", "x")})
    bt.expect(r, 401, "unknown user")
    check(ops.scrape(srv)[key] == before + 2, "%s went from %s to %s "
          "after two bad logins" % (key, before, ops.scrape(srv)[key]))
    bt.expect(at.As(srv, "ops", "right-password").get("/v2/"), 200)
    check(ops.scrape(srv)[key] == before + 2, "a good login counted")
    at.log_secrets_check(srv, ["right-password", "wrong-password"])


def test_not_ready_while_draining():
    import http.client
    import signal

    srv = ops.start_ops(env={"REGISTRY_HTTP_DRAINTIMEOUT": "20s"})
    loc = bt.start_upload(srv, bt.unique("ops/drain"))
    # A chunk still streaming in when SIGTERM arrives keeps berth
    # draining, debug listener and all, until it ends.
    conn = http.client.HTTPConnection(bt.HOST, srv.port, timeout=30)
    conn.putrequest("PATCH", loc)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"5\r\nhello\r\n")
    srv.proc.send_signal(signal.SIGTERM)
    try:
        ops.wait_for(lambda: ops.debug_get(srv, "/readyz")[:3:2] == (
                503, "berth is shutting down\n"),
                "/readyz to say berth is shutting down")
        check(ops.debug_get(srv, "/healthz")[0] == 200,
              "/healthz failed while draining")
    finally:
        conn.send(b"0\r\n\r\n")
        r = conn.getresponse()
        r.read()
        conn.close()
    check(r.status == 202, "the chunk in flight got %d" % r.status)
    srv.returncode = srv.proc.wait(bt.STOP_TIMEOUT)
    srv.check_exit()


def image_of(layers):
    """An OCI image over the given layer blobs, with a fresh config."""
    config = bt.make_config(len(layers))
    m = {"schemaVersion": 2, "mediaType": bt.OCI_MANIFEST,
         "config": bt.descriptor(bt.OCI_CONFIG, config),
         "layers": [bt.descriptor(bt.OCI_LAYER, l) for l in layers]}
    return bt.Image(bt.dump(m), bt.OCI_MANIFEST, [config] + layers)


def repo_bytes(values, repo):
    """(bytes, exclusive, shared) of repo's series, None where absent."""
    return tuple(values.get('berth_repository_%s{repository="%s"}' % (
            kind, repo)) for kind in ("bytes", "exclusive_bytes",
                                      "shared_bytes"))


def test_repository_bytes_follow_pushes_and_deletes():
    # No grace period: a layer link no manifest uses stops counting a
    # second after it was written, so the numbers below are exact.
    srv = ops.start_ops(env={
            "REGISTRY_STORAGE_MAINTENANCE_GC_GRACEPERIOD": "0s"})
    ops.wait_for(lambda: "berth_repositories" in ops.scrape(srv),
                 "the first usage scan")
    values = ops.scrape(srv)
    check(values["berth_repositories"] == 0 and
          values["berth_storage_held_bytes"] == 0,
          "an empty store: %s repositories hold %s bytes" % (
                  values["berth_repositories"],
                  values["berth_storage_held_bytes"]))

    a, b = bt.unique("ops/usage-a"), bt.unique("ops/usage-b")
    shared, own = bt.make_layer(size=4096), bt.make_layer(size=2048)
    img_a, img_b = image_of([shared, own]), image_of([shared])
    bt.push_image(srv, a, img_a, tag="v1")
    bt.push_image(srv, b, img_b, tag="v1")

    # Pushes count as they land, without waiting for a scan.
    only_a = len(img_a.config) + len(own) + len(img_a.manifest)
    only_b = len(img_b.config) + len(img_b.manifest)
    values = ops.scrape(srv)
    got = repo_bytes(values, a)
    want = (only_a + len(shared), only_a, len(shared))
    check(got == want, "%s: (bytes, exclusive, shared) are %s, pushed "
          "%s" % (a, got, want))
    got = repo_bytes(values, b)
    want = (only_b + len(shared), only_b, len(shared))
    check(got == want, "%s: (bytes, exclusive, shared) are %s, pushed "
          "%s" % (b, got, want))
    check(values["berth_repositories"] == 2, "berth_repositories is %s" %
          values["berth_repositories"])
    held = only_a + only_b + len(shared)
    check(values["berth_storage_held_bytes"] == held,
          "held bytes %s, %d distinct bytes were pushed" % (
                  values["berth_storage_held_bytes"], held))

    # A deleted image stops counting at the rescan that follows a
    # deletion; its blobs are what a collection would now free.
    time.sleep(1.1)
    bt.expect(srv.request("DELETE", bt.manifest_path(a, img_a.digest)),
              202, "delete manifest")
    ops.wait_for(lambda: repo_bytes(ops.scrape(srv), a)[0] is None,
                 "%s to leave the metrics after its delete" % a)
    values = ops.scrape(srv)
    check(repo_bytes(values, b) == (only_b + len(shared),
                                    only_b + len(shared), 0),
          "%s after the delete: %s" % (b, repo_bytes(values, b)))
    check(values["berth_repositories"] == 1, "berth_repositories is %s" %
          values["berth_repositories"])
    check(values["berth_storage_reclaimable_bytes"] == only_a,
          "reclaimable bytes %s, the deleted image alone held %d" % (
                  values["berth_storage_reclaimable_bytes"], only_a))

    # The collection frees them and the numbers stay right.
    r = srv.request("POST", "/admin/gc?wait=true")
    bt.expect(r, 200, "POST /admin/gc")
    check(r.json().get("status") == "done", "collection: %s" % r.body)
    values = ops.scrape(srv)
    check(values["berth_storage_reclaimable_bytes"] == 0,
          "reclaimable bytes after the collection: %s" %
          values["berth_storage_reclaimable_bytes"])
    check(values["berth_storage_held_bytes"] == only_b + len(shared),
          "held bytes after the collection: %s, %s holds %d" % (
                  values["berth_storage_held_bytes"], b,
                  only_b + len(shared)))
    check(repo_bytes(values, b)[0] == only_b + len(shared),
          "%s after the collection: %s" % (b, repo_bytes(values, b)))
    check(values["berth_usage_scanned_timestamp_seconds"] >=
          time.time() - 60, "the last scan is dated %s" %
          values["berth_usage_scanned_timestamp_seconds"])
