"""The panel chair, end to end in a real browser: the triage view (sorted by clicking its headers, filtered
to the flagged proposals), a flagged proposal's moderation page (the heat map and its key, every cell's
text at 4.5:1 or more as rendered), next and previous through the flagged proposals, a moderation with an
error (every chosen value kept, the error beside its field and in the summary), the corrected moderation
(the agreed values in the heat map, the flags cleared); the ranking chart's key and bar contrast; and
printing the ranking, a proposal and a moderation page (no navigation, forms or buttons).
Screenshots in screenshots/chair/."""

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
    viewport_shot,
)

API = "/api/v1"
SHOTS = SCREENSHOTS / "chair"
TITLES = {
    "C-1": "Body-worn video refresh",
    "C-2": "Custody nurse rota",
    "C-3": "Shared interview suites",
    "C-4": "Fleet telematics",
    "C-5": "Drone unit",
}
# Per proposal, each scorer's scores that differ from 3 (threshold 2): C-2 is flagged on principles 1
# and 2 (spread 3 and 2), C-3 on principle 7 (spread 3); C-1 agrees; C-4 has one scorecard, C-5 none.
PLANS = {
    "C-1": [{}, {}, {}],
    "C-2": [{1: 1, 2: 2}, {1: 4, 2: 4}, {}],
    "C-3": [{7: 2}, {7: 5}],
    "C-4": [{}],
    "C-5": [],
}

