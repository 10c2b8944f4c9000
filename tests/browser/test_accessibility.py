"""Every page of the web client, as every role that may see it, in a real browser.

- axe-core (the copy inside axe-playwright-python, so nothing is fetched) checks each page against the
  WCAG 2.0, 2.1 and 2.2 rules of levels A and AA, at 1280 and at 375 px wide, and finds no violation;
  the main forms are also submitted empty, and their error state is checked the same way.
- At 320 px wide no page is wider than the viewport (WCAG 1.4.10 Reflow: no sideways scrolling).
- PAGES names every GET page of the web client: a page added without a row here fails
  test_every_web_page_is_visited, naming it.

One browser context per role and width: the role signs in once and walks its pages; the 375 px walk
narrows each page to 320 px for the reflow check, so a page is loaded twice in all, not three times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pyotp
import pytest

from tests.browser.conftest import AXE_SCRIPT, PASSWORD, axe_violations, sign_in

ROLES = ("admin", "chair", "scorer", "finance", "proposer")
SIGNED_OUT = "signed-out"
ANY = frozenset(ROLES)
STAFF = frozenset({"admin", "chair", "finance"})  # the finance pages: weightings, submissions, analysis
MFA_EMAIL = "a11y-mfa@example.org"
ENROL_EMAIL = "a11y-enrol@example.org"  # a proposer without a second factor: the enrolment page's user


@dataclass(frozen=True)
class Page:
    """A page of the web client: its route, the address visited (from the seed, for a role) and who sees it.

    ``status`` is what the page answers (an error page is a page too); ``prepare`` runs before the visit
    (for a page that needs a state, such as a sign-in waiting for its second factor)."""

    route: str
    url: Callable[[dict, str], str]
    roles: frozenset[str]
    status: int = 200
    prepare: Callable[..., None] | None = None


@dataclass(frozen=True)
class EmptyForm:
    """A form submitted with nothing filled in: its page shows the error summary and the fields' errors."""

    url: Callable[[dict, str], str]
    button: str
    roles: frozenset[str]


def _mfa_pending(page, live: dict) -> None:
    """Sign in with the password of a user who has a second factor: the sign-in waits for the code."""
    page.goto(f"{live['base']}/login")
    page.get_by_label("Email address").fill(MFA_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live['base']}/login/mfa")


