"""The scorer's pages: My work as a to-do list (status, filter, counts, what is left first), the score
page's inline errors for unanswered principles, "Score next" after a submission, the other members'
submitted scores once the blind rule lifts (as the API lifts it), and the conflict banner."""

from __future__ import annotations

import html
import re

import pytest

from tests.api.test_web_forms import error_next_to
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"


def card(score, skip=(), rationale="Reasoned."):
    return [{"principle": p, "score": score, "rationale": rationale} for p in range(1, 13) if p not in skip]


@pytest.fixture
def w(client, factory, admin):
    """A cycle in scoring; panel A (me, other, late) with three proposals, panel B (me) with one.
    ``other`` submitted P0 with 1 on every principle but 4 on principle 2; ``late`` only drafted P0 (9s
    nowhere: 5 everywhere); I drafted six principles of P1."""
    cycle = factory.cycle(admin)
    titles = [
        "Shared forensic hub",
        "Digital intelligence desk",
        "Regional estate merger",
        "Fleet telematics",
    ]
    ps = [factory.proposal(admin, cycle, title=t) for t in titles]
    me, other, late = factory.user("scorer"), factory.user("scorer"), factory.user("scorer")
    for name, members, props in (("Panel A", [me, other, late], ps[:3]), ("Panel B", [me], ps[3:])):
        r = client.post(
            f"{API}/cycles/{cycle['id']}/panels",
            headers=admin.headers,
            json={
                "name": name,
                "member_ids": [m.id for m in members],
                "proposal_ids": [p["id"] for p in props],
            },
        )
        assert r.status_code == 201, r.text
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    other_card = [{"principle": p, "score": 4 if p == 2 else 1, "rationale": "Other."} for p in range(1, 13)]
    for who, body in ((other, {"scores": other_card, "submit": True}), (late, {"scores": card(5)})):
        r = client.put(f"{API}/proposals/{ps[0]['id']}/scorecard", headers=who.headers, json=body)
        assert r.status_code == 200, r.text
    six = {"scores": card(3)[:5] + [{"principle": 6, "not_applicable": True, "rationale": "Not ours."}]}
    r = client.put(f"{API}/proposals/{ps[1]['id']}/scorecard", headers=me.headers, json=six)
    assert r.status_code == 200, r.text
    assert sign_in(client, me.email).status_code == 303
    return {"cycle": cycle, "p": ps, "me": me, "other": other, "late": late}


