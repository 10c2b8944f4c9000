"""The admin in a real browser: find a user, deactivate them through the confirmation page (their open
session ends), and upload a proposals file with bad cells (every one is shown, nothing is stored).
Screenshots of the admin's users and import pages go to screenshots/admin/."""

from __future__ import annotations

import re

from tests.browser.conftest import AXE_SCRIPT, SCREENSHOTS, axe_violations, own_user_signed_in, sign_in

WIDTHS = (1280, 375)


def snap(page, name: str, found: list[str]) -> None:
    """The viewport at 1280 and at 375 px wide (a phone), then back to 1280; at each width, axe-core's WCAG
    A and AA rules on the page in that state, and no sideways scrolling of the page itself."""
    folder = SCREENSHOTS / "admin"
    folder.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(folder / f"{name}-{width}.png"))
        found.extend(axe_violations(page, f"{name}-{width}"))
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > width:
            found.append(f"{name}-{width}: the page is {wide} px wide")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_admin_deactivates_a_user_through_the_confirmation_page(browser, page, live_server):
    base = live_server["base"]
    page.context.add_init_script(AXE_SCRIPT)  # into each page as it loads, outside the page's CSP
    found: list[str] = []
    theirs = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    own_user_signed_in(theirs, base, "leaving.scorer@example.org", "Leaving Scorer", ["scorer"])

    sign_in(page, base, "admin")
    page.goto(f"{base}/admin")
    page.get_by_role("link", name="Users", exact=True).click()
    snap(page, "users", found)
    page.get_by_label("Name or email contains").fill("leaving")
    page.get_by_role("button", name="Find users").click()
    assert page.locator("#user-count").inner_text().startswith("1 to 1 of 1 user")
    page.get_by_role("link", name="Leaving Scorer").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Leaving Scorer"
    snap(page, "user", found)
    page.get_by_label("Full name").fill("")
    page.get_by_role("button", name="Save name and roles").click()
    assert page.locator("#full_name-error").inner_text().endswith("Enter their full name.")
    snap(page, "user-error", found)

    page.get_by_role("link", name="Deactivate Leaving Scorer").click()
    what = page.locator("#what-happens").inner_text()
    assert "Their 1 session and 0 API tokens end now." in what
    snap(page, "user-deactivate", found)
    page.get_by_role("button", name="Deactivate Leaving Scorer").click()
    banner = page.locator("#done-banner").inner_text()
    assert "Leaving Scorer was deactivated. 1 session and 0 API tokens ended." in banner
    assert "Deactivated" in page.locator("dl.summary-list").inner_text()
    snap(page, "user-deactivated", found)

    theirs.reload()
    assert "/login" in theirs.url  # their session ended
    theirs.context.close()

    page.get_by_role("link", name="Reactivate Leaving Scorer").click()
    page.get_by_role("button", name="Reactivate Leaving Scorer").click()
    assert "was reactivated" in page.locator("#done-banner").inner_text()
    assert found == []


BAD_FILE = (
    "title,capability,kind,lead,cost_2025-26\n"
    "Shared device lab,Digital Exploitation,efficiency,DCI A,250000\n"
    "Regional hub,Estates,grant,Ms B,1000\n"
    "Fleet telematics,Fleet,efficiency,Ms C,12.345\n"
    ",People,investment,Ms D,\n"
)


def test_admin_uploads_a_bad_file_and_sees_every_bad_cell(page, live_server):
    base = live_server["base"]
    page.context.add_init_script(AXE_SCRIPT)
    found: list[str] = []
    sign_in(page, base, "admin")
    page.goto(f"{base}/admin")
    page.get_by_role("link", name="Import proposals").click()
    page.get_by_label("Which cycle are the proposals for?").select_option(label="Open SR (open)")
    page.get_by_role("button", name="Continue").click()
    template = page.get_by_role("link", name="CSV template")
    with page.expect_download() as download:
        template.click()
    with open(download.value.path(), encoding="utf-8-sig") as f:
        header = f.readline().strip().split(",")
    assert "cost_2025-26" in header and "saving_2026-27" in header
    snap(page, "import", found)

    page.get_by_label("CSV or Excel file").set_input_files(
        {"name": "proposals.csv", "mimeType": "text/csv", "buffer": BAD_FILE.encode()}
    )
    page.get_by_role("button", name="Check and import").click()
    assert "Nothing was imported" in page.locator("#refused-banner").inner_text()
    rows = page.locator("table.problems tbody tr")
    assert rows.count() == 3
    cells = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(3)]
    assert [(c[0], c[1], c[2]) for c in cells] == [
        ("3", "kind", "grant"),
        ("4", "cost_2025-26", "12.345"),
        ("5", "title", "(empty)"),
    ]
    assert cells[2][3] == "Required"
    snap(page, "import-refused", found)
    page.goto(f"{base}/proposals?cycle_id={live_server['open_cycle_id']}")
    assert not re.search("Shared device lab", page.content())  # nothing was stored
    assert found == []
