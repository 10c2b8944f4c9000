"""Every web page × every role, against the API's permission for the same operation.

WEB maps each route of the web client to the API operation it performs (a row of the API
permissions matrix) or to a rule of its own (public, any signed-in user). A route missing from WEB
fails the test, so a new page cannot be added without deciding who may use it. Each role signs in
through the real /login form and walks every route in the same world as the API matrix:

- a role the API allows must not get 403 (nor be sent back to /login);
- a role the API denies must get 403 or 404; a form post may instead answer with its page, but then
  it must have changed nothing: no audit event (every mutation is audited) and, for weightings, no
  new weighting and the same default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from app.main import API_PREFIX
from app.models import AuditEvent, Weighting
from tests.api.test_permissions import (
    MATRIX,
    ROLES,
    world,  # noqa: F401  (the API matrix's fixture, shared)
)
from tests.api.test_web_sessions import csrf_of, sign_in

NOT_WEB = ("/api/", "/docs", "/redoc", "/openapi.json", "/static", "/healthz", "/readyz")


@dataclass(frozen=True)
class Api:
    """The page performs this API operation; ``only`` narrows it on purpose (the admin pages)."""

    method: str
    path: str
    only: frozenset[str] | None = None
    form: dict = field(default_factory=dict)
    query: str = ""

    def allowed(self) -> set[str]:
        roles = set(MATRIX[(self.method, self.path)][0])
        return roles & self.only if self.only is not None else roles

    def __str__(self) -> str:
        return f"as {self.method} {self.path}" + (f", here {sorted(self.only)} only" if self.only else "")


@dataclass(frozen=True)
class Rule:
    """A page that is no API operation: ``roles`` may use it."""

    roles: frozenset[str]
    form: dict = field(default_factory=dict)
    query: str = ""

    def allowed(self) -> set[str]:
        return set(self.roles)

    def __str__(self) -> str:
        return "any signed-in user" if self.roles == SIGNED_IN else f"{sorted(self.roles)} only"


PUBLIC = "public"  # the sign-in form itself (used to sign in below) and the favicon
SIGNED_IN = frozenset(ROLES)
POINTS = {f"points_{p}": str(p) for p in range(1, 13)}

# In walking order: what changes the world comes last, as in the API matrix; signing out is last.
WEB: dict[tuple[str, str], Api | Rule | str] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/"): Rule(SIGNED_IN),
    ("GET", "/proposals"): Api("GET", "/proposals", query="cycle_id={cycle_id}"),
    # a blank form (or "no cycle is open"); posting it is the API's create
    ("GET", "/proposals/new"): Rule(SIGNED_IN, query="cycle_id={cycle_id}"),
    ("GET", "/proposals/{proposal_id}"): Api("GET", "/proposals/{proposal_id}"),
    ("GET", "/proposals/{proposal_id}/edit"): Api("GET", "/proposals/{proposal_id}"),
    # check your answers: a reader who may not submit it (or of a proposal no longer a draft) is sent to it
    ("GET", "/proposals/{proposal_id}/check"): Api("GET", "/proposals/{proposal_id}"),
    ("GET", "/proposals/{proposal_id}/score"): Api("GET", "/proposals/{proposal_id}/scorecard"),
    # Panels: the list (each role sees the panels the API lists for it), a new panel, and a panel's
    # management page (its chair or an admin)
    ("GET", "/panels"): Api("GET", "/cycles/{cycle_id}/panels", query="cycle_id={cycle_id}"),
    ("GET", "/panels/new"): Api("POST", "/cycles/{cycle_id}/panels", query="cycle_id={cycle_id}"),
    ("GET", "/panels/{panel_id}/manage"): Api("PATCH", "/cycles/{cycle_id}/panels/{panel_id}"),
    ("GET", "/panels/{panel_id}"): Api("GET", "/cycles/{cycle_id}/progress", query="sort=spread&flagged=1"),
    # one proposal's moderation page: its scorecards, for the panel's chair (or an admin) only
    ("GET", "/panels/{panel_id}/proposals/{proposal_id}"): Api(
        "GET", "/proposals/{proposal_id}/scorecards", only=frozenset({"admin", "chair"})
    ),
    ("GET", "/ranking"): Api("GET", "/cycles/{cycle_id}/ranking", query="cycle_id={cycle_id}"),
    ("GET", "/ranking.{fmt}"): Api("GET", "/cycles/{cycle_id}/ranking", query="cycle_id={cycle_id}"),
    ("GET", "/ranking/compare"): Api(
        "GET", "/cycles/{cycle_id}/ranking/compare", query="cycle_id={cycle_id}"
    ),
    ("GET", "/ranking/sensitivity"): Api(
        "GET", "/cycles/{cycle_id}/ranking/sensitivity", query="cycle_id={cycle_id}&samples=10"
    ),
    # the selection page's GET form answers what POST /cycles/{id}/selection answers (nothing is stored)
    ("GET", "/ranking/selection"): Api("POST", "/cycles/{cycle_id}/selection", query="cycle_id={cycle_id}"),
    ("GET", "/weightings"): Api("GET", "/cycles/{cycle_id}/weightings", query="cycle_id={cycle_id}"),
    ("GET", "/submissions"): Api("GET", "/cycles/{cycle_id}/submissions", query="cycle_id={cycle_id}"),
    ("GET", "/submissions/{submission_id}/download.{fmt}"): Api("GET", "/submissions/{submission_id}.{fmt}"),
    ("POST", "/submissions/{submission_id}/verify"): Api("GET", "/submissions/{submission_id}/verify"),
    ("GET", "/admin"): Api("GET", "/users"),
    ("GET", "/cycles"): Api("GET", "/cycles"),
    ("GET", "/cycles/new"): Api("POST", "/cycles"),
    ("GET", "/cycles/{cycle_id}"): Api("GET", "/cycles/{cycle_id}"),
    ("GET", "/cycles/{cycle_id}/edit"): Rule(frozenset({"admin", "chair"})),
    ("GET", "/cycles/{cycle_id}/status"): Api(
        "POST", "/cycles/{cycle_id}/transition", only=frozenset({"admin"})
    ),
    ("GET", "/admin/locks"): Api("GET", "/auth/locks"),
    # The admin's users pages; the import page and its templates are for whoever the import API allows
    ("GET", "/admin/users"): Api("GET", "/users"),
    ("GET", "/admin/users/new"): Api("POST", "/users"),
    ("GET", "/admin/users/{user_id}"): Api("GET", "/users/{user_id}"),
    ("GET", "/admin/users/{user_id}/deactivate"): Api("GET", "/users/{user_id}"),
    ("GET", "/admin/users/{user_id}/reactivate"): Api("GET", "/users/{user_id}"),
    ("GET", "/admin/import"): Api("POST", "/cycles/{cycle_id}/proposals/import", query="cycle_id={cycle_id}"),
    ("GET", "/admin/import/template.{fmt}"): Api(
        "POST", "/cycles/{cycle_id}/proposals/import", query="cycle_id={cycle_id}"
    ),
    ("GET", "/audit"): Api("GET", "/audit"),
    ("GET", "/audit.csv"): Api("GET", "/audit"),
    ("POST", "/proposals/new"): Api(
        "POST",
        "/proposals",
        form={
            "cycle_id": "{cycle_id}",
            "title": "Web walk {role}",
            "capability": "People",
            "kind": "efficiency",
            "lead": "L",
            "action": "submit",
        },
    ),
    ("POST", "/proposals/{proposal_id}/edit"): Api(
        "PATCH",
        "/proposals/{proposal_id}",
        form={
            "title": "Edited on the web",
            "capability": "People",
            "kind": "efficiency",
            "lead": "L",
            "version": "{proposal_version}",
        },
    ),
    ("POST", "/proposals/{proposal_id}/check"): Api(
        "PATCH", "/proposals/{proposal_id}", form={"version": "{proposal_version}"}
    ),
    ("POST", "/proposals/{proposal_id}/score"): Api(
        "PUT", "/proposals/{proposal_id}/scorecard", form={"score_1": "3", "action": "draft"}
    ),
    ("POST", "/weightings"): Api(
        "POST",
        "/cycles/{cycle_id}/weightings",
        form={
            "cycle_id": "{cycle_id}",
            "method": "points",
            "name": "Web {role}",
            "make_default": "on",
            **POINTS,
        },
    ),
    ("POST", "/weightings/{weighting_id}/default"): Api(
        "POST", "/cycles/{cycle_id}/weightings/{weighting_id}/default"
    ),
    ("POST", "/submissions"): Api(
        "POST",
        "/cycles/{cycle_id}/submissions",
        form={"cycle_id": "{cycle_id}", "title": "Web submission", "weighting_id": "{weighting_id}"},
    ),
    ("POST", "/panels/{panel_id}/moderate"): Api(
        "PUT",
        "/proposals/{proposal_id}/moderation",
        form={"proposal_id": "{proposal_id}", "mod_2": "3", "note_2": "Agreed on the web"},
    ),
    ("POST", "/panels/{panel_id}/reopen"): Api(
        "POST",
        "/proposals/{proposal_id}/scorecards/{scorecard_id}/reopen",
        form={"proposal_id": "{proposal_id}", "scorecard_id": "{scorecard_id}", "reason": "Look again"},
    ),
    ("POST", "/panels/new"): Api(
        "POST", "/cycles/{cycle_id}/panels", form={"cycle_id": "{cycle_id}", "name": "Web panel {role}"}
    ),
    ("POST", "/panels/{panel_id}/rename"): Api(
        "PATCH", "/cycles/{cycle_id}/panels/{panel_id}", form={"name": "Renamed on the web", "version": "1"}
    ),
    # the proposer (user_id) is no scorer and no member; proposal 999999 is on no panel: refused, unchanged
    ("POST", "/panels/{panel_id}/members"): Api(
        "PATCH", "/cycles/{cycle_id}/panels/{panel_id}", form={"add_member_ids": "{user_id}", "version": "1"}
    ),
    ("POST", "/panels/{panel_id}/members/remove"): Api(
        "PATCH", "/cycles/{cycle_id}/panels/{panel_id}", form={"user_id": "{user_id}", "version": "1"}
    ),
    ("POST", "/panels/{panel_id}/proposals"): Api(
        "PATCH", "/cycles/{cycle_id}/panels/{panel_id}", form={"add_proposal_ids": "999999", "version": "1"}
    ),
    ("POST", "/panels/{panel_id}/proposals/remove"): Api(
        "PATCH", "/cycles/{cycle_id}/panels/{panel_id}", form={"proposal_id": "999999", "version": "1"}
    ),
    # handing a panel to another chair: admins only (the proposer, user_id, is no chair: refused)
    ("POST", "/panels/{panel_id}/chair"): Api(
        "PATCH",
        "/cycles/{cycle_id}/panels/{panel_id}",
        only=frozenset({"admin"}),
        form={"chair_id": "{user_id}", "version": "1"},
    ),
    # recording another member's conflict from the panel's page: its chair or an admin
    ("POST", "/panels/{panel_id}/conflicts"): Api(
        "POST",
        "/proposals/{proposal_id}/conflicts",
        only=frozenset({"admin", "chair"}),
        form={
            "conflict_user_id": "{user_id}",
            "conflict_proposal_id": "{proposal_id}",
            "conflict_type": "other",
            "conflict_reason": "x",
        },
    ),
    ("POST", "/admin/users"): Api(
        "POST",
        "/users",
        form={
            "email": "web-{role}@example.org",
            "full_name": "Web",
            "password": "0123456789ab",
            "roles": "scorer",
        },
    ),
    ("POST", "/admin/locks/lift"): Api(
        "DELETE", "/auth/locks/{scope}/{key}", form={"scope": "account", "key": "nobody@example.org"}
    ),
    # Cycles: chairs and admins create and edit them (a chair only the name and prefix, as PATCH allows);
    # status changes on the web are for admins, through a confirmation page.
    ("POST", "/cycles/new"): Api(
        "POST",
        "/cycles",
        form={
            "name": "Web cycle {role}",
            "year_0": "2031-32",
            "budget_0": "1000.00",
            "scale_min": "0",
            "scale_max": "5",
            "not_applicable_policy": "minimum",
            "min_scorecards": "3",
            "disagreement_threshold": "2",
        },
    ),
    ("POST", "/cycles/{cycle_id}/edit"): Rule(
        frozenset({"admin", "chair"}), form={"name": "Renamed on the web {role}", "version": "1"}
    ),
    ("POST", "/proposals/{proposal_id}/withdraw"): Api(
        "POST", "/proposals/{proposal_id}/withdraw", form={"reason": "Withdrawn on the web"}
    ),
    ("POST", "/proposals/{proposal_id}/conflict"): Api(
        "POST", "/proposals/{proposal_id}/conflicts", form={"type": "other", "conflict_reason": "Web check"}
    ),
    ("POST", "/cycles/{cycle_id}/status"): Api(
        "POST", "/cycles/{cycle_id}/transition", only=frozenset({"admin"}), form={"to": "moderation"}
    ),
    # Each user's own account: the token rows are the admin's token, so another role gets 404 there.
    ("GET", "/account"): Rule(SIGNED_IN),
    ("GET", "/account/tokens/{token_id}/revoke"): Api("DELETE", "/users/me/tokens/{token_id}"),
    ("POST", "/account/password"): Api(
        "POST",
        "/users/me/password",
        form={"current_password": "not it", "new_password": "x", "confirm_password": "x"},
    ),
    ("POST", "/account/tokens"): Api("POST", "/users/me/tokens", form={"name": "web {role}"}),
    ("POST", "/account/tokens/{token_id}/revoke"): Api("DELETE", "/users/me/tokens/{token_id}"),
    # One's own second factor; the sign-in steps after the password need a pending sign-in, not a session.
    ("GET", "/login/mfa"): PUBLIC,
    ("POST", "/login/mfa"): PUBLIC,
    ("GET", "/login/mfa/enrol"): PUBLIC,
    ("POST", "/login/mfa/enrol"): PUBLIC,
    ("GET", "/account/mfa"): Api("GET", "/users/me/mfa"),
    ("POST", "/account/mfa/start"): Api("POST", "/users/me/mfa"),
    ("POST", "/account/mfa/confirm"): Api("POST", "/users/me/mfa/confirm", form={"code": "000000"}),
    ("POST", "/account/mfa/recovery-codes"): Api(
        "POST", "/users/me/mfa/recovery-codes", form={"code": "000000"}
    ),
    ("POST", "/account/mfa/disable"): Api("POST", "/users/me/mfa/disable", form={"code": "000000"}),
    ("GET", "/admin/mfa"): Rule(frozenset({"admin"})),
    ("POST", "/admin/mfa/{user_id}/reset"): Api("DELETE", "/users/{user_id}/mfa"),
    # user_id is the proposer: renamed, given a new password, signed out, deactivated and reactivated
    ("POST", "/admin/users/{user_id}"): Api(
        "PATCH",
        "/users/{user_id}",
        form={"full_name": "Renamed on the web", "roles": "proposer", "version": "1"},
    ),
    ("POST", "/admin/users/{user_id}/password"): Api(
        "PATCH", "/users/{user_id}", form={"password": "a new web passphrase"}
    ),
    ("POST", "/admin/users/{user_id}/sign-out"): Api("POST", "/users/{user_id}/sign-out"),
    ("POST", "/admin/users/{user_id}/deactivate"): Api("PATCH", "/users/{user_id}"),
    ("POST", "/admin/users/{user_id}/reactivate"): Api("PATCH", "/users/{user_id}"),
    # no file: the page answers with its field error, nothing stored
    ("POST", "/admin/import"): Api(
        "POST", "/cycles/{cycle_id}/proposals/import", form={"cycle_id": "{cycle_id}"}
    ),
    ("POST", "/logout"): Rule(SIGNED_IN),
}


def web_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route of the app outside the API, its docs, static files and health."""

    def walk(routes):
        for route in routes:
            inner = getattr(route, "effective_candidates", None)
            if inner is not None:
                yield from walk(inner())
            else:
                yield route

    out = set()
    for route in walk(app.routes):
        path = getattr(route, "path", None) or ""
        if not path or path.startswith(NOT_WEB):
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                out.add((method, path))
    return out


