"""The one money rule: thousands separators only in their places, no exponents, bounded before any
Decimal arithmetic; every bad amount is a field error (API, import), never a 500 or a wrong amount."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from app.money import parse_fixed2

API = "/api/v1"
PROBLEM = "application/problem+json"


def assert_field_error(r, loc: list, status: int = 422) -> dict:
    """The answer is a problem+json ``status`` with an error at ``loc``; returns that error."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    found = [e for e in r.json().get("errors") or [] if e["loc"] == loc]
    assert found, f"no error at {loc}: {r.text}"
    return found[0]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1,250,000.50", "1250000.50"),
        ("£1,250,000", "1250000.00"),
        ("£12.30", "12.30"),
        ("1,000", "1000.00"),
        ("999", "999.00"),
        (" 1250000 ", "1250000.00"),
        ("0.5", "0.50"),
        ("1.500", "1.50"),
        ("999,999,999,999.99", "999999999999.99"),
        (1250000, "1250000.00"),
    ],
)
def test_money_accepts_plain_and_grouped_amounts(given, expected):
    assert parse_fixed2(given) == Decimal(expected)


@pytest.mark.parametrize("given", ["-3.5", "£-3.50", "-£3.50", "-1,250.25"])
def test_signed_amounts(given):
    assert parse_fixed2(given, allow_negative=True) == -Decimal(
        given.replace("£", "").replace(",", "").lstrip("-")
    )


@pytest.mark.parametrize(
    "given",
    [
        "1,2,3",
        "1,50",
        ",100",
        "100,",
        "1,,000",
        "1,0000",
        "12,34,567",
        "1.000,50",
        "1,000.5,0",
        "1e30",
        "1e3",
        "NaN",
        "Infinity",
        "£",
        "1 000",
        "--1",
        "0x10",
        "1" * 5000,
        "1e10000000",
        10**26,
        10**12,
        Decimal("1e30"),
        Decimal("1e-30"),
    ],
)
def test_money_refuses_misplaced_separators_and_huge_amounts(given):
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        parse_fixed2(given)
    assert time.perf_counter() - start < 0.05
    assert str(err.value)  # a message to show beside the field


def test_money_message_names_the_comma_rule():
    with pytest.raises(ValueError, match="groups of three"):
        parse_fixed2("1,2,3")


@pytest.mark.parametrize(
    "cost", ["1,2,3", "1,50", ",100", "1e30", 10**26, "1" * 100], ids=lambda v: str(v)[:12]
)
def test_bad_amounts_in_a_proposal_are_field_errors(client, factory, admin, cost):
    cycle = factory.cycle(admin)
    body = {
        "cycle_id": cycle["id"],
        "title": "Money test",
        "capability": "Digital",
        "kind": "investment",
        "lead": "DCI A",
        "financials": [{"year": cycle["financial_years"][0], "cost": cost}],
    }
    r = client.post(f"{API}/proposals", json=body, headers=admin.headers)
    assert_field_error(r, ["body", "financials", 0, "cost"])
    r = client.get(f"{API}/proposals", params={"cycle_id": cycle["id"]}, headers=admin.headers)
    assert r.json()["total"] == 0


def test_bad_amounts_in_budgets_are_field_errors(client, factory, admin):
    r = client.post(
        f"{API}/cycles",
        json={"name": "Money cycle", "financial_years": ["2022-23"], "budgets": {"2022-23": "1e30"}},
        headers=admin.headers,
    )
    assert_field_error(r, ["body", "budgets", "2022-23"])
    r = client.post(
        f"{API}/cycles",
        json={"name": "Money cycle", "financial_years": ["2022-23"], "budgets": {"2022-23": 10**26}},
        headers=admin.headers,
    )
    assert_field_error(r, ["body", "budgets", "2022-23"])


def test_a_grouped_amount_is_stored_as_given(client, factory, admin):
    cycle = factory.cycle(admin)
    p = factory.proposal(
        admin,
        cycle,
        financials=[{"year": cycle["financial_years"][0], "cost": "£1,250,000.50", "saving": "1,000"}],
    )
    assert p["financials"][0]["cost"] == "1250000.50" and p["financials"][0]["saving"] == "1000.00"


def test_import_refuses_misplaced_commas(client, factory, admin):
    cycle = factory.cycle(admin, financial_years=["2022-23"], budgets={})
    content = b'title,capability,kind,lead,cost_2022-23\nA title,Digital,investment,DCI A,"1,2,3"\n'
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        files={"file": ("p.csv", content, "text/csv")},
        headers=admin.headers,
    )
    err = assert_field_error(r, ["file", 2, "cost_2022-23"])
    assert "three" in err["msg"]
