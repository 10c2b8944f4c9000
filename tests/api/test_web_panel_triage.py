"""The chair's pages: the panel's triage view (coverage, flagged principles, largest spread; sortable,
filterable) and one proposal's moderation page (heat map with its key, agreed scores, previous/next
through the flagged proposals, errors beside the fields with every chosen value kept); the heat map's and
the ranking chart's colours meet their contrast ratios, computed from app.css."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from app.models import AuditEvent
from app.web.charts import HEAT_LEVELS, STYLESHEET, heat_class, ranking_bars
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"


def card(scores: dict[int, int], default: int = 3) -> list[dict]:
    return [{"principle": k, "score": scores.get(k, default), "rationale": "R."} for k in range(1, 13)]


@pytest.fixture
def panel(client, factory, admin):
    """Five proposals on a panel of three scorers (threshold 2):

    T-1  all three submit 3s everywhere: nothing flagged, spread 0, 3 of 3
    T-2  two submit; principle 1 is 1 and 4, principle 2 is 3 and 5: two flagged, spread 3, 2 of 3
    T-3  one submits: nothing flagged, spread 0, 1 of 3
    T-4  nobody submits, and the third scorer has declared a conflict: 0 of 2, no spread
    T-5  all three submit; principle 5 is 1, 3 and 5: one flagged, spread 4, 3 of 3
    """
    chair = factory.user("chair")
    scorers = [factory.user("scorer") for _ in range(3)]
    cycle = factory.cycle(admin)
    refs = ["T-3", "T-1", "T-5", "T-2", "T-4"]  # created out of order: the pages sort
    ids = {ref: factory.proposal(admin, cycle, reference=ref, title=f"Title {ref}")["id"] for ref in refs}
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=chair.headers,
        json={"name": "Triage", "member_ids": [s.id for s in scorers], "proposal_ids": list(ids.values())},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"{API}/proposals/{ids['T-4']}/conflicts",
        headers=scorers[2].headers,
        json={"type": "other", "reason": "Former line manager of the lead."},
    )
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    plans = {
        "T-1": [{}, {}, {}],
        "T-2": [{1: 1, 2: 3}, {1: 4, 2: 5}],
        "T-3": [{}],
        "T-5": [{5: 1}, {5: 3}, {5: 5}],
    }
    for ref, cards in plans.items():
        for scorer, scores in zip(scorers, cards, strict=False):
            r = client.put(
                f"{API}/proposals/{ids[ref]}/scorecard",
                headers=scorer.headers,
                json={"scores": card(scores), "submit": True},
            )
            assert r.status_code == 200, r.text
    panel = client.get(f"{API}/cycles/{cycle['id']}/panels", headers=admin.headers).json()["items"][0]
    sign_in(client, chair.email)
    return dict(cycle=cycle, ids=ids, panel=panel, chair=chair, scorers=scorers, admin=admin)


def triage(html: str) -> list[tuple[str, ...]]:
    """The triage table's rows: (reference, title, coverage, flagged, spread, agreed), in page order."""
    body = re.search(r'<table class="triage".*?<tbody>(.*?)</tbody>', html, re.S)
    if body is None:
        return []
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S):
        cells = [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        ]
        rows.append(tuple(cells))
    return rows


def sorted_header(html: str) -> list[tuple[str, str]]:
    """(aria-sort, header words) of every triage header that carries aria-sort."""
    return [
        (sort, re.sub(r"<span class=\"visually-hidden\">.*?</span>|<[^>]+>", "", inner).strip())
        for sort, inner in re.findall(r'<th scope="col"[^>]*aria-sort="([a-z]+)"[^>]*>(.*?)</th>', html, re.S)
    ]


