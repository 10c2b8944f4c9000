API = "/api/v1"


def test_create_cycle_with_exact_budgets_and_default_scale(client, admin):
    r = client.post(
        f"{API}/cycles",
        headers=admin.headers,
        json={
            "name": "SR21 SE&RR",
            "financial_years": ["2022-23", "2023-24"],
            "budgets": {"2022-23": "12500000.10", "2023-24": "0.01"},
        },
    )
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["status"] == "draft" and c["reference_prefix"] == "SR21"
    assert c["budgets"] == {"2022-23": "12500000.10", "2023-24": "0.01"}
    assert (c["scale_min"], c["scale_max"]) == (0, 5) and c["scale_labels"]["5"] == "Transformational"
    assert c["allowed_transitions"] == ["open"]
    assert r.headers["etag"] == '"1"'


def test_cycle_validation_lists_each_field(client, admin):
    r = client.post(
        f"{API}/cycles",
        headers=admin.headers,
        json={
            "name": "",
            "financial_years": ["2022-23", "2024-25", "2025-2026"],
            "budgets": {"2022-23": "1.234"},
            "scale_min": 3,
            "not_applicable_policy": "ignore",
        },
    )
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert {
        ("body", "name"),
        ("body", "financial_years"),
        ("body", "budgets", "2022-23"),
        ("body", "not_applicable_policy"),
    } <= locs
    r = client.post(
        f"{API}/cycles", headers=admin.headers, json={"name": "x", "financial_years": ["2022-23", "2024-25"]}
    )
    assert "consecutive" in r.json()["errors"][0]["msg"]
    r = client.post(
        f"{API}/cycles",
        headers=admin.headers,
        json={"name": "x", "financial_years": ["2022-23"], "scale_min": 5, "scale_max": 1},
    )
    assert r.status_code == 422 and "scale_min must be below scale_max" in r.text


def test_transitions_follow_the_lifecycle_only(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    url = f"{API}/cycles/{cycle['id']}/transition"
    r = client.post(url, json={"to": "scoring"}, headers=admin.headers)
    assert r.status_code == 409
    assert r.json()["detail"] == f"Cycle {cycle['id']} cannot move from draft to scoring; allowed: open."
    for step in ["open", "scoring", "moderation", "closed"]:
        r = client.post(url, json={"to": step}, headers=admin.headers)
        assert r.status_code == 200 and r.json()["status"] == step
    r = client.post(url, json={"to": "open"}, headers=admin.headers)
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    scorer = factory.user("scorer")
    assert client.post(url, json={"to": "open"}, headers=scorer.headers).status_code == 403


def test_update_cycle_needs_current_version(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    url = f"{API}/cycles/{cycle['id']}"
    assert client.patch(url, json={"name": "Renamed"}, headers=admin.headers).status_code == 428
    r = client.patch(url, json={"name": "Renamed"}, headers={**admin.headers, "If-Match": '"99"'})
    assert r.status_code == 412
    r = client.patch(
        url,
        json={"name": "Renamed", "budgets": {"2024-25": "5.00"}, "version": cycle["version"]},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed" and r.json()["budgets"]["2024-25"] == "5.00"
    assert r.json()["version"] == cycle["version"] + 1
    r = client.patch(
        url, json={"budgets": {"2030-31": "5.00"}, "version": r.json()["version"]}, headers=admin.headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "budgets", "2030-31"]


def test_list_cycles_paged(client, factory, admin):
    for _ in range(3):
        factory.cycle(admin, status="draft")
    r = client.get(f"{API}/cycles", params={"limit": 2, "offset": 0}, headers=admin.headers).json()
    assert r["total"] == 3 and len(r["items"]) == 2 and r["limit"] == 2
    r = client.get(f"{API}/cycles", params={"limit": 2, "offset": 2}, headers=admin.headers).json()
    assert len(r["items"]) == 1
    assert client.get(f"{API}/cycles", params={"limit": 0}, headers=admin.headers).status_code == 422
