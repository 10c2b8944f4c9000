"""Panels on the web: the list per cycle, a new panel, and the chair's management page (rename, members,
proposals, conflicts), each change made and audited by the panels service; on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, Conflict, Panel, User
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"


def error_next_to(page: str, name: str) -> str:
    found = re.search(rf'id="{re.escape(name)}-error"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>|Error:", "", found.group(1))).strip() if found else ""


def banner(page: str) -> str:
    found = re.search(r'id="changed-banner"[^>]*>.*?<p>(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def panel_row(db, panel_id: int) -> dict:
    with db.unit_of_work(write=False) as s:
        p = s.get(Panel, panel_id)
        return {"name": p.name, "members": p.member_ids, "proposals": p.proposal_ids, "version": p.version}


def audits(db, action: str) -> int:
    with db.unit_of_work(write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def name_of(db, user_id: int) -> str:
    with db.unit_of_work(write=False) as s:
        return s.get(User, user_id).full_name


def version_on(page: str) -> str:
    return re.search(r'name="version" value="([0-9]+)"', page).group(1)


@pytest.fixture
def setup(client, factory, admin):
    """A cycle with three proposals, a chair, three scorers (one conflicted on the first proposal), a
    proposer, and another chair's panel holding the third proposal."""
    chair, other_chair = factory.user("chair"), factory.user("chair")
    scorers = [factory.user("scorer") for _ in range(3)]
    proposer = factory.user("proposer")
    cycle = factory.cycle(admin)
    proposals = [factory.proposal(admin, cycle, title=f"Panel test {i}") for i in range(3)]
    r = client.post(
        f"{API}/proposals/{proposals[0]['id']}/conflicts",
        headers=scorers[2].headers,
        json={"type": "line_management", "reason": "Manages the lead"},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=other_chair.headers,
        json={"name": "Other panel", "proposal_ids": [proposals[2]["id"]]},
    )
    assert r.status_code == 201, r.text
    return dict(
        chair=chair,
        other_chair=other_chair,
        scorers=scorers,
        proposer=proposer,
        cycle=cycle,
        proposals=proposals,
        other_panel=r.json(),
    )


def create(client, cycle_id: int, **fields):
    page = client.get(f"/panels/new?cycle_id={cycle_id}")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_of(page.text), "cycle_id": str(cycle_id), **fields}
    return client.post("/panels/new", data=data, follow_redirects=False)


