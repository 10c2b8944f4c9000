API = "/api/v1"


def test_create_generates_reference_and_fills_every_year(client, factory, admin):
    cycle = factory.cycle(admin)
    p = factory.proposal(admin, cycle)
    assert p["reference"] == "SR01-001"
    assert [f["year"] for f in p["financials"]] == cycle["financial_years"]
    assert p["financials"][0] == {"year": "2022-23", "cost": "100000.00", "saving": "25000.50"}
    assert p["financials"][1] == {"year": "2023-24", "cost": "0.00", "saving": "0.00"}
    assert (p["total_cost"], p["total_saving"], p["net_cost"]) == ("100000.00", "25000.50", "74999.50")
    assert p["self_assessment"] == {"7": "Digitises the triage."}
    assert factory.proposal(admin, cycle)["reference"] == "SR01-002"
    dup = client.post(
        f"{API}/proposals",
        headers=admin.headers,
        json={
            "cycle_id": cycle["id"],
            "reference": "sr01-001",
            "title": "Dup",
            "capability": "x",
            "kind": "efficiency",
            "lead": "L",
        },
    )
    assert dup.status_code == 422 and dup.json()["errors"][0]["loc"] == ["body", "reference"]


def test_field_level_errors(client, factory, admin):
    cycle = factory.cycle(admin)
    r = client.post(
        f"{API}/proposals",
        headers=admin.headers,
        json={
            "cycle_id": cycle["id"],
            "title": "Ok title",
            "capability": "x",
            "kind": "bribe",
            "lead": "L",
            "financials": [{"year": "2022-23", "cost": 10.5, "saving": "-1"}],
            "self_assessment": {"13": "no"},
        },
    )
    assert r.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in r.json()["errors"]}
    assert ("body", "kind") in errors
    assert "decimal string" in errors[("body", "financials", 0, "cost")]
    assert errors[("body", "financials", 0, "saving")] == "amount must not be negative"
    assert "principle number 1-12" in errors[("body", "self_assessment")]
    r = client.post(
        f"{API}/proposals",
        headers=admin.headers,
        json={
            "cycle_id": cycle["id"],
            "title": "Ok title",
            "capability": "x",
            "kind": "efficiency",
            "lead": "L",
            "financials": [{"year": "2030-31", "cost": "1.00"}],
        },
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "financials", 0, "year"]
    assert "not a financial year of this cycle" in r.json()["errors"][0]["msg"]


def test_update_with_etag_version_and_stale_checks(client, factory, admin):
    cycle = factory.cycle(admin)
    p = factory.proposal(admin, cycle)
    url = f"{API}/proposals/{p['id']}"
    got = client.get(url, headers=admin.headers)
    etag = got.headers["etag"]
    r = client.patch(
        url,
        json={"title": "New title", "financials": [{"year": "2023-24", "cost": "5.55"}]},
        headers={**admin.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "New title" and r.json()["financials"][1]["cost"] == "5.55"
    assert r.json()["financials"][0]["cost"] == "100000.00"
    assert r.headers["etag"] == f'"{p["version"] + 1}"'
    stale = client.patch(url, json={"title": "Lost update"}, headers={**admin.headers, "If-Match": etag})
    assert stale.status_code == 412
    stale = client.patch(url, json={"title": "Lost update", "version": p["version"]}, headers=admin.headers)
    assert stale.status_code == 409 and stale.json()["current_version"] == p["version"] + 1
    assert client.patch(url, json={"title": "No version"}, headers=admin.headers).status_code == 428
    assert client.get(url, headers=admin.headers).json()["title"] == "New title"


def test_proposer_rules(client, factory, admin):
    cycle = factory.cycle(admin)
    alice, bob = factory.user("proposer"), factory.user("proposer")
    mine = factory.proposal(alice, cycle)
    assert mine["proposer_id"] == alice.id
    url = f"{API}/proposals/{mine['id']}"
    # another proposer can neither see nor edit it
    assert client.get(url, headers=bob.headers).status_code == 404
    assert client.patch(url, json={"title": "Hijack", "version": 1}, headers=bob.headers).status_code == 404
    assert client.get(f"{API}/proposals", headers=bob.headers).json()["total"] == 0
    # a scorer sees it but cannot write
    scorer = factory.user("scorer")
    assert client.get(url, headers=scorer.headers).status_code == 200
    assert (
        client.patch(url, json={"title": "Scorer edit", "version": 1}, headers=scorer.headers).status_code
        == 403
    )
    # the proposer edits only while the cycle is open
    assert (
        client.patch(url, json={"title": "Better title", "version": 1}, headers=alice.headers).status_code
        == 200
    )
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    r = client.patch(url, json={"title": "Late edit", "version": 2}, headers=alice.headers)
    assert r.status_code == 409 and "only while it is open" in r.json()["detail"]


def test_withdraw(client, factory, admin):
    cycle = factory.cycle(admin)
    p = factory.proposal(admin, cycle)
    url = f"{API}/proposals/{p['id']}/withdraw"
    assert client.post(url, json={}, headers=admin.headers).status_code == 422
    r = client.post(url, json={"reason": "Merged into SR01-009"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert client.post(url, json={"reason": "again"}, headers=admin.headers).status_code == 409


def test_list_filters_sort_and_paging(client, factory, admin):
    cycle = factory.cycle(admin)
    other = factory.cycle(admin)
    factory.proposal(admin, cycle, title="Estate hub alpha", capability="Estates", kind="efficiency")
    factory.proposal(admin, cycle, title="Digital triage", capability="Digital Exploitation")
    factory.proposal(
        admin, cycle, title="Estate hub beta", capability="Estates", kind="efficiency", summary="Shared hub"
    )
    factory.proposal(admin, other, title="Other cycle estate", capability="Estates")
    q = lambda **params: client.get(f"{API}/proposals", params=params, headers=admin.headers).json()  # noqa: E731
    r = q(cycle_id=cycle["id"], capability="estates", sort="-title")
    assert [p["title"] for p in r["items"]] == ["Estate hub beta", "Estate hub alpha"] and r["total"] == 2
    assert q(cycle_id=cycle["id"], q="HUB")["total"] == 2
    assert q(kind="investment")["total"] == 2
    page = q(cycle_id=cycle["id"], limit=1, offset=1, sort="reference")
    assert page["total"] == 3 and [p["reference"] for p in page["items"]] == ["SR01-002"]
    bad = client.get(f"{API}/proposals", params={"sort": "secret"}, headers=admin.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "sort"]