def test_triage_lists_every_proposal_with_coverage_flags_and_spread(client, panel):
    html = client.get(f"/panels/{panel['panel']['id']}").text
    rows = {r[0]: r[1:] for r in triage(html)}
    assert rows == {
        "T-1": ("Title T-1", "3 of 3", "0", "0", "Not needed"),
        "T-2": ("Title T-2", "2 of 3", "2", "3", "No"),
        "T-3": ("Title T-3", "1 of 3", "0", "0", "Not needed"),
        "T-4": ("Title T-4", "0 of 2", "0", "–", "Not needed"),
        "T-5": ("Title T-5", "3 of 3", "1", "4", "No"),
    }
    # the same figures as the agreement endpoint
    body = client.get(f"{API}/cycles/{panel['cycle']['id']}/agreement", headers=panel["chair"].headers).json()
    for p in body["proposals"]:
        flagged = sum(x["needs_moderation"] for x in p["principles"])
        spread = "–" if p["max_spread"] is None else f"{p['max_spread']:.0f}"
        assert rows[p["reference"]][2:4] == (str(flagged), spread)
    # default order: most flagged first; each row links to its moderation page
    assert [r[0] for r in triage(html)] == ["T-2", "T-5", "T-1", "T-3", "T-4"]
    assert sorted_header(html) == [("descending", "Flagged principles▼")]
    assert f'href="/panels/{panel["panel"]["id"]}/proposals/{panel["ids"]["T-2"]}">T-2</a>' in html
    assert "Moderate the first flagged proposal (T-2)" in html
    assert '<select id="proposal_id"' not in html  # no dropdown as the way in
    assert f'href="/panels/{panel["panel"]["id"]}/manage"' in html


def test_triage_sorts_by_any_column_both_ways_and_filters_flagged(client, panel):
    pid = panel["panel"]["id"]
    html = client.get(f"/panels/{pid}", params={"sort": "spread"}).text
    assert [r[0] for r in triage(html)] == ["T-5", "T-2", "T-1", "T-3", "T-4"]  # no spread: last
    assert sorted_header(html) == [("descending", "Largest spread▼")]
    # the sorted column's link turns the order round; the others start in their natural order
    assert f'href="/panels/{pid}?sort=spread&amp;dir=asc"' in html
    assert f'href="/panels/{pid}?sort=reference"' in html
    html = client.get(f"/panels/{pid}", params={"sort": "spread", "dir": "asc"}).text
    assert [r[0] for r in triage(html)] == ["T-1", "T-3", "T-2", "T-5", "T-4"]
    assert sorted_header(html) == [("ascending", "Largest spread▲")]
    html = client.get(f"/panels/{pid}", params={"sort": "coverage"}).text
    assert [r[0] for r in triage(html)] == ["T-4", "T-3", "T-2", "T-1", "T-5"]
    html = client.get(f"/panels/{pid}", params={"sort": "reference", "dir": "desc"}).text
    assert [r[0] for r in triage(html)] == ["T-5", "T-4", "T-3", "T-2", "T-1"]
    # flagged only, and the sort links keep the filter
    html = client.get(f"/panels/{pid}", params={"sort": "reference", "flagged": "1"}).text
    assert [r[0] for r in triage(html)] == ["T-2", "T-5"]
    assert 'id="flagged" name="flagged" value="1" checked' in html
    assert f'href="/panels/{pid}?sort=title&amp;flagged=1"' in html
    # an unknown sort is the default order, never an error
    html = client.get(f"/panels/{pid}", params={"sort": "nonsense", "dir": "sideways"})
    assert html.status_code == 200 and [r[0] for r in triage(html.text)][:2] == ["T-2", "T-5"]


def page_of(client, panel, ref: str):
    return client.get(f"/panels/{panel['panel']['id']}/proposals/{panel['ids'][ref]}")


def nav_links(html: str) -> dict[str, str]:
    nav = re.search(r'<nav class="flagged-nav".*?</nav>', html, re.S).group(0)
    return {rel: words for rel, words in re.findall(r'rel="(prev|next)">([^<]*)</a>', nav)}


def test_moderation_page_steps_through_the_flagged_proposals(client, panel):
    assert nav_links(page_of(client, panel, "T-1").text) == {"next": "Next flagged: T-2"}
    assert nav_links(page_of(client, panel, "T-2").text) == {"next": "Next flagged: T-5"}
    assert nav_links(page_of(client, panel, "T-3").text) == {
        "prev": "Previous flagged: T-2",
        "next": "Next flagged: T-5",
    }
    assert nav_links(page_of(client, panel, "T-5").text) == {"prev": "Previous flagged: T-2"}
    # the former address of a proposal's heat map goes to its page
    r = client.get(
        f"/panels/{panel['panel']['id']}", params={"proposal_id": panel["ids"]["T-2"]}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"/proposals/{panel['ids']['T-2']}")


