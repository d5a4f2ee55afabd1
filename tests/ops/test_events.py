"""Notifications: a real receiver on 127.0.0.1 gets registry:2's events
for pushes, pulls, mounts and deletes, in order, including those that
happened while it was down and across a restart of berth."""

import opstest as ops
from opstest import bt, check

BLOB_TYPE = "application/octet-stream"


def push_events_of(image, repo, tag):
    """The push events of push_image(..., tag): blobs, then manifest."""
    want = [("push", bt.digest_of(b), None) for b in image.blobs]
    return want + [("push", image.digest, tag)]


def check_sequence(events, want, what):
    got = [(e["action"], e["target"].get("digest"), e["target"].get("tag"))
           for e in events]
    check(got == want, "%s: events differ\n      got:  %s\n      want: %s"
          % (what, got, want))


def test_events_for_push_pull_mount_delete():
    rcv = ops.Receiver().start()
    srv = ops.start_ops(config_yaml=ops.notifications_yaml(rcv))
    repo, other = bt.unique("ops/ev"), bt.unique("ops/evm")
    image = bt.make_image(nlayers=1)
    layer = image.layers[0]

    bt.push_image(srv, repo, image, tag="v1")
    bt.expect(bt.get_manifest(srv, repo, "v1"), 200)
    bt.expect(srv.head(bt.manifest_path(repo, "v1"),
                       headers={"Accept": bt.ACCEPT_ALL}), 200)  # no event
    bt.expect(srv.get(bt.blob_path(repo, bt.digest_of(layer)),
                      headers={"User-Agent": "ops-puller/2.0"}), 200)
    r = srv.request("POST", bt.with_query(bt.uploads_path(other),
                                          mount=bt.digest_of(layer),
                                          **{"from": repo}))
    bt.expect(r, 201, "mount")
    bt.expect(srv.request("DELETE", bt.manifest_path(repo, image.digest)),
              202, "delete")

    want = push_events_of(image, repo, "v1") + [
            ("pull", image.digest, "v1"),
            ("pull", bt.digest_of(layer), None),
            ("mount", bt.digest_of(layer), None),
            ("delete", image.digest, None)]
    events = rcv.wait_events(len(want))
    check_sequence(events, want, "one of each")

    ids = [e["id"] for e in events]
    check(len(set(ids)) == len(ids), "event ids repeat: %s" % ids)
    instances = {e["source"]["instanceID"] for e in events}
    check(len(instances) == 1, "instance ids: %s" % instances)
    for e in events:
        check(e["target"]["repository"] == (other if e["action"] == "mount"
                                            else repo),
              "repository of %s event: %r" % (e["action"],
                                              e["target"]["repository"]))
        check(e["timestamp"].endswith("Z") and "T" in e["timestamp"],
              "timestamp %r" % e["timestamp"])
        check(e["request"].get("addr") == bt.HOST,
              "request.addr %r" % e["request"].get("addr"))
        check(e["source"].get("addr", "").endswith(":%d" % srv.port),
              "source.addr %r" % e["source"].get("addr"))

    manifest_push = events[len(image.blobs)]
    t = manifest_push["target"]
    check(t.get("mediaType") == bt.OCI_MANIFEST and
          t.get("size") == len(image.manifest) and
          t.get("length") == len(image.manifest),
          "manifest push target: %s" % t)
    check(t.get("url") == "http://%s:%d/v2/%s/manifests/%s" % (
            bt.HOST, srv.port, repo, image.digest),
          "manifest push url: %r" % t.get("url"))
    check(manifest_push["request"].get("method") == "PUT",
          "manifest push method: %s" % manifest_push["request"])
    blob_push = events[0]["target"]
    check(blob_push.get("mediaType") == BLOB_TYPE and
          blob_push.get("size") == len(image.blobs[0]),
          "blob push target: %s" % blob_push)
    pull = events[len(image.blobs) + 2]
    check(pull["request"].get("useragent") == "ops-puller/2.0",
          "pull useragent: %s" % pull["request"])
    check(pull["target"].get("url", "").endswith(
            "/v2/%s/blobs/%s" % (repo, bt.digest_of(layer))),
          "blob pull url: %r" % pull["target"].get("url"))
    mount = events[-2]["target"]
    check(mount.get("fromRepository") == repo, "mount target: %s" % mount)
    delete = events[-1]["target"]
    check(set(delete) == {"digest", "repository"},
          "delete target has %s" % sorted(delete))

    with rcv.lock:
        path, headers, _ = rcv.posts[0]
    check(path == "/events", "posted to %r" % path)
    check(headers.get("Content-Type") == ops.ENVELOPE_TYPE,
          "Content-Type %r" % headers.get("Content-Type"))
    check(headers.get("Authorization") == "Bearer ops-test-token",
          "configured header missing: %s" % headers)
    check("ops-test-token" not in srv.log(),
          "a configured endpoint header reached the log")
    rcv.stop()


