"""CORS over raw HTTP: preflights answered before any login, the headers
an allowed origin gets on real answers (401s included), none for other
origins, "*" without credentials, and registry:2's
REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin.  The same behaviour
in a real browser is tests/browser/cors.mjs.
"""

import berthtest as bt
from berthtest import check, expect, expect_header

import accesstest as at
from accesstest import As

UI = "https://ui.example"
OTHER = "https://evil.example"
USERS = {"una": "cors-user-pw"}

EXPOSED = ["Docker-Content-Digest", "WWW-Authenticate", "Location", "Link",
           "Range", "Docker-Upload-UUID", "OCI-Subject",
           "OCI-Filters-Applied"]
ALLOWED_REQUEST_HEADERS = ["Authorization", "Accept", "Content-Type",
                           "Content-Range", "Cache-Control"]


def words(value):
    return {w.strip().lower() for w in (value or "").split(",")
            if w.strip()}


def preflight(srv, origin, method, headers="authorization, accept"):
    return srv.request("OPTIONS", "/v2/lib/app/manifests/v1", headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers})


def check_preflight_allowed(r, origin, method, what):
    expect(r, (200, 204), what)
    expect_header(r, "Access-Control-Allow-Origin", origin, what)
    expect_header(r, "Access-Control-Allow-Credentials", "true", what)
    check(method.lower() in words(r.header(
            "Access-Control-Allow-Methods")),
          "%s: %s not in Allow-Methods %r" % (what, method, r.header(
                  "Access-Control-Allow-Methods")))
    allowed = words(r.header("Access-Control-Allow-Headers"))
    for h in ALLOWED_REQUEST_HEADERS:
        check(h.lower() in allowed, "%s: %s not in Allow-Headers %r" % (
                what, h, r.header("Access-Control-Allow-Headers")))
    age = r.header("Access-Control-Max-Age")
    check(age is not None and age.isdigit() and int(age) > 0,
          "%s: Access-Control-Max-Age %r" % (what, age))
    check("origin" in words(r.header("Vary")), "%s: no Vary: Origin" %
          what)


def check_no_cors(r, what):
    for name, _ in r.headers.items():
        check(not name.lower().startswith("access-control-allow-"),
              "%s: a disallowed origin got %s" % (what, name))


def check_real_answer(r, origin, what):
    expect_header(r, "Access-Control-Allow-Origin", origin, what)
    expect_header(r, "Access-Control-Allow-Credentials", "true", what)
    check("origin" in words(r.header("Vary")), "%s: no Vary: Origin" %
          what)
    exposed = words(r.header("Access-Control-Expose-Headers"))
    for h in EXPOSED:
        check(h.lower() in exposed, "%s: %s not exposed (%r)" % (
                what, h, r.header("Access-Control-Expose-Headers")))


def test_cors_preflight_before_login():
    srv = at.start_secured(USERS, http_extra="cors:\n  origins: [%s]" % UI)
    for method in ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"):
        check_preflight_allowed(preflight(srv, UI, method), UI, method,
                                "preflight for %s" % method)
    # The preflight needs no login, for the catalog and uploads too.
    r = srv.request("OPTIONS", "/v2/_catalog", headers={
            "Origin": UI, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
    check_preflight_allowed(r, UI, "GET", "catalog preflight")

    r = preflight(srv, OTHER, "GET")
    check_no_cors(r, "preflight from another origin")
    check(r.status != 401, "a preflight from another origin got 401")
    srv.stop()


def test_cors_real_answers():
    srv = at.start_secured(USERS, http_extra="cors:\n  origins: [%s]" % UI)
    una = As(srv, "una", USERS["una"])
    img = bt.make_image(1)
    bt.push_image(una, "lib/app", img, "v1")

    r = una.get(bt.manifest_path("lib/app", "v1"), headers={
            "Origin": UI, "Accept": bt.ACCEPT_ALL})
    expect(r, 200, "manifest GET from the UI")
    check_real_answer(r, UI, "manifest GET")

    r = srv.get("/v2/_catalog", headers={"Origin": UI})
    at.expect_challenge(r, "catalog without a login from the UI")
    check_real_answer(r, UI, "a 401 to the UI")

    r = una.get("/v2/_catalog", headers={"Origin": OTHER})
    expect(r, 200, "catalog from another origin")
    check_no_cors(r, "catalog from another origin")

    r = una.get("/v2/_catalog")
    check(r.header("Access-Control-Allow-Origin") is None,
          "CORS headers without an Origin")
    srv.stop()


def test_cors_wildcard_without_credentials():
    srv = at.start_secured(USERS, http_extra='cors:\n  origins: ["*"]')
    r = preflight(srv, OTHER, "GET")
    expect(r, (200, 204), "preflight with *")
    expect_header(r, "Access-Control-Allow-Origin", "*")
    check(r.header("Access-Control-Allow-Credentials") is None,
          "* with credentials allowed")
    r = As(srv, "una", USERS["una"]).get("/v2/", headers={"Origin": OTHER})
    expect_header(r, "Access-Control-Allow-Origin", "*")
    check(r.header("Access-Control-Allow-Credentials") is None,
          "* with credentials allowed on a real answer")
    srv.stop()


def test_cors_registry2_header_variable():
    srv = at.start_secured(USERS, env={
            "REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin":
            '["%s"]' % UI})
    check_preflight_allowed(preflight(srv, UI, "DELETE"), UI, "DELETE",
                            "preflight with the registry:2 variable")
    r = srv.get("/v2/", headers={"Origin": UI})
    check_real_answer(r, UI, "a 401 with the registry:2 variable")
    check(len(r.header_all("Access-Control-Allow-Origin")) == 1,
          "Access-Control-Allow-Origin sent twice")
    r = srv.get("/v2/", headers={"Origin": OTHER})
    check_no_cors(r, "another origin with the registry:2 variable")
    srv.stop()


def test_cors_no_origins_no_headers():
    srv = at.start_secured(USERS)
    r = preflight(srv, UI, "GET")
    check_no_cors(r, "preflight without any CORS configuration")
    r = As(srv, "una", USERS["una"]).get("/v2/", headers={"Origin": UI})
    expect(r, 200)
    check_no_cors(r, "answer without any CORS configuration")
    srv.stop()
