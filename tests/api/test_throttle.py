"""Sign-in throttling (app/auth/throttle.py): back-off, then a bounded lock, per account and per client
address, kept in the database so that every instance shares it; admins see and lift locks.

The throttle's clock is moved forward instead of sleeping."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from app.auth import throttle
from app.main import create_app
from app.models import AuditEvent
from app.models.throttle import AuthThrottle
from tests.api.test_login_lock import PASSWORD, api_sign_in, web_sign_in
from tests.api.test_web_sessions import csrf_of, sign_in
from tests.conftest import make_settings

API = "/api/v1"
WRONG = "wrong-password-1"
ADDRESS_LOCK_AFTER = 15  # looser than an account's 10, and small enough to reach quickly


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, throttle_address_lock_after=ADDRESS_LOCK_AFTER)


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def forward(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(throttle, "now", c)
    return c


def audit(db, **where) -> list[AuditEvent]:
    with db.unit_of_work(write=False) as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(s.scalars(stmt))


def counter(db, scope: str, key: str) -> AuthThrottle | None:
    with db.unit_of_work(write=False) as s:
        return s.get(AuthThrottle, (scope, key))


def lock_account(client, clock, email: str, sign_in=api_sign_in) -> list[int]:
    """Wrong passwords, waiting out each back-off, until the account is locked; the statuses seen."""
    seen = []
    for _ in range(40):
        r = sign_in(client, email, WRONG)
        seen.append(r.status_code)
        if r.status_code == 429:
            wait = int(r.headers["Retry-After"])
            if wait > 60:
                return seen
            clock.forward(wait)
    raise AssertionError(f"never locked: {seen}")


def test_twenty_wrong_passwords_get_429_and_then_the_right_one_waits(client, db, factory, clock):
    user = factory.user("scorer")
    answers = [api_sign_in(client, user.email, WRONG) for _ in range(20)]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 15
    last = answers[-1]
    assert last.headers["content-type"].startswith("application/problem+json")
    assert last.headers["Retry-After"] == "1"  # the 5th failure: 1 second before the next is checked
    body = last.json()
    assert body["type"] == "/problems/too-many-sign-ins" and body["status"] == 429
    assert body["title"] == "Too many sign-in attempts"
    assert body["detail"].startswith(
        "Too many failed sign-ins for this account or from this address. Wait 1 second"
    )
    # the right password waits too, and is not even checked: the answer is the same
    right = api_sign_in(client, user.email, PASSWORD)
    assert right.status_code == 429 and right.json()["detail"] == body["detail"]

    events = audit(db, action="auth.login_failed", entity_type="user", entity_id=str(user.id))
    assert [(e.changes["reason"], e.outcome) for e in events] == [("wrong password", "failure")] * 5 + [
        ("throttled", "denied")
    ] * 16
    assert {e.client_address for e in events} == {"testclient"} and {e.actor_id for e in events} == {None}
    assert WRONG not in json.dumps([e.changes for e in events]) and PASSWORD not in json.dumps(
        [e.changes for e in events]
    )
    assert counter(db, "account", user.email).failures == 5  # refusals are not failures

    # an unknown account answers exactly the same, so the answers tell nobody which accounts exist
    unknown = [api_sign_in(client, "nobody@example.org", WRONG) for _ in range(7)]
    assert [r.status_code for r in unknown] == [401] * 5 + [429] * 2
    assert unknown[0].json()["detail"] == answers[0].json()["detail"]
    assert unknown[-1].json()["detail"] == body["detail"]
    (event,) = audit(db, action="auth.login_failed", entity_type="sign_in")[:1]
    assert event.entity_id == "nobody@example.org" and event.changes["reason"] == "unknown account"


def test_back_off_doubles_then_a_bounded_lock_that_refusals_do_not_extend(client, db, factory, clock):
    user = factory.user("scorer")
    waits = []
    for _ in range(5):
        assert api_sign_in(client, user.email, WRONG).status_code == 401
    for _ in range(5):
        r = api_sign_in(client, user.email, WRONG)
        assert r.status_code == 429
        waits.append(int(r.headers["Retry-After"]))
        clock.forward(waits[-1] - 0.5)
        assert api_sign_in(client, user.email, PASSWORD).status_code == 429  # not yet
        clock.forward(0.5)
        assert api_sign_in(client, user.email, WRONG).status_code == 401  # checked, and counted
    assert waits == [1, 2, 4, 8, 16]
    # the 10th failure locked the account for 15 minutes: the right password waits too
    r = api_sign_in(client, user.email, PASSWORD)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 15 * 60
    assert "Wait 15 minutes" in r.json()["detail"]
    (locked,) = audit(db, action="auth.locked")
    assert locked.outcome == "denied" and locked.changes["scope"] == "account"
    assert locked.changes["key"] == user.email and locked.changes["failures"] == 10
    # trying on does not make it longer: the lock ends when it said
    for _ in range(5):
        clock.forward(60)
        r = api_sign_in(client, user.email, PASSWORD)
        assert r.status_code == 429
    assert int(r.headers["Retry-After"]) == 10 * 60
    clock.forward(10 * 60)
    assert api_sign_in(client, user.email, PASSWORD).status_code == 200
    # a success clears the account's counter
    assert counter(db, "account", user.email) is None


def test_a_lock_never_lasts_more_than_an_hour():
    for name in ("throttle_lock_minutes", "throttle_address_lock_minutes"):
        assert getattr(make_settings("sqlite://", **{name: 60}), name) == 60
        with pytest.raises(ValidationError):
            make_settings("sqlite://", **{name: 61})


def test_a_success_clears_the_account_counter_not_the_address(client, db, factory, clock):
    user = factory.user("scorer")
    for _ in range(4):
        assert api_sign_in(client, user.email, WRONG).status_code == 401
    assert api_sign_in(client, user.email, PASSWORD).status_code == 200
    assert counter(db, "account", user.email) is None
    # four more failures start from nothing: no back-off yet (without the clearing, these would wait)
    for _ in range(4):
        assert api_sign_in(client, user.email, WRONG).status_code == 401
    assert counter(db, "account", user.email).failures == 4
    assert counter(db, "address", "testclient").failures == 8
    (ok,) = audit(db, action="auth.login")
    assert ok.outcome == "success" and ok.client_address == "testclient" and ok.actor_id == user.id


def test_one_address_is_stopped_before_it_can_lock_many_accounts(app, client, db, factory, clock):
    user = factory.user("scorer")
    for n in range(ADDRESS_LOCK_AFTER):
        assert api_sign_in(client, f"guess{n}@example.org", WRONG).status_code == 401
    r = api_sign_in(client, "guess-more@example.org", WRONG)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 15 * 60
    # the address waits whoever it signs in as; the accounts it tried are not locked for anyone else
    assert api_sign_in(client, user.email, PASSWORD).status_code == 429
    elsewhere = TestClient(app, raise_server_exceptions=False, client=("192.0.2.7", 50000))
    assert api_sign_in(elsewhere, user.email, PASSWORD).status_code == 200
    assert api_sign_in(elsewhere, "guess0@example.org", WRONG).status_code == 401
    (locked,) = audit(db, action="auth.locked")
    assert (locked.changes["scope"], locked.changes["key"]) == ("address", "testclient")
    assert locked.client_address == "testclient"


def test_admin_lists_and_lifts_a_lock_then_sign_in_works(client, db, factory, admin, clock):
    user = factory.user("scorer")
    lock_account(client, clock, user.email)
    assert api_sign_in(client, user.email, PASSWORD).status_code == 429

    r = client.get(f"{API}/auth/locks", params={"locked_only": "true"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert (item["scope"], item["key"], item["failures"], item["locked"]) == ("account", user.email, 10, True)
    assert item["retry_after"] == 15 * 60
    everything = client.get(f"{API}/auth/locks", headers=admin.headers).json()
    assert [(i["scope"], i["locked"]) for i in everything["items"]] == [("account", True), ("address", False)]
    assert client.get(f"{API}/auth/locks", headers=user.headers).status_code == 403
    assert client.delete(f"{API}/auth/locks/account/{user.email}", headers=user.headers).status_code == 403

    r = client.delete(f"{API}/auth/locks/account/{user.email.upper()}", headers=admin.headers)
    assert r.status_code == 204, r.text
    assert api_sign_in(client, user.email, PASSWORD).status_code == 200
    (lifted,) = audit(db, action="auth.unlocked")
    assert lifted.actor_id == admin.id and lifted.outcome == "success" and lifted.changes["was_locked"]
    r = client.delete(f"{API}/auth/locks/account/{user.email}", headers=admin.headers)
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"
    assert client.delete(f"{API}/auth/locks/other/x", headers=admin.headers).status_code == 422


def test_web_sign_in_shows_the_wait_in_plain_english(app, client, db, factory, clock):
    user = factory.user("proposer")
    statuses = lock_account(client, clock, user.email, sign_in=web_sign_in)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429
    r = web_sign_in(client, user.email, PASSWORD)
    assert r.status_code == 429 and r.headers["content-type"].startswith("text/html")
    assert int(r.headers["Retry-After"]) == 15 * 60
    assert "Too many failed sign-ins for this account or from this address. Wait 15 minutes" in r.text
    assert "<form" in r.text  # the sign-in form stays, to try again later
    events = audit(db, action="auth.web_login_failed", entity_id=str(user.id))
    assert {e.changes["reason"] for e in events} == {"wrong password", "throttled"}
    clock.forward(15 * 60)
    assert web_sign_in(client, user.email, PASSWORD).status_code == 303
    (ok,) = audit(db, action="auth.web_login")
    assert ok.outcome == "success" and ok.client_address == "testclient"


def test_admin_lifts_a_lock_on_the_web_page(app, client, db, factory, admin, clock):
    user = factory.user("scorer")
    lock_account(client, clock, user.email)
    web = TestClient(app, raise_server_exceptions=False, client=("192.0.2.9", 50000))
    assert sign_in(web, admin.email).status_code == 303
    page = web.get("/admin/locks")
    assert page.status_code == 200 and user.email in page.text and "locked" in page.text
    r = web.post(
        "/admin/locks/lift",
        data={"csrf_token": csrf_of(page.text), "scope": "account", "key": user.email},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    after = web.get(r.headers["location"])
    assert "Lifted" in after.text and f"<td>{user.email}</td>" not in after.text
    assert api_sign_in(client, user.email, PASSWORD).status_code == 200
    r = web.post(
        "/admin/locks/lift",
        data={"csrf_token": csrf_of(page.text), "scope": "account", "key": user.email},
        follow_redirects=False,
    )
    assert r.status_code == 404 and "nothing to lift" in r.text
    # without the form's token nothing is lifted
    lock_account(client, clock, user.email)
    r = web.post("/admin/locks/lift", data={"scope": "account", "key": user.email}, follow_redirects=False)
    assert r.status_code == 403 and counter(db, "account", user.email) is not None


def test_counters_that_no_longer_count_are_cleared_out(client, db, factory, clock):
    """Emails tried once and never again do not pile up: a new counter clears out the dead ones."""
    user = factory.user("scorer")
    for n in range(3):
        assert api_sign_in(client, f"once{n}@example.org", WRONG).status_code == 401
    lock_account(client, clock, user.email)
    clock.forward(16 * 60)  # past the window, and the lock has ended
    assert counter(db, "account", "once0@example.org") is not None  # dead, but not yet cleared
    assert api_sign_in(client, "later@example.org", WRONG).status_code == 401
    with db.unit_of_work(write=False) as s:
        left = sorted((r.scope, r.key) for r in s.scalars(select(AuthThrottle)))
    # the address's counter had a failure just now, so it counts (from one again); the rest were dead
    assert left == [("account", "later@example.org"), ("address", "testclient")]


def test_two_instances_share_the_counter(settings, client, db, factory, clock):
    """Two instances of the service on one database (each with its own engine and pool)."""
    user = factory.user("scorer")
    other = create_app(settings)
    try:
        with TestClient(other, raise_server_exceptions=False) as b:
            for n in range(5):
                on = client if n % 2 else b
                assert api_sign_in(on, user.email, WRONG).status_code == 401
            # the back-off from failures on both instances holds on each
            assert api_sign_in(client, user.email, PASSWORD).status_code == 429
            assert api_sign_in(b, user.email, PASSWORD).status_code == 429
            lock_account(b, clock, user.email)
            r = api_sign_in(client, user.email, PASSWORD)
            assert r.status_code == 429 and int(r.headers["Retry-After"]) == 15 * 60
            assert counter(db, "account", user.email).failures == 10
    finally:
        other.state.db.dispose()


def test_concurrent_failures_on_two_instances_are_all_counted(settings, app, db, factory, clock):
    user = factory.user("scorer")
    other = create_app(settings)
    n = 8
    clients = [TestClient(app if i % 2 else other, raise_server_exceptions=False) for i in range(n)]
    statuses: list = [None] * n
    start = threading.Barrier(n)

    def wrong(i: int) -> None:
        start.wait(10)
        statuses[i] = api_sign_in(clients[i], user.email, WRONG).status_code

    threads = [threading.Thread(target=wrong, args=(i,)) for i in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.state.db.dispose()
    assert set(statuses) <= {401, 429} and statuses.count(401) >= 5
    # every failure that was checked is counted, on both counters: none lost to a concurrent update
    assert counter(db, "account", user.email).failures == statuses.count(401)
    assert counter(db, "address", "testclient").failures == statuses.count(401)
