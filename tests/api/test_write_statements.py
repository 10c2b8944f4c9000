"""Scoring writes are a handful of set-based statements: one scorecard save reads its card and context
once and writes each table once, and a batch runs the same statements however many cards it holds. On
SQLite the write lock is taken only when the request first writes, and a write committed by another
connection between a request's reads and its lock is seen (the request reads again under the lock)."""

import pytest
import sqlalchemy as sa
from sqlalchemy import event

import app.db as app_db

API = "/api/v1"


@pytest.fixture
def scoring(client, factory, admin):
    """A cycle in scoring with ten proposals on one panel of a scorer."""
    scorer = factory.user("scorer")
    cycle = factory.cycle(admin)
    ids = [factory.proposal(admin, cycle)["id"] for _ in range(10)]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={"name": "Panel", "chair_id": admin.id, "member_ids": [scorer.id], "proposal_ids": ids},
    )
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return dict(scorer=scorer, proposal_ids=ids)


class Statements:
    """The statements the service sends, on both engines, while ``recording``."""

    def __init__(self, db):
        self.seen: list[str] = []
        self.recording = False
        self.engines = {db.engine, db.read_engine}
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, parameters, context, executemany):
        # the token's last-used stamp is written at most every five minutes, not by every request
        if self.recording and not statement.startswith("UPDATE api_tokens"):
            self.seen.append(" ".join(statement.split())[:120])

    def during(self, fn):
        self.seen, self.recording = [], True
        try:
            return fn()
        finally:
            self.recording = False

    def writes(self) -> list[str]:
        return [s for s in self.seen if not s.startswith(("SELECT", "BEGIN", "SAVEPOINT", "RELEASE"))]

    def close(self):
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._on)


@pytest.fixture
def statements(db):
    s = Statements(db)
    yield s
    s.close()


def card(principles, score=3):
    return [{"principle": p, "score": score, "rationale": "Reasoned."} for p in principles]


