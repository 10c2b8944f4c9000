"""Rankings, exports, selection and submissions on a six-proposal fixture computed by hand."""

import csv
import io
import itertools
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

API = "/api/v1"

# reference: (scorer 1 score, scorer 2 score, cost per year (2 years), saving per year), same score on all 12
FIXTURE = {
    "T-01": (5, 5, ("500000.00", "0.00"), ("0.00", "0.00")),
    "T-02": (4, 4, ("300000.00", "100000.00"), ("0.00", "0.00")),
    "T-03": (4, 4, ("100000.00", "100000.00"), ("0.00", "0.00")),
    "T-04": (3, 2, ("50000.00", "0.00"), ("0.00", "0.00")),
    "T-05": (1, 1, ("10000.00", "0.00"), ("0.00", "20000.00")),
    "T-06": (5, 3, ("250000.00", "150000.00"), ("0.00", "0.00")),
}
# W = 100 * mean / 5 with equal weights; the three 80s tie and are ordered by net cost, then reference.
EXPECTED = [
    ("T-01", 1, 100.0),
    ("T-03", 2, 80.0),
    ("T-02", 2, 80.0),
    ("T-06", 2, 80.0),
    ("T-04", 5, 50.0),
    ("T-05", 6, 20.0),
]


def card(score):
    return [{"principle": p, "score": score, "rationale": "Panel reasoning."} for p in range(1, 13)]


@pytest.fixture
def scored(client, factory, admin):
    chair = factory.user("chair")
    finance = factory.user("finance")
    s1, s2 = factory.user("scorer"), factory.user("scorer")
    cycle = factory.cycle(
        admin,
        financial_years=["2022-23", "2023-24"],
        budgets={"2022-23": "700000.00", "2023-24": "250000.00"},
    )
    ids = {}
    for ref, (_, _, cost, saving) in FIXTURE.items():
        p = factory.proposal(
            admin,
            cycle,
            reference=ref,
            title=f"Proposal {ref}",
            financials=[
                {"year": y, "cost": c, "saving": s}
                for y, c, s in zip(cycle["financial_years"], cost, saving, strict=True)
            ],
        )
        ids[ref] = p["id"]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=chair.headers,
        json={"name": "P", "member_ids": [s1.id, s2.id], "proposal_ids": list(ids.values())},
    )
    assert r.status_code == 201
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    for ref, (a, b, _, _) in FIXTURE.items():
        for scorer, score in ((s1, a), (s2, b)):
            r = client.put(
                f"{API}/proposals/{ids[ref]}/scorecard",
                headers=scorer.headers,
                json={"scores": card(score), "submit": True},
            )
            assert r.status_code == 200, r.text
    return dict(cycle=cycle, ids=ids, finance=finance, chair=chair, scorers=(s1, s2))


