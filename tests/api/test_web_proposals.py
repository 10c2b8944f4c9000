"""The proposer's forms: a draft with only a title, completeness checked at submit (by the API too), check
your answers, the Submitted banner, money as people write it, and the running totals without JavaScript."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from app.models import AuditEvent, Proposal, ProposalFinancial
from app.web.forms import money_text
from tests.api.test_web_forms import error_next_to
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"
Y1, Y2, Y3 = "2022-23", "2023-24", "2024-25"


@pytest.fixture
def proposer(client, factory):
    user = factory.user("proposer")
    assert sign_in(client, user.email).status_code == 303
    return user


@pytest.fixture
def cycle(factory, admin):
    return factory.cycle(admin)


def form_of(client, url: str) -> dict[str, str]:
    page = client.get(url)
    assert page.status_code == 200, page.text[:300]
    return {
        "csrf_token": csrf_of(page.text),
        **dict(re.findall(r'name="(version|cycle_id)" value="([^"]*)"', page.text)),
    }


def lines_of(db, pid: int) -> dict[str, tuple[str, str]]:
    with db.unit_of_work() as s:
        rows = s.scalars(select(ProposalFinancial).where(ProposalFinancial.proposal_id == pid))
        return {f.year: (f"{f.cost:f}", f"{f.saving:f}") for f in rows}


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def summary_links(page: str) -> list[tuple[str, str]]:
    box = re.search(r'<div class="error-summary".*?</ul>', page, re.S)
    return (
        [(h, html.unescape(t).strip()) for h, t in re.findall(r'<a href="([^"]+)">([^<]+)</a>', box.group(0))]
        if box
        else []
    )


# The one completeness rule, as the API sees it


def patch(client, actor, pid: int, body: dict):
    version = client.get(f"{API}/proposals/{pid}", headers=actor.headers).json()["version"]
    return client.patch(f"{API}/proposals/{pid}", headers=actor.headers, json=body | {"version": version})


def test_api_saves_a_draft_with_only_a_title_and_refuses_to_submit_it_incomplete(
    client, factory, admin, cycle
):
    proposer = factory.user("proposer")
    r = client.post(
        f"{API}/proposals",
        headers=proposer.headers,
        json={"cycle_id": cycle["id"], "title": "Body cameras", "status": "draft"},
    )
    assert r.status_code == 201, r.text
    draft = r.json()
    assert (draft["capability"], draft["kind"], draft["lead"], draft["status"]) == ("", None, "", "draft")
    r = patch(
        client,
        proposer,
        draft["id"],
        {"status": "submitted", "capability": "Estates"},
    )
    assert r.status_code == 422
    assert [(e["loc"], e["type"]) for e in r.json()["errors"]] == [
        (["body", "kind"], "missing"),
        (["body", "lead"], "missing"),
    ]
    assert (
        client.get(f"{API}/proposals/{draft['id']}", headers=proposer.headers).json()["capability"] == ""
    )  # nothing kept
    r = client.post(
        f"{API}/proposals", headers=proposer.headers, json={"cycle_id": cycle["id"], "title": "Straight in"}
    )
    assert r.status_code == 422  # submitted is the default status: all three listed at once
    assert [e["loc"][-1] for e in r.json()["errors"]] == ["capability", "kind", "lead"]
    r = patch(
        client,
        proposer,
        draft["id"],
        {"status": "submitted", "capability": "Estates", "kind": "efficiency", "lead": "Ms Lead"},
    )
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    submitted = r.json()
    r = patch(client, proposer, draft["id"], {"lead": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == [
        "body",
        "lead",
    ]  # still complete afterwards
    r = patch(client, proposer, draft["id"], {"kind": None})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "kind"]
    got = client.get(f"{API}/proposals/{draft['id']}", headers=proposer.headers).json()
    assert (got["lead"], got["kind"], got["version"]) == ("Ms Lead", "efficiency", submitted["version"])


def test_a_draft_may_clear_its_kind_and_the_change_is_audited(client, factory, db, cycle):
    proposer = factory.user("proposer")
    p = factory.proposal(proposer, cycle, status="draft")
    r = patch(client, proposer, p["id"], {"kind": None})
    assert r.status_code == 200 and r.json()["kind"] is None
    with db.unit_of_work() as s:
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "proposal.updated", AuditEvent.entity_id == str(p["id"])
            )
        ).one()
        assert event.changes["kind"] == {"before": "investment", "after": None}


# The web form


def test_enter_saves_a_title_only_draft_and_the_form_comes_back_with_totals(client, proposer, cycle, db):
    page = client.get(f"/proposals/new?cycle_id={cycle['id']}").text
    buttons = re.findall(
        r'<button type="submit" name="action" value="(\w+)"', page.split('action="/proposals/new"')[1]
    )
    assert buttons[0] == "draft"  # the first button is the one Enter presses
    form = form_of(client, f"/proposals/new?cycle_id={cycle['id']}")
    r = client.post(
        "/proposals/new", data=form | {"title": "Body cameras", "action": "draft"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?saved=1")
    pid = int(r.headers["location"].split("/")[2])
    with db.unit_of_work() as s:
        p = s.get(Proposal, pid)
        assert (p.title, p.status, p.kind, p.capability) == ("Body cameras", "draft", None, "")
    page = client.get(r.headers["location"]).text
    assert 'id="saved-banner"' in page and "Draft saved." in page and "Submitted" not in page
    assert 'value="Body cameras"' in page and f'id="cost_{Y1}" name="cost_{Y1}" value="£0.00"' in page


def test_money_is_shown_and_read_as_people_write_it_with_totals_worked_out_on_save(
    client, proposer, cycle, db
):
    form = form_of(client, f"/proposals/new?cycle_id={cycle['id']}")
    typed = {
        f"cost_{Y1}": "£1,250,000",
        f"saving_{Y1}": "250 000.50",
        f"cost_{Y2}": " 1000 ",
        f"saving_{Y3}": "£5",
    }
    r = client.post(
        "/proposals/new", data=form | {"title": "Estates", "action": "draft"} | typed, follow_redirects=False
    )
    assert r.status_code == 303
    pid = int(r.headers["location"].split("/")[2])
    lines = lines_of(db, pid)
    assert lines == {Y1: ("1250000.00", "250000.50"), Y2: ("1000.00", "0.00"), Y3: ("0.00", "5.00")}
    page = client.get(f"/proposals/{pid}/edit").text
    assert 'value="£1,250,000.00"' in page and 'value="£250,000.50"' in page
    assert re.search(rf'id="net-{Y1}"[^>]*>£999,999.50<', page)
    assert re.search(rf'id="net-{Y3}"[^>]*>-£5.00<', page)
    assert re.search(r'id="total-cost"[^>]*>£1,251,000.00<', page)
    assert re.search(r'id="total-net"[^>]*>£1,000,994.50<', page)
    # Saved again unchanged, as shown: the amounts read back to the same pence.
    form = form_of(client, f"/proposals/{pid}/edit")
    shown = dict(re.findall(r'name="((?:cost|saving)_[0-9-]+)" value="([^"]*)"', page))
    r = client.post(
        f"/proposals/{pid}/edit",
        data=form | shown | {"title": "Estates", "action": "draft"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert lines_of(db, pid) == lines


def test_a_bad_amount_keeps_what_was_typed_names_the_field_and_saves_nothing(client, proposer, cycle, db):
    form = form_of(client, f"/proposals/new?cycle_id={cycle['id']}")
    typed = {
        "title": "Kept",
        "capability": "People",
        f"cost_{Y2}": "12,50",
        f"saving_{Y1}": "-3",
        "action": "draft",
    }
    r = client.post("/proposals/new", data=form | typed)
    assert r.status_code == 422
    assert error_next_to(r.text, f"cost_{Y2}") == f"Enter the cost for {Y2} in pounds, like 1,250,000."
    assert error_next_to(r.text, f"saving_{Y1}") == f"Enter a saving for {Y1} of £0 or more."
    assert ("#cost_2023-24", f"Enter the cost for {Y2} in pounds, like 1,250,000.") in summary_links(r.text)
    assert 'value="12,50"' in r.text and 'value="People"' in r.text
    assert re.search(r'id="total-net"[^>]*>–<', r.text)  # a total of unreadable amounts is not guessed
    with db.unit_of_work() as s:
        assert s.scalars(select(Proposal).where(Proposal.title == "Kept")).first() is None


def test_submit_lists_every_missing_field_linked_then_check_your_answers_then_submitted(
    client, proposer, cycle, db
):
    form = form_of(client, f"/proposals/new?cycle_id={cycle['id']}")
    r = client.post(
        "/proposals/new",
        data=form | {"title": "Drones", "action": "submit", f"cost_{Y1}": "£2,000"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?submit=1")
    pid = int(r.headers["location"].split("/")[2])
    page = client.get(r.headers["location"]).text
    assert summary_links(page) == [
        ("#capability", "Enter the capability."),
        ("#kind", "Select a kind."),
        ("#lead", "Enter the capability lead."),
    ]
    assert error_next_to(page, "kind") == "Select a kind." and "Your draft is saved." in page
    # The check page refuses to submit while anything is missing, and says what, linked to the form.
    page = client.get(f"/proposals/{pid}/check").text
    assert (f"/proposals/{pid}/edit#lead", "Enter the capability lead.") in summary_links(page)
    assert 'id="submit-proposal"' not in page
    form = form_of(client, f"/proposals/{pid}/edit")
    r = client.post(
        f"/proposals/{pid}/check", data={"csrf_token": form["csrf_token"], "version": form["version"]}
    )
    assert r.status_code == 422 and "Enter the capability." in r.text
    with db.unit_of_work() as s:
        assert s.get(Proposal, pid).status == "draft"

    complete = {
        "title": "Drones",
        "capability": "Air support",
        "kind": "investment",
        "lead": "Insp Sky",
        "action": "submit",
    }
    complete |= {f"cost_{Y1}": "£2,000", f"saving_{Y2}": "500", "sa_3": "Shares the airframes."}
    r = client.post(f"/proposals/{pid}/edit", data=form | complete, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/proposals/{pid}/check"
    page = client.get(r.headers["location"]).text
    words = text_of(page)
    assert (
        "Air support" in words
        and "Investment" in words
        and "Insp Sky" in words
        and "Shares the airframes." in words
    )
    assert re.search(r'id="check-total-net">£1,500.00<', page)
    assert words.count("Not given") == 12 - 1 + 1  # eleven self-assessments and the summary
    assert len(re.findall(r">Change<span", page)) == 6 + 3 + 12
    assert f'href="/proposals/{pid}/edit#sa_12"' in page and f'href="/proposals/{pid}/edit#cost_{Y3}"' in page
    form = form_of(client, f"/proposals/{pid}/check")
    r = client.post(f"/proposals/{pid}/check", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/proposals/{pid}?submitted=1"
    page = client.get(r.headers["location"]).text
    banner = re.search(
        r'<div class="notice success banner" role="status" id="submitted-banner">(.*?)</div>', page, re.S
    )
    assert banner and "<h2>Submitted</h2>" in banner.group(1) and "Saved" not in page
    with db.unit_of_work() as s:
        assert s.get(Proposal, pid).status == "submitted"
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(pid))).all()
    assert actions.count("proposal.created") == 1 and actions.count("proposal.updated") == 2
    assert (
        client.get(f"/proposals/{pid}/check", follow_redirects=False).headers["location"]
        == f"/proposals/{pid}"
    )


def test_a_submitted_proposal_is_edited_with_save_changes_and_stays_complete(
    client, proposer, factory, cycle
):
    p = factory.proposal(proposer, cycle)
    page = client.get(f"/proposals/{p['id']}/edit").text
    assert 'id="save-changes"' in page and 'id="check-submit"' not in page and 'value="£100,000.00"' in page
    form = form_of(client, f"/proposals/{p['id']}/edit")
    body = {"title": p["title"], "capability": "", "kind": "investment", "lead": "Someone", "action": "save"}
    r = client.post(f"/proposals/{p['id']}/edit", data=form | body)
    assert r.status_code == 422 and error_next_to(r.text, "capability") == "Enter the capability."
    r = client.post(
        f"/proposals/{p['id']}/edit", data=form | body | {"capability": "Estates"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/proposals/{p['id']}?saved=1"
    assert (
        client.get(f"{API}/proposals/{p['id']}", headers=proposer.headers).json()["capability"] == "Estates"
    )


def test_a_stale_submit_says_so_and_submits_nothing(client, proposer, factory, cycle):
    p = factory.proposal(proposer, cycle, status="draft")
    form = form_of(client, f"/proposals/{p['id']}/check")
    patch(client, proposer, p["id"], {"summary": "Changed elsewhere."})
    r = client.post(f"/proposals/{p['id']}/check", data=form)
    assert r.status_code == 409 and "Changed elsewhere." in r.text and 'id="submit-proposal"' in r.text
    assert client.get(f"{API}/proposals/{p['id']}", headers=proposer.headers).json()["status"] == "draft"


def test_one_money_reader_for_every_web_form_the_cycle_budget_table_too():
    from app.web.cycle_pages import check_table

    years, budgets, errors = check_table(
        {"years": ["2026-27", "2027-28"], "budgets": ["£1 250 000", "2\u00a0000.50"]}, years_editable=True
    )
    assert errors == {} and {y: f"{b:f}" for y, b in budgets.items()} == {
        "2026-27": "1250000.00",
        "2027-28": "2000.50",
    }
    assert money_text(" £1 250\u202f000.00\t") == "£1250000.00"


def test_the_proposals_list_leads_a_proposer_back_to_their_draft(client, proposer, cycle, factory, admin):
    form = form_of(client, f"/proposals/new?cycle_id={cycle['id']}")
    r = client.post(
        "/proposals/new", data=form | {"title": "Drones", "action": "draft"}, follow_redirects=False
    )
    pid = int(r.headers["location"].split("/")[2])
    other = factory.proposal(admin, cycle)  # a submitted proposal of someone else's: to read, not to edit
    page = client.get(f"/proposals?cycle_id={cycle['id']}").text
    assert f'<a href="/proposals/{pid}/edit">Continue draft' in page
    assert f"/proposals/{other['id']}" not in page  # a proposer lists only their own
    sign_in(client, admin.email)
    page = client.get(f"/proposals?cycle_id={cycle['id']}").text
    assert f'<a href="/proposals/{other["id"]}">View' in page  # submitted: read, not continued