def test_one_answer_changed_is_a_handful_of_statements(client, scoring, statements):
    s, pid = scoring["scorer"], scoring["proposal_ids"][0]
    r = client.put(f"{API}/proposals/{pid}/scorecard", headers=s.headers, json={"scores": card(range(1, 13))})
    assert r.status_code == 200, r.text
    r = statements.during(
        lambda: client.put(
            f"{API}/proposals/{pid}/scorecard",
            headers=s.headers,
            json={"scores": card([5], score=4), "version": 1},
        )
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and len(r.json()["scores"]) == 12
    # the token with its user and roles, the card with its context and answers; the version bump, the
    # answer upsert, the audit event (plus BEGIN on SQLite)
    assert len([q for q in statements.seen if not q.startswith("BEGIN")]) <= 6, statements.seen
    writes = statements.writes()
    assert [w.split()[0:3] for w in writes] == [
        ["UPDATE", "scorecards", "SET"],
        ["INSERT", "INTO", "scorecard_answers"],
        ["INSERT", "INTO", "audit_events"],
    ], writes


@pytest.mark.parametrize("submit", [False, True])
def test_a_batch_runs_the_same_statements_for_two_cards_as_for_ten(client, scoring, statements, submit):
    s, ids = scoring["scorer"], scoring["proposal_ids"]

    def batch(pids, score):
        return client.post(
            f"{API}/scorecards/batch",
            headers=s.headers,
            json={
                "items": [
                    {"proposal_id": p, "scores": card(range(1, 13), score), "submit": submit} for p in pids
                ]
            },
        )

    counts = []
    for pids in (ids[:2], ids[2:]):
        r = statements.during(lambda pids=pids: batch(pids, 2))
        assert r.status_code == 200, r.text
        assert r.json()["saved"] == len(pids)
        counts.append(len(statements.seen))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 10, statements.seen
    if not submit:  # saving existing drafts again: a version bump instead of an insert, same count
        r = statements.during(lambda: batch(ids, 4))
        assert r.status_code == 200, r.text
        assert len(statements.seen) <= 10, statements.seen
        assert all(item["version"] == 2 for item in r.json()["items"])


def test_a_batch_of_many_cards_and_the_same_card_twice_is_saved_as_saved_one_by_one(client, scoring, db):
    s, ids = scoring["scorer"], scoring["proposal_ids"]
    items = [{"proposal_id": p, "scores": card([1, 2], 5)} for p in ids]
    items.append({"proposal_id": ids[0], "scores": card([2], 1) + [{"principle": 1}], "version": 1})
    r = client.post(f"{API}/scorecards/batch", headers=s.headers, json={"items": items})
    assert r.status_code == 200, r.text
    out = r.json()["items"]
    assert [i["version"] for i in out] == [1] * 10 + [2]
    assert out[-1]["scores"] == [
        {"principle": 2, "score": 1, "not_applicable": False, "rationale": "Reasoned.", "confidence": None}
    ]
    got = client.get(f"{API}/proposals/{ids[0]}/scorecard", headers=s.headers).json()
    assert got["version"] == 2 and got["scores"] == out[-1]["scores"]
    with db.engine.connect() as conn:
        actions = conn.execute(
            sa.text("SELECT action, entity_id FROM audit_events WHERE action LIKE 'scorecard.%' ORDER BY id")
        ).all()
    assert [a.entity_id for a in actions] == [str(i["id"]) for i in out]


def test_sqlite_takes_the_write_lock_after_the_reads(client, scoring, db, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    s, pid = scoring["scorer"], scoring["proposal_ids"][0]
    order: list[str] = []
    original = app_db._take_write_lock

    def take(conn):
        order.append("lock")
        original(conn)

    def on(conn, cursor, statement, *args):
        order.append(statement.split()[0])

    monkeypatch.setattr(app_db, "_take_write_lock", take)
    event.listen(db.read_engine, "before_cursor_execute", on)
    event.listen(db.engine, "before_cursor_execute", on)
    try:
        r = client.put(f"{API}/proposals/{pid}/scorecard", headers=s.headers, json={"scores": card([1])})
    finally:
        event.remove(db.read_engine, "before_cursor_execute", on)
        event.remove(db.engine, "before_cursor_execute", on)
    assert r.status_code == 200, r.text
    assert order[0] == "BEGIN" and "IMMEDIATE" not in order, order
    first_write = order.index("lock")
    assert set(order[1:first_write]) == {"SELECT"} and len(order[1:first_write]) >= 2, order
    assert order[first_write + 1 :] and not {"SELECT", "lock"} & set(order[first_write + 1 :]), order


@pytest.mark.parametrize("what", ["version", "membership", "conflict", "token", "cycle", "unrelated"])
def test_a_write_committed_between_the_reads_and_the_lock_is_seen(client, scoring, db, what):
    """Another connection commits after the save has read its card and context but before it takes the
    write lock: the save reads again under the lock and answers by what is there now."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite reads before its write lock; PostgreSQL checks in its statements and row locks")
    s, pid = scoring["scorer"], scoring["proposal_ids"][0]
    r = client.put(f"{API}/proposals/{pid}/scorecard", headers=s.headers, json={"scores": card([1])})
    assert r.status_code == 200, r.text
    done = []

    seen = []

    def meanwhile(conn, cursor, statement, *args):
        seen.append(statement.lstrip()[:40])
        if done or not statement.lstrip().startswith("SELECT proposals.id"):
            return
        done.append(True)
        with db.engine.begin() as other:
            if what == "version":
                other.execute(
                    sa.text("UPDATE scorecards SET version = version + 1 WHERE proposal_id = :p"), {"p": pid}
                )
            elif what == "membership":
                other.execute(sa.text("DELETE FROM panel_members WHERE user_id = :u"), {"u": s.id})
            elif what == "conflict":
                other.execute(
                    sa.text(
                        "INSERT INTO conflicts (proposal_id, user_id, type, reason, created_at) "
                        "VALUES (:p, :u, 'personal', 'A friend.', CURRENT_TIMESTAMP)"
                    ),
                    {"p": pid, "u": s.id},
                )
            elif what == "token":
                other.execute(
                    sa.text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE user_id = :u"),
                    {"u": s.id},
                )
            elif what == "cycle":
                other.execute(sa.text("UPDATE cycles SET status = 'moderation'"))
            else:  # another proposal's card: nothing this save relies on
                other.execute(
                    sa.text("UPDATE proposals SET title = 'Renamed' WHERE id = :p"),
                    {"p": scoring["proposal_ids"][1]},
                )

    event.listen(db.read_engine, "after_cursor_execute", meanwhile)
    try:
        r = client.put(
            f"{API}/proposals/{pid}/scorecard",
            headers=s.headers,
            json={"scores": card([2]), "version": 1},
        )
    finally:
        event.remove(db.read_engine, "after_cursor_execute", meanwhile)
    assert done
    expected = {
        "version": (409, "at version 2, not 1"),
        "membership": (403, "not a member"),
        "conflict": (403, "conflict of interest"),
        "token": (401, "revoked"),
        "cycle": (409, "only while the cycle is in scoring"),
        "unrelated": (200, None),
    }[what]
    assert r.status_code == expected[0], r.text
    if expected[1]:
        assert expected[1] in r.json()["detail"]
    else:  # the version bump checked everything in its statement: nothing was read twice
        assert r.json()["version"] == 2 and len(r.json()["scores"]) == 2
        assert len([q for q in seen if q.startswith("SELECT proposals.id")]) == 1, seen
