"""The audit trail page and its CSV download, on SQLite and PostgreSQL: each filter narrows to exactly the
events a plain reading of the table says it should, paging keeps the filters, the download holds every
matching event (not one page) with formula-like text escaped, and only admins may read either."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.audit.service import record
from app.models import AuditEvent, User
from tests.api.test_web_sessions import sign_in

BASE = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def add_event(db, actor_id, action, entity_type, entity_id, at, *, outcome=None, changes=None, address=None):
    with db.unit_of_work(client_address=address) as s:
        actor = s.get(User, actor_id) if actor_id is not None else None
        event = record(s, actor, action, entity_type, entity_id, changes=changes or {}, outcome=outcome)
        event.occurred_at = at
        s.flush()
        return event.id


def all_events(db) -> list[AuditEvent]:
    with db.unit_of_work(write=False) as s:
        rows = list(s.scalars(select(AuditEvent)))
        s.expunge_all()
        return rows


def ids_on(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)">', page)]


def newest_first(events) -> list[int]:
    return [e.id for e in sorted(events, key=lambda e: (e.occurred_at, e.id), reverse=True)]


@pytest.fixture
def seeded(client, factory, admin, db):
    """A chair, and events of several kinds, users, objects, outcomes and days around a date boundary."""
    chair = factory.user("chair")
    day = datetime(2026, 2, 2, tzinfo=UTC)
    ids = {
        "chair_update": add_event(
            db,
            chair.id,
            "proposal.updated",
            "proposal",
            7,
            BASE - timedelta(days=20),
            changes={"title": {"before": "Old title", "after": "New title"}},
        ),
        "admin_cycle": add_event(db, admin.id, "cycle.created", "cycle", 3, BASE),
        "failed_login": add_event(
            db,
            None,
            "auth.login_failed",
            "user",
            chair.id,
            day + timedelta(hours=23, minutes=59, seconds=59),
            outcome="failure",
            address="203.0.113.9",
        ),
        "day_start": add_event(db, admin.id, "proposal.updated", "proposal", 8, day, outcome="success"),
        "next_day": add_event(
            db,
            chair.id,
            "auth.denied",
            "route",
            "GET /admin",
            day + timedelta(days=1),
            outcome="denied",
            changes={"method": "GET", "status": 403},
        ),
        "before_day": add_event(db, chair.id, "cycle.updated", "cycle", 3, day - timedelta(seconds=1)),
    }
    assert sign_in(client, admin.email).status_code == 303
    return {"chair": chair, "ids": ids}


@pytest.mark.parametrize(
    "query, keep",
    [
        ({"actor_id": "{chair}"}, lambda e, w: e.actor_id == w["chair"].id),
        ({"action": "proposal.updated"}, lambda e, w: e.action == "proposal.updated"),
        ({"entity_type": "cycle"}, lambda e, w: e.entity_type == "cycle"),
        (
            {"entity_type": "proposal", "entity_id": "7"},
            lambda e, w: (e.entity_type, e.entity_id) == ("proposal", "7"),
        ),
        ({"outcome": "failure"}, lambda e, w: e.outcome == "failure"),
        ({"outcome": "denied"}, lambda e, w: e.outcome == "denied"),
        # both dates inclusive, whole UTC days: 2 Feb 00:00:00 to 2 Feb 23:59:59
        (
            {"from": "2026-02-02", "to": "2026-02-02"},
            lambda e, w: e.occurred_at.date().isoformat() == "2026-02-02",
        ),
        ({"from": "02/02/2026"}, lambda e, w: e.occurred_at >= datetime(2026, 2, 2, tzinfo=UTC)),
        ({"to": "2026-02-01"}, lambda e, w: e.occurred_at < datetime(2026, 2, 2, tzinfo=UTC)),
        (
            {"actor_id": "{chair}", "entity_type": "cycle", "to": "2026-02-01"},
            lambda e, w: e.id == w["ids"]["before_day"],
        ),
    ],
)
def test_each_filter_narrows_to_the_matching_events(client, db, seeded, query, keep):
    params = {k: v.format(chair=seeded["chair"].id) for k, v in query.items()}
    r = client.get("/audit", params=params)
    assert r.status_code == 200, r.text
    expected = newest_first(e for e in all_events(db) if keep(e, seeded))
    assert expected, "the filter should match some event"
    assert len(expected) < len(all_events(db)), "the filter should leave some event out"
    assert ids_on(r.text) == expected
    page = html.unescape(r.text)
    assert f"of {len(expected)} events" in page
    for name, value in params.items():  # the filters stay as chosen
        assert re.search(
            rf'(name="{name}" value="{re.escape(value)}"|<option value="{re.escape(value)}" selected)', r.text
        )


def test_a_row_says_who_what_which_object_and_the_change(client, db, seeded):
    r = client.get("/audit", params={"entity_type": "proposal", "entity_id": "7"})
    row = re.search(r'<tr id="event-\d+">(.*?)</tr>', r.text, re.S).group(1)
    assert '<a href="/proposals/7">proposal 7</a>' in row
    assert seeded["chair"].email in row
    assert re.search(
        r'<time datetime="2026-01-12T12:00:00\+00:00"[^>]*>12 Jan 2026, 12:00:00 UTC</time>', row
    )
    assert "<del>Old title</del> → <ins>New title</ins>" in row and "<details" in row
    failed = client.get("/audit", params={"outcome": "failure"}).text
    assert "203.0.113.9" in failed and "no one signed in" in failed
    # each kind of object links to its own page; a route (a refusal's) has none
    chair = seeded["chair"].id
    assert f'<a href="/admin/users/{chair}">user {chair}</a>' in failed
    cycles = client.get("/audit", params={"entity_type": "cycle"}).text
    assert '<a href="/cycles/3">cycle 3</a>' in cycles
    denied = client.get("/audit", params={"outcome": "denied"}).text
    assert "route <span" in denied and 'href="/route' not in denied


def test_a_filter_that_cannot_be_read_is_a_field_error_and_keeps_what_was_typed(client, db, seeded):
    r = client.get("/audit", params={"from": "2026-13-45", "to": "yesterday", "entity_id": "x" * 65})
    assert r.status_code == 422
    assert 'id="from-error"' in r.text and 'id="to-error"' in r.text and 'id="entity_id-error"' in r.text
    assert 'href="#from"' in r.text  # the summary links to the field
    assert 'value="2026-13-45"' in r.text and 'value="yesterday"' in r.text
    assert ids_on(r.text) == []
    r = client.get("/audit", params={"from": "2026-02-03", "to": "2026-02-02"})
    assert r.status_code == 422 and "same as or after the from date" in r.text
    r = client.get("/audit.csv", params={"entity_id": "7\x00", "action": "a\nb"})
    assert r.status_code == 422 and 'id="entity_id-error"' in r.text and 'id="action-error"' in r.text
    # the last day there is: everything from the first day on, not a server error
    r = client.get("/audit", params={"from": "0001-01-01", "to": "9999-12-31"})
    assert r.status_code == 200 and ids_on(r.text) == newest_first(all_events(db))[:50]


def test_paging_fifty_at_a_time_with_the_filters_kept(client, db, admin, seeded):
    for n in range(120):
        add_event(db, admin.id, "test.bulk", "proposal", n, BASE + timedelta(minutes=n))
    expected = newest_first(e for e in all_events(db) if e.action == "test.bulk")
    seen = []
    for page, first, last in ((1, 1, 50), (2, 51, 100), (3, 101, 120)):
        r = client.get(
            "/audit", params={"action": "test.bulk", "page": page} if page > 1 else {"action": "test.bulk"}
        )
        assert r.status_code == 200
        assert f"Showing {first}–{last} of 120 events" in html.unescape(r.text)
        seen += ids_on(r.text)
        has_next = 'rel="next"' in r.text
        assert has_next == (page < 3)
        if has_next:
            assert f'href="/audit?action=test.bulk&amp;page={page + 1}"' in r.text
        if page > 1:
            previous = "/audit?action=test.bulk" + (f"&amp;page={page - 1}" if page > 2 else "")
            assert f'href="{previous}" rel="prev"' in r.text
    assert seen == expected
    ids = re.findall(r'\sid="([^"]+)"', r.text)
    assert len(ids) == len(set(ids)), "ids repeat on the page"
    past = client.get("/audit", params={"action": "test.bulk", "page": 4})
    assert ids_on(past.text) == [] and "past the last one" in past.text


def test_the_csv_holds_every_matching_event_and_is_safe_in_a_spreadsheet(client, db, admin, seeded):
    for n in range(70):
        add_event(db, admin.id, "test.bulk", "proposal", n, BASE + timedelta(minutes=n))
    hostile = add_event(
        db,
        admin.id,
        "test.bulk",
        "proposal",
        '=HYPERLINK("http://x")',
        BASE + timedelta(hours=5),
        changes={"title": {"before": "@SUM(A1)", "after": "-2+3"}},
        address="+1",
    )
    r = client.get("/audit.csv", params={"action": "test.bulk", "entity_type": "proposal"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="audit-')
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Event id", "When (UTC, ISO 8601)", "User id"]
    expected = newest_first(e for e in all_events(db) if e.action == "test.bulk")
    assert len(body) == 71 and [int(row[0]) for row in body] == expected  # all of them, not one page
    by_id = {int(row[0]): dict(zip(header, row, strict=True)) for row in body}
    bad = by_id[hostile]
    assert bad["Object id"] == '\'=HYPERLINK("http://x")'
    assert bad["Client address"] == "'+1"
    assert json.loads(bad["Changes (JSON)"]) == {"title": {"before": "@SUM(A1)", "after": "-2+3"}}
    assert datetime.fromisoformat(bad["When (UTC, ISO 8601)"]) == BASE + timedelta(hours=5)
    assert bad["User email"] == admin.email
    for row in body:  # no cell a spreadsheet would run
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
    # the download is in the trail itself, with its filters and how many rows it held
    with db.unit_of_work(write=False) as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
        assert event.actor_id == admin.id
        assert event.changes == {
            "format": "csv",
            "rows": 71,
            "filters": {"action": "test.bulk", "entity_type": "proposal"},
        }


def test_the_page_offers_the_csv_with_the_same_filters(client, seeded):
    r = client.get("/audit", params={"outcome": "denied", "from": "2026-01-01"})
    assert 'href="/audit.csv?outcome=denied&amp;from=2026-01-01"' in r.text
    rows = list(csv.reader(io.StringIO(client.get("/audit.csv?outcome=denied&from=2026-01-01").text)))
    assert [int(row[0]) for row in rows[1:]] == [seeded["ids"]["next_day"]]


@pytest.mark.parametrize("role", ["chair", "finance", "scorer", "proposer"])
def test_only_admins_read_the_trail(client, factory, role):
    user = factory.user(role)
    assert sign_in(client, user.email).status_code == 303
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403
    assert 'href="/audit"' not in client.get("/").text
