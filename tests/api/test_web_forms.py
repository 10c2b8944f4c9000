"""Web forms and page addresses: malformed values in any field give the page back with a field error,
or a plain 4xx page for fields a person never types; never a server error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pyotp
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"
MALFORMED = ["", "abc", "²", "-1", "1e3", "99999999999999999999", " 7 ", "7.5"]
HUGE = "99999999999999999999"


@dataclass
class Form:
    action: str
    fields: dict[str, str | None] = field(default_factory=dict)  # name -> default (None: not sent)


class Forms(HTMLParser):
    """Every POST form of a page with its fields and the values the page would send."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def _set(self, name: str, value: str | None, *, first_wins: bool = False) -> None:
        if first_wins and self._form.fields.get(name) is not None:
            return
        self._form.fields[name] = value

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = Form(a["action"])
            self.forms.append(self._form)
            return
        name = a.get("name")
        if self._form is None or not name:
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                value = (a.get("value") or "on") if "checked" in a else None
                self._set(name, value, first_wins=True)
            else:
                self._set(name, a.get("value") or "")
        elif tag == "button":
            self._set(name, a.get("value") or "", first_wins=True)
        elif tag == "select":
            self._select = name
            self._set(name, None)
        elif tag == "option" and self._select:
            if self._form.fields.get(self._select) is None or "selected" in a:
                self._form.fields[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = name
            self._set(name, "")

    def handle_data(self, data):
        if self._textarea:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def post_forms(html: str) -> list[Form]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


@pytest.fixture
def world(app, client, factory, admin):
    """Two cycles (one open for proposals, one in scoring with a panel), and a signed-in client per role."""
    proposer, chair, finance = factory.user("proposer"), factory.user("chair"), factory.user("finance")
    scorers = [factory.user("scorer"), factory.user("scorer")]
    open_cycle = factory.cycle(admin)
    draft = factory.proposal(proposer, open_cycle, status="draft")
    to_withdraw = factory.proposal(proposer, open_cycle)
    scoring = factory.cycle(admin)
    moderation = factory.cycle(admin, status="moderation")
    scored = [factory.proposal(admin, scoring) for _ in range(2)]
    # a scorer and a proposal on no panel, for the panel page's add forms
    factory.user("scorer")
    factory.proposal(admin, scoring)
    r = client.post(
        f"{API}/cycles/{scoring['id']}/panels",
        headers=chair.headers,
        json={
            "name": "Panel A",
            "member_ids": [s.id for s in scorers],
            "proposal_ids": [p["id"] for p in scored],
        },
    )
    assert r.status_code == 201, r.text
    panel = r.json()
    r = client.post(
        f"{API}/cycles/{scoring['id']}/weightings",
        headers=admin.headers,
        json={"name": "Second", "method": "points", "weights": {"1": 3, "2": 1}},
    )
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/cycles/{scoring['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    token = client.post(f"{API}/users/me/tokens", headers=admin.headers, json={"name": "walk"}).json()
    assert r.status_code == 200, r.text
    card = [{"principle": p, "score": 3, "rationale": "Reasoned."} for p in range(1, 13)]
    r = client.put(
        f"{API}/proposals/{scored[0]['id']}/scorecard",
        headers=scorers[1].headers,
        json={"scores": card, "submit": True},
    )
    assert r.status_code == 200, r.text
    r = client.post(  # a submission, for its Verify button (issued early by the admin, with the reason)
        f"{API}/cycles/{scoring['id']}/submissions",
        headers=admin.headers,
        json={"title": "Early", "include_below_quorum": True, "override_reason": "Form walk"},
    )
    assert r.status_code == 201, r.text

    clients = {"anonymous": TestClient(app, raise_server_exceptions=False)}
    for role, actor in {
        "admin": admin,
        "proposer": proposer,
        "chair": chair,
        "finance": finance,
        "scorer": scorers[0],
    }.items():
        c = TestClient(app, raise_server_exceptions=False)
        assert sign_in(c, actor.email).status_code == 303
        clients[role] = c
    # Second factors: the chair is enrolling, finance is enrolled, and two sign-ins wait for their second
    # step: a code (an enrolled scorer) and an enrolment (a proposer, while settings say the role needs one).
    for actor in (chair, finance, scorers[1]):
        secret = client.post(f"{API}/users/me/mfa", headers=actor.headers).json()["secret"]
        if actor is not chair:
            code = pyotp.TOTP(secret).now()
            client.post(f"{API}/users/me/mfa/confirm", headers=actor.headers, json={"code": code})
    for role, actor, step in (
        ("mfa_code", scorers[1], "/login/mfa"),
        ("mfa_enrol", proposer, "/login/mfa/enrol"),
    ):
        app.state.settings.mfa_required_roles = ["proposer"]
        clients[role] = TestClient(app, raise_server_exceptions=False)
        assert sign_in(clients[role], actor.email).headers["location"] == step
        app.state.settings.mfa_required_roles = None
    # the admin's users pages: a user to edit and deactivate, and one already deactivated to reactivate
    listed, gone = factory.user("finance"), factory.user("finance")
    r = client.patch(f"{API}/users/{gone.id}", headers=admin.headers, json={"is_active": False})
    assert r.status_code == 200, r.text
    return dict(
        clients=clients,
        listed=listed,
        gone=gone,
        open_cycle=open_cycle,
        scoring=scoring,
        moderation=moderation,
        draft=draft,
        to_withdraw=to_withdraw,
        scored=scored,
        panel=panel,
        token=token,
    )


def form_pages(w) -> dict[str, list[tuple[str, str]]]:
    """Each web POST route: the (role, page) pairs whose forms post to it. The role is the one the form is
    for; an admin is added where an admin's form differs (issuing a submission before moderation)."""
    o, s, m = w["open_cycle"]["id"], w["scoring"]["id"], w["moderation"]["id"]
    draft, gone = w["draft"]["id"], w["to_withdraw"]["id"]
    p0, p1, panel = w["scored"][0]["id"], w["scored"][1]["id"], w["panel"]["id"]
    return {
        "/login": [("anonymous", "/login")],
        "/logout": [("proposer", "/")],
        "/proposals/new": [("proposer", f"/proposals/new?cycle_id={o}")],
        # before the edit form's walk, which may leave the draft incomplete (as a draft may be)
        "/proposals/{proposal_id}/check": [("proposer", f"/proposals/{draft}/check")],
        "/proposals/{proposal_id}/edit": [("proposer", f"/proposals/{draft}/edit")],
        "/proposals/{proposal_id}/withdraw": [("proposer", f"/proposals/{gone}")],
        "/proposals/{proposal_id}/score": [("scorer", f"/proposals/{p0}/score")],
        "/proposals/{proposal_id}/conflict": [("scorer", f"/proposals/{p1}/score")],
        "/panels/{panel_id}/moderate": [("chair", f"/panels/{panel}/proposals/{p0}")],
        "/panels/{panel_id}/reopen": [("chair", f"/panels/{panel}/proposals/{p0}")],
        "/weightings": [("admin", f"/weightings?cycle_id={s}")],
        "/weightings/{weighting_id}/default": [("admin", f"/weightings?cycle_id={s}")],
        "/submissions": [("finance", f"/submissions?cycle_id={m}"), ("admin", f"/submissions?cycle_id={s}")],
        "/submissions/{submission_id}/verify": [("finance", f"/submissions?cycle_id={s}")],
        "/admin/users": [("admin", "/admin/users/new")],
        "/admin/users/{user_id}": [("admin", f"/admin/users/{w['listed'].id}")],
        "/admin/users/{user_id}/password": [("admin", f"/admin/users/{w['listed'].id}")],
        "/admin/users/{user_id}/sign-out": [("admin", f"/admin/users/{w['listed'].id}")],
        "/admin/users/{user_id}/deactivate": [("admin", f"/admin/users/{w['listed'].id}/deactivate")],
        "/admin/users/{user_id}/reactivate": [("admin", f"/admin/users/{w['gone'].id}/reactivate")],
        "/admin/import": [("admin", f"/admin/import?cycle_id={o}"), ("chair", f"/admin/import?cycle_id={s}")],
        "/admin/locks/lift": [("admin", "/admin/locks")],
        "/cycles/new": [("admin", "/cycles/new"), ("chair", "/cycles/new")],
        "/cycles/{cycle_id}/edit": [("admin", f"/cycles/{o}/edit"), ("chair", f"/cycles/{o}/edit")],
        "/cycles/{cycle_id}/status": [("admin", f"/cycles/{m}/status")],
        "/account/password": [("scorer", "/account")],
        "/account/tokens": [("scorer", "/account")],
        "/account/tokens/{token_id}/revoke": [("admin", f"/account/tokens/{w['token']['id']}/revoke")],
        "/account/mfa/start": [("admin", "/account/mfa")],
        "/account/mfa/confirm": [("chair", "/account/mfa")],
        "/account/mfa/recovery-codes": [("finance", "/account/mfa")],
        "/account/mfa/disable": [("finance", "/account/mfa")],
        "/login/mfa": [("mfa_code", "/login/mfa")],
        "/login/mfa/enrol": [("mfa_enrol", "/login/mfa/enrol")],
        "/admin/mfa/{user_id}/reset": [("admin", "/admin/mfa")],
        "/panels/new": [("chair", f"/panels/new?cycle_id={s}"), ("admin", f"/panels/new?cycle_id={o}")],
        "/panels/{panel_id}/rename": [("chair", f"/panels/{panel}/manage")],
        "/panels/{panel_id}/members": [("chair", f"/panels/{panel}/manage")],
        "/panels/{panel_id}/members/remove": [("chair", f"/panels/{panel}/manage")],
        "/panels/{panel_id}/proposals": [("chair", f"/panels/{panel}/manage")],
        "/panels/{panel_id}/proposals/remove": [("chair", f"/panels/{panel}/manage")],
        "/panels/{panel_id}/conflicts": [("chair", f"/panels/{panel}/manage")],
        "/panels/{panel_id}/chair": [("admin", f"/panels/{panel}/manage")],
    }


def web_routes(app, method: str) -> list[str]:
    """The paths of the app's web pages (everything outside the API) that answer ``method``."""
    return [
        r.path
        for r in iter_route_contexts(app.routes)
        if isinstance(r.route, APIRoute) and method in (r.methods or ()) and not r.path.startswith("/api/")
    ]


def route_pattern(path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", r"[0-9]+", re.escape(path)) + "$")


def sent(fields: dict[str, str | None]) -> dict[str, str]:
    """What a browser posts: unchecked boxes and radios are left out."""
    return {k: v for k, v in fields.items() if v is not None}


def field_groups(names) -> list[tuple[str, ...]]:
    """What to spoil at once: each field alone, except that of a numbered family (``score_1`` …
    ``score_12``, ``cost_2025-26`` …) the first is spoilt alone and then all of them together, so every
    field gets every malformed value without a post per field of the same loop."""
    families: dict[str, list[str]] = {}
    for name in names:
        family = re.fullmatch(r"([a-z]+)_(?:[0-9]+|[0-9]{4}-[0-9]{2})", name)
        families.setdefault(family.group(1) if family else name, []).append(name)
    groups = []
    for members in families.values():
        groups.append((members[0],))
        if len(members) > 1:
            groups.append(tuple(members))
    return groups


def test_every_field_of_every_web_form_survives_malformed_values(app, world):
    pages = form_pages(world)
    assert sorted(pages) == sorted(web_routes(app, "POST")), "a web POST route has no row"
    failures, posts = [], 0
    for route, reached_by in pages.items():
        for role, page_url in reached_by:
            c = world["clients"][role]
            page = c.get(page_url)
            assert page.status_code == 200, (page_url, page.text[:300])
            forms = [f for f in post_forms(page.text) if route_pattern(route).match(f.action)]
            assert forms, f"no form on {page_url} posts to {route}"
            seen = set()
            for form in forms:
                names = tuple(sorted(form.fields))
                if names in seen:
                    continue
                seen.add(names)
                for group in field_groups(form.fields):
                    for bad in MALFORMED:
                        if route == "/login":  # the sign-in form's token lives in a cookie set by its page
                            form.fields["csrf_token"] = csrf_of(c.get("/login").text)
                        spoilt = form.fields | dict.fromkeys(group, bad)
                        r = c.post(form.action, data=sent(spoilt), follow_redirects=False)
                        posts += 1
                        if r.status_code >= 500:
                            failures.append((role, form.action, group, bad, r.status_code))
    assert failures == [], "\n".join(map(str, failures))
    assert posts > 500  # the forms were found and walked


def test_page_addresses_with_malformed_numbers_are_4xx(app, world):
    """Every web page's numeric path and query parameters: bad values are a 4xx page, not a 500."""
    admin = world["clients"]["admin"]
    csrf = csrf_of(admin.get("/").text)
    ids = {
        "proposal_id": world["draft"]["id"],
        "panel_id": world["panel"]["id"],
        "cycle_id": world["scoring"]["id"],
        "weighting_id": 1,
        "submission_id": 1,
        "token_id": world["token"]["id"],
        "user_id": world["listed"].id,
        "fmt": "csv",
    }
    failures = []
    for method in ("GET", "POST"):
        for route in web_routes(app, method):
            params = re.findall(r"\{([a-z_]+)\}", route)
            for name in [p for p in params if p != "fmt"]:
                for bad in ["abc", "²", "-1", "0", HUGE, "7.5", "1e3"]:
                    path = route
                    for p in params:
                        path = path.replace(f"{{{p}}}", bad if p == name else str(ids[p]))
                    path = path.replace("{fmt}", "csv")
                    r = (
                        admin.get(path, follow_redirects=False)
                        if method == "GET"
                        else admin.post(path, data={"csrf_token": csrf}, follow_redirects=False)
                    )
                    if not 300 <= r.status_code < 500:
                        failures.append((method, path, r.status_code))
            if method == "GET":
                path = route
                for p in params:
                    path = path.replace(f"{{{p}}}", str(ids[p]))
                path = path.replace(".{fmt}", ".csv")
                for q in ("cycle_id", "weighting_id", "proposal_id", "page"):
                    for bad in ["abc", "²", "-1", "0", HUGE, str(10**20), "7.5", " 7 x"]:
                        r = admin.get(path, params={q: bad}, follow_redirects=False)
                        if r.status_code >= 500:
                            failures.append((method, path, q, bad, r.status_code))
    assert failures == [], "\n".join(map(str, failures))


def error_next_to(html: str, name: str) -> str:
    """The error message the page shows beside field ``name`` (empty when there is none)."""
    found = re.search(rf'id="{re.escape(name)}-error"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>|Error:", "", found.group(1)).strip() if found else ""


def test_typed_fields_come_back_with_the_error_beside_them(world):
    c = world["clients"]
    p0, panel = world["scored"][0]["id"], world["panel"]["id"]

    page = c["scorer"].get(f"/proposals/{p0}/score")
    form = {"csrf_token": csrf_of(page.text), "action": "draft", "score_1": "3", "rationale_1": "Fine."}
    r = c["scorer"].post(f"/proposals/{p0}/score", data=form | {"score_3": "²", "confidence_2": HUGE})
    assert r.status_code == 422 and "<form" in r.text
    assert error_next_to(r.text, "score_3") == "Enter the score as a whole number, using the digits 0 to 9."
    assert error_next_to(r.text, "confidence_2") == "The confidence must be from 1 to 3."
    assert error_next_to(r.text, "score_1") == ""
    mine = c["scorer"].get(f"/proposals/{p0}/score")
    assert 'value="3" checked' not in mine.text  # nothing was saved

    page = c["admin"].get(f"/weightings?cycle_id={world['scoring']['id']}")
    base = {"csrf_token": csrf_of(page.text), "cycle_id": str(world["scoring"]["id"]), "name": "Typed"}
    r = c["admin"].post("/weightings", data=base | {"method": "points", "points_1": "5", "points_4": "1e3"})
    assert r.status_code == 422
    assert error_next_to(r.text, "points_4") == (
        "Enter the points as a number, using the digits 0 to 9, such as 25 or 12.5."
    )
    r = c["admin"].post("/weightings", data=base | {"method": "rank_order", "rank_1": "1", "rank_2": "²"})
    assert r.status_code == 422
    assert error_next_to(r.text, "rank_2") == "Enter the rank as a whole number, using the digits 0 to 9."
    r = c["admin"].post("/weightings", data=base | {"method": "rank_order", "rank_1": "1", "rank_2": "-1"})
    assert r.status_code == 422 and error_next_to(r.text, "rank_2") == "The rank must be from 1 to 12."

    page = c["chair"].get(f"/panels/{panel}/proposals/{p0}")
    r = c["chair"].post(
        f"/panels/{panel}/moderate",
        data={"csrf_token": csrf_of(page.text), "proposal_id": str(p0), "mod_5": "7.5", "note_5": "Agreed."},
    )
    assert r.status_code == 422 and error_next_to(r.text, "mod_5").startswith(
        "Enter the agreed score as a whole"
    )

    m = world["moderation"]["id"]
    page = c["finance"].get(f"/submissions?cycle_id={m}")
    r = c["finance"].post(
        "/submissions",
        data={"csrf_token": csrf_of(page.text), "cycle_id": str(m), "title": "Board", "weighting_id": "abc"},
    )
    assert r.status_code == 422
    assert error_next_to(r.text, "weighting_id") == (
        "Enter the weighting as a whole number, using the digits 0 to 9."
    )


def test_hidden_fields_and_addresses_give_a_plain_error_page(world):
    c = world["clients"]
    page = c["proposer"].get(f"/proposals/new?cycle_id={world['open_cycle']['id']}")
    r = c["proposer"].post(
        "/proposals/new", data={"csrf_token": csrf_of(page.text), "cycle_id": "²", "title": "Hidden"}
    )
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "Enter the cycle id as a whole number, using the digits 0 to 9." in r.text
    draft = world["draft"]["id"]
    page = c["proposer"].get(f"/proposals/{draft}/check")
    r = c["proposer"].post(
        f"/proposals/{draft}/check", data={"csrf_token": csrf_of(page.text), "version": HUGE}
    )
    assert r.status_code == 400 and "The version must be from 0 to 2147483647." in r.text
    r = c["proposer"].post(f"/proposals/{draft}/check", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 400 and "The version is missing." in r.text

    r = c["admin"].get("/proposals", params={"page": str(10**20)})
    assert r.status_code == 400
    assert "The page number in the address must be from 1 to 100000." in r.text
    r = c["admin"].get("/ranking", params={"cycle_id": "٣"})  # an Arabic-Indic three: a digit, not ASCII
    assert r.status_code == 400 and "cycle id in the address as a whole number" in r.text
    r = c["admin"].get(f"/proposals/{HUGE}")
    assert r.status_code == 404 and f"There is no page at /proposals/{HUGE}." in r.text