def test_heat_map_has_a_key_for_every_colour_and_the_flag(client, panel):
    html = page_of(client, panel, "T-2").text
    key = re.search(r'<div class="heat-legend">.*?</div>', html, re.S).group(0)
    swatches = re.findall(r'<span class="swatch (heat-[a-z0-9]+)">([^<]*)</span>', key)
    assert swatches[:6] == [(heat_class(v, 0, 5), str(v)) for v in range(6)]
    assert ("heat-none", "NA") in swatches
    assert "swatch heat-none flagged" in key and "differ by 2 or more" in key
    cells = re.findall(r'<td class="cell (heat-[a-z0-9]+)( flagged)?">', html)
    assert {c for c, _ in cells} <= {cls for cls, _ in swatches}  # every colour on the map is in the key
    assert sum(1 for _, f in cells if f) == 4  # principles 1 and 2, two scorers each


def test_a_moderation_error_keeps_every_chosen_value_and_shows_beside_the_field(client, panel, db):
    pid, proposal = panel["panel"]["id"], panel["ids"]["T-2"]
    page = page_of(client, panel, "T-2")
    form = {
        "csrf_token": csrf_of(page.text),
        "proposal_id": str(proposal),
        "mod_1": "3",  # no note: an error beside the note
        "mod_2": "4",
        "note_2": "Agreed 4 after discussion",
        "mod_3": "na",
        "note_3": "Not relevant to this proposal",
        "note_4": "A note without a score",  # an error beside the score
    }
    with db.unit_of_work(write=False) as s:
        before = len(list(s.scalars(select(AuditEvent.id))))
    r = client.post(f"/panels/{pid}/moderate", data=form)
    assert r.status_code == 422
    html = r.text
    beside = dict(re.findall(r'<p class="error-message" id="([a-z_0-9]+)-error">(.*?)</p>', html, re.S))
    assert set(beside) == {"note_1", "mod_4"}
    assert "note" in beside["note_1"].lower() and "principle 4" in beside["mod_4"]
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert 'href="#note_1"' in summary and 'href="#mod_4"' in summary
    assert 'id="note_1" name="note_1" value="" aria-describedby="note_1-error" aria-invalid="true"' in html

    def chosen(k: int) -> str:
        select_html = re.search(rf'<select id="mod_{k}".*?</select>', html, re.S).group(0)
        return re.search(r'<option value="([^"]*)" selected>', select_html).group(1)

    assert [chosen(k) for k in (1, 2, 3)] == ["3", "4", "na"]
    assert 'id="note_2" name="note_2" value="Agreed 4 after discussion"' in html
    assert 'id="note_4" name="note_4" value="A note without a score"' in html
    # nothing was saved, nothing audited
    saved = client.get(f"{API}/proposals/{proposal}/moderation", headers=panel["chair"].headers)
    assert saved.status_code == 200 and saved.json() == []
    with db.unit_of_work(write=False) as s:
        assert len(list(s.scalars(select(AuditEvent.id)))) == before


def test_moderating_settles_the_flag_and_shows_the_agreed_value(client, panel, db):
    pid, proposal = panel["panel"]["id"], panel["ids"]["T-2"]
    page = page_of(client, panel, "T-2")
    form = {
        "csrf_token": csrf_of(page.text),
        "proposal_id": str(proposal),
        "mod_1": "3",
        "note_1": "Agreed 3 at the panel meeting",
        "mod_2": "4",
        "note_2": "Agreed 4",
    }
    r = client.post(f"/panels/{pid}/moderate", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/panels/{pid}/proposals/{proposal}?saved=moderation"
    html = client.get(r.headers["location"]).text
    assert "Moderated scores saved. T-2: 2 of 12 principles agreed, 0 still flagged." in html
    assert 'class="tag flag"' not in re.search(r"<thead>.*?</thead>", html, re.S).group(0)
    assert "flagged" not in " ".join(re.findall(r'<td class="cell [^"]*"', html))
    foot = re.search(r"<tfoot>.*?</tfoot>", html, re.S).group(0)
    assert re.findall(r'<td class="cell agreed"[^>]*>([^<]*)</td>', foot) == ["3", "4"] + [""] * 10
    with db.unit_of_work(write=False) as s:
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.action, event.entity_id) == ("moderation.saved", str(proposal))
    triaged = {r[0]: r[1:] for r in triage(client.get(f"/panels/{pid}").text)}
    assert triaged["T-2"][2:] == ("0", "3", "Yes (2 agreed)")  # the spread stays; the flags are settled
    assert nav_links(page_of(client, panel, "T-1").text) == {"next": "Next flagged: T-5"}
    # clearing an agreed score (None, with its note still there) flags the principle again
    page = client.get(f"/panels/{pid}/proposals/{proposal}")
    form = {"csrf_token": csrf_of(page.text), "proposal_id": str(proposal), "mod_1": "", "note_1": "Cleared"}
    form |= {"mod_2": "4", "note_2": "Agreed 4"}
    assert client.post(f"/panels/{pid}/moderate", data=form).status_code == 200
    triaged = {r[0]: r[1:] for r in triage(client.get(f"/panels/{pid}").text)}
    assert triaged["T-2"][2:] == ("1", "3", "Partly (1 agreed)")


