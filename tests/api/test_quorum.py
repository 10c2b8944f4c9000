"""Quorum and disagreement settings of a cycle, and what the ranking does with proposals below quorum."""

import csv
import io
import json
from pathlib import Path

import pytest

API = "/api/v1"


def test_cycle_quorum_and_threshold_settings(client, admin):
    r = client.post(
        f"{API}/cycles", headers=admin.headers, json={"name": "Q1", "financial_years": ["2022-23"]}
    )
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["min_scorecards"], c["disagreement_threshold"]) == (3, 2)
    assert client.get(f"{API}/cycles/{c['id']}", headers=admin.headers).json()["min_scorecards"] == 3

    r = client.post(
        f"{API}/cycles",
        headers=admin.headers,
        json={"name": "Q2", "financial_years": ["2022-23"], "min_scorecards": 0},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "min_scorecards"]
    r = client.post(
        f"{API}/cycles",
        headers=admin.headers,
        json={"name": "Q3", "financial_years": ["2022-23"], "disagreement_threshold": 6},
    )
    assert r.status_code == 422 and "disagreement_threshold 6 is wider than the scale 0 to 5" in r.text
    r = client.post(
        f"{API}/cycles",
        headers=admin.headers,
        json={
            "name": "Q4",
            "financial_years": ["2022-23"],
            "min_scorecards": 5,
            "disagreement_threshold": 3,
        },
    )
    assert (r.json()["min_scorecards"], r.json()["disagreement_threshold"]) == (5, 3)

    r = client.patch(
        f"{API}/cycles/{c['id']}",
        headers=admin.headers,
        json={"min_scorecards": 2, "disagreement_threshold": 1, "version": c["version"]},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["min_scorecards"], r.json()["disagreement_threshold"]) == (2, 1)
    r = client.patch(
        f"{API}/cycles/{c['id']}",
        headers=admin.headers,
        json={"disagreement_threshold": 7, "version": c["version"] + 1},
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "loc": ["body", "disagreement_threshold"],
            "msg": "disagreement_threshold 7 is wider than the scale 0 to 5: "
            "no spread could reach it (at most 5)",
            "type": "value_error",
        }
    ]
    events = client.get(
        f"{API}/audit", params={"action": "cycle.updated", "entity_id": c["id"]}, headers=admin.headers
    ).json()["items"]
    assert events[0]["changes"]["min_scorecards"] == {"before": 3, "after": 2}
    assert events[0]["changes"]["disagreement_threshold"] == {"before": 2, "after": 1}


def card(score, na=()):
    return [
        {"principle": p, "not_applicable": True, "rationale": "Not for this one."}
        if p in na
        else {"principle": p, "score": score, "rationale": "Panel reasoning."}
        for p in range(1, 13)
    ]


def submit(client, scorer, proposal_id, score, na=()):
    r = client.put(
        f"{API}/proposals/{proposal_id}/scorecard",
        headers=scorer.headers,
        json={"scores": card(score, na), "submit": True},
    )
    assert r.status_code == 200, r.text


@pytest.fixture
def panel_of_three(client, factory, admin):
    """Three proposals on a panel of three scorers (quorum 3): Q-01 fully scored, Q-02 by one scorer,
    Q-03 by nobody; Q-04 is on no panel."""
    finance = factory.user("finance")
    chair = factory.user("chair")
    scorers = [factory.user("scorer") for _ in range(3)]
    cycle = factory.cycle(
        admin,
        financial_years=["2022-23"],
        budgets={"2022-23": "300000.00"},
    )
    ids = {}
    for ref in ("Q-01", "Q-02", "Q-03", "Q-04"):
        ids[ref] = factory.proposal(
            admin,
            cycle,
            reference=ref,
            financials=[{"year": "2022-23", "cost": "100000.00", "saving": "0.00"}],
        )["id"]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=chair.headers,
        json={
            "name": "Three",
            "member_ids": [s.id for s in scorers],
            "proposal_ids": [ids["Q-01"], ids["Q-02"], ids["Q-03"]],
        },
    )
    assert r.status_code == 201, r.text
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    for s in scorers:
        submit(client, s, ids["Q-01"], 4)
    submit(client, scorers[0], ids["Q-02"], 5)
    return dict(cycle=cycle, ids=ids, finance=finance, chair=chair, scorers=scorers, admin=admin)