def test_ranking_matches_hand_computed_values(client, scored):
    f = scored["finance"]
    r = client.get(f"{API}/cycles/{scored['cycle']['id']}/ranking", headers=f.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    got = [(it["reference"], it["rank"], it["weighted_score"]) for it in body["items"]]
    assert [(ref, rank) for ref, rank, _ in got] == [(ref, rank) for ref, rank, _ in EXPECTED]
    for (_, _, w), (_, _, expected) in zip(got, EXPECTED, strict=True):
        assert w == pytest.approx(expected, abs=1e-9)
    first = body["items"][0]
    assert first["principle_scores"] == {str(p): 5.0 for p in range(1, 13)}
    assert (first["scorers"], first["coverage"], first["complete"], first["max_spread"]) == (
        2,
        1.0,
        True,
        0.0,
    )
    assert (first["total_cost"], first["net_cost"]) == ("500000.00", "500000.00")
    assert first["score_per_million"] == pytest.approx(100 / 0.5)
    t05 = body["items"][-1]
    assert t05["net_cost"] == "-10000.00" and t05["score_per_million"] is None
    t06 = next(it for it in body["items"] if it["reference"] == "T-06")
    assert t06["max_spread"] == 2.0
    assert body["weighting"]["name"] == "Equal weights" and body["total"] == 6
    # identical inputs, byte-identical output
    again = client.get(f"{API}/cycles/{scored['cycle']['id']}/ranking", headers=f.headers)
    assert again.content == r.content
    # filters keep cycle-wide ranks; paging
    page = client.get(
        f"{API}/cycles/{scored['cycle']['id']}/ranking", params={"limit": 2, "offset": 1}, headers=f.headers
    ).json()
    assert [it["reference"] for it in page["items"]] == ["T-03", "T-02"] and page["total"] == 6


def test_another_weighting_and_aggregation(client, scored):
    cid = scored["cycle"]["id"]
    chair = scored["chair"]
    w = client.post(
        f"{API}/cycles/{cid}/weightings",
        headers=chair.headers,
        json={"name": "P1 only", "method": "direct", "weights": {"1": 1}},
    ).json()
    r = client.get(
        f"{API}/cycles/{cid}/ranking",
        params={"weighting_id": w["id"], "aggregation": "median"},
        headers=scored["finance"].headers,
    ).json()
    assert r["weighting"]["id"] == w["id"] and r["aggregation"] == "median"
    assert [it["weighted_score"] for it in r["items"]] == pytest.approx([100, 80, 80, 80, 50, 20])
    cmp = client.get(
        f"{API}/cycles/{cid}/ranking/compare",
        params={"a": w["id"], "b": w["id"] - 1 + 0, "k": 2},
        headers=scored["finance"].headers,
    )
    assert cmp.status_code == 200, cmp.text
    assert cmp.json()["kendall_tau_b"] == pytest.approx(1.0)


def brute_force(items, budgets):
    best = 0.0
    for n in range(len(items) + 1):
        for combo in itertools.combinations(items, n):
            spend = [sum(c[1][y] for c in combo) for y in range(2)]
            if all(s <= b for s, b in zip(spend, budgets, strict=True)):
                best = max(best, sum(c[0] for c in combo))
    return best


@pytest.mark.parametrize(
    "budgets", [("700000.00", "250000.00"), ("400000.00", "120000.00"), ("1500000.00", "500000.00")]
)
def test_selection_matches_brute_force(client, scored, budgets):
    cid = scored["cycle"]["id"]
    f = scored["finance"]
    ranking = client.get(f"{API}/cycles/{cid}/ranking", headers=f.headers).json()["items"]
    net = {
        ref: [int(Decimal(c) * 100) - int(Decimal(s) * 100) for c, s in zip(v[2], v[3], strict=True)]
        for ref, v in FIXTURE.items()
    }
    items = [(it["weighted_score"], net[it["reference"]]) for it in ranking]
    pence = [int(Decimal(b) * 100) for b in budgets]
    r = client.post(
        f"{API}/cycles/{cid}/selection",
        headers=f.headers,
        json={"budgets": dict(zip(["2022-23", "2023-24"], budgets, strict=True)), "frontier": True},
    )
    assert r.status_code == 200, r.text
    sel = r.json()
    assert sel["status"] == "optimal" and sel["gap"] == 0
    assert sel["objective"] == pytest.approx(brute_force(items, pence), abs=1e-9)
    by_id = {it["proposal_id"]: it for it in ranking}
    spend = [sum(net[by_id[i]["reference"]][y] for i in sel["selected"]) for y in range(2)]
    assert [int(Decimal(sel["spend"][y]) * 100) for y in ("2022-23", "2023-24")] == spend
    assert all(s <= b for s, b in zip(spend, pence, strict=True))
    assert Decimal(sel["headroom"]["2022-23"]) == Decimal(budgets[0]) - Decimal(sel["spend"]["2022-23"])
    assert sel["greedy"]["objective"] <= sel["objective"] + 1e-9
    assert [pt["budget_factor"] for pt in sel["frontier"]][:3] == [0.0, 0.1, 0.2]


def test_selection_gives_the_frontier_only_when_asked(client, scored):
    cid = scored["cycle"]["id"]
    f = scored["finance"]
    budgets = {"2022-23": "700000.00", "2023-24": "250000.00"}
    plain = client.post(f"{API}/cycles/{cid}/selection", headers=f.headers, json={"budgets": budgets})
    assert plain.status_code == 200, plain.text
    assert plain.json()["frontier"] == []
    asked = client.post(
        f"{API}/cycles/{cid}/selection", headers=f.headers, json={"budgets": budgets, "frontier": True}
    )
    assert asked.status_code == 200, asked.text
    sel = asked.json()
    assert {k: v for k, v in sel.items() if k != "frontier"} == {
        k: v for k, v in plain.json().items() if k != "frontier"
    }
    points = sel["frontier"]
    assert [pt["budget_factor"] for pt in points] == [k / 10 for k in range(16)]
    assert all(pt["status"] == "optimal" for pt in points)
    objectives = [pt["objective"] for pt in points]
    assert objectives == sorted(objectives)  # more money never lowers the best total
    assert objectives[10] == sel["objective"]  # 100 %: the optimum itself
    r = client.post(
        f"{API}/cycles/{cid}/selection",
        headers=f.headers,
        json={"budgets": budgets, "frontier": True, "frontier_time_limit_s": 0},
    )
    assert r.status_code == 422


def test_infeasible_selection_names_the_constraint(client, scored):
    cid, ids = scored["cycle"]["id"], scored["ids"]
    r = client.post(
        f"{API}/cycles/{cid}/selection",
        headers=scored["finance"].headers,
        json={"must_fund": [ids["T-01"]], "budgets": {"2022-23": "100000.00"}},
    )
    assert r.status_code == 422
    body = r.json()
    assert "T-01 must be funded" in body["detail"] and "the budget of 2022-23" in body["detail"]
    assert {tuple(e["loc"]) for e in body["errors"]} == {
        ("body", "must_fund"),
        ("body", "budgets", "2022-23"),
    }
    r = client.post(
        f"{API}/cycles/{cid}/selection",
        headers=scored["finance"].headers,
        json={"must_fund": [ids["T-01"]], "exclude": [ids["T-01"]]},
    )
    assert r.status_code == 422 and "excluded" in r.json()["detail"]
    r = client.post(
        f"{API}/cycles/{cid}/selection", headers=scored["finance"].headers, json={"must_fund": [99999]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "must_fund", 0]


def test_csv_and_xlsx_round_trip_equal_the_json(client, scored):
    cid, f = scored["cycle"]["id"], scored["finance"]
    items = client.get(f"{API}/cycles/{cid}/ranking", headers=f.headers).json()["items"]
    r = client.get(f"{API}/cycles/{cid}/ranking", headers={**f.headers, "Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["Reference"] for row in rows] == [it["reference"] for it in items]
    for row, it in zip(rows, items, strict=True):
        assert int(row["Rank"]) == it["rank"] and float(row["Weighted score"]) == it["weighted_score"]
        assert row["Net cost (£)"] == it["net_cost"] and float(row["P7"]) == it["principle_scores"]["7"]
    r = client.get(f"{API}/cycles/{cid}/ranking", params={"format": "xlsx"}, headers=f.headers)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][1] == scored["cycle"]["name"]
    assert (
        values[1][0] == "Weighting" and values[2][0] == "Weight P1" and values[2][1] == pytest.approx(1 / 12)
    )
    header_at = next(i for i, row in enumerate(values) if row[0] == "Rank")
    assert ws.freeze_panes == f"A{header_at + 2}"
    table = values[header_at + 1 :]
    assert [row[1] for row in table] == [it["reference"] for it in items]
    assert [row[5] for row in table] == [it["weighted_score"] for it in items]
    assert [Decimal(str(row[24])) for row in table] == [Decimal(it["net_cost"]) for it in items]
    assert ws.cell(row=header_at + 2, column=25).number_format == '"£"#,##0.00'
    assert ws.cell(row=3, column=2).number_format == "0.0%"  # weights as percentages
    assert ws.auto_filter.ref == f"A{header_at + 1}:AH{header_at + 1 + len(items)}"


def test_formula_injection_is_escaped(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "open"}, headers=admin.headers)
    factory.proposal(admin, cycle, title='=HYPERLINK("http://evil","x")', capability="+cmd|' /C calc'!A0")
    factory.proposal(admin, cycle, title="@SUM(A1:A2)", capability="-2+3")
    r = client.get(f"{API}/cycles/{cycle['id']}/ranking", params={"format": "csv"}, headers=admin.headers)
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    titles = sorted(row["Title"] for row in rows)
    assert titles == ['\'=HYPERLINK("http://evil","x")', "'@SUM(A1:A2)"]
    assert sorted(row["Capability"] for row in rows) == ["'+cmd|' /C calc'!A0", "'-2+3"]
    r = client.get(f"{API}/cycles/{cycle['id']}/ranking", params={"format": "xlsx"}, headers=admin.headers)
    ws = load_workbook(io.BytesIO(r.content)).active
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("'") for c in cells)


def test_exports_are_audited_and_roles_apply(client, factory, admin, scored):
    cid = scored["cycle"]["id"]
    client.get(f"{API}/cycles/{cid}/ranking", params={"format": "csv"}, headers=scored["finance"].headers)
    events = client.get(f"{API}/audit", params={"action": "ranking.exported"}, headers=admin.headers).json()
    assert events["total"] == 1 and events["items"][0]["actor_id"] == scored["finance"].id
    assert events["items"][0]["changes"]["format"] == "csv"
    scorer = scored["scorers"][0]
    r = client.get(f"{API}/cycles/{cid}/ranking", headers=scorer.headers)
    assert r.status_code == 403 and "moderation" in r.json()["detail"]
    proposer = factory.user("proposer")
    assert client.get(f"{API}/cycles/{cid}/ranking", headers=proposer.headers).status_code == 403
    client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=admin.headers)
    assert client.get(f"{API}/cycles/{cid}/ranking", headers=scorer.headers).status_code == 200