def test_only_the_panels_chair_and_proposals_on_the_panel(client, panel, factory, admin):
    pid = panel["panel"]["id"]
    other_cycle = factory.cycle(admin)
    elsewhere = factory.proposal(admin, other_cycle)["id"]
    assert client.get(f"/panels/{pid}/proposals/{elsewhere}").status_code == 404
    sign_in(client, panel["scorers"][0].email)
    assert client.get(f"/panels/{pid}").status_code == 403
    assert client.get(f"/panels/{pid}/proposals/{panel['ids']['T-2']}").status_code == 403


# Contrast, computed from the colours in app.css (WCAG 2.2 relative luminance and contrast ratio).
CSS = STYLESHEET.read_text(encoding="utf-8")
TEXT = "#0b0c0c"  # body text colour
PAGE = "#ffffff"  # page background


def rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.strip()
    if colour.startswith("#"):
        h = colour[1:]
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))
    return tuple(int(x) for x in re.fullmatch(r"rgb\((\d+),\s*(\d+),\s*(\d+)\)", colour).groups())


def luminance(colour: str) -> float:
    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rule(selector: str) -> dict[str, str]:
    """The declarations of the stylesheet's rule for exactly ``selector``."""
    found = re.search(rf"(?:^|[\s}}]){re.escape(selector)}\s*\{{([^}}]*)\}}", CSS, re.M)
    assert found, f"no rule for {selector} in app.css"
    return dict(
        (k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in found.group(1).split(";") if ":" in d)
    )


def test_contrast_helpers_match_published_figures():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the usual 4.5:1 grey


def test_every_heat_map_colour_keeps_its_text_at_4_5_to_1():
    classes = {heat_class(None, 0, 5)} | {f"heat-{n}" for n in range(HEAT_LEVELS + 1)}
    ratios = {}
    for cls in sorted(classes):
        declared = rule(f".{cls}")
        ratios[cls] = contrast(declared["background"], declared.get("color", TEXT))
    assert min(ratios.values()) >= 4.5, ratios
    # the flag's mark, and its outline against the page (a non-text mark: 3:1)
    flag = rule(".tag.flag")
    assert contrast(flag["background"], flag["color"]) >= 4.5
    outline = rule(".heat td.flagged, .swatch.flagged")["outline"].split()[-1]
    assert contrast(outline, PAGE) >= 3