def test_below_quorum_is_unranked_with_its_coverage(client, panel_of_three):
    w = panel_of_three
    r = client.get(f"{API}/cycles/{w['cycle']['id']}/ranking", headers=w["finance"].headers)
    assert r.status_code == 200, r.text
    body = r.json()
    got = [
        (it["reference"], it["rank"], it["weighted_score"], it["coverage_text"], it["below_quorum"])
        for it in body["items"]
    ]
    assert got == [
        ("Q-01", 1, pytest.approx(80.0), "3 of 3 submitted", False),
        ("Q-02", None, None, "1 of 3 submitted", True),
        ("Q-03", None, None, "not yet scored", True),
        ("Q-04", None, None, "not yet scored", True),
    ]
    q02 = body["items"][1]
    assert (q02["scorers"], q02["eligible"], q02["quorum"], q02["complete"]) == (1, 3, 3, False)
    assert q02["score_per_million"] is None and q02["funded_by_walk"] is None
    assert q02["principle_scores"]["1"] == 5.0  # what was submitted is still shown
    q04 = body["items"][3]
    assert (q04["eligible"], q04["quorum"]) == (0, 1)
    assert q04["quorum_note"] == "Not on a panel: nobody can score it, so it cannot be ranked."
    assert body["items"][0]["complete"] is True and body["items"][0]["quorum_note"] is None
    assert (body["ranked"], body["below_quorum"], body["min_scorecards"]) == (1, 3, 3)
    assert body["note"] == (
        "3 proposals have not reached quorum (3 submitted scorecards, fewer where the panel is smaller) "
        "and are listed after the ranking, unranked; 2 of them are not scored yet."
    )
    # the walk goes down the ranked list only
    assert body["budget_walk"]["funded"] == [w["ids"]["Q-01"]] and body["budget_walk"]["skipped"] == []

    # asked for: ranked too, and flagged on every such row
    r = client.get(
        f"{API}/cycles/{w['cycle']['id']}/ranking",
        params={"include_below_quorum": "true"},
        headers=w["finance"].headers,
    ).json()
    got = [(it["reference"], it["rank"], it["below_quorum"]) for it in r["items"]]
    assert got == [("Q-02", 1, True), ("Q-01", 2, False), ("Q-03", 3, True), ("Q-04", 3, True)]
    assert r["items"][0]["weighted_score"] == pytest.approx(100.0)
    assert r["include_below_quorum"] is True and r["ranked"] == 4
    # CSV carries the same, with the coverage and the flag
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    f"{API}/cycles/{w['cycle']['id']}/ranking",
                    params={"format": "csv"},
                    headers=w["finance"].headers,
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert [(row["Reference"], row["Rank"], row["Weighted score"], row["Scorecards"]) for row in rows] == [
        ("Q-01", "1", "80.0", "3 of 3 submitted"),
        ("Q-02", "", "", "1 of 3 submitted"),
        ("Q-03", "", "", "not yet scored"),
        ("Q-04", "", "", "not yet scored"),
    ]
    assert [row["Below quorum"] for row in rows] == ["False", "True", "True", "True"]


def test_quorum_capped_by_eligible_members(client, panel_of_three):
    w = panel_of_three
    cid, ids = w["cycle"]["id"], w["ids"]
    # one of the three declares a conflict on Q-02: two members remain eligible, so two scorecards do
    r = client.post(
        f"{API}/proposals/{ids['Q-02']}/conflicts",
        headers=w["scorers"][2].headers,
        json={"type": "other", "reason": "I worked on the business case."},
    )
    assert r.status_code == 201, r.text
    submit(client, w["scorers"][1], ids["Q-02"], 3)
    items = {
        it["reference"]: it
        for it in client.get(f"{API}/cycles/{cid}/ranking", headers=w["finance"].headers).json()["items"]
    }
    q02 = items["Q-02"]
    assert (q02["rank"], q02["eligible"], q02["quorum"], q02["complete"]) == (1, 2, 2, True)
    assert q02["coverage_text"] == "2 of 2 submitted"
    assert q02["quorum_note"] == "Quorum lowered from 3 to 2: only 2 eligible panel members."
    assert q02["weighted_score"] == pytest.approx(80.0)
    # the cycle's quorum can be lowered by its admin
    cycle = client.get(f"{API}/cycles/{cid}", headers=w["admin"].headers).json()
    r = client.patch(
        f"{API}/cycles/{cid}",
        headers=w["admin"].headers,
        json={"min_scorecards": 1, "version": cycle["version"]},
    )
    assert r.status_code == 200, r.text
    items = client.get(f"{API}/cycles/{cid}/ranking", headers=w["finance"].headers).json()["items"]
    assert [(it["reference"], it["rank"]) for it in items] == [
        ("Q-01", 1),
        ("Q-02", 1),
        ("Q-03", None),
        ("Q-04", None),
    ]


