"""Quorum and disagreement settings of a cycle, and what the ranking does with proposals below quorum."""

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
