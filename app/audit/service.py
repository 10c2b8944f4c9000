"""The audit trail: one event per mutation, written in the same transaction as the change; and the one
query that reads it back, filtered, for the API, the admin page and its download."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Select, select
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


def events_query(f: AuditFilter) -> Select:
    """The matching events, newest first (ties by id, so paging is stable)."""
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
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
    return stmt


def list_events(session: Session, f: AuditFilter, page: PageParams) -> tuple[list[AuditEvent], int]:
    """One page of the matching events and how many match in all."""
    return paginate(session, events_query(f), page)


def iter_events(session: Session, f: AuditFilter, chunk: int = 500) -> Iterator[list[AuditEvent]]:
    """Every matching event, newest first, ``chunk`` at a time (a server-side cursor on PostgreSQL), so a
    download of the whole trail never holds it all in memory."""
    result = session.scalars(events_query(f).execution_options(yield_per=chunk))
    yield from result.partitions()


def kinds(session: Session) -> tuple[list[str], list[str]]:
    """The actions and the object types the trail holds, for the filters' choices."""
    actions = list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    types = list(session.scalars(select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)))
    return actions, types
