#!/usr/bin/env python3
"""referrers.py - artifacts attached to an image, pushed and listed the way
oras and cosign do it, against a registry at the URL given.

    referrers.py http://127.0.0.1:PORT
    referrers.py --list          prints the names of the checks

It pushes an image, then artifact manifests whose "subject" is that image
(an SBOM, a signature, one typed only by its config media type, an index),
and checks what GET /v2/<name>/referrers/<digest> returns: the artifacts
with their artifactType and annotations, ?artifactType= filtering, the
OCI-Subject header on push, an empty list for a digest nobody refers to,
and that a deleted artifact leaves the list.  Prints one "PASS
clients:<name>" or "FAIL clients:<name>" line per check; exits 1 if any
check failed.  Only the Python standard library is used.
"""
import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_EMPTY = "application/vnd.oci.empty.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
SBOM = "application/vnd.example.sbom"
SIGNATURE = "application/vnd.example.signature"
REPO = "test/art"


class CheckFailed(Exception):
    pass


def expect(what, got, want):
    if got != want:
        raise CheckFailed("%s: got %r, want %r" % (what, got, want))


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """Just enough of a registry client: blobs, manifests, referrers."""

    def __init__(self, base):
        self.base = base.rstrip("/")

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers, body); HTTP errors are not raised."""
        req = urllib.request.Request(self.base + path, data=body,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def push_blob(self, data):
        """Uploads data (POST, then PUT with the digest); returns a
        descriptor without mediaType."""
        digest = digest_of(data)
        status, hdrs, _ = self.request("POST",
                                       "/v2/%s/blobs/uploads/" % REPO)
        expect("POST blob upload status", status, 202)
        location = hdrs["Location"]
        if location.startswith("/"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        url = location + sep + "digest=" + urllib.parse.quote(digest)
        req = urllib.request.Request(url, data=data, method="PUT", headers={
            "Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status = resp.status
        except urllib.error.HTTPError as err:
            status = err.code
        expect("PUT blob status", status, 201)
        return {"digest": digest, "size": len(data)}

    def push_manifest(self, obj, media_type, ref=None):
        """PUTs the manifest by ref (by its digest when None); returns
        (descriptor, response headers)."""
        data = json.dumps(obj, indent=2).encode()
        digest = digest_of(data)
        status, hdrs, body = self.request(
            "PUT", "/v2/%s/manifests/%s" % (REPO, ref or digest), data,
            {"Content-Type": media_type})
        if status != 201:
            raise CheckFailed("PUT manifest: status %d: %s"
                              % (status, body[:300].decode(errors="replace")))
        expect("Docker-Content-Digest", hdrs.get("Docker-Content-Digest"),
               digest)
        return {"mediaType": media_type, "digest": digest,
                "size": len(data)}, hdrs

    def referrers(self, digest, artifact_type=None):
        """Returns (headers, parsed index) of the referrers of digest."""
        path = "/v2/%s/referrers/%s" % (REPO, digest)
        if artifact_type:
            path += "?artifactType=" + urllib.parse.quote(artifact_type)
        status, hdrs, body = self.request("GET", path)
        expect("referrers status", status, 200)
        ctype = hdrs.get("Content-Type", "").split(";")[0].strip()
        expect("referrers Content-Type", ctype, MT_INDEX)
        index = json.loads(body)
        expect("referrers schemaVersion", index.get("schemaVersion"), 2)
        expect("referrers mediaType", index.get("mediaType"), MT_INDEX)
        return hdrs, index


class Scenario:
    """The pushes the checks share, in the order they run."""

    def __init__(self, reg):
        self.reg = reg
        self.image = None
        self.sbom = self.signature = self.typed = self.index = None
        self.empty = None

    def artifact(self, artifact_type, payload, annotations,
                 config=None):
        """Pushes an artifact manifest about self.image; returns its
        descriptor and the push response headers."""
        layer = dict(self.reg.push_blob(payload), mediaType=MT_LAYER)
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                    "config": config or self.empty, "layers": [layer],
                    "subject": self.image, "annotations": annotations}
        if artifact_type:
            manifest["artifactType"] = artifact_type
        return self.reg.push_manifest(manifest, MT_MANIFEST)


def listed(index, digest):
    found = [m for m in index["manifests"] if m.get("digest") == digest]
    if len(found) != 1:
        raise CheckFailed("%s listed %d times in %s"
                          % (digest, len(found), json.dumps(index)))
    return found[0]


def t_push_image(s):
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}})
    cdesc = dict(s.reg.push_blob(config.encode()), mediaType=MT_CONFIG)
    layer = dict(s.reg.push_blob(b"not really a tar, but a blob\n" * 50),
                 mediaType=MT_LAYER)
    s.image, _ = s.reg.push_manifest(
        {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cdesc,
         "layers": [layer]}, MT_MANIFEST, "1")
    s.empty = dict(s.reg.push_blob(b"{}"), mediaType=MT_EMPTY)
    expect("empty config digest", s.empty["digest"],
           "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61"
           "caaff8a")


def t_push_artifact(s):
    s.sbom, hdrs = s.artifact(SBOM, b'{"spdxVersion": "SPDX-2.3"}\n',
                              {"org.example.kind": "sbom"})
    expect("OCI-Subject header", hdrs.get("OCI-Subject"), s.image["digest"])
    status, _, body = s.reg.request(
        "GET", "/v2/%s/manifests/%s" % (REPO, s.sbom["digest"]),
        headers={"Accept": MT_MANIFEST})
    expect("GET artifact status", status, 200)
    expect("artifact round trip", digest_of(body), s.sbom["digest"])


def t_list(s):
    _, index = s.reg.referrers(s.image["digest"])
    desc = listed(index, s.sbom["digest"])
    expect("number of referrers", len(index["manifests"]), 1)
    expect("mediaType", desc.get("mediaType"), MT_MANIFEST)
    expect("size", desc.get("size"), s.sbom["size"])
    expect("artifactType", desc.get("artifactType"), SBOM)
    expect("annotations", desc.get("annotations"),
           {"org.example.kind": "sbom"})


def t_filter(s):
    s.signature, _ = s.artifact(SIGNATURE, b"signature bytes\n",
                                {"org.example.kind": "signature"})
    _, index = s.reg.referrers(s.image["digest"])
    expect("referrers listed", sorted(m["digest"] for m in index["manifests"]),
           sorted([s.sbom["digest"], s.signature["digest"]]))

    hdrs, index = s.reg.referrers(s.image["digest"], SBOM)
    expect("OCI-Filters-Applied", hdrs.get("OCI-Filters-Applied"),
           "artifactType")
    expect("filtered referrers", [m["digest"] for m in index["manifests"]],
           [s.sbom["digest"]])

    hdrs, index = s.reg.referrers(s.image["digest"], SIGNATURE)
    expect("filtered referrers", [m["digest"] for m in index["manifests"]],
           [s.signature["digest"]])

    _, index = s.reg.referrers(s.image["digest"],
                               "application/vnd.example.none")
    expect("referrers of an unused type", index["manifests"], [])


# An artifact without artifactType is typed by its config's media type.
def t_config_type(s):
    ctype = "application/vnd.example.config.v1+json"
    config = dict(s.reg.push_blob(b'{"tool": "example"}'), mediaType=ctype)
    s.typed, _ = s.artifact(None, b"typed by config\n", {}, config)
    _, index = s.reg.referrers(s.image["digest"])
    expect("artifactType from config",
           listed(index, s.typed["digest"]).get("artifactType"), ctype)


def t_index_subject(s):
    atype = "application/vnd.example.bundle"
    s.index, hdrs = s.reg.push_manifest(
        {"schemaVersion": 2, "mediaType": MT_INDEX, "artifactType": atype,
         "manifests": [s.sbom], "subject": s.image}, MT_INDEX)
    expect("OCI-Subject header", hdrs.get("OCI-Subject"), s.image["digest"])
    _, index = s.reg.referrers(s.image["digest"], atype)
    desc = listed(index, s.index["digest"])
    expect("mediaType", desc.get("mediaType"), MT_INDEX)
    expect("size", desc.get("size"), s.index["size"])


def t_unknown_subject(s):
    nobody = digest_of(b"a manifest nobody pushed")
    _, index = s.reg.referrers(nobody)
    expect("referrers of an unknown digest", index["manifests"], [])
    # The bundle index lists the sbom but refers to the image.
    _, index = s.reg.referrers(s.sbom["digest"])
    expect("referrers of the sbom", index["manifests"], [])


def t_delete(s):
    status, _, _ = s.reg.request(
        "DELETE", "/v2/%s/manifests/%s" % (REPO, s.signature["digest"]))
    expect("DELETE artifact status", status, 202)
    _, index = s.reg.referrers(s.image["digest"])
    digests = [m["digest"] for m in index["manifests"]]
    if s.signature["digest"] in digests:
        raise CheckFailed("deleted artifact still listed: %s" % digests)
    listed(index, s.sbom["digest"])


def t_bad_digest(s):
    status, _, body = s.reg.request("GET",
                                    "/v2/%s/referrers/sha256:xyz" % REPO)
    expect("referrers of a malformed digest", status, 400)
    errors = json.loads(body).get("errors")
    if not errors or not errors[0].get("code"):
        raise CheckFailed("no error code in %r" % body[:300])


CHECKS = [
    ("push-image", t_push_image),
    ("push-artifact", t_push_artifact),
    ("list", t_list),
    ("filter-artifacttype", t_filter),
    ("artifacttype-from-config", t_config_type),
    ("index-subject", t_index_subject),
    ("unknown-subject", t_unknown_subject),
    ("delete-artifact", t_delete),
    ("bad-digest", t_bad_digest),
]


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    if argv[1] == "--list":
        print("\n".join("referrers-" + name for name, _ in CHECKS))
        return 0
    s = Scenario(Registry(argv[1]))
    failed = 0
    for name, fn in CHECKS:
        try:
            fn(s)
            print("PASS clients:referrers-%s" % name)
        except Exception as err:  # any error fails this check only
            print("FAIL clients:referrers-%s" % name)
            print("  | %s: %s" % (type(err).__name__, err))
            failed += 1
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
