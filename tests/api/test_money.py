"""Money round-trips exactly through the API and both databases."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.models import CycleYear

API = "/api/v1"

amounts = st.decimals(
    min_value=Decimal("0"),
    max_value=Decimal("999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cost=amounts, saving=amounts)
def test_financial_lines_round_trip_exactly(client, factory, admin, cost, saving):
    if not hasattr(factory, "_money_cycle"):
        factory._money_cycle = factory.cycle(admin)
    cycle = factory._money_cycle
    p = factory.proposal(
        admin, cycle, financials=[{"year": "2023-24", "cost": str(cost), "saving": f"{saving}"}]
    )
    back = client.get(f"{API}/proposals/{p['id']}", headers=admin.headers).json()
    line = back["financials"][1]
    assert Decimal(line["cost"]) == cost and Decimal(line["saving"]) == saving
    assert line["cost"] == f"{cost:.2f}"
    assert Decimal(back["net_cost"]) == cost - saving and back["financials"][0]["cost"] == "0.00"


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(budget=amounts)
def test_budgets_round_trip_exactly_in_the_database(db, factory, admin, budget):
    if not hasattr(factory, "_budget_cycle"):
        factory._budget_cycle = factory.cycle(admin, status="draft")
    cid = factory._budget_cycle["id"]
    with db.unit_of_work() as session:
        row = session.scalar(select(CycleYear).where(CycleYear.cycle_id == cid, CycleYear.position == 0))
        row.budget = budget
    with db.unit_of_work(write=False) as session:
        stored = session.scalar(
            select(CycleYear.budget).where(CycleYear.cycle_id == cid, CycleYear.position == 0)
        )
    assert isinstance(stored, Decimal) and stored == budget


def test_floats_and_fractions_of_pence_are_refused(client, factory, admin):
    cycle = factory.cycle(admin)
    for bad, msg in [
        (0.1, "not a JSON number"),
        ("0.001", "more than two decimal places"),
        ("1e3x", "not a decimal amount"),
        ("NaN", "finite"),
    ]:
        r = client.post(
            f"{API}/proposals",
            headers=admin.headers,
            json={
                "cycle_id": cycle["id"],
                "title": "Money test",
                "capability": "x",
                "kind": "efficiency",
                "lead": "L",
                "financials": [{"year": "2022-23", "cost": bad}],
            },
        )
        assert r.status_code == 422 and msg in r.json()["errors"][0]["msg"], (bad, r.text)
