"""The proposer, end to end in a real browser: a draft saved with only a title by pressing Enter, the
running totals live as amounts are typed (as people write them: £1,250,000, 250 000.50), a submit that
lists every missing field with links to them, the completed draft's check-your-answers page and the
Submitted banner; axe-core's WCAG A and AA rules on each state. Screenshots in screenshots/proposer/."""

from __future__ import annotations

import re

from tests.browser.conftest import AXE_SCRIPT, SCREENSHOTS, axe_violations, own_user_signed_in

SHOTS = SCREENSHOTS / "proposer"
Y1, Y2 = "2025-26", "2026-27"  # the seed's open cycle


def shot(page, name: str, found: list[str], *, narrow: bool = False) -> None:
    """The viewport only (small files) at 1280 px, and at 375 px too when ``narrow``; axe-core's WCAG A and
    AA rules on the page in that state; and no sideways scrolling at 375 px."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375) if narrow else (1280,):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
        if width == 375:
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 375, f"{name} scrolls sideways at 375 px ({wide} px)"
    page.set_viewport_size({"width": 1280, "height": 900})
    found.extend(axe_violations(page, name))


def test_proposer_drafts_with_enter_sees_live_totals_checks_answers_and_submits(page, live_server):
    base = live_server["base"]
    page.context.add_init_script(AXE_SCRIPT)  # into each page as it loads, outside the page's CSP
    own_user_signed_in(page, base, "proposer-browser@example.org", "Pat Proposer", ["proposer"])
    found: list[str] = []

    # A draft with only a title: Enter in the title field saves it (it never submits).
    page.goto(f"{base}/proposals/new?cycle_id={live_server['open_cycle_id']}")
    page.get_by_label("Title").fill("Shared custody suites")
    page.get_by_label("Title").press("Enter")
    page.wait_for_url(re.compile(r"/proposals/\d+/edit\?saved=1$"))
    pid = int(re.search(r"/proposals/(\d+)/", page.url).group(1))
    assert page.locator("#saved-banner").inner_text().startswith("Saved")
    assert "Draft saved." in page.locator("#saved-banner").inner_text()
    assert page.locator("span.tag").first.inner_text() == "Draft"

    # Running totals, live: amounts typed as people write them.
    page.locator(f"#cost_{Y1}").fill("£1,250,000")
    page.locator(f"#saving_{Y1}").fill("250 000.50")
    page.locator(f"#cost_{Y2}").fill("1000")
    assert page.locator(f"#net-{Y1}").inner_text() == "£999,999.50"
    assert page.locator("#total-cost").inner_text() == "£1,251,000.00"
    assert page.locator("#total-net").inner_text() == "£1,000,999.50"
    page.locator(f"#saving_{Y2}").fill("12,50")  # not an amount: the totals it feeds are not guessed
    assert page.locator(f"#net-{Y2}").inner_text() == "–" and page.locator("#total-net").inner_text() == "–"
    page.locator(f"#saving_{Y2}").fill("")
    assert page.locator("#total-net").inner_text() == "£1,000,999.50"
    page.locator(f"#cost_{Y1}").scroll_into_view_if_needed()
    shot(page, "form-totals", found)

    # Submitting it incomplete: every missing field listed, each linked to its field; the draft is kept.
    page.get_by_role("button", name="Check and submit").click()
    page.wait_for_url(f"{base}/proposals/{pid}/edit?submit=1")
    summary = page.locator(".error-summary")
    assert summary.locator("a").all_inner_texts() == [
        "Enter the capability.",
        "Select a kind.",
        "Enter the capability lead.",
    ]
    assert page.locator("#kind-error").inner_text().split() == ["Error:", "Select", "a", "kind."]
    assert page.locator(f"#cost_{Y1}").input_value() == "£1,250,000.00"  # saved, shown as people write it
    shot(page, "submit-incomplete", found, narrow=True)
    summary.get_by_role("link", name="Select a kind.").click()
    assert page.evaluate("document.activeElement.id") == "kind"

    # Completed, then checked: every answer with a Change link, money per year with totals and net.
    page.get_by_label("Capability", exact=True).fill("Custody")
    page.get_by_label("Kind").select_option("efficiency")
    page.get_by_label("Capability lead").fill("Insp Okafor")
    page.locator("#sa_1").fill("Two forces share four suites and their staff.")
    page.get_by_role("button", name="Check and submit").click()
    page.wait_for_url(f"{base}/proposals/{pid}/check")
    assert page.get_by_role("heading", level=1).inner_text() == "Check your answers before submitting"
    assert page.locator("#check-total-net").inner_text() == "£1,000,999.50"
    assert page.locator("dl.check-answers dd", has_text="Insp Okafor").count() == 1
    assert page.get_by_role("link", name="Change the self-assessment for principle 12").count() == 1
    shot(page, "check-answers", found, narrow=True)

    page.get_by_role("button", name="Submit proposal").click()
    page.wait_for_url(f"{base}/proposals/{pid}?submitted=1")
    banner = page.locator("#submitted-banner")
    assert banner.locator("h2").inner_text() == "Submitted"
    assert "Saved" not in page.locator("main").inner_text()
    assert page.locator("span.tag").first.inner_text() == "Submitted"
    shot(page, "submitted", found, narrow=True)
    assert found == [], "\n".join(found)