def test_ranking_chart_funded_and_unfunded_bars_contrast_and_have_a_key():
    funded, unfunded = rule("svg .bar.funded")["fill"], rule("svg .bar")["fill"]
    assert contrast(funded, unfunded) >= 3
    assert contrast(funded, PAGE) >= 3 and contrast(unfunded, PAGE) >= 3
    items = [
        {"proposal_id": i, "reference": f"R-{i}", "title": "T", "rank": i, "weighted_score": 80.0 - 10 * i}
        for i in (1, 2, 3)
    ]
    walk = {"last_funded_position": 1, "skipped": [2]}
    svg = ranking_bars(items, {1}, walk)
    key = re.search(r'<g class="legend">.*?</g>', svg).group(0)
    assert 'class="bar funded"' in key and 'class="bar"' in key and 'class="bar skipped"' in key
    assert "in the best funded set" in key and "not funded" in key and "where the walk stops funding" in key
    # the key stays inside the drawing
    width, height = map(float, re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', svg).groups())
    assert max(float(y) for y in re.findall(r' y="([0-9.]+)"', key)) < height
    # no budget, no funded set: the key says so
    key = re.search(r'<g class="legend">.*?</g>', ranking_bars(items, set(), None)).group(0)
    assert "no funded set" in key and "bar funded" not in key


def test_a_conflicted_chair_sees_no_scores_of_that_proposal(client, panel):
    pid, t5 = panel["panel"]["id"], panel["ids"]["T-5"]
    r = client.post(
        f"{API}/proposals/{t5}/conflicts",
        headers=panel["chair"].headers,
        json={"type": "other", "reason": "My partner leads the proposal."},
    )
    assert r.status_code == 201, r.text
    rows = {r[0]: r[1:] for r in triage(client.get(f"/panels/{pid}").text)}
    assert rows["T-5"][0] == "Title T-5" and rows["T-5"][1].startswith("You have a conflict of interest")
    assert len(rows["T-5"]) == 2  # no coverage, flags or spread shown
    page = page_of(client, panel, "T-5")
    assert page.status_code == 200 and "conflict of interest" in page.text
    assert '<table class="heat"' not in page.text and 'action="/panels/' not in page.text
    # nor is it among the flagged proposals to step through
    assert nav_links(page_of(client, panel, "T-2").text) == {}
    r = client.post(
        f"/panels/{pid}/moderate",
        data={"csrf_token": csrf_of(page.text), "proposal_id": str(t5), "mod_5": "3", "note_5": "No."},
    )
    assert r.status_code == 403 and "conflict of interest" in r.text


def test_the_chairs_pages_cost_the_same_statements_whatever_the_panels_size(client, panel, db):
    """No statement per proposal: the triage view and a proposal's page (whose previous/next needs the
    whole panel's flags) send as many SQL statements for 45 proposals as for 5."""
    from tests.api.test_query_counts import Statements, add_scored_proposals

    pid = panel["panel"]["id"]
    pages = [f"/panels/{pid}?sort=spread", f"/panels/{pid}/proposals/{panel['ids']['T-2']}"]

    def counts() -> list[int]:
        out = []
        for url in pages:
            with Statements(db) as seen:
                assert client.get(url).status_code == 200
            out.append(seen.count)
        return out

    small = counts()
    add_scored_proposals(db, panel["cycle"], pid, [s.id for s in panel["scorers"]], 40)
    assert len(triage(client.get(pages[0]).text)) == 45
    assert counts() == small


def test_reopening_a_scorecard_from_the_proposals_page(client, panel):
    pid, proposal = panel["panel"]["id"], panel["ids"]["T-2"]
    page = page_of(client, panel, "T-2")
    cards = re.findall(r'name="scorecard_id" value="([0-9]+)"', page.text)
    assert len(cards) == 2  # each submitted scorecard has its Reopen form
    form = {"csrf_token": csrf_of(page.text), "proposal_id": str(proposal), "scorecard_id": cards[0]}
    r = client.post(f"/panels/{pid}/reopen", data=form | {"reason": "x"})
    assert r.status_code == 422
    beside = re.search(rf'id="reason-{cards[0]}-error">(.*?)</p>', r.text, re.S).group(1)
    assert "Give a reason for reopening, of 3 characters or more." in beside
    assert f'href="#reason-{cards[0]}"' in re.search(
        r'<div class="error-summary".*?</div>', r.text, re.S
    ).group(0)
    assert f'id="reason-{cards[0]}" name="reason" placeholder="Reason" class="narrow" value="x"' in r.text
    r = client.post(f"/panels/{pid}/reopen", data=form | {"reason": "Principle 1 evidence was missed"})
    assert r.status_code == 200 and "Scorecard reopened." in r.text
    assert str(r.url).endswith(f"/panels/{pid}/proposals/{proposal}?saved=reopened")
    assert r.text.count('<tr class="draft-row">') == 1
    assert re.findall(r'name="scorecard_id" value="([0-9]+)"', r.text) == cards[1:]
    # one submitted scorecard left: nothing to compare, nothing flagged
    assert 'class="tag flag"' not in re.search(r"<thead>.*?</thead>", r.text, re.S).group(0)
