"""Security headers on every kind of response, no-store on everything signed in, session ids that rotate
and end, the favicon, and no inline script or style anywhere in the pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.errors import PROBLEM_JSON
from app.main import API_PREFIX, create_app
from app.models import AuditEvent, User, WebSession
from app.web.charts import profile_bars, ranking_bars
from tests.api.test_web_sessions import csrf_of, sign_in
from tests.conftest import make_settings

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"

PAGE_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb")
# What these tests read does not depend on the database: one run, on SQLite.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def csp(response) -> dict[str, str]:
    out = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def assert_common(response, *, cacheable: bool = False) -> None:
    h = response.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin"
    assert h["cross-origin-opener-policy"] == "same-origin"
    policy = dict(p.strip().split("=", 1) for p in h["permissions-policy"].split(","))
    assert all(policy[f] == "()" for f in DENIED_FEATURES)
    assert "strict-transport-security" not in h  # not in production: served over plain http here
    if cacheable:
        assert "no-store" not in h.get("cache-control", "")
    else:
        assert h["cache-control"] == "no-store"


def assert_page_csp(response) -> None:
    got = csp(response)
    for name, value in PAGE_DIRECTIVES.items():
        assert got[name] == value, (name, got)
    assert not any("unsafe" in v or "*" in v or "http" in v for v in got.values()), got


def test_headers_on_a_page_an_api_call_errors_and_a_static_file(app, client, factory, admin):
    user = factory.user("proposer")
    assert sign_in(client, user.email).status_code == 303
    page = client.get("/proposals")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_common(page)
    assert_page_csp(page)

    api = client.get(f"{API_PREFIX}/principles", headers=admin.headers)
    assert api.status_code == 200 and api.headers["content-type"] == "application/json"
    assert_common(api)
    assert api.headers["content-security-policy"] == API_CSP

    missing_page = client.get("/nowhere")
    assert missing_page.status_code == 404 and missing_page.headers["content-type"].startswith("text/html")
    assert_common(missing_page)
    assert_page_csp(missing_page)

    missing = client.get(f"{API_PREFIX}/nowhere", headers=admin.headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON
    assert_common(missing)
    assert missing.headers["content-security-policy"] == API_CSP

    invalid = client.get(f"{API_PREFIX}/proposals", params={"limit": "many"}, headers=admin.headers)
    assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM_JSON
    assert_common(invalid)
    assert invalid.headers["content-security-policy"] == API_CSP

    unauthenticated = client.get(f"{API_PREFIX}/principles")
    assert unauthenticated.status_code == 401
    assert_common(unauthenticated)

    static = client.get("/static/app.css")
    assert static.status_code == 200 and static.headers["content-type"].startswith("text/css")
    assert_common(static, cacheable=True)
    assert static.headers["content-security-policy"] == API_CSP


@SQLITE_ONLY
def test_an_unexpected_error_gets_the_headers_too(app):
    @app.get("/api/v1/boom-for-headers")
    def boom():
        raise RuntimeError("internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom-for-headers")
    assert r.status_code == 500
    assert_common(r)
    assert r.headers["content-security-policy"] == API_CSP


@SQLITE_ONLY
def test_docs_pages_load_nothing_from_elsewhere_and_run_no_inline_script(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert_common(docs)
    policy = csp(docs)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:" and policy["frame-ancestors"] == "'none'"
    redoc = client.get("/redoc")
    assert redoc.status_code == 200
    assert csp(redoc)["script-src"] == "'self'" and csp(redoc)["frame-ancestors"] == "'none'"
    for html in (docs.text, redoc.text):
        assert "http://" not in html and "https://" not in html
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
        for url in re.findall(r'(?:src|href)="(/[^"]+)"', html):
            assert client.get(url).status_code == 200, url


def test_hsts_and_host_prefixed_cookie_in_production(database_url):
    settings = make_settings(database_url, environment="production")
    app = create_app(settings)
    try:
        with TestClient(app, base_url="https://testserver") as c:
            r = c.get("/healthz")
            assert r.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
            login = c.get("/login")
            form_cookie = [a.strip().lower() for a in login.headers["set-cookie"].split(";")]
            assert form_cookie[0].startswith("__host-serr_login_csrf=")
            assert "secure" in form_cookie and "path=/" in form_cookie
            from tests.conftest import Factory

            user = Factory(app.state.db, settings, c).user("proposer")
            r = sign_in(c, user.email)
            assert r.status_code == 303
            cookie = next(v for v in r.headers.get_list("set-cookie") if "serr_session" in v)
            attributes = [a.strip().lower() for a in cookie.split(";")]
            assert cookie.startswith("__Host-serr_session=")
            assert "secure" in attributes and "path=/" in attributes and "httponly" in attributes
            assert not any(a.startswith("domain") for a in attributes)
            assert c.get("/").status_code == 200  # the prefixed cookie is the one that is read
    finally:
        app.state.db.dispose()


def test_signed_in_responses_are_not_stored(client, factory, admin):
    """After signing out, nothing of what was shown can come back from a cache: every page was no-store."""
    cycle = factory.cycle(admin)
    proposal = factory.proposal(admin, cycle)
    login = client.get("/login")
    assert login.headers["cache-control"] == "no-store"
    user = factory.user("admin")
    sign_in(client, user.email)
    shown = [client.get(p) for p in ("/", "/proposals", f"/proposals/{proposal['id']}", "/admin")]
    assert [r.status_code for r in shown] == [200] * 4
    api = client.get(f"{API_PREFIX}/proposals/{proposal['id']}", headers=admin.headers)
    assert api.headers["cache-control"] == "no-store"
    r = client.post("/logout", data={"csrf_token": csrf_of(shown[0].text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["cache-control"] == "no-store"
    assert r.headers["clear-site-data"] == '"cache", "storage"'
    assert all(s.headers["cache-control"] == "no-store" for s in shown)
    again = client.get("/proposals", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_session_id_rotates_at_sign_in(client, factory, db):
    user = factory.user("scorer")
    assert sign_in(client, user.email).status_code == 303
    before = client.cookies.get("serr_session")
    assert sign_in(client, user.email).status_code == 303  # the old cookie is sent with this sign-in
    after = client.cookies.get("serr_session")
    assert before and after and before != after
    assert client.get("/", follow_redirects=False).status_code == 200
    with db.unit_of_work(write=False) as s:
        live = select(func.count()).select_from(WebSession).where(WebSession.user_id == user.id)
        assert s.scalar(live) == 1
    client.cookies.set("serr_session", before)  # the session from before the sign-in ended server-side
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_a_session_in_use_still_ends_at_its_absolute_lifetime(client, factory, db):
    user = factory.user("scorer")
    sign_in(client, user.email)
    with db.unit_of_work(write=False) as s:
        row = s.scalars(select(WebSession).where(WebSession.user_id == user.id)).one()
    assert row.expires_at - row.created_at == timedelta(hours=12)  # SERR_WEB_ABSOLUTE_HOURS's default
    assert client.get("/", follow_redirects=False).status_code == 200
    with db.unit_of_work() as s:  # twelve hours later, used a minute ago: still over
        s.execute(
            update(WebSession)
            .where(WebSession.id == row.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1), last_seen_at=datetime.now(UTC))
        )
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/&expired=1"
    with db.unit_of_work(write=False) as s:
        assert s.get(WebSession, row.id) is None  # ended server-side, not just refused


def test_sign_in_never_redirects_off_the_service(client, factory):
    user = factory.user("proposer")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        page = client.get("/login")
        r = client.post(
            "/login",
            data={
                "email": user.email,
                "password": "correct-horse-battery",
                "csrf_token": csrf_of(page.text),
                "next": target,
            },
            follow_redirects=False,
        )
        where = r.headers["location"]  # a path on this service (a backslash arrives percent-encoded)
        assert r.status_code == 303 and where.startswith("/"), target
        assert not where.startswith(("//", "/\\")), target


def test_fields_nobody_may_set_are_refused_not_ignored(client, factory, admin, db):
    """No mass assignment: a body naming a field the operation does not take is a 422 naming it."""
    user = factory.user("scorer")
    forged = ({"password_hash": "$argon2id$forged"}, {"id": 1}, {"is_active": True, "email": "x@example.org"})
    for body in forged:
        r = client.patch(f"{API_PREFIX}/users/{user.id}", headers=admin.headers, json=body)
        assert r.status_code == 422, body
        assert {e["loc"][-1] for e in r.json()["errors"]} & set(body) - {"is_active"}, r.json()
    cycle = factory.cycle(admin)
    fields = {"cycle_id": cycle["id"], "title": "A title", "capability": "C", "kind": "efficiency"}
    forged = {"proposer_id": admin.id, "version": 9}
    r = client.post(f"{API_PREFIX}/proposals", headers=admin.headers, json=fields | {"lead": "L"} | forged)
    assert r.status_code == 422 and {e["loc"][-1] for e in r.json()["errors"]} == {"proposer_id", "version"}
    with db.unit_of_work(write=False) as s:
        assert s.get(User, user.id).password_hash != "$argon2id$forged"


def test_password_field_and_stored_hash(client, factory, db):
    """A masked field that password managers fill (nothing blocks pasting); stored as argon2id only."""
    form = client.get("/login").text
    field = re.search(r"<input[^>]*name=\"password\"[^>]*>", form).group(0)
    assert 'type="password"' in field and 'autocomplete="current-password"' in field
    assert "onpaste" not in form.lower()
    user = factory.user("scorer")
    with db.unit_of_work(write=False) as s:
        stored = s.get(User, user.id).password_hash
    assert stored.startswith("$argon2id$") and "correct-horse-battery" not in stored


def _alive(client, cookie) -> bool:
    client.cookies.set("serr_session", cookie)
    return client.get("/", follow_redirects=False).status_code == 200


def _last_update_changes(db, user_id) -> dict:
    with db.unit_of_work(write=False) as s:
        return s.scalars(
            select(AuditEvent.changes)
            .where(AuditEvent.action == "user.updated", AuditEvent.entity_id == str(user_id))
            .order_by(AuditEvent.id.desc())
        ).first()


def test_role_change_and_deactivation_end_the_users_web_sessions(client, factory, admin, db):
    user = factory.user("scorer")
    sign_in(client, user.email)
    cookie = client.cookies.get("serr_session")
    url = f"{API_PREFIX}/users/{user.id}"
    r = client.patch(url, headers=admin.headers, json={"full_name": "Renamed"})
    assert r.status_code == 200 and _alive(client, cookie)  # not a privilege change: still signed in
    r = client.patch(url, headers=admin.headers, json={"roles": ["scorer", "chair"]})
    assert r.status_code == 200
    assert not _alive(client, cookie)
    assert _last_update_changes(db, user.id)["web_sessions_ended"] == 1
    client.cookies.clear()
    sign_in(client, user.email)
    cookie = client.cookies.get("serr_session")
    assert _alive(client, cookie)
    r = client.patch(url, headers=admin.headers, json={"is_active": False})
    assert r.status_code == 200 and not _alive(client, cookie)
    changes = _last_update_changes(db, user.id)
    assert changes["web_sessions_ended"] == 1 and changes["tokens_revoked"] == 1
    assert client.get(f"{API_PREFIX}/users/me", headers=user.headers).status_code == 401


def test_admin_ends_every_session_of_a_user(client, factory, admin, db):
    user = factory.user("finance")
    sign_in(client, user.email)
    cookie = client.cookies.get("serr_session")
    r = client.post(f"{API_PREFIX}/users/{user.id}/sign-out", headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"tokens_revoked": 1, "web_sessions_ended": 1}
    assert not _alive(client, cookie)
    assert client.get(f"{API_PREFIX}/users/me", headers=user.headers).status_code == 401
    with db.unit_of_work(write=False) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.signed_out")).one()
    assert event.actor_id == admin.id and event.entity_id == str(user.id) and event.outcome == "success"
    assert event.changes == {"tokens_revoked": 1, "web_sessions_ended": 1}
    own = client.post(f"{API_PREFIX}/users/{admin.id}/sign-out", headers=admin.headers)
    assert own.status_code == 422 and own.json()["errors"][0]["loc"] == ["path", "user_id"]
    assert client.get(f"{API_PREFIX}/users/me", headers=admin.headers).status_code == 200
    assert client.post(f"{API_PREFIX}/users/999999/sign-out", headers=admin.headers).status_code == 404


@pytest.mark.parametrize("via", ["web", "api"])
def test_sign_out_is_audited_with_its_outcome(client, factory, db, via):
    user = factory.user("finance")
    if via == "web":
        sign_in(client, user.email)
        home = client.get("/")
        assert client.post("/logout", data={"csrf_token": csrf_of(home.text)}).status_code == 200
        action = "auth.web_logout"
    else:
        assert client.post(f"{API_PREFIX}/auth/logout", headers=user.headers).status_code == 204
        action = "auth.logout"
    with db.unit_of_work(write=False) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == action)).one()
    assert event.actor_id == user.id and event.outcome == "success"
    assert event.client_address == "testclient"


def test_cross_origin_reads_only_from_the_configured_origins(database_url, client, admin):
    """No CORS at all by default; with SERR_CORS_ORIGINS, exactly those origins and never credentials."""
    r = client.get(f"{API_PREFIX}/principles", headers={**admin.headers, "Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    app = create_app(make_settings(database_url, cors_origins=["https://reports.example.org"]))
    try:
        with TestClient(app) as c:
            asked = {
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            }
            ok = c.options(
                f"{API_PREFIX}/principles", headers={"Origin": "https://reports.example.org", **asked}
            )
            assert ok.headers["access-control-allow-origin"] == "https://reports.example.org"
            assert "access-control-allow-credentials" not in ok.headers
            other = c.options(f"{API_PREFIX}/principles", headers={"Origin": "https://evil.example", **asked})
            assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    finally:
        app.state.db.dispose()


@SQLITE_ONLY
def test_no_trace_method_and_no_directory_listing(client):
    assert client.request("TRACE", "/").status_code == 405
    assert client.request("TRACE", f"{API_PREFIX}/principles").status_code == 405
    for folder in ("/static/", "/static/docs/", "/docs-assets/"):
        r = client.get(folder)
        assert r.status_code == 404 and "swagger" not in r.text.lower(), folder


@SQLITE_ONLY
def test_favicon(client):
    r = client.get("/favicon.ico", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg") and "style" not in icon.text
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/login").text


INLINE = [
    (re.compile(r"\sstyle\s*="), "a style attribute"),
    (re.compile(r"<style\b"), "a <style> element"),
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>"), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "an event-handler attribute"),
    (re.compile(r"javascript:", re.IGNORECASE), "a javascript: URL"),
]


def test_no_inline_script_or_style_in_templates_or_charts():
    """The pages' CSP refuses inline script and style: none may be written in the first place."""
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text()
        found += [f"{path.name}: {what}" for pattern, what in INLINE if pattern.search(text)]
    items = [
        {
            "proposal_id": i,
            "reference": f"R-{i}",
            "title": "T",
            "rank": i,
            "weighted_score": 80.0 - i,
            "rank_interval": {"low": 1, "high": 3},
        }
        for i in (1, 2, 3)
    ]
    walk = {"last_funded_position": 1, "skipped": [2]}
    svg = ranking_bars(items, {1}, walk) + profile_bars({"1": 3.0}, 0, 4, {1: "P"})
    found += [f"chart: {what}" for pattern, what in INLINE if pattern.search(svg)]
    assert found == []