# The WCAG 2.2 contrast ratio of two computed CSS colours, in the page.
CONTRAST_JS = """([a, b]) => {
  const lum = c => {
    const [r, g, bl] = c.match(/[0-9.]+/g).slice(0, 3).map(Number).map(v => {
      const s = v / 255; return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl; };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


@pytest.fixture(scope="module")
def chair_world(browser, live_server):
    """A cycle of its own in scoring: five proposals on a panel of three scorers, chaired by this test's
    chair, scored as PLANS says."""
    base = live_server["base"]
    context = browser.new_context()
    api = context.request
    admin = api_token(api, base, "admin@example.org")

    def user(email: str, name: str, roles: list[str]) -> dict:
        body = {"email": email, "full_name": name, "password": PASSWORD, "roles": roles}
        return api_ok(api.post(f"{base}{API}/users", headers=admin, data=body))

    chair = user("chair-e2e@example.org", "Chris Chair", ["chair"])
    scorers = [user(f"chair-e2e-s{i}@example.org", f"Scorer {n}", ["scorer"]) for i, n in enumerate("ABC")]
    cycle = api_open_cycle(
        api,
        base,
        admin,
        {
            "name": "Chair e2e SR",
            "financial_years": ["2025-26", "2026-27"],
            "budgets": {"2025-26": "500000.00", "2026-27": "500000.00"},
            "min_scorecards": 1,
        },
    )
    ids = {}
    for ref, title in TITLES.items():
        ids[ref] = api_ok(
            api.post(
                f"{base}{API}/proposals",
                headers=admin,
                data={
                    "cycle_id": cycle["id"],
                    "reference": ref,
                    "title": title,
                    "capability": "Custody",
                    "kind": "efficiency",
                    "lead": "Insp Okafor",
                    "summary": f"{title}: the case.",
                    "financials": [{"year": "2025-26", "cost": "100000.00", "saving": "20000.00"}],
                },
            )
        )["id"]
    panel = api_ok(
        api.post(
            f"{base}{API}/cycles/{cycle['id']}/panels",
            headers=admin,
            data={
                "name": "Chair e2e panel",
                "chair_id": chair["id"],
                "member_ids": [s["id"] for s in scorers],
                "proposal_ids": list(ids.values()),
            },
        )
    )
    api_ok(api.post(f"{base}{API}/cycles/{cycle['id']}/transition", headers=admin, data={"to": "scoring"}))
    for ref, cards in PLANS.items():
        for scorer, scores in zip(scorers, cards, strict=False):
            answers = [
                {"principle": k, "score": scores.get(k, 3), "rationale": "Seeded."} for k in range(1, 13)
            ]
            api_ok(
                api.put(
                    f"{base}{API}/proposals/{ids[ref]}/scorecard",
                    headers=api_token(api, base, scorer["email"]),
                    data={"scores": answers, "submit": True},
                )
            )
    context.close()
    return {"base": base, "cycle_id": cycle["id"], "panel_id": panel["id"], "ids": ids}


def sign_in_chair(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill("chair-e2e@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def triage_refs(page) -> list[str]:
    return page.locator("table.triage tbody th[scope=row]").all_inner_texts()


def overflow(page) -> float:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_chair_triages_and_moderates_a_flagged_proposal(page, chair_world):
    base, ids = chair_world["base"], chair_world["ids"]
    page.context.add_init_script(AXE_SCRIPT)
    sign_in_chair(page, base)
    page.get_by_role("link", name="Chair e2e panel").click()
    page.wait_for_url(f"{base}/panels/{chair_world['panel_id']}")
    # most flagged first; coverage, flags and spread on each row
    assert triage_refs(page) == ["C-2", "C-3", "C-1", "C-4", "C-5"]
    row = page.locator("table.triage tbody tr").first.locator("td").all_inner_texts()
    assert row == [TITLES["C-2"], "3 of 3", "2", "3", "No"]
    page.set_viewport_size({"width": 1280, "height": 900})
    viewport_shot(page, SHOTS, "triage-1280")

    # sort by clicking a header: largest spread first, then the other way round
    spread = page.locator("table.triage thead th").nth(4)
    spread.get_by_role("link").click()
    assert spread.get_attribute("aria-sort") == "descending"
    assert triage_refs(page) == ["C-2", "C-3", "C-1", "C-4", "C-5"]  # ties by reference; no spread last
    page.locator("table.triage thead th").nth(4).get_by_role("link").click()
    assert page.locator("table.triage thead th").nth(4).get_attribute("aria-sort") == "ascending"
    assert page.locator("th[aria-sort]").count() == 1
    assert triage_refs(page) == ["C-1", "C-4", "C-2", "C-3", "C-5"]
    # flagged only
    page.get_by_label("Flagged proposals only").check()
    page.get_by_role("button", name="Apply filter").click()
    assert sorted(triage_refs(page)) == ["C-2", "C-3"]
    page.set_viewport_size({"width": 375, "height": 800})
    assert overflow(page) <= 1 and axe_violations(page, page.url) == []
    viewport_shot(page, SHOTS, "triage-flagged-375")
    page.set_viewport_size({"width": 1280, "height": 900})

    # the flagged proposal's page: the heat map and its key
    page.get_by_role("link", name="C-2", exact=True).click()
    page.wait_for_url(f"{base}/panels/{chair_world['panel_id']}/proposals/{ids['C-2']}")
    heat = page.locator("table.heat")
    assert heat.locator("tbody tr").count() == 3
    assert heat.locator("td.flagged").count() == 6  # principles 1 and 2, every submitted scorecard
    assert heat.locator("thead .tag.flag").count() == 2
    marks = heat.locator("td.flagged").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::after').content)"
    )
    assert set(marks) == {'"!" / ""'}  # flagged by a mark as well as by colour
    key = page.locator(".heat-legend")
    assert key.is_visible() and "needs moderation" in key.inner_text()
    assert key.locator(".swatch").count() == 6 + 4  # 0 to 5, NA, no score, the flag and the agreed row
    # every cell's text, and every swatch's, as rendered: 4.5:1 or more on its colour
    ratios = page.evaluate(
        f"""() => {{ const contrast = {CONTRAST_JS};
        return [...document.querySelectorAll('table.heat td.cell, .heat-legend .swatch')].map(e => {{
          const s = getComputedStyle(e); let bg = s.backgroundColor;
          if (bg === 'rgba(0, 0, 0, 0)') bg = 'rgb(255, 255, 255)';
          return contrast([s.color, bg]); }}); }}"""
    )
    assert len(ratios) > 36 and min(ratios) >= 4.5, min(ratios)
    viewport_shot(page, SHOTS, "moderation-1280")

    # next and previous through the flagged proposals
    page.get_by_role("link", name="Next flagged: C-3").click()
    page.wait_for_url(f"{base}/panels/{chair_world['panel_id']}/proposals/{ids['C-3']}")
    assert page.locator("table.heat td.flagged").count() == 2
    assert page.get_by_role("link", name="Next flagged").count() == 0
    page.get_by_role("link", name="Previous flagged: C-2").click()
    page.wait_for_url(f"{base}/panels/{chair_world['panel_id']}/proposals/{ids['C-2']}")

    # a moderation with an error: every chosen value stays, the error is beside its field and summarised
    page.locator("#mod_1").select_option("3")
    page.locator("#mod_2").select_option("4")
    page.locator("#note_2").fill("Agreed 4: the second scorer's evidence")
    page.locator("#mod_3").select_option("na")
    page.locator("#note_3").fill("Not relevant to a rota")
    page.get_by_role("button", name="Save moderated scores").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible() and "note" in summary.inner_text().lower()
    beside = page.locator("#note_1-error")
    assert beside.is_visible() and beside.inner_text().removeprefix("Error:").strip() in summary.inner_text()
    assert page.locator("#note_1").get_attribute("aria-invalid") == "true"
    assert [page.locator(f"#mod_{k}").input_value() for k in (1, 2, 3)] == ["3", "4", "na"]
    assert page.locator("#note_2").input_value() == "Agreed 4: the second scorer's evidence"
    assert page.locator("#note_3").input_value() == "Not relevant to a rota"
    assert summary.get_by_role("link").first.get_attribute("href") == "#note_1"  # to the field itself
    assert axe_violations(page, page.url) == []  # the error state too
    page.locator(".error-summary").scroll_into_view_if_needed()
    viewport_shot(page, SHOTS, "moderation-error-1280")

    # corrected: the heat map shows the agreed values and the flags are cleared
    page.locator("#note_1").fill("Agreed 3 at the panel meeting")
    page.get_by_role("button", name="Save moderated scores").click()
    assert "Moderated scores saved." in page.locator("main").inner_text()
    assert page.locator("table.heat td.flagged").count() == 0
    assert page.locator("table.heat thead .tag.flag").count() == 0
    agreed = page.locator("table.heat tfoot td.agreed").all_inner_texts()
    assert agreed[:3] == ["3", "4", "NA"] and all(a == "" for a in agreed[3:])
    assert page.locator("#mod_1").input_value() == "3"
    viewport_shot(page, SHOTS, "moderation-saved-1280")
    page.set_viewport_size({"width": 375, "height": 800})
    assert overflow(page) <= 1
    viewport_shot(page, SHOTS, "moderation-375")
    page.set_viewport_size({"width": 1280, "height": 900})

    # the triage view: C-2 settled, C-3 the only flagged proposal left
    page.get_by_role("link", name="Back to Chair e2e panel: every proposal").click()
    assert page.locator("table.triage tbody tr").first.locator("th").inner_text() == "C-3"
    c2 = page.locator("table.triage tbody tr", has=page.get_by_role("link", name="C-2", exact=True))
    assert c2.locator("td").all_inner_texts()[1:] == ["3 of 3", "0", "3", "Yes (3 agreed)"]


def test_ranking_chart_has_a_key_and_contrasting_bars(page, live_server):
    base = live_server["base"]
    own = "chart-e2e@example.org"
    own_user_signed_in(page, base, own, "Fran Finance", ["finance"])
    page.goto(f"{base}/ranking?cycle_id={live_server['cycle_id']}")
    key = page.locator("svg.chart g.legend")
    assert key.is_visible()
    words = key.text_content()
    assert "in the best funded set" in words and "not funded" in words
    fills = page.evaluate(
        """() => ['rect.bar.funded', 'rect.bar:not(.funded):not(.skipped)'].map(
            q => getComputedStyle(document.querySelector('svg.chart g.legend ' + q)).fill)"""
    )
    contrast = page.evaluate(CONTRAST_JS, fills)
    on_page = [page.evaluate(CONTRAST_JS, [f, "rgb(255, 255, 255)"]) for f in fills]
    assert contrast >= 3 and min(on_page) >= 3, (fills, contrast, on_page)
    page.locator("svg.chart").scroll_into_view_if_needed()
    viewport_shot(page, SHOTS, "ranking-chart-1280")


@pytest.mark.parametrize("where", ["ranking", "proposal", "moderation"])
def test_printing_leaves_out_navigation_forms_and_buttons(page, live_server, chair_world, where):
    base = live_server["base"]
    if where == "moderation":
        sign_in_chair(page, base)
        path = f"/panels/{chair_world['panel_id']}/proposals/{chair_world['ids']['C-3']}"
    else:
        own_user_signed_in(page, base, f"print-{where}@example.org", "Pat Print", ["chair"])
        path = {
            "ranking": f"/ranking?cycle_id={live_server['cycle_id']}",
            "proposal": f"/proposals/{live_server['proposal_ids'][0]}",
        }[where]
    page.goto(f"{base}{path}")
    assert page.locator("header.site nav").is_visible()  # there is something to leave out
    if where != "proposal":
        assert page.locator("main form").count() > 0
    page.emulate_media(media="print")
    hidden = page.evaluate(
        """() => [...document.querySelectorAll(
              'header.site, header.site nav, .skip-link, main form, main button, main .button, nav')]
            .filter(e => e.getClientRects().length > 0).map(e => e.outerHTML.slice(0, 80))"""
    )
    assert hidden == []
    assert page.locator("main h1").is_visible()
    if where != "proposal":
        table = page.locator("main table").first
        assert table.is_visible()
        width = page.evaluate("() => document.querySelector('main').getBoundingClientRect().width")
        assert width >= page.viewport_size["width"] - 40  # the content takes the whole sheet
    sticky = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => ['sticky', 'fixed'].includes(getComputedStyle(e).position)).length"""
    )
    assert sticky == 0
    viewport_shot(page, SHOTS, f"print-{where}")
