"""One budget walk: the chart's line, the text beside it, the exports and the API's greedy answer all come
from scoring.budget_walk. The fixture has a proposal that does not fit followed by one that does, where
the chart's old line (stop at the first misfit) and the greedy count (skip it and go on) disagreed."""

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from tests.api.test_web_sessions import sign_in

API = "/api/v1"
# reference: (score on every principle, cost in the one year); budget 100,000
FIXTURE = {"W-A": (5, "60000.00"), "W-B": (4, "50000.00"), "W-C": (3, "30000.00"), "W-D": (2, "20000.00")}


@pytest.fixture
def walk_world(client, factory, admin):
    finance = factory.user("finance")
    s1, s2 = factory.user("scorer"), factory.user("scorer")
    cycle = factory.cycle(admin, financial_years=["2022-23"], budgets={"2022-23": "100000.00"})
    ids = {}
    for ref, (_, cost) in FIXTURE.items():
        ids[ref] = factory.proposal(
            admin, cycle, reference=ref, financials=[{"year": "2022-23", "cost": cost, "saving": "0.00"}]
        )["id"]
    client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={"name": "P", "member_ids": [s1.id, s2.id], "proposal_ids": list(ids.values())},
    )
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    for ref, (score, _) in FIXTURE.items():
        for s in (s1, s2):
            factory.submit_scorecard(s, ids[ref], score)
    return dict(cycle=cycle, ids=ids, finance=finance, admin=admin)


def test_api_items_and_greedy_answer_follow_the_walk(client, walk_world):
    w = walk_world
    cid, ids, h = w["cycle"]["id"], w["ids"], w["finance"].headers
    body = client.get(f"{API}/cycles/{cid}/ranking", headers=h).json()
    got = [(it["reference"], it["rank"], it["funded_by_walk"], it["skipped_by_walk"]) for it in body["items"]]
    assert got == [
        ("W-A", 1, True, False),
        ("W-B", 2, False, True),
        ("W-C", 3, True, False),
        ("W-D", 4, False, True),
    ]
    walk = body["budget_walk"]
    assert walk["funded"] == [ids["W-A"], ids["W-C"]] and walk["skipped"] == [ids["W-B"], ids["W-D"]]
    assert (walk["last_funded_position"], walk["last_funded_rank"]) == (2, 3)
    assert walk["spend"] == {"2022-23": "90000.00"} and walk["headroom"] == {"2022-23": "10000.00"}
    sel = client.post(f"{API}/cycles/{cid}/selection", headers=h, json={}).json()
    assert sel["greedy"]["selected"] == sorted([ids["W-A"], ids["W-C"]])
    assert sel["greedy"]["skipped"] == [ids["W-B"], ids["W-D"]] and sel["greedy"]["last_funded_rank"] == 3
    # the exports carry the same marks
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"{API}/cycles/{cid}/ranking", params={"format": "csv"}, headers=h).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert [(r["Reference"], r["Funded by walk"], r["Skipped by walk"]) for r in rows] == [
        ("W-A", "True", "False"),
        ("W-B", "False", "True"),
        ("W-C", "True", "False"),
        ("W-D", "False", "True"),
    ]
    ws = load_workbook(
        io.BytesIO(client.get(f"{API}/cycles/{cid}/ranking", params={"format": "xlsx"}, headers=h).content)
    ).active
    values = list(ws.iter_rows(values_only=True))
    header_at = next(i for i, row in enumerate(values) if row[0] == "Rank")
    col = values[header_at].index("Funded by walk")
    assert [row[col] for row in values[header_at + 1 :]] == [True, False, True, False]


def test_chart_line_sits_where_the_walk_stops_funding(client, walk_world):
    w = walk_world
    cid = w["cycle"]["id"]
    walk = client.get(f"{API}/cycles/{cid}/ranking", headers=w["finance"].headers).json()["budget_walk"]
    sign_in(client, w["finance"].email)
    html = client.get("/ranking", params={"cycle_id": cid}).text
    svg = re.search(r'<svg class="chart".*?</svg>', html, re.S).group(0)
    row, top = 22, 12
    line_y = int(re.search(r'<line x1="0" y1="(\d+)"[^>]*class="budget-line"/>', svg).group(1))
    position = (line_y - top - (row - 1)) // row
    assert position == walk["last_funded_position"] == 2
    labels = re.findall(r'class="label">(\d+)\. ([^<]+)</text>', svg)
    assert labels[position] == (str(walk["last_funded_rank"]), "W-C")
    # the proposal above the line that does not fit is marked, and the legend says what the mark means
    bars = dict(re.findall(r'class="label">\d+\. ([^<]+)</text><rect [^>]*class="([^"]+)"', svg))
    assert "skipped" in bars["W-B"] and "skipped" not in bars["W-A"] and "skipped" not in bars["W-C"]
    assert "skipped by the walk: does not fit" in svg and "where the walk stops funding" in svg
    # the text beside the chart counts the same walk
    summary = re.sub(r"\s+", " ", re.search(r'id="funding-summary">(.*?)</div>', html, re.S).group(1))
    assert (
        "funds <strong>2</strong> (score 160.0) and stops funding at rank 3; it skips 2 that do not fit"
        in summary
    )
