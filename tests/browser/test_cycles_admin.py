"""Cycles in a real browser, as the admin: create one with a budget per year (a cell the form cannot read
is an error beside it), edit its budgets, and move it to open through the confirmation page, whose
button is not where the "Change status" link was. Screenshots in screenshots/admin/."""

from __future__ import annotations

import re

from tests.browser.conftest import SCREENSHOTS, sign_in

NAME = "SR29 Browser cycle"


def box_centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_admin_creates_edits_and_opens_a_cycle(browser, live_server):
    base = live_server["base"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    shots = SCREENSHOTS / "admin"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        sign_in(page, base, "admin")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Cycles").click()
        page.wait_for_url(f"{base}/cycles")
        page.get_by_role("link", name="New cycle").click()
        page.wait_for_url(f"{base}/cycles/new")

        page.get_by_label("Name", exact=True).fill(NAME)
        page.get_by_label("Financial year, row 1").fill("2029-30")
        page.get_by_label("Budget envelope for row 1").fill("£5,000,000")
        page.get_by_label("Financial year, row 2").fill("2030-31")
        page.get_by_label("Budget envelope for row 2").fill("4,000,000.00")
        page.get_by_label("Financial year, row 3").fill("2031-32")
        page.get_by_role("button", name="Add another year").click()  # redraws the form, saves nothing
        assert page.get_by_label("Financial year, row 4").count() == 1
        assert page.get_by_label("Budget envelope for 2029-30").input_value() == "£5,000,000"
        page.get_by_label("Budget envelope for 2031-32").fill("three million")
        page.get_by_label("Label for point 3").fill("Good contribution")
        # the label rows follow the scale as it is typed; the redraw button is for pages without script
        assert page.get_by_role("button", name="Show the points of this scale").is_hidden()
        page.get_by_label("Highest point").fill("7")
        page.get_by_label("Highest point").press("Tab")
        page.get_by_label("Label for point 7").fill("Transformational")
        assert page.get_by_label("Label for point 3").input_value() == "Good contribution"
        page.get_by_label("Leave the principle out").check()
        page.get_by_role("button", name="Create cycle").click()

        summary = page.locator(".error-summary")
        assert "Enter the budget for 2031-32 in pounds" in summary.inner_text()
        assert page.locator("#budget_2").get_attribute("aria-invalid") == "true"
        assert page.locator("#budget_2").input_value() == "three million"  # kept as typed
        assert page.get_by_label("Leave the principle out").is_checked()
        page.screenshot(path=str(shots / "cycle-new-error-1280.png"))
        summary.get_by_role("link").first.click()  # the summary takes you to the cell
        assert page.evaluate("document.activeElement.id") == "budget_2"
        page.locator("#budget_2").fill("3000000")
        page.get_by_role("button", name="Create cycle").click()

        page.wait_for_url(re.compile(rf"{base}/cycles/\d+\?saved=created"))
        cycle_id = int(re.search(r"/cycles/(\d+)", page.url).group(1))
        assert "Cycle created." in page.get_by_role("status").inner_text()
        assert "£12,000,000.00" in page.locator("tfoot").inner_text()
        assert "0 to 7" in page.locator("main").inner_text()
        page.screenshot(path=str(shots / "cycle-1280.png"))

        page.get_by_role("link", name="Edit the cycle").click()
        page.wait_for_url(f"{base}/cycles/{cycle_id}/edit")
        page.get_by_label("Budget envelope for 2030-31").fill("4,500,000")
        page.get_by_role("button", name="Save changes").click()
        page.wait_for_url(f"{base}/cycles/{cycle_id}?saved=saved")
        assert "£4,500,000.00" in page.locator("table").first.inner_text()
        assert "£12,500,000.00" in page.locator("tfoot").inner_text()

        change = page.get_by_role("link", name="Change status")
        link_at = box_centre(change)
        change.click()
        page.wait_for_url(f"{base}/cycles/{cycle_id}/status")
        text = page.locator("main").inner_text()
        assert "Proposers can write and submit proposals for this cycle." in text
        assert "0 proposals already entered" in text
        confirm = page.get_by_role("button", name=f"Move {NAME} to open")
        button_at = box_centre(confirm)
        assert abs(button_at[1] - link_at[1]) > 40  # not where the last click was
        page.screenshot(path=str(shots / "cycle-status-1280.png"))
        page.get_by_label("Reason (optional)").fill("Proposals invited")
        confirm.click()
        page.wait_for_url(f"{base}/cycles/{cycle_id}?moved=open")
        assert "The cycle is now in open." in page.get_by_role("status").inner_text()
        # where the confirm button was, the overview has no button or link to move the cycle on again
        under = page.evaluate(
            "([x, y]) => { const e = document.elementFromPoint(x, y); return e ? e.closest('a, button')"
            " ?.textContent || '' : '' }",
            list(button_at),
        )
        assert "status" not in under.lower() and "move" not in under.lower()

        page.goto(f"{base}/cycles")
        row = page.locator("tr", has_text=NAME)
        assert "open" in row.inner_text() and "£12,500,000.00" in row.inner_text()
        page.screenshot(path=str(shots / "cycles-1280.png"))

        page.set_viewport_size({"width": 375, "height": 800})
        for path, name in (
            ("/cycles", "cycles-375"),
            (f"/cycles/{cycle_id}/edit", "cycle-edit-375"),
            (f"/cycles/{cycle_id}/status", "cycle-status-375"),
        ):
            page.goto(f"{base}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, path
            page.screenshot(path=str(shots / f"{name}.png"))
    finally:
        context.close()
