"""The cycle pages: creating and editing a cycle (budgets as a table, one row per financial year, with an
error on the cell that cannot be read and nothing saved), stale edits, and status changes that happen
only after a confirmation page stating the consequences with the database's numbers."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import AuditEvent, Cycle
from tests.api.test_web_forms import error_next_to
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"
ERROR_IDS = re.compile(r'id="([^"]+)-error"')


def new_cycle_form(client, **changes) -> dict[str, str]:
    form = {
        "csrf_token": csrf_of(client.get("/cycles/new").text),
        "name": "SR27 SE&RR",
        "year_0": "2026-27",
        "budget_0": "£5,000,000",
        "year_1": "2027-28",
        "budget_1": "5000000",
        "year_2": "2028-29",
        "budget_2": "5,000,000.00",
        "scale_min": "0",
        "scale_max": "5",
        "label_0": "None",
        "label_5": "Transformational",
        "not_applicable_policy": "redistribute",
        "min_scorecards": "3",
        "disagreement_threshold": "2",
    }
    return form | changes


def cycle_named(db, name: str) -> dict | None:
    with db.unit_of_work(write=False) as s:
        c = s.scalar(select(Cycle).where(Cycle.name == name))
        if c is None:
            return None
        return {
            "id": c.id,
            "status": c.status,
            "budgets": {y: (None if b is None else f"{b:f}") for y, b in c.budgets.items()},
            "labels": dict(c.scale_labels),
            "scale": (c.scale_min, c.scale_max),
            "policy": c.not_applicable_policy,
            "quorum": c.min_scorecards,
            "threshold": c.disagreement_threshold,
            "version": c.version,
        }


def events(db, action: str) -> list[dict]:
    with db.unit_of_work(write=False) as s:
        return [
            dict(e.changes or {})
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        ]


def test_an_admin_creates_a_cycle_with_a_budget_per_year_typed_three_ways(client, admin, db):
    sign_in(client, admin.email)
    r = client.post("/cycles/new", data=new_cycle_form(client), follow_redirects=False)
    assert r.status_code == 303, error_next_to(r.text, "budget_0") or r.text[:2000]
    saved = cycle_named(db, "SR27 SE&RR")
    assert saved["budgets"] == {"2026-27": "5000000.00", "2027-28": "5000000.00", "2028-29": "5000000.00"}
    assert saved["labels"] == {"0": "None", "5": "Transformational"}
    assert (saved["policy"], saved["quorum"], saved["threshold"], saved["status"]) == (
        "redistribute",
        3,
        2,
        "draft",
    )
    assert r.headers["location"] == f"/cycles/{saved['id']}?saved=created"
    page = client.get(r.headers["location"])
    assert "Cycle created." in page.text and "£15,000,000.00" in page.text  # the total of the three years
    assert len(events(db, "cycle.created")) == 1  # the service audited it
    listed = client.get("/cycles").text
    assert "SR27 SE&amp;RR" in listed and "£15,000,000.00" in listed


ERRORS = [
    ({"budget_1": "five million"}, "budget_1", "Enter the budget for 2027-28 in pounds, like 1,250,000."),
    ({"budget_2": "5,00"}, "budget_2", "in pounds, like 1,250,000"),
    (
        {"budget_0": "12.345"},
        "budget_0",
        "Enter the budget for 2026-27 in pounds and pence, to the nearest penny.",
    ),
    ({"budget_1": "-5"}, "budget_1", "Enter a budget for 2027-28 of £0 or more."),
    ({"year_1": "2026-27"}, "year_1", "2026-27 is already in row 1: give each year once."),
    ({"year_2": "", "budget_2": "100"}, "year_2", "Enter the financial year of this budget"),
    ({"year_0": "2026/27"}, "year_0", "is not a financial year like"),
    ({"year_1": "2030-31", "year_2": "", "budget_2": ""}, "financial_years", "must be consecutive"),
    ({"scale_min": "5", "scale_max": "5"}, "scale_max", "must be above the lowest point"),
    ({"scale_min": "7", "scale_max": "3"}, "scale_max", "must be above the lowest point"),
    ({"scale_min": "²"}, "scale_min", "Enter the lowest point as a whole number"),
    ({"label_9": "Beyond"}, "label_9", "Point 9 is not on the scale 0 to 5"),
    ({"scale_max": "4"}, "label_5", "Point 5 is not on the scale 0 to 4"),
    ({"disagreement_threshold": "6"}, "disagreement_threshold", "wider than the scale 0 to 5"),
    ({"disagreement_threshold": "0"}, "disagreement_threshold", "must be from 1 to 110"),
    ({"min_scorecards": "0"}, "min_scorecards", "The quorum must be from 1 to 100."),
    ({"name": ""}, "name", ""),
    ({"not_applicable_policy": "sometimes"}, "not_applicable_policy", ""),
]


@pytest.mark.parametrize("changes, field, said", ERRORS, ids=[e[1] + str(i) for i, e in enumerate(ERRORS)])
def test_each_field_error_is_beside_its_field_and_nothing_is_saved(client, admin, db, changes, field, said):
    sign_in(client, admin.email)
    before = len(events(db, "cycle.created"))
    form = new_cycle_form(client, **changes)
    r = client.post("/cycles/new", data=form, follow_redirects=False)
    assert r.status_code == 422, r.text[:1500]
    beside = html.unescape(error_next_to(r.text, field))
    assert beside, (field, ERROR_IDS.findall(r.text))
    assert said in beside
    assert f'href="#{field}"' in r.text  # the summary links to the field
    page = html.unescape(r.text)
    for name, typed in form.items():  # everything typed is still in the form
        if name != "csrf_token" and typed and name != "not_applicable_policy":
            assert f'value="{typed}"' in page, name
    assert cycle_named(db, form["name"]) is None
    assert len(events(db, "cycle.created")) == before


def test_the_form_buttons_add_a_year_and_show_a_new_scale_without_saving(client, admin, db):
    sign_in(client, admin.email)
    r = client.post("/cycles/new", data=new_cycle_form(client, action="add_year"))
    assert r.status_code == 200 and 'name="year_3"' in r.text and 'name="year_4"' not in r.text
    r = client.post(
        "/cycles/new", data=new_cycle_form(client, scale_min="1", scale_max="7", action="show_points")
    )
    assert 'name="label_7"' in r.text and 'name="label_1"' in r.text
    assert 'value="None"' in r.text  # the label typed for 0, now off the scale, is kept (never dropped)
    assert cycle_named(db, "SR27 SE&RR") is None


def test_an_admin_edits_budgets_and_scale_of_a_draft_cycle(client, factory, admin, db):
    cycle = factory.cycle(admin, status="draft", name="SR30 SE&RR")
    sign_in(client, admin.email)
    page = client.get(f"/cycles/{cycle['id']}/edit")
    assert page.status_code == 200 and 'value="1,000,000.00"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "version": str(cycle["version"]),
        "name": "SR30 SE&RR",
        "year_0": "2022-23",
        "budget_0": "£7,500,000",
        "year_1": "2023-24",
        "budget_1": "",
        "year_2": "2024-25",
        "budget_2": "800000",
        "year_3": "2025-26",
        "budget_3": "1,000",
        "scale_min": "1",
        "scale_max": "7",
        "label_1": "Nothing",
        "label_7": "Everything",
        "not_applicable_policy": "minimum",
        "min_scorecards": "2",
        "disagreement_threshold": "3",
    }
    r = client.post(f"/cycles/{cycle['id']}/edit", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    saved = cycle_named(db, "SR30 SE&RR")
    assert saved["budgets"] == {
        "2022-23": "7500000.00",
        "2023-24": None,
        "2024-25": "800000.00",
        "2025-26": "1000.00",
    }
    assert saved["scale"] == (1, 7) and saved["labels"] == {"1": "Nothing", "7": "Everything"}
    assert (saved["quorum"], saved["threshold"]) == (2, 3)
    assert events(db, "cycle.updated")[-1]["budgets"]["after"]["2022-23"] == "7500000.00"

    # an unreadable cell: a field error on it, and nothing saved
    r = client.post(
        f"/cycles/{cycle['id']}/edit",
        data=form | {"version": str(saved["version"]), "budget_1": "lots", "budget_0": "1"},
    )
    assert r.status_code == 422
    assert "Enter the budget for 2023-24 in pounds" in html.unescape(error_next_to(r.text, "budget_1"))
    assert cycle_named(db, "SR30 SE&RR")["budgets"]["2022-23"] == "7500000.00"


def test_a_stale_edit_is_refused_and_keeps_what_was_typed(client, factory, admin, db):
    cycle = factory.cycle(admin, status="open", name="SR31 SE&RR")
    sign_in(client, admin.email)
    page = client.get(f"/cycles/{cycle['id']}/edit")
    assert 'name="year_0"' not in page.text  # the years are fixed once the cycle is open
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    r = client.patch(  # someone else saves first
        f"{API}/cycles/{cycle['id']}",
        headers=admin.headers,
        json={"name": "SR31 renamed", "budgets": {"2022-23": "1.00"}, "version": int(version)},
    )
    assert r.status_code == 200, r.text
    form = {
        "csrf_token": csrf_of(page.text),
        "version": version,
        "name": "SR31 SE&RR",
        "budget_0": "2,222,222",
        "budget_1": "900000",
        "budget_2": "800000",
        "scale_min": "0",
        "scale_max": "5",
        "not_applicable_policy": "minimum",
        "min_scorecards": "3",
        "disagreement_threshold": "2",
    }
    r = client.post(f"/cycles/{cycle['id']}/edit", data=form)
    assert r.status_code == 409
    assert "Someone else saved this cycle while you were editing it" in r.text
    assert 'value="2,222,222"' in r.text  # what was typed is kept
    assert "SR31 renamed" in r.text  # the values saved now are shown
    assert cycle_named(db, "SR31 renamed")["budgets"]["2022-23"] == "1.00"  # not overwritten
    fresh = re.search(r'name="version" value="(\d+)"', r.text).group(1)
    assert fresh != version
    r = client.post(f"/cycles/{cycle['id']}/edit", data=form | {"version": fresh}, follow_redirects=False)
    assert r.status_code == 303
    assert cycle_named(db, "SR31 SE&RR")["budgets"]["2022-23"] == "2222222.00"


def test_a_chair_edits_only_the_name(client, factory, admin, db):
    chair = factory.user("chair")
    cycle = factory.cycle(admin, status="open", name="SR32 SE&RR")
    sign_in(client, chair.email)
    page = client.get(f"/cycles/{cycle['id']}/edit")
    assert page.status_code == 200 and 'name="budget_0"' not in page.text
    assert "Only an admin changes the financial years, budgets" in page.text
    r = client.post(
        f"/cycles/{cycle['id']}/edit",
        data={
            "csrf_token": csrf_of(page.text),
            "version": str(cycle["version"]),
            "name": "SR32 chair's name",
            "budget_0": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    saved = cycle_named(db, "SR32 chair's name")
    assert saved["budgets"]["2022-23"] == "1000000.00"  # a chair's post does not reach the budgets
    assert client.get(f"/cycles/{cycle['id']}/status").status_code == 403


def scoring_cycle(client, factory, admin) -> tuple[dict, list]:
    """A cycle in scoring: three proposals on a panel of two scorers (6 scorecards due); one scorer has
    submitted all three, the other has a draft of one: 3 missing, 1 of them a draft."""
    cycle = factory.cycle(admin, name="SR40 SE&RR")
    ids = [factory.proposal(admin, cycle)["id"] for _ in range(3)]
    scorers = [factory.user("scorer"), factory.user("scorer")]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={
            "name": "Panel",
            "chair_id": admin.id,
            "member_ids": [s.id for s in scorers],
            "proposal_ids": ids,
        },
    )
    assert r.status_code == 201, r.text
    assert client.post(
        f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers
    ).is_success
    for pid in ids:
        factory.submit_scorecard(scorers[0], pid, 3)
    r = client.put(
        f"{API}/proposals/{ids[0]}/scorecard",
        headers=scorers[1].headers,
        json={"scores": [{"principle": 1, "score": 2, "rationale": "Half way."}], "submit": False},
    )
    assert r.status_code == 200, r.text
    return cycle, ids


def test_moving_to_moderation_states_the_missing_scorecards_and_happens_only_on_confirm(
    client, factory, admin, db
):
    cycle, _ = scoring_cycle(client, factory, admin)
    sign_in(client, admin.email)
    overview = client.get(f"/cycles/{cycle['id']}")
    assert f'href="/cycles/{cycle["id"]}/status"' in overview.text
    assert 'action="/cycles/' not in overview.text  # a link to the confirmation page, no button
    page = client.get(f"/cycles/{cycle['id']}/status")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert (
        "3 scorecards are still missing (1 started as drafts, 2 not started); scorers can no longer" in text
    )
    assert "3 of 6 scorecards due are submitted, across 1 panel." in text
    assert cycle_named(db, "SR40 SE&RR")["status"] == "scoring"  # looking changes nothing
    # the confirm button comes after the consequences and the reason, at the bottom of the form
    assert (
        text.index("still missing")
        < text.index('name="reason"')
        < text.index("Move SR40 SE&RR to moderation")
    )

    r = client.post(
        f"/cycles/{cycle['id']}/status",
        data={"csrf_token": csrf_of(page.text), "to": "moderation", "reason": "Deadline passed"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cycles/{cycle['id']}?moved=moderation"
    assert cycle_named(db, "SR40 SE&RR")["status"] == "moderation"
    moved = events(db, "cycle.transitioned")[-1]
    assert moved["status"] == {"before": "scoring", "after": "moderation"}
    assert moved["reason"] == "Deadline passed"
    banner = client.get(r.headers["location"]).text
    assert 'role="status"' in banner and "The cycle is now in moderation." in banner

    # the same confirmation posted again (a second click, or a stale page) moves nothing further
    again = client.post(
        f"/cycles/{cycle['id']}/status",
        data={"csrf_token": csrf_of(page.text), "to": "moderation"},
    )
    assert again.status_code == 409 and "cannot move from moderation to moderation" in again.text
    assert cycle_named(db, "SR40 SE&RR")["status"] == "moderation"
    assert len([e for e in events(db, "cycle.transitioned") if e["status"]["after"] == "moderation"]) == 1


def test_moving_to_scoring_counts_drafts_and_proposals_on_no_panel(client, factory, admin, db):
    proposer = factory.user("proposer")
    cycle = factory.cycle(admin, name="SR41 SE&RR")
    on_panel = [factory.proposal(admin, cycle)["id"] for _ in range(2)]
    factory.proposal(admin, cycle)  # submitted, on no panel
    factory.proposal(proposer, cycle, status="draft")
    scorer = factory.user("scorer")
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={"name": "Panel", "member_ids": [scorer.id], "proposal_ids": on_panel},
    )
    assert r.status_code == 201, r.text
    sign_in(client, admin.email)
    text = html.unescape(client.get(f"/cycles/{cycle['id']}/status").text)
    assert "3 proposals are submitted for scoring." in text
    assert "1 draft proposal will not be scored" in text
    assert "1 submitted proposal is on no panel" in text
    assert "1 panel with 1 scorer can start scoring." in text


def test_moving_to_open_and_closed_say_what_changes(client, factory, admin, db):
    draft = factory.cycle(admin, status="draft", name="SR42 SE&RR", budgets={"2022-23": "5.00"})
    closing = factory.cycle(admin, status="moderation", name="SR43 SE&RR")
    sign_in(client, admin.email)
    text = html.unescape(client.get(f"/cycles/{draft['id']}/status").text)
    assert "2 financial years have no budget envelope yet (2023-24, 2024-25)" in text
    text = html.unescape(client.get(f"/cycles/{closing['id']}/status").text)
    assert "Everything becomes final: 0 proposals, 0 panels, 0 submitted scorecards" in text
    assert "A closed cycle cannot be opened again." in text


def test_the_list_and_navigation_by_role(client, factory, admin, db):
    proposer = factory.user("proposer")
    cycle = factory.cycle(admin, name="SR44 SE&RR")
    factory.proposal(admin, cycle)
    sign_in(client, admin.email)
    listed = client.get("/cycles").text
    assert '<a href="/cycles">Cycles</a>' in listed and '<th scope="col" class="num">Proposals</th>' in listed
    assert "£2,700,000.00" in listed  # 1,000,000 + 900,000 + 800,000
    client.post("/logout", data={"csrf_token": csrf_of(listed)})
    sign_in(client, proposer.email)
    listed = client.get("/cycles")
    assert listed.status_code == 200 and "SR44 SE&amp;RR" in listed.text  # GET /api/v1/cycles is for anyone
    assert '<a href="/cycles">Cycles</a>' not in listed.text and ">Proposals</th>" not in listed.text
    assert client.get("/cycles/new").status_code == 403
    with_count = client.get(f"/cycles/{cycle['id']}")
    assert with_count.status_code == 200 and "Edit the cycle" not in with_count.text


def test_money_is_exact(client, admin, db):
    sign_in(client, admin.email)
    r = client.post(
        "/cycles/new",
        data=new_cycle_form(
            client, name="Exact", budget_0="0.10", budget_1="0.20", budget_2="999,999,999,999.99"
        ),
        follow_redirects=False,
    )
    assert r.status_code == 303
    budgets = cycle_named(db, "Exact")["budgets"]
    assert sum(Decimal(v) for v in budgets.values()) == Decimal("1000000000000.29")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ids_are_unique_and_every_described_by_exists(client, factory, admin):
    cycle = factory.cycle(admin, status="draft")
    sign_in(client, admin.email)
    pages = {
        path: client.get(path).text
        for path in ("/cycles", "/cycles/new", f"/cycles/{cycle['id']}", f"/cycles/{cycle['id']}/status")
    }
    pages["/cycles/{id}/edit"] = client.get(f"/cycles/{cycle['id']}/edit").text
    pages["the form with errors"] = client.post(
        "/cycles/new", data=new_cycle_form(client, name="", year_1="2026-27", label_9="x", budget_0="?")
    ).text
    for where, text in pages.items():
        ids = re.findall(r'\sid="([^"]+)"', text)
        assert len(ids) == len(set(ids)), f"{where} repeats ids"
        for described in re.findall(r'aria-describedby="([^"]+)"', text):
            assert set(described.split()) <= set(ids), (where, described)
        for target in re.findall(r'href="#([^"]+)"', text):
            assert target in ids, (where, target)


def test_moving_to_moderation_counts_each_panel(client, factory, admin, db):
    cycle = factory.cycle(admin, name="SR45 SE&RR")
    ids = [factory.proposal(admin, cycle)["id"] for _ in range(2)]
    scorers = [factory.user("scorer"), factory.user("scorer")]
    for name, scorer, pid in zip(("Panel A", "Panel B"), scorers, ids, strict=True):
        r = client.post(
            f"{API}/cycles/{cycle['id']}/panels",
            headers=admin.headers,
            json={"name": name, "member_ids": [scorer.id], "proposal_ids": [pid]},
        )
        assert r.status_code == 201, r.text
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    factory.submit_scorecard(scorers[0], ids[0], 4)
    sign_in(client, admin.email)
    text = html.unescape(client.get(f"/cycles/{cycle['id']}/status").text)
    assert "1 scorecard is still missing (0 started as drafts, 1 not started)" in text
    assert "By panel: Panel A, 1 of 1 submitted; Panel B, 0 of 1 submitted." in text
