"""Panels, conflicts, blind scorecards, moderation, progress and agreement."""

import threading

import pytest
from fastapi.testclient import TestClient

API = "/api/v1"


def full_card(score=3, rationale="Reasoned.", skip=()):
    return [{"principle": p, "score": score, "rationale": rationale} for p in range(1, 13) if p not in skip]


@pytest.fixture
def panel(client, factory, admin):
    """A cycle in scoring; a chair's panel with three scorers and two proposals."""
    chair = factory.user("chair")
    scorers = [factory.user("scorer") for _ in range(3)]
    outsider = factory.user("scorer")
    cycle = factory.cycle(admin)
    proposals = [factory.proposal(admin, cycle) for _ in range(2)]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=chair.headers,
        json={
            "name": "Panel A",
            "member_ids": [s.id for s in scorers],
            "proposal_ids": [p["id"] for p in proposals],
        },
    )
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    assert r.status_code == 200
    return dict(
        chair=chair, scorers=scorers, outsider=outsider, cycle=cycle, proposals=proposals, panel=r.json()
    )


def put(client, actor, pid, scores, submit=False, **extra):
    return client.put(
        f"{API}/proposals/{pid}/scorecard",
        headers=actor.headers,
        json={"scores": scores, "submit": submit, **extra},
    )


def test_panel_rules(client, factory, admin, panel):
    cid, pid = panel["cycle"]["id"], panel["proposals"][0]["id"]
    chair2 = factory.user("chair")
    r = client.post(
        f"{API}/cycles/{cid}/panels",
        headers=chair2.headers,
        json={"name": "Panel B", "member_ids": [panel["chair"].id], "proposal_ids": [pid, 999999]},
    )
    assert r.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in r.json()["errors"]}
    assert errors[("body", "member_ids", 0)] == f"user {panel['chair'].id} is not an active scorer"
    assert errors[("body", "proposal_ids", 0)] == f"proposal {pid} is already on panel 'Panel A'"
    assert errors[("body", "proposal_ids", 1)] == "proposal 999999 is not in this cycle"
    r = client.post(
        f"{API}/cycles/{cid}/panels", headers=chair2.headers, json={"name": "X", "chair_id": admin.id}
    )
    assert r.status_code == 403
    listed = client.get(f"{API}/cycles/{cid}/panels", headers=panel["scorers"][0].headers).json()
    assert [p["name"] for p in listed["items"]] == ["Panel A"]
    assert client.get(f"{API}/cycles/{cid}/panels", headers=panel["outsider"].headers).json()["total"] == 0
    alloc = client.get(f"{API}/users/me/allocation", headers=panel["scorers"][0].headers).json()
    assert [a["proposal_id"] for a in alloc["items"]] == [p["id"] for p in panel["proposals"]]
    assert {a["scorecard_status"] for a in alloc["items"]} == {"new"}


def test_scorer_not_on_panel_is_refused(client, panel):
    pid = panel["proposals"][0]["id"]
    r = put(client, panel["outsider"], pid, full_card())
    assert r.status_code == 403 and "not a member of panel 'Panel A'" in r.json()["detail"]
    assert (
        client.get(f"{API}/proposals/{pid}/scorecard", headers=panel["outsider"].headers).status_code == 403
    )


def test_conflicted_scorer_gets_403_naming_the_conflict(client, panel):
    s = panel["scorers"][0]
    pid = panel["proposals"][0]["id"]
    r = client.post(
        f"{API}/proposals/{pid}/conflicts",
        headers=s.headers,
        json={"type": "line_management", "reason": "I manage the lead"},
    )
    assert r.status_code == 201 and r.json()["user_id"] == s.id
    r = put(client, s, pid, full_card())
    assert r.status_code == 403
    assert "line_management: I manage the lead" in r.json()["detail"]
    assert client.get(f"{API}/proposals/{pid}/scorecards", headers=s.headers).status_code == 403
    # scorers cannot record conflicts for others; the chair can
    other = panel["scorers"][1]
    r = client.post(
        f"{API}/proposals/{pid}/conflicts",
        headers=s.headers,
        json={"user_id": other.id, "type": "other", "reason": "gossip"},
    )
    assert r.status_code == 403
    r = client.post(
        f"{API}/proposals/{pid}/conflicts",
        headers=panel["chair"].headers,
        json={"user_id": other.id, "type": "financial", "reason": "Shares in the supplier"},
    )
    assert r.status_code == 201
    seen = client.get(f"{API}/proposals/{pid}/conflicts", headers=panel["chair"].headers).json()
    assert {(c["user_id"], c["type"]) for c in seen["items"]} == {
        (s.id, "line_management"),
        (other.id, "financial"),
    }
    own = client.get(f"{API}/proposals/{pid}/conflicts", headers=s.headers).json()
    assert [c["user_id"] for c in own["items"]] == [s.id]


