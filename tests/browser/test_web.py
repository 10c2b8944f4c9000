"""What a user sees, in a real browser."""

import csv
import io

from tests.browser.conftest import shot, sign_in


def test_scorer_scores_with_one_error_corrected(page, live_server):
    base, pid = live_server["base"], live_server["proposal_ids"][0]
    sign_in(page, base, "scorer")
    assert "0 of 3" in page.locator("main").inner_text()
    shot(page, "home-scorer")
    page.get_by_role("link", name="Score B-1").click()
    page.wait_for_url(f"{base}/proposals/{pid}/score")
    # blind: the other scorer's submitted scores are not on the page
    assert "Seeded" not in page.content()
    for k in range(1, 13):
        value = "5" if k == 5 else "3"
        page.locator(f"input[name=score_{k}][value='{value}']").check()
    page.get_by_label("Rationale for principle 7").fill("Automates triage")
    page.get_by_role("button", name="Submit scorecard").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert "A rationale is required for a score of 5" in summary.inner_text()
    box = page.get_by_label("Rationale for principle 5")
    assert box.get_attribute("aria-invalid") == "true"
    assert "rationale_5-error" in box.get_attribute("aria-describedby")
    # what was typed is kept
    assert page.locator("input[name=score_5][value='5']").is_checked()
    assert page.get_by_label("Rationale for principle 7").input_value() == "Automates triage"
    shot(page, "score-error")
    box.fill("Transformational: replaces the manual process")
    page.get_by_role("button", name="Submit scorecard").click()
    page.wait_for_url(f"{base}/proposals/{pid}/score?saved=submitted")
    assert "Scorecard for B-1 submitted" in page.locator("main").inner_text()
    assert page.locator(".tag.submitted").first.is_visible()
    shot(page, "score-submitted")


def test_every_input_is_labelled_at_320px(page, live_server):
    """No page scrolls sideways at 320 px: tests/browser/test_accessibility.py checks every page for that."""
    base, pid = live_server["base"], live_server["proposal_ids"][1]
    sign_in(page, base, "scorer")
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(f"{base}/proposals/{pid}/score")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.name)""")
    assert unlabelled == []
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent")
    assert "Skip to main content" in focused
    shot(page, "score-320px")
    # My work: the status and action of every row in view without scrolling the table
    page.goto(f"{base}/")
    cut = page.evaluate("""() => [...document.querySelectorAll('table.todo td.status, table.todo td.action')]
        .filter(td => td.getBoundingClientRect().right > window.innerWidth + 0.5).length""")
    assert page.locator("table.todo td.status").count() == 3 and cut == 0


def test_heat_map_flags_disagreement(page, live_server):
    """B-3 has two submitted scorecards 3 points apart on every principle: every principle without an
    agreed (moderated) score is flagged, two cells each; an agreed one is settled and shown below."""
    base = live_server["base"]
    sign_in(page, base, "chair")
    page.goto(f"{base}/panels/1?proposal_id={live_server['proposal_ids'][2]}")
    assert page.locator("table.heat tbody tr").count() == 2
    agreed = [t for t in page.locator("table.heat tfoot td.agreed").all_inner_texts() if t.strip()]
    assert page.locator("table.heat td.flagged").count() == 2 * (12 - len(agreed))
    assert page.locator("table.heat thead .tag.flag").count() == 12 - len(agreed)


def test_finance_changes_weighting_and_downloads_csv(page, live_server):
    base, cid = live_server["base"], live_server["cycle_id"]
    sign_in(page, base, "finance")
    page.goto(f"{base}/ranking?cycle_id={cid}")
    first_equal = page.locator("#ranking-table tbody tr").first.locator("td").nth(1).inner_text()
    assert page.locator("svg.chart").is_visible()
    shot(page, "ranking-equal")
    page.locator("#weighting_id").select_option(label="Principle 1 only")
    page.get_by_role("button", name="Show ranking").click()
    first_p1 = page.locator("#ranking-table tbody tr").first.locator("td").nth(1).inner_text()
    assert first_equal != first_p1 and first_p1 == "B-3"
    shot(page, "ranking-p1")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    with open(info.value.path(), encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert rows[0]["Reference"] == "B-3" and len(rows) == 3


def test_proposer_failed_submission_keeps_input(page, live_server):
    base = live_server["base"]
    sign_in(page, base, "proposer")
    page.goto(f"{base}/proposals/new?cycle_id={live_server['open_cycle_id']}")
    page.get_by_label("Title").fill("Mobile devices for every officer")
    page.get_by_label("Capability", exact=True).fill("Special Branch")
    page.get_by_label("Kind").select_option("investment")
    page.get_by_label("Capability lead").fill("Supt Clarke")
    page.get_by_label("Cost 2025-26").fill("12.345")
    page.get_by_role("button", name="Save draft").click()
    assert (
        "Enter the cost for 2025-26 in pounds and pence, to the nearest penny."
        in page.locator(".error-summary").inner_text()
    )
    assert page.get_by_label("Title").input_value() == "Mobile devices for every officer"
    assert page.get_by_label("Cost 2025-26").input_value() == "12.345"
    assert page.get_by_label("Cost 2025-26").get_attribute("aria-invalid") == "true"
    shot(page, "proposal-error")
    page.get_by_label("Cost 2025-26").fill("12000.50")
    page.get_by_role("button", name="Save draft").click()
    assert "Draft saved." in page.locator("main").inner_text()
    assert page.get_by_label("Cost 2025-26").input_value() == "£12,000.50"
    shot(page, "proposal-saved")


def test_form_without_csrf_token_is_refused(page, live_server):
    base = live_server["base"]
    sign_in(page, base, "proposer")
    r = page.request.post(
        f"{base}/proposals/new", form={"cycle_id": str(live_server["open_cycle_id"]), "title": "Forged"}
    )
    assert r.status == 403 and "security token" in r.text()
    r = page.request.post(f"{base}/logout", form={"csrf_token": "wrong"})
    assert r.status == 403
    page.goto(f"{base}/")
    assert page.url == f"{base}/"  # still signed in


def test_admin_pages_and_sign_out(page, live_server):
    base = live_server["base"]
    sign_in(page, base, "admin")
    page.goto(f"{base}/admin")
    shot(page, "admin")
    page.goto(f"{base}/weightings?cycle_id={live_server['cycle_id']}")
    page.get_by_label("1. Develop threat agnostic capabilities and services").first.fill("30")
    assert page.locator("#share-1").inner_text() == "100.0%"
    shot(page, "weightings")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/admin")
    assert "/login" in page.url
