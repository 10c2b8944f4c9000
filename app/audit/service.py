"""Writing the audit trail: one event per mutation, in the same transaction as the change."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEvent, User


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
