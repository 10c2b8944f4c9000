"""The web ranking shows a large cycle a page of ranks at a time (chart and table), every proposal reachable
through the pages once, and the proposals not ranked yet on the last page."""

from __future__ import annotations

import re

from app.web import finance_pages
from tests.api.test_web_sessions import sign_in


def references(html: str) -> list[str]:
    table = html[html.index('id="ranking-table"') : html.index("</table>", html.index('id="ranking-table"'))]
    return re.findall(r"#profile\">([^<]+)</a>", table)


def bars(html: str) -> int:
    chart = html[html.index('<svg class="chart"') : html.index("</svg>", html.index('<svg class="chart"'))]
    return chart.count("<g><title>")  # one group a proposal (the legend's swatches are not)


def test_the_ranking_page_shows_a_page_of_ranks_at_a_time(client, factory, admin, monkeypatch):
    world = factory.scored_cycle(admin, proposals=5)
    monkeypatch.setattr(finance_pages, "RANKING_PAGE_SIZE", 2)
    api = client.get(f"/api/v1/cycles/{world['id']}/ranking", headers=admin.headers).json()
    expected = [it["reference"] for it in api["items"] if it["rank"] is not None]
    assert len(expected) == 5
    sign_in(client, admin.email)
    seen = []
    for page in (1, 2, 3):
        r = client.get(f"/ranking?cycle_id={world['id']}&page={page}")
        assert r.status_code == 200, r.text
        shown = references(r.text)
        assert len(shown) == (2 if page < 3 else 1)
        assert bars(r.text) == len(shown)
        assert f"(page {page} of 3)" in r.text
        assert (">Next</a>" in r.text) == (page < 3) and (">Previous</a>" in r.text) == (page > 1)
        seen += shown
    assert seen == expected
    # past the last page: the last page; a page that is not a number: a plain 400 page
    assert references(client.get(f"/ranking?cycle_id={world['id']}&page=9").text) == expected[4:]
    assert client.get(f"/ranking?cycle_id={world['id']}&page=x").status_code == 400


def test_a_short_ranking_is_one_page_without_page_links(client, factory, admin):
    world = factory.scored_cycle(admin, proposals=3)
    sign_in(client, admin.email)
    html = client.get(f"/ranking?cycle_id={world['id']}").text
    assert len(references(html)) == 3 and 'id="ranking-pages"' not in html