def test_a_chair_creates_a_panel_with_members_and_proposals(client, db, setup):
    s = setup
    sign_in(client, s["chair"].email)
    page = client.get(f"/panels/new?cycle_id={s['cycle']['id']}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for scorer in s["scorers"]:
        assert f'name="member_ids" value="{scorer.id}"' in page.text
    assert f'value="{s["proposer"].id}"' not in page.text  # not a scorer: not offered
    assert s["proposals"][0]["reference"] in text and s["proposals"][1]["reference"] in text
    assert f'name="proposal_ids" value="{s["proposals"][2]["id"]}"' not in page.text  # on another panel
    assert f"Conflicts known: {s['proposals'][0]['reference']}" in text  # the third scorer's

    before = audits(db, "panel.created")
    r = create(
        client,
        s["cycle"]["id"],
        name="Estates panel",
        member_ids=[str(s["scorers"][0].id), str(s["scorers"][1].id)],
        proposal_ids=[str(s["proposals"][0]["id"])],
    )
    assert r.status_code == 303, r.text
    panel_id = int(re.search(r"/panels/([0-9]+)/manage\?done=created", r.headers["location"]).group(1))
    row = panel_row(db, panel_id)
    assert row["name"] == "Estates panel"
    assert row["members"] == sorted([s["scorers"][0].id, s["scorers"][1].id])
    assert row["proposals"] == [s["proposals"][0]["id"]]
    assert audits(db, "panel.created") == before + 1
    shown = client.get(r.headers["location"])
    assert banner(shown.text) == "Panel ‘Estates panel’ created with 2 members and 1 proposal."


def test_creating_with_errors_keeps_what_was_typed_and_creates_nothing(client, db, setup):
    s = setup
    sign_in(client, s["chair"].email)
    with db.unit_of_work(write=False) as ss:
        panels_before = ss.scalar(select(func.count()).select_from(Panel))
    chosen = str(s["scorers"][1].id)

    r = create(client, s["cycle"]["id"], name="", member_ids=[chosen])
    assert r.status_code == 422
    assert error_next_to(r.text, "name") == "Enter a name for the panel."
    assert re.search(rf'value="{chosen}" id="member_ids(-{chosen})?" checked', r.text)  # kept

    r = create(client, s["cycle"]["id"], name="Kept name", member_ids=[str(s["proposer"].id)])
    assert r.status_code == 422
    assert error_next_to(r.text, "member_ids") == (
        f"{name_of(db, s['proposer'].id)} is not an active scorer, so cannot sit on a panel."
    )
    assert 'value="Kept name"' in r.text

    taken = s["proposals"][2]
    r = create(client, s["cycle"]["id"], name="Kept name", proposal_ids=[str(taken["id"])])
    assert r.status_code == 422
    assert error_next_to(r.text, "proposal_ids") == (
        f"{taken['reference']} {taken['title']} is already on panel 'Other panel'."
    )

    r = create(client, s["cycle"]["id"], name="Other panel")
    assert r.status_code == 422
    assert error_next_to(r.text, "name") == (
        "This cycle already has a panel named ‘Other panel’: choose another name."
    )
    assert 'href="#name"' in r.text  # the summary links to the field
    with db.unit_of_work(write=False) as ss:
        assert ss.scalar(select(func.count()).select_from(Panel)) == panels_before


def test_the_chair_adds_and_removes_members_and_proposals(client, db, setup):
    s = setup
    sign_in(client, s["chair"].email)
    r = create(client, s["cycle"]["id"], name="Managed", member_ids=[str(s["scorers"][0].id)])
    panel_id = int(re.search(r"/panels/([0-9]+)/manage", r.headers["location"]).group(1))
    url = f"/panels/{panel_id}/manage"
    updates = audits(db, "panel.updated")

    def post(action: str, **fields):
        page = client.get(url)
        data = {"csrf_token": csrf_of(page.text), "version": version_on(page.text), **fields}
        return client.post(f"/panels/{panel_id}/{action}", data=data, follow_redirects=False)

    newcomer = s["scorers"][1]
    r = post("members", add_member_ids=[str(newcomer.id)])
    assert r.status_code == 303, r.text
    assert panel_row(db, panel_id)["members"] == sorted([s["scorers"][0].id, newcomer.id])
    assert (
        banner(client.get(r.headers["location"]).text) == f"Added to the panel: {name_of(db, newcomer.id)}."
    )

    r = post("members/remove", user_id=str(s["scorers"][0].id))
    assert r.status_code == 303
    assert panel_row(db, panel_id)["members"] == [newcomer.id]
    removed = name_of(db, s["scorers"][0].id)
    assert banner(client.get(r.headers["location"]).text) == f"Removed from the panel: {removed}."

    first, second = s["proposals"][0], s["proposals"][1]
    r = post("proposals", add_proposal_ids=[str(first["id"]), str(second["id"])])
    assert r.status_code == 303
    assert panel_row(db, panel_id)["proposals"] == sorted([first["id"], second["id"]])
    assert banner(client.get(r.headers["location"]).text) == (
        f"Proposals added to the panel: {first['reference']} {first['title']}, "
        f"{second['reference']} {second['title']}."
    )

    r = post("proposals/remove", proposal_id=str(first["id"]))
    assert r.status_code == 303
    assert panel_row(db, panel_id)["proposals"] == [second["id"]]
    assert banner(client.get(r.headers["location"]).text) == (
        f"Proposal removed from the panel: {first['reference']} {first['title']}."
    )

    r = post("rename", name="Renamed panel")
    assert r.status_code == 303
    assert panel_row(db, panel_id)["name"] == "Renamed panel"
    assert banner(client.get(r.headers["location"]).text) == "Panel renamed to ‘Renamed panel’."
    assert audits(db, "panel.updated") == updates + 5  # each change audited by the service

    # Adding nothing, or a proposal another panel holds, is a field error; the panel is unchanged.
    r = post("members")
    assert r.status_code == 422
    assert error_next_to(r.text, "add_member_ids") == "Select at least one scorer to add."
    taken = s["proposals"][2]
    r = post("proposals", add_proposal_ids=[str(taken["id"])])
    assert r.status_code == 422
    assert error_next_to(r.text, "add_proposal_ids") == (
        f"{taken['reference']} {taken['title']} is already on panel 'Other panel'."
    )
    assert panel_row(db, panel_id)["proposals"] == [second["id"]]


def test_a_change_made_from_an_out_of_date_page_is_refused(client, db, setup):
    s = setup
    sign_in(client, s["chair"].email)
    r = create(client, s["cycle"]["id"], name="Raced", member_ids=[str(s["scorers"][0].id)])
    panel_id = int(re.search(r"/panels/([0-9]+)/manage", r.headers["location"]).group(1))
    page = client.get(f"/panels/{panel_id}/manage")
    token, old = csrf_of(page.text), version_on(page.text)
    r = client.post(
        f"/panels/{panel_id}/rename",
        data={"csrf_token": token, "version": old, "name": "First"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/panels/{panel_id}/members",
        data={"csrf_token": token, "version": old, "add_member_ids": str(s["scorers"][1].id)},
    )
    assert r.status_code == 409
    assert "Someone else changed this panel after you opened the page." in html.unescape(r.text)
    assert panel_row(db, panel_id)["members"] == [s["scorers"][0].id]
    assert version_on(r.text) != old  # the page shown again is the panel as it is now


def test_only_the_panels_chair_or_an_admin_manages_it(app, client, db, setup):
    from fastapi.testclient import TestClient

    s = setup
    panel = s["other_panel"]
    url = f"/panels/{panel['id']}/manage"
    sign_in(client, s["chair"].email)  # a chair, but not of this panel
    assert client.get(url).status_code == 403
    token = csrf_of(client.get("/panels").text)
    r = client.post(
        f"/panels/{panel['id']}/rename", data={"csrf_token": token, "version": "1", "name": "Taken over"}
    )
    assert r.status_code == 403
    r = client.post(
        f"/panels/{panel['id']}/proposals/remove",
        data={"csrf_token": token, "version": "1", "proposal_id": str(s["proposals"][2]["id"])},
    )
    assert r.status_code == 403
    assert panel_row(db, panel["id"])["name"] == "Other panel"
    assert panel_row(db, panel["id"])["proposals"] == [s["proposals"][2]["id"]]

    scorer = TestClient(app, raise_server_exceptions=False)
    sign_in(scorer, s["scorers"][0].email)
    assert scorer.get("/panels/new").status_code == 403
    assert scorer.get(url).status_code == 403

    admin = TestClient(app, raise_server_exceptions=False)
    sign_in(admin, "admin@example.org")
    assert admin.get(url).status_code == 200


def test_the_panels_list_per_cycle(app, client, factory, admin, db, setup):
    from fastapi.testclient import TestClient

    s = setup
    newer = factory.cycle(admin)
    r = client.post(
        f"{API}/cycles/{newer['id']}/panels",
        headers=s["chair"].headers,
        json={"name": "Newer panel", "member_ids": [s["scorers"][0].id]},
    )
    assert r.status_code == 201, r.text
    sign_in(client, admin.email)
    page = html.unescape(client.get("/panels").text)  # the newest cycle by default
    assert "Newer panel" in page and "Other panel" not in page
    page = html.unescape(client.get(f"/panels?cycle_id={s['cycle']['id']}").text)
    assert "Other panel" in page and "Newer panel" not in page
    assert "0 of 0 scorecards submitted" in page  # progress, for an admin
    assert f'href="/panels/{s["other_panel"]["id"]}/manage"' in page
    assert f'href="/panels/new?cycle_id={s["cycle"]["id"]}"' in page
    assert client.get("/panels?cycle_id=999999").status_code == 404

    scorer = TestClient(app, raise_server_exceptions=False)
    sign_in(scorer, s["scorers"][0].email)
    page = html.unescape(scorer.get(f"/panels?cycle_id={newer['id']}").text)
    assert "Newer panel" in page and "/manage" not in page and "New panel" not in page
    assert "Shown to the panel's chair" in page
    page = html.unescape(scorer.get(f"/panels?cycle_id={s['cycle']['id']}").text)
    assert "You neither chair nor sit on a panel in this cycle." in page
    assert '<a href="/panels">Panels</a>' in page  # in the navigation

    proposer = TestClient(app, raise_server_exceptions=False)
    sign_in(proposer, s["proposer"].email)
    page = proposer.get(f"/panels?cycle_id={newer['id']}")
    assert page.status_code == 200 and "Newer panel" not in page.text
    assert '<a href="/panels">Panels</a>' not in page.text


def test_conflicts_are_listed_and_the_chair_records_one(client, db, setup):
    s = setup
    sign_in(client, s["chair"].email)
    first, second = s["proposals"][0], s["proposals"][1]
    member, conflicted = s["scorers"][0], s["scorers"][2]
    r = create(
        client,
        s["cycle"]["id"],
        name="Conflicts",
        member_ids=[str(member.id), str(conflicted.id)],
        proposal_ids=[str(first["id"]), str(second["id"])],
    )
    panel_id = int(re.search(r"/panels/([0-9]+)/manage", r.headers["location"]).group(1))
    url = f"/panels/{panel_id}/manage"
    page = html.unescape(client.get(url).text)
    section = page.split('id="conflicts"', 1)[1]
    assert "Conflicts of interest (1)" in page
    assert "Manages the lead" in section and f"{first['reference']} {first['title']}" in section
    assert "Line management" in section and "(declared)" in section

    token = csrf_of(page)
    base = {
        "csrf_token": token,
        "conflict_user_id": str(member.id),
        "conflict_proposal_id": str(second["id"]),
    }
    r = client.post(f"/panels/{panel_id}/conflicts", data=base | {"conflict_type": "financial"})
    assert r.status_code == 422
    assert error_next_to(r.text, "conflict_reason") == "Give the reason for the conflict, in a few words."
    r = client.post(
        f"/panels/{panel_id}/conflicts",
        data=base | {"conflict_user_id": str(s["proposer"].id), "conflict_reason": "Shares a budget"},
    )
    assert r.status_code == 422
    assert error_next_to(r.text, "conflict_user_id") == (
        "Select the member of this panel who has the conflict."
    )
    assert error_next_to(r.text, "conflict_type") == "Select the kind of conflict."
    assert "Shares a budget" in r.text  # typed text kept

    recorded = audits(db, "conflict.recorded")
    good = base | {"conflict_type": "financial", "conflict_reason": "Holds shares in the supplier"}
    r = client.post(f"/panels/{panel_id}/conflicts", data=good, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = html.unescape(client.get(r.headers["location"]).text)
    assert banner(page) == (
        f"Conflict of interest recorded: {name_of(db, member.id)} on {second['reference']} {second['title']}."
    )
    assert "Conflicts of interest (2)" in page and "Holds shares in the supplier" in page
    assert audits(db, "conflict.recorded") == recorded + 1
    with db.unit_of_work(write=False) as ss:
        row = ss.scalar(select(Conflict).where(Conflict.user_id == member.id))
        assert (row.proposal_id, row.type, row.recorded_by_id) == (second["id"], "financial", s["chair"].id)

    r = client.post(f"/panels/{panel_id}/conflicts", data=good)
    assert r.status_code == 409
    assert error_next_to(r.text, "conflict_user_id").endswith(
        f"already has a conflict recorded on {second['reference']}."
    )


def test_ids_are_unique_on_the_panel_pages(client, setup):
    s = setup
    sign_in(client, s["chair"].email)
    r = create(
        client,
        s["cycle"]["id"],
        name="Unique ids",
        member_ids=[str(s["scorers"][0].id), str(s["scorers"][2].id)],
        proposal_ids=[str(s["proposals"][0]["id"])],
    )
    manage = r.headers["location"].split("?")[0]
    for path in ("/panels", f"/panels?cycle_id={s['cycle']['id']}", "/panels/new", manage):
        page = client.get(path)
        assert page.status_code == 200, path
        ids = Counter(re.findall(r'\sid="([^"]+)"', page.text))
        assert [i for i, n in ids.items() if n > 1] == [], path


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_management_page_reads_in_the_same_statements_whatever_the_panel_size(
    client, factory, admin, db, setup
):
    """Conflicts are read for all the panel's proposals at once, not proposal by proposal."""
    from tests.api.test_query_counts import Statements

    s = setup
    sign_in(client, s["chair"].email)
    r = create(client, s["cycle"]["id"], name="Grows", proposal_ids=[str(s["proposals"][0]["id"])])
    panel_id = int(re.search(r"/panels/([0-9]+)/manage", r.headers["location"]).group(1))
    url = f"/panels/{panel_id}/manage"

    def statements() -> int:
        client.get(url)
        with Statements(db) as counted:
            assert client.get(url).status_code == 200
        return counted.count

    small = statements()
    more = [factory.proposal(admin, s["cycle"], title=f"More {i}")["id"] for i in range(8)]
    for i, pid in enumerate(more):
        r = client.post(  # each with a conflict declared by a member of its own
            f"{API}/proposals/{pid}/conflicts",
            headers=s["scorers"][i % 3].headers,
            json={"type": "other", "reason": "Counted"},
        )
        assert r.status_code == 201, r.text
    page = client.get(url)
    r = client.post(
        f"/panels/{panel_id}/proposals",
        data={"csrf_token": csrf_of(page.text), "version": version_on(page.text), "add_proposal_ids": more},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert statements() == small
    assert "Conflicts of interest (9)" in html.unescape(client.get(url).text)


def test_an_admin_hands_a_panel_to_another_chair(app, client, admin, db, setup):
    from fastapi.testclient import TestClient

    s = setup
    panel = s["other_panel"]
    url = f"/panels/{panel['id']}/manage"
    chair = TestClient(app, raise_server_exceptions=False)
    sign_in(chair, s["other_chair"].email)
    page = chair.get(url)
    assert 'action="/panels/{}/chair"'.format(panel["id"]) not in page.text  # a chair cannot
    r = chair.post(
        f"/panels/{panel['id']}/chair",
        data={
            "csrf_token": csrf_of(page.text),
            "version": version_on(page.text),
            "chair_id": str(s["chair"].id),
        },
    )
    assert r.status_code == 403

    sign_in(client, admin.email)
    page = client.get(url)
    token, version = csrf_of(page.text), version_on(page.text)
    r = client.post(
        f"/panels/{panel['id']}/chair",
        data={"csrf_token": token, "version": version, "chair_id": str(s["scorers"][0].id)},
    )
    assert r.status_code == 422
    assert error_next_to(r.text, "chair_id") == (
        "Choose the chair from the list: they must have the chair or admin role."
    )
    r = client.post(
        f"/panels/{panel['id']}/chair",
        data={"csrf_token": token, "version": version, "chair_id": str(s["chair"].id)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with db.unit_of_work(write=False) as ss:
        assert ss.get(Panel, panel["id"]).chair_id == s["chair"].id
    shown = client.get(r.headers["location"]).text
    assert banner(shown) == f"The panel is now chaired by {name_of(db, s['chair'].id)}."
    assert chair.get(url).status_code == 403  # the former chair no longer manages it


def test_a_closed_cycles_panel_is_shown_but_no_longer_changes(client, admin, db, setup):
    s = setup
    panel = s["other_panel"]
    for step in ("scoring", "moderation", "closed"):
        r = client.post(
            f"{API}/cycles/{s['cycle']['id']}/transition", json={"to": step}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
    sign_in(client, s["other_chair"].email)
    page = client.get(f"/panels/{panel['id']}/manage")
    assert page.status_code == 200
    assert "The cycle is closed: this panel can no longer change." in html.unescape(page.text)
    assert 'action="/panels/' not in page.text  # no form to change it
    assert "New panel" not in client.get(f"/panels?cycle_id={s['cycle']['id']}").text
    r = client.post(
        f"/panels/{panel['id']}/rename",
        data={"csrf_token": csrf_of(page.text), "version": str(panel["version"]), "name": "Too late"},
    )
    assert r.status_code == 409
    assert f"Cycle {s['cycle']['id']} is closed." in r.text
    assert panel_row(db, panel["id"])["name"] == "Other panel"
    r = client.get(f"/panels/new?cycle_id={s['cycle']['id']}")
    assert r.status_code == 409
    assert "its panels can no longer change" in html.unescape(r.text)
    assert 'action="/panels/new"' not in r.text
