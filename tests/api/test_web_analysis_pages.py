"""Finance's analysis pages on the demo cycle: compare, sensitivity and selection show the API's figures for
the same inputs; bad values in their addresses are field errors beside the fields, never a server error;
who may see them is the API's rule; a submission's Verify button shows the API's verification."""

from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import pytest

from tests.api.golden import API, _token, load_demo_data
from tests.api.test_web_sessions import csrf_of, sign_in
from tests.conftest import fresh_database

DEMO_PASSWORD = "demo-password"
DEMO_CYCLE = "SR21 SE&RR"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """One database of each kind for the module: the demo is loaded into it once (the pages only read it;
    the verification test, last, adds submissions), instead of once a test."""
    with fresh_database(request, request.param, tmp_path_factory.mktemp("analysis")) as url:
        yield url


@pytest.fixture
def demo(client, db, settings):
    """The demo cycle, a finance officer's API token and their signed-in web session on ``client``."""
    if client.get("/readyz").status_code == 200 and not _demo_loaded(client):
        load_demo_data(db, settings)
    finance = _token(client, "finance")
    cycles = client.get(f"{API}/cycles", headers=finance).json()["items"]
    cycle = next(c for c in cycles if c["name"] == DEMO_CYCLE)
    weightings = client.get(f"{API}/cycles/{cycle['id']}/weightings", headers=finance).json()["items"]
    assert sign_in(client, "finance@example.org", DEMO_PASSWORD).status_code == 303
    ranking = client.get(f"{API}/cycles/{cycle['id']}/ranking", headers=finance).json()["items"]
    return {
        "cycle": cycle,
        "headers": finance,
        "w": [w["id"] for w in weightings],
        "ref": {it["proposal_id"]: it["reference"] for it in ranking},
        "ranked": [it for it in ranking if it["rank"] is not None],
    }


def _demo_loaded(client) -> bool:
    r = client.post(f"{API}/auth/token", data={"username": "finance@example.org", "password": DEMO_PASSWORD})
    return r.status_code == 200


