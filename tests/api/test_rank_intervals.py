"""How sure each rank is: rank intervals and p_funded in the ranking, its files, its chart and submissions.

Five scorers score four proposals the same on every principle:
I-A 5,5,5,5,5 (W 100) · I-D 4,4,4,4,4 (W 80) · I-C 5,5,0,0,0 (W 40, a split panel) · I-B 1,1,1,1,1 (W 20).
Resampling I-C's scorecards gives W = 20·(number of 5s drawn), Binomial(5, 0.4): 100 with probability
1 %, 80 with 7.7 %, 0 with 7.8 %. So I-C ranks 2 or better in 8.7 % of resamples and 3 or better in
92.2 %: its 5th-95th percentile interval is [2, 4]. I-A always ranks 1: [1, 1]; I-D ranks 3 only when
I-C draws five 5s: [2, 2]. With a budget for two proposals the walk funds the first two of each
resample's list, so I-C is funded exactly when it passes I-D (a tie goes to I-C by reference).
"""

import csv
import io
import re

import pytest

from tests.api.test_web_sessions import sign_in

API = "/api/v1"
PANEL = {"I-A": [5] * 5, "I-B": [1] * 5, "I-C": [5, 5, 0, 0, 0], "I-D": [4] * 5}


@pytest.fixture
def split(client, factory, admin):
    finance = factory.user("finance")
    scorers = [factory.user("scorer") for _ in range(5)]
    cycle = factory.cycle(admin, financial_years=["2022-23"], budgets={"2022-23": "250000.00"})
    ids = {
        ref: factory.proposal(
            admin,
            cycle,
            reference=ref,
            financials=[{"year": "2022-23", "cost": "100000.00", "saving": "0.00"}],
        )["id"]
        for ref in PANEL
    }
    client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={"name": "Split", "member_ids": [s.id for s in scorers], "proposal_ids": list(ids.values())},
    )
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    for ref, scores in PANEL.items():
        for s, score in zip(scorers, scores, strict=True):
            factory.submit_scorecard(s, ids[ref], score)
    return dict(cycle=cycle, ids=ids, finance=finance, admin=admin)


def test_agreement_gives_a_point_and_a_split_panel_a_wide_interval(client, split):
    cid, h = split["cycle"]["id"], split["finance"].headers
    r = client.get(f"{API}/cycles/{cid}/ranking", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["resamples"], body["seed"]) == (1000, 0)
    by = {it["reference"]: it for it in body["items"]}
    assert [(it["reference"], it["rank"]) for it in body["items"]] == [
        ("I-A", 1),
        ("I-D", 2),
        ("I-C", 3),
        ("I-B", 4),
    ]
    assert by["I-A"]["rank_interval"] == {"low": 1.0, "high": 1.0}  # scorers agree, neighbours far: width 0
    assert by["I-D"]["rank_interval"] == {"low": 2.0, "high": 2.0}
    assert by["I-C"]["rank_interval"] == {"low": 2.0, "high": 4.0}  # a split panel: wide
    assert by["I-B"]["rank_interval"] == {"low": 3.0, "high": 4.0}
    assert by["I-A"]["p_funded"] == 1.0 and by["I-B"]["p_funded"] == 0.0
    assert 0.04 < by["I-C"]["p_funded"] < 0.15
    assert by["I-D"]["p_funded"] == pytest.approx(1.0 - by["I-C"]["p_funded"], abs=1e-12)
    # seeded: the same request gives the same bytes; another seed, another draw
    assert client.get(f"{API}/cycles/{cid}/ranking", headers=h).content == r.content
    other = client.get(f"{API}/cycles/{cid}/ranking", params={"seed": 7}, headers=h).json()
    assert other["seed"] == 7
    assert {it["reference"]: it["rank_interval"] for it in other["items"]}["I-A"] == {"low": 1.0, "high": 1.0}
    # switched off, and bounded
    off = client.get(f"{API}/cycles/{cid}/ranking", params={"resamples": 0}, headers=h).json()
    assert all(it["rank_interval"] is None and it["p_funded"] is None for it in off["items"])
    bad = client.get(f"{API}/cycles/{cid}/ranking", params={"resamples": 10_001}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "resamples"]


def test_p_funded_is_null_without_budgets(client, split):
    cid, admin = split["cycle"]["id"], split["admin"]
    cycle = client.get(f"{API}/cycles/{cid}", headers=admin.headers).json()
    r = client.patch(
        f"{API}/cycles/{cid}",
        headers=admin.headers,
        json={"budgets": {"2022-23": None}, "version": cycle["version"]},
    )
    assert r.status_code == 200, r.text
    items = client.get(f"{API}/cycles/{cid}/ranking", headers=split["finance"].headers).json()["items"]
    assert all(it["p_funded"] is None for it in items)
    assert {it["reference"]: it["rank_interval"] for it in items}["I-C"] == {"low": 2.0, "high": 4.0}


def test_files_chart_and_submissions_carry_the_intervals(client, split):
    cid, f = split["cycle"]["id"], split["finance"]
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    f"{API}/cycles/{cid}/ranking", params={"format": "csv"}, headers=f.headers
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert [(r["Reference"], r["Rank low (5th pct)"], r["Rank high (95th pct)"]) for r in rows] == [
        ("I-A", "1.0", "1.0"),
        ("I-D", "2.0", "2.0"),
        ("I-C", "2.0", "4.0"),
        ("I-B", "3.0", "4.0"),
    ]
    assert rows[0]["P(funded)"] == "1.0" and rows[3]["P(funded)"] == "0.0"
    sign_in(client, f.email)
    html = client.get("/ranking", params={"cycle_id": cid}).text
    whiskers = re.findall(r'<g class="whisker"><title>([^<]+)</title>', html)
    assert whiskers == [
        "I-A: rank 1, 5th–95th percentile 1–1",
        "I-D: rank 2, 5th–95th percentile 2–2",
        "I-C: rank 3, 5th–95th percentile 2–4",
        "I-B: rank 4, 5th–95th percentile 3–4",
    ]
    client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=split["admin"].headers)
    r = client.post(f"{API}/cycles/{cid}/submissions", headers=f.headers, json={"title": "With intervals"})
    assert r.status_code == 201, r.text
    content = r.json()["content"]
    assert content["inputs"]["options"] == {"include_below_quorum": False, "resamples": 1000, "seed": 0}
    frozen = {it["reference"]: (it["rank_interval"], it["p_funded"]) for it in content["results"]["ranking"]}
    live = client.get(f"{API}/cycles/{cid}/ranking", headers=f.headers).json()["items"]
    assert frozen == {it["reference"]: (it["rank_interval"], it["p_funded"]) for it in live}
    v = client.get(f"{API}/submissions/{r.json()['id']}/verify", headers=f.headers).json()
    assert v["verified"] is True and v["results_reproduce"] is True