def test_table_names_every_web_route(app):
    routes = web_routes(app)
    assert routes, "no web routes found: the route walk no longer understands the router"
    assert routes - set(WEB) == set(), "add these web routes to WEB"
    assert set(WEB) - routes == set(), "these WEB rows name no route"
    for row in WEB.values():
        if isinstance(row, Api):
            assert (row.method, row.path) in MATRIX, f"{row} names no API operation"


def effects(db, cycle_id: int) -> tuple:
    """What a refused form post must leave as it was."""
    with db.unit_of_work(write=False) as s:
        return (
            s.scalar(select(func.count()).select_from(AuditEvent)),
            sorted(s.scalars(select(Weighting.id).where(Weighting.cycle_id == cycle_id))),
            s.scalar(select(Weighting.id).where(Weighting.cycle_id == cycle_id, Weighting.is_default)),
        )


@pytest.mark.parametrize("role", ROLES)
def test_every_web_route_for_a_role(request, app, client, db, role):
    actors, ids = request.getfixturevalue("world")
    admin = actors["admin"]
    alternative = client.post(
        f"{API_PREFIX}/cycles/{ids['cycle_id']}/weightings",
        headers=admin.headers,
        json={"name": "Not the default", "method": "direct", "weights": {"1": 1}},
    ).json()
    proposal = client.get(f"{API_PREFIX}/proposals/{ids['proposal_id']}", headers=admin.headers).json()
    values = {
        **ids,
        "weighting_id": alternative["id"],
        "proposal_version": proposal["version"],
        "role": role,
        "fmt": "csv",
    }
    assert sign_in(client, actors[role].email).status_code == 303
    csrf = csrf_of(client.get("/").text)
    routes = web_routes(app)
    wrong = []
    for (method, path), row in WEB.items():
        if row == PUBLIC:
            continue
        assert (method, path) in routes
        url = path.format(**values) + (f"?{row.query.format(**values)}" if row.query else "")
        before = effects(db, ids["cycle_id"])
        if method == "GET":
            r = client.get(url, follow_redirects=False)
        else:
            form = {k: v.format(**values) for k, v in row.form.items()}
            r = client.post(url, data={**form, "csrf_token": csrf}, follow_redirects=False)
        status, where = r.status_code, f"{method} {path}: {role}"
        if status >= 500:
            wrong.append(f"{where} got {status}")
        elif role in row.allowed():
            signed_out = status == 303 and r.headers["location"].startswith("/login") and path != "/logout"
            if status == 403 or signed_out:
                wrong.append(f"{where} is allowed ({row}) but got {status}")
        elif status not in (403, 404):
            changed = effects(db, ids["cycle_id"]) != before
            if method == "GET" or changed:
                wrong.append(f"{where} is denied ({row}) but got {status}{' and it took effect' * changed}")
    assert wrong == []
    # signed out: the session no longer opens a page
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
