"""The contract the OpenAPI schema states, held by the service: what the fuzzed run (test_fuzz.py) found,
each pinned by a quick test of its own."""

from __future__ import annotations

import pytest

from app.errors import PROBLEM_JSON


@pytest.fixture
def schema(client) -> dict:
    return client.get("/openapi.json").json()


def test_errors_are_documented_as_problem_json(schema):
    op = schema["paths"]["/api/v1/proposals/{proposal_id}"]["patch"]
    assert {"400", "401", "403", "404", "409", "412", "422", "428"} <= set(op["responses"])
    for code in ("404", "422", "428"):
        assert list(op["responses"][code]["content"]) == [PROBLEM_JSON]
        assert op["responses"][code]["content"][PROBLEM_JSON]["schema"]["$ref"].endswith("/Problem")
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    # A list without ids in its path and query answers no 404; a public operation no 403.
    assert "404" not in schema["paths"]["/api/v1/principles"]["get"]["responses"]
    assert "403" not in schema["paths"]["/healthz"]["get"]["responses"]


def test_405_allows_every_method_of_the_path(client, admin):
    r = client.request("OPTIONS", "/api/v1/proposals/1", headers=admin.headers)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, PATCH"
    assert r.headers["content-type"] == PROBLEM_JSON
    # /users/me is not /users/{user_id}: PATCH is not a method of it (not a 422 about the id "me").
    r = client.patch("/api/v1/users/me", json={}, headers=admin.headers)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_text_fields_document_the_characters_they_refuse(schema, client, admin):
    props = schema["components"]["schemas"]["CycleCreate"]["properties"]
    assert props["name"]["pattern"].startswith("^[^\\u0009\\u000a\\u000d\\u0000-")
    # A field with a stricter pattern of its own keeps it.
    assert props["reference_prefix"]["anyOf"][0]["pattern"] == "^[A-Z0-9]{1,12}$"
    sort = next(p for p in schema["paths"]["/api/v1/proposals"]["get"]["parameters"] if p["name"] == "sort")
    assert "created_at" in sort["schema"]["pattern"]
    r = client.get("/api/v1/users", params={"q": "a\x85b"}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "q"]


def test_money_schema_is_what_the_service_reads(schema, client, admin):
    money = schema["components"]["schemas"]["FinancialLine-Input"]["properties"]["cost"]
    kinds = {branch["type"] for branch in money["anyOf"]}
    assert kinds == {"string", "integer"}
    cycle = client.post(
        "/api/v1/cycles", json={"name": "SR30 SE&RR", "financial_years": ["2030-31"]}, headers=admin.headers
    ).json()
    r = client.post(
        "/api/v1/proposals",
        json={
            "cycle_id": cycle["id"],
            "title": "Whole pounds",
            "capability": "Estates",
            "kind": "efficiency",
            "lead": "L",
            "financials": [{"year": "2030-31", "cost": 1000}],
            "fte_change": 0,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["financials"][0]["cost"] == "1000.00"


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/api/v1/proposals/1/withdraw", {"reason": "r", "version": False}, ["body", "version"]),
        ("/api/v1/cycles/1/selection", {"frontier": 0}, ["body", "frontier"]),
    ],
)
def test_json_booleans_and_integers_are_not_each_other(client, admin, path, body, loc):
    r = client.post(path, json=body, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert loc in [e["loc"] for e in r.json()["errors"]]


def test_a_date_filter_is_not_a_number_of_seconds(client, admin):
    r = client.get("/api/v1/audit", params={"until": "0.5"}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "until"]
    r = client.get("/api/v1/audit", params={"until": "2030-01-01"}, headers=admin.headers)
    assert r.status_code == 200
