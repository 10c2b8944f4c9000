"""Disagreement: answered scores only, the cycle's threshold, moderated cells settled (API and heat map)."""

import re

import pytest

from tests.api.test_web_sessions import sign_in

API = "/api/v1"


@pytest.fixture
def panel(client, factory, admin):
    """One proposal scored by five: principle 10 is 3, 3, 3, NA, 3; principle 1 is 1, 3, 3, 3, 3."""
    chair = factory.user("chair")
    scorers = [factory.user("scorer") for _ in range(5)]
    cycle = factory.cycle(admin)
    proposal = factory.proposal(admin, cycle, reference="D-01")
    p = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=chair.headers,
        json={"name": "Five", "member_ids": [s.id for s in scorers], "proposal_ids": [proposal["id"]]},
    ).json()
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    for j, s in enumerate(scorers):
        answers = []
        for k in range(1, 13):
            if k == 10 and j == 3:
                answers.append({"principle": k, "not_applicable": True, "rationale": "Network-wide."})
            else:
                answers.append({"principle": k, "score": 1 if (k == 1 and j == 0) else 3, "rationale": "R."})
        r = client.put(
            f"{API}/proposals/{proposal['id']}/scorecard",
            headers=s.headers,
            json={"scores": answers, "submit": True},
        )
        assert r.status_code == 200, r.text
    return dict(cycle=cycle, proposal=proposal, panel=p, chair=chair, admin=admin)


def principles_of(client, w):
    r = client.get(f"{API}/cycles/{w['cycle']['id']}/agreement", headers=w["chair"].headers)
    assert r.status_code == 200, r.text
    body = r.json()
    return body, {p["principle"]: p for p in body["proposals"][0]["principles"]}


def heat_header(html, k):
    """The heat map's column header of principle k."""
    return re.search(rf'<th scope="col" class="num">P{k}( <span[^>]*>!</span>)?</th>', html).group(0)


def test_not_applicable_is_not_a_number_in_the_spread(client, panel):
    w = panel
    body, by = principles_of(client, w)
    assert body["disagreement_threshold"] == 2
    assert (by[10]["spread"], by[10]["sd"], by[10]["n"], by[10]["needs_moderation"]) == (0.0, 0.0, 4, False)
    assert (by[1]["spread"], by[1]["needs_moderation"], by[1]["moderated"]) == (2.0, True, False)
    assert body["proposals"][0]["max_spread"] == 2.0
    # the ranking's max_spread agrees
    item = client.get(f"{API}/cycles/{w['cycle']['id']}/ranking", headers=w["admin"].headers).json()["items"][
        0
    ]
    assert item["max_spread"] == 2.0
    # and the heat map
    sign_in(client, w["chair"].email)
    html = client.get(f"/panels/{w['panel']['id']}", params={"proposal_id": w["proposal"]["id"]}).text
    assert heat_header(html, 10) == '<th scope="col" class="num">P10</th>'
    assert (
        heat_header(html, 1)
        == '<th scope="col" class="num">P1 <span class="tag flag" title="spread 2.0">!</span></th>'
    )
    assert "differ by 2 or more (the cycle's disagreement threshold)" in html
    assert "Agreed (moderated)" not in html


def test_moderated_cells_are_settled_and_shown_beside_the_raw_scores(client, panel):
    w = panel
    r = client.put(
        f"{API}/proposals/{w['proposal']['id']}/moderation",
        headers=w["chair"].headers,
        json={"scores": [{"principle": 1, "score": 3, "note": "Agreed 3 at the panel meeting."}]},
    )
    assert r.status_code == 200, r.text
    body, by = principles_of(client, w)
    assert (by[1]["spread"], by[1]["needs_moderation"], by[1]["moderated"]) == (2.0, False, True)
    assert body["proposals"][0]["needs_moderation"] is False
    sign_in(client, w["chair"].email)
    html = client.get(f"/panels/{w['panel']['id']}", params={"proposal_id": w["proposal"]["id"]}).text
    assert heat_header(html, 1) == '<th scope="col" class="num">P1</th>'
    foot = re.search(r"<tfoot>.*?</tfoot>", html, re.S).group(0)
    assert "Agreed (moderated)" in foot
    cells = re.findall(r'<td class="cell agreed"[^>]*>([^<]*)</td>', foot)
    assert cells == ["3"] + [""] * 11


def test_threshold_is_the_cycles_setting(client, panel):
    w = panel
    cycle = client.get(f"{API}/cycles/{w['cycle']['id']}", headers=w["admin"].headers).json()
    r = client.patch(
        f"{API}/cycles/{cycle['id']}",
        headers=w["admin"].headers,
        json={"disagreement_threshold": 3, "version": cycle["version"]},
    )
    assert r.status_code == 200, r.text
    body, by = principles_of(client, w)
    assert body["disagreement_threshold"] == 3 and by[1]["needs_moderation"] is False
    sign_in(client, w["chair"].email)
    html = client.get(f"/panels/{w['panel']['id']}", params={"proposal_id": w["proposal"]["id"]}).text
    assert "differ by 3 or more" in html and heat_header(html, 1) == '<th scope="col" class="num">P1</th>'
