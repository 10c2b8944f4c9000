"""Panels in a real browser, as a chair end to end: the panels list, a new panel refused without a name
(the summary's link to the field) and then created, a proposal added, a member removed and another
member's conflict recorded, each with its banner; the pages at 1280 and 375 px without sideways
scrolling. Screenshots in screenshots/chair/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import (
    PASSWORD,
    SCREENSHOTS,
    api_ok,
    api_open_cycle,
    api_token,
    own_user_signed_in,
    viewport_shot,
)

API = "/api/v1"
SHOTS = SCREENSHOTS / "chair"


def sideways(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def chair_world(page, live_server):
    """A cycle of its own, open, with three proposals and three scorers of its own (one a proposer's
    line manager on P-1, declared); this test's chair signed in."""
    base, api = live_server["base"], page.request
    admin = api_token(api, base, "admin@example.org")
    scorers = {}
    for email, name in [
        ("panel-ada@example.org", "Ada Achebe"),
        ("panel-ben@example.org", "Ben Brook"),
        ("panel-cat@example.org", "Cat Cole"),
    ]:
        scorers[name] = api_ok(
            api.post(
                f"{base}{API}/users",
                headers=admin,
                data={"email": email, "full_name": name, "password": PASSWORD, "roles": ["scorer"]},
            )
        )
    cycle = api_open_cycle(
        api,
        base,
        admin,
        {"name": "Panels end to end", "financial_years": ["2025-26"], "reference_prefix": "P"},
    )
    ids = {}
    for ref, title in [("P-1", "Custody suite merger"), ("P-2", "Shared fleet"), ("P-3", "Body-worn video")]:
        ids[ref] = api_ok(
            api.post(
                f"{base}{API}/proposals",
                headers=admin,
                data={
                    "cycle_id": cycle["id"],
                    "reference": ref,
                    "title": title,
                    "capability": "Estates",
                    "kind": "efficiency",
                    "lead": "DCI Example",
                    "financials": [{"year": "2025-26", "cost": "100000.00"}],
                },
            )
        )["id"]
    api_ok(
        api.post(
            f"{base}{API}/proposals/{ids['P-1']}/conflicts",
            headers=api_token(api, base, "panel-cat@example.org"),
            data={"type": "line_management", "reason": "Manages the proposal's lead"},
        )
    )
    own_user_signed_in(page, base, "panel-chair@example.org", "Pat Chair", ["chair"])
    return {"base": base, "cycle_id": cycle["id"], "ids": ids}


def test_chair_sets_up_a_panel_end_to_end(page, chair_world):
    base, cycle_id = chair_world["base"], chair_world["cycle_id"]
    page.goto(f"{base}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Panels").click()
    page.get_by_label("Cycle").select_option(label="Panels end to end (open)")
    page.get_by_role("button", name="Show panels").click()
    assert "You neither chair nor sit on a panel in this cycle." in page.inner_text("main")
    page.get_by_role("link", name="New panel").click()
    page.wait_for_url(f"{base}/panels/new?cycle_id={cycle_id}")

    # Without a name: the error summary links to the field; what was ticked stays ticked.
    page.get_by_label("Ada Achebe").check()
    page.get_by_role("button", name="Create panel").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    summary.get_by_role("link", name="Enter a name for the panel.").click()
    assert page.evaluate("() => document.activeElement.id") == "name"
    assert page.get_by_label("Ada Achebe").is_checked()
    assert "Conflicts known: P-1" in page.inner_text("main")  # Cat Cole's declared conflict
    viewport_shot(page, SHOTS, "panel-new-error-1280")

    page.get_by_label("Panel name").fill("Estates review")
    page.get_by_label("Ben Brook").check()
    page.get_by_label("Cat Cole").check()
    page.get_by_label("P-1 Custody suite merger").check()
    page.get_by_role("button", name="Create panel").click()
    page.wait_for_url(f"{base}/panels/*/manage?done=created")
    banner = page.locator("#changed-banner")
    assert banner.inner_text().endswith("Panel ‘Estates review’ created with 3 members and 1 proposal.")
    conflicts = page.locator("#conflicts + p + div table")
    assert "Cat Cole" in conflicts.inner_text() and "Manages the proposal's lead" in conflicts.inner_text()
    viewport_shot(page, SHOTS, "panel-manage-1280")

    # Add a proposal (the section opens on a click; it is a plain form without script).
    page.get_by_text("Add proposals").click()
    page.get_by_label("P-2 Shared fleet").check()
    page.get_by_role("button", name="Add selected proposals").click()
    assert banner.inner_text().endswith("Proposals added to the panel: P-2 Shared fleet.")
    assert page.get_by_role("heading", name="Proposals (2)").is_visible()

    # Remove a member.
    page.get_by_role("button", name="Remove Ben Brook from the panel").click()
    assert banner.inner_text().endswith("Removed from the panel: Ben Brook.")
    assert page.get_by_role("heading", name="Members (2)").is_visible()

    # Record Ada's conflict on P-2.
    page.get_by_text("Record a member's conflict").click()
    page.get_by_label("Member", exact=True).select_option(label="Ada Achebe")
    page.get_by_label("Proposal", exact=True).select_option(label="P-2 Shared fleet")
    page.get_by_label("Kind of conflict").select_option(label="Personal")
    page.get_by_label("Reason").fill("Her brother leads the fleet team")
    page.get_by_role("button", name="Record conflict").click()
    assert banner.inner_text().endswith("Conflict of interest recorded: Ada Achebe on P-2 Shared fleet.")
    assert page.get_by_role("heading", name="Conflicts of interest (2)").is_visible()
    assert "Her brother leads the fleet team" in page.inner_text("main")
    assert sideways(page) <= 0
    page.locator("#conflicts").scroll_into_view_if_needed()
    viewport_shot(page, SHOTS, "panel-conflicts-1280")

    # The list names the panel with its chair, counts and a link to manage it.
    page.goto(f"{base}/panels?cycle_id={cycle_id}")
    row = page.get_by_role("row", name="Estates review")
    assert "Pat Chair" in row.inner_text() and "0 of 2 scorecards submitted" in row.inner_text()
    viewport_shot(page, SHOTS, "panels-1280")

    page.set_viewport_size({"width": 375, "height": 800})
    for path, name in (
        (f"/panels?cycle_id={cycle_id}", "panels-375"),
        (f"/panels/new?cycle_id={cycle_id}", "panel-new-375"),
    ):
        page.goto(f"{base}{path}")
        assert sideways(page) <= 0, path
        viewport_shot(page, SHOTS, name)
    page.goto(f"{base}/panels?cycle_id={cycle_id}")
    page.get_by_role("link", name="Manage Estates review").click()
    assert sideways(page) <= 0
    viewport_shot(page, SHOTS, "panel-manage-375")
