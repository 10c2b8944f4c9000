"""Every API capability meant for people has a page, and that page can be reached from the navigation.

Which operations are meant for people: those the finance, chair or admin roles may use, as the API's
permissions matrix (tests/api/test_permissions.py, itself held to the OpenAPI document) says; the public
sign-in counts too. Operations only scorers or proposers may use (a scorer's own scorecard) are left to
those roles' page tests.

Each such operation is either in PAGES, with the web page (a route template) that offers it, or in
API_ONLY with the reason it has no page. The tests fail when

- an operation meant for people is in neither list (or in both);
- a mapped page is not a registered web GET route;
- a mapped page cannot be reached by following links: each role signs in through the web's own login
  form on the demo database and follows same-origin GET links breadth-first from "/" (downloads and
  sign-out skipped, a few addresses per page template, a bounded walk), and some role allowed to use
  the operation must reach the page.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import compile_path

from app.demo import DEMO_PASSWORD, DEMO_USERS
from app.main import API_PREFIX, create_app
from tests.api.golden import load_demo_data
from tests.api.test_permissions import MATRIX, PUBLIC, ROLES
from tests.api.test_web_sessions import csrf_of
from tests.conftest import fresh_database, make_settings

FOR_PEOPLE = {"admin", "chair", "finance"}


def allowed(op: tuple[str, str]) -> set[str]:
    return set(ROLES) if op in PUBLIC else set(MATRIX[op][0])


def meant_for_people(op: tuple[str, str]) -> bool:
    return bool(allowed(op) & FOR_PEOPLE)


# API operation -> the web page that offers it.
PAGES: dict[tuple[str, str], str] = {
    # one's own account
    ("GET", "/users/me"): "/account",
    ("POST", "/users/me/password"): "/account",
    ("GET", "/users/me/tokens"): "/account",
    ("POST", "/users/me/tokens"): "/account",
    ("DELETE", "/users/me/tokens/{token_id}"): "/account/tokens/{token_id}/revoke",
    ("GET", "/users/me/allocation"): "/",
    ("GET", "/users/me/mfa"): "/account/mfa",
    ("POST", "/users/me/mfa"): "/account/mfa",
    ("POST", "/users/me/mfa/confirm"): "/account/mfa",
    ("POST", "/users/me/mfa/recovery-codes"): "/account/mfa",
    ("POST", "/users/me/mfa/disable"): "/account/mfa",
    # users, sign-in locks and second factors (admin)
    ("GET", "/users"): "/admin/users",
    ("POST", "/users"): "/admin/users/new",
    ("GET", "/users/{user_id}"): "/admin/users/{user_id}",
    ("PATCH", "/users/{user_id}"): "/admin/users/{user_id}",
    ("POST", "/users/{user_id}/sign-out"): "/admin/users/{user_id}",
    ("DELETE", "/users/{user_id}/mfa"): "/admin/mfa",
    ("GET", "/auth/locks"): "/admin/locks",
    ("DELETE", "/auth/locks/{scope}/{key}"): "/admin/locks",
    ("GET", "/audit"): "/audit",
    # the principles are listed with their text where weights are set
    ("GET", "/principles"): "/weightings",
    ("GET", "/principles/{number}"): "/weightings",
    # cycles
    ("GET", "/cycles"): "/cycles",
    ("POST", "/cycles"): "/cycles/new",
    ("GET", "/cycles/{cycle_id}"): "/cycles/{cycle_id}",
    ("PATCH", "/cycles/{cycle_id}"): "/cycles/{cycle_id}/edit",
    ("POST", "/cycles/{cycle_id}/transition"): "/cycles/{cycle_id}/status",
    # proposals
    ("GET", "/proposals"): "/proposals",
    ("POST", "/proposals"): "/proposals/new",
    ("GET", "/proposals/{proposal_id}"): "/proposals/{proposal_id}",
    ("PATCH", "/proposals/{proposal_id}"): "/proposals/{proposal_id}/edit",
    ("POST", "/proposals/{proposal_id}/withdraw"): "/proposals/{proposal_id}",
    ("POST", "/cycles/{cycle_id}/proposals/import"): "/admin/import",
    # panels, scoring and moderation
    ("GET", "/cycles/{cycle_id}/panels"): "/panels",
    ("POST", "/cycles/{cycle_id}/panels"): "/panels/new",
    ("GET", "/cycles/{cycle_id}/panels/{panel_id}"): "/panels/{panel_id}",
    ("PATCH", "/cycles/{cycle_id}/panels/{panel_id}"): "/panels/{panel_id}/manage",
    ("GET", "/cycles/{cycle_id}/progress"): "/panels/{panel_id}",
    ("GET", "/cycles/{cycle_id}/agreement"): "/panels/{panel_id}",
    ("GET", "/proposals/{proposal_id}/scorecards"): "/panels/{panel_id}/proposals/{proposal_id}",
    ("GET", "/proposals/{proposal_id}/moderation"): "/panels/{panel_id}/proposals/{proposal_id}",
    ("PUT", "/proposals/{proposal_id}/moderation"): "/panels/{panel_id}/proposals/{proposal_id}",
    (
        "POST",
        "/proposals/{proposal_id}/scorecards/{scorecard_id}/reopen",
    ): "/panels/{panel_id}/proposals/{proposal_id}",
    ("GET", "/proposals/{proposal_id}/conflicts"): "/panels/{panel_id}/manage",
    ("POST", "/proposals/{proposal_id}/conflicts"): "/panels/{panel_id}/manage",  # scorers: the score page
    # weightings, rankings and submissions
    ("GET", "/cycles/{cycle_id}/weightings"): "/weightings",
    ("GET", "/cycles/{cycle_id}/weightings/{weighting_id}"): "/weightings",
    ("POST", "/cycles/{cycle_id}/weightings"): "/weightings",
    ("POST", "/cycles/{cycle_id}/weightings/{weighting_id}/default"): "/weightings",
    ("GET", "/cycles/{cycle_id}/ranking"): "/ranking",
    ("GET", "/cycles/{cycle_id}/ranking/compare"): "/ranking/compare",
    ("GET", "/cycles/{cycle_id}/ranking/sensitivity"): "/ranking/sensitivity",
    ("POST", "/cycles/{cycle_id}/selection"): "/ranking/selection",
    ("GET", "/cycles/{cycle_id}/submissions"): "/submissions",
    ("POST", "/cycles/{cycle_id}/submissions"): "/submissions",
    ("GET", "/submissions/{submission_id}/verify"): "/submissions",
    ("GET", "/submissions/{submission_id}.{fmt}"): "/submissions",  # its download links
}

# Operations people do not need a page for, and why. Keep this list short.
API_ONLY: dict[tuple[str, str], str] = {
    # The API's own sign-in and sign-out of a bearer token; the web signs in and out with its session.
    ("POST", "/auth/token"): "token sign-in is the API's own; people sign in at /login",
    (
        "POST",
        "/auth/logout",
    ): "revokes the bearer token it is called with; the web's Sign out ends the session",
    # Many scorecards in one request: for scripts; the score page saves one scorecard at a time.
    ("POST", "/scorecards/batch"): "the batch scorecard endpoint is for scripts",
    # The whole frozen document (every input, for archiving and recomputing elsewhere); people read a
    # submission as its downloads and check it with Verify on /submissions.
    ("GET", "/submissions/{submission_id}"): "the frozen JSON document is for archives and scripts",
}

# Pages still being built: the operation's case fails until its page exists (strict: it must then pass).
NOT_YET: dict[str, str] = {}

SKIP_PREFIXES = ("/static", "/api/", "/docs", "/redoc", "/openapi.json", "/login", "/logout", "/favicon")
DOWNLOAD = re.compile(r"\.(csv|xlsx|pdf|json)$|/download")
PER_TEMPLATE = 3  # addresses visited per page template (the pages of 40 proposals look alike)
MOST = 250  # pages one role's walk may visit


def people_operations() -> list[tuple[str, str]]:
    return sorted(op for op in (*MATRIX, *PUBLIC) if meant_for_people(op))


def web_get_routes(app) -> list[tuple[str, re.Pattern]]:
    """(template, pattern) of every web GET page, in the order the router tries them."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path
        if "GET" in (ctx.methods or ()) and not path.startswith(SKIP_PREFIXES[1:]):
            out.append((path, compile_path(path)[0]))
    return out


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href") and "download" not in a:
            self.hrefs.append(a["href"])


