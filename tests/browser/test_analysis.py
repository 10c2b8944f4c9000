"""Finance walks compare → sensitivity → selection in a real browser, under the pages' CSP; screenshots of
finance's pages in screenshots/finance/."""

from __future__ import annotations

from tests.browser.conftest import SCREENSHOTS, sign_in
from tests.browser.test_csp import LISTEN

SHOTS = SCREENSHOTS / "finance"


def shot(page, name: str) -> None:
    """The window as finance sees it (not the whole page), in screenshots/finance/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_finance_compares_tests_sensitivity_and_selects(browser, live_server):
    base, cid = live_server["base"], live_server["cycle_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations: list[str] = []
    try:
        sign_in(page, base, "finance")
        page.get_by_role("link", name="Compare").first.click()
        page.wait_for_url(f"{base}/ranking/compare")
        page.locator("#cycle_id").select_option(str(cid))
        page.locator("#b").select_option(label="Principle 1 only")
        page.get_by_role("button", name="Compare").click()
        page.wait_for_url(f"{base}/ranking/compare?*")
        assert "b=" in page.url  # the comparison is in the address
        assert page.locator("#kendall-tau").inner_text().split()[0].replace("−", "-").lstrip("-")[0].isdigit()
        lines = page.locator("svg.slope line.slope-line").count()
        assert lines == page.locator("#compare-table tbody tr").count() > 0
        assert page.locator("svg.slope title").first.text_content().startswith("Rank under A:")
        violations.extend(page.evaluate("window.__csp"))
        shot(page, "compare-1280")
        compare = page.url

        tabs = page.get_by_role("navigation", name="Ranking analysis")
        tabs.get_by_role("link", name="Sensitivity").click()
        page.locator("#samples").fill("5")
        page.get_by_role("button", name="Show sensitivity").click()
        assert "The number of samples must be from 10" in page.locator(".error-summary").inner_text()
        assert page.locator("#samples").get_attribute("aria-invalid") == "true"
        assert page.locator("#samples").input_value() == "5"
        page.locator("#samples").fill("200")
        page.locator("#seed").fill("3")
        page.locator("#k").fill("1")
        page.get_by_role("button", name="Show sensitivity").click()
        run = page.locator("#sensitivity-run").inner_text()
        assert "200 samples, seed 3, concentration 100, top 1." in run
        assert page.locator("svg.rank-range rect").count() > 0
        assert "weight would have to" in page.locator("#switching").inner_text()
        violations.extend(page.evaluate("window.__csp"))
        shot(page, "sensitivity-1280")

        tabs.get_by_role("link", name="Selection").click()
        page.get_by_label("Exclude").fill("B-404")
        page.get_by_role("button", name="Find the best set").click()
        assert "B-404 is not a reference" in page.locator(".error-summary").inner_text()
        assert page.get_by_label("Exclude").input_value() == "B-404"
        shot(page, "selection-error-1280")
        page.get_by_label("Exclude").fill("B-2")
        page.get_by_label("2022-23").fill("1,000,000")
        page.get_by_role("button", name="Find the best set").click()
        summary = page.locator("#selection-summary").inner_text()
        assert "The best set funds" in summary
        assert "B-2" not in page.locator("#selection-table").inner_text()
        money = page.locator("#money-table tbody tr").first.inner_text()
        assert money.startswith("2022-23") and "£1,000,000.00" in money
        violations.extend(page.evaluate("window.__csp"))
        shot(page, "selection-1280")
        pages = {"ranking": f"/ranking?cycle_id={cid}", "submissions": f"/submissions?cycle_id={cid}"}
        for name, path in pages.items():
            page.goto(f"{base}{path}")
            shot(page, f"{name}-1280")
        page.set_viewport_size({"width": 375, "height": 812})
        for name, url in {**{n: f"{base}{p}" for n, p in pages.items()}, "compare": compare}.items():
            page.goto(url)
            shot(page, f"{name}-375")
        violations.extend(page.evaluate("window.__csp"))
    finally:
        context.close()
    assert violations == []
