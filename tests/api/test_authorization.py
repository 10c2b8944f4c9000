"""Who may see and change what: weightings, submissions, conflicted chairs, drafts, cycle budgets,
password changes, fresh sign-in for personal tokens, and sign-out of a bearer token."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.models import ApiToken, AuditEvent, Submission, Weighting
from app.submissions.service import sha256
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


# --- 2. submissions: from moderation or closed; individual answers for admins only ------------------


def test_submission_needs_moderation_or_an_admin_override(client, panel_world, db):
    w = panel_world
    cid = w["cycle"]["id"]
    url = f"{API}/cycles/{cid}/submissions"
    for who in ("finance", "chair", "other_chair"):
        r = client.post(url, headers=w[who].headers, json={"title": "Too early"})
        assert r.status_code == 409, r.text
        assert "'scoring'" in r.json()["detail"] and r.json()["current_status"] == "scoring"
    r = client.post(url, headers=w["finance"].headers, json={"title": "Early", "override_reason": "Board"})
    assert r.status_code == 409  # only admins override
    for body in ({"title": "No reason"}, {"title": "Blank", "override_reason": "   "}):
        r = client.post(url, headers=w["admin"].headers, json=body)
        assert r.status_code == 422, r.text
        assert [e["loc"] for e in r.json()["errors"]] == [["body", "override_reason"]]
    r = client.post(
        url,
        headers=w["admin"].headers,
        json={"title": "Interim for the board", "override_reason": "Board meets before moderation ends"},
    )
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["content"]["override"] == {
        "cycle_status": "scoring",
        "reason": "Board meets before moderation ends",
    }
    with db.unit_of_work() as s:
        event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "submission.issued", AuditEvent.entity_id == str(sub["id"])
            )
        )
        assert event.changes["override"]["reason"] == "Board meets before moderation ends"
    assert client.get(f"{API}/submissions/{sub['id']}/verify", headers=w["admin"].headers).json()["verified"]
    # from moderation on, finance and chairs issue without any override
    client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=w["admin"].headers)
    r = client.post(url, headers=w["finance"].headers, json={"title": "After moderation"})
    assert r.status_code == 201, r.text
    assert "override" not in r.json()["content"]


def test_submission_shows_individual_answers_to_admins_only(client, panel_world, db):
    w = panel_world
    cid = w["cycle"]["id"]
    client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=w["admin"].headers)
    r = client.post(f"{API}/cycles/{cid}/submissions", headers=w["finance"].headers, json={"title": "Final"})
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["content"]["inputs"]["answers"] is None and "admins only" in issued["answers_withheld"]
    sid = issued["id"]
    # the scorecards themselves are refused to these users, and so are the answers inside a submission
    for who in ("finance", "other_chair"):
        assert (
            client.get(
                f"{API}/proposals/{w['proposal']['id']}/scorecards", headers=w[who].headers
            ).status_code
            == 403
        )
        got = client.get(f"{API}/submissions/{sid}", headers=w[who].headers).json()
        assert got["content"]["inputs"]["answers"] is None
        assert got["answers_withheld"] and got["content_sha256"] == issued["content_sha256"]
        assert got["content"]["results"]["ranking"][0]["scorers"] == 2  # aggregates stay
    full = client.get(f"{API}/submissions/{sid}", headers=w["admin"].headers).json()
    assert full["answers_withheld"] is None
    answers = full["content"]["inputs"]["answers"]
    assert len(answers) == 24 and {a[1] for a in answers} == {s.id for s in w["scorers"]}
    assert sha256(full["content"]) == full["content_sha256"]
    # the stored row still holds the answers, its hash is unchanged, and verification recomputes from it
    with db.unit_of_work() as s:
        row = s.get(Submission, sid)
        assert len(row.content["inputs"]["answers"]) == 24 and sha256(row.content) == row.content_sha256
    v = client.get(f"{API}/submissions/{sid}/verify", headers=w["finance"].headers).json()
    assert v["verified"] is True


# --- 3. a conflicted chair is a conflicted member for that proposal ---------------------------------


def test_chair_with_declared_conflict_cannot_read_or_moderate(client, panel_world):
    w = panel_world
    pid, chair = w["proposal"]["id"], w["chair"]
    r = client.post(
        f"{API}/proposals/{pid}/conflicts",
        headers=chair.headers,
        json={"type": "financial", "reason": "My team delivers it"},
    )
    assert r.status_code == 201, r.text
    reads = [
        client.get(f"{API}/proposals/{pid}/scorecards", headers=chair.headers),
        client.get(f"{API}/proposals/{pid}/moderation", headers=chair.headers),
        client.put(
            f"{API}/proposals/{pid}/moderation",
            headers=chair.headers,
            json={"scores": [{"principle": 1, "score": 3, "note": "Agreed"}]},
        ),
        client.post(
            f"{API}/proposals/{pid}/scorecards/{w['cards'][w['scorers'][0].id]}/reopen",
            headers=chair.headers,
            json={"reason": "Look again"},
        ),
    ]
    for r in reads:
        assert r.status_code == 403, r.text
        body = r.json()
        assert "conflict of interest" in body["detail"] and "My team delivers it" in body["detail"]
        assert "AZ-1" in body["conflict"]
    # they see only their own conflict, and cannot record others'
    listed = client.get(f"{API}/proposals/{pid}/conflicts", headers=chair.headers).json()["items"]
    assert [c["user_id"] for c in listed] == [chair.id]
    r = client.post(
        f"{API}/proposals/{pid}/conflicts",
        headers=chair.headers,
        json={"user_id": w["scorers"][0].id, "type": "other", "reason": "Recorded by a conflicted chair"},
    )
    assert r.status_code == 403 and "conflict of interest" in r.json()["detail"]
    # an admin moderates instead
    admin = w["admin"]
    assert client.get(f"{API}/proposals/{pid}/scorecards", headers=admin.headers).json()["total"] == 2
    r = client.put(
        f"{API}/proposals/{pid}/moderation",
        headers=admin.headers,
        json={"scores": [{"principle": 1, "score": 3, "note": "Agreed"}]},
    )
    assert r.status_code == 200


def test_chair_who_proposed_it_is_conflicted(client, factory, admin):
    lead = factory.user("proposer")
    scorer = factory.user("scorer")
    cycle = factory.cycle(admin)
    proposal = factory.proposal(lead, cycle)
    assert proposal["proposer_id"] == lead.id
    r = client.patch(f"{API}/users/{lead.id}", headers=admin.headers, json={"roles": ["proposer", "chair"]})
    assert r.status_code == 200
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={
            "name": "Lead's panel",
            "chair_id": lead.id,
            "member_ids": [scorer.id],
            "proposal_ids": [proposal["id"]],
        },
    )
    assert r.status_code == 201, r.text
    client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    r = client.get(f"{API}/proposals/{proposal['id']}/scorecards", headers=lead.headers)
    assert r.status_code == 403 and "proposer of" in r.json()["detail"]


def test_panel_page_hides_a_conflicted_proposal_from_its_chair(client, panel_world):
    w = panel_world
    pid, chair = w["proposal"]["id"], w["chair"]
    page_url = f"/panels/{w['panel']['id']}?proposal_id={pid}"
    sign_in(client, chair.email)
    before = client.get(page_url)
    assert before.status_code == 200 and 'class="heat"' in before.text
    client.post(
        f"{API}/proposals/{pid}/conflicts",
        headers=chair.headers,
        json={"type": "personal", "reason": "Related to the lead"},
    )
    page = client.get(page_url)
    assert page.status_code == 200
    assert 'class="heat"' not in page.text and "Save moderated scores" not in page.text
    assert "conflict of interest" in page.text and "Related to the lead" in page.text
    # a forged moderation post is refused by the service
    r = client.post(
        f"/panels/{w['panel']['id']}/moderate",
        data={"csrf_token": csrf_of(page.text), "proposal_id": str(pid), "mod_1": "3", "note_1": "Forged"},
    )
    assert r.status_code in (403, 422) and "conflict of interest" in r.text
    assert client.get(f"{API}/proposals/{pid}/moderation", headers=w["admin"].headers).json() == []


# --- 4. drafts, cycle budgets, passwords, fresh sign-in, sign-out -----------------------------------


def test_drafts_are_for_their_proposer_and_managers(client, factory, admin):
    lead = factory.user("proposer")
    cycle = factory.cycle(admin)
    draft = factory.proposal(lead, cycle, title="Unfinished idea", status="draft")
    ready = factory.proposal(lead, cycle, title="Finished idea")
    url = f"{API}/proposals/{draft['id']}"
    users = {r: factory.user(r) for r in ("scorer", "finance", "chair")}
    for role in ("scorer", "finance"):
        h = users[role].headers
        assert client.get(url, headers=h).status_code == 404
        assert client.get(f"{url}/conflicts", headers=h).status_code == 404
        assert client.get(f"{url}/scorecards", headers=h).status_code == 404
        listed = client.get(f"{API}/proposals", headers=h, params={"cycle_id": cycle["id"]}).json()
        assert [p["id"] for p in listed["items"]] == [ready["id"]] and listed["total"] == 1
        drafts = client.get(f"{API}/proposals", headers=h, params={"status": "draft"}).json()
        assert drafts["total"] == 0
    for who in (lead, users["chair"], admin):
        assert client.get(url, headers=who.headers).status_code == 200
        listed = client.get(f"{API}/proposals", headers=who.headers, params={"cycle_id": cycle["id"]}).json()
        assert listed["total"] == 2
    # the pages follow the same rule
    sign_in(client, users["scorer"].email)
    assert client.get(f"/proposals/{draft['id']}").status_code == 404
    listing = client.get(f"/proposals?cycle_id={cycle['id']}").text
    assert "Finished idea" in listing and "Unfinished idea" not in listing
    sign_in(client, users["chair"].email)
    assert "Unfinished idea" in client.get(f"/proposals?cycle_id={cycle['id']}").text


def test_only_admins_change_a_cycles_money_and_scale(client, factory, admin):
    chair = factory.user("chair")
    cycle = factory.cycle(admin, status="draft")
    url = f"{API}/cycles/{cycle['id']}"
    for body, field in (
        ({"budgets": {"2022-23": "1.00"}}, "budgets"),
        ({"financial_years": ["2022-23"]}, "financial_years"),
        ({"scale_max": 9}, "scale_max"),
        ({"scale_labels": {"0": "None"}}, "scale_labels"),
        ({"not_applicable_policy": "redistribute"}, "not_applicable_policy"),
    ):
        r = client.patch(url, headers=chair.headers, json={**body, "version": cycle["version"]})
        assert r.status_code == 403, r.text
        assert field in r.json()["detail"] and r.json()["errors"][0]["loc"] == ["body", field]
    assert client.get(url, headers=chair.headers).json()["budgets"]["2022-23"] == "1000000.00"
    r = client.patch(
        url, headers=chair.headers, json={"name": "Renamed by the chair", "version": cycle["version"]}
    )
    assert r.status_code == 200 and r.json()["name"] == "Renamed by the chair"
    r = client.patch(
        url, headers=admin.headers, json={"budgets": {"2022-23": "1.00"}, "version": r.json()["version"]}
    )
    assert r.status_code == 200 and r.json()["budgets"]["2022-23"] == "1.00"


def test_password_change_signs_the_user_out_everywhere(client, factory, admin, db):
    user = factory.user("scorer")
    personal = client.post(f"{API}/users/me/tokens", headers=user.headers, json={"name": "script"}).json()
    personal_headers = {"Authorization": f"Bearer {personal['token']}"}
    sign_in(client, user.email)
    assert client.get("/", follow_redirects=False).status_code == 200
    for h in (user.headers, personal_headers):
        assert client.get(f"{API}/users/me", headers=h).status_code == 200
    r = client.patch(
        f"{API}/users/{user.id}", headers=admin.headers, json={"password": "a-brand-new-password"}
    )
    assert r.status_code == 200, r.text
    for h in (user.headers, personal_headers):
        r = client.get(f"{API}/users/me", headers=h)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with db.unit_of_work() as s:
        event = s.scalar(
            select(AuditEvent).where(AuditEvent.action == "user.updated").order_by(AuditEvent.id.desc())
        )
        assert event.changes["tokens_revoked"] == 2 and event.changes["web_sessions_ended"] == 1
    # the admin's own token is untouched; the new password works
    assert client.get(f"{API}/users/me", headers=admin.headers).status_code == 200
    r = client.post(f"{API}/auth/token", data={"username": user.email, "password": "a-brand-new-password"})
    assert r.status_code == 200


def test_personal_token_needs_a_fresh_sign_in(client, factory, db):
    user = factory.user("finance")
    signed_in = client.post(
        f"{API}/auth/token", data={"username": user.email, "password": "correct-horse-battery"}
    ).json()
    fresh = {"Authorization": f"Bearer {signed_in['access_token']}"}
    r = client.post(f"{API}/users/me/tokens", headers=fresh, json={"name": "script", "expires_in_days": 366})
    assert r.status_code == 201, r.text
    personal = {"Authorization": f"Bearer {r.json()['token']}"}
    # a personal token cannot mint another
    r = client.post(f"{API}/users/me/tokens", headers=personal, json={"name": "second"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "/problems/fresh-sign-in-required" and "Sign in again" in r.json()["detail"]
    # a sign-in token older than SERR_FRESH_SIGNIN_MINUTES (10) cannot either
    with db.unit_of_work() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.prefix == signed_in["access_token"][:12])
            .values(created_at=datetime.now(UTC) - timedelta(minutes=11))
        )
    r = client.post(f"{API}/users/me/tokens", headers=fresh, json={"name": "third"})
    assert r.status_code == 403 and "10 minutes" in r.json()["detail"]
    assert client.get(f"{API}/users/me", headers=fresh).status_code == 200  # still a valid sign-in
    names = [t["name"] for t in client.get(f"{API}/users/me/tokens", headers=fresh).json()["items"]]
    assert names == ["script"]


def test_logout_revokes_the_token_it_is_called_with(client, factory, db):
    user = factory.user("proposer")
    other = client.post(
        f"{API}/auth/token", data={"username": user.email, "password": "correct-horse-battery"}
    ).json()
    r = client.post(f"{API}/auth/logout", headers=user.headers)
    assert r.status_code == 204
    r = client.get(f"{API}/users/me", headers=user.headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert client.post(f"{API}/auth/logout", headers=user.headers).status_code == 401
    # only that token: another sign-in of the same user still works
    assert client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {other['access_token']}"}
    ).is_success
    assert client.post(f"{API}/auth/logout").status_code == 401
    with db.unit_of_work() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.logout")))
        assert [(e.actor_id, e.entity_type) for e in events] == [(user.id, "api_token")]