def links_of(page: str) -> list[str]:
    parser = Links()
    parser.feed(page)
    return parser.hrefs


def walk(app, email: str) -> dict[str, str]:
    """Sign in as ``email`` through /login, then follow links from "/": {page template: first address}."""
    routes = web_get_routes(app)
    with TestClient(app, raise_server_exceptions=False) as c:
        form = c.get("/login")
        r = c.post(
            "/login",
            data={"email": email, "password": DEMO_PASSWORD, "csrf_token": csrf_of(form.text), "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303, f"{email} could not sign in: {r.status_code}"
        reached: dict[str, str] = {}
        tried: dict[str, int] = {}
        queue, seen, visits = deque(["/"]), {"/"}, 0
        while queue and visits < MOST:
            url = queue.popleft()
            path = urlsplit(url).path
            template = next((t for t, pattern in routes if pattern.match(path)), None)
            if template is None or tried.get(template, 0) >= PER_TEMPLATE:
                continue
            tried[template] = tried.get(template, 0) + 1
            visits += 1
            r = c.get(url, follow_redirects=False)
            found = []
            if r.is_redirect:
                found = [r.headers["location"]]
            elif r.status_code == 200 and r.headers.get("content-type", "").startswith("text/html"):
                reached.setdefault(template, url)
                found = links_of(r.text)
            for href in found:
                target = urlsplit(urljoin("http://testserver" + url, href))
                if target.netloc != "testserver" or target.path.startswith(SKIP_PREFIXES):
                    continue
                if DOWNLOAD.search(target.path):
                    continue
                nxt = target.path + (f"?{target.query}" if target.query else "")
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return reached


@pytest.fixture(scope="module")
def site(request, tmp_path_factory):
    """The app on the demo database, its web GET page templates, and what each role's walk reached."""
    with fresh_database(request, "sqlite", tmp_path_factory.mktemp("coverage")) as url:
        settings = make_settings(url)
        app = create_app(settings)
        try:
            load_demo_data(app.state.db, settings)
            with TestClient(app) as api:  # a personal token of the admin's, so /account offers Revoke
                login = {"username": "admin@example.org", "password": DEMO_PASSWORD}
                bearer = api.post(f"{API_PREFIX}/auth/token", data=login).json()["access_token"]
                r = api.post(
                    f"{API_PREFIX}/users/me/tokens",
                    json={"name": "nightly"},
                    headers={"Authorization": f"Bearer {bearer}"},
                )
                assert r.status_code == 201, r.text
            emails = {roles[0]: f"{handle}@example.org" for handle, _, roles in DEMO_USERS}
            reached = {role: walk(app, emails[role]) for role in ROLES}
            yield {"app": app, "pages": {t for t, _ in web_get_routes(app)}, "reached": reached}
        finally:
            app.state.db.dispose()


def test_every_operation_meant_for_people_is_decided(site):
    ops = set()
    for path, methods in site["app"].openapi()["paths"].items():
        if path.startswith(API_PREFIX):
            ops |= {(m.upper(), path[len(API_PREFIX) :]) for m in methods}
    people = {op for op in ops if meant_for_people(op)}
    assert people == set(people_operations()), "the permissions matrix and the OpenAPI document differ"
    assert people - set(PAGES) - set(API_ONLY) == set(), (
        "give these operations a page in PAGES, or a reason in API_ONLY"
    )
    assert set(PAGES) & set(API_ONLY) == set(), "an operation is either offered by a page or API-only"
    assert set(PAGES) | set(API_ONLY) <= people, "these rows name no operation meant for people"


def test_the_walk_reaches_the_main_pages(site):
    """The walk itself works: each role reaches its home page and the admin the admin pages."""
    for role in ROLES:
        assert "/" in site["reached"][role], role
    assert {"/admin", "/audit", "/proposals", "/ranking"} <= set(site["reached"]["admin"])


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(op, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[PAGES[op]]))
        if PAGES.get(op) in NOT_YET
        else op
        for op in people_operations()
        if op in PAGES
    ],
    ids=lambda op: f"{op[0]} {op[1]}",
)
def test_the_page_for_an_operation_exists_and_is_reached(site, op):
    page = PAGES[op]
    assert page in site["pages"], f"{page} (for {op[0]} {op[1]}) is not a web GET route"
    users = allowed(op)
    by = sorted(role for role in users if page in site["reached"][role])
    assert by, f"no role allowed to {op[0]} {op[1]} ({sorted(users)}) reaches {page} by following links"