def test_selection_sensitivity_compare_leave_out_below_quorum(client, panel_of_three):
    w = panel_of_three
    cid, ids, f = w["cycle"]["id"], w["ids"], w["finance"]
    sel = client.post(f"{API}/cycles/{cid}/selection", headers=f.headers, json={})
    assert sel.status_code == 200, sel.text
    body = sel.json()
    assert body["selected"] == [ids["Q-01"]] and body["greedy"]["selected"] == [ids["Q-01"]]
    assert body["below_quorum"] == sorted([ids["Q-02"], ids["Q-03"], ids["Q-04"]])
    r = client.post(f"{API}/cycles/{cid}/selection", headers=f.headers, json={"must_fund": [ids["Q-02"]]})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "loc": ["body", "must_fund", 0],
            "msg": f"proposal {ids['Q-02']} is below quorum (1 of 3 submitted) and not ranked; "
            "set include_below_quorum to include it",
            "type": "below_quorum",
        }
    ]
    r = client.post(
        f"{API}/cycles/{cid}/selection",
        headers=f.headers,
        json={"must_fund": [ids["Q-02"]], "include_below_quorum": True},
    )
    assert r.status_code == 200, r.text
    assert ids["Q-02"] in r.json()["selected"] and r.json()["include_below_quorum"] is True
    sens = client.get(f"{API}/cycles/{cid}/ranking/sensitivity", params={"samples": 50}, headers=f.headers)
    assert sens.status_code == 200, sens.text
    assert [p["reference"] for p in sens.json()["proposals"]] == ["Q-01"]
    assert sens.json()["below_quorum"] == sorted([ids["Q-02"], ids["Q-03"], ids["Q-04"]])
    wid = client.get(f"{API}/cycles/{cid}/weightings", headers=f.headers).json()["items"][0]["id"]
    cmp = client.get(f"{API}/cycles/{cid}/ranking/compare", params={"a": wid, "b": wid}, headers=f.headers)
    assert cmp.status_code == 200 and [it["reference"] for it in cmp.json()["items"]] == ["Q-01"]


def test_submission_leaves_out_below_quorum_unless_asked(client, panel_of_three):
    w = panel_of_three
    cid, ids, f = w["cycle"]["id"], w["ids"], w["finance"]
    client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=w["admin"].headers)
    r = client.post(
        f"{API}/cycles/{cid}/submissions", headers=f.headers, json={"title": "Quorum only", "selection": {}}
    )
    assert r.status_code == 201, r.text
    content = r.json()["content"]
    assert [it["reference"] for it in content["results"]["ranking"]] == ["Q-01"]
    assert [it["reference"] for it in content["results"]["not_ranked"]] == ["Q-02", "Q-03", "Q-04"]
    assert content["results"]["selection"]["selected"] == [ids["Q-01"]]
    assert content["inputs"]["options"]["include_below_quorum"] is False
    assert content["inputs"]["version"] == 2 and content["inputs"]["cycle"]["min_scorecards"] == 3
    first = r.json()
    r = client.post(
        f"{API}/cycles/{cid}/submissions",
        headers=f.headers,
        json={"title": "Quorum only", "selection": {}, "include_below_quorum": True},
    )
    assert r.status_code == 201, r.text
    second = r.json()
    # the choice is part of what is hashed
    assert second["content_sha256"] != first["content_sha256"]
    ranking = second["content"]["results"]["ranking"]
    assert [(it["reference"], it["below_quorum"]) for it in ranking] == [
        ("Q-02", True),
        ("Q-01", False),
        ("Q-03", True),
        ("Q-04", True),
    ]
    assert second["content"]["results"]["not_ranked"] == []
    for sub in (first, second):
        v = client.get(f"{API}/submissions/{sub['id']}/verify", headers=f.headers).json()
        assert v["verified"] is True, v
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"{API}/submissions/{first['id']}.csv", headers=f.headers).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert [(row["Reference"], row["Rank"], row["Selected"]) for row in rows] == [
        ("Q-01", "1", "yes"),
        ("Q-02", "", "no"),
        ("Q-03", "", "no"),
        ("Q-04", "", "no"),
    ]
    events = client.get(
        f"{API}/audit", params={"action": "submission.issued"}, headers=w["admin"].headers
    ).json()["items"]
    assert sorted(e["changes"]["include_below_quorum"] for e in events) == [False, True]