def _mfa_enrol_served(page, live: dict) -> None:
    """/login/mfa/enrol shows only while signing in with a role that needs a second factor, and no role needs
    one under the live server's settings: the page is rendered by the same code over the same database, in an
    app whose settings make proposers need one, and served to the browser at its own address."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(live["database_url"], mfa_required_roles=["proposer"]))
    try:
        with TestClient(app) as client:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            r = client.post(
                "/login",
                data={"email": ENROL_EMAIL, "password": PASSWORD, "csrf_token": csrf, "next": "/"},
                follow_redirects=False,
            )
            assert r.headers.get("location") == "/login/mfa/enrol", (r.status_code, r.headers)
            enrol = client.get("/login/mfa/enrol")
            assert enrol.status_code == 200 and "Set up your second factor" in enrol.text
    finally:
        app.state.db.dispose()
    page.route(
        f"{live['base']}/login/mfa/enrol",
        lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=enrol.text),
    )


def own_proposal(live: dict, role: str) -> int:
    """The proposer's own draft; any other role looks at the seed's first proposal."""
    return live["own_proposal_id"] if role == "proposer" else live["proposal_ids"][0]


PAGES: list[Page] = [
    Page("/login", lambda live, role: "/login", frozenset({SIGNED_OUT})),
    Page("/login/mfa", lambda live, role: "/login/mfa", frozenset({SIGNED_OUT}), prepare=_mfa_pending),
    Page(
        "/login/mfa/enrol",
        lambda live, role: "/login/mfa/enrol",
        frozenset({SIGNED_OUT}),
        prepare=_mfa_enrol_served,
    ),
    Page("/", lambda live, role: "/", ANY),
    # My work filtered: the filter's chosen values, the "Showing n of m" line and the shorter list
    Page("/", lambda live, role: "/?status=to_do&q=B-", frozenset({"scorer"})),
    Page("/proposals", lambda live, role: f"/proposals?cycle_id={live['cycle_id']}", ANY),
    Page("/proposals/new", lambda live, role: f"/proposals/new?cycle_id={live['open_cycle_id']}", ANY),
    Page("/proposals/{proposal_id}", lambda live, role: f"/proposals/{own_proposal(live, role)}", ANY),
    # the page a missing proposal answers: the error page
    Page("/proposals/{proposal_id}", lambda live, role: "/proposals/999999", ANY, status=404),
    Page(
        "/proposals/{proposal_id}/edit",
        lambda live, role: f"/proposals/{own_proposal(live, role)}/edit",
        frozenset({"admin", "proposer"}),
    ),
    # check your answers before a draft is submitted: the proposer's own draft
    Page(
        "/proposals/{proposal_id}/check",
        lambda live, role: f"/proposals/{live['own_proposal_id']}/check",
        frozenset({"proposer"}),
    ),
    Page(
        "/proposals/{proposal_id}/score",
        lambda live, role: f"/proposals/{live['proposal_ids'][1]}/score",
        frozenset({"scorer"}),
    ),
    Page(
        "/panels/{panel_id}", lambda live, role: f"/panels/{live['panel_id']}", frozenset({"admin", "chair"})
    ),
    # one proposal's moderation page: B-3, whose two scorecards disagree on every principle
    Page(
        "/panels/{panel_id}/proposals/{proposal_id}",
        lambda live, role: f"/panels/{live['panel_id']}/proposals/{live['proposal_ids'][2]}",
        frozenset({"admin", "chair"}),
    ),
    Page("/panels", lambda live, role: f"/panels?cycle_id={live['cycle_id']}", ANY),
    Page(
        "/panels/new",
        lambda live, role: f"/panels/new?cycle_id={live['open_cycle_id']}",
        frozenset({"admin", "chair"}),
    ),
    Page(
        "/panels/{panel_id}/manage",
        lambda live, role: f"/panels/{live['panel_id']}/manage",
        frozenset({"admin", "chair"}),
    ),
    # scorers see the ranking only from the statuses in SERR_SCORERS_SEE_RANKINGS_FROM (closed, by default)
    Page("/ranking", lambda live, role: f"/ranking?cycle_id={live['cycle_id']}", STAFF),
    Page("/ranking/compare", lambda live, role: f"/ranking/compare?cycle_id={live['cycle_id']}", STAFF),
    Page(
        "/ranking/sensitivity",
        lambda live, role: f"/ranking/sensitivity?cycle_id={live['cycle_id']}&samples=50",
        STAFF,
    ),
    # a GET form's error state: too few samples, the error beside the field (422)
    Page(
        "/ranking/sensitivity",
        lambda live, role: f"/ranking/sensitivity?cycle_id={live['cycle_id']}&samples=5",
        frozenset({"finance"}),
        status=422,
    ),
    Page("/ranking/selection", lambda live, role: f"/ranking/selection?cycle_id={live['cycle_id']}", STAFF),
    Page("/weightings", lambda live, role: f"/weightings?cycle_id={live['cycle_id']}", STAFF),
    Page("/submissions", lambda live, role: f"/submissions?cycle_id={live['cycle_id']}", STAFF),
    Page("/admin", lambda live, role: "/admin", frozenset({"admin"})),
    Page("/admin/locks", lambda live, role: "/admin/locks", frozenset({"admin"})),
    Page("/admin/mfa", lambda live, role: "/admin/mfa", frozenset({"admin"})),
    Page("/audit", lambda live, role: "/audit", frozenset({"admin"})),
    Page("/admin/users", lambda live, role: "/admin/users", frozenset({"admin"})),
    Page("/admin/users/new", lambda live, role: "/admin/users/new", frozenset({"admin"})),
    Page(
        "/admin/users/{user_id}",
        lambda live, role: f"/admin/users/{live['mfa_user_id']}",
        frozenset({"admin"}),
    ),
    Page(
        "/admin/users/{user_id}/deactivate",
        lambda live, role: f"/admin/users/{live['mfa_user_id']}/deactivate",
        frozenset({"admin"}),
    ),
    Page(
        "/admin/users/{user_id}/reactivate",
        lambda live, role: f"/admin/users/{live['inactive_user_id']}/reactivate",
        frozenset({"admin"}),
    ),
    Page(
        "/admin/import",
        lambda live, role: f"/admin/import?cycle_id={live['open_cycle_id']}",
        frozenset({"admin", "chair"}),
    ),
    Page("/cycles", lambda live, role: "/cycles", ANY),
    Page("/cycles/new", lambda live, role: "/cycles/new", frozenset({"admin", "chair"})),
    Page("/cycles/{cycle_id}", lambda live, role: f"/cycles/{live['cycle_id']}", ANY),
    Page(
        "/cycles/{cycle_id}/edit",
        lambda live, role: f"/cycles/{live['open_cycle_id']}/edit",
        frozenset({"admin", "chair"}),
    ),
    Page(
        "/cycles/{cycle_id}/status",
        lambda live, role: f"/cycles/{live['cycle_id']}/status",
        frozenset({"admin"}),
    ),
    Page("/account", lambda live, role: "/account", ANY),
    Page("/account/mfa", lambda live, role: "/account/mfa", ANY),
    Page(
        "/account/tokens/{token_id}/revoke",
        lambda live, role: f"/account/tokens/{live['tokens'][role]}/revoke",
        ANY,
    ),
]

# GET routes that are no page to check, and why.
EXEMPT = {
    # the icon: a redirect to /static/favicon.svg
    "/favicon.ico",
}
DOWNLOAD = re.compile(r"\.(csv|xlsx|pdf|json|\{fmt\})$")

# The main forms, each submitted empty by one role that uses it (the form is the same for every role).
EMPTY_FORMS: list[EmptyForm] = [
    EmptyForm(lambda live, role: "/login", "Sign in", frozenset({SIGNED_OUT})),
    EmptyForm(
        lambda live, role: f"/proposals/new?cycle_id={live['open_cycle_id']}",
        "Save draft",  # the first button: saving with no title is the error (submit is a later step)
        frozenset({"proposer"}),
    ),
    EmptyForm(
        lambda live, role: f"/proposals/{live['proposal_ids'][1]}/score",
        "Submit scorecard",
        frozenset({"scorer"}),
    ),
    EmptyForm(lambda live, role: "/account", "Change password", frozenset({"finance"})),
    EmptyForm(lambda live, role: "/account", "Create token", frozenset({"scorer"})),
    EmptyForm(lambda live, role: "/cycles/new", "Create cycle", frozenset({"admin"})),
    EmptyForm(lambda live, role: "/admin/users/new", "Create user", frozenset({"admin"})),
    EmptyForm(
        lambda live, role: f"/panels/new?cycle_id={live['open_cycle_id']}",
        "Create panel",
        frozenset({"chair"}),
    ),
    EmptyForm(
        lambda live, role: f"/weightings?cycle_id={live['cycle_id']}",
        "Create weighting",
        frozenset({"chair"}),
    ),
]


def _api_token(base: str, email: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def live(live_server) -> dict:
    """The seed, and what these pages need besides: a personal token of each role's (for its revoke page),
    the proposer's own draft, a user with a second factor (for the code page at sign-in), a proposer without
    one (for the page that sets one up at sign-in) and a deactivated user (for the reactivate page)."""
    base = live_server["base"]
    headers = {r: {"Authorization": f"Bearer {_api_token(base, f'{r}@example.org')}"} for r in ROLES}
    tokens = {}
    for role in ROLES:
        r = httpx.post(f"{base}/api/v1/users/me/tokens", headers=headers[role], json={"name": "a11y"})
        assert r.status_code == 201, r.text
        tokens[role] = r.json()["id"]
    r = httpx.post(
        f"{base}/api/v1/proposals",
        headers=headers["proposer"],
        json={
            "cycle_id": live_server["open_cycle_id"],
            "title": "Shared interview suites",
            "capability": "Custody",
            "kind": "efficiency",
            "lead": "Insp Okafor",
            "summary": "Four suites shared by two forces.",
            "financials": [{"year": "2025-26", "cost": "120000.00", "saving": "40000.00"}],
            "status": "draft",
        },
    )
    assert r.status_code == 201, r.text
    own_proposal_id = r.json()["id"]
    r = httpx.post(
        f"{base}/api/v1/users",
        headers=headers["admin"],
        json={"email": MFA_EMAIL, "full_name": "Second Factor", "password": PASSWORD, "roles": ["scorer"]},
    )
    assert r.status_code == 201, r.text
    mfa = {"Authorization": f"Bearer {_api_token(base, MFA_EMAIL)}"}
    secret = httpx.post(f"{base}/api/v1/users/me/mfa", headers=mfa).json()["secret"]
    r = httpx.post(
        f"{base}/api/v1/users/me/mfa/confirm", headers=mfa, json={"code": pyotp.TOTP(secret).now()}
    )
    assert r.status_code == 200, r.text
    mfa_user_id = httpx.get(f"{base}/api/v1/users/me", headers=mfa).json()["id"]
    r = httpx.post(
        f"{base}/api/v1/users",
        headers=headers["admin"],
        json={
            "email": "a11y-gone@example.org",
            "full_name": "Moved On",
            "password": PASSWORD,
            "roles": ["chair"],
        },
    )
    assert r.status_code == 201, r.text
    inactive_user_id = r.json()["id"]
    r = httpx.post(
        f"{base}/api/v1/users",
        headers=headers["admin"],
        json={"email": ENROL_EMAIL, "full_name": "Enrol Now", "password": PASSWORD, "roles": ["proposer"]},
    )
    assert r.status_code == 201, r.text
    r = httpx.patch(
        f"{base}/api/v1/users/{inactive_user_id}", headers=headers["admin"], json={"is_active": False}
    )
    assert r.status_code == 200, r.text
    return {
        **live_server,
        "tokens": tokens,
        "own_proposal_id": own_proposal_id,
        "mfa_user_id": mfa_user_id,
        "inactive_user_id": inactive_user_id,
    }


def walk(browser, live: dict, role: str, width: int, check: Callable[[object, str], list[str]]) -> list[str]:
    """Sign ``role`` in once, visit each of its pages and empty forms at ``width``; what ``check`` found."""
    base = live["base"]
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_init_script(AXE_SCRIPT)  # into each page as it loads, outside the page's CSP
    page = context.new_page()
    page.set_default_timeout(15_000)
    found: list[str] = []
    try:
        if role != SIGNED_OUT:
            sign_in(page, base, role)
        for row in PAGES:
            if role not in row.roles:
                continue
            if row.prepare:
                row.prepare(page, live)
            url = row.url(live, role)
            response = page.goto(f"{base}{url}")
            where = f"{role} {width}px GET {url}"
            if response is None or response.status != row.status:
                found.append(f"{where}: answered {response and response.status}, not {row.status}")
                continue
            found.extend(check(page, where))
        for form in EMPTY_FORMS:
            if role not in form.roles:
                continue
            url = form.url(live, role)
            page.goto(f"{base}{url}")
            page.get_by_role("button", name=form.button, exact=True).first.click()
            page.locator(".error-summary").wait_for()
            page.wait_for_load_state("load")  # its stylesheet applied, as a person sees it, before axe looks
            found.extend(check(page, f"{role} {width}px {url} submitted empty ({form.button})"))
    finally:
        context.close()
    return found


def wider_than_viewport(page, where: str) -> list[str]:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    return [f"{where}: {widths[0]} px wide in a {widths[1]} px viewport"] if widths[0] > widths[1] else []


def narrow(page, where: str) -> list[str]:
    """axe at 375 px, then the same page at 320 px must not scroll sideways."""
    found = axe_violations(page, where)
    page.set_viewport_size({"width": 320, "height": 900})
    found.extend(wider_than_viewport(page, where.replace("375px", "320px")))
    page.set_viewport_size({"width": 375, "height": 900})
    return found


@pytest.mark.parametrize("role", (*ROLES, SIGNED_OUT))
def test_every_page_at_1280px(browser, live, role):
    violations = walk(browser, live, role, 1280, axe_violations)
    assert violations == [], "\n".join(violations)


@pytest.mark.parametrize("role", (*ROLES, SIGNED_OUT))
def test_every_page_at_375px_and_no_page_wider_than_320px(browser, live, role):
    """One walk for both narrow widths: the page is loaded once and the viewport narrowed."""
    found = walk(browser, live, role, 375, narrow)
    assert found == [], "\n".join(found)


def test_every_web_page_is_visited(tmp_path):
    from app.main import create_app
    from tests.api.test_web_permissions import web_routes
    from tests.conftest import make_settings

    app = create_app(make_settings(f"sqlite:///{tmp_path}/routes.db"))
    pages = {path for method, path in web_routes(app) if method == "GET" and not DOWNLOAD.search(path)}
    visited = {row.route for row in PAGES}
    assert pages - visited - EXEMPT == set(), "add these pages to PAGES"
    assert (visited | EXEMPT) - pages == set(), "these rows name no page of the web client"
    for role in (*ROLES, SIGNED_OUT):
        assert any(role in row.roles for row in PAGES), f"{role} visits no page"
    app.state.db.dispose()


def test_screenshots_index_names_files_that_exist():
    """screenshots/README.md names each picture under its folder's heading: every one it names is there."""
    from tests.browser.conftest import SCREENSHOTS

    folder, missing, named = None, [], 0
    for line in (SCREENSHOTS / "README.md").read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"## (\w+)/", line):
            folder = SCREENSHOTS / heading.group(1)
        elif folder is not None and line.startswith("| `"):
            for name in re.findall(r"`([\w.-]+\.png)`", line.split(" | ")[0]):
                named += 1
                if not (folder / name).is_file():
                    missing.append(f"{folder.name}/{name}")
    assert named > 0 and missing == [], missing