def test_sensitivity_is_seeded_and_bounded(client, scored):
    cid, f = scored["cycle"]["id"], scored["finance"]
    params = {"samples": 500, "seed": 7, "concentration": 50, "k": 2}
    a = client.get(f"{API}/cycles/{cid}/ranking/sensitivity", params=params, headers=f.headers)
    assert a.status_code == 200, a.text
    b = client.get(f"{API}/cycles/{cid}/ranking/sensitivity", params=params, headers=f.headers)
    assert a.content == b.content
    body = a.json()
    top = body["proposals"][0]
    assert top["reference"] == "T-01" and top["rank_p50"] == 1 and top["p_top_k"] == 1.0
    # every proposal scores the same on all principles, so weights cannot change the order
    assert all(p["rank_p5"] == p["rank_p95"] for p in body["proposals"])
    assert len(body["switching"]) == 12
    r = client.get(f"{API}/cycles/{cid}/ranking/sensitivity", params={"samples": 10**6}, headers=f.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "samples"]


def test_sensitivity_gives_the_selection_switching_values_only_when_asked(client, scored):
    cid, f = scored["cycle"]["id"], scored["finance"]
    params = {"samples": 200, "seed": 3, "k": 2}
    plain = client.get(f"{API}/cycles/{cid}/ranking/sensitivity", params=params, headers=f.headers)
    assert plain.status_code == 200, plain.text
    asked = client.get(
        f"{API}/cycles/{cid}/ranking/sensitivity", params={**params, "switching": "true"}, headers=f.headers
    )
    assert asked.status_code == 200, asked.text
    a, b = plain.json(), asked.json()
    assert a["proposals"] == b["proposals"]  # the same draws, the same figures
    assert any(p["p_selected"] is not None for p in a["proposals"])
    assert len(a["switching"]) == len(b["switching"]) == 12
    for cheap, full in zip(a["switching"], b["switching"], strict=True):
        assert cheap["top_k"] == full["top_k"] and cheap["top_k"] is not None
        assert cheap["selection"] is None
    assert any(sv["selection"] is not None for sv in b["switching"])