def test_demo_sr21_033_is_below_quorum(client, db, settings):
    """The demo cycle: SR21-033 has one submitted scorecard of five and used to rank first."""
    from app.demo import load_demo

    with db.unit_of_work() as session:
        load_demo(session, settings)
    token = client.post(
        f"{API}/auth/token", data={"username": "finance@example.org", "password": "demo-password"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    cid = client.get(f"{API}/cycles", headers=headers).json()["items"][0]["id"]
    body = client.get(f"{API}/cycles/{cid}/ranking", params={"resamples": 0}, headers=headers).json()
    items = body["items"]
    sr33 = next(it for it in items if it["reference"] == "SR21-033")
    assert (sr33["rank"], sr33["weighted_score"], sr33["coverage_text"]) == (None, None, "1 of 5 submitted")
    assert sr33["below_quorum"] is True and sr33["complete"] is False
    ranked = [it for it in items if it["rank"] is not None]
    assert items[: len(ranked)] == ranked  # every unranked one comes after the ranked ones
    assert all(it["weighted_score"] is not None and it["scorers"] >= 3 for it in ranked)
    unscored = [it for it in items if it["coverage_text"] == "not yet scored"]
    assert unscored and all(it["rank"] is None and it["weighted_score"] is None for it in unscored)
    assert items[0]["reference"] != "SR21-033"


def test_submission_frozen_before_quorum_still_verifies(client, factory, admin, db):
    """A version-1 document (issued before quorum: every proposal ranked, NA counted in the spread) is
    recomputed by the version-1 rules; the fixture was produced by the code of that time."""
    from datetime import UTC, datetime

    from app.models import Submission

    frozen = json.loads((Path(__file__).parent / "fixtures" / "submission_v1.json").read_text())
    content = frozen["content"]
    assert content["inputs"]["version"] == 1
    # what made it a version-1 result: an unscored proposal ranked at 0, NA counted as 0 in the spread
    assert content["results"]["ranking"][-1]["weighted_score"] == 0.0
    assert content["results"]["ranking"][0]["max_spread"] == 5.0
    cycle = factory.cycle(admin)
    weighting = client.get(f"{API}/cycles/{cycle['id']}/weightings", headers=admin.headers).json()["items"][0]
    with db.unit_of_work() as session:
        sub = Submission(
            cycle_id=cycle["id"],
            title=content["title"],
            note=content["note"],
            weighting_id=weighting["id"],
            aggregation="mean",
            status="issued",
            content=content,
            content_sha256=frozen["content_sha256"],
            created_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
        session.add(sub)
        session.flush()
        sub_id = sub.id
    v = client.get(f"{API}/submissions/{sub_id}/verify", headers=admin.headers).json()
    assert v == {
        "submission_id": sub_id,
        "content_sha256": frozen["content_sha256"],
        "hash_matches": True,
        "results_reproduce": True,
        "verified": True,
        "problems": [],
    }
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"{API}/submissions/{sub_id}.csv", headers=admin.headers).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert [(row["Reference"], row["Rank"], row["Below quorum"]) for row in rows][-1] == ("V1-05", "5", "")


def test_only_an_admin_changes_quorum_and_threshold(client, factory, admin):
    chair = factory.user("chair")
    cycle = factory.cycle(admin)
    r = client.patch(
        f"{API}/cycles/{cycle['id']}",
        headers=chair.headers,
        json={"min_scorecards": 1, "disagreement_threshold": 5, "version": cycle["version"]},
    )
    assert r.status_code == 403
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {
        ("body", "min_scorecards"),
        ("body", "disagreement_threshold"),
    }
    assert client.get(f"{API}/cycles/{cycle['id']}", headers=chair.headers).json()["min_scorecards"] == 3
