"""Temporary files a crash left in a filesystem store: collections,
offline and online, list them in a dry run and remove them, keep the
ones a write may still own, and leave every image pullable."""

import os

import berthtest as bt
import lifecycletest as lt
from berthtest import check, expect

OLD = 2 * lt.DAY   # what a crash left long ago
RECENT = 10 * 60   # inside the hour no write outlives: kept at grace 0s


def temp_name(n):
    """A name like the store's own temporary names."""
    return ".tmp-4242-00000000deadbeef-%d" % n


def store_dirs(root, repo, image, upload):
    """Directories that hold temporary files beside what is put there:
    the root, a blob's, a revision's, a tag's, a layer link's and an
    upload session's, relative to the root."""
    h = bt.hex_of(bt.digest_of(image.layers[0]))
    m = bt.hex_of(image.digest)
    rel = os.path.join("docker", "registry", "v2")
    repo_dir = os.path.join(rel, "repositories", repo)
    upload_id = upload.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    return [
        "",
        os.path.join(rel, "blobs", "sha256", h[:2], h),
        os.path.join(repo_dir, "_manifests", "revisions", "sha256", m),
        os.path.join(repo_dir, "_manifests", "tags", "v1", "current"),
        os.path.join(repo_dir, "_layers", "sha256", h),
        os.path.join(repo_dir, "_uploads", upload_id),
    ]


def plant(root, rel, n, size, seconds):
    """Writes temporary file n of size bytes in rel, dated seconds back;
    returns its path relative to root."""
    path = os.path.join(root, rel, temp_name(n))
    check(os.path.isdir(os.path.dirname(path)),
          "no directory %s in the store" % rel)
    lt.put_file(path, b"t" * size, seconds)
    return os.path.relpath(path, root)


def plant_leftovers(root, repo, image, upload):
    """Stale temporary files in every directory kind, and two a write
    may still own.  Returns ({stale path: size}, {fresh paths})."""
    stale, fresh = {}, set()
    for i, rel in enumerate(store_dirs(root, repo, image, upload)):
        stale[plant(root, rel, i, 1000 + i, OLD)] = 1000 + i
    blob_dir = store_dirs(root, repo, image, upload)[1]
    fresh.add(plant(root, blob_dir, 100, 50, 0))
    fresh.add(plant(root, blob_dir, 101, 50, RECENT))
    return stale, fresh


def push_two(srv, upload_in):
    """Two tagged images, one in a nested repository, and an open
    upload session in pushed[upload_in]'s repository; returns
    [(repo, image)] and the session's target."""
    pushed = []
    for name in ("gc/temp", "gc/temp/nested"):
        repo = bt.unique(name)
        img = bt.make_image(nlayers=2)
        bt.push_image(srv, repo, img, tag="v1")
        pushed.append((repo, img))
    upload = bt.start_upload(srv, pushed[upload_in][0])
    return pushed, upload


def on_disk(root, paths):
    return {p for p in paths if os.path.exists(os.path.join(root, p))}


def temp_lines(out):
    mark = "temporary file eligible for deletion: "
    return {l[len(mark):] for l in out if l.startswith(mark)}


def test_cli_removes_stale_temporary_files():
    srv = lt.start()
    pushed, upload = push_two(srv, 0)
    repo, img = pushed[0]
    stale, fresh = plant_leftovers(srv.root, repo, img, upload)
    srv.stop()
    config = lt.write_config(srv.root)
    before = lt.files(srv.root)

    status, out, err = lt.berth_gc(config, "-q", "--grace-period", "0s")
    check(status == 0, err)
    check(not temp_lines(out) and "temporary" not in out[-1],
          "without --temporary-files the command looked for them: %s" %
          out[-2:])
    check(on_disk(srv.root, stale) == set(stale), "without --temporary-files "
          "the command removed temporary files")
    before = lt.files(srv.root)

    status, out, err = lt.berth_gc(config, "-d", "-q", "--grace-period",
                                   "0s", "--temporary-files")
    check(status == 0, err)
    check(temp_lines(out) == set(stale),
          "dry run listed %s, expected %s" % (temp_lines(out), set(stale)))
    check(lt.files(srv.root) == before, "a dry run changed the store")
    check(out[-1] == "would free %s: %d temporary files crashed writes "
          "left" % (size_text(sum(stale.values())), len(stale)),
          "last line %r" % out[-1:])

    status, out, err = lt.berth_gc(config, "-q", "--grace-period", "0s",
                                   "--temporary-files")
    check(status == 0, err)
    check(temp_lines(out) == set(stale), "the run listed %s" % out)
    check(not on_disk(srv.root, stale), "stale temporary files remain: "
          "%s" % on_disk(srv.root, stale))
    check(on_disk(srv.root, fresh) == fresh, "a temporary file a write "
          "may own was removed")
    check(out[-1].startswith("freed ") and
          out[-1].endswith(": %d temporary files crashed writes left" %
                           len(stale)), out[-1:])

    srv.restart()
    for r, image in pushed:
        lt.pull(srv, r, "v1", image)
    r = srv.request("PUT", bt.with_query(upload, digest=bt.digest_of(b"x")),
                    body=b"x")
    expect(r, 201, "finishing the upload session after the collection")
    srv.stop()


def size_text(n):
    """The size as usage_format_size writes it, for small sizes."""
    check(n < 1024 * 1024, "size_text handles only sizes under 1 MiB")
    return "%d B" % n if n < 1024 else "%.1f KiB" % (n / 1024)


def test_online_collection_removes_stale_temporary_files():
    srv = lt.start()
    pushed, upload = push_two(srv, 1)
    repo, img = pushed[1]
    stale, fresh = plant_leftovers(srv.root, repo, img, upload)
    before = lt.files(srv.root)

    report = lt.collect(srv, dryrun=True)
    check(lt.items(report, "temporary_files") == set(stale),
          "dry run listed %s" % report["items"])
    check(report["deleted"]["temporary_files"] == len(stale),
          report["deleted"])
    check(report["temporary_bytes"] == sum(stale.values()), report)
    check(on_disk(srv.root, stale) == set(stale),
          "a dry run removed temporary files")
    check(lt.files(srv.root).keys() >= before.keys(),
          "a dry run removed files")

    report = lt.collect(srv)
    check(lt.items(report, "temporary_files") == set(stale),
          "the run listed %s" % report["items"])
    check(report["temporary_bytes"] == sum(stale.values()), report)
    check(not report["failed"], report)
    check(not on_disk(srv.root, stale), "stale temporary files remain")
    check(on_disk(srv.root, fresh) == fresh, "a temporary file a write "
          "may own was removed")
    for r, image in pushed:
        lt.pull(srv, r, "v1", image)

    report = lt.collect(srv)
    check(report["deleted"]["temporary_files"] == 0,
          "a second run found %s" % report["deleted"])
