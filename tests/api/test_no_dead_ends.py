"""No dead ends: every ranking-family route (API and web) on a cycle with nothing to rank answers 200 with
an empty or explained result, or 409/422 saying what is missing -- never a server error.

The routes are read from the app's route table, so a new ranking, selection, submission or weighting
route is walked without editing this test (a POST route needs a body below, or the test says so)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"
FAMILY = re.compile(r"ranking|selection|submission|weighting")
SCENARIOS = ("no_proposals", "no_scores", "below_quorum", "no_budgets")
# Web forms that change nothing and answer with their result on the page (not a redirect).
SHOWS_A_RESULT = {"/submissions/{submission_id}/verify"}


def family_routes(app) -> list[tuple[str, str, APIRoute]]:
    out = []
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.route, APIRoute) and FAMILY.search(ctx.path):
            out.extend((method, ctx.path, ctx.route) for method in sorted(ctx.methods or ()))
    return sorted(out, key=lambda r: (r[1], r[0]))


def card(score):
    return [{"principle": p, "score": score, "rationale": "R."} for p in range(1, 13)]


def make_cycle(client, factory, admin, scorers, scenario: str) -> dict:
    """A cycle in moderation with nothing (or nothing rankable, or no budgets) to rank."""
    budgets = {} if scenario == "no_budgets" else {"2022-23": "500000.00", "2023-24": "400000.00"}
    cycle = factory.cycle(admin, financial_years=["2022-23", "2023-24"], budgets=budgets)
    ids = []
    if scenario != "no_proposals":
        ids = [factory.proposal(admin, cycle)["id"] for _ in range(2)]
        r = client.post(
            f"{API}/cycles/{cycle['id']}/panels",
            headers=admin.headers,
            json={"name": "Panel", "member_ids": [s.id for s in scorers], "proposal_ids": ids},
        )
        assert r.status_code == 201, r.text
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    who = {"no_scores": [], "below_quorum": scorers[:1], "no_budgets": scorers}.get(scenario, [])
    for pid in ids:
        for s in who:
            r = client.put(
                f"{API}/proposals/{pid}/scorecard",
                headers=s.headers,
                json={"scores": card(3), "submit": True},
            )
            assert r.status_code == 200, r.text
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "moderation"}, headers=admin.headers)
    weighting = client.get(f"{API}/cycles/{cycle['id']}/weightings", headers=admin.headers).json()["items"][0]
    return {"cycle": cycle, "weighting_id": weighting["id"], "proposals": ids}


@pytest.fixture
def cycles(client, factory, admin):
    scorers = [factory.user("scorer") for _ in range(3)]
    out = {s: make_cycle(client, factory, admin, scorers, s) for s in SCENARIOS}
    # a submission to read back (issued where something is ranked, without a selection: no budgets)
    r = client.post(
        f"{API}/cycles/{out['no_budgets']['cycle']['id']}/submissions",
        headers=admin.headers,
        json={"title": "Ranked, no budgets"},
    )
    assert r.status_code == 201, r.text
    out["submission_id"] = r.json()["id"]
    return out


def api_body(path: str, n: int):
    bodies = {
        f"{API}/cycles/{{cycle_id}}/selection": {},
        f"{API}/cycles/{{cycle_id}}/submissions": {"title": "Nothing to rank yet", "selection": {}},
        f"{API}/cycles/{{cycle_id}}/weightings": {
            "name": f"Walk {n}",
            "method": "direct",
            "weights": {"1": 1},
        },
        f"{API}/cycles/{{cycle_id}}/weightings/{{weighting_id}}/default": None,
    }
    assert path in bodies, f"add a request body for POST {path} to the route walk"
    return bodies[path]


def web_form(path: str, cycle_id: int, weighting_id: int, n: int) -> dict:
    forms = {
        "/submissions": {
            "cycle_id": str(cycle_id),
            "title": "Nothing to rank yet",
            "weighting_id": str(weighting_id),
            "aggregation": "mean",
            "note": "",
            "with_selection": "on",
        },
        "/weightings": {"cycle_id": str(cycle_id), "name": f"Walk {n}", "method": "points", "points_1": "1"},
        "/weightings/{weighting_id}/default": {},
        "/submissions/{submission_id}/verify": {},
    }
    assert path in forms, f"add a form for POST {path} to the route walk"
    return forms[path]


def test_the_walk_covers_the_ranking_family(app):
    paths = {(m, p) for m, p, _ in family_routes(app)}
    for expected in [
        ("GET", f"{API}/cycles/{{cycle_id}}/ranking"),
        ("GET", f"{API}/cycles/{{cycle_id}}/ranking/compare"),
        ("GET", f"{API}/cycles/{{cycle_id}}/ranking/sensitivity"),
        ("POST", f"{API}/cycles/{{cycle_id}}/selection"),
        ("POST", f"{API}/cycles/{{cycle_id}}/submissions"),
        ("GET", "/ranking"),
        ("GET", "/ranking.{fmt}"),
        ("GET", "/submissions"),
        ("POST", "/submissions"),
        ("GET", "/weightings"),
    ]:
        assert expected in paths


def test_every_ranking_route_on_a_cycle_with_nothing_to_rank(app, client, admin, cycles):
    sign_in(client, admin.email)
    csrf = csrf_of(client.get("/").text)
    failures, seen, n = [], 0, 0
    for scenario in SCENARIOS:
        world = cycles[scenario]
        cid, wid = world["cycle"]["id"], world["weighting_id"]
        values = {
            "cycle_id": cid,
            "weighting_id": wid,
            "submission_id": cycles["submission_id"],
            "a": wid,
            "b": wid,
        }
        for method, path, route in family_routes(app):
            for fmt in ("csv", "xlsx") if "{fmt}" in path else (None,):
                n += 1
                url = path.replace("{fmt}", fmt or "")
                for name in re.findall(r"\{(\w+)(?::\w+)?\}", url):
                    url = re.sub(r"\{" + name + r"(:\w+)?\}", str(values[name]), url)
                api = path.startswith("/api/")
                # pages take the cycle and weighting from the address
                query = {} if api else {"cycle_id": cid, "weighting_id": wid}
                for q in route.dependant.query_params:
                    key = q.alias or q.name
                    if key in values:
                        query[key] = values[key]
                    elif q.field_info.is_required():
                        failures.append(f"{method} {path}: no value for the required query parameter {key}")
                kwargs: dict = {"params": query, "follow_redirects": False}
                if api:
                    kwargs["headers"] = admin.headers
                    if method == "POST":
                        body = api_body(path, n)
                        if body is not None:
                            kwargs["json"] = body
                elif method == "POST":
                    kwargs["data"] = {**web_form(path, cid, wid, n), "csrf_token": csrf}
                r = client.request(method, url, **kwargs)
                seen += 1
                where = f"{scenario}: {method} {url} -> {r.status_code}"
                if r.status_code >= 500:
                    failures.append(f"{where}: {r.text[:200]}")
                elif api:
                    if r.status_code not in (200, 201, 409, 422):
                        failures.append(f"{where}: expected 200/201 or 409/422")
                    elif r.status_code >= 400 and not (
                        r.headers["content-type"].startswith("application/problem+json")
                        and r.json()["detail"]
                    ):
                        failures.append(f"{where}: not a problem+json saying what is missing")
                elif r.status_code not in (
                    (200,) if method == "GET" or path in SHOWS_A_RESULT else (303, 422)
                ):
                    failures.append(f"{where}: expected a page")
    assert failures == []
    assert seen >= 4 * 15


def test_what_an_empty_cycle_says(client, admin, cycles):
    h = admin.headers
    empty = cycles["no_proposals"]["cycle"]["id"]
    body = client.get(f"{API}/cycles/{empty}/ranking", headers=h).json()
    assert body["items"] == [] and body["ranked"] == 0 and body["budget_walk"] is None
    assert body["note"] == "There are no submitted proposals in this cycle yet, so there is nothing to rank."
    r = client.post(f"{API}/cycles/{empty}/submissions", headers=h, json={"title": "Too early"})
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "Nothing to submit. There are no submitted proposals in this cycle yet, so there is nothing to rank."
    )
    sel = client.post(f"{API}/cycles/{empty}/selection", headers=h, json={}).json()
    assert sel["selected"] == [] and sel["objective"] == 0 and "no submitted proposals" in sel["note"]

    unscored = cycles["no_scores"]["cycle"]["id"]
    body = client.get(f"{API}/cycles/{unscored}/ranking", headers=h).json()
    assert [it["coverage_text"] for it in body["items"]] == ["not yet scored", "not yet scored"]
    assert body["note"] == (
        "Nothing to rank yet: no proposal has reached quorum (3 submitted scorecards, fewer where the panel "
        "is smaller); 2 waiting, none of them is scored yet."
    )
    r = client.post(f"{API}/cycles/{unscored}/submissions", headers=h, json={"title": "Too early"})
    assert r.status_code == 409 and r.json()["detail"].endswith(
        "Wait for more scorecards, or set include_below_quorum."
    )
    below = cycles["below_quorum"]["cycle"]["id"]
    rows = client.get(f"{API}/cycles/{below}/ranking", params={"format": "csv"}, headers=h)
    assert rows.status_code == 200 and rows.text.count("1 of 3 submitted") == 2

    no_budgets = cycles["no_budgets"]["cycle"]["id"]
    r = client.post(f"{API}/cycles/{no_budgets}/selection", headers=h, json={})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [
        ["body", "budgets", "2022-23"],
        ["body", "budgets", "2023-24"],
    ]
    body = client.get(f"{API}/cycles/{no_budgets}/ranking", headers=h).json()
    assert body["budget_walk"] is None and all(it["funded_by_walk"] is None for it in body["items"])
    assert all(it["p_funded"] is None for it in body["items"])


def test_pages_say_plainly_there_is_nothing_to_rank(client, admin, cycles):
    sign_in(client, admin.email)
    empty = cycles["no_proposals"]["cycle"]["id"]
    html = client.get("/ranking", params={"cycle_id": empty}).text
    assert "There is nothing to rank yet: this cycle has no submitted proposals." in html
    html = client.get("/ranking", params={"cycle_id": cycles["no_scores"]["cycle"]["id"]}).text
    assert "Nothing to rank yet: no proposal has reached quorum" in html and 'id="waiting-table"' in html
    assert "<svg" not in html


def test_pages_default_to_the_cycle_under_review(client, factory, admin, cycles):
    """The newest cycle in scoring or moderation, not merely the newest: creating next year's cycle does
    not empty everyone's ranking page."""
    sign_in(client, admin.email)
    newest_in_review = cycles["no_budgets"]["cycle"]
    factory.cycle(admin, status="draft", name="Next year's review")
    for page in ("/ranking", "/submissions", "/weightings"):
        html = client.get(page).text
        selected = re.search(r'<option value="(\d+)" selected>', html)
        chosen = (
            int(selected.group(1))
            if selected
            else int(re.search(r'name="cycle_id" value="(\d+)"', html).group(1))
        )
        assert chosen == newest_in_review["id"], page