def test_submission_frozen_hashed_verifiable(client, admin, scored, db):
    cid, f, ids = scored["cycle"]["id"], scored["finance"], scored["ids"]
    body = {
        "title": "SR21 submission to finance",
        "aggregation": "mean",
        "note": "Board of 3 March",
        "selection": {
            "budgets": {"2022-23": "700000.00", "2023-24": "250000.00"},
            "must_fund": [ids["T-04"]],
        },
    }
    # submissions are issued once scoring is over
    client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=admin.headers)
    r1 = client.post(f"{API}/cycles/{cid}/submissions", headers=f.headers, json=body)
    assert r1.status_code == 201, r1.text
    r2 = client.post(f"{API}/cycles/{cid}/submissions", headers=f.headers, json=body)
    s1, s2 = r1.json(), r2.json()
    assert s1["content_sha256"] == s2["content_sha256"] and len(s1["content_sha256"]) == 64
    assert ids["T-04"] in s1["content"]["results"]["selection"]["selected"]
    v = client.get(f"{API}/submissions/{s1['id']}/verify", headers=f.headers).json()
    assert v["verified"] is True and v["problems"] == []
    # later score changes never alter an issued submission
    client.put(
        f"{API}/proposals/{ids['T-05']}/moderation",
        headers=scored["chair"].headers,
        json={"scores": [{"principle": 1, "score": 5, "note": "Panel raised it"}]},
    )
    again = client.get(f"{API}/submissions/{s1['id']}", headers=f.headers).json()
    assert again["content"] == s1["content"] and again["content_sha256"] == s1["content_sha256"]
    # CSV of the submission carries the Selected column
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"{API}/submissions/{s1['id']}.csv", headers=f.headers).content.decode("utf-8-sig")
            )
        )
    )
    assert {row["Reference"]: row["Selected"] for row in rows}["T-04"] == "yes"
    xlsx = client.get(f"{API}/submissions/{s1['id']}.xlsx", headers=f.headers)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    # supersede, not edit or delete
    assert client.patch(f"{API}/submissions/{s1['id']}", headers=f.headers, json={}).status_code == 405
    assert client.delete(f"{API}/submissions/{s1['id']}", headers=f.headers).status_code == 405
    r3 = client.post(
        f"{API}/cycles/{cid}/submissions",
        headers=f.headers,
        json={"title": "Revised", "supersedes_id": s1["id"]},
    )
    assert r3.status_code == 201
    old = client.get(f"{API}/submissions/{s1['id']}", headers=f.headers).json()
    assert old["status"] == "superseded" and old["superseded_by_id"] == r3.json()["id"]
    # tampering with the stored row is detected
    with db.unit_of_work() as session:
        row = session.execute(
            text("SELECT content FROM submissions WHERE id = :i"), {"i": s2["id"]}
        ).scalar_one()
        import json

        doc = json.loads(row) if isinstance(row, str) else row
        doc["inputs"]["answers"][0][3] = 0
        session.execute(
            text("UPDATE submissions SET content = :c WHERE id = :i"), {"c": json.dumps(doc), "i": s2["id"]}
        )
    v = client.get(f"{API}/submissions/{s2['id']}/verify", headers=f.headers).json()
    assert v["verified"] is False and v["hash_matches"] is False and v["results_reproduce"] is False
    assert (
        client.get(f"{API}/cycles/{cid}/submissions", headers=scored["scorers"][0].headers).status_code == 403
    )


def test_frontier_time_budget_follows_the_optimum_unless_given():
    from app.rankings.compute import frontier_time_limit

    auto = {"frontier_time_limit_s": "auto"}
    assert frontier_time_limit(auto, 0.8) == pytest.approx(2.0)  # 2.5 times the optimum's time
    assert frontier_time_limit(auto, 0.01) == 1.0 and frontier_time_limit(auto, 60.0) == 10.0  # 1-10 s
    assert frontier_time_limit({"frontier_time_limit_s": 7.5}, 0.01) == 7.5
    # a submission's frozen request does not say: 2 s a point, as frozen frontiers always had
    assert frontier_time_limit({"time_limit_s": 10.0}, 0.01) == 32.0
    assert frontier_time_limit({"time_limit_s": 1.0}, 0.01) == 16.0