def test_proposer_is_conflicted_automatically(client, factory, admin):
    proposer = factory.user("proposer", "scorer")
    cycle = factory.cycle(admin)
    mine = factory.proposal(proposer, cycle)
    chair = factory.user("chair")
    client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=chair.headers,
        json={"name": "P", "member_ids": [proposer.id], "proposal_ids": [mine["id"]]},
    )
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    r = put(client, proposer, mine["id"], full_card())
    assert r.status_code == 403 and "proposal_author" in r.json()["detail"]
    listed = client.get(f"{API}/proposals/{mine['id']}/conflicts", headers=chair.headers).json()["items"]
    assert listed[0]["automatic"] is True and listed[0]["user_id"] == proposer.id


def test_blind_until_submitted_both_ways(client, factory, panel):
    a, b = panel["scorers"][:2]
    pid = panel["proposals"][0]["id"]
    assert put(client, a, pid, full_card(4), submit=True).status_code == 200
    # b has not submitted: cannot see a's
    r = client.get(f"{API}/proposals/{pid}/scorecards", headers=b.headers)
    assert r.status_code == 403 and "Submit your own scorecard" in r.json()["detail"]
    assert put(client, b, pid, full_card(2)).status_code == 200  # a draft is not enough
    assert client.get(f"{API}/proposals/{pid}/scorecards", headers=b.headers).status_code == 403
    # a has submitted: sees submitted cards only, so not b's draft
    seen = client.get(f"{API}/proposals/{pid}/scorecards", headers=a.headers).json()
    assert [c["scorer_id"] for c in seen["items"]] == [a.id]
    # the chair sees everything, drafts included
    seen = client.get(f"{API}/proposals/{pid}/scorecards", headers=panel["chair"].headers).json()
    assert sorted((c["scorer_id"], c["status"]) for c in seen["items"]) == [
        (a.id, "submitted"),
        (b.id, "draft"),
    ]
    finance = factory.user("finance")
    r = client.get(f"{API}/proposals/{pid}/scorecards", headers=finance.headers)
    assert r.status_code == 403 and "aggregates only" in r.json()["detail"]


def test_submit_rules_and_lock(client, panel):
    s = panel["scorers"][0]
    pid = panel["proposals"][0]["id"]
    r = put(client, s, pid, full_card(skip=(7,)), submit=True)
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "loc": ["body", "submit"],
            "type": "incomplete",
            "msg": "cannot submit: principle 7 not answered; all twelve need a score or not applicable",
        }
    ]
    assert client.get(f"{API}/proposals/{pid}/scorecard", headers=s.headers).json()["status"] == "new"
    card = full_card(3)
    card[4] = {"principle": 5, "score": 5, "rationale": ""}
    card[8] = {"principle": 9, "not_applicable": True}
    r = put(client, s, pid, card, submit=True)
    assert r.status_code == 422
    msgs = {tuple(e["loc"]): e["msg"] for e in r.json()["errors"]}
    assert msgs[("body", "principles", 5, "rationale")].startswith("a rationale is required for a score of 5")
    assert "not applicable" in msgs[("body", "principles", 9, "rationale")]
    r = put(client, s, pid, [{"principle": 1, "score": 6}])
    assert r.status_code == 422 and r.json()["errors"][0]["msg"] == "score must be an integer from 0 to 5"
    # a draft with partial answers is fine; then complete and submit
    r = put(client, s, pid, full_card(3)[:6])
    assert (
        r.status_code == 200
        and r.json()["status"] == "draft"
        and r.json()["missing"] == [7, 8, 9, 10, 11, 12]
    )
    r = put(client, s, pid, full_card(3)[6:], submit=True)
    assert r.status_code == 200 and r.json()["status"] == "submitted" and r.json()["missing"] == []
    # locked until the chair reopens it
    r = put(client, s, pid, [{"principle": 1, "score": 1, "rationale": "changed"}])
    assert r.status_code == 409 and "chair can reopen" in r.json()["detail"]
    sc_id = client.get(f"{API}/proposals/{pid}/scorecard", headers=s.headers).json()["id"]
    assert (
        client.post(
            f"{API}/proposals/{pid}/scorecards/{sc_id}/reopen", json={"reason": "typo"}, headers=s.headers
        ).status_code
        == 403
    )
    r = client.post(
        f"{API}/proposals/{pid}/scorecards/{sc_id}/reopen",
        json={"reason": "Scorer asked to fix a typo"},
        headers=panel["chair"].headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "draft"
    r = put(client, s, pid, [{"principle": 1, "score": 1, "rationale": "changed"}])
    assert r.status_code == 200 and r.json()["scores"][0]["score"] == 1


def test_scoring_only_in_scoring_status(client, admin, panel):
    cid = panel["cycle"]["id"]
    client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=admin.headers)
    r = put(client, panel["scorers"][0], panel["proposals"][0]["id"], full_card())
    assert r.status_code == 409 and "only while the cycle is in scoring" in r.json()["detail"]


