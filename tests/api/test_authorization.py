"""Who may see and change what: weightings, submissions, conflicted chairs, drafts, cycle budgets,
password changes, fresh sign-in for personal tokens, and sign-out of a bearer token."""

import pytest
from sqlalchemy import select

from app.models import Weighting
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"


def card(score, rationale="Panel reasoning."):
    return [{"principle": p, "score": score, "rationale": rationale} for p in range(1, 13)]


@pytest.fixture
def panel_world(client, factory, admin):
    """A cycle in scoring: one proposal on a panel chaired by ``chair``; two scorers have submitted."""
    chair, other_chair = factory.user("chair"), factory.user("chair")
    finance = factory.user("finance")
    s1, s2 = factory.user("scorer"), factory.user("scorer")
    cycle = factory.cycle(admin)
    proposal = factory.proposal(admin, cycle, reference="AZ-1")
    other = factory.proposal(admin, cycle, reference="AZ-2")
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=chair.headers,
        json={"name": "Panel A", "member_ids": [s1.id, s2.id], "proposal_ids": [proposal["id"]]},
    )
    assert r.status_code == 201, r.text
    panel = r.json()
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=other_chair.headers,
        json={"name": "Panel B", "member_ids": [s1.id], "proposal_ids": [other["id"]]},
    )
    assert r.status_code == 201, r.text
    assert client.post(
        f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers
    ).is_success
    cards = {}
    for scorer, score in ((s1, 2), (s2, 4)):
        r = client.put(
            f"{API}/proposals/{proposal['id']}/scorecard",
            headers=scorer.headers,
            json={"scores": card(score), "submit": True},
        )
        assert r.status_code == 200, r.text
        cards[scorer.id] = r.json()["id"]
    return dict(
        admin=admin,
        chair=chair,
        other_chair=other_chair,
        finance=finance,
        scorers=(s1, s2),
        cycle=cycle,
        proposal=proposal,
        panel=panel,
        cards=cards,
    )


# --- 1. weightings: chairs and admins only, through the web too -------------------------------------


@pytest.mark.parametrize("role", ["scorer", "finance", "proposer"])
def test_web_weightings_refused_to_other_roles(client, factory, admin, db, role):
    cycle = factory.cycle(admin)
    user = factory.user(role)
    sign_in(client, user.email)
    page = client.get(f"/weightings?cycle_id={cycle['id']}")
    assert page.status_code == 200
    assert 'method="post" action="/weightings"' not in page.text and "Make default" not in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "cycle_id": str(cycle["id"]),
        "method": "points",
        "name": "Side door",
        "make_default": "on",
        **{f"points_{p}": "1" for p in range(1, 13)},
    }
    r = client.post("/weightings", data=form, follow_redirects=False)
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "Only chairs and admins" in r.text
    with db.unit_of_work() as s:
        assert list(s.scalars(select(Weighting.name).where(Weighting.cycle_id == cycle["id"]))) == [
            "Equal weights"
        ]
    chair = factory.user("chair")
    w = client.post(
        f"{API}/cycles/{cycle['id']}/weightings",
        headers=chair.headers,
        json={"name": "Second", "method": "direct", "weights": {"1": 1}},
    ).json()
    r = client.post(
        f"/weightings/{w['id']}/default", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 403
    with db.unit_of_work() as s:
        default = s.scalar(
            select(Weighting.name).where(Weighting.cycle_id == cycle["id"], Weighting.is_default)
        )
    assert default == "Equal weights"


def test_web_weightings_allowed_to_chair(client, factory, admin, db):
    cycle = factory.cycle(admin)
    chair = factory.user("chair")
    sign_in(client, chair.email)
    page = client.get(f"/weightings?cycle_id={cycle['id']}")
    assert 'method="post" action="/weightings"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "cycle_id": str(cycle["id"]),
        "method": "points",
        "name": "Chair's points",
        "make_default": "on",
        **{f"points_{p}": str(p) for p in range(1, 13)},
    }
    r = client.post("/weightings", data=form, follow_redirects=False)
    assert r.status_code == 303
    with db.unit_of_work() as s:
        default = s.scalar(
            select(Weighting.name).where(Weighting.cycle_id == cycle["id"], Weighting.is_default)
        )
    assert default == "Chair's points"
