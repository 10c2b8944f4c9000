import pytest

API = "/api/v1"


def create(client, actor, cycle, **body):
    return client.post(f"{API}/cycles/{cycle['id']}/weightings", headers=actor.headers, json=body)


def test_every_cycle_starts_with_equal_default_weights(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    r = client.get(f"{API}/cycles/{cycle['id']}/weightings", headers=admin.headers).json()
    (w,) = r["items"]
    assert w["name"] == "Equal weights" and w["is_default"] is True
    assert w["weights"] == {str(p): pytest.approx(1 / 12) for p in range(1, 13)}


def test_points_and_rank_order(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    r = create(
        client, admin, cycle, name="Digital first", method="points", weights={"7": 50, "2": 30, "1": 20}
    )
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["weights"]["7"] == pytest.approx(0.5) and w["weights"]["12"] == 0
    assert sum(w["weights"].values()) == pytest.approx(1, abs=1e-12)
    assert w["inputs"] == {"weights": {"7": 50, "2": 30, "1": 20}} and w["consistency_ratio"] is None
    # rank-order centroid, n = 3 ranked: w1 = (1 + 1/2 + 1/3)/3, w2 = (1/2 + 1/3)/3, w3 = (1/3)/3
    r = create(client, admin, cycle, name="ROC", method="rank_order", order=[[7], [2], [5]])
    assert r.status_code == 201, r.text
    w = r.json()["weights"]
    assert (w["7"], w["2"], w["5"]) == (pytest.approx(11 / 18), pytest.approx(5 / 18), pytest.approx(2 / 18))
    assert w["1"] == 0


def test_pairwise_reports_consistency(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    # perfectly consistent 3-principle judgements: w7 = 2 w2 = 4 w1
    r = create(
        client,
        admin,
        cycle,
        name="AHP",
        method="pairwise",
        comparisons=[
            {"a": 7, "b": 2, "ratio": 2},
            {"a": 7, "b": 1, "ratio": 4},
            {"a": 2, "b": 1, "ratio": 2},
        ],
    )
    assert r.status_code == 201, r.text
    w = r.json()
    assert (w["weights"]["7"], w["weights"]["2"], w["weights"]["1"]) == (
        pytest.approx(4 / 7),
        pytest.approx(2 / 7),
        pytest.approx(1 / 7),
    )
    assert w["consistency_ratio"] == pytest.approx(0, abs=1e-9)
    r = create(
        client,
        admin,
        cycle,
        name="AHP bad",
        method="pairwise",
        comparisons=[
            {"a": 7, "b": 2, "ratio": 9},
            {"a": 2, "b": 1, "ratio": 9},
            {"a": 1, "b": 7, "ratio": "9"},
        ],
    )
    assert r.status_code == 201 and r.json()["consistency_ratio"] > 0.1
    assert r.json()["diagnostics"]["inconsistent"] is True
    r = create(
        client,
        admin,
        cycle,
        name="AHP split",
        method="pairwise",
        comparisons=[{"a": 7, "b": 2, "ratio": 2}, {"a": 3, "b": 4, "ratio": "1/3"}],
    )
    assert r.status_code == 422 and "not connected" in r.json()["errors"][0]["msg"]


def test_validation_and_immutability(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    r = create(client, admin, cycle, name="Bad", method="points", order=[[1]])
    assert r.status_code == 422
    r = create(client, admin, cycle, name="Zero", method="direct", weights={"1": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][:2] == ["body", "weights"]
    r = create(client, admin, cycle, name="Equal weights", method="direct", weights={"1": 1})
    assert r.status_code == 409
    first = create(client, admin, cycle, name="V1", method="direct", weights={"1": 1, "2": 1}).json()
    r = create(
        client,
        admin,
        cycle,
        name="V2",
        method="direct",
        weights={"1": 2, "2": 1},
        predecessor_id=first["id"],
        make_default=True,
    )
    assert r.status_code == 201 and r.json()["predecessor_id"] == first["id"]
    listed = client.get(f"{API}/cycles/{cycle['id']}/weightings", headers=admin.headers).json()["items"]
    assert [w["name"] for w in listed if w["is_default"]] == ["V2"]
    r = client.post(f"{API}/cycles/{cycle['id']}/weightings/{first['id']}/default", headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_default"] is True
    listed = client.get(f"{API}/cycles/{cycle['id']}/weightings", headers=admin.headers).json()["items"]
    assert [w["name"] for w in listed if w["is_default"]] == ["V1"]
    scorer = factory.user("scorer")
    assert create(client, scorer, cycle, name="S", method="direct", weights={"1": 1}).status_code == 403
    assert client.get(f"{API}/cycles/{cycle['id']}/weightings", headers=scorer.headers).status_code == 200
