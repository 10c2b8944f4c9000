"""The navigation offers only pages the user may open: a scorer sees the ranking links once a cycle is in
a status whose rankings scorers may read (``SERR_SCORERS_SEE_RANKINGS_FROM``), never before."""

from __future__ import annotations

import re

from tests.api.test_web_sessions import sign_in

API = "/api/v1"
RANKING_LINKS = ("/ranking", "/ranking/compare", "/ranking/sensitivity", "/ranking/selection")


def nav_links(page: str) -> set[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav, "the page has no main navigation"
    return set(re.findall(r'href="([^"]+)"', nav.group(1)))


def test_a_scorer_sees_the_ranking_links_only_when_a_ranking_would_open(client, factory, admin):
    scorer = factory.user("scorer")
    cycle = factory.cycle(admin)
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    assert sign_in(client, scorer.email).status_code == 303
    links = nav_links(client.get("/").text)
    assert not links & set(RANKING_LINKS), links
    assert client.get(f"/ranking?cycle_id={cycle['id']}").status_code == 403  # what the hidden link led to

    moderation = {"to": "moderation"}
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json=moderation, headers=admin.headers)
    assert r.status_code == 200, r.text
    links = nav_links(client.get("/").text)
    assert set(RANKING_LINKS) <= links
    assert client.get(f"/ranking?cycle_id={cycle['id']}").status_code == 200


def test_finance_and_proposers(client, factory):
    finance, proposer = factory.user("finance"), factory.user("proposer")
    assert sign_in(client, finance.email).status_code == 303
    assert set(RANKING_LINKS) <= nav_links(client.get("/").text)  # with no cycle at all, as ever
    assert sign_in(client, proposer.email).status_code == 303
    assert not nav_links(client.get("/").text) & set(RANKING_LINKS)