def rows(page: str, table_id: str) -> list[list[str]]:
    """The cells of a table's body rows, as text."""
    start = page.index(f'id="{table_id}"')
    body = page[page.index("<tbody>", start) : page.index("</tbody>", start)]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)
        ]
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def text_of(page: str, element_id: str) -> str:
    """The text inside the element with ``element_id`` (nested elements of the same tag included)."""
    start = page.rindex("<", 0, page.index(f'id="{element_id}"'))
    tag = re.match(r"<(\w+)", page[start:]).group(1)
    depth, at = 0, start
    for m in re.finditer(rf"<(/?){tag}\b[^>]*>", page[start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            at = start + m.end()
            break
    inner = page[start:at]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", inner))).strip()


def error_beside(page: str, name: str) -> str:
    found = re.search(rf'id="{re.escape(name)}-error"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>|Error:", "", found.group(1))).strip() if found else ""


def pounds(text: str) -> Decimal:
    return Decimal(text.replace("£", "").replace(",", ""))


def test_compare_shows_the_apis_comparison_and_the_funded_set_changes(client, demo):
    cid, (w0, w1) = demo["cycle"]["id"], demo["w"]
    api = client.get(
        f"{API}/cycles/{cid}/ranking/compare", params={"a": w0, "b": w1, "k": 5}, headers=demo["headers"]
    )
    assert api.status_code == 200
    api = api.json()
    page = client.get(f"/ranking/compare?cycle_id={cid}&a={w0}&b={w1}&k=5")
    assert page.status_code == 200, page.text[:500]
    assert text_of(page.text, "kendall-tau").startswith(f"{api['kendall_tau_b']:.3f}")
    table = rows(page.text, "compare-table")
    assert [(r[0], int(r[2]), int(r[3])) for r in table] == [
        (it["reference"], it["rank_a"], it["rank_b"]) for it in api["items"]
    ]
    # the funded set under each weighting: the API's selection within the cycle's budgets
    funded = [
        set(
            client.post(
                f"{API}/cycles/{cid}/selection", json={"weighting_id": w}, headers=demo["headers"]
            ).json()["selected"]
        )
        for w in (w0, w1)
    ]
    assert [{demo["ref"][i] for i in s} for s in funded] == [
        {r[0] for r in table if r[5] == "yes"},
        {r[0] for r in table if r[6] == "yes"},
    ]
    changes = text_of(page.text, "funded-changes")
    for i in funded[1] - funded[0]:
        assert demo["ref"][i] in changes.split("leave")[0]
    for i in funded[0] - funded[1]:
        assert demo["ref"][i] in changes.split("leave under B:")[1]
    if funded[0] == funded[1]:
        assert changes == "the same proposals are funded under both"
    # the slope chart: one line a proposal, a title and a description for assistive technology
    chart = page.text[
        page.text.index('<svg class="chart slope"') : page.text.index(
            "</svg>", page.text.index("chart slope")
        )
    ]
    assert chart.count('class="slope-line') == len(api["items"])
    assert '<title id="slope-title">' in chart and '<desc id="slope-desc">' in chart

    # one weighting under two aggregations: the two API rankings' ranks
    page = client.get(f"/ranking/compare?cycle_id={cid}&a={w1}&b={w1}&aggregation=mean&aggregation_b=median")
    assert page.status_code == 200
    ranks = {}
    for agg in ("mean", "median"):
        items = client.get(
            f"{API}/cycles/{cid}/ranking",
            params={"weighting_id": w1, "aggregation": agg},
            headers=demo["headers"],
        ).json()["items"]
        ranks[agg] = {it["reference"]: it["rank"] for it in items if it["rank"] is not None}
    got = {r[0]: (int(r[2]), int(r[3])) for r in rows(page.text, "compare-table")}
    assert got == {ref: (ranks["mean"][ref], ranks["median"][ref]) for ref in ranks["mean"]}
    assert "(median)" in text_of(page.text, "compare-summary")


def test_sensitivity_shows_the_apis_figures_and_switching_values_in_words(client, demo):
    cid, w1 = demo["cycle"]["id"], demo["w"][1]
    query = {"weighting_id": w1, "samples": 300, "seed": 7, "k": 5}
    api = client.get(f"{API}/cycles/{cid}/ranking/sensitivity", params=query, headers=demo["headers"]).json()
    url = f"/ranking/sensitivity?cycle_id={cid}&weighting_id={w1}&samples=300&seed=7&k=5"
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    assert "300 samples, seed 7" in text_of(page.text, "sensitivity-run")
    table = rows(page.text, "sensitivity-table")
    assert [(r[1], r[3], r[4], r[5]) for r in table] == [
        (p["reference"], f"{p['rank_p5']:g}", f"{p['rank_p50']:g}", f"{p['rank_p95']:g}")
        for p in api["proposals"]
    ]
    assert [r[7] for r in table] == [f"{100 * p['p_selected']:.0f}%" for p in api["proposals"]]
    words = text_of(page.text, "switching")
    said = 0
    for s in api["switching"]:
        for key, verb in (("top_k_rising", "rise"), ("top_k_falling", "fall")):
            o = s[key]
            if o is not None:
                said += 1
                assert (
                    f"P{s['principle']}'s weight would have to {verb} from" in words
                    and f"for {o['enters_reference']} to overtake {o['leaves_reference']}" in words
                )
    assert said > 0
    # the rank-range chart: each drawn proposal's cells add up to the samples
    chart = page.text[
        page.text.index('<svg class="chart rank-range"') : page.text.index(
            "</svg>", page.text.index("rank-range")
        )
    ]
    first = api["proposals"][0]["reference"]
    shares = re.findall(rf"<title>{first}: rank \d+\+? in (\d+)% of draws</title>", chart)
    assert shares and abs(sum(map(int, shares)) - 100) <= len(shares)
    # the same address gives the same page (seeded); another seed draws other weights
    assert client.get(url).text == page.text
    other = client.get(url.replace("seed=7", "seed=8"))
    assert rows(other.text, "sensitivity-table") != table or "seed 8" in other.text


def test_selection_shows_the_apis_answer_with_money_per_year(client, demo):
    cid, w1 = demo["cycle"]["id"], demo["w"][1]
    ranked = demo["ranked"]
    must, out = ranked[5], ranked[0]
    needs, needed = ranked[2], ranked[12]
    group = [ranked[1], ranked[3]]
    body = {
        "weighting_id": w1,
        "budgets": {"2022-23": "15000000.00"},
        "must_fund": [must["proposal_id"]],
        "exclude": [out["proposal_id"]],
        "dependencies": [{"proposal_id": needs["proposal_id"], "requires_id": needed["proposal_id"]}],
        "exclusive_groups": [[g["proposal_id"] for g in group]],
    }
    api = client.post(f"{API}/cycles/{cid}/selection", json=body, headers=demo["headers"])
    assert api.status_code == 200, api.text
    api = api.json()
    query = {
        "cycle_id": cid,
        "weighting_id": w1,
        "budget_2022-23": "£15,000,000",
        "must_fund": must["reference"],
        "exclude": out["reference"].lower(),
        "dependencies": f"{needs['reference']} needs {needed['reference']}",
        "exclusive_groups": ", ".join(g["reference"] for g in group),
    }
    page = client.get("/ranking/selection", params=query)
    assert page.status_code == 200, page.text[:800]
    chosen = {r[1] for r in rows(page.text, "selection-table")}
    assert chosen == {demo["ref"][i] for i in api["selected"]}
    assert f"total weighted score {api['objective']:.1f}" in text_of(page.text, "selection-summary")
    money = {r[0]: r[1:] for r in rows(page.text, "money-table")}
    assert set(money) == set(api["budgets"])
    for year, (budget, cost, saving, net, headroom, walk_net, walk_headroom) in money.items():
        assert pounds(budget) == Decimal(api["budgets"][year])
        assert pounds(net) == Decimal(api["spend"][year]) == pounds(cost) - pounds(saving)
        assert pounds(headroom) == Decimal(api["headroom"][year])
        assert pounds(walk_net) == Decimal(api["greedy"]["spend"][year])
        assert pounds(walk_headroom) == Decimal(api["greedy"]["headroom"][year])
    assert pounds(money["2022-23"][0]) == Decimal("15000000")
    differs = text_of(page.text, "selection-differences")
    for i in api["greedy"]["only_in_optimal"] + api["greedy"]["only_in_greedy"]:
        assert demo["ref"][i] in differs
    # the form keeps what was typed
    assert 'value="£15,000,000"' in page.text and f">{query['dependencies']}</textarea>" in page.text


def test_bad_values_are_field_errors_beside_the_fields_with_the_values_kept(client, demo, settings):
    cid = demo["cycle"]["id"]
    most = settings.sensitivity_max_samples
    r = client.get(f"/ranking/sensitivity?cycle_id={cid}&samples={most + 1}&seed=x&k=0&aggregation=best")
    assert r.status_code == 422 and 'class="error-summary"' in r.text
    assert error_beside(r.text, "samples") == f"The number of samples must be from 10 to {most}."
    assert error_beside(r.text, "seed") == "Enter the seed as a whole number, using the digits 0 to 9."
    assert error_beside(r.text, "k") == "The size of the top list must be from 1 to 500."
    assert error_beside(r.text, "aggregation") == "Choose an aggregation from the list."
    assert f'value="{most + 1}"' in r.text and 'value="x"' in r.text

    r = client.get(f"/ranking/compare?cycle_id={cid}&a=99999&b=²")
    assert r.status_code == 422
    assert error_beside(r.text, "a") == "Choose a weighting of this cycle from the list."
    assert error_beside(r.text, "b") == "Enter the weighting as a whole number, using the digits 0 to 9."

    ranked = demo["ranked"]
    r = client.get(
        "/ranking/selection",
        params={
            "cycle_id": cid,
            "budget_2023-24": "12,34",
            "must_fund": f"{ranked[0]['reference']} NOPE-1",
            "dependencies": "SR21-001 SR21-002",
            "exclusive_groups": ranked[0]["reference"],
        },
    )
    assert r.status_code == 422
    assert error_beside(r.text, "must_fund") == "NOPE-1 is not a reference of a proposal of this cycle."
    assert error_beside(r.text, "dependencies").startswith("Line 1 cannot be read")
    assert error_beside(r.text, "exclusive_groups") == "Line 1 names one proposal: a group names two or more."
    assert 'value="12,34"' in r.text
    # once the references read, the API's own checks: the amount, then constraints that cannot all hold
    r = client.get("/ranking/selection", params={"cycle_id": cid, "budget_2023-24": "12,34"})
    assert r.status_code == 422
    assert error_beside(r.text, "budget_2023-24") == "Enter the budget for 2023-24 in pounds, like 1,250,000."
    ref = ranked[0]["reference"]
    r = client.get("/ranking/selection", params={"cycle_id": cid, "must_fund": ref, "exclude": ref})
    assert r.status_code == 422 and "No selection satisfies every constraint" in r.text
    assert error_beside(r.text, "must_fund") or error_beside(r.text, "exclude")


def test_the_analysis_pages_follow_the_apis_permissions(client, app, factory, admin):
    """The only test here that uses the factory (its users are numbered per test, the database is shared)."""
    from fastapi.testclient import TestClient

    cycle = factory.scored_cycle(admin, proposals=2)  # in scoring: scorers may not see rankings yet
    for role, allowed in (("finance", True), ("chair", True), ("scorer", False), ("proposer", False)):
        user = factory.user(role)
        c = TestClient(app, raise_server_exceptions=False)
        assert sign_in(c, user.email).status_code == 303
        api = c.get(f"{API}/cycles/{cycle['id']}/ranking", headers=user.headers).status_code
        assert (api == 200) == allowed
        for path in ("/ranking/compare", "/ranking/sensitivity", "/ranking/selection"):
            page = c.get(f"{path}?cycle_id={cycle['id']}")
            assert page.status_code == (200 if allowed else 403), (role, path, page.status_code)


def test_verify_shows_the_recomputation_of_a_submission(client, app, demo):
    cid = demo["cycle"]["id"]
    admin = _token(client, "admin")
    assert (
        client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=admin).status_code
        == 200
    )
    first = client.post(
        f"{API}/cycles/{cid}/submissions",
        json={"title": "Board draft", "note": "For the March board."},
        headers=demo["headers"],
    ).json()
    second = client.post(
        f"{API}/cycles/{cid}/submissions",
        json={"title": "Board final", "supersedes_id": first["id"], "selection": {}},
        headers=demo["headers"],
    ).json()
    page = client.get(f"/submissions?cycle_id={cid}")
    assert second["content_sha256"] in page.text and first["content_sha256"] in page.text
    row = text_of(page.text, f"submission-{second['id']}")
    assert f"supersedes #{first['id']}" in row and "Fiona Finance <finance@example.org>" in row
    assert "For the March board." in text_of(page.text, f"submission-{first['id']}")
    # the note is in the XLSX file's header block too
    from openpyxl import load_workbook

    xlsx = client.get(f"/submissions/{first['id']}/download.xlsx")
    header = {
        row[0]: row[1]
        for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(max_row=25, values_only=True)
    }
    assert header["Note"] == "For the March board." and header["content_sha256"] == first["content_sha256"]
    r = client.post(f"/submissions/{second['id']}/verify", data={"csrf_token": csrf_of(page.text)})
    api = client.get(f"{API}/submissions/{second['id']}/verify", headers=demo["headers"]).json()
    assert r.status_code == 200 and api["verified"]
    result = text_of(r.text, "verification")
    assert f"Submission {second['id']}: verified" in result and api["content_sha256"] in result
    assert "gives the same results" in result
    # without the form's token: refused, nothing shown
    assert client.post(f"/submissions/{second['id']}/verify", data={}).status_code == 403
    # a proposer may not verify (the API's readers: finance, chairs and admins)
    from fastapi.testclient import TestClient

    c = TestClient(app, raise_server_exceptions=False)
    assert sign_in(c, "proposer@example.org", DEMO_PASSWORD).status_code == 303
    r = c.post(f"/submissions/{second['id']}/verify", data={"csrf_token": csrf_of(c.get("/").text)})
    assert r.status_code == 403
