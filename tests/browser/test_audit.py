"""The audit trail in a real browser, as the admin: filter it, read a change, download the filtered CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tests.browser.conftest import SCREENSHOTS, sign_in


def test_admin_filters_the_trail_and_downloads_it(browser, live_server):
    base = live_server["base"]
    (SCREENSHOTS / "admin").mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
        timezone_id="Europe/London",
        locale="en-GB",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, base, "admin")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
        page.wait_for_url(f"{base}/audit")
        assert page.get_by_role("heading", level=1).inner_text() == "Audit trail"

        page.get_by_label("What (action)").select_option("proposal.created")
        page.get_by_label("Object type").select_option("proposal")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url(re.compile(r".*/audit\?.*action=proposal\.created&entity_type=proposal.*"))
        rows = page.locator("table.audit tbody tr")
        count = rows.count()
        assert count >= 3  # the seed's three proposals, and any another test made
        assert f"of {count} events" in page.locator("#audit-count").inner_text()
        for i in range(count):
            assert rows.nth(i).locator("td").nth(2).inner_text() == "proposal.created"
        first = live_server["proposal_ids"][0]
        assert page.locator(f'table.audit a[href="/proposals/{first}"]').count() == 1

        # the time reads in the viewer's zone, the ISO time stays machine-readable
        when = rows.first.locator("time")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", when.get_attribute("datetime"))
        assert "UTC" not in when.inner_text() and when.get_attribute("title").endswith(")")

        # a change, opened
        page.goto(f"{base}/audit?action=cycle.transitioned")
        details = page.locator("details.changes").first
        details.locator("summary").click()
        assert "→" in details.inner_text() and "status" in details.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "admin" / "audit-1280.png"))

        page.goto(f"{base}/audit?action=proposal.created&entity_type=proposal")
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("Download CSV")).click()
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        table = list(csv.reader(io.StringIO(text, newline="")))
        assert table[0][:2] == ["Event id", "When (UTC, ISO 8601)"]
        assert len(table) - 1 == count and {r[4] for r in table[1:]} == {"proposal.created"}

        # a date the form cannot read: the error beside the field, what was typed kept
        page.goto(f"{base}/audit?from=31/02/2026")
        assert "real date" in page.locator(".error-summary").inner_text()
        assert page.locator("#from").get_attribute("aria-invalid") == "true"
        assert page.locator("#from").input_value() == "31/02/2026"

        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(f"{base}/audit?action=cycle.transitioned")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
        page.locator("#audit-count").evaluate("e => e.scrollIntoView()")
        page.screenshot(path=str(SCREENSHOTS / "admin" / "audit-375.png"))
    finally:
        context.close()