def test_batch_is_all_or_nothing(client, panel):
    s = panel["scorers"][0]
    p1, p2 = (p["id"] for p in panel["proposals"])
    r = client.post(
        f"{API}/scorecards/batch",
        headers=s.headers,
        json={
            "items": [
                {"proposal_id": p1, "scores": full_card(4), "submit": True},
                {"proposal_id": p2, "scores": full_card(4, skip=(12,)), "submit": True},
            ]
        },
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "items", 1, "submit"]
    assert "items 1" in r.json()["detail"]
    for pid in (p1, p2):
        assert client.get(f"{API}/proposals/{pid}/scorecard", headers=s.headers).json()["status"] == "new"
    r = client.post(
        f"{API}/scorecards/batch",
        headers=s.headers,
        json={
            "items": [
                {"proposal_id": p1, "scores": full_card(4), "submit": True},
                {"proposal_id": p2, "scores": full_card(2), "submit": True},
            ]
        },
    )
    assert r.status_code == 200 and r.json()["submitted"] == 2


def test_concurrent_saves_never_lose_an_acknowledged_answer(app, panel):
    """Twelve writers each save one principle (merge) while eight race on one version: every acknowledged
    answer is present at the end, and exactly one of the versioned writers wins."""
    s = panel["scorers"][0]
    pid = panel["proposals"][0]["id"]
    clients = [TestClient(app, raise_server_exceptions=False) for _ in range(20)]
    barrier = threading.Barrier(20)
    results = [None] * 20

    def work(i):
        barrier.wait()
        if i < 12:
            body = {"scores": [{"principle": i + 1, "score": (i % 5) + 1, "rationale": f"writer {i}"}]}
        else:
            body = {"scores": [{"principle": 1, "score": 1, "rationale": f"versioned {i}"}], "version": 0}
        results[i] = clients[i].put(f"{API}/proposals/{pid}/scorecard", json=body, headers=s.headers)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = [r.status_code for r in results]
    assert all(c in (200, 409) for c in codes), [r.text for r in results if r.status_code not in (200, 409)]
    assert codes[:12] == [200] * 12
    assert codes[12:].count(200) <= 1
    final = clients[0].get(f"{API}/proposals/{pid}/scorecard", headers=s.headers).json()
    answers = {a["principle"]: a for a in final["scores"]}
    assert sorted(answers) == list(range(1, 13))
    for i in range(1, 12):
        assert answers[i + 1]["rationale"] == f"writer {i}"
    # principle 1: the last acknowledged writer to it wins; either writer 0 or a versioned writer
    acknowledged = {
        results[i].json()["scores"][0]["rationale"]
        for i in range(20)
        if codes[i] == 200 and any(a["principle"] == 1 for a in results[i].json()["scores"])
    }
    assert answers[1]["rationale"] in acknowledged
    assert final["version"] == codes.count(200)


def test_moderation(client, panel):
    pid = panel["proposals"][0]["id"]
    chair, s = panel["chair"], panel["scorers"][0]
    url = f"{API}/proposals/{pid}/moderation"
    r = client.put(url, headers=chair.headers, json={"scores": [{"principle": 3, "score": 4}]})
    assert r.status_code == 422 and "a note is required" in r.json()["errors"][0]["msg"]
    r = client.put(
        url,
        headers=chair.headers,
        json={
            "scores": [
                {"principle": 3, "score": 4, "note": "Agreed at the panel on 3 March"},
                {"principle": 10, "not_applicable": True, "note": "Estate not affected"},
            ]
        },
    )
    assert r.status_code == 200 and [m["principle"] for m in r.json()] == [3, 10]
    r = client.put(url, headers=chair.headers, json={"scores": [{"principle": 10}]})
    assert [m["principle"] for m in r.json()] == [3]
    assert (
        client.put(
            url, headers=s.headers, json={"scores": [{"principle": 3, "score": 1, "note": "x"}]}
        ).status_code
        == 403
    )