def test_events_wait_for_a_receiver_that_is_down():
    rcv = ops.Receiver()          # not listening yet
    srv = ops.start_ops(config_yaml=ops.notifications_yaml(rcv))
    repo = bt.unique("ops/down")
    first, second = bt.make_image(nlayers=1), bt.make_image(nlayers=1)

    bt.push_image(srv, repo, first, tag="one")
    bt.push_image(srv, repo, second, tag="two")
    ops.wait_for(lambda: ops.scrape(srv).get(
            'berth_notifications_failures_total{endpoint="hook"}', 0) >= 3,
            "failed deliveries to show in the metrics")
    check(ops.scrape(srv).get(
            'berth_notifications_pending{endpoint="hook"}') == 6,
          "pending events: %s" % ops.scrape(srv).get(
                  'berth_notifications_pending{endpoint="hook"}'))

    rcv.start()
    events = rcv.wait_events(6)
    check_sequence(events, push_events_of(first, repo, "one") +
                   push_events_of(second, repo, "two"), "after the outage")
    ops.wait_for(lambda: ops.scrape(srv).get(
            'berth_notifications_pending{endpoint="hook"}') == 0,
            "the queue to empty")
    check(ops.scrape(srv).get(
            'berth_notifications_delivered_total{endpoint="hook"}') == 6,
          "delivered: %s" % ops.scrape(srv).get(
                  'berth_notifications_delivered_total{endpoint="hook"}'))
    rcv.stop()


def test_events_survive_a_berth_restart():
    rcv = ops.Receiver().start()
    srv = ops.start_ops(config_yaml=ops.notifications_yaml(rcv))
    repo = bt.unique("ops/restart")
    images = [bt.make_image(nlayers=1) for _ in range(3)]

    bt.push_image(srv, repo, images[0], tag="a")
    rcv.wait_events(3)
    rcv.stop()                    # the receiver goes away...
    bt.push_image(srv, repo, images[1], tag="b")
    srv.restart()                 # ...and berth restarts meanwhile
    bt.push_image(srv, repo, images[2], tag="c")
    rcv.start()

    want = []
    for image, tag in zip(images, "abc"):
        want += push_events_of(image, repo, tag)
    events = rcv.wait_events(len(want))
    check_sequence(events, want, "across a restart")
    instances = [e["source"]["instanceID"] for e in events]
    check(instances[3] == instances[0] and instances[6] != instances[0],
          "queued events keep their first instance, new ones get the "
          "new one: %s" % instances)
    rcv.stop()


def test_ignored_media_types_and_actions():
    rcv = ops.Receiver().start()
    srv = ops.start_ops(config_yaml=ops.notifications_yaml(
            rcv, extra="      ignoredmediatypes: [%s]\n"
                        "      ignore:\n        actions: [pull]\n" %
                        BLOB_TYPE))
    repo = bt.unique("ops/ign")
    image = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, image, tag="x")
    bt.expect(bt.get_manifest(srv, repo, "x"), 200)
    bt.expect(srv.request("DELETE", bt.manifest_path(repo, image.digest)),
              202)
    events = rcv.wait_events(2)
    check_sequence(events, [("push", image.digest, "x"),
                            ("delete", image.digest, None)], "filtered")
    rcv.stop()


def test_failing_receiver_gets_the_event_again():
    rcv = ops.Receiver()
    rcv.status = 500
    rcv.start()
    srv = ops.start_ops(config_yaml=ops.notifications_yaml(rcv))
    repo = bt.unique("ops/fail")
    image = bt.make_image(nlayers=1)
    bt.push_image(srv, repo, image, tag="z")
    ops.wait_for(lambda: ops.scrape(srv).get(
            'berth_notifications_failures_total{endpoint="hook"}', 0) >= 2,
            "deliveries answered 500 to count as failures")
    check(rcv.events() == [], "a 500 answer counted as delivered")
    rcv.status = 200
    check_sequence(rcv.wait_events(3), push_events_of(image, repo, "z"),
                   "after the receiver recovered")
    rcv.stop()
