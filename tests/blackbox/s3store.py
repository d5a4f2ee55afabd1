"""s3store - a small S3 client for the black-box suite's S3 mode.

When the suite runs berth on an S3 bucket, the tests that look at the
store (the layout registry:2 shares, a read-only store left unchanged,
purged upload sessions, a registry:2 store written by hand) read and
write the bucket's objects through this module instead of the
filesystem.  It signs requests with AWS Signature Version 4 using the
standard library only, uses path-style addressing and plain HTTP, and
refuses any endpoint that is not on loopback.

    b = Bucket.from_env()          # BERTH_S3_* or None when unset
    b.put("p/k", b"data"); b.get("p/k"); b.keys("p/"); b.delete("p/k")
"""

import datetime
import hashlib
import hmac
import http.client
import os
import urllib.parse
import xml.etree.ElementTree as ET

ENV_NAMES = ("BERTH_S3_ENDPOINT", "BERTH_S3_ACCESS", "BERTH_S3_SECRET",
             "BERTH_S3_BUCKET", "BERTH_S3_REGION")
LOOPBACK = ("127.0.0.1", "::1", "[::1]", "localhost")
TIMEOUT = 30


class S3Error(Exception):
    pass


def _quote(s, safe):
    return urllib.parse.quote(s, safe=safe)


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Bucket:
    """One bucket on one endpoint, with one key pair."""

    def __init__(self, endpoint, access, secret, bucket, region):
        u = urllib.parse.urlsplit(endpoint)
        if u.scheme != "http" or u.hostname not in LOOPBACK:
            raise S3Error("endpoint %r is not http on loopback" % endpoint)
        self.endpoint = endpoint
        self.host = u.hostname
        self.port = u.port or 80
        self.netloc = u.netloc
        self.access = access
        self.secret = secret
        self.bucket = bucket
        self.region = region

    @classmethod
    def from_env(cls, env=None):
        """The bucket BERTH_S3_* names, or None when the mode is off.

        Raises S3Error when only some of the variables are set.
        """
        env = os.environ if env is None else env
        vals = [env.get(n) for n in ENV_NAMES]
        if not any(vals):
            return None
        if not all(vals):
            missing = [n for n, v in zip(ENV_NAMES, vals) if not v]
            raise S3Error("S3 mode needs %s too" % ", ".join(missing))
        return cls(*vals)

    # -- signing

    def _sign(self, method, path, query, headers, payload_hash):
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        headers["host"] = self.netloc
        headers["x-amz-date"] = stamp
        headers["x-amz-content-sha256"] = payload_hash
        names = sorted(headers)
        canon_query = "&".join(
                "%s=%s" % (_quote(k, "-_.~"), _quote(v, "-_.~"))
                for k, v in sorted(query.items()))
        canon = "\n".join([
                method, path, canon_query,
                "".join("%s:%s\n" % (n, str(headers[n]).strip())
                        for n in names),
                ";".join(names), payload_hash])
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        to_sign = "\n".join([
                "AWS4-HMAC-SHA256", stamp, scope,
                hashlib.sha256(canon.encode()).hexdigest()])
        key = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = _hmac(key, part)
        sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
                "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                "Signature=%s" % (self.access, scope, ";".join(names), sig))

    def request(self, method, key=None, query=None, body=b""):
        """Sends one signed request; returns (status, headers, body)."""
        path = "/" + _quote(self.bucket, "-_.~")
        if key is not None:
            path += "/" + _quote(key, "-_.~/")
        query = dict(query or {})
        headers = {}
        self._sign(method, path, query, headers,
                   hashlib.sha256(body).hexdigest())
        target = path
        if query:
            target += "?" + urllib.parse.urlencode(
                    sorted(query.items()), quote_via=urllib.parse.quote)
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=TIMEOUT)
        try:
            conn.request(method, target, body=body or None,
                         headers=headers)
            r = conn.getresponse()
            return r.status, r.headers, r.read()
        finally:
            conn.close()

    # -- objects

    def get(self, key):
        """The object's bytes, or None when there is no such object."""
        st, _, body = self.request("GET", key)
        if st == 404:
            return None
        if st != 200:
            raise S3Error("GET %s: %d %s" % (key, st, body[:200]))
        return body

    def exists(self, key):
        """Whether there is an object at key."""
        st, _, _ = self.request("HEAD", key)
        if st not in (200, 404):
            raise S3Error("HEAD %s: %d" % (key, st))
        return st == 200

    def put(self, key, data):
        st, _, body = self.request("PUT", key, body=bytes(data))
        if st != 200:
            raise S3Error("PUT %s: %d %s" % (key, st, body[:200]))

    def delete(self, key):
        st, _, body = self.request("DELETE", key)
        if st not in (200, 204, 404):
            raise S3Error("DELETE %s: %d %s" % (key, st, body[:200]))

    def list(self, prefix):
        """{key: (size, etag)} for every object whose key starts so."""
        out = {}
        token = None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            st, _, body = self.request("GET", query=q)
            if st != 200:
                raise S3Error("list %r: %d %s" % (prefix, st, body[:200]))
            doc = ET.fromstring(body)
            ns = doc.tag[:doc.tag.index("}") + 1] if "}" in doc.tag else ""
            for c in doc.findall(ns + "Contents"):
                out[c.findtext(ns + "Key")] = (
                        int(c.findtext(ns + "Size") or 0),
                        c.findtext(ns + "ETag"))
            token = doc.findtext(ns + "NextContinuationToken")
            if doc.findtext(ns + "IsTruncated") != "true" or not token:
                return out

    def keys(self, prefix):
        """Sorted keys of the objects under prefix."""
        return sorted(self.list(prefix))