def test_progress_and_agreement_match_hand_computed_values(client, admin, panel):
    a, b, c = panel["scorers"]
    p1, p2 = (p["id"] for p in panel["proposals"])
    # p1: a gives all 1s, b all 3s (submitted); c a draft; p2: a all 4s, c all 4s except principle 2 = 5
    assert put(client, a, p1, full_card(1), submit=True).status_code == 200
    assert put(client, b, p1, full_card(3), submit=True).status_code == 200
    assert put(client, c, p1, full_card(2)[:3]).status_code == 200
    assert put(client, a, p2, full_card(4), submit=True).status_code == 200
    card = full_card(4)
    card[1] = {"principle": 2, "score": 5, "rationale": "Top"}
    assert put(client, c, p2, card, submit=True).status_code == 200

    prog = client.get(f"{API}/cycles/{panel['cycle']['id']}/progress", headers=panel["chair"].headers).json()
    (pp,) = prog["panels"]
    assert (pp["proposals"], pp["expected"], pp["drafted"], pp["submitted"]) == (2, 6, 1, 4)
    by_scorer = {s["scorer_id"]: (s["assigned"], s["drafted"], s["submitted"]) for s in pp["scorers"]}
    assert by_scorer == {a.id: (2, 0, 2), b.id: (2, 0, 1), c.id: (2, 1, 1)}
    assert [(m["scorer_id"], m["proposal_id"], m["state"]) for m in pp["missing"]] == [
        (c.id, p1, "draft"),
        (b.id, p2, "not started"),
    ]
    assert client.get(f"{API}/cycles/{panel['cycle']['id']}/progress", headers=a.headers).status_code == 403

    ag = client.get(f"{API}/cycles/{panel['cycle']['id']}/agreement", headers=panel["chair"].headers).json()
    q1, q2 = ag["proposals"]
    assert q1["scorers"] == 2 and q1["max_spread"] == 2 and q1["needs_moderation"] is True
    assert q1["principles"][0] == {
        "principle": 1,
        "n": 2,
        "spread": 2.0,
        "sd": 1.0,
        "needs_moderation": True,
        "moderated": False,
    }
    assert q2["max_spread"] == 1 and q2["needs_moderation"] is False
    assert q2["principles"][1]["sd"] == 0.5
    # leniency: a deviates -1 on p1 (panel mean 2) and -0.5 on p2 principle 2 else 0 → mean over a's 24 scores
    lenient = {s["scorer_id"]: s["leniency"] for s in ag["scorers"]}
    assert lenient[a.id] == pytest.approx((12 * -1 + 1 * -0.5) / 24)
    assert lenient[b.id] == pytest.approx(1.0)
    assert lenient[c.id] == pytest.approx(0.5 / 12)
    # alpha for units (p1,k): {1,3}; (p2,k): {4,4} x11 and {4,5}: computed by hand below
    assert ag["krippendorff_alpha"] == pytest.approx(hand_alpha(), abs=1e-6)


def hand_alpha():
    """Krippendorff's ordinal alpha for the fixture above, from the coincidence matrix by hand.

    Values 1,3,4,5. Each pairable unit has 2 values, so each contributes o[c,k] += 1 for the ordered pairs.
    12 units {1,3}: o13 = o31 = 12. 11 units {4,4}: o44 = 22. 1 unit {4,5}: o45 = o54 = 1.
    n1 = 12, n3 = 12, n4 = 23, n5 = 1, n = 48.
    Ordinal delta(c,k) = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2.
    """
    n = {1: 12, 3: 12, 4: 23, 5: 1}
    vals = [1, 3, 4, 5]

    def delta(c, k):
        lo, hi = min(c, k), max(c, k)
        s = sum(n[g] for g in vals if lo <= g <= hi)
        return (s - (n[c] + n[k]) / 2) ** 2

    observed = 2 * 12 * delta(1, 3) + 2 * 1 * delta(4, 5)
    expected = sum(n[c] * n[k] * delta(c, k) for c in vals for k in vals)
    total = sum(n.values())
    return 1 - (total - 1) * observed / expected


def test_the_guide_script_scores_an_allocation(client, panel):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "docs" / "examples" / "score_allocation.py"
    spec = importlib.util.spec_from_file_location("score_allocation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    s = panel["scorers"][0]
    refs = [p["reference"] for p in panel["proposals"]]
    answers = {refs[0]: full_card(3), refs[1]: full_card(2)[:5]}
    client.headers.update(s.headers)
    r = module.score_allocation(client, answers)
    assert r.status_code == 200, r.text
    assert (r.json()["saved"], r.json()["submitted"]) == (2, 1)
