"""The admin cycle form: budget envelopes typed one year per line are read, or refused line by line;
never dropped."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from app.models import Cycle, CycleYear
from tests.api.test_web_sessions import csrf_of, sign_in


def post_cycle(client, name: str, budgets: str, years: str = "2026-27, 2027-28"):
    token = csrf_of(client.get("/admin").text)
    return client.post(
        "/admin/cycles",
        data={"name": name, "financial_years": years, "budgets": budgets, "csrf_token": token},
        follow_redirects=False,
    )


def budgets_of(db, name: str) -> dict[str, str] | None:
    with db.unit_of_work(write=False) as s:
        cycle = s.scalar(select(Cycle).where(Cycle.name == name))
        if cycle is None:
            return None
        rows = s.scalars(select(CycleYear).where(CycleYear.cycle_id == cycle.id))
        return {r.year: f"{r.budget:f}" for r in rows if r.budget is not None}


@pytest.mark.parametrize(
    "typed",
    [
        "2026-27: 4000000\n2027-28: 5000000",
        "2026-27 = 4000000\n2027-28 = 5000000",
        "2026-27\t4,000,000\n\n2027-28   £5,000,000.00",
    ],
)
def test_each_way_of_typing_a_budget_is_kept(client, admin, db, typed):
    sign_in(client, admin.email)
    r = post_cycle(client, "Budgets kept", typed)
    assert r.status_code == 303, r.text
    assert budgets_of(db, "Budgets kept") == {"2026-27": "4000000.00", "2027-28": "5000000.00"}


@pytest.mark.parametrize(
    "typed, said",
    [
        ("2026-27: 4000000\n5000000", "Line 2 of the budget envelopes"),
        ("2026-27: 4000000\n2026-27: 4500000", "Line 2 gives a budget for 2026-27 again"),
        ("2026-27:", "Line 1 of the budget envelopes"),
        ("2026-27: five million", "Enter the budget envelope in pounds"),
        ("2029-30: 100", "2029-30"),
    ],
)
def test_a_budget_the_form_cannot_read_is_a_field_error_and_nothing_is_saved(client, admin, db, typed, said):
    sign_in(client, admin.email)
    r = post_cycle(client, "Budgets refused", typed)
    assert r.status_code == 422
    page = html.unescape(r.text)
    assert said in page
    assert 'id="budgets-error"' in r.text  # beside the field, not only in the summary
    assert typed.splitlines()[0] in page  # what was typed stays in the form
    assert budgets_of(db, "Budgets refused") is None
