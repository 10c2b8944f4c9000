"""The scorer, end to end in a real browser: the to-do list and its filter, a submission with one principle
unanswered (the inline error and the summary's link to it), the corrected submission, Score next, the
other member's scores once the blind rule lifts, the proposal's money always in reach, and a conflict
declared; every page at 320 and 375 px without sideways scrolling. Screenshots in screenshots/scorer/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import (
    AXE_SCRIPT,
    PASSWORD,
    SCREENSHOTS,
    api_ok,
    api_open_cycle,
    api_token,
    axe_violations,
    own_user_signed_in,
)

API = "/api/v1"
SHOTS = SCREENSHOTS / "scorer"
TITLES = {
    "S-1": "Shared forensic hub",
    "S-2": "Digital intelligence desk",
    "S-3": "Regional estate merger",
    "S-4": "Fleet telematics",
}


def shot(page, name: str, found: list[str]) -> None:
    """The viewport only (small files), at the page's current width; and axe-core's WCAG A and AA rules
    on the page in that state (the banners, the error state and the others' scores included)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    found.extend(axe_violations(page, name))


@pytest.fixture
def scorer_world(page, live_server):
    """A cycle of its own in scoring: four proposals on a panel of two, this test's scorer signed in; the
    other member submitted S-1 (2 on every principle, 5 on principle 3) and S-2."""
    base, api = live_server["base"], page.request
    own_user_signed_in(page, base, "scorer-e2e@example.org", "Sam Scorer", ["scorer"])
    admin = api_token(api, base, "admin@example.org")
    other = api_ok(
        api.post(
            f"{base}{API}/users",
            headers=admin,
            data={
                "email": "scorer-e2e-other@example.org",
                "full_name": "Olu Other",
                "password": PASSWORD,
                "roles": ["scorer"],
            },
        )
    )
    me = api_ok(api.get(f"{base}{API}/users/me", headers=api_token(api, base, "scorer-e2e@example.org")))
    years = ["2025-26", "2026-27"]
    cycle = api_open_cycle(
        api, base, admin, {"name": "Scorer end to end", "financial_years": years, "reference_prefix": "S"}
    )
    ids = {}
    for i, (ref, title) in enumerate(TITLES.items()):
        p = api_ok(
            api.post(
                f"{base}{API}/proposals",
                headers=admin,
                data={
                    "cycle_id": cycle["id"],
                    "reference": ref,
                    "title": title,
                    "capability": "Forensics",
                    "kind": "efficiency",
                    "lead": "DCI Example",
                    "summary": f"{title}: one service for the region's forces, replacing four local ones.",
                    "financials": [
                        {"year": years[0], "cost": f"{250000 + 1000 * i}.00", "saving": "40000.50"},
                        {"year": years[1], "cost": "120000.00", "saving": "90000.00"},
                    ],
                },
            )
        )
        ids[ref] = p["id"]
    api_ok(
        api.post(
            f"{base}{API}/cycles/{cycle['id']}/panels",
            headers=admin,
            data={
                "name": "End-to-end panel",
                "member_ids": [me["id"], other["id"]],
                "proposal_ids": list(ids.values()),
            },
        )
    )
    api_ok(api.post(f"{base}{API}/cycles/{cycle['id']}/transition", headers=admin, data={"to": "scoring"}))
    theirs = api_token(api, base, "scorer-e2e-other@example.org")
    for ref in ("S-1", "S-2"):
        scores = [
            {"principle": k, "score": 5 if k == 3 else 2, "rationale": "Other's view"} for k in range(1, 13)
        ]
        api_ok(
            api.put(
                f"{base}{API}/proposals/{ids[ref]}/scorecard",
                headers=theirs,
                data={"scores": scores, "submit": True},
            )
        )
    return {"base": base, "ids": ids}


def no_sideways_scroll(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def columns_in_view(page) -> bool:
    """Every to-do row's status and action cells end inside the window (no scrolling to reach them)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('table.todo td.status, table.todo td.action')]
            .every(td => td.getBoundingClientRect().right <= window.innerWidth + 0.5)"""
    )


def test_scorer_end_to_end(page, scorer_world):
    base, ids = scorer_world["base"], scorer_world["ids"]
    page.context.add_init_script(AXE_SCRIPT)  # into each page as it loads, outside the page's CSP
    found: list[str] = []
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/")
    main = page.locator("main")
    assert "0 of 4 submitted" in main.inner_text()
    statuses = page.locator("table.todo td.status").all_inner_texts()
    assert statuses == ["To do"] * 4
    shot(page, "my-work-1280", found)

    # the filter is a GET form: its choices are in the address and on the page
    page.get_by_label("Reference, title or capability").fill("estate")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"{base}/?*q=estate*")
    assert page.locator("table.todo tbody tr").count() == 1
    assert "Showing 1 of 4 proposals." in main.inner_text()
    page.get_by_role("link", name="Clear filter").click()
    assert page.locator("table.todo tbody tr").count() == 4

    # S-1 with principle 7 left unanswered
    page.get_by_role("link", name="Score S-1").click()
    page.wait_for_url(f"{base}/proposals/{ids['S-1']}/score")
    assert page.locator("#blind").is_visible() and "Other's view" not in page.content()
    for k in range(1, 13):
        if k != 7:
            page.locator(f"input[name=score_{k}][value='{4 if k == 2 else 3}']").check()
    page.get_by_label("Rationale for principle 2").fill("Clear benefit")
    page.get_by_role("button", name="Submit scorecard").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    link = summary.get_by_role("link", name="Select a score for principle 7, or mark it not applicable.")
    assert link.count() == 1
    inline = page.locator("#score_7-error")
    assert inline.is_visible() and "Select a score for principle 7" in inline.inner_text()
    assert page.locator("input[name=score_2][value='4']").is_checked()  # kept
    assert page.get_by_label("Rationale for principle 2").input_value() == "Clear benefit"
    link.click()
    assert page.evaluate("() => document.activeElement.id") == "score_7"
    shot(page, "score-error-1280", found)

    # the money stays in reach: the side panel is sticky while the form scrolls
    page.mouse.wheel(0, 4000)
    page.wait_for_function("() => window.scrollY > 2000")
    aside = page.locator("aside.proposal-aside")
    box = aside.bounding_box()
    assert aside.is_visible() and 0 <= box["y"] < 900, box
    assert "£239,999.50" in aside.inner_text()  # net over both years: 370,000.00 − 130,000.50
    shot(page, "score-sticky-summary-1280", found)

    page.locator("input[name=score_7][value='na']").check()
    page.get_by_label("Rationale for principle 7").fill("No digital element")
    page.get_by_role("button", name="Submit scorecard").click()
    page.wait_for_url(f"{base}/proposals/{ids['S-1']}/score?saved=submitted")
    banner = page.locator("#submitted-banner")
    assert "Scorecard for S-1 submitted" in banner.inner_text()
    # the blind rule lifts: the other member's scores, and the spread per principle
    others = page.locator("table.others")
    assert others.is_visible()
    assert others.locator("thead th").all_inner_texts() == ["Principle", "You", "Member A", "Spread"]
    assert (
        others.locator("tbody th").first.inner_text() == "1 Develop threat agnostic capabilities and services"
    )
    assert others.locator("tbody tr").nth(2).locator("td").all_inner_texts() == ["3", "5", "2"]
    assert others.locator("tbody tr").nth(6).locator("td").all_inner_texts() == ["N/A", "2", "0"]
    shot(page, "score-submitted-1280", found)
    next_button = banner.get_by_role("link", name="Score next: S-2 Digital intelligence desk")
    next_button.click()
    page.wait_for_url(f"{base}/proposals/{ids['S-2']}/score")

    # a conflict on S-4 ends on a banner naming it
    page.goto(f"{base}/proposals/{ids['S-4']}/score")
    page.locator("#conflict_type").select_option("personal")
    page.get_by_label("Reason").fill("I led the fleet review")
    page.get_by_role("button", name="Declare conflict").click()
    page.wait_for_url(f"{base}/?conflict={ids['S-4']}*")
    assert "Conflict declared for S-4 Fleet telematics" in page.locator("#conflict-banner").inner_text()
    assert page.locator("table.todo td.status").all_inner_texts() == [
        "To do",
        "To do",
        "Submitted",
        "Conflict declared",
    ]
    assert "1 of 3 submitted" in main.inner_text()
    shot(page, "my-work-conflict-1280", found)

    # narrow screens: nothing scrolls sideways, status and action stay in view, the money is a details block
    for width in (375, 320):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{base}/")
        assert no_sideways_scroll(page) <= 1, width
        assert columns_in_view(page), width
        if width == 375:
            shot(page, "my-work-375", found)
        page.goto(f"{base}/proposals/{ids['S-2']}/score")
        assert no_sideways_scroll(page) <= 1, width
        assert not page.locator("aside.proposal-aside").is_visible()
        details = page.locator("details.proposal-summary")
        details.locator("summary").click()
        assert "£240,999.50" in details.inner_text()  # S-2's net over both years
        assert no_sideways_scroll(page) <= 1, width
        if width == 375:
            shot(page, "score-375", found)
        page.goto(f"{base}/proposals/{ids['S-1']}/score")
        assert no_sideways_scroll(page) <= 1, width
        if width == 375:
            shot(page, "score-submitted-375", found)
    assert found == [], "\n".join(found)
