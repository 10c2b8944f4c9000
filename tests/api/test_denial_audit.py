"""Every permission denial (403), on the API and on pages, lands in the audit trail: who, what, from where,
outcome "denied"; the refused change itself leaves nothing; a flood of the same denial adds one row."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit.denials import COALESCE_WINDOW
from app.models import AuditEvent
from tests.api.test_web_sessions import csrf_of, sign_in


def _denials(db) -> list[AuditEvent]:
    with db.unit_of_work(write=False) as s:
        return list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.denied").order_by(AuditEvent.id))
        )


def test_api_denial_is_audited_with_actor_route_address_and_reason(client, factory, db, admin):
    scorer = factory.user("scorer")
    r = client.post("/api/v1/cycles", json={"name": "Not mine to make"}, headers=scorer.headers)
    assert r.status_code == 403
    [event] = _denials(db)
    assert event.outcome == "denied"
    assert event.actor_id == scorer.id
    assert event.entity_type == "route" and event.entity_id == "POST /api/v1/cycles"
    assert event.client_address == "testclient"
    assert event.changes["path"] == "/api/v1/cycles" and event.changes["status"] == 403
    assert event.changes["reason"] == r.json()["detail"]
    # The refused write itself changed nothing: no cycle and no audit event for one.
    with db.unit_of_work(write=False) as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action.like("cycle.%"))) == 0
    # An admin reads it in the audit trail, by outcome.
    r = client.get("/api/v1/audit", params={"outcome": "denied"}, headers=admin.headers)
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert item["action"] == "auth.denied" and item["actor_id"] == scorer.id


def test_denial_inside_a_service_names_the_route_template(client, factory, db, admin):
    cycle = factory.cycle(admin)
    finance = factory.user("finance")
    r = client.get(f"/api/v1/cycles/{cycle['id']}/progress", headers=finance.headers)
    assert r.status_code == 403
    [event] = _denials(db)
    assert event.entity_id == "GET /api/v1/cycles/{cycle_id}/progress"
    assert event.changes["path"] == f"/api/v1/cycles/{cycle['id']}/progress"
    assert event.actor_id == finance.id


def test_web_denials_are_audited(client, factory, db):
    proposer = factory.user("proposer")
    assert sign_in(client, proposer.email).status_code == 303
    r = client.get("/admin")
    assert r.status_code == 403
    # A form posted without its security token is refused too.
    page = client.get("/")
    assert csrf_of(page.text)
    r = client.post("/logout", data={"csrf_token": "not-the-token"}, follow_redirects=False)
    assert r.status_code == 403
    events = _denials(db)
    assert [e.entity_id for e in events] == ["GET /admin", "POST /logout"]
    assert all(e.actor_id == proposer.id and e.outcome == "denied" for e in events)
    assert "token" in events[1].changes["reason"]


def test_a_flood_of_one_denial_adds_one_row(client, factory, db):
    scorer = factory.user("scorer")
    for _ in range(25):
        assert client.get("/api/v1/users", headers=scorer.headers).status_code == 403
    assert client.get("/api/v1/audit", headers=scorer.headers).status_code == 403
    events = _denials(db)
    assert [(e.entity_id, e.changes.get("repeats", 0)) for e in events] == [
        ("GET /api/v1/users", 24),
        ("GET /api/v1/audit", 0),
    ]
    # After the window a new row starts.
    with db.unit_of_work() as s:
        first = s.get(AuditEvent, events[0].id)
        first.occurred_at = first.occurred_at - COALESCE_WINDOW
    assert client.get("/api/v1/users", headers=scorer.headers).status_code == 403
    assert len(_denials(db)) == 3