def rows(page: str) -> list[list[str]]:
    body = page[page.index("<tbody>", page.index('class="todo"')) : page.index("</tbody>")]
    return [
        [
            re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", c))).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        ]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def post_card(client, pid, answers: dict[int, str], action="submit", **extra):
    page = client.get(f"/proposals/{pid}/score")
    form = {"csrf_token": csrf_of(page.text), "action": action, **extra}
    for p, score in answers.items():
        form[f"score_{p}"] = score
        form[f"rationale_{p}"] = f"Reason {p}."
    return client.post(f"/proposals/{pid}/score", data=form, follow_redirects=False)


def test_my_work_is_a_to_do_list_with_what_is_left_first(client, w):
    p = w["p"]
    r = client.post(
        f"{API}/proposals/{p[3]['id']}/conflicts",
        headers=w["me"].headers,
        json={"type": "personal", "reason": "My brother leads it."},
    )
    assert r.status_code == 201, r.text
    page = client.get("/").text
    refs = [row[0].split(" ")[0] for row in rows(page)]
    # to do (reference order), then the draft, then the conflict: what is left first
    assert refs == [p[0]["reference"], p[2]["reference"], p[1]["reference"], p[3]["reference"]]
    statuses = [row[2] for row in rows(page)]
    assert statuses == ["To do", "To do", "Draft 6 of 12 answered", "Conflict declared"]
    assert [row[3] for row in rows(page)] == [
        f"Score {p[0]['reference']}",
        f"Score {p[2]['reference']}",
        f"Continue {p[1]['reference']}",
        "None",
    ]
    assert "0 of 3 submitted" in page and "1 with a conflict declared" in page
    nxt = re.search(r'href="/proposals/(\d+)/score" id="score-next">Score next: ([^<]+)<', page)
    assert nxt and int(nxt.group(1)) == p[0]["id"]
    assert html.unescape(nxt.group(2)) == f"{p[0]['reference']} Shared forensic hub"


def test_my_work_filters_by_status_panel_and_words(client, w):
    p = w["p"]
    page = client.get("/", params={"status": "draft"}).text
    assert [r[0] for r in rows(page)] == [f"{p[1]['reference']} Digital intelligence desk"]
    assert "Showing 1 of 4 proposals." in page and '<option value="draft" selected>' in page
    panels = dict(re.findall(r'<option value="(\d+)" ?>(Panel [AB])</option>', page))
    b = next(k for k, v in panels.items() if v == "Panel B")
    page = client.get("/", params={"panel": b}).text
    assert [r[0].split(" ")[0] for r in rows(page)] == [p[3]["reference"]]
    assert f'<option value="{b}" selected>Panel B</option>' in page
    page = client.get("/", params={"q": "ESTATE regional"}).text
    assert [r[0].split(" ")[0] for r in rows(page)] == [p[2]["reference"]]
    assert 'value="ESTATE regional"' in page
    page = client.get("/", params={"q": "nothing like it"}).text
    assert "No proposals match the filter." in page and "Showing 0 of 4 proposals." in page
    # the counts are of the whole list, whatever the filter shows
    assert "0 of 4 submitted" in page
    assert client.get("/", params={"panel": "abc"}).status_code == 400


def test_incomplete_submit_marks_each_unanswered_principle_and_keeps_the_values(client, w):
    pid = w["p"][0]["id"]
    answers = {n: "3" for n in range(1, 13) if n not in (4, 7)}
    answers[9] = "na"
    r = post_card(client, pid, answers, confidence_2="3")
    assert r.status_code == 422
    for n in (4, 7):
        assert (
            error_next_to(r.text, f"score_{n}")
            == f"Select a score for principle {n}, or mark it not applicable."
        )
        assert (
            f'<a href="#score_{n}">Select a score for principle {n}, or mark it not applicable.</a>' in r.text
        )
        assert re.search(rf'<input type="radio" name="score_{n}" id="score_{n}" ', r.text)
    assert error_next_to(r.text, "score_5") == ""
    summary = r.text[r.text.index("error-summary") : r.text.index("</ul>", r.text.index("error-summary"))]
    assert summary.index("#score_4") < summary.index("#score_7")  # in the order of the page
    assert "cannot submit" not in r.text  # the API's one-line message is replaced by the lines per principle
    # what was typed is kept
    assert re.search(r'name="score_9" id="score_9-na" value="na" checked', r.text)
    assert 'id="score_1-3" value="3" checked' in r.text
    assert ">Reason 12.</textarea>" in r.text
    assert re.search(r'<option value="3" selected>3 – high</option>', r.text)
    # nothing was saved
    assert client.get(f"{API}/proposals/{pid}/scorecard", headers=w["me"].headers).json()["status"] == "new"


def test_unanswered_counts_saved_answers_as_the_service_does(client, w):
    """Principle 7 saved in a draft and not posted again still counts as answered: only 4 is marked."""
    pid = w["p"][0]["id"]
    r = client.put(
        f"{API}/proposals/{pid}/scorecard",
        headers=w["me"].headers,
        json={"scores": [{"principle": 7, "score": 2, "rationale": "Saved."}]},
    )
    assert r.status_code == 200
    r = post_card(client, pid, {n: "3" for n in range(1, 13) if n not in (4, 7)})
    assert r.status_code == 422
    assert error_next_to(r.text, "score_4") != "" and error_next_to(r.text, "score_7") == ""


def test_submit_offers_score_next_and_lifts_the_blind_rule(client, w):
    p = w["p"]
    before = client.get(f"/proposals/{p[0]['id']}/score").text
    assert 'id="blind"' in before and "Submitted scores for" not in before and "Other." not in before
    answers = {n: "3" for n in range(1, 13)}
    answers[5] = "na"
    r = post_card(client, p[0]["id"], answers)
    assert r.status_code == 303 and r.headers["location"] == f"/proposals/{p[0]['id']}/score?saved=submitted"
    page = client.get(r.headers["location"]).text
    assert f"Scorecard for {p[0]['reference']} submitted" in page
    nxt = re.search(r'id="score-next" href="/proposals/(\d+)/score">Score next: ([^<]+)<', page)
    # the next unfinished after P0 in reference order: P1 (a draft), before P2 (to do)
    assert nxt and int(nxt.group(1)) == p[1]["id"]
    assert html.unescape(nxt.group(2)) == f"{p[1]['reference']} Digital intelligence desk"
    # the other member's submitted scores, the late member's draft never
    table = page[page.index('class="others"') : page.index("</table>", page.index('class="others"'))]
    heads = re.findall(r'<th scope="col"[^>]*>([^<]+)', table)
    assert heads == ["Principle", "You", "Member A", "Spread"]
    body = [
        re.findall(r"<td[^>]*>([^<]*)</td>", tr)
        for tr in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table)
    ]
    assert body[0] == ["3", "1", "2"]  # principle 1: 3 and 1, spread 2
    assert body[1] == ["3", "4", "1"]
    assert body[4] == ["N/A", "1", "0"]  # not applicable is not a number in the spread
    assert "5" not in {v for row in body for v in row[:2]}  # the draft's 5s are not shown
    api = client.get(f"{API}/proposals/{p[0]['id']}/scorecards", headers=w["me"].headers).json()
    assert sorted(c["scorer_id"] for c in api["items"]) == sorted([w["me"].id, w["other"].id])


def test_last_submission_says_all_are_submitted(client, w):
    p = w["p"]
    for i in (0, 1, 2, 3):
        r = post_card(client, p[i]["id"], {n: "2" for n in range(1, 13)})
        assert r.status_code == 303, r.text
        page = client.get(r.headers["location"]).text
        assert ('id="all-submitted"' in page) == (i == 3)
        assert ('id="score-next"' in page) == (i < 3)
    home = client.get("/").text
    assert "4 of 4 submitted" in home and "All your scorecards are submitted." in home
    assert 'id="score-next"' not in home
    # P3 is scored by me alone (panel B): the page says so instead of an empty table
    alone = client.get(f"/proposals/{p[3]['id']}/score").text
    assert 'id="none-yet"' in alone and 'class="others"' not in alone


def test_banners_promise_only_what_is_so(client, w):
    """``saved=submitted`` on a draft shows no "submitted" banner; ``conflict=`` without a conflict none."""
    p = w["p"]
    page = client.get(f"/proposals/{p[1]['id']}/score", params={"saved": "submitted"}).text
    assert "submitted-banner" not in page and "Score next" not in page
    page = client.get(f"/proposals/{p[2]['id']}/score", params={"saved": "draft"}).text
    assert "Draft saved." not in page  # nothing is saved for P2
    assert "conflict-banner" not in client.get("/", params={"conflict": p[0]["id"]}).text


def test_declaring_a_conflict_ends_on_a_banner_naming_the_proposal(client, w):
    p = w["p"][2]
    page = client.get(f"/proposals/{p['id']}/score").text
    r = client.post(
        f"/proposals/{p['id']}/conflict",
        data={
            "csrf_token": csrf_of(page),
            "type": "personal",
            "conflict_reason": "I worked on its business case.",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/?conflict={p['id']}")
    home = client.get(r.headers["location"]).text
    assert f"Conflict declared for {p['reference']} Regional estate merger" in html.unescape(home)
    row = next(r for r in rows(home) if r[0].startswith(p["reference"]))
    assert row[2] == "Conflict declared"
    # a declaration with no reason: the error beside the field, the type kept
    page = client.get(f"/proposals/{w['p'][0]['id']}/score").text
    r = client.post(
        f"/proposals/{w['p'][0]['id']}/conflict",
        data={"csrf_token": csrf_of(page), "type": "personal", "conflict_reason": ""},
    )
    assert r.status_code == 422 and error_next_to(r.text, "conflict_reason") != ""


def test_allocation_api_gives_answered_and_cycle_status(client, w):
    items = client.get(f"{API}/users/me/allocation", headers=w["me"].headers).json()["items"]
    by_id = {i["proposal_id"]: i for i in items}
    assert by_id[w["p"][1]["id"]]["answered"] == 6 and by_id[w["p"][1]["id"]]["scorecard_status"] == "draft"
    assert by_id[w["p"][0]["id"]]["answered"] == 0
    assert {i["cycle_status"] for i in items} == {"scoring"}
    late = client.get(f"{API}/users/me/allocation", headers=w["late"].headers).json()["items"]
    assert {i["proposal_id"]: i["answered"] for i in late}[w["p"][0]["id"]] == 12


def test_proposals_of_a_cycle_not_in_scoring_wait_after_what_can_be_scored(client, factory, admin, w):
    """A to-do of a cycle already in moderation cannot be scored: it comes after the to-dos and drafts
    that can, says so, and Score next never offers it."""
    later = factory.cycle(admin)
    p = factory.proposal(admin, later, title="Custody redesign")
    r = client.post(
        f"{API}/cycles/{later['id']}/panels",
        headers=admin.headers,
        json={"name": "Panel C", "member_ids": [w["me"].id], "proposal_ids": [p["id"]]},
    )
    assert r.status_code == 201, r.text
    for step in ("scoring", "moderation"):
        r = client.post(f"{API}/cycles/{later['id']}/transition", json={"to": step}, headers=admin.headers)
        assert r.status_code == 200, r.text
    r = post_card(client, w["p"][2]["id"], {n: "2" for n in range(1, 13)})
    assert r.status_code == 303
    table = rows(client.get("/").text)
    assert [row[0] for row in table][-2:] == [
        f"{p['reference']} Custody redesign",
        f"{w['p'][2]['reference']} Regional estate merger",
    ]
    assert table[-2][2] == "To do scoring is not open" and table[-1][2] == "Submitted"
    offered = set()
    for pid in (w["p"][0]["id"], w["p"][1]["id"], w["p"][3]["id"]):
        r = post_card(client, pid, {n: "2" for n in range(1, 13)})
        page = client.get(r.headers["location"]).text
        offered |= set(re.findall(r'id="score-next" href="/proposals/(\d+)/score"', page))
    assert str(p["id"]) not in offered
    # the last one: not "all submitted", which would not be so
    assert 'id="all-submitted"' not in page
    assert "Nothing else can be scored now: 1 of your scorecards is not submitted" in page
    home = client.get("/").text
    assert 'id="score-next"' not in home and "4 of 5 submitted" in home and 'id="all-submitted"' not in home
    assert (
        "Nothing can be scored now: 1 of your scorecards is not submitted, in a cycle that is not in scoring."
        in home
    )
