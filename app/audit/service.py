"""The audit trail: one event per mutation, written in the same transaction as the change; and the one
query that reads it back, filtered, for the API, the admin page and its download."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from app.pagination import PageParams, paginate


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """``{field: {"before": x, "after": y}}`` for each field whose value changed."""
    before = jsonable(before or {})
    after = jsonable(after or {})
    out: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b != a:
            out[key] = {"before": b, "after": a}
    return out


def record(
    session: Session,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    outcome: str | None = None,
) -> AuditEvent:
    """One audit event in the session's transaction. ``outcome`` ("success", "failure", "denied") marks a
    security event; the client address comes from the unit of work (``Database.unit_of_work``)."""
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes=changes if changes is not None else diff(before, after),
        request_id=session.info.get("request_id"),
        client_address=session.info.get("client_address"),
        outcome=outcome,
    )
    session.add(event)
    return event


# Reading the trail: one query for the API's list, the admin page and its CSV download.

OUTCOMES = ("success", "failure", "denied")


@dataclass(frozen=True)
class AuditFilter:
    """Which events to read; ``None`` leaves that part open. ``since`` is inclusive, ``until`` exclusive."""

    actor_id: int | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(stmt: Select, f: AuditFilter) -> Select:
    if f.entity_type:
        stmt = stmt.where(AuditEvent.entity_type == f.entity_type)
    if f.entity_id:
        stmt = stmt.where(AuditEvent.entity_id == f.entity_id)
    if f.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == f.actor_id)
    if f.action:
        stmt = stmt.where(AuditEvent.action == f.action)
    if f.outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == f.outcome)
    if f.since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < f.until)
    return stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def events_query(f: AuditFilter) -> Select:
    """The matching events, newest first (ties by id, so paging is stable)."""
    return _filtered(select(AuditEvent), f)


def list_events(session: Session, f: AuditFilter, page: PageParams) -> tuple[list[AuditEvent], int]:
    """One page of the matching events and how many match in all."""
    return paginate(session, events_query(f), page)


# The columns :func:`iter_events` reads, in this order.
ROW_COLUMNS = (
    AuditEvent.id,
    AuditEvent.occurred_at,
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.entity_type,
    AuditEvent.entity_id,
    AuditEvent.outcome,
    AuditEvent.client_address,
    AuditEvent.request_id,
    AuditEvent.changes,
)


def iter_events(session: Session, f: AuditFilter, chunk: int = 1000) -> Iterator[Sequence[Row]]:
    """Every matching event as a row of ``ROW_COLUMNS`` (not entities: twice as fast to read), newest
    first, ``chunk`` at a time (a server-side cursor on PostgreSQL), so a download of the whole trail never
    holds it all in memory."""
    stmt = _filtered(select(*ROW_COLUMNS), f)
    yield from session.execute(stmt.execution_options(yield_per=chunk)).partitions()


def kinds(session: Session) -> tuple[list[str], list[str]]:
    """The actions and the object types the trail holds, for the filters' choices."""
    actions = list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    types = list(session.scalars(select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)))
    return actions, types
